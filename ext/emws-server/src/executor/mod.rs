//! Where tasks run and what wakes them. Nothing here knows of connections,
//! events or Ruby: tasks are futures, and wakes are [`Waker`](std::task::Waker)s.
//!
//! * [`runtime`]: the process's tokio runtime (its workers accept, keep the
//!   timers and run the tasks spawned on them) and the relay that makes
//!   wakes on a worker for the reactor thread.
//! * [`local`]: tasks polled by the reactor thread itself, and [`io`]: the
//!   epoll set of their sockets, which the reactor thread watches.
//! * [`signal`]: the descriptor that tells the reactor thread something waits.
//! * [`fork`]: whether this process is still the one that made a thing.

pub mod fork;
pub(crate) mod io;
pub(crate) mod local;
mod relay;
pub mod runtime;
pub(crate) mod signal;
