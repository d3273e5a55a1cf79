//! Placeholder until the SpamAssassin row lands.
use crate::decisions::TruthRates;
pub(super) struct SpamAssassinRun {
    pub(super) rates: TruthRates,
    pub(super) train_time: std::time::Duration,
    pub(super) score_time: std::time::Duration,
}
pub(super) fn measure_spamassassin(
    _: &std::path::Path,
    _: &std::path::Path,
) -> anyhow::Result<SpamAssassinRun> {
    anyhow::bail!("not yet")
}
