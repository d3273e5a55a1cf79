//! The header fields Moat adds to a message it accepts: `Received` (RFC 5321 §4.4), the
//! `Date` and `Message-ID` a submitted message lacks, and the verdict — SpamAssassin's
//! `X-Spam-*` fields, in its format, and Moat's `X-Moat-Report` — on every message.

use std::fmt::Write as _;

use crate::config::{HeadersConfig, VerdictField};
use crate::filter::pipeline::{ClientInfo, TlsInfo};
use crate::filter::{Action, Decision};

/// What the `Received` field records about the hop into Moat.
pub struct ReceivedFields<'a> {
    /// The client.
    pub client: &'a ClientInfo,
    /// Moat's host name.
    pub hostname: &'a str,
    /// `ESMTP`, `ESMTPS`, `ESMTPA`, `ESMTPSA` (RFC 3848).
    pub protocol: &'a str,
    /// The session id, for correlating with the logs.
    pub id: &'a str,
    /// The single recipient, when there is exactly one (RFC 5321 `for` clause).
    pub single_recipient: Option<&'a str>,
    /// Unix time in seconds.
    pub now: i64,
}

/// The `Received:` field, folded, ending in CRLF.
pub fn received(fields: &ReceivedFields<'_>) -> String {
    let client = fields.client;
    let helo = client.helo.as_deref().unwrap_or("unknown");
    let rdns = client.reverse_dns.as_deref().unwrap_or("unknown");
    let ip = match client.ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("IPv6:{v6}"),
    };
    let mut out = format!(
        "Received: from {helo} ({rdns} [{ip}])\r\n\tby {} (Moat) with {}",
        fields.hostname, fields.protocol
    );
    if let Some(TlsInfo { version, cipher }) = &client.tls {
        let _ = write!(out, "\r\n\t(version={version} cipher={cipher})");
    }
    if let Some(user) = &client.authenticated_user {
        let _ = write!(out, "\r\n\t(authenticated as {user})");
    }
    let _ = write!(out, "\r\n\tid {}", fields.id);
    if let Some(rcpt) = fields.single_recipient {
        let _ = write!(out, "\r\n\tfor <{rcpt}>");
    }
    let date = mail_parser::DateTime::from_timestamp(fields.now).to_rfc822();
    let _ = write!(out, ";\r\n\t{date}\r\n");
    out
}

/// The `Date` and `Message-ID` fields a submitted message lacks, each ending in CRLF
/// (empty when it has both). RFC 5322 §3.6 requires a Date and expects a Message-ID, some
/// receivers refuse mail without them, and a mail client that leaves them to its
/// submission server (as RFC 6409 §8.2 and §8.3 allow) expects this one to add them, as
/// Postfix's cleanup does. `unique` makes the Message-ID's left part unique (random).
pub fn missing_origin_fields(
    has_date: bool,
    has_message_id: bool,
    hostname: &str,
    now: i64,
    unique: u64,
) -> String {
    let mut out = String::new();
    if !has_date {
        let date = mail_parser::DateTime::from_timestamp(now).to_rfc822();
        let _ = write!(out, "Date: {date}\r\n");
    }
    if !has_message_id {
        let _ = write!(out, "Message-ID: <{now:x}.{unique:016x}@{hostname}>\r\n");
    }
    out
}

/// The verdict fields `config` switches on, each ending in CRLF, in the order of
/// [`VerdictField::ALL`]. `required` is the tag threshold the decision was made with.
/// Every accepted message gets them (not only tagged ones), so a mail client or a Sieve
/// script can rely on `X-Spam-Flag` and `X-Spam-Status` being there.
pub fn verdict_fields(decision: &Decision, required: f64, config: &HeadersConfig) -> String {
    let spam = decision.action.severity() >= Action::Tag.severity();
    let mut out = String::new();
    for field in VerdictField::ALL.into_iter().filter(|f| config.adds(*f)) {
        let value = match field {
            VerdictField::SpamFlag => (if spam { "YES" } else { "NO" }).to_owned(),
            VerdictField::SpamScore => decimals(decision.score, 2),
            VerdictField::SpamLevel => stars(decision.score),
            VerdictField::SpamStatus => fold(field.name(), &spam_status(decision, required, spam)),
            VerdictField::Report => report(decision),
        };
        let _ = write!(out, "{}: {value}\r\n", field.name());
    }
    out
}

