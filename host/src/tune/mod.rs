//! `moat tune`'s learning: symbol weights fitted to labelled decisions, as SpamAssassin
//! generates its scores. The model is the gateway's own score, `Σ weight × symbol
//! score`, read as a probability of spam through `σ(score − tag)`: cost-weighted logistic
//! regression (a false positive costs `ham_cost` times a missed spam) whose weights are
//! the symbol weights themselves, pulled towards the weights in force (L2), so rarely
//! seen symbols keep theirs and the tag threshold keeps its meaning. Symbols the operator
//! pinned stay as they are and count as a fixed part of each score.
//!
//! * `features`: labelled decisions as sparse rows of symbol scores.
//! * `fit`: the fitting (Newton's method on the cost-weighted log-loss).
//! * `learn`: from labelled decisions to a weights file, and the rates under it.

mod features;
mod fit;
mod learn;

pub use features::{FeatureSet, SymbolKey};
pub use fit::{FitOptions, fit};
pub use learn::{Learnt, Moved, cross_validated, held_out, learn_weights, rates_under};
