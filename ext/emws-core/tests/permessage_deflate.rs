//! permessage-deflate (RFC 7692) on an open connection and in the handshake.

mod common;
use bytes::{Bytes, BytesMut};
use common::server_frame;
use emws_core::deflate::{Compressor, Inflater};
use emws_core::handshake::{accept, read_preface, HandshakeConfig, Preface, Request};
use emws_core::{
    Config, DeflateConfig, DeflateParams, Draft, Incoming, OutKind, Protocol, ProtocolError,
};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;

fn params() -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
        min_size: 0,
        level: DeflateConfig::default().level,
    }
}

fn open_with(params: DeflateParams, max_frame_size: usize) -> Protocol {
    Protocol::new(
        Draft::Draft07,
        Config {
            max_frame_size,
            deflate: Some(params),
            ..Config::default()
        },
    )
}

fn open() -> Protocol {
    open_with(params(), 1 << 20)
}

/// A masked client frame.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    match payload.len() {
        0..=125 => f.push(0x80 | payload.len() as u8),
        126..=0xFFFF => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        _ => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&KEY);
    f.extend(payload.iter().zip(KEY.iter().cycle()).map(|(b, k)| b ^ k));
    f
}

fn receive(p: &mut Protocol, bytes: &[u8]) -> (Result<(), ProtocolError>, Vec<u8>, Vec<Incoming>) {
    let mut input = BytesMut::from(bytes);
    let (mut out, mut events) = (Vec::new(), Vec::new());
    let result = p.receive(&mut input, &mut out, &mut events);
    (result, out, events)
}

fn text(s: &str) -> Incoming {
    Incoming::Text(Bytes::copy_from_slice(s.as_bytes()))
}

/// RFC 7692 §7.2.3.1: "Hello", compressed.
const HELLO: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

#[test]
fn a_compressed_text_message() {
    let mut p = open();
    let (result, _, events) = receive(&mut p, &frame(FIN | RSV1 | 0x1, HELLO));
    assert_eq!((result, events), (Ok(()), vec![text("Hello")]));
    // Uncompressed messages stay allowed.
    let (result, _, events) = receive(&mut p, &frame(FIN | 0x1, b"plain"));
    assert_eq!((result, events), (Ok(()), vec![text("plain")]));
}

#[test]
fn rsv1_on_the_first_frame_only_covers_the_whole_message() {
    let mut p = open();
    let stream = [
        frame(RSV1 | 0x1, &HELLO[..3]),
        // A ping between fragments is not compressed, nor is its pong.
        frame(FIN | 0x9, b"ping"),
        frame(FIN, &HELLO[3..]),
    ]
    .concat();
    let (result, out, events) = receive(&mut p, &stream);
    assert_eq!(result, Ok(()));
    assert_eq!(
        events,
        [Incoming::Ping(Bytes::from_static(b"ping")), text("Hello")]
    );
    assert_eq!(out, [&[0x8A, 4][..], b"ping"].concat());
}

#[test]
fn rsv1_is_a_protocol_error_where_it_does_not_belong() {
    for (stream, message) in [
        (frame(RSV1 | FIN | 0x9, b""), "RSV1 set on a control frame"),
        (frame(RSV1 | FIN | 0x8, b""), "RSV1 set on a control frame"),
        (
            [frame(0x1, b"a"), frame(RSV1 | FIN, b"b")].concat(),
            "RSV1 set on a continuation frame",
        ),
        (
            frame(0x20 | FIN | 0x1, b"a"),
            "Reserved bits must be zero without a negotiated extension",
        ),
        (
            frame(0x10 | RSV1 | FIN | 0x1, HELLO),
            "Reserved bits must be zero without a negotiated extension",
        ),
    ] {
        let (result, _, _) = receive(&mut open(), &stream);
        let err = result.unwrap_err();
        assert_eq!((err.code(), err.message.as_str()), (1002, message));
    }
    // Without permessage-deflate, RSV1 is as reserved as the others.
    let mut p = Protocol::new(Draft::Draft07, Config::default());
    let (result, _, _) = receive(&mut p, &frame(RSV1 | FIN | 0x1, HELLO));
    assert_eq!(result.unwrap_err().code(), 1002);
}

