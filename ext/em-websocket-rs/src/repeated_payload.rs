//! One buffer for a String sent to many connections in a row.
//!
//! A broadcast through `EM::Channel` (or any loop over connections) sends
//! the same String to every subscriber in turn. The first send copies it as
//! any send does; from the second on, the sends share one buffer: a
//! reference instead of an allocation and a copy each. A send only gets the
//! shared buffer when the String still holds exactly its bytes, so a String
//! changed in place between two sends is copied afresh.

use std::cell::RefCell;

use bytes::Bytes;
use emws_server::{Payload, INLINE_BYTES};
use magnus::rb_sys::AsRawValue;
use magnus::RString;

/// Larger Strings are not kept between sends: the buffer lives until another
/// String is sent, and a large one should not outlive its broadcast by much.
const MAX_KEPT: usize = 1 << 20;

/// The String sent last on this thread, and its bytes once it was sent twice.
#[derive(Default)]
struct LastSent {
    string: rb_sys::VALUE,
    bytes: Option<Bytes>,
}

thread_local! {
    static LAST_SENT: RefCell<LastSent> = RefCell::new(LastSent::default());
}

/// What to queue for `data`, the bytes of `string`: a small String's bytes
/// are copied into the command itself, which allocates nothing; a larger one
/// sent again shares the buffer of its previous send.
pub fn payload(string: RString, data: &[u8]) -> Payload<'_> {
    if data.len() <= INLINE_BYTES || data.len() > MAX_KEPT {
        return Payload::Borrowed(data);
    }
    let raw = string.as_raw();
    LAST_SENT.with(|last| {
        let mut last = last.borrow_mut();
        if last.string != raw {
            *last = LastSent {
                string: raw,
                bytes: None,
            };
            return Payload::Borrowed(data);
        }
        match &last.bytes {
            Some(bytes) if bytes[..] == *data => Payload::Shared(bytes.clone()),
            _ => {
                let bytes = Bytes::copy_from_slice(data);
                last.bytes = Some(bytes.clone());
                Payload::Shared(bytes)
            }
        }
    })
}
