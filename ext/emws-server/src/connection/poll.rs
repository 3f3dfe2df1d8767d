//! The task's poll loop: commands, writes, reads and timers in turn.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::input::poll_read_some;
use super::output::SendCounts;
use super::{CloseWhen, Task};
use crate::handle::{Command, Input, Payload};
use crate::message_bytes::MessageBytes;
use crate::metrics::HandshakeFailure;

/// Protocol replies (pongs, close echoes) queued for a peer that does not read
/// beyond this stop us from reading more from it.
const MAX_UNREAD_REPLIES: usize = 1024 * 1024;
/// Rounds of work one poll may do before yielding to the other tasks.
const TURNS_PER_POLL: usize = 16;

impl<S> Future for Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Output = ();

    /// One hand-written loop instead of `select!`: nothing is re-created per
    /// round, and an idle connection holds no timer or read buffer.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..TURNS_PER_POLL {
            if this.report.handle.is_shut_down() {
                return Poll::Ready(());
            }
            if this.shutdown_deadline().is_some() {
                return this.poll_shutdown(cx);
            }
            let commands = this.report.handle.take_commands(cx.waker());
            let mut progress = !commands.is_empty();
            this.run_commands(commands);
            if this.close_when == CloseWhen::Now
                || (this.close_when == CloseWhen::Written
                    && !this.outbox.has_work()
                    && !this.holds_replies())
            {
                this.start_shutdown();
                continue;
            }
            if this.outbox.has_work() && !this.paused {
                match this.outbox.poll_write_to(Pin::new(&mut this.stream), cx) {
                    Poll::Ready(Ok(written)) => {
                        progress = true;
                        if written > 0 {
                            this.wrote();
                        }
                        this.report.handle.written(written);
                        this.report_drain();
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Pending => {}
                }
            }
            let reading = this.started
                && this.close_when == CloseWhen::NotYet
                && this.awaiting_ruby == 0
                && !this.paused
                && this.outbox.len() < MAX_UNREAD_REPLIES;
            if reading {
                let read = match this.input {
                    Input::Native => {
                        poll_read_some(Pin::new(&mut this.stream), cx, &mut this.inbuf)
                    }
                    Input::Application => this.poll_read_for_application(cx),
                };
                match read {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                        if this.protocol.is_none() && this.input == Input::Native {
                            this.report
                                .server
                                .metrics
                                .handshake_failed(HandshakeFailure::ClosedEarly);
                        }
                        return Poll::Ready(());
                    }
                    Poll::Ready(Ok(read)) => {
                        progress = true;
                        this.read();
                        if this.input == Input::Native {
                            this.process_received(read);
                        }
                    }
                    Poll::Pending => {}
                }
            }
            if this.poll_timer(cx, this.next_deadline()).is_ready() {
                progress = true;
                this.on_deadline();
            }
            if !progress {
                return Poll::Pending;
            }
        }
        // Still busy: let the other tasks on this thread have a turn first.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<S> Task<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn run_commands(&mut self, commands: VecDeque<Command>) {
        // One allocation for a batch of small frames (a broadcast's), not a
        // buffer grown a doubling at a time.
        self.outbox
            .reserve_frames(commands.iter().filter_map(|command| match command {
                Command::Send { payload, .. } => Some(payload.len()),
                _ => None,
            }));
        let mut sends = SendCounts::default();
        for command in commands {
            if self.close_when == CloseWhen::Now {
                break;
            }
            match command {
                Command::Start {
                    input,
                    decides_upgrade,
                } => {
                    self.started = true;
                    self.input = input;
                    self.decides_upgrade = decides_upgrade;
                }
                Command::Decide(decision) => self.decide_upgrade(*decision),
                Command::Consumed => self.awaiting_ruby = self.awaiting_ruby.saturating_sub(1),
                Command::Pause(paused) => self.paused = paused,
                Command::Receive(data) => {
                    if self.close_when == CloseWhen::NotYet {
                        self.inbuf.extend_from_slice(&data);
                        self.process_received(data.len());
                    }
                }
                Command::Panic => panic!("panic requested by the test suite"),
                Command::Release(barrier) => self.release(barrier),
                Command::Send { kind, payload } => self.encode(
                    kind,
                    match payload {
                        MessageBytes::Shared(bytes) => Payload::Shared(bytes),
                        MessageBytes::Inline { .. } => Payload::Borrowed(&payload),
                    },
                    &mut sends,
                ),
                Command::Raw(data) => {
                    // Bytes written before any handshake: the application
                    // answers this connection itself (plain HTTP on the
                    // WebSocket port), and may keep it as long as it likes.
                    if self.protocol.is_none() {
                        self.handshake_deadline = None;
                    }
                    self.outbox.push_bytes(data)
                }
                Command::Close {
                    code,
                    reason,
                    timeout,
                } => self.start_close(code, &reason, timeout),
                Command::Disconnect { after_writing } => {
                    self.close_when = if after_writing {
                        CloseWhen::Written
                    } else {
                        CloseWhen::Now
                    }
                }
                Command::InactivityTimeout(timeout) => {
                    let deadlines = &mut self.on_demand().deadlines;
                    deadlines.inactivity = timeout;
                    deadlines.last_activity = Instant::now();
                }
            }
        }
        self.add_sends(&sends);
    }
}
