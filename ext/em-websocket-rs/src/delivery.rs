//! Each event of a batch, delivered to its Ruby connection: one method call
//! per event, or, for a message whose connection keeps the library's
//! triggers, a call of the application's block itself.

use emws_core::OutKind;
use emws_core::Request;
use emws_server::{ErrorKind, Event, Input, Opened};
use magnus::value::{LazyId, ReprValue};
use magnus::{Error, RArray, RHash, RString, Ruby, Symbol, Value};
use std::cell::Cell;

use crate::connection::NativeConnection;
use crate::fast_path::{
    call_block, class_of, has_singleton_class, is_proc, ivar, validated_text, BYTE_HOOKS, DEBUG,
    ON_BINARY, ON_MESSAGE, PLAIN_TRIGGERS,
};

static ACCEPT: LazyId = LazyId::new("_rs_accept");
static CHANNEL_MESSAGE: LazyId = LazyId::new("_rs_channel_message");
static CHANNEL_ERROR: LazyId = LazyId::new("_rs_channel_error");
static OPEN: LazyId = LazyId::new("_rs_open");
static SERVER_NAME: LazyId = LazyId::new("_rs_server_name");
static UPGRADE: LazyId = LazyId::new("_rs_upgrade");
static ON_UPGRADE: LazyId = LazyId::new("@onupgrade");
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
        match ivar(ruby, class_of(conn), *PLAIN_TRIGGERS) {
            Some(_) => Route::Blocks,
            None => Route::Triggers,
        }
    }
}

/// The Ruby connections by id, remembering the last one asked for: a read's
/// events are queued together, so a connection's events come in runs and one
/// Hash lookup serves the run.
pub struct Recipients<'a> {
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
    pub fn new(connections: RHash, removals: &'a Cell<u64>) -> Recipients<'a> {
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

/// The Ruby methods and block that take one kind of message.
struct MessageCallbacks {
    logged: &'static LazyId,
    trigger: &'static LazyId,
    block: &'static LazyId,
}

static TEXT_CALLBACKS: MessageCallbacks = MessageCallbacks {
    logged: &MESSAGE,
    trigger: &TRIGGER_MESSAGE,
    block: &ON_MESSAGE,
};

static BINARY_CALLBACKS: MessageCallbacks = MessageCallbacks {
    logged: &BINARY,
    trigger: &TRIGGER_BINARY,
    block: &ON_BINARY,
};

pub fn deliver(
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
        let decides_upgrade =
            matches!(&accepted, Ok(conn) if ivar(ruby, *conn, *ON_UPGRADE).is_some());
        handle.start(*input.as_ref().unwrap_or(&Input::Native), decides_upgrade);
        return accepted.and(input).map(drop);
    }
    if let Event::Barrier { handle, barrier } = event {
        handle.release(barrier);
        return Ok(());
    }
    if let Event::ChannelMessage {
        listener,
        kind,
        data,
    } = event
    {
        let message = match kind {
            OutKind::Text => validated_text(ruby, &data),
            _ => ruby.str_from_slice(&data),
        };
        return router
            .funcall::<_, _, Value>(*CHANNEL_MESSAGE, (listener, message))
            .map(drop);
    }
    if let Event::ChannelError { message } = event {
        return router
            .funcall::<_, _, Value>(*CHANNEL_ERROR, (message,))
            .map(drop);
    }
    let Some((conn, route)) = recipients.get(ruby, id) else {
        if let Event::Opened { handle, .. } | Event::Received { handle, .. } = event {
            handle.consumed();
        }
        return Ok(());
    };
    if let Event::Upgrade {
        request, secure, ..
    } = event
    {
        // The decision comes back through the connection (`accept_upgrade`
        // or `refuse_upgrade`), now or later.
        let args = request_args(ruby, &request)?;
        let (path, query_string, headers, version) = args;
        return conn
            .funcall::<_, _, Value>(*UPGRADE, (path, query_string, headers, version, secure))
            .map(drop);
    }
    let _: Value = match event {
        Event::Accepted { .. }
        | Event::Upgrade { .. }
        | Event::Barrier { .. }
        | Event::ChannelMessage { .. }
        | Event::ChannelError { .. } => unreachable!("handled above"),
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
            return deliver_message(ruby, conn, route, text, &TEXT_CALLBACKS);
        }
        Event::Binary { data, .. } => {
            let data = ruby.str_from_slice(&data);
            return deliver_message(ruby, conn, route, data, &BINARY_CALLBACKS);
        }
        Event::ServerName { name, .. } => conn.funcall(*SERVER_NAME, (name,))?,
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
        ivar(ruby, class_of(conn), *BYTE_HOOKS).is_some()
    };
    Ok(if reads_bytes {
        Input::Application
    } else {
        Input::Native
    })
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
    callbacks: &MessageCallbacks,
) -> Result<(), Error> {
    let delivered = match route {
        Route::Logged => {
            return conn
                .funcall::<_, _, Value>(**callbacks.logged, (message,))
                .map(drop)
        }
        Route::Blocks => match ivar(ruby, conn, **callbacks.block) {
            Some(block) if is_proc(block) => call_block(block, message),
            _ => conn.funcall::<_, _, Value>(**callbacks.trigger, (message,)),
        },
        Route::Triggers => conn.funcall::<_, _, Value>(**callbacks.trigger, (message,)),
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

type OpenArgs = (
    RString,
    RString,
    RArray,
    u32,
    bool,
    Option<RString>,
    Option<(RString, u16)>,
);

/// The request as `Handshake.completed` takes it: path, query string,
/// header pairs (flat) and version.
fn request_args(ruby: &Ruby, request: &Request) -> Result<(RString, RString, RArray, u32), Error> {
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
    ))
}

fn open_args(ruby: &Ruby, opened: Opened) -> Result<OpenArgs, Error> {
    let (path, query_string, headers, version) = request_args(ruby, &opened.request)?;
    Ok((
        path,
        query_string,
        headers,
        version,
        opened.secure,
        opened.protocol.as_deref().map(|p| ruby.str_new(p)),
        opened
            .forwarded_for
            .map(|client| (ruby.str_new(&client.ip().to_string()), client.port())),
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
