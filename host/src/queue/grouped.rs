//! [`Queue::update`]: [`Queue::modify`] for async callers whose changes may share one
//! batch and one fsync — delivery outcomes, which arrive as fast as messages are accepted.
//!
//! No thread of its own: a change is put in the waiting list, and the caller that finds no
//! writer at work becomes the writer, on a blocking thread: it takes the update lock, then
//! writes every waiting change (at most [`MAX_GROUP`] per batch) until the list is empty.
//! The changes that arrive while it waits for the lock or writes go in its next batch, so
//! under load one fsync carries many outcomes, and alone a change is written at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;
use tracing::error;

use super::update::Plan;
use super::{Queue, QueueError, QueueId, QueuedEnvelope, Settle};

/// The most changes written in one batch.
const MAX_GROUP: usize = 256;

/// What a grouped change answers: the ids it queued (bounces), or `None` when the message
/// was not queued (then the change was not called); the error is the whole batch's.
type Answer = Result<Option<Vec<QueueId>>, Arc<QueueError>>;

/// A change waiting for its batch.
struct Waiting {
    id: QueueId,
    change: Box<dyn FnOnce(&mut QueuedEnvelope) -> Settle + Send>,
    done: oneshot::Sender<Answer>,
}

/// The changes waiting, and whether a writer is at work.
#[derive(Default)]
pub(super) struct Group {
    state: Mutex<GroupState>,
}

#[derive(Default)]
struct GroupState {
    waiting: Vec<Waiting>,
    writing: bool,
    /// Batches written so far (each one write, fsynced when a change in it decides
    /// something), and the changes in them.
    batches: u64,
    changes: u64,
}

impl Group {
    fn state(&self) -> std::sync::MutexGuard<'_, GroupState> {
        // A list and a flag, each changed in one step.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Batches written so far, and the changes in them.
    pub(super) fn counts(&self) -> (u64, u64) {
        let state = self.state();
        (state.batches, state.changes)
    }
}

impl Queue {
    /// Reads the envelope of `id`, calls `change` on it, and writes what it asks, as
    /// [`Queue::modify`] does, in a batch shared with other changes waiting at the same
    /// time (one fsync for all). Returns `change`'s value and the new messages' ids, or
    /// `None` when no message `id` is queued (then `change` is not called). Does not block
    /// the caller's thread.
    pub async fn update<T: Send + 'static>(
        &self,
        id: QueueId,
        change: impl FnOnce(&mut QueuedEnvelope) -> (Settle, T) + Send + 'static,
    ) -> Result<Option<(T, Vec<QueueId>)>, Arc<QueueError>> {
        let (value_sender, mut value) = oneshot::channel();
        let change = Box::new(move |envelope: &mut QueuedEnvelope| {
            let (settle, result) = change(envelope);
            // The receiver waits below; it is gone only if the caller was dropped.
            let _ = value_sender.send(result);
            settle
        });
        let (done, answer) = oneshot::channel();
        let lead = {
            let mut state = self.inner.group.state();
            state.waiting.push(Waiting { id, change, done });
            !std::mem::replace(&mut state.writing, true)
        };
        if lead {
            let queue = self.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn_blocking(move || queue.write_waiting())),
                // Polled outside tokio: write here, blocking (a writer must always run).
                Err(_) => queue.write_waiting(),
            }
        }
        let queued = answer
            .await
            .map_err(|_| Arc::new(QueueError::ChangePanicked { queue_id: id }))??;
        Ok(queued.map(|queued| {
            let result = value
                .try_recv()
                .expect("a change that was written gave its value");
            (result, queued)
        }))
    }

    /// Writes waiting changes, a batch at a time under the update lock, until none is left.
    fn write_waiting(&self) {
        loop {
            let _guard = self.lock_updates();
            let batch: Vec<Waiting> = {
                let mut state = self.inner.group.state();
                if state.waiting.is_empty() {
                    state.writing = false;
                    return;
                }
                let take = state.waiting.len().min(MAX_GROUP);
                state.waiting.drain(..take).collect()
            };
            let written =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.write_group(batch)));
            if written.is_err() {
                // Its callers see their answer dropped and try again; later changes go on.
                error!("a queue update batch panicked; its changes were not written");
            }
        }
    }

    /// Plans each change, writes the plans in one batch, and answers each. A second change
    /// to a message already in the batch starts a new batch, so that it is planned on what
    /// the first one wrote. Call with the update lock held.
    fn write_group(&self, batch: Vec<Waiting>) {
        let mut pending = Pending::default();
        for Waiting { id, change, done } in batch {
            if pending.ids.contains(&id) {
                self.write_pending(std::mem::take(&mut pending));
            }
            let planned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.plan(&id, |envelope| (change(envelope), ()))
            }))
            .unwrap_or(Err(QueueError::ChangePanicked { queue_id: id }));
            match planned {
                Ok(Some((plan, ()))) => {
                    let queued = plan.bounces.iter().map(|(record, _)| record.id).collect();
                    pending.ids.insert(id);
                    pending.plans.push(plan);
                    pending.answers.push((done, Some(queued)));
                }
                Ok(None) => pending.answers.push((done, None)),
                Err(error) => {
                    // Only this change is lost; the others are written.
                    let _ = done.send(Err(Arc::new(error)));
                }
            }
        }
        self.write_pending(pending);
    }

    /// Writes `pending`'s plans in one batch and answers their callers. Call with the
    /// update lock held.
    fn write_pending(&self, pending: Pending) {
        if !pending.plans.is_empty() {
            let mut state = self.inner.group.state();
            state.batches += 1;
            state.changes += pending.plans.len() as u64;
        }
        let written = self.write(pending.plans).map_err(|error| {
            error!(%error, changes = pending.answers.len(), "queue update batch failed");
            Arc::new(error)
        });
        for (done, queued) in pending.answers {
            // A caller that stopped waiting has nothing left to be told.
            let _ = done.send(written.clone().map(|()| queued));
        }
    }
}

