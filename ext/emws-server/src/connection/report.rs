//! A connection's end, reported exactly once, however its task ends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::event::{CloseInfo, ErrorKind, Event};
use crate::handle::ConnectionHandle;
use crate::server_state::ServerState;

/// Reports `Closed` when dropped: when the task ends, is dropped by `stop`,
/// or unwinds from a panic.
pub(super) struct ClosedReport {
    pub(super) server: Arc<ServerState>,
    pub(super) handle: Arc<ConnectionHandle>,
    /// How the peer closed, once it has (boxed: most of a connection's life
    /// it is not known, and then holds nothing).
    pub(super) close_info: Option<Box<CloseInfo>>,
}

impl Drop for ClosedReport {
    fn drop(&mut self) {
        self.server.forget(self.handle.id);
        self.handle.finish();
        if self.handle.limit_reached() {
            self.server.metrics.outbound_limit_aborts.inc();
        }
        // A panic unwinding through the task drops it right here; one caught
        // by `CatchPanic` first left its message in the handle.
        let panic = self.handle.take_panic().or_else(|| {
            std::thread::panicking().then(|| "the connection's task panicked".to_string())
        });
        if let Some(message) = panic {
            self.server.bridge.push(Event::Error {
                id: self.handle.id,
                kind: ErrorKind::Protocol,
                message: format!("Internal error: {message}"),
            });
            self.close_info = Some(Box::new(CloseInfo {
                code: 1011,
                reason: None,
                was_clean: false,
            }));
        }
        self.server.bridge.push(Event::Closed {
            id: self.handle.id,
            info: self
                .close_info
                .take()
                .map_or_else(CloseInfo::abnormal, |info| *info),
            opened: self.handle.was_opened(),
        });
    }
}

pin_project_lite::pin_project! {
    /// Runs a connection's future, turning a panic in it into that
    /// connection's end (reported as `onerror` and `onclose` 1011 by
    /// `ClosedReport`), so that one connection's bug never takes the server
    /// down.
    pub(crate) struct CatchPanic<F, G> {
        // Declared first, so dropped first: the connection reports its end
        // before `guard` lets the server count it gone.
        #[pin]
        future: F,
        handle: Arc<ConnectionHandle>,
        _guard: G,
    }
}

impl<F, G> CatchPanic<F, G> {
    /// `guard` is dropped once the connection has ended and reported it.
    pub(crate) fn new(future: F, handle: Arc<ConnectionHandle>, guard: G) -> Self {
        CatchPanic {
            future,
            handle,
            _guard: guard,
        }
    }
}

impl<F: Future<Output = ()>, G> Future for CatchPanic<F, G> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let future = this.future;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_string());
                this.handle.set_panic(message);
                // The future is dropped by our owner, which reports the end.
                Poll::Ready(())
            }
        }
    }
}
