//! The state machine of an open connection: frames in, events and replies out.
//!
//! * `draft`: the protocol versions ([`Draft`]) and their differences.
//! * `hybi`: receiving frames of drafts 01-03, 05-06 and RFC 6455.
//! * `hixie`: receiving frames of drafts 75 and 76.
//! * `send`: frames the server sends, and the closing handshake.
//! * `compression`: permessage-deflate, when negotiated.

mod compression;
mod draft;
mod hixie;
mod hybi;
mod send;

use bytes::BytesMut;

pub use crate::frame::FrameHeader;
pub use draft::Draft;
pub use send::OutFrame;

use crate::deflate::DeflateParams;
use crate::error::ProtocolError;
use crate::frame::hixie::HixieDecoder;
use crate::frame::OpCode;
pub use crate::message::Incoming;
use crate::message::IncomingMessage;

/// em-websocket's default `max_frame_size`: 10 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 10 * 1024 * 1024;

/// Bounds and strictness of an open connection.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Frames longer than this fail the connection with 1009 as soon as their
    /// header arrives (how the length is counted depends on the draft, as in
    /// em-websocket).
    pub max_frame_size: usize,
    /// Bound on a reassembled message; 0 means no bound.
    pub max_message_size: usize,
    /// Fail on unmasked client frames (RFC 6455 §5.1). em-websocket accepts them.
    pub strict_masking: bool,
    /// permessage-deflate as negotiated in the handshake (RFC 6455 drafts
    /// only: earlier drafts ignore it).
    pub deflate: Option<DeflateParams>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_message_size: 0,
            strict_masking: false,
            deflate: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Open,
    /// We sent a close frame and await the peer's.
    Closing,
    /// Nothing more may be sent or received: the server writes out what is
    /// queued and closes the TCP connection.
    Closed,
}

/// Frames the application sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    Text,
    Binary,
    Ping,
    Pong,
}

impl OutKind {
    fn opcode(self) -> OpCode {
        match self {
            OutKind::Text => OpCode::Text,
            OutKind::Binary => OpCode::Binary,
            OutKind::Ping => OpCode::Ping,
            OutKind::Pong => OpCode::Pong,
        }
    }
}

/// An open WebSocket connection, after the handshake.
#[derive(Debug)]
pub struct Protocol {
    draft: Draft,
    config: Config,
    state: State,
    /// The data message being reassembled.
    message: Option<IncomingMessage>,
    /// The hybi frame whose header has been consumed and whose payload is
    /// still arriving.
    frame: Option<hybi::IncomingFrame>,
    hixie: HixieDecoder,
    /// Boxed: most connections negotiate none, and an idle connection's
    /// state should stay small.
    compression: Option<Box<compression::Compression>>,
}

impl Protocol {
    pub fn new(draft: Draft, config: Config) -> Self {
        Protocol {
            draft,
            config,
            state: State::Open,
            message: None,
            frame: None,
            hixie: HixieDecoder::default(),
            compression: config
                .deflate
                .filter(|_| draft == Draft::Draft07)
                .map(|params| Box::new(compression::Compression::new(params))),
        }
    }

    pub fn draft(&self) -> Draft {
        self.draft
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// permessage-deflate's parameters, when it is on.
    pub fn deflate(&self) -> Option<&DeflateParams> {
        self.compression.as_ref().map(|c| &c.params)
    }

    /// Applies to frames whose header has not arrived yet.
    pub fn set_max_frame_size(&mut self, max: usize) {
        self.config.max_frame_size = max;
    }

    /// Decodes every complete frame at the front of `input`, removing the
    /// consumed bytes (a partial frame stays, although its payload may already
    /// have been unmasked in place).
    ///
    /// Replies the protocol demands are appended to `out`: a pong echoing each
    /// ping, and the echo of a close frame received while open, after which
    /// the state is [`State::Closed`]. A close frame received while closing
    /// also ends in `Closed`, with nothing written. Data after `Closed` is
    /// ignored.
    ///
    /// `Err` means the connection must be failed: call [`Protocol::fail`].
    pub fn receive(
        &mut self,
        input: &mut BytesMut,
        out: &mut Vec<u8>,
        events: &mut Vec<Incoming>,
    ) -> Result<(), ProtocolError> {
        match self.draft.layout() {
            Some(layout) => self.receive_hybi(layout, input, out, events)?,
            None => self.receive_hixie(input, out, events)?,
        }
        if self.state == State::Closed {
            input.clear();
        }
        Ok(())
    }

    fn set_closed(&mut self) {
        self.state = State::Closed;
        self.message = None;
        self.frame = None;
    }
}
