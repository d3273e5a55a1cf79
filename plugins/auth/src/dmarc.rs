//! DMARC_* and ARC_* from the gateway's DMARC evaluation and ARC chain validation: pure
//! functions over [`SenderAuth`], so they run natively in unit tests.

use moat_sdk::sender_auth::{DkimResult, DmarcPolicy, DmarcResult, SenderAuth};

use crate::dkim::result_name;
use crate::finding::Finding;
use crate::symbols::{
    ARC_INVALID, ARC_TEMPERROR, ARC_VALID, DMARC_FAIL_NONE, DMARC_FAIL_QUARANTINE,
    DMARC_FAIL_REJECT, DMARC_NONE, DMARC_PASS, DMARC_PERMERROR, DMARC_TEMPERROR,
};

/// One DMARC_* symbol when DMARC was evaluated.
pub(crate) fn dmarc(auth: &SenderAuth) -> Option<Finding> {
    let check = auth.dmarc.as_ref()?;
    let domain = &check.domain;
    let finding = match check.result {
        DmarcResult::Pass => Finding::new(DMARC_PASS, format!("dmarc=pass for {domain}")),
        DmarcResult::Fail => {
            let (symbol, policy) = match check.policy {
                DmarcPolicy::Reject => (DMARC_FAIL_REJECT, "p=reject"),
                DmarcPolicy::Quarantine => (DMARC_FAIL_QUARANTINE, "p=quarantine"),
                DmarcPolicy::None => (DMARC_FAIL_NONE, "p=none"),
                DmarcPolicy::Unspecified => (DMARC_FAIL_NONE, "no usable policy"),
            };
            Finding::new(symbol, format!("dmarc=fail ({policy}) for {domain}"))
        }
        DmarcResult::None => Finding::new(DMARC_NONE, format!("no DMARC policy for {domain}")),
        DmarcResult::TempError => {
            Finding::new(DMARC_TEMPERROR, format!("dmarc=temperror for {domain}"))
        }
        DmarcResult::PermError => {
            Finding::new(DMARC_PERMERROR, format!("dmarc=permerror for {domain}"))
        }
    };
    Some(finding)
}

/// ARC_VALID, ARC_INVALID or ARC_TEMPERROR when the message has an ARC set.
pub(crate) fn arc(auth: &SenderAuth) -> Option<Finding> {
    let result = auth.arc?;
    let symbol = match result {
        DkimResult::Pass => ARC_VALID,
        DkimResult::Fail | DkimResult::Neutral | DkimResult::PermError => ARC_INVALID,
        DkimResult::TempError => ARC_TEMPERROR,
        DkimResult::None => return None,
    };
    Some(Finding::new(symbol, format!("arc={}", result_name(result))))
}

#[cfg(test)]
mod tests {
    use moat_sdk::sender_auth::DmarcCheck;

    use super::*;

    fn dmarc_with(result: DmarcResult, policy: DmarcPolicy) -> SenderAuth {
        SenderAuth {
            dmarc: Some(DmarcCheck {
                domain: "example.com".to_owned(),
                result,
                policy,
                spf_aligned: false,
                dkim_aligned: false,
            }),
            ..SenderAuth::default()
        }
    }

    #[test]
    fn each_dmarc_outcome_has_its_symbol() {
        let cases = [
            (DmarcResult::Pass, DmarcPolicy::Reject, DMARC_PASS),
            (DmarcResult::Fail, DmarcPolicy::Reject, DMARC_FAIL_REJECT),
            (
                DmarcResult::Fail,
                DmarcPolicy::Quarantine,
                DMARC_FAIL_QUARANTINE,
            ),
            (DmarcResult::Fail, DmarcPolicy::None, DMARC_FAIL_NONE),
            (DmarcResult::Fail, DmarcPolicy::Unspecified, DMARC_FAIL_NONE),
            (DmarcResult::None, DmarcPolicy::Unspecified, DMARC_NONE),
            (
                DmarcResult::TempError,
                DmarcPolicy::Unspecified,
                DMARC_TEMPERROR,
            ),
            (
                DmarcResult::PermError,
                DmarcPolicy::Unspecified,
                DMARC_PERMERROR,
            ),
        ];
        for (result, policy, symbol) in cases {
            let found = dmarc(&dmarc_with(result, policy)).map(|finding| finding.symbol);
            assert_eq!(found, Some(symbol), "{result:?} {policy:?}");
        }
    }

    #[test]
    fn dmarc_detail_names_the_policy_and_domain() {
        assert_eq!(
            dmarc(&dmarc_with(DmarcResult::Fail, DmarcPolicy::Reject)),
            Some(Finding::new(
                DMARC_FAIL_REJECT,
                "dmarc=fail (p=reject) for example.com"
            ))
        );
    }

    #[test]
    fn no_dmarc_evaluation_no_finding() {
        assert_eq!(dmarc(&SenderAuth::default()), None);
    }

    #[test]
    fn each_arc_outcome_has_its_symbol() {
        let symbol = |result| {
            let auth = SenderAuth {
                arc: result,
                ..SenderAuth::default()
            };
            arc(&auth).map(|finding| finding.symbol)
        };
        assert_eq!(symbol(Some(DkimResult::Pass)), Some(ARC_VALID));
        assert_eq!(symbol(Some(DkimResult::Fail)), Some(ARC_INVALID));
        assert_eq!(symbol(Some(DkimResult::Neutral)), Some(ARC_INVALID));
        assert_eq!(symbol(Some(DkimResult::PermError)), Some(ARC_INVALID));
        assert_eq!(symbol(Some(DkimResult::TempError)), Some(ARC_TEMPERROR));
        assert_eq!(symbol(Some(DkimResult::None)), None);
        assert_eq!(symbol(None), None);
    }
}
