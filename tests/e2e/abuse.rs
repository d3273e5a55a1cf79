//! What a stranger on port 25, another local user or a web page open in a browser on the
//! host could do with Moat against third parties or against the host itself, tried as
//! they would (issue 22). Each case failed before its fix.

use std::time::Duration;

use moat_test_support::{SmtpSink, scratch, wait_until};

use crate::delivery::{delivery_config, send};
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
        "X-Spam-Flag",
        "X-Spam-Status",
        "autolearn",
        "X-Moat-Report",
        "mx.test; dmarc",
    ] {
        assert!(!header.contains(gone), "{gone} was delivered:\n{header}");
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
