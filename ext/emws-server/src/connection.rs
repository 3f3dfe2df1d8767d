//! One WebSocket connection: its handle for the Ruby side and its task.
//!
//! The task owns the socket and the protocol state; the Ruby side talks to it
//! only through the [`ConnectionHandle`]: a command queue, a wake-up, and a few
//! atomics (outbound byte count, frame size limit). Everything the task learns
//! goes out as [`Event`]s through the bridge, ending with exactly one `Closed`.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use emws_core::handshake::{self, Preface, HEALTHCHECK_RESPONSE, POLICY_FILE};
use emws_core::{Config, Draft, OutKind, Protocol, State};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant, Sleep};

use crate::event::{CloseInfo, ErrorKind, Event, Opened};
use crate::message_bytes::MessageBytes;
use crate::outbox::Outbox;
use crate::server::ServerShared;

/// `max_frame_size` for connections that have not set their own (em-websocket's
/// `EM::WebSocket.max_frame_size`, read when each frame arrives).
pub static DEFAULT_MAX_FRAME_SIZE: AtomicUsize = AtomicUsize::new(10 * 1024 * 1024);

const UNSET: usize = usize::MAX;
/// The flag bit of `ConnectionHandle::outbound`.
const DRAIN_ARMED: usize = 1 << (usize::BITS - 1);
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Protocol replies (pongs, close echoes) queued for a peer that does not read
/// beyond this stop us from reading more from it.
const MAX_UNREAD_REPLIES: usize = 1024 * 1024;
/// Rounds of work one poll may do before yielding to the other tasks.
const TURNS_PER_POLL: usize = 16;
/// How long a graceful end waits for the peer to take our FIN.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// A message's bytes as the sender hands them over.
pub enum Payload<'a> {
    /// Already in a buffer that may be shared (a fan-out encodes once).
    Shared(Bytes),
    /// To be copied now (a Ruby string, which may change once Ruby runs).
    Borrowed(&'a [u8]),
}

impl Payload<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Shared(bytes) => bytes,
            Payload::Borrowed(slice) => slice,
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn into_command(self, kind: OutKind) -> Command {
        let payload = match self {
            // A small send allocates nothing (the command is no larger for it).
            Payload::Borrowed(slice) => MessageBytes::copy_from(slice),
            // A shared buffer stays shared, however small: a fan-out's one copy.
            Payload::Shared(bytes) => MessageBytes::Shared(bytes),
        };
        Command::Send { kind, payload }
    }
}

/// Who reads a connection's bytes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The task: the handshake and the frames are parsed here.
    Native,
    /// The application, whose connection class overrides `receive_data` or
    /// `dispatch`: each read goes to Ruby as it arrives (`Event::Received`),
    /// and what the application hands back (`super`) is parsed here
    /// (`ConnectionHandle::receive`). One read is with Ruby at a time, so
    /// every read is seen after the events of the ones before it, as
    /// em-websocket handled them.
    Application,
}

/// What the Ruby side asks of a connection.
enum Command {
    /// The application's block has run for this connection: it may begin.
    Start(Input),
    /// The Ruby side is done with `Event::Opened` or `Event::Received`: read on.
    Consumed,
    /// Bytes the application passed on to be parsed (`Input::Application`).
    Receive(Bytes),
    /// The Ruby side has delivered every event before the barrier of this number.
    Release(u64),
    Send {
        kind: OutKind,
        payload: MessageBytes,
    },
    Raw(Bytes),
    Close {
        code: Option<u16>,
        reason: Bytes,
        timeout: Duration,
    },
    Disconnect {
        after_writing: bool,
    },
    InactivityTimeout(Option<Duration>),
    /// EventMachine's `pause` (true) and `resume` (false).
    Pause(bool),
    /// Fault injection for the test suite: the task panics.
    Panic,
}

/// Commands for the task, and the waker of the task waiting for them.
#[derive(Default)]
struct Inbox {
    /// Taken whole by the task, so an idle connection holds no allocation.
    commands: VecDeque<Command>,
    /// How many commands the task took last time: the next batch is sized
    /// for as many (echoes and bursts repeat their size), so that it is
    /// allocated once rather than grown from 4 by doubling.
    last_taken: u8,
    waker: Option<Waker>,
}

/// The most commands a new batch is sized for in advance.
const MAX_PRESIZED_COMMANDS: usize = 64;

/// The Ruby side's view of one connection; shared with its task.
pub struct ConnectionHandle {
    pub id: u64,
    pub peer: SocketAddr,
    /// The socket, for its local address (asked for rarely: not kept).
    fd: RawFd,
    inbox: Mutex<Inbox>,
    /// The server is stopping: the task ends at once.
    shut_down: AtomicBool,
    /// Bytes accepted for sending and not yet written to the socket, and
    /// (`DRAIN_ARMED`) whether `ondrain` is owed once they are all written:
    /// one word, so that the task sees "all written" and "owed" at the same
    /// instant, never a count of 0 read just before a send armed it.
    outbound: AtomicUsize,
    max_frame_size: AtomicUsize,
    outbound_limit: usize,
    finished: AtomicBool,
    /// A deferred send is waiting for its caller's `wake`.
    wake_owed: AtomicBool,
    drain_threshold: usize,
    /// What the task's panic said, for the Ruby side's `onerror`.
    panic: Mutex<Option<String>>,
    /// The task is polled on the reactor thread (`reactor_tasks`).
    on_reactor: bool,
}

impl std::fmt::Debug for ConnectionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionHandle")
            .field("id", &self.id)
            .field("peer", &self.peer)
            .field("outbound", &self.outbound_bytes())
            .finish_non_exhaustive()
    }
}

/// What became of a message the application sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Queued,
    /// `:outbound_limit` would have been passed: the connection is being aborted.
    LimitReached,
    /// The connection has already ended; the message is dropped, as
    /// EventMachine drops data sent to a closed connection.
    Gone,
}

