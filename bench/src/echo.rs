//! Echo and latency modes: each connection keeps `in_flight` messages
//! outstanding and checks every echo against what it sent, in order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout_at, Instant};

use crate::payload::Pattern;
use crate::stats::{latency_summary, round, CpuSample};
use crate::ws::{Conn, DeflateBytes, Opcode};
use crate::{connect_all, Args, CLOSE_LIMIT};

/// How long in-flight echoes may take to come back once sending has stopped.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

struct Plan {
    in_flight: usize,
    /// Messages per connection (unbounded unless counting instead of timing).
    limit: u32,
    /// Round trips completing in `measure_from..stop_at` are counted.
    measure_from: Instant,
    /// No message is sent from then on.
    stop_at: Instant,
    deadline: Instant,
}

#[derive(Default)]
struct ConnStats {
    round_trips: u64,
    latencies_us: Vec<u32>,
    deflate: Option<DeflateBytes>,
}

pub async fn run(args: &Args, connections: usize, in_flight: usize) -> Result<Map<String, Value>> {
    let pattern = Arc::new(Pattern::for_args(
        args.payload,
        args.size as usize,
        args.binary,
    )?);
    let conns = connect_all(&args.url, connections, args.connect_concurrency).await?;
    let negotiated = crate::negotiated(conns.first());

    let start = Instant::now();
    let (measure_from, stop_at) = match args.messages {
        Some(_) => (start, start + args.duration()?),
        None => {
            let from = start + args.warmup()?;
            (from, from + args.duration()?)
        }
    };
    let plan = Arc::new(Plan {
        in_flight: in_flight.max(1),
        limit: args.messages.unwrap_or(u32::MAX),
        measure_from,
        stop_at,
        deadline: stop_at + DRAIN_LIMIT,
    });
    let mut tasks = JoinSet::new();
    for (id, conn) in conns.into_iter().enumerate() {
        let (pattern, plan) = (pattern.clone(), plan.clone());
        tasks.spawn(async move {
            drive(conn, id as u32, &pattern, &plan)
                .await
                .with_context(|| format!("connection {id}"))
        });
    }

    sleep_until(measure_from).await;
    let cpu_start = CpuSample::take(args.server())?;
    let mut cpu_end = None;
    if args.messages.is_none() {
        sleep_until(stop_at).await;
        cpu_end = Some(CpuSample::take(args.server())?);
    }
    let mut total = ConnStats::default();
    while let Some(joined) = tasks.join_next().await {
        let stats = joined??;
        total.round_trips += stats.round_trips;
        total.latencies_us.extend(stats.latencies_us);
        if let Some(bytes) = stats.deflate {
            total
                .deflate
                .get_or_insert_with(Default::default)
                .add(&bytes);
        }
    }
    let cpu_end = match cpu_end {
        Some(sample) => sample,
        None => CpuSample::take(args.server())?,
    };

    let seconds = cpu_end.at().duration_since(cpu_start.at()).as_secs_f64();
    let mut report = Map::new();
    report.insert("connections".into(), json!(connections));
    report.insert("in_flight".into(), json!(plan.in_flight));
    report.insert("size".into(), json!(pattern.size()));
    report.insert("binary".into(), json!(args.binary));
    report.insert(
        "payload".into(),
        json!(if pattern.is_json() { "json" } else { "fixed" }),
    );
    report.extend(negotiated);
    report.insert("seconds".into(), round(seconds, 3));
    report.insert("round_trips".into(), json!(total.round_trips));
    report.insert(
        "round_trips_per_s".into(),
        round(total.round_trips as f64 / seconds.max(1e-9), 1),
    );
    if let Value::Object(latency) = latency_summary(total.latencies_us) {
        report.extend(latency);
    }
    if let Some(bytes) = total.deflate {
        // Over the whole run, warmup included: compressed size / original size.
        let ratio = |wire: u64, raw: u64| round(wire as f64 / raw.max(1) as f64, 3);
        report.insert(
            "deflate_sent_ratio".into(),
            ratio(bytes.sent_wire, bytes.sent_raw),
        );
        report.insert(
            "deflate_received_ratio".into(),
            ratio(bytes.received_wire, bytes.received_raw),
        );
        report.insert(
            "deflate_received_uncompressed".into(),
            json!(bytes.received_uncompressed),
        );
    }
    report.extend(cpu_start.report(&cpu_end, total.round_trips, "round_trip"));
    Ok(report)
}

async fn drive(mut conn: Conn, id: u32, pattern: &Pattern, plan: &Plan) -> Result<ConnStats> {
    let mut stats = ConnStats::default();
    let mut sent_at: VecDeque<Instant> = VecDeque::with_capacity(plan.in_flight);
    let (mut sent, mut received) = (0u32, 0u32);
    let exchange = async {
        loop {
            let now = Instant::now();
            while sent_at.len() < plan.in_flight && now < plan.stop_at && sent < plan.limit {
                pattern.send(&mut conn, id, sent);
                sent_at.push_back(now);
                sent += 1;
            }
            if sent_at.is_empty() {
                return Ok(());
            }
            conn.io().await?;
            let now = Instant::now();
            while let Some(msg) = conn.next_message()? {
                if msg.opcode == Opcode::Close {
                    bail!("server sent close {:?}", String::from_utf8_lossy(&msg.data));
                }
                pattern.verify(msg.opcode, &msg.data, id, received)?;
                received += 1;
                let started = sent_at
                    .pop_front()
                    .context("echo of a message never sent")?;
                if now >= plan.measure_from && now < plan.stop_at {
                    stats.round_trips += 1;
                    let us = now.duration_since(started).as_micros();
                    stats.latencies_us.push(us.min(u32::MAX as u128) as u32);
                }
            }
        }
    };
    timeout_at(plan.deadline, exchange)
        .await
        .with_context(|| format!("echoes did not come back: {received} of {sent}"))??;
    stats.deflate = conn.deflate_bytes();
    conn.close(CLOSE_LIMIT).await?;
    Ok(stats)
}
