//! Turning findings into verdicts, and the refusal of clients whose IP-list score reaches
//! `reject_threshold`: at the greeting, or at each RCPT TO from the score the connect
//! stage left in the `dnsbl-ip-score` annotation. Pure, no host calls.

use moat_sdk::{Action, Session, Verdict};

use crate::config::{Config, RejectAt};
use crate::evaluate::Findings;
use crate::symbols::{
    CONFIG_ERROR, IP_SCORE_ANNOTATION, REJECT_AT_CONNECT, REJECT_AT_RCPT, join_details,
};

/// The verdict of a stage that only scores (helo, mail_from, data).
pub(crate) fn scoring_verdict(findings: Findings) -> Verdict {
    findings.symbols.into_iter().collect()
}

/// The connect-stage verdict: the IP lists' symbols, the `dnsbl-ip-score` annotation (the
/// sum of their scores, always present), and `Reject` when `reject_at = "connect"` and
/// the sum reaches `reject_threshold`.
pub(crate) fn connect_verdict(config: &Config, findings: Findings) -> Verdict {
    let score = findings.listed_score;
    let mut verdict = scoring_verdict(findings).annotate(IP_SCORE_ANNOTATION, format!("{score}"));
    if config.reject_at == RejectAt::Connect
        && let Some(threshold) = config.reject_threshold
        && score >= threshold
    {
        verdict = verdict
            .symbol(
                REJECT_AT_CONNECT,
                0.0,
                format!("client IP score {score} reached reject_threshold {threshold}"),
            )
            .action(Action::Reject);
    }
    verdict
}

/// The rcpt_to-stage verdict: with `reject_at = "rcpt_to"`, `Reject` (and the zero-score
/// `DNSBL_REJECT_AT_RCPT`) when the score the connect stage left reaches
/// `reject_threshold`. Authenticated clients are never refused here; without the
/// annotation (connect stage disabled or failed) nothing happens.
pub(crate) fn rcpt_verdict(config: &Config, session: &Session) -> Verdict {
    let Some(threshold) = config.reject_threshold else {
        return Verdict::new();
    };
    if config.reject_at != RejectAt::RcptTo || session.client.authenticated_user.is_some() {
        return Verdict::new();
    }
    let Some(score) = session
        .annotation(IP_SCORE_ANNOTATION)
        .and_then(|value| value.trim().parse::<f64>().ok())
    else {
        return Verdict::new();
    };
    if score >= threshold {
        Verdict::new()
            .symbol(
                REJECT_AT_RCPT,
                0.0,
                format!("client IP score {score} reached reject_threshold {threshold}"),
            )
            .action(Action::Reject)
    } else {
        Verdict::new()
    }
}

/// The verdict when the configuration cannot be used: only `DNSBL_CONFIG_ERROR`, score 0,
/// naming the problems.
pub(crate) fn config_error_verdict(problems: &[String]) -> Verdict {
    Verdict::new().symbol(CONFIG_ERROR, 0.0, join_details(problems))
}

#[cfg(test)]
mod tests {
    use moat_sdk::{Annotation, ClientInfo, Symbol};

    use super::*;

    fn config(threshold: Option<f64>, reject_at: RejectAt) -> Config {
        Config {
            reject_threshold: threshold,
            reject_at,
            exclude_private_ips: true,
            exclude_authenticated: true,
            exclude_reserved_names: true,
            lists: Vec::new(),
        }
    }

    fn findings(score: f64) -> Findings {
        Findings {
            symbols: vec![Symbol::new(
                "TEST_BL_SPAM",
                score,
                "2.0.0.127.bl.moat.test → 127.0.0.2",
            )],
            listed_score: score,
            logs: Vec::new(),
        }
    }

    fn session_with_score(score: Option<&str>, user: Option<&str>) -> Session {
        Session {
            client: ClientInfo {
                authenticated_user: user.map(str::to_owned),
                ..ClientInfo::default()
            },
            annotations: score
                .map(|score| vec![Annotation::new(IP_SCORE_ANNOTATION, score)])
                .unwrap_or_default(),
            ..Session::default()
        }
    }

