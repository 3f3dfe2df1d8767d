//! Wakes handed from the reactor thread to a worker of the runtime.
//!
//! Waking a task from outside the runtime puts it on the runtime's shared
//! queue and may unpark a worker: a futex or eventfd write per wake, on the
//! thread that makes it. The reactor thread, which every message passes,
//! instead hands a whole list of wakes here, waking this relay once; the
//! relay makes them from a worker, where a wake is a push onto that worker's
//! own run queue.

use std::mem;
use std::sync::{Arc, Mutex};
use std::task::Waker;

use tokio::runtime::Runtime;
use tokio::sync::Notify;

/// A list that grew past this many wakers in a burst (a broadcast to a
/// great many connections) is not kept for the next.
const MAX_KEPT_WAKERS: usize = 4096;

pub(crate) struct WakeRelay {
    owed: Mutex<Vec<Waker>>,
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
                waking.drain(..).for_each(Waker::wake);
                if waking.capacity() > MAX_KEPT_WAKERS {
                    waking = Vec::new();
                }
            }
        });
        relay
    }

    /// Hands over every waker of `wakers` (leaving it empty, its allocation
    /// kept unless a burst made it large); the hand-over that finds the relay
    /// idle wakes it.
    pub(crate) fn wake_all(&self, wakers: &mut Vec<Waker>) {
        if wakers.is_empty() {
            return;
        }
        let was_idle = {
            let mut owed = self.lock();
            let was_idle = owed.is_empty();
            owed.append(wakers);
            was_idle
        };
        if wakers.capacity() > MAX_KEPT_WAKERS {
            *wakers = Vec::new();
        }
        if was_idle {
            // A permit is stored if the relay is not waiting yet, so this
            // wake cannot be lost between its take and its next wait.
            self.notify.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Waker>> {
        crate::sync::lock(&self.owed)
    }
}
