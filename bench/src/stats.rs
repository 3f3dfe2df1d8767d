//! Measurements: latency percentiles, CPU time of the server (from /proc) and
//! of this process (getrusage), server memory, and the fd limit.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use anyhow::{ensure, Context, Result};
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

/// The server processes whose CPU time is measured: the process `pid`, and
/// with `tree` all its descendants too (forked workers).
#[derive(Clone, Debug)]
pub struct Server {
    pub pids: Vec<u32>,
    pub tree: bool,
}

/// CPU time used so far by the server (all threads) and by this process.
#[derive(Clone)]
pub struct CpuSample {
    at: Instant,
    /// (pid, CPU microseconds) of each server process, the one named first.
    server: Option<Vec<(u32, u64)>>,
    /// Each thread of the named server processes (not their descendants):
    /// (tid, whether it is its process's main thread, name, CPU microseconds).
    threads: Vec<(u32, bool, String, u64)>,
    tree: bool,
    client_us: u64,
}

impl CpuSample {
    pub fn take(server: Option<Server>) -> Result<Self> {
        let processes = match &server {
            None => None,
            Some(server) => {
                let mut all = Vec::new();
                for &pid in &server.pids {
                    if server.tree {
                        all.extend(process_tree(pid)?);
                    } else {
                        all.push((pid, read_stat(pid)?.cpu_us));
                    }
                }
                Some(all)
            }
        };
        let threads = match &server {
            None => Vec::new(),
            Some(server) => server.pids.iter().flat_map(|&pid| threads(pid)).collect(),
        };
        Ok(CpuSample {
            at: Instant::now(),
            tree: server.as_ref().is_some_and(|s| s.tree || s.pids.len() > 1),
            server: processes,
            threads,
            client_us: own_cpu_us(),
        })
    }

    pub fn at(&self) -> Instant {
        self.at
    }

    /// CPU figures over `self..end`, `ops` being the operations done meanwhile.
    /// Shares are fractions of one core. A server process that started in
    /// between counts all its CPU time; one that ended in between counts none.
    pub fn report(&self, end: &CpuSample, ops: u64, unit: &str) -> Map<String, Value> {
        let wall_us = end.at.duration_since(self.at).as_micros().max(1) as f64;
        let mut out = Map::new();
        if let (Some(a), Some(b)) = (&self.server, &end.server) {
            let before: HashMap<u32, u64> = a.iter().copied().collect();
            let per_process: Vec<(u32, f64)> = b
                .iter()
                .map(|&(pid, us)| {
                    let start = before.get(&pid).copied().unwrap_or(0);
                    (pid, us.saturating_sub(start) as f64)
                })
                .collect();
            let used: f64 = per_process.iter().map(|&(_, used)| used).sum();
            out.insert("server_cpu_share".into(), round(used / wall_us, 3));
            if ops > 0 {
                out.insert(
                    format!("server_cpu_us_per_{unit}"),
                    round(used / ops as f64, 3),
                );
            }
            if self.tree {
                out.insert("server_processes".into(), json!(b.len()));
                let shares = per_process
                    .iter()
                    .map(|&(pid, used)| (pid.to_string(), round(used / wall_us, 3)))
                    .collect();
                out.insert("server_cpu_share_by_pid".into(), Value::Object(shares));
            }
        }
        if !end.threads.is_empty() {
            out.extend(self.thread_report(end, wall_us));
        }
        let client = end.client_us.saturating_sub(self.client_us) as f64;
        out.insert("client_cpu_share".into(), round(client / wall_us, 3));
        out
    }
}

impl CpuSample {
    /// The main thread's CPU (the reactor: Ruby's main thread runs EM.run)
    /// against the others' (tokio workers, Ruby's timer thread...), as shares
    /// of one core, its share of the named processes' CPU, and each thread
    /// name's share. A thread that ended in between counts nothing.
    fn thread_report(&self, end: &CpuSample, wall_us: f64) -> Map<String, Value> {
        let before: HashMap<u32, u64> = self.threads.iter().map(|t| (t.0, t.3)).collect();
        let (mut main, mut others) = (0f64, 0f64);
        let mut by_name: Vec<(String, f64)> = Vec::new();
        for (tid, is_main, name, us) in &end.threads {
            let used = us.saturating_sub(before.get(tid).copied().unwrap_or(0)) as f64;
            let label = if *is_main {
                main += used;
                format!("main ({name})")
            } else {
                others += used;
                name.clone()
            };
            match by_name.iter_mut().find(|(n, _)| *n == label) {
                Some((_, total)) => *total += used,
                None => by_name.push((label, used)),
            }
        }
        let mut out = Map::new();
        out.insert("server_reactor_cpu_share".into(), round(main / wall_us, 3));
        out.insert(
            "server_other_threads_cpu_share".into(),
            round(others / wall_us, 3),
        );
        if main + others > 0.0 {
            out.insert(
                "server_reactor_thread_share".into(),
                round(main / (main + others), 3),
            );
        }
        by_name.sort_by(|a, b| b.1.total_cmp(&a.1));
        let shares = by_name
            .into_iter()
            .map(|(name, used)| (name, round(used / wall_us, 3)))
            .collect();
        out.insert("server_cpu_share_by_thread".into(), Value::Object(shares));
        out
    }
}

