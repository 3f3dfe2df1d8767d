//! The Ruby binding of em-websocket-rs: the only crate that knows Ruby.
//!
//! Defines `EmWebSocketRs::Native` with three classes:
//! * `Reactor`: owns the bridge; its `dispatch` runs on the EventMachine
//!   reactor thread and hands each batch of events to the Ruby objects.
//! * `Server`: one listening server (`stop`, `port`).
//! * `Connection`: the handle a Ruby `EM::WebSocket::Connection` sends through.
//!
//! Every method runs on a Ruby thread with the GVL held and returns without
//! blocking on the network; no Ruby object ever reaches a tokio thread.

mod connection;
mod dispatch;
mod fanout;
mod handshake;
mod server;

use magnus::{function, method, prelude::*, Error, Ruby};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[magnus::init]
fn init(ruby: &Ruby) -> Result<(), Error> {
    let root = ruby.define_module("EmWebSocketRs")?;
    let native = root.define_module("Native")?;
    native.define_module_function(
        "max_frame_size=",
        function!(server::set_default_max_frame_size, 1),
    )?;
    native.define_module_function("worker_threads=", function!(server::set_worker_threads, 1))?;
    native.define_module_function("worker_threads", function!(server::worker_threads, 0))?;
    native.define_module_function("handshake", function!(handshake::parse, 3))?;

    let reactor = native.define_class("Reactor", ruby.class_object())?;
    reactor.define_singleton_method("new", function!(dispatch::Reactor::new, 0))?;
    reactor.define_method("fd", method!(dispatch::Reactor::fd, 0))?;
    reactor.define_method("dispatch", method!(dispatch::Reactor::dispatch, 2))?;
    reactor.define_method("listen", method!(dispatch::Reactor::listen, 1))?;

    let server = native.define_class("Server", ruby.class_object())?;
    server.define_method("id", method!(server::NativeServer::id, 0))?;
    server.define_method("port", method!(server::NativeServer::port, 0))?;
    server.define_method("addresses", method!(server::NativeServer::addresses, 0))?;
    server.define_method("stop", method!(server::NativeServer::stop, 1))?;

    let fanout = native.define_class("Fanout", ruby.class_object())?;
    fanout.define_singleton_method("new", function!(fanout::Fanout::new, 0))?;
    fanout.define_method("add", method!(fanout::Fanout::add, 1))?;
    fanout.define_method("remove", method!(fanout::Fanout::remove, 1))?;
    fanout.define_method("size", method!(fanout::Fanout::len, 0))?;
    fanout.define_method("push", method!(fanout::Fanout::push, 2))?;

    let conn = native.define_class("Connection", ruby.class_object())?;
    conn.define_method("id", method!(connection::NativeConnection::id, 0))?;
    conn.define_method("peer_ip", method!(connection::NativeConnection::peer_ip, 0))?;
    conn.define_method(
        "peer_port",
        method!(connection::NativeConnection::peer_port, 0),
    )?;
    conn.define_method(
        "closed?",
        method!(connection::NativeConnection::is_closed, 0),
    )?;
    conn.define_method(
        "local_address",
        method!(connection::NativeConnection::local_address, 0),
    )?;
    conn.define_method("receive", method!(connection::NativeConnection::receive, 1))?;
    conn.define_method(
        "send_frame",
        method!(connection::NativeConnection::send_frame, 2),
    )?;
    conn.define_method(
        "send_text",
        method!(connection::NativeConnection::send_text, 1),
    )?;
    conn.define_method(
        "send_raw",
        method!(connection::NativeConnection::send_raw, 1),
    )?;
    conn.define_method("close", method!(connection::NativeConnection::close, 3))?;
    conn.define_method(
        "disconnect",
        method!(connection::NativeConnection::disconnect, 1),
    )?;
    conn.define_method(
        "outbound_bytes",
        method!(connection::NativeConnection::outbound_bytes, 0),
    )?;
    conn.define_method(
        "max_frame_size=",
        method!(connection::NativeConnection::set_max_frame_size, 1),
    )?;
    conn.define_method(
        "paused=",
        method!(connection::NativeConnection::set_paused, 1),
    )?;
    conn.define_method(
        "inactivity_timeout=",
        method!(connection::NativeConnection::set_inactivity_timeout, 1),
    )?;
    conn.define_method(
        "panic_for_test",
        method!(connection::NativeConnection::panic_for_test, 0),
    )?;
    Ok(())
}
