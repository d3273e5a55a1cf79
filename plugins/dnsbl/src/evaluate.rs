//! One stage's lookups: which names to ask which lists about, and what the answers add up
//! to. Pure: the DNS answers come in as values, so this runs natively in unit tests.

use moat_sdk::Symbol;
use moat_sdk::dns::DnsError;

use crate::answer::{Meaning, classify};
use crate::config::List;
use crate::symbols::{CONFIG_ERROR, REFUSED, UNREACHABLE, join_details};

/// One question to one list.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Planned<'a> {
    /// The list asked.
    pub(crate) list: &'a List,
    /// The full name asked, e.g. `2.0.0.127.bl.moat.test`.
    pub(crate) name: String,
}

/// Every list × every subject: `subject.zone` for each, skipping names too long for DNS.
/// Subjects are reversed IPs for IP lists and domain names for the others.
pub(crate) fn plan<'a>(
    lists: impl IntoIterator<Item = &'a List>,
    subjects: &[String],
) -> Vec<Planned<'a>> {
    let mut planned = Vec::new();
    for list in lists {
        for subject in subjects {
            if let Some(name) = crate::query::query_name(subject, &list.zone) {
                planned.push(Planned { list, name });
            }
        }
    }
    planned
}

/// The distinct names to ask (two lists sharing a zone share the question), and for each
/// planned question the index of its name.
pub(crate) fn distinct_names(planned: &[Planned<'_>]) -> (Vec<String>, Vec<usize>) {
    let mut names: Vec<String> = Vec::new();
    let indexes = planned
        .iter()
        .map(
            |question| match names.iter().position(|name| *name == question.name) {
                Some(index) => index,
                None => {
                    names.push(question.name.clone());
                    names.len() - 1
                }
            },
        )
        .collect();
    (names, indexes)
}

/// How serious a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// Worth an operator's look.
    Warn,
    /// The plugin cannot do its job as configured.
    Error,
}

/// What one stage's answers add up to.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Findings {
    /// The symbols: one per listed symbol name, then `DNSBL_REFUSED`,
    /// `DNSBL_UNREACHABLE` and `DNSBL_CONFIG_ERROR` when they apply.
    pub(crate) symbols: Vec<Symbol>,
    /// The sum of the listed symbols' scores (weights applied).
    pub(crate) listed_score: f64,
    /// Lines for the gateway's log.
    pub(crate) logs: Vec<(Level, String)>,
}

/// One listed symbol being gathered: its score and the `name → answer` details.
struct Hit {
    symbol: String,
    score: f64,
    details: Vec<String>,
}

