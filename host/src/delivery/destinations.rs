//! [`Destinations`]: what delivery keeps about each destination while it runs: the jobs
//! waiting for it, how many workers serve it and how many may, and whether it could be
//! reached lately.
//!
//! How many may: Postfix's destination concurrency feedback. A destination starts with
//! the initial count while mail waits for it; each job its server answered adds 1/N (N the
//! window now), up to the maximum, so the window grows by about one connection per N
//! messages while the server keeps up; each connection that could not be opened or broke
//! takes 1/N away, down to one. The window is forgotten with the queue when the last worker
//! leaves, so a destination with nothing waiting starts over.
//!
//! One lock covers both, held only for a few map operations (never across an await). A job
//! is added under it, and a worker that finds its queue empty leaves under it, so a job is
//! never stranded without a worker. Nothing here survives a restart: the due index is the
//! schedule, and an unreachable destination is simply tried again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::attempt::Job;
use super::route::Destination;

/// The longest a destination that could not be reached is skipped (shorter when the first
/// retry interval is): long enough that a queue of thousands for a dead downstream does
/// not wait out a connect timeout each, short enough that new mail finds it back soon.
const UNREACHABLE_FOR: Duration = Duration::from_secs(60);

/// How recent an answer keeps a failed connection from marking its destination
/// unreachable.
const ANSWERED_LATELY: Duration = Duration::from_secs(10);

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

/// Jobs waiting for a destination, how many workers serve it, and how many may.
struct JobQueue<J = Job> {
    jobs: VecDeque<J>,
    workers: usize,
    /// The concurrency window: workers may number its whole part.
    window: f64,
    /// When the server last answered a job.
    last_answer: Option<Instant>,
    /// Of `workers`, those waiting with their connection open for a job to be queued.
    idle: usize,
    /// Wakes an idle worker when a job is queued for it.
    arrived: Arc<Notify>,
}

/// What a worker is to do next.
#[derive(Debug)]
pub(super) enum Next<J = Job> {
    /// Send this job.
    Job(J),
    /// Wait for a job with the connection open (counted idle until [`Destinations::stop_idling`]).
    Idle,
    /// Close the connection and end; the worker has been counted out.
    Leave,
}

/// A destination's connection limits: where its window starts and how far it grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Concurrency {
    /// Workers a destination starts with (at most `max`).
    pub(super) initial: usize,
    /// Workers a destination may grow to.
    pub(super) max: usize,
}

/// What a job told of its destination's server, for the concurrency window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Feedback {
    /// The server answered the transaction (whatever it said of each recipient).
    Answered,
    /// No connection could be opened, or it broke: the server (or the path) is struggling.
    Failed,
    /// Nothing was tried (the queue cannot record outcomes, the message is gone).
    Nothing,
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

impl<J> JobQueue<J> {
    /// An empty queue whose window starts at `limits.initial` (at most `limits.max`).
    fn new(limits: Concurrency) -> Self {
        Self {
            jobs: VecDeque::new(),
            workers: 0,
            window: limits.initial.clamp(1, limits.max.max(1)) as f64,
            last_answer: None,
            idle: 0,
            arrived: Arc::new(Notify::new()),
        }
    }

