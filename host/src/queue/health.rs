//! Whether the queue's database still takes writes.
//!
//! fjall 3 poisons a database at the first write or fsync of its journal that fails (and
//! when one of its flush or compaction workers fails): every later write answers
//! `Poisoned` until the database is opened again, since what reached the disk is unknown
//! (fjall's advice: let the application crash and recover). So the first failed commit of
//! any queue batch — a new message, a delivery outcome, an operator's command — means no
//! queue write will work again in this process. [`Health`] keeps that fact and its first
//! reason, and wakes whoever waits for it: the server, which stops delivery and new mail
//! and exits for its supervisor to restart it (`server/shutdown.rs`).

use std::sync::OnceLock;

use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::error::QueueError;

/// The queue database's fate: writable, or failed for good (in this process).
#[derive(Debug, Default)]
pub(super) struct Health {
    /// The first failure's reason.
    failure: OnceLock<String>,
    /// Cancelled at the first failure.
    failed: CancellationToken,
}

impl Health {
    /// Notes that a commit failed with `error`. The first one is kept as the reason (the
    /// server logs it); the others only follow from it.
    pub(super) fn commit_failed(&self, error: &QueueError) {
        if self.failure.set(reason(error)).is_ok() {
            debug!(%error, "the queue's database failed a write");
            self.failed.cancel();
        } else {
            debug!(%error, "queue write refused after the database failed");
        }
    }

    /// The first failure's reason, once a commit failed.
    pub(super) fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    /// Resolves at the first failure (at once if it happened already).
    pub(super) async fn failed(&self) {
        self.failed.cancelled().await;
    }
}

/// What failed, in words that fit any batch (a new message, an outcome, a command).
fn reason(error: &QueueError) -> String {
    match error {
        QueueError::DiskFull { source } => format!("the disk is full: {source}"),
        QueueError::Write { source } => format!("a write or fsync failed: {source}"),
        QueueError::Poisoned => "fjall refuses writes: the database failed earlier (in a \
                                 background flush or compaction)"
            .into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_failure_is_kept_and_wakes_the_waiters() {
        let health = Health::default();
        assert!(health.failure().is_none());
        health.commit_failed(&QueueError::Poisoned);
        health.commit_failed(&QueueError::CommitterStopped);
        assert!(
            health
                .failure()
                .is_some_and(|reason| reason.contains("refuses writes"))
        );
        health.failed().await;
    }
}
