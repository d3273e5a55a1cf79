//! A destination's queue of jobs and the workers that drain it, each over one connection
//! that carries job after job (connection reuse) until the queue is empty, the
//! per-connection message limit is reached, or the connection breaks.
//!
//! A destination none of whose hosts could be reached is remembered for a while (the first
//! retry interval, at most a minute): its jobs are deferred meanwhile with the same error,
//! without connecting, so a downstream that drops packets does not cost a connect timeout
//! per queued message. An operator's flush or release ends that at once, as Postfix's
//! `postqueue -f` flushes its dead-destination cache.
//!
//! Limits: at most `max_connections_per_destination` workers per destination, each holding
//! one of the `max_connections` permits while it works. A job is added under the state
//! lock, and a worker that finds the queue empty leaves under the same lock, so a job is
//! never stranded without a worker.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use tracing::{Instrument as _, debug, info_span, warn};

use super::attempt::Attempt;
use super::client::{ClientError, Connection, Envelope};
use super::outcome::Outcome;
use super::route::{Destination, Hops, RouteError};
use super::scheduler::{Shared, Unreachable};
use crate::config::TlsPolicy;

/// Recipients of one message that go to one destination.
pub(super) struct Job {
    /// The attempt the job belongs to.
    pub(super) attempt: Arc<Attempt>,
    /// Recipient indexes in the attempt's envelope.
    pub(super) recipients: Vec<usize>,
}

/// Jobs waiting for a destination, and how many workers serve it.
#[derive(Default)]
pub(super) struct DestinationQueue {
    jobs: VecDeque<Job>,
    workers: usize,
}

/// Adds `job` to `destination`'s queue and starts a worker if the destination has room.
pub(super) fn enqueue(shared: &Arc<Shared>, destination: Destination, job: Job) {
    let start = {
        let mut state = shared.state();
        let queue = state.destinations.entry(destination.clone()).or_default();
        queue.jobs.push_back(job);
        let start = queue.workers < shared.per_destination;
        if start {
            queue.workers += 1;
        }
        start
    };
    if start {
        let span = info_span!("delivery.worker", destination = %destination);
        shared
            .tracker
            .spawn(run(Arc::clone(shared), destination).instrument(span));
    }
}

/// The next job of `destination`, or `None` after leaving it (the worker count drops).
fn next_job(shared: &Shared, destination: &Destination) -> Option<Job> {
    let mut state = shared.state();
    let queue = state.destinations.get_mut(destination)?;
    if let Some(job) = queue.jobs.pop_front() {
        return Some(job);
    }
    queue.workers = queue.workers.saturating_sub(1);
    if queue.workers == 0 {
        state.destinations.remove(destination);
    }
    None
}

/// One worker: takes a connection permit, then jobs until there are none.
async fn run(shared: Arc<Shared>, destination: Destination) {
    let permit = tokio::select! {
        permit = Arc::clone(&shared.connections).acquire_owned() => permit.ok(),
        () = shared.shutdown.cancelled() => None,
    };
    if permit.is_none() {
        return;
    }
    let mut connection: Option<Connection> = None;
    while !shared.shutdown.is_cancelled() {
        let Some(job) = next_job(&shared, &destination) else {
            break;
        };
        let outcomes = deliver(&shared, &destination, &mut connection, &job).await;
        job.attempt.report(&shared, outcomes);
    }
    if let Some(connection) = connection {
        connection.quit().await;
    }
}

/// Recipients per transaction: RFC 5321 §4.5.3.1.8 obliges a server to take 100, and one
/// may refuse the 101st with 452 (which would wait for the next retry); more go in further
/// transactions on the same connection, as Postfix's `smtp_destination_recipient_limit`.
const MAX_RECIPIENTS_PER_TRANSACTION: usize = 100;

/// Sends one job, in transactions of at most [`MAX_RECIPIENTS_PER_TRANSACTION`]
/// recipients: its outcome for each recipient.
async fn deliver(
    shared: &Shared,
    destination: &Destination,
    connection: &mut Option<Connection>,
    job: &Job,
) -> Vec<(usize, Outcome)> {
    let Some(message) = job.attempt.message(shared).await else {
        return Vec::new();
    };
    let mut outcomes = Vec::with_capacity(job.recipients.len());
    for recipients in job.recipients.chunks(MAX_RECIPIENTS_PER_TRANSACTION) {
        outcomes
            .extend(transaction(shared, destination, connection, job, recipients, &message).await);
    }
    outcomes
}

