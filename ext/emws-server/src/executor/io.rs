//! Readiness of the sockets whose tasks the reactor thread polls.
//!
//! Those sockets are registered in an epoll set of their own (a kqueue on
//! macOS and the BSDs: mio's selector either way), which
//! EventMachine watches beside its own descriptors: when one becomes
//! readable or writable, the reactor thread itself is woken, takes the
//! events ([`LocalIo::take_events`]) and wakes the tasks waiting for them.
//! No worker thread stands between a socket and the thread that serves it.
//!
//! Registrations are edge-triggered; each socket remembers whether it may be
//! ready (`Readiness`) and is only read or written while it may, so a task
//! that polls it with nothing to do makes no system call.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Token};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::fork;
use super::signal::Signal;
use crate::sync::lock;

/// The token of the signal registered beside the sockets.
const SIGNAL_TOKEN: Token = Token(usize::MAX);
/// Events taken per `epoll_wait`; more are taken by calling it again.
const EVENTS_PER_WAIT: usize = 256;

pub(crate) struct LocalIo {
    /// The process the set was made in (`fork::generation`): a forked child
    /// shares the set itself with its parent, and must not take its events.
    generation: u64,
    poll: Mutex<(mio::Poll, Events)>,
    registry: mio::Registry,
    sockets: Mutex<Sockets>,
}

/// Registered sockets by token (their index here), with the free indexes.
#[derive(Default)]
struct Sockets {
    slots: Vec<Option<Arc<Readiness>>>,
    free: Vec<usize>,
}

/// What one socket may be ready for, and the tasks waiting until it is.
struct Readiness {
    state: Mutex<ReadinessState>,
}

struct ReadinessState {
    readable: bool,
    writable: bool,
    /// The peer closed its side, or the socket failed: from then on every
    /// read is tried (it ends in 0 or an error), since no edge comes again.
    read_closed: bool,
    write_closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl LocalIo {
    /// An epoll set that also reports `signal` becoming readable, so that
    /// one descriptor tells EventMachine of both.
    pub(crate) fn new(signal: &Signal) -> io::Result<LocalIo> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        // Level-triggered, unlike the sockets (mio registers edge-triggered
        // only): the set stays readable until the signal is reset, so taking
        // the socket events never takes the signal with them.
        add_level_triggered(poll.as_raw_fd(), signal.fd(), SIGNAL_TOKEN)?;
        Ok(LocalIo {
            generation: fork::generation(),
            poll: Mutex::new((poll, Events::with_capacity(EVENTS_PER_WAIT))),
            registry,
            sockets: Mutex::new(Sockets::default()),
        })
    }

    /// The epoll (or kqueue) descriptor: readable while events wait to be taken.
    pub(crate) fn fd(&self) -> RawFd {
        lock(&self.poll).0.as_raw_fd()
    }

    /// Takes every event that has arrived and wakes the tasks waiting for
    /// them; never blocks. Returns how many sockets had events.
    pub(crate) fn take_events(&self) -> usize {
        if self.generation != fork::generation() {
            return 0;
        }
        let mut guard = lock(&self.poll);
        let (poll, events) = &mut *guard;
        let mut count = 0;
        loop {
            if let Err(error) = poll.poll(events, Some(Duration::ZERO)) {
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return count;
            }
            let mut taken = 0;
            for event in events.iter() {
                taken += 1;
                if event.token() == SIGNAL_TOKEN {
                    continue;
                }
                let readiness = lock(&self.sockets)
                    .slots
                    .get(event.token().0)
                    .and_then(Option::clone);
                let Some(readiness) = readiness else {
                    continue;
                };
                count += 1;
                // An error or hang-up is reported to whichever side asks next.
                let broken = event.is_error();
                readiness.set(Ready {
                    readable: event.is_readable(),
                    writable: event.is_writable(),
                    read_closed: event.is_read_closed() || broken,
                    write_closed: event.is_write_closed() || broken,
                });
            }
            if taken < EVENTS_PER_WAIT {
                return count;
            }
        }
    }

    /// Registers `stream` (non-blocking) for reading and writing; gives it
    /// back if the epoll set will not take it.
    pub(crate) fn register(
        self: &Arc<Self>,
        stream: TcpStream,
    ) -> Result<LocalStream, (io::Error, TcpStream)> {
        let readiness = Arc::new(Readiness {
            // Until the first event says otherwise, try the socket.
            state: Mutex::new(ReadinessState {
                readable: true,
                writable: true,
                read_closed: false,
                write_closed: false,
                reader: None,
                writer: None,
            }),
        });
        let token = {
            let mut sockets = lock(&self.sockets);
            match sockets.free.pop() {
                Some(index) => {
                    sockets.slots[index] = Some(readiness.clone());
                    index
                }
                None => {
                    sockets.slots.push(Some(readiness.clone()));
                    sockets.slots.len() - 1
                }
            }
        };
        let fd = stream.as_raw_fd();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(error) = self
            .registry
            .register(&mut SourceFd(&fd), Token(token), interest)
        {
            self.release(token);
            return Err((error, stream));
        }
        Ok(LocalStream {
            stream,
            readiness,
            token,
            io: self.clone(),
        })
    }

