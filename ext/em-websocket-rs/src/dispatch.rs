//! `EmWebSocketRs::Native::Reactor`: delivers the bridge's events to Ruby.
//!
//! `dispatch` runs on the reactor thread when the watched descriptor is
//! readable (events queued, or a socket of a plain connection ready). It
//! first runs the plain connections' tasks that their sockets woke (they
//! read and queue events), then takes the whole batch and calls one Ruby method per event on the
//! connection object (looked up by id in the Ruby side's Hash, once per run
//! of one connection's events); a message goes straight to the application's
//! `onmessage`/`onbinary` block when that is all the connection's own
//! trigger method would do. If a callback raises, the rest of the batch is
//! kept for the next call and the wake descriptor is made readable again, so
//! that an exception the application lets escape into the reactor loses no
//! event. Last, it runs the tasks the batch's sends woke, so that the
//! replies leave in the same pass.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use emws_core::{DeflateConfig, HandshakeConfig};
use emws_server::{
    Bridge, ErrorKind, Event, Input, Opened, Pem, Server, ServerConfig, TlsConfig, TlsOptions,
};
use magnus::rb_sys::{AsRawId, AsRawValue, FromRawValue};
use magnus::value::{IntoId, LazyId, OpaqueId, ReprValue};
use magnus::{Error, RArray, RHash, RString, Ruby, Symbol, TryConvert, Value};

use crate::connection::{duration, NativeConnection};
use crate::server::NativeServer;

static ACCEPT: LazyId = LazyId::new("_rs_accept");
static OPEN: LazyId = LazyId::new("_rs_open");
static MESSAGE: LazyId = LazyId::new("_rs_message");
static BINARY: LazyId = LazyId::new("_rs_binary");
static PING: LazyId = LazyId::new("_rs_ping");
static PONG: LazyId = LazyId::new("_rs_pong");
static ERROR: LazyId = LazyId::new("_rs_error");
static CLOSE: LazyId = LazyId::new("_rs_close");
static DRAIN: LazyId = LazyId::new("_rs_drain");
static RECEIVE_DATA: LazyId = LazyId::new("receive_data");
static READS_BYTES: LazyId = LazyId::new("_rs_reads_bytes?");
static APPLICATION_ERROR: LazyId = LazyId::new("_rs_application_error");
static TRIGGER_MESSAGE: LazyId = LazyId::new("trigger_on_message");
static TRIGGER_BINARY: LazyId = LazyId::new("trigger_on_binary");
static DEBUG: LazyId = LazyId::new("@debug");
static ON_MESSAGE: LazyId = LazyId::new("@onmessage");
static ON_BINARY: LazyId = LazyId::new("@onbinary");
static PLAIN_TRIGGERS: LazyId = LazyId::new("@_rs_plain_triggers");
static BYTE_HOOKS: LazyId = LazyId::new("@_rs_byte_hooks");

#[magnus::wrap(class = "EmWebSocketRs::Native::Reactor", free_immediately, size)]
pub struct Reactor {
    bridge: Arc<Bridge>,
    /// Events of a batch interrupted by an exception, delivered first next time.
    pending: RefCell<Vec<Event>>,
    /// The last batch's buffer, emptied, to be the bridge's next queue.
    spare: RefCell<Vec<Event>>,
    /// Connections removed so far: a dispatch run from inside a callback
    /// (`Server#stop`) may remove the one an outer dispatch remembers.
    removals: Cell<u64>,
}

/// A batch longer than this hands the wakes it owes to the relay every this
/// many events: after a stall (a GC, a busy CPU) the replies to its first
/// messages leave while the rest are delivered, instead of all at the end
/// (A/B on the 100x10 echo: faster in 8 of 9 pairs, by 1-5%).
const WAKE_EVERY: usize = 128;

/// A buffer that grew past this many events in a burst is not kept.
const MAX_SPARE_EVENTS: usize = 4096;

impl Reactor {
    pub fn new(ruby: &Ruby) -> Result<Reactor, Error> {
        let bridge = Bridge::new().map_err(|e| {
            Error::new(
                ruby.exception_runtime_error(),
                format!("cannot create the event descriptor: {e}"),
            )
        })?;
        Ok(Reactor {
            bridge: Arc::new(bridge),
            pending: RefCell::new(Vec::new()),
            spare: RefCell::new(Vec::new()),
            removals: Cell::new(0),
        })
    }

