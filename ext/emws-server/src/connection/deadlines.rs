//! A connection's timers: the handshake's, the closing handshake's, the
//! inactivity timeout, keep-alive pings, and the wait for the peer to take
//! our FIN. One timer is armed, for the nearest of them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use emws_core::{OutKind, State};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{sleep_until, Instant};

use super::{CloseWhen, Task};
use crate::event::ErrorKind;
use crate::metrics::{HandshakeFailure, MessageType};

/// How long a graceful end waits for the peer to take our FIN.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// Deadlines only some connections have (kept in `OnDemand`).
pub(super) struct Deadlines {
    /// Our close frame's, and the timeout it was given (for the message).
    pub(super) close: Option<(Instant, Duration)>,
    /// EventMachine's `comm_inactivity_timeout`.
    pub(super) inactivity: Option<Duration>,
    pub(super) last_activity: Instant,
    /// When the peer last sent anything, and when our unanswered ping expires.
    pub(super) last_read: Instant,
    pub(super) ping: Option<Instant>,
    /// Set once the loop is over: the write side is being shut down.
    pub(super) shutdown: Option<Instant>,
}

impl Default for Deadlines {
    fn default() -> Deadlines {
        let now = Instant::now();
        Deadlines {
            close: None,
            inactivity: None,
            last_activity: now,
            last_read: now,
            ping: None,
            shutdown: None,
        }
    }
}

impl<S> Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Arms the timer for `deadline` (or drops it) and polls it.
    pub(super) fn poll_timer(
        &mut self,
        cx: &mut Context<'_>,
        deadline: Option<Instant>,
    ) -> Poll<()> {
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

    /// Ends the loop: the write side is shut down next.
    pub(super) fn start_shutdown(&mut self) {
        self.on_demand().deadlines.shutdown = Some(Instant::now() + SHUTDOWN_WAIT);
    }

    /// A graceful end: the peer sees our FIN after the last byte (waiting
    /// at most `SHUTDOWN_WAIT` for the socket to take it).
    pub(super) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if Pin::new(&mut self.stream).poll_shutdown(cx).is_ready() {
            return Poll::Ready(());
        }
        let deadline = self.shutdown_deadline();
        self.poll_timer(cx, deadline)
    }

    pub(super) fn shutdown_deadline(&self) -> Option<Instant> {
        self.on_demand.as_ref()?.deadlines.shutdown
    }

    /// Bytes went out.
    pub(super) fn wrote(&mut self) {
        if let Some(on_demand) = self.on_demand.as_mut() {
            on_demand.deadlines.last_activity = Instant::now();
        }
    }

    /// Bytes came in: the peer is alive.
    pub(super) fn read(&mut self) {
        if let Some(on_demand) = self.on_demand.as_mut() {
            let deadlines = &mut on_demand.deadlines;
            deadlines.last_activity = Instant::now();
            deadlines.last_read = deadlines.last_activity;
            deadlines.ping = None;
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let Some(on_demand) = self.on_demand.as_ref() else {
            return self.handshake_deadline;
        };
        let deadlines = &on_demand.deadlines;
        let inactivity = deadlines.inactivity.map(|t| deadlines.last_activity + t);
        [
            self.handshake_deadline,
            deadlines.close.map(|(at, _)| at),
            inactivity,
            self.next_ping(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(super) fn on_deadline(&mut self) {
        let now = Instant::now();
        if self.handshake_deadline.is_some_and(|at| now >= at) {
            self.report
                .server
                .metrics
                .handshake_failed(HandshakeFailure::Timeout);
            self.report_error(ErrorKind::Handshake, "Handshake timed out".to_string());
            self.close_when = CloseWhen::Now;
            return;
        }
        let Some(on_demand) = self.on_demand.as_ref() else {
            return;
        };
        let deadlines = &on_demand.deadlines;
        if let Some((at, timeout)) = deadlines.close {
            if now >= at {
                self.report_error(
                    ErrorKind::Protocol,
                    format!(
                        "Close handshake un-acked after {}s, closing tcp connection",
                        seconds(timeout)
                    ),
                );
                self.close_when = CloseWhen::Now;
                return;
            }
        }
        if deadlines
            .inactivity
            .is_some_and(|t| now >= deadlines.last_activity + t)
        {
            self.close_when = CloseWhen::Now;
            return;
        }
        if deadlines.ping.is_some_and(|at| now >= at) {
            self.report.server.metrics.ping_timeouts.inc();
            let timeout = self.report.server.config.ping_timeout();
            self.report_error(
                ErrorKind::Protocol,
                format!(
                    "Ping unanswered after {}s, closing tcp connection",
                    seconds(timeout.unwrap_or_default())
                ),
            );
            self.close_when = CloseWhen::Now;
            return;
        }
        if self.next_ping().is_some_and(|at| now >= at) {
            self.send_keepalive_ping(now);
        }
    }

    /// When the next keep-alive ping is due (or the pending one expires):
    /// only with `:ping_interval`, on an open connection of a draft with pings.
    fn next_ping(&self) -> Option<Instant> {
        let interval = self.report.server.config.ping_interval?;
        let protocol = self.protocol.as_ref()?;
        if protocol.state() != State::Open || !protocol.draft().pingable() {
            return None;
        }
        let deadlines = &self.on_demand.as_ref()?.deadlines;
        Some(deadlines.ping.unwrap_or(deadlines.last_read + interval))
    }

    fn send_keepalive_ping(&mut self, now: Instant) {
        let Some(protocol) = self.protocol.as_mut() else {
            return;
        };
        let before = self.outbox.len();
        let ping = protocol.frame(OutKind::Ping, &[]);
        self.outbox.push_slice(ping.header.as_bytes());
        let metrics = &self.report.server.metrics;
        metrics.sent.count(MessageType::Control, 1, 0);
        self.add_overhead(before);
        let deadline = self.report.server.config.ping_timeout().map(|t| now + t);
        self.on_demand().deadlines.ping = deadline;
    }

    /// Arms the closing handshake's timeout.
    pub(super) fn close_within(&mut self, timeout: Duration) {
        self.on_demand().deadlines.close = Some((Instant::now() + timeout, timeout));
    }

    /// The closing handshake is over.
    pub(super) fn closed(&mut self) {
        if let Some(on_demand) = self.on_demand.as_mut() {
            on_demand.deadlines.close = None;
        }
    }
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

    #[test]
    fn prints_seconds_like_ruby() {
        assert_eq!(seconds(Duration::from_secs(60)), "60");
        assert_eq!(seconds(Duration::from_millis(500)), "0.5");
    }
}
