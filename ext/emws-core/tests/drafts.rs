//! The protocols before RFC 6455: drafts 75 and 76 (hixie), 01-03, 05 and 06.

mod common;
use bytes::{Bytes, BytesMut};
use common::encode;
use emws_core::handshake::{accept, read_preface, HandshakeConfig, Preface, Request};
use emws_core::{Config, Draft, Incoming, OutKind, Protocol, ProtocolError, State};

const MAX: usize = 16 * 1024;

/// The example request of draft-hixie-thewebsocketprotocol-76 §1.3.
const DRAFT76_HEAD: &str = "GET /demo HTTP/1.1\r\n\
    Host: example.com\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\
    Sec-WebSocket-Protocol: sample\r\n\
    Upgrade: WebSocket\r\n\
    Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n\
    Origin: http://example.com\r\n\r\n";
const DRAFT76_KEY3: &[u8; 8] = b"^n:ds[4U";
const DRAFT76_ANSWER: &[u8; 16] = b"8jKS'y:G*Co,Wxa-";

const DRAFT75_HEAD: &str = "GET /demo HTTP/1.1\r\n\
    Upgrade: WebSocket\r\n\
    Connection: Upgrade\r\n\
    Host: example.com\r\n\
    Origin: http://example.com\r\n\
    WebSocket-Protocol: sample\r\n\r\n";

fn preface(bytes: &[u8]) -> Result<Preface, String> {
    read_preface(bytes, 0, MAX).map_err(|e| e.message)
}

fn request(bytes: &[u8]) -> Request {
    match preface(bytes) {
        Ok(Preface::Request(req)) => *req,
        other => panic!("not a request: {other:?}"),
    }
}

fn draft76_request() -> Vec<u8> {
    [DRAFT76_HEAD.as_bytes(), DRAFT76_KEY3].concat()
}

// Draft 76 handshake

#[test]
fn draft76_example_handshake() {
    let bytes = draft76_request();
    let req = request(&bytes);
    assert_eq!(req.version, 76);
    assert_eq!(req.third_key, Some(*DRAFT76_KEY3));
    assert_eq!(req.consumed, bytes.len());
    let accepted = accept(&req, &HandshakeConfig::default()).unwrap();
    assert_eq!(accepted.draft, Draft::Draft76);
    assert_eq!(accepted.protocol.as_deref(), Some("sample"));
    let mut expected = b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n\
        Upgrade: WebSocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Location: ws://example.com/demo\r\n\
        Sec-WebSocket-Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: sample\r\n\
        \r\n"
        .to_vec();
    expected.extend_from_slice(DRAFT76_ANSWER);
    assert_eq!(accepted.response, expected);
}

#[test]
fn draft76_secure_location() {
    let config = HandshakeConfig {
        secure: true,
        protocols: Vec::new(),
        ..HandshakeConfig::default()
    };
    let accepted = accept(&request(&draft76_request()), &config).unwrap();
    let response = String::from_utf8_lossy(&accepted.response);
    assert!(response.contains("\r\nSec-WebSocket-Location: wss://example.com/demo\r\n"));
}

#[test]
fn draft76_location_keeps_the_query() {
    let bytes = draft76_request();
    let bytes = String::from_utf8_lossy(&bytes).replacen("/demo", "/demo?x=1", 1);
    let accepted = accept(&request(bytes.as_bytes()), &HandshakeConfig::default()).unwrap();
    let response = String::from_utf8_lossy(&accepted.response);
    assert!(response.contains("Location: ws://example.com/demo?x=1\r\n"));
}

#[test]
fn draft76_protocol_with_configured_protocols() {
    let config = HandshakeConfig {
        secure: false,
        protocols: vec!["other".into()],
        ..HandshakeConfig::default()
    };
    let accepted = accept(&request(&draft76_request()), &config).unwrap();
    assert_eq!(accepted.protocol, None);
    assert!(!String::from_utf8_lossy(&accepted.response).contains("Sec-WebSocket-Protocol"));
    let config = HandshakeConfig {
        secure: false,
        protocols: vec!["other".into(), "sample".into()],
        ..HandshakeConfig::default()
    };
    let accepted = accept(&request(&draft76_request()), &config).unwrap();
    assert_eq!(accepted.protocol.as_deref(), Some("sample"));
}

