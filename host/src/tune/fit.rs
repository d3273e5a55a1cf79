//! Fitting symbol weights: Newton's method on the cost-weighted log-loss of
//! `σ(Σ w·x + offset − tag)`, with an L2 pull towards the weights in force.

use super::features::FeatureSet;

/// The knobs of a fit.
#[derive(Debug, Clone, Copy)]
pub struct FitOptions {
    /// The score from which mail is flagged (`[thresholds] tag`).
    pub tag: f64,
    /// What a ham message counts for against a spam one: a false positive costs this
    /// many missed spam.
    pub ham_cost: f64,
    /// The pull towards the weights in force, per message.
    pub l2: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            tag: 5.0,
            ham_cost: 5.0,
            l2: 0.0002,
        }
    }
}

/// Newton steps at most; each solves a system as large as the number of symbols.
const MAX_STEPS: usize = 60;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Fits the weights of `set`'s columns; returns them in column order.
pub fn fit(set: &FeatureSet, options: FitOptions) -> Vec<f64> {
    let d = set.columns.len();
    let mut w = set.prior.clone();
    if d == 0 || set.is_empty() {
        return w;
    }
    let cost = |spam: bool| if spam { 1.0 } else { options.ham_cost };
    let total_cost: f64 = set.spam.iter().map(|s| cost(*s)).sum();
    let mut current = loss(set, &w, options);
    for _ in 0..MAX_STEPS {
        let mut gradient = vec![0.0; d];
        let mut hessian = vec![0.0; d * d];
        for i in 0..set.len() {
            let p = sigmoid(margin(set, i, &w, options.tag));
            let c = cost(set.spam[i]) / total_cost;
            let y = if set.spam[i] { 1.0 } else { 0.0 };
            let row = &set.rows[i];
            for &(a, xa) in row {
                gradient[a] += c * (p - y) * xa;
                for &(b, xb) in row {
                    hessian[a * d + b] += c * p * (1.0 - p) * xa * xb;
                }
            }
        }
        for j in 0..d {
            gradient[j] += options.l2 * (w[j] - set.prior[j]);
            hessian[j * d + j] += options.l2;
        }
        let Some(step) = solve(&hessian, &gradient, d) else {
            break;
        };
        // Backtracking: halve the step until the loss falls.
        let mut scale = 1.0;
        let mut improved = false;
        for _ in 0..30 {
            let candidate: Vec<f64> = w.iter().zip(&step).map(|(w, s)| w - scale * s).collect();
            let value = loss(set, &candidate, options);
            if value < current {
                improved = current - value > 1e-12;
                w = candidate;
                current = value;
                break;
            }
            scale /= 2.0;
        }
        if !improved {
            break;
        }
    }
    w
}

/// The cost-weighted mean log-loss of `w` on `set`, plus the L2 pull towards the prior:
/// what the Newton steps minimise.
fn loss(set: &FeatureSet, w: &[f64], options: FitOptions) -> f64 {
    let cost = |spam: bool| if spam { 1.0 } else { options.ham_cost };
    let total_cost: f64 = set.spam.iter().map(|s| cost(*s)).sum();
    // log(1 + e^z) without overflow.
    let softplus = |z: f64| if z > 30.0 { z } else { z.exp().ln_1p() };
    let mut sum = 0.0;
    for i in 0..set.len() {
        let z = margin(set, i, w, options.tag);
        let l = if set.spam[i] {
            softplus(-z)
        } else {
            softplus(z)
        };
        sum += cost(set.spam[i]) * l;
    }
    let pull: f64 = w
        .iter()
        .zip(&set.prior)
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    sum / total_cost + options.l2 / 2.0 * pull
}

/// `Σ w·x + offset − tag` for message `i`.
fn margin(set: &FeatureSet, i: usize, w: &[f64], tag: f64) -> f64 {
    set.rows[i].iter().map(|&(c, x)| w[c] * x).sum::<f64>() + set.offsets[i] - tag
}