    fn release(&self, token: usize) {
        let mut sockets = lock(&self.sockets);
        sockets.slots[token] = None;
        sockets.free.push(token);
    }
}

/// Adds `fd` to mio's selector `selector` (an epoll set on Linux, a kqueue
/// on macOS and the BSDs), readable and level-triggered, reported as `token`.
/// mio offers only edge-triggered registrations, hence the system call here.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn add_level_triggered(selector: RawFd, fd: RawFd, token: Token) -> io::Result<()> {
    // mio reads an epoll event's token from its `u64`.
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: token.0 as u64,
    };
    // SAFETY: both descriptors are open; `event` is a valid epoll_event.
    if unsafe { libc::epoll_ctl(selector, libc::EPOLL_CTL_ADD, fd, &mut event) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The kqueue version: an EVFILT_READ filter without EV_CLEAR is
/// level-triggered (mio's own registrations set EV_CLEAR).
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
))]
fn add_level_triggered(selector: RawFd, fd: RawFd, token: Token) -> io::Result<()> {
    // Zeroed, then set field by field: the struct's other fields and the
    // exact integer types of these differ between the BSDs.
    // SAFETY: kevent is plain data, for which all zeroes is a valid value.
    let mut change: libc::kevent = unsafe { std::mem::zeroed() };
    change.ident = fd as _;
    change.filter = libc::EVFILT_READ;
    change.flags = libc::EV_ADD;
    // mio reads a kqueue event's token from its `udata`.
    change.udata = token.0 as _;
    // SAFETY: one valid change and no event list (so kevent returns once the
    // change is made; the timeout is not used).
    let added = unsafe {
        libc::kevent(
            selector,
            &change,
            1,
            std::ptr::null_mut(),
            0,
            std::ptr::null(),
        )
    };
    if added < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
compile_error!(
    "executor::io needs a level-triggered registration beside mio's selector \
     (epoll_ctl on Linux, kevent on macOS and the BSDs) for this operating system"
);

/// What one event says of a socket.
struct Ready {
    readable: bool,
    writable: bool,
    read_closed: bool,
    write_closed: bool,
}

impl Readiness {
    fn set(&self, ready: Ready) {
        let readable = ready.readable || ready.read_closed;
        let writable = ready.writable || ready.write_closed;
        let (reader, writer) = {
            let mut state = lock(&self.state);
            state.readable |= readable;
            state.writable |= writable;
            state.read_closed |= ready.read_closed;
            state.write_closed |= ready.write_closed;
            (
                readable.then(|| state.reader.take()).flatten(),
                writable.then(|| state.writer.take()).flatten(),
            )
        };
        // Outside the lock: a waker may run the task at once.
        for waker in [reader, writer].into_iter().flatten() {
            waker.wake();
        }
    }

    /// Whether the socket may be ready to read; if not, `cx` is woken when it is.
    fn poll_readable(&self, cx: &Context<'_>) -> bool {
        let mut state = lock(&self.state);
        if !state.readable {
            store_waker(&mut state.reader, cx);
        }
        state.readable
    }

    fn poll_writable(&self, cx: &Context<'_>) -> bool {
        let mut state = lock(&self.state);
        if !state.writable {
            store_waker(&mut state.writer, cx);
        }
        state.writable
    }

    /// The socket had nothing more (or no room): wait for the next event,
    /// unless the peer has closed, which no later event would say again
    /// (the end of the stream may sit right behind the bytes just read).
    fn clear_readable(&self, cx: &Context<'_>) {
        let mut state = lock(&self.state);
        state.readable = state.read_closed;
        store_waker(&mut state.reader, cx);
    }

    fn clear_writable(&self, cx: &Context<'_>) {
        let mut state = lock(&self.state);
        state.writable = state.write_closed;
        store_waker(&mut state.writer, cx);
    }
}

fn store_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
        *slot = Some(cx.waker().clone());
    }
}

/// A socket registered with the reactor thread's epoll set.
pub(crate) struct LocalStream {
    stream: TcpStream,
    readiness: Arc<Readiness>,
    token: usize,
    io: Arc<LocalIo>,
}

impl Drop for LocalStream {
    fn drop(&mut self) {
        // Before the descriptor closes (the field is dropped after this).
        let fd = self.stream.as_raw_fd();
        let _ = self.io.registry.deregister(&mut SourceFd(&fd));
        self.io.release(self.token);
    }
}

