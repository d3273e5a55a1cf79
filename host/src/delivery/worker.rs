//! A destination's queue of jobs and the workers that drain it, each over one connection
//! that carries job after job (connection reuse) until the queue is empty, the
//! per-connection message limit is reached, or the connection breaks. A worker whose queue
//! ran empty keeps its connection `connection_cache_time` for the next job (Postfix's
//! connection cache), unless another worker needs its connection permit.
//!
//! A destination none of whose hosts could be reached is remembered for a while (the first
//! retry interval, at most a minute): its jobs are deferred meanwhile with the same error,
//! without connecting, so a downstream that drops packets does not cost a connect timeout
//! per queued message. An operator's flush or release ends that at once, as Postfix's
//! `postqueue -f` flushes its dead-destination cache.
//!
//! Limits: per destination, a window of workers that starts at
//! `initial_connections_per_destination` and moves with what its server does (see
//! [`Destinations`]: answers grow it up to `max_connections_per_destination`, failed or
//! broken connections shrink it), each worker holding one of the `max_connections` permits
//! while it works. The queues and the unreachable destinations are kept in
//! [`Destinations`]; a worker reports each job's outcomes to its attempt and knows nothing
//! of the scheduler.
//!
//! A bug that panics while a job is sent costs that job one try, not the worker: its
//! recipients without an outcome yet are reported deferred (so the message is retried on
//! its schedule instead of staying in flight until a restart) and the worker, still
//! counted in its destination's window, goes on with a fresh connection.

use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::sync::{Notify, Semaphore, TryAcquireError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument as _, debug, error, info_span};

use super::attempt::Job;
use super::client::{ClientParams, Connection, Envelope};
use super::connect;
use super::destinations::{Concurrency, Destinations, Feedback, Next};
use super::host::RouteError;
use super::outcome::Outcome;
use super::route::{Destination, LiveRoutes};
use crate::config::DeliveryConfig;
use crate::dns::Resolver;
use crate::queue::{Queue, QueuedEnvelope};

