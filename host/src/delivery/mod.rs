//! Delivery: queued mail leaves Moat for the protected server (or, for DSNs and other
//! domains, the recipient domain's MX hosts), is retried on temporary failures, and is
//! bounced to its sender when it fails for good or stays undelivered too long.
//!
//! ```text
//! scheduler ── due index (time ++ id, soonest first) ── claim ──▶ attempt (one per message)
//!     ▲                                                              │ split recipients by destination
//!     │ wake: enqueue, flush, release, an attempt done               ▼
//!     │                                          destination queue (route N, or mx:domain)
//!     │                                               │ a window of workers (initial → max per
//!     │                                               │ destination, moved by the server's answers),
//!     │                                               │ ≤ max_connections in all; one connection
//!     │                                               ▼ carries many messages
//!     └──── Queue::modify (one fsync: states, due entry, bounce, removal) ◀── per-recipient outcomes
//! ```
//!
//! * `scheduler`: [`Scheduler`], the loop over the due index (the only schedule: nothing
//!   else survives a restart, and nothing else needs to); `in_flight`: the messages it
//!   passes over, their attempt in progress.
//! * `worker`: the destinations' queues and their connection workers; `destinations`: those
//!   queues with their concurrency windows, and the destinations that could not be reached
//!   lately.
//! * `attempt`: one attempt at one message, split into jobs by destination and finished
//!   once every destination answered.
//! * `route` and `mx`: where a recipient's mail goes; `host`: the hosts they find.
//! * `client`: the SMTP client; `connect`: a connection to the first host of a
//!   destination that takes one.
//! * `probe`: recipient probes (`MAIL FROM:<>`, `RCPT TO`, never DATA) on a route, for the
//!   SMTP side's recipient verification.
//! * `outcome`: per-recipient outcomes applied to the envelope; `retry`: the schedule;
//!   `dsn`: bounces and delay warnings (RFC 3464); `return_to_sender`: mail the operator
//!   returns to its sender (`moat queue bounce`).
//! * `metrics`: what delivery counts for `/metrics`.
//!
//! The three stages depend one way: the scheduler starts an attempt and hands its jobs to
//! the workers, and a worker reports each job's outcomes to its attempt; an attempt knows
//! neither the scheduler nor the workers.

mod attempt;
pub mod client;
mod connect;
mod destinations;
pub mod dsn;
pub mod host;
mod in_flight;
pub mod metrics;
mod mx;
pub mod outcome;
pub mod probe;
pub mod retry;
pub mod return_to_sender;
pub mod route;
mod scheduler;
mod worker;

pub use scheduler::{Scheduler, SchedulerError};

/// What delivery runs in: the clock its schedule runs on, the counters it counts in, and
/// this gateway's own listeners, which it never delivers to.
#[derive(Debug, Clone)]
pub struct Surroundings {
    /// The outcome counters for `/metrics`.
    pub metrics: metrics::DeliveryMetrics,
    /// The clock the retry schedule runs on.
    pub clock: crate::time::Clock,
    /// Where this gateway listens (mail for those addresses loops back to itself).
    pub myself: client::Myself,
}