/// Sends the message of `job` to its `recipients` (indexes into the envelope) in one
/// transaction: over the open connection if there is one (a fresh one if it broke or has
/// carried its share), else over a new one.
async fn transaction(
    shared: &Shared,
    destination: &Destination,
    connection: &mut Option<Connection>,
    job: &Job,
    recipients: &[usize],
    message: &[u8],
) -> Vec<(usize, Outcome)> {
    let envelope = &job.attempt.envelope;
    let every = |outcome: Outcome| -> Vec<(usize, Outcome)> {
        recipients
            .iter()
            .map(|&index| (index, outcome.clone()))
            .collect()
    };
    let addresses: Vec<&str> = recipients
        .iter()
        .filter_map(|&i| envelope.recipients.get(i).map(|r| r.address.as_str()))
        .collect();
    let smtp_envelope = Envelope {
        mail_from: &envelope.mail_from,
        recipients: addresses,
        size: envelope.size,
        smtputf8: envelope.smtputf8,
        eight_bit_mime: envelope.eight_bit_mime,
    };
    if connection
        .as_ref()
        .is_some_and(|c| c.sent() >= shared.messages_per_connection)
        && let Some(old) = connection.take()
    {
        old.quit().await;
    }
    // A reused connection may have been closed by the server while idle: one fresh try.
    for fresh_try in [false, true] {
        let reused = connection.is_some();
        if !reused {
            if let Some(error) = known_unreachable(shared, destination) {
                return every(Outcome::Deferred { error });
            }
            match open(shared, destination).await {
                Ok(opened) => {
                    shared.state().unreachable.remove(destination);
                    *connection = Some(opened);
                }
                Err(error) => {
                    let outcome = match error {
                        OpenError::Route(RouteError::Permanent { reply }) => {
                            Outcome::Failed { reply }
                        }
                        other => Outcome::Deferred {
                            error: other.to_string(),
                        },
                    };
                    if let Outcome::Deferred { error } = &outcome {
                        shared.state().unreachable.insert(
                            destination.clone(),
                            Unreachable {
                                until: Instant::now() + shared.unreachable_for,
                                error: error.clone(),
                                flushes: shared.queue.flushes(),
                            },
                        );
                    }
                    return every(outcome);
                }
            }
        }
        let Some(open) = connection.as_mut() else {
            break;
        };
        match open.send(&smtp_envelope, message).await {
            Ok(outcomes) => {
                return recipients.iter().copied().zip(outcomes).collect();
            }
            Err(error) => {
                let peer = open.peer().to_owned();
                *connection = None;
                if reused && !fresh_try {
                    debug!(peer, %error, "reused connection failed; opening a fresh one");
                    continue;
                }
                return every(Outcome::Deferred {
                    error: format!("{peer}: {error}"),
                });
            }
        }
    }
    every(Outcome::Deferred {
        error: "no connection".into(),
    })
}

/// The error last seen for `destination` if it could not be reached lately and no
/// operator flushed since: its jobs are deferred without connecting.
fn known_unreachable(shared: &Shared, destination: &Destination) -> Option<String> {
    let mut state = shared.state();
    let known = state.unreachable.get(destination)?;
    if known.until > Instant::now() && known.flushes == shared.queue.flushes() {
        return Some(known.error.clone());
    }
    state.unreachable.remove(destination);
    None
}

/// Why no connection could be opened.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    /// No host to try.
    #[error(transparent)]
    Route(RouteError),
    /// Every host failed; the last failure.
    #[error("{0}")]
    Hosts(String),
}

/// A connection to the first host of `destination` that takes one, in order.
async fn open(shared: &Shared, destination: &Destination) -> Result<Connection, OpenError> {
    let Hops {
        hosts,
        tls,
        verified,
        auth,
    } = shared
        .routes
        .current()
        .hops(destination, shared.resolver.as_ref())
        .await
        .map_err(OpenError::Route)?;
    let mut failures = Vec::new();
    for host in &hosts {
        for &address in &host.addresses {
            let mut policy = tls;
            loop {
                match Connection::open(
                    address,
                    &host.name,
                    &shared.client,
                    policy,
                    verified.as_ref(),
                    auth.as_ref(),
                )
                .await
                {
                    Ok(connection) => return Ok(connection),
                    Err(ClientError::Tls(error)) if policy == TlsPolicy::Opportunistic => {
                        warn!(host = %host.name, %address, %error, "TLS failed; trying again in plain text");
                        policy = TlsPolicy::None;
                    }
                    Err(error) => {
                        debug!(host = %host.name, %address, %error, "cannot use host");
                        failures.push(format!("{}[{address}]: {error}", host.name));
                        break;
                    }
                }
            }
        }
    }
    Err(OpenError::Hosts(if failures.is_empty() {
        format!("no address to try for {destination}")
    } else {
        failures.join("; ")
    }))
}
