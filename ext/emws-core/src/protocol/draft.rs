//! The protocol versions em-websocket speaks, and what sets them apart.

use std::borrow::Cow;

use bytes::Bytes;

use crate::close::close_body;
use crate::frame::Layout;

/// What em-websocket's close05 sends as the body of a draft 05 close frame.
const DRAFT05_CLOSE_BODY: &[u8] = &[0x53];

/// A family of protocol drafts sharing a handshake, framing and closing
/// handshake (em-websocket's handler classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Draft {
    /// draft-hixie-thewebsocketprotocol-75: text between 0x00 and 0xFF, no
    /// challenge, no closing handshake.
    Draft75,
    /// draft-hixie-thewebsocketprotocol-76: draft 75 framing, MD5 challenge,
    /// 0xFF 0x00 closing handshake.
    Draft76,
    /// Versions 1-3 (draft-ietf-hybi-00..03): draft 76 handshake, first
    /// binary framing (MORE bit, opcodes 0-5).
    Draft03,
    /// Version 5: FIN bit, the whole frame masked by a leading key.
    Draft05,
    /// Version 6: draft 05 framing with close codes.
    Draft06,
    /// Versions 7, 8 and 13: RFC 6455 (drafts 9-12 announce version 8, drafts
    /// 13-17 version 13).
    Draft07,
}

impl Draft {
    /// The draft of a detected protocol version; `None` for versions em-websocket
    /// does not support (4, 9-12, 14+...).
    pub fn from_version(version: u32) -> Option<Draft> {
        Some(match version {
            75 => Draft::Draft75,
            76 => Draft::Draft76,
            1..=3 => Draft::Draft03,
            5 => Draft::Draft05,
            6 => Draft::Draft06,
            7 | 8 | 13 => Draft::Draft07,
            _ => return None,
        })
    }

    /// Whether ping and pong frames exist in this draft.
    pub fn pingable(self) -> bool {
        !self.is_hixie()
    }

    /// Whether close frames carry a status code and reason.
    pub fn supports_close_codes(self) -> bool {
        matches!(self, Draft::Draft06 | Draft::Draft07)
    }

    /// Drafts 75 and 76, whose frames are delimited by sentinel bytes.
    pub fn is_hixie(self) -> bool {
        matches!(self, Draft::Draft75 | Draft::Draft76)
    }

    /// The body of the close frame we send, with `code` and as much of
    /// `reason` as fits a control frame where the draft has close codes
    /// (no code: an empty body); em-websocket's fixed bodies for drafts
    /// 01-05. `None` for drafts 75 and 76: em-websocket sends no close frame
    /// there (its draft 76 handler closes like draft 75's).
    pub fn close_body(self, code: Option<u16>, reason: &[u8]) -> Option<Cow<'static, [u8]>> {
        match self {
            Draft::Draft75 | Draft::Draft76 => None,
            Draft::Draft03 => Some(Cow::Borrowed(&[])),
            Draft::Draft05 => Some(Cow::Borrowed(DRAFT05_CLOSE_BODY)),
            Draft::Draft06 | Draft::Draft07 => Some(Cow::Owned(close_body(code, reason))),
        }
    }

    /// What `onclose` reports after the peer's close frame, as em-websocket's
    /// message processors record it: the code (1005 when there is none) and
    /// the reason. `None` for drafts 75 and 76, which record nothing: their
    /// closing handshake still ends as an abnormal closure (1006).
    pub fn clean_close(self, code: Option<u16>, reason: Bytes) -> Option<(u16, Bytes)> {
        match self {
            Draft::Draft75 | Draft::Draft76 => None,
            // No close codes before draft 06.
            Draft::Draft03 | Draft::Draft05 => Some((1005, Bytes::new())),
            Draft::Draft06 | Draft::Draft07 => Some((code.unwrap_or(1005), reason)),
        }
    }

    /// The header layout of a hybi draft; `None` for drafts 75 and 76.
    pub fn layout(self) -> Option<Layout> {
        match self {
            Draft::Draft75 | Draft::Draft76 => None,
            Draft::Draft03 => Some(Layout::Draft03),
            Draft::Draft05 | Draft::Draft06 => Some(Layout::Draft05),
            Draft::Draft07 => Some(Layout::Rfc6455),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_em_websocket_supports() {
        assert_eq!(Draft::from_version(75), Some(Draft::Draft75));
        assert_eq!(Draft::from_version(76), Some(Draft::Draft76));
        for v in 1..=3 {
            assert_eq!(Draft::from_version(v), Some(Draft::Draft03));
        }
        assert_eq!(Draft::from_version(5), Some(Draft::Draft05));
        assert_eq!(Draft::from_version(6), Some(Draft::Draft06));
        for v in [7, 8, 13] {
            assert_eq!(Draft::from_version(v), Some(Draft::Draft07));
        }
        for v in [0, 4, 9, 10, 11, 12, 14, 74, 77, u32::MAX] {
            assert_eq!(Draft::from_version(v), None, "{v}");
        }
    }

    #[test]
    fn the_close_each_draft_reports() {
        let reason = Bytes::from_static(b"bye");
        assert_eq!(Draft::Draft75.clean_close(Some(1000), reason.clone()), None);
        assert_eq!(Draft::Draft76.clean_close(None, reason.clone()), None);
        assert_eq!(
            Draft::Draft05.clean_close(Some(1000), reason.clone()),
            Some((1005, Bytes::new()))
        );
        assert_eq!(
            Draft::Draft06.clean_close(Some(4000), reason.clone()),
            Some((4000, reason.clone()))
        );
        assert_eq!(
            Draft::Draft07.clean_close(None, Bytes::new()),
            Some((1005, Bytes::new()))
        );
    }

    #[test]
    fn capabilities() {
        assert!(!Draft::Draft75.pingable());
        assert!(!Draft::Draft76.pingable());
        assert!(Draft::Draft03.pingable());
        assert!(Draft::Draft07.pingable());
        assert!(!Draft::Draft05.supports_close_codes());
        assert!(Draft::Draft06.supports_close_codes());
        assert!(Draft::Draft07.supports_close_codes());
    }
}
