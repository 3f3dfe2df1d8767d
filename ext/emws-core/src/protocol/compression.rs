//! permessage-deflate on an open connection: the compressor and inflater,
//! and which messages they apply to.

use bytes::Bytes;

use crate::deflate::{Compressor, DeflateParams, Inflater};

#[derive(Debug)]
pub(super) struct Compression {
    pub(super) params: DeflateParams,
    compressor: Compressor,
    pub(super) inflater: Inflater,
}

impl Compression {
    pub(super) fn new(params: DeflateParams) -> Self {
        Compression {
            params,
            compressor: Compressor::new(
                params.server_max_window_bits,
                params.server_no_context_takeover,
                params.level,
            ),
            inflater: Inflater::new(
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
        }
    }

    /// The payload to send for a data message: compressed when it is at
    /// least `min_size` bytes (`None`: send it as it is).
    ///
    /// Without context takeover a message that does not shrink is sent as it
    /// is; with it, the compressor's window already holds the message, and
    /// the client's must too, so it goes compressed.
    pub(super) fn compress(&mut self, payload: &[u8]) -> Option<Bytes> {
        if payload.len() < self.params.min_size {
            return None;
        }
        let compressed = self.compressor.compress(payload);
        if self.params.server_no_context_takeover && compressed.len() >= payload.len() {
            return None;
        }
        Some(Bytes::from(compressed))
    }
}
