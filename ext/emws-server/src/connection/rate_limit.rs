//! Per-connection rate limits (`:max_messages_per_second`,
//! `:max_bytes_per_second`): token buckets checked as each message is
//! decoded, before it becomes an event, so that a flood costs the reactor
//! thread nothing and reaches no Ruby code.

use std::time::Duration;

use tokio::time::Instant;

use crate::options::{RateLimitAction, ServerConfig};

/// A connection's close frame when it goes over a limit.
pub(super) const RATE_LIMIT_CODE: u16 = 1008;
pub(super) const RATE_LIMIT_REASON: &[u8] = b"Rate limit exceeded";
/// The peer's time to answer that close frame, without `:close_timeout`
/// (em-websocket's default).
pub(super) const RATE_LIMIT_CLOSE_TIMEOUT: Duration = Duration::from_secs(60);

/// A bucket that fills at `rate` per second up to `rate * burst`.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    rate: f64,
    capacity: f64,
}

impl Bucket {
    fn new(rate: f64, burst: f64) -> Bucket {
        let capacity = rate * burst;
        Bucket {
            tokens: capacity,
            rate,
            capacity,
        }
    }

    fn refill(&mut self, elapsed: f64) {
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
    }
}

/// A connection's buckets (kept only by connections of a server with limits).
#[derive(Debug)]
pub(super) struct RateLimits {
    messages: Option<Bucket>,
    bytes: Option<Bucket>,
    last_refill: Instant,
    /// Closed for going over: data messages that still arrive are dropped.
    pub(super) closed: bool,
}

/// What becomes of one message.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Pass,
    /// Over a limit: dropped (`:drop`, or after the close below).
    Drop,
    /// Over a limit with `:close`: the connection is closed now.
    Close,
}

impl RateLimits {
    /// The buckets for a server's limits, full; `None` without limits.
    pub(super) fn for_server(config: &ServerConfig) -> Option<RateLimits> {
        let burst = config.burst.unwrap_or(1.0);
        let messages = config
            .max_messages_per_second
            .map(|r| Bucket::new(r, burst));
        let bytes = config.max_bytes_per_second.map(|r| Bucket::new(r, burst));
        (messages.is_some() || bytes.is_some()).then(|| RateLimits {
            messages,
            bytes,
            last_refill: Instant::now(),
            closed: false,
        })
    }

    /// Refills the buckets for the time since the last read (once per read).
    pub(super) fn refill(&mut self, now: Instant) {
        let elapsed = now
            .saturating_duration_since(self.last_refill)
            .as_secs_f64();
        self.last_refill = now;
        for bucket in [&mut self.messages, &mut self.bytes].into_iter().flatten() {
            bucket.refill(elapsed);
        }
    }

    /// Takes one message of `len` payload bytes from the buckets, if both
    /// have room for it; what a message over a limit gets otherwise.
    pub(super) fn admit(&mut self, len: usize, action: RateLimitAction) -> Verdict {
        if self.closed {
            return Verdict::Drop;
        }
        let len = len as f64;
        let fits = self.messages.as_ref().is_none_or(|b| b.tokens >= 1.0)
            && self.bytes.as_ref().is_none_or(|b| b.tokens >= len);
        if fits {
            if let Some(bucket) = self.messages.as_mut() {
                bucket.tokens -= 1.0;
            }
            if let Some(bucket) = self.bytes.as_mut() {
                bucket.tokens -= len;
            }
            return Verdict::Pass;
        }
        match action {
            RateLimitAction::Drop => Verdict::Drop,
            RateLimitAction::Close => {
                self.closed = true;
                Verdict::Close
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(messages: Option<f64>, bytes: Option<f64>, burst: f64) -> RateLimits {
        RateLimits {
            messages: messages.map(|r| Bucket::new(r, burst)),
            bytes: bytes.map(|r| Bucket::new(r, burst)),
            last_refill: Instant::now(),
            closed: false,
        }
    }

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_refuses() {
        let mut limits = limits(Some(10.0), None, 1.0);
        for _ in 0..10 {
            assert_eq!(limits.admit(5, RateLimitAction::Drop), Verdict::Pass);
        }
        assert_eq!(limits.admit(5, RateLimitAction::Drop), Verdict::Drop);
        // A tenth of a second refills one message.
        let later = limits.last_refill + Duration::from_millis(100);
        limits.refill(later);
        assert_eq!(limits.admit(5, RateLimitAction::Drop), Verdict::Pass);
        assert_eq!(limits.admit(5, RateLimitAction::Drop), Verdict::Drop);
    }

    #[test]
    fn bytes_are_limited_by_payload_and_burst_scales_capacity() {
        let mut limits = limits(None, Some(1000.0), 2.0);
        assert_eq!(limits.admit(1500, RateLimitAction::Drop), Verdict::Pass);
        assert_eq!(limits.admit(500, RateLimitAction::Drop), Verdict::Pass);
        assert_eq!(limits.admit(1, RateLimitAction::Drop), Verdict::Drop);
        // Never more than the capacity, however long the wait.
        let later = limits.last_refill + Duration::from_secs(3600);
        limits.refill(later);
        assert_eq!(limits.admit(2000, RateLimitAction::Drop), Verdict::Pass);
        assert_eq!(limits.admit(1, RateLimitAction::Drop), Verdict::Drop);
    }

    #[test]
    fn closing_refuses_everything_after() {
        let mut limits = limits(Some(1.0), Some(100.0), 1.0);
        assert_eq!(limits.admit(10, RateLimitAction::Close), Verdict::Pass);
        assert_eq!(limits.admit(10, RateLimitAction::Close), Verdict::Close);
        let later = limits.last_refill + Duration::from_secs(10);
        limits.refill(later);
        assert_eq!(limits.admit(1, RateLimitAction::Close), Verdict::Drop);
    }
}
