//! What is read: the opening request, then frames, or for an application
//! that reads the bytes itself (`Input::Application`), each read as it
//! arrives, handed back later to be parsed here.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use emws_core::handshake::{self, Accepted, Preface, HEALTHCHECK_RESPONSE, POLICY_FILE};
use emws_core::{Config, Incoming, Protocol, Request, State};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::rate_limit::{
    RateLimits, Verdict, RATE_LIMIT_CLOSE_TIMEOUT, RATE_LIMIT_CODE, RATE_LIMIT_REASON,
};
use super::{CloseWhen, Task};
use crate::event::{CloseInfo, ErrorKind, Event, Opened};
use crate::message_bytes::MessageBytes;
use crate::metrics::{self, HandshakeFailure, MessageType, Snapshot, TrafficTally};
use crate::options::MetricsEndpoint;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    /// One read's decoded frames, and the events made of them: scratch
    /// space shared by the tasks of a thread instead of held by each.
    static SCRATCH: std::cell::RefCell<(Vec<Incoming>, Vec<Event>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

impl<S> Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Reads what is ready and hands it to the application as it is.
    pub(super) fn poll_read_for_application(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        let mut chunk = BytesMut::new();
        let read = ready!(poll_read_some(Pin::new(&mut self.stream), cx, &mut chunk))?;
        if read > 0 {
            self.awaiting_ruby += 1;
            self.report.server.bridge.push(Event::Received {
                handle: self.report.handle.clone(),
                data: chunk.freeze(),
            });
        }
        Poll::Ready(Ok(read))
    }

    /// Parses what `inbuf` holds, the last `read` bytes of it just
    /// received: the handshake, then frames.
    pub(super) fn process_received(&mut self, read: usize) {
        self.process_input(read);
        if self.inbuf.is_empty() {
            // Give the buffer back: an idle connection holds none.
            self.inbuf = BytesMut::new();
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
        let server = self.report.server.clone();
        let config = &server.config;
        let latest_read = self.inbuf.len() - read;
        let request =
            match handshake::read_preface(&self.inbuf, latest_read, config.max_handshake_size) {
                Ok(Preface::Incomplete) => return,
                Ok(Preface::PolicyFile) => {
                    return self.answer_and_close(Bytes::from_static(POLICY_FILE))
                }
                Ok(Preface::Healthcheck) => {
                    return self.answer_and_close(Bytes::from_static(HEALTHCHECK_RESPONSE))
                }
                Ok(Preface::Request(request)) => request,
                Err(error) => return self.fail_handshake(error.message),
            };
        if config.metrics == Some(MetricsEndpoint::WebSocketPort) && is_metrics_scrape(&request) {
            let response = metrics::http_response(&Snapshot::of_server(&server));
            return self.answer_and_close(Bytes::from(response));
        }
        let accepted = match handshake::accept(&request, &server.handshake) {
            Ok(accepted) => accepted,
            Err(error) => return self.fail_handshake(error.message),
        };
        let _ = self.inbuf.split_to(request.consumed);
        if self.decides_upgrade {
            return self.ask_for_upgrade(request, accepted);
        }
        self.complete_handshake(*request, accepted);
    }

    /// Writes the response and opens the connection (`Event::Opened`).
    pub(super) fn complete_handshake(&mut self, request: Request, accepted: Accepted) {
        let server = self.report.server.clone();
        let config = &server.config;
        let before = self.outbox.len();
        self.outbox.push_slice(&accepted.response);
        self.add_overhead(before);
        self.handshake_deadline = None;
        self.protocol = Some(Protocol::new(
            accepted.draft,
            Config {
                max_frame_size: self.report.handle.max_frame_size(),
                max_message_size: config.max_message_size,
                strict_masking: config.strict_masking,
                deflate: accepted.deflate,
            },
        ));
        let peer = self.report.handle.peer;
        let forwarded_for = (!config.trusted_proxies.is_empty())
            .then(|| {
                let headers = request.headers.iter();
                config
                    .trusted_proxies
                    .client_address(peer, headers.map(|(n, v)| (n.as_str(), v.as_str())))
            })
            .filter(|client| *client != peer);
        self.report.handle.set_opened();
        self.awaiting_ruby += 1;
        server.bridge.push(Event::Opened {
            handle: self.report.handle.clone(),
            opened: Box::new(Opened {
                request,
                draft: accepted.draft,
                protocol: accepted.protocol,
                secure: server.handshake.secure,
                forwarded_for,
            }),
        });
    }

    pub(super) fn answer_and_close(&mut self, answer: Bytes) {
        self.outbox.push_bytes(answer);
        self.inbuf = BytesMut::new();
        self.handshake_deadline = None;
        self.close_when = CloseWhen::Written;
    }

    fn fail_handshake(&mut self, message: String) {
        self.report
            .server
            .metrics
            .handshake_failed(HandshakeFailure::Invalid);
        self.report_error(ErrorKind::Handshake, message);
        self.close_when = CloseWhen::Now;
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
    fn process_frames_with(&mut self, decoded: &mut Vec<Incoming>, batch: &mut Vec<Event>) {
        let Some(protocol) = self.protocol.as_mut() else {
            return;
        };
        if protocol.state() == State::Closed {
            self.inbuf.clear();
            return;
        }
        let was_closing = protocol.state() == State::Closing;
        let draft = protocol.draft();
        protocol.set_max_frame_size(self.report.handle.max_frame_size());
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
        let id = self.report.handle.id;
        let action = self.report.server.config.rate_limit_action;
        let mut replies = replies.as_slice();
        // Counted per read, not per message: one add per type that came.
        let mut counts = ReadCounts::default();
        // Taken out of the task for the loop, and put back after it.
        let mut limits = self.take_rate_limits();
        let mut rate_limited = RateLimited::default();
        for event in decoded.drain(..) {
            let over_limit = match (&event, limits.as_deref_mut()) {
                (Incoming::Text(data) | Incoming::Binary(data), Some(limits)) => {
                    limits.admit(data.len(), action)
                }
                _ => Verdict::Pass,
            };
            match over_limit {
                Verdict::Pass => {}
                Verdict::Drop => {
                    rate_limited.dropped += 1;
                    continue;
                }
                Verdict::Close => {
                    rate_limited.close = true;
                    continue;
                }
            }
            let event = match event {
                Incoming::Text(data) => {
                    counts.received(MessageType::Text, data.len());
                    Event::Text {
                        id,
                        data: MessageBytes::small_inline(data),
                    }
                }
                Incoming::Binary(data) => {
                    counts.received(MessageType::Binary, data.len());
                    Event::Binary {
                        id,
                        data: MessageBytes::small_inline(data),
                    }
                }
                Incoming::Ping(data) => {
                    counts.received(MessageType::Control, data.len());
                    counts.pong(data.len());
                    let pong = self.pong_len(&data).min(replies.len());
                    let (this_pong, rest) = replies.split_at(pong);
                    replies = rest;
                    self.queue_replies(this_pong, batch);
                    Event::Ping {
                        id,
                        data: MessageBytes::small_inline(data),
                    }
                }
                Incoming::Pong(data) => {
                    counts.received(MessageType::Control, data.len());
                    Event::Pong {
                        id,
                        data: MessageBytes::small_inline(data),
                    }
                }
                Incoming::Close { code, reason } => {
                    counts.received(
                        MessageType::Control,
                        reason.len() + 2 * usize::from(code.is_some()),
                    );
                    counts.close = Some(code);
                    if !was_closing {
                        // Answered with the peer's code (1000 when it gave none).
                        let echoed = draft.supports_close_codes().then(|| code.unwrap_or(1000));
                        self.count_close_sent(echoed);
                    }
                    if let Some((code, reason)) = draft.clean_close(code, reason) {
                        self.report.close_info = Some(Box::new(CloseInfo {
                            code,
                            reason: Some(reason),
                            was_clean: true,
                        }));
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
        counts.flush(&self.report.server.metrics);
        if let Some(limits) = limits {
            self.on_demand().rate_limits = Some(limits);
        }
        self.rate_limited(rate_limited, batch);
        if let Err(error) = &result {
            // Hixie drafts send no close frame when failing.
            if !was_closing && draft.layout().is_some() {
                self.count_close_sent(
                    Some(error.kind.code()).filter(|_| draft.supports_close_codes()),
                );
            }
        }
        if let Err(error) = result {
            batch.push(self.error_event(error.kind.into(), error.message));
        }
        self.report.server.bridge.push_all(batch);
        if state == State::Closed {
            self.closed();
            self.inbuf = BytesMut::new();
            // After our own close was acknowledged nothing more is owed to the peer.
            self.close_when = if was_closing {
                CloseWhen::Now
            } else {
                CloseWhen::Written
            };
        }
    }
}

/// What the rate limits did to one read's messages.
#[derive(Default)]
struct RateLimited {
    dropped: u64,
    /// A message went over with `:close`: the connection is closed.
    close: bool,
}

impl<S> Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// The connection's buckets, refilled, when the server has limits:
    /// made on its first read (kept with the state only some connections use).
    fn take_rate_limits(&mut self) -> Option<Box<RateLimits>> {
        let config = &self.report.server.config;
        if config.max_messages_per_second.is_none() && config.max_bytes_per_second.is_none() {
            return None;
        }
        let made = self.on_demand.as_mut().and_then(|d| d.rate_limits.take());
        let mut limits = made.or_else(|| RateLimits::for_server(config).map(Box::new))?;
        limits.refill(Instant::now());
        Some(limits)
    }

    /// Counts what went over, and closes the connection with 1008 when it
    /// went over with `:close` (after the replies to the messages before).
    fn rate_limited(&mut self, limited: RateLimited, batch: &mut Vec<Event>) {
        let metrics = &self.report.server.metrics;
        if limited.dropped > 0 {
            metrics.rate_limited_messages.add(limited.dropped);
        }
        if !limited.close {
            return;
        }
        metrics.rate_limited_connections.inc();
        let Some(protocol) = self.protocol.as_mut() else {
            return;
        };
        let mut close = Vec::new();
        protocol.close(Some(RATE_LIMIT_CODE), RATE_LIMIT_REASON, &mut close);
        if close.is_empty() {
            return;
        }
        let codes = protocol.draft().supports_close_codes();
        self.queue_replies(&close, batch);
        self.count_close_sent(Some(RATE_LIMIT_CODE).filter(|_| codes));
        let timeout = self.report.server.config.close_timeout;
        self.close_within(timeout.unwrap_or(RATE_LIMIT_CLOSE_TIMEOUT));
    }
}

/// `GET /metrics`, not an upgrade.
fn is_metrics_scrape(request: &Request) -> bool {
    request.method == "GET" && request.path == "/metrics" && request.header("upgrade").is_none()
}

/// What one read brought, counted into the server's metrics once, after
/// the read: messages by type, the pongs the core answered pings with, and
/// the peer's close frame (at most one).
#[derive(Default)]
struct ReadCounts {
    received: TrafficTally,
    pongs: (u64, u64),
    close: Option<Option<u16>>,
}

impl ReadCounts {
    fn received(&mut self, kind: MessageType, bytes: usize) {
        self.received.count(kind, bytes);
    }

    fn pong(&mut self, bytes: usize) {
        self.pongs.0 += 1;
        self.pongs.1 += bytes as u64;
    }

    fn flush(&self, metrics: &crate::metrics::Metrics) {
        metrics.received.add(&self.received);
        if self.pongs.0 > 0 {
            metrics
                .sent
                .count(MessageType::Control, self.pongs.0, self.pongs.1);
        }
        if let Some(code) = self.close {
            metrics.close_received(code);
        }
    }
}

/// Reads what is ready into `buf`. An idle connection holds no read buffer:
/// unless `buf` already has room (a message is arriving), the read goes into
/// a buffer on the stack and only the bytes received are copied to `buf`.
pub(super) fn poll_read_some<R: AsyncRead>(
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