#[test]
fn draft76_empty_protocol() {
    let head = DRAFT76_HEAD.replace("Sec-WebSocket-Protocol: sample", "Sec-WebSocket-Protocol: ");
    let req = request(&[head.as_bytes(), DRAFT76_KEY3].concat());
    let err = accept(&req, &HandshakeConfig::default()).unwrap_err();
    assert_eq!(err.message, "Invalid WebSocket-Protocol: empty");
}

#[test]
fn draft76_waits_for_the_third_key() {
    let bytes = draft76_request();
    let head_len = DRAFT76_HEAD.len();
    for end in head_len..bytes.len() {
        assert!(
            matches!(preface(&bytes[..end]), Ok(Preface::Incomplete)),
            "{end}"
        );
    }
}

#[test]
fn draft76_extra_bytes_after_the_third_key() {
    let mut bytes = draft76_request();
    bytes.push(0x00);
    assert_eq!(preface(&bytes).unwrap_err(), "Extra bytes after third key");
}

#[test]
fn draft76_request_is_validated_before_waiting_for_the_key() {
    let head = DRAFT76_HEAD.replacen("GET", "POST", 1);
    assert_eq!(preface(head.as_bytes()).unwrap_err(), "Must be GET request");
    let head = DRAFT76_HEAD.replace("Upgrade: WebSocket", "Upgrade: h2c");
    assert_eq!(
        preface(head.as_bytes()).unwrap_err(),
        "Invalid upgrade header: \"h2c\""
    );
}

#[test]
fn draft76_key_errors() {
    let accept_error = |head: String| {
        let req = request(&[head.as_bytes(), DRAFT76_KEY3].concat());
        accept(&req, &HandshakeConfig::default())
            .unwrap_err()
            .message
    };
    assert_eq!(
        accept_error(DRAFT76_HEAD.replace("4 @1  46546xW%0l 1 5", "4@146546xW%0l15")),
        "Websocket Key1 or Key2 does not contain spaces - this is a symptom of a cross-protocol attack"
    );
    assert_eq!(
        accept_error(DRAFT76_HEAD.replace("12998 5 Y3 1  .P00", "1 2 3")),
        "Invalid Key \"1 2 3\""
    );
    assert_eq!(
        accept_error(DRAFT76_HEAD.replace("12998 5 Y3 1  .P00", "9999999999 9")),
        "Challenge computation out of range for key \"9999999999 9\""
    );
    // Key1 is what marks draft 76; with Sec-WebSocket-Draft, key2 may be missing.
    let head = DRAFT76_HEAD
        .replace("Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n", "")
        .replace("Origin:", "Sec-WebSocket-Draft: 2\r\nOrigin:");
    assert_eq!(accept_error(head), "WebSocket key1 or key2 is missing");
}

// Drafts 01-03: draft 76 handshake

#[test]
fn drafts_01_to_03_use_the_draft76_handshake() {
    for draft in 1..=3 {
        let head = DRAFT76_HEAD.replace(
            "Origin:",
            &format!("Sec-WebSocket-Draft: {draft}\r\nOrigin:"),
        );
        assert!(matches!(preface(head.as_bytes()), Ok(Preface::Incomplete)));
        let req = request(&[head.as_bytes(), DRAFT76_KEY3].concat());
        assert_eq!(req.version, draft);
        let accepted = accept(&req, &HandshakeConfig::default()).unwrap();
        assert_eq!(accepted.draft, Draft::Draft03);
        assert!(accepted.response.ends_with(DRAFT76_ANSWER));
    }
}

// Draft 75 handshake

#[test]
fn draft75_handshake() {
    let req = request(DRAFT75_HEAD.as_bytes());
    assert_eq!(req.version, 75);
    assert_eq!(req.consumed, DRAFT75_HEAD.len());
    let accepted = accept(&req, &HandshakeConfig::default()).unwrap();
    assert_eq!(accepted.draft, Draft::Draft75);
    assert_eq!(accepted.protocol, None);
    assert_eq!(
        String::from_utf8(accepted.response).unwrap(),
        "HTTP/1.1 101 Web Socket Protocol Handshake\r\n\
         Upgrade: WebSocket\r\n\
         Connection: Upgrade\r\n\
         WebSocket-Origin: http://example.com\r\n\
         WebSocket-Location: ws://example.com/demo\r\n\
         \r\n"
    );
}

#[test]
fn draft75_extra_bytes_after_header() {
    let bytes = [DRAFT75_HEAD.as_bytes(), b"\x00hi\xff"].concat();
    assert_eq!(preface(&bytes).unwrap_err(), "Extra bytes after header");
    // The request is validated first.
    let head = DRAFT75_HEAD.replacen("GET", "PUT", 1);
    let bytes = [head.as_bytes(), b"\x00"].concat();
    assert_eq!(preface(&bytes).unwrap_err(), "Must be GET request");
}

