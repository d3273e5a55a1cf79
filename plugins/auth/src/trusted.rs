//! TRUSTED_SENDER: the From domain is on the operator's `trusted_senders` list *and* the
//! message proves it comes from there (an aligned DKIM pass by that domain, or an aligned
//! SPF pass). A listed domain in a forged From gets nothing, which is what lets an
//! operator allow-list real newsletters without letting forgers in.

use moat_sdk::sender_auth::{DkimResult, SenderAuth, SpfResult};

use crate::finding::Finding;
use crate::settings::is_within;
use crate::symbols::TRUSTED_SENDER;

/// TRUSTED_SENDER when the From domain is, or is under, one of `trusted` (normalized
/// domains) and authenticated for it.
pub(crate) fn trusted_sender(auth: &SenderAuth, trusted: &[String]) -> Option<Finding> {
    trusted
        .iter()
        .filter(|listed| is_within(&auth.from_domain, listed))
        .find_map(|listed| {
            let proof =
                aligned_dkim_pass(auth, listed).or_else(|| aligned_spf_pass(auth, listed))?;
            Some(Finding::new(
                TRUSTED_SENDER,
                format!(
                    "From {} is a trusted sender ({listed}): {proof}",
                    auth.from_domain
                ),
            ))
        })
}

/// A passing, aligned DKIM signature whose signing domain is `listed` or under it.
fn aligned_dkim_pass(auth: &SenderAuth, listed: &str) -> Option<String> {
    auth.dkim
        .iter()
        .find(|signature| {
            signature.result == DkimResult::Pass
                && signature.aligned
                && is_within(&signature.domain, listed)
        })
        .map(|signature| format!("dkim=pass for {}", signature.domain))
}

/// SPF of the MAIL FROM domain passed, that domain is `listed` or under it (as the
/// DKIM proof's signing domain must be), and DMARC found it aligned with the From domain.
fn aligned_spf_pass(auth: &SenderAuth, listed: &str) -> Option<String> {
    let spf = auth.spf_mail_from.as_ref()?;
    let dmarc = auth.dmarc.as_ref()?;
    (spf.result == SpfResult::Pass && dmarc.spf_aligned && is_within(&spf.domain, listed))
        .then(|| format!("aligned spf=pass for {}", spf.domain))
}

#[cfg(test)]
mod tests {
    use moat_sdk::sender_auth::{DkimSignature, DmarcCheck, DmarcPolicy, DmarcResult, SpfCheck};

    use super::*;

    fn listed() -> Vec<String> {
        vec!["newsletter.example.com".to_owned()]
    }

    fn from(domain: &str, dkim: Vec<DkimSignature>) -> SenderAuth {
        SenderAuth {
            from_domain: domain.to_owned(),
            dkim,
            ..SenderAuth::default()
        }
    }

    fn signature(domain: &str, result: DkimResult, aligned: bool) -> DkimSignature {
        DkimSignature {
            domain: domain.to_owned(),
            selector: "s1".to_owned(),
            result,
            aligned,
            detail: String::new(),
        }
    }

    fn with_spf(mut auth: SenderAuth, result: SpfResult, spf_aligned: bool) -> SenderAuth {
        auth.spf_mail_from = Some(SpfCheck {
            domain: "bounce.newsletter.example.com".to_owned(),
            result,
        });
        auth.dmarc = Some(DmarcCheck {
            domain: auth.from_domain.clone(),
            result: DmarcResult::Pass,
            policy: DmarcPolicy::Reject,
            spf_aligned,
            dkim_aligned: false,
        });
        auth
    }

    #[test]
    fn aligned_dkim_pass_of_the_listed_domain_is_trusted() {
        let auth = from(
            "newsletter.example.com",
            vec![signature("newsletter.example.com", DkimResult::Pass, true)],
        );
        assert_eq!(
            trusted_sender(&auth, &listed()),
            Some(Finding::new(
                TRUSTED_SENDER,
                "From newsletter.example.com is a trusted sender (newsletter.example.com): \
                 dkim=pass for newsletter.example.com"
            ))
        );
    }

