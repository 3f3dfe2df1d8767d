//! A connection's task: it owns the socket and the protocol state, takes
//! the reactor thread's commands through the [`ConnectionHandle`], and
//! reports everything it learns as [`Event`]s through the bridge, ending
//! with exactly one `Closed`.
//!
//! * `task`: the task and its poll loop, which runs the commands.
//! * `input`: what is read: the handshake, then frames (or, for an
//!   application that reads the bytes itself, each read as it arrives).
//! * `output`: frames the application sends, and the closing handshake.
//! * `replies`: protocol replies held until the events before them are delivered.
//! * `deadlines`: the handshake, close, inactivity and keep-alive timers.
//! * `report`: the end, reported once however the task ends, panics included.
//! * `outbox`: bytes waiting to be written.
//!
//! [`ConnectionHandle`]: crate::handle::ConnectionHandle
//! [`Event`]: crate::event::Event

mod deadlines;
mod input;
mod outbox;
mod output;
mod replies;
mod report;
mod task;

pub(crate) use report::CatchPanic;
pub(crate) use task::run;
#[cfg(test)]
pub(crate) use task::Task;
