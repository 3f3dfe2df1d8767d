//! Receiving frames of drafts 75 and 76.

use bytes::{Bytes, BytesMut};

use super::{Incoming, Protocol, State};
use crate::error::ProtocolError;
use crate::frame::hixie::HixieFrame;

/// The closing frame of draft 76 (which em-websocket also answers under 75):
/// an empty frame of type 0xFF.
const CLOSING_FRAME: &[u8] = &[0xFF, 0x00];

impl Protocol {
    pub(super) fn receive_hixie(
        &mut self,
        input: &mut BytesMut,
        out: &mut Vec<u8>,
        events: &mut Vec<Incoming>,
    ) -> Result<(), ProtocolError> {
        while self.state != State::Closed {
            let Some(frame) = self.hixie.decode(input, self.config.max_frame_size)? else {
                return Ok(());
            };
            match frame {
                HixieFrame::Text(text) => {
                    // em-websocket passes the bytes on unchecked; an invalid
                    // Ruby String would only fail later, in the application.
                    if std::str::from_utf8(&text).is_err() {
                        return Err(ProtocolError::invalid_data("Invalid UTF8 data"));
                    }
                    events.push(Incoming::Text(text));
                }
                HixieFrame::Discarded => {}
                HixieFrame::Close => {
                    if self.state == State::Open {
                        out.extend_from_slice(CLOSING_FRAME);
                    }
                    self.set_closed();
                    events.push(Incoming::Close {
                        code: None,
                        reason: Bytes::new(),
                    });
                }
            }
        }
        Ok(())
    }
}
