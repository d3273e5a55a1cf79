//! A message's share of the server's memory for mail in flight (`smtp::budget`): taken at
//! DATA or the first BDAT, grown as the content arrives, handed to the data path with the
//! message and given back when the message is stored (or refused) and its outcome stage is
//! done. A message the budget cannot cover is read to its end, dropped and answered
//! 452 4.3.1.

use super::Session;
use crate::smtp::budget::Reservation;
use crate::smtp::reply::Reply;

impl Session {
    /// Starts a message's reservation, or the reply refusing it: no memory is free.
    pub(super) fn reserve_for_message(&mut self) -> Result<(), Reply> {
        self.over_budget = false;
        if !self.params.budget.has_room() {
            tracing::warn!(
                inflight_bytes = self.params.budget.used(),
                "message refused: the memory for mail in flight is used up"
            );
            self.reservation = None;
            return Err(Reply::inflight_full());
        }
        self.reservation = Some(self.params.budget.reservation());
        Ok(())
    }

    /// Whether the message's `held` bytes are covered by the budget; once they are not,
    /// the message is over budget for good (its content is to be dropped).
    pub(super) fn keep_within_budget(&mut self, held: usize) -> bool {
        if self.over_budget {
            return false;
        }
        let covered = self
            .reservation
            .as_mut()
            .is_some_and(|reservation| reservation.cover(held));
        if !covered {
            tracing::warn!(
                held,
                inflight_bytes = self.params.budget.used(),
                "message dropped: the memory for mail in flight is used up"
            );
            self.over_budget = true;
            self.reservation = None;
        }
        covered
    }

    /// The message's reservation, for whoever keeps its bytes from now on.
    pub(super) fn take_reservation(&mut self) -> Option<Reservation> {
        self.reservation.take()
    }
}
