//! The arithmetic: Robinson's per-token spam probability `f(w)` and Fisher's chi-square
//! combining of the most significant tokens (as in SpamBayes and bogofilter).

/// The classifier's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Robinson's `s`: how strongly the prior `x` weighs against a token's own counts
    /// (in messages). Larger values trust rare tokens less.
    pub s: f64,
    /// Robinson's `x`: the probability assumed for a token never seen.
    pub x: f64,
    /// Only tokens with `|f(w) − 0.5| ≥ min_dev` take part.
    pub min_dev: f64,
    /// At most this many of the most significant tokens take part.
    pub max_clues: usize,
    /// Tokens learnt fewer times than this (spam + ham) count as never seen.
    pub min_count: u64,
    /// At most this many tokens of one family take part (a family: the tokens of one
    /// header field, of the URLs, of the markup). They come in correlated crowds (a list's
    /// `Return-Path`, `Sender`, `Received` hosts), and chi-square combining takes every
    /// clue as independent evidence.
    pub max_family_clues: usize,
    /// The image text (OCR tokens) is also classified on its own when it gives at least
    /// this many tokens; 0 turns that off.
    pub min_image_tokens: usize,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            s: 1.0,
            x: 0.5,
            min_dev: 0.1,
            max_clues: 300,
            min_count: 1,
            max_family_clues: 3,
            min_image_tokens: 10,
        }
    }
}

/// The extremes `f(w)` is held within, so a logarithm never sees 0.
const F_MIN: f64 = 1e-9;

/// Robinson's `f(w)` for a token seen in `spam` of `nspam` learnt spam and `ham` of
/// `nham` learnt ham:
///
/// ```text
/// p(w) = (spam/nspam) / (spam/nspam + ham/nham)
/// f(w) = (s·x + n·p(w)) / (s + n),   n = spam + ham
/// ```
///
/// A token never seen (or totals of 0) gives `x`.
#[must_use]
pub fn token_probability(spam: u64, ham: u64, nspam: u64, nham: u64, params: &Params) -> f64 {
    let n = (spam + ham) as f64;
    if n == 0.0 || spam + ham < params.min_count || nspam == 0 || nham == 0 {
        return params.x;
    }
    let spam_ratio = (spam as f64 / nspam as f64).min(1.0);
    let ham_ratio = (ham as f64 / nham as f64).min(1.0);
    let p = spam_ratio / (spam_ratio + ham_ratio);
    let f = (params.s * params.x + n * p) / (params.s + n);
    f.clamp(F_MIN, 1.0 - F_MIN)
}

/// The chi-square survival function `P(χ² ≥ x2)` for `dof` degrees of freedom (an even
/// number, as Fisher's method gives), computed in log space so a large `x2` does not
/// underflow to a wrong answer.
#[must_use]
pub fn chi2_q(x2: f64, dof: u32) -> f64 {
    debug_assert!(dof.is_multiple_of(2), "degrees of freedom must be even");
    let m = x2 / 2.0;
    if m <= 0.0 {
        return 1.0;
    }
    // Σ_{i < dof/2} e^{-m} m^i / i!
    let ln_m = m.ln();
    let mut ln_term = -m;
    let mut max = ln_term;
    let mut ln_terms = Vec::with_capacity((dof / 2) as usize);
    ln_terms.push(ln_term);
    for i in 1..dof / 2 {
        ln_term += ln_m - f64::from(i).ln();
        max = max.max(ln_term);
        ln_terms.push(ln_term);
    }
    let sum: f64 = ln_terms.iter().map(|t| (t - max).exp()).sum();
    (max + sum.ln()).exp().min(1.0)
}

/// Fisher–Robinson combining of token probabilities: the spam probability of the message
/// in `[0, 1]`, 0.5 when there are none.
///
/// ```text
/// S = 1 − Q(−2 Σ ln(1 − f), 2n)     how surely the tokens are not all hammy
/// H = 1 − Q(−2 Σ ln f, 2n)          how surely the tokens are not all spammy
/// p = (1 + S − H) / 2
/// ```
#[must_use]
pub fn combine(probabilities: &[f64]) -> f64 {
    if probabilities.is_empty() {
        return 0.5;
    }
    let (mut ln_spam, mut ln_ham) = (0.0, 0.0);
    for &f in probabilities {
        let f = f.clamp(F_MIN, 1.0 - F_MIN);
        ln_ham += f.ln();
        ln_spam += (1.0 - f).ln();
    }
    let dof = u32::try_from(2 * probabilities.len()).unwrap_or(u32::MAX - 1);
    let s = 1.0 - chi2_q(-2.0 * ln_spam, dof);
    let h = 1.0 - chi2_q(-2.0 * ln_ham, dof);
    ((1.0 + s - h) / 2.0).clamp(0.0, 1.0)
}

