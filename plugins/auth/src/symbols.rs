//! The symbols this plugin emits, their default scores, and the operator's overrides from
//! the config table `scores`.

/// SPF of the MAIL FROM domain passed.
pub(crate) const SPF_PASS: &str = "SPF_PASS";
/// SPF of the MAIL FROM domain failed (`-all`): the client may not send for it.
pub(crate) const SPF_FAIL: &str = "SPF_FAIL";
/// SPF of the MAIL FROM domain soft-failed (`~all`).
pub(crate) const SPF_SOFTFAIL: &str = "SPF_SOFTFAIL";
/// SPF of the MAIL FROM domain was neutral (`?all`).
pub(crate) const SPF_NEUTRAL: &str = "SPF_NEUTRAL";
/// The MAIL FROM domain publishes no SPF policy.
pub(crate) const SPF_NONE: &str = "SPF_NONE";
/// SPF of the MAIL FROM domain hit a transient DNS error.
pub(crate) const SPF_TEMPERROR: &str = "SPF_TEMPERROR";
/// The MAIL FROM domain's SPF policy is broken.
pub(crate) const SPF_PERMERROR: &str = "SPF_PERMERROR";
/// SPF of the HELO name failed.
pub(crate) const SPF_HELO_FAIL: &str = "SPF_HELO_FAIL";
/// SPF of the HELO name soft-failed.
pub(crate) const SPF_HELO_SOFTFAIL: &str = "SPF_HELO_SOFTFAIL";
/// At least one DKIM signature verifies.
pub(crate) const DKIM_VALID: &str = "DKIM_VALID";
/// A DKIM signature of the From domain's organization verifies.
pub(crate) const DKIM_VALID_ALIGNED: &str = "DKIM_VALID_ALIGNED";
/// A DKIM signature does not verify (fail, neutral or permanent error).
pub(crate) const DKIM_INVALID: &str = "DKIM_INVALID";
/// A DKIM key could not be fetched for a transient reason.
pub(crate) const DKIM_TEMPERROR: &str = "DKIM_TEMPERROR";
/// The message carries no DKIM signature.
pub(crate) const DKIM_NONE: &str = "DKIM_NONE";
/// DMARC of the From domain passed.
pub(crate) const DMARC_PASS: &str = "DMARC_PASS";
/// DMARC failed and the From domain asks for rejection (`p=reject`).
pub(crate) const DMARC_FAIL_REJECT: &str = "DMARC_FAIL_REJECT";
/// DMARC failed and the From domain asks for quarantine (`p=quarantine`).
pub(crate) const DMARC_FAIL_QUARANTINE: &str = "DMARC_FAIL_QUARANTINE";
/// DMARC failed and the From domain only monitors (`p=none`, or no usable policy).
pub(crate) const DMARC_FAIL_NONE: &str = "DMARC_FAIL_NONE";
/// DMARC hit a transient DNS error.
pub(crate) const DMARC_TEMPERROR: &str = "DMARC_TEMPERROR";
/// The From domain's DMARC record is broken.
pub(crate) const DMARC_PERMERROR: &str = "DMARC_PERMERROR";
/// The From domain publishes no DMARC policy.
pub(crate) const DMARC_NONE: &str = "DMARC_NONE";
/// The ARC chain validates.
pub(crate) const ARC_VALID: &str = "ARC_VALID";
/// The ARC chain is broken (fail, neutral or permanent error).
pub(crate) const ARC_INVALID: &str = "ARC_INVALID";
/// The ARC chain could not be checked for a transient reason.
pub(crate) const ARC_TEMPERROR: &str = "ARC_TEMPERROR";
/// The From domain is one of the operator's `trusted_senders`, and authenticated.
pub(crate) const TRUSTED_SENDER: &str = "TRUSTED_SENDER";

/// Every symbol with its default score (positive: spammy, negative: hammy).
pub(crate) const DEFAULT_SCORES: &[(&str, f64)] = &[
    (SPF_PASS, -0.2),
    (SPF_FAIL, 1.0),
    (SPF_SOFTFAIL, 0.5),
    (SPF_NEUTRAL, 0.0),
    (SPF_NONE, 0.0),
    (SPF_TEMPERROR, 0.0),
    (SPF_PERMERROR, 0.0),
    (SPF_HELO_FAIL, 0.5),
    (SPF_HELO_SOFTFAIL, 0.2),
    (DKIM_VALID, -0.1),
    (DKIM_VALID_ALIGNED, -0.5),
    (DKIM_INVALID, 1.0),
    (DKIM_TEMPERROR, 0.0),
    (DKIM_NONE, 0.0),
    (DMARC_PASS, -0.5),
    (DMARC_FAIL_REJECT, 3.0),
    (DMARC_FAIL_QUARANTINE, 2.0),
    (DMARC_FAIL_NONE, 0.1),
    (DMARC_TEMPERROR, 0.0),
    (DMARC_PERMERROR, 0.0),
    (DMARC_NONE, 0.0),
    (ARC_VALID, -0.5),
    (ARC_INVALID, 1.0),
    (ARC_TEMPERROR, 0.0),
    (TRUSTED_SENDER, -10.0),
];

pub(crate) use moat_sdk::scores::Scores;

/// This plugin's scores with the operator's overrides from the config table `scores`.
pub(crate) fn configured_scores() -> Scores {
    Scores::configured(DEFAULT_SCORES)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use moat_sdk::Symbol;

    use super::*;

    #[test]
    fn every_symbol_name_is_valid_and_listed_once() {
        for (index, (name, score)) in DEFAULT_SCORES.iter().enumerate() {
            assert!(Symbol::is_valid_name(name), "{name}");
            assert!(score.is_finite(), "{name}");
            assert!(
                DEFAULT_SCORES[index + 1..]
                    .iter()
                    .all(|(other, _)| other != name),
                "{name} listed twice"
            );
        }
        assert_eq!(DEFAULT_SCORES.len(), 25);
    }

    #[test]
    fn overrides_replace_defaults() {
        let scores = Scores::with_overrides(
            DEFAULT_SCORES,
            BTreeMap::from([
                (SPF_SOFTFAIL.to_owned(), 1.0),
                ("SPF_SOFT_FAIL".to_owned(), 5.0),
            ]),
        );
        assert_eq!(scores.score(SPF_SOFTFAIL), 1.0);
        assert_eq!(scores.score(DMARC_FAIL_REJECT), 3.0);
        assert_eq!(scores.score(TRUSTED_SENDER), -10.0);
        assert_eq!(scores.unknown_symbols(), ["SPF_SOFT_FAIL"]);
    }
}
