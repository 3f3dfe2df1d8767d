//! The bridge between connection tasks and the reactor thread.
//!
//! Connection tasks push [`Event`]s into one queue; the push that finds the
//! queue empty raises the signal, so the reactor is woken once per batch and
//! not once per event. The reactor thread resets the signal *before* taking
//! the batch: an event pushed after the take finds the queue empty and raises
//! it again, and one pushed in between is part of the batch, so no event is
//! ever left waiting without a wake-up.
//!
//! The bridge also holds what else the reactor thread runs for the servers:
//! the tasks it polls itself ([`LocalExecutor`]) and the epoll set of their
//! sockets ([`LocalIo`]), which has the signal in it, so that EventMachine
//! watches one descriptor for all of it (`watch_fd`).

use std::io;
use std::mem;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

use crate::event::Event;
use crate::executor::io::LocalIo;
use crate::executor::local::LocalExecutor;
use crate::executor::signal::Signal;
use crate::sync::lock;

pub struct Bridge {
    queue: Mutex<Vec<Event>>,
    signal: Arc<Signal>,
    executor: Arc<LocalExecutor>,
    io: Arc<LocalIo>,
}

impl Bridge {
    pub fn new() -> io::Result<Bridge> {
        let signal = Arc::new(Signal::new()?);
        let io = Arc::new(LocalIo::new(&signal)?);
        Ok(Bridge {
            queue: Mutex::new(Vec::new()),
            executor: Arc::new(LocalExecutor::new(signal.clone())),
            signal,
            io,
        })
    }

    /// The descriptor the reactor watches: readable when events are queued,
    /// a task waits to be polled, or a socket of those tasks is ready.
    pub fn watch_fd(&self) -> RawFd {
        self.io.fd()
    }

    pub(crate) fn io(&self) -> &Arc<LocalIo> {
        &self.io
    }

    pub(crate) fn executor(&self) -> &Arc<LocalExecutor> {
        &self.executor
    }

    pub fn push(&self, event: Event) {
        self.enqueue(|queue| queue.push(event));
    }

    /// Queues every event of `events` (leaving it empty), in order, under
    /// one lock.
    pub fn push_all(&self, events: &mut Vec<Event>) {
        if !events.is_empty() {
            self.enqueue(|queue| queue.append(events));
        }
    }

    /// Adds to the queue under its lock; the addition that finds it empty
    /// wakes the reactor.
    fn enqueue(&self, add: impl FnOnce(&mut Vec<Event>)) {
        let was_empty = {
            let mut queue = lock(&self.queue);
            let was_empty = queue.is_empty();
            add(&mut queue);
            was_empty
        };
        if was_empty {
            self.signal.raise();
        }
    }

    /// Makes the watched descriptor readable (for events kept back from a
    /// batch that an exception interrupted).
    pub fn wake(&self) {
        self.signal.raise();
    }

    /// Takes the sockets' events, then polls the tasks woken since the last
    /// call (on the reactor thread); returns how many ran.
    pub fn run_tasks(&self) -> usize {
        self.io.take_events();
        self.executor.run()
    }

    /// Whether tasks are waiting for `run_tasks`.
    pub fn tasks_ready(&self) -> bool {
        !self.executor.is_empty()
    }

    /// Resets the signal, then takes every queued event, in order. `into`
    /// must be empty; its allocation is reused for the next batch.
    pub fn take_batch(&self, into: &mut Vec<Event>) {
        self.signal.reset();
        mem::swap(&mut *lock(&self.queue), into);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::{CloseInfo, Event};
    use crate::executor::signal::tests::readable;

    pub(crate) fn closed(id: u64) -> Event {
        Event::Closed {
            id,
            info: CloseInfo::abnormal(),
            opened: false,
        }
    }

    #[test]
    fn wakes_once_per_batch_and_keeps_order() {
        let bridge = Bridge::new().unwrap();
        assert!(!readable(bridge.watch_fd()));
        bridge.push(closed(1));
        assert!(readable(bridge.watch_fd()));
        bridge.push(closed(2));
        let mut batch = Vec::new();
        bridge.take_batch(&mut batch);
        assert!(!readable(bridge.watch_fd()));
        let ids: Vec<u64> = batch.iter().map(Event::connection_id).collect();
        assert_eq!(ids, vec![1, 2]);
        batch.clear();
        bridge.push(closed(3));
        assert!(readable(bridge.watch_fd()));
    }

    #[test]
    fn push_all_wakes_once_and_keeps_order() {
        let bridge = Bridge::new().unwrap();
        let mut events = vec![closed(1), closed(2)];
        bridge.push_all(&mut events);
        assert!(events.is_empty());
        assert!(readable(bridge.watch_fd()));
        let mut none = Vec::new();
        bridge.push_all(&mut none);
        bridge.push_all(&mut vec![closed(3)]);
        let mut batch = Vec::new();
        bridge.take_batch(&mut batch);
        assert!(!readable(bridge.watch_fd()));
        let ids: Vec<u64> = batch.iter().map(Event::connection_id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        bridge.push_all(&mut Vec::new());
        assert!(!readable(bridge.watch_fd()), "nothing queued, no wake");
    }
}