/// The connection workers of a running delivery: the destinations' queues, the connection
/// limits, and what a worker needs to reach a destination.
pub(super) struct Workers {
    /// For its count of operator flushes, which ends a destination's unreachable spell,
    /// and its health: a job is not sent once the queue cannot record its outcome.
    queue: Queue,
    resolver: Option<Resolver>,
    routes: Arc<LiveRoutes>,
    client: ClientParams,
    /// Outgoing connections in all.
    connections: Arc<Semaphore>,
    per_destination: Concurrency,
    messages_per_connection: usize,
    /// How long a worker whose destination has nothing waiting keeps its connection open
    /// for the next job (`connection_cache_time`).
    connection_cache_time: Duration,
    /// Told when a worker finds no connection permit free: an idle worker then gives its up.
    permit_wanted: Notify,
    destinations: Destinations,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Workers {
    /// The workers for `delivery`'s limits, connecting with `client` to the hosts `routes`
    /// (and `resolver`, for MX) give. They are spawned on `tracker` and stop when `shutdown`
    /// is cancelled.
    pub(super) fn new(
        delivery: &DeliveryConfig,
        client: ClientParams,
        queue: Queue,
        resolver: Option<Resolver>,
        routes: Arc<LiveRoutes>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Self {
        Self {
            queue,
            resolver,
            routes,
            client,
            connections: Arc::new(Semaphore::new(delivery.max_connections)),
            per_destination: Concurrency {
                initial: delivery.initial_connections_per_destination,
                max: delivery.max_connections_per_destination,
            },
            messages_per_connection: delivery.max_messages_per_connection,
            connection_cache_time: delivery.connection_cache_time.0,
            permit_wanted: Notify::new(),
            destinations: Destinations::new(delivery.retry_intervals.first().map(|first| first.0)),
            shutdown,
            tracker,
        }
    }

    /// Adds `job` to `destination`'s queue and starts a worker if the destination has room.
    pub(super) fn enqueue(self: &Arc<Self>, destination: Destination, job: Job) {
        if self
            .destinations
            .push_job(&destination, job, self.per_destination)
        {
            self.spawn_worker(destination);
        }
    }

    /// Starts a worker for `destination` (already counted in by [`Destinations`]).
    fn spawn_worker(self: &Arc<Self>, destination: Destination) {
        let span = info_span!("delivery.worker", destination = %destination);
        self.tracker
            .spawn(Arc::clone(self).run(destination).instrument(span));
    }

    /// One worker: takes a connection permit, then jobs until there are none (and none
    /// came within `connection_cache_time` of the last).
    async fn run(self: Arc<Self>, destination: Destination) {
        let permit = match Arc::clone(&self.connections).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(TryAcquireError::Closed) => None,
            Err(TryAcquireError::NoPermits) => {
                // One idle worker gives its permit up (or the next to go idle does).
                self.permit_wanted.notify_one();
                tokio::select! {
                    permit = Arc::clone(&self.connections).acquire_owned() => permit.ok(),
                    () = self.shutdown.cancelled() => None,
                }
            }
        };
        if permit.is_none() {
            return;
        }
        let mut connection: Option<Connection> = None;
        while !self.shutdown.is_cancelled() {
            let reusable = connection
                .as_ref()
                .is_some_and(|open| open.sent() < self.messages_per_connection);
            let Some(job) = self.next_job(&destination, reusable).await else {
                break;
            };
            let mut outcomes = Vec::with_capacity(job.recipients.len());
            let delivered =
                unless_it_panics(self.deliver(&destination, &mut connection, &job, &mut outcomes))
                    .await;
            let feedback = delivered.unwrap_or_else(|| {
                // The panic hook has logged where; the connection is in an unknown state.
                connection = None;
                error!(
                    queue_id = %job.attempt.id,
                    "internal error while sending; the message stays queued for its next try"
                );
                // Transactions that finished keep their outcomes: those recipients have it.
                defer_unsettled(&job.recipients, &mut outcomes, PANICKED);
                Feedback::Nothing
            });
            job.attempt.report(outcomes);
            if self
                .destinations
                .feedback(&destination, feedback, self.per_destination)
            {
                self.spawn_worker(destination.clone());
            }
        }
        if let Some(connection) = connection {
            connection.quit().await;
        }
    }

    /// The worker's next job, or `None` when it is to close its connection and end
    /// (counted out of its destination). With its `connection_open` and room for more
    /// messages on it, it waits up to `connection_cache_time` for a job to be queued, as
    /// Postfix's connection cache does, so a steady trickle of mail reuses one connection
    /// instead of opening one per message. It does not wait while no connection permit is
    /// free, gives its permit up when another worker asks for one, and ends at shutdown.
    async fn next_job(&self, destination: &Destination, connection_open: bool) -> Option<Job> {
        // Registered before the permits are counted, so no request for one is missed.
        let permit_wanted = self.permit_wanted.notified();
        tokio::pin!(permit_wanted);
        permit_wanted.as_mut().enable();
        let until = tokio::time::Instant::now() + self.connection_cache_time;
        let mut may_idle = connection_open && !self.connection_cache_time.is_zero();
        loop {
            if self.shutdown.is_cancelled() {
                return None;
            }
            may_idle &= self.connections.available_permits() > 0;
            let arrivals = if may_idle {
                self.destinations.arrivals(destination)
            } else {
                None
            };
            // Registered before the worker is counted idle, so no job's wake-up is missed.
            let arrived = arrivals.as_deref().map(Notify::notified);
            tokio::pin!(arrived);
            if let Some(arrived) = arrived.as_mut().as_pin_mut() {
                arrived.enable();
            }
            match self
                .destinations
                .next_job(destination, may_idle && arrivals.is_some())
            {
                Next::Job(job) => {
                    // A request for a permit this busy worker took is passed on.
                    if permit_wanted.as_mut().now_or_never().is_some() {
                        self.permit_wanted.notify_one();
                    }
                    return Some(job);
                }
                Next::Leave => return None,
                Next::Idle => {}
            }
            // Counted idle only when it may idle, so it has something to await.
            let arrived = arrived.as_pin_mut()?;
            let woken_for_a_job = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => {
                    self.destinations.stop_idling(destination);
                    return None;
                }
                () = permit_wanted.as_mut() => false,
                () = arrived => true,
                () = tokio::time::sleep_until(until) => false,
            };
            self.destinations.stop_idling(destination);
            may_idle = woken_for_a_job && tokio::time::Instant::now() < until;
        }
    }

