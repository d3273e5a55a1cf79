//! DKIM_* from the gateway's verification of each DKIM-Signature: a pure function over
//! [`SenderAuth`], so it runs natively in unit tests.

use moat_sdk::sender_auth::{DkimResult, SenderAuth};

use crate::finding::Finding;
use crate::symbols::{DKIM_INVALID, DKIM_NONE, DKIM_TEMPERROR, DKIM_VALID, DKIM_VALID_ALIGNED};

/// The results DKIM_INVALID stands for: the signature is broken, not just unverifiable now.
const INVALID: [DkimResult; 3] = [DkimResult::Fail, DkimResult::Neutral, DkimResult::PermError];

/// The RFC 8601 name of a DKIM (or ARC) result, as in `Authentication-Results`.
pub(crate) fn result_name(result: DkimResult) -> &'static str {
    match result {
        DkimResult::Pass => "pass",
        DkimResult::Fail => "fail",
        DkimResult::Neutral => "neutral",
        DkimResult::None => "none",
        DkimResult::TempError => "temperror",
        DkimResult::PermError => "permerror",
    }
}

/// DKIM_VALID, DKIM_VALID_ALIGNED, DKIM_INVALID and DKIM_TEMPERROR, each at most once, or
/// DKIM_NONE for an unsigned message.
pub(crate) fn dkim(auth: &SenderAuth) -> Vec<Finding> {
    if auth.dkim.is_empty() {
        return vec![Finding::new(DKIM_NONE, "no DKIM signature")];
    }
    let mut findings = Vec::new();
    if let Some(detail) = describe(auth, &[DkimResult::Pass]) {
        findings.push(Finding::new(DKIM_VALID, detail));
    }
    let aligned: Vec<&str> = auth
        .dkim
        .iter()
        .filter(|signature| signature.result == DkimResult::Pass && signature.aligned)
        .map(|signature| signature.domain.as_str())
        .collect();
    if !aligned.is_empty() {
        let detail = format!(
            "dkim=pass for {}, aligned with From {}",
            aligned.join(", "),
            auth.from_domain
        );
        findings.push(Finding::new(DKIM_VALID_ALIGNED, detail));
    }
    if let Some(detail) = describe(auth, &INVALID) {
        findings.push(Finding::new(DKIM_INVALID, detail));
    }
    if let Some(detail) = describe(auth, &[DkimResult::TempError]) {
        findings.push(Finding::new(DKIM_TEMPERROR, detail));
    }
    findings
}

/// The signatures with one of `results`, as `dkim=fail for DOMAIN (s=SELECTOR): DETAIL`
/// joined by `; `; `None` when there is none.
fn describe(auth: &SenderAuth, results: &[DkimResult]) -> Option<String> {
    let lines: Vec<String> = auth
        .dkim
        .iter()
        .filter(|signature| results.contains(&signature.result))
        .map(|signature| {
            let mut line = format!(
                "dkim={} for {} (s={})",
                result_name(signature.result),
                signature.domain,
                signature.selector
            );
            if !signature.detail.is_empty() {
                line.push_str(": ");
                line.push_str(&signature.detail);
            }
            line
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("; "))
}

#[cfg(test)]
mod tests {
    use moat_sdk::sender_auth::DkimSignature;

    use super::*;

    fn signature(domain: &str, result: DkimResult, aligned: bool) -> DkimSignature {
        DkimSignature {
            domain: domain.to_owned(),
            selector: "sel".to_owned(),
            result,
            aligned,
            detail: match result {
                DkimResult::Pass => String::new(),
                _ => "body hash mismatch".to_owned(),
            },
        }
    }

    fn signed(signatures: Vec<DkimSignature>) -> SenderAuth {
        SenderAuth {
            from_domain: "example.com".to_owned(),
            dkim: signatures,
            ..SenderAuth::default()
        }
    }

    fn symbols(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|finding| finding.symbol).collect()
    }

    #[test]
    fn unsigned_mail_is_dkim_none() {
        assert_eq!(
            dkim(&signed(Vec::new())),
            [Finding::new(DKIM_NONE, "no DKIM signature")]
        );
    }

    #[test]
    fn passing_signatures_are_valid_and_maybe_aligned() {
        let unaligned = signed(vec![signature("esp.example", DkimResult::Pass, false)]);
        assert_eq!(
            dkim(&unaligned),
            [Finding::new(
                DKIM_VALID,
                "dkim=pass for esp.example (s=sel)"
            )]
        );
        let aligned = signed(vec![
            signature("esp.example", DkimResult::Pass, false),
            signature("mail.example.com", DkimResult::Pass, true),
        ]);
        let findings = dkim(&aligned);
        assert_eq!(symbols(&findings), [DKIM_VALID, DKIM_VALID_ALIGNED]);
        assert_eq!(
            findings[1].detail,
            "dkim=pass for mail.example.com, aligned with From example.com"
        );
    }

    #[test]
    fn broken_signatures_are_invalid_with_their_detail() {
        for result in INVALID {
            let findings = dkim(&signed(vec![signature("example.com", result, true)]));
            assert_eq!(symbols(&findings), [DKIM_INVALID], "{result:?}");
            let expected = format!(
                "dkim={} for example.com (s=sel): body hash mismatch",
                result_name(result)
            );
            assert_eq!(findings[0].detail, expected);
        }
    }

    #[test]
    fn a_temporary_error_is_only_temperror() {
        let findings = dkim(&signed(vec![signature(
            "example.com",
            DkimResult::TempError,
            true,
        )]));
        assert_eq!(symbols(&findings), [DKIM_TEMPERROR]);
    }

    #[test]
    fn mixed_signatures_give_each_symbol_once() {
        let findings = dkim(&signed(vec![
            signature("a.example", DkimResult::Fail, false),
            signature("example.com", DkimResult::Pass, true),
            signature("b.example", DkimResult::PermError, false),
            signature("c.example", DkimResult::TempError, false),
        ]));
        assert_eq!(
            symbols(&findings),
            [DKIM_VALID, DKIM_VALID_ALIGNED, DKIM_INVALID, DKIM_TEMPERROR]
        );
        assert_eq!(
            findings[2].detail,
            "dkim=fail for a.example (s=sel): body hash mismatch; \
             dkim=permerror for b.example (s=sel): body hash mismatch"
        );
    }

    #[test]
    fn a_failing_aligned_signature_is_not_valid_aligned() {
        let findings = dkim(&signed(vec![
            signature("example.com", DkimResult::Fail, true),
            signature("esp.example", DkimResult::Pass, false),
        ]));
        assert_eq!(symbols(&findings), [DKIM_VALID, DKIM_INVALID]);
    }
}
