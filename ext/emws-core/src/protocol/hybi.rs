//! Receiving frames of the hybi drafts: 01-03, 05-06 and RFC 6455.

use bytes::{Buf, Bytes, BytesMut};

use super::{Draft, Incoming, Protocol, State};
use crate::close::{CloseBody, NORMAL_CLOSURE};
use crate::error::ProtocolError;
use crate::frame::{Header, Layout, Mask, OpCode};
use crate::message::{IncomingMessage, MessageKind};

/// RFC 6455 §5.5: control frames carry at most 125 bytes.
const MAX_CONTROL_PAYLOAD: u64 = 125;
/// RSV1 among the three reserved bits of [`crate::frame::Header::rsv`].
const RSV1: u8 = 0b100;

/// A frame whose header has been read and whose payload is arriving.
#[derive(Debug)]
pub(super) struct IncomingFrame {
    opcode: OpCode,
    fin: bool,
    mask: Option<Mask>,
    payload_len: usize,
    /// Payload bytes at the front of the input already unmasked and, for
    /// text, validated.
    unmasked: usize,
}

impl Protocol {
    pub(super) fn receive_hybi(
        &mut self,
        layout: Layout,
        input: &mut BytesMut,
        out: &mut Vec<u8>,
        events: &mut Vec<Incoming>,
    ) -> Result<(), ProtocolError> {
        while self.state != State::Closed {
            let mut frame = match self.frame.take() {
                Some(frame) => frame,
                None => match Header::parse(input, layout)? {
                    Some(header) => {
                        let frame = self.start_frame(layout, &header)?;
                        input.advance(header.len);
                        frame
                    }
                    None => return Ok(()),
                },
            };
            // Unmask and validate what has arrived, so that invalid text fails
            // before the rest of its frame is even sent.
            let available = input.len().min(frame.payload_len);
            if available > frame.unmasked {
                let arrived = &mut input[frame.unmasked..available];
                if let Some(mask) = frame.mask {
                    mask.unmask(arrived, frame.unmasked);
                }
                if !frame.opcode.is_control() {
                    if let Some(message) = self.message.as_mut() {
                        message.validate(arrived)?;
                    }
                }
                frame.unmasked = available;
            }
            if available < frame.payload_len {
                self.frame = Some(frame);
                return Ok(());
            }
            let payload = input.split_to(frame.payload_len).freeze();
            self.complete_frame(frame, payload, out, events)?;
        }
        Ok(())
    }

