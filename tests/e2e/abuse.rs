//! What a stranger on port 25, another local user or a web page open in a browser on the
//! host could do with Moat against third parties or against the host itself, tried as
//! they would (issue 22). Each case failed before its fix.

use std::time::Duration;

use moat_test_support::{Downstream, SmtpSink, free_port, scratch, wait_until};

use crate::delivery::{delivery_config, queue, send};
use crate::gateway::{Gateway, step};
use crate::message;
use crate::metrics::{admin_request, admin_token, raw_admin_request};

/// A gateway with an admin endpoint and one message queued (its route is dead, so it
/// stays): the gateway and the message's id.
fn gateway_with_one_queued_message() -> (Gateway, String) {
    let gw = Gateway::start("[admin]\naddress = \"127.0.0.1:0\"\n");
    let steps = gw.smtplib(
        "mx",
        message("kept", "", "hello").as_bytes(),
        &["--from", "a@example.org", "--rcpt", "b@example.test"],
    );
    assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");
    let listed = admin_request(&gw, "GET /queue", "", "");
    let (_, body) = listed.split_once("\r\n\r\n").unwrap();
    let queue: Vec<serde_json::Value> = serde_json::from_str(body).unwrap();
    assert_eq!(queue.len(), 1, "{body}");
    let id = queue[0]["id"].as_str().unwrap().to_owned();
    (gw, id)
}

/// The number of queued messages, asked the way the CLI asks.
fn queued(gw: &Gateway) -> usize {
    let listed = admin_request(gw, "GET /queue", "", "");
    assert!(listed.starts_with("HTTP/1.1 200"), "{listed}");
    let (_, body) = listed.split_once("\r\n\r\n").unwrap();
    serde_json::from_str::<Vec<serde_json::Value>>(body)
        .unwrap()
        .len()
}

