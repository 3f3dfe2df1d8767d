//! Wakes deferred while the reactor delivers a batch of events.
//!
//! Messages the application sends from its callbacks during one `dispatch`
//! are queued without waking their connections' tasks; when the batch is done
//! each of those tasks is woken once, and writes what piled up in one go. A
//! broadcast to a thousand connections thus costs a thousand wakes per batch,
//! not per message, and those are made by the runtime's wake relay, so the
//! Ruby thread itself makes at most one. A batch that owes only a wake or two
//! (one connection's request and reply) writes those frames itself instead,
//! where the tasks allow it: a `send` instead of a worker's wake-up, which is
//! most of a lone round trip's time. Sends from anywhere else (timers, other
//! threads) wake at once.

use std::cell::RefCell;
use std::sync::Arc;

use emws_core::OutKind;
use emws_server::{runtime, ConnectionHandle, Payload, Sent};

/// A batch that owes wakes to at most this many connections writes their
/// frames itself (`ConnectionHandle::write_directly`). More go to the relay:
/// each write is a system call on the one thread every message passes, and
/// one hand-over lets the workers make them in parallel.
const MAX_DIRECT_WRITES: usize = 2;

/// The connections owed a wake, while a deferral is active.
struct Owed {
    active: bool,
    /// Emptied at the end of each deferral; its allocation is kept.
    handles: Vec<Arc<ConnectionHandle>>,
    /// The frames of one direct write; its allocation is kept.
    frames: Vec<u8>,
}

thread_local! {
    static OWED: RefCell<Owed> = const {
        RefCell::new(Owed { active: false, handles: Vec::new(), frames: Vec::new() })
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
        OWED.with(|owed| {
            let mut owed = owed.borrow_mut();
            owed.active = false;
            if owed.handles.len() <= MAX_DIRECT_WRITES {
                let Owed {
                    handles, frames, ..
                } = &mut *owed;
                handles.retain(|handle| handle.write_directly(frames));
            }
        });
        wake_owed();
    }
}

/// Hands the wakes owed so far to the relay; the deferral goes on. A long
/// batch calls this every so often, so that the replies to its first
/// messages leave while the rest are still being delivered.
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
