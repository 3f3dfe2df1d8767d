//! The request parser and the handshake of every draft: the opening bytes
//! arrive in pieces, [`read_preface`] is asked after each, and an accepted
//! request's response is checked and the bytes after it are read as frames.

use bytes::BytesMut;
use emws_core::handshake::{accept, read_preface, HandshakeConfig, Preface};
use emws_core::{Config, Protocol};

use crate::Input;

/// Bounds on the request head the knobs choose from (the server's default
/// is 16 KiB).
const MAX_SIZES: [usize; 4] = [16 * 1024, 64, 512, 4096];
/// Drafts 76 and 01-03 wait for an 8-byte third key after the head.
const THIRD_KEY: usize = 8;

/// knobs: bits 0-1 the head bound, bit 2 TLS (`wss://` locations), bit 3
/// subprotocols configured on the server.
pub fn run(data: &[u8]) {
    let input = Input::parse(data);
    let knobs = usize::from(input.knobs);
    let max_size = MAX_SIZES[knobs & 3];
    let config = HandshakeConfig {
        secure: knobs & 0b100 != 0,
        protocols: if knobs & 0b1000 != 0 {
            vec!["chat".into(), "superchat".into()]
        } else {
            Vec::new()
        },
        ..HandshakeConfig::default()
    };

    let mut received = 0;
    for chunk in input.chunks() {
        received += chunk.len();
        let buf = &input.stream[..received];
        match read_preface(buf, 0, max_size) {
            Ok(Preface::Incomplete) => assert!(
                received <= max_size + THIRD_KEY,
                "{received} bytes held as an incomplete request (bound {max_size})"
            ),
            Ok(Preface::PolicyFile | Preface::Healthcheck) | Err(_) => return,
            Ok(Preface::Request(request)) => {
                assert!(request.consumed <= received, "consumed more than received");
                if let Ok(accepted) = accept(&request, &config) {
                    check_response(&accepted.response);
                    // What followed the head is the client's first frames.
                    let mut protocol = Protocol::new(accepted.draft, Config::default());
                    let mut rest = BytesMut::from(&buf[request.consumed..]);
                    let _ = protocol.receive(&mut rest, &mut Vec::new(), &mut Vec::new());
                }
                return;
            }
        }
    }
}

/// A 101 whose head no client-supplied header or path can add lines to:
/// every CR is followed by LF and every LF preceded by CR.
pub fn check_response(response: &[u8]) {
    let show = || String::from_utf8_lossy(response).into_owned();
    assert!(
        response.starts_with(b"HTTP/1.1 101 "),
        "not a 101: {:?}",
        show()
    );
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("the response head never ends: {:?}", show()));
    let head = &response[..head_end + 2];
    for (i, &b) in head.iter().enumerate() {
        let stray = match b {
            b'\r' => head.get(i + 1) != Some(&b'\n'),
            b'\n' => i == 0 || head[i - 1] != b'\r',
            0 => true,
            _ => false,
        };
        assert!(
            !stray,
            "a stray {b:#04x} at {i} in the response head: {:?}",
            show()
        );
    }
}