/// The indices of the tokens that take part, most significant first: those with
/// `|f − 0.5| ≥ min_dev`, at most `max_clues`, of which at most `max_family_clues` of one
/// family (`families[i]`; `None`: no family, no limit). Ties keep the input order.
#[must_use]
pub fn select_clues(
    probabilities: &[f64],
    families: &[Option<&str>],
    params: &Params,
) -> Vec<usize> {
    let mut clues: Vec<usize> = (0..probabilities.len())
        .filter(|&i| (probabilities[i] - 0.5).abs() >= params.min_dev)
        .collect();
    clues.sort_by(|&a, &b| {
        let (da, db) = (
            (probabilities[a] - 0.5).abs(),
            (probabilities[b] - 0.5).abs(),
        );
        db.total_cmp(&da)
    });
    let mut taken: Vec<(&str, usize)> = Vec::new();
    clues.retain(|&i| {
        let Some(family) = families.get(i).copied().flatten() else {
            return true;
        };
        match taken.iter_mut().find(|(f, _)| *f == family) {
            Some((_, n)) if *n >= params.max_family_clues => false,
            Some((_, n)) => {
                *n += 1;
                true
            }
            None => {
                taken.push((family, 1));
                params.max_family_clues > 0
            }
        }
    });
    clues.truncate(params.max_clues);
    clues
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn chi2_q_matches_known_values() {
        // Q(x, 2) = e^{-x/2}; Q(x, 4) = e^{-x/2}(1 + x/2); Q(10, 10) = 0.440493285...
        assert!(close(chi2_q(2.0, 2), (-1.0f64).exp()));
        assert!(close(chi2_q(6.0, 4), (-3.0f64).exp() * 4.0));
        assert!((chi2_q(10.0, 10) - 0.440_493_285_065_212_6).abs() < 1e-12);
        assert_eq!(chi2_q(0.0, 8), 1.0);
        // Far in the tail it is tiny but not NaN, and never above 1.
        let tail = chi2_q(3000.0, 300);
        assert!((0.0..1e-100).contains(&tail), "{tail}");
        assert!(chi2_q(1.0, 300) <= 1.0);
    }

    #[test]
    fn robinson_f_follows_the_formula() {
        let params = Params {
            s: 1.0,
            x: 0.5,
            ..Params::default()
        };
        // Never seen: x.
        assert_eq!(token_probability(0, 0, 10, 10, &params), 0.5);
        // Seen in 3 of 10 spam and 1 of 20 ham: p = 0.3 / 0.35; f = (0.5 + 4p) / 5.
        let p = 0.3 / 0.35;
        assert!(close(
            token_probability(3, 1, 10, 20, &params),
            (0.5 + 4.0 * p) / 5.0
        ));
        // Only in spam, many times: close to 1, never 1.
        let f = token_probability(1000, 0, 1000, 1000, &params);
        assert!(f > 0.99 && f < 1.0);
    }

    #[test]
    fn combining_is_symmetric_and_decisive() {
        assert_eq!(combine(&[]), 0.5);
        assert!(close(combine(&[0.5, 0.5]), 0.5));
        let spammy = combine(&[0.99; 20]);
        let hammy = combine(&[0.01; 20]);
        assert!(spammy > 0.999, "{spammy}");
        assert!(hammy < 0.001, "{hammy}");
        assert!(close(spammy, 1.0 - hammy));
        // Strong evidence both ways is uncertain, not a confident verdict.
        let mixed = combine(&[0.99, 0.99, 0.01, 0.01]);
        assert!((mixed - 0.5).abs() < 1e-9, "{mixed}");
        // Hundreds of extreme clues do not underflow into NaN.
        assert!(combine(&[1e-9; 500]).is_finite());
    }

    #[test]
    fn clues_are_the_most_significant() {
        let params = Params {
            min_dev: 0.1,
            max_clues: 2,
            ..Params::default()
        };
        let probabilities = [0.55, 0.99, 0.3, 0.02, 0.61];
        assert_eq!(select_clues(&probabilities, &[None; 5], &params), [1, 3]);
        let params = Params {
            max_clues: 3,
            max_family_clues: 1,
            ..params
        };
        let families = [None, Some("html"), None, Some("html"), Some("rcvd")];
        assert_eq!(select_clues(&probabilities, &families, &params), [1, 2, 4]);
    }
}
