//! The Ruby binding of em-websocket-rs: the only crate that knows Ruby.
//!
//! Defines `EmWebSocketRs::Native`, each class registering itself:
//! * `Dispatcher` (`dispatcher`): owns the bridge; its `dispatch` runs on the
//!   EventMachine reactor thread and hands each batch of events to the Ruby
//!   objects (`delivery`, with the fast path of messages in `fast_path`).
//! * `Server` (`server`): one listening server, started with the options of
//!   `EM::WebSocket.run` (`options`).
//! * `Connection` (`connection`): the handle a Ruby
//!   `EM::WebSocket::Connection` sends through.
//! * `Fanout` (`fanout`) and `RedisChannel` (`redis_channel`): one message
//!   to many connections, in this process or across processes through Redis.
//! * `Native.stats` and `Server#stats` (`stats`): the servers' figures.
//! * `Native.handshake` (`handshake`): the core's handshake for Ruby code
//!   that drives `EM::WebSocket::Handshake` by hand.
//!
//! Every method runs on a Ruby thread with the GVL held and returns without
//! blocking on the network; no Ruby object ever reaches a tokio thread.

mod connection;
mod delivery;
mod dispatcher;
mod fanout;
mod fast_path;
mod handshake;
mod options;
mod redis_channel;
mod repeated_payload;
mod server;
mod stats;

use magnus::{prelude::*, Error, Ruby};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[magnus::init]
fn init(ruby: &Ruby) -> Result<(), Error> {
    let native = ruby
        .define_module("EmWebSocketRs")?
        .define_module("Native")?;
    dispatcher::register(ruby, native)?;
    server::register(ruby, native)?;
    connection::register(ruby, native)?;
    fanout::register(ruby, native)?;
    redis_channel::register(ruby, native)?;
    handshake::register(native)?;
    options::register(native)?;
    stats::register(native)?;
    Ok(())
}