    /// Checks a frame header before any of its payload is buffered.
    fn start_frame(
        &mut self,
        layout: Layout,
        header: &Header,
    ) -> Result<IncomingFrame, ProtocolError> {
        // em-websocket counts the whole frame under RFC 6455, the payload
        // alone under earlier drafts.
        let frame_len = match layout {
            Layout::Rfc6455 => header.len as u64 + header.payload_len,
            Layout::Draft03 | Layout::Draft05 => header.payload_len,
        };
        if frame_len > self.config.max_frame_size as u64 {
            return Err(ProtocolError::too_big(format!(
                "Frame length too long ({frame_len} bytes)"
            )));
        }
        let opcode = layout
            .numbering()
            .decode(header.opcode)
            .ok_or_else(|| ProtocolError::protocol(format!("Unknown opcode {}", header.opcode)))?;
        // RSV1 marks a compressed message (RFC 7692 §6): only on the first
        // frame of a data message, and only with permessage-deflate.
        // Drafts before 07 defined no extensions, and em-websocket ignores
        // their reserved bits: so do we.
        let rsv = if self.draft == Draft::Draft07 {
            header.rsv
        } else {
            0
        };
        let compressed = rsv & RSV1 != 0;
        if rsv & !RSV1 != 0 || (compressed && self.compression.is_none()) {
            return Err(ProtocolError::protocol(
                "Reserved bits must be zero without a negotiated extension",
            ));
        }
        if compressed && !matches!(opcode, OpCode::Text | OpCode::Binary) {
            return Err(ProtocolError::protocol(if opcode.is_control() {
                "RSV1 set on a control frame"
            } else {
                "RSV1 set on a continuation frame"
            }));
        }
        if opcode.is_control() {
            if !header.fin {
                return Err(ProtocolError::protocol(
                    "Control frames must not be fragmented",
                ));
            }
            if layout == Layout::Rfc6455 && header.payload_len > MAX_CONTROL_PAYLOAD {
                return Err(ProtocolError::protocol(format!(
                    "Control frame payload too long ({} bytes)",
                    header.payload_len
                )));
            }
        }
        if layout == Layout::Rfc6455 && header.mask.is_none() && self.config.strict_masking {
            return Err(ProtocolError::protocol("Received unmasked frame"));
        }
        let max_message_size = self.config.max_message_size;
        match opcode {
            OpCode::Continuation => match self.message.as_mut() {
                Some(message) => message.reserve(header.payload_len, max_message_size)?,
                None => {
                    return Err(ProtocolError::protocol("Continuation frame not expected"));
                }
            },
            OpCode::Text | OpCode::Binary => {
                if self.message.is_some() {
                    return Err(ProtocolError::protocol("Continuation frame expected"));
                }
                let kind = if opcode == OpCode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                let mut message = if compressed {
                    IncomingMessage::compressed(kind)
                } else {
                    IncomingMessage::new(kind)
                };
                message.reserve(header.payload_len, max_message_size)?;
                self.message = Some(message);
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => {}
        }
        Ok(IncomingFrame {
            opcode,
            fin: header.fin,
            mask: header.mask,
            // Within max_frame_size, so it fits.
            payload_len: header.payload_len as usize,
            unmasked: 0,
        })
    }

    fn complete_frame(
        &mut self,
        frame: IncomingFrame,
        payload: Bytes,
        out: &mut Vec<u8>,
        events: &mut Vec<Incoming>,
    ) -> Result<(), ProtocolError> {
        match frame.opcode {
            OpCode::Continuation | OpCode::Text | OpCode::Binary => {
                // start_frame guarantees a message for every data frame.
                let Some(mut message) = self.message.take() else {
                    return Ok(());
                };
                let limit = self.inflated_limit();
                match (message.is_compressed(), self.compression.as_mut()) {
                    (true, Some(compression)) => {
                        let inflater = &mut compression.inflater;
                        if frame.fin {
                            events.push(message.finish_compressed(&payload, inflater, limit)?);
                        } else {
                            message.push_compressed(&payload, inflater, limit)?;
                            self.message = Some(message);
                        }
                    }
                    _ if frame.fin => events.push(message.finish(payload)?),
                    _ => {
                        message.push(&payload);
                        self.message = Some(message);
                    }
                }
            }
            OpCode::Ping => {
                self.write_hybi(OpCode::Pong, &payload, out);
                events.push(Incoming::Ping(payload));
            }
            OpCode::Pong => events.push(Incoming::Pong(payload)),
            OpCode::Close => self.receive_close(payload, out, events)?,
        }
        Ok(())
    }

    /// How large a compressed message may grow as it is inflated: what an
    /// uncompressed one may be (`max_frame_size`, and `max_message_size` when set).
    fn inflated_limit(&self) -> usize {
        match self.config.max_message_size {
            0 => self.config.max_frame_size,
            max => max.min(self.config.max_frame_size),
        }
    }

    fn receive_close(
        &mut self,
        payload: Bytes,
        out: &mut Vec<u8>,
        events: &mut Vec<Incoming>,
    ) -> Result<(), ProtocolError> {
        let (code, reason, echo) = if self.draft.supports_close_codes() {
            let body = CloseBody::parse(payload, self.draft == Draft::Draft07)?;
            // em-websocket echoes the status code alone.
            let echo = body.code.unwrap_or(NORMAL_CLOSURE).to_be_bytes().to_vec();
            (body.code, body.reason, echo)
        } else {
            // Drafts 01-05: em-websocket echoes the body and reports no reason.
            (None, Bytes::new(), payload.to_vec())
        };
        if self.state == State::Open {
            self.write_hybi(OpCode::Close, &echo, out);
        }
        self.set_closed();
        events.push(Incoming::Close { code, reason });
        Ok(())
    }
}