    /// Sends one job, in transactions of at most [`MAX_RECIPIENTS_PER_TRANSACTION`]
    /// recipients, adding each transaction's outcomes to `outcomes` as it ends; returns
    /// what the job told of the server (failed if any transaction found no connection or
    /// broke one).
    async fn deliver(
        &self,
        destination: &Destination,
        connection: &mut Option<Connection>,
        job: &Job,
        outcomes: &mut Vec<(usize, Outcome)>,
    ) -> Feedback {
        if self.queue.failure().is_some() {
            // Its outcome could not be recorded: sending it now would only make it be sent
            // again after the restart.
            let error = "not sent: the queue cannot record outcomes until moat restarts";
            defer_unsettled(&job.recipients, outcomes, error);
            return Feedback::Nothing;
        }
        let Some(message) = job.attempt.message().await else {
            return Feedback::Nothing;
        };
        let mut feedback = Feedback::Nothing;
        for recipients in job.recipients.chunks(MAX_RECIPIENTS_PER_TRANSACTION) {
            let (sent, told) = self
                .transaction(destination, connection, job, recipients, &message)
                .await;
            outcomes.extend(sent);
            if feedback != Feedback::Failed {
                feedback = told;
            }
        }
        feedback
    }

    /// Sends the message of `job` to its `recipients` (indexes into the envelope) in one
    /// transaction: over the open connection if there is one (a fresh one if it broke or
    /// has carried its share), else over a new one. With the outcomes, whether the server
    /// answered or no connection could be had or kept.
    async fn transaction(
        &self,
        destination: &Destination,
        connection: &mut Option<Connection>,
        job: &Job,
        recipients: &[usize],
        message: &[u8],
    ) -> (Vec<(usize, Outcome)>, Feedback) {
        let every = |outcome: Outcome, feedback: Feedback| -> (Vec<(usize, Outcome)>, Feedback) {
            let outcomes = recipients
                .iter()
                .map(|&index| (index, outcome.clone()))
                .collect();
            (outcomes, feedback)
        };
        let smtp_envelope = smtp_envelope(&job.attempt.envelope, recipients);
        if connection
            .as_ref()
            .is_some_and(|c| c.sent() >= self.messages_per_connection)
            && let Some(old) = connection.take()
        {
            old.quit().await;
        }
        // A reused connection may have been closed by the server while idle: one fresh try.
        for fresh_try in [false, true] {
            let reused = connection.is_some();
            if !reused {
                match self.connect(destination).await {
                    Ok(opened) => *connection = Some(opened),
                    Err((outcome, feedback)) => return every(outcome, feedback),
                }
            }
            let Some(open) = connection.as_mut() else {
                break;
            };
            match open.send(&smtp_envelope, message).await {
                Ok(outcomes) => {
                    let outcomes = recipients.iter().copied().zip(outcomes).collect();
                    return (outcomes, Feedback::Answered);
                }
                Err(error) => {
                    let peer = open.peer().to_owned();
                    *connection = None;
                    if reused && !fresh_try {
                        debug!(peer, %error, "reused connection failed; opening a fresh one");
                        continue;
                    }
                    let error = format!("{peer}: {error}");
                    return every(Outcome::Deferred { error }, Feedback::Failed);
                }
            }
        }
        let error = "no connection".into();
        every(Outcome::Deferred { error }, Feedback::Failed)
    }

