//! Frames the server sends, and the closing handshake from our side.

use bytes::Bytes;

use super::{Draft, OutKind, Protocol, State};
use crate::close::close_body;
use crate::error::ProtocolError;
use crate::frame::{FrameHeader, Layout, OpCode};

/// What em-websocket's close05 sends as the body of a draft 05 close frame.
const DRAFT05_CLOSE_BODY: &[u8] = &[0x53];

/// An uncompressed frame depends on the draft alone, so that it can be
/// encoded without the connection's `Protocol` (which its task owns).
impl Draft {
    /// Appends one complete uncompressed frame: header, payload, trailer
    /// (nothing for a ping or pong on drafts 75 and 76, which have none).
    pub fn encode(self, kind: OutKind, payload: &[u8], out: &mut Vec<u8>) {
        if self.is_hixie() && matches!(kind, OutKind::Ping | OutKind::Pong) {
            return;
        }
        let header = self.frame_header(kind, payload.len());
        let trailer = self.frame_trailer(kind);
        out.reserve(header.as_bytes().len() + payload.len() + trailer.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(payload);
        out.extend_from_slice(trailer);
    }

    /// See [`Protocol::frame_header`].
    pub fn frame_header(self, kind: OutKind, len: usize) -> FrameHeader {
        match self.layout() {
            Some(layout) => hybi_header(layout, kind.opcode(), len),
            None => match kind {
                OutKind::Text => FrameHeader::hixie_text(),
                OutKind::Binary => FrameHeader::hixie_length_prefixed(len),
                OutKind::Ping | OutKind::Pong => FrameHeader::empty(),
            },
        }
    }

    /// See [`Protocol::frame_trailer`].
    pub fn frame_trailer(self, kind: OutKind) -> &'static [u8] {
        if self.is_hixie() && kind == OutKind::Text {
            &[0xFF]
        } else {
            &[]
        }
    }
}

impl Protocol {
    /// Appends one complete frame: header, payload, trailer.
    ///
    /// The payload is never compressed (an uncompressed message is valid
    /// under permessage-deflate too); [`Protocol::frame`] compresses.
    /// Drafts 75 and 76 have no ping or pong: nothing is written for them
    /// ([`Protocol::check_send`] rejects them).
    pub fn encode(&self, kind: OutKind, payload: &[u8], out: &mut Vec<u8>) {
        self.draft.encode(kind, payload, out);
    }

    /// The header and payload of one message's frame, for writing a large
    /// payload without copying it: header, payload, then
    /// [`Protocol::frame_trailer`].
    ///
    /// With permessage-deflate, a text or binary message of at least
    /// `min_size` bytes is compressed (here, on the caller's thread) and its
    /// header has RSV1 set; anything else is handed back as it is.
    pub fn frame(&mut self, kind: OutKind, payload: Bytes) -> (FrameHeader, Bytes) {
        match self.frame_compressed(kind, &payload) {
            Some(compressed) => compressed,
            None => (self.frame_header(kind, payload.len()), payload),
        }
    }

    /// The header and compressed payload of a message that permessage-deflate
    /// applies to; `None` when the message goes as it is (under
    /// [`Protocol::frame_header`]), so that a caller holding only a slice
    /// need not copy it into a `Bytes` first.
    pub fn frame_compressed(
        &mut self,
        kind: OutKind,
        payload: &[u8],
    ) -> Option<(FrameHeader, Bytes)> {
        let compressed = self.compress(kind, payload)?;
        Some((
            self.frame_header(kind, compressed.len()).with_rsv1(),
            compressed,
        ))
    }

    /// Compresses a data message when permessage-deflate is on and the
    /// message is worth it; control frames never are (RFC 7692 §6.1).
    fn compress(&mut self, kind: OutKind, payload: &[u8]) -> Option<Bytes> {
        match kind {
            OutKind::Text | OutKind::Binary => self.compression.as_mut()?.compress(payload),
            OutKind::Ping | OutKind::Pong => None,
        }
    }

    /// The header alone, uncompressed: header, then payload, then
    /// [`Protocol::frame_trailer`].
    ///
    /// Drafts 75/76 send binary as a length-prefixed frame (which clients
    /// discard) and have no header for ping or pong (an empty one).
    pub fn frame_header(&self, kind: OutKind, len: usize) -> FrameHeader {
        self.draft.frame_header(kind, len)
    }

    /// What follows the payload: the 0xFF ending a draft 75/76 text frame,
    /// nothing otherwise.
    pub fn frame_trailer(&self, kind: OutKind) -> &'static [u8] {
        self.draft.frame_trailer(kind)
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
        match self.draft {
            Draft::Draft75 | Draft::Draft76 => self.set_closed(),
            Draft::Draft03 => self.write_hybi(OpCode::Close, &[], out),
            Draft::Draft05 => self.write_hybi(OpCode::Close, DRAFT05_CLOSE_BODY, out),
            Draft::Draft06 | Draft::Draft07 => {
                self.write_hybi(OpCode::Close, &close_body(code, reason), out)
            }
        }
    }

    /// "Fail the WebSocket connection" after [`Protocol::receive`] returned
    /// `err`: sends a close frame with its code and message where the draft
    /// has close codes (the fixed close frame of drafts 01-05; nothing for 75
    /// and 76, as em-websocket), then the state is [`State::Closed`].
    pub fn fail(&mut self, err: &ProtocolError, out: &mut Vec<u8>) {
        if self.state == State::Open {
            match self.draft {
                Draft::Draft75 | Draft::Draft76 => {}
                Draft::Draft03 => self.write_hybi(OpCode::Close, &[], out),
                Draft::Draft05 => self.write_hybi(OpCode::Close, DRAFT05_CLOSE_BODY, out),
                Draft::Draft06 | Draft::Draft07 => {
                    let body = close_body(Some(err.kind.code()), err.message.as_bytes());
                    self.write_hybi(OpCode::Close, &body, out);
                }
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
