//! The memory the server gives to mail in flight: every message being received and filtered
//! holds a [`Reservation`] that grows with its content, against one budget for the whole
//! server (`[smtp] max_inflight_bytes`). Past the budget a new DATA or BDAT is answered
//! 452 4.3.1, and a message that cannot grow is read to its end, dropped and answered the
//! same; nothing is held that the budget does not cover, so a flood of large messages
//! cannot take the machine's memory.
//!
//! A message costs more than its bytes while it is in flight: the received bytes (which
//! the parse borrows, no copy; twice its size while the buffer grows), its decoded parts,
//! and the queue's write (the added header
//! fields and the received bytes in one buffer). [`COPIES`] is that factor.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many times its size a message in flight holds at its peak (received bytes, decoded
/// parts, the queue's write).
pub const COPIES: u64 = crate::config::IN_FLIGHT_COPIES;

/// The server's budget for mail in flight.
#[derive(Debug)]
pub struct MemoryBudget {
    used: AtomicU64,
    max: u64,
}

impl MemoryBudget {
    /// A budget of `max` bytes.
    pub fn new(max: u64) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicU64::new(0),
            max,
        })
    }

    /// Whether a new message may start: some of the budget is free.
    pub fn has_room(&self) -> bool {
        self.used.load(Ordering::Relaxed) < self.max
    }

    /// Bytes reserved now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// An empty reservation, grown as a message arrives.
    pub fn reservation(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: Arc::clone(self),
            held: 0,
        }
    }
}

/// The part of the budget one message holds; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    held: u64,
}

impl Reservation {
    /// Makes the reservation cover a message of `bytes` received bytes ([`COPIES`] times
    /// that): false, and unchanged, if the budget cannot.
    pub fn cover(&mut self, bytes: usize) -> bool {
        let wanted = u64::try_from(bytes)
            .unwrap_or(u64::MAX)
            .saturating_mul(COPIES);
        if wanted <= self.held {
            return true;
        }
        let more = wanted - self.held;
        let budget = &self.budget;
        let grown = budget
            .used
            .try_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                let after = used.checked_add(more)?;
                (after <= budget.max).then_some(after)
            });
        if grown.is_ok() {
            self.held = wanted;
        }
        grown.is_ok()
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.held, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_grow_within_the_budget_and_give_it_back() {
        let budget = MemoryBudget::new(100 * COPIES);
        let mut first = budget.reservation();
        assert!(first.cover(60));
        assert!(first.cover(50), "already covered");
        let mut second = budget.reservation();
        assert!(!second.cover(41), "60 + 41 > 100");
        assert!(second.cover(40));
        assert!(!budget.has_room());
        drop(first);
        assert_eq!(budget.used(), 40 * COPIES);
        assert!(budget.has_room());
        drop(second);
        assert_eq!(budget.used(), 0);
    }
}