/// Adds up the answers: `answers[indexes[i]]` answers `planned[i]`.
///
/// Each symbol appears once per stage, however many names or codes produced it, with the
/// largest score among them and every `name → answer` in its detail. Refusals
/// (127.255.255.x) and unreachable lists give zero-score `DNSBL_REFUSED` /
/// `DNSBL_UNREACHABLE` naming the list; answers outside 127.0.0.0/8 are logged and
/// ignored; a denied `dns` capability gives `DNSBL_CONFIG_ERROR`.
pub(crate) fn evaluate(
    planned: &[Planned<'_>],
    indexes: &[usize],
    answers: &[Result<Vec<String>, DnsError>],
) -> Findings {
    let mut hits: Vec<Hit> = Vec::new();
    let mut refused = Vec::new();
    let mut unreachable = Vec::new();
    let mut denied = false;
    let mut logs = Vec::new();

    for (question, index) in planned.iter().zip(indexes) {
        let list = &question.list.name;
        let name = &question.name;
        let Some(answer) = answers.get(*index) else {
            continue;
        };
        match answer {
            Ok(records) => {
                for record in records {
                    match classify(question.list, record) {
                        Meaning::Listed { symbol, score } => {
                            let detail = format!("{name} → {record}");
                            match hits.iter_mut().find(|hit| hit.symbol == symbol) {
                                Some(hit) => {
                                    if score.abs() > hit.score.abs() {
                                        hit.score = score;
                                    }
                                    if !hit.details.contains(&detail) {
                                        hit.details.push(detail);
                                    }
                                }
                                None => hits.push(Hit {
                                    symbol,
                                    score,
                                    details: vec![detail],
                                }),
                            }
                        }
                        Meaning::Refused => refused.push(format!("{list}: {name} → {record}")),
                        Meaning::Bogus => logs.push((
                            Level::Warn,
                            format!(
                                "{list}: {name} answered {record}, outside 127.0.0.0/8; ignored"
                            ),
                        )),
                    }
                }
            }
            Err(DnsError::NotFound) => {}
            Err(DnsError::Timeout) => unreachable.push(format!("{list}: {name} timed out")),
            Err(DnsError::ServerFailure) => {
                unreachable.push(format!("{list}: {name} server failure"));
            }
            Err(DnsError::Denied) => denied = true,
            Err(error) => logs.push((Level::Warn, format!("{list}: {name}: {error}"))),
        }
    }

    let listed_score = hits.iter().map(|hit| hit.score).sum();
    let mut symbols: Vec<Symbol> = hits
        .into_iter()
        .map(|hit| Symbol::new(hit.symbol, hit.score, join_details(&hit.details)))
        .collect();
    if !refused.is_empty() {
        logs.push((
            Level::Warn,
            format!("query refused: {}", refused.join("; ")),
        ));
        symbols.push(Symbol::new(REFUSED, 0.0, join_details(&refused)));
    }
    if !unreachable.is_empty() {
        symbols.push(Symbol::new(UNREACHABLE, 0.0, join_details(&unreachable)));
    }
    if denied {
        let detail = "the dns capability is not granted to this plugin";
        logs.push((
            Level::Error,
            format!("no block list can be queried: {detail}"),
        ));
        symbols.push(Symbol::new(CONFIG_ERROR, 0.0, detail));
    }
    Findings {
        symbols,
        listed_score,
        logs,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::Ipv4Addr;

    use super::*;
    use crate::config::{Code, Kind};

    fn test_list(name: &str, zone: &str, weight: f64) -> List {
        List {
            name: name.to_owned(),
            zone: zone.to_owned(),
            kind: Kind::Ip,
            weight,
            score: 4.0,
            codes: BTreeMap::from([(
                Ipv4Addr::new(127, 0, 0, 2),
                Code {
                    symbol: format!("{name}_SPAM").into(),
                    score: 5.0,
                },
            )]),
        }
    }

    fn ok(records: &[&str]) -> Result<Vec<String>, DnsError> {
        Ok(records.iter().map(|r| (*r).to_owned()).collect())
    }

    fn run(planned: &[Planned<'_>], answers: &[Result<Vec<String>, DnsError>]) -> Findings {
        let (names, indexes) = distinct_names(planned);
        assert_eq!(names.len(), answers.len(), "one answer per distinct name");
        evaluate(planned, &indexes, answers)
    }

    fn names(findings: &Findings) -> Vec<&str> {
        findings.symbols.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn plans_every_list_and_subject() {
        let a = test_list("A", "a.test", 1.0);
        let b = test_list("B", "b.test", 1.0);
        let subjects = ["x.example".to_owned(), "y.example".to_owned()];
        let planned = plan([&a, &b], &subjects);
        let asked: Vec<&str> = planned.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            asked,
            [
                "x.example.a.test",
                "y.example.a.test",
                "x.example.b.test",
                "y.example.b.test"
            ]
        );
        assert!(plan([&a], &["z".repeat(250)]).is_empty());
    }

    #[test]
    fn shared_zones_share_questions() {
        let a = test_list("A", "bl.test", 1.0);
        let b = test_list("B", "bl.test", 1.0);
        let planned = plan([&a, &b], &["2.0.0.127".to_owned()]);
        let (asked, indexes) = distinct_names(&planned);
        assert_eq!(asked, ["2.0.0.127.bl.test"]);
        assert_eq!(indexes, [0, 0]);
        let findings = evaluate(&planned, &indexes, &[ok(&["127.0.0.2"])]);
        assert_eq!(names(&findings), ["A_SPAM", "B_SPAM"]);
        assert_eq!(findings.listed_score, 10.0);
    }

    #[test]
    fn listed_answers_give_symbols_with_details() {
        let list = test_list("TEST_BL", "bl.moat.test", 1.0);
        let planned = plan([&list], &["2.0.0.127".to_owned()]);
        let findings = run(&planned, &[ok(&["127.0.0.2", "127.0.0.4"])]);
        assert_eq!(names(&findings), ["TEST_BL_SPAM", "TEST_BL"]);
        assert_eq!(findings.symbols[0].score, 5.0);
        assert_eq!(
            findings.symbols[0].detail,
            "2.0.0.127.bl.moat.test → 127.0.0.2"
        );
        assert_eq!(findings.symbols[1].score, 4.0);
        assert_eq!(findings.listed_score, 9.0);
        assert!(findings.logs.is_empty());
    }

    #[test]
    fn one_symbol_per_name_across_subjects() {
        let list = test_list("DBL", "dbl.test", 0.5);
        let subjects = ["a.example".to_owned(), "b.example".to_owned()];
        let planned = plan([&list], &subjects);
        let findings = run(&planned, &[ok(&["127.0.0.2"]), ok(&["127.0.0.2"])]);
        assert_eq!(names(&findings), ["DBL_SPAM"]);
        assert_eq!(findings.symbols[0].score, 2.5);
        assert_eq!(
            findings.symbols[0].detail,
            "a.example.dbl.test → 127.0.0.2; b.example.dbl.test → 127.0.0.2"
        );
        assert_eq!(findings.listed_score, 2.5);
    }

    #[test]
    fn not_found_is_silence() {
        let list = test_list("TEST_BL", "bl.moat.test", 1.0);
        let planned = plan([&list], &["1.0.0.127".to_owned()]);
        let findings = run(&planned, &[Err(DnsError::NotFound)]);
        assert_eq!(findings, Findings::default());
    }

    #[test]
    fn refusals_score_nothing_and_name_the_list() {
        let list = test_list("TEST_BL", "bl.moat.test", 1.0);
        let planned = plan([&list], &["2.0.0.127".to_owned()]);
        let findings = run(&planned, &[ok(&["127.255.255.254"])]);
        assert_eq!(names(&findings), [REFUSED]);
        assert_eq!(findings.symbols[0].score, 0.0);
        assert_eq!(
            findings.symbols[0].detail,
            "TEST_BL: 2.0.0.127.bl.moat.test → 127.255.255.254"
        );
        assert_eq!(findings.listed_score, 0.0);
        assert_eq!(findings.logs.len(), 1);
    }

    #[test]
    fn failures_are_unreachable() {
        let list = test_list("TEST_BL", "bl.moat.test", 1.0);
        let subjects = ["1".to_owned(), "2".to_owned(), "3".to_owned()];
        let planned = plan([&list], &subjects);
        let findings = run(
            &planned,
            &[
                Err(DnsError::Timeout),
                Err(DnsError::ServerFailure),
                ok(&["127.0.0.2"]),
            ],
        );
        assert_eq!(names(&findings), ["TEST_BL_SPAM", UNREACHABLE]);
        assert_eq!(findings.symbols[1].score, 0.0);
        assert_eq!(
            findings.symbols[1].detail,
            "TEST_BL: 1.bl.moat.test timed out; TEST_BL: 2.bl.moat.test server failure"
        );
        assert_eq!(findings.listed_score, 5.0);
    }

    #[test]
    fn bogus_answers_are_logged_and_ignored() {
        let list = test_list("TEST_BL", "bl.moat.test", 1.0);
        let planned = plan([&list], &["2.0.0.127".to_owned()]);
        let findings = run(&planned, &[ok(&["192.0.2.1"])]);
        assert!(findings.symbols.is_empty());
        assert_eq!(findings.listed_score, 0.0);
        assert_eq!(findings.logs.len(), 1);
        assert_eq!(findings.logs[0].0, Level::Warn);
    }

    #[test]
    fn invalid_names_are_logged() {
        let list = test_list("TEST_BL", "bl.moat.test", 1.0);
        let planned = plan([&list], &["x".to_owned()]);
        let findings = run(&planned, &[Err(DnsError::InvalidName)]);
        assert!(findings.symbols.is_empty());
        assert_eq!(findings.logs.len(), 1);
    }

    #[test]
    fn denied_capability_is_a_config_error() {
        let list = test_list("TEST_BL", "bl.moat.test", 1.0);
        let subjects = ["1".to_owned(), "2".to_owned()];
        let planned = plan([&list], &subjects);
        let findings = run(&planned, &[Err(DnsError::Denied), Err(DnsError::Denied)]);
        assert_eq!(names(&findings), [CONFIG_ERROR]);
        assert_eq!(findings.symbols[0].score, 0.0);
        assert_eq!(findings.logs[0].0, Level::Error);
    }

    #[test]
    fn every_symbol_is_valid() {
        let list = test_list("TEST_BL", "bl.moat.test", 1.0);
        let subjects: Vec<String> = (0..200).map(|i| format!("{i}.example")).collect();
        let planned = plan([&list], &subjects);
        let answers: Vec<_> = (0..200)
            .map(|i| match i % 4 {
                0 => ok(&["127.0.0.2"]),
                1 => ok(&["127.255.255.254"]),
                2 => Err(DnsError::Timeout),
                _ => ok(&["127.0.0.9"]),
            })
            .collect();
        let findings = run(&planned, &answers);
        assert_eq!(
            names(&findings),
            ["TEST_BL_SPAM", "TEST_BL", REFUSED, UNREACHABLE]
        );
        assert!(findings.symbols.iter().all(Symbol::is_valid));
    }
}