// Drafts 75/76 framing

fn receive(p: &mut Protocol, bytes: &[u8]) -> (Result<(), ProtocolError>, Vec<u8>, Vec<Incoming>) {
    let mut input = BytesMut::from(bytes);
    let (mut out, mut events) = (Vec::new(), Vec::new());
    let result = p.receive(&mut input, &mut out, &mut events);
    (result, out, events)
}

fn text(s: &str) -> Incoming {
    Incoming::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn no_code_close() -> Incoming {
    Incoming::Close {
        code: None,
        reason: Bytes::new(),
    }
}

#[test]
fn hixie_text_frames() {
    for draft in [Draft::Draft75, Draft::Draft76] {
        let mut p = Protocol::new(draft, Config::default());
        let (result, out, events) =
            receive(&mut p, b"\x00hello \xc3\xa9\xff\x00second\xff\x00part");
        assert_eq!(result, Ok(()));
        assert!(out.is_empty());
        assert_eq!(events, [text("hello é"), text("second")]);
    }
}

#[test]
fn hixie_invalid_utf8_fails() {
    let mut p = Protocol::new(Draft::Draft76, Config::default());
    // Frame types below 0x80 other than 0x00 are not accepted.
    let (result, _, events) = receive(&mut p, b"\x00abc\xff\x7f");
    assert_eq!(events, [text("abc")]);
    assert_eq!(result.unwrap_err().message, "Invalid frame received");
    let (result, _, _) = receive(
        &mut Protocol::new(Draft::Draft76, Config::default()),
        b"\x00\xc3\xff",
    );
    let err = result.unwrap_err();
    assert_eq!(
        (err.code(), err.message.as_str()),
        (1007, "Invalid UTF8 data")
    );
}

#[test]
fn hixie_closing_handshake_from_the_client() {
    for draft in [Draft::Draft75, Draft::Draft76] {
        let mut p = Protocol::new(draft, Config::default());
        let (result, out, events) = receive(&mut p, b"\x00bye\xff\xff\x00\x00ignored\xff");
        assert_eq!(result, Ok(()));
        assert_eq!(out, [0xFF, 0x00]);
        assert_eq!(events, [text("bye"), no_code_close()]);
        assert_eq!(p.state(), State::Closed);
    }
}

#[test]
fn hixie_close_from_the_server_writes_nothing() {
    for draft in [Draft::Draft75, Draft::Draft76] {
        let mut p = Protocol::new(draft, Config::default());
        let mut out = Vec::new();
        p.close(Some(1000), b"bye", &mut out);
        assert!(out.is_empty());
        assert_eq!(p.state(), State::Closed);
    }
}

#[test]
fn hixie_fail_writes_nothing() {
    let mut p = Protocol::new(
        Draft::Draft76,
        Config {
            max_frame_size: 4,
            ..Config::default()
        },
    );
    let (result, _, _) = receive(&mut p, b"\x00hello");
    let err = result.unwrap_err();
    assert_eq!(
        (err.code(), err.message.as_str()),
        (1009, "Frame length too long (6 bytes)")
    );
    let mut out = Vec::new();
    p.fail(&err, &mut out);
    assert!(out.is_empty());
    assert_eq!(p.state(), State::Closed);
}

#[test]
fn hixie_length_prefixed_frames() {
    let mut p = Protocol::new(Draft::Draft76, Config::default());
    let (result, out, events) = receive(&mut p, b"\x80\x03abc\x00x\xff");
    assert_eq!(result, Ok(()));
    assert!(out.is_empty());
    assert_eq!(events, [text("x")]);
    let mut p = Protocol::new(
        Draft::Draft76,
        Config {
            max_frame_size: 100,
            ..Config::default()
        },
    );
    let (result, _, _) = receive(&mut p, b"\x80\x81\x00");
    assert_eq!(
        result.unwrap_err().message,
        "Frame length too long (128 bytes)"
    );
}

#[test]
fn hixie_sending() {
    let mut p = Protocol::new(Draft::Draft76, Config::default());
    let mut out = Vec::new();
    encode(&mut p, OutKind::Text, "é".as_bytes(), &mut out);
    assert_eq!(out, b"\x00\xc3\xa9\xff");
    let frame = p.frame(OutKind::Text, "é".as_bytes());
    assert_eq!(
        (frame.header.as_bytes(), frame.trailer),
        (&[0x00][..], &[0xFF][..])
    );
    // No ping or pong frames exist: check_send refuses them (below).
    assert!(!p.draft().pingable());
    assert!(!p.draft().supports_close_codes());
    assert_eq!(p.check_send(OutKind::Text), Ok(()));
    assert!(p.check_send(OutKind::Binary).is_err());
    assert!(p.check_send(OutKind::Ping).is_err());
    assert!(p.check_send(OutKind::Pong).is_err());
}

// Hybi drafts before RFC 6455

/// A drafts 01-03 frame: never masked, MORE bit instead of FIN.
fn frame03(more: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![if more { 0x80 } else { 0 } | opcode, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

/// A drafts 05-06 frame: a key first, then header and payload masked with it.
fn frame05(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [0xA1, 0xB2, 0xC3, 0xD4];
    let mut plain = vec![if fin { 0x80 } else { 0 } | opcode, payload.len() as u8];
    plain.extend_from_slice(payload);
    let mut f = key.to_vec();
    f.extend(plain.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    f
}

#[test]
fn draft03_messages() {
    let mut p = Protocol::new(Draft::Draft03, Config::default());
    let stream = [
        frame03(false, 4, b"Hello"),
        frame03(true, 5, b"\x00\x01"),
        frame03(false, 2, b"ping"),
        frame03(false, 0, b"\xff"),
        frame03(false, 3, b"pong"),
    ]
    .concat();
    let (result, out, events) = receive(&mut p, &stream);
    assert_eq!(result, Ok(()));
    assert_eq!(
        events,
        [
            text("Hello"),
            Incoming::Ping(Bytes::from_static(b"ping")),
            Incoming::Binary(Bytes::from_static(b"\x00\x01\xff")),
            Incoming::Pong(Bytes::from_static(b"pong")),
        ]
    );
    // Pong is opcode 3, and the MORE bit stays clear.
    assert_eq!(out, [&[0x03, 4][..], b"ping"].concat());
}

#[test]
fn draft03_close_echoes_the_body() {
    let mut p = Protocol::new(Draft::Draft03, Config::default());
    let (result, out, events) = receive(&mut p, &frame03(false, 1, b"body"));
    assert_eq!(result, Ok(()));
    assert_eq!(out, [&[0x01, 4][..], b"body"].concat());
    assert_eq!(events, [no_code_close()]);
    assert_eq!(p.state(), State::Closed);
}

#[test]
fn draft03_close_and_fail_send_an_empty_close_frame() {
    let mut p = Protocol::new(Draft::Draft03, Config::default());
    let mut out = Vec::new();
    p.close(Some(1000), b"ignored", &mut out);
    assert_eq!(out, [0x01, 0x00]);
    assert_eq!(p.state(), State::Closing);
    let (_, out, events) = receive(&mut p, &frame03(false, 1, b""));
    assert!(out.is_empty());
    assert_eq!(events, [no_code_close()]);
    assert_eq!(p.state(), State::Closed);

    let mut p = Protocol::new(Draft::Draft03, Config::default());
    let (result, _, _) = receive(&mut p, &frame03(false, 9, b""));
    let err = result.unwrap_err();
    assert_eq!(err.message, "Unknown opcode 9");
    let mut out = Vec::new();
    p.fail(&err, &mut out);
    assert_eq!(out, [0x01, 0x00]);
}

#[test]
fn draft03_frame_length_counts_the_payload_only() {
    let mut p = Protocol::new(
        Draft::Draft03,
        Config {
            max_frame_size: 5,
            ..Config::default()
        },
    );
    let (result, _, events) = receive(&mut p, &frame03(false, 4, b"12345"));
    assert_eq!((result, events.len()), (Ok(()), 1));
    let (result, _, _) = receive(&mut p, &frame03(false, 4, b"123456")[..2]);
    assert_eq!(
        result.unwrap_err().message,
        "Frame length too long (6 bytes)"
    );
}

#[test]
fn draft03_sending() {
    let mut p = Protocol::new(Draft::Draft03, Config::default());
    let mut out = Vec::new();
    encode(&mut p, OutKind::Text, b"hi", &mut out);
    encode(&mut p, OutKind::Binary, b"", &mut out);
    encode(&mut p, OutKind::Ping, b"", &mut out);
    encode(&mut p, OutKind::Pong, b"", &mut out);
    assert_eq!(out, [0x04, 2, b'h', b'i', 0x05, 0, 0x02, 0, 0x03, 0]);
    assert!(p.draft().pingable());
    assert!(!p.draft().supports_close_codes());
}

#[test]
fn draft05_messages() {
    let mut p = Protocol::new(Draft::Draft05, Config::default());
    let stream = [
        frame05(false, 4, "frag ".as_bytes()),
        frame05(true, 2, b"ping"),
        frame05(true, 0, "€".as_bytes()),
        frame05(true, 5, &[1, 2, 3]),
    ]
    .concat();
    let (result, out, events) = receive(&mut p, &stream);
    assert_eq!(result, Ok(()));
    assert_eq!(
        events,
        [
            Incoming::Ping(Bytes::from_static(b"ping")),
            text("frag €"),
            Incoming::Binary(Bytes::from_static(&[1, 2, 3])),
        ]
    );
    // Server frames are not masked.
    assert_eq!(out, [&[0x83, 4][..], b"ping"].concat());
}

#[test]
fn draft05_split_at_every_position() {
    let stream = [
        frame05(false, 4, "frag \u{20ac}".as_bytes()),
        frame05(true, 2, b"ping"),
        frame05(true, 0, b" end"),
        frame05(true, 1, b"\x03\xe8"),
    ]
    .concat();
    let expected = vec![
        Incoming::Ping(Bytes::from_static(b"ping")),
        text("frag € end"),
        no_code_close(),
    ];
    for split in 0..=stream.len() {
        let mut p = Protocol::new(Draft::Draft05, Config::default());
        let mut input = BytesMut::from(&stream[..split]);
        let (mut out, mut events) = (Vec::new(), Vec::new());
        p.receive(&mut input, &mut out, &mut events).unwrap();
        input.extend_from_slice(&stream[split..]);
        p.receive(&mut input, &mut out, &mut events).unwrap();
        assert_eq!(events, expected, "split at {split}");
        // Pong, then the close body echoed.
        assert_eq!(
            out,
            [&[0x83, 4][..], b"ping", &[0x81, 2, 0x03, 0xe8]].concat()
        );
    }
}

#[test]
fn draft05_close_sends_em_websockets_body() {
    let mut p = Protocol::new(Draft::Draft05, Config::default());
    let mut out = Vec::new();
    p.close(Some(4000), b"ignored", &mut out);
    assert_eq!(out, [0x81, 0x01, 0x53]);
    assert!(!p.draft().supports_close_codes());
}

#[test]
fn draft06_close_codes() {
    let mut p = Protocol::new(Draft::Draft06, Config::default());
    let (result, out, events) = receive(&mut p, &frame05(true, 1, b"\x0f\xa0why"));
    assert_eq!(result, Ok(()));
    assert_eq!(
        events,
        [Incoming::Close {
            code: Some(4000),
            reason: Bytes::from_static(b"why")
        }]
    );
    assert_eq!(out, [0x81, 2, 0x0f, 0xa0]);
    // Only RFC 6455 restricts the codes.
    let mut p = Protocol::new(Draft::Draft06, Config::default());
    let (result, out, _) = receive(&mut p, &frame05(true, 1, b"\x03\xed"));
    assert_eq!(result, Ok(()));
    assert_eq!(out, [0x81, 2, 0x03, 0xed]);

    let mut p = Protocol::new(Draft::Draft06, Config::default());
    let (result, _, _) = receive(&mut p, &frame05(true, 1, b"\x03"));
    assert_eq!(
        result.unwrap_err().message,
        "Close frames with a body must contain a 2 byte status code"
    );

    let mut p = Protocol::new(Draft::Draft06, Config::default());
    let mut out = Vec::new();
    p.close(Some(1000), b"bye", &mut out);
    assert_eq!(out, [0x81, 5, 0x03, 0xe8, b'b', b'y', b'e']);
    assert!(p.draft().supports_close_codes());
}

#[test]
fn draft06_fail_sends_code_and_message() {
    let mut p = Protocol::new(Draft::Draft06, Config::default());
    let (result, _, _) = receive(&mut p, &frame05(true, 4, b"\xff"));
    let err = result.unwrap_err();
    let mut out = Vec::new();
    p.fail(&err, &mut out);
    assert_eq!(
        out,
        [&[0x81, 19, 0x03, 0xef][..], b"Invalid UTF8 data"].concat()
    );
}
