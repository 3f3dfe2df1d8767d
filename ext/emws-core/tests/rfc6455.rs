//! The connection state machine under RFC 6455 (versions 7, 8 and 13).

mod common;
use bytes::{Bytes, BytesMut};
use common::encode;
use emws_core::{Config, Draft, Incoming, OutKind, Protocol, ProtocolError, State};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn open() -> Protocol {
    Protocol::new(Draft::Draft07, Config::default())
}

fn open_with(config: Config) -> Protocol {
    Protocol::new(Draft::Draft07, config)
}

/// What one call to `receive` produced.
#[derive(Debug, PartialEq)]
struct Received {
    result: Result<(), ProtocolError>,
    out: Vec<u8>,
    events: Vec<Incoming>,
    left: usize,
}

fn receive(p: &mut Protocol, bytes: &[u8]) -> Received {
    let mut input = BytesMut::from(bytes);
    let mut out = Vec::new();
    let mut events = Vec::new();
    let result = p.receive(&mut input, &mut out, &mut events);
    Received {
        result,
        out,
        events,
        left: input.len(),
    }
}

fn error(p: &mut Protocol, bytes: &[u8]) -> ProtocolError {
    receive(p, bytes).result.unwrap_err()
}

/// A client frame: `first` byte, masked with `KEY`, minimal length.
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

