//! Sender authentication end to end, against a real authoritative DNS server (NSD on
//! loopback) serving SPF, DKIM and DMARC records: a message signed in the test (with
//! mail-auth) from an SPF-permitted address passes all three, with an
//! `Authentication-Results` field the test parses; altered after signing, its signature
//! fails; a forged `p=reject` domain is refused with `dmarc_reject` and scored without;
//! a DNS server that never answers gives temperrors in bounded time; mail submitted
//! through 587 leaves with a DKIM signature mail-auth verifies against the key
//! `moat dkim keygen` made, and mail from a domain without a key leaves unsigned.

use std::time::{Duration, Instant};

use mail_auth::dkim::{Canonicalization, DkimSigner};
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};
use moat_test_support::{Downstream, Nsd, message_bytes, scratch, wait_until};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};

use crate::delivery::delivery_config;
use crate::gateway::{Gateway, queued_id, step};
use crate::spam_headers::{field, fields, parse_status};
use crate::submission::{add_user, from_header, submission_listeners, submit};
use crate::{COMMAND_LIMIT, MOAT};

/// The zone `test` (the whole TLD, so DMARC's walk up the tree gets answers, not
/// refusals): `good.auth.test` permits 127.0.0.1 and publishes a DKIM key (`sel`) and `p=reject`;
/// `forged.auth.test` permits only 192.0.2.1 and publishes `p=reject`; `pct0.auth.test`
/// too, with `pct=0` (no failing message in the sample: quarantine instead);
/// `signer.auth.test` has the key of
/// `moat dkim keygen` (`extra`).
fn zone(dkim_public_key: &str, extra: &str) -> String {
    format!(
        "$ORIGIN test.
$TTL 60
@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@ IN NS ns.test.
ns IN A 127.0.0.1
good.auth IN A 127.0.0.1
good.auth IN TXT \"v=spf1 ip4:127.0.0.1 -all\"
sel._domainkey.good.auth IN TXT \"v=DKIM1; k=ed25519; p={dkim_public_key}\"
_dmarc.good.auth IN TXT \"v=DMARC1; p=reject\"
forged.auth IN A 127.0.0.1
forged.auth IN TXT \"v=spf1 ip4:192.0.2.1 -all\"
_dmarc.forged.auth IN TXT \"v=DMARC1; p=reject\"
pct0.auth IN A 127.0.0.1
pct0.auth IN TXT \"v=spf1 ip4:192.0.2.1 -all\"
_dmarc.pct0.auth IN TXT \"v=DMARC1; p=reject; pct=0\"
signer.auth IN A 127.0.0.1
signer.auth IN TXT \"v=spf1 ip4:127.0.0.1 -all\"
{extra}
"
    )
}

/// An Ed25519 key: the signer, and the `p=` of its record.
fn ed25519_key() -> (Vec<u8>, String) {
    use base64::Engine as _;
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let public = base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref());
    (pkcs8.as_ref().to_vec(), public)
}

/// `message` with a DKIM-Signature of `good.auth.test` (selector `sel`) prepended, made
/// by mail-auth itself.
fn signed(pkcs8: &[u8], message: &str) -> String {
    let key = mail_auth::crypto::Ed25519Key::from_pkcs8_der(pkcs8).unwrap();
    let signature = DkimSigner::from_key(key)
        .domain("good.auth.test")
        .selector("sel")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
        .sign(message.as_bytes())
        .unwrap();
    use mail_auth::headers::HeaderWriter as _;
    format!("{}{message}", signature.to_header())
}

fn message_from(from: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: bob@example.test\r\nSubject: sender auth\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <sa-{}@auth.test>\r\n\r\n{body}\r\n",
        body.len()
    )
}

/// The gateway's config: the admin endpoint (for `moat queue show`), DNS from
/// `nameserver`, local mail checked, and `extra`.
fn config(nameserver: &str, extra: &str) -> String {
    format!(
        "[admin]\naddress = \"127.0.0.1:0\"\n[dns]\nnameservers = [\"{nameserver}\"]\ntimeout = \"1s\"\nattempts = 2\n\
[sender_auth]\ncheck_local = true\ntime_budget = \"3s\"\n{extra}"
    )
}

/// Sends `message` from `mail_from` with EHLO `helo`; the steps.
fn send(gw: &Gateway, helo: &str, mail_from: &str, message: &str) -> Vec<serde_json::Value> {
    gw.smtplib(
        "mx",
        message.as_bytes(),
        &[
            "--ehlo",
            helo,
            "--from",
            mail_from,
            "--rcpt",
            "bob@example.test",
        ],
    )
}

