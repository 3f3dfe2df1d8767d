//! `EmWebSocketRs::Native::Connection`: what Ruby sends through.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use emws_core::OutKind;
use emws_server::{ConnectionHandle, Payload, Sent};
use magnus::rb_sys::AsRawValue;
use magnus::{Error, RString, Ruby, Value};

#[magnus::wrap(class = "EmWebSocketRs::Native::Connection", free_immediately, size)]
pub struct NativeConnection(pub Arc<ConnectionHandle>);

/// Copies a Ruby string's bytes: the one copy a message makes on its way out.
pub fn copy_bytes(string: RString) -> Bytes {
    // SAFETY: the slice is copied before any Ruby code can run and move or
    // change the string.
    Bytes::copy_from_slice(unsafe { string.as_slice() })
}

/// The frame kind for an RFC 6455 opcode: 1 text, 2 binary, 9 ping, 10 pong.
pub fn out_kind(ruby: &Ruby, opcode: u8) -> Result<OutKind, Error> {
    match opcode {
        1 => Ok(OutKind::Text),
        2 => Ok(OutKind::Binary),
        9 => Ok(OutKind::Ping),
        10 => Ok(OutKind::Pong),
        other => Err(Error::new(
            ruby.exception_arg_error(),
            format!("unknown frame kind {other}"),
        )),
    }
}

/// `send_text`'s answer for data it did not send.
const NOT_TEXT: u8 = 3;

/// em-websocket's rule for text: `(data.encoding == UTF_8 &&
/// data.valid_encoding?) || data.ascii_only?`, read from the string's cached
/// code range (scanned once per string, as those methods do).
fn sendable_as_text(text: RString) -> bool {
    use rb_sys::ruby_coderange_type::{RUBY_ENC_CODERANGE_7BIT, RUBY_ENC_CODERANGE_VALID};
    let value = text.as_raw();
    // SAFETY: called on the Ruby thread with a live String.
    unsafe {
        if rb_sys::rb_enc_get_index(value) == rb_sys::rb_utf8_encindex() {
            let range = rb_sys::rb_enc_str_coderange(value) as u32;
            range == RUBY_ENC_CODERANGE_7BIT as u32 || range == RUBY_ENC_CODERANGE_VALID as u32
        } else {
            rb_sys::rb_enc_str_asciionly_p(value) != 0
        }
    }
}

fn sent_code(sent: Sent) -> u8 {
    match sent {
        Sent::Queued => 0,
        Sent::LimitReached => 1,
        Sent::Gone => 2,
    }
}

impl NativeConnection {
    pub fn id(&self) -> u64 {
        self.0.id
    }

    pub fn peer_ip(&self) -> String {
        self.0.peer.ip().to_string()
    }

    pub fn peer_port(&self) -> u16 {
        self.0.peer.port()
    }

    /// Whether the connection has ended (its `Closed` event is on its way).
    pub fn is_closed(&self) -> bool {
        self.0.is_finished()
    }

    /// The socket's own address as [ip, port]; nil once the connection has ended.
    pub fn local_address(&self) -> Option<(String, u16)> {
        self.0
            .local_addr()
            .map(|addr| (addr.ip().to_string(), addr.port()))
    }

    /// Bytes the application passes on to the protocol (`super` from its
    /// `receive_data` or `dispatch`): the handshake, then frames.
    pub fn receive(&self, data: RString) {
        self.0.receive(copy_bytes(data));
    }

    /// Queues a frame: `kind` is the RFC 6455 opcode (1 text, 2 binary, 9 ping,
    /// 10 pong). Returns 0 when queued, 1 when `:outbound_limit` aborted the
    /// connection, 2 when the connection is already gone.
    pub fn send_frame(ruby: &Ruby, rb_self: &Self, kind: u8, data: RString) -> Result<u8, Error> {
        let kind = out_kind(ruby, kind)?;
        // SAFETY: the bytes are copied before any Ruby code can run.
        let data = Payload::Borrowed(unsafe { data.as_slice() });
        Ok(sent_code(emws_server::wake_policy::send(
            &rb_self.0, kind, data,
        )))
    }

    /// `ws.send`'s fast path: queues `data` as a text frame when it is a
    /// String that em-websocket would send (valid UTF-8, or ASCII-only in any
    /// ASCII-compatible encoding); otherwise queues nothing and answers 3, and
    /// the Ruby side raises what em-websocket raises.
    pub fn send_text(&self, data: Value) -> u8 {
        match RString::from_value(data) {
            Some(text) if sendable_as_text(text) => {
                // SAFETY: the bytes are copied before any Ruby code can run.
                let data = Payload::Borrowed(unsafe { text.as_slice() });
                sent_code(emws_server::wake_policy::send(&self.0, OutKind::Text, data))
            }
            _ => NOT_TEXT,
        }
    }

    pub fn send_raw(&self, data: RString) -> u8 {
        sent_code(self.0.send_raw(copy_bytes(data)))
    }

    pub fn close(&self, code: Option<u16>, reason: Option<RString>, timeout: f64) {
        let reason = reason.map(copy_bytes).unwrap_or_default();
        self.0
            .close(code, reason, duration(timeout).unwrap_or(Duration::MAX));
    }

    pub fn disconnect(&self, after_writing: bool) {
        self.0.disconnect(after_writing);
    }

    pub fn outbound_bytes(&self) -> usize {
        self.0.outbound_bytes()
    }

    pub fn set_max_frame_size(&self, max: usize) {
        self.0.set_max_frame_size(max);
    }

    pub fn set_paused(&self, paused: bool) {
        self.0.set_paused(paused);
    }

    pub fn set_inactivity_timeout(&self, seconds: f64) {
        self.0.set_inactivity_timeout(duration(seconds));
    }

    /// Fault injection for the test suite (needs `EMWS_TEST_HOOKS=1`): the
    /// connection's task panics.
    pub fn panic_for_test(ruby: &Ruby, rb_self: &Self) -> Result<(), Error> {
        if std::env::var_os("EMWS_TEST_HOOKS").is_none() {
            return Err(Error::new(
                ruby.exception_runtime_error(),
                "panic_for_test is a test hook: set EMWS_TEST_HOOKS=1",
            ));
        }
        rb_self.0.inject_panic();
        Ok(())
    }
}

/// Seconds from Ruby; zero, negative or not a number means none.
pub fn duration(seconds: f64) -> Option<Duration> {
    if seconds.is_finite() && seconds > 0.0 {
        Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
    } else if seconds == f64::INFINITY {
        Some(Duration::MAX)
    } else {
        None
    }
}
