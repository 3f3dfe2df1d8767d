//! Which process of a line of forks this is.
//!
//! A forked child inherits its parent's memory but not its threads: the
//! runtime, the tasks and the sockets it sees are its parent's, and must not
//! be used. A `pthread_atfork` handler bumps a counter in each child, so
//! anything made in a process can tell, with a load rather than a `getpid`
//! system call, whether it is still in that process.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// How many forks separate this process from the one that loaded us.
static FORKS: AtomicU64 = AtomicU64::new(0);
/// What registering the handler returned (0, or an errno).
static COUNTING: OnceLock<i32> = OnceLock::new();

extern "C" fn count_fork() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// This process's place in the line of forks.
pub fn generation() -> u64 {
    FORKS.load(Ordering::Relaxed)
}

/// Registers the handler that counts forks (once); an error means children
/// could not be told from their parent.
pub(crate) fn count_forks() -> io::Result<()> {
    // SAFETY: registers a handler that only does an atomic add, which is
    // async-signal-safe as a forked child's handlers must be.
    let registered =
        *COUNTING.get_or_init(|| unsafe { libc::pthread_atfork(None, None, Some(count_fork)) });
    match registered {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}
