//! The seed corpus: valid handshakes of every draft, frames of every kind and
//! the edge cases around them, as inputs for each target (knob bytes first).
//! `fuzz-stable seed DIR` writes them out; `corpus/` holds them committed.

/// One seed: a file name and its bytes.
pub type Seed = (String, Vec<u8>);

/// The seeds of one target.
pub fn for_target(target: &str) -> Vec<Seed> {
    match target {
        "handshake" => handshake(),
        "frames_rfc6455" => rfc6455(),
        "frames_hybi_legacy" => hybi_legacy(),
        "frames_hixie" => hixie(),
        "inflate" => inflate(),
        _ => Vec::new(),
    }
}

fn seed(name: &str, knobs: u8, split_seed: u8, stream: &[u8]) -> Seed {
    let mut bytes = vec![knobs, split_seed];
    bytes.extend_from_slice(stream);
    (name.to_owned(), bytes)
}

fn request(headers: &[(&str, &str)], path: &str) -> Vec<u8> {
    let mut out = format!("GET {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn hybi_request(version: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut headers = vec![
        ("Host", "127.0.0.1:8080"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", KEY),
        ("Sec-WebSocket-Version", version),
    ];
    headers.extend_from_slice(extra);
    request(&headers, "/chat?room=1&x")
}

fn hixie_request(extra: &[(&str, &str)], third_key: &[u8]) -> Vec<u8> {
    let mut headers = vec![
        ("Upgrade", "WebSocket"),
        ("Connection", "Upgrade"),
        ("Host", "example.com"),
        ("Origin", "http://example.com"),
    ];
    headers.extend_from_slice(extra);
    let mut out = request(&headers, "/demo");
    out.extend_from_slice(third_key);
    out
}

const KEY1: (&str, &str) = ("Sec-WebSocket-Key1", "4 @1  46546xW%0l 1 5");
const KEY2: (&str, &str) = ("Sec-WebSocket-Key2", "12998 5 Y3 1  .P00");
const KEY3: &[u8] = b"^n:ds[4U";

fn handshake() -> Vec<Seed> {
    let rfc = hybi_request("13", &[]);
    let mut rfc_then_frames = rfc.clone();
    rfc_then_frames.extend(rfc_frame(true, 0, 1, b"hello", Some([1, 2, 3, 4])));
    let long_header = "x".repeat(600);
    vec![
        seed("rfc6455", 0, 0, &rfc),
        seed("rfc6455_split", 0, 7, &rfc),
        seed("rfc6455_wss_protocols", 0b1100, 3, &hybi_request("13", &[("Sec-WebSocket-Protocol", "superchat, chat")])),
        seed("rfc6455_protocol_echo", 0, 1, &hybi_request("13", &[("Sec-WebSocket-Protocol", "chat")])),
        seed("rfc6455_deflate_offer", 0, 2, &hybi_request("13", &[("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")])),
        seed("rfc6455_then_frames", 0, 5, &rfc_then_frames),
        seed("draft08", 0, 0, &hybi_request("8", &[("Sec-WebSocket-Origin", "http://example.com")])),
        seed("draft07", 0, 0, &hybi_request("7", &[])),
        seed("draft06", 0, 0, &hybi_request("6", &[])),
        seed("draft05", 0, 0, &hybi_request("5", &[])),
        seed("version4_unsupported", 0, 0, &hybi_request("4", &[])),
        seed("version_huge", 0, 0, &hybi_request("99999999999999999999", &[])),
        seed("draft75", 0, 0, &hixie_request(&[], b"")),
        seed("draft75_protocol", 0b100, 0, &hixie_request(&[("WebSocket-Protocol", "chat")], b"")),
        seed("draft76", 0, 0, &hixie_request(&[KEY1, KEY2], KEY3)),
        seed("draft76_split", 0, 9, &hixie_request(&[KEY1, KEY2, ("Sec-WebSocket-Protocol", "chat")], KEY3)),
        seed("draft76_no_third_key", 0, 0, &hixie_request(&[KEY1, KEY2], b"")),
        seed("draft76_extra_bytes", 0, 0, &hixie_request(&[KEY1, KEY2], b"^n:ds[4Uxyz")),
        seed("draft03", 0, 0, &hixie_request(&[KEY1, KEY2, ("Sec-WebSocket-Draft", "3")], KEY3)),
        seed("draft02", 0, 0, &hixie_request(&[KEY1, KEY2, ("Sec-WebSocket-Draft", "2")], KEY3)),
        seed("healthcheck", 0, 0, b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n"),
        seed("policy_file", 0, 0, b"<policy-file-request/>\0"),
        seed("policy_file_spaces", 0, 1, b"<policy-file-request \r\n />"),
        seed("post", 0, 0, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"),
        seed("http10", 0, 0, b"GET / HTTP/1.0\r\n\r\n"),
        seed("absolute_uri", 0, 0, &request(&[("Host", "h"), ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", KEY), ("Sec-WebSocket-Version", "13")], "ws://h/p?q")),
        seed("no_upgrade", 0, 0, &request(&[("Host", "h"), ("Sec-WebSocket-Version", "13")], "/")),
        seed("oversized_head", 1, 4, &hybi_request("13", &[("X-Long", &long_header)])),
        seed("lf_only", 0, 0, b"GET / HTTP/1.1\nHost: h\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n"),
        seed("garbage", 0, 0, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
    ]
}

/// An RFC 6455 client frame (masked with `mask`).
pub fn rfc_frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    push_len(&mut out, mask_bit, payload.len() as u64);
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

fn push_len(out: &mut Vec<u8>, bit: u8, len: u64) {
    match len {
        0..=125 => out.push(bit | len as u8),
        126..=0xFFFF => {
            out.push(bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

fn rfc6455() -> Vec<Seed> {
    const K: Option<[u8; 4]> = Some([0x37, 0xfa, 0x21, 0x3d]);
    let text = |s: &[u8]| rfc_frame(true, 0, 1, s, K);
    let cat = |frames: &[Vec<u8>]| frames.concat();
    let close = |code: u16, reason: &[u8]| {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(reason);
        rfc_frame(true, 0, 8, &body, K)
    };
    let fragmented = cat(&[
        rfc_frame(false, 0, 1, "héllo wo".as_bytes(), K),
        rfc_frame(true, 0, 9, b"ping!", K),
        rfc_frame(false, 0, 0, b"rld \xe2\x82", K),
        rfc_frame(true, 0, 0, b"\xac!", K),
    ]);
    let mut huge_len = vec![0x82, 0xFF];
    huge_len.extend_from_slice(&u64::MAX.to_be_bytes());
    vec![
        seed("text", 0, 0, &text(b"Hello")),
        seed(
            "text_unmasked",
            0,
            0,
            &rfc_frame(true, 0, 1, b"Hello", None),
        ),
        seed(
            "text_unmasked_strict",
            0b100,
            0,
            &rfc_frame(true, 0, 1, b"Hello", None),
        ),
        seed("binary_126", 0, 3, &rfc_frame(true, 0, 2, &[0xAB; 300], K)),
        seed("binary_127_short", 0, 4, &{
            let mut f = vec![0x82, 0xFF];
            f.extend_from_slice(&10u64.to_be_bytes());
            f.extend_from_slice(&[1, 2, 3, 4]);
            f.extend_from_slice(&[9; 10]);
            f
        }),
        seed("fragmented_with_ping", 0, 1, &fragmented),
        seed(
            "fragmented_small_message_limit",
            0b0010_0000,
            2,
            &fragmented,
        ),
        seed(
            "ping_pong",
            0,
            0,
            &cat(&[
                rfc_frame(true, 0, 9, b"", K),
                rfc_frame(true, 0, 10, b"pong", K),
            ]),
        ),
        seed(
            "ping_flood",
            0,
            6,
            &rfc_frame(true, 0, 9, b"x", K).repeat(40),
        ),
        seed("close_1000", 0, 0, &close(1000, b"bye")),
        seed("close_empty", 0, 0, &rfc_frame(true, 0, 8, b"", K)),
        seed("close_invalid_code", 0, 0, &close(1005, b"")),
        seed("close_bad_reason", 0, 0, &close(1000, b"\xff")),
        seed("close_one_byte", 0, 0, &rfc_frame(true, 0, 8, b"\x03", K)),
        seed(
            "data_after_close",
            0,
            0,
            &cat(&[close(1001, b""), text(b"late")]),
        ),
        seed("invalid_utf8", 0, 0, &text(b"ab\xc3\x28")),
        seed("rsv_bits", 0, 0, &rfc_frame(true, 0b100, 1, b"x", K)),
        seed("rsv23_bits", 0, 0, &rfc_frame(true, 0b011, 2, b"x", K)),
        seed("unknown_opcode", 0, 0, &rfc_frame(true, 0, 3, b"x", K)),
        seed(
            "unknown_control_opcode",
            0,
            0,
            &rfc_frame(true, 0, 0xB, b"x", K),
        ),
        seed(
            "control_too_long",
            0,
            0,
            &rfc_frame(true, 0, 9, &[0; 126], K),
        ),
        seed("control_fragmented", 0, 0, &rfc_frame(false, 0, 9, b"", K)),
        seed(
            "continuation_unexpected",
            0,
            0,
            &rfc_frame(true, 0, 0, b"x", K),
        ),
        seed(
            "continuation_expected",
            0,
            0,
            &cat(&[rfc_frame(false, 0, 1, b"a", K), text(b"b")]),
        ),
        seed("length_msb_set", 0, 0, &huge_len),
        seed("over_max_frame_size", 0b1000, 0, &text(&[b'a'; 200])),
        seed(
            "over_max_frame_size_126",
            0b1_0000,
            0,
            &rfc_frame(true, 0, 2, &[0; 1100], K),
        ),
        seed(
            "many_messages",
            0,
            8,
            &(0..20)
                .map(|i| text(format!("message {i}").as_bytes()))
                .collect::<Vec<_>>()
                .concat(),
        ),
        seed(
            "empty_fragments",
            0,
            0,
            &cat(&[
                rfc_frame(false, 0, 2, b"", K),
                rfc_frame(false, 0, 0, b"", K),
                rfc_frame(true, 0, 0, b"", K),
            ]),
        ),
    ]
}

/// A draft 01-03 frame: MORE bit, draft 03 opcodes, never masked.
fn d03_frame(more: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(more) << 7) | opcode];
    push_len(&mut out, 0, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// A draft 05/06 frame: a key, then header and payload XORed with it.
fn d05_frame(fin: bool, opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut plain = d03_frame(false, opcode, payload);
    plain[0] |= u8::from(fin) << 7;
    let mut out = key.to_vec();
    out.extend(plain.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn hybi_legacy() -> Vec<Seed> {
    // knobs & 3: 0 = draft 03, 1 = draft 05, 2 = draft 06.
    const K: [u8; 4] = [0x11, 0x22, 0x33, 0x44];
    let cat = |frames: &[Vec<u8>]| frames.concat();
    let d05 = |fin, op, p: &[u8]| d05_frame(fin, op, p, K);
    vec![
        seed("d03_text", 0, 0, &d03_frame(false, 4, b"Hello")),
        seed("d03_binary", 0, 2, &d03_frame(false, 5, &[7; 200])),
        seed(
            "d03_fragmented",
            0,
            1,
            &cat(&[
                d03_frame(true, 4, b"Hel"),
                d03_frame(false, 2, b"p"),
                d03_frame(false, 0, b"lo"),
            ]),
        ),
        seed("d03_close", 0, 0, &d03_frame(false, 1, b"")),
        seed(
            "d03_ping_pong",
            0,
            0,
            &cat(&[d03_frame(false, 2, b"hi"), d03_frame(false, 3, b"")]),
        ),
        seed("d03_unknown_opcode", 0, 0, &d03_frame(false, 9, b"")),
        seed("d03_rsv4", 0, 0, &[0x04, 0x82, b'h', b'i']),
        seed("d05_text", 1, 0, &d05(true, 4, b"Hello")),
        seed("d05_binary_126", 1, 3, &d05(true, 5, &[3; 300])),
        seed(
            "d05_fragmented",
            1,
            1,
            &cat(&[
                d05(false, 4, "naïve ".as_bytes()),
                d05(true, 2, b""),
                d05(true, 0, b"text"),
            ]),
        ),
        seed("d05_close", 1, 0, &d05(true, 1, b"")),
        seed("d05_invalid_utf8", 1, 0, &d05(true, 4, b"\xc0\xaf")),
        seed("d06_text", 2, 0, &d05(true, 4, b"Hello")),
        seed("d06_close_code", 2, 0, &d05(true, 1, b"\x03\xe8bye")),
        seed("d06_close_bad_code", 2, 0, &d05(true, 1, b"\x00\x01")),
        seed(
            "d06_over_max_frame_size",
            0b1010,
            0,
            &d05(true, 5, &[0; 130]),
        ),
        seed(
            "d06_message_limit",
            0b10_0010,
            4,
            &cat(&[d05(false, 5, &[1; 120]), d05(true, 0, &[2; 120])]),
        ),
        seed(
            "d06_data_after_close",
            2,
            0,
            &cat(&[d05(true, 1, b""), d05(true, 4, b"late")]),
        ),
    ]
}

fn hixie() -> Vec<Seed> {
    // knobs & 1: 0 = draft 75, 1 = draft 76.
    let mut long_prefixed = vec![0x80, 0x81, 0x00];
    long_prefixed.extend_from_slice(&[b'x'; 128]);
    vec![
        seed("text", 0, 0, b"\x00Hello\xff"),
        seed("text_76", 1, 0, b"\x00Hello\xff"),
        seed("texts_split", 1, 5, "\x00one\u{ff}".as_bytes()),
        seed(
            "utf8_text",
            0,
            2,
            "\x00h\u{e9}llo \u{20ac} \u{1d11e}"
                .as_bytes()
                .iter()
                .copied()
                .chain([0xff])
                .collect::<Vec<_>>()
                .as_slice(),
        ),
        seed("many_texts", 1, 7, &b"\x00message\xff".repeat(20)),
        seed("empty_text", 0, 0, b"\x00\xff"),
        seed("closing_handshake", 1, 0, b"\xff\x00"),
        seed("text_then_close", 1, 1, b"\x00bye\xff\xff\x00\x00late\xff"),
        seed("length_prefixed", 1, 0, b"\x80\x03abc\x00x\xff"),
        seed("length_prefixed_two_digits", 1, 3, &long_prefixed),
        seed("invalid_frame_type", 0, 0, b"\x01abc\xff"),
        seed("invalid_utf8", 0, 0, b"\x00\xc3\x28\xff"),
        seed(
            "unterminated_text",
            0b1000,
            0,
            &[b"\x00".as_slice(), &[b'a'; 200]].concat(),
        ),
        seed("length_over_limit", 0b1001, 0, b"\x80\x82\x00"),
        // Found by this target: zero digits without end were buffered whole.
        seed("leading_zero_digits", 0b1001, 3, &[0x80; 300]),
    ]
}

fn inflate() -> Vec<Seed> {
    use emws_core::deflate::Compressor;
    // knobs: bits 0-2 window - 8, bit 3 no context takeover, bits 4-5 limit
    // (1 MiB, 100, 1000, 64 KiB), bit 6 binary.
    // Level 6, zlib's default, which the committed corpus was made with.
    let compress = |bits: u8, message: &[u8]| Compressor::new(bits, false, 6).compress(message);
    let hello = compress(15, b"Hello, hello, hello!");
    let text = "permessage-deflate \u{e9}\u{20ac} ".repeat(20);
    // A stored block: BFINAL=0, BTYPE=00, LEN, NLEN, bytes.
    let stored = [&[0x00, 0x05, 0x00, 0xfa, 0xff][..], b"plain"].concat();
    // A fixed-Huffman final block ("a"), then padding the inflater skips.
    let final_block = [0x4b, 0x04, 0x00, 0x00, 0x00, 0xff, 0xff];
    vec![
        seed("hello", 0b111, 0, &hello),
        seed("hello_split", 0b111, 9, &hello),
        seed(
            "hello_window_8",
            0,
            3,
            &compress(8, b"Hello, hello, hello!"),
        ),
        seed(
            "hello_window_9_no_takeover",
            0b1001,
            2,
            &compress(9, b"Hello, hello, hello!"),
        ),
        seed("text", 0b111, 4, &compress(15, text.as_bytes())),
        seed(
            "binary",
            0b100_0111,
            5,
            &compress(15, &(0..=255).collect::<Vec<u8>>()),
        ),
        seed("empty", 0b111, 0, &compress(15, b"")),
        seed(
            "bomb_over_limit",
            0b11_0111,
            6,
            &compress(15, &[b'a'; 200_000]),
        ),
        seed(
            "over_small_limit",
            0b01_0111,
            1,
            &compress(15, &[b'z'; 150]),
        ),
        seed("stored_block", 0b111, 0, &stored),
        seed("final_block", 0b111, 0, &final_block),
        seed("invalid_block_type", 0b111, 0, &[0x07, 0x00]),
        seed("invalid_utf8_text", 0b111, 0, &compress(15, b"ab\xc3\x28")),
        seed("garbage", 0b111, 7, b"\xff\xfe\xfd\xfc\x00\x01\x02"),
        // Found by this target: over the limit and corrupt, failing either
        // way depending on the reads.
        seed(
            "corrupt_and_over_limit",
            0x17,
            0x09,
            &[
                0xf2, 0x48, 0xcd, 0x24, 0x00, 0x03, 0xf2, 0x48, 0x03, 0x48, 0xf2, 0xc9, 0xcd, 0x91,
                0x52, 0x52, 0x52, 0x52, 0x01, 0x00, 0x00, 0xa4, 0x2d, 0x2e, 0x14, 0x01, 0x00,
            ],
        ),
    ]
}
