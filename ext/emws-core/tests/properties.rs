//! Properties over generated inputs (proptest), for every draft family:
//!
//! * what a client encodes (any messages, masking, fragmentation, control
//!   frames between fragments) decodes to the same events and pongs, however
//!   the byte stream is cut into reads;
//! * what the core encodes (data, control, close, compressed) it decodes back;
//! * arbitrary bytes never panic, and what stays buffered between reads is
//!   bounded by `max_frame_size`;
//! * a request head cut anywhere is incomplete until its last byte.

mod common;
use bytes::{Bytes, BytesMut};
use common::{encode, server_frame};
use emws_core::handshake::{read_preface, Preface};
use emws_core::{Config, DeflateParams, Draft, Incoming, OutKind, Protocol, ProtocolError, State};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

const DRAFTS: [Draft; 6] = [
    Draft::Draft75,
    Draft::Draft76,
    Draft::Draft03,
    Draft::Draft05,
    Draft::Draft06,
    Draft::Draft07,
];
/// The longest header a partial frame may leave buffered: draft 05's key,
/// two bytes and a 64-bit length.
const MAX_HEADER: usize = 14;

// ---- messages and how a client sends them ----

#[derive(Debug, Clone)]
enum Message {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

/// A message and how it is framed: where a data message is cut into
/// fragments, the masking keys, and a ping sent between its fragments.
#[derive(Debug, Clone)]
struct Sent {
    message: Message,
    cuts: Vec<Index>,
    keys: Vec<Option<[u8; 4]>>,
    interleaved_ping: Option<Vec<u8>>,
}

fn any_text() -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..80).prop_map(|chars| chars.into_iter().collect())
}

fn message(draft: Draft) -> BoxedStrategy<Message> {
    let control = || vec(any::<u8>(), 0..=125);
    if draft.is_hixie() {
        // Binary becomes a length-prefixed frame, which drafts 75/76 skip.
        prop_oneof![
            3 => any_text().prop_map(Message::Text),
            1 => vec(any::<u8>(), 1..300).prop_map(Message::Binary),
        ]
        .boxed()
    } else {
        prop_oneof![
            3 => any_text().prop_map(Message::Text),
            2 => vec(any::<u8>(), 0..400).prop_map(Message::Binary),
            1 => control().prop_map(Message::Ping),
            1 => control().prop_map(Message::Pong),
        ]
        .boxed()
    }
}

fn sent(draft: Draft) -> impl Strategy<Value = Sent> {
    (
        message(draft),
        vec(any::<Index>(), 0..4),
        vec(any::<Option<[u8; 4]>>(), 5),
        proptest::option::weighted(0.3, vec(any::<u8>(), 0..=125)),
    )
        .prop_map(move |(message, cuts, keys, ping)| Sent {
            message,
            cuts,
            keys,
            // Drafts 75/76 have no fragments and no pings.
            interleaved_ping: ping.filter(|_| !draft.is_hixie()),
        })
}

/// Opcodes as each draft numbers them: continuation, text, binary, close,
/// ping, pong.
fn opcodes(draft: Draft) -> [u8; 6] {
    if draft == Draft::Draft07 {
        [0x0, 0x1, 0x2, 0x8, 0x9, 0xA]
    } else {
        [0x0, 0x4, 0x5, 0x1, 0x2, 0x3]
    }
}

