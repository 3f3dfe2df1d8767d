//! A descriptor that is readable while something waits for the reactor
//! thread: raised by any thread, reset by the reactor thread before it looks.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub(crate) struct Signal {
    fd: OwnedFd,
}

impl Signal {
    pub(crate) fn new() -> io::Result<Signal> {
        // SAFETY: eventfd has no memory-safety preconditions; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor owned by nobody else.
        Ok(Signal {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Makes the descriptor readable.
    pub(crate) fn raise(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own descriptor. The only
        // possible failure is EAGAIN on counter overflow, which still leaves the
        // descriptor readable, so the result can be ignored.
        unsafe {
            libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8);
        }
    }

    /// Makes the descriptor unreadable until the next `raise`.
    pub(crate) fn reset(&self) {
        let mut counter: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own non-blocking descriptor;
        // EAGAIN (nothing to reset) is the only expected failure and is harmless.
        unsafe {
            libc::read(self.fd.as_raw_fd(), (&mut counter as *mut u64).cast(), 8);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Whether `fd` polls readable right now.
    pub(crate) fn readable(fd: RawFd) -> bool {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
    }

    #[test]
    fn readable_from_raise_to_reset() {
        let signal = Signal::new().unwrap();
        assert!(!readable(signal.fd()));
        signal.raise();
        signal.raise();
        assert!(readable(signal.fd()));
        signal.reset();
        assert!(!readable(signal.fd()));
    }
}