    #[test]
    fn a_subdomain_from_is_trusted() {
        let auth = from(
            "eu.newsletter.example.com",
            vec![signature(
                "eu.newsletter.example.com",
                DkimResult::Pass,
                true,
            )],
        );
        assert!(trusted_sender(&auth, &listed()).is_some());
    }

    #[test]
    fn a_forged_from_is_not_trusted() {
        let failing = from(
            "newsletter.example.com",
            vec![signature("newsletter.example.com", DkimResult::Fail, true)],
        );
        assert_eq!(trusted_sender(&failing, &listed()), None);
        let unsigned = from("newsletter.example.com", Vec::new());
        assert_eq!(trusted_sender(&unsigned, &listed()), None);
    }

    #[test]
    fn a_pass_for_an_unrelated_domain_is_not_trusted() {
        let auth = from(
            "newsletter.example.com",
            vec![signature("spammer.example", DkimResult::Pass, false)],
        );
        assert_eq!(trusted_sender(&auth, &listed()), None);
    }

    #[test]
    fn an_aligned_pass_outside_the_listed_domain_is_not_trusted() {
        // Aligned by organizational domain, but signed by the parent, not the listed domain.
        let auth = from(
            "newsletter.example.com",
            vec![signature("example.com", DkimResult::Pass, true)],
        );
        assert_eq!(trusted_sender(&auth, &listed()), None);
    }

    #[test]
    fn an_unlisted_from_is_not_trusted_even_when_authenticated() {
        let auth = from(
            "example.com",
            vec![signature("example.com", DkimResult::Pass, true)],
        );
        assert_eq!(trusted_sender(&auth, &listed()), None);
        assert_eq!(trusted_sender(&from("", Vec::new()), &listed()), None);
    }

    #[test]
    fn an_aligned_spf_pass_is_trusted() {
        let auth = with_spf(
            from("newsletter.example.com", Vec::new()),
            SpfResult::Pass,
            true,
        );
        let finding = trusted_sender(&auth, &listed()).map(|finding| finding.detail);
        assert_eq!(
            finding.as_deref(),
            Some(
                "From newsletter.example.com is a trusted sender (newsletter.example.com): \
                 aligned spf=pass for bounce.newsletter.example.com"
            )
        );
    }

    #[test]
    fn an_unaligned_or_failing_spf_is_not_trusted() {
        let unaligned = with_spf(
            from("newsletter.example.com", Vec::new()),
            SpfResult::Pass,
            false,
        );
        assert_eq!(trusted_sender(&unaligned, &listed()), None);
        let failing = with_spf(
            from("newsletter.example.com", Vec::new()),
            SpfResult::SoftFail,
            true,
        );
        assert_eq!(trusted_sender(&failing, &listed()), None);
        let mut no_dmarc = with_spf(
            from("newsletter.example.com", Vec::new()),
            SpfResult::Pass,
            true,
        );
        no_dmarc.dmarc = None;
        assert_eq!(trusted_sender(&no_dmarc, &listed()), None);
    }

    #[test]
    fn an_aligned_spf_pass_outside_the_listed_domain_is_not_trusted() {
        // example.com's other senders align with newsletter.example.com too (same
        // organizational domain), but only the listed domain is vouched for.
        let mut auth = with_spf(
            from("newsletter.example.com", Vec::new()),
            SpfResult::Pass,
            true,
        );
        auth.spf_mail_from.as_mut().unwrap().domain = "shop.example.com".to_owned();
        assert_eq!(trusted_sender(&auth, &listed()), None);
    }

    #[test]
    fn the_from_domain_is_compared_without_case_or_trailing_dot() {
        let auth = from(
            "Newsletter.Example.COM.",
            vec![signature("newsletter.example.com", DkimResult::Pass, true)],
        );
        assert!(trusted_sender(&auth, &listed()).is_some());
    }
}
