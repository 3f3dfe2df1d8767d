//! Protocol replies (pongs, close frames) in em-websocket's order.
//!
//! em-websocket ran the application's blocks while it read, so a reply to a
//! message went out before the pong for a ping that followed the message.
//! Here the application runs on another thread, later: a reply the core
//! writes after events the application has not yet seen is held behind a
//! barrier event, which the reactor thread releases once it has delivered
//! the events before it.

use std::collections::VecDeque;

use emws_core::OutKind;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Task;
use crate::event::Event;

/// Replies held until their barrier is released (kept in `OnDemand`).
#[derive(Default)]
pub(super) struct HeldReplies {
    held: VecDeque<(u64, Vec<u8>)>,
    /// The last barrier sent to the Ruby side, and the last it released.
    sent: u64,
    released: u64,
}

impl<S> Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Queues protocol replies behind whatever the application sends for the
    /// events already reported: a reply to a message goes out before the
    /// echo of a close that followed it. The barrier is added to `batch`.
    pub(super) fn queue_replies(&mut self, replies: &[u8], batch: &mut Vec<Event>) {
        if replies.is_empty() {
            return;
        }
        if self.events_since_barrier {
            self.events_since_barrier = false;
            let held = &mut self.on_demand().replies;
            held.sent += 1;
            let barrier = held.sent;
            held.held.push_back((barrier, replies.to_vec()));
            batch.push(Event::Barrier {
                handle: self.report.handle.clone(),
                barrier,
            });
        } else if let Some((_, last)) = self
            .on_demand
            .as_mut()
            .and_then(|on_demand| on_demand.replies.held.back_mut())
        {
            last.extend_from_slice(replies);
        } else {
            self.write_replies(replies);
        }
    }

    /// The length of the pong the core wrote for a ping of `payload`.
    pub(super) fn pong_len(&mut self, payload: &[u8]) -> usize {
        self.protocol.as_mut().map_or(0, |protocol| {
            protocol.frame(OutKind::Pong, payload).len(payload.len())
        })
    }

    /// The reactor thread has delivered the events before `barrier`.
    pub(super) fn release(&mut self, barrier: u64) {
        // A barrier is only ever sent with replies held.
        let Some(on_demand) = self.on_demand.as_mut() else {
            return;
        };
        let held = &mut on_demand.replies;
        held.released = held.released.max(barrier);
        let released = held.released;
        while let Some((_, replies)) = self.on_demand.as_mut().and_then(|on_demand| {
            on_demand
                .replies
                .held
                .pop_front_if(|(held, _)| *held <= released)
        }) {
            self.write_replies(&replies);
        }
    }

    pub(super) fn holds_replies(&self) -> bool {
        self.on_demand
            .as_ref()
            .is_some_and(|on_demand| !on_demand.replies.held.is_empty())
    }

    fn write_replies(&mut self, replies: &[u8]) {
        let before = self.outbox.len();
        self.outbox.push_slice(replies);
        self.add_overhead(before);
    }
}
