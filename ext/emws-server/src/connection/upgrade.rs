//! `ws.onupgrade`: the request waits, read and checked, for the
//! application's decision (`Command::Decide`), which may come at once or
//! later; nothing is read meanwhile, and the handshake timeout still runs.

use bytes::{Bytes, BytesMut};
use emws_core::handshake::{self, Accepted};
use emws_core::{HandshakeConfig, Request};
use tokio::io::{AsyncRead, AsyncWrite};

use super::Task;
use crate::event::Event;
use crate::metrics::HandshakeFailure;
use crate::upgrade::{self, UpgradeDecision};

/// A request waiting for the application's decision.
pub(super) struct PendingUpgrade {
    request: Box<Request>,
    /// The answer the server would give on its own.
    accepted: Accepted,
}

impl<S> Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Hands the request to the application (`Event::Upgrade`) and waits.
    pub(super) fn ask_for_upgrade(&mut self, request: Box<Request>, accepted: Accepted) {
        self.awaiting_ruby += 1;
        let server = self.report.server.clone();
        server.bridge.push(Event::Upgrade {
            handle: self.report.handle.clone(),
            request: request.clone(),
            secure: server.handshake.secure,
        });
        self.on_demand().pending_upgrade = Some(Box::new(PendingUpgrade { request, accepted }));
    }

    /// The application's decision on the waiting request (a second one, or
    /// one for a request no longer waiting, is ignored).
    pub(super) fn decide_upgrade(&mut self, decision: UpgradeDecision) {
        let Some(pending) = self
            .on_demand
            .as_mut()
            .and_then(|on_demand| on_demand.pending_upgrade.take())
        else {
            return;
        };
        self.awaiting_ruby = self.awaiting_ruby.saturating_sub(1);
        match decision {
            UpgradeDecision::Accept { protocol, headers } => {
                let PendingUpgrade {
                    request,
                    mut accepted,
                } = *pending;
                if let Some(protocol) = protocol {
                    let config = HandshakeConfig {
                        protocols: vec![protocol],
                        ..self.report.server.handshake.clone()
                    };
                    if let Ok(chosen) = handshake::accept(&request, &config) {
                        accepted = chosen;
                    }
                }
                if !headers.is_empty() {
                    accepted.response = upgrade::with_headers(&accepted.response, &headers);
                }
                self.complete_handshake(*request, accepted);
                if !self.inbuf.is_empty() {
                    self.process_received(0);
                }
            }
            UpgradeDecision::Refuse {
                status,
                headers,
                body,
            } => {
                self.report
                    .server
                    .metrics
                    .handshake_failed(HandshakeFailure::Refused);
                self.inbuf = BytesMut::new();
                let response = upgrade::refusal(status, &headers, &body);
                self.answer_and_close(Bytes::from(response));
            }
        }
    }
}
