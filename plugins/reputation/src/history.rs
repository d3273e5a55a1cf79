//! A subject's history: decayed counts of what happened to its messages, the decay itself,
//! and the compact form stored in kv.
//!
//! Counts decay exponentially: after one half-life with no traffic every count is halved.
//! So a sender's distant past weighs less than its recent behaviour, and a subject that
//! goes quiet slowly drifts back to "unknown".

use std::fmt;

use moat_sdk::Action;

/// What happened to one message, as far as reputation is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Delivered as is.
    Accepted,
    /// Delivered with spam headers.
    Tagged,
    /// Held in quarantine.
    Quarantined,
    /// Refused.
    Rejected,
}

impl Outcome {
    /// The outcome an action records; a temporary failure records nothing (the client
    /// will retry, and the retry is judged on its own).
    pub(crate) fn from_action(action: Action) -> Option<Self> {
        match action {
            Action::Accept => Some(Self::Accepted),
            Action::Tag => Some(Self::Tagged),
            Action::Quarantine => Some(Self::Quarantined),
            Action::Reject => Some(Self::Rejected),
            Action::Tempfail => None,
        }
    }
}

/// Decayed message counts for one subject, and when they were last brought up to date.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct History {
    /// Messages accepted.
    pub(crate) accepted: f64,
    /// Messages tagged.
    pub(crate) tagged: f64,
    /// Messages quarantined.
    pub(crate) quarantined: f64,
    /// Messages rejected.
    pub(crate) rejected: f64,
    /// When the counts were last decayed or updated, in ms since the Unix epoch.
    pub(crate) updated_ms: u64,
}

/// The version byte leading every stored history.
const FORMAT_VERSION: u8 = 1;
/// Stored size: version, four `f64` counts and the `u64` time, little-endian.
pub(crate) const ENCODED_LEN: usize = 1 + 4 * 8 + 8;

/// Why a stored value is not a history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The value has the wrong size.
    Length(usize),
    /// The value starts with an unknown format version.
    Version(u8),
    /// A count is negative, infinite or NaN.
    BadCount,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(len) => write!(f, "{len} bytes, expected {ENCODED_LEN}"),
            Self::Version(version) => write!(f, "unknown format version {version}"),
            Self::BadCount => f.write_str("a count is negative or not finite"),
        }
    }
}

impl History {
    /// The decayed number of messages of every kind.
    pub(crate) fn total(&self) -> f64 {
        self.accepted + self.tagged + self.quarantined + self.rejected
    }

    /// The decayed number of junk messages: rejected and quarantined count fully, tagged
    /// ones half.
    pub(crate) fn junk(&self) -> f64 {
        self.rejected + self.quarantined + 0.5 * self.tagged
    }

    /// The counts as they stand at `now_ms`: each multiplied by
    /// `0.5^(elapsed / half_life)`. A clock that went backwards decays nothing.
    pub(crate) fn decayed(self, now_ms: u64, half_life_ms: f64) -> Self {
        if now_ms <= self.updated_ms {
            return self;
        }
        let elapsed = (now_ms - self.updated_ms) as f64;
        let factor = if half_life_ms > 0.0 {
            0.5_f64.powf(elapsed / half_life_ms)
        } else {
            0.0
        };
        Self {
            accepted: self.accepted * factor,
            tagged: self.tagged * factor,
            quarantined: self.quarantined * factor,
            rejected: self.rejected * factor,
            updated_ms: now_ms,
        }
    }

    /// The history after one more message with `outcome` at `now_ms`: decayed to `now_ms`,
    /// then counted.
    pub(crate) fn record(self, outcome: Outcome, now_ms: u64, half_life_ms: f64) -> Self {
        let mut history = self.decayed(now_ms, half_life_ms);
        match outcome {
            Outcome::Accepted => history.accepted += 1.0,
            Outcome::Tagged => history.tagged += 1.0,
            Outcome::Quarantined => history.quarantined += 1.0,
            Outcome::Rejected => history.rejected += 1.0,
        }
        // A fresh record starts at now; a clock that went backwards keeps the later time.
        history.updated_ms = history.updated_ms.max(now_ms);
        history
    }

    /// The stored form: a version byte, then `accepted`, `tagged`, `quarantined`,
    /// `rejected` as little-endian `f64` and `updated_ms` as little-endian `u64`.
    pub(crate) fn encode(&self) -> [u8; ENCODED_LEN] {
        let mut bytes = [0; ENCODED_LEN];
        bytes[0] = FORMAT_VERSION;
        let counts = [self.accepted, self.tagged, self.quarantined, self.rejected];
        for (chunk, count) in bytes[1..33].as_chunks_mut::<8>().0.iter_mut().zip(counts) {
            *chunk = count.to_le_bytes();
        }
        bytes[33..].copy_from_slice(&self.updated_ms.to_le_bytes());
        bytes
    }

