//! Submission end to end: accounts made with `moat user`, real clients logging in
//! (smtplib's starttls() and login(), swaks --auth, implicit TLS on a `submissions`
//! listener), mail sent as owned addresses delivered through MX lookup (NSD on loopback)
//! to a loopback server, and everything else refused: foreign senders, AUTH before TLS,
//! MAIL before AUTH, wrong passwords (locked out at the fifth), spam on the outbound path,
//! an account past its hourly allowance. A plugin (dnsbl, on rbldnsd) sees who logged in.

use std::time::Duration;

use moat_test_support::{
    DnsblServer, Downstream, Nsd, free_port, message_bytes, run_with_input, wait_until,
};

use crate::delivery::delivery_config;
use crate::gateway::{Gateway, queued_id, step, swaks};
use crate::metrics::{parse, scrape};
use crate::{COMMAND_LIMIT, MOAT, message};

/// A `submission` (STARTTLS) and a `submissions` (implicit TLS) listener on free ports,
/// then `[submission]` with `keys`.
pub(crate) fn submission_listeners(keys: &str) -> String {
    format!(
        "[[listener]]\nname = \"submission\"\naddress = \"127.0.0.1:0\"\nkind = \"submission\"\n\
[[listener]]\nname = \"submissions\"\naddress = \"127.0.0.1:0\"\nkind = \"submissions\"\n\
[submission]\n{keys}\n"
    )
}

/// `moat user ARGS` in the gateway's directory with `password` on stdin.
pub(crate) fn user(gw: &Gateway, args: &[&str], password: &str) -> moat_test_support::Finished {
    let mut full = vec!["user"];
    full.extend_from_slice(args);
    full.extend(["--config", "moat.toml"]);
    run_with_input(
        MOAT,
        gw.dir.path(),
        &full,
        format!("{password}\n").as_bytes(),
        COMMAND_LIMIT,
    )
}

/// Adds `address` with `password` (and `may_send_as`) to the gateway's users file.
pub(crate) fn add_user(gw: &Gateway, address: &str, password: &str, may_send_as: &[&str]) {
    let mut args = vec!["add", address, "--password-stdin"];
    if !may_send_as.is_empty() {
        args.push("--may-send-as");
        args.extend_from_slice(may_send_as);
    }
    user(gw, &args, password).assert_success();
}

/// smtplib on the `submission` listener: STARTTLS, login, then `from` to `rcpt`.
pub(crate) fn submit(
    gw: &Gateway,
    login: (&str, &str),
    from: &str,
    rcpt: &str,
    body: &str,
) -> Vec<serde_json::Value> {
    gw.smtplib(
        "submission",
        body.as_bytes(),
        &[
            "--starttls",
            "--login",
            login.0,
            login.1,
            "--from",
            from,
            "--rcpt",
            rcpt,
        ],
    )
}

/// A message whose From header is `from`.
pub(crate) fn from_header(from: &str, subject: &str, body: &str) -> String {
    message(subject, "", body).replacen(
        "From: Alice <alice@example.org>",
        &format!("From: {from}"),
        1,
    )
}

const ZONE: &str = "$ORIGIN remote.test.
$TTL 60
@ IN SOA ns.remote.test. hostmaster.remote.test. 1 3600 600 86400 60
@ IN NS ns.remote.test.
ns IN A 127.0.0.1
@ IN MX 10 mx.remote.test.
mx IN A 127.0.0.2
";

