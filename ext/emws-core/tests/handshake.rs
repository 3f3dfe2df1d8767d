//! The opening bytes of a connection and the RFC 6455 family's handshake.

use emws_core::handshake::{
    accept, accept_key, read_preface, HandshakeConfig, Preface, Request, HEALTHCHECK_RESPONSE,
    POLICY_FILE,
};
use emws_core::Draft;

const MAX: usize = 16 * 1024;

/// RFC 6455 §1.2's example request (with its subprotocols).
const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\n\
    Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\n\
    Sec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

fn request(head: &str) -> Request {
    match read_preface(head.as_bytes(), 0, MAX) {
        Ok(Preface::Request(req)) => *req,
        other => panic!("not a request: {other:?}"),
    }
}

/// A version 13 request with these header lines replacing the defaults.
fn hybi_request(target: &str, lines: &[&str]) -> String {
    let mut head = format!("GET {target} HTTP/1.1\r\nHost: example.com\r\n");
    let defaults = [
        ("upgrade", "Upgrade: websocket"),
        ("connection", "Connection: Upgrade"),
        (
            "sec-websocket-key",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ),
        ("sec-websocket-version", "Sec-WebSocket-Version: 13"),
    ];
    for (name, line) in defaults {
        let overridden = lines.iter().any(|l| {
            l.to_ascii_lowercase().starts_with(&format!("{name}:"))
                || l.to_ascii_lowercase() == format!("-{name}")
        });
        if !overridden {
            head.push_str(line);
            head.push_str("\r\n");
        }
    }
    for line in lines.iter().filter(|l| !l.starts_with('-')) {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

fn accept_error(head: &str) -> String {
    accept(&request(head), &HandshakeConfig::default())
        .unwrap_err()
        .message
}

fn response(head: &str, config: &HandshakeConfig) -> String {
    String::from_utf8(accept(&request(head), config).unwrap().response).unwrap()
}

#[test]
fn rfc6455_accept_key() {
    // RFC 6455 §1.3
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn rfc6455_request() {
    let req = request(RFC_REQUEST);
    assert_eq!(req.method, "GET");
    assert_eq!((req.target.as_str(), req.path.as_str()), ("/chat", "/chat"));
    assert_eq!(req.query_string, "");
    assert_eq!(req.version, 13);
    assert_eq!(req.consumed, RFC_REQUEST.len());
    assert_eq!(req.third_key, None);
    assert_eq!(
        req.header("SEC-WEBSOCKET-KEY"),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );
    assert_eq!(
        req.headers[0],
        ("Host".to_owned(), "server.example.com".to_owned())
    );
    assert_eq!(req.headers.len(), 7);
}

#[test]
fn rfc6455_response_with_server_preference() {
    let config = HandshakeConfig {
        secure: false,
        protocols: vec!["superchat".into(), "chat".into()],
        ..HandshakeConfig::default()
    };
    let accepted = accept(&request(RFC_REQUEST), &config).unwrap();
    assert_eq!(accepted.draft, Draft::Draft07);
    assert_eq!(accepted.protocol.as_deref(), Some("superchat"));
    assert_eq!(
        String::from_utf8(accepted.response).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Protocol: superchat\r\n\
         \r\n"
    );
}

#[test]
fn without_configured_protocols_a_single_offer_is_echoed() {
    let config = HandshakeConfig::default();
    let head = hybi_request("/", &["Sec-WebSocket-Protocol: chat"]);
    let accepted = accept(&request(&head), &config).unwrap();
    assert_eq!(accepted.protocol.as_deref(), Some("chat"));
    assert!(String::from_utf8(accepted.response)
        .unwrap()
        .ends_with("Sec-WebSocket-Protocol: chat\r\n\r\n"));
    // Several offers: no choice is made.
    let accepted = accept(&request(RFC_REQUEST), &config).unwrap();
    assert_eq!(accepted.protocol, None);
    assert!(!String::from_utf8(accepted.response)
        .unwrap()
        .contains("Sec-WebSocket-Protocol"));
}

#[test]
fn protocols_offered_over_several_lines() {
    let head = hybi_request(
        "/",
        &["Sec-WebSocket-Protocol: a, b", "Sec-WebSocket-Protocol: c"],
    );
    let config = HandshakeConfig {
        secure: false,
        protocols: vec!["x".into(), "c".into(), "a".into()],
        ..HandshakeConfig::default()
    };
    let accepted = accept(&request(&head), &config).unwrap();
    assert_eq!(accepted.protocol.as_deref(), Some("c"));
}

#[test]
fn no_common_protocol_means_no_header() {
    let config = HandshakeConfig {
        secure: false,
        protocols: vec!["other".into()],
        ..HandshakeConfig::default()
    };
    let r = response(RFC_REQUEST, &config);
    assert!(!r.contains("Sec-WebSocket-Protocol"), "{r}");
    let accepted = accept(&request(RFC_REQUEST), &config).unwrap();
    assert_eq!(accepted.protocol, None);
}

#[test]
fn supported_versions() {
    for (version, draft) in [
        (5, Draft::Draft05),
        (6, Draft::Draft06),
        (7, Draft::Draft07),
        (8, Draft::Draft07),
        (13, Draft::Draft07),
    ] {
        let head = hybi_request("/", &[&format!("Sec-WebSocket-Version: {version}")]);
        let accepted = accept(&request(&head), &HandshakeConfig::default()).unwrap();
        assert_eq!(accepted.draft, draft, "version {version}");
        assert!(accepted
            .response
            .starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    }
}

#[test]
fn unsupported_versions() {
    for version in [
        "0",
        "4",
        "9",
        "10",
        "11",
        "12",
        "14",
        "99",
        "-1",
        "99999999999",
    ] {
        let head = hybi_request("/", &[&format!("Sec-WebSocket-Version: {version}")]);
        assert_eq!(
            accept_error(&head),
            format!("Protocol version {version} not supported")
        );
    }
    let head = hybi_request("/", &["Sec-WebSocket-Version: websocket"]);
    assert_eq!(accept_error(&head), "Protocol version 0 not supported");
}

#[test]
fn frames_after_the_head_are_not_consumed() {
    let mut bytes = RFC_REQUEST.as_bytes().to_vec();
    bytes.extend_from_slice(&[0x81, 0x85, 1, 2, 3, 4, 5]);
    let Ok(Preface::Request(req)) = read_preface(&bytes, 0, MAX) else {
        panic!()
    };
    assert_eq!(req.consumed, RFC_REQUEST.len());
}

#[test]
fn incomplete_heads() {
    let bytes = RFC_REQUEST.as_bytes();
    for end in 0..bytes.len() {
        assert!(
            matches!(read_preface(&bytes[..end], 0, MAX), Ok(Preface::Incomplete)),
            "{end} bytes"
        );
    }
}

#[test]
fn heads_over_the_size_bound() {
    let len = RFC_REQUEST.len();
    let err = read_preface(RFC_REQUEST.as_bytes(), 0, len - 1).unwrap_err();
    assert_eq!(
        err.message,
        format!("Request header too large ({len} bytes)")
    );
    assert!(read_preface(RFC_REQUEST.as_bytes(), 0, len).is_ok());
    // Still incomplete but already too large.
    let err = read_preface(&RFC_REQUEST.as_bytes()[..100], 0, 50).unwrap_err();
    assert_eq!(err.message, "Request header too large (100 bytes)");
}

#[test]
fn healthcheck() {
    for head in [
        "GET /healthcheck HTTP/1.1\r\n\r\n",
        "GET /healthcheck?probe=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /healthcheck HTTP/1.0\r\n\r\n",
    ] {
        assert!(
            matches!(
                read_preface(head.as_bytes(), 0, MAX),
                Ok(Preface::Healthcheck)
            ),
            "{head}"
        );
    }
    // Only once the head is complete.
    assert!(matches!(
        read_preface(b"GET /healthcheck HTTP/1.1\r\n", 0, MAX),
        Ok(Preface::Incomplete)
    ));
    for head in [
        "GET /healthcheck/more HTTP/1.1\r\n\r\n",
        "GET /healthcheckx HTTP/1.1\r\n\r\n",
        "POST /healthcheck HTTP/1.1\r\n\r\n",
    ] {
        assert!(
            matches!(
                read_preface(head.as_bytes(), 0, MAX),
                Ok(Preface::Request(_))
            ),
            "{head}"
        );
    }
    assert!(HEALTHCHECK_RESPONSE.ends_with(b"\r\n\r\nOK"));
}

#[test]
fn flash_policy_file_request() {
    for bytes in [
        &b"<policy-file-request/>\0"[..],
        b"<policy-file-request/>",
        b"<policy-file-request  />",
    ] {
        assert!(matches!(
            read_preface(bytes, 0, MAX),
            Ok(Preface::PolicyFile)
        ));
    }
    for partial in [
        &b"<"[..],
        b"<policy-file",
        b"<policy-file-request",
        b"<policy-file-request /",
    ] {
        assert!(matches!(
            read_preface(partial, 0, MAX),
            Ok(Preface::Incomplete)
        ));
    }
    assert!(read_preface(b"<policy-file-request>", 0, MAX).is_err());
    assert!(POLICY_FILE.starts_with(b"<?xml version=\"1.0\"?><cross-domain-policy>"));
}

#[test]
fn malformed_heads() {
    let err = read_preface(b"GET / HTTP/1.1\r\nNo Colon\r\n\r\n", 0, MAX).unwrap_err();
    assert!(err.message.starts_with("Invalid HTTP header: "), "{err}");
    let err = read_preface(b"\x16\x03\x01\x00\xa5\x01\x00", 0, MAX).unwrap_err();
    assert!(err.message.starts_with("Invalid HTTP header: "), "{err}");
}

#[test]
fn target_path_and_query() {
    let req = request(&hybi_request("/chat/room?user=a&x=%20", &[]));
    assert_eq!(req.target, "/chat/room?user=a&x=%20");
    assert_eq!(req.path, "/chat/room");
    assert_eq!(req.query_string, "user=a&x=%20");
    let req = request(&hybi_request("http://example.com:8080/abs?q=1", &[]));
    assert_eq!(
        (req.path.as_str(), req.query_string.as_str()),
        ("/abs", "q=1")
    );
}

// em-websocket's checks, messages and order

#[test]
fn must_be_get() {
    let head = hybi_request("/", &[]).replacen("GET", "POST", 1);
    assert_eq!(accept_error(&head), "Must be GET request");
    // Checked first.
    let head = hybi_request("/a|b", &["Upgrade: h2c"]).replacen("GET", "PUT", 1);
    assert_eq!(accept_error(&head), "Must be GET request");
}

#[test]
fn invalid_request_uri() {
    for target in ["/a|b", "/%zz", "/a{b}", "/\"x\"", "/é"] {
        assert_eq!(
            accept_error(&hybi_request(target, &[])),
            format!("Invalid request URI: {target}")
        );
    }
}

#[test]
fn not_an_upgrade_request() {
    assert_eq!(
        accept_error(&hybi_request("/", &["-connection"])),
        "Not an upgrade request"
    );
    assert_eq!(
        accept_error(&hybi_request("/", &["Connection: keep-alive"])),
        "Not an upgrade request"
    );
    assert_eq!(
        accept_error(&hybi_request("/", &["-upgrade"])),
        "Not an upgrade request"
    );
    // A token list, in any case, over any number of lines.
    for lines in [
        &["Connection: keep-alive, Upgrade"][..],
        &["Connection: UPGRADE"],
        &["Connection: keep-alive", "Connection: upgrade"],
    ] {
        let head = hybi_request("/", lines);
        assert!(
            accept(&request(&head), &HandshakeConfig::default()).is_ok(),
            "{head}"
        );
    }
}

#[test]
fn invalid_upgrade_header() {
    assert_eq!(
        accept_error(&hybi_request("/", &["Upgrade: h2c"])),
        "Invalid upgrade header: \"h2c\""
    );
    assert_eq!(
        accept_error(&hybi_request("/", &["Upgrade: websocket, h2c"])),
        "Invalid upgrade header: \"websocket, h2c\""
    );
    // Checked before the version.
    assert_eq!(
        accept_error(&hybi_request(
            "/",
            &["Upgrade: h2c", "Sec-WebSocket-Version: 4"]
        )),
        "Invalid upgrade header: \"h2c\""
    );
    let head = hybi_request("/", &["Upgrade: WebSocket"]);
    assert!(accept(&request(&head), &HandshakeConfig::default()).is_ok());
}

#[test]
fn sec_websocket_key_is_required() {
    assert_eq!(
        accept_error(&hybi_request("/", &["-sec-websocket-key"])),
        "sec-websocket-key header is required"
    );
}