#[test]
fn earlier_drafts_never_compress() {
    let mut p = Protocol::new(
        Draft::Draft06,
        Config {
            deflate: Some(params()),
            ..Config::default()
        },
    );
    assert_eq!(p.deflate(), None);
    let (header, payload) = server_frame(&mut p, OutKind::Text, Bytes::from(vec![b'a'; 1000]));
    assert_eq!(payload.len(), 1000);
    assert_eq!(header.as_bytes()[0] & RSV1, 0);
}

#[test]
fn invalid_utf8_inside_compressed_text_is_1007() {
    let bad = Compressor::new(15, true, emws_core::deflate::DEFAULT_LEVEL).compress(b"ok \xff\xfe");
    let (result, _, _) = receive(&mut open(), &frame(FIN | RSV1 | 0x1, &bad));
    assert_eq!(result.unwrap_err().code(), 1007);
    // Binary is not checked.
    let (result, _, events) = receive(&mut open(), &frame(FIN | RSV1 | 0x2, &bad));
    assert_eq!(result, Ok(()));
    assert_eq!(
        events,
        [Incoming::Binary(Bytes::from_static(b"ok \xff\xfe"))]
    );
}

#[test]
fn invalid_utf8_fails_at_the_fragment_that_inflates_it() {
    let bad = Compressor::new(15, true, emws_core::deflate::DEFAULT_LEVEL)
        .compress(&[b"x".repeat(100), b"\xff".to_vec()].concat());
    let mut p = open();
    let (result, _, _) = receive(&mut p, &frame(RSV1 | 0x1, &bad));
    assert_eq!(result.unwrap_err().code(), 1007);
}

#[test]
fn corrupt_deflate_data_is_1007() {
    let (result, _, _) = receive(&mut open(), &frame(FIN | RSV1 | 0x2, &[0xff, 0xff, 0xff]));
    let err = result.unwrap_err();
    assert_eq!(err.code(), 1007);
    assert!(err.message.starts_with("Invalid compressed data"));
}

#[test]
fn a_decompression_bomb_is_bounded_by_max_frame_size() {
    // 64 MiB of zeros fit a 64 KiB frame at level 9; max_frame_size is 1 MiB.
    let bomb = Compressor::new(15, true, 9).compress(&vec![0; 64 << 20]);
    assert!(bomb.len() < 100_000);
    let mut p = open_with(params(), 1 << 20);
    let (result, _, events) = receive(&mut p, &frame(FIN | RSV1 | 0x2, &bomb));
    let err = result.unwrap_err();
    assert_eq!(err.code(), 1009);
    assert_eq!(
        err.message,
        "Inflated message too large (over 1048576 bytes)"
    );
    assert!(events.is_empty());
    // The same bound across fragments: the first inflates to about 600 KiB,
    // the second takes the message over the bound.
    let data = Compressor::new(15, false, emws_core::deflate::DEFAULT_LEVEL)
        .compress(&vec![0; 1200 << 10]);
    let (first, second) = data.split_at(data.len() / 2);
    let mut p = open_with(params(), 1 << 20);
    let (result, _, _) = receive(&mut p, &frame(RSV1 | 0x2, first));
    assert_eq!(result, Ok(()));
    let (result, _, _) = receive(&mut p, &frame(FIN, second));
    assert_eq!(result.unwrap_err().code(), 1009);
}

#[test]
fn max_message_size_bounds_inflated_messages_too() {
    let data = Compressor::new(15, true, emws_core::deflate::DEFAULT_LEVEL).compress(&[b'a'; 5000]);
    let mut p = Protocol::new(
        Draft::Draft07,
        Config {
            max_message_size: 4096,
            deflate: Some(params()),
            ..Config::default()
        },
    );
    let (result, _, _) = receive(&mut p, &frame(FIN | RSV1 | 0x2, &data));
    assert_eq!(result.unwrap_err().code(), 1009);
}

