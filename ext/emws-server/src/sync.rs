//! Locks that outlive a panic.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, taking it over if a thread panicked while holding it:
/// everything this crate keeps under a lock is left whole by a panic (a
/// queue pushed to or swapped, flags, wakers), and one connection's panic
/// must not take the others with it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
