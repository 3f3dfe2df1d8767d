//! The frame decoders of each draft family, driven through
//! [`Protocol::receive`] as the server drives it: bytes appended to one
//! buffer, `receive` after every read, `fail` after an error.

use bytes::BytesMut;
use emws_core::protocol::DEFAULT_MAX_FRAME_SIZE;
use emws_core::{Config, Draft, Incoming, Protocol, ProtocolError, ProtocolErrorKind, State};

use crate::Input;

/// The longest frame header the core may hold back while waiting for the
/// rest of it: draft 05's leading key, two bytes, a 64-bit length.
const MAX_HEADER: usize = 4 + 2 + 8;
/// RFC 6455 §5.5.
const MAX_CONTROL_PAYLOAD: usize = 125;

/// Limits the knobs choose from: the default, and small ones that fuzz inputs
/// can actually reach.
const MAX_FRAME_SIZES: [usize; 4] = [DEFAULT_MAX_FRAME_SIZE, 125, 1024, 70_000];
const MAX_MESSAGE_SIZES: [usize; 4] = [0, 200, 4096, 100_000];

pub fn rfc6455(data: &[u8]) {
    run(&[Draft::Draft07], data)
}

/// Drafts 01-03 (MORE bit), 05 and 06 (the whole frame masked).
pub fn hybi_legacy(data: &[u8]) {
    run(&[Draft::Draft03, Draft::Draft05, Draft::Draft06], data)
}

/// Drafts 75 and 76 (sentinel and length-prefixed frames).
pub fn hixie(data: &[u8]) {
    run(&[Draft::Draft75, Draft::Draft76], data)
}

/// knobs: bits 0-1 the draft, bit 2 strict masking, bits 3-4
/// `max_frame_size`, bits 5-6 `max_message_size`.
fn run(drafts: &[Draft], data: &[u8]) {
    let input = Input::parse(data);
    let knobs = usize::from(input.knobs);
    let draft = drafts[knobs % 4 % drafts.len()];
    let config = Config {
        strict_masking: knobs & 0b100 != 0,
        max_frame_size: MAX_FRAME_SIZES[(knobs >> 3) & 3],
        max_message_size: MAX_MESSAGE_SIZES[(knobs >> 5) & 3],
        ..Config::default()
    };

    check_reads(draft, config, input.stream, &input.chunks());
}

/// Reads `stream` whole on one connection and in `chunks` on another,
/// checking each as it goes; both must end the same.
pub(crate) fn check_reads(draft: Draft, config: Config, stream: &[u8], chunks: &[&[u8]]) {
    let mut whole = Connection::new(draft, config);
    whole.read(stream);
    let mut split = Connection::new(draft, config);
    for chunk in chunks {
        split.read(chunk);
    }
    assert_eq!(
        whole.outcome(),
        split.outcome(),
        "{draft:?}: reading the stream in pieces changed the outcome"
    );
}

/// One connection's protocol and the state the server keeps around it.
struct Connection {
    protocol: Protocol,
    input: BytesMut,
    out: Vec<u8>,
    events: Vec<Incoming>,
    error: Option<ProtocolError>,
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome<'a> {
    events: &'a [Incoming],
    out: &'a [u8],
    /// The error's kind (`None`: an inflating message's, either kind) and
    /// message.
    error: Option<(Option<ProtocolErrorKind>, &'a str)>,
    state: State,
}

impl Connection {
    fn new(draft: Draft, config: Config) -> Self {
        Connection {
            protocol: Protocol::new(draft, config),
            input: BytesMut::new(),
            out: Vec::new(),
            events: Vec::new(),
            error: None,
        }
    }

    fn read(&mut self, bytes: &[u8]) {
        // The server stops reading once it failed the connection.
        if self.error.is_some() {
            return;
        }
        self.input.extend_from_slice(bytes);
        let seen = self.events.len();
        match self
            .protocol
            .receive(&mut self.input, &mut self.out, &mut self.events)
        {
            Ok(()) => self.check_buffered(),
            Err(err) => {
                self.protocol.fail(&err, &mut self.out);
                assert_eq!(self.protocol.state(), State::Closed, "fail() must close");
                self.error = Some(err);
            }
        }
        for event in &self.events[seen..] {
            self.check_event(event);
        }
    }

    /// What stays buffered between reads is one incomplete frame at most,
    /// which `max_frame_size` bounds (or nothing, once closed).
    fn check_buffered(&self) {
        let config = self.protocol.config();
        if self.protocol.state() == State::Closed {
            assert!(self.input.is_empty(), "bytes kept after the close");
        }
        assert!(
            self.input.len() <= config.max_frame_size + MAX_HEADER,
            "{:?}: {} bytes buffered, beyond max_frame_size {}",
            self.protocol.draft(),
            self.input.len(),
            config.max_frame_size
        );
    }

    fn check_event(&self, event: &Incoming) {
        let config = self.protocol.config();
        let rfc = self.protocol.draft() == Draft::Draft07;
        match event {
            Incoming::Text(text) => {
                assert!(std::str::from_utf8(text).is_ok(), "text event not UTF-8");
                self.check_message_len(text.len(), config);
            }
            Incoming::Binary(data) => self.check_message_len(data.len(), config),
            Incoming::Ping(body) | Incoming::Pong(body) => {
                let max = if rfc {
                    MAX_CONTROL_PAYLOAD
                } else {
                    config.max_frame_size
                };
                assert!(body.len() <= max, "control frame of {} bytes", body.len());
            }
            Incoming::Close { reason, .. } => {
                assert!(
                    std::str::from_utf8(reason).is_ok() || !rfc,
                    "close reason not UTF-8"
                );
            }
        }
    }

    /// Drafts 75/76 have no fragments, and the core bounds their messages by
    /// `max_frame_size` alone (checked through the buffering bound).
    fn check_message_len(&self, len: usize, config: &Config) {
        if config.max_message_size != 0 && !self.protocol.draft().is_hixie() {
            assert!(
                len <= config.max_message_size,
                "message of {len} bytes passed max_message_size {}",
                config.max_message_size
            );
        }
    }

    /// The error's message, but for the one that depends on how much has
    /// arrived: a draft 75/76 text frame over the limit says how long it had
    /// grown when the limit was found passed (as em-websocket's does).
    /// An inflating message's error is one of two (see
    /// [`crate::inflate::inflate_failure`]).
    fn error_message<'a>(&self, err: &'a ProtocolError) -> &'a str {
        if self.protocol.draft().is_hixie() && err.kind == ProtocolErrorKind::MessageTooBig {
            "Frame length too long"
        } else if crate::inflate::inflate_failure(err).is_none() {
            "inflating failed"
        } else {
            &err.message
        }
    }

    fn outcome(&self) -> Outcome<'_> {
        Outcome {
            events: &self.events,
            out: &self.out,
            error: self.error.as_ref().map(|e| {
                let message = self.error_message(e);
                let kind = crate::inflate::inflate_failure(e);
                (kind, message)
            }),
            state: self.protocol.state(),
        }
    }
}
