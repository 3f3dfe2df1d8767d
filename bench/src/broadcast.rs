//! Broadcast mode: one sender, R receivers, on a server that relays every
//! message to every client. Each receiver must get every message, in order.
//! With `--url2`, every other receiver is on a second server process sharing
//! the channel (through Redis, say): the sender's messages cross over.
//!
//! Before measuring, the sender sends probes until every receiver has seen one,
//! so no receiver can miss data for having subscribed late. Every tenth
//! receiver measures each message's latency, from its sending to its arrival.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Map, Value};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout_at, Instant};

use crate::payload::{header, parse_header, Pattern};
use crate::stats::{latency_summary, round, CpuSample};
use crate::ws::{Conn, Message, Opcode};
use crate::{close_all, connect_all, Args};

/// Sender id in data messages; probes use `PROBE`.
const DATA: u32 = 0;
const PROBE: u32 = u32::MAX;
const PROBE_EVERY: Duration = Duration::from_millis(50);
const SYNC_LIMIT: Duration = Duration::from_secs(30);
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Shared {
    /// Data messages delivered to receivers, all receivers together.
    delivered: AtomicU64,
    /// Receivers that have seen a probe.
    synced: AtomicU64,
    /// Receivers made progress: the sender may have room to send.
    progress: Notify,
    /// When each data message was sent, by sequence number.
    sent_at: Mutex<Vec<Instant>>,
    /// Messages sent from then on are measured.
    measure_from: OnceLock<Instant>,
    /// Latencies in microseconds, of the receivers that measure them.
    latencies: Mutex<Vec<u32>>,
}

/// One receiver in this many measures latencies.
const LATENCY_EVERY: usize = 10;

pub async fn run(args: &Args, receivers: usize) -> Result<Map<String, Value>> {
    anyhow::ensure!(
        args.payload == crate::payload::Payload::Fixed,
        "broadcast mode sends --payload fixed only"
    );
    let pattern = Arc::new(Pattern::new(args.size as usize, args.binary));
    let limit = args.messages.unwrap_or(1_000_000);
    let conns = match &args.url2 {
        None => connect_all(&args.url, receivers, args.connect_concurrency).await?,
        Some(url2) => {
            let mut first = connect_all(
                &args.url,
                receivers - receivers / 2,
                args.connect_concurrency,
            )
            .await?;
            let second = connect_all(url2, receivers / 2, args.connect_concurrency).await?;
            // Interleaved, so that the receivers measuring latency are on both.
            let mut all = Vec::with_capacity(receivers);
            let mut second = second.into_iter();
            for conn in first.drain(..) {
                all.push(conn);
                all.extend(second.next());
            }
            all
        }
    };
    let mut sender = Conn::connect(&args.url, u64::MAX).await?;
    let shared = Arc::new(Shared::default());
    let (total_tx, total_rx) = watch::channel(None::<u32>);

    let deadline = Instant::now() + SYNC_LIMIT + args.warmup()? + args.duration()? + DRAIN_LIMIT;
    let mut tasks = JoinSet::new();
    for (id, conn) in conns.into_iter().enumerate() {
        let (pattern, shared, total) = (pattern.clone(), shared.clone(), total_rx.clone());
        let measures = id % LATENCY_EVERY == 0;
        tasks.spawn(async move {
            timeout_at(deadline, receive(conn, &pattern, &shared, total, measures))
                .await
                .context("timed out")?
                .with_context(|| format!("receiver {id}"))
        });
    }

    sync(&mut sender, &pattern, &shared, receivers as u64).await?;
    let measure_from = Instant::now() + args.warmup()?;
    let _ = shared.measure_from.set(measure_from);
    let stop_at = measure_from + args.duration()?;
    let (done_tx, done_rx) = watch::channel(false);
    let window = args.in_flight.unwrap_or(200).max(1) as u64;
    let sending = tokio::spawn({
        let (pattern, shared) = (pattern.clone(), shared.clone());
        let plan = SendPlan {
            receivers: receivers as u64,
            window,
            limit,
            stop_at,
            rate: args.rate,
        };
        async move { send(sender, &pattern, &shared, plan, total_tx, done_rx).await }
    });

    sleep_until(measure_from).await;
    let cpu_start = CpuSample::take(args.server())?;
    let delivered_before = shared.delivered.load(Ordering::Relaxed);
    let mut open = Vec::with_capacity(receivers);
    while let Some(joined) = tasks.join_next().await {
        match joined? {
            Ok(conn) => open.push(conn),
            Err(e) => {
                let delivered = shared.delivered.load(Ordering::Relaxed);
                let total = *total_rx.borrow();
                return Err(e.context(format!(
                    "{delivered} deliveries; sender sent {total:?} each"
                )));
            }
        }
    }
    let cpu_end = CpuSample::take(args.server())?;
    let _ = done_tx.send(true);
    let sent = sending.await??;
    close_all(open, args.connect_concurrency).await?;

    let deliveries = sent as u64 * receivers as u64 - delivered_before;
    ensure!(
        deliveries > 0,
        "every message was delivered during the warmup: raise --messages or lower --warmup"
    );
    let seconds = cpu_end.at().duration_since(cpu_start.at()).as_secs_f64();
    let mut report = Map::new();
    report.insert("receivers".into(), json!(receivers));
    report.insert("window".into(), json!(window));
    report.insert("size".into(), json!(pattern.size()));
    report.insert("binary".into(), json!(args.binary));
    report.insert("messages".into(), json!(sent));
    report.insert("seconds".into(), round(seconds, 3));
    report.insert("deliveries".into(), json!(deliveries));
    report.insert(
        "deliveries_per_s".into(),
        round(deliveries as f64 / seconds.max(1e-9), 1),
    );
    if let Some(rate) = args.rate {
        report.insert("rate_limit".into(), json!(rate));
    }
    report.insert(
        "messages_per_s".into(),
        round(deliveries as f64 / receivers as f64 / seconds.max(1e-9), 1),
    );
    let latencies = std::mem::take(&mut *shared.latencies.lock().unwrap());
    if let Value::Object(summary) = latency_summary(latencies) {
        report.extend(summary);
    }
    report.extend(cpu_start.report(&cpu_end, deliveries, "delivery"));
    Ok(report)
}