/// SpamAssassin's `X-Spam-Status` value, unfolded: `Yes, score=7.3 required=5.0
/// tests=A,B autolearn=no version=moat-0.1.0`. The tests are every symbol of the report
/// (those weighed 0 too), each name once, in byte order as Perl's `sort` puts them, or
/// `none`. Learning happens after the reply, so `autolearn` says `no`.
fn spam_status(decision: &Decision, required: f64, spam: bool) -> String {
    let mut tests: Vec<&str> = decision.report.iter().map(|l| l.name.as_str()).collect();
    tests.sort_unstable();
    tests.dedup();
    let tests = if tests.is_empty() {
        "none".to_owned()
    } else {
        tests.join(",")
    };
    format!(
        "{}, score={} required={} tests={tests} autolearn=no version=moat-{}",
        if spam { "Yes" } else { "No" },
        status_score(decision.score, required, spam),
        decimals(required, 1),
        env!("CARGO_PKG_VERSION"),
    )
}

/// The score as `X-Spam-Status` shows it, with one decimal; but a message whose score
/// is below the threshold never shows the threshold itself (4.96 of 5.0 reads 4.9), so
/// no one reads a "No" as a mistake (SpamAssassin's `get_tag_value_for_score`, its bug
/// 6419).
fn status_score(score: f64, required: f64, spam: bool) -> String {
    let shown = decimals(score, 1);
    let required_shown = decimals(required, 1);
    let value = |text: &str| text.parse::<f64>().unwrap_or(score);
    if !spam && score < required && value(&shown) >= value(&required_shown) {
        return decimals(value(&required_shown) - 0.1, 1);
    }
    shown
}

/// `x` with `places` decimals, never `-0.0`: a score that rounds to zero is zero (as
/// reports never say `-0.00`).
fn decimals(x: f64, places: usize) -> String {
    let text = format!("{x:.places$}");
    match text.strip_prefix('-') {
        Some(magnitude) if magnitude.bytes().all(|b| b == b'0' || b == b'.') => {
            magnitude.to_owned()
        }
        _ => text,
    }
}

/// `X-Spam-Level`: one `*` per whole point, at most 50, and nothing (an empty field, as
/// SpamAssassin writes it) below 1 and for negative scores.
fn stars(score: f64) -> String {
    // `as` truncates toward zero, as Perl's `int`; the clamp keeps it in 0..=50.
    "*".repeat(score.clamp(0.0, 50.0) as usize)
}

/// `X-Moat-Report`: the action, the score and each symbol with its plugin and
/// contribution, largest first, one per line.
fn report(decision: &Decision) -> String {
    let mut out = format!(
        "action={} score={}",
        decision.action.as_str(),
        decimals(decision.score, 2)
    );
    for (i, line) in decision.report.iter().enumerate() {
        out.push_str(if i == 0 { ";\r\n\t" } else { ",\r\n\t" });
        let _ = write!(
            out,
            "{}.{}({})",
            line.plugin,
            line.name,
            decimals(line.contribution, 2)
        );
    }
    out
}

/// The widest line SpamAssassin folds its fields to, a tab counting 8 columns
/// (`_process_header` calls `Util::wrap` with 79).
const FOLD_WIDTH: usize = 79;

/// `value` of the field `name`, folded as SpamAssassin folds it: pieces end after a space
/// or a comma; a piece that would take the line (`name: ` included) past [`FOLD_WIDTH`]
/// starts a new line, indented with a tab, and the line it leaves loses its trailing
/// spaces. A piece longer than a line stays whole.
fn fold(name: &str, value: &str) -> String {
    const TAB_WIDTH: usize = 8;
    let mut out = String::with_capacity(value.len() + 16);
    let mut width = name.len() + ": ".len();
    let mut first = true;
    for piece in value.split_inclusive([' ', ',']) {
        if !first && width + piece.len() > FOLD_WIDTH {
            out.truncate(out.trim_end_matches(' ').len());
            out.push_str("\r\n\t");
            width = TAB_WIDTH;
        }
        out.push_str(piece);
        width += piece.len();
        first = false;
    }
    out
}

