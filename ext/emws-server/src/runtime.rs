//! The process's tokio runtime, shared by every server.
//!
//! Created on first use, with `set_worker_threads` (or `EMWS_WORKERS`, or one
//! thread per core) worker threads. A forked child cannot use its parent's
//! threads, so a child gets a runtime of its own.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::runtime::{Builder, Runtime};

static WORKER_THREADS: AtomicUsize = AtomicUsize::new(0);
static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

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
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    if let Some((owner, runtime)) = slot.as_ref() {
        if *owner == pid {
            return Ok(runtime.clone());
        }
        // The parent's worker threads do not exist in this child: leak its
        // runtime (dropping it would wait for threads that are not there).
        if let Some((_, stale)) = slot.take() {
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
    *slot = Some((pid, runtime.clone()));
    Ok(runtime)
}
