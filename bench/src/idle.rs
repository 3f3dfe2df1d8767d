//! Idle mode: open C connections, hold them, and measure how much the
//! server's resident memory grew per connection.

use anyhow::{ensure, Context, Result};
use serde_json::{json, Map, Value};

use crate::stats::{round, rss_kb, CpuSample};
use crate::{close_all, connect_all, Args};

/// File descriptors kept free for everything but the connections.
const SPARE_FDS: u64 = 64;

pub async fn run(args: &Args, connections: usize, fd_limit: u64) -> Result<Map<String, Value>> {
    let pid = *args
        .server_pid
        .first()
        .context("idle mode needs --server-pid to read the server's memory")?;
    ensure!(
        !args.server_tree,
        "idle mode measures one process's memory: --server-tree is not for idle"
    );
    ensure!(
        connections as u64 + SPARE_FDS <= fd_limit,
        "{connections} connections do not fit the fd limit of {fd_limit}"
    );

    let rss_before = rss_kb(pid)?;
    let cpu_start = CpuSample::take(args.server())?;
    let conns = connect_all(&args.url, connections, args.connect_concurrency).await?;
    let cpu_end = CpuSample::take(args.server())?;
    tokio::time::sleep(args.hold()?).await;
    let rss_after = rss_kb(pid)?;
    close_all(conns, args.connect_concurrency).await?;

    let seconds = cpu_end.at().duration_since(cpu_start.at()).as_secs_f64();
    let growth = rss_after.saturating_sub(rss_before) as f64;
    let mut report = Map::new();
    report.insert("connections".into(), json!(connections));
    report.insert("connect_seconds".into(), round(seconds, 3));
    report.insert(
        "handshakes_per_s".into(),
        round(connections as f64 / seconds.max(1e-9), 1),
    );
    report.insert("rss_before_kb".into(), json!(rss_before));
    report.insert("rss_after_kb".into(), json!(rss_after));
    report.insert(
        "rss_kb_per_connection".into(),
        round(growth / connections.max(1) as f64, 2),
    );
    report.extend(cpu_start.report(&cpu_end, connections as u64, "handshake"));
    Ok(report)
}
