//! One Redis server as the backend of a process's channels.
//!
//! A push is delivered to the process's own subscribers at once, by the
//! reactor thread (`Fanout`), and published to Redis for the other
//! processes. The backend keeps one connection per process (RESP3, so that
//! subscriptions and PUBLISH share it): one task subscribes to the channels
//! that have subscribers here, publishes what is queued, and delivers what
//! others publish. Redis sends a process its own messages back too; because
//! one connection carries both, the task knows exactly which of them will
//! come back (those published while the channel was subscribed) and skips
//! them, so that nothing is delivered twice.
//!
//! Faults: the task reconnects with backoff and jitter and subscribes again;
//! while Redis is away, pushes still reach this process's subscribers, and
//! what would have been published is dropped and counted (delivery is at
//! most once). Every fault is counted and reported through the bridge.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use emws_core::OutKind;
use emws_server::executor::runtime;
use emws_server::{Bridge, Event, Fanout, MessageBytes};
use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, Value,
};
use tokio::sync::{mpsc, Notify};

use crate::backoff::Backoff;
use crate::wire;

/// Messages waiting to be published; pushes beyond this are dropped and counted.
pub const QUEUE: usize = 16 * 1024;
/// PUBLISH commands sent in one pipeline.
const BATCH: usize = 256;
/// How often ended subscribers are let go (and a quiet channel unsubscribed),
/// and the connection is checked with a PING.
const SWEEP: Duration = Duration::from_secs(1);
/// A PING unanswered this long means the connection is lost.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// One channel of this process, as the backend delivers to it.
pub struct ChannelState {
    /// The Redis channel (the prefix, then the channel's name).
    pub name: Bytes,
    /// This process's WebSocket subscribers.
    pub fanout: Arc<Fanout>,
    /// The Ruby listeners' id (blocks subscribed to the channel); 0: none.
    listener: AtomicU64,
}

impl ChannelState {
    pub fn set_listener(&self, id: u64) {
        self.listener.store(id, Ordering::Relaxed);
    }

    fn wanted(&self) -> bool {
        self.listener.load(Ordering::Relaxed) != 0 || !self.fanout.is_empty()
    }
}

/// What the backend has done, for `EmWebSocketRs::Channel.stats`.
#[derive(Default)]
pub struct Counters {
    pub published: AtomicU64,
    /// Pushes not published: the queue was full, or Redis was away.
    pub dropped: AtomicU64,
    /// Messages from Redis delivered here (this process's own not counted).
    pub received: AtomicU64,
    pub reconnects: AtomicU64,
    pub errors: AtomicU64,
}

struct Outgoing {
    channel: Bytes,
    published: Bytes,
}

pub struct RedisBackend {
    client: redis::Client,
    bridge: Arc<Bridge>,
    channels: Mutex<HashMap<Bytes, Vec<Weak<ChannelState>>>>,
    /// The channels wanted have changed.
    changed: Notify,
    queue: mpsc::Sender<Outgoing>,
    connected: AtomicBool,
    pub counters: Counters,
}

/// A backend of this process: the fork generation it was opened in, and its URL.
struct OpenBackend {
    generation: u64,
    url: String,
    backend: Arc<RedisBackend>,
}

impl RedisBackend {
    /// The backend for `url` in this process (made on first use, its
    /// connection opened in the background). An error says what is wrong
    /// with the URL; Redis being unreachable is not one.
    pub fn open(url: &str, bridge: Arc<Bridge>) -> Result<Arc<RedisBackend>, String> {
        static BACKENDS: OnceLock<Mutex<Vec<OpenBackend>>> = OnceLock::new();
        let client = client(url)?;
        let generation = emws_server::executor::fork::generation();
        let mut backends = emws_server::sync::lock(BACKENDS.get_or_init(Mutex::default));
        // A forked child's backends are its own: its parent's connection and
        // task are not there.
        backends.retain(|open| open.generation == generation);
        if let Some(open) = backends.iter().find(|open| open.url == url) {
            return Ok(open.backend.clone());
        }
        let runtime = runtime::get().map_err(|e| format!("cannot start the runtime: {e}"))?;
        let (queue, outgoing) = mpsc::channel(QUEUE);
        let backend = Arc::new(RedisBackend {
            client,
            bridge,
            channels: Mutex::default(),
            changed: Notify::new(),
            queue,
            connected: AtomicBool::new(false),
            counters: Counters::default(),
        });
        runtime.spawn(run(backend.clone(), outgoing));
        backends.push(OpenBackend {
            generation,
            url: url.to_string(),
            backend: backend.clone(),
        });
        Ok(backend)
    }

