//! emws-bench: a WebSocket load generator for em-websocket-rs and em-websocket.
//!
//! Every mode verifies what the server sends back; a wrong byte, a message out
//! of order or a dropped connection ends the run with exit status 1.

mod broadcast;
mod echo;
mod handshakes;
mod idle;
mod payload;
mod scrape;
mod stats;
mod ws;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::stats::Server;
use crate::ws::{Conn, Target};

/// How long one connection may take to connect and finish the handshake.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);
/// How long a closing handshake may take.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

#[derive(Parser, Debug)]
#[command(
    name = "emws-bench",
    about = "WebSocket load generator: echo throughput, latency, broadcast fan-out, idle memory, handshakes"
)]
pub struct Args {
    /// echo: N connections x K in flight; latency: 1 x 1; broadcast: R
    /// receivers and 1 sender on a relay-to-all server; idle: hold C open
    /// connections; handshakes: --connect-concurrency connections at a time,
    /// each opened, used for one echo and closed, for --duration seconds.
    #[arg(value_enum)]
    mode: Mode,

    /// Server URL (ws:// or wss://); only loopback hosts are accepted.
    #[arg(long, default_value = "ws://127.0.0.1:8080/")]
    url: Target,

    /// wss://: the PEM certificate(s) to verify the server's certificate
    /// against (its own certificate, or its CA). Every TLS handshake is a
    /// full one (no session resumption).
    #[arg(long)]
    ca: Option<std::path::PathBuf>,

    /// Offer permessage-deflate (client_max_window_bits) and fail unless the
    /// server accepts it; every message sent is compressed, every compressed
    /// message received inflated, before the usual check.
    #[arg(long)]
    deflate: bool,

    /// Message contents: fixed (header + the same body), or json (JSON-like
    /// text of exactly --size bytes, different in every message; echo,
    /// latency and handshakes modes).
    #[arg(long, value_enum, default_value_t = payload::Payload::Fixed)]
    payload: payload::Payload,

    /// Broadcast: a second server (another process sharing the channel),
    /// to which every other receiver connects; the sender uses --url.
    #[arg(long)]
    url2: Option<Target>,

    /// Broadcast: send at this many messages a second at most (the window
    /// still applies), to measure latency at a given load.
    #[arg(long)]
    rate: Option<f64>,

    /// Connections (echo: 100, broadcast: receivers, 1000; idle: 1000). Latency uses 1.
    #[arg(long)]
    connections: Option<usize>,

    /// Messages in flight per connection (echo: 10), or how many messages the
    /// broadcast sender may run ahead of its receivers (200). Latency uses 1.
    #[arg(long)]
    in_flight: Option<usize>,

    /// Message size in bytes (at least 16: the header naming sender and sequence).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(16..=(16 << 20)))]
    size: u32,

    /// Send binary messages instead of text.
    #[arg(long)]
    binary: bool,

    /// Seconds of measured load (an upper bound when --messages is given).
    #[arg(long, default_value_t = 5.0)]
    duration: f64,

    /// Seconds of unmeasured load before measuring (not used with --messages in echo).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,

    /// Echo: messages per connection instead of a duration.
    /// Broadcast: messages the sender sends at most (default 1,000,000).
    #[arg(long)]
    messages: Option<u32>,

    /// Idle: seconds to hold the connections before measuring memory.
    #[arg(long, default_value_t = 2.0)]
    hold: f64,

    /// Server process id: report its CPU time (and, for idle, its RSS).
    /// Repeat it for a server of several processes: their CPU time is summed.
    #[arg(long)]
    server_pid: Vec<u32>,

    /// With --server-pid: count the CPU time of that process and of all its
    /// descendants (forked workers), and report each one's share too.
    #[arg(long, requires = "server_pid")]
    server_tree: bool,

    /// Handshakes in progress at once while connecting (handshakes mode:
    /// connections in progress at once).
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,

    /// Runtime worker threads of the generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,

    /// Scrape the server's `GET /metrics` (on --url's port) every this many
    /// seconds while the load runs; the report gives the number of scrapes.
    #[arg(long)]
    scrape_every: Option<f64>,