/// A batch being planned: the plans, the messages they change, and who waits for them.
#[derive(Default)]
struct Pending {
    plans: Vec<Plan>,
    ids: HashSet<QueueId>,
    answers: Vec<(oneshot::Sender<Answer>, Option<Vec<QueueId>>)>,
}

#[cfg(test)]
mod tests {
    use super::super::RecipientState;
    use super::super::tests::{open, queue_messages};
    use super::*;

    /// Waits (at most 10 s) until `n` changes wait for a writer.
    async fn wait_until_waiting(queue: &Queue, n: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while queue.inner.group.state().waiting.len() != n {
            assert!(
                std::time::Instant::now() < deadline,
                "changes never arrived"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[expect(
        clippy::await_holding_lock,
        reason = "the update lock is held on purpose, so that the changes pile up"
    )]
    async fn changes_that_wait_together_share_one_batch_and_each_is_answered() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let queue = open(tmp.path());
        let ids = queue_messages(&queue, 50).await;
        // While the update lock is held, the first writer waits for it, and every change
        // waits in the list.
        let guard = queue.lock_updates();
        let mut tasks = Vec::new();
        for (n, id) in ids.iter().copied().enumerate() {
            let queue = queue.clone();
            tasks.push(tokio::spawn(async move {
                queue
                    .update(id, move |envelope| {
                        envelope.recipients[0].state = RecipientState::Delivered { at_ms: 1 };
                        (
                            Settle {
                                remove: true,
                                ..Settle::default()
                            },
                            n,
                        )
                    })
                    .await
            }));
        }
        wait_until_waiting(&queue, ids.len()).await;
        drop(guard);
        for (n, task) in tasks.into_iter().enumerate() {
            let (value, bounces) = task.await.expect("task").expect("written").expect("queued");
            assert_eq!(value, n, "each caller gets its own change's value");
            assert!(bounces.is_empty());
        }
        assert!(queue.is_empty().expect("empty"), "every change was written");
        let stats = queue.stats();
        assert_eq!(stats.updates, 50);
        assert_eq!(stats.update_batches, 1, "{stats:?}");
        // A message no longer queued: the change is not called.
        let gone = queue
            .update(ids[0], |_| -> (Settle, ()) {
                panic!("called on a removed message")
            })
            .await
            .expect("answered");
        assert!(gone.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[expect(
        clippy::await_holding_lock,
        reason = "the update lock is held on purpose, so that the changes pile up"
    )]
    async fn two_changes_to_one_message_in_one_batch_both_count() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let queue = open(tmp.path());
        let id = queue_messages(&queue, 1).await[0];
        let guard = queue.lock_updates();
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let queue = queue.clone();
                tokio::spawn(async move {
                    queue
                        .update(id, |envelope| {
                            envelope.attempts += 1;
                            (Settle::default(), ())
                        })
                        .await
                })
            })
            .collect();
        wait_until_waiting(&queue, 3).await;
        drop(guard);
        for task in tasks {
            task.await.expect("task").expect("written").expect("queued");
        }
        assert_eq!(
            queue.envelope(&id).expect("read").expect("queued").attempts,
            3
        );
    }

    #[tokio::test]
    async fn a_change_that_panics_loses_only_itself() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let queue = open(tmp.path());
        let id = queue_messages(&queue, 1).await[0];
        let error = queue
            .update(id, |_| -> (Settle, ()) { panic!("a bug in the change") })
            .await
            .expect_err("panicked");
        assert!(
            matches!(*error, QueueError::ChangePanicked { queue_id } if queue_id == id),
            "{error}"
        );
        let held = queue
            .update(id, |envelope| {
                envelope.held = true;
                (Settle::default(), ())
            })
            .await
            .expect("written");
        assert!(held.is_some());
        assert!(queue.envelope(&id).expect("read").expect("queued").held);
    }
}
