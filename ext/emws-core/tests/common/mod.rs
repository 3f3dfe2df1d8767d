//! Helpers the integration tests share.

use bytes::Bytes;
use emws_core::frame::FrameHeader;
use emws_core::{OutKind, Protocol};

/// Appends the whole frame the server sends for `payload`.
#[allow(dead_code)]
pub fn encode(p: &mut Protocol, kind: OutKind, payload: &[u8], out: &mut Vec<u8>) {
    p.frame(kind, payload).write_to(payload, out);
}

/// The header and the bytes a server frame carries (compressed or not).
#[allow(dead_code)]
pub fn server_frame(p: &mut Protocol, kind: OutKind, message: Bytes) -> (FrameHeader, Bytes) {
    let frame = p.frame(kind, &message);
    (frame.header, frame.compressed.unwrap_or(message))
}