impl ConnectionHandle {
    pub(crate) fn new(
        id: u64,
        peer: SocketAddr,
        fd: RawFd,
        outbound_limit: usize,
        drain_threshold: usize,
        on_reactor: bool,
    ) -> ConnectionHandle {
        ConnectionHandle {
            id,
            peer,
            fd,
            inbox: Mutex::new(Inbox::default()),
            shut_down: AtomicBool::new(false),
            outbound: AtomicUsize::new(0),
            max_frame_size: AtomicUsize::new(UNSET),
            outbound_limit,
            finished: AtomicBool::new(false),
            wake_owed: AtomicBool::new(false),
            drain_threshold,
            panic: Mutex::new(None),
            on_reactor,
        }
    }

    /// Whether the task is polled on the reactor thread: a wake from there
    /// only queues it, so it need not go through the runtime's relay.
    pub fn on_reactor(&self) -> bool {
        self.on_reactor
    }

    /// Lets the connection begin once the application's block has run, so
    /// that what the block does (closing at once, setting limits) comes before
    /// the handshake, as in em-websocket where the block runs on accept.
    /// `input` says who reads the connection's bytes first.
    pub fn start(&self, input: Input) {
        self.enqueue(Command::Start(input));
    }

    /// The Ruby side is done with an `Event::Opened` or `Event::Received`
    /// (it has run `onopen`, or handed the bytes to the application): the
    /// task reads on.
    pub fn consumed(&self) {
        self.enqueue(Command::Consumed);
    }

    /// Bytes the application passes on to the protocol (`super` from its
    /// `receive_data` or `dispatch`): parsed as if just read.
    pub fn receive(&self, data: Bytes) {
        self.enqueue(Command::Receive(data));
    }

    /// Makes the connection's task panic: fault injection for the test suite.
    pub fn inject_panic(&self) {
        self.enqueue(Command::Panic);
    }

    /// Called by the Ruby side when it reaches a `Barrier` event: what the
    /// application sent for the events before it is queued by now.
    pub fn release(&self, barrier: u64) {
        self.enqueue(Command::Release(barrier));
    }

    /// Queues a data or control frame (encoded on the connection's task).
    pub fn send(&self, kind: OutKind, payload: Payload<'_>) -> Sent {
        self.enqueue_counted(payload.len(), payload.into_command(kind), true)
    }

    /// Queues a frame without waking the task. Returns whether the caller now
    /// owes this connection one `wake` (the first deferred send since the last
    /// wake): a burst of sends, a broadcast above all, then wakes each task
    /// once and leaves in one write instead of one write per message.
    pub fn send_deferred(&self, kind: OutKind, payload: Payload<'_>) -> (Sent, bool) {
        let sent = self.enqueue_counted(payload.len(), payload.into_command(kind), false);
        let owes_wake = sent == Sent::Queued && !self.wake_owed.swap(true, Ordering::AcqRel);
        (sent, owes_wake)
    }

