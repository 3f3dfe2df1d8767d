//! The servers' figures as Ruby Hashes: `EmWebSocketRs::Native.stats` (the
//! process) and `Native::Server#stats` (one server), made from the same
//! families as the Prometheus text of `/metrics`.

use emws_server::metrics::Snapshot;
use magnus::{function, Error, RHash, RModule, Ruby};

/// Each family under its name: an Integer, or a Hash of label value to Integer.
pub fn snapshot_hash(ruby: &Ruby, snapshot: &Snapshot) -> Result<RHash, Error> {
    let stats = ruby.hash_new();
    for family in snapshot.families() {
        let key = ruby.to_symbol(family.name);
        match family.label {
            None => {
                let value = family.samples.first().map_or(0, |(_, value)| *value);
                stats.aset(key, value)?;
            }
            Some(_) => {
                let values = ruby.hash_new();
                for (label, value) in &family.samples {
                    values.aset(label.as_str(), *value)?;
                }
                stats.aset(key, values)?;
            }
        }
    }
    Ok(stats)
}

fn process_stats(ruby: &Ruby) -> Result<RHash, Error> {
    snapshot_hash(ruby, &Snapshot::of_process())
}

pub fn register(native: RModule) -> Result<(), Error> {
    native.define_module_function("stats", function!(process_stats, 0))
}
