//! The threads the plugins' kv calls run on, off the async workers.
//!
//! A kv backend call blocks its thread (fjall reads and writes; a network backend would
//! wait on the network), and a tokio worker blocked in one cannot be interrupted: the
//! epoch deadline fires only while wasm runs, and a timer fires only on a worker that polls
//! it. So the `kv` imports hand each call to these threads and wait for the answer until
//! the plugin call's deadline ([`KvWorkers::run`]): a plugin stuck in a slow kv call fails
//! with `timeout` at its time budget, and the tokio workers go on serving SMTP meanwhile.
//!
//! The pool is Moat's own rather than tokio's blocking pool, so a stuck backend holds at
//! most its few threads and cannot starve the queue's and delivery's blocking work; calls
//! then wait in line, each still bounded by its deadline, and a call whose plugin gave up
//! before a thread took it is dropped unrun.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// One kv call, boxed to cross to a kv thread.
type Job = Box<dyn FnOnce() + Send>;

/// The kv threads, shared by every plugin of the gateway (cheap to clone). The threads
/// end when the last clone is dropped.
#[derive(Clone)]
pub struct KvWorkers {
    /// Where calls are queued; `None` when no thread could be started, and calls then run
    /// on the caller's thread, as they did before this pool existed.
    jobs: Option<mpsc::Sender<Job>>,
}

/// Why a kv call gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KvWorkError {
    /// The call's deadline passed first; the call may still finish on its thread, unheard.
    #[error("the plugin call's deadline passed before the kv call answered")]
    Deadline,
    /// The call panicked (the backend has a bug), or the pool is gone.
    #[error("the kv call panicked or the kv threads are gone")]
    Lost,
}

impl KvWorkers {
    /// Starts `threads` kv threads (at least one). A thread that cannot be started is
    /// logged; with none, calls run on their caller's thread.
    pub fn start(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let mut started = 0;
        for index in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            match std::thread::Builder::new()
                .name(format!("moat-kv-{index}"))
                .spawn(move || serve(&queue))
            {
                Ok(_) => started += 1,
                Err(error) => tracing::error!(%error, "cannot start a kv thread"),
            }
        }
        Self {
            jobs: (started > 0).then_some(jobs),
        }
    }

    /// As many threads as the machine has cores, and at least four: kv calls are short,
    /// but a write may wait behind the journal's sync, and reads should not queue behind it.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::start(cores.max(4))
    }

    /// Runs `op` on a kv thread and waits for its answer until `deadline`.
    pub async fn run<T: Send + 'static>(
        &self,
        deadline: Instant,
        op: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, KvWorkError> {
        let Some(jobs) = &self.jobs else {
            return Ok(op());
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if !answer.is_closed() {
                let _ = answer.send(op());
            }
        });
        jobs.send(job).map_err(|_| KvWorkError::Lost)?;
        match tokio::time::timeout_at(deadline.into(), answered).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(KvWorkError::Lost),
            Err(_) => Err(KvWorkError::Deadline),
        }
    }
}

impl std::fmt::Debug for KvWorkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvWorkers")
            .field("threaded", &self.jobs.is_some())
            .finish()
    }
}

/// A kv thread: runs queued calls until every sender is gone.
fn serve(queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else {
            return;
        };
        // A call that panics loses its answer (its plugin gets a storage error), not the
        // thread.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_call_answers_from_a_kv_thread() {
        let workers = KvWorkers::start(2);
        let deadline = Instant::now() + Duration::from_secs(10);
        let name = workers
            .run(deadline, || {
                std::thread::current().name().map(str::to_owned)
            })
            .await
            .expect("an answer");
        assert!(name.is_some_and(|n| n.starts_with("moat-kv-")));
    }

    #[tokio::test]
    async fn a_slow_call_is_given_up_at_the_deadline() {
        let workers = KvWorkers::start(1);
        let started = Instant::now();
        let deadline = started + Duration::from_millis(100);
        let answer = workers
            .run(deadline, || std::thread::sleep(Duration::from_secs(2)))
            .await;
        assert_eq!(answer, Err(KvWorkError::Deadline));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_panicking_call_is_lost_but_the_thread_serves_on() {
        let workers = KvWorkers::start(1);
        let deadline = Instant::now() + Duration::from_secs(10);
        let lost = workers
            .run(deadline, || -> u8 { panic!("backend bug") })
            .await;
        assert_eq!(lost, Err(KvWorkError::Lost));
        assert_eq!(workers.run(deadline, || 7).await, Ok(7));
    }
}