#[test]
fn client_context_takeover_is_kept_unless_agreed_otherwise() {
    let mut client = Compressor::new(15, false, emws_core::deflate::DEFAULT_LEVEL);
    let message = "a message that repeats, a message that repeats";
    let first = frame(FIN | RSV1 | 0x1, &client.compress(message.as_bytes()));
    let second = frame(FIN | RSV1 | 0x1, &client.compress(message.as_bytes()));
    let mut p = open();
    for f in [&first, &second] {
        let (result, _, events) = receive(&mut p, f);
        assert_eq!((result, events), (Ok(()), vec![text(message)]));
    }
    // With client_no_context_takeover the inflater forgets the first message,
    // so a client breaking the agreement fails.
    let mut p = open_with(
        DeflateParams {
            client_no_context_takeover: true,
            ..params()
        },
        1 << 20,
    );
    assert_eq!(receive(&mut p, &first).0, Ok(()));
    assert_eq!(receive(&mut p, &second).0.unwrap_err().code(), 1007);
}

/// Inflates what the server sent, as a client would.
fn server_messages(
    out: &[(emws_core::frame::FrameHeader, Bytes)],
    inflater: &mut Inflater,
) -> Vec<Vec<u8>> {
    out.iter()
        .map(|(header, payload)| {
            if header.as_bytes()[0] & RSV1 == 0 {
                return payload.to_vec();
            }
            let mut message = Vec::new();
            inflater
                .inflate(payload, &mut message, usize::MAX - 1)
                .unwrap();
            inflater.finish(&mut message, usize::MAX - 1).unwrap();
            message
        })
        .collect()
}

#[test]
fn sent_messages_are_compressed_with_rsv1() {
    let mut p = open();
    let message = Bytes::from("compress me ".repeat(100));
    let (header, payload) = server_frame(&mut p, OutKind::Text, message.clone());
    assert_eq!(header.as_bytes()[0], FIN | RSV1 | 0x1);
    assert!(payload.len() < 100, "{}", payload.len());
    let mut inflater = Inflater::new(15, false);
    assert_eq!(
        server_messages(&[(header, payload)], &mut inflater),
        [message.to_vec()]
    );
}

#[test]
fn control_frames_are_never_compressed() {
    let mut p = open();
    for kind in [OutKind::Ping, OutKind::Pong] {
        let (header, payload) = server_frame(&mut p, kind, Bytes::from(vec![b'a'; 100]));
        assert_eq!(header.as_bytes()[0] & RSV1, 0, "{kind:?}");
        assert_eq!(payload.len(), 100);
    }
    let mut out = Vec::new();
    p.close(Some(1000), &[b'a'; 100], &mut out);
    assert_eq!(out[0], 0x88);
}

#[test]
fn messages_under_min_size_go_uncompressed() {
    let mut p = open_with(
        DeflateParams {
            min_size: 64,
            ..params()
        },
        1 << 20,
    );
    let (header, payload) = server_frame(&mut p, OutKind::Binary, Bytes::from(vec![0; 63]));
    assert_eq!((header.as_bytes()[0], payload.len()), (FIN | 0x2, 63));
    let (header, payload) = server_frame(&mut p, OutKind::Binary, Bytes::from(vec![0; 64]));
    assert_eq!(header.as_bytes()[0], FIN | RSV1 | 0x2);
    assert!(payload.len() < 64);
}

#[test]
fn server_context_takeover_on_and_off() {
    let message = Bytes::from("the same message, again and again. ".repeat(10));
    let mut taking_over = open();
    let mut fresh = open_with(
        DeflateParams {
            server_no_context_takeover: true,
            ..params()
        },
        1 << 20,
    );
    let frames: Vec<_> = (0..3)
        .map(|_| server_frame(&mut taking_over, OutKind::Text, message.clone()))
        .collect();
    assert!(frames[1].1.len() < frames[0].1.len() / 2);
    let mut inflater = Inflater::new(15, false);
    assert_eq!(
        server_messages(&frames, &mut inflater),
        vec![message.to_vec(); 3]
    );

    let frames: Vec<_> = (0..3)
        .map(|_| server_frame(&mut fresh, OutKind::Text, message.clone()))
        .collect();
    assert_eq!(frames[0].1, frames[1].1);
    // A client that forgets its window between messages reads them all.
    let mut inflater = Inflater::new(15, true);
    assert_eq!(
        server_messages(&frames, &mut inflater),
        vec![message.to_vec(); 3]
    );
}

