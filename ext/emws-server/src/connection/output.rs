//! What the application sends: data and control frames, encoded (and
//! compressed, with permessage-deflate) here, and the closing handshake.

use std::time::Duration;

use emws_core::{OutKind, State};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{CloseWhen, Task};
use crate::event::Event;
use crate::handle::Payload;
use crate::metrics::{MessageType, TrafficTally};

impl<S> Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    pub(super) fn encode(&mut self, kind: OutKind, payload: Payload<'_>, sends: &mut SendCounts) {
        let holds_replies = self.holds_replies();
        let Some(protocol) = self.protocol.as_mut() else {
            // Not reachable through the Ruby API (it refuses before onopen).
            self.report.handle.written(payload.len());
            return;
        };
        // While the answer to the peer's close (or our failure's close frame)
        // is held for the events before it, replies to those events still go
        // out first, as they would have in em-websocket.
        let sendable = self.close_when == CloseWhen::NotYet && protocol.check_send(kind).is_ok();
        if !sendable && !holds_replies {
            self.report.handle.written(payload.len());
            return;
        }
        let counted = payload.len();
        sends.traffic.count(kind.into(), counted);
        let before = self.outbox.len();
        // permessage-deflate compresses here, on the task's thread.
        let frame = protocol.frame(kind, payload.as_slice());
        self.outbox.push_slice(frame.header.as_bytes());
        match (frame.compressed, payload) {
            (Some(compressed), _) => self.outbox.push_bytes(compressed),
            (None, Payload::Shared(bytes)) => self.outbox.push_bytes(bytes),
            (None, Payload::Borrowed(slice)) => self.outbox.push_slice(slice),
        }
        self.outbox.push_slice(frame.trailer);
        sends.overhead += (self.outbox.len() - before).saturating_sub(counted);
        // A compressed frame may be shorter than the message the Ruby side
        // counted: only what is queued will be reported written.
        let queued = self.outbox.len() - before;
        if counted > queued {
            self.report.handle.written(counted - queued);
        }
    }

    /// Adds what a batch of sends counted to the server's figures and the
    /// connection's outbound bytes.
    pub(super) fn add_sends(&self, sends: &SendCounts) {
        self.report.server.metrics.sent.add(&sends.traffic);
        if sends.overhead > 0 {
            self.report.handle.add_outbound(sends.overhead);
        }
    }

    /// A close frame went out (ours, an echo, or a failure's).
    pub(super) fn count_close_sent(&self, code: Option<u16>) {
        let metrics = &self.report.server.metrics;
        metrics.close_sent(code);
        metrics.sent.count(MessageType::Control, 1, 0);
    }

    /// Counts the bytes the task queued itself (a control frame) since the
    /// outbox held `before`; the application's sends are counted by
    /// `SendCounts`.
    pub(super) fn add_overhead(&self, before: usize) {
        let extra = self.outbox.len() - before;
        if extra > 0 {
            self.report.handle.add_outbound(extra);
        }
    }

    /// Starts the closing handshake; the connection is dropped if the peer
    /// has not answered within `timeout`.
    pub(super) fn start_close(&mut self, code: Option<u16>, reason: &[u8], timeout: Duration) {
        let Some(protocol) = self.protocol.as_mut() else {
            // Closing before the handshake completed: em-websocket aborts.
            self.close_when = CloseWhen::Now;
            return;
        };
        if protocol.state() != State::Open {
            return;
        }
        let before = self.outbox.len();
        let tail_before = self.outbox.tail_mut().len();
        let codes = protocol.draft().supports_close_codes();
        protocol.close(code, reason, self.outbox.tail_mut());
        let state = protocol.state();
        self.outbox.commit(tail_before);
        if self.outbox.len() > before {
            self.count_close_sent(code.filter(|_| codes));
        }
        self.add_overhead(before);
        match state {
            State::Closing => self.close_within(timeout),
            State::Closed => self.close_when = CloseWhen::Written,
            State::Open => {}
        }
    }

    /// `ondrain`: everything queued has been written since a send found the
    /// buffer above `:drain_threshold`.
    pub(super) fn report_drain(&self) {
        if self.report.handle.take_drain() {
            self.report.server.bridge.push(Event::Drained {
                handle: self.report.handle.clone(),
            });
        }
    }
}

/// What one batch of the application's sends adds up to: messages and bytes
/// by type, and the frames' headers beyond the payloads the Ruby side counted.
#[derive(Default)]
pub(super) struct SendCounts {
    traffic: TrafficTally,
    overhead: usize,
}
