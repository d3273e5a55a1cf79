//! How Moat spells a recipient (issue 22, points 1 and 2). `<postmaster>` without a
//! domain goes to the protected postmaster, never to a bounce for whoever `MAIL FROM`
//! names; a recipient's domain is normalized once (UTS 46, lowercase A-label), so a
//! look-alike spelling of a protected domain takes that domain's route or is refused, and
//! is never sent by MX to a "foreign" domain (on the internet: back to Moat, a loop).
//!
//! The resolver points at a closed loopback port: mail routed by MX stays queued,
//! deferred, which the tests look for; nothing reaches the network. Each case failed
//! before its fix.

use std::time::Duration;

use moat_test_support::{SmtpSink, scratch, wait_until};

use crate::delivery::{delivery_config, queue};
use crate::gateway::{Gateway, step};

/// A resolver nobody answers for: every MX lookup fails (temporarily).
const NO_DNS: &str = "[dns]\nnameservers = [\"127.0.0.1:9\"]\ntimeout = \"500ms\"\nattempts = 1\n";

/// The values of smtp-sink's `NAME: ` lines (the envelope it received), over every dump.
fn sink_envelope(sink: &SmtpSink, name: &str) -> Vec<String> {
    let prefix = format!("{name}: ");
    let mut values: Vec<String> = sink
        .messages()
        .iter()
        .flat_map(|dump| {
            String::from_utf8_lossy(dump)
                .lines()
                .take_while(|line| !line.is_empty())
                .filter_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    values.sort();
    values
}

/// A message with a header and nothing else, as the abuse was tried.
const HEADER_ONLY: &str = "From: victim@forged.test\r\nTo: postmaster\r\nSubject: hello\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <pm@forged.test>\r\n\r\n";

#[test]
fn postmaster_without_a_domain_reaches_the_protected_postmaster_and_bounces_nothing() {
    let dir = scratch();
    let sink = SmtpSink::start(&dir.path().join("sink"), 0, &[]);
    let gw = Gateway::start(&format!(
        "{NO_DNS}{}",
        delivery_config(
            "retry_intervals = [\"1s\"]",
            &[(&["example.test", "localhost"], sink.addr)]
        )
    ));
    for rcpt in ["postmaster", "Postmaster", "POSTMASTER"] {
        let steps = gw.smtplib(
            "mx",
            HEADER_ONLY.as_bytes(),
            &["--from", "victim@forged.test", "--rcpt", rcpt],
        );
        assert_eq!(step(&steps, "rcpt")["code"], 250, "<{rcpt}>: {steps:?}");
        assert_eq!(step(&steps, "data")["code"], 250, "<{rcpt}>: {steps:?}");
    }
    let settled = wait_until(Duration::from_secs(30), || {
        sink.messages().len() == 3 && queue(&gw).is_empty()
    });
    assert!(
        settled,
        "the postmaster's mail must reach the protected server and leave the queue; \
         sink got {:?}, queue holds {:?}",
        sink_envelope(&sink, "X-Rcpt-Args"),
        queue(&gw)
    );
    // The first protected domain's postmaster (the default of [relay] postmaster), and
    // nothing for the forged sender: no bounce was made, none is queued.
    assert_eq!(
        sink_envelope(&sink, "X-Rcpt-Args"),
        ["<postmaster@example.test>"; 3]
    );
    assert_eq!(
        sink_envelope(&sink, "X-Mail-Args"),
        ["<victim@forged.test>"; 3]
    );
    assert!(queue(&gw).is_empty());
}

/// Recipients sent with SMTPUTF8, and what each must become: `Some(address)` accepted and
/// delivered to the protected route as `address`, `None` refused with that code.
const LOOK_ALIKES: &[(&str, Result<&str, u16>)] = &[
    // KELVIN SIGN (U+212A) for the k: Unicode lower-casing and UTS 46 both make it `k`.
    ("info@ban\u{212A}.test", Ok("<info@bank.test>")),
    // Fullwidth letters, a fullwidth full stop, an ideographic full stop, mixed case.
    (
        "info@\u{FF42}\u{FF41}\u{FF4E}\u{FF4B}.test",
        Ok("<info@bank.test>"),
    ),
    (
        "info@\u{FF22}\u{FF21}\u{FF2E}\u{FF2B}\u{FF0E}\u{FF34}\u{FF25}\u{FF33}\u{FF34}",
        Ok("<info@bank.test>"),
    ),
    ("info@bank\u{3002}test", Ok("<info@bank.test>")),
    ("info@BaNk.TeSt", Ok("<info@bank.test>")),
    // A soft hyphen, which UTS 46 ignores.
    ("info@ba\u{AD}nk.test", Ok("<info@bank.test>")),
    // A protected IDN, as its A-label in any case, as its U-label composed, upper-case
    // and decomposed (u + COMBINING DIAERESIS).
    ("info@xn--bcher-kva.test", Ok("<info@xn--bcher-kva.test>")),
    ("info@XN--BCHER-KVA.TEST", Ok("<info@xn--bcher-kva.test>")),
    ("info@b\u{FC}cher.test", Ok("<info@xn--bcher-kva.test>")),
    ("info@B\u{DC}CHER.test", Ok("<info@xn--bcher-kva.test>")),
    ("info@bu\u{308}cher.test", Ok("<info@xn--bcher-kva.test>")),
    // A ZERO WIDTH JOINER between Latin letters breaks the joiner rule: not a name.
    ("info@ban\u{200D}k.test", Err(553)),
    // A trailing dot is not RFC 5321 syntax in a path.
    ("info@bank.test.", Err(501)),
    // Another domain that only looks alike (Greek alpha): foreign, so refused.
    ("info@b\u{3B1}nk.test", Err(550)),
];

#[test]
fn look_alike_spellings_of_a_protected_domain_take_its_route_or_are_refused() {
    let dir = scratch();
    let sink = SmtpSink::start(&dir.path().join("sink"), 0, &[]);
    let gw = Gateway::start(&format!(
        "{NO_DNS}[smtp]\nmax_errors = 100\n[relay]\ndomains = [\"bank.test\", \"b\u{FC}cher.test\"]\n\
         postmaster = \"hostmaster@BANK.test\"\n{}",
        delivery_config(
            "retry_intervals = [\"1s\"]",
            &[(&["Bank.test", "B\u{DC}CHER.test"], sink.addr)]
        )
    ));
    let mut args = vec![
        "--from",
        "alice@example.org",
        "--mail-option",
        "SMTPUTF8",
        "--rcpt",
        "postmaster",
    ];
    for (rcpt, _) in LOOK_ALIKES {
        args.extend(["--rcpt", rcpt]);
    }
    let message = "From: alice@example.org\r\nTo: info@bank.test\r\nSubject: look-alikes\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <la@example.org>\r\n\r\nhello\r\n";
    let steps = gw.smtplib("mx", message.as_bytes(), &args);
    let codes: Vec<i64> = steps
        .iter()
        .filter(|s| s["step"] == "rcpt")
        .map(|s| s["code"].as_i64().unwrap())
        .collect();
    let expected_codes: Vec<i64> = std::iter::once(250)
        .chain(LOOK_ALIKES.iter().map(|(_, want)| match want {
            Ok(_) => 250,
            Err(code) => i64::from(*code),
        }))
        .collect();
    assert_eq!(codes, expected_codes, "{steps:#?}");
    assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");

    let mut delivered: Vec<String> = std::iter::once("<hostmaster@bank.test>")
        .chain(LOOK_ALIKES.iter().filter_map(|(_, want)| want.ok()))
        .map(str::to_owned)
        .collect();
    delivered.sort();
    let settled = wait_until(Duration::from_secs(30), || {
        sink_envelope(&sink, "X-Rcpt-Args").len() == delivered.len() && queue(&gw).is_empty()
    });
    assert!(
        settled,
        "every accepted spelling must take the protected route, none may wait for MX; \
         sink got {:?}, queue holds {:?}",
        sink_envelope(&sink, "X-Rcpt-Args"),
        queue(&gw)
    );
    assert_eq!(sink_envelope(&sink, "X-Rcpt-Args"), delivered);
}
