//! `EmWebSocketRs::Native::RedisChannel`: a channel whose pushes reach every
//! process subscribed to the same Redis channel.
//!
//! A push goes to this process's subscribers at once (copied out of Ruby
//! once, shared by every subscriber's queue, as `Fanout`), then to Redis for
//! the others; messages other processes publish are delivered by the
//! backend's task, with no Ruby call per subscriber.

use std::sync::Arc;

use emws_redis::{ChannelState, RedisBackend};
use emws_server::wake_policy::Deferral;
use magnus::{function, method, prelude::*, Error, RHash, RModule, RString, Ruby, Value};

use crate::connection::{copy_bytes, out_kind, NativeConnection};
use crate::dispatcher::Dispatcher;

#[magnus::wrap(class = "EmWebSocketRs::Native::RedisChannel", free_immediately, size)]
pub struct NativeRedisChannel {
    backend: Arc<RedisBackend>,
    state: Arc<ChannelState>,
}

impl NativeRedisChannel {
    /// The channel `name` (the prefix included) on the Redis at `url`;
    /// `ArgumentError` when `url` is not a Redis URL.
    fn new(
        ruby: &Ruby,
        dispatcher: &Dispatcher,
        url: String,
        name: RString,
    ) -> Result<Self, Error> {
        let backend = RedisBackend::open(&url, dispatcher.bridge().clone())
            .map_err(|message| Error::new(ruby.exception_arg_error(), message))?;
        let state = backend.channel(copy_bytes(name));
        Ok(NativeRedisChannel { backend, state })
    }

    fn add(&self, connection: &NativeConnection) -> bool {
        let added = self.state.fanout.add(&connection.0);
        if added {
            self.backend.changed();
        }
        added
    }

    fn remove(&self, connection: &NativeConnection) -> bool {
        let removed = self.state.fanout.remove(connection.0.id);
        if removed {
            self.backend.changed();
        }
        removed
    }

    fn size(&self) -> usize {
        self.state.fanout.len()
    }

    /// Delivers the message (`kind` `:text` or `:binary`) to this process's
    /// subscribers and hands it to Redis; returns how many subscribers here
    /// took it.
    fn push(ruby: &Ruby, rb_self: &Self, kind: Value, data: RString) -> Result<usize, Error> {
        let kind = out_kind(ruby, kind)?;
        let payload = copy_bytes(data);
        let delivered = {
            let _deferral = Deferral::begin();
            rb_self.state.fanout.push(kind, &payload)
        };
        rb_self.backend.publish(&rb_self.state, kind, &payload);
        Ok(delivered)
    }

    /// The id the Ruby side gives the channel's block listeners (0: none).
    fn set_listener(&self, id: u64) {
        self.state.set_listener(id);
        self.backend.changed();
    }

    fn is_connected(&self) -> bool {
        self.backend.is_connected()
    }

    /// The backend's counters.
    fn stats(ruby: &Ruby, rb_self: &Self) -> Result<RHash, Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let counters = &rb_self.backend.counters;
        let stats = ruby.hash_new();
        stats.aset(ruby.to_symbol("connected"), rb_self.backend.is_connected())?;
        for (name, counter) in [
            ("published", &counters.published),
            ("dropped", &counters.dropped),
            ("received", &counters.received),
            ("reconnects", &counters.reconnects),
            ("errors", &counters.errors),
        ] {
            stats.aset(ruby.to_symbol(name), counter.load(Relaxed))?;
        }
        Ok(stats)
    }
}

pub fn register(ruby: &Ruby, native: RModule) -> Result<(), Error> {
    let class = native.define_class("RedisChannel", ruby.class_object())?;
    class.define_singleton_method("new", function!(NativeRedisChannel::new, 3))?;
    class.define_method("add", method!(NativeRedisChannel::add, 1))?;
    class.define_method("remove", method!(NativeRedisChannel::remove, 1))?;
    class.define_method("size", method!(NativeRedisChannel::size, 0))?;
    class.define_method("push", method!(NativeRedisChannel::push, 2))?;
    class.define_method("listener=", method!(NativeRedisChannel::set_listener, 1))?;
    class.define_method("connected?", method!(NativeRedisChannel::is_connected, 0))?;
    class.define_method("stats", method!(NativeRedisChannel::stats, 0))?;
    Ok(())
}