/// What a received message is, by its header.
enum Kind {
    Probe,
    Data,
    Other,
}

fn classify(msg: &Message) -> Result<Kind> {
    if msg.opcode == Opcode::Close {
        bail!("server sent close {:?}", String::from_utf8_lossy(&msg.data));
    }
    Ok(match parse_header(&msg.data) {
        Some((PROBE, _)) => Kind::Probe,
        Some((DATA, _)) => Kind::Data,
        _ => Kind::Other,
    })
}

/// Receives until every message the sender sent has arrived; returns the
/// connection still open. Messages of other origin are ignored.
async fn receive(
    mut conn: Conn,
    pattern: &Pattern,
    shared: &Shared,
    mut total: watch::Receiver<Option<u32>>,
    measures: bool,
) -> Result<Conn> {
    let mut next = 0u32;
    let mut synced = false;
    loop {
        if total.borrow().is_some_and(|total| next >= total) {
            return Ok(conn);
        }
        tokio::select! {
            read = conn.io() => read?,
            changed = total.changed() => changed.context("sender gone")?,
        }
        let before = next;
        while let Some(msg) = conn.next_message()? {
            match classify(&msg)? {
                Kind::Probe => {
                    ensure!(next == 0, "probe after data message {next}");
                    if !synced {
                        synced = true;
                        shared.synced.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Kind::Data => {
                    pattern.verify(msg.opcode, &msg.data, DATA, next)?;
                    if measures {
                        record_latency(shared, next);
                    }
                    next += 1;
                }
                Kind::Other => {}
            }
        }
        if next > before {
            shared
                .delivered
                .fetch_add(u64::from(next - before), Ordering::Relaxed);
            shared.progress.notify_one();
        }
    }
}

/// Records how long data message `seq` took to arrive, if it was sent
/// once measuring had begun.
fn record_latency(shared: &Shared, seq: u32) {
    let Some(&from) = shared.measure_from.get() else {
        return;
    };
    let sent = shared.sent_at.lock().unwrap().get(seq as usize).copied();
    if let Some(sent) = sent.filter(|sent| *sent >= from) {
        let micros = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        shared.latencies.lock().unwrap().push(micros);
    }
}

/// Sends probes until every receiver has seen one.
async fn sync(sender: &mut Conn, pattern: &Pattern, shared: &Shared, receivers: u64) -> Result<()> {
    let give_up = Instant::now() + SYNC_LIMIT;
    for n in 0u32.. {
        let synced = shared.synced.load(Ordering::Relaxed);
        if synced == receivers {
            return Ok(());
        }
        ensure!(
            Instant::now() < give_up,
            "only {synced} of {receivers} receivers got a probe"
        );
        sender.send(pattern.opcode, &[&header(PROBE, n), pattern.body()]);
        let tick = Instant::now() + PROBE_EVERY;
        loop {
            tokio::select! {
                read = sender.io() => read?,
                _ = sleep_until(tick) => break,
            }
            drain_own(sender)?;
        }
    }
    unreachable!("probe counter overflowed")
}

struct SendPlan {
    receivers: u64,
    /// Messages the sender may be ahead of the average receiver.
    window: u64,
    limit: u32,
    stop_at: Instant,
    /// Messages a second at most.
    rate: Option<f64>,
}

/// Sends data messages until the limit or `stop_at`, never more than `window`
/// ahead of the receivers; then publishes the total and keeps reading its own
/// copies until told the run is over. Returns the number sent.
async fn send(
    mut conn: Conn,
    pattern: &Pattern,
    shared: &Shared,
    plan: SendPlan,
    total: watch::Sender<Option<u32>>,
    mut done: watch::Receiver<bool>,
) -> Result<u32> {
    let mut seq = 0u32;
    let started = Instant::now();
    while seq < plan.limit && Instant::now() < plan.stop_at {
        let behind = shared.delivered.load(Ordering::Relaxed) / plan.receivers;
        let mut room = (behind + plan.window).saturating_sub(u64::from(seq));
        let mut next_slot = plan.stop_at;
        if let Some(rate) = plan.rate {
            let allowed = (started.elapsed().as_secs_f64() * rate) as u64 + 1;
            room = room.min(allowed.saturating_sub(u64::from(seq)));
            next_slot = started + Duration::from_secs_f64((u64::from(seq) + 1) as f64 / rate);
        }
        for _ in 0..room.min(u64::from(plan.limit - seq)) {
            shared.sent_at.lock().unwrap().push(Instant::now());
            conn.send(pattern.opcode, &[&header(DATA, seq), pattern.body()]);
            seq += 1;
        }
        tokio::select! {
            read = conn.io() => read?,
            _ = shared.progress.notified() => {}
            _ = sleep_until(next_slot.min(plan.stop_at)) => {}
        }
        drain_own(&mut conn)?;
    }
    let _ = total.send(Some(seq));
    while !*done.borrow() {
        tokio::select! {
            read = conn.io() => read?,
            changed = done.changed() => changed?,
        }
        drain_own(&mut conn)?;
    }
    Ok(seq)
}

/// The sender's own copies (if the server sends them back) are read and dropped.
fn drain_own(conn: &mut Conn) -> Result<()> {
    while let Some(msg) = conn.next_message()? {
        classify(&msg)?;
    }
    Ok(())
}
