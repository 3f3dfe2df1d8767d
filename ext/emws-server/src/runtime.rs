//! The process's tokio runtime, shared by every server.
//!
//! Created on first use, with `set_worker_threads` (or `EMWS_WORKERS`, or one
//! thread per core) worker threads, and with the relay that wakes connection
//! tasks for the Ruby thread. A forked child cannot use its parent's threads,
//! so a child gets a runtime (and relay) of its own.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::runtime::{Builder, Runtime};

use crate::connection::ConnectionHandle;
use crate::wake_relay::WakeRelay;

static WORKER_THREADS: AtomicUsize = AtomicUsize::new(0);
static RUNTIME: Mutex<Option<Shared>> = Mutex::new(None);
/// How many forks separate this process from the one that loaded us: bumped
/// in each child by a `pthread_atfork` handler. Every batch the Ruby thread
/// delivers asks for the relay, and comparing this costs a load where asking
/// the kernel for the pid would cost a system call.
static FORKS: AtomicU64 = AtomicU64::new(0);
/// What registering that handler returned (0, or an errno).
static COUNTING_FORKS: OnceLock<i32> = OnceLock::new();

extern "C" fn count_fork() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// This process's place in the line of forks (`FORKS`).
pub(crate) fn forks() -> u64 {
    FORKS.load(Ordering::Relaxed)
}

/// The runtime of the process `forks` forks down, and its wake relay.
struct Shared {
    forks: u64,
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

pub(crate) fn get() -> io::Result<Arc<Runtime>> {
    shared().map(|shared| shared.0)
}

/// Wakes the tasks of `handles` (leaving it empty) from a worker of the
/// runtime: one cross-thread wake for the lot instead of one per task.
pub fn wake_all(handles: &mut Vec<Arc<ConnectionHandle>>) {
    if handles.is_empty() {
        return;
    }
    match shared() {
        Ok((_, relay)) => relay.wake_all(handles),
        // Without a runtime there are no tasks to hand over to; wake in place.
        Err(_) => handles.drain(..).for_each(|handle| handle.wake()),
    }
}

fn shared() -> io::Result<(Arc<Runtime>, Arc<WakeRelay>)> {
    // SAFETY: registers a handler that only does an atomic add, which is
    // async-signal-safe as a forked child's handlers must be.
    let registered = *COUNTING_FORKS
        .get_or_init(|| unsafe { libc::pthread_atfork(None, None, Some(count_fork)) });
    if registered != 0 {
        // Without the handler a child would take its parent's runtime for its own.
        return Err(io::Error::from_raw_os_error(registered));
    }
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    let forks = forks();
    if let Some(shared) = slot.as_ref() {
        if shared.forks == forks {
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
        forks,
        runtime: runtime.clone(),
        relay: relay.clone(),
    });
    Ok((runtime, relay))
}
