//! What a server counts, and how it is read.
//!
//! Counters are relaxed atomics bumped by the connection tasks, at most once
//! per read or per message; gauges (connections open, bytes buffered for slow
//! readers) are not kept at all but computed when read, from what the server
//! already tracks, so that reading costs the hot path nothing. A
//! [`Snapshot`] is the one view of them: the Ruby side's `stats` Hash and the
//! Prometheus text of `/metrics` are both made from it. No label names a
//! connection or a channel: every label has a fixed, small set of values.

mod labels;
mod prometheus;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};

pub use labels::{CloseCode, HandshakeFailure, MessageType};
pub use prometheus::{http_response, render, Family, FamilyKind, CONTENT_TYPE};

use crate::executor::fork;
use crate::server_state::ServerState;
use crate::sync::lock;

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Messages and their payload bytes, by type.
#[derive(Default)]
pub struct Traffic {
    messages: [Counter; MessageType::ALL.len()],
    bytes: [Counter; MessageType::ALL.len()],
}

impl Traffic {
    #[inline]
    pub fn count(&self, kind: MessageType, messages: u64, bytes: u64) {
        self.messages[kind as usize].add(messages);
        self.bytes[kind as usize].add(bytes);
    }

    /// Adds what a task tallied over one read or one batch of sends.
    pub fn add(&self, tally: &TrafficTally) {
        for kind in MessageType::ALL {
            let (messages, bytes) = tally.0[kind as usize];
            if messages > 0 {
                self.count(kind, messages, bytes);
            }
        }
    }
}

/// Messages and bytes a task counts locally, then adds to a [`Traffic`] at
/// once: a broadcast's batch or a read of many frames costs the shared
/// counters one addition per type, not one per message.
#[derive(Default)]
pub struct TrafficTally([(u64, u64); MessageType::ALL.len()]);

impl TrafficTally {
    #[inline]
    pub fn count(&mut self, kind: MessageType, bytes: usize) {
        let (messages, total) = &mut self.0[kind as usize];
        *messages += 1;
        *total += bytes as u64;
    }
}

/// A server's counters.
#[derive(Default)]
pub struct Metrics {
    pub accepted: Counter,
    handshake_failures: [Counter; HandshakeFailure::ALL.len()],
    pub received: Traffic,
    pub sent: Traffic,
    closes_received: [Counter; CloseCode::BUCKETS],
    closes_sent: [Counter; CloseCode::BUCKETS],
    pub ping_timeouts: Counter,
    pub outbound_limit_aborts: Counter,
    /// Connections a drain's deadline found still open, and dropped.
    pub drain_dropped: Counter,
    /// Messages dropped for going over a rate limit (`:drop`, or arriving
    /// after the close of `:close`).
    pub rate_limited_messages: Counter,
    /// Connections closed with 1008 for going over a rate limit.
    pub rate_limited_connections: Counter,
}

impl Metrics {
    pub fn handshake_failed(&self, reason: HandshakeFailure) {
        self.handshake_failures[reason as usize].inc();
    }

    pub fn close_received(&self, code: Option<u16>) {
        self.closes_received[CloseCode::bucket(code)].inc();
    }

    pub fn close_sent(&self, code: Option<u16>) {
        self.closes_sent[CloseCode::bucket(code)].inc();
    }
}

/// What the channels of this process count (a channel is not a server's).
#[derive(Default)]
pub struct ChannelMetrics {
    pub pushes: Counter,
    pub deliveries: Counter,
}

pub static CHANNELS: ChannelMetrics = ChannelMetrics {
    pushes: Counter(AtomicU64::new(0)),
    deliveries: Counter(AtomicU64::new(0)),
};

/// The gauges of one server, read from its state.
#[derive(Default, Clone, Copy)]
pub struct Gauges {
    pub connections: u64,
    pub buffered_bytes: u64,
    pub buffered_connections: u64,
    pub draining: bool,
}

