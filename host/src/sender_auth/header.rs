//! The `Authentication-Results` field (RFC 8601) Moat adds to every message it checked,
//! under its own authserv-id, so the protected server and mail clients can trust it
//! (fields a sender wrote under that id are stripped on the way in).

use std::fmt::Write as _;

use super::results::SenderAuthResults;

/// The `Authentication-Results:` field for `results`, folded, ending in CRLF.
pub fn authentication_results(authserv_id: &str, results: &SenderAuthResults) -> String {
    let mut methods: Vec<String> = Vec::new();
    if let Some(spf) = &results.spf_mail_from {
        methods.push(format!(
            "spf={} smtp.mailfrom={}",
            spf.result.as_str(),
            token(&results.mail_from)
        ));
    }
    if let Some(spf) = &results.spf_helo {
        methods.push(format!(
            "spf={} smtp.helo={}",
            spf.result.as_str(),
            token(&spf.domain)
        ));
    }
    if results.dmarc.is_some() && results.dkim.is_empty() {
        methods.push("dkim=none".to_owned());
    }
    for dkim in &results.dkim {
        let mut method = format!("dkim={}", dkim.result.as_str());
        if !dkim.detail.is_empty() {
            let _ = write!(method, " ({})", comment(&dkim.detail));
        }
        let _ = write!(
            method,
            " header.d={} header.s={}",
            token(&dkim.domain),
            token(&dkim.selector)
        );
        if !dkim.signature_prefix.is_empty() {
            // Base64's '/' is a tspecial (RFC 2045): quoted, the value is a quoted-string.
            let _ = write!(method, " header.b=\"{}\"", token(&dkim.signature_prefix));
        }
        methods.push(method);
    }
    if let Some(dmarc) = &results.dmarc {
        let mut method = format!("dmarc={}", dmarc.result.as_str());
        if dmarc.result == super::DmarcVerdict::Fail {
            let _ = write!(method, " policy.dmarc={}", dmarc.policy.as_str());
        }
        let _ = write!(method, " header.from={}", token(&dmarc.domain));
        methods.push(method);
    }
    if let Some(arc) = results.arc {
        methods.push(format!("arc={}", arc.as_str()));
    }
    let mut out = format!("Authentication-Results: {}", token(authserv_id));
    if methods.is_empty() {
        out.push_str("; none");
    }
    for method in methods {
        let _ = write!(out, ";\r\n\t{method}");
    }
    out.push_str("\r\n");
    out
}

/// `value` as an RFC 8601 property value: characters outside a safe set (which a
/// sender's DKIM tags could carry: spaces, semicolons, line breaks) are dropped, so a
/// forged value cannot add results of its own.
fn token(value: &str) -> String {
    let safe: String = value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || ".-_@+=/".contains(*c))
        .collect();
    if safe.is_empty() {
        "unknown".to_owned()
    } else {
        safe
    }
}

/// `text` fit for a comment: printable ASCII without parentheses or backslashes, at most
/// 100 characters.
fn comment(text: &str) -> String {
    text.chars()
        .filter(|c| (c.is_ascii_graphic() || *c == ' ') && !"()\\".contains(*c))
        .take(100)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sender_auth::{
        DkimCheck, DkimVerdict, DmarcCheck, DmarcPolicy, DmarcVerdict, SpfCheck, SpfVerdict,
    };

    fn full() -> SenderAuthResults {
        SenderAuthResults {
            spf_mail_from: Some(SpfCheck {
                domain: "example.org".into(),
                result: SpfVerdict::Pass,
            }),
            mail_from: "alice@example.org".into(),
            dkim: vec![DkimCheck {
                domain: "example.org".into(),
                selector: "s1".into(),
                result: DkimVerdict::Pass,
                aligned: true,
                detail: String::new(),
                signature_prefix: "AbCd+/12".into(),
            }],
            dmarc: Some(DmarcCheck {
                domain: "example.org".into(),
                result: DmarcVerdict::Pass,
                policy: DmarcPolicy::Reject,
                spf_aligned: true,
                dkim_aligned: true,
            }),
            arc: Some(DkimVerdict::None),
            from_domain: "example.org".into(),
            ..SenderAuthResults::for_client("192.0.2.1".parse().unwrap())
        }
    }

    #[test]
    fn every_method_gets_a_clause() {
        assert_eq!(
            authentication_results("mx.test", &full()),
            "Authentication-Results: mx.test;\r\n\tspf=pass smtp.mailfrom=alice@example.org;\r\n\t\
dkim=pass header.d=example.org header.s=s1 header.b=\"AbCd+/12\";\r\n\tdmarc=pass header.from=example.org;\r\n\tarc=none\r\n"
        );
    }

    #[test]
    fn a_failure_names_the_policy_and_nothing_checked_says_none() {
        let mut r = full();
        r.dmarc.as_mut().unwrap().result = DmarcVerdict::Fail;
        assert!(authentication_results("mx.test", &r).contains("dmarc=fail policy.dmarc=reject"));
        let empty = SenderAuthResults::for_client("192.0.2.1".parse().unwrap());
        assert_eq!(
            authentication_results("mx.test", &empty),
            "Authentication-Results: mx.test; none\r\n"
        );
    }

    #[test]
    fn a_forged_selector_cannot_add_a_result() {
        let mut r = full();
        r.dkim[0].selector = "x; dmarc=pass\r\n\tfoo".into();
        let header = authentication_results("mx.test", &r);
        assert!(header.contains("header.s=xdmarc=passfoo"), "{header}");
        // Still one clause per method: spf, dkim, dmarc, arc.
        assert_eq!(header.matches(';').count(), 4, "{header}");
    }
}