/// Solves `a x = b` for a symmetric positive definite `a` (Cholesky); `None` if it is not.
fn solve(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[i * n + j];
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if sum <= 0.0 {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut sum = b[i];
        for k in 0..i {
            sum -= l[i * n + k] * y[k];
        }
        y[i] = sum / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut sum = y[i];
        for k in i + 1..n {
            sum -= l[k * n + i] * x[k];
        }
        x[i] = sum / l[i * n + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::SymbolKey;

    fn key(symbol: &str) -> SymbolKey {
        SymbolKey {
            plugin: "p".into(),
            symbol: symbol.into(),
        }
    }

    /// Column 0 fires on every spam, column 1 on spam and ham alike.
    fn separable() -> FeatureSet {
        let mut set = FeatureSet {
            columns: vec![key("SPAMMY"), key("NOISE")],
            prior: vec![1.0, 1.0],
            ..FeatureSet::default()
        };
        for n in 0..200 {
            let spam = n % 2 == 0;
            let mut row = vec![(1, 1.0)];
            if spam {
                row.push((0, 1.0));
            }
            set.rows.push(row);
            set.offsets.push(0.0);
            set.spam.push(spam);
        }
        set
    }

    #[test]
    fn a_symbol_that_marks_spam_gains_weight_past_the_threshold_and_noise_loses() {
        let set = separable();
        let w = fit(&set, FitOptions::default());
        // Spam scores w0 + w1, ham w1: the fit puts the threshold between them.
        assert!(w[0] + w[1] > 5.0, "{w:?}");
        assert!(w[1] < 5.0, "{w:?}");
        assert!(w[0] > 1.0, "{w:?}");
    }

    #[test]
    fn a_costlier_false_positive_pushes_ham_further_below_the_threshold() {
        let mut set = separable();
        // A ham that looks like spam: both columns.
        set.rows.push(vec![(0, 1.0), (1, 1.0)]);
        set.offsets.push(0.0);
        set.spam.push(false);
        let cheap = fit(
            &set,
            FitOptions {
                ham_cost: 0.2,
                ..FitOptions::default()
            },
        );
        let dear = fit(
            &set,
            FitOptions {
                ham_cost: 50.0,
                ..FitOptions::default()
            },
        );
        assert!(
            cheap[0] + cheap[1] > dear[0] + dear[1],
            "{cheap:?} {dear:?}"
        );
    }

    #[test]
    fn without_evidence_the_weights_in_force_stay() {
        let set = FeatureSet {
            columns: vec![key("UNSEEN")],
            prior: vec![2.5],
            ..FeatureSet::default()
        };
        assert_eq!(fit(&set, FitOptions::default()), vec![2.5]);
    }

    #[test]
    fn the_fit_reaches_the_minimum_of_the_loss() {
        // At the fitted weights the gradient vanishes: every small step either way raises
        // the loss (a check of the gradient and Hessian the Newton steps are made of
        // against the loss they should minimise).
        let mut set = separable();
        set.rows.push(vec![(0, 1.0), (1, 1.0)]);
        set.offsets.push(0.5);
        set.spam.push(false);
        let options = FitOptions::default();
        let w = fit(&set, options);
        let at = |w: &[f64]| loss(&set, w, options);
        let best = at(&w);
        for j in 0..w.len() {
            for step in [-1e-3, 1e-3] {
                let mut moved = w.clone();
                moved[j] += step;
                assert!(at(&moved) >= best - 1e-12, "weight {j} {step:+}: {w:?}");
            }
        }
    }

    #[test]
    fn cholesky_solves_a_small_system() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let x = solve(&a, &[2.0, 1.0], 2).unwrap();
        assert!((4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-12);
        assert!((2.0 * x[0] + 3.0 * x[1] - 1.0).abs() < 1e-12);
        assert!(solve(&[0.0], &[1.0], 1).is_none());
    }
}
