//! Wakes deferred while the reactor delivers a batch of events.
//!
//! Messages the application sends from its callbacks during one `dispatch`
//! are queued without waking their connections' tasks; when the batch is done
//! each of those tasks is woken once, and writes what piled up in one go. A
//! broadcast to a thousand connections thus costs a thousand wakes per batch,
//! not per message. Sends from anywhere else (timers, other threads) wake at once.

use std::cell::RefCell;
use std::sync::Arc;

use emws_core::OutKind;
use emws_server::{ConnectionHandle, Payload, Sent};

thread_local! {
    static OWED: RefCell<Option<Vec<Arc<ConnectionHandle>>>> = const { RefCell::new(None) };
}

/// Defers wakes until dropped (nested deferrals leave it to the outermost).
pub struct Deferral {
    outermost: bool,
}

impl Deferral {
    pub fn begin() -> Deferral {
        let outermost = OWED.with(|owed| {
            let mut owed = owed.borrow_mut();
            let outermost = owed.is_none();
            if outermost {
                *owed = Some(Vec::new());
            }
            outermost
        });
        Deferral { outermost }
    }
}

impl Drop for Deferral {
    fn drop(&mut self) {
        if !self.outermost {
            return;
        }
        let owed = OWED
            .with(|owed| owed.borrow_mut().take())
            .unwrap_or_default();
        for handle in owed {
            handle.wake();
        }
    }
}

/// Queues a frame, deferring the wake when a `Deferral` is active on this thread.
pub fn send(handle: &Arc<ConnectionHandle>, kind: OutKind, payload: Payload<'_>) -> Sent {
    OWED.with(|owed| match owed.borrow_mut().as_mut() {
        Some(owed) => {
            let (sent, owes_wake) = handle.send_deferred(kind, payload);
            if owes_wake {
                owed.push(handle.clone());
            }
            sent
        }
        None => handle.send(kind, payload),
    })
}
