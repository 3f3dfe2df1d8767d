//! The bridge between connection tasks and the Ruby thread.
//!
//! Connection tasks push [`Event`]s into one queue; the push that finds the
//! queue empty writes to an eventfd, so the reactor is woken once per batch and
//! not once per event. The Ruby side reads the eventfd (resetting it) *before*
//! taking the batch: an event pushed after the take finds the queue empty and
//! wakes it again, and one pushed in between is part of the batch, so no event
//! is ever left waiting without a wake-up.
//!
//! The reactor watches one descriptor for all of it (`watch_fd`): the epoll
//! set of the sockets whose tasks it polls itself (`reactor_io`), with the
//! eventfd in it level-triggered, so that the set stays readable for as long
//! as the eventfd is.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

use crate::event::Event;
use crate::reactor_io::IoReactor;
use crate::reactor_tasks::ReadyTasks;

pub struct Bridge {
    queue: Mutex<Vec<Event>>,
    wake: OwnedFd,
    /// Connection tasks polled by the thread that takes the batches.
    ready: ReadyTasks,
    /// Their sockets' readiness, with `wake` among them.
    io: Arc<IoReactor>,
}

impl Bridge {
    pub fn new() -> io::Result<Bridge> {
        // SAFETY: eventfd has no memory-safety preconditions; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor owned by nobody else.
        let wake = unsafe { OwnedFd::from_raw_fd(fd) };
        let io = Arc::new(IoReactor::new(wake.as_raw_fd())?);
        Ok(Bridge {
            queue: Mutex::new(Vec::new()),
            wake,
            ready: ReadyTasks::default(),
            io,
        })
    }

    /// The descriptor made readable when events are queued.
    pub fn wake_fd(&self) -> RawFd {
        self.wake.as_raw_fd()
    }

    /// The descriptor the reactor watches: readable when events are queued
    /// or a socket of the reactor's own tasks is ready (`reactor_io`).
    pub fn watch_fd(&self) -> RawFd {
        self.io.fd()
    }

    pub(crate) fn io(&self) -> &Arc<IoReactor> {
        &self.io
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
            let mut queue = self.lock();
            let was_empty = queue.is_empty();
            add(&mut queue);
            was_empty
        };
        if was_empty {
            self.wake();
        }
    }

    /// Makes the wake descriptor readable.
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own descriptor. The only
        // possible failure is EAGAIN on counter overflow, which still leaves the
        // descriptor readable, so the result can be ignored.
        unsafe {
            libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8);
        }
    }

    pub(crate) fn ready_tasks(&self) -> &ReadyTasks {
        &self.ready
    }

    /// Takes the sockets' events, then polls the connection tasks woken
    /// since the last call (on the thread that takes the batches); returns
    /// how many ran.
    pub fn run_tasks(&self) -> usize {
        self.io.take_events();
        self.ready.run()
    }

    /// Whether tasks are waiting for `run_tasks`.
    pub fn tasks_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Resets the wake descriptor, then takes every queued event, in order.
    /// `into` must be empty; its allocation is reused for the next batch.
    pub fn take_batch(&self, into: &mut Vec<Event>) {
        let mut counter: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own non-blocking descriptor;
        // EAGAIN (nothing to reset) is the only expected failure and is harmless.
        unsafe {
            libc::read(self.wake.as_raw_fd(), (&mut counter as *mut u64).cast(), 8);
        }
        let mut queue = self.lock();
        mem::swap(&mut *queue, into);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Event>> {
        // A panic while holding this lock cannot leave the Vec inconsistent.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::{CloseInfo, Event};

    /// Whether `fd` polls readable right now.
    pub(crate) fn readable(fd: RawFd) -> bool {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
    }

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
        assert!(!readable(bridge.wake_fd()));
        bridge.push(closed(1));
        assert!(readable(bridge.wake_fd()));
        bridge.push(closed(2));
        let mut batch = Vec::new();
        bridge.take_batch(&mut batch);
        assert!(!readable(bridge.wake_fd()));
        let ids: Vec<u64> = batch.iter().map(Event::connection_id).collect();
        assert_eq!(ids, vec![1, 2]);
        batch.clear();
        bridge.push(closed(3));
        assert!(readable(bridge.wake_fd()));
    }

    #[test]
    fn push_all_wakes_once_and_keeps_order() {
        let bridge = Bridge::new().unwrap();
        let mut events = vec![closed(1), closed(2)];
        bridge.push_all(&mut events);
        assert!(events.is_empty());
        assert!(readable(bridge.wake_fd()));
        let mut none = Vec::new();
        bridge.push_all(&mut none);
        bridge.push_all(&mut vec![closed(3)]);
        let mut batch = Vec::new();
        bridge.take_batch(&mut batch);
        assert!(!readable(bridge.wake_fd()));
        let ids: Vec<u64> = batch.iter().map(Event::connection_id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        bridge.push_all(&mut Vec::new());
        assert!(!readable(bridge.wake_fd()), "nothing queued, no wake");
    }
}
