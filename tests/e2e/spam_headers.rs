//! The verdict fields end to end: messages sent with smtplib through the real gateway and
//! delivered to a loopback server (`clients/downstream.py`) carry SpamAssassin's
//! `X-Spam-Flag`, `X-Spam-Score`, `X-Spam-Level` and `X-Spam-Status` and Moat's
//! `X-Moat-Report`, clean or tagged; each goes when its `[headers]` key is off; mail from
//! the submission listeners carries them only with `[headers] submission = true`.

use std::time::Duration;

use moat_test_support::{Downstream, message_bytes, scratch, wait_until};

use crate::delivery::{delivery_config, send};
use crate::gateway::{Gateway, step};
use crate::submission::{add_user, from_header, submission_listeners, submit};
use crate::{GTUBE, message};

/// GTUBE (score 100 from the headers plugin) is tagged rather than rejected: the plugin's
/// hard action is not honoured and quarantine and reject are out of reach.
const GTUBE_TAGGED: &str = "[thresholds]\ntag = 5.0\nquarantine = 500.0\nreject = 1000.0\n\
[plugin.headers]\nallow_hard_action = false\n";

/// The verdict fields, in the order Moat writes them.
const VERDICT_FIELDS: [&str; 5] = [
    "X-Spam-Flag",
    "X-Spam-Score",
    "X-Spam-Level",
    "X-Spam-Status",
    "X-Moat-Report",
];

/// A header section's fields as (name, value), in order, unfolded (RFC 5322 §2.2.3: the
/// CRLF before a continuation line goes, its whitespace stays).
pub(crate) fn fields(message: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(message);
    let header = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in header.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            fields
                .last_mut()
                .expect("a field to continue")
                .1
                .push_str(line);
        } else {
            let (name, value) = line.split_once(':').expect("a header field");
            fields.push((
                name.to_owned(),
                value.strip_prefix(' ').unwrap_or(value).to_owned(),
            ));
        }
    }
    fields
}

/// The value of the field `name`, if the message has it (once at most).
pub(crate) fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut found = fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
    let value = found.next().map(|(_, v)| v.as_str());
    assert!(found.next().is_none(), "{name} twice in {fields:?}");
    value
}

/// `X-Spam-Status` read as a Sieve script or a mail client reads it.
#[derive(Debug)]
pub(crate) struct Status {
    spam: bool,
    score: f64,
    required: f64,
    pub(crate) tests: Vec<String>,
}

/// Parses `Yes, score=7.3 required=5.0 tests=A,B autolearn=no version=moat-…`, unfolded:
/// whitespace after a comma is a fold inside the tests list, other whitespace separates
/// the `key=value` words.
pub(crate) fn parse_status(value: &str) -> Status {
    let (verdict, rest) = value.split_once(',').expect("Yes|No, ...");
    let spam = match verdict {
        "Yes" => true,
        "No" => false,
        other => panic!("verdict {other:?} in {value:?}"),
    };
    let mut joined = String::new();
    for word in rest.split_whitespace() {
        if !joined.is_empty() && !joined.ends_with(',') {
            joined.push(' ');
        }
        joined.push_str(word);
    }
    let words: Vec<(&str, &str)> = joined
        .split(' ')
        .map(|word| word.split_once('=').expect("key=value"))
        .collect();
    let keys: Vec<&str> = words.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        ["score", "required", "tests", "autolearn", "version"],
        "{value:?}"
    );
    assert!(words[4].1.starts_with("moat-"), "{value:?}");
    let number = |i: usize| -> f64 {
        words[i]
            .1
            .parse()
            .unwrap_or_else(|_| panic!("{} is a number in {value:?}", words[i].0))
    };
    Status {
        spam,
        score: number(0),
        required: number(1),
        tests: words[2].1.split(',').map(str::to_owned).collect(),
    }
}

/// Waits for `count` messages at `downstream`; their header fields, by Subject.
fn delivered(downstream: &Downstream, count: usize) -> Vec<(String, Vec<(String, String)>)> {
    assert!(
        wait_until(Duration::from_secs(30), || downstream.messages().len()
            == count),
        "{:?}",
        downstream.events()
    );
    downstream
        .messages()
        .iter()
        .map(|event| {
            let fields = fields(&message_bytes(event));
            let subject = field(&fields, "Subject").unwrap_or_default().to_owned();
            (subject, fields)
        })
        .collect()
}

/// The fields of the message with `subject`.
fn with_subject<'a>(
    messages: &'a [(String, Vec<(String, String)>)],
    subject: &str,
) -> &'a [(String, String)] {
    &messages
        .iter()
        .find(|(s, _)| s == subject)
        .unwrap_or_else(|| panic!("no {subject:?} among {messages:?}"))
        .1
}

/// Asserts the verdict fields are all there, right below Moat's Received field and in
/// order, and agree with each other; returns the parsed status.
fn assert_consistent_verdict(fields: &[(String, String)]) -> Status {
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[0], "Received", "{fields:?}");
    assert_eq!(
        names[1..=VERDICT_FIELDS.len()],
        VERDICT_FIELDS,
        "{fields:?}"
    );
    let status = parse_status(field(fields, "X-Spam-Status").unwrap());
    let flag = field(fields, "X-Spam-Flag").unwrap();
    assert_eq!(flag, if status.spam { "YES" } else { "NO" }, "{fields:?}");
    let score: f64 = field(fields, "X-Spam-Score").unwrap().parse().unwrap();
    assert!((score - status.score).abs() <= 0.05 + 1e-9, "{fields:?}");
    let stars = (score.clamp(0.0, 50.0)) as usize;
    assert_eq!(
        field(fields, "X-Spam-Level").unwrap(),
        "*".repeat(stars),
        "{fields:?}"
    );
    let mut sorted = status.tests.clone();
    sorted.sort();
    assert_eq!(status.tests, sorted, "tests are sorted: {fields:?}");
    let report = field(fields, "X-Moat-Report").unwrap();
    assert!(
        report.contains(&format!(
            " score={}",
            field(fields, "X-Spam-Score").unwrap()
        )),
        "{report}"
    );
    status
}