    /// Reads back what [`History::encode`] wrote.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let bytes: &[u8; ENCODED_LEN] = bytes
            .try_into()
            .map_err(|_| DecodeError::Length(bytes.len()))?;
        if bytes[0] != FORMAT_VERSION {
            return Err(DecodeError::Version(bytes[0]));
        }
        let mut counts = [0.0; 4];
        for (count, chunk) in counts.iter_mut().zip(bytes[1..33].as_chunks::<8>().0) {
            *count = f64::from_le_bytes(*chunk);
            if !count.is_finite() || *count < 0.0 {
                return Err(DecodeError::BadCount);
            }
        }
        let mut raw = [0; 8];
        raw.copy_from_slice(&bytes[33..]);
        let [accepted, tagged, quarantined, rejected] = counts;
        Ok(Self {
            accepted,
            tagged,
            quarantined,
            rejected,
            updated_ms: u64::from_le_bytes(raw),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400_000;
    const HALF_LIFE: f64 = 14.0 * DAY as f64;

    fn history(accepted: f64, tagged: f64, quarantined: f64, rejected: f64) -> History {
        History {
            accepted,
            tagged,
            quarantined,
            rejected,
            updated_ms: 1_000 * DAY,
        }
    }

    #[test]
    fn actions_map_to_outcomes() {
        assert_eq!(
            Outcome::from_action(Action::Accept),
            Some(Outcome::Accepted)
        );
        assert_eq!(Outcome::from_action(Action::Tag), Some(Outcome::Tagged));
        assert_eq!(
            Outcome::from_action(Action::Quarantine),
            Some(Outcome::Quarantined)
        );
        assert_eq!(
            Outcome::from_action(Action::Reject),
            Some(Outcome::Rejected)
        );
        assert_eq!(Outcome::from_action(Action::Tempfail), None);
    }

    #[test]
    fn totals_and_junk() {
        let h = history(10.0, 4.0, 2.0, 1.0);
        assert_eq!(h.total(), 17.0);
        assert_eq!(h.junk(), 5.0);
    }

    #[test]
    fn one_half_life_halves_every_count() {
        let h = history(8.0, 4.0, 2.0, 1.0);
        let later = h.decayed(h.updated_ms + 14 * DAY, HALF_LIFE);
        assert!((later.accepted - 4.0).abs() < 1e-9);
        assert!((later.tagged - 2.0).abs() < 1e-9);
        assert!((later.quarantined - 1.0).abs() < 1e-9);
        assert!((later.rejected - 0.5).abs() < 1e-9);
        assert_eq!(later.updated_ms, h.updated_ms + 14 * DAY);
        let much_later = h.decayed(h.updated_ms + 28 * DAY, HALF_LIFE);
        assert!((much_later.accepted - 2.0).abs() < 1e-9);
    }

    #[test]
    fn decay_is_consistent_in_steps() {
        let h = history(100.0, 0.0, 0.0, 0.0);
        let stepwise = h
            .decayed(h.updated_ms + 3 * DAY, HALF_LIFE)
            .decayed(h.updated_ms + 10 * DAY, HALF_LIFE);
        let direct = h.decayed(h.updated_ms + 10 * DAY, HALF_LIFE);
        assert!((stepwise.accepted - direct.accepted).abs() < 1e-9);
    }

    #[test]
    fn a_clock_going_backwards_decays_nothing() {
        let h = history(8.0, 0.0, 0.0, 0.0);
        assert_eq!(h.decayed(h.updated_ms - DAY, HALF_LIFE), h);
        let recorded = h.record(Outcome::Accepted, h.updated_ms - DAY, HALF_LIFE);
        assert_eq!(recorded.accepted, 9.0);
        assert_eq!(recorded.updated_ms, h.updated_ms);
    }

    #[test]
    fn record_decays_then_counts() {
        let empty = History::default();
        let first = empty.record(Outcome::Rejected, 5 * DAY, HALF_LIFE);
        assert_eq!(first.rejected, 1.0);
        assert_eq!(first.updated_ms, 5 * DAY);
        let second = first.record(Outcome::Tagged, 19 * DAY, HALF_LIFE);
        assert!((second.rejected - 0.5).abs() < 1e-9);
        assert_eq!(second.tagged, 1.0);
        let third = second
            .record(Outcome::Quarantined, 19 * DAY, HALF_LIFE)
            .record(Outcome::Accepted, 19 * DAY, HALF_LIFE);
        assert_eq!(third.quarantined, 1.0);
        assert_eq!(third.accepted, 1.0);
        assert_eq!(third.updated_ms, 19 * DAY);
    }

    #[test]
    fn encoding_round_trips() {
        let h = history(1003.25, 4.5, 0.125, 7.0);
        let bytes = h.encode();
        assert_eq!(bytes.len(), ENCODED_LEN);
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(History::decode(&bytes), Ok(h));
    }

    #[test]
    fn garbage_does_not_decode() {
        assert_eq!(History::decode(b""), Err(DecodeError::Length(0)));
        assert_eq!(History::decode(b"{\"a\":1}"), Err(DecodeError::Length(7)));
        let mut bytes = history(1.0, 0.0, 0.0, 0.0).encode();
        bytes[0] = 9;
        assert_eq!(History::decode(&bytes), Err(DecodeError::Version(9)));
        let mut bytes = history(1.0, 0.0, 0.0, 0.0).encode();
        bytes[1..9].copy_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(History::decode(&bytes), Err(DecodeError::BadCount));
        let mut bytes = history(1.0, 0.0, 0.0, 0.0).encode();
        bytes[25..33].copy_from_slice(&(-1.0_f64).to_le_bytes());
        assert_eq!(History::decode(&bytes), Err(DecodeError::BadCount));
        assert!(!DecodeError::BadCount.to_string().is_empty());
    }
}
