//! Probes under way, by address: every RCPT for an address that is being probed waits
//! for that probe's answer instead of starting its own.
//!
//! A probe runs in a task of its own, so it finishes (within its time limit) and its
//! answer is recorded even when every session waiting for it has gone. Recording happens
//! under the same lock as the check before a probe starts, so an answer cannot slip in
//! between a caller's miss and the start of a second probe.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

type Running<T> = Mutex<HashMap<Arc<str>, watch::Receiver<Option<T>>>>;

/// The probes under way; `T` is what their waiters are told.
#[derive(Debug)]
pub(super) struct SharedProbes<T> {
    running: Arc<Running<T>>,
}

impl<T> Default for SharedProbes<T> {
    fn default() -> Self {
        Self {
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

fn lock<T>(running: &Running<T>) -> MutexGuard<'_, HashMap<Arc<str>, watch::Receiver<Option<T>>>> {
    // The map is changed by single inserts and removes: consistent whenever a panic can
    // happen.
    running.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T: Clone + Send + Sync + 'static> SharedProbes<T> {
    /// The answer for `key`: `ready()`'s if it has one (asked while no probe for `key` can
    /// end), else that of the probe for `key` under way, else that of `probe()`, spawned
    /// now, turned into `T` by `finish` before anyone sees it and while no other probe
    /// for `key` can start. `None` when the probe's task ended without an answer (a panic).
    pub(super) async fn answer<R, F>(
        &self,
        key: &str,
        ready: impl FnOnce() -> Option<T>,
        probe: impl FnOnce() -> F,
        finish: impl FnOnce(R) -> T + Send + 'static,
    ) -> Option<T>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let mut answer = {
            let mut running = lock(&self.running);
            if let Some(waiting) = running.get(key) {
                waiting.clone()
            } else {
                if let Some(known) = ready() {
                    return Some(known);
                }
                let (tell, answer) = watch::channel(None);
                let key: Arc<str> = Arc::from(key);
                running.insert(Arc::clone(&key), answer.clone());
                let map = Arc::clone(&self.running);
                let work = probe();
                tokio::spawn(async move {
                    let raw = work.await;
                    let told = {
                        let mut running = lock(&map);
                        running.remove(&key);
                        finish(raw)
                    };
                    let _ = tell.send(Some(told));
                });
                answer
            }
        };
        let told = answer.wait_for(Option::is_some).await.ok()?;
        told.clone()
    }

    /// How many probes are under way.
    pub(super) fn len(&self) -> usize {
        lock(&self.running).len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::sync::Semaphore;

    use super::*;

    /// Bounds a test that would otherwise hang.
    const LIMIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn callers_for_one_address_share_one_probe_and_others_get_their_own() {
        let shared = SharedProbes::<String>::default();
        let probes = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(0));
        let ask = |key: &'static str| {
            let (probes, gate) = (Arc::clone(&probes), Arc::clone(&gate));
            let shared = &shared;
            async move {
                shared
                    .answer(
                        key,
                        || None,
                        move || async move {
                            probes.fetch_add(1, Ordering::SeqCst);
                            gate.acquire().await.unwrap().forget();
                            key.len()
                        },
                        move |len: usize| format!("{key}:{len}"),
                    )
                    .await
            }
        };
        let all = async {
            tokio::join!(
                ask("a@example.test"),
                ask("a@example.test"),
                ask("a@example.test"),
                ask("bb@example.test"),
            )
        };
        // No probe can end before every caller asked: the permits come after.
        let release = async {
            while shared.len() < 2 {
                tokio::task::yield_now().await;
            }
            gate.add_permits(2);
        };
        let ((a1, a2, a3, b), ()) =
            tokio::time::timeout(LIMIT, async { tokio::join!(all, release) })
                .await
                .unwrap();
        assert_eq!(probes.load(Ordering::SeqCst), 2, "one probe per address");
        for a in [a1, a2, a3] {
            assert_eq!(a.as_deref(), Some("a@example.test:14"));
        }
        assert_eq!(b.as_deref(), Some("bb@example.test:15"));
        assert_eq!(shared.len(), 0, "finished probes are forgotten");
    }

    #[tokio::test]
    async fn a_ready_answer_starts_no_probe_and_a_panicked_probe_answers_none() {
        let shared = SharedProbes::<bool>::default();
        let started = AtomicUsize::new(0);
        let ready = shared
            .answer(
                "a@example.test",
                || Some(true),
                || {
                    started.fetch_add(1, Ordering::SeqCst);
                    async {}
                },
                |()| false,
            )
            .await;
        assert_eq!(ready, Some(true));
        assert_eq!(started.load(Ordering::SeqCst), 0);

        let panicked = shared
            .answer(
                "b@example.test",
                || None,
                || async { panic!("a probe that breaks") },
                |()| true,
            )
            .await;
        assert_eq!(panicked, None);
    }

    #[tokio::test]
    async fn a_probe_finishes_and_is_recorded_when_its_caller_goes_away() {
        let shared = SharedProbes::<bool>::default();
        let recorded = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(0));
        let (seen, wait) = (Arc::clone(&recorded), Arc::clone(&gate));
        let caller = shared.answer(
            "gone@example.test",
            || None,
            move || async move {
                wait.acquire().await.unwrap().forget();
            },
            move |()| {
                seen.fetch_add(1, Ordering::SeqCst);
                true
            },
        );
        // Polled once (the probe starts), then dropped.
        let gave_up = tokio::time::timeout(Duration::ZERO, caller).await;
        assert!(gave_up.is_err(), "the caller stopped waiting");
        gate.add_permits(1);
        tokio::time::timeout(LIMIT, async {
            while recorded.load(Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        assert_eq!(shared.len(), 0);
    }
}
