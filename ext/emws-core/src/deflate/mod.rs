//! permessage-deflate (RFC 7692): compressed messages, negotiated in the
//! opening handshake.
//!
//! * `header`: parsing `Sec-WebSocket-Extensions`.
//! * `negotiate`: choosing among the client's offers ([`negotiate`]).
//! * `codec`: compressing and inflating messages ([`Compressor`], [`Inflater`]).
//!
//! Compression uses flate2 with its zlib-rs backend: unlike the default
//! miniz_oxide backend it takes a window size, which `server_max_window_bits`
//! needs. zlib cannot deflate raw data with an 8-bit window, so a client that
//! asks for 8 gets a 9-bit compressor: zlib never emits a match more than
//! `window - 262` bytes back (it keeps room for a maximal match's lookahead),
//! so its 9-bit streams reach back at most 250 bytes and inflate within the
//! client's 256-byte window (tested in `codec`).

mod codec;
#[cfg(test)]
mod distances;
mod header;
mod negotiate;

pub use codec::{Compressor, Inflater};
pub use header::{parse as parse_extensions, Extension, Malformed};
pub use negotiate::negotiate;

/// The largest LZ77 window RFC 7692 allows, and the default.
pub const MAX_WINDOW_BITS: u8 = 15;
/// The smallest LZ77 window RFC 7692 allows.
pub const MIN_WINDOW_BITS: u8 = 8;

/// The server's permessage-deflate settings (the `:compression` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Always start each message with an empty window (and say so), trading
    /// compression for the memory and CPU of keeping the window.
    pub server_no_context_takeover: bool,
    /// Ask clients to compress each message on its own, so that no window
    /// is kept between the messages they send.
    pub client_no_context_takeover: bool,
    /// Never compress with a larger window than `2^n` bytes (8-15).
    pub server_max_window_bits: u8,
    /// Ask clients that offer to limit their window to `2^n` bytes (8-15).
    /// A client that did not offer `client_max_window_bits` is accepted all
    /// the same, with the 15 bits it then uses.
    pub client_max_window_bits: u8,
    /// Messages shorter than this are sent uncompressed.
    pub min_size: usize,
    /// zlib's compression level, 1 (fastest) to 9 (smallest).
    pub level: u8,
}

/// Messages shorter than this are not worth compressing by default: the
/// deflate framing alone costs a few bytes, and small messages rarely repeat
/// enough to pay for it.
pub const DEFAULT_MIN_SIZE: usize = 64;

/// zlib's fastest level. Deflating is most of what a compressed message
/// costs the server: on 4 KiB of JSON, level 6 took about three times as
/// long as level 1 for a third less output (docs/performance.md). As in
/// gorilla/websocket and uWebSockets, speed is the default.
pub const DEFAULT_LEVEL: u8 = 1;

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
            min_size: DEFAULT_MIN_SIZE,
            level: DEFAULT_LEVEL,
        }
    }
}

/// What a connection agreed on, from the server's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// We compress each message with a fresh window.
    pub server_no_context_takeover: bool,
    /// The client compresses each message with a fresh window: our inflater
    /// need not keep one.
    pub client_no_context_takeover: bool,
    /// Our compression window (8-15).
    pub server_max_window_bits: u8,
    /// The client's compression window (8-15): the window we inflate with.
    pub client_max_window_bits: u8,
    /// Our threshold for compressing a message (not negotiated).
    pub min_size: usize,
    /// Our compression level (not negotiated).
    pub level: u8,
}