#[test]
fn every_delivered_message_carries_x_spam_status_and_x_spam_flag() {
    let dir = scratch();
    let downstream = Downstream::start("127.0.0.1", 0, &dir.path().join("downstream"), &[]);
    let gw = Gateway::start(&format!(
        "{GTUBE_TAGGED}{}",
        delivery_config("", &[(&["example.test", "localhost"], downstream.addr)])
    ));
    let from = "alice@example.org";
    send(
        &gw,
        from,
        &["bob@example.test"],
        &message("clean", "", "hello"),
    );
    send(
        &gw,
        from,
        &["bob@example.test"],
        &message("gtube", "", GTUBE),
    );
    let messages = delivered(&downstream, 2);

    let clean = with_subject(&messages, "clean");
    let status = assert_consistent_verdict(clean);
    assert!(!status.spam, "{clean:?}");
    assert_eq!(status.required, 5.0, "required is [thresholds] tag");
    assert!(status.score < 5.0, "{clean:?}");
    assert!(
        field(clean, "X-Moat-Report")
            .unwrap()
            .starts_with("action=accept score="),
        "{clean:?}"
    );

    let gtube = with_subject(&messages, "gtube");
    let status = assert_consistent_verdict(gtube);
    assert!(status.spam, "{gtube:?}");
    assert_eq!(status.required, 5.0);
    assert!(status.score >= 100.0, "{gtube:?}");
    assert!(status.tests.iter().any(|t| t == "GTUBE"), "{status:?}");
    assert_eq!(field(gtube, "X-Spam-Level").unwrap(), "*".repeat(50));
    assert!(
        field(gtube, "X-Moat-Report")
            .unwrap()
            .starts_with("action=tag score="),
        "{gtube:?}"
    );
}

#[test]
fn a_verdict_field_switched_off_is_not_added() {
    let dir = scratch();
    let downstream = Downstream::start("127.0.0.1", 0, &dir.path().join("downstream"), &[]);
    let gw = Gateway::start(&format!(
        "{GTUBE_TAGGED}[headers]\nspam_level = false\nreport = false\n{}",
        delivery_config("", &[(&["example.test", "localhost"], downstream.addr)])
    ));
    send(
        &gw,
        "alice@example.org",
        &["bob@example.test"],
        &message("gtube", "", GTUBE),
    );
    let messages = delivered(&downstream, 1);
    let gtube = with_subject(&messages, "gtube");
    let names: Vec<&str> = gtube.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names[..4],
        ["Received", "X-Spam-Flag", "X-Spam-Score", "X-Spam-Status"],
        "{gtube:?}"
    );
    assert_eq!(field(gtube, "X-Spam-Level"), None);
    assert_eq!(field(gtube, "X-Moat-Report"), None);
    assert_eq!(field(gtube, "X-Spam-Flag"), Some("YES"));
    assert!(parse_status(field(gtube, "X-Spam-Status").unwrap()).spam);
}

/// Outbound mail (an empty subject scores 1, which `[submission.thresholds]` tags) leaves
/// without the verdict by default; with `submission = true` it carries it, `required`
/// being the outbound tag threshold. Mail on the MX gets the inbound one.
#[test]
fn submitted_mail_carries_the_verdict_only_when_asked() {
    for submission in [false, true] {
        let dir = scratch();
        let downstream = Downstream::start("127.0.0.1", 0, &dir.path().join("downstream"), &[]);
        let gw = Gateway::start(&format!(
            "{}[submission.thresholds]\ntag = 0.5\nquarantine = 50.0\nreject = 60.0\n\
             [headers]\nsubmission = {submission}\n{}",
            submission_listeners(""),
            delivery_config("", &[(&["example.test", "localhost"], downstream.addr)])
        ));
        add_user(&gw, "alice@example.test", "correct horse", &[]);
        let steps = submit(
            &gw,
            ("alice@example.test", "correct horse"),
            "alice@example.test",
            "bob@example.test",
            &from_header("alice@example.test", "", "hello"),
        );
        assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");
        send(
            &gw,
            "carol@example.org",
            &["bob@example.test"],
            &message("inbound", "", "hello"),
        );
        let messages = delivered(&downstream, 2);

        let outbound = with_subject(&messages, "");
        if submission {
            let status = assert_consistent_verdict(outbound);
            assert!(status.spam, "{outbound:?}");
            assert_eq!(status.required, 0.5, "[submission.thresholds] tag");
            assert!(
                status.tests.iter().any(|t| t == "EMPTY_SUBJECT"),
                "{status:?}"
            );
        } else {
            for name in VERDICT_FIELDS {
                assert_eq!(field(outbound, name), None, "{name}: {outbound:?}");
            }
        }
        let inbound = assert_consistent_verdict(with_subject(&messages, "inbound"));
        assert_eq!(inbound.required, 5.0, "[thresholds] tag");
    }
}