impl AsyncRead for LocalStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.readiness.poll_readable(cx) {
            return Poll::Pending;
        }
        let wanted = buf.remaining();
        // SAFETY: `read` only writes into the unfilled part, and the bytes
        // it reports written are then marked initialised.
        let unfilled = unsafe { &mut *(buf.unfilled_mut() as *mut [_] as *mut [u8]) };
        match (&this.stream).read(unfilled) {
            Ok(read) => {
                // SAFETY: `read` bytes were just written by the kernel.
                unsafe { buf.assume_init(read) };
                buf.advance(read);
                if read > 0 && read < wanted {
                    // A short read drained the socket; an edge comes with more.
                    this.readiness.clear_readable(cx);
                }
                Poll::Ready(Ok(()))
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                this.readiness.clear_readable(cx);
                Poll::Pending
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

impl AsyncWrite for LocalStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.readiness.poll_writable(cx) {
            return Poll::Pending;
        }
        let wanted: usize = bufs.iter().map(|b| b.len()).sum();
        match (&this.stream).write_vectored(bufs) {
            Ok(written) => {
                if written < wanted {
                    // The send buffer is full; an edge comes when it has room.
                    this.readiness.clear_writable(cx);
                }
                Poll::Ready(Ok(written))
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                this.readiness.clear_writable(cx);
                Poll::Pending
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream.shutdown(Shutdown::Write) {
            Err(error) if error.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(error)),
            _ => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::executor::signal::tests::readable;

    struct Counter(AtomicUsize);

    impl std::task::Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A signal and the epoll set reporting it.
    fn local_io() -> (Signal, Arc<LocalIo>) {
        let signal = Signal::new().unwrap();
        let io = Arc::new(LocalIo::new(&signal).unwrap());
        (signal, io)
    }

    /// A connected loopback pair: the client, and the server side
    /// registered with `io`'s epoll set.
    fn registered_pair(io: &Arc<LocalIo>) -> (TcpStream, LocalStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let stream = io.register(server).map_err(|(e, _)| e).unwrap();
        (client, stream)
    }

    /// One `poll_read`: the bytes read (empty at the end of the stream), or
    /// `None` while it waits.
    fn read_some(stream: &mut LocalStream, cx: &mut Context<'_>) -> Option<Vec<u8>> {
        let mut storage = [0u8; 64];
        let mut buf = ReadBuf::new(&mut storage);
        match Pin::new(stream).poll_read(cx, &mut buf) {
            Poll::Ready(result) => Some(result.map(|()| buf.filled().to_vec()).unwrap()),
            Poll::Pending => None,
        }
    }

    /// Waits (up to `deadline`) for the epoll set to have an event.
    fn wait_for_event(io: &LocalIo, deadline: std::time::Instant, what: &str) {
        while !readable(io.fd()) {
            assert!(std::time::Instant::now() < deadline, "no {what} came");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn taking_socket_events_leaves_the_signal_raised() {
        let (signal, io) = local_io();
        assert!(!readable(io.fd()));
        signal.raise();
        assert!(readable(io.fd()));
        io.take_events();
        assert!(readable(io.fd()), "the signal must still wake the reactor");
        signal.reset();
        io.take_events();
        assert!(!readable(io.fd()));
    }

    #[test]
    fn a_socket_that_becomes_readable_wakes_its_reader() {
        let (_signal, io) = local_io();
        let (mut client, mut stream) = registered_pair(&io);
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        // Nothing sent yet: the read waits, and says so without a system call
        // the second time.
        assert_eq!(read_some(&mut stream, &mut cx), None);
        io.take_events();
        assert_eq!(read_some(&mut stream, &mut cx), None);
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);

        client.write_all(b"hello").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        wait_for_event(&io, deadline, "event");
        assert_eq!(io.take_events(), 1);
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert_eq!(read_some(&mut stream, &mut cx), Some(b"hello".to_vec()));
        assert!(!readable(io.fd()));

        drop(client);
        wait_for_event(&io, deadline, "hang-up");
        io.take_events();
        assert_eq!(
            read_some(&mut stream, &mut cx),
            Some(Vec::new()),
            "end of stream"
        );
    }

    /// The last bytes and the peer's FIN in one event: the short read that
    /// takes the bytes must not wait for another event, as none will come.
    #[test]
    fn the_end_of_stream_behind_the_last_bytes_is_read_without_another_event() {
        let (_signal, io) = local_io();
        let (mut client, mut stream) = registered_pair(&io);
        let waker = Waker::from(Arc::new(Counter(AtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        assert_eq!(read_some(&mut stream, &mut cx), None);

        client.write_all(b"GET / HTT").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        // Both are in the socket before the event is taken.
        std::thread::sleep(Duration::from_millis(50));
        assert!(io.take_events() >= 1);
        assert_eq!(read_some(&mut stream, &mut cx), Some(b"GET / HTT".to_vec()));
        assert_eq!(
            read_some(&mut stream, &mut cx),
            Some(Vec::new()),
            "the end of the stream is read at once"
        );
    }
}
