//! `EmWebSocketRs::Native::Connection`: what Ruby sends through.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use emws_core::OutKind;
use emws_server::upgrade::UpgradeDecision;
use emws_server::{wake_policy, ConnectionHandle, Sent};
use magnus::rb_sys::AsRawValue;
use magnus::value::{IntoId, LazyId, ReprValue};
use magnus::{method, prelude::*, Error, RArray, RModule, RString, Ruby, StaticSymbol, Value};

use crate::repeated_payload;

#[magnus::wrap(class = "EmWebSocketRs::Native::Connection", free_immediately, size)]
pub struct NativeConnection(pub Arc<ConnectionHandle>);

/// Copies a Ruby string's bytes: the one copy a message makes on its way out.
pub fn copy_bytes(string: RString) -> Bytes {
    // SAFETY: the slice is copied before any Ruby code can run and move or
    // change the string.
    Bytes::copy_from_slice(unsafe { string.as_slice() })
}

static TEXT: LazyId = LazyId::new("text");
static BINARY: LazyId = LazyId::new("binary");
static PING: LazyId = LazyId::new("ping");
static PONG: LazyId = LazyId::new("pong");
static QUEUED: LazyId = LazyId::new("queued");
static LIMIT_REACHED: LazyId = LazyId::new("limit_reached");
static GONE: LazyId = LazyId::new("gone");
static NOT_TEXT: LazyId = LazyId::new("not_text");

/// The frame kind a Symbol names, as em-websocket's `send_frame` takes it:
/// `:text`, `:binary`, `:ping` or `:pong`.
pub fn out_kind(ruby: &Ruby, kind: Value) -> Result<OutKind, Error> {
    let is = |name: &LazyId| kind.as_raw() == symbol(ruby, name).as_raw();
    if is(&TEXT) {
        Ok(OutKind::Text)
    } else if is(&BINARY) {
        Ok(OutKind::Binary)
    } else if is(&PING) {
        Ok(OutKind::Ping)
    } else if is(&PONG) {
        Ok(OutKind::Pong)
    } else {
        Err(Error::new(
            ruby.exception_arg_error(),
            format!("unknown frame type {}", kind.inspect()),
        ))
    }
}

/// What became of a send: `:queued`, `:limit_reached` (`:outbound_limit`
/// aborted the connection) or `:gone` (it had already ended).
fn sent_symbol(ruby: &Ruby, sent: Sent) -> StaticSymbol {
    symbol(
        ruby,
        match sent {
            Sent::Queued => &QUEUED,
            Sent::LimitReached => &LIMIT_REACHED,
            Sent::Gone => &GONE,
        },
    )
}

