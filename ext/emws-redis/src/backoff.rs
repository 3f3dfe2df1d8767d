//! Waits between attempts to reach Redis: doubling from a short first wait
//! to a ceiling, each drawn at random from its upper half so that many
//! processes do not all reconnect at the same instant.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const FIRST: Duration = Duration::from_millis(50);
/// Low enough that delivery resumes within a couple of seconds of Redis
/// coming back.
const CEILING: Duration = Duration::from_millis(1500);

pub struct Backoff {
    next: Duration,
    seed: u64,
}

impl Backoff {
    pub fn new() -> Backoff {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Backoff {
            next: FIRST,
            // Distinct per process and per call, and never zero.
            seed: nanos ^ u64::from(std::process::id()).rotate_left(32) | 1,
        }
    }

    /// The wait before the next attempt.
    pub fn wait(&mut self) -> Duration {
        let ceiling = self.next;
        self.next = (self.next * 2).min(CEILING);
        // xorshift64
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let half = ceiling / 2;
        half + half.mul_f64((self.seed % 1_000) as f64 / 1_000.0)
    }

    /// An attempt worked: the next failure waits a short time again.
    pub fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_a_ceiling_with_jitter() {
        let mut backoff = Backoff::new();
        let waits: Vec<Duration> = (0..10).map(|_| backoff.wait()).collect();
        assert!(waits[0] >= FIRST / 2 && waits[0] <= FIRST);
        assert!(waits.iter().all(|w| *w <= CEILING));
        assert!(waits[9] >= CEILING / 2);
        backoff.reset();
        assert!(backoff.wait() <= FIRST);
    }
}