    pub fn fd(&self) -> i32 {
        self.bridge.watch_fd()
    }

    /// Binds and starts a server; raises `RuntimeError` ("no acceptor ...",
    /// as EventMachine does) when the address cannot be bound.
    pub fn listen(ruby: &Ruby, rb_self: &Self, options: RHash) -> Result<NativeServer, Error> {
        let config = server_config(ruby, options)?;
        let where_ = format!("{}:{}", config.host, config.port);
        Server::start(config, rb_self.bridge.clone())
            .map(NativeServer)
            .map_err(|e| {
                Error::new(
                    ruby.exception_runtime_error(),
                    format!(
                        "no acceptor (port is in use or requires root privileges) on {where_}: {e}"
                    ),
                )
            })
    }

    /// Delivers every queued event; returns how many were delivered.
    pub fn dispatch(
        ruby: &Ruby,
        rb_self: &Self,
        router: Value,
        connections: RHash,
    ) -> Result<usize, Error> {
        // The emptied buffer of the last batch goes back to the bridge, so
        // that neither side allocates a queue per batch.
        let mut batch = std::mem::take(&mut *rb_self.spare.borrow_mut());
        rb_self.bridge.run_tasks();
        rb_self.bridge.take_batch(&mut batch);
        let pending = std::mem::take(&mut *rb_self.pending.borrow_mut());
        if !pending.is_empty() {
            batch.splice(0..0, pending);
        }
        let total = batch.len();
        let deferral = emws_server::wake_policy::Deferral::begin();
        let mut recipients = Recipients::new(connections, &rb_self.removals);
        let mut events = batch.drain(..).enumerate();
        while let Some((delivered, event)) = events.next() {
            if delivered % WAKE_EVERY == WAKE_EVERY - 1 {
                emws_server::wake_policy::wake_owed();
            }
            if let Err(error) = deliver(ruby, router, &mut recipients, event) {
                let mut pending = rb_self.pending.borrow_mut();
                let mut rest: Vec<Event> = events.map(|(_, event)| event).collect();
                rest.append(&mut pending);
                *pending = rest;
                if !pending.is_empty() {
                    rb_self.bridge.wake();
                }
                return Err(error);
            }
        }
        drop(events);
        if batch.capacity() <= MAX_SPARE_EVENTS {
            *rb_self.spare.borrow_mut() = batch;
        }
        // The wakes the batch owed queue the reactor's own tasks: their
        // replies go out now, in this pass.
        drop(deferral);
        rb_self.bridge.run_tasks();
        Ok(total)
    }
}

/// How a connection's messages reach the application.
#[derive(Clone, Copy)]
enum Route {
    /// Through `_rs_message`/`_rs_binary`, which log them (`:debug`).
    Logged,
    /// Through `trigger_on_message`/`trigger_on_binary`: its class overrides them.
    Triggers,
    /// Straight to the `onmessage`/`onbinary` block, which is all the
    /// library's own triggers would do.
    Blocks,
}

impl Route {
    fn of(ruby: &Ruby, conn: Value) -> Route {
        if ivar(ruby, conn, *DEBUG).is_some() {
            return Route::Logged;
        }
        // A method defined on this one object (`def ws.trigger_on_message`,
        // `ws.extend`): leave it to the triggers.
        if has_singleton_class(conn) {
            return Route::Triggers;
        }
        // SAFETY: on the Ruby thread, with a live object.
        let class = unsafe { Value::from_raw(rb_sys::rb_obj_class(conn.as_raw())) };
        // Set by `Connection.accept` for the connection's class.
        match ivar(ruby, class, *PLAIN_TRIGGERS) {
            Some(_) => Route::Blocks,
            None => Route::Triggers,
        }
    }
}

/// The Ruby connections by id, remembering the last one asked for: a read's
/// events are queued together, so a connection's events come in runs and one
/// Hash lookup serves the run.
struct Recipients<'a> {
    connections: RHash,
    removals: &'a Cell<u64>,
    last: Option<Recipient>,
}

