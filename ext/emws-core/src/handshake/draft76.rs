//! The opening handshake of draft 76 and drafts 01-03 (em-websocket's
//! `Handshake76`): two keys and eight bytes make an MD5 challenge.

use md5::{Digest, Md5};

use super::draft75::location;
use super::request::Request;
use super::ruby::inspect;
use super::HandshakeConfig;
use crate::error::HandshakeError;

/// The response and the echoed subprotocol.
pub fn response(
    req: &Request,
    config: &HandshakeConfig,
) -> Result<(Vec<u8>, Option<String>), HandshakeError> {
    let third_key = req
        .third_key
        .ok_or_else(|| HandshakeError::new("WebSocket third key is missing"))?;
    let challenge = solve_challenge(
        req.header("sec-websocket-key1"),
        req.header("sec-websocket-key2"),
        &third_key,
    )?;
    let mut response = format!(
        "HTTP/1.1 101 WebSocket Protocol Handshake\r\n\
         Upgrade: WebSocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Location: {}\r\n\
         Sec-WebSocket-Origin: {}\r\n",
        location(req, config.secure),
        req.header("origin").unwrap_or_default()
    );
    let protocol = match req.header("sec-websocket-protocol") {
        Some("") => return Err(HandshakeError::new("Invalid WebSocket-Protocol: empty")),
        // Draft 76 names a single protocol, which the server echoes or refuses.
        Some(offered)
            if config.protocols.is_empty() || config.protocols.iter().any(|p| p == offered) =>
        {
            Some(offered.to_owned())
        }
        _ => None,
    };
    if let Some(protocol) = &protocol {
        response.push_str(&format!("Sec-WebSocket-Protocol: {protocol}\r\n"));
    }
    response.push_str("\r\n");
    let mut response = response.into_bytes();
    response.extend_from_slice(&challenge);
    Ok((response, protocol))
}

/// Draft 76 §5.2 steps 4-9: MD5 of the two key numbers (big-endian 32-bit)
/// and the third key.
pub fn solve_challenge(
    key1: Option<&str>,
    key2: Option<&str>,
    third_key: &[u8; 8],
) -> Result<[u8; 16], HandshakeError> {
    let mut md5 = Md5::new();
    md5.update(key_number(key1)?.to_be_bytes());
    md5.update(key_number(key2)?.to_be_bytes());
    md5.update(third_key);
    Ok(md5.finalize().into())
}

/// The digits of a key, divided by its number of spaces.
fn key_number(key: Option<&str>) -> Result<u32, HandshakeError> {
    let key = key.ok_or_else(|| HandshakeError::new("WebSocket key1 or key2 is missing"))?;
    let digits: Vec<u32> = key
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|d| u32::from(d - b'0'))
        .collect();
    let spaces = key.bytes().filter(|&b| b == b' ').count() as u128;
    if spaces == 0 {
        return Err(HandshakeError::new(
            "Websocket Key1 or Key2 does not contain spaces - this is a symptom of a cross-protocol attack",
        ));
    }
    // The digits may spell any number: take the remainder digit by digit.
    let remainder = digits
        .iter()
        .fold(0u128, |r, &d| (r * 10 + u128::from(d)) % spaces);
    if remainder != 0 {
        return Err(HandshakeError::new(format!("Invalid Key {}", inspect(key))));
    }
    let number = digits
        .iter()
        .try_fold(0u128, |n, &d| n.checked_mul(10)?.checked_add(u128::from(d)));
    number
        .and_then(|n| u32::try_from(n / spaces).ok())
        .ok_or_else(|| {
            HandshakeError::new(format!(
                "Challenge computation out of range for key {}",
                inspect(key)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draft76_example_challenge() {
        // draft-hixie-thewebsocketprotocol-76 §1.3 / §5.2
        let response = solve_challenge(
            Some("4 @1  46546xW%0l 1 5"),
            Some("12998 5 Y3 1  .P00"),
            b"^n:ds[4U",
        )
        .unwrap();
        assert_eq!(&response, b"8jKS'y:G*Co,Wxa-");
    }

    #[test]
    fn key_numbers() {
        assert_eq!(key_number(Some("4 @1  46546xW%0l 1 5")), Ok(829_309_203));
        assert_eq!(key_number(Some("12998 5 Y3 1  .P00")), Ok(259_970_620));
        assert_eq!(key_number(Some("no digits ")), Ok(0));
    }

    #[test]
    fn key_errors() {
        let message = |key: Option<&str>| key_number(key).unwrap_err().message;
        assert_eq!(message(None), "WebSocket key1 or key2 is missing");
        assert_eq!(
            message(Some("12345")),
            "Websocket Key1 or Key2 does not contain spaces - this is a symptom of a cross-protocol attack"
        );
        assert_eq!(message(Some("1 2 3")), "Invalid Key \"1 2 3\"");
        assert_eq!(
            message(Some("8589934592 ")),
            "Challenge computation out of range for key \"8589934592 \""
        );
        // Far beyond any integer type, but still divisible by its one space.
        let huge = format!("{} ", "9".repeat(100));
        assert!(message(Some(&huge)).starts_with("Challenge computation out of range"));
        let huge_odd = format!("{}1  ", "9".repeat(100));
        assert!(message(Some(&huge_odd)).starts_with("Invalid Key"));
        // 2^32 - 1 fits.
        assert_eq!(key_number(Some("4294967295 ")), Ok(u32::MAX));
    }
}
