//! Wakes handed from the Ruby thread to tasks on the runtime's workers (TLS
//! connections; plain ones are polled on the Ruby thread, `reactor_tasks`).
//!
//! Waking a connection's task from outside the runtime puts it on the
//! runtime's shared queue and may unpark a worker: a futex or eventfd write
//! per wake, on the Ruby thread, which is the one thread every message has to
//! pass. A batch of messages owes a wake to each of its connections, so the
//! Ruby thread instead hands the whole list here, waking this relay once; the
//! relay wakes the tasks from a worker, where a wake is a push onto that
//! worker's own run queue.

use std::mem;
use std::sync::{Arc, Mutex};

use tokio::runtime::Runtime;
use tokio::sync::Notify;

use crate::connection::ConnectionHandle;

/// A list of handles that grew past this many in a burst (a broadcast to a
/// great many connections) is not kept for the next.
const MAX_KEPT_HANDLES: usize = 4096;

pub(crate) struct WakeRelay {
    owed: Mutex<Vec<Arc<ConnectionHandle>>>,
    notify: Notify,
}

impl WakeRelay {
    /// Starts the relay's task on `runtime`.
    pub(crate) fn start(runtime: &Runtime) -> Arc<WakeRelay> {
        let relay = Arc::new(WakeRelay {
            owed: Mutex::new(Vec::new()),
            notify: Notify::new(),
        });
        let task = relay.clone();
        runtime.spawn(async move {
            let mut waking = Vec::new();
            loop {
                task.notify.notified().await;
                mem::swap(&mut *task.lock(), &mut waking);
                for handle in waking.drain(..) {
                    handle.wake();
                }
                if waking.capacity() > MAX_KEPT_HANDLES {
                    waking = Vec::new();
                }
            }
        });
        relay
    }

    /// Hands over every handle of `handles` (leaving it empty, its allocation
    /// kept unless a burst made it large); the hand-over that finds the relay
    /// idle wakes it (`runtime::wake_all` never hands over an empty list).
    pub(crate) fn wake_all(&self, handles: &mut Vec<Arc<ConnectionHandle>>) {
        let was_idle = {
            let mut owed = self.lock();
            let was_idle = owed.is_empty();
            owed.append(handles);
            was_idle
        };
        if handles.capacity() > MAX_KEPT_HANDLES {
            *handles = Vec::new();
        }
        if was_idle {
            // A permit is stored if the relay is not waiting yet, so this
            // wake cannot be lost between its take and its next wait.
            self.notify.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<ConnectionHandle>>> {
        // Appending and swapping cannot leave the Vec inconsistent on a panic.
        self.owed.lock().unwrap_or_else(|p| p.into_inner())
    }
}