    /// A new connection to `destination`, or the outcome of every recipient when none can
    /// be had, with what that tells of the server for its concurrency window. A
    /// destination known to be unreachable is not tried; one that cannot be reached now is
    /// remembered as such (unless its server answered another worker lately, see
    /// [`Destinations::mark_unreachable`]); one reached is forgotten.
    async fn connect(&self, destination: &Destination) -> Result<Connection, (Outcome, Feedback)> {
        let known = self
            .destinations
            .known_unreachable(destination, self.queue.flushes());
        if let Some(error) = known {
            // No server was asked: the window stays.
            return Err((Outcome::Deferred { error }, Feedback::Nothing));
        }
        match self.open(destination).await {
            Ok(opened) => {
                self.destinations.mark_reachable(destination);
                Ok(opened)
            }
            // The domain's DNS said no (no such domain, null MX): no server to judge.
            Err(OpenError::Route(RouteError::Permanent { reply })) => {
                Err((Outcome::Failed { reply }, Feedback::Nothing))
            }
            Err(other) => {
                let error = other.to_string();
                self.destinations.mark_unreachable(
                    destination,
                    error.clone(),
                    self.queue.flushes(),
                );
                Err((Outcome::Deferred { error }, Feedback::Failed))
            }
        }
    }

    /// A connection to the first host of `destination` that takes one, in order.
    async fn open(&self, destination: &Destination) -> Result<Connection, OpenError> {
        let hops = self
            .routes
            .current()
            .hops(destination, self.resolver.as_ref())
            .await
            .map_err(OpenError::Route)?;
        connect::first_host(&hops, &self.client, destination)
            .await
            .map_err(OpenError::Hosts)
    }
}

/// Recipients per transaction: RFC 5321 §4.5.3.1.8 obliges a server to take 100, and one
/// may refuse the 101st with 452 (which would wait for the next retry); more go in further
/// transactions on the same connection, as Postfix's `smtp_destination_recipient_limit`.
const MAX_RECIPIENTS_PER_TRANSACTION: usize = 100;

/// The deferral reason of a job whose sending panicked.
const PANICKED: &str = "not sent: internal error in moat (see its log); retried later";

/// `sending`'s result, or `None` if it panicked.
async fn unless_it_panics<T>(sending: impl Future<Output = T>) -> Option<T> {
    AssertUnwindSafe(sending).catch_unwind().await.ok()
}

/// Adds to `outcomes` each of `recipients` (indexes) it has none for, deferred with
/// `error`.
fn defer_unsettled(recipients: &[usize], outcomes: &mut Vec<(usize, Outcome)>, error: &str) {
    let settled: HashSet<usize> = outcomes.iter().map(|(index, _)| *index).collect();
    for &index in recipients.iter().filter(|i| !settled.contains(i)) {
        outcomes.push((
            index,
            Outcome::Deferred {
                error: error.into(),
            },
        ));
    }
}

/// What the client sends of `envelope` for its `recipients` (indexes) in one transaction.
fn smtp_envelope<'a>(envelope: &'a QueuedEnvelope, recipients: &[usize]) -> Envelope<'a> {
    let addresses: Vec<&str> = recipients
        .iter()
        .filter_map(|&i| envelope.recipients.get(i).map(|r| r.address.as_str()))
        .collect();
    Envelope {
        mail_from: &envelope.mail_from,
        recipients: addresses,
        size: envelope.size,
        smtputf8: envelope.smtputf8,
        eight_bit_mime: envelope.eight_bit_mime,
    }
}

/// Why no connection could be opened.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    /// No host to try.
    #[error(transparent)]
    Route(RouteError),
    /// Every host failed, or there was no address to try: what went wrong with each.
    #[error("{0}")]
    Hosts(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_while_sending_is_caught_and_a_result_passes() {
        assert_eq!(unless_it_panics(async { 7 }).await, Some(7));
        let panicking = async {
            tokio::task::yield_now().await;
            panic!("a bug while sending");
        };
        assert_eq!(unless_it_panics(panicking).await, None::<()>);
    }

    #[test]
    fn recipients_a_finished_transaction_settled_keep_their_outcome() {
        let delivered = Outcome::Delivered {
            reply: "250 ok".into(),
        };
        let mut outcomes = vec![(0, delivered.clone()), (2, delivered.clone())];
        defer_unsettled(&[0, 1, 2, 3], &mut outcomes, PANICKED);
        let deferred = Outcome::Deferred {
            error: PANICKED.into(),
        };
        assert_eq!(
            outcomes,
            [
                (0, delivered.clone()),
                (2, delivered),
                (1, deferred.clone()),
                (3, deferred)
            ]
        );
    }
}
