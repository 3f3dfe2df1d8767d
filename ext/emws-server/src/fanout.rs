//! One message to many connections.
//!
//! The message's bytes are shared by every connection's queue (each task
//! writes its own frame header in front of them), and each connection's
//! task is woken once per push, or once per delivered batch when the push is
//! made on the reactor thread during a dispatch (`wake_policy`). A fan-out
//! may be pushed to from any thread: a channel backend delivers from the
//! runtime's workers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use emws_core::OutKind;

use crate::handle::{ConnectionHandle, Payload, Sent};
use crate::metrics;
use crate::sync::lock;
use crate::wake_policy;

#[derive(Default)]
pub struct Fanout {
    members: Mutex<Members>,
}

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
    pub fn add(&self, handle: &Arc<ConnectionHandle>) -> bool {
        let mut members = lock(&self.members);
        if members.index.contains_key(&handle.id) {
            return false;
        }
        let position = members.handles.len();
        members.handles.push(handle.clone());
        members.index.insert(handle.id, position);
        true
    }

    /// Removes a connection; false if it was not there.
    pub fn remove(&self, id: u64) -> bool {
        let mut members = lock(&self.members);
        match members.index.get(&id).copied() {
            Some(position) => {
                members.remove_at(position);
                true
            }
            None => false,
        }
    }

    /// The members, those that ended since the last push or prune included.
    pub fn len(&self) -> usize {
        lock(&self.members).handles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues the message on every member; returns how many took it.
    /// Connections that have ended leave the set.
    pub fn push(&self, kind: OutKind, payload: &Bytes) -> usize {
        let mut members = lock(&self.members);
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
        drop(members);
        metrics::CHANNELS.pushes.inc();
        metrics::CHANNELS.deliveries.add(delivered as u64);
        delivered
    }

    /// Lets connections that have ended go; returns how many members are left.
    pub fn prune(&self) -> usize {
        let mut members = lock(&self.members);
        let mut position = 0;
        while position < members.handles.len() {
            if members.handles[position].is_finished() {
                members.remove_at(position);
            } else {
                position += 1;
            }
        }
        members.handles.len()
    }
}
