//! [`Books`]: what the queue keeps in memory of its envelopes — the counts ([`Tally`]) and
//! the schedule ([`Schedule`]) — which every writer of an envelope updates once its batch
//! is committed.

use super::QueuedEnvelope;
use super::schedule::Schedule;
use super::summary::Tally;

/// The counts and the schedule, changed together.
#[derive(Debug)]
pub(super) struct Books {
    /// The counts behind `/metrics` and `moat queue stats`.
    pub(super) tally: Tally,
    /// The due index, for the delivery scheduler.
    pub(super) schedule: Schedule,
}

impl Books {
    /// Applies a committed change: `before` left the queue (or was replaced), `after` is
    /// in it now.
    pub(super) fn changed(&self, before: Option<&QueuedEnvelope>, after: Option<&QueuedEnvelope>) {
        self.tally.changed(before, after);
        self.schedule.changed(before, after);
    }
}
