//! Delivery: queued mail leaves Moat for the protected server (or, for DSNs and other
//! domains, the recipient domain's MX hosts), is retried on temporary failures, and is
//! bounced to its sender when it fails for good or stays undelivered too long.
//!
//! ```text
//! scheduler ── due index (time ++ id, soonest first) ── claim ──▶ attempt (one per message)
//!     ▲                                                              │ split recipients by destination
//!     │ wake: enqueue, flush, release, an attempt done               ▼
//!     │                                          destination queue (route N, or mx:domain)
//!     │                                               │ ≤ max_connections_per_destination workers,
//!     │                                               │ ≤ max_connections in all; one connection
//!     │                                               ▼ carries many messages
//!     └──── Queue::modify (one fsync: states, due entry, bounce, removal) ◀── per-recipient outcomes
//! ```
//!
//! * `scheduler`: [`Scheduler`], the loop over the due index (the only schedule: nothing
//!   else survives a restart, and nothing else needs to).
//! * `attempt`: one attempt at one message, finished once every destination answered.
//! * `worker`: a destination's queue and its connection workers.
//! * `route` and `mx`: where a recipient's mail goes.
//! * `client`: the SMTP client.
//! * `outcome`: per-recipient outcomes applied to the envelope; `retry`: the schedule;
//!   `dsn`: bounces and delay warnings (RFC 3464); `returned`: mail the operator returns
//!   to its sender (`moat queue bounce`).
//! * `metrics`: what delivery counts for `/metrics`.

mod attempt;
pub mod client;
pub mod dsn;
pub mod metrics;
mod mx;
pub mod outcome;
pub mod retry;
pub mod returned;
pub mod route;
mod scheduler;
mod worker;

pub use scheduler::{Scheduler, SchedulerError};

/// Unix milliseconds now ([`crate::time::now_ms`]).
pub(crate) use crate::time::now_ms;
