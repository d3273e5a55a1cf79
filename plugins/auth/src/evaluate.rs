//! The plugin's decision for one stage: which findings to report (SPF once per message,
//! at the first stage that has it), their scores, the action the operator's settings
//! demand, and the note that tells the data stage SPF was already counted. A pure
//! function, unit-tested natively; `lib.rs` feeds it the host's results and config.

use moat_sdk::sender_auth::{DmarcPolicy, DmarcResult, SenderAuth, SpfResult};
use moat_sdk::{Action, Verdict};

use crate::dkim::dkim;
use crate::dmarc::{arc, dmarc};
use crate::finding::Finding;
use crate::settings::Settings;
use crate::spf::spf;
use crate::symbols::Scores;
use crate::trusted::trusted_sender;

/// The annotation the mail-from stage leaves when it scored SPF, so the data stage does
/// not count it again.
pub(crate) const SPF_SCORED: &str = "auth-spf-scored";

/// The stage being evaluated, with what the data stage needs to know about the earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Checkpoint {
    /// MAIL FROM: only SPF is known.
    MailFrom,
    /// DATA: DKIM, DMARC and ARC are known too; SPF too, unless it was scored at MAIL
    /// FROM already (`spf_scored`). The host computes it only here when the client is a
    /// trusted relay.
    Data {
        /// Whether the mail-from stage left the [`SPF_SCORED`] note.
        spf_scored: bool,
    },
}

/// The verdict for `auth` at `checkpoint`: the findings scored by `scores`, the action
/// `settings` demand (reject over quarantine, none for a trusted sender), and at MAIL FROM
/// the [`SPF_SCORED`] note when SPF was checked.
pub(crate) fn evaluate(
    auth: &SenderAuth,
    checkpoint: Checkpoint,
    settings: &Settings,
    scores: &Scores,
) -> Verdict {
    let (score_spf, at_data) = match checkpoint {
        Checkpoint::MailFrom => (true, false),
        Checkpoint::Data { spf_scored } => (!spf_scored, true),
    };
    let mut findings = Vec::new();
    if score_spf {
        findings.extend(spf(auth));
    }
    let mut trusted = false;
    if at_data {
        findings.extend(dkim(auth));
        findings.extend(dmarc(auth));
        findings.extend(arc(auth));
        if let Some(finding) = trusted_sender(auth, settings.trusted_senders()) {
            trusted = true;
            findings.push(finding);
        }
    }
    let mut verdict = scored(findings, scores);
    let action = if trusted {
        None
    } else {
        demanded_action(auth, score_spf, at_data, settings)
    };
    if let Some(action) = action {
        verdict = verdict.action(action);
    }
    let spf_checked = auth.spf_mail_from.is_some() || auth.spf_helo.is_some();
    if checkpoint == Checkpoint::MailFrom && spf_checked {
        verdict = verdict.annotate(SPF_SCORED, "yes");
    }
    verdict
}

/// The findings as symbols, each with its configured score.
fn scored(findings: Vec<Finding>, scores: &Scores) -> Verdict {
    findings
        .into_iter()
        .fold(Verdict::new(), |verdict, finding| {
            let score = scores.score(finding.symbol);
            verdict.symbol(finding.symbol, score, finding.detail)
        })
}

