//! When a send wakes its connection's task.
//!
//! Messages the application sends from its callbacks during one dispatch
//! are queued without waking their connections' tasks; when the batch is done
//! each of those tasks is woken once, and writes what piled up in one go. A
//! broadcast to a thousand connections thus costs a thousand wakes per batch,
//! not per message. A task on the reactor thread is polled on this thread,
//! so its wake only queues it for the end of the dispatch; a task on the
//! pool runs on the workers, and those wakes go to the runtime's wake relay
//! in one hand-over. Sends from anywhere else (timers, other threads) wake at
//! once.

use std::cell::RefCell;
use std::sync::Arc;
use std::task::Waker;

use emws_core::OutKind;

use crate::executor::runtime;
use crate::handle::{ConnectionHandle, Payload, Sent};

/// The connections owed a wake, while a deferral is active.
struct Owed {
    active: bool,
    /// Emptied at the end of each deferral; its allocation is kept.
    handles: Vec<Arc<ConnectionHandle>>,
    /// The wakes of tasks on the runtime's workers, handed to its relay.
    relayed: Vec<Waker>,
}

thread_local! {
    static OWED: RefCell<Owed> = const {
        RefCell::new(Owed { active: false, handles: Vec::new(), relayed: Vec::new() })
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
/// this every so often, so that the pool's connections write the
/// replies to its first messages while the rest are still being delivered.
/// The reactor thread's own tasks are only queued by it and run at the end
/// of the dispatch either way: written mid-batch, replies would leave in
/// fragments.
pub fn wake_owed() {
    OWED.with(|owed| {
        let Owed {
            handles, relayed, ..
        } = &mut *owed.borrow_mut();
        for handle in handles.drain(..) {
            if handle.on_reactor() {
                handle.wake_task();
            } else {
                relayed.push(Waker::from(handle));
            }
        }
        runtime::wake_all(relayed);
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
