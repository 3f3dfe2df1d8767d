//! A connection as the reactor thread sees it: the [`ConnectionHandle`]
//! the application sends through, shared with the connection's task.
//!
//! The handle holds a command queue and the task's waker, and a few atomics
//! the reactor thread reads without asking the task (bytes not yet written,
//! the frame size limit, whether the connection has ended).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use emws_core::OutKind;

use crate::message_bytes::MessageBytes;
use crate::sync::lock;
use crate::upgrade::UpgradeDecision;

/// `max_frame_size` for connections that have not set their own (em-websocket's
/// `EM::WebSocket.max_frame_size`, read when each frame arrives).
pub static DEFAULT_MAX_FRAME_SIZE: AtomicUsize =
    AtomicUsize::new(emws_core::protocol::DEFAULT_MAX_FRAME_SIZE);

const UNSET: usize = usize::MAX;
/// The flag bit of `ConnectionHandle::outbound`.
const DRAIN_ARMED: usize = 1 << (usize::BITS - 1);

/// A message's bytes as the sender hands them over.
pub enum Payload<'a> {
    /// Already in a buffer that may be shared (a fan-out encodes once).
    Shared(Bytes),
    /// To be copied now (a Ruby string, which may change once Ruby runs).
    Borrowed(&'a [u8]),
}

impl Payload<'_> {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Shared(bytes) => bytes,
            Payload::Borrowed(slice) => slice,
        }
    }

    pub(crate) fn len(&self) -> usize {
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
pub(crate) enum Command {
    /// The application's block has run for this connection: it may begin.
    Start {
        input: Input,
        /// The application decides the upgrade (`Event::Upgrade`, then `Decide`).
        decides_upgrade: bool,
    },
    /// The application's decision on the upgrade.
    Decide(Box<UpgradeDecision>),
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
    /// The task reported `Opened` (em-websocket calls `onclose` only then).
    /// Kept here, in the handle's padding, rather than in the task, whose
    /// allocation it would make a size class larger.
    opened: AtomicBool,
    /// A deferred send is waiting for its caller's `wake`.
    wake_owed: AtomicBool,
    /// A send would have passed `outbound_limit`: the connection was aborted.
    limit_reached: AtomicBool,
    drain_threshold: usize,
    /// What the task's panic said, for the Ruby side's `onerror` (a boxed
    /// `str`, not a `String`: the handle's allocation stays within 192 bytes).
    panic: Mutex<Option<Box<str>>>,
    /// The task is polled on the reactor thread (`executor::local`).
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
            opened: AtomicBool::new(false),
            wake_owed: AtomicBool::new(false),
            limit_reached: AtomicBool::new(false),
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
    /// `input` says who reads the connection's bytes first;
    /// `decides_upgrade`, whether the application decides the upgrade.
    pub fn start(&self, input: Input, decides_upgrade: bool) {
        self.enqueue(Command::Start {
            input,
            decides_upgrade,
        });
    }

    /// The application's decision on an `Event::Upgrade`.
    pub fn decide(&self, decision: UpgradeDecision) {
        self.enqueue(Command::Decide(Box::new(decision)));
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
    pub fn wake_task(&self) {
        self.wake_owed.store(false, Ordering::Release);
        let waker = lock(&self.inbox).waker.take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Ends the task at once (the server is stopping).
    pub(crate) fn shut_down(&self) {
        self.shut_down.store(true, Ordering::Release);
        self.wake_task();
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
        // (`ClosedReport` drops before the stream); a close racing this call is
        // caught by the second look below.
        let socket = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) };
        let addr = socket2::SockRef::from(&socket).local_addr().ok()?;
        // Ended meanwhile: the descriptor may already name another socket.
        if self.is_finished() {
            return None;
        }
        addr.as_socket()
    }

    /// Whether a send was refused for passing `outbound_limit`.
    pub fn limit_reached(&self) -> bool {
        self.limit_reached.load(Ordering::Relaxed)
    }

    pub fn outbound_limit(&self) -> usize {
        self.outbound_limit
    }

    pub fn drain_threshold(&self) -> usize {
        self.drain_threshold
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

    /// Notes that the task reported `Opened`.
    pub(crate) fn set_opened(&self) {
        self.opened.store(true, Ordering::Relaxed);
    }

    /// Whether the task reported `Opened`.
    pub(crate) fn was_opened(&self) -> bool {
        self.opened.load(Ordering::Relaxed)
    }

    /// The connection has ended: nothing more is queued or counted.
    pub(crate) fn finish(&self) {
        self.finished.store(true, Ordering::Release);
        self.outbound.store(0, Ordering::Relaxed);
    }

    /// Whether the server is stopping: the task ends at once.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// Counts bytes the task queued itself (frame headers, protocol replies).
    pub(crate) fn add_outbound(&self, bytes: usize) {
        self.outbound.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Keeps what a panic of the task said, for `onerror`.
    pub(crate) fn set_panic(&self, message: String) {
        *lock(&self.panic) = Some(message.into_boxed_str());
    }

    pub(crate) fn take_panic(&self) -> Option<String> {
        lock(&self.panic).take().map(String::from)
    }

    fn enqueue_counted(&self, len: usize, command: Command, wake: bool) -> Sent {
        if self.is_finished() {
            return Sent::Gone;
        }
        let queued = self.outbound_bytes();
        if self.outbound_limit > 0 && queued.saturating_add(len) > self.outbound_limit {
            self.limit_reached.store(true, Ordering::Relaxed);
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
    pub(crate) fn take_commands(&self, waker: &Waker) -> VecDeque<Command> {
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

    pub(crate) fn written(&self, bytes: usize) {
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
    pub(crate) fn take_drain(&self) -> bool {
        self.outbound
            .compare_exchange(DRAIN_ARMED, 0, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// A task's waker for the handle: the wake policy hands the runtime's relay
/// the handles of connections its tasks must be woken for.
impl Wake for ConnectionHandle {
    fn wake(self: Arc<Self>) {
        self.wake_task();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_task();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message_bytes::INLINE_BYTES;

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

        struct Counter(AtomicUsize);
        impl Wake for Counter {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let handles: Vec<Arc<ConnectionHandle>> = (0..4).map(|_| Arc::new(handle(0))).collect();
        let mut owed: Vec<Waker> = Vec::new();
        // From a thread outside the runtime, as the Ruby thread does, round
        // after round: each hand-over races the relay's last one.
        for round in 1..=500 {
            for handle in &handles {
                handle.take_commands(&waker);
            }
            owed.extend(handles.iter().cloned().map(Waker::from));
            crate::executor::runtime::wake_all(&mut owed);
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

    /// Every connection keeps one: idle memory per connection grows with it
    /// (192 bytes, reference counts included, is one of mimalloc's sizes;
    /// the next is 224).
    #[test]
    fn a_connection_handle_takes_at_most_192_bytes() {
        let size = std::mem::size_of::<Arc<()>>() * 2 + std::mem::size_of::<ConnectionHandle>();
        assert!(size <= 192, "a connection's handle takes {size} bytes");
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
}
