//! [`InFlight`]: the messages with an attempt in progress. The scheduler claims a message
//! before starting its attempt and passes over the claimed ones in the due index; the
//! attempt releases it once its outcome is recorded (or, when that failed, after a while).
//!
//! It is not a schedule and survives nothing: after a restart the set is empty, and an
//! attempt that was in progress is simply made again.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::queue::QueueId;

/// The messages with an attempt in progress, behind a lock held only for one set operation
/// (never across an await).
#[derive(Debug, Default)]
pub(super) struct InFlight {
    ids: Mutex<HashSet<QueueId>>,
}

impl InFlight {
    /// Marks `id` as having an attempt in progress: the scheduler passes over it.
    pub(super) fn claim(&self, id: QueueId) {
        self.ids().insert(id);
    }

    /// Ends `id`'s attempt: the scheduler takes it again when it is next due.
    pub(super) fn release(&self, id: &QueueId) {
        self.ids().remove(id);
    }

    /// The messages in progress now.
    pub(super) fn snapshot(&self) -> HashSet<QueueId> {
        self.ids().clone()
    }

    fn ids(&self) -> MutexGuard<'_, HashSet<QueueId>> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_message_is_in_flight_until_released() {
        let in_flight = InFlight::default();
        let (a, b) = (QueueId::generate(), QueueId::generate());
        in_flight.claim(a);
        in_flight.claim(b);
        in_flight.release(&a);
        assert_eq!(in_flight.snapshot(), HashSet::from([b]));
    }
}
