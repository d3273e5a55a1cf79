//! [`Destinations`]: what delivery keeps about each destination while it runs: the jobs
//! waiting for it and how many workers serve it, and whether it could be reached lately.
//!
//! One lock covers both, held only for a few map operations (never across an await). A job
//! is added under it, and a worker that finds its queue empty leaves under it, so a job is
//! never stranded without a worker. Nothing here survives a restart: the due index is the
//! schedule, and an unreachable destination is simply tried again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::attempt::Job;
use super::route::Destination;

/// The longest a destination that could not be reached is skipped (shorter when the first
/// retry interval is): long enough that a queue of thousands for a dead downstream does
/// not wait out a connect timeout each, short enough that new mail finds it back soon.
const UNREACHABLE_FOR: Duration = Duration::from_secs(60);

/// Each destination's job queue and workers, and the destinations none of whose hosts
/// could be reached lately.
pub(super) struct Destinations {
    state: Mutex<State>,
    /// How long a destination that could not be reached is skipped.
    unreachable_for: Duration,
}

#[derive(Default)]
struct State {
    /// Destinations with work waiting or workers running.
    queues: HashMap<Destination, JobQueue>,
    /// Destinations no host of which could be reached lately: jobs for them are deferred
    /// without connecting until the time given, unless an operator flushed since.
    unreachable: HashMap<Destination, Unreachable>,
}

/// Jobs waiting for a destination, and how many workers serve it.
#[derive(Default)]
struct JobQueue {
    jobs: VecDeque<Job>,
    workers: usize,
}

/// What was learnt when no host of a destination could be reached.
struct Unreachable {
    /// Until when to defer without connecting.
    until: Instant,
    /// The error, given to every job deferred meanwhile.
    error: String,
    /// [`crate::queue::Queue::flushes`] when it was learnt.
    flushes: u64,
}

impl Destinations {
    /// No destination known yet; one that cannot be reached will be skipped for
    /// `first_retry` (the first retry interval), at most a minute.
    pub(super) fn new(first_retry: Option<Duration>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            unreachable_for: first_retry
                .map_or(UNREACHABLE_FOR, |first| first.min(UNREACHABLE_FOR)),
        }
    }

    /// Adds `job` to `destination`'s queue. `true` when the caller is to start a worker for
    /// it (fewer than `max_workers` serve it); that worker is counted from now.
    pub(super) fn push_job(&self, destination: &Destination, job: Job, max_workers: usize) -> bool {
        let mut state = self.state();
        let queue = state.queues.entry(destination.clone()).or_default();
        queue.jobs.push_back(job);
        let start = queue.workers < max_workers;
        if start {
            queue.workers += 1;
        }
        start
    }

    /// The next job for a worker of `destination`, or `None` after counting the worker out
    /// (the last one out forgets the queue).
    pub(super) fn next_job(&self, destination: &Destination) -> Option<Job> {
        let mut state = self.state();
        let queue = state.queues.get_mut(destination)?;
        if let Some(job) = queue.jobs.pop_front() {
            return Some(job);
        }
        queue.workers = queue.workers.saturating_sub(1);
        if queue.workers == 0 {
            state.queues.remove(destination);
        }
        None
    }

    /// Remembers that no host of `destination` could be reached, with `error`, when the
    /// queue's operator flush count was `flushes`: its jobs are deferred without connecting
    /// for a while.
    pub(super) fn mark_unreachable(&self, destination: &Destination, error: String, flushes: u64) {
        let until = Instant::now() + self.unreachable_for;
        self.state().unreachable.insert(
            destination.clone(),
            Unreachable {
                until,
                error,
                flushes,
            },
        );
    }

    /// Forgets that `destination` could not be reached: a connection to it opened.
    pub(super) fn mark_reachable(&self, destination: &Destination) {
        self.state().unreachable.remove(destination);
    }

    /// The error last seen for `destination` if it could not be reached lately and no
    /// operator flushed since (`flushes` is the queue's count now): its jobs are deferred
    /// without connecting. Forgets what has expired.
    pub(super) fn known_unreachable(
        &self,
        destination: &Destination,
        flushes: u64,
    ) -> Option<String> {
        let mut state = self.state();
        let known = state.unreachable.get(destination)?;
        if known.until > Instant::now() && known.flushes == flushes {
            return Some(known.error.clone());
        }
        state.unreachable.remove(destination);
        None
    }

    /// The state, locked.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