/// The top symbols of a decision, for a reject reply: `A, B, C`.
pub fn top_symbols(decision: &Decision, n: usize) -> String {
    let names: Vec<&str> = decision
        .report
        .iter()
        .filter(|l| l.contribution > 0.0)
        .take(n)
        .map(|l| l.name.as_str())
        .collect();
    if names.is_empty() {
        "policy".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Stage;
    use crate::filter::combine::{DecisionReason, ReportLine};
    use std::net::{IpAddr, Ipv4Addr};

    /// A decision with `action`, whose symbols (plugin `headers`) contribute as given.
    fn decision(action: Action, symbols: &[(&str, f64)]) -> Decision {
        Decision {
            action,
            score: symbols.iter().map(|(_, c)| c).sum::<f64>() + 0.0,
            reason: DecisionReason::Score,
            report: symbols
                .iter()
                .map(|(name, contribution)| ReportLine {
                    plugin: "headers".into(),
                    stage: Stage::Data,
                    name: (*name).into(),
                    score: *contribution,
                    weight: 1.0,
                    contribution: *contribution,
                    detail: String::new(),
                })
                .collect(),
            hard_actions: Vec::new(),
        }
    }

    fn all_fields(decision: &Decision, required: f64) -> String {
        verdict_fields(decision, required, &HeadersConfig::default())
    }

    #[test]
    fn a_tagged_message_gets_every_field_in_spamassassins_format_and_order() {
        let tagged = decision(
            Action::Tag,
            &[("MISSING_MESSAGE_ID", 2.5), ("MISSING_DATE", 4.8)],
        );
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            all_fields(&tagged, 5.0),
            format!(
                "X-Spam-Flag: YES\r\n\
                 X-Spam-Score: 7.30\r\n\
                 X-Spam-Level: *******\r\n\
                 X-Spam-Status: Yes, score=7.3 required=5.0 tests=MISSING_DATE,\r\n\
                 \tMISSING_MESSAGE_ID autolearn=no version=moat-{version}\r\n\
                 X-Moat-Report: action=tag score=7.30;\r\n\
                 \theaders.MISSING_MESSAGE_ID(2.50),\r\n\
                 \theaders.MISSING_DATE(4.80)\r\n"
            )
        );
    }

    #[test]
    fn a_clean_message_says_no_with_an_empty_level_and_no_tests() {
        let clean = decision(Action::Accept, &[]);
        let text = all_fields(&clean, 5.0);
        assert!(
            text.starts_with(
                "X-Spam-Flag: NO\r\nX-Spam-Score: 0.00\r\nX-Spam-Level: \r\n\
                 X-Spam-Status: No, score=0.0 required=5.0 tests=none autolearn=no\r\n\
                 \tversion=moat-"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("\r\nX-Moat-Report: action=accept score=0.00\r\n"),
            "{text}"
        );
    }

    #[test]
    fn negative_scores_keep_their_sign_and_get_no_stars() {
        let text = all_fields(&decision(Action::Accept, &[("BAYES_HAM", -3.0)]), 5.0);
        assert!(text.contains("X-Spam-Score: -3.00\r\n"), "{text}");
        assert!(text.contains("X-Spam-Level: \r\n"), "{text}");
        assert!(
            text.contains("No, score=-3.0 required=5.0 tests=BAYES_HAM "),
            "{text}"
        );
        assert!(text.contains("headers.BAYES_HAM(-3.00)"), "{text}");
        // A score that rounds to zero is zero, never -0.0.
        let text = all_fields(&decision(Action::Accept, &[("A", -0.001)]), 5.0);
        assert!(text.contains("X-Spam-Score: 0.00\r\n"), "{text}");
        assert!(text.contains("score=0.0 required"), "{text}");
        assert!(text.contains("headers.A(0.00)"), "{text}");
        // A negative threshold, as an operator may set one.
        let text = all_fields(&decision(Action::Tag, &[("A", -1.0)]), -1.0);
        assert!(
            text.contains("Yes, score=-1.0 required=-1.0 tests=A "),
            "{text}"
        );
    }

    #[test]
    fn one_star_per_whole_point_up_to_fifty() {
        for (score, expected) in [
            (-7.0, 0),
            (0.0, 0),
            (0.99, 0),
            (1.0, 1),
            (7.3, 7),
            (49.9, 49),
            (50.0, 50),
            (1003.3, 50),
        ] {
            assert_eq!(stars(score), "*".repeat(expected), "{score}");
        }
    }

    #[test]
    fn a_score_below_the_threshold_never_reads_as_the_threshold() {
        // SpamAssassin: 4.96 of 5.0 is "No, score=4.9"; at 5.0 it is spam and says so.
        assert_eq!(status_score(4.96, 5.0, false), "4.9");
        assert_eq!(status_score(4.94, 5.0, false), "4.9");
        assert_eq!(status_score(4.84, 5.0, false), "4.8");
        assert_eq!(status_score(5.0, 5.0, true), "5.0");
        assert_eq!(status_score(0.96, 1.0, false), "0.9");
        assert_eq!(status_score(-0.04, 0.0, false), "-0.1");
        // A plugin's hard action accepted it above the threshold: the real score.
        assert_eq!(status_score(20.0, 5.0, false), "20.0");
        // A hard action tagged it below the threshold.
        assert_eq!(status_score(2.04, 5.0, true), "2.0");
    }

    #[test]
    fn quarantined_messages_are_flagged_and_tests_are_sorted_once_each() {
        let mut held = decision(
            Action::Quarantine,
            &[("R_10", 4.0), ("RCVD_X", 4.0), ("R_1", 4.0)],
        );
        held.report.push(ReportLine {
            plugin: "other".into(),
            ..held.report[0].clone()
        });
        let text = all_fields(&held, 5.0);
        assert!(text.starts_with("X-Spam-Flag: YES\r\n"), "{text}");
        assert!(text.contains(" tests=RCVD_X,R_1,R_10 "), "{text}");
        assert!(text.contains("X-Moat-Report: action=quarantine "), "{text}");
    }

    #[test]
    fn each_field_is_switched_on_its_own() {
        let tagged = decision(Action::Tag, &[("GTUBE", 100.0)]);
        let only = |field: VerdictField| {
            let config = HeadersConfig {
                spam_flag: field == VerdictField::SpamFlag,
                spam_score: field == VerdictField::SpamScore,
                spam_level: field == VerdictField::SpamLevel,
                spam_status: field == VerdictField::SpamStatus,
                report: field == VerdictField::Report,
                submission: false,
            };
            verdict_fields(&tagged, 5.0, &config)
        };
        for field in VerdictField::ALL {
            let text = only(field);
            assert!(text.starts_with(&format!("{}: ", field.name())), "{text}");
            let names = text.lines().filter(|l| !l.starts_with('\t')).count();
            assert_eq!(names, 1, "{text}");
        }
        let none = HeadersConfig {
            spam_flag: false,
            spam_score: false,
            spam_level: false,
            spam_status: false,
            report: false,
            submission: true,
        };
        assert_eq!(verdict_fields(&tagged, 5.0, &none), "");
    }

    /// Values and folds as SpamAssassin 4.0.1 wrote them (`spamassassin -L`, rules added
    /// with `--cf`), with its own version and autolearn text.
    #[test]
    fn status_folds_as_spamassassin_folds_it() {
        let cases = [
            (
                "Yes, score=1003.3 required=5.0 tests=GTUBE,MISSING_DATE,MISSING_MID,NO_RECEIVED,NO_RELAYS,TVD_SPACE_RATIO autolearn=no autolearn_force=no version=4.0.1",
                "Yes, score=1003.3 required=5.0 tests=GTUBE,MISSING_DATE,\r\n\
                 \tMISSING_MID,NO_RECEIVED,NO_RELAYS,TVD_SPACE_RATIO autolearn=no\r\n\
                 \tautolearn_force=no version=4.0.1",
            ),
            (
                "Yes, score=6.7 required=5.0 tests=ANOTHER_QUITE_LONG_RULE_NAME_FOR_FOLDING_TESTS,A_VERY_LONG_RULE_NAME_THAT_GOES_ON_AND_ON_FOR_SIXTY_FOUR_CHARS_X1,MEDIUM_RULE_NAME_NUMBER_THREE,RCVD_ILLEGAL_IP,SHORT_1,SHORT_2,Z9 autolearn=no autolearn_force=no version=4.0.1",
                "Yes, score=6.7 required=5.0\r\n\
                 \ttests=ANOTHER_QUITE_LONG_RULE_NAME_FOR_FOLDING_TESTS,\r\n\
                 \tA_VERY_LONG_RULE_NAME_THAT_GOES_ON_AND_ON_FOR_SIXTY_FOUR_CHARS_X1,\r\n\
                 \tMEDIUM_RULE_NAME_NUMBER_THREE,RCVD_ILLEGAL_IP,SHORT_1,SHORT_2,Z9\r\n\
                 \tautolearn=no autolearn_force=no version=4.0.1",
            ),
            (
                "No, score=-13.7 required=5.0 tests=RCVD_ILLEGAL_IP,R_1,R_10,R_11,R_12,R_13,R_14,R_15,R_16,R_17,R_18,R_19,R_2,R_20,R_21,R_22,R_23,R_24,R_25,R_26,R_27,R_28,R_29,R_3,R_30,R_4,R_5,R_6,R_7,R_8,R_9 autolearn=unavailable autolearn_force=no version=4.0.1",
                "No, score=-13.7 required=5.0 tests=RCVD_ILLEGAL_IP,R_1,R_10,\r\n\
                 \tR_11,R_12,R_13,R_14,R_15,R_16,R_17,R_18,R_19,R_2,R_20,R_21,R_22,R_23,\r\n\
                 \tR_24,R_25,R_26,R_27,R_28,R_29,R_3,R_30,R_4,R_5,R_6,R_7,R_8,R_9\r\n\
                 \tautolearn=unavailable autolearn_force=no version=4.0.1",
            ),
            (
                "No, score=3.3 required=5.0 tests=MISSING_DATE,MISSING_MID,NO_RECEIVED,NO_RELAYS autolearn=no autolearn_force=no version=4.0.1",
                "No, score=3.3 required=5.0 tests=MISSING_DATE,MISSING_MID,\r\n\
                 \tNO_RECEIVED,NO_RELAYS autolearn=no autolearn_force=no version=4.0.1",
            ),
        ];
        for (value, folded) in cases {
            assert_eq!(fold("X-Spam-Status", value), folded);
        }
        // Short values stay on one line.
        assert_eq!(fold("X-Spam-Status", "No, score=0.0"), "No, score=0.0");
    }

    #[test]
    fn only_the_missing_origin_fields_are_added() {
        let both = missing_origin_fields(false, false, "mx.example.test", 1_764_000_000, 0xab);
        assert_eq!(
            both,
            "Date: Mon, 24 Nov 2025 16:00:00 +0000\r\n\
             Message-ID: <69248100.00000000000000ab@mx.example.test>\r\n"
        );
        assert!(missing_origin_fields(true, false, "h", 0, 1).starts_with("Message-ID: <0."));
        assert!(missing_origin_fields(false, true, "h", 0, 1).starts_with("Date: "));
        assert_eq!(missing_origin_fields(true, true, "h", 0, 1), "");
    }

    #[test]
    fn received_names_the_client_the_tls_session_and_the_recipient() {
        let client = ClientInfo {
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            port: 4000,
            reverse_dns: None,
            helo: Some("client.example".into()),
            tls: Some(TlsInfo {
                version: "TLSv1.3".into(),
                cipher: "TLS13_AES_128_GCM_SHA256".into(),
            }),
            authenticated_user: None,
        };
        let text = received(&ReceivedFields {
            client: &client,
            hostname: "mx.example.test",
            protocol: "ESMTPS",
            id: "s1.1",
            single_recipient: Some("bob@example.test"),
            now: 0,
        });
        assert!(text.starts_with("Received: from client.example (unknown [192.0.2.1])\r\n\tby mx.example.test (Moat) with ESMTPS"), "{text}");
        assert!(
            text.contains("version=TLSv1.3 cipher=TLS13_AES_128_GCM_SHA256"),
            "{text}"
        );
        assert!(text.contains("for <bob@example.test>;"), "{text}");
        assert!(text.ends_with("1970 00:00:00 +0000\r\n"), "{text}");
        assert!(
            text.lines().skip(1).all(|l| l.starts_with('\t')),
            "folded with tabs: {text}"
        );
    }
}
