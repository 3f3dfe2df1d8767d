//! Tasks polled by the reactor thread itself.
//!
//! On a machine with few cores, every hand-off between threads is a wake-up
//! that may wait for a core, so a task whose work feeds the reactor thread
//! is best polled by that thread, as EventMachine serves its own
//! connections. A wake from any thread queues the task here and raises the
//! executor's [`Signal`]; the reactor thread calls [`LocalExecutor::run`],
//! which polls every task queued so far.
//!
//! The tasks are polled with the runtime entered, so that their timers and
//! sockets belong to it.

use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Wake, Waker};

use tokio::runtime::Handle;

use super::fork;
use super::signal::Signal;
use crate::sync::lock;

/// A queue bigger than this after a burst is not kept for the next.
const MAX_KEPT_READY: usize = 4096;

/// A task queued to be polled.
pub(crate) trait Runnable: Send + Sync {
    fn run(self: Arc<Self>);
}

/// The tasks woken since they last ran, in the order they were woken.
pub(crate) struct LocalExecutor {
    queue: Mutex<Vec<Arc<dyn Runnable>>>,
    /// The last run's emptied queue, to be the next one.
    spare: Mutex<Vec<Arc<dyn Runnable>>>,
    /// The runtime the tasks' sockets and timers belong to, entered while
    /// they are polled (set by the first spawn, which runs on it).
    runtime: OnceLock<Handle>,
    /// The process the tasks were spawned in (`fork::generation`): a forked
    /// child inherits them and their sockets, which are still the parent's.
    generation: OnceLock<u64>,
    /// Raised when the queue stops being empty.
    signal: Arc<Signal>,
}

impl LocalExecutor {
    pub(crate) fn new(signal: Arc<Signal>) -> LocalExecutor {
        LocalExecutor {
            queue: Mutex::default(),
            spare: Mutex::default(),
            runtime: OnceLock::new(),
            generation: OnceLock::new(),
            signal,
        }
    }

    /// Queues `task`, raising the signal if the queue was empty.
    fn push(&self, task: Arc<dyn Runnable>) {
        let was_empty = {
            let mut queue = lock(&self.queue);
            queue.push(task);
            queue.len() == 1
        };
        if was_empty {
            self.signal.raise();
        }
    }

    /// Polls every task queued so far, once; tasks woken meanwhile wait for
    /// the next call. Returns how many ran.
    pub(crate) fn run(&self) -> usize {
        if self
            .generation
            .get()
            .is_some_and(|&generation| generation != fork::generation())
        {
            return 0;
        }
        let mut running = mem::take(&mut *lock(&self.spare));
        mem::swap(&mut *lock(&self.queue), &mut running);
        let count = running.len();
        let _entered = self.runtime.get().map(Handle::enter);
        for task in running.drain(..) {
            task.run();
        }
        if running.capacity() <= MAX_KEPT_READY {
            *lock(&self.spare) = running;
        }
        count
    }

    pub(crate) fn is_empty(&self) -> bool {
        lock(&self.queue).is_empty()
    }
}

/// One task: its future (until it completes) and its place in the queue.
struct TaskCell<F> {
    /// Set while the task is in the ready queue, so it is queued once.
    queued: AtomicBool,
    executor: Weak<LocalExecutor>,
    /// Never moved once the cell is shared: polled in place, dropped in place.
    future: Mutex<Option<F>>,
}

/// Spawns `future` to be polled by whoever runs `executor`; it is polled
/// first on the next run.
pub(crate) fn spawn<F>(executor: &Arc<LocalExecutor>, future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    if let Ok(handle) = Handle::try_current() {
        executor.runtime.get_or_init(|| handle);
    }
    executor.generation.get_or_init(fork::generation);
    let cell = Arc::new(TaskCell {
        queued: AtomicBool::new(false),
        executor: Arc::downgrade(executor),
        future: Mutex::new(Some(future)),
    });
    cell.wake_by_ref();
}

/// What one spawned task takes on the heap, its reference counts included.
#[cfg(test)]
pub(crate) fn allocation_size<F>() -> usize {
    std::mem::size_of::<Arc<()>>() * 2 + std::mem::size_of::<TaskCell<F>>()
}

impl<F> Wake for TaskCell<F>
where
    F: Future<Output = ()> + Send + 'static,
{
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        // Gone with its executor: nothing will poll the task again.
        if let Some(executor) = self.executor.upgrade() {
            executor.push(self.clone());
        }
    }
}

impl<F> Runnable for TaskCell<F>
where
    F: Future<Output = ()> + Send + 'static,
{
    fn run(self: Arc<Self>) {
        // Cleared before the poll: a wake during it queues the task again.
        self.queued.store(false, Ordering::Release);
        // Held by a poll further up this thread's stack (a task cannot reach
        // the reactor, but nothing is lost by checking): run it next time.
        let Ok(mut slot) = self.future.try_lock() else {
            self.wake_by_ref();
            return;
        };
        let Some(future) = slot.as_mut() else {
            return;
        };
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        // SAFETY: the future lives in this Arc'd cell and is never moved out
        // of it: it is polled here and dropped in place below.
        let future = unsafe { Pin::new_unchecked(future) };
        // The futures spawned here catch their own panics (`CatchPanic`);
        // this one is for a panic in a drop, which must not reach Ruby either.
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            future.poll(&mut cx).is_ready()
        }));
        if polled.unwrap_or(true) {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| *slot = None));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::executor::signal::tests::readable;

    /// Counts its polls, keeps the last waker, ends once `done`, and says
    /// when it is dropped.
    #[derive(Default)]
    struct Probe {
        polls: AtomicUsize,
        waker: Mutex<Option<Waker>>,
        done: AtomicBool,
        dropped: AtomicBool,
    }

    struct ProbeTask(Arc<Probe>);

    impl Future for ProbeTask {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> std::task::Poll<()> {
            self.0.polls.fetch_add(1, Ordering::SeqCst);
            *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.0.done.load(Ordering::SeqCst) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        }
    }

    impl Drop for ProbeTask {
        fn drop(&mut self) {
            self.0.dropped.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_task_runs_once_per_wake_from_any_thread_and_is_dropped_when_done() {
        let signal = Arc::new(Signal::new().unwrap());
        let executor = Arc::new(LocalExecutor::new(signal.clone()));
        let probe = Arc::new(Probe::default());
        spawn(&executor, ProbeTask(probe.clone()));
        assert!(
            !executor.is_empty(),
            "a new task is polled first on the next run"
        );
        assert!(readable(signal.fd()), "and the signal says so");
        signal.reset();
        assert_eq!(executor.run(), 1);
        assert_eq!(executor.run(), 0, "not woken, not polled");

        let waker = probe.waker.lock().unwrap().clone().unwrap();
        std::thread::spawn(move || {
            waker.wake_by_ref();
            waker.wake();
        })
        .join()
        .unwrap();
        assert!(!executor.is_empty());
        assert!(readable(signal.fd()));
        probe.done.store(true, Ordering::SeqCst);
        assert_eq!(executor.run(), 1, "two wakes, one poll");
        assert_eq!(probe.polls.load(Ordering::SeqCst), 2);
        assert!(probe.dropped.load(Ordering::SeqCst), "dropped once done");

        // A waker that outlives its task wakes nothing.
        probe.waker.lock().unwrap().take().unwrap().wake();
        assert_eq!(executor.run(), 1);
        assert_eq!(probe.polls.load(Ordering::SeqCst), 2);
    }
}