#[derive(Clone, Copy)]
struct Recipient {
    id: u64,
    conn: Value,
    route: Route,
    /// `removals` when it was looked up: any removal since may have been it.
    removals: u64,
}

impl<'a> Recipients<'a> {
    fn new(connections: RHash, removals: &'a Cell<u64>) -> Recipients<'a> {
        Recipients {
            connections,
            removals,
            last: None,
        }
    }

    /// The connection and how its messages go; `None` for one the Ruby side
    /// refused (its server had stopped) or has already closed.
    fn get(&mut self, ruby: &Ruby, id: u64) -> Option<(Value, Route)> {
        match self.last {
            Some(last) if last.id == id && last.removals == self.removals.get() => {
                Some((last.conn, last.route))
            }
            _ => {
                let conn: Value = self.connections.get(id)?;
                let route = Route::of(ruby, conn);
                self.last = Some(Recipient {
                    id,
                    conn,
                    route,
                    removals: self.removals.get(),
                });
                Some((conn, route))
            }
        }
    }

    /// Forgets a closed connection.
    fn remove(&mut self, id: u64) -> Result<(), Error> {
        self.removals.set(self.removals.get() + 1);
        self.connections.delete::<_, Option<Value>>(id).map(drop)
    }
}

/// The Ruby methods and block for one kind of message.
struct MessageKind {
    logged: &'static LazyId,
    trigger: &'static LazyId,
    block: &'static LazyId,
}

static TEXT_MESSAGE: MessageKind = MessageKind {
    logged: &MESSAGE,
    trigger: &TRIGGER_MESSAGE,
    block: &ON_MESSAGE,
};

static BINARY_MESSAGE: MessageKind = MessageKind {
    logged: &BINARY,
    trigger: &TRIGGER_BINARY,
    block: &ON_BINARY,
};

fn deliver(
    ruby: &Ruby,
    router: Value,
    recipients: &mut Recipients,
    event: Event,
) -> Result<(), Error> {
    let id = event.connection_id();
    if let Event::Accepted { server, handle } = event {
        let accepted: Result<Value, Error> =
            router.funcall(*ACCEPT, (server, NativeConnection(handle.clone())));
        let input = match &accepted {
            Ok(conn) if !conn.is_nil() => input_of(ruby, *conn),
            _ => Ok(Input::Native),
        };
        handle.start(*input.as_ref().unwrap_or(&Input::Native));
        return accepted.and(input).map(drop);
    }
    if let Event::Barrier { handle, barrier } = event {
        handle.release(barrier);
        return Ok(());
    }
    let Some((conn, route)) = recipients.get(ruby, id) else {
        if let Event::Opened { handle, .. } | Event::Received { handle, .. } = event {
            handle.consumed();
        }
        return Ok(());
    };
    let _: Value = match event {
        Event::Accepted { .. } | Event::Barrier { .. } => unreachable!("handled above"),
        // The task reads on once these are delivered, even when the
        // application raised: the error goes up into the reactor, as
        // EventMachine lets it, and the connection lives on.
        Event::Opened { handle, opened } => {
            let opened =
                open_args(ruby, *opened).and_then(|args| conn.funcall::<_, _, Value>(*OPEN, args));
            handle.consumed();
            opened?
        }
        Event::Received { handle, data } => {
            let received =
                conn.funcall::<_, _, Value>(*RECEIVE_DATA, (ruby.str_from_slice(&data),));
            handle.consumed();
            received?
        }
        Event::Text { data, .. } => {
            let text = validated_text(ruby, &data);
            return deliver_message(ruby, conn, route, text, &TEXT_MESSAGE);
        }
        Event::Binary { data, .. } => {
            let data = ruby.str_from_slice(&data);
            return deliver_message(ruby, conn, route, data, &BINARY_MESSAGE);
        }
        Event::Ping { data, .. } => conn.funcall(*PING, (ruby.str_from_slice(&data),))?,
        Event::Pong { data, .. } => conn.funcall(*PONG, (ruby.str_from_slice(&data),))?,
        Event::Drained { handle } => {
            if !handle.drain_confirmed() {
                return Ok(());
            }
            conn.funcall(*DRAIN, ())?
        }
        Event::Error { kind, message, .. } => conn.funcall(*ERROR, (error_kind(kind), message))?,
        Event::Closed { info, .. } => {
            recipients.remove(id)?;
            let reason = info
                .reason
                .map(|reason| ruby.enc_str_new(&reason, ruby.utf8_encoding()));
            conn.funcall(*CLOSE, (info.code, reason, info.was_clean))?
        }
    };
    Ok(())
}

/// Who reads a new connection's bytes first: the application when its
/// class (or, for an object with a singleton class, the object) overrides
/// `receive_data` or `dispatch`.
fn input_of(ruby: &Ruby, conn: Value) -> Result<Input, Error> {
    let reads_bytes = if has_singleton_class(conn) {
        conn.funcall::<_, _, bool>(*READS_BYTES, ())?
    } else {
        // SAFETY: on the Ruby thread, with a live object.
        let class = unsafe { Value::from_raw(rb_sys::rb_obj_class(conn.as_raw())) };
        // Set by `Connection.accept` for the connection's class.
        ivar(ruby, class, *BYTE_HOOKS).is_some()
    };
    Ok(if reads_bytes {
        Input::Application
    } else {
        Input::Native
    })
}

/// Whether methods may have been defined on this one object (`def
/// ws.receive_data`, `ws.extend`): they live in its singleton class.
fn has_singleton_class(object: Value) -> bool {
    // SAFETY: on the Ruby thread, with a live object.
    unsafe {
        let raw = object.as_raw();
        (*(raw as *const rb_sys::RBasic)).klass != rb_sys::rb_obj_class(raw)
    }
}

/// A UTF-8 String of text the core has validated, with its code range set
/// from what is known (as `RB_ENCODING_SET_INLINED` and `ENC_CODERANGE_SET`
/// do), so that neither associating the encoding nor `ws.send`'s check of
/// the String scans or looks anything up again.
fn validated_text(ruby: &Ruby, text: &[u8]) -> RString {
    use rb_sys::ruby_coderange_type::{self, RUBY_ENC_CODERANGE_7BIT, RUBY_ENC_CODERANGE_VALID};
    use rb_sys::ruby_encoding_consts::{RUBY_ENCODING_MASK, RUBY_ENCODING_SHIFT};
    let string = ruby.str_from_slice(text);
    let range = if text.is_ascii() {
        RUBY_ENC_CODERANGE_7BIT
    } else {
        RUBY_ENC_CODERANGE_VALID
    };
    let shift = RUBY_ENCODING_SHIFT as u32;
    let fields = RUBY_ENCODING_MASK as rb_sys::VALUE
        | ruby_coderange_type::RUBY_ENC_CODERANGE_MASK as rb_sys::VALUE;
    // SAFETY: on the Ruby thread, on a String just created that no other
    // code has seen yet; UTF-8's index is below the inline maximum.
    unsafe {
        let utf8 = rb_sys::rb_utf8_encindex() as rb_sys::VALUE;
        let basic = string.as_raw() as *mut rb_sys::RBasic;
        (*basic).flags = ((*basic).flags & !fields) | (utf8 << shift) | range as rb_sys::VALUE;
    }
    string
}

/// An instance variable's value; `None` when unset, nil or false.
fn ivar(ruby: &Ruby, object: Value, name: OpaqueId) -> Option<Value> {
    let name = name.into_id_with(ruby).as_raw();
    // SAFETY: on the Ruby thread; reading an instance variable cannot raise.
    let value = unsafe { rb_sys::rb_ivar_get(object.as_raw(), name) };
    // SAFETY: a VALUE Ruby just returned.
    rb_sys::TEST(value).then(|| unsafe { Value::from_raw(value) })
}

/// A message to the connection, by its route, with em-websocket's rule for
/// what the application raises: a StandardError closes the connection with
/// 3000 and goes to `onerror` (`_rs_application_error`); anything else goes
/// up. `Route::Blocks` calls the block itself when it is a Proc; anything
/// else (no block, nil) goes through the trigger, which does what it does.
fn deliver_message(
    ruby: &Ruby,
    conn: Value,
    route: Route,
    message: RString,
    kind: &MessageKind,
) -> Result<(), Error> {
    let delivered = match route {
        Route::Logged => {
            return conn
                .funcall::<_, _, Value>(**kind.logged, (message,))
                .map(drop)
        }
        Route::Blocks => match ivar(ruby, conn, **kind.block) {
            Some(block) if is_proc(block) => call_block(block, message),
            _ => conn.funcall::<_, _, Value>(**kind.trigger, (message,)),
        },
        Route::Triggers => conn.funcall::<_, _, Value>(**kind.trigger, (message,)),
    };
    match delivered {
        Ok(_) => Ok(()),
        Err(error) if error.is_kind_of(ruby.exception_standard_error()) => {
            let exception = error.value().expect("an exception, not a jump");
            conn.funcall::<_, _, Value>(*APPLICATION_ERROR, (exception,))
                .map(drop)
        }
        Err(error) => Err(error),
    }
}

/// Whether `value` is a plain Proc (a subclass may define its own `call`).
fn is_proc(value: Value) -> bool {
    // SAFETY: on the Ruby thread, with a live object; rb_cProc is set at boot.
    unsafe { rb_sys::rb_obj_class(value.as_raw()) == rb_sys::rb_cProc }
}

/// `block.call(message)`, as `Proc#call` does it, without an argument Array.
fn call_block(block: Value, message: RString) -> Result<Value, Error> {
    let argv = [message.as_raw()];
    // SAFETY: on the Ruby thread; `argv` outlives the call and holds a live
    // String, which the stack keeps from the GC.
    magnus::rb_sys::protect(|| unsafe {
        rb_sys::rb_proc_call_with_block(block.as_raw(), 1, argv.as_ptr(), rb_sys::Qnil as _)
    })
    // SAFETY: a VALUE Ruby just returned.
    .map(|value| unsafe { Value::from_raw(value) })
}

type OpenArgs = (RString, RString, RArray, u32, bool, Option<RString>);

fn open_args(ruby: &Ruby, opened: Opened) -> Result<OpenArgs, Error> {
    let request = opened.request;
    let headers = ruby.ary_new_capa(request.headers.len() * 2);
    for (name, value) in &request.headers {
        headers.push(ruby.str_new(name))?;
        headers.push(ruby.str_new(value))?;
    }
    Ok((
        ruby.str_new(&request.path),
        ruby.str_new(&request.query_string),
        headers,
        request.version,
        opened.secure,
        opened.protocol.as_deref().map(|p| ruby.str_new(p)),
    ))
}

fn error_kind(kind: ErrorKind) -> Symbol {
    Symbol::new(match kind {
        ErrorKind::Handshake => "handshake",
        ErrorKind::Protocol => "protocol",
        ErrorKind::InvalidData => "invalid_data",
        ErrorKind::MessageTooBig => "message_too_big",
    })
}

/// Reads the option Hash the Ruby side has already validated.
fn server_config(ruby: &Ruby, options: RHash) -> Result<ServerConfig, Error> {
    fn get<T: TryConvert>(ruby: &Ruby, options: RHash, key: &str) -> Result<Option<T>, Error> {
        match options.get(ruby.to_symbol(key)) {
            Some(value) if !value.is_nil() => T::try_convert(value).map(Some),
            _ => Ok(None),
        }
    }
    let defaults = ServerConfig::default();
    let secure_proxy = get::<bool>(ruby, options, "secure_proxy")?.unwrap_or(false);
    let secure = get::<bool>(ruby, options, "secure")?.unwrap_or(false);
    Ok(ServerConfig {
        host: get(ruby, options, "host")?.unwrap_or(defaults.host),
        port: get(ruby, options, "port")?.unwrap_or(defaults.port),
        handshake: HandshakeConfig {
            secure: secure || secure_proxy,
            protocols: get(ruby, options, "protocols")?.unwrap_or_default(),
            compression: match get::<RHash>(ruby, options, "compression")? {
                Some(compression) => Some(deflate_config(ruby, compression)?),
                None => None,
            },
        },
        max_message_size: get(ruby, options, "max_message_size")?
            .unwrap_or(defaults.max_message_size),
        max_handshake_size: get(ruby, options, "max_handshake_size")?
            .unwrap_or(defaults.max_handshake_size),
        handshake_timeout: match get::<f64>(ruby, options, "handshake_timeout")? {
            Some(seconds) => duration(seconds),
            None => defaults.handshake_timeout,
        },
        outbound_limit: get(ruby, options, "outbound_limit")?.unwrap_or(defaults.outbound_limit),
        require_masking: get(ruby, options, "strict_masking")?.unwrap_or(false),
        reuse_port: get(ruby, options, "reuse_port")?.unwrap_or(false),
        backlog: get(ruby, options, "backlog")?.unwrap_or(defaults.backlog),
        max_connections: get(ruby, options, "max_connections")?,
        ping_interval: get::<f64>(ruby, options, "ping_interval")?.and_then(duration),
        ping_timeout: get::<f64>(ruby, options, "ping_timeout")?.and_then(duration),
        drain_threshold: get(ruby, options, "drain_threshold")?.unwrap_or(defaults.drain_threshold),
        tls: match get::<RHash>(ruby, options, "tls")? {
            Some(tls) => Some(tls_config(ruby, tls)?),
            None => None,
        },
    })
}

/// `:compression`'s settings (validated by the Ruby side); what is not given
/// keeps its default.
fn deflate_config(ruby: &Ruby, options: RHash) -> Result<DeflateConfig, Error> {
    let defaults = DeflateConfig::default();
    let get = |key: &str| -> Option<Value> {
        options
            .get(ruby.to_symbol(key))
            .filter(|value| !value.is_nil())
    };
    let flag = |key: &str, default: bool| get(key).map_or(Ok(default), bool::try_convert);
    let bits = |key: &str, default: u8| get(key).map_or(Ok(default), u8::try_convert);
    Ok(DeflateConfig {
        server_no_context_takeover: flag(
            "server_no_context_takeover",
            defaults.server_no_context_takeover,
        )?,
        client_no_context_takeover: flag(
            "client_no_context_takeover",
            defaults.client_no_context_takeover,
        )?,
        server_max_window_bits: bits("server_max_window_bits", defaults.server_max_window_bits)?,
        client_max_window_bits: bits("client_max_window_bits", defaults.client_max_window_bits)?,
        min_size: get("min_size").map_or(Ok(defaults.min_size), usize::try_convert)?,
    })
}

/// Loads the certificate, key and client CA now, in the calling thread, so
/// that `EM::WebSocket.run` raises `ArgumentError` naming the file and the
/// problem before any client is accepted.
fn tls_config(ruby: &Ruby, tls: RHash) -> Result<TlsConfig, Error> {
    // Each PEM is given either as a path (`<name>_file`) or inline.
    let pem = |file: &str, inline: &str| -> Result<Option<Pem>, Error> {
        if let Some(path) = tls.get(ruby.to_symbol(file)).filter(|v| !v.is_nil()) {
            return Ok(Some(Pem::File(String::try_convert(path)?.into())));
        }
        match tls.get(ruby.to_symbol(inline)).filter(|v| !v.is_nil()) {
            // SAFETY: the bytes are copied before Ruby runs again.
            Some(text) => Ok(Some(Pem::Inline(unsafe {
                RString::try_convert(text)?.as_slice().to_vec()
            }))),
            None => Ok(None),
        }
    };
    let flag = |key: &str| tls.get(ruby.to_symbol(key)).is_some_and(|v| v.to_bool());
    let required = |pem: Option<Pem>, what: &str| {
        pem.ok_or_else(|| {
            Error::new(
                ruby.exception_arg_error(),
                format!(":tls_options needs {what}"),
            )
        })
    };
    let options = TlsOptions {
        cert_chain: required(pem("cert_chain_file", "cert")?, ":cert_chain_file or :cert")?,
        private_key: required(
            pem("private_key_file", "private_key")?,
            ":private_key_file or :private_key",
        )?,
        client_ca: pem("ca_file", "ca_cert")?,
        require_client_cert: flag("fail_if_no_peer_cert"),
        tls12: flag("tls12"),
        tls13: flag("tls13"),
    };
    TlsConfig::load(&options)
        .map_err(|e| Error::new(ruby.exception_arg_error(), format!(":tls_options: {e}")))
}
