//! `EmWebSocketRs::Native::Fanout`: one message to many connections.
//!
//! The message is copied out of Ruby once and its bytes are shared by every
//! connection's queue; the wakes are deferred so that each connection's task
//! is woken once per push (or once per delivered batch, inside a dispatch).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use emws_server::wake_policy::{self, Deferral};
use emws_server::{ConnectionHandle, Payload, Sent};
use magnus::{function, method, prelude::*, Error, RModule, RString, Ruby, Value};

use crate::connection::{copy_bytes, out_kind, NativeConnection};

#[magnus::wrap(class = "EmWebSocketRs::Native::Fanout", free_immediately, size)]
#[derive(Default)]
pub struct Fanout(RefCell<Members>);

#[derive(Default)]
struct Members {
    handles: Vec<Arc<ConnectionHandle>>,
    /// Position of each connection in `handles`, by id, for O(1) removal.
    index: HashMap<u64, usize>,
}

impl Members {
    fn remove_at(&mut self, position: usize) {
        let removed = self.handles.swap_remove(position);
        self.index.remove(&removed.id);
        if let Some(moved) = self.handles.get(position) {
            self.index.insert(moved.id, position);
        }
    }
}

impl Fanout {
    pub fn new() -> Fanout {
        Fanout::default()
    }

    /// Adds a connection; false if it was there already.
    pub fn add(&self, connection: &NativeConnection) -> bool {
        let mut members = self.0.borrow_mut();
        let id = connection.0.id;
        if members.index.contains_key(&id) {
            return false;
        }
        let position = members.handles.len();
        members.handles.push(connection.0.clone());
        members.index.insert(id, position);
        true
    }

    /// Removes a connection; false if it was not there.
    pub fn remove(&self, connection: &NativeConnection) -> bool {
        let mut members = self.0.borrow_mut();
        match members.index.get(&connection.0.id).copied() {
            Some(position) => {
                members.remove_at(position);
                true
            }
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        self.0.borrow().handles.len()
    }

    /// Queues the message on every member; returns how many took it.
    /// Connections that have ended leave the set.
    /// `kind` is `:text` or `:binary`.
    pub fn push(ruby: &Ruby, rb_self: &Self, kind: Value, data: RString) -> Result<usize, Error> {
        let kind = out_kind(ruby, kind)?;
        let payload = copy_bytes(data);
        let _deferral = Deferral::begin();
        let mut members = rb_self.0.borrow_mut();
        let mut delivered = 0;
        let mut position = 0;
        while position < members.handles.len() {
            let shared = Payload::Shared(payload.clone());
            match wake_policy::send(&members.handles[position], kind, shared) {
                Sent::Queued => {
                    delivered += 1;
                    position += 1;
                }
                Sent::LimitReached => position += 1,
                Sent::Gone => members.remove_at(position),
            }
        }
        Ok(delivered)
    }
}

pub fn register(ruby: &Ruby, native: RModule) -> Result<(), Error> {
    let class = native.define_class("Fanout", ruby.class_object())?;
    class.define_singleton_method("new", function!(Fanout::new, 0))?;
    class.define_method("add", method!(Fanout::add, 1))?;
    class.define_method("remove", method!(Fanout::remove, 1))?;
    class.define_method("size", method!(Fanout::len, 0))?;
    class.define_method("push", method!(Fanout::push, 2))?;
    Ok(())
}