#[test]
fn a_web_page_or_another_local_user_cannot_use_the_admin_api() {
    let (gw, id) = gateway_with_one_queued_message();
    let admin = gw.addr("admin");
    let delete_all = "POST /queue/batch/delete";
    let body = "{\"to\": \"@example.test\"}";

    // A cross-site form post from a page at evil.example (a "simple" request: no
    // preflight), even one that somehow knew the token.
    let token = format!("Authorization: Bearer {}\r\n", admin_token(&gw));
    let cross_site = format!("{token}Content-Type: text/plain\r\nOrigin: http://evil.example\r\n");
    let answer = raw_admin_request(admin, delete_all, &cross_site, body);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // Without the Origin header, a text/plain write is still refused.
    let text_plain = format!("{token}Content-Type: text/plain\r\n");
    let answer = raw_admin_request(admin, delete_all, &text_plain, body);
    assert!(answer.starts_with("HTTP/1.1 415"), "{answer}");
    // A page that rebinds its own name to 127.0.0.1 sends that name as Host.
    let rebound = format!("{token}Host: evil.example\r\n");
    let answer = raw_admin_request(admin, "GET /queue", &rebound, "");
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // Another local user has no token: the data dir's is readable by moat's user only.
    let answer = raw_admin_request(
        admin,
        delete_all,
        "Content-Type: application/json\r\n",
        body,
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let message = raw_admin_request(admin, &format!("GET /queue/{id}/message"), "", "");
    assert!(message.starts_with("HTTP/1.1 401"), "{message}");
    assert_eq!(queued(&gw), 1, "nothing changed");

    // The CLI needs nothing typed: it reads the token the server made.
    let out = crate::moat(
        gw.dir.path(),
        &["queue", "delete", &id, "--yes", "--config", "moat.toml"],
    );
    out.assert_success();
    assert_eq!(queued(&gw), 0);
}

#[test]
fn a_verdict_the_sender_wrote_is_gone_from_the_delivered_message() {
    let dir = scratch();
    let sink = SmtpSink::start(&dir.path().join("sink"), 0, &[]);
    let gw = Gateway::start(&delivery_config(
        "",
        &[(&["example.test", "localhost"], sink.addr)],
    ));
    let forged = "X-Spam-Flag: NO\r\nX-Spam-Status: No, score=-10.0\r\n\tautolearn=ham\r\n\
                  X-Moat-Report: clean\r\nAuthentication-Results: mx.test; dmarc=pass\r\n\
                  Authentication-Results: other.example; spf=pass\r\n";
    let original = message(
        "pre-written verdict",
        forged,
        "X-Spam-Flag: NO stays in the body",
    );
    send(&gw, "alice@example.org", &["bob@example.test"], &original);
    assert!(
        wait_until(Duration::from_secs(30), || sink.messages().len() == 1),
        "nothing reached smtp-sink"
    );
    let delivered = String::from_utf8_lossy(&sink.messages()[0]).into_owned();
    let (header, body) = delivered.split_once("\n\n").unwrap();
    for gone in [
        "score=-10.0",
        "autolearn=ham",
        "X-Moat-Report: clean",
        "mx.test; dmarc",
    ] {
        assert!(!header.contains(gone), "{gone} was delivered:\n{header}");
    }
    // Moat's own verdict (the sender's X-Spam-Flag: NO is gone: one is left), once each.
    for field in ["X-Spam-Flag: ", "X-Spam-Status: ", "X-Moat-Report: "] {
        assert_eq!(header.matches(field).count(), 1, "{field}\n{header}");
    }
    assert!(
        header.contains("Authentication-Results: other.example; spf=pass"),
        "{header}"
    );
    assert!(header.contains("Subject: pre-written verdict"), "{header}");
    assert!(body.contains("X-Spam-Flag: NO stays in the body"), "{body}");
}

#[test]
fn a_message_with_fifty_received_fields_or_more_is_a_loop_and_refused() {
    let gw = Gateway::start("");
    let hops = |n: usize| -> String {
        (0..n)
            .map(|i| {
                format!(
                    "Received: from hop{i}.example by hop{}.example; now\r\n",
                    i + 1
                )
            })
            .collect()
    };
    let send = |received: String| {
        let steps = gw.smtplib(
            "mx",
            message("looping", &received, "round and round").as_bytes(),
            &["--from", "a@example.org", "--rcpt", "b@example.test"],
        );
        step(&steps, "data").clone()
    };
    let looping = send(hops(60));
    assert_eq!(looping["code"], 554, "{looping}");
    assert!(
        looping["text"].as_str().unwrap().starts_with("5.4.6"),
        "{looping}"
    );
    let at_the_limit = send(hops(50));
    assert_eq!(at_the_limit["code"], 554, "{at_the_limit}");
    let below = send(hops(49));
    assert_eq!(below["code"], 250, "{below}");
}

/// A gateway routing the protected domains to a downstream that refuses
/// `gone@example.test` for good, and the senders' domain `example.org` to a sink (where
/// bounces arrive), with `extra` config.
struct Refusing {
    gw: Gateway,
    _downstream: Downstream,
    senders: SmtpSink,
}

fn gateway_refusing_gone(dir: &std::path::Path, extra: &str) -> Refusing {
    let downstream = Downstream::start(
        "127.0.0.1",
        0,
        &dir.join("log"),
        &["--rcpt", "gone@example.test=550 5.1.1 no such user"],
    );
    let senders = SmtpSink::start(&dir.join("senders"), 0, &[]);
    let config = format!(
        "{extra}{}",
        delivery_config(
            "",
            &[
                (&["example.test", "localhost"], downstream.addr),
                (&["example.org"], senders.addr),
            ]
        )
    );
    Refusing {
        gw: Gateway::start(&config),
        _downstream: downstream,
        senders,
    }
}

/// The bounces the senders' sink received, once `count` are there (or 30 s passed).
fn bounces(sink: &SmtpSink, count: usize) -> Vec<String> {
    wait_until(Duration::from_secs(30), || sink.messages().len() >= count);
    sink.messages()
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect()
}

#[test]
fn a_bounce_returns_at_most_16_kib_of_header_and_never_the_body_of_a_header_only_message() {
    let dir = scratch();
    let refusing = gateway_refusing_gone(dir.path(), "");
    // A forged sender would get whatever the "header" says: 400 KB of it, no blank line.
    let mut header_only =
        String::from("From: a@example.org\r\nTo: gone@example.test\r\nSubject: hi\r\n");
    for i in 0..8_000 {
        header_only.push_str(&format!(
            "X-Payload-{i}: advertising text for the victim\r\n"
        ));
    }
    header_only.push_str("the end of the payload, in a line that is no header field\r\n");
    send(
        &refusing.gw,
        "victim@example.org",
        &["gone@example.test"],
        &header_only,
    );
    let found = bounces(&refusing.senders, 1);
    assert_eq!(found.len(), 1, "one bounce");
    let bounce = found[0].replace("\r\n", "\n");
    assert!(
        bounce.contains("X-Rcpt-Args: <victim@example.org>"),
        "{bounce}"
    );
    let (_, returned) = bounce
        .split_once("Content-Type: text/rfc822-headers\n\n")
        .expect("a returned header part");
    let returned = returned.split("\n--").next().unwrap();
    // Counted with CRLF, as sent.
    let sent_size = returned.len() + returned.matches('\n').count();
    assert!(sent_size <= 16 * 1024, "{sent_size} bytes returned");
    assert!(returned.starts_with("Received: "), "{returned}");
    assert!(
        returned.contains("X-Payload-1:"),
        "the first fields are returned"
    );
    assert!(!returned.contains("X-Payload-7999:"), "not the rest");
    assert!(!bounce.contains("the end of the payload"), "never the body");
    assert!(
        bounce.len() < 24 * 1024,
        "the whole bounce is {} bytes",
        bounce.len()
    );
}

#[test]
fn mail_accepted_as_spam_is_not_bounced_to_its_probably_forged_sender() {
    let dir = scratch();
    // A message without a Date scores MISSING_DATE, which these thresholds tag.
    let thresholds = "[thresholds]\ntag = 0.5\nquarantine = 50.0\nreject = 60.0\n";
    let mut refusing = gateway_refusing_gone(dir.path(), thresholds);
    let gw = &refusing.gw;
    let undated = "From: a@example.org\r\nTo: gone@example.test\r\nSubject: spam\r\n\r\nbody\r\n";
    send(gw, "victim@example.org", &["gone@example.test"], undated);
    // Ham to the same refusing recipient is bounced: the control.
    send(
        gw,
        "sender@example.org",
        &["gone@example.test"],
        &message("ham", "", "hello"),
    );
    assert!(
        wait_until(Duration::from_secs(30), || queue(gw).is_empty()),
        "both failed and left the queue: {:?}",
        queue(gw)
    );
    let found = bounces(&refusing.senders, 1);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(refusing.senders.messages().len(), 1, "one bounce only");
    assert!(
        found[0].contains("X-Rcpt-Args: <sender@example.org>"),
        "{}",
        found[0]
    );
    let log = refusing.gw.stop();
    assert!(
        log.contains("no DSN: the message was accepted as spam"),
        "{log}"
    );
}

/// The last error of the only recipient of queued message `id`, once it has one.
fn last_error(gw: &Gateway, id: &str) -> Option<String> {
    queue(gw).iter().find(|e| e["id"] == id).and_then(|e| {
        e["recipients"][0]["state"]["last_error"]
            .as_str()
            .map(str::to_owned)
    })
}

#[test]
fn a_route_to_moats_own_listener_defers_with_a_loop_error_and_sends_nothing() {
    let port = free_port("127.0.0.1");
    // The protected domain routed to a second listener of this very gateway.
    let config = format!(
        "[[listener]]\nname = \"mx2\"\naddress = \"127.0.0.1:{port}\"\n{}",
        delivery_config(
            "retry_intervals = [\"1h\"]",
            &[(
                &["example.test", "localhost"],
                format!("127.0.0.1:{port}").parse().unwrap()
            )]
        )
    );
    let gw = Gateway::start(&config);
    assert_eq!(gw.addr("mx2").port(), port);
    let id = send(
        &gw,
        "a@example.org",
        &["b@example.test"],
        &message("loop", "", "x"),
    );
    let mut error = None;
    assert!(
        wait_until(Duration::from_secs(30), || {
            error = last_error(&gw, &id);
            error.is_some()
        }),
        "{:?}",
        queue(&gw)
    );
    let error = error.unwrap();
    assert!(error.contains("loops back to myself"), "{error}");
    assert_eq!(
        queue(&gw).len(),
        1,
        "deferred, not bounced, and not delivered to itself"
    );
}

#[test]
fn a_next_hop_that_greets_with_moats_own_name_is_a_loop() {
    // Another gateway answering as mx.test: the name this one goes by.
    let twin = Gateway::start("[admin]\naddress = \"127.0.0.1:0\"\n");
    let gw = Gateway::start(&delivery_config(
        "retry_intervals = [\"1h\"]",
        &[(&["example.test", "localhost"], twin.mx())],
    ));
    let id = send(
        &gw,
        "a@example.org",
        &["b@example.test"],
        &message("twin", "", "x"),
    );
    let mut error = None;
    assert!(
        wait_until(Duration::from_secs(30), || {
            error = last_error(&gw, &id);
            error.is_some()
        }),
        "{:?}",
        queue(&gw)
    );
    let error = error.unwrap();
    assert!(
        error.contains("loops back to myself (it greets with my name)"),
        "{error}"
    );
    let out = crate::moat(
        twin.dir.path(),
        &["queue", "list", "--json", "--config", "moat.toml"],
    );
    out.assert_success();
    assert!(out.json_lines().is_empty(), "nothing reached the twin");
}