fn symbol(ruby: &Ruby, name: &LazyId) -> StaticSymbol {
    StaticSymbol::from((**name).into_id_with(ruby))
}

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

    /// Queues a frame of `kind` (`:text`, `:binary`, `:ping`, `:pong`).
    pub fn send_frame(
        ruby: &Ruby,
        rb_self: &Self,
        kind: Value,
        data: RString,
    ) -> Result<StaticSymbol, Error> {
        let kind = out_kind(ruby, kind)?;
        // SAFETY: the bytes are copied before any Ruby code can run.
        let payload = repeated_payload::payload(data, unsafe { data.as_slice() });
        Ok(sent_symbol(
            ruby,
            wake_policy::send(&rb_self.0, kind, payload),
        ))
    }

    /// `ws.send`'s fast path: queues `data` as a text frame when it is a
    /// String that em-websocket would send (valid UTF-8, or ASCII-only in any
    /// ASCII-compatible encoding); otherwise queues nothing and answers
    /// `:not_text`, and the Ruby side raises what em-websocket raises.
    pub fn send_text(ruby: &Ruby, rb_self: &Self, data: Value) -> StaticSymbol {
        match RString::from_value(data) {
            Some(text) if sendable_as_text(text) => {
                // SAFETY: the bytes are copied before any Ruby code can run.
                let payload = repeated_payload::payload(text, unsafe { text.as_slice() });
                sent_symbol(ruby, wake_policy::send(&rb_self.0, OutKind::Text, payload))
            }
            _ => symbol(ruby, &NOT_TEXT),
        }
    }

    /// Queues bytes to be written as they are (`send_data`).
    pub fn send_raw(ruby: &Ruby, rb_self: &Self, data: RString) -> StaticSymbol {
        sent_symbol(ruby, rb_self.0.send_raw(copy_bytes(data)))
    }

    /// The server's `:outbound_limit` (0: none).
    pub fn outbound_limit(&self) -> usize {
        self.0.outbound_limit()
    }

    /// The server's `:drain_threshold` (0: `ondrain` never fires).
    pub fn drain_threshold(&self) -> usize {
        self.0.drain_threshold()
    }

    pub fn close(&self, code: Option<u16>, reason: Option<RString>, timeout: f64) {
        let reason = reason.map(copy_bytes).unwrap_or_default();
        self.0
            .close(code, reason, duration(timeout).unwrap_or(Duration::MAX));
    }

    pub fn disconnect(&self, after_writing: bool) {
        self.0.disconnect(after_writing);
    }

    /// `ws.onupgrade`'s acceptance: the subprotocol (nil: the server's
    /// choice) and more response headers (`[name, value, ...]`).
    pub fn accept_upgrade(
        ruby: &Ruby,
        rb_self: &Self,
        protocol: Option<String>,
        headers: RArray,
    ) -> Result<(), Error> {
        let headers = header_pairs(headers)?;
        rb_self.decide(ruby, UpgradeDecision::Accept { protocol, headers })
    }

    /// `ws.onupgrade`'s refusal: the HTTP response the client gets instead.
    pub fn refuse_upgrade(
        ruby: &Ruby,
        rb_self: &Self,
        status: u16,
        headers: RArray,
        body: RString,
    ) -> Result<(), Error> {
        let headers = header_pairs(headers)?;
        let body = copy_bytes(body);
        rb_self.decide(
            ruby,
            UpgradeDecision::Refuse {
                status,
                headers,
                body,
            },
        )
    }

    fn decide(&self, ruby: &Ruby, decision: UpgradeDecision) -> Result<(), Error> {
        decision
            .check()
            .map_err(|e| Error::new(ruby.exception_arg_error(), e))?;
        self.0.decide(decision);
        Ok(())
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
/// `[name, value, name, value, ...]` as pairs.
fn header_pairs(flat: RArray) -> Result<Vec<(String, String)>, Error> {
    let items: Vec<String> = flat.to_vec()?;
    Ok(items
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair.get(1).cloned().unwrap_or_default()))
        .collect())
}

pub fn duration(seconds: f64) -> Option<Duration> {
    if seconds.is_finite() && seconds > 0.0 {
        Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
    } else if seconds == f64::INFINITY {
        Some(Duration::MAX)
    } else {
        None
    }
}

pub fn register(ruby: &Ruby, native: RModule) -> Result<(), Error> {
    let class = native.define_class("Connection", ruby.class_object())?;
    class.define_method("id", method!(NativeConnection::id, 0))?;
    class.define_method("peer_ip", method!(NativeConnection::peer_ip, 0))?;
    class.define_method("peer_port", method!(NativeConnection::peer_port, 0))?;
    class.define_method("local_address", method!(NativeConnection::local_address, 0))?;
    class.define_method("closed?", method!(NativeConnection::is_closed, 0))?;
    class.define_method("receive", method!(NativeConnection::receive, 1))?;
    class.define_method("send_frame", method!(NativeConnection::send_frame, 2))?;
    class.define_method("send_text", method!(NativeConnection::send_text, 1))?;
    class.define_method("send_raw", method!(NativeConnection::send_raw, 1))?;
    class.define_method("close", method!(NativeConnection::close, 3))?;
    class.define_method("disconnect", method!(NativeConnection::disconnect, 1))?;
    class.define_method(
        "accept_upgrade",
        method!(NativeConnection::accept_upgrade, 2),
    )?;
    class.define_method(
        "refuse_upgrade",
        method!(NativeConnection::refuse_upgrade, 3),
    )?;
    class.define_method(
        "outbound_bytes",
        method!(NativeConnection::outbound_bytes, 0),
    )?;
    class.define_method(
        "outbound_limit",
        method!(NativeConnection::outbound_limit, 0),
    )?;
    class.define_method(
        "drain_threshold",
        method!(NativeConnection::drain_threshold, 0),
    )?;
    class.define_method(
        "max_frame_size=",
        method!(NativeConnection::set_max_frame_size, 1),
    )?;
    class.define_method("paused=", method!(NativeConnection::set_paused, 1))?;
    class.define_method(
        "inactivity_timeout=",
        method!(NativeConnection::set_inactivity_timeout, 1),
    )?;
    class.define_method(
        "panic_for_test",
        method!(NativeConnection::panic_for_test, 0),
    )?;
    Ok(())
}
