//! The permessage-deflate inflater (RFC 7692), on its own and inside a
//! connection: arbitrary bytes as a compressed message, cut into frames
//! anywhere, must inflate to the same result or fail the same way, and
//! never to more than the limit (a deflate bomb fails at the bound).

use emws_core::deflate::Inflater;
use emws_core::{Config, DeflateParams, Draft, ProtocolError, ProtocolErrorKind};

use crate::frames::check_reads;
use crate::seeds::rfc_frame;
use crate::Input;

/// Limits on an inflated message the knobs choose from.
const LIMITS: [usize; 4] = [1 << 20, 100, 1000, 65_536];
const MASK: Option<[u8; 4]> = Some([0x5a, 0xa5, 0x0f, 0xf0]);

/// knobs: bits 0-2 the client's window (8 + n bits), bit 3
/// client_no_context_takeover, bits 4-5 the limit, bit 6 binary (else text).
pub fn run(data: &[u8]) {
    let input = Input::parse(data);
    let knobs = usize::from(input.knobs);
    let window_bits = 8 + (knobs & 7) as u8;
    let no_context_takeover = knobs & 0b1000 != 0;
    let limit = LIMITS[(knobs >> 4) & 3];
    let chunks = input.chunks();

    let whole = inflate(window_bits, no_context_takeover, &[input.stream], limit);
    let split = inflate(window_bits, no_context_takeover, &chunks, limit);
    match (&whole, &split) {
        (Ok(a), Ok(b)) => assert!(a == b, "inflating in pieces changed the message"),
        (Err(a), Err(b)) => assert_eq!(
            inflate_failure(a),
            inflate_failure(b),
            "inflating in pieces changed the error"
        ),
        _ => panic!("inflating in pieces changed the outcome: {whole:?} / {split:?}"),
    }

    // The same bytes as a message of one frame per chunk, twice (the
    // second refers back to the first with context takeover), read by a
    // connection whole and in pieces.
    let opcode = if knobs & 0b100_0000 != 0 { 2 } else { 1 };
    let mut stream = Vec::new();
    for _ in 0..2 {
        for (i, chunk) in chunks.iter().enumerate() {
            let (op, rsv) = if i == 0 { (opcode, 0b100) } else { (0, 0) };
            stream.extend(rfc_frame(i + 1 == chunks.len(), rsv, op, chunk, MASK));
        }
    }
    let config = Config {
        max_message_size: limit,
        deflate: Some(DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: no_context_takeover,
            server_max_window_bits: 15,
            client_max_window_bits: window_bits,
            min_size: 0,
            level: emws_core::DeflateConfig::default().level,
        }),
        ..Config::default()
    };
    let reads = Input {
        split_seed: input.split_seed.wrapping_add(1),
        stream: &stream,
        ..input
    };
    check_reads(Draft::Draft07, config, &stream, &reads.chunks());
}

/// One message's frames through an inflater; the output never passes
/// `limit` by more than the byte that shows it passed.
fn inflate(
    window_bits: u8,
    no_context_takeover: bool,
    frames: &[&[u8]],
    limit: usize,
) -> Result<Vec<u8>, ProtocolError> {
    let mut inflater = Inflater::new(window_bits, no_context_takeover);
    let mut out = Vec::new();
    let result = frames
        .iter()
        .try_for_each(|frame| inflater.inflate(frame, &mut out, limit))
        .and_then(|()| inflater.finish(&mut out, limit));
    assert!(
        out.len() <= limit + 1,
        "{} bytes inflated with a limit of {limit}",
        out.len()
    );
    result.map(|()| out)
}

/// What an inflating message failed with, for comparing two reads of it. A
/// message that is both corrupt and over the limit fails with whichever the
/// inflater meets first, which depends on how much input one call had:
/// zlib may read past the bytes that passed the limit to the corrupt ones
/// in the same call (1007), or stop at the end of a smaller read (1009).
pub(crate) fn inflate_failure(err: &ProtocolError) -> Option<ProtocolErrorKind> {
    let inflating = err.message.starts_with("Invalid compressed data")
        || err.message.starts_with("Inflated message too large");
    (!inflating).then_some(err.kind)
}