    /// The workers the window allows: its whole part (4.9 allows four).
    fn allowed(&self) -> usize {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "the window is between 1 and the maximum count, a usize"
        )]
        let allowed = self.window as usize;
        allowed
    }

    /// Queues `job`; `true` when a worker is to start for it (counted from now). An idle
    /// worker is woken for it instead when one waits that no earlier job has claimed.
    fn push(&mut self, job: J) -> bool {
        self.jobs.push_back(job);
        if self.jobs.len() <= self.idle {
            self.arrived.notify_one();
            return false;
        }
        self.start_worker_if_allowed()
    }

    /// Moves the window by `feedback`; `true` when another worker is to start.
    fn feedback(&mut self, feedback: Feedback, limits: Concurrency) -> bool {
        let step = 1.0 / self.window;
        match feedback {
            Feedback::Answered => {
                self.last_answer = Some(Instant::now());
                // Only while the window is in use (as Postfix's qmgr): answers over a few
                // connections with an empty queue must not open many at the next burst.
                if self.window < (self.workers + limits.initial) as f64 {
                    self.window = (self.window + step).min(limits.max.max(1) as f64);
                }
            }
            Feedback::Failed => self.window = (self.window - step).max(1.0),
            Feedback::Nothing => return false,
        }
        self.start_worker_if_allowed()
    }

    /// The next job for a worker. When more workers serve than the window allows, the
    /// worker is counted out (the others go on); when no job waits, it is counted idle if
    /// it `may_idle`, else out.
    fn next(&mut self, may_idle: bool) -> Next<J> {
        if self.workers > self.allowed().max(1) {
            self.workers -= 1;
            return Next::Leave;
        }
        match self.jobs.pop_front() {
            Some(job) => Next::Job(job),
            None if may_idle => {
                self.idle += 1;
                Next::Idle
            }
            None => {
                self.workers = self.workers.saturating_sub(1);
                Next::Leave
            }
        }
    }

    /// Counts in a new worker if jobs wait and the window has room for one.
    fn start_worker_if_allowed(&mut self) -> bool {
        let start = !self.jobs.is_empty() && self.workers < self.allowed();
        if start {
            self.workers += 1;
        }
        start
    }
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
    /// it (fewer workers serve it than its window allows); that worker is counted from now.
    pub(super) fn push_job(
        &self,
        destination: &Destination,
        job: Job,
        limits: Concurrency,
    ) -> bool {
        self.state()
            .queues
            .entry(destination.clone())
            .or_insert_with(|| JobQueue::new(limits))
            .push(job)
    }

    /// Moves `destination`'s window by what a worker's job told of its server. `true` when
    /// the caller is to start another worker: the window grew past the workers and jobs are
    /// waiting; that worker is counted from now.
    pub(super) fn feedback(
        &self,
        destination: &Destination,
        feedback: Feedback,
        limits: Concurrency,
    ) -> bool {
        self.state()
            .queues
            .get_mut(destination)
            .is_some_and(|queue| queue.feedback(feedback, limits))
    }

    /// The next job for a worker of `destination`: a job, or (when none waits and the
    /// worker `may_idle`, its connection open) waiting for one, or leaving after being
    /// counted out (the last one out forgets the queue). A worker is also counted out,
    /// leaving the jobs to the others, when more serve the destination than its window
    /// allows.
    pub(super) fn next_job(&self, destination: &Destination, may_idle: bool) -> Next {
        let mut state = self.state();
        let Some(queue) = state.queues.get_mut(destination) else {
            return Next::Leave;
        };
        let next = queue.next(may_idle);
        if queue.workers == 0 {
            state.queues.remove(destination);
        }
        next
    }

    /// What an idle worker of `destination` awaits: a job queued for it. Taken before the
    /// worker asks [`Self::next_job`] whether to idle, so no wake-up falls between.
    pub(super) fn arrivals(&self, destination: &Destination) -> Option<Arc<Notify>> {
        let state = self.state();
        state
            .queues
            .get(destination)
            .map(|queue| Arc::clone(&queue.arrived))
    }

    /// A worker of `destination` that was idle woke (for a job, at its time limit, or to
    /// give its connection permit up): it no longer counts as idle.
    pub(super) fn stop_idling(&self, destination: &Destination) {
        if let Some(queue) = self.state().queues.get_mut(destination) {
            queue.idle = queue.idle.saturating_sub(1);
        }
    }

    /// Remembers that no host of `destination` could be reached, with `error`, when the
    /// queue's operator flush count was `flushes`: its jobs are deferred without connecting
    /// for a while. Not when its server answered one of its workers within
    /// [`ANSWERED_LATELY`]: the failed connection then says the server turned one more
    /// away (too many connections), not that it cannot be reached.
    pub(super) fn mark_unreachable(&self, destination: &Destination, error: String, flushes: u64) {
        let mut state = self.state();
        let answered_lately = state
            .queues
            .get(destination)
            .and_then(|queue| queue.last_answer)
            .is_some_and(|at| at.elapsed() < ANSWERED_LATELY);
        if answered_lately {
            return;
        }
        let until = Instant::now() + self.unreachable_for;
        state.unreachable.insert(
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Concurrency = Concurrency {
        initial: 5,
        max: 20,
    };

    /// A worker's next job, never idling: `None` when it was counted out.
    fn take(queue: &mut JobQueue<u32>) -> Option<u32> {
        match queue.next(false) {
            Next::Job(job) => Some(job),
            Next::Leave => None,
            Next::Idle => panic!("a worker that may not idle was counted idle"),
        }
    }

    /// Whether an idle worker waiting now would be woken at once.
    fn wakes_an_idle_worker(queue: &JobQueue<u32>) -> bool {
        use futures_util::FutureExt as _;
        queue.arrived.notified().now_or_never().is_some()
    }

    /// Pushes `jobs` jobs; how many workers were started for them.
    fn push(queue: &mut JobQueue<u32>, jobs: u32) -> usize {
        (0..jobs).filter(|&job| queue.push(job)).count()
    }

    #[test]
    fn a_destination_starts_with_the_initial_workers() {
        let mut queue = JobQueue::new(LIMITS);
        assert_eq!(push(&mut queue, 100), 5);
        assert_eq!(queue.workers, 5);
        // An operator's maximum below the initial count wins.
        let mut small = JobQueue::new(Concurrency { initial: 5, max: 2 });
        assert_eq!(push(&mut small, 100), 2);
    }

    #[test]
    fn answers_grow_the_window_to_the_maximum_and_start_workers_while_jobs_wait() {
        let mut queue = JobQueue::new(LIMITS);
        push(&mut queue, 1_000);
        let mut started = 0;
        let mut answered = 0;
        while queue.workers < 20 {
            assert!(take(&mut queue).is_some());
            answered += 1;
            started += usize::from(queue.feedback(Feedback::Answered, LIMITS));
            assert!(answered < 1_000, "the window never reached the maximum");
        }
        assert_eq!(started, 15);
        // About one more worker per N answers: 5 + 6 + ... + 19 answers.
        assert!(
            (150..=200).contains(&answered),
            "{answered} answers to grow"
        );
        for _ in 0..100 {
            assert!(!queue.feedback(Feedback::Answered, LIMITS));
        }
        assert!(queue.window <= 20.0);
    }

    #[test]
    fn no_worker_starts_for_an_empty_queue_however_well_it_answers() {
        let mut queue = JobQueue::new(LIMITS);
        assert_eq!(push(&mut queue, 1), 1);
        assert_eq!(take(&mut queue), Some(0));
        for _ in 0..100 {
            assert!(!queue.feedback(Feedback::Answered, LIMITS));
        }
        assert!(queue.last_answer.is_some());
    }

    #[test]
    fn answers_over_few_connections_do_not_grow_the_window_for_the_next_burst() {
        let mut queue = JobQueue::new(LIMITS);
        // One busy worker, its server answering, nothing waiting.
        assert_eq!(push(&mut queue, 1), 1);
        assert!(take(&mut queue).is_some());
        for _ in 0..1_000 {
            assert!(!queue.feedback(Feedback::Answered, LIMITS));
        }
        // The window stops at the busy worker plus the initial count (Postfix's guard).
        assert!(queue.window < 6.5, "window {}", queue.window);
        // The next burst opens five more, not nineteen.
        assert_eq!(push(&mut queue, 100), 5);
    }

    #[test]
    fn failures_shrink_the_window_to_one_and_workers_leave_down_to_it() {
        let mut queue = JobQueue::new(LIMITS);
        push(&mut queue, 100);
        assert_eq!(queue.workers, 5);
        for _ in 0..50 {
            assert!(!queue.feedback(Feedback::Failed, LIMITS));
        }
        assert!((queue.window - 1.0).abs() < f64::EPSILON);
        // Four workers are counted out as they ask for work; the last one stays.
        let left = (0..5).filter(|_| take(&mut queue).is_none()).count();
        assert_eq!(left, 4);
        assert_eq!(queue.workers, 1);
        assert!(
            take(&mut queue).is_some(),
            "the last worker goes on with the jobs"
        );
        // Nothing tried moves nothing.
        let window = queue.window;
        assert!(!queue.feedback(Feedback::Nothing, LIMITS));
        assert!((queue.window - window).abs() < f64::EPSILON);
    }

    #[test]
    fn a_refused_connection_marks_no_destination_unreachable_while_its_server_answers() {
        let destinations = Destinations::new(None);
        let busy = Destination::Domain("busy.example".into());
        let mut queue: JobQueue = JobQueue::new(LIMITS);
        queue.workers = 1;
        assert!(!queue.feedback(Feedback::Answered, LIMITS));
        destinations.state().queues.insert(busy.clone(), queue);
        destinations.mark_unreachable(&busy, "421 too many connections".into(), 0);
        assert_eq!(destinations.known_unreachable(&busy, 0), None);
        // A destination that has not answered is marked.
        let silent = Destination::Domain("silent.example".into());
        destinations.mark_unreachable(&silent, "connection refused".into(), 0);
        assert_eq!(
            destinations.known_unreachable(&silent, 0).as_deref(),
            Some("connection refused")
        );
    }

    #[test]
    fn the_last_worker_out_leaves_no_job_behind() {
        let mut queue = JobQueue::new(LIMITS);
        push(&mut queue, 3);
        let mut taken = 0;
        for _ in 0..10 {
            if take(&mut queue).is_some() {
                taken += 1;
            }
        }
        assert_eq!(taken, 3);
        assert_eq!(queue.workers, 0);
    }

    #[test]
    fn a_job_wakes_an_idle_worker_instead_of_starting_a_new_one() {
        let mut queue = JobQueue::new(LIMITS);
        assert_eq!(push(&mut queue, 1), 1);
        assert!(matches!(queue.next(true), Next::Job(0)));
        // The queue is empty: the worker keeps its connection and waits.
        assert!(matches!(queue.next(true), Next::Idle));
        assert_eq!((queue.workers, queue.idle), (1, 1));
        assert!(!wakes_an_idle_worker(&queue));
        // The next job goes to it: no new connection.
        assert_eq!(push(&mut queue, 1), 0);
        assert!(wakes_an_idle_worker(&queue));
        queue.idle -= 1; // it woke
        assert!(matches!(queue.next(true), Next::Job(0)));
        // Jobs beyond the idle workers start new ones, as the window allows.
        assert!(matches!(queue.next(true), Next::Idle));
        assert_eq!(push(&mut queue, 3), 2);
        assert_eq!(queue.workers, 3);
    }

    #[test]
    fn an_idle_worker_at_its_time_limit_is_counted_out_unless_a_job_came() {
        let mut queue = JobQueue::new(LIMITS);
        push(&mut queue, 1);
        assert!(matches!(queue.next(true), Next::Job(0)));
        assert!(matches!(queue.next(true), Next::Idle));
        // Its time is up with nothing queued: it leaves, and the queue can be forgotten.
        queue.idle -= 1;
        assert!(matches!(queue.next(false), Next::Leave));
        assert_eq!((queue.workers, queue.idle), (0, 0));
        // A job queued as its time ran out is still its own to send.
        let mut raced = JobQueue::new(LIMITS);
        push(&mut raced, 1);
        assert!(matches!(raced.next(true), Next::Job(0)));
        assert!(matches!(raced.next(true), Next::Idle));
        assert_eq!(push(&mut raced, 1), 0);
        raced.idle -= 1;
        assert!(matches!(raced.next(false), Next::Job(0)));
        assert_eq!(raced.workers, 1);
    }
}
