//! A connection's task: it owns the socket and the protocol state, takes
//! the reactor thread's commands through the [`ConnectionHandle`], and
//! reports everything it learns as [`Event`]s through the bridge, ending
//! with exactly one `Closed`.
//!
//! * this module: the task's state; `poll`: its loop, which runs the commands.
//! * `input`: what is read: the handshake, then frames (or, for an
//!   application that reads the bytes itself, each read as it arrives).
//! * `output`: frames the application sends, and the closing handshake.
//! * `upgrade`: a request waiting for the application's `onupgrade` decision.
//! * `replies`: protocol replies held until the events before them are delivered.
//! * `deadlines`: the handshake, close, inactivity and keep-alive timers.
//! * `rate_limit`: the token buckets of `:max_messages_per_second` and
//!   `:max_bytes_per_second`.
//! * `report`: the end, reported once however the task ends, panics included.
//! * `outbox`: bytes waiting to be written.
//!
//! [`ConnectionHandle`]: crate::handle::ConnectionHandle
//! [`Event`]: crate::event::Event

mod deadlines;
mod input;
mod outbox;
mod output;
mod poll;
mod rate_limit;
mod replies;
mod report;
mod upgrade;

use std::pin::Pin;
use std::sync::Arc;

use bytes::BytesMut;
use emws_core::Protocol;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};

use self::deadlines::Deadlines;
use self::outbox::Outbox;
use self::replies::HeldReplies;
use self::report::ClosedReport;
use crate::event::{ErrorKind, Event};
use crate::handle::{ConnectionHandle, Input};
use crate::server_state::ServerState;

pub(crate) use report::CatchPanic;

/// When the connection is to be closed.
#[derive(PartialEq, Eq)]
enum CloseWhen {
    NotYet,
    /// Once what is queued has been written.
    Written,
    /// At once, dropping what is queued.
    Now,
}

pub(crate) struct Task<S> {
    /// The server's state and the handle, for the task and its end.
    report: ClosedReport,
    stream: S,
    inbuf: BytesMut,
    outbox: Outbox,
    protocol: Option<Protocol>,
    close_when: CloseWhen,
    /// The application's block has run (`Command::Start`).
    started: bool,
    /// Who reads the socket's bytes first.
    input: Input,
    /// The application decides each upgrade (`ws.onupgrade`).
    decides_upgrade: bool,
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
    on_demand: Option<Box<OnDemand>>,
}

/// The part of a task's state that only some connections use.
#[derive(Default)]
struct OnDemand {
    replies: HeldReplies,
    deadlines: Deadlines,
    rate_limits: Option<Box<rate_limit::RateLimits>>,
    pending_upgrade: Option<Box<upgrade::PendingUpgrade>>,
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
        },
        stream,
        inbuf: BytesMut::new(),
        outbox: Outbox::default(),
        protocol: None,
        close_when: CloseWhen::NotYet,
        started: false,
        input: Input::Native,
        decides_upgrade: false,
        awaiting_ruby: 0,
        paused: false,
        events_since_barrier: false,
        handshake_deadline,
        timer: None,
        on_demand,
    }
}

impl<S> Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// The state only some connections use, boxed now if this is its first use.
    fn on_demand(&mut self) -> &mut OnDemand {
        self.on_demand.get_or_insert_with(Box::default)
    }

    fn report_error(&self, kind: ErrorKind, message: String) {
        self.report
            .server
            .bridge
            .push(self.error_event(kind, message));
    }

    fn error_event(&self, kind: ErrorKind, message: String) -> Event {
        Event::Error {
            id: self.report.handle.id,
            kind,
            message,
        }
    }
}