#[test]
fn a_user_sends_as_an_owned_address_and_the_mail_leaves_through_mx() {
    let dir = moat_test_support::scratch();
    let nsd = Nsd::start("remote.test", ZONE);
    let port = free_port("127.0.0.2");
    let remote = Downstream::start("127.0.0.2", port, &dir.path().join("remote"), &[]);
    let protected = Downstream::start("127.0.0.1", 0, &dir.path().join("protected"), &[]);
    let config = format!(
        "{}[dns]\nnameservers = [\"{}\"]\ntimeout = \"1s\"\nattempts = 2\n{}",
        submission_listeners(""),
        nsd.addr,
        delivery_config(
            &format!("retry_intervals = [\"1s\"]\nmx_port = {port}"),
            &[(&["example.test"], protected.addr)],
        )
    );
    let gw = Gateway::start(&config);
    add_user(&gw, "alice@example.test", "correct horse", &["example.org"]);

    // smtplib: starttls(), login(), a message from her own address.
    let steps = submit(
        &gw,
        ("alice@example.test", "correct horse"),
        "alice@example.test",
        "carol@remote.test",
        &from_header("Alice <alice@example.test>", "first", "hello carol"),
    );
    assert_eq!(step(&steps, "login")["code"], 235, "{steps:?}");
    assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");

    // swaks over implicit TLS, as an address of a domain she may send as.
    let submissions = gw.addr("submissions");
    let out = swaks(
        gw.dir.path(),
        submissions,
        &[
            "--tlsc",
            "--auth",
            "LOGIN",
            "--auth-user",
            "alice@example.test",
            "--auth-password",
            "correct horse",
            "--from",
            "sales@example.org",
            "--h-From",
            "Sales <sales@example.org>",
            "--to",
            "dave@remote.test",
        ],
    );
    out.assert_success();
    assert!(out.stdout().contains("<~  235 2.7.0"), "{}", out.stdout());

    assert!(
        wait_until(Duration::from_secs(30), || remote.messages().len() == 2),
        "both messages reach the remote MX: {:?}",
        remote.events()
    );
    let messages = remote.messages();
    let first = messages
        .iter()
        .find(|m| m["mail_from"] == "alice@example.test")
        .unwrap();
    assert_eq!(first["rcpts"], serde_json::json!(["carol@remote.test"]));
    let bytes = String::from_utf8(message_bytes(first)).unwrap();
    assert!(bytes.contains("with ESMTPSA"), "{bytes}");
    assert!(
        bytes.contains("(authenticated as alice@example.test)"),
        "{bytes}"
    );
    assert!(bytes.contains("hello carol"), "{bytes}");
    let second = messages
        .iter()
        .find(|m| m["mail_from"] == "sales@example.org")
        .unwrap();
    assert_eq!(second["rcpts"], serde_json::json!(["dave@remote.test"]));
    assert_eq!(protected.messages().len(), 0);

    // Someone else's address, in the envelope or in From, is refused with 553 5.7.1.
    let steps = submit(
        &gw,
        ("alice@example.test", "correct horse"),
        "bob@example.test",
        "carol@remote.test",
        &from_header("bob@example.test", "forged", "x"),
    );
    let mail = step(&steps, "mail");
    assert_eq!(mail["code"], 553, "{steps:?}");
    assert!(
        mail["text"].as_str().unwrap().starts_with("5.7.1"),
        "{mail}"
    );
    let steps = submit(
        &gw,
        ("alice@example.test", "correct horse"),
        "alice@example.test",
        "carol@remote.test",
        &from_header("The Bank <security@bank.example>", "forged", "x"),
    );
    let data = step(&steps, "data");
    assert_eq!(data["code"], 553, "{steps:?}");
    assert!(
        data["text"]
            .as_str()
            .unwrap()
            .contains("security@bank.example"),
        "{data}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(remote.messages().len(), 2, "nothing refused was delivered");
}

#[test]
fn auth_needs_tls_and_mail_needs_auth() {
    let gw = Gateway::start(&submission_listeners(""));
    add_user(&gw, "alice@example.test", "correct horse", &[]);

    // Before TLS: AUTH not offered, and refused when tried; MAIL needs TLS first.
    let steps = gw.talk(
        "submission",
        &[
            "--cmd",
            "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABjb3JyZWN0IGhvcnNl",
            "--cmd",
            "MAIL FROM:<alice@example.test>",
        ],
    );
    let ehlo = step(&steps, "ehlo")["text"].as_str().unwrap();
    assert!(
        ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    assert_eq!(steps[2]["code"], 538, "{steps:?}");
    assert!(
        steps[2]["text"].as_str().unwrap().starts_with("5.7.11"),
        "{steps:?}"
    );
    assert_eq!(steps[3]["code"], 530, "{steps:?}");

    // After TLS: AUTH offered; MAIL before it is 530 5.7.0, and so is every recipient
    // after that (503: no transaction).
    let steps = gw.talk(
        "submission",
        &[
            "--starttls",
            "--cmd",
            "MAIL FROM:<alice@example.test>",
            "--cmd",
            "RCPT TO:<carol@remote.test>",
        ],
    );
    let ehlo = step(&steps, "ehlo")["text"].as_str().unwrap();
    assert!(ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
    let mail = &steps[steps.len() - 2];
    assert_eq!(mail["code"], 530, "{steps:?}");
    assert_eq!(mail["text"], "5.7.0 Authentication required");
    assert_eq!(steps[steps.len() - 1]["code"], 503, "{steps:?}");

    // The MX listener never offers AUTH.
    let steps = gw.talk("mx", &["--starttls", "--cmd", "AUTH LOGIN"]);
    assert!(
        !step(&steps, "ehlo")["text"]
            .as_str()
            .unwrap()
            .contains("AUTH")
    );
    assert_eq!(steps.last().unwrap()["code"], 503, "{steps:?}");

    // The password was never written to the log.
    let mut gw = gw;
    let stderr = gw.stop();
    assert!(
        stderr.contains("authenticated") || stderr.contains("sender refused"),
        "{stderr}"
    );
    assert!(!stderr.contains("correct horse"), "{stderr}");
    assert!(!stderr.contains("AGFsaWNl"), "{stderr}");
}

#[test]
fn the_fifth_fast_failure_locks_the_address_out_for_the_configured_time() {
    let gw = Gateway::start(&format!(
        "{}[admin]\naddress = \"127.0.0.1:0\"\n",
        submission_listeners("auth_lockout = \"4s\"")
    ));
    add_user(&gw, "alice@example.test", "correct horse", &[]);
    let login = |password: &str| {
        let steps = gw.smtplib(
            "submission",
            b"Subject: x\r\n\r\nx\r\n",
            &[
                "--starttls",
                "--login",
                "alice@example.test",
                password,
                "--mech",
                "PLAIN",
                "--from",
                "alice@example.test",
                "--rcpt",
                "carol@remote.test",
            ],
        );
        let login = step(&steps, "login").clone();
        (
            login["code"].as_i64().unwrap(),
            login["text"].as_str().unwrap().to_owned(),
        )
    };
    for attempt in 1..=5 {
        let (code, text) = login("wrong horse");
        assert_eq!(
            (code, &text[..5]),
            (535, "5.7.8"),
            "attempt {attempt}: {text}"
        );
    }
    // Locked out: even the right password is refused, without being looked at.
    let (code, text) = login("correct horse");
    assert_eq!((code, &text[..5]), (454, "4.7.0"), "{text}");
    assert!(text.contains("try again in"), "{text}");
    // Over implicit TLS too: the lock is on the address, not the listener.
    let steps = gw.talk(
        "submissions",
        &["--ssl", "--login", "alice@example.test", "correct horse"],
    );
    assert_eq!(step(&steps, "login")["code"], 454, "{steps:?}");
    std::thread::sleep(Duration::from_secs(5));
    let (code, text) = login("correct horse");
    assert_eq!(code, 235, "the lockout ends after its time: {text}");

    // smtplib's login() tried PLAIN and then LOGIN while locked out: two refusals.
    let metrics = parse(&scrape(&gw));
    for (result, count) in [("failed", 5.0), ("locked_out", 3.0), ("succeeded", 1.0)] {
        let key = format!("moat_smtp_auth_total{{result=\"{result}\"}}");
        assert_eq!(metrics.get(&key), Some(&count), "{key}");
    }
}

#[test]
fn twenty_parallel_wrong_logins_get_no_more_guesses_than_one_session() {
    let gw = Gateway::start(&format!(
        "{}[admin]\naddress = \"127.0.0.1:0\"\n",
        submission_listeners("")
    ));
    add_user(&gw, "alice@example.test", "correct horse", &[]);
    let codes: Vec<i64> = std::thread::scope(|scope| {
        let sessions: Vec<_> = (0..20)
            .map(|_| {
                scope.spawn(|| {
                    let steps = gw.smtplib(
                        "submission",
                        b"Subject: x\r\n\r\nx\r\n",
                        &[
                            "--starttls",
                            "--login",
                            "alice@example.test",
                            "wrong horse",
                            "--mech",
                            "PLAIN",
                            "--from",
                            "alice@example.test",
                            "--rcpt",
                            "carol@remote.test",
                        ],
                    );
                    step(&steps, "login")["code"].as_i64().unwrap()
                })
            })
            .collect();
        sessions.into_iter().map(|s| s.join().unwrap()).collect()
    });
    let metrics = parse(&scrape(&gw));
    let count = |result: &str| metrics[&format!("moat_smtp_auth_total{{result=\"{result}\"}}")];
    // Only failures were verified (argon2); locked-out and busy logins never were.
    let verified = count("failed");
    assert!(
        (1.0..=5.0).contains(&verified),
        "{verified} passwords checked: {codes:?}"
    );
    assert_eq!(verified + count("locked_out") + count("busy"), 20.0);
    assert_eq!(codes.iter().filter(|&&c| c == 535).count() as f64, verified);
    assert!(codes.iter().all(|&c| c == 535 || c == 454), "{codes:?}");
}

#[test]
fn accounts_change_while_the_server_runs_and_each_has_an_hourly_allowance() {
    let gw = Gateway::start(&submission_listeners(
        "max_messages_per_hour = 2\nmax_auth_failures = 20",
    ));
    let login = |password: &str| {
        let steps = gw.talk(
            "submission",
            &["--starttls", "--login", "alice@example.test", password],
        );
        step(&steps, "login")["code"].as_i64().unwrap()
    };
    assert_eq!(login("correct horse"), 535, "no such account yet");
    add_user(&gw, "alice@example.test", "correct horse", &[]);
    assert_eq!(login("correct horse"), 235, "added without a restart");

    let list = user(&gw, &["list", "--json"], "");
    list.assert_success();
    let accounts = list.json_lines();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["address"], "alice@example.test");
    assert!(
        !list.stdout().contains("argon2"),
        "no hashes in the listing"
    );
    user(
        &gw,
        &["add", "alice@example.test", "--password-stdin"],
        "other horse",
    )
    .assert_failure();
    user(
        &gw,
        &["passwd", "alice@example.test", "--password-stdin"],
        "short",
    )
    .assert_failure();

    user(
        &gw,
        &["passwd", "alice@example.test", "--password-stdin"],
        "battery staple",
    )
    .assert_success();
    assert_eq!(login("correct horse"), 535);
    assert_eq!(login("battery staple"), 235);

    // Two messages an hour: the third is deferred with 450 4.7.1.
    let body = from_header("alice@example.test", "allowance", "x");
    for n in 1..=2 {
        let steps = submit(
            &gw,
            ("alice@example.test", "battery staple"),
            "alice@example.test",
            "bob@example.test",
            &body,
        );
        assert_eq!(step(&steps, "data")["code"], 250, "message {n}: {steps:?}");
    }
    let steps = submit(
        &gw,
        ("alice@example.test", "battery staple"),
        "alice@example.test",
        "bob@example.test",
        &body,
    );
    let mail = step(&steps, "mail");
    assert_eq!(mail["code"], 450, "{steps:?}");
    assert!(
        mail["text"].as_str().unwrap().starts_with("4.7.1"),
        "{mail}"
    );

    user(&gw, &["remove", "alice@example.test"], "").assert_success();
    assert_eq!(login("battery staple"), 535, "removed without a restart");
}

#[test]
fn outbound_mail_is_filtered_with_its_own_thresholds() {
    // An empty subject scores 1 (EMPTY_SUBJECT): under the inbound thresholds (5/10/15)
    // that is accepted; outbound, with reject at 0.5, the same message is refused.
    let gw = Gateway::start(&submission_listeners(
        "[submission.thresholds]\ntag = 0.2\nquarantine = 0.3\nreject = 0.5",
    ));
    add_user(&gw, "alice@example.test", "correct horse", &[]);
    let message = from_header("alice@example.test", "", "hello");
    let steps = submit(
        &gw,
        ("alice@example.test", "correct horse"),
        "alice@example.test",
        "carol@remote.test",
        &message,
    );
    let data = step(&steps, "data");
    assert_eq!(data["code"], 550, "{steps:?}");
    assert!(
        data["text"].as_str().unwrap().contains("EMPTY_SUBJECT"),
        "{data}"
    );
    let steps = gw.smtplib(
        "mx",
        message.as_bytes(),
        &[
            "--from",
            "someone@example.org",
            "--rcpt",
            "bob@example.test",
        ],
    );
    assert_eq!(
        step(&steps, "data")["code"],
        250,
        "inbound thresholds apply on the MX: {steps:?}"
    );
}

#[test]
fn a_submission_listener_without_a_certificate_is_refused_at_start() {
    let dir = moat_test_support::scratch();
    std::fs::write(
        dir.path().join("moat.toml"),
        crate::gateway::base_config("", &submission_listeners("")),
    )
    .unwrap();
    // Without --dev there is no certificate: passwords would cross in clear.
    let out = crate::moat(dir.path(), &["serve", "--config", "moat.toml"]);
    out.assert_failure();
    assert!(
        out.stderr().contains("listener `submission`") && out.stderr().contains("needs TLS"),
        "{}",
        out.stderr()
    );
}

/// A gateway with the submission listeners, the dnsbl plugin on `server`'s test lists
/// with `dnsbl_keys`, and the account alice@example.test (password `correct horse`).
fn with_dnsbl_and_alice(server: &DnsblServer, dnsbl_keys: &str) -> Gateway {
    use crate::dnsbl::{dns_section, dnsbl_section};
    let gw = Gateway::start(&format!(
        "{}{}{}",
        submission_listeners(""),
        dns_section(server.addr),
        dnsbl_section(dnsbl_keys)
    ));
    add_user(&gw, "alice@example.test", "correct horse", &[]);
    gw
}

/// smtplib arguments: STARTTLS, log in as alice, send as her.
const ALICE_LOGS_IN: [&str; 6] = [
    "--starttls",
    "--login",
    "alice@example.test",
    "correct horse",
    "--from",
    "alice@example.test",
];

/// The plugins see who logged in: the dnsbl plugin, set to refuse listed clients at RCPT,
/// refuses a listed address on the MX listener but lets the same address past RCPT once it
/// has logged in on the submission listener (a user on a listed dynamic IP).
#[test]
fn plugins_see_the_authenticated_user() {
    let server = DnsblServer::start(&crate::dnsbl::zones());
    let gw = with_dnsbl_and_alice(&server, "reject_threshold = 5.0\nreject_at = \"rcpt_to\"");
    let body = message("hello", "", "hi");
    let common = ["--source", "127.0.0.2", "--rcpt", "bob@example.test"];

    let mut anonymous = vec!["--from", "a@example.org"];
    anonymous.extend(common);
    let steps = gw.smtplib("mx", body.as_bytes(), &anonymous);
    assert_eq!(step(&steps, "rcpt")["code"], 554, "{steps:?}");

    let mut logged_in = ALICE_LOGS_IN.to_vec();
    logged_in.extend(common);
    let steps = gw.smtplib("submission", body.as_bytes(), &logged_in);
    assert_eq!(step(&steps, "rcpt")["code"], 250, "{steps:?}");
}

/// Mail that logged-in users send teaches the reputation plugin nothing about their
/// address (`exclude_authenticated`, on by default): after five submissions from one
/// address, a connection from it to the MX has no reputation symbol. With the key off,
/// the same five give it one.
#[test]
fn submitted_mail_gives_the_users_address_no_reputation() {
    for (keys, learnt) in [("", false), ("exclude_authenticated = false", true)] {
        let mut gw = Gateway::start(&format!(
            "{}[plugin.reputation.config]\nmin_messages = 3\n{keys}\n",
            submission_listeners("")
        ));
        add_user(&gw, "alice@example.test", "correct horse", &[]);
        for i in 0..5 {
            let body = from_header("alice@example.test", &format!("note {i}"), "hello");
            let mut args = vec!["--source", "127.0.0.9", "--rcpt", "bob@example.test"];
            args.extend(ALICE_LOGS_IN);
            let steps = gw.smtplib("submission", body.as_bytes(), &args);
            assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");
        }
        // The outcome stage runs after each reply; let the last ones land.
        std::thread::sleep(Duration::from_millis(500));
        gw.stop();
        assert_eq!(
            crate::reputation::ip_reputation(&gw, "127.0.0.9").is_some(),
            learnt,
            "with [{keys}]"
        );
    }
}

/// A submitted message without Date or Message-ID gets them (as Postfix's cleanup adds
/// them); one that has them keeps its own; mail arriving on the MX is never changed.
#[test]
fn submitted_mail_gets_the_date_and_message_id_it_lacks() {
    let mut gw = Gateway::start(&submission_listeners(""));
    add_user(&gw, "alice@example.test", "correct horse", &[]);
    let bare =
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: no ids\r\n\r\nhello\r\n";
    let complete = from_header("alice@example.test", "with ids", "hello");
    let mut ids = Vec::new();
    for message in [bare, complete.as_str()] {
        let steps = submit(
            &gw,
            ("alice@example.test", "correct horse"),
            "alice@example.test",
            "bob@example.test",
            message,
        );
        let data = step(&steps, "data");
        assert_eq!(data["code"], 250, "{steps:?}");
        ids.push(queued_id(data["text"].as_str().unwrap()));
    }
    let steps = gw.smtplib(
        "mx",
        bare.as_bytes(),
        &[
            "--from",
            "someone@example.org",
            "--rcpt",
            "bob@example.test",
        ],
    );
    let data = step(&steps, "data");
    assert_eq!(data["code"], 250, "{steps:?}");
    ids.push(queued_id(data["text"].as_str().unwrap()));
    gw.stop();

    let text = |id: &str| String::from_utf8(gw.queued_message(id)).unwrap();
    let fields = |text: &str, name: &str| {
        text.split("\r\n\r\n")
            .next()
            .unwrap()
            .lines()
            .filter(|l| l.starts_with(name))
            .count()
    };
    let added = text(&ids[0]);
    assert_eq!(fields(&added, "Date: "), 1, "{added}");
    assert_eq!(fields(&added, "Message-ID: <"), 1, "{added}");
    assert!(added.contains("@mx.test>\r\n"), "{added}");
    assert!(
        added.ends_with(bare),
        "the message itself is unchanged: {added}"
    );
    let kept = text(&ids[1]);
    assert_eq!(fields(&kept, "Date: "), 1, "{kept}");
    assert_eq!(fields(&kept, "Message-ID: "), 1, "{kept}");
    assert!(kept.contains("Message-ID: <t1@example.org>"), "{kept}");
    let inbound = text(&ids[2]);
    assert_eq!(fields(&inbound, "Date: "), 0, "{inbound}");
    assert_eq!(fields(&inbound, "Message-ID: "), 0, "{inbound}");
}

/// A submission listener holds the connect and HELO stages until the login: a client on a
/// listed address is greeted (the MX refuses it at once), and after its login the dnsbl
/// plugin skips the IP lists for a user (`exclude_authenticated`, on by default), so the
/// mail goes. With `exclude_authenticated = false` the held stages refuse the login.
#[test]
fn connect_and_helo_stages_wait_for_the_login_on_submission() {
    let server = DnsblServer::start(&crate::dnsbl::zones());
    let reject = "reject_threshold = 5.0\nreject_at = \"connect\"";
    let start = |extra: &str| with_dnsbl_and_alice(&server, &format!("{reject}\n{extra}"));
    let body = from_header("alice@example.test", "hello", "hi");
    let mut login = vec!["--source", "127.0.0.2", "--rcpt", "bob@example.test"];
    login.extend(ALICE_LOGS_IN);

    let gw = start("");
    let steps = gw.smtplib(
        "mx",
        body.as_bytes(),
        &[
            "--source",
            "127.0.0.2",
            "--from",
            "a@example.org",
            "--rcpt",
            "bob@example.test",
        ],
    );
    assert_eq!(step(&steps, "connect")["code"], 554, "{steps:?}");
    let steps = gw.smtplib("submission", body.as_bytes(), &login);
    assert_eq!(step(&steps, "connect")["code"], 220, "{steps:?}");
    assert_eq!(step(&steps, "login")["code"], 235, "{steps:?}");
    assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");

    let gw = start("exclude_authenticated = false");
    // AUTH PLAIN of alice@example.test / correct horse, then MAIL.
    let steps = gw.talk(
        "submission",
        &[
            "--source",
            "127.0.0.2",
            "--starttls",
            "--cmd",
            "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABjb3JyZWN0IGhvcnNl",
            "--cmd",
            "MAIL FROM:<alice@example.test>",
        ],
    );
    assert_eq!(step(&steps, "connect")["code"], 220, "{steps:?}");
    let commands: Vec<&serde_json::Value> = steps.iter().filter(|s| s["step"] == "cmd").collect();
    assert_eq!(
        commands[0]["code"], 554,
        "the held stages refuse the login: {steps:?}"
    );
    assert!(
        commands[0]["text"]
            .as_str()
            .unwrap()
            .contains("TEST_BL_SPAM"),
        "{steps:?}"
    );
    assert_eq!(
        commands[1]["code"], 503,
        "a refused session takes no mail: {steps:?}"
    );
}