/// The symbols (`X-Spam-Status` tests) and the `Authentication-Results` of the message
/// accepted in `steps`, as queued.
fn verdict(gw: &Gateway, steps: &[serde_json::Value]) -> (Vec<String>, String) {
    let data = step(steps, "data");
    assert_eq!(data["code"], 250, "{steps:?}");
    let stored = gw.queued_message(&queued_id(data["text"].as_str().unwrap()));
    let fields = fields(&stored);
    let status = parse_status(field(&fields, "X-Spam-Status").expect("X-Spam-Status"));
    let results = field(&fields, "Authentication-Results")
        .expect("Authentication-Results")
        .to_owned();
    (status.tests, results)
}

/// `Authentication-Results` as `(method, result, properties)`, after the authserv-id.
fn parse_results(value: &str) -> (String, Vec<(String, String, String)>) {
    let mut parts = value.split(';').map(str::trim);
    let authserv_id = parts.next().unwrap().to_owned();
    let methods = parts
        .map(|part| {
            let (method, rest) = part.split_once('=').expect("method=result");
            let mut words = rest.split_whitespace();
            let result = words.next().unwrap_or_default().to_owned();
            (
                method.to_owned(),
                result,
                words.collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    (authserv_id, methods)
}

#[test]
fn a_signed_message_from_a_permitted_address_passes_spf_dkim_and_dmarc_and_an_altered_one_fails_dkim()
 {
    let (pkcs8, public) = ed25519_key();
    let nsd = Nsd::start("test", &zone(&public, ""));
    let gw = Gateway::start(&config(&nsd.addr.to_string(), ""));

    let original = signed(
        &pkcs8,
        &message_from("Alice <alice@good.auth.test>", "hello"),
    );
    let steps = send(&gw, "good.auth.test", "alice@good.auth.test", &original);
    let (symbols, results) = verdict(&gw, &steps);
    for symbol in ["SPF_PASS", "DKIM_VALID", "DKIM_VALID_ALIGNED", "DMARC_PASS"] {
        assert!(
            symbols.iter().any(|s| s == symbol),
            "{symbol} in {symbols:?}"
        );
    }
    assert!(!symbols.iter().any(|s| s == "DKIM_INVALID"), "{symbols:?}");
    let (authserv_id, methods) = parse_results(&results);
    assert_eq!(authserv_id, "mx.test", "{results}");
    let result_of = |method: &str| -> Vec<(String, String)> {
        methods
            .iter()
            .filter(|(m, _, _)| m == method)
            .map(|(_, r, p)| (r.clone(), p.clone()))
            .collect()
    };
    assert_eq!(
        result_of("spf")[0],
        ("pass".into(), "smtp.mailfrom=alice@good.auth.test".into()),
        "{results}"
    );
    let dkim = result_of("dkim");
    assert_eq!(dkim.len(), 1, "{results}");
    assert_eq!(dkim[0].0, "pass", "{results}");
    assert!(
        dkim[0]
            .1
            .starts_with("header.d=good.auth.test header.s=sel header.b=\""),
        "{results}"
    );
    assert_eq!(
        result_of("dmarc"),
        [("pass".into(), "header.from=good.auth.test".into())],
        "{results}"
    );

    // Fifteen more signatures: ten are verified, the rest reported as one permerror.
    let junk = "DKIM-Signature: v=1; a=rsa-sha256; d=junk.test; s=j; h=From; bh=AAAA; b=AAAA\r\n";
    let crowded = format!("{}{original}", junk.repeat(15));
    let steps = send(&gw, "good.auth.test", "alice@good.auth.test", &crowded);
    let (symbols, results) = verdict(&gw, &steps);
    let (_, methods) = parse_results(&results);
    assert_eq!(
        methods.iter().filter(|(m, _, _)| m == "dkim").count(),
        11,
        "ten verified, one for the rest: {results}"
    );
    assert!(
        results.contains("6 more signatures not checked"),
        "{results}"
    );
    assert!(symbols.iter().any(|s| s == "DKIM_INVALID"), "{symbols:?}");

    // The same message, its body changed after signing.
    let altered = original.replace("hello", "hello, and send money");
    let steps = send(&gw, "good.auth.test", "alice@good.auth.test", &altered);
    let (symbols, results) = verdict(&gw, &steps);
    assert!(symbols.iter().any(|s| s == "DKIM_INVALID"), "{symbols:?}");
    assert!(
        !symbols.iter().any(|s| s.starts_with("DKIM_VALID")),
        "{symbols:?}"
    );
    // A body hash mismatch is `neutral`, as Gmail writes it ("body hash did not verify").
    assert!(
        results.contains("dkim=neutral (Calculated body hash does not match")
            || results.contains("dkim=fail"),
        "{results}"
    );
    // SPF still passes and aligns, so DMARC does too.
    assert!(symbols.iter().any(|s| s == "DMARC_PASS"), "{symbols:?}");
}

#[test]
fn a_forged_p_reject_domain_is_refused_with_dmarc_reject_and_scored_without() {
    let (_, public) = ed25519_key();
    let nsd = Nsd::start("test", &zone(&public, ""));
    let forged = message_from("Boss <boss@forged.auth.test>", "pay this invoice");

    let rejecting = Gateway::start(&config(
        &nsd.addr.to_string(),
        "[plugin.auth]\nallow_hard_action = true\n[plugin.auth.config]\ndmarc_reject = true\n",
    ));
    let steps = send(
        &rejecting,
        "client.auth.test",
        "boss@forged.auth.test",
        &forged,
    );
    let data = step(&steps, "data");
    assert_eq!(data["code"], 550, "{steps:?}");
    assert!(
        data["text"].as_str().unwrap().starts_with("5.7.1"),
        "{steps:?}"
    );
    assert!(rejecting.queue_ids().is_empty());
    // pct=0: no failing message is in the sample, so the policy steps down to quarantine
    // (RFC 7489 §6.6.4) and dmarc_reject does not refuse it.
    let sampled_out = message_from("Boss <boss@pct0.auth.test>", "pay this invoice");
    let steps = send(
        &rejecting,
        "client.auth.test",
        "boss@pct0.auth.test",
        &sampled_out,
    );
    let (symbols, results) = verdict(&rejecting, &steps);
    assert!(
        symbols.iter().any(|s| s == "DMARC_FAIL_QUARANTINE"),
        "{symbols:?}"
    );
    assert!(
        !symbols.iter().any(|s| s == "DMARC_FAIL_REJECT"),
        "{symbols:?}"
    );
    assert!(
        results.contains("dmarc=fail policy.dmarc=quarantine"),
        "{results}"
    );

    // dmarc_quarantine holds a failure whose policy is quarantine (here p=reject stepped
    // down by pct=0) in the quarantine: 250 to the client, nothing queued.
    let quarantining = Gateway::start(&config(
        &nsd.addr.to_string(),
        "[plugin.auth]\nallow_hard_action = true\n[plugin.auth.config]\ndmarc_quarantine = true\n",
    ));
    let steps = send(
        &quarantining,
        "client.auth.test",
        "boss@pct0.auth.test",
        &sampled_out,
    );
    assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");
    assert!(quarantining.queue_ids().is_empty());
    let held = crate::moat(
        quarantining.dir.path(),
        &["quarantine", "list", "--json", "--config", "moat.toml"],
    );
    held.assert_success();
    let held = held.json_lines();
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(
        held[0].to_string().contains("DMARC_FAIL_QUARANTINE"),
        "{held:?}"
    );

    // spf_reject refuses an SPF failure at MAIL FROM, before the message is sent.
    let early = Gateway::start(&config(
        &nsd.addr.to_string(),
        "[plugin.auth]\nallow_hard_action = true\n[plugin.auth.config]\nspf_reject = true\n",
    ));
    let steps = send(&early, "client.auth.test", "boss@forged.auth.test", &forged);
    let mail = step(&steps, "mail");
    assert_eq!(mail["code"], 554, "{steps:?}");
    assert!(
        mail["text"].as_str().unwrap().contains("SPF_FAIL"),
        "{steps:?}"
    );

    let scoring = Gateway::start(&config(&nsd.addr.to_string(), ""));
    let steps = send(
        &scoring,
        "client.auth.test",
        "boss@forged.auth.test",
        &forged,
    );
    let (symbols, results) = verdict(&scoring, &steps);
    for symbol in ["SPF_FAIL", "DKIM_NONE", "DMARC_FAIL_REJECT"] {
        assert!(
            symbols.iter().any(|s| s == symbol),
            "{symbol} in {symbols:?}"
        );
    }
    assert!(
        results.contains("dmarc=fail policy.dmarc=reject"),
        "{results}"
    );
}

#[test]
fn a_dns_server_that_never_answers_gives_temperrors_without_a_stall() {
    let (pkcs8, _) = ed25519_key();
    // A socket that takes the questions and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // Each try waits 20 s, far past the 3 s budget: the budget, not DNS, ends each step.
    let gw = Gateway::start(
        &config(&silent.local_addr().unwrap().to_string(), "").replacen(
            "timeout = \"1s\"\nattempts = 2",
            "timeout = \"20s\"\nattempts = 1",
            1,
        ),
    );
    let message = signed(
        &pkcs8,
        &message_from("Alice <alice@good.auth.test>", "hello"),
    );
    let started = Instant::now();
    let steps = send(&gw, "good.auth.test", "alice@good.auth.test", &message);
    let elapsed = started.elapsed();
    let (symbols, results) = verdict(&gw, &steps);
    for symbol in ["SPF_TEMPERROR", "DKIM_TEMPERROR", "DMARC_TEMPERROR"] {
        assert!(
            symbols.iter().any(|s| s == symbol),
            "{symbol} in {symbols:?}"
        );
    }
    assert!(results.contains("spf=temperror"), "{results}");
    // One budget (3 s) at MAIL FROM and one for the message, and the plugins' own work.
    assert!(elapsed < Duration::from_secs(12), "took {elapsed:?}");
}

#[test]
fn submitted_mail_is_signed_with_the_key_of_its_from_domain_and_verifies() {
    let dir = scratch();
    let keygen = moat_test_support::run_in(
        MOAT,
        dir.path(),
        &[
            "dkim",
            "keygen",
            "signer.auth.test",
            "mta",
            "--out",
            "mta.pem",
        ],
        COMMAND_LIMIT,
    );
    keygen.assert_success();
    let record = keygen
        .stdout()
        .lines()
        .find(|l| l.contains("._domainkey."))
        .expect("the TXT record line")
        .to_owned();
    assert!(
        record.starts_with("mta._domainkey.signer.auth.test. IN TXT"),
        "{record}"
    );
    let (_, public) = ed25519_key();
    let nsd = Nsd::start("test", &zone(&public, &record));
    let protected = Downstream::start("127.0.0.1", 0, &dir.path().join("protected"), &[]);
    let key_file = dir.path().join("mta.pem");
    let gw = Gateway::start(&format!(
        "{}{}[[dkim.key]]\ndomain = \"signer.auth.test\"\nselector = \"mta\"\nkey_file = {:?}\n{}",
        submission_listeners(""),
        config(&nsd.addr.to_string(), ""),
        key_file.display().to_string(),
        delivery_config(
            "retry_intervals = [\"1s\"]",
            &[(&["example.test"], protected.addr)]
        )
        .replacen("[admin]\naddress = \"127.0.0.1:0\"\n", "", 1)
    ));
    add_user(
        &gw,
        "alice@signer.auth.test",
        "correct horse",
        &["other.auth.test"],
    );
    for from in ["alice@signer.auth.test", "alice@other.auth.test"] {
        let steps = submit(
            &gw,
            ("alice@signer.auth.test", "correct horse"),
            from,
            "bob@example.test",
            &from_header(&format!("Alice <{from}>"), "signed?", "hello bob"),
        );
        assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");
    }
    assert!(
        wait_until(Duration::from_secs(30), || protected.messages().len() == 2),
        "both delivered: {:?}",
        protected.events()
    );
    let delivered: Vec<Vec<u8>> = protected.messages().iter().map(message_bytes).collect();
    let (signed, unsigned): (Vec<_>, Vec<_>) = delivered
        .iter()
        .partition(|m| String::from_utf8_lossy(m).contains("alice@signer.auth.test>"));
    assert_eq!((signed.len(), unsigned.len()), (1, 1));
    assert!(
        !String::from_utf8_lossy(unsigned[0]).contains("DKIM-Signature"),
        "a domain without a key is not signed"
    );

    // mail-auth verifies the signature against the published key.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut udp = ConnectionConfig::udp();
    udp.port = nsd.addr.port();
    let servers = vec![NameServerConfig::new(nsd.addr.ip(), true, vec![udp])];
    let authenticator = MessageAuthenticator::new(
        ResolverConfig::from_name_servers(servers),
        ResolverOpts::default(),
    )
    .unwrap();
    let message = AuthenticatedMessage::parse(signed[0]).expect("a message");
    let outputs = runtime.block_on(authenticator.verify_dkim(&message));
    assert_eq!(outputs.len(), 1, "one DKIM-Signature");
    assert_eq!(outputs[0].result(), &DkimResult::Pass, "{:?}", outputs[0]);
    let signature = outputs[0].signature().unwrap();
    assert_eq!(
        (signature.d.as_str(), signature.s.as_str()),
        ("signer.auth.test", "mta")
    );
}

#[test]
fn behind_a_trusted_relay_spf_judges_the_first_untrusted_hop() {
    let (_, public) = ed25519_key();
    let nsd = Nsd::start("test", &zone(&public, ""));
    // good.auth.test permits 127.0.0.1 (the relay) but not 192.0.2.55, which handed the
    // message to the relay.
    let relayed = format!(
        "Received: from mail.elsewhere.example (mail.elsewhere.example [192.0.2.55])\r\n\
\tby relay.example.test (Postfix) with ESMTP id 4F1;\r\n\tMon, 23 Nov 2026 10:00:00 +0000\r\n{}",
        message_from("Alice <alice@good.auth.test>", "relayed")
    );
    // check_local off (the default): the relay's mail is checked all the same, for its
    // origin; only an origin at a private address is not.
    let behind = Gateway::start(
        &config(
            &nsd.addr.to_string(),
            "[relay]\ndomains = [\"example.test\"]\ntrusted_relays = [\"127.0.0.0/8\"]\n",
        )
        .replacen("check_local = true", "check_local = false", 1),
    );
    let steps = send(
        &behind,
        "relay.example.test",
        "alice@good.auth.test",
        &relayed,
    );
    let (symbols, results) = verdict(&behind, &steps);
    assert!(symbols.iter().any(|s| s == "SPF_FAIL"), "{symbols:?}");
    assert!(
        results.contains("spf=fail smtp.mailfrom=alice@good.auth.test"),
        "{results}"
    );

    // From a private address behind the relay: mail from inside, not checked (as that
    // host's mail would not be, connecting directly), so no SPF symbol and no results.
    let inside = relayed.replace("[192.0.2.55]", "[10.1.2.3]");
    let steps = send(
        &behind,
        "relay.example.test",
        "alice@good.auth.test",
        &inside,
    );
    let data = step(&steps, "data");
    assert_eq!(data["code"], 250, "{steps:?}");
    let stored = behind.queued_message(&queued_id(data["text"].as_str().unwrap()));
    let stored = fields(&stored);
    assert_eq!(field(&stored, "Authentication-Results"), None, "{stored:?}");
    let status = parse_status(field(&stored, "X-Spam-Status").unwrap());
    assert!(
        !status.tests.iter().any(|t| t.starts_with("SPF_")),
        "{:?}",
        status.tests
    );

    // Without the relay trusted, the connecting client is judged: 127.0.0.1 passes.
    let direct = Gateway::start(&config(&nsd.addr.to_string(), ""));
    let steps = send(
        &direct,
        "relay.example.test",
        "alice@good.auth.test",
        &relayed,
    );
    let (symbols, _) = verdict(&direct, &steps);
    assert!(symbols.iter().any(|s| s == "SPF_PASS"), "{symbols:?}");
}

#[test]
fn moat_check_authenticates_the_sender_as_the_live_gateway_does() {
    let (pkcs8, public) = ed25519_key();
    let nsd = Nsd::start("test", &zone(&public, ""));
    let dir = scratch();
    std::fs::write(
        dir.path().join("moat.toml"),
        format!(
            "[server]\ndata_dir = \"data\"\n[filter]\ncache_dir = {:?}\n{}",
            moat_test_support::workspace_root()
                .join("target/e2e-plugin-cache")
                .display()
                .to_string(),
            config(&nsd.addr.to_string(), "")
        ),
    )
    .unwrap();
    let signed_message = signed(&pkcs8, &message_from("Alice <alice@good.auth.test>", "hi"));
    std::fs::write(dir.path().join("signed.eml"), &signed_message).unwrap();
    let forged = message_from("Boss <boss@forged.auth.test>", "pay this invoice");
    std::fs::write(dir.path().join("forged.eml"), forged).unwrap();
    let symbols = |file: &str, from: &str| -> Vec<String> {
        let out = crate::moat(
            dir.path(),
            &[
                "check",
                "--json",
                "--config",
                "moat.toml",
                "--ip",
                "127.0.0.1",
                "--helo",
                "good.auth.test",
                "--from",
                from,
                file,
            ],
        );
        out.assert_success();
        out.json_lines()[0]["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let passing = symbols("signed.eml", "alice@good.auth.test");
    for symbol in ["SPF_PASS", "DKIM_VALID_ALIGNED", "DMARC_PASS"] {
        assert!(
            passing.iter().any(|s| s == symbol),
            "{symbol} in {passing:?}"
        );
    }
    let failing = symbols("forged.eml", "boss@forged.auth.test");
    for symbol in ["SPF_FAIL", "DMARC_FAIL_REJECT"] {
        assert!(
            failing.iter().any(|s| s == symbol),
            "{symbol} in {failing:?}"
        );
    }
}