/// Every server this process has started: counters stay summed into the
/// process's totals after a server stops; gauges come from the running ones.
struct Registered {
    metrics: Arc<Metrics>,
    state: Weak<ServerState>,
    fork_generation: u64,
}

static SERVERS: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

pub(crate) fn register(state: &Arc<ServerState>) {
    lock(&SERVERS).push(Registered {
        metrics: state.metrics.clone(),
        state: Arc::downgrade(state),
        fork_generation: fork::generation(),
    });
}

/// One reading of the counters and gauges, as plain numbers.
#[derive(Clone, Default)]
pub struct Snapshot {
    pub gauges: Gauges,
    pub accepted: u64,
    pub handshake_failures: [u64; HandshakeFailure::ALL.len()],
    pub received: TrafficSnapshot,
    pub sent: TrafficSnapshot,
    pub closes_received: [u64; CloseCode::BUCKETS],
    pub closes_sent: [u64; CloseCode::BUCKETS],
    pub ping_timeouts: u64,
    pub outbound_limit_aborts: u64,
    pub drain_dropped: u64,
    pub rate_limited_messages: u64,
    pub rate_limited_connections: u64,
    pub channel_pushes: u64,
    pub channel_deliveries: u64,
}

#[derive(Clone, Copy, Default)]
pub struct TrafficSnapshot {
    pub messages: [u64; MessageType::ALL.len()],
    pub bytes: [u64; MessageType::ALL.len()],
}

fn add_all<const N: usize>(into: &mut [u64; N], from: &[Counter; N]) {
    for (sum, counter) in into.iter_mut().zip(from) {
        *sum += counter.get();
    }
}

impl TrafficSnapshot {
    fn add(&mut self, traffic: &Traffic) {
        add_all(&mut self.messages, &traffic.messages);
        add_all(&mut self.bytes, &traffic.bytes);
    }
}

impl Snapshot {
    fn add_counters(&mut self, metrics: &Metrics) {
        self.accepted += metrics.accepted.get();
        add_all(&mut self.handshake_failures, &metrics.handshake_failures);
        self.received.add(&metrics.received);
        self.sent.add(&metrics.sent);
        add_all(&mut self.closes_received, &metrics.closes_received);
        add_all(&mut self.closes_sent, &metrics.closes_sent);
        self.ping_timeouts += metrics.ping_timeouts.get();
        self.outbound_limit_aborts += metrics.outbound_limit_aborts.get();
        self.drain_dropped += metrics.drain_dropped.get();
        self.rate_limited_messages += metrics.rate_limited_messages.get();
        self.rate_limited_connections += metrics.rate_limited_connections.get();
    }

    fn add_gauges(&mut self, gauges: Gauges) {
        self.gauges.connections += gauges.connections;
        self.gauges.buffered_bytes += gauges.buffered_bytes;
        self.gauges.buffered_connections += gauges.buffered_connections;
        self.gauges.draining |= gauges.draining;
    }

    fn add_channels(&mut self) {
        self.channel_pushes = CHANNELS.pushes.get();
        self.channel_deliveries = CHANNELS.deliveries.get();
    }

    /// One server's figures (the channels' are the process's: a channel
    /// may serve the connections of several servers).
    pub(crate) fn of_server(state: &ServerState) -> Snapshot {
        let mut snapshot = Snapshot::default();
        snapshot.add_counters(&state.metrics);
        snapshot.add_gauges(state.gauges());
        snapshot.add_channels();
        snapshot
    }

    /// The figures of every server this process has started.
    pub fn of_process() -> Snapshot {
        let generation = fork::generation();
        let mut snapshot = Snapshot::default();
        let mut servers = lock(&SERVERS);
        // A forked child's servers are its own: its parent's are not running here.
        servers.retain(|server| server.fork_generation == generation);
        for server in servers.iter() {
            snapshot.add_counters(&server.metrics);
            if let Some(state) = server.state.upgrade() {
                snapshot.add_gauges(state.gauges());
            }
        }
        drop(servers);
        snapshot.add_channels();
        snapshot
    }
}