    #[test]
    fn connect_always_annotates_the_score() {
        let verdict = connect_verdict(&config(None, RejectAt::Connect), findings(5.0));
        assert_eq!(
            verdict.annotations,
            [Annotation::new(IP_SCORE_ANNOTATION, "5")]
        );
        assert_eq!(verdict.action, None);
        assert_eq!(verdict.symbols.len(), 1);
        let verdict = connect_verdict(&config(Some(8.0), RejectAt::Connect), Findings::default());
        assert_eq!(
            verdict.annotations,
            [Annotation::new(IP_SCORE_ANNOTATION, "0")]
        );
        assert!(verdict.symbols.is_empty());
        let verdict = connect_verdict(&config(None, RejectAt::Connect), findings(6.5));
        assert_eq!(verdict.annotations[0].value, "6.5");
    }

    #[test]
    fn connect_rejects_at_the_threshold() {
        let verdict = connect_verdict(&config(Some(5.0), RejectAt::Connect), findings(5.0));
        assert_eq!(verdict.action, Some(Action::Reject));
        let names: Vec<&str> = verdict.symbols.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["TEST_BL_SPAM", REJECT_AT_CONNECT]);
        assert_eq!(verdict.symbols[1].score, 0.0);
        assert_eq!(
            verdict.symbols[1].detail,
            "client IP score 5 reached reject_threshold 5"
        );
        let below = connect_verdict(&config(Some(5.5), RejectAt::Connect), findings(5.0));
        assert_eq!(below.action, None);
    }

    #[test]
    fn connect_leaves_rcpt_to_rejection_to_later() {
        let verdict = connect_verdict(&config(Some(1.0), RejectAt::RcptTo), findings(5.0));
        assert_eq!(verdict.action, None);
        assert_eq!(verdict.annotations[0].value, "5");
    }

    #[test]
    fn rcpt_to_rejects_from_the_annotation() {
        let config = config(Some(8.0), RejectAt::RcptTo);
        let verdict = rcpt_verdict(&config, &session_with_score(Some("9"), None));
        assert_eq!(verdict.action, Some(Action::Reject));
        assert_eq!(verdict.symbols[0].name, REJECT_AT_RCPT);
        assert_eq!(verdict.symbols[0].score, 0.0);
        assert_eq!(
            verdict.symbols[0].detail,
            "client IP score 9 reached reject_threshold 8"
        );
        assert_eq!(
            rcpt_verdict(&config, &session_with_score(Some("8"), None)).action,
            Some(Action::Reject)
        );
        assert!(rcpt_verdict(&config, &session_with_score(Some("7.5"), None)).is_empty());
    }

    #[test]
    fn rcpt_to_does_nothing_otherwise() {
        let at_rcpt = config(Some(8.0), RejectAt::RcptTo);
        // Authenticated clients are not refused.
        assert!(rcpt_verdict(&at_rcpt, &session_with_score(Some("9"), Some("alice"))).is_empty());
        // No annotation, or a garbled one.
        assert!(rcpt_verdict(&at_rcpt, &session_with_score(None, None)).is_empty());
        assert!(rcpt_verdict(&at_rcpt, &session_with_score(Some("lots"), None)).is_empty());
        // Rejection happens at connect, or not at all.
        let at_connect = config(Some(8.0), RejectAt::Connect);
        assert!(rcpt_verdict(&at_connect, &session_with_score(Some("9"), None)).is_empty());
        let no_threshold = config(None, RejectAt::RcptTo);
        assert!(rcpt_verdict(&no_threshold, &session_with_score(Some("9"), None)).is_empty());
    }

    #[test]
    fn config_errors_score_nothing() {
        let verdict =
            config_error_verdict(&["reject_at: bad".to_owned(), "lists[0]: bad".to_owned()]);
        assert_eq!(verdict.symbols.len(), 1);
        assert_eq!(verdict.symbols[0].name, CONFIG_ERROR);
        assert_eq!(verdict.symbols[0].score, 0.0);
        assert_eq!(verdict.symbols[0].detail, "reject_at: bad; lists[0]: bad");
        assert_eq!(verdict.action, None);
    }
}
