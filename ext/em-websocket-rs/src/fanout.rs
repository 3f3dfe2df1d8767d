//! `EmWebSocketRs::Native::Fanout`: one message to many connections, for a
//! channel that stays in this process.

use std::sync::Arc;

use bytes::Bytes;
use emws_server::Fanout;
use magnus::{function, method, prelude::*, Error, RModule, RString, Ruby, Value};

use crate::connection::{copy_bytes, out_kind, NativeConnection};

#[magnus::wrap(class = "EmWebSocketRs::Native::Fanout", free_immediately, size)]
#[derive(Default)]
pub struct NativeFanout(pub Arc<Fanout>);

impl NativeFanout {
    fn new() -> NativeFanout {
        NativeFanout::default()
    }

    /// Adds a connection; false if it was there already.
    fn add(&self, connection: &NativeConnection) -> bool {
        self.0.add(&connection.0)
    }

    /// Removes a connection; false if it was not there.
    fn remove(&self, connection: &NativeConnection) -> bool {
        self.0.remove(connection.0.id)
    }

    fn size(&self) -> usize {
        self.0.len()
    }

    /// Queues the message (`kind` `:text` or `:binary`) on every member,
    /// copied out of Ruby once; returns how many took it.
    fn push(ruby: &Ruby, rb_self: &Self, kind: Value, data: RString) -> Result<usize, Error> {
        let kind = out_kind(ruby, kind)?;
        let payload: Bytes = copy_bytes(data);
        let _deferral = emws_server::wake_policy::Deferral::begin();
        Ok(rb_self.0.push(kind, &payload))
    }
}

pub fn register(ruby: &Ruby, native: RModule) -> Result<(), Error> {
    let class = native.define_class("Fanout", ruby.class_object())?;
    class.define_singleton_method("new", function!(NativeFanout::new, 0))?;
    class.define_method("add", method!(NativeFanout::add, 1))?;
    class.define_method("remove", method!(NativeFanout::remove, 1))?;
    class.define_method("size", method!(NativeFanout::size, 0))?;
    class.define_method("push", method!(NativeFanout::push, 2))?;
    Ok(())
}
