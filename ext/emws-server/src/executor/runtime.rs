//! The process's tokio runtime, shared by every server.
//!
//! Created on first use, with `set_worker_threads` (or `EMWS_WORKERS`, or one
//! thread per core) worker threads, and with the relay that wakes tasks on
//! its workers for the reactor thread. A forked child cannot use its
//! parent's threads, so a child gets a runtime (and relay) of its own.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use tokio::runtime::{Builder, Runtime};

use super::fork;
use super::relay::WakeRelay;

static WORKER_THREADS: AtomicUsize = AtomicUsize::new(0);
static RUNTIME: Mutex<Option<Shared>> = Mutex::new(None);

/// The runtime of the process `generation` forks down, and its wake relay.
struct Shared {
    generation: u64,
    runtime: Arc<Runtime>,
    relay: Arc<WakeRelay>,
}

/// Sets the worker count for a runtime not yet created; 0 means the default.
pub fn set_worker_threads(count: usize) {
    WORKER_THREADS.store(count, Ordering::Relaxed);
}

pub fn worker_threads() -> usize {
    match WORKER_THREADS.load(Ordering::Relaxed) {
        0 => std::env::var("EMWS_WORKERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        n => n,
    }
}

/// The runtime of this process, made on first use.
pub fn get() -> io::Result<Arc<Runtime>> {
    shared().map(|shared| shared.0)
}

/// Wakes every waker of `wakers` (leaving it empty) from a worker of the
/// runtime: one cross-thread wake for the lot instead of one per task.
pub fn wake_all(wakers: &mut Vec<Waker>) {
    if wakers.is_empty() {
        return;
    }
    match shared() {
        Ok((_, relay)) => relay.wake_all(wakers),
        // Without a runtime there are no tasks to hand over to; wake in place.
        Err(_) => wakers.drain(..).for_each(Waker::wake),
    }
}

fn shared() -> io::Result<(Arc<Runtime>, Arc<WakeRelay>)> {
    // Without the count a child would take its parent's runtime for its own.
    fork::count_forks()?;
    let mut slot = crate::sync::lock(&RUNTIME);
    let generation = fork::generation();
    if let Some(shared) = slot.as_ref() {
        if shared.generation == generation {
            return Ok((shared.runtime.clone(), shared.relay.clone()));
        }
        // The parent's worker threads do not exist in this child: leak its
        // runtime (dropping it would wait for threads that are not there).
        if let Some(stale) = slot.take() {
            std::mem::forget(stale);
        }
    }
    let runtime = Arc::new(
        Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("em-websocket-rs")
            .enable_all()
            .build()?,
    );
    let relay = WakeRelay::start(&runtime);
    *slot = Some(Shared {
        generation,
        runtime: runtime.clone(),
        relay: relay.clone(),
    });
    Ok((runtime, relay))
}