/// The strongest action the settings demand: Reject for a failing SPF (`spf_reject`, when
/// SPF is scored at this stage) or a DMARC failure under `p=reject` (`dmarc_reject`), else
/// Quarantine for a DMARC failure under `p=quarantine` (`dmarc_quarantine`).
fn demanded_action(
    auth: &SenderAuth,
    score_spf: bool,
    at_data: bool,
    settings: &Settings,
) -> Option<Action> {
    let spf_fail = score_spf
        && auth
            .spf_mail_from
            .as_ref()
            .is_some_and(|check| check.result == SpfResult::Fail);
    let dmarc_fail_policy = auth
        .dmarc
        .as_ref()
        .filter(|check| at_data && check.result == DmarcResult::Fail)
        .map(|check| check.policy);
    if (settings.spf_reject && spf_fail)
        || (settings.dmarc_reject && dmarc_fail_policy == Some(DmarcPolicy::Reject))
    {
        Some(Action::Reject)
    } else if settings.dmarc_quarantine && dmarc_fail_policy == Some(DmarcPolicy::Quarantine) {
        Some(Action::Quarantine)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use moat_sdk::sender_auth::{DkimResult, DkimSignature, DmarcCheck, SpfCheck};
    use moat_sdk::{Annotation, Symbol};

    use super::*;
    use crate::symbols::{
        DKIM_INVALID, DKIM_VALID, DKIM_VALID_ALIGNED, DMARC_FAIL_QUARANTINE, DMARC_FAIL_REJECT,
        DMARC_PASS, SPF_FAIL, SPF_HELO_SOFTFAIL, SPF_PASS, SPF_SOFTFAIL, TRUSTED_SENDER,
    };

    const DATA: Checkpoint = Checkpoint::Data { spf_scored: true };
    const DATA_WITH_SPF: Checkpoint = Checkpoint::Data { spf_scored: false };

    fn spf_check(domain: &str, result: SpfResult) -> Option<SpfCheck> {
        Some(SpfCheck {
            domain: domain.to_owned(),
            result,
        })
    }

    /// SPF results only, as at MAIL FROM.
    fn envelope(mail_from: SpfResult) -> SenderAuth {
        SenderAuth {
            client_ip: "192.0.2.1".to_owned(),
            spf_mail_from: spf_check("example.com", mail_from),
            ..SenderAuth::default()
        }
    }

    /// A message from `from` signed by `signer`, with DMARC `result` under `policy`.
    fn message(
        from: &str,
        signer: &str,
        dkim: DkimResult,
        result: DmarcResult,
        policy: DmarcPolicy,
    ) -> SenderAuth {
        SenderAuth {
            client_ip: "192.0.2.1".to_owned(),
            spf_helo: None,
            spf_mail_from: spf_check(from, SpfResult::None),
            dkim: vec![DkimSignature {
                domain: signer.to_owned(),
                selector: "s1".to_owned(),
                result: dkim,
                aligned: signer == from,
                detail: String::new(),
            }],
            dmarc: Some(DmarcCheck {
                domain: from.to_owned(),
                result,
                policy,
                spf_aligned: false,
                dkim_aligned: dkim == DkimResult::Pass && signer == from,
            }),
            arc: Some(DkimResult::None),
            from_domain: from.to_owned(),
        }
    }

    /// A forged message: From `example.com` (p=`policy`), signed by nobody valid.
    fn forged(policy: DmarcPolicy) -> SenderAuth {
        message(
            "example.com",
            "example.com",
            DkimResult::Fail,
            DmarcResult::Fail,
            policy,
        )
    }

    fn names(verdict: &Verdict) -> Vec<&str> {
        verdict.symbols.iter().map(|s| s.name.as_str()).collect()
    }

    fn defaults() -> Scores {
        Scores::with_overrides(crate::symbols::DEFAULT_SCORES, BTreeMap::new())
    }

    /// Default settings changed by `change`.
    fn switched_on(change: impl FnOnce(&mut Settings)) -> Settings {
        let mut settings = Settings::default();
        change(&mut settings);
        settings
    }

    fn trusting(domain: &str) -> Settings {
        Settings::default()
            .with_trusted_senders([domain.to_owned()])
            .0
    }

    #[test]
    fn mail_from_scores_spf_and_notes_it() {
        let mut auth = envelope(SpfResult::Fail);
        auth.spf_helo = spf_check("mx.example.com", SpfResult::SoftFail);
        let verdict = evaluate(
            &auth,
            Checkpoint::MailFrom,
            &Settings::default(),
            &defaults(),
        );
        assert_eq!(
            verdict.symbols,
            [
                Symbol::new(SPF_FAIL, 1.0, "spf=fail for example.com from 192.0.2.1"),
                Symbol::new(
                    SPF_HELO_SOFTFAIL,
                    0.2,
                    "helo spf=softfail for mx.example.com from 192.0.2.1"
                ),
            ]
        );
        assert_eq!(verdict.annotations, [Annotation::new(SPF_SCORED, "yes")]);
        assert_eq!(verdict.action, None);
    }

    #[test]
    fn mail_from_without_spf_says_nothing() {
        let verdict = evaluate(
            &SenderAuth::default(),
            Checkpoint::MailFrom,
            &Settings::default(),
            &defaults(),
        );
        assert!(verdict.is_empty(), "{verdict:?}");
    }

    #[test]
    fn mail_from_reports_only_spf() {
        let auth = forged(DmarcPolicy::Reject);
        let settings = switched_on(|s| {
            s.dmarc_reject = true;
        });
        let verdict = evaluate(&auth, Checkpoint::MailFrom, &settings, &defaults());
        assert_eq!(names(&verdict), ["SPF_NONE"]);
        assert_eq!(verdict.action, None);
    }

    #[test]
    fn spf_reject_rejects_a_failing_sender_at_mail_from() {
        let on = switched_on(|s| {
            s.spf_reject = true;
        });
        let fail = envelope(SpfResult::Fail);
        let check = |auth: &SenderAuth, settings: &Settings| {
            evaluate(auth, Checkpoint::MailFrom, settings, &defaults()).action
        };
        assert_eq!(check(&fail, &on), Some(Action::Reject));
        assert_eq!(check(&fail, &Settings::default()), None);
        assert_eq!(check(&envelope(SpfResult::SoftFail), &on), None);
    }

    #[test]
    fn data_does_not_count_spf_twice() {
        let mut auth = forged(DmarcPolicy::None);
        auth.spf_mail_from = spf_check("example.com", SpfResult::SoftFail);
        let after_mail_from = evaluate(&auth, DATA, &Settings::default(), &defaults());
        assert!(!names(&after_mail_from).contains(&SPF_SOFTFAIL));
        assert!(after_mail_from.annotations.is_empty());
        let spf_only_at_data = evaluate(&auth, DATA_WITH_SPF, &Settings::default(), &defaults());
        assert_eq!(names(&spf_only_at_data)[0], SPF_SOFTFAIL);
        assert!(spf_only_at_data.annotations.is_empty());
    }

    #[test]
    fn spf_reject_at_data_only_when_spf_is_scored_there() {
        let mut auth = message(
            "example.com",
            "esp.example",
            DkimResult::Pass,
            DmarcResult::Fail,
            DmarcPolicy::None,
        );
        auth.spf_mail_from = spf_check("example.com", SpfResult::Fail);
        let on = switched_on(|s| {
            s.spf_reject = true;
        });
        assert_eq!(evaluate(&auth, DATA, &on, &defaults()).action, None);
        assert_eq!(
            evaluate(&auth, DATA_WITH_SPF, &on, &defaults()).action,
            Some(Action::Reject)
        );
    }

    #[test]
    fn an_authenticated_message_gets_every_hammy_symbol() {
        let mut auth = message(
            "example.com",
            "example.com",
            DkimResult::Pass,
            DmarcResult::Pass,
            DmarcPolicy::Reject,
        );
        auth.spf_mail_from = spf_check("example.com", SpfResult::Pass);
        auth.arc = Some(DkimResult::Pass);
        let verdict = evaluate(&auth, DATA_WITH_SPF, &Settings::default(), &defaults());
        let scored: Vec<(&str, f64)> = verdict
            .symbols
            .iter()
            .map(|s| (s.name.as_str(), s.score))
            .collect();
        assert_eq!(
            scored,
            [
                (SPF_PASS, -0.2),
                (DKIM_VALID, -0.1),
                (DKIM_VALID_ALIGNED, -0.5),
                (DMARC_PASS, -0.5),
                ("ARC_VALID", -0.5),
            ]
        );
        assert_eq!(verdict.action, None);
    }

    #[test]
    fn dmarc_reject_acts_only_when_switched_on() {
        let auth = forged(DmarcPolicy::Reject);
        let off = evaluate(&auth, DATA, &Settings::default(), &defaults());
        assert_eq!(names(&off), [DKIM_INVALID, DMARC_FAIL_REJECT]);
        assert_eq!(off.symbols[1].score, 3.0);
        assert_eq!(off.action, None);
        let on = switched_on(|s| {
            s.dmarc_reject = true;
        });
        assert_eq!(
            evaluate(&auth, DATA, &on, &defaults()).action,
            Some(Action::Reject)
        );
    }

    #[test]
    fn dmarc_reject_follows_the_domain_policy() {
        let on = switched_on(|s| {
            s.dmarc_reject = true;
        });
        for policy in [
            DmarcPolicy::Quarantine,
            DmarcPolicy::None,
            DmarcPolicy::Unspecified,
        ] {
            let verdict = evaluate(&forged(policy), DATA, &on, &defaults());
            assert_eq!(verdict.action, None, "{policy:?}");
        }
        let passing = message(
            "example.com",
            "example.com",
            DkimResult::Pass,
            DmarcResult::Pass,
            DmarcPolicy::Reject,
        );
        assert_eq!(evaluate(&passing, DATA, &on, &defaults()).action, None);
    }

    #[test]
    fn dmarc_quarantine_quarantines_under_p_quarantine() {
        let on = switched_on(|s| {
            s.dmarc_quarantine = true;
        });
        let verdict = evaluate(&forged(DmarcPolicy::Quarantine), DATA, &on, &defaults());
        assert_eq!(names(&verdict), [DKIM_INVALID, DMARC_FAIL_QUARANTINE]);
        assert_eq!(verdict.symbols[1].score, 2.0);
        assert_eq!(verdict.action, Some(Action::Quarantine));
        let reject_policy = evaluate(&forged(DmarcPolicy::Reject), DATA, &on, &defaults());
        assert_eq!(reject_policy.action, None);
        let off = evaluate(
            &forged(DmarcPolicy::Quarantine),
            DATA,
            &Settings::default(),
            &defaults(),
        );
        assert_eq!(off.action, None);
    }

    #[test]
    fn reject_wins_over_quarantine() {
        let mut auth = forged(DmarcPolicy::Quarantine);
        auth.spf_mail_from = spf_check("example.com", SpfResult::Fail);
        let settings = switched_on(|s| {
            s.spf_reject = true;
            s.dmarc_quarantine = true;
        });
        let verdict = evaluate(&auth, DATA_WITH_SPF, &settings, &defaults());
        assert_eq!(verdict.action, Some(Action::Reject));
    }

    #[test]
    fn operator_scores_override_the_defaults() {
        let scores = Scores::with_overrides(
            crate::symbols::DEFAULT_SCORES,
            BTreeMap::from([
                (SPF_SOFTFAIL.to_owned(), 1.0),
                (DMARC_FAIL_REJECT.to_owned(), 6.0),
            ]),
        );
        let mail_from = evaluate(
            &envelope(SpfResult::SoftFail),
            Checkpoint::MailFrom,
            &Settings::default(),
            &scores,
        );
        assert_eq!(mail_from.symbols[0].score, 1.0);
        let data = evaluate(
            &forged(DmarcPolicy::Reject),
            DATA,
            &Settings::default(),
            &scores,
        );
        assert_eq!(data.symbols[1].name, DMARC_FAIL_REJECT);
        assert_eq!(data.symbols[1].score, 6.0);
        assert_eq!(data.symbols[0].score, 1.0, "DKIM_INVALID keeps its default");
    }

    #[test]
    fn an_authenticated_trusted_sender_is_trusted() {
        let auth = message(
            "news.example.com",
            "news.example.com",
            DkimResult::Pass,
            DmarcResult::Pass,
            DmarcPolicy::Reject,
        );
        let verdict = evaluate(&auth, DATA, &trusting("example.com"), &defaults());
        let trusted = verdict.symbols.last().map(|s| (s.name.as_str(), s.score));
        assert_eq!(trusted, Some((TRUSTED_SENDER, -10.0)));
        let unlisted = evaluate(&auth, DATA, &trusting("example.org"), &defaults());
        assert!(!names(&unlisted).contains(&TRUSTED_SENDER));
    }

    #[test]
    fn a_forged_trusted_sender_is_not_trusted_and_still_rejected() {
        let mut settings = trusting("example.com");
        settings.dmarc_reject = true;
        let verdict = evaluate(&forged(DmarcPolicy::Reject), DATA, &settings, &defaults());
        assert!(!names(&verdict).contains(&TRUSTED_SENDER));
        assert_eq!(verdict.action, Some(Action::Reject));
        let other_signer = message(
            "example.com",
            "spammer.example",
            DkimResult::Pass,
            DmarcResult::Fail,
            DmarcPolicy::Reject,
        );
        let verdict = evaluate(&other_signer, DATA, &settings, &defaults());
        assert!(!names(&verdict).contains(&TRUSTED_SENDER));
        assert_eq!(verdict.action, Some(Action::Reject));
    }

    #[test]
    fn a_trusted_sender_is_never_rejected_or_quarantined() {
        // Inconsistent on purpose: an aligned DKIM pass with a DMARC failure. SPF fails too,
        // as for a forwarded message.
        let mut auth = message(
            "example.com",
            "example.com",
            DkimResult::Pass,
            DmarcResult::Fail,
            DmarcPolicy::Reject,
        );
        auth.spf_mail_from = spf_check("example.com", SpfResult::Fail);
        let mut settings = trusting("example.com");
        settings.dmarc_reject = true;
        settings.spf_reject = true;
        let verdict = evaluate(&auth, DATA_WITH_SPF, &settings, &defaults());
        assert!(names(&verdict).contains(&TRUSTED_SENDER));
        assert_eq!(verdict.action, None);
        auth.dmarc = auth.dmarc.map(|check| DmarcCheck {
            policy: DmarcPolicy::Quarantine,
            ..check
        });
        settings.dmarc_quarantine = true;
        assert_eq!(evaluate(&auth, DATA, &settings, &defaults()).action, None);
    }
}
