//! SPF_* and SPF_HELO_* from the gateway's SPF results: a pure function over
//! [`SenderAuth`], so it runs natively in unit tests.

use moat_sdk::sender_auth::{SenderAuth, SpfResult};

use crate::finding::Finding;
use crate::symbols::{
    SPF_FAIL, SPF_HELO_FAIL, SPF_HELO_SOFTFAIL, SPF_NEUTRAL, SPF_NONE, SPF_PASS, SPF_PERMERROR,
    SPF_SOFTFAIL, SPF_TEMPERROR,
};

/// The RFC 8601 name of an SPF result, as in `Authentication-Results`.
fn result_name(result: SpfResult) -> &'static str {
    match result {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::None => "none",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
    }
}

/// One SPF_* symbol for SPF of the MAIL FROM domain, and SPF_HELO_FAIL or
/// SPF_HELO_SOFTFAIL when SPF of the HELO name says so.
pub(crate) fn spf(auth: &SenderAuth) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(check) = &auth.spf_mail_from {
        let symbol = match check.result {
            SpfResult::Pass => SPF_PASS,
            SpfResult::Fail => SPF_FAIL,
            SpfResult::SoftFail => SPF_SOFTFAIL,
            SpfResult::Neutral => SPF_NEUTRAL,
            SpfResult::None => SPF_NONE,
            SpfResult::TempError => SPF_TEMPERROR,
            SpfResult::PermError => SPF_PERMERROR,
        };
        let detail = format!(
            "spf={} for {} from {}",
            result_name(check.result),
            check.domain,
            auth.client_ip
        );
        findings.push(Finding::new(symbol, detail));
    }
    if let Some(check) = &auth.spf_helo {
        let symbol = match check.result {
            SpfResult::Fail => Some(SPF_HELO_FAIL),
            SpfResult::SoftFail => Some(SPF_HELO_SOFTFAIL),
            _ => None,
        };
        if let Some(symbol) = symbol {
            let detail = format!(
                "helo spf={} for {} from {}",
                result_name(check.result),
                check.domain,
                auth.client_ip
            );
            findings.push(Finding::new(symbol, detail));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use moat_sdk::sender_auth::SpfCheck;

    use super::*;

    fn helo(result: SpfResult) -> SenderAuth {
        SenderAuth {
            client_ip: "192.0.2.1".to_owned(),
            spf_helo: Some(SpfCheck {
                domain: "mx.example.com".to_owned(),
                result,
            }),
            ..SenderAuth::default()
        }
    }

    #[test]
    fn each_mail_from_result_has_its_symbol() {
        let cases = [
            (SpfResult::Pass, SPF_PASS, "spf=pass"),
            (SpfResult::Fail, SPF_FAIL, "spf=fail"),
            (SpfResult::SoftFail, SPF_SOFTFAIL, "spf=softfail"),
            (SpfResult::Neutral, SPF_NEUTRAL, "spf=neutral"),
            (SpfResult::None, SPF_NONE, "spf=none"),
            (SpfResult::TempError, SPF_TEMPERROR, "spf=temperror"),
            (SpfResult::PermError, SPF_PERMERROR, "spf=permerror"),
        ];
        for (result, symbol, name) in cases {
            let auth = SenderAuth {
                client_ip: "192.0.2.1".to_owned(),
                spf_mail_from: Some(SpfCheck {
                    domain: "example.com".to_owned(),
                    result,
                }),
                ..SenderAuth::default()
            };
            assert_eq!(
                spf(&auth),
                [Finding::new(
                    symbol,
                    format!("{name} for example.com from 192.0.2.1")
                )]
            );
        }
    }

    #[test]
    fn helo_counts_only_fail_and_softfail() {
        assert_eq!(
            spf(&helo(SpfResult::Fail)),
            [Finding::new(
                SPF_HELO_FAIL,
                "helo spf=fail for mx.example.com from 192.0.2.1"
            )]
        );
        let softfail = spf(&helo(SpfResult::SoftFail));
        assert_eq!(softfail.len(), 1);
        assert_eq!(softfail[0].symbol, SPF_HELO_SOFTFAIL);
        for result in [
            SpfResult::Pass,
            SpfResult::Neutral,
            SpfResult::None,
            SpfResult::TempError,
            SpfResult::PermError,
        ] {
            assert_eq!(spf(&helo(result)), [], "{result:?}");
        }
    }

    #[test]
    fn mail_from_comes_before_helo() {
        let mut auth = helo(SpfResult::SoftFail);
        auth.spf_mail_from = Some(SpfCheck {
            domain: "example.com".to_owned(),
            result: SpfResult::Fail,
        });
        let symbols: Vec<&str> = spf(&auth).iter().map(|finding| finding.symbol).collect();
        assert_eq!(symbols, [SPF_FAIL, SPF_HELO_SOFTFAIL]);
    }

    #[test]
    fn no_checks_no_findings() {
        assert_eq!(spf(&SenderAuth::default()), []);
    }
}