    /// Wakes the task for the frames `send_deferred` queued.
    pub fn wake(&self) {
        self.wake_owed.store(false, Ordering::Release);
        let waker = lock(&self.inbox).waker.take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Ends the task at once (the server is stopping).
    pub(crate) fn shut_down(&self) {
        self.shut_down.store(true, Ordering::Release);
        self.wake();
    }

    /// Queues bytes to be written as they are (`EM::Connection#send_data`).
    pub fn send_raw(&self, data: Bytes) -> Sent {
        self.enqueue_counted(data.len(), Command::Raw(data), true)
    }

    /// Starts the closing handshake; the TCP connection is dropped if the peer
    /// has not answered within `timeout`.
    pub fn close(&self, code: Option<u16>, reason: Bytes, timeout: Duration) {
        self.enqueue(Command::Close {
            code,
            reason,
            timeout,
        });
    }

    /// Drops the TCP connection, at once or once everything queued is written.
    pub fn disconnect(&self, after_writing: bool) {
        self.enqueue(Command::Disconnect { after_writing });
    }

    /// EventMachine's `pause` and `resume`: while paused, nothing is read
    /// from the socket or written to it.
    pub fn set_paused(&self, paused: bool) {
        self.enqueue(Command::Pause(paused));
    }

    /// EventMachine's `comm_inactivity_timeout=`: `None` turns it off.
    pub fn set_inactivity_timeout(&self, timeout: Option<Duration>) {
        self.enqueue(Command::InactivityTimeout(timeout));
    }

    /// The socket's own address (EventMachine's `get_sockname`); `None`
    /// once the connection has ended.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        if self.is_finished() {
            return None;
        }
        // SAFETY: the task closes the socket only after `finished` is set
        // (`Finish` drops before the stream); a close racing this call is
        // caught by the second look below.
        let socket = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) };
        let addr = socket2::SockRef::from(&socket).local_addr().ok()?;
        // Ended meanwhile: the descriptor may already name another socket.
        if self.is_finished() {
            return None;
        }
        addr.as_socket()
    }

    pub fn outbound_bytes(&self) -> usize {
        self.outbound.load(Ordering::Relaxed) & !DRAIN_ARMED
    }

    pub fn set_max_frame_size(&self, max: usize) {
        self.max_frame_size
            .store(max.min(UNSET - 1), Ordering::Relaxed);
    }

    pub fn max_frame_size(&self) -> usize {
        match self.max_frame_size.load(Ordering::Relaxed) {
            UNSET => DEFAULT_MAX_FRAME_SIZE.load(Ordering::Relaxed),
            own => own,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    fn enqueue_counted(&self, len: usize, command: Command, wake: bool) -> Sent {
        if self.is_finished() {
            return Sent::Gone;
        }
        let queued = self.outbound_bytes();
        if self.outbound_limit > 0 && queued.saturating_add(len) > self.outbound_limit {
            self.disconnect(false);
            return Sent::LimitReached;
        }
        if self.drain_threshold > 0 && queued + len > self.drain_threshold {
            let _ = self
                .outbound
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    Some((n + len) | DRAIN_ARMED)
                });
        } else {
            self.outbound.fetch_add(len, Ordering::Relaxed);
        }
        self.push(command, wake);
        Sent::Queued
    }

    fn enqueue(&self, command: Command) {
        self.push(command, true);
    }

    fn push(&self, command: Command, wake: bool) {
        let waker = {
            let mut inbox = lock(&self.inbox);
            if inbox.commands.capacity() == 0 {
                let expected = usize::from(inbox.last_taken);
                inbox.commands.reserve(expected.max(1));
            }
            inbox.commands.push_back(command);
            if wake {
                inbox.waker.take()
            } else {
                None
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Takes the queued commands and leaves `waker` to be woken by the next.
    fn take_commands(&self, waker: &Waker) -> VecDeque<Command> {
        let mut inbox = lock(&self.inbox);
        if !inbox.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            inbox.waker = Some(waker.clone());
        }
        let commands = std::mem::take(&mut inbox.commands);
        // A poll for the socket alone takes none; that says nothing of the next batch.
        if !commands.is_empty() {
            inbox.last_taken = commands.len().min(MAX_PRESIZED_COMMANDS) as u8;
        }
        commands
    }

    fn written(&self, bytes: usize) {
        // Saturating: bytes the task adds itself (frame headers, pongs) are
        // counted in and out the same way, but a race with `finish` must not wrap.
        let _ = self
            .outbound
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some((n & DRAIN_ARMED) | (n & !DRAIN_ARMED).saturating_sub(bytes))
            });
    }

    /// For the Ruby side, on a `Drained` event: whether the buffer is still
    /// empty. The application may have queued more since the task reported
    /// it (a send loop the task kept up with for a while); then the drain is
    /// owed again, for when that is written, and `ondrain` waits for it.
    pub fn drain_confirmed(&self) -> bool {
        self.outbound
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n & !DRAIN_ARMED != 0).then_some(n | DRAIN_ARMED)
            })
            .is_err()
    }

    /// Disarms `ondrain` and answers true if it was owed and every byte has
    /// been written: both read in one atomic step.
    fn take_drain(&self) -> bool {
        self.outbound
            .compare_exchange(DRAIN_ARMED, 0, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// Reports `Closed` exactly once, however the task ends (panics included).
struct Finish {
    shared: Arc<ServerShared>,
    handle: Arc<ConnectionHandle>,
    /// How the peer closed, once it has (boxed: most of a connection's life
    /// it is not known, and then holds nothing).
    info: Option<Box<CloseInfo>>,
    opened: bool,
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.shared.forget(self.handle.id);
        self.handle.finished.store(true, Ordering::Release);
        self.handle.outbound.store(0, Ordering::Relaxed);
        // A panic unwinding through the task drops it right here; one caught
        // by `CatchPanic` first left its message in the handle.
        let panic = lock(&self.handle.panic).take().or_else(|| {
            std::thread::panicking().then(|| "the connection's task panicked".to_string())
        });
        if let Some(message) = panic {
            self.shared.bridge.push(Event::Error {
                id: self.handle.id,
                kind: ErrorKind::Protocol,
                message: format!("Internal error: {message}"),
            });
            self.info = Some(Box::new(CloseInfo {
                code: 1011,
                reason: None,
                was_clean: false,
            }));
        }
        self.shared.bridge.push(Event::Closed {
            id: self.handle.id,
            info: self
                .info
                .take()
                .map_or_else(CloseInfo::abnormal, |info| *info),
            opened: self.opened,
        });
    }
}

/// How the connection loop ends.
#[derive(PartialEq, Eq)]
enum Ending {
    /// Keep going.
    Running,
    /// Write out what is queued, then close.
    AfterWriting,
    /// Close now, dropping what is queued.
    Now,
}

pub(crate) struct Task<S> {
    /// Holds the server's state and the handle, for the task and its end.
    finish: Finish,
    stream: S,
    inbuf: BytesMut,
    outbox: Outbox,
    protocol: Option<Protocol>,
    ending: Ending,
    started: bool,
    /// Who reads the socket's bytes first.
    input: Input,
    /// Events the Ruby side is still to answer with `consumed`; the task
    /// reads on when there are none: `Opened` (what `onopen` does, a
    /// `pause` or a frame size limit, comes before any later byte is read,
    /// as in em-websocket), and each read handed to the application
    /// (`Input::Application`, whose handshake may complete while its read
    /// is still with Ruby: hence a count).
    awaiting_ruby: u8,
    /// EventMachine's `pause`: neither reading nor writing.
    paused: bool,
    /// Events went to the Ruby side after the last barrier.
    events_since_barrier: bool,
    handshake_deadline: Option<Instant>,
    /// The one timer, armed for the nearest deadline (boxed: most of the
    /// time a connection has none, and then holds no timer at all).
    timer: Option<Pin<Box<Sleep>>>,
    /// Boxed on first use: most connections never hold a reply back, never
    /// time out for inactivity and never ping, and an idle connection's task
    /// should stay small.
    occasional: Option<Box<Occasional>>,
}

/// The part of a task's state that only some connections use.
struct Occasional {
    /// Protocol replies (pongs, close frames) held, by barrier, until the
    /// Ruby side has delivered the events that came before them.
    held: VecDeque<(u64, Vec<u8>)>,
    /// The last barrier sent to the Ruby side, and the last it released.
    barrier_sent: u64,
    barrier_released: u64,
    close_deadline: Option<(Instant, Duration)>,
    inactivity: Option<Duration>,
    last_activity: Instant,
    /// When the peer last sent anything, and when our unanswered ping expires.
    last_read: Instant,
    ping_deadline: Option<Instant>,
    /// Set once the loop is over: the write side is being shut down.
    shutdown_deadline: Option<Instant>,
}

impl Occasional {
    fn new() -> Box<Occasional> {
        let now = Instant::now();
        Box::new(Occasional {
            held: VecDeque::new(),
            barrier_sent: 0,
            barrier_released: 0,
            close_deadline: None,
            inactivity: None,
            last_activity: now,
            last_read: now,
            ping_deadline: None,
            shutdown_deadline: None,
        })
    }
}

thread_local! {
    /// One read's decoded events, and the bridge events made of them: scratch
    /// space shared by the tasks of a worker thread instead of held by each.
    static SCRATCH: std::cell::RefCell<(Vec<emws_core::Event>, Vec<Event>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// A plain TCP connection's task, which owns the stream whole and polls its
/// reads and writes in turn (no split halves, no lock between them). A plain
/// function returning the task itself, not an `async fn`: the task is the
/// whole of what the runtime keeps for an idle connection, with no generator
/// around it holding a second copy.
pub(crate) fn run_tcp(
    stream: TcpStream,
    shared: Arc<ServerShared>,
    handle: Arc<ConnectionHandle>,
) -> impl Future<Output = ()> + Send {
    new_task(stream, shared, handle)
}

/// A connection's task over any stream (TLS).
pub(crate) fn run<S>(
    stream: S,
    shared: Arc<ServerShared>,
    handle: Arc<ConnectionHandle>,
) -> impl Future<Output = ()> + Send
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    new_task(stream, shared, handle)
}

fn new_task<S>(stream: S, shared: Arc<ServerShared>, handle: Arc<ConnectionHandle>) -> Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handshake_deadline = shared.config.handshake_timeout.map(|t| Instant::now() + t);
    // Keep-alive pings count from the connection's start.
    let occasional = shared.config.ping_interval.map(|_| Occasional::new());
    Task {
        finish: Finish {
            shared,
            handle,
            info: None,
            opened: false,
        },
        stream,
        inbuf: BytesMut::new(),
        outbox: Outbox::default(),
        protocol: None,
        ending: Ending::Running,
        started: false,
        input: Input::Native,
        awaiting_ruby: 0,
        paused: false,
        events_since_barrier: false,
        handshake_deadline,
        timer: None,
        occasional,
    }
}

impl<S> Future for Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Output = ();

    /// One hand-written loop instead of `select!`: nothing is re-created per
    /// round, and an idle connection holds no timer or read buffer.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..TURNS_PER_POLL {
            if this.finish.handle.shut_down.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            if this.shutdown_deadline().is_some() {
                return this.poll_shutdown(cx);
            }
            let commands = this.finish.handle.take_commands(cx.waker());
            let mut progress = !commands.is_empty();
            this.run_commands(commands);
            if this.ending == Ending::Now
                || (this.ending == Ending::AfterWriting
                    && !this.outbox.has_work()
                    && !this.holds_replies())
            {
                this.occasional().shutdown_deadline = Some(Instant::now() + SHUTDOWN_WAIT);
                continue;
            }
            if this.outbox.has_work() && !this.paused {
                match this.outbox.poll_write_to(Pin::new(&mut this.stream), cx) {
                    Poll::Ready(Ok(written)) => {
                        progress = true;
                        if written > 0 {
                            if let Some(occasional) = this.occasional.as_mut() {
                                occasional.last_activity = Instant::now();
                            }
                        }
                        this.finish.handle.written(written);
                        this.report_drain();
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Pending => {}
                }
            }
            let reading = this.started
                && this.ending == Ending::Running
                && this.awaiting_ruby == 0
                && !this.paused
                && this.outbox.len() < MAX_UNREAD_REPLIES;
            if reading {
                let read = match this.input {
                    Input::Native => {
                        poll_read_some(Pin::new(&mut this.stream), cx, &mut this.inbuf)
                    }
                    Input::Application => this.poll_read_for_application(cx),
                };
                match read {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Ready(Ok(read)) => {
                        progress = true;
                        if let Some(occasional) = this.occasional.as_mut() {
                            occasional.last_activity = Instant::now();
                            occasional.last_read = occasional.last_activity;
                            occasional.ping_deadline = None;
                        }
                        if this.input == Input::Native {
                            this.process_received(read);
                        }
                    }
                    Poll::Pending => {}
                }
            }
            if this.poll_timer(cx, this.next_deadline()).is_ready() {
                progress = true;
                this.on_deadline();
            }
            if !progress {
                return Poll::Pending;
            }
        }
        // Still busy: let the other tasks on this thread have a turn first.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<S> Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Reads what is ready and hands it to the application as it is.
    fn poll_read_for_application(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut chunk = BytesMut::new();
        let read = ready!(poll_read_some(Pin::new(&mut self.stream), cx, &mut chunk))?;
        if read > 0 {
            self.awaiting_ruby += 1;
            self.finish.shared.bridge.push(Event::Received {
                handle: self.finish.handle.clone(),
                data: chunk.freeze(),
            });
        }
        Poll::Ready(Ok(read))
    }

    /// Parses what `inbuf` holds, the last `read` bytes of it just
    /// received: the handshake, then frames.
    fn process_received(&mut self, read: usize) {
        self.process_input(read);
        if self.inbuf.is_empty() {
            // Give the buffer back: an idle connection holds none.
            self.inbuf = BytesMut::new();
        }
    }

    /// Arms the timer for `deadline` (or drops it) and polls it.
    fn poll_timer(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> Poll<()> {
        let Some(deadline) = deadline else {
            self.timer = None;
            return Poll::Pending;
        };
        match self.timer.as_mut() {
            Some(timer) if timer.deadline() == deadline => {}
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(sleep_until(deadline))),
        }
        match self.timer.as_mut() {
            Some(timer) => timer.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }

    /// A graceful end: the peer sees our FIN after the last byte (waiting
    /// at most `SHUTDOWN_WAIT` for the socket to take it).
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if Pin::new(&mut self.stream).poll_shutdown(cx).is_ready() {
            return Poll::Ready(());
        }
        let deadline = self.shutdown_deadline();
        self.poll_timer(cx, deadline)
    }

    fn next_deadline(&self) -> Option<Instant> {
        let Some(occasional) = self.occasional.as_ref() else {
            return self.handshake_deadline;
        };
        let inactivity = occasional.inactivity.map(|t| occasional.last_activity + t);
        [
            self.handshake_deadline,
            occasional.close_deadline.map(|(at, _)| at),
            inactivity,
            self.next_ping(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The occasional state, boxed now if this is its first use.
    fn occasional(&mut self) -> &mut Occasional {
        self.occasional.get_or_insert_with(Occasional::new)
    }

    fn shutdown_deadline(&self) -> Option<Instant> {
        self.occasional.as_ref()?.shutdown_deadline
    }

    fn holds_replies(&self) -> bool {
        self.occasional
            .as_ref()
            .is_some_and(|occasional| !occasional.held.is_empty())
    }

    fn on_deadline(&mut self) {
        let now = Instant::now();
        if self.handshake_deadline.is_some_and(|at| now >= at) {
            self.report_error(ErrorKind::Handshake, "Handshake timed out".to_string());
            self.ending = Ending::Now;
            return;
        }
        let Some(occasional) = self.occasional.as_ref() else {
            return;
        };
        if let Some((at, timeout)) = occasional.close_deadline {
            if now >= at {
                self.report_error(
                    ErrorKind::Protocol,
                    format!(
                        "Close handshake un-acked after {}s, closing tcp connection",
                        seconds(timeout)
                    ),
                );
                self.ending = Ending::Now;
                return;
            }
        }
        if occasional
            .inactivity
            .is_some_and(|t| now >= occasional.last_activity + t)
        {
            self.ending = Ending::Now;
            return;
        }
        if occasional.ping_deadline.is_some_and(|at| now >= at) {
            let timeout = self.finish.shared.config.ping_timeout();
            self.report_error(
                ErrorKind::Protocol,
                format!(
                    "Ping unanswered after {}s, closing tcp connection",
                    seconds(timeout.unwrap_or_default())
                ),
            );
            self.ending = Ending::Now;
            return;
        }
        if self.next_ping().is_some_and(|at| now >= at) {
            self.send_keepalive_ping(now);
        }
    }

    /// When the next keep-alive ping is due (or the pending one expires):
    /// only with `:ping_interval`, on an open connection of a draft with pings.
    fn next_ping(&self) -> Option<Instant> {
        let interval = self.finish.shared.config.ping_interval?;
        let protocol = self.protocol.as_ref()?;
        if protocol.state() != State::Open || !protocol.draft().pingable() {
            return None;
        }
        let occasional = self.occasional.as_ref()?;
        Some(
            occasional
                .ping_deadline
                .unwrap_or(occasional.last_read + interval),
        )
    }

    fn send_keepalive_ping(&mut self, now: Instant) {
        let Some(protocol) = self.protocol.as_ref() else {
            return;
        };
        let before = self.outbox.len();
        let header = protocol.frame_header(OutKind::Ping, 0);
        self.outbox.push_slice(header.as_ref());
        self.add_overhead(before, 0);
        let deadline = self.finish.shared.config.ping_timeout().map(|t| now + t);
        self.occasional().ping_deadline = deadline;
    }

    /// `ondrain`: everything queued has been written since a send found the
    /// buffer above `:drain_threshold`.
    fn report_drain(&self) {
        if self.finish.handle.take_drain() {
            self.finish.shared.bridge.push(Event::Drained {
                handle: self.finish.handle.clone(),
            });
        }
    }

    fn run_commands(&mut self, commands: VecDeque<Command>) {
        for command in commands {
            if self.ending == Ending::Now {
                return;
            }
            match command {
                Command::Start(input) => {
                    self.started = true;
                    self.input = input;
                }
                Command::Consumed => self.awaiting_ruby = self.awaiting_ruby.saturating_sub(1),
                Command::Pause(paused) => self.paused = paused,
                Command::Receive(data) => {
                    if self.ending == Ending::Running {
                        self.inbuf.extend_from_slice(&data);
                        self.process_received(data.len());
                    }
                }
                Command::Panic => panic!("panic requested by the test suite"),
                Command::Release(barrier) => self.release(barrier),
                Command::Send { kind, payload } => self.encode(
                    kind,
                    match payload {
                        MessageBytes::Shared(bytes) => Payload::Shared(bytes),
                        MessageBytes::Inline { .. } => Payload::Borrowed(&payload),
                    },
                ),
                Command::Raw(data) => {
                    // Bytes written before any handshake: the application
                    // answers this connection itself (plain HTTP on the
                    // WebSocket port), and may keep it as long as it likes.
                    if self.protocol.is_none() {
                        self.handshake_deadline = None;
                    }
                    self.outbox.push_bytes(data)
                }
                Command::Close {
                    code,
                    reason,
                    timeout,
                } => self.start_close(code, &reason, timeout),
                Command::Disconnect { after_writing } => {
                    self.ending = if after_writing {
                        Ending::AfterWriting
                    } else {
                        Ending::Now
                    }
                }
                Command::InactivityTimeout(timeout) => {
                    let occasional = self.occasional();
                    occasional.inactivity = timeout;
                    occasional.last_activity = Instant::now();
                }
            }
        }
    }

    fn encode(&mut self, kind: OutKind, payload: Payload<'_>) {
        let holds_replies = self.holds_replies();
        let Some(protocol) = self.protocol.as_mut() else {
            // Not reachable through the Ruby API (it refuses before onopen).
            self.finish.handle.written(payload.len());
            return;
        };
        // While the answer to the peer's close (or our failure's close frame)
        // is held for the events before it, replies to those events still go
        // out first, as they would have in em-websocket.
        let sendable = self.ending == Ending::Running && protocol.check_send(kind).is_ok();
        if !sendable && !holds_replies {
            self.finish.handle.written(payload.len());
            return;
        }
        let counted = payload.len();
        let before = self.outbox.len();
        // permessage-deflate compresses here, on this tokio thread.
        if let Some((header, compressed)) = protocol.frame_compressed(kind, payload.as_slice()) {
            self.outbox.push_slice(header.as_ref());
            self.outbox.push_bytes(compressed);
        } else {
            self.outbox
                .push_slice(protocol.frame_header(kind, counted).as_ref());
            match payload {
                Payload::Shared(bytes) => self.outbox.push_bytes(bytes),
                Payload::Borrowed(slice) => self.outbox.push_slice(slice),
            }
        }
        self.outbox.push_slice(protocol.frame_trailer(kind));
        self.add_overhead(before, counted);
        // A compressed frame may be shorter than the message the Ruby side
        // counted: only what is queued will be reported written.
        let queued = self.outbox.len() - before;
        if counted > queued {
            self.finish.handle.written(counted - queued);
        }
    }

    /// Counts the bytes the task queued since the outbox held `before`, less
    /// the `counted` ones the Ruby side has already added.
    fn add_overhead(&self, before: usize, counted: usize) {
        let extra = (self.outbox.len() - before).saturating_sub(counted);
        if extra > 0 {
            self.finish
                .handle
                .outbound
                .fetch_add(extra, Ordering::Relaxed);
        }
    }

    fn start_close(&mut self, code: Option<u16>, reason: &[u8], timeout: Duration) {
        let Some(protocol) = self.protocol.as_mut() else {
            // Closing before the handshake completed: em-websocket aborts.
            self.ending = Ending::Now;
            return;
        };
        if protocol.state() != State::Open {
            return;
        }
        let before = self.outbox.len();
        let tail_before = self.outbox.tail_mut().len();
        protocol.close(code, reason, self.outbox.tail_mut());
        let state = protocol.state();
        self.outbox.commit(tail_before);
        self.add_overhead(before, 0);
        match state {
            State::Closing => {
                self.occasional().close_deadline = Some((Instant::now() + timeout, timeout))
            }
            State::Closed => self.ending = Ending::AfterWriting,
            State::Open => {}
        }
    }

    fn process_input(&mut self, read: usize) {
        if self.protocol.is_none() {
            self.process_handshake(read);
        }
        if self.protocol.is_some() && !self.inbuf.is_empty() {
            self.process_frames();
        }
    }

    /// Reads the handshake from `inbuf`, whose last `read` bytes just came.
    fn process_handshake(&mut self, read: usize) {
        let shared = self.finish.shared.clone();
        let config = &shared.config;
        let latest_read = self.inbuf.len() - read;
        let request =
            match handshake::read_preface(&self.inbuf, latest_read, config.max_handshake_size) {
                Ok(Preface::Incomplete) => return,
                Ok(Preface::PolicyFile) => return self.answer_and_close(POLICY_FILE),
                Ok(Preface::Healthcheck) => return self.answer_and_close(HEALTHCHECK_RESPONSE),
                Ok(Preface::Request(request)) => request,
                Err(error) => return self.fail_handshake(error.message),
            };
        let accepted = match handshake::accept(&request, &config.handshake) {
            Ok(accepted) => accepted,
            Err(error) => return self.fail_handshake(error.message),
        };
        let _ = self.inbuf.split_to(request.consumed);
        let before = self.outbox.len();
        self.outbox.push_slice(&accepted.response);
        self.add_overhead(before, 0);
        self.handshake_deadline = None;
        self.protocol = Some(Protocol::new(
            accepted.draft,
            Config {
                max_frame_size: self.finish.handle.max_frame_size(),
                max_message_size: config.max_message_size,
                require_masking: config.require_masking,
                deflate: accepted.deflate,
            },
        ));
        self.finish.opened = true;
        self.awaiting_ruby += 1;
        self.finish.shared.bridge.push(Event::Opened {
            handle: self.finish.handle.clone(),
            opened: Box::new(Opened {
                request: *request,
                draft: accepted.draft,
                protocol: accepted.protocol,
                secure: config.handshake.secure,
            }),
        });
    }

    fn answer_and_close(&mut self, answer: &'static [u8]) {
        self.outbox.push_bytes(Bytes::from_static(answer));
        self.inbuf = BytesMut::new();
        self.handshake_deadline = None;
        self.ending = Ending::AfterWriting;
    }

    fn fail_handshake(&mut self, message: String) {
        self.report_error(ErrorKind::Handshake, message);
        self.ending = Ending::Now;
    }

    fn process_frames(&mut self) {
        let (mut decoded, mut batch) =
            SCRATCH.with(|scratch| std::mem::take(&mut *scratch.borrow_mut()));
        self.process_frames_with(&mut decoded, &mut batch);
        decoded.clear();
        batch.clear();
        SCRATCH.with(|scratch| *scratch.borrow_mut() = (decoded, batch));
    }

    /// Decodes what has been read into `decoded`, and reports it to the Ruby
    /// side as one `batch` (one lock of the bridge per read, not per event).
    fn process_frames_with(&mut self, decoded: &mut Vec<emws_core::Event>, batch: &mut Vec<Event>) {
        let Some(protocol) = self.protocol.as_mut() else {
            return;
        };
        if protocol.state() == State::Closed {
            self.inbuf.clear();
            return;
        }
        let was_closing = protocol.state() == State::Closing;
        let draft = protocol.draft();
        protocol.set_max_frame_size(self.finish.handle.max_frame_size());
        let mut replies = Vec::new();
        let result = protocol.receive(&mut self.inbuf, &mut replies, decoded);
        if let Err(error) = &result {
            protocol.fail(error, &mut replies);
        }
        let state = protocol.state();

        // The core writes a pong for each ping, in order, then (at most) one
        // close frame last. Each pong is queued at its ping's place among the
        // events, as em-websocket sends it: after the application's replies
        // to the messages before the ping, before those to the messages after.
        let id = self.finish.handle.id;
        let mut replies = replies.as_slice();
        for event in decoded.drain(..) {
            let event = match event {
                emws_core::Event::Text(data) => Event::Text {
                    id,
                    data: MessageBytes::small_inline(data),
                },
                emws_core::Event::Binary(data) => Event::Binary {
                    id,
                    data: MessageBytes::small_inline(data),
                },
                emws_core::Event::Ping(data) => {
                    let pong = self.pong_len(data.len()).min(replies.len());
                    let (this_pong, rest) = replies.split_at(pong);
                    replies = rest;
                    self.queue_replies(this_pong, batch);
                    Event::Ping {
                        id,
                        data: MessageBytes::small_inline(data),
                    }
                }
                emws_core::Event::Pong(data) => Event::Pong {
                    id,
                    data: MessageBytes::small_inline(data),
                },
                emws_core::Event::Close { code, reason } => {
                    if let Some(info) = clean_close_info(draft, code, reason) {
                        self.finish.info = Some(Box::new(info));
                    }
                    continue;
                }
            };
            batch.push(event);
            self.events_since_barrier = true;
        }
        // The close frame (an echo, or ours failing the connection) goes
        // before `onerror`, as em-websocket sends it.
        self.queue_replies(replies, batch);
        if let Err(error) = result {
            batch.push(self.error_event(error.kind.into(), error.message));
        }
        self.finish.shared.bridge.push_all(batch);
        if state == State::Closed {
            if let Some(occasional) = self.occasional.as_mut() {
                occasional.close_deadline = None;
            }
            self.inbuf = BytesMut::new();
            // After our own close was acknowledged nothing more is owed to the peer.
            self.ending = if was_closing {
                Ending::Now
            } else {
                Ending::AfterWriting
            };
        }
    }

    /// Queues protocol replies behind whatever the application sends for the
    /// events already reported, as em-websocket (which runs the application's
    /// blocks while it reads) orders them: a reply to a message goes out
    /// before the echo of a close that followed it. The Ruby side releases a
    /// barrier (added to `batch`) once it has delivered the events before it.
    fn queue_replies(&mut self, replies: &[u8], batch: &mut Vec<Event>) {
        if replies.is_empty() {
            return;
        }
        if self.events_since_barrier {
            self.events_since_barrier = false;
            let occasional = self.occasional();
            occasional.barrier_sent += 1;
            let barrier = occasional.barrier_sent;
            occasional.held.push_back((barrier, replies.to_vec()));
            batch.push(Event::Barrier {
                handle: self.finish.handle.clone(),
                barrier,
            });
        } else if let Some((_, last)) = self
            .occasional
            .as_mut()
            .and_then(|occasional| occasional.held.back_mut())
        {
            last.extend_from_slice(replies);
        } else {
            self.write_replies(replies);
        }
    }

    /// The length of the pong the core wrote for a ping of `payload` bytes.
    fn pong_len(&self, payload: usize) -> usize {
        self.protocol.as_ref().map_or(0, |protocol| {
            protocol.frame_header(OutKind::Pong, payload).as_ref().len()
                + payload
                + protocol.frame_trailer(OutKind::Pong).len()
        })
    }

    fn release(&mut self, barrier: u64) {
        // A barrier is only ever sent with replies held in `occasional`.
        let Some(occasional) = self.occasional.as_mut() else {
            return;
        };
        occasional.barrier_released = occasional.barrier_released.max(barrier);
        let released = occasional.barrier_released;
        while let Some((_, replies)) = self
            .occasional
            .as_mut()
            .and_then(|occasional| occasional.held.pop_front_if(|(held, _)| *held <= released))
        {
            self.write_replies(&replies);
        }
    }

    fn write_replies(&mut self, replies: &[u8]) {
        let before = self.outbox.len();
        self.outbox.push_slice(replies);
        self.add_overhead(before, 0);
    }

    fn report_error(&self, kind: ErrorKind, message: String) {
        self.finish
            .shared
            .bridge
            .push(self.error_event(kind, message));
    }

    fn error_event(&self, kind: ErrorKind, message: String) -> Event {
        Event::Error {
            id: self.finish.handle.id,
            kind,
            message,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs a connection's future, turning a panic in it into that connection's
/// end (reported as `onerror` and `onclose` 1011 by `Finish`), so that one
/// connection's bug never takes the server down.
pub(crate) struct CatchPanic<F, G> {
    // Declared first, so dropped first: the connection reports its end
    // before `guard` lets the server count it gone.
    future: F,
    handle: Arc<ConnectionHandle>,
    _guard: G,
}

impl<F, G> CatchPanic<F, G> {
    /// `guard` is dropped once the connection has ended and reported it.
    pub(crate) fn new(future: F, handle: Arc<ConnectionHandle>, guard: G) -> Self {
        CatchPanic {
            future,
            handle,
            _guard: guard,
        }
    }
}

impl<F: std::future::Future<Output = ()>, G> std::future::Future for CatchPanic<F, G> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // `self`, and `handle` and `guard` are never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_string());
                *lock(&this.handle.panic) = Some(message);
                // The future is dropped by our owner, which reports the end.
                Poll::Ready(())
            }
        }
    }
}

/// What `onclose` reports after the peer's close frame, as em-websocket's
/// message processors do: drafts 75/76 record nothing (their closing
/// handshake still ends as 1006, not clean), drafts 01-05 have no codes.
fn clean_close_info(draft: Draft, code: Option<u16>, reason: Bytes) -> Option<CloseInfo> {
    match draft {
        Draft::Draft75 | Draft::Draft76 => None,
        Draft::Draft03 | Draft::Draft05 => Some(CloseInfo {
            code: 1005,
            reason: Some(Bytes::new()),
            was_clean: true,
        }),
        Draft::Draft06 | Draft::Draft07 => Some(CloseInfo {
            code: code.unwrap_or(1005),
            reason: Some(reason),
            was_clean: true,
        }),
    }
}

/// Reads what is ready into `buf`. An idle connection holds no read buffer:
/// unless `buf` already has room (a message is arriving), the read goes into
/// a buffer on the stack and only the bytes received are copied to `buf`.
fn poll_read_some<R: AsyncRead>(
    reader: Pin<&mut R>,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    if buf.capacity() - buf.len() >= READ_CHUNK / 4 {
        let before = buf.len();
        let mut read = ReadBuf::uninit(buf.spare_capacity_mut());
        ready!(reader.poll_read(cx, &mut read))?;
        let filled = read.filled().len();
        // SAFETY: `poll_read` initialised the first `filled` spare bytes.
        unsafe { buf.set_len(before + filled) };
        return Poll::Ready(Ok(filled));
    }
    let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
    let mut read = ReadBuf::uninit(&mut scratch);
    ready!(reader.poll_read(cx, &mut read))?;
    buf.extend_from_slice(read.filled());
    Poll::Ready(Ok(read.filled().len()))
}

/// Seconds as Ruby prints them: `60`, `0.5`.
fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{}", secs as u64)
    } else {
        format!("{secs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message_bytes::INLINE_BYTES;
    use std::time::Duration;

    fn handle(drain_threshold: usize) -> ConnectionHandle {
        ConnectionHandle::new(
            1,
            "127.0.0.1:1".parse().unwrap(),
            -1,
            0,
            drain_threshold,
            false,
        )
    }

    #[test]
    fn wakes_handed_to_the_relay_all_arrive() {
        use std::sync::atomic::AtomicUsize;
        use std::task::Wake;

        struct Counter(AtomicUsize);
        impl Wake for Counter {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let handles: Vec<Arc<ConnectionHandle>> = (0..4).map(|_| Arc::new(handle(0))).collect();
        let mut owed = Vec::new();
        // From a thread outside the runtime, as the Ruby thread does, round
        // after round: each hand-over races the relay's last one.
        for round in 1..=500 {
            for handle in &handles {
                handle.take_commands(&waker);
            }
            owed.extend(handles.iter().cloned());
            crate::runtime::wake_all(&mut owed);
            assert!(owed.is_empty());
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while counter.0.load(Ordering::SeqCst) < round * handles.len() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "a wake was lost in round {round}"
                );
                std::thread::yield_now();
            }
        }
    }

    #[test]
    fn ondrain_is_owed_once_everything_queued_past_the_threshold_is_written() {
        let handle = handle(100);
        handle.send_deferred(OutKind::Binary, Payload::Borrowed(&[0; 80]));
        assert!(!handle.take_drain(), "below the threshold: not armed");
        handle.send_deferred(OutKind::Binary, Payload::Borrowed(&[0; 80]));
        assert_eq!(handle.outbound_bytes(), 160);
        handle.written(100);
        assert!(!handle.take_drain(), "60 bytes still queued");
        handle.written(60);
        assert_eq!(handle.outbound_bytes(), 0);
        assert!(handle.take_drain());
        assert!(!handle.take_drain(), "reported once");
    }

    #[test]
    fn a_drain_the_application_has_since_refilled_is_owed_again() {
        let handle = handle(100);
        handle.send_deferred(OutKind::Binary, Payload::Shared(Bytes::from(vec![0; 200])));
        handle.written(200);
        assert!(handle.take_drain());
        // More is queued (below the threshold) before the Ruby side sees the
        // event: not drained after all, and owed again.
        handle.send_deferred(OutKind::Binary, Payload::Borrowed(&[0; 10]));
        assert!(!handle.drain_confirmed());
        handle.written(10);
        assert!(handle.take_drain());
        assert!(handle.drain_confirmed(), "empty when the Ruby side looks");
        assert!(!handle.take_drain(), "and not owed any more");
    }

    #[test]
    fn a_small_payload_travels_in_a_command_no_larger_than_a_close() {
        assert!(std::mem::size_of::<Command>() <= 56);
        let inline = Payload::Borrowed(b"hello").into_command(OutKind::Text);
        assert!(matches!(
            inline,
            Command::Send {
                payload: MessageBytes::Inline { len: 5, .. },
                ..
            }
        ));
        let large = Payload::Borrowed(&[7; INLINE_BYTES + 1]).into_command(OutKind::Binary);
        assert!(matches!(
            large,
            Command::Send { payload: MessageBytes::Shared(ref b), .. } if b.len() == INLINE_BYTES + 1
        ));
        // A shared buffer stays shared, however small (a fan-out's one copy).
        let shared = Payload::Shared(Bytes::from_static(b"hi")).into_command(OutKind::Text);
        assert!(matches!(
            shared,
            Command::Send { payload: MessageBytes::Shared(ref b), .. } if b.len() == 2
        ));
    }

    #[test]
    fn prints_seconds_like_ruby() {
        assert_eq!(seconds(Duration::from_secs(60)), "60");
        assert_eq!(seconds(Duration::from_millis(500)), "0.5");
    }
}
