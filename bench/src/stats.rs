//! Measurements: latency percentiles, CPU time of the server (from /proc) and
//! of this process (getrusage), server memory, and the fd limit.

use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

/// Latency percentiles in microseconds, from every sample.
pub fn latency_summary(mut samples: Vec<u32>) -> Value {
    samples.sort_unstable();
    let pct = |q: f64| -> u32 {
        if samples.is_empty() {
            return 0;
        }
        let rank = (q * samples.len() as f64).ceil() as usize;
        samples[rank.clamp(1, samples.len()) - 1]
    };
    json!({
        "p50_us": pct(0.50),
        "p90_us": pct(0.90),
        "p99_us": pct(0.99),
        "max_us": samples.last().copied().unwrap_or(0),
    })
}

/// CPU time used so far by the server (all threads) and by this process.
#[derive(Clone, Copy)]
pub struct CpuSample {
    at: Instant,
    server_us: Option<u64>,
    client_us: u64,
}

impl CpuSample {
    pub fn take(server_pid: Option<u32>) -> Result<Self> {
        Ok(CpuSample {
            at: Instant::now(),
            server_us: server_pid.map(process_cpu_us).transpose()?,
            client_us: own_cpu_us(),
        })
    }

    pub fn at(&self) -> Instant {
        self.at
    }

    /// CPU figures over `self..end`, `ops` being the operations done meanwhile.
    /// Shares are fractions of one core.
    pub fn report(&self, end: &CpuSample, ops: u64, unit: &str) -> Map<String, Value> {
        let wall_us = end.at.duration_since(self.at).as_micros().max(1) as f64;
        let mut out = Map::new();
        if let (Some(a), Some(b)) = (self.server_us, end.server_us) {
            let used = b.saturating_sub(a) as f64;
            out.insert("server_cpu_share".into(), round(used / wall_us, 3));
            if ops > 0 {
                out.insert(
                    format!("server_cpu_us_per_{unit}"),
                    round(used / ops as f64, 3),
                );
            }
        }
        let client = end.client_us.saturating_sub(self.client_us) as f64;
        out.insert("client_cpu_share".into(), round(client / wall_us, 3));
        out
    }
}

pub fn round(x: f64, digits: i32) -> Value {
    let scale = 10f64.powi(digits);
    json!((x * scale).round() / scale)
}

/// utime + stime of a process, in microseconds, from /proc/<pid>/stat.
fn process_cpu_us(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("server process {pid} is gone"))?;
    // The command name may contain spaces; the fields after it do not.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("malformed /proc stat")?
        .1
        .split_whitespace()
        .collect();
    // Fields 14 and 15 of the stat line; the slice starts at field 3.
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(ticks * 1_000_000 / hz)
}

fn own_cpu_us() -> u64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

/// Resident memory of a process in KiB (VmRSS).
pub fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("server process {pid} is gone"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

/// Raises the soft fd limit to the hard one; returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                ..limit
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
        limit.rlim_cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let summary = latency_summary((1..=100).rev().collect());
        assert_eq!(summary["p50_us"], 50);
        assert_eq!(summary["p99_us"], 99);
        assert_eq!(summary["max_us"], 100);
    }

    #[test]
    fn own_process_figures_are_readable() {
        let pid = std::process::id();
        assert!(process_cpu_us(pid).is_ok());
        assert!(rss_kb(pid).unwrap() > 0);
    }
}
