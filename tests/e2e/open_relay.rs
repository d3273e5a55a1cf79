//! The open-relay suite: every classic trick to make a mail server relay — foreign
//! recipients, the percent hack, bang paths, quoted local parts holding an `@`, source
//! routes, IP literals, look-alike domains — tried on every kind of listener (the MX, and
//! the submission listeners without logging in), with smtplib speaking over TLS where the
//! listener has it. None may be accepted, and the queue must stay empty. A logged-in user
//! may send anywhere, but not route through a protected domain's local part either.

use crate::gateway::{Gateway, step};
use crate::submission::{add_user, submission_listeners};

/// Recipients that would relay to `relay.test` (or somewhere not protected) if accepted.
const TRICKS: &[&str] = &[
    "<victim@relay.test>",
    "<VICTIM@RELAY.TEST>",
    "<victim@relay.test.>",
    "victim@relay.test",
    "<postmaster@relay.test>",
    "<\"victim\"@relay.test>",
    "<victim%relay.test@example.test>",
    "<victim%relay.test@localhost>",
    "<relay.test!victim@example.test>",
    "<\"victim@relay.test\"@example.test>",
    "<\"victim%relay.test\"@example.test>",
    "<\"relay.test!victim\"@example.test>",
    "<@example.test:victim@relay.test>",
    "<@example.test,@localhost:victim@relay.test>",
    "<victim@relay.test@example.test>",
    "<victim@example.test@relay.test>",
    "<victim@example.test.relay.test>",
    "<victim@relay.test.example.test>",
    "<victim@localhost.relay.test>",
    "<victim@[127.0.0.1]>",
    "<victim@[IPv6:::1]>",
    "<relay.test!victim>",
    "<victim%relay.test>",
    "<victim@relay%example.test>",
    "<victim@example.test%relay.test>",
];

/// The replies to MAIL and then every trick, in one session (`--starttls` or `--ssl`
/// first where `tls` says so); the steps after the greeting.
fn probe(
    gw: &Gateway,
    listener: &str,
    tls: Option<&str>,
    login: Option<(&str, &str)>,
) -> Vec<serde_json::Value> {
    let mut args: Vec<String> = tls.map(str::to_owned).into_iter().collect();
    if let Some((user, password)) = login {
        args.extend(["--login".into(), user.into(), password.into()]);
    }
    args.extend(["--cmd".into(), "MAIL FROM:<alice@example.test>".into()]);
    for trick in TRICKS {
        args.extend(["--cmd".into(), format!("RCPT TO:{trick}")]);
    }
    args.extend(["--cmd".into(), "DATA".into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    gw.talk(listener, &refs)
        .into_iter()
        .filter(|s| s["step"] == "cmd")
        .collect()
}

/// Asserts no recipient and no DATA was accepted.
fn assert_nothing_relayed(listener: &str, steps: &[serde_json::Value]) {
    assert_eq!(steps.len(), TRICKS.len() + 2, "{listener}: {steps:?}");
    for step in &steps[1..] {
        let code = step["code"].as_i64().unwrap();
        assert!(
            code >= 500,
            "{listener}: {} got {code} {}",
            step["cmd"],
            step["text"]
        );
    }
}

#[test]
fn no_listener_relays_for_anyone() {
    let gw = Gateway::start(&format!(
        "{}[smtp]\nmax_errors = 1000\n",
        submission_listeners("")
    ));
    add_user(&gw, "alice@example.test", "correct horse", &[]);

    // The MX, in clear and over STARTTLS: MAIL is fine, every trick is refused.
    for tls in [None, Some("--starttls")] {
        let steps = probe(&gw, "mx", tls, None);
        assert_eq!(steps[0]["code"], 250, "{steps:?}");
        assert_nothing_relayed("mx", &steps);
        for step in &steps[1..=TRICKS.len()] {
            let text = step["text"].as_str().unwrap();
            assert!(
                text.starts_with("5.7.1") || text.starts_with("5.1.") || text.starts_with("5.5."),
                "{}: {text}",
                step["cmd"]
            );
        }
    }

    // The submission listeners without a login: MAIL itself is refused (530), in clear,
    // after STARTTLS, and over implicit TLS, so no recipient is taken.
    for (listener, tls) in [
        ("submission", None),
        ("submission", Some("--starttls")),
        ("submissions", Some("--ssl")),
    ] {
        let steps = probe(&gw, listener, tls, None);
        assert_eq!(steps[0]["code"], 530, "{listener}: {steps:?}");
        assert_nothing_relayed(listener, &steps);
    }

    // A failed login does not help.
    let steps = probe(
        &gw,
        "submission",
        Some("--starttls"),
        Some(("alice@example.test", "wrong horse")),
    );
    assert_eq!(steps[0]["code"], 530, "{steps:?}");
    assert_nothing_relayed("submission after a failed login", &steps);

    // Logged in, foreign recipients are the point; routing through a protected domain's
    // local part is still refused.
    let steps = gw.talk(
        "submission",
        &[
            "--starttls",
            "--login",
            "alice@example.test",
            "correct horse",
            "--cmd",
            "MAIL FROM:<alice@example.test>",
            "--cmd",
            "RCPT TO:<victim%relay.test@example.test>",
            "--cmd",
            "RCPT TO:<relay.test!victim@example.test>",
            "--cmd",
            "RCPT TO:<\"victim@relay.test\"@example.test>",
            "--cmd",
            "RCPT TO:<carol@remote.test>",
        ],
    );
    assert_eq!(step(&steps, "login")["code"], 235, "{steps:?}");
    let cmds: Vec<i64> = steps
        .iter()
        .filter(|s| s["step"] == "cmd")
        .map(|s| s["code"].as_i64().unwrap())
        .collect();
    assert_eq!(cmds, [250, 550, 550, 550, 250], "{steps:?}");

    let mut gw = gw;
    gw.stop();
    assert!(gw.queue_ids().is_empty(), "nothing was queued");
}