#[test]
fn incompressible_messages_without_context_takeover_go_as_they_are() {
    let mut p = open_with(
        DeflateParams {
            server_no_context_takeover: true,
            ..params()
        },
        1 << 20,
    );
    let noise: Vec<u8> = (0..200u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (header, payload) = server_frame(&mut p, OutKind::Binary, Bytes::from(noise.clone()));
    assert_eq!(header.as_bytes()[0], FIN | 0x2);
    assert_eq!(payload, noise);
}

// The handshake

fn request(extensions: &[&str]) -> Request {
    let mut head = String::from(
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n",
    );
    for value in extensions {
        head.push_str(&format!("Sec-WebSocket-Extensions: {value}\r\n"));
    }
    head.push_str("\r\n");
    match read_preface(head.as_bytes(), 0, 1 << 14) {
        Ok(Preface::Request(req)) => *req,
        other => panic!("{other:?}"),
    }
}

fn compressing() -> HandshakeConfig {
    HandshakeConfig {
        compression: Some(DeflateConfig::default()),
        ..HandshakeConfig::default()
    }
}

fn extensions_header(response: &[u8]) -> Option<String> {
    String::from_utf8_lossy(response).lines().find_map(|line| {
        line.strip_prefix("Sec-WebSocket-Extensions: ")
            .map(str::to_owned)
    })
}

#[test]
fn handshake_accepts_an_offer_when_compression_is_on() {
    let accepted = accept(
        &request(&["permessage-deflate; client_max_window_bits"]),
        &compressing(),
    )
    .unwrap();
    assert_eq!(
        extensions_header(&accepted.response).as_deref(),
        Some("permessage-deflate")
    );
    assert_eq!(
        accepted.deflate,
        Some(DeflateParams {
            min_size: DeflateConfig::default().min_size,
            ..params()
        })
    );
    assert!(accepted.response.ends_with(b"\r\n\r\n"));
}

#[test]
fn handshake_ignores_offers_when_compression_is_off() {
    let accepted = accept(
        &request(&["permessage-deflate"]),
        &HandshakeConfig::default(),
    )
    .unwrap();
    assert_eq!(extensions_header(&accepted.response), None);
    assert_eq!(accepted.deflate, None);
}

#[test]
fn handshake_declines_what_it_cannot_accept() {
    for offers in [
        &[][..],
        &["x-webkit-deflate-frame"],
        &["permessage-deflate; server_max_window_bits=7"],
        &["permessage-deflate; foo=bar"],
        &["permessage-deflate; ; ;"],
    ] {
        let accepted = accept(&request(offers), &compressing()).unwrap();
        assert_eq!(extensions_header(&accepted.response), None, "{offers:?}");
        assert_eq!(accepted.deflate, None);
    }
}

#[test]
fn handshake_reads_offers_across_header_lines() {
    let accepted = accept(
        &request(&[
            "permessage-deflate; bogus",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
        ]),
        &compressing(),
    )
    .unwrap();
    assert_eq!(
        extensions_header(&accepted.response).as_deref(),
        Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=10")
    );
}

#[test]
fn handshake_of_earlier_drafts_ignores_offers() {
    let head = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 6\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    let Ok(Preface::Request(req)) = read_preface(head.as_bytes(), 0, 1 << 14) else {
        panic!()
    };
    let accepted = accept(&req, &compressing()).unwrap();
    assert_eq!((accepted.draft, accepted.deflate), (Draft::Draft06, None));
    assert_eq!(extensions_header(&accepted.response), None);
}
