//! A descriptor that is readable while something waits for the reactor
//! thread: raised by any thread, reset by the reactor thread before it looks.
//!
//! Linux (and Android) have eventfd: one descriptor holding a counter.
//! Elsewhere (macOS, the BSDs) a non-blocking pipe does the same job with two
//! descriptors: a byte written makes the read end readable, and draining it
//! resets it. The pipe version is also compiled for the tests on Linux, so
//! that the path macOS takes is exercised here too.

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use eventfd::Signal;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use pipe::Signal;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod eventfd {
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
}

#[cfg(any(not(any(target_os = "linux", target_os = "android")), test))]
mod pipe {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

    pub(crate) struct Signal {
        reader: OwnedFd,
        writer: OwnedFd,
    }

    impl Signal {
        pub(crate) fn new() -> io::Result<Signal> {
            let mut fds = [0; 2];
            // SAFETY: `fds` has room for the two descriptors; the result is checked.
            if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: both are fresh descriptors owned by nobody else.
            let (reader, writer) =
                unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
            // Not atomic with pipe() as pipe2() would be (macOS has no pipe2): a
            // fork+exec on another thread in between could leak the pair into
            // that program, which is harmless. Non-blocking so that a raise
            // never waits for room and a reset never waits for a byte.
            for fd in [&reader, &writer] {
                close_on_exec_and_nonblocking(fd.as_raw_fd())?;
            }
            Ok(Signal { reader, writer })
        }

        pub(crate) fn fd(&self) -> RawFd {
            self.reader.as_raw_fd()
        }

        /// Makes the descriptor readable.
        pub(crate) fn raise(&self) {
            let byte = 1u8;
            // SAFETY: writes 1 byte from a live u8 to our own non-blocking
            // descriptor. A full pipe (EAGAIN) is already readable, so the
            // result can be ignored, as eventfd's overflow is.
            unsafe {
                libc::write(self.writer.as_raw_fd(), (&byte as *const u8).cast(), 1);
            }
        }

        /// Makes the descriptor unreadable until the next `raise`: reads until
        /// the pipe is empty, since every raise since the last reset left a byte.
        pub(crate) fn reset(&self) {
            let mut bytes = [0u8; 256];
            loop {
                // SAFETY: reads at most `bytes.len()` bytes into `bytes` from our
                // own non-blocking descriptor.
                let read = unsafe {
                    libc::read(
                        self.reader.as_raw_fd(),
                        bytes.as_mut_ptr().cast(),
                        bytes.len(),
                    )
                };
                if read > 0 {
                    continue;
                }
                // Empty (EAGAIN) is the end; EINTR is tried again.
                if read < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
        }
    }

    fn close_on_exec_and_nonblocking(fd: RawFd) -> io::Result<()> {
        // SAFETY: fcntl on a descriptor we own; the results are checked.
        unsafe {
            let fd_flags = libc::fcntl(fd, libc::F_GETFD);
            if fd_flags < 0 || libc::fcntl(fd, libc::F_SETFD, fd_flags | libc::FD_CLOEXEC) < 0 {
                return Err(io::Error::last_os_error());
            }
            let status_flags = libc::fcntl(fd, libc::F_GETFL);
            if status_flags < 0
                || libc::fcntl(fd, libc::F_SETFL, status_flags | libc::O_NONBLOCK) < 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::fd::RawFd;

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

    /// The pipe that macOS and the BSDs use, here on Linux; more raises than
    /// the pipe has room for must leave it readable, and one reset empty.
    #[test]
    fn the_pipe_signal_is_readable_from_raise_to_reset_even_when_full() {
        let signal = pipe::Signal::new().unwrap();
        assert!(!readable(signal.fd()));
        signal.raise();
        assert!(readable(signal.fd()));
        signal.reset();
        assert!(!readable(signal.fd()));
        for _ in 0..100_000 {
            signal.raise();
        }
        assert!(readable(signal.fd()));
        signal.reset();
        assert!(!readable(signal.fd()));
    }
}
