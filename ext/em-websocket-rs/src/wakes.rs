//! Wakes deferred while the reactor delivers a batch of events.
//!
//! Messages the application sends from its callbacks during one `dispatch`
//! are queued without waking their connections' tasks; when the batch is done
//! each of those tasks is woken once, and writes what piled up in one go. A
//! broadcast to a thousand connections thus costs a thousand wakes per batch,
//! not per message. A plain connection's task is polled on this thread, so
//! its wake only queues it for the end of the dispatch; a TLS connection's
//! task runs on the workers, and those wakes go to the runtime's wake relay
//! in one hand-over. Sends from anywhere else (timers, other threads) wake at
//! once.

use std::cell::RefCell;
use std::sync::Arc;

use emws_core::OutKind;
use emws_server::{runtime, ConnectionHandle, Payload, Sent};

/// The connections owed a wake, while a deferral is active.
struct Owed {
    active: bool,
    /// Emptied at the end of each deferral; its allocation is kept.
    handles: Vec<Arc<ConnectionHandle>>,
}

thread_local! {
    static OWED: RefCell<Owed> = const {
        RefCell::new(Owed { active: false, handles: Vec::new() })
    };
}

/// Defers wakes until dropped (nested deferrals leave it to the outermost).
pub struct Deferral {
    outermost: bool,
}

impl Deferral {
    pub fn begin() -> Deferral {
        let outermost = OWED.with(|owed| !std::mem::replace(&mut owed.borrow_mut().active, true));
        Deferral { outermost }
    }
}

impl Drop for Deferral {
    fn drop(&mut self) {
        if !self.outermost {
            return;
        }
        OWED.with(|owed| owed.borrow_mut().active = false);
        wake_owed();
    }
}

/// Makes the wakes owed so far; the deferral goes on. A long batch calls
/// this every so often, so that the workers' (TLS) connections write the
/// replies to its first messages while the rest are still being delivered;
/// the reactor's own tasks wait for the end of the dispatch either way
/// (running them mid-batch halved the echo's throughput: replies left in
/// fragments, and the clients' next messages with them).
pub fn wake_owed() {
    OWED.with(|owed| {
        let handles = &mut owed.borrow_mut().handles;
        // A task polled on this thread is only queued by its wake.
        handles.retain(|handle| {
            let on_reactor = handle.on_reactor();
            if on_reactor {
                handle.wake();
            }
            !on_reactor
        });
        runtime::wake_all(handles);
    });
}

/// Queues a frame, deferring the wake when a `Deferral` is active on this thread.
pub fn send(handle: &Arc<ConnectionHandle>, kind: OutKind, payload: Payload<'_>) -> Sent {
    OWED.with(|owed| {
        let mut owed = owed.borrow_mut();
        if !owed.active {
            return handle.send(kind, payload);
        }
        let (sent, owes_wake) = handle.send_deferred(kind, payload);
        if owes_wake {
            owed.handles.push(handle.clone());
        }
        sent
    })
}
