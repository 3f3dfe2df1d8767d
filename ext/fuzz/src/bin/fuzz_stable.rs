//! The fuzz targets on the stable toolchain, without libFuzzer: a bounded
//! mutation loop over the corpus (no coverage feedback), corpus replay, and
//! the seed corpus writer.
//!
//! ```text
//! fuzz-stable run TARGET [--seconds N] [--corpus DIR] [--artifacts DIR] [--seed N]
//! fuzz-stable replay TARGET PATH...   # files or directories
//! fuzz-stable seed DIR                # writes DIR/<target>/<seed>
//! ```
//!
//! A finding is written to `ARTIFACTS/TARGET/crash-<hash>` (replay it with
//! `fuzz-stable replay TARGET FILE` or `cargo fuzz run TARGET FILE`) and the
//! exit status is 1.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use emws_fuzz::mutate::mutate;
use emws_fuzz::{seeds, target, Target, XorShift, TARGETS};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("replay") => replay(&args[1..]),
        Some("seed") => seed(&args[1..]),
        _ => Err(usage()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    format!(
        "usage: fuzz-stable run TARGET [--seconds N] [--corpus DIR] [--artifacts DIR] [--seed N]\n\
         \x20      fuzz-stable replay TARGET PATH...\n\
         \x20      fuzz-stable seed DIR\n\
         targets: {}",
        names.join(", ")
    )
}

fn lookup(name: Option<&String>) -> Result<(&str, Target), String> {
    let name = name.ok_or_else(usage)?;
    let t = target(name).ok_or_else(|| format!("unknown target {name}\n{}", usage()))?;
    Ok((name, t))
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.windows(2)
        .find(|w| w[0] == name)
        .map(|w| w[1].as_str())
}

fn run(args: &[String]) -> Result<(), String> {
    let (name, fuzz) = lookup(args.first())?;
    let seconds: u64 = flag(args, "--seconds")
        .unwrap_or("30")
        .parse()
        .map_err(|e| format!("--seconds: {e}"))?;
    let seed: u64 = match flag(args, "--seed") {
        Some(s) => s.parse().map_err(|e| format!("--seed: {e}"))?,
        None => std::process::id().into(),
    };
    let corpus_dir = PathBuf::from(flag(args, "--corpus").unwrap_or("corpus")).join(name);
    let artifacts = PathBuf::from(flag(args, "--artifacts").unwrap_or("artifacts")).join(name);

    let mut pool = read_inputs(&corpus_dir)?;
    if pool.is_empty() {
        pool = seeds::for_target(name)
            .into_iter()
            .map(|(_, b)| b)
            .collect();
    }
    // Every corpus input first: a regression shows before any mutation.
    for input in &pool {
        check(name, fuzz, input, &artifacts)?;
    }

    let mut rng = XorShift::new(seed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut executions: u64 = 0;
    let mut input = Vec::new();
    while Instant::now() < deadline {
        for _ in 0..64 {
            input.clone_from(&pool[rng.below(pool.len())]);
            mutate(&mut input, &pool, &mut rng);
            check(name, fuzz, &input, &artifacts)?;
            executions += 1;
        }
    }
    println!(
        "{name}: {executions} executions in {seconds}s ({} inputs in the corpus, seed {seed}), no finding",
        pool.len()
    );
    Ok(())
}

/// Runs one input; a panic is a finding, saved under `artifacts`.
fn check(name: &str, fuzz: Target, input: &[u8], artifacts: &Path) -> Result<(), String> {
    if panic::catch_unwind(|| fuzz(input)).is_ok() {
        return Ok(());
    }
    fs::create_dir_all(artifacts).map_err(|e| format!("{}: {e}", artifacts.display()))?;
    let path = artifacts.join(format!("crash-{:016x}", fnv1a(input)));
    fs::write(&path, input).map_err(|e| format!("{}: {e}", path.display()))?;
    Err(format!(
        "{name}: FINDING ({} bytes) saved to {}\nreplay: fuzz-stable replay {name} {}",
        input.len(),
        path.display(),
        path.display()
    ))
}

fn replay(args: &[String]) -> Result<(), String> {
    let (name, fuzz) = lookup(args.first())?;
    let mut count = 0;
    for path in &args[1..] {
        let path = Path::new(path);
        let inputs = if path.is_dir() {
            read_inputs(path)?
        } else {
            vec![fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?]
        };
        for input in inputs {
            panic::catch_unwind(|| fuzz(&input))
                .map_err(|_| format!("{name}: an input of {} panicked", path.display()))?;
            count += 1;
        }
    }
    println!("{name}: {count} inputs replayed, no finding");
    Ok(())
}

fn seed(args: &[String]) -> Result<(), String> {
    let dir = PathBuf::from(args.first().ok_or_else(usage)?);
    for (name, _) in TARGETS {
        let target_dir = dir.join(name);
        fs::create_dir_all(&target_dir).map_err(|e| format!("{}: {e}", target_dir.display()))?;
        for (file, bytes) in seeds::for_target(name) {
            let path = target_dir.join(file);
            fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Every file in `dir` (none when it does not exist), in name order.
fn read_inputs(dir: &Path) -> Result<Vec<Vec<u8>>, String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    paths.sort();
    paths
        .iter()
        .filter(|p| p.is_file())
        .map(|p| fs::read(p).map_err(|e| format!("{}: {e}", p.display())))
        .collect()
}

/// A stable name for a finding.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
