//! From a subject's (decayed) history to a signed score: positive for sources that send
//! mostly junk, negative for long clean histories, nothing while too little is known.

use crate::history::History;

/// From this many (decayed) messages on, a history counts with full confidence; below it
/// the score shrinks in proportion, so a handful of messages cannot earn the full score.
pub(crate) const FULL_CONFIDENCE_MESSAGES: f64 = 50.0;

/// What a history says about its subject.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Reputation {
    /// The signed score, within `-max_score..=max_score`.
    pub(crate) score: f64,
    /// The decayed number of messages it rests on.
    pub(crate) total: f64,
    /// The share of junk among them, `0..=1`.
    pub(crate) junk_ratio: f64,
}

impl Reputation {
    /// A short explanation for the report, e.g. `412 msgs (2% junk), decayed`.
    pub(crate) fn detail(&self) -> String {
        format!(
            "{:.0} msgs ({:.0}% junk), decayed",
            self.total,
            self.junk_ratio * 100.0
        )
    }
}

/// Scores a history that has already been decayed to the present.
///
/// `None` below `min_messages` messages. Otherwise, with `ratio = junk / total` and
/// `confidence = min(1, total / 50)`:
/// `score = (ratio − 0.5) × 2 × max_score × confidence`.
pub(crate) fn reputation(
    history: &History,
    min_messages: f64,
    max_score: f64,
) -> Option<Reputation> {
    let total = history.total();
    if !total.is_finite() || total <= 0.0 || total < min_messages {
        return None;
    }
    let junk_ratio = (history.junk() / total).clamp(0.0, 1.0);
    let confidence = (total / FULL_CONFIDENCE_MESSAGES).min(1.0);
    let score = (junk_ratio - 0.5) * 2.0 * max_score * confidence;
    score.is_finite().then_some(Reputation {
        score,
        total,
        junk_ratio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    const DAY: u64 = 86_400_000;
    const HALF_LIFE: f64 = 14.0 * DAY as f64;
    const MIN: f64 = 5.0;
    const MAX_IP: f64 = 3.0;

    fn counts(accepted: f64, tagged: f64, quarantined: f64, rejected: f64) -> History {
        History {
            accepted,
            tagged,
            quarantined,
            rejected,
            updated_ms: 0,
        }
    }

    #[test]
    fn nothing_below_min_messages() {
        assert_eq!(reputation(&History::default(), MIN, MAX_IP), None);
        assert_eq!(reputation(&counts(0.0, 0.0, 0.0, 4.9), MIN, MAX_IP), None);
        assert!(reputation(&counts(0.0, 0.0, 0.0, 5.0), MIN, MAX_IP).is_some());
        // With min_messages = 0 an empty history still says nothing.
        assert_eq!(reputation(&History::default(), 0.0, MAX_IP), None);
    }

    #[test]
    fn long_clean_history_scores_clearly_negative() {
        let rep = reputation(&counts(1000.0, 0.0, 0.0, 5.0), MIN, MAX_IP).unwrap();
        assert!(rep.score < -2.9, "{rep:?}");
        assert!(rep.score >= -MAX_IP);
        assert_eq!(rep.detail(), "1005 msgs (0% junk), decayed");
    }

    #[test]
    fn mostly_junk_scores_clearly_positive() {
        let rep = reputation(&counts(2.0, 0.0, 0.0, 50.0), MIN, MAX_IP).unwrap();
        assert!(rep.score > 2.7, "{rep:?}");
        assert!(rep.score <= MAX_IP);
        assert_eq!(rep.detail(), "52 msgs (96% junk), decayed");
    }

    #[test]
    fn a_few_wrongly_marked_messages_do_not_ruin_a_good_server() {
        let rep = reputation(&counts(400.0, 6.0, 3.0, 3.0), MIN, MAX_IP).unwrap();
        assert!(rep.score < -2.7, "{rep:?}");
        assert_eq!(rep.detail(), "412 msgs (2% junk), decayed");
    }

    #[test]
    fn junk_weights_tagged_half() {
        let rep = reputation(&counts(0.0, 100.0, 0.0, 0.0), MIN, 2.0).unwrap();
        assert!((rep.junk_ratio - 0.5).abs() < 1e-12);
        assert!(rep.score.abs() < 1e-12);
        let rep = reputation(&counts(0.0, 0.0, 100.0, 0.0), MIN, 2.0).unwrap();
        assert!((rep.score - 2.0).abs() < 1e-12);
    }

    #[test]
    fn confidence_grows_with_the_number_of_messages() {
        let few = reputation(&counts(0.0, 0.0, 0.0, 5.0), MIN, MAX_IP).unwrap();
        let more = reputation(&counts(0.0, 0.0, 0.0, 25.0), MIN, MAX_IP).unwrap();
        let many = reputation(&counts(0.0, 0.0, 0.0, 500.0), MIN, MAX_IP).unwrap();
        assert!((few.score - 0.3).abs() < 1e-12);
        assert!((more.score - 1.5).abs() < 1e-12);
        assert!((many.score - MAX_IP).abs() < 1e-12);
    }

    #[test]
    fn max_score_scales() {
        let h = counts(0.0, 0.0, 0.0, 100.0);
        assert_eq!(reputation(&h, MIN, 1.5).unwrap().score, 1.5);
        assert_eq!(reputation(&h, MIN, 0.0).unwrap().score, 0.0);
    }

    /// Learns `accepted` and `rejected` messages at time 0, then looks at the score as
    /// the days pass without traffic.
    fn scores_over_time(accepted: u32, rejected: u32) -> Vec<Option<f64>> {
        let mut h = History::default();
        for _ in 0..accepted {
            h = h.record(Outcome::Accepted, 0, HALF_LIFE);
        }
        for _ in 0..rejected {
            h = h.record(Outcome::Rejected, 0, HALF_LIFE);
        }
        (0..=400)
            .step_by(10)
            .map(|day| {
                reputation(&h.decayed(day * DAY, HALF_LIFE), MIN, MAX_IP).map(|rep| rep.score)
            })
            .collect()
    }

    fn falls_back_to_nothing(scores: &[Option<f64>]) {
        assert!(scores[0].is_some());
        assert_eq!(*scores.last().unwrap(), None, "{scores:?}");
        for pair in scores.windows(2) {
            let (now, later) = (pair[0], pair[1]);
            match (now, later) {
                (Some(now), Some(later)) => assert!(later.abs() <= now.abs() + 1e-12),
                (None, Some(_)) => panic!("a score came back without traffic: {scores:?}"),
                _ => {}
            }
        }
    }

    #[test]
    fn scores_fade_as_time_passes_without_traffic() {
        let clean = scores_over_time(1000, 5);
        assert!(clean[0].unwrap() < -2.9);
        falls_back_to_nothing(&clean);
        // 90 days later the clean record no longer earns the full bonus.
        assert!(clean[9].unwrap() > -2.9, "{clean:?}");

        let junk = scores_over_time(2, 50);
        assert!(junk[0].unwrap() > 2.7);
        falls_back_to_nothing(&junk);
        // 30 days (about two half-lives) later the 52 messages weigh 12: the score shrank.
        assert!(
            junk[3].is_some_and(|score| score > 0.0 && score < 1.0),
            "{junk:?}"
        );
    }
}
