//! `--scrape-every`: a Prometheus-style scraper reading the server's
//! `GET /metrics` while the load runs, to show what reading the figures costs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// A scrape that takes longer than this fails the run.
const SCRAPE_LIMIT: Duration = Duration::from_secs(5);

/// The scraper, running until `finish`.
pub struct Scraper {
    task: JoinHandle<Result<()>>,
    scrapes: Arc<AtomicU64>,
}

impl Scraper {
    /// Scrapes `addr` every `every`; each scrape must be a 200 with the
    /// server's figures, or the run fails.
    pub fn start(addr: SocketAddr, every: Duration) -> Scraper {
        let scrapes = Arc::new(AtomicU64::new(0));
        let count = scrapes.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                tokio::time::timeout(SCRAPE_LIMIT, scrape(addr))
                    .await
                    .context("a scrape timed out")??;
                count.fetch_add(1, Ordering::Relaxed);
            }
        });
        Scraper { task, scrapes }
    }

    /// Stops scraping; returns how many scrapes were made, or the first failure.
    pub async fn finish(self) -> Result<u64> {
        if self.task.is_finished() {
            self.task.await??;
        } else {
            self.task.abort();
        }
        Ok(self.scrapes.load(Ordering::Relaxed))
    }
}

async fn scrape(addr: SocketAddr) -> Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response);
    if !text.starts_with("HTTP/1.1 200") || !text.contains("\nemws_messages_received_total{") {
        bail!("not a metrics response: {:?}", text.lines().next());
    }
    Ok(())
}
