//! The task and its poll loop.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use emws_core::Protocol;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};

use super::deadlines::Deadlines;
use super::input::poll_read_some;
use super::outbox::Outbox;
use super::replies::HeldReplies;
use super::report::ClosedReport;
use crate::event::{ErrorKind, Event};
use crate::handle::{Command, ConnectionHandle, Input, Payload};
use crate::message_bytes::MessageBytes;
use crate::server_state::ServerState;

/// Protocol replies (pongs, close echoes) queued for a peer that does not read
/// beyond this stop us from reading more from it.
const MAX_UNREAD_REPLIES: usize = 1024 * 1024;
/// Rounds of work one poll may do before yielding to the other tasks.
const TURNS_PER_POLL: usize = 16;

/// When the connection is to be closed.
#[derive(PartialEq, Eq)]
pub(super) enum CloseWhen {
    NotYet,
    /// Once what is queued has been written.
    Written,
    /// At once, dropping what is queued.
    Now,
}

pub(crate) struct Task<S> {
    /// The server's state and the handle, for the task and its end.
    pub(super) report: ClosedReport,
    pub(super) stream: S,
    pub(super) inbuf: BytesMut,
    pub(super) outbox: Outbox,
    pub(super) protocol: Option<Protocol>,
    pub(super) close_when: CloseWhen,
    /// The application's block has run (`Command::Start`).
    pub(super) started: bool,
    /// Who reads the socket's bytes first.
    pub(super) input: Input,
    /// Events the Ruby side is still to answer with `consumed`; the task
    /// reads on when there are none: `Opened` (what `onopen` does, a
    /// `pause` or a frame size limit, comes before any later byte is read,
    /// as in em-websocket), and each read handed to the application
    /// (`Input::Application`, whose handshake may complete while its read
    /// is still with Ruby: hence a count).
    pub(super) awaiting_ruby: u8,
    /// EventMachine's `pause`: neither reading nor writing.
    pub(super) paused: bool,
    /// Events went to the Ruby side after the last barrier.
    pub(super) events_since_barrier: bool,
    pub(super) handshake_deadline: Option<Instant>,
    /// The one timer, armed for the nearest deadline (boxed: most of the
    /// time a connection has none, and then holds no timer at all).
    pub(super) timer: Option<Pin<Box<Sleep>>>,
    /// Boxed on first use: most connections never hold a reply back, never
    /// time out for inactivity and never ping, and an idle connection's task
    /// should stay small.
    pub(super) on_demand: Option<Box<OnDemand>>,
}

/// The part of a task's state that only some connections use.
#[derive(Default)]
pub(super) struct OnDemand {
    pub(super) replies: HeldReplies,
    pub(super) deadlines: Deadlines,
}

/// A connection's task over its stream (a plain socket the reactor thread
/// watches, or a TLS session on the workers), which owns the stream whole
/// and polls its reads and writes in turn (no split halves, no lock between
/// them). A plain function returning the task itself, not an `async fn`:
/// the task is the whole of what is kept for an idle connection, with no
/// generator around it holding a second copy.
pub(crate) fn run<S>(stream: S, server: Arc<ServerState>, handle: Arc<ConnectionHandle>) -> Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handshake_deadline = server.config.handshake_timeout.map(|t| Instant::now() + t);
    // Keep-alive pings count from the connection's start.
    let on_demand = server
        .config
        .ping_interval
        .map(|_| Box::<OnDemand>::default());
    Task {
        report: ClosedReport {
            server,
            handle,
            close_info: None,
            opened: false,
        },
        stream,
        inbuf: BytesMut::new(),
        outbox: Outbox::default(),
        protocol: None,
        close_when: CloseWhen::NotYet,
        started: false,
        input: Input::Native,
        awaiting_ruby: 0,
        paused: false,
        events_since_barrier: false,
        handshake_deadline,
        timer: None,
        on_demand,
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
            if this.report.handle.is_shut_down() {
                return Poll::Ready(());
            }
            if this.shutdown_deadline().is_some() {
                return this.poll_shutdown(cx);
            }
            let commands = this.report.handle.take_commands(cx.waker());
            let mut progress = !commands.is_empty();
            this.run_commands(commands);
            if this.close_when == CloseWhen::Now
                || (this.close_when == CloseWhen::Written
                    && !this.outbox.has_work()
                    && !this.holds_replies())
            {
                this.start_shutdown();
                continue;
            }
            if this.outbox.has_work() && !this.paused {
                match this.outbox.poll_write_to(Pin::new(&mut this.stream), cx) {
                    Poll::Ready(Ok(written)) => {
                        progress = true;
                        if written > 0 {
                            this.wrote();
                        }
                        this.report.handle.written(written);
                        this.report_drain();
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Pending => {}
                }
            }
            let reading = this.started
                && this.close_when == CloseWhen::NotYet
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
                        this.read();
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
    fn run_commands(&mut self, commands: VecDeque<Command>) {
        for command in commands {
            if self.close_when == CloseWhen::Now {
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
                    if self.close_when == CloseWhen::NotYet {
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
                    self.close_when = if after_writing {
                        CloseWhen::Written
                    } else {
                        CloseWhen::Now
                    }
                }
                Command::InactivityTimeout(timeout) => {
                    let deadlines = &mut self.on_demand().deadlines;
                    deadlines.inactivity = timeout;
                    deadlines.last_activity = Instant::now();
                }
            }
        }
    }

    /// The state only some connections use, boxed now if this is its first use.
    pub(super) fn on_demand(&mut self) -> &mut OnDemand {
        self.on_demand.get_or_insert_with(Box::default)
    }

    pub(super) fn report_error(&self, kind: ErrorKind, message: String) {
        self.report
            .server
            .bridge
            .push(self.error_event(kind, message));
    }

    pub(super) fn error_event(&self, kind: ErrorKind, message: String) -> Event {
        Event::Error {
            id: self.report.handle.id,
            kind,
            message,
        }
    }
}
