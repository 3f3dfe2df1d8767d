//! Close codes and close-frame bodies (RFC 6455 §5.5.1, §7.4).

use bytes::Bytes;

use crate::error::ProtocolError;

/// A close frame is a control frame (at most 125 bytes): 2 for the code leave
/// 123 for the reason.
pub const MAX_REASON_LEN: usize = 123;

/// The code em-websocket echoes when the peer's close frame had none.
pub const NORMAL_CLOSURE: u16 = 1000;

/// Whether a peer may send this code (RFC 6455 §7.4.1-2): the defined codes
/// except those reserved for reporting (1005, 1006, 1015), the IANA-registered
/// 1012-1014, and the ranges for libraries (3000-3999) and private use (4000-4999).
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Codes an application may close with in em-websocket (`Connection#close`):
/// 1000, 1003, 1008, 1011 and 3000-4999.
pub fn is_application_close_code(code: u16) -> bool {
    matches!(code, 1000 | 1003 | 1008 | 1011 | 3000..=4999)
}

/// The body of a close frame we send: the code, then as much of the reason as
/// fits, cut at a UTF-8 character boundary. No code means an empty body.
pub fn close_body(code: Option<u16>, reason: &[u8]) -> Vec<u8> {
    let Some(code) = code else {
        return Vec::new();
    };
    let reason = truncate_at_char_boundary(reason, MAX_REASON_LEN);
    let mut body = Vec::with_capacity(2 + reason.len());
    body.extend_from_slice(&code.to_be_bytes());
    body.extend_from_slice(reason);
    body
}

fn truncate_at_char_boundary(text: &[u8], max: usize) -> &[u8] {
    if text.len() <= max {
        return text;
    }
    let is_continuation = |b: u8| b & 0xC0 == 0x80;
    let mut end = max;
    while end > 0 && is_continuation(text[end]) {
        end -= 1;
    }
    &text[..end]
}

/// A received close frame's code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseBody {
    pub code: Option<u16>,
    pub reason: Bytes,
}

impl CloseBody {
    /// Parses the body of a close frame from drafts 06+.
    ///
    /// `strict` applies RFC 6455's rules (valid codes, UTF-8 reason) on top of
    /// em-websocket's, which only rejects a 1-byte body.
    pub fn parse(payload: Bytes, strict: bool) -> Result<CloseBody, ProtocolError> {
        match payload.len() {
            0 => Ok(CloseBody {
                code: None,
                reason: Bytes::new(),
            }),
            1 => Err(ProtocolError::protocol(
                "Close frames with a body must contain a 2 byte status code",
            )),
            _ => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                let reason = payload.slice(2..);
                if strict {
                    if !is_valid_close_code(code) {
                        return Err(ProtocolError::protocol(format!(
                            "Invalid close code {code}"
                        )));
                    }
                    if std::str::from_utf8(&reason).is_err() {
                        return Err(ProtocolError::invalid_data(
                            "Invalid UTF8 data in close reason",
                        ));
                    }
                }
                Ok(CloseBody {
                    code: Some(code),
                    reason,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_close_codes() {
        for code in (1000..=1003).chain(1007..=1014).chain(3000..=4999) {
            assert!(is_valid_close_code(code), "{code}");
        }
        let invalid = (0..1000)
            .chain([1004, 1005, 1006, 1015])
            .chain(1016..3000)
            .chain(5000..=u16::MAX);
        for code in invalid {
            assert!(!is_valid_close_code(code), "{code}");
        }
    }

    #[test]
    fn application_close_codes() {
        for code in [1000, 1003, 1008, 1011, 3000, 3999, 4000, 4999] {
            assert!(is_application_close_code(code), "{code}");
        }
        for code in [999, 1001, 1002, 1005, 1006, 1009, 2999, 5000] {
            assert!(!is_application_close_code(code), "{code}");
        }
    }

    #[test]
    fn body_without_code_is_empty() {
        assert_eq!(close_body(None, b"ignored"), b"");
    }

    #[test]
    fn body_is_code_then_reason() {
        assert_eq!(close_body(Some(1000), b""), [0x03, 0xE8]);
        assert_eq!(close_body(Some(4001), b"bye"), b"\x0f\xa1bye");
    }

    #[test]
    fn long_reasons_are_cut_to_fit_a_control_frame() {
        let body = close_body(Some(1000), &[b'a'; 200]);
        assert_eq!(body.len(), 125);
        // 'é' is two bytes: 61 of them are 122 bytes, the 62nd would end at 124.
        let reason = "é".repeat(100);
        let body = close_body(Some(1000), reason.as_bytes());
        assert_eq!(body.len(), 2 + 122);
        assert!(std::str::from_utf8(&body[2..]).is_ok());
        let reason = format!("a{}", "€".repeat(50));
        let body = close_body(Some(1000), reason.as_bytes());
        assert_eq!(body.len(), 2 + 121);
        assert!(std::str::from_utf8(&body[2..]).is_ok());
    }

    fn parse(bytes: &[u8], strict: bool) -> Result<CloseBody, ProtocolError> {
        CloseBody::parse(Bytes::copy_from_slice(bytes), strict)
    }

    #[test]
    fn parses_code_and_reason() {
        assert_eq!(
            parse(b"\x03\xe9going away", true).unwrap(),
            CloseBody {
                code: Some(1001),
                reason: Bytes::from_static(b"going away")
            }
        );
        assert_eq!(parse(b"", true).unwrap().code, None);
    }

    #[test]
    fn a_one_byte_body_is_a_protocol_error() {
        let err = parse(b"\x03", false).unwrap_err();
        assert_eq!(err.code(), 1002);
        assert_eq!(
            err.message,
            "Close frames with a body must contain a 2 byte status code"
        );
    }

    #[test]
    fn strict_parsing_rejects_invalid_codes() {
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            let err = parse(&code.to_be_bytes(), true).unwrap_err();
            assert_eq!(err.code(), 1002);
            assert_eq!(err.message, format!("Invalid close code {code}"));
            assert!(parse(&code.to_be_bytes(), false).is_ok());
        }
    }

    #[test]
    fn strict_parsing_rejects_invalid_utf8_reasons() {
        let err = parse(b"\x03\xe8\xce\xba\xe1\xbd", true).unwrap_err();
        assert_eq!(err.code(), 1007);
        assert!(parse(b"\x03\xe8\xce\xba\xe1\xbd", false).is_ok());
    }
}