    /// One line of JSON instead of a human-readable report.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Echo,
    Latency,
    Broadcast,
    Idle,
    Handshakes,
}

impl Args {
    fn seconds(value: f64) -> Result<Duration> {
        Duration::try_from_secs_f64(value).context("durations must be non-negative seconds")
    }

    pub fn duration(&self) -> Result<Duration> {
        Self::seconds(self.duration)
    }

    pub fn warmup(&self) -> Result<Duration> {
        Self::seconds(self.warmup)
    }

    pub fn hold(&self) -> Result<Duration> {
        Self::seconds(self.hold)
    }

    /// The server processes to measure, if any.
    pub fn server(&self) -> Option<Server> {
        (!self.server_pid.is_empty()).then(|| Server {
            pids: self.server_pid.clone(),
            tree: self.server_tree,
        })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let result = runtime
        .context("cannot start the runtime")
        .and_then(|rt| rt.block_on(run(&args)));
    match result {
        Ok(report) => {
            print_report(&report, args.json);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("emws-bench {:?}: FAILED: {e:#}", args.mode);
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<Map<String, Value>> {
    let fd_limit = stats::raise_fd_limit();
    let wss = args.url.tls.is_some() || args.url2.as_ref().is_some_and(|u| u.tls.is_some());
    anyhow::ensure!(args.ca.is_none() || wss, "--ca is for wss:// targets");
    ws::configure(args.ca.as_deref(), args.deflate)?;
    let mut report = Map::new();
    report.insert(
        "mode".into(),
        format!("{:?}", args.mode).to_lowercase().into(),
    );
    let scraper = match args.scrape_every {
        Some(every) => Some(scrape::Scraper::start(args.url.addr, Args::seconds(every)?)),
        None => None,
    };
    let body = match args.mode {
        Mode::Echo => {
            let connections = args.connections.unwrap_or(100);
            echo::run(args, connections, args.in_flight.unwrap_or(10)).await?
        }
        Mode::Latency => echo::run(args, 1, 1).await?,
        Mode::Broadcast => broadcast::run(args, args.connections.unwrap_or(1000)).await?,
        Mode::Idle => idle::run(args, args.connections.unwrap_or(1000), fd_limit).await?,
        Mode::Handshakes => handshakes::run(args).await?,
    };
    report.extend(body);
    if let Some(scraper) = scraper {
        report.insert("scrapes".into(), scraper.finish().await?.into());
    }
    Ok(report)
}

fn print_report(report: &Map<String, Value>, json: bool) {
    if json {
        println!("{}", Value::Object(report.clone()));
        return;
    }
    let width = report.keys().map(String::len).max().unwrap_or(0);
    for (key, value) in report {
        println!("{key:width$}  {value}");
    }
}

/// What a connection negotiated, for the report: TLS version and cipher
/// suite (wss://), permessage-deflate parameters (--deflate).
pub fn negotiated(conn: Option<&Conn>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(tls) = conn.and_then(|c| c.tls_info.as_deref()) {
        out.insert("tls".into(), tls.into());
    }
    if let Some(params) = conn.and_then(Conn::deflate_params) {
        out.insert("deflate".into(), params.into());
    }
    out
}

/// Opens `count` connections, at most `concurrency` handshakes at a time.
pub async fn connect_all(target: &Target, count: usize, concurrency: usize) -> Result<Vec<Conn>> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let (permits, target) = (permits.clone(), target.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            tokio::time::timeout(HANDSHAKE_LIMIT, Conn::connect(&target, i as u64 + 1))
                .await
                .context("handshake timed out")?
        });
    }
    let mut conns = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        let conn = joined?
            .with_context(|| format!("opening connection {} of {count}", conns.len() + 1))?;
        conns.push(conn);
    }
    Ok(conns)
}

/// Closes connections with the closing handshake, `concurrency` at a time.
pub async fn close_all(conns: Vec<Conn>, concurrency: usize) -> Result<()> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for conn in conns {
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            conn.close(CLOSE_LIMIT).await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined?.context("closing a connection")?;
    }
    Ok(())
}
