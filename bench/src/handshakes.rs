//! Handshakes mode: `--connect-concurrency` workers each open a connection
//! (TCP, TLS for wss://, the WebSocket upgrade), exchange one message and
//! check its echo, close it cleanly (close frames both ways, then the
//! server's end of the TCP connection), and start over, for `--duration`
//! seconds after `--warmup`. Connections closed inside the measured
//! window are counted; the server's CPU time over it is divided by them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, timeout_at, Instant};

use crate::payload::Pattern;
use crate::stats::{latency_summary, round, CpuSample};
use crate::ws::{Conn, Opcode, Target};
use crate::{Args, CLOSE_LIMIT, HANDSHAKE_LIMIT};

/// How long connections under way may take to finish once the window closed.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// Connections opened at most in one run (`--messages` lowers it).
const MAX_CONNECTIONS: u64 = 1_000_000;

struct Plan {
    measure_from: Instant,
    stop_at: Instant,
    limit: u64,
    started: AtomicU64,
}

#[derive(Default)]
struct WorkerStats {
    handshakes: u64,
    /// Microseconds from connect() to the 101 (TLS included).
    open_us: Vec<u32>,
}

pub async fn run(args: &Args) -> Result<Map<String, Value>> {
    let pattern = Arc::new(Pattern::for_args(
        args.payload,
        args.size as usize,
        args.binary,
    )?);
    let workers = args.connect_concurrency.max(1);
    let start = Instant::now();
    let measure_from = start + args.warmup()?;
    let stop_at = measure_from + args.duration()?;
    let plan = Arc::new(Plan {
        measure_from,
        stop_at,
        limit: args.messages.map_or(MAX_CONNECTIONS, u64::from),
        started: AtomicU64::new(0),
    });
    let negotiated = Arc::new(Mutex::new(None));
    let mut tasks = JoinSet::new();
    for id in 0..workers as u32 {
        let (pattern, plan, target) = (pattern.clone(), plan.clone(), args.url.clone());
        let negotiated = negotiated.clone();
        tasks.spawn(async move {
            timeout_at(
                stop_at + DRAIN_LIMIT,
                worker(id, &target, &pattern, &plan, &negotiated),
            )
            .await
            .with_context(|| format!("worker {id} did not finish in time"))?
            .with_context(|| format!("worker {id}"))
        });
    }

    sleep_until(measure_from).await;
    let cpu_start = CpuSample::take(args.server())?;
    sleep_until(stop_at).await;
    let cpu_end = CpuSample::take(args.server())?;
    let mut total = WorkerStats::default();
    while let Some(joined) = tasks.join_next().await {
        let stats = joined??;
        total.handshakes += stats.handshakes;
        total.open_us.extend(stats.open_us);
    }

    let seconds = cpu_end.at().duration_since(cpu_start.at()).as_secs_f64();
    let mut report = Map::new();
    report.insert("concurrency".into(), json!(workers));
    report.insert("size".into(), json!(pattern.size()));
    report.insert("seconds".into(), round(seconds, 3));
    report.insert(
        "connections_opened".into(),
        json!(plan.started.load(Ordering::Relaxed).min(plan.limit)),
    );
    report.insert("handshakes".into(), json!(total.handshakes));
    report.insert(
        "handshakes_per_s".into(),
        round(total.handshakes as f64 / seconds.max(1e-9), 1),
    );
    if let Value::Object(latency) = latency_summary(total.open_us) {
        for (key, value) in latency {
            report.insert(format!("open_{key}"), value);
        }
    }
    if let Some(info) = negotiated.lock().expect("not poisoned").take() {
        report.extend(info);
    }
    report.extend(cpu_start.report(&cpu_end, total.handshakes, "handshake"));
    Ok(report)
}

async fn worker(
    id: u32,
    target: &Target,
    pattern: &Pattern,
    plan: &Plan,
    negotiated: &Mutex<Option<Map<String, Value>>>,
) -> Result<WorkerStats> {
    let mut stats = WorkerStats::default();
    for seq in 0u32.. {
        let began = Instant::now();
        if began >= plan.stop_at || plan.started.fetch_add(1, Ordering::Relaxed) >= plan.limit {
            break;
        }
        let seed = (u64::from(id) << 32) | u64::from(seq);
        let mut conn = timeout(HANDSHAKE_LIMIT, Conn::connect(target, seed))
            .await
            .context("handshake timed out")?
            .with_context(|| format!("opening connection {seq}"))?;
        let opened = Instant::now();
        if seq == 0 && id == 0 {
            *negotiated.lock().expect("not poisoned") = Some(crate::negotiated(Some(&conn)));
        }
        pattern.send(&mut conn, id, seq);
        let msg = timeout(HANDSHAKE_LIMIT, conn.recv())
            .await
            .context("no echo in time")??;
        if msg.opcode == Opcode::Close {
            bail!("server sent close {:?}", String::from_utf8_lossy(&msg.data));
        }
        pattern.verify(msg.opcode, &msg.data, id, seq)?;
        conn.close_until_eof(CLOSE_LIMIT).await?;
        let done = Instant::now();
        if done >= plan.measure_from && done < plan.stop_at {
            stats.handshakes += 1;
            let us = opened.duration_since(began).as_micros();
            stats.open_us.push(us.min(u32::MAX as u128) as u32);
        }
    }
    Ok(stats)
}
