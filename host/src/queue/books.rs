//! [`Books`]: what the queue keeps in memory of its envelopes — the counts ([`Tally`]) and
//! the schedule ([`Schedule`]) — which every writer of an envelope updates once its batch
//! is committed, and the update lock that orders those writers.

use super::QueuedEnvelope;
use super::schedule::Schedule;
use super::summary::Tally;

/// The counts and the schedule, changed together.
#[derive(Debug)]
pub(super) struct Books {
    /// Held by every writer from reading what it changes (an envelope, a quarantine
    /// record; nothing, for the committer) until the books have its change: so delivery
    /// outcomes and operator commands on one message never overwrite each other, and a
    /// change to a message just queued reaches the books after its arrival did (the
    /// schedule is a set: a removal before the insert would leave a ghost entry).
    pub(super) lock: std::sync::Mutex<()>,
    /// The counts behind `/metrics` and `moat queue stats`.
    pub(super) tally: Tally,
    /// The due index, for the delivery scheduler.
    pub(super) schedule: Schedule,
}

impl Books {
    /// Takes the update lock.
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock
            .lock()
            // The lock guards no data of its own; a panic elsewhere leaves nothing broken.
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies a committed change: `before` left the queue (or was replaced), `after` is
    /// in it now.
    pub(super) fn changed(&self, before: Option<&QueuedEnvelope>, after: Option<&QueuedEnvelope>) {
        self.tally.changed(before, after);
        self.schedule.changed(before, after);
    }
}