fn push_len(out: &mut Vec<u8>, flags: u8, len: usize) {
    match len {
        0..=125 => out.push(flags | len as u8),
        126..=0xFFFF => {
            out.push(flags | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(flags | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

fn xor(bytes: &mut [u8], key: [u8; 4]) {
    for (i, b) in bytes.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// One hybi client frame, as `draft` lays it out.
fn client_frame(
    draft: Draft,
    fin: bool,
    opcode: u8,
    payload: &[u8],
    key: Option<[u8; 4]>,
) -> Vec<u8> {
    match draft {
        // Drafts 01-03: a MORE bit, never masked.
        Draft::Draft03 => {
            let mut out = vec![(u8::from(!fin) << 7) | opcode];
            push_len(&mut out, 0, payload.len());
            out.extend_from_slice(payload);
            out
        }
        // Drafts 05/06: a key, then header and payload masked with it.
        Draft::Draft05 | Draft::Draft06 => {
            let key = key.unwrap_or([0; 4]);
            let mut frame = vec![(u8::from(fin) << 7) | opcode];
            push_len(&mut frame, 0, payload.len());
            frame.extend_from_slice(payload);
            xor(&mut frame, key);
            [&key[..], &frame].concat()
        }
        _ => {
            let mut out = vec![(u8::from(fin) << 7) | opcode];
            push_len(
                &mut out,
                if key.is_some() { 0x80 } else { 0 },
                payload.len(),
            );
            let mut body = payload.to_vec();
            if let Some(key) = key {
                out.extend_from_slice(&key);
                xor(&mut body, key);
            }
            out.extend(body);
            out
        }
    }
}

/// The bytes a client sends, the events the server should see and the
/// replies (pongs) it should write.
struct Script {
    stream: Vec<u8>,
    events: Vec<Incoming>,
    out: Vec<u8>,
}

fn script(draft: Draft, messages: &[Sent]) -> Script {
    let mut script = Script {
        stream: Vec::new(),
        events: Vec::new(),
        out: Vec::new(),
    };
    let mut server = Protocol::new(draft, Config::default());
    for sent in messages {
        if draft.is_hixie() {
            hixie_message(&mut script, &sent.message);
        } else {
            hybi_message(&mut script, &mut server, draft, sent);
        }
    }
    script
}

fn hixie_message(script: &mut Script, message: &Message) {
    match message {
        Message::Text(text) => {
            script.stream.push(0x00);
            script.stream.extend_from_slice(text.as_bytes());
            script.stream.push(0xFF);
            script
                .events
                .push(Incoming::Text(Bytes::from(text.clone())));
        }
        Message::Binary(data) => {
            // Type 0x80, then the length in base-128 digits, high first.
            script.stream.push(0x80);
            let mut digits = vec![(data.len() & 0x7F) as u8];
            let mut rest = data.len() >> 7;
            while rest > 0 {
                digits.push(0x80 | (rest & 0x7F) as u8);
                rest >>= 7;
            }
            script.stream.extend(digits.iter().rev());
            script.stream.extend_from_slice(data);
        }
        Message::Ping(_) | Message::Pong(_) => unreachable!("no control frames in drafts 75/76"),
    }
}

fn hybi_message(script: &mut Script, server: &mut Protocol, draft: Draft, sent: &Sent) {
    let [continuation, text, binary, _, ping, pong] = opcodes(draft);
    let mut keys = sent.keys.iter().copied().cycle();
    let mut ping_frame = |script: &mut Script, body: &[u8], key| {
        script
            .stream
            .extend(client_frame(draft, true, ping, body, key));
        encode(server, OutKind::Pong, body, &mut script.out);
        script
            .events
            .push(Incoming::Ping(Bytes::copy_from_slice(body)));
    };
    let (opcode, payload, event) = match &sent.message {
        Message::Text(s) => (text, s.as_bytes(), Incoming::Text(Bytes::from(s.clone()))),
        Message::Binary(b) => (binary, &b[..], Incoming::Binary(Bytes::from(b.clone()))),
        Message::Ping(body) => return ping_frame(script, body, keys.next().flatten()),
        Message::Pong(body) => {
            let frame = client_frame(draft, true, pong, body, keys.next().flatten());
            script.stream.extend(frame);
            script
                .events
                .push(Incoming::Pong(Bytes::copy_from_slice(body)));
            return;
        }
    };
    // Fragments at the cuts (anywhere, UTF-8 characters included).
    let mut cuts: Vec<usize> = sent
        .cuts
        .iter()
        .map(|i| i.index(payload.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut bounds = vec![0];
    bounds.extend(cuts.into_iter().filter(|&c| c > 0 && c < payload.len()));
    bounds.push(payload.len());
    let pieces = bounds.len() - 1;
    for (i, range) in bounds.windows(2).enumerate() {
        let op = if i == 0 { opcode } else { continuation };
        let frame = client_frame(
            draft,
            i + 1 == pieces,
            op,
            &payload[range[0]..range[1]],
            keys.next().flatten(),
        );
        script.stream.extend(frame);
        if let (0, Some(body)) = (i, &sent.interleaved_ping) {
            if pieces > 1 {
                ping_frame(script, body, keys.next().flatten());
            }
        }
    }
    script.events.push(event);
}

// ---- driving the core ----

struct Received {
    events: Vec<Incoming>,
    out: Vec<u8>,
    result: Result<(), ProtocolError>,
    left: usize,
}

/// Feeds `stream` cut at `cuts`, calling `receive` after each read as the
/// server does, and checks the buffering bound after every read.
fn receive_in_pieces(protocol: &mut Protocol, stream: &[u8], cuts: &[Index]) -> Received {
    let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
    points.push(stream.len());
    points.sort_unstable();
    let mut input = BytesMut::new();
    let mut received = Received {
        events: Vec::new(),
        out: Vec::new(),
        result: Ok(()),
        left: 0,
    };
    let mut from = 0;
    for to in points {
        input.extend_from_slice(&stream[from..to]);
        from = to;
        received.result = protocol.receive(&mut input, &mut received.out, &mut received.events);
        if let Err(err) = &received.result {
            protocol.fail(err, &mut received.out);
            break;
        }
        let bound = protocol.config().max_frame_size + MAX_HEADER;
        assert!(
            input.len() <= bound,
            "{} bytes buffered (bound {bound})",
            input.len()
        );
    }
    received.left = input.len();
    received
}

fn drafts() -> impl Strategy<Value = Draft> {
    proptest::sample::select(DRAFTS.to_vec())
}

fn draft_and_messages() -> impl Strategy<Value = (Draft, Vec<Sent>)> {
    drafts().prop_flat_map(|draft| (Just(draft), vec(sent(draft), 0..8)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Client frames of any draft decode to the messages sent, with a pong
    /// for each ping, however the stream is cut into reads.
    #[test]
    fn client_messages_round_trip_in_any_pieces(
        (draft, messages) in draft_and_messages(),
        cuts in vec(any::<Index>(), 0..12),
    ) {
        let script = script(draft, &messages);
        let mut protocol = Protocol::new(draft, Config::default());
        let r = receive_in_pieces(&mut protocol, &script.stream, &cuts);
        prop_assert_eq!(r.result, Ok(()));
        prop_assert_eq!(r.events, script.events);
        prop_assert_eq!(r.out, script.out);
        prop_assert_eq!(r.left, 0);
        prop_assert_eq!(protocol.state(), State::Open);
    }

    /// What the core encodes, it decodes (server frames are unmasked; drafts
    /// 05/06 read them behind an all-zero key, which masks nothing).
    #[test]
    fn server_frames_round_trip(
        draft in drafts(),
        sends in vec((0..4usize, vec(any::<u8>(), 0..300), any_text()), 0..8),
        cuts in vec(any::<Index>(), 0..8),
    ) {
        let mut sender = Protocol::new(draft, Config::default());
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (kind, bytes, text) in &sends {
            let (kind, payload, event) = match kind {
                0 => (OutKind::Text, text.as_bytes(), Incoming::Text(Bytes::from(text.clone()))),
                1 => (OutKind::Binary, &bytes[..], Incoming::Binary(Bytes::from(bytes.clone()))),
                2 => (OutKind::Ping, &bytes[..bytes.len().min(125)], Incoming::Ping(Bytes::copy_from_slice(&bytes[..bytes.len().min(125)]))),
                _ => (OutKind::Pong, &bytes[..bytes.len().min(125)], Incoming::Pong(Bytes::copy_from_slice(&bytes[..bytes.len().min(125)]))),
            };
            if sender.check_send(kind).is_err() {
                continue;
            }
            let mut frame = Vec::new();
            encode(&mut sender, kind, payload, &mut frame);
            if matches!(draft, Draft::Draft05 | Draft::Draft06) {
                frame.splice(0..0, [0; 4]);
            }
            stream.extend(frame);
            // Drafts 75/76 skip length-prefixed (binary) frames.
            if !(draft.is_hixie() && kind == OutKind::Binary) {
                expected.push(event);
            }
        }
        let mut receiver = Protocol::new(draft, Config::default());
        let r = receive_in_pieces(&mut receiver, &stream, &cuts);
        prop_assert_eq!(r.result, Ok(()));
        let data_events: Vec<Incoming> = r.events;
        prop_assert_eq!(data_events, expected);
    }

    /// Compressed messages (permessage-deflate, context taken over from
    /// message to message or not) inflate back to what was compressed.
    #[test]
    fn compressed_messages_round_trip(
        texts in vec(any_text(), 1..6),
        window_bits in 9u8..=15,
        no_context_takeover in any::<bool>(),
        cuts in vec(any::<Index>(), 0..8),
    ) {
        let params = DeflateParams {
            server_no_context_takeover: no_context_takeover,
            client_no_context_takeover: no_context_takeover,
            server_max_window_bits: window_bits,
            client_max_window_bits: window_bits,
            // Empty messages go uncompressed: see the ignored test below.
            min_size: 1,
            // Every level, across the window sizes.
            level: window_bits % 9 + 1,
        };
        let config = Config { deflate: Some(params), ..Config::default() };
        let mut sender = Protocol::new(Draft::Draft07, config);
        let mut stream = Vec::new();
        for text in &texts {
            let (header, payload) = server_frame(&mut sender, OutKind::Text, Bytes::from(text.clone()));
            stream.extend_from_slice(header.as_bytes());
            stream.extend_from_slice(&payload);
        }
        let mut receiver = Protocol::new(Draft::Draft07, config);
        let r = receive_in_pieces(&mut receiver, &stream, &cuts);
        prop_assert_eq!(r.result, Ok(()));
        let expected: Vec<Incoming> = texts.iter().map(|t| Incoming::Text(Bytes::from(t.clone()))).collect();
        prop_assert_eq!(r.events, expected);
    }

    /// A close the server sends is read back with its code and reason, and
    /// the reading side echoes it.
    #[test]
    fn close_round_trip(
        draft in drafts(),
        code in prop_oneof![Just(1000u16), Just(1003), Just(1008), Just(1011), 3000u16..5000],
        reason in "\\PC{0,30}",
    ) {
        let mut sender = Protocol::new(draft, Config::default());
        let mut frame = Vec::new();
        sender.close(Some(code), reason.as_bytes(), &mut frame);
        if matches!(draft, Draft::Draft05 | Draft::Draft06) {
            frame.splice(0..0, [0; 4]);
        }
        let mut receiver = Protocol::new(draft, Config::default());
        let r = receive_in_pieces(&mut receiver, &frame, &[]);
        prop_assert_eq!(r.result, Ok(()));
        if draft.is_hixie() {
            // em-websocket closes drafts 75/76 without a closing frame.
            prop_assert!(frame.is_empty());
            prop_assert!(r.events.is_empty());
            return Ok(());
        }
        let expected_reason = if draft.supports_close_codes() { reason.as_bytes() } else { b"" };
        let expected = Incoming::Close {
            code: draft.supports_close_codes().then_some(code),
            reason: Bytes::copy_from_slice(expected_reason),
        };
        prop_assert_eq!(r.events, vec![expected]);
        prop_assert_eq!(receiver.state(), State::Closed);
        prop_assert!(!r.out.is_empty(), "the close is echoed");
    }

    /// Garbage never panics, never loops, and never makes the core buffer
    /// more than one frame's worth; a failure always ends closed.
    #[test]
    fn garbage_is_bounded(
        draft in drafts(),
        max_frame_size in prop_oneof![0usize..300, Just(emws_core::protocol::DEFAULT_MAX_FRAME_SIZE)],
        max_message_size in prop_oneof![Just(0usize), 0usize..600],
        strict_masking in any::<bool>(),
        stream in vec(any::<u8>(), 0..2000),
        cuts in vec(any::<Index>(), 0..20),
    ) {
        let config = Config { max_frame_size, max_message_size, strict_masking, ..Config::default() };
        let mut protocol = Protocol::new(draft, config);
        let r = receive_in_pieces(&mut protocol, &stream, &cuts);
        if r.result.is_err() {
            prop_assert_eq!(protocol.state(), State::Closed);
        }
        for event in &r.events {
            if let Incoming::Text(text) = event {
                prop_assert!(std::str::from_utf8(text).is_ok());
            }
        }
    }

    /// Garbage after valid frames: the same prefix of events whether the
    /// stream arrives whole or in pieces, and the same error.
    #[test]
    fn garbage_tail_in_any_pieces(
        (draft, messages) in draft_and_messages(),
        garbage in vec(any::<u8>(), 1..200),
        cuts in vec(any::<Index>(), 1..12),
    ) {
        let mut stream = script(draft, &messages).stream;
        stream.extend_from_slice(&garbage);
        let config = Config { max_frame_size: 1000, ..Config::default() };
        let whole = receive_in_pieces(&mut Protocol::new(draft, config), &stream, &[]);
        let split = receive_in_pieces(&mut Protocol::new(draft, config), &stream, &cuts);
        prop_assert_eq!(&whole.events, &split.events);
        prop_assert_eq!(&whole.out, &split.out);
        // Drafts 75/76 report how far an over-long text frame had grown.
        let kind = |r: &Received| r.result.as_ref().map_err(|e| e.kind).err();
        prop_assert_eq!(kind(&whole), kind(&split));
        if !draft.is_hixie() {
            prop_assert_eq!(whole.result, split.result);
        }
    }

    /// A request head is incomplete until its last byte, wherever it is cut,
    /// and then reads the same as whole.
    #[test]
    fn request_head_in_any_pieces(
        // Not "//...": em-websocket reads that as a network-path reference.
        path in "(/[a-zA-Z0-9_.~-]{1,10}){0,4}/?".prop_map(|p| if p.is_empty() { "/".into() } else { p }),
        query in proptest::option::of("[a-z0-9=&%]{0,30}"),
        extra in vec(("X-[A-Za-z]{1,10}", "[ -~]{0,40}"), 0..6),
        cut in any::<Index>(),
    ) {
        let target = match &query {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        let mut head = format!(
            "GET {target} HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n"
        );
        for (name, value) in &extra {
            head.push_str(&format!("{name}: {}\r\n", value.trim()));
        }
        head.push_str("\r\n");
        let head = head.as_bytes();
        let at = cut.index(head.len());
        prop_assert!(matches!(read_preface(&head[..at], 0, 16 * 1024), Ok(Preface::Incomplete)));
        let Ok(Preface::Request(request)) = read_preface(head, 0, 16 * 1024) else {
            return Err(TestCaseError::fail("a complete head is a request"));
        };
        prop_assert_eq!(&request.path, &path);
        prop_assert_eq!(&request.query_string, query.as_deref().unwrap_or(""));
        prop_assert_eq!(request.consumed, head.len());
        prop_assert_eq!(request.version, 13);
    }
}

/// RFC 7692 §7.2.1: a compressed message is at least one deflate block. With
/// context takeover, zlib has nothing to flush for an empty message after
/// another; were nothing sent, the client, appending 00 00 FF FF, would read
/// a stored block whose data is the next message.
#[test]
fn empty_compressed_message_after_another() {
    let params = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
        min_size: 0,
        level: emws_core::DeflateConfig::default().level,
    };
    let config = Config {
        deflate: Some(params),
        ..Config::default()
    };
    let mut sender = Protocol::new(Draft::Draft07, config);
    let mut stream = Vec::new();
    for text in ["", "", "", "after"] {
        let (header, payload) = server_frame(
            &mut sender,
            OutKind::Text,
            Bytes::from_static(text.as_bytes()),
        );
        stream.extend_from_slice(header.as_bytes());
        stream.extend_from_slice(&payload);
    }
    let mut receiver = Protocol::new(Draft::Draft07, config);
    let r = receive_in_pieces(&mut receiver, &stream, &[]);
    assert_eq!(r.result, Ok(()));
    let texts = ["", "", "", "after"].map(|t| Incoming::Text(Bytes::from_static(t.as_bytes())));
    assert_eq!(r.events, texts);
}
