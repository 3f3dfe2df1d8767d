//! `EmWebSocketRs::Native::Dispatcher`: the reactor thread's side of the
//! bridge.
//!
//! `dispatch` runs on the reactor thread when the watched descriptor is
//! readable (events queued, or a socket of a plain connection ready). It
//! first runs the plain connections' tasks their sockets woke (they read and
//! queue events), then takes the whole batch and delivers it (`delivery`),
//! with the wakes its sends owe deferred (`wake_policy`). If a callback
//! raises, the rest of the batch is kept for the next call and the
//! descriptor is made readable again, so that an exception the application
//! lets escape into the reactor loses no event. Last, it runs the tasks the
//! batch's sends woke, so that the replies leave in the same pass.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use emws_server::{wake_policy, Bridge, Event, Server};
use magnus::{function, method, prelude::*, Error, RHash, RModule, Ruby, Value};

use crate::delivery::{self, Recipients};
use crate::options;
use crate::server::NativeServer;

#[magnus::wrap(class = "EmWebSocketRs::Native::Dispatcher", free_immediately, size)]
pub struct Dispatcher {
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
/// messages leave while the rest are delivered, instead of all at the end.
const WAKE_EVERY: usize = 128;

/// A buffer that grew past this many events in a burst is not kept.
const MAX_SPARE_EVENTS: usize = 4096;

impl Dispatcher {
    pub fn new(ruby: &Ruby) -> Result<Dispatcher, Error> {
        let bridge = Bridge::new().map_err(|e| {
            Error::new(
                ruby.exception_runtime_error(),
                format!("cannot create the event descriptor: {e}"),
            )
        })?;
        Ok(Dispatcher {
            bridge: Arc::new(bridge),
            pending: RefCell::new(Vec::new()),
            spare: RefCell::new(Vec::new()),
            removals: Cell::new(0),
        })
    }

    pub fn bridge(&self) -> &Arc<Bridge> {
        &self.bridge
    }

    pub fn fd(&self) -> i32 {
        self.bridge.watch_fd()
    }

    /// Binds and starts a server; raises `RuntimeError` ("no acceptor ...",
    /// as EventMachine does) when the address cannot be bound.
    pub fn listen(ruby: &Ruby, rb_self: &Self, options: RHash) -> Result<NativeServer, Error> {
        let config = options::server_config(ruby, options)?;
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
        let deferral = wake_policy::Deferral::begin();
        let mut recipients = Recipients::new(connections, &rb_self.removals);
        let mut events = batch.drain(..).enumerate();
        while let Some((delivered, event)) = events.next() {
            if delivered % WAKE_EVERY == WAKE_EVERY - 1 {
                wake_policy::wake_owed();
            }
            if let Err(error) = delivery::deliver(ruby, router, &mut recipients, event) {
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

pub fn register(ruby: &Ruby, native: RModule) -> Result<(), Error> {
    let class = native.define_class("Dispatcher", ruby.class_object())?;
    class.define_singleton_method("new", function!(Dispatcher::new, 0))?;
    class.define_method("fd", method!(Dispatcher::fd, 0))?;
    class.define_method("dispatch", method!(Dispatcher::dispatch, 2))?;
    class.define_method("listen", method!(Dispatcher::listen, 1))?;
    Ok(())
}
