//! Frames the server sends, and the closing handshake from our side.

use bytes::Bytes;

use super::{OutKind, Protocol, State};
use crate::error::ProtocolError;
use crate::frame::{FrameHeader, Layout, OpCode};

/// One frame the server sends, to be written around its payload: the
/// header, the payload (or its compressed form), then the trailer.
#[derive(Debug)]
pub struct OutFrame {
    pub header: FrameHeader,
    /// The payload compressed with permessage-deflate, to be written instead
    /// of it; `None`: the payload goes as it is.
    pub compressed: Option<Bytes>,
    /// The 0xFF ending a draft 75/76 text frame; empty otherwise.
    pub trailer: &'static [u8],
}

impl OutFrame {
    /// The frame's length on the wire, for a payload of `payload` bytes.
    pub fn len(&self, payload: usize) -> usize {
        let body = self.compressed.as_ref().map_or(payload, Bytes::len);
        self.header.as_bytes().len() + body + self.trailer.len()
    }

    /// Appends the whole frame, `payload` being the one it was made for.
    pub fn write_to(&self, payload: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(self.header.as_bytes());
        out.extend_from_slice(self.compressed.as_deref().unwrap_or(payload));
        out.extend_from_slice(self.trailer);
    }
}

impl Protocol {
    /// The frame for a message or control frame of `payload`.
    ///
    /// With permessage-deflate, a text or binary message of at least
    /// `min_size` bytes is compressed (here, on the caller's thread) and its
    /// header has RSV1 set; control frames never are (RFC 7692 §6.1).
    /// Drafts 75/76 send binary as a length-prefixed frame (which clients
    /// discard) and have no ping or pong: their header is empty
    /// ([`Protocol::check_send`] refuses them).
    pub fn frame(&mut self, kind: OutKind, payload: &[u8]) -> OutFrame {
        let compressed = match kind {
            OutKind::Text | OutKind::Binary => self
                .compression
                .as_mut()
                .and_then(|compression| compression.compress(payload)),
            OutKind::Ping | OutKind::Pong => None,
        };
        let header = match &compressed {
            Some(body) => self.header(kind, body.len()).with_rsv1(),
            None => self.header(kind, payload.len()),
        };
        let trailer: &[u8] = if self.draft.is_hixie() && kind == OutKind::Text {
            &[0xFF]
        } else {
            &[]
        };
        OutFrame {
            header,
            compressed,
            trailer,
        }
    }

    fn header(&self, kind: OutKind, len: usize) -> FrameHeader {
        match self.draft.layout() {
            Some(layout) => hybi_header(layout, kind.opcode(), len),
            None => match kind {
                OutKind::Text => FrameHeader::hixie_text(),
                OutKind::Binary => FrameHeader::hixie_length_prefixed(len),
                OutKind::Ping | OutKind::Pong => FrameHeader::empty(),
            },
        }
    }

    /// Whether a frame of this kind may be sent now.
    pub fn check_send(&self, kind: OutKind) -> Result<(), String> {
        match kind {
            OutKind::Text | OutKind::Binary => {
                if kind == OutKind::Binary && self.draft.is_hixie() {
                    return Err("Binary data is not supported by drafts 75 and 76".into());
                }
                match self.state {
                    State::Open => Ok(()),
                    State::Closing => {
                        Err("Cannot send data frame since connection is closing".into())
                    }
                    State::Closed => {
                        Err("Cannot send data frame since connection is closed".into())
                    }
                }
            }
            OutKind::Ping | OutKind::Pong => {
                if !self.draft.pingable() {
                    return Err("Ping and pong are not supported by drafts 75 and 76".into());
                }
                match self.state {
                    State::Open | State::Closing => Ok(()),
                    State::Closed => {
                        Err("Cannot send control frame since connection is closed".into())
                    }
                }
            }
        }
    }

    /// Starts the closing handshake from our side. No-op unless open.
    ///
    /// Drafts 06+ send `code` and as much of `reason` as fits a control frame
    /// (no code: an empty body); drafts 01-05 send em-websocket's fixed bodies.
    /// Drafts 75 and 76 are closed at once with nothing written, as
    /// em-websocket does (its draft 76 handler closes like draft 75's; only
    /// the client's 0xFF 0x00 is answered).
    pub fn close(&mut self, code: Option<u16>, reason: &[u8], out: &mut Vec<u8>) {
        if self.state != State::Open {
            return;
        }
        self.state = State::Closing;
        match self.draft.close_body(code, reason) {
            Some(body) => self.write_hybi(OpCode::Close, &body, out),
            None => self.set_closed(),
        }
    }

    /// "Fail the WebSocket connection" after [`Protocol::receive`] returned
    /// `err`: sends a close frame with its code and message where the draft
    /// has close codes (the fixed close frame of drafts 01-05; nothing for 75
    /// and 76, as em-websocket), then the state is [`State::Closed`].
    pub fn fail(&mut self, err: &ProtocolError, out: &mut Vec<u8>) {
        if self.state == State::Open {
            let body = self
                .draft
                .close_body(Some(err.kind.code()), err.message.as_bytes());
            if let Some(body) = body {
                self.write_hybi(OpCode::Close, &body, out);
            }
        }
        self.set_closed();
    }

    /// Appends a complete hybi frame; only called for hybi drafts.
    pub(super) fn write_hybi(&self, op: OpCode, payload: &[u8], out: &mut Vec<u8>) {
        if let Some(layout) = self.draft.layout() {
            out.extend_from_slice(hybi_header(layout, op, payload.len()).as_bytes());
            out.extend_from_slice(payload);
        }
    }
}

fn hybi_header(layout: Layout, op: OpCode, len: usize) -> FrameHeader {
    // Drafts 01-03 have a MORE bit, left clear, where later ones have FIN.
    let fin_bit = layout != Layout::Draft03;
    FrameHeader::hybi(layout.numbering(), fin_bit, op, len)
}
