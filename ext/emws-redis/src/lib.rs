//! Channels of em-websocket-rs that span processes and machines through
//! Redis pub/sub. Nothing here knows Ruby.
//!
//! * `backend`: one Redis server as a process's channel backend: its
//!   connection, subscriptions, publishing and deliveries.
//! * `wire`: how text and binary messages look in Redis.
//! * `backoff`: waits between attempts to reach Redis.

mod backend;
mod backoff;
mod wire;

pub use backend::{ChannelState, Counters, RedisBackend, QUEUE};