/// (tid, is the main thread, name, CPU microseconds) of every thread of
/// `pid`; none if it is gone, and threads that end while read are left out.
fn threads(pid: u32) -> Vec<(u32, bool, String, u64)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let tid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let line = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
        let name = line.split_once('(')?.1.rsplit_once(')')?.0.to_string();
        let stat = parse_stat(&line).ok()?;
        Some((tid, tid == pid, name, stat.cpu_us))
    })
    .collect()
}

pub fn round(x: f64, digits: i32) -> Value {
    let scale = 10f64.powi(digits);
    json!((x * scale).round() / scale)
}

/// What this tool reads of /proc/<pid>/stat.
struct Stat {
    ppid: u32,
    /// utime + stime, in microseconds.
    cpu_us: u64,
}

fn read_stat(pid: u32) -> Result<Stat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("server process {pid} is gone"))?;
    parse_stat(&stat).with_context(|| format!("malformed /proc/{pid}/stat"))
}

fn parse_stat(stat: &str) -> Result<Stat> {
    // The command name may contain spaces; the fields after it do not.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("no command name")?
        .1
        .split_whitespace()
        .collect();
    ensure!(fields.len() > 12, "too few fields");
    // Fields 4, 14 and 15 of the stat line; the slice starts at field 3.
    let ppid = fields[1].parse()?;
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Stat {
        ppid,
        cpu_us: ticks * 1_000_000 / hz,
    })
}

/// (pid, CPU microseconds) of `root` and of every process descending from it,
/// `root` first, then breadth first. Parents are found by reading every
/// /proc/<pid>/stat (/proc/<pid>/task/<tid>/children needs a kernel option);
/// a process that ends while they are read is left out.
fn process_tree(root: u32) -> Result<Vec<(u32, u64)>> {
    let root_stat = read_stat(root)?;
    let mut stats = HashMap::new();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").context("cannot list /proc")? {
        let Some(pid) = entry
            .ok()
            .and_then(|e| e.file_name().to_str()?.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == root {
            continue;
        }
        if let Ok(stat) = read_stat(pid) {
            children.entry(stat.ppid).or_default().push(pid);
            stats.insert(pid, stat.cpu_us);
        }
    }
    let mut tree = vec![(root, root_stat.cpu_us)];
    let mut seen = HashSet::from([root]);
    let mut queue = VecDeque::from([root]);
    while let Some(parent) = queue.pop_front() {
        let mut kids = children.remove(&parent).unwrap_or_default();
        kids.sort_unstable();
        for kid in kids {
            if seen.insert(kid) {
                tree.push((kid, stats[&kid]));
                queue.push_back(kid);
            }
        }
    }
    Ok(tree)
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
        assert_eq!(
            read_stat(pid).unwrap().ppid,
            std::os::unix::process::parent_id()
        );
        assert!(rss_kb(pid).unwrap() > 0);
    }

    #[test]
    fn stat_lines_parse_around_odd_command_names() {
        let line = "42 (a b) c) S 7 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 5 0 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.ppid, 7);
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        assert_eq!(stat.cpu_us, 300 * 1_000_000 / hz);
        assert!(parse_stat("42 (short) S 7").is_err());
    }

    #[test]
    fn a_process_tree_includes_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let tree = process_tree(std::process::id());
        child.kill().unwrap();
        child.wait().unwrap();
        let tree = tree.unwrap();
        assert_eq!(tree[0].0, std::process::id());
        assert!(tree.iter().any(|&(pid, _)| pid == child.id()));
        let single = CpuSample::take(Some(Server {
            pids: vec![std::process::id()],
            tree: false,
        }))
        .unwrap();
        assert!(single
            .threads
            .iter()
            .any(|t| t.0 == std::process::id() && t.1));
        assert_eq!(single.server.unwrap().len(), 1);
    }
}
