#![no_main]
//! See `emws_fuzz` for the input layout and what is asserted.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emws_fuzz::handshake::run(data));
