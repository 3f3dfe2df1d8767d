//! Frames: how each draft lays them out on the wire.
//!
//! * [`opcode`]: what a frame carries, and how each draft numbers it.
//! * [`header`]: decoding the header of a frame received from a client
//!   (the hybi drafts 01-03, 05-06 and RFC 6455).
//! * [`mask`]: client-to-server masking.
//! * [`encode`]: headers of the frames the server sends.
//! * [`hixie`]: the sentinel-delimited frames of drafts 75 and 76.

pub mod encode;
pub mod header;
pub mod hixie;
pub mod mask;
pub mod opcode;

pub use encode::FrameHeader;
pub use header::{Header, Layout};
pub use mask::{apply_mask, Mask};
pub use opcode::{Numbering, OpCode};