    /// A channel of this process on Redis channel `name`.
    pub fn channel(&self, name: Bytes) -> Arc<ChannelState> {
        let state = Arc::new(ChannelState {
            name: name.clone(),
            fanout: Arc::new(Fanout::new()),
            listener: AtomicU64::new(0),
        });
        emws_server::sync::lock(&self.channels)
            .entry(name)
            .or_default()
            .push(Arc::downgrade(&state));
        state
    }

    /// A channel's subscribers or listeners have changed: subscribe to it,
    /// or unsubscribe, as needed.
    pub fn changed(&self) {
        self.changed.notify_one();
    }

    /// Hands a message (already delivered to this process's subscribers) to
    /// Redis for the other processes; false if it was dropped instead.
    pub fn publish(&self, state: &ChannelState, kind: OutKind, payload: &[u8]) -> bool {
        let queued = self.connected.load(Ordering::Acquire)
            && self
                .queue
                .try_send(Outgoing {
                    channel: state.name.clone(),
                    published: wire::encode(kind, payload),
                })
                .is_ok();
        if !queued {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queued
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// The Redis channels that have subscribers or listeners here; channels
    /// whose Ruby object has gone are forgotten.
    fn wanted(&self) -> HashSet<Bytes> {
        let mut channels = emws_server::sync::lock(&self.channels);
        channels.retain(|_, states| {
            states.retain(|state| state.strong_count() > 0);
            !states.is_empty()
        });
        channels
            .iter()
            .filter(|(_, states)| {
                states
                    .iter()
                    .filter_map(Weak::upgrade)
                    .any(|state| state.wanted())
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Lets subscribers whose connection has ended go.
    fn prune(&self) {
        let channels = emws_server::sync::lock(&self.channels);
        for state in channels.values().flatten().filter_map(Weak::upgrade) {
            state.fanout.prune();
        }
    }

    /// Delivers a message another publisher sent to this process's channels.
    fn deliver(&self, channel: &[u8], published: &[u8]) {
        let (kind, payload) = wire::decode(published);
        let states: Vec<Arc<ChannelState>> = emws_server::sync::lock(&self.channels)
            .get(channel)
            .map(|states| states.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default();
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        for state in states {
            state.fanout.push(kind, &payload);
            let listener = state.listener.load(Ordering::Relaxed);
            if listener != 0 {
                self.bridge.push(Event::ChannelMessage {
                    listener,
                    kind,
                    data: MessageBytes::small_inline(payload.clone()),
                });
            }
        }
    }

    fn report(&self, message: String) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        self.bridge.push(Event::ChannelError { message });
    }
}

/// A client for `url`, speaking RESP3.
fn client(url: &str) -> Result<redis::Client, String> {
    let info = url
        .into_connection_info()
        .map_err(|e| format!("{url:?} is not a Redis URL: {e}"))?;
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    redis::Client::open(info.set_redis_settings(settings))
        .map_err(|e| format!("{url:?} is not a Redis URL: {e}"))
}

/// The backend's task: connect, keep the subscriptions, publish, deliver,
/// and start over when the connection is lost.
async fn run(backend: Arc<RedisBackend>, mut outgoing: mpsc::Receiver<Outgoing>) {
    let mut backoff = Backoff::new();
    let mut was_up = false;
    let mut reported = false;
    loop {
        let (pushes_in, mut pushes) = mpsc::unbounded_channel::<PushInfo>();
        let config = AsyncConnectionConfig::new().set_push_sender(pushes_in);
        let lost = match backend
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(connection) => {
                backoff.reset();
                if was_up {
                    backend.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                was_up = true;
                reported = false;
                let mut session = Session {
                    backend: &backend,
                    connection,
                    subscribed: HashSet::new(),
                    echoes: HashMap::new(),
                };
                session.serve(&mut pushes, &mut outgoing).await
            }
            Err(error) => format!("cannot connect to Redis: {error}"),
        };
        backend.connected.store(false, Ordering::Release);
        // One report per outage, not one per attempt.
        if !reported {
            backend.report(lost);
            reported = true;
        }
        // Messages queued for a connection that is gone: at most once.
        while outgoing.try_recv().is_ok() {
            backend.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(backoff.wait()).await;
    }
}

/// One connection's life.
struct Session<'a> {
    backend: &'a RedisBackend,
    connection: MultiplexedConnection,
    subscribed: HashSet<Bytes>,
    /// This process's own messages that Redis will send back, per channel,
    /// in the order they were published.
    echoes: HashMap<Bytes, VecDeque<Bytes>>,
}

impl Session<'_> {
    /// Serves the connection until it is lost; returns why.
    async fn serve(
        &mut self,
        pushes: &mut mpsc::UnboundedReceiver<PushInfo>,
        outgoing: &mut mpsc::Receiver<Outgoing>,
    ) -> String {
        if let Err(error) = self.subscribe_wanted().await {
            return format!("Redis refused a subscription: {error}");
        }
        self.backend.connected.store(true, Ordering::Release);
        let mut sweep = tokio::time::interval(SWEEP);
        loop {
            tokio::select! {
                push = pushes.recv() => match push {
                    Some(push) if push.kind == PushKind::Disconnection => {
                        return "the connection to Redis was lost".to_string();
                    }
                    Some(push) => self.received(push),
                    None => return "the connection to Redis was lost".to_string(),
                },
                first = outgoing.recv() => {
                    let Some(first) = first else {
                        return "the backend was dropped".to_string();
                    };
                    if let Err(error) = self.publish(first, outgoing).await {
                        return format!("PUBLISH failed: {error}");
                    }
                }
                _ = self.backend.changed.notified() => {
                    if let Err(error) = self.subscribe_wanted().await {
                        return format!("Redis refused a subscription: {error}");
                    }
                }
                _ = sweep.tick() => {
                    self.backend.prune();
                    if let Err(error) = self.subscribe_wanted().await {
                        return format!("Redis refused a subscription: {error}");
                    }
                    let ping = redis::cmd("PING");
                    let answer = ping.query_async::<()>(&mut self.connection);
                    match tokio::time::timeout(PING_TIMEOUT, answer).await {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => return format!("PING failed: {error}"),
                        Err(_) => return "Redis did not answer a PING in time".to_string(),
                    }
                }
            }
        }
    }

    /// Subscribes to the channels wanted here, and unsubscribes from the others.
    async fn subscribe_wanted(&mut self) -> redis::RedisResult<()> {
        let wanted = self.backend.wanted();
        for channel in wanted.difference(&self.subscribed.clone()) {
            self.connection.subscribe(&channel[..]).await?;
            self.subscribed.insert(channel.clone());
        }
        for channel in self.subscribed.clone().difference(&wanted) {
            self.connection.unsubscribe(&channel[..]).await?;
            // Its echoes still queued are matched as they are taken: each
            // came before the unsubscription did.
            self.subscribed.remove(channel);
        }
        Ok(())
    }

    /// Publishes `first` and whatever else is queued, in one pipeline.
    async fn publish(
        &mut self,
        first: Outgoing,
        outgoing: &mut mpsc::Receiver<Outgoing>,
    ) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        let mut next = Some(first);
        let mut count = 0;
        while let Some(message) = next.take() {
            if self.subscribed.contains(&message.channel) {
                self.echoes
                    .entry(message.channel.clone())
                    .or_default()
                    .push_back(message.published.clone());
            }
            pipe.cmd("PUBLISH")
                .arg(&message.channel[..])
                .arg(&message.published[..])
                .ignore();
            count += 1;
            if count < BATCH {
                next = outgoing.try_recv().ok();
            }
        }
        pipe.query_async::<()>(&mut self.connection).await?;
        self.backend
            .counters
            .published
            .fetch_add(count as u64, Ordering::Relaxed);
        Ok(())
    }

    /// A message from Redis: delivered, unless it is this process's own.
    fn received(&mut self, push: PushInfo) {
        if push.kind != PushKind::Message {
            return;
        }
        let [channel, payload] = match <[Value; 2]>::try_from(push.data) {
            Ok(parts) => parts,
            Err(_) => return,
        };
        let (Some(channel), Some(payload)) = (bytes_of(channel), bytes_of(payload)) else {
            return;
        };
        if let Some(echoes) = self.echoes.get_mut(&channel[..]) {
            if echoes.front().is_some_and(|own| *own == payload) {
                echoes.pop_front();
                return;
            }
        }
        self.backend.deliver(&channel, &payload);
    }
}

fn bytes_of(value: Value) -> Option<Bytes> {
    match value {
        Value::BulkString(bytes) => Some(Bytes::from(bytes)),
        Value::SimpleString(text) => Some(Bytes::from(text)),
        _ => None,
    }
}
