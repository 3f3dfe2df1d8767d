//! The figures as families of samples, and as the Prometheus text format.

use std::fmt::Write;

use super::{CloseCode, HandshakeFailure, MessageType, Snapshot, TrafficSnapshot};

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyKind {
    Counter,
    Gauge,
}

/// One metric: its name without the `emws_` prefix (and, for a counter, the
/// `_total` suffix), which is also its key in the `stats` Hash.
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: FamilyKind,
    /// The label's name, when the samples have one.
    pub label: Option<&'static str>,
    /// Each sample's label value (when `label` is set) and value.
    pub samples: Vec<(String, u64)>,
}

impl Family {
    fn single(name: &'static str, help: &'static str, kind: FamilyKind, value: u64) -> Family {
        Family {
            name,
            help,
            kind,
            label: None,
            samples: vec![(String::new(), value)],
        }
    }

    fn labelled(
        name: &'static str,
        help: &'static str,
        label: &'static str,
        samples: Vec<(String, u64)>,
    ) -> Family {
        Family {
            name,
            help,
            kind: FamilyKind::Counter,
            label: Some(label),
            samples,
        }
    }
}

fn by_type(counts: &[u64; MessageType::ALL.len()]) -> Vec<(String, u64)> {
    MessageType::ALL
        .iter()
        .map(|kind| (kind.label().to_string(), counts[*kind as usize]))
        .collect()
}

/// Close codes: every bucket a frame was counted in (the defined codes
/// never seen are left out, so that a scrape stays short).
fn by_code(counts: &[u64; CloseCode::BUCKETS]) -> Vec<(String, u64)> {
    counts
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > 0)
        .map(|(bucket, count)| (CloseCode::label(bucket), *count))
        .collect()
}

fn traffic(
    messages: &'static str,
    bytes: &'static str,
    help: (&'static str, &'static str),
    traffic: &TrafficSnapshot,
) -> [Family; 2] {
    [
        Family::labelled(messages, help.0, "type", by_type(&traffic.messages)),
        Family::labelled(bytes, help.1, "type", by_type(&traffic.bytes)),
    ]
}

impl Snapshot {
    /// Every metric, in the order a scrape lists them.
    pub fn families(&self) -> Vec<Family> {
        use FamilyKind::{Counter, Gauge};
        let gauges = &self.gauges;
        let mut families = vec![
            Family::single(
                "connections",
                "Connections open (WebSocket or still in their handshake).",
                Gauge,
                gauges.connections,
            ),
            Family::single(
                "connections_accepted",
                "Connections accepted.",
                Counter,
                self.accepted,
            ),
            Family::labelled(
                "handshakes_failed",
                "Connections that never became WebSockets, by reason.",
                "reason",
                HandshakeFailure::ALL
                    .iter()
                    .map(|reason| {
                        (
                            reason.label().to_string(),
                            self.handshake_failures[*reason as usize],
                        )
                    })
                    .collect(),
            ),
        ];
        families.extend(traffic(
            "messages_received",
            "bytes_received",
            (
                "Messages received, by type (control: ping, pong, close).",
                "Payload bytes received, by message type.",
            ),
            &self.received,
        ));
        families.extend(traffic(
            "messages_sent",
            "bytes_sent",
            (
                "Messages sent, by type (control: ping, pong, close).",
                "Payload bytes sent, by message type (before compression).",
            ),
            &self.sent,
        ));
        families.extend([
            Family::labelled(
                "closes_received",
                "Close frames received, by status code.",
                "code",
                by_code(&self.closes_received),
            ),
            Family::labelled(
                "closes_sent",
                "Close frames sent, by status code.",
                "code",
                by_code(&self.closes_sent),
            ),
            Family::single(
                "ping_timeouts",
                "Connections dropped for a keep-alive ping left unanswered.",
                Counter,
                self.ping_timeouts,
            ),
            Family::single(
                "outbound_limit_aborts",
                "Connections aborted because a send would pass :outbound_limit.",
                Counter,
                self.outbound_limit_aborts,
            ),
            Family::single(
                "outbound_buffered_bytes",
                "Bytes queued for peers that have not read them yet.",
                Gauge,
                gauges.buffered_bytes,
            ),
            Family::single(
                "outbound_buffered_connections",
                "Connections with bytes queued for their peer.",
                Gauge,
                gauges.buffered_connections,
            ),
            Family::single(
                "draining",
                "1 while a graceful drain is under way.",
                Gauge,
                u64::from(gauges.draining),
            ),
            Family::single(
                "drain_dropped",
                "Connections a drain's deadline found still open, and dropped.",
                Counter,
                self.drain_dropped,
            ),
            Family::single(
                "rate_limited_messages",
                "Messages dropped for going over a rate limit.",
                Counter,
                self.rate_limited_messages,
            ),
            Family::single(
                "rate_limited_connections",
                "Connections closed (1008) for going over a rate limit.",
                Counter,
                self.rate_limited_connections,
            ),
            Family::single(
                "channel_pushes",
                "Messages pushed into EmWebSocketRs::Channel (this process).",
                Counter,
                self.channel_pushes,
            ),
            Family::single(
                "channel_deliveries",
                "Channel messages queued to subscribers (this process).",
                Counter,
                self.channel_deliveries,
            ),
        ]);
        families
    }
}

/// The Prometheus text exposition format (0.0.4): every name prefixed
/// `emws_`, counters suffixed `_total`.
pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::with_capacity(4096);
    for family in snapshot.families() {
        let (suffix, kind) = match family.kind {
            FamilyKind::Counter => ("_total", "counter"),
            FamilyKind::Gauge => ("", "gauge"),
        };
        let name = format!("emws_{}{suffix}", family.name);
        let _ = writeln!(out, "# HELP {name} {}", family.help);
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (value_label, value) in &family.samples {
            match family.label {
                // Label values are from a fixed set of plain words and numbers:
                // nothing to escape.
                Some(label) => {
                    let _ = writeln!(out, "{name}{{{label}=\"{value_label}\"}} {value}");
                }
                None => {
                    let _ = writeln!(out, "{name} {value}");
                }
            }
        }
    }
    out
}

/// A whole HTTP/1.1 answer to `GET /metrics`, closing the connection.
pub fn http_response(snapshot: &Snapshot) -> Vec<u8> {
    let body = render(snapshot);
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body.as_bytes());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_help_and_type() {
        let mut snapshot = Snapshot {
            accepted: 7,
            ..Snapshot::default()
        };
        snapshot.received.messages[MessageType::Text as usize] = 3;
        snapshot.closes_sent[CloseCode::bucket(Some(1001))] = 2;
        let text = render(&snapshot);
        assert!(text.contains(
            "# TYPE emws_connections_accepted_total counter\nemws_connections_accepted_total 7\n"
        ));
        assert!(text.contains("emws_messages_received_total{type=\"text\"} 3\n"));
        assert!(text.contains("emws_closes_sent_total{code=\"1001\"} 2\n"));
        assert!(text.contains("# TYPE emws_connections gauge\nemws_connections 0\n"));
        assert!(!text.contains("closes_received_total{"));
        assert!(text.ends_with('\n'));
    }
}