fn text(s: &str) -> Incoming {
    Incoming::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn binary(b: &[u8]) -> Incoming {
    Incoming::Binary(Bytes::copy_from_slice(b))
}

fn close_event(code: Option<u16>, reason: &str) -> Incoming {
    Incoming::Close {
        code,
        reason: Bytes::copy_from_slice(reason.as_bytes()),
    }
}

// RFC 6455 §5.7 examples

#[test]
fn single_frame_unmasked_text() {
    let mut p = open();
    let r = receive(&mut p, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.events, [text("Hello")]);
    assert_eq!((r.out.len(), r.left), (0, 0));
}

#[test]
fn single_frame_masked_text() {
    let mut p = open();
    let bytes = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(frame(0x81, b"Hello"), bytes);
    let r = receive(&mut p, &bytes);
    assert_eq!(r.events, [text("Hello")]);
    assert_eq!(r.left, 0);
}

#[test]
fn fragmented_unmasked_text() {
    let mut p = open();
    let r = receive(&mut p, &[0x01, 0x03, 0x48, 0x65, 0x6c]);
    assert_eq!((r.result, r.events.len(), r.left), (Ok(()), 0, 0));
    let r = receive(&mut p, &[0x80, 0x02, 0x6c, 0x6f]);
    assert_eq!(r.events, [text("Hello")]);
}

#[test]
fn unmasked_ping_is_answered_with_a_pong() {
    let mut p = open();
    let r = receive(&mut p, &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(r.events, [Incoming::Ping(Bytes::from_static(b"Hello"))]);
    assert_eq!(r.out, [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
}

#[test]
fn masked_pong() {
    let mut p = open();
    let r = receive(
        &mut p,
        &[
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
    );
    assert_eq!(r.events, [Incoming::Pong(Bytes::from_static(b"Hello"))]);
    assert!(r.out.is_empty());
}

#[test]
fn binary_with_16_bit_length() {
    let payload: Vec<u8> = (0..=255).collect();
    let mut bytes = vec![0x82, 0x7E, 0x01, 0x00];
    bytes.extend_from_slice(&payload);
    let r = receive(&mut open(), &bytes);
    assert_eq!(r.events, [binary(&payload)]);
}

#[test]
fn binary_with_64_bit_length() {
    let payload: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    let mut bytes = vec![0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
    bytes.extend_from_slice(&payload);
    let r = receive(&mut open(), &bytes);
    assert_eq!(r.events, [binary(&payload)]);
    // And masked.
    let r = receive(&mut open(), &frame(0x82, &payload));
    assert_eq!(r.events, [binary(&payload)]);
}

// Streams split anywhere

fn sample_stream() -> Vec<u8> {
    let mut s = Vec::new();
    s.extend(frame(0x81, "κόσμε".as_bytes()));
    // Fragmented text, a code point split across fragments, ping in between.
    s.extend(frame(0x01, b"frag \xe2\x82"));
    s.extend(frame(0x89, b"ping!"));
    s.extend(frame(0x00, b"\xac "));
    s.extend(frame(0x80, b"end"));
    s.extend(frame(0x82, &[7; 300]));
    s.extend(frame(0x8A, b""));
    s.extend(frame(0x82, &[]));
    s.extend(frame(0x88, b"\x03\xe9bye"));
    s
}

fn expected_events() -> Vec<Incoming> {
    vec![
        text("κόσμε"),
        Incoming::Ping(Bytes::from_static(b"ping!")),
        text("frag € end"),
        binary(&[7; 300]),
        Incoming::Pong(Bytes::new()),
        binary(&[]),
        close_event(Some(1001), "bye"),
    ]
}

fn expected_out() -> Vec<u8> {
    let mut out = vec![0x8A, 5];
    out.extend_from_slice(b"ping!");
    out.extend_from_slice(&[0x88, 2, 0x03, 0xe9]);
    out
}

#[test]
fn whole_stream_at_once() {
    let mut p = open();
    let r = receive(&mut p, &sample_stream());
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.events, expected_events());
    assert_eq!(r.out, expected_out());
    assert_eq!(p.state(), State::Closed);
}

#[test]
fn stream_split_at_every_position_gives_the_same_events() {
    let stream = sample_stream();
    for split in 0..=stream.len() {
        let mut p = open();
        let mut input = BytesMut::from(&stream[..split]);
        let (mut out, mut events) = (Vec::new(), Vec::new());
        p.receive(&mut input, &mut out, &mut events).unwrap();
        input.extend_from_slice(&stream[split..]);
        p.receive(&mut input, &mut out, &mut events).unwrap();
        assert_eq!(events, expected_events(), "split at {split}");
        assert_eq!(out, expected_out(), "split at {split}");
        assert!(input.is_empty());
    }
}

#[test]
fn stream_fed_byte_by_byte_gives_the_same_events() {
    let mut p = open();
    let mut input = BytesMut::new();
    let (mut out, mut events) = (Vec::new(), Vec::new());
    for &b in &sample_stream() {
        input.extend_from_slice(&[b]);
        p.receive(&mut input, &mut out, &mut events).unwrap();
    }
    assert_eq!(events, expected_events());
    assert_eq!(out, expected_out());
}

#[test]
fn partial_frames_stay_in_the_input() {
    let mut p = open();
    let bytes = frame(0x81, b"Hello");
    let mut input = BytesMut::from(&bytes[..4]);
    let (mut out, mut events) = (Vec::new(), Vec::new());
    p.receive(&mut input, &mut out, &mut events).unwrap();
    assert!(events.is_empty());
    // Two bytes of header and two of key are still to come.
    assert_eq!(input.len(), 4);
}

// Frame header rules

#[test]
fn frame_too_long_fails_before_the_payload_arrives() {
    // em-websocket: header (2) + payload (5) + mask (4) = 11 bytes.
    let mut p = open_with(Config {
        max_frame_size: 10,
        ..Config::default()
    });
    // Header and masking key only.
    let err = error(&mut p, &frame(0x81, b"Hello")[..6]);
    assert_eq!(err.code(), 1009);
    assert_eq!(err.message, "Frame length too long (11 bytes)");

    // Unmasked, 2 + 8 = 10 is within the bound.
    let mut p = open_with(Config {
        max_frame_size: 10,
        ..Config::default()
    });
    let r = receive(&mut p, b"\x82\x08abcdefgh");
    assert_eq!(r.events, [binary(b"abcdefgh")]);
    assert_eq!(
        error(&mut p, b"\x82\x09").message,
        "Frame length too long (11 bytes)"
    );
}

#[test]
fn frame_too_long_counts_extended_lengths() {
    let mut p = open_with(Config {
        max_frame_size: 1000,
        ..Config::default()
    });
    // 4 + 1000 + 4
    let err = error(&mut p, &[0x82, 0xFE, 0x03, 0xE8, 1, 2, 3, 4]);
    assert_eq!(err.message, "Frame length too long (1008 bytes)");
    // 10 + 2^40 + 4: em-websocket read only 4 of the 8 length bytes.
    let mut p = open();
    let err = error(&mut p, &[0x82, 0xFF, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    assert_eq!(err.message, "Frame length too long (1099511627790 bytes)");
}

#[test]
fn set_max_frame_size_applies_to_the_next_frames() {
    let mut p = open();
    p.set_max_frame_size(5);
    assert_eq!(
        error(&mut p, &[0x81, 0x04]).message,
        "Frame length too long (6 bytes)"
    );
}

#[test]
fn sixty_four_bit_length_with_top_bit_set() {
    let err = error(&mut open(), &[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(err.code(), 1002);
}

#[test]
fn unknown_opcodes() {
    for opcode in [3u8, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
        let err = error(&mut open(), &frame(0x80 | opcode, b""));
        assert_eq!(err.code(), 1002);
        assert_eq!(err.message, format!("Unknown opcode {opcode}"));
    }
}

#[test]
fn reserved_bits_without_extension() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        let err = error(&mut open(), &frame(0x81 | rsv, b"x"));
        assert_eq!(err.code(), 1002, "rsv {rsv:x}");
    }
}

#[test]
fn continuation_rules() {
    let err = error(&mut open(), &frame(0x80, b"x"));
    assert_eq!(
        (err.code(), err.message.as_str()),
        (1002, "Continuation frame not expected")
    );
    let err = error(
        &mut open(),
        &[frame(0x01, b"a"), frame(0x81, b"b")].concat(),
    );
    assert_eq!(
        (err.code(), err.message.as_str()),
        (1002, "Continuation frame expected")
    );
    let err = error(
        &mut open(),
        &[frame(0x02, b"a"), frame(0x82, b"b")].concat(),
    );
    assert_eq!(err.message, "Continuation frame expected");
    // A finished message allows a new one.
    let r = receive(
        &mut open(),
        &[frame(0x01, b"a"), frame(0x80, b"b"), frame(0x81, b"c")].concat(),
    );
    assert_eq!(r.events, [text("ab"), text("c")]);
}

#[test]
fn control_frames_must_not_be_fragmented() {
    for opcode in [0x08, 0x09, 0x0A] {
        let err = error(&mut open(), &frame(opcode, b""));
        assert_eq!(
            (err.code(), err.message.as_str()),
            (1002, "Control frames must not be fragmented")
        );
    }
}

#[test]
fn control_frames_carry_at_most_125_bytes() {
    let r = receive(&mut open(), &frame(0x89, &[1; 125]));
    assert_eq!(r.result, Ok(()));
    for opcode in [0x88, 0x89, 0x8A] {
        let err = error(&mut open(), &frame(opcode, &[1; 126]));
        assert_eq!(err.code(), 1002);
    }
}

#[test]
fn unmasked_frames_are_accepted_unless_masking_is_required() {
    let mut p = open_with(Config {
        strict_masking: true,
        ..Config::default()
    });
    let err = error(&mut p, b"\x81\x02hi");
    assert_eq!(
        (err.code(), err.message.as_str()),
        (1002, "Received unmasked frame")
    );
    let mut p = open_with(Config {
        strict_masking: true,
        ..Config::default()
    });
    assert_eq!(receive(&mut p, &frame(0x81, b"hi")).events, [text("hi")]);
}

// Messages

#[test]
fn control_frames_interleaved_with_fragments() {
    let stream = [
        frame(0x02, b"ab"),
        frame(0x89, b"p"),
        frame(0x00, b"cd"),
        frame(0x8A, b"q"),
        frame(0x80, b"ef"),
    ]
    .concat();
    let r = receive(&mut open(), &stream);
    assert_eq!(
        r.events,
        [
            Incoming::Ping(Bytes::from_static(b"p")),
            Incoming::Pong(Bytes::from_static(b"q")),
            binary(b"abcdef")
        ]
    );
    assert_eq!(r.out, [0x8A, 1, b'p']);
}

#[test]
fn empty_fragments() {
    let stream = [frame(0x01, b""), frame(0x00, b""), frame(0x80, b"")].concat();
    assert_eq!(receive(&mut open(), &stream).events, [text("")]);
}

#[test]
fn message_size_bound() {
    let config = Config {
        max_message_size: 10,
        ..Config::default()
    };
    let mut p = open_with(config);
    let r = receive(
        &mut p,
        &[frame(0x01, b"abcdef"), frame(0x80, b"ghij")].concat(),
    );
    assert_eq!(r.events, [text("abcdefghij")]);
    // The second fragment's header is enough to know.
    let mut p = open_with(config);
    let stream = [frame(0x01, b"abcdef"), frame(0x80, b"ghijk")].concat();
    let err = error(&mut p, &stream[..stream.len() - 5]);
    assert_eq!(
        (err.code(), err.message.as_str()),
        (1009, "Message too large (11 bytes)")
    );
    let err = error(&mut open_with(config), &frame(0x82, &[0; 11]));
    assert_eq!(err.message, "Message too large (11 bytes)");
    // 0: no bound.
    let r = receive(&mut open(), &frame(0x82, &[0; 70000]));
    assert_eq!(r.events.len(), 1);
}

// UTF-8

#[test]
fn invalid_utf8_text() {
    let err = error(
        &mut open(),
        &frame(
            0x81,
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
        ),
    );
    assert_eq!(
        (err.code(), err.message.as_str()),
        (1007, "Invalid UTF8 data")
    );
}

#[test]
fn invalid_utf8_fails_in_the_middle_of_a_fragmented_message() {
    let mut p = open();
    assert_eq!(receive(&mut p, &frame(0x01, b"valid ")).result, Ok(()));
    // Not the last fragment, yet it already fails.
    let err = error(&mut p, &frame(0x00, b"\xff more"));
    assert_eq!(err.code(), 1007);
}

#[test]
fn invalid_utf8_fails_before_its_frame_is_complete() {
    let mut p = open();
    let bytes = frame(0x81, b"abc\xc0def ghi");
    // Header, key and the first four payload bytes only.
    let err = error(&mut p, &bytes[..10]);
    assert_eq!(err.code(), 1007);
}

#[test]
fn code_points_split_across_fragments_are_fine() {
    let euro = "€".as_bytes();
    for split in 0..=euro.len() {
        let stream = [frame(0x01, &euro[..split]), frame(0x80, &euro[split..])].concat();
        assert_eq!(receive(&mut open(), &stream).events, [text("€")], "{split}");
    }
}

#[test]
fn incomplete_code_point_at_the_end_of_a_message() {
    let err = error(&mut open(), &frame(0x81, b"ab\xe2\x82"));
    assert_eq!(err.code(), 1007);
    let err = error(
        &mut open(),
        &[frame(0x01, b"ab\xe2"), frame(0x80, b"\x82")].concat(),
    );
    assert_eq!(err.code(), 1007);
}

#[test]
fn binary_is_not_validated() {
    let r = receive(&mut open(), &frame(0x82, b"\xff\xfe"));
    assert_eq!(r.events, [binary(b"\xff\xfe")]);
}

// Closing handshake

#[test]
fn close_received_while_open_is_echoed_with_its_code() {
    let mut p = open();
    let r = receive(&mut p, &frame(0x88, b"\x0f\xa0app reason"));
    assert_eq!(r.events, [close_event(Some(4000), "app reason")]);
    assert_eq!(r.out, [0x88, 0x02, 0x0f, 0xa0]);
    assert_eq!(p.state(), State::Closed);
}

#[test]
fn close_without_code_is_echoed_with_1000() {
    let mut p = open();
    let r = receive(&mut p, &frame(0x88, b""));
    assert_eq!(r.events, [close_event(None, "")]);
    assert_eq!(r.out, [0x88, 0x02, 0x03, 0xe8]);
}

#[test]
fn every_valid_close_code_is_accepted() {
    for code in (1000..=1003u16).chain(1007..=1014).chain(3000..=4999) {
        let mut p = open();
        let r = receive(&mut p, &frame(0x88, &code.to_be_bytes()));
        assert_eq!(r.events, [close_event(Some(code), "")], "{code}");
        let mut echo = vec![0x88, 2];
        echo.extend_from_slice(&code.to_be_bytes());
        assert_eq!(r.out, echo);
    }
}

#[test]
fn every_invalid_close_code_is_a_protocol_error() {
    let invalid = (0..1000u16)
        .chain([1004, 1005, 1006, 1015])
        .chain(1016..3000)
        .chain(5000..=u16::MAX);
    for code in invalid {
        let err = error(&mut open(), &frame(0x88, &code.to_be_bytes()));
        assert_eq!(err.code(), 1002, "{code}");
        assert_eq!(err.message, format!("Invalid close code {code}"));
    }
}

#[test]
fn one_byte_close_body() {
    let err = error(&mut open(), &frame(0x88, b"\x03"));
    assert_eq!(
        (err.code(), err.message.as_str()),
        (
            1002,
            "Close frames with a body must contain a 2 byte status code"
        )
    );
}

#[test]
fn close_reason_must_be_utf8() {
    let err = error(&mut open(), &frame(0x88, b"\x03\xe8\xff"));
    assert_eq!(err.code(), 1007);
    // A reason cut inside a code point is invalid too.
    let err = error(&mut open(), &frame(0x88, b"\x03\xe8\xe2\x82"));
    assert_eq!(err.code(), 1007);
    let mut body = b"\x03\xe8".to_vec();
    body.extend_from_slice("€".as_bytes());
    assert_eq!(
        receive(&mut open(), &frame(0x88, &body)).events,
        [close_event(Some(1000), "€")]
    );
}

#[test]
fn server_initiated_close() {
    let mut p = open();
    let mut out = Vec::new();
    p.close(Some(1000), b"bye", &mut out);
    assert_eq!(out, [0x88, 0x05, 0x03, 0xe8, b'b', b'y', b'e']);
    assert_eq!(p.state(), State::Closing);
    // Data frames may still arrive, and pings are still answered.
    let r = receive(&mut p, &[frame(0x81, b"late"), frame(0x89, b"")].concat());
    assert_eq!(r.events, [text("late"), Incoming::Ping(Bytes::new())]);
    assert_eq!(r.out, [0x8A, 0]);
    // The peer's close ends it, with nothing written.
    let r = receive(&mut p, &frame(0x88, b"\x03\xe8"));
    assert_eq!(r.events, [close_event(Some(1000), "")]);
    assert!(r.out.is_empty());
    assert_eq!(p.state(), State::Closed);
}

#[test]
fn close_without_code_has_an_empty_body() {
    let mut p = open();
    let mut out = Vec::new();
    p.close(None, b"ignored", &mut out);
    assert_eq!(out, [0x88, 0x00]);
}

#[test]
fn close_reason_is_cut_to_fit_a_control_frame() {
    let mut p = open();
    let mut out = Vec::new();
    p.close(Some(4000), "ü".repeat(100).as_bytes(), &mut out);
    // 61 two-byte characters fit in 123 bytes.
    assert_eq!(out[1], 2 + 122);
    assert_eq!(out.len(), 2 + 2 + 122);
}

#[test]
fn close_is_a_no_op_unless_open() {
    let mut p = open();
    let mut out = Vec::new();
    p.close(Some(1000), b"", &mut out);
    out.clear();
    p.close(Some(1000), b"", &mut out);
    assert!(out.is_empty());
    assert_eq!(p.state(), State::Closing);
}

#[test]
fn data_after_closed_is_ignored() {
    let mut p = open();
    let r = receive(
        &mut p,
        &[frame(0x88, b""), frame(0x81, b"after"), vec![0xFF, 0xFF]].concat(),
    );
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.events, [close_event(None, "")]);
    assert_eq!(r.left, 0);
    let r = receive(&mut p, &frame(0x81, b"later"));
    assert_eq!((r.result, r.events.len(), r.out.len()), (Ok(()), 0, 0));
}

// Failing the connection

#[test]
fn fail_sends_the_error_code_and_message() {
    let mut p = open();
    let err = error(&mut p, &frame(0x81, b"\xff"));
    let mut out = Vec::new();
    p.fail(&err, &mut out);
    let mut expected = vec![0x88, 2 + 17, 0x03, 0xEF];
    expected.extend_from_slice(b"Invalid UTF8 data");
    assert_eq!(out, expected);
    assert_eq!(p.state(), State::Closed);
    // Nothing more is decoded.
    let r = receive(&mut p, &frame(0x81, b"x"));
    assert!(r.events.is_empty());
}

#[test]
fn fail_while_closing_sends_no_second_close_frame() {
    let mut p = open();
    let mut out = Vec::new();
    p.close(Some(1000), b"", &mut out);
    let err = error(&mut p, &frame(0x83, b""));
    out.clear();
    p.fail(&err, &mut out);
    assert!(out.is_empty());
    assert_eq!(p.state(), State::Closed);
}

#[test]
fn fail_with_message_too_big() {
    let mut p = open_with(Config {
        max_frame_size: 10,
        ..Config::default()
    });
    let err = error(&mut p, &frame(0x82, &[0; 20]));
    let mut out = Vec::new();
    p.fail(&err, &mut out);
    let message = b"Frame length too long (26 bytes)";
    assert_eq!(&out[..4], [0x88, 2 + message.len() as u8, 0x03, 0xF1]);
    assert_eq!(&out[4..], message);
}

// Sending

#[test]
fn outgoing_frames_are_unmasked_and_minimal() {
    let mut p = open();
    let mut out = Vec::new();
    encode(&mut p, OutKind::Text, b"Hello", &mut out);
    assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    out.clear();
    encode(&mut p, OutKind::Ping, b"Hello", &mut out);
    assert_eq!(&out[..2], [0x89, 0x05]);
    out.clear();
    encode(&mut p, OutKind::Pong, b"", &mut out);
    assert_eq!(out, [0x8A, 0x00]);
    out.clear();
    encode(&mut p, OutKind::Binary, &[0; 256], &mut out);
    assert_eq!(&out[..4], [0x82, 0x7E, 0x01, 0x00]);
    assert_eq!(out.len(), 4 + 256);
    out.clear();
    encode(&mut p, OutKind::Binary, &vec![0; 65536], &mut out);
    assert_eq!(&out[..10], [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(out.len(), 10 + 65536);
}

#[test]
fn header_and_trailer_for_large_payloads() {
    let mut p = open();
    let frame = p.frame(OutKind::Binary, &vec![0; 1 << 20]);
    assert_eq!(
        frame.header.as_bytes(),
        [0x82, 0x7F, 0, 0, 0, 0, 0, 0x10, 0, 0]
    );
    assert_eq!(frame.header.as_ref(), frame.header.as_bytes());
    assert!(frame.trailer.is_empty());
    assert!(p.frame(OutKind::Text, b"x").trailer.is_empty());
}

#[test]
fn check_send_follows_the_state() {
    let mut p = open();
    for kind in [OutKind::Text, OutKind::Binary, OutKind::Ping, OutKind::Pong] {
        assert_eq!(p.check_send(kind), Ok(()));
    }
    p.close(Some(1000), b"", &mut Vec::new());
    assert_eq!(
        p.check_send(OutKind::Text),
        Err("Cannot send data frame since connection is closing".to_owned())
    );
    assert!(p.check_send(OutKind::Binary).is_err());
    assert_eq!(p.check_send(OutKind::Ping), Ok(()));
    receive(&mut p, &frame(0x88, b""));
    assert_eq!(p.state(), State::Closed);
    for kind in [OutKind::Text, OutKind::Binary, OutKind::Ping, OutKind::Pong] {
        assert!(p.check_send(kind).is_err());
    }
}

#[test]
fn drafts_8_and_13_share_rfc6455() {
    assert_eq!(Draft::from_version(8), Some(Draft::Draft07));
    assert_eq!(Draft::from_version(13), Some(Draft::Draft07));
    let p = open();
    assert!(p.draft().pingable());
    assert!(p.draft().supports_close_codes());
}
