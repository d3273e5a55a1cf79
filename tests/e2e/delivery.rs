//! Delivery end to end: the real gateway forwarding to real next hops on loopback —
//! Postfix's smtp-sink, and `clients/downstream.py` where a test needs chosen replies per
//! recipient or refused connections — with a short retry schedule; the queue looked at
//! and acted on through `moat queue` while the gateway runs.

use std::net::SocketAddr;
use std::time::Duration;

use moat_test_support::{Downstream, SmtpSink, free_port, message_bytes, scratch, wait_until};
use serde_json::Value;

use crate::gateway::{Gateway, queued_id, step};
use crate::{message, moat};

/// `[admin]` on a free port and `[delivery]` with `keys`, then one route per entry.
pub(crate) fn delivery_config(keys: &str, routes: &[(&[&str], SocketAddr)]) -> String {
    let mut text = format!(
        "[admin]\naddress = \"127.0.0.1:0\"\n[delivery]\nconnect_timeout = \"2s\"\ncommand_timeout = \"10s\"\n{keys}\n"
    );
    for (domains, server) in routes {
        let domains: Vec<String> = domains.iter().map(|d| format!("{d:?}")).collect();
        text.push_str(&format!(
            "[[delivery.route]]\ndomains = [{}]\nservers = [\"{server}\"]\n",
            domains.join(", ")
        ));
    }
    text
}

/// Sends `body` (a whole message) from `from` to `rcpts`; the queue id.
pub(crate) fn send(gw: &Gateway, from: &str, rcpts: &[&str], body: &str) -> String {
    let mut args = vec!["--from", from];
    for rcpt in rcpts {
        args.extend(["--rcpt", rcpt]);
    }
    let steps = gw.smtplib("mx", body.as_bytes(), &args);
    let data = step(&steps, "data");
    assert_eq!(data["code"], 250, "{steps:?}");
    queued_id(data["text"].as_str().unwrap())
}

/// `moat queue list --json` against the running gateway.
pub(crate) fn queue(gw: &Gateway) -> Vec<Value> {
    let out = moat(
        gw.dir.path(),
        &["queue", "list", "--json", "--config", "moat.toml"],
    );
    out.assert_success();
    out.json_lines()
}

/// The state record of `address` in the queued message `id`, if queued.
fn recipient_state(gw: &Gateway, id: &str, address: &str) -> Option<Value> {
    queue(gw)
        .into_iter()
        .find(|e| e["id"] == id)?
        .get("recipients")?
        .as_array()?
        .iter()
        .find(|r| r["address"] == address)
        .map(|r| r["state"].clone())
}

/// `dump` split at the first empty line, as (header lines, rest).
fn split_header(dump: &[u8]) -> (Vec<String>, Vec<u8>) {
    let text = String::from_utf8_lossy(dump).into_owned();
    let (header, body) = text
        .split_once("\n\n")
        .or_else(|| text.split_once("\r\n\r\n"))
        .unwrap_or((&text, ""));
    (
        header.lines().map(str::to_owned).collect(),
        body.as_bytes().to_vec(),
    )
}

/// Asserts that `delivered` is `original` with only header fields Moat adds (Received,
/// and the verdict fields: `X-Spam-*`, `X-Moat-Report`) in front.
fn assert_original_with_added_headers(delivered: &[u8], original: &[u8]) {
    assert!(
        delivered.ends_with(original),
        "the original is not intact at the end:\n{}",
        String::from_utf8_lossy(delivered)
    );
    let added =
        String::from_utf8_lossy(&delivered[..delivered.len() - original.len()]).into_owned();
    assert!(added.starts_with("Received: from "), "added: {added:?}");
    for line in added.lines() {
        assert!(
            ["Received: ", "X-Spam-", "X-Moat-Report: "]
                .iter()
                .any(|name| line.starts_with(name))
                || line.starts_with([' ', '\t']),
            "not an added header line: {line:?} in {added:?}"
        );
    }
}

/// A next hop without 8BITMIME (smtp-sink -8) gets the 8-bit text part as quoted-printable
/// (RFC 6152 §3), as Postfix sends it; the text reads the same once decoded.
#[test]
fn eight_bit_text_goes_as_quoted_printable_to_a_server_without_8bitmime() {
    let dir = scratch();
    let sink = SmtpSink::start(&dir.path().join("sink"), 0, &["-8"]);
    let gw = Gateway::start(&delivery_config(
        "",
        &[(&["example.test", "localhost"], sink.addr)],
    ));
    let original = message(
        "8-bit",
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
        "Caf\u{e9} cr\u{e8}me\r\nStra\u{df}e = street",
    );
    send(&gw, "alice@example.org", &["bob@example.test"], &original);
    assert!(
        wait_until(Duration::from_secs(30), || sink.messages().len() == 1),
        "nothing reached smtp-sink; queue: {:?}",
        queue(&gw)
    );
    let dump = &sink.messages()[0];
    let text = String::from_utf8_lossy(dump).into_owned();
    assert!(
        dump.is_ascii(),
        "8-bit bytes reached a server without 8BITMIME:\n{text}"
    );
    assert!(
        text.contains("\nContent-Transfer-Encoding: quoted-printable\n"),
        "{text}"
    );
    assert!(!text.contains("Content-Transfer-Encoding: 8bit"), "{text}");
    assert!(
        text.contains("\n\nCaf=C3=A9 cr=C3=A8me\nStra=C3=9Fe =3D street\n"),
        "{text}"
    );
}

#[test]
fn mail_reaches_smtp_sink_unchanged_but_for_the_added_header_fields_and_leaves_the_queue() {
    let dir = scratch();
    let sink = SmtpSink::start(&dir.path().join("sink"), 0, &[]);
    let gw = Gateway::start(&delivery_config(
        "",
        &[(&["example.test", "localhost"], sink.addr)],
    ));
    let original = message("to the sink", "", ".a line with a leading dot\r\nlast line");
    send(&gw, "alice@example.org", &["bob@example.test"], &original);
    assert!(
        wait_until(Duration::from_secs(30), || sink.messages().len() == 1),
        "nothing reached smtp-sink; queue: {:?}",
        queue(&gw)
    );
    let dump = &sink.messages()[0];
    // smtp-sink writes its own X-… lines (the envelope it received) and a Received field
    // first, and LF line endings.
    let text = String::from_utf8_lossy(dump).into_owned();
    let mut lines = text.split('\n');
    let mut sink_header = Vec::new();
    for line in lines.by_ref() {
        sink_header.push(line.to_owned());
        if line.contains("by smtp-sink") {
            break;
        }
    }
    let date_line = lines.next().unwrap_or_default();
    assert!(date_line.starts_with('\t'), "{text}");
    assert!(
        sink_header.contains(&"X-Mail-Args: <alice@example.org>".to_owned()),
        "{sink_header:?}"
    );
    assert!(
        sink_header.contains(&"X-Rcpt-Args: <bob@example.test>".to_owned()),
        "{sink_header:?}"
    );
    let delivered: String = lines.collect::<Vec<_>>().join("\n");
    let original_lf = original.replace("\r\n", "\n");
    assert_original_with_added_headers(
        delivered.trim_end_matches('\n').as_bytes(),
        original_lf.trim_end_matches('\n').as_bytes(),
    );
    assert!(
        delivered.contains("by mx.test (Moat)") && delivered.contains("for <bob@example.test>"),
        "{delivered}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || queue(&gw).is_empty()),
        "a delivered message must leave the queue: {:?}",
        queue(&gw)
    );
}

#[test]
fn a_stopped_downstream_keeps_mail_queued_until_it_is_back_and_flushed() {
    let dir = scratch();
    let port = free_port("127.0.0.1");
    let downstream_addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let gw = Gateway::start(&delivery_config(
        "retry_intervals = [\"1h\"]\nmax_connections_per_destination = 1",
        &[(&["example.test", "localhost"], downstream_addr)],
    ));
    let ids: Vec<String> = (0..6)
        .map(|i| {
            send(
                &gw,
                "alice@example.org",
                &["bob@example.test"],
                &message(&format!("queued {i}"), "", "body"),
            )
        })
        .collect();
    let all_deferred = || {
        let queued = queue(&gw);
        queued.len() == ids.len()
            && queued.iter().all(|e| {
                e["attempts"].as_u64() >= Some(1)
                    && e["recipients"][0]["state"]["state"] == "deferred"
            })
    };
    assert!(
        wait_until(Duration::from_secs(30), all_deferred),
        "{:?}",
        queue(&gw)
    );
    let error = queue(&gw)[0]["recipients"][0]["state"]["last_error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.contains(&downstream_addr.to_string()) && error.contains("refused"),
        "{error}"
    );
    let human = moat(gw.dir.path(), &["queue", "list", "--config", "moat.toml"]);
    human.assert_success();
    assert!(human.stdout().contains(&ids[0]), "{}", human.stdout());
    assert!(
        human.stdout().contains("deferred:") && human.stdout().contains("next attempt in"),
        "{}",
        human.stdout()
    );

    // Back, but nothing happens before the hour is up: flush.
    let downstream = Downstream::start("127.0.0.1", port, &dir.path().join("log"), &[]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(downstream.messages().len(), 0, "retried before its time");
    let flush = moat(gw.dir.path(), &["queue", "flush", "--config", "moat.toml"]);
    flush.assert_success();
    assert!(flush.stdout().contains("flushed 6"), "{}", flush.stdout());
    assert!(
        wait_until(Duration::from_secs(30), || downstream.messages().len() == 6),
        "{:?}",
        downstream.events()
    );
    assert!(wait_until(Duration::from_secs(10), || queue(&gw).is_empty()));
    // One connection at a time to this destination: connections carry several messages.
    let messages = downstream.messages();
    let mut per_connection = std::collections::HashMap::new();
    for m in &messages {
        *per_connection.entry(m["connection"].as_u64()).or_insert(0) += 1;
    }
    assert!(
        per_connection.values().any(|&n| n >= 2),
        "no connection carried two messages: {per_connection:?}"
    );
    for m in &messages {
        assert_eq!(m["mail_from"], "alice@example.org");
        assert_eq!(m["rcpts"], serde_json::json!(["bob@example.test"]));
    }
}

#[test]
fn a_route_with_credentials_authenticates_after_starttls() {
    let dir = scratch();
    let port = free_port("127.0.0.1");
    let server: SocketAddr = ([127, 0, 0, 1], port).into();
    let config = format!(
        "[admin]\naddress = \"127.0.0.1:0\"\n[delivery]\nconnect_timeout = \"2s\"\nretry_intervals = [\"1s\"]\n\
[[delivery.route]]\ndomains = [\"example.test\"]\nservers = [\"{server}\"]\ntls = \"required\"\n\
auth = {{ username = \"moat\", password = \"s3cret\" }}\n\
[[delivery.route]]\ndomains = [\"localhost\"]\nservers = [\"{server}\"]\ntls = \"required\"\n\
auth = {{ username = \"moat\", password = \"wrong\" }}\n"
    );
    let gw = Gateway::start(&config);
    // The gateway's own development certificate serves the downstream's STARTTLS.
    let tls = gw.dir.path().join("data/tls");
    let (cert, key) = (tls.join("dev-cert.pem"), tls.join("dev-key.pem"));
    let downstream = Downstream::start(
        "127.0.0.1",
        port,
        &dir.path().join("log"),
        &[
            "--tls",
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
            "--auth",
            "moat:s3cret",
        ],
    );
    send(
        &gw,
        "alice@example.org",
        &["bob@example.test"],
        &message("auth", "", "hi"),
    );
    let refused = send(
        &gw,
        "alice@example.org",
        &["root@localhost"],
        &message("no", "", "hi"),
    );
    assert!(
        wait_until(Duration::from_secs(20), || downstream.messages().len() == 1),
        "{:?}",
        downstream.events()
    );
    let delivered = &downstream.messages()[0];
    assert_eq!(delivered["tls"], true);
    assert_eq!(delivered["user"], "moat");
    assert_eq!(delivered["rcpts"], serde_json::json!(["bob@example.test"]));
    assert!(
        wait_until(Duration::from_secs(20), || {
            recipient_state(&gw, &refused, "root@localhost").is_some_and(|s| {
                s["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("AUTH refused: 535 5.7.8"))
            })
        }),
        "wrong credentials defer: {:?}",
        queue(&gw)
    );
    assert_eq!(
        downstream.messages().len(),
        1,
        "nothing sent without authenticating"
    );
}

#[test]
fn a_hung_downstream_costs_one_timeout_not_one_per_message() {
    let dir = scratch();
    let hung = Downstream::start("127.0.0.1", 0, &dir.path().join("log"), &["--silent"]);
    let mut gw = Gateway::start(&delivery_config(
        "retry_intervals = [\"1h\"]\nmax_connections_per_destination = 1",
        &[(&["example.test"], hung.addr)],
    ));
    // command_timeout is 10s here: five messages one after the other would take 50s.
    for i in 0..5 {
        send(
            &gw,
            "alice@example.org",
            &["bob@example.test"],
            &message(&format!("hung {i}"), "", "body"),
        );
    }
    let all_deferred = || {
        let queued = queue(&gw);
        queued.len() == 5
            && queued.iter().all(|e| {
                e["recipients"][0]["state"]["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("timed out waiting for the greeting"))
            })
    };
    assert!(
        wait_until(Duration::from_secs(25), all_deferred),
        "{:?}",
        queue(&gw)
    );
    assert_eq!(
        hung.connections(),
        1,
        "the other messages were deferred without connecting"
    );
    gw.stop();
}

#[test]
fn the_schedule_survives_a_restart() {
    let dir = scratch();
    let port = free_port("127.0.0.1");
    let downstream_addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut gw = Gateway::start(&delivery_config(
        "retry_intervals = [\"3s\"]\nmax_age = \"1h\"",
        &[(&["example.test"], downstream_addr)],
    ));
    let id = send(
        &gw,
        "alice@example.org",
        &["bob@example.test"],
        &message("across a restart", "", "body"),
    );
    assert!(
        wait_until(Duration::from_secs(20), || {
            recipient_state(&gw, &id, "bob@example.test").is_some_and(|s| s["state"] == "deferred")
        }),
        "{:?}",
        queue(&gw)
    );
    gw.restart();
    let downstream = Downstream::start("127.0.0.1", port, &dir.path().join("log"), &[]);
    assert!(
        wait_until(Duration::from_secs(20), || downstream.messages().len() == 1),
        "the restarted gateway retried from its due index: {:?}",
        queue(&gw)
    );
    assert!(wait_until(Duration::from_secs(10), || queue(&gw).is_empty()));
}

#[test]
fn a_downstream_refusing_with_421_is_retried_until_it_accepts() {
    let dir = scratch();
    let downstream = Downstream::start(
        "127.0.0.1",
        0,
        &dir.path().join("log"),
        &[
            "--refuse-first",
            "3",
            "--refuse-reply",
            "421 4.3.2 busy, try later",
        ],
    );
    let gw = Gateway::start(&delivery_config(
        "retry_intervals = [\"1s\"]\nmax_age = \"1h\"",
        &[(&["example.test"], downstream.addr)],
    ));
    let original = message("retried", "", "body\r\n");
    let id = send(&gw, "alice@example.org", &["bob@example.test"], &original);
    let mut saw_error = false;
    assert!(
        wait_until(Duration::from_secs(30), || {
            if let Some(state) = recipient_state(&gw, &id, "bob@example.test") {
                saw_error |= state["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("421 4.3.2 busy"));
            }
            downstream.messages().len() == 1
        }),
        "{:?}",
        downstream.events()
    );
    assert!(
        saw_error,
        "moat queue list never showed the 421 as last error"
    );
    assert_eq!(downstream.connections(), 4, "{:?}", downstream.events());
    let delivered = message_bytes(&downstream.messages()[0]);
    assert_original_with_added_headers(&delivered, original.as_bytes());
    assert!(wait_until(Duration::from_secs(10), || queue(&gw).is_empty()));
}

#[test]
fn expiry_bounces_exactly_once_per_message_and_never_to_the_null_sender() {
    let dir = scratch();
    let refusing = Downstream::start(
        "127.0.0.1",
        0,
        &dir.path().join("refusing"),
        &["--refuse-first", "100000"],
    );
    let sink = SmtpSink::start(&dir.path().join("sink"), 0, &[]);
    let gw = Gateway::start(&delivery_config(
        "retry_intervals = [\"1s\"]\nmax_age = \"6s\"\ndelay_warning = \"2s\"",
        &[
            (&["example.test"], refusing.addr),
            (&["localhost"], sink.addr),
        ],
    ));
    let alice = send(
        &gw,
        "alice@localhost",
        &["bob@example.test"],
        &message("expires", "", "body"),
    );
    let null = send(
        &gw,
        "",
        &["bob@example.test"],
        &message("a bounce", "", "body"),
    );
    let carol = send(
        &gw,
        "carol@localhost",
        &["bob@example.test", "dave@example.test"],
        &message("expires for two", "", "body"),
    );
    assert!(
        wait_until(Duration::from_secs(40), || queue(&gw).is_empty()),
        "{:?}",
        queue(&gw)
    );
    // Anything else would come within a retry interval or two.
    std::thread::sleep(Duration::from_secs(3));
    let all = sink.messages();
    let (delays, dsns): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) = all
        .iter()
        .partition(|m| String::from_utf8_lossy(m).contains("Action: delayed"));
    assert_eq!(
        delays.len(),
        2,
        "one delay warning per message with a sender"
    );
    for delay in &delays {
        let text = String::from_utf8_lossy(delay);
        assert!(text.contains("X-Mail-Args: <>"), "{text}");
        assert!(!text.contains("Action: failed"), "{text}");
    }
    assert_eq!(
        dsns.len(),
        2,
        "one bounce per message with a sender: {dsns:?}"
    );
    let mut seen = Vec::new();
    for dsn in dsns {
        let (header, _) = split_header(dsn);
        let text = String::from_utf8_lossy(dsn).into_owned();
        assert!(header.contains(&"X-Mail-Args: <>".to_owned()), "{text}");
        assert!(text.contains("Content-Type: multipart/report; report-type=delivery-status"));
        assert!(text.contains("Action: failed"), "{text}");
        assert!(text.contains("Status: 4.4.7"), "{text}");
        assert!(
            text.contains("Final-Recipient: rfc822; bob@example.test"),
            "{text}"
        );
        assert!(text.contains("421"), "the last error is reported: {text}");
        if header.contains(&"X-Rcpt-Args: <alice@localhost>".to_owned()) {
            assert!(
                text.contains(&format!("X-Moat-Queue-ID: {alice}")),
                "{text}"
            );
            assert!(text.contains("Subject: expires"), "original header: {text}");
            seen.push("alice");
        } else {
            assert!(
                header.contains(&"X-Rcpt-Args: <carol@localhost>".to_owned()),
                "{text}"
            );
            assert!(
                text.contains(&format!("X-Moat-Queue-ID: {carol}")),
                "{text}"
            );
            assert!(
                text.contains("Final-Recipient: rfc822; dave@example.test"),
                "{text}"
            );
            seen.push("carol");
        }
        assert!(
            !text.contains(&null),
            "nothing about the null sender's message"
        );
    }
    seen.sort_unstable();
    assert_eq!(seen, ["alice", "carol"]);
}

#[test]
fn mixed_recipient_results_are_kept_per_recipient_and_the_queue_commands_act_on_them() {
    let dir = scratch();
    let downstream = Downstream::start(
        "127.0.0.1",
        0,
        &dir.path().join("log"),
        &[
            "--rcpt",
            "later@example.test=450 4.2.1 mailbox busy",
            "--rcpt",
            "gone@example.test=550 5.1.1 no such user",
        ],
    );
    let gw = Gateway::start(&delivery_config(
        "retry_intervals = [\"1s\"]\nmax_age = \"1h\"",
        &[(&["example.test", "localhost"], downstream.addr)],
    ));
    let original = message("three recipients", "", "hello\r\n");
    let id = send(
        &gw,
        "alice@localhost",
        &["ok@example.test", "later@example.test", "gone@example.test"],
        &original,
    );
    let rcpts_to = |address: &str| {
        downstream
            .events()
            .iter()
            .filter(|e| e["event"] == "rcpt" && e["address"] == address)
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(30), || rcpts_to("later@example.test")
            >= 3),
        "{:?}",
        downstream.events()
    );
    assert_eq!(
        rcpts_to("ok@example.test"),
        1,
        "delivered once, never retried"
    );
    assert_eq!(
        rcpts_to("gone@example.test"),
        1,
        "bounced once, never retried"
    );
    let messages = downstream.messages();
    let delivered: Vec<&Value> = messages.iter().filter(|m| m["mail_from"] != "").collect();
    assert_eq!(delivered.len(), 1, "{messages:?}");
    assert_eq!(
        delivered[0]["rcpts"],
        serde_json::json!(["ok@example.test"])
    );
    assert_original_with_added_headers(&message_bytes(delivered[0]), original.as_bytes());
    let bounces: Vec<&Value> = messages.iter().filter(|m| m["mail_from"] == "").collect();
    assert_eq!(bounces.len(), 1, "{messages:?}");
    assert_eq!(bounces[0]["rcpts"], serde_json::json!(["alice@localhost"]));
    let bounce = String::from_utf8(message_bytes(bounces[0])).unwrap();
    assert!(
        bounce.contains(
            "Final-Recipient: rfc822; gone@example.test\r\nAction: failed\r\nStatus: 5.1.1"
        ),
        "{bounce}"
    );
    assert!(bounce.contains("550 5.1.1 no such user"), "{bounce}");
    assert!(
        !bounce.contains("Final-Recipient: rfc822; later@"),
        "{bounce}"
    );
    assert!(!bounce.contains("Final-Recipient: rfc822; ok@"), "{bounce}");

    let state = |address| recipient_state(&gw, &id, address).unwrap();
    assert_eq!(state("ok@example.test")["state"], "delivered");
    assert_eq!(state("gone@example.test")["state"], "failed");
    assert_eq!(state("later@example.test")["state"], "deferred");
    assert!(
        state("later@example.test")["last_error"]
            .as_str()
            .unwrap()
            .contains("450 4.2.1 mailbox busy")
    );

    // The queue commands, while the gateway runs.
    let run = |args: &[&str]| {
        let mut full = vec!["queue"];
        full.extend_from_slice(args);
        full.extend(["--config", "moat.toml"]);
        moat(gw.dir.path(), &full)
    };
    run(&["hold", &id]).assert_success();
    std::thread::sleep(Duration::from_millis(1500));
    let held_at = rcpts_to("later@example.test");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        rcpts_to("later@example.test"),
        held_at,
        "a held message is not tried"
    );
    assert_eq!(queue(&gw)[0]["held"], true);
    let stats = run(&["stats", "--json"]);
    stats.assert_success();
    let stats = &stats.json_lines()[0];
    assert_eq!(stats["messages"], 1, "{stats}");
    assert_eq!(stats["held"], 1, "{stats}");
    assert_eq!(
        (&stats["delivered"], &stats["deferred"], &stats["failed"]),
        (&Value::from(1), &Value::from(1), &Value::from(1)),
        "{stats}"
    );
    run(&["release", &id]).assert_success();
    assert!(
        wait_until(Duration::from_secs(10), || rcpts_to("later@example.test")
            > held_at),
        "released, tried again"
    );
    let show = run(&["show", &id]);
    show.assert_success();
    assert!(
        show.stdout().contains("Subject: three recipients"),
        "{}",
        show.stdout()
    );
    run(&["delete", &id]).assert_failure();
    assert_eq!(queue(&gw).len(), 1, "no delete without --yes");
    run(&["delete", &id, "--yes"]).assert_success();
    assert!(queue(&gw).is_empty());
    run(&["show", &id]).assert_failure();
    run(&["hold", &id]).assert_failure();
}

#[test]
fn a_route_requiring_tls_delivers_over_starttls_to_a_second_moat() {
    // The next hop is another Moat: its `--dev` listener offers STARTTLS with a
    // self-signed certificate, and its queue shows how the message arrived.
    let downstream = Gateway::start("[admin]\naddress = \"127.0.0.1:0\"\n");
    let config = format!(
        "[admin]\naddress = \"127.0.0.1:0\"\n[delivery]\nconnect_timeout = \"2s\"\n\
[[delivery.route]]\ndomains = [\"example.test\"]\nservers = [\"{}\"]\ntls = \"required\"\n",
        downstream.mx()
    );
    let gw = Gateway::start_named("relay.test", &config);
    let original = message("over TLS", "", "secret\r\n");
    send(&gw, "alice@example.org", &["bob@example.test"], &original);
    assert!(
        wait_until(Duration::from_secs(30), || queue(&gw).is_empty()),
        "{:?}",
        queue(&gw)
    );
    let arrived = queue(&downstream);
    assert_eq!(arrived.len(), 1, "{arrived:?}");
    assert_eq!(arrived[0]["mail_from"], "alice@example.org");
    let id = arrived[0]["id"].as_str().unwrap();
    let raw = moat(
        downstream.dir.path(),
        &["queue", "show", id, "--raw", "--config", "moat.toml"],
    );
    raw.assert_success();
    let stored = raw.stdout();
    let first_received = stored.split("\r\nReceived: ").next().unwrap();
    assert!(
        first_received.contains("with ESMTPS") && first_received.contains("version=TLSv1."),
        "the second Moat received it over TLS: {stored}"
    );
    assert!(stored.ends_with(&original), "{stored}");

    // A server without STARTTLS is never sent to in plain text under `required`.
    let dir = scratch();
    let plain = Downstream::start("127.0.0.1", 0, &dir.path().join("log"), &[]);
    let config = format!(
        "[admin]\naddress = \"127.0.0.1:0\"\n[delivery]\nconnect_timeout = \"2s\"\nretry_intervals = [\"1s\"]\n\
[[delivery.route]]\ndomains = [\"example.test\"]\nservers = [\"{}\"]\ntls = \"required\"\n",
        plain.addr
    );
    let strict = Gateway::start(&config);
    let id = send(
        &strict,
        "alice@example.org",
        &["bob@example.test"],
        &original,
    );
    assert!(
        wait_until(Duration::from_secs(20), || {
            recipient_state(&strict, &id, "bob@example.test").is_some_and(|s| {
                s["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("does not offer STARTTLS"))
            })
        }),
        "{:?}",
        queue(&strict)
    );
    assert_eq!(plain.messages().len(), 0, "nothing sent in plain text");
}

/// `tls = "verify"`: the certificate must chain to `tls_ca_file` and carry the server's
/// name, else the mail waits in the queue (Postfix's `verify` level). The downstream is a
/// second Moat whose `--dev` certificate (self-signed, for mx.test and localhost) is the
/// trusted certificate.
#[test]
fn a_verify_route_delivers_only_to_a_certificate_it_trusts_for_the_right_name() {
    let downstream = Gateway::start("[admin]\naddress = \"127.0.0.1:0\"\n");
    let trusted = downstream.dir.path().join("data/tls/dev-cert.pem");
    assert!(
        trusted.exists(),
        "the downstream made its development certificate"
    );
    let route = |domain: &str, ca: &std::path::Path, name: &str| {
        format!(
            "[[delivery.route]]\ndomains = [\"{domain}\"]\nservers = [\"{}\"]\ntls = \"verify\"\n\
tls_ca_file = {:?}\ntls_server_name = \"{name}\"\n",
            downstream.mx(),
            ca.display().to_string()
        )
    };
    let gw = Gateway::start_named(
        "relay.test",
        &format!(
            "[admin]\naddress = \"127.0.0.1:0\"\n[delivery]\nconnect_timeout = \"2s\"\n{}",
            route("example.test", &trusted, "mx.test")
        ),
    );
    let original = message("verified", "", "for the right server only\r\n");
    send(&gw, "alice@example.org", &["bob@example.test"], &original);
    assert!(
        wait_until(Duration::from_secs(30), || queue(&gw).is_empty()),
        "{:?}",
        queue(&gw)
    );
    assert_eq!(queue(&downstream).len(), 1, "delivered over verified TLS");

    // Another certificate as the trusted one (this gateway's own), or the right one for
    // another name: the handshake fails, the mail stays queued, nothing is sent.
    let untrusted = gw.dir.path().join("data/tls/dev-cert.pem");
    let strict = Gateway::start_named(
        "relay2.test",
        &format!(
            "[admin]\naddress = \"127.0.0.1:0\"\n[delivery]\nconnect_timeout = \"2s\"\n{}{}",
            route("example.test", &untrusted, "mx.test"),
            route("localhost", &trusted, "other.test")
        ),
    );
    let id = send(
        &strict,
        "alice@example.org",
        &["bob@example.test", "carol@localhost"],
        &original,
    );
    let error_of = |rcpt: &str| {
        recipient_state(&strict, &id, rcpt)
            .and_then(|s| s["last_error"].as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(20), || {
            !error_of("bob@example.test").is_empty() && !error_of("carol@localhost").is_empty()
        }),
        "{:?}",
        queue(&strict)
    );
    let (bob, carol) = (error_of("bob@example.test"), error_of("carol@localhost"));
    // Both development certificates name the same issuer, so rustls finds the anchor
    // and then a signature it did not make (BadSignature); another CA gives UnknownIssuer.
    assert!(
        bob.contains("TLS handshake failed: invalid peer certificate"),
        "{bob}"
    );
    assert!(
        carol.contains("TLS handshake failed") && carol.contains("not valid for name"),
        "{carol}"
    );
    for rcpt in ["bob@example.test", "carol@localhost"] {
        let state = recipient_state(&strict, &id, rcpt).unwrap();
        assert_eq!(state["state"], "deferred", "{state}");
    }
    assert_eq!(
        queue(&downstream).len(),
        1,
        "nothing more reached the downstream"
    );
}

/// A route changed in moat.toml takes effect at `moat reload`: mail waiting for a
/// downstream that is gone goes to the new server at the next attempt (`queue flush`),
/// without a restart. A changed `[delivery]` key that needs a restart is said so.
#[test]
fn moat_reload_puts_a_changed_route_in_force_for_waiting_mail() {
    let dir = scratch();
    let gone = SocketAddr::from(([127, 0, 0, 1], free_port("127.0.0.1")));
    let gw = Gateway::start(&delivery_config(
        "",
        &[(&["example.test", "localhost"], gone)],
    ));
    let id = send(
        &gw,
        "alice@example.org",
        &["bob@example.test"],
        &message("rerouted", "", "hello\r\n"),
    );
    assert!(
        wait_until(Duration::from_secs(20), || {
            recipient_state(&gw, &id, "bob@example.test").is_some_and(|s| s["state"] == "deferred")
        }),
        "{:?}",
        queue(&gw)
    );

    let sink = SmtpSink::start(&dir.path().join("sink"), 0, &[]);
    let path = gw.dir.path().join("moat.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text
        .replace(&gone.to_string(), &sink.addr.to_string())
        .replace("[delivery]\n", "[delivery]\nmax_connections = 7\n");
    assert_ne!(text, changed);
    std::fs::write(&path, changed).unwrap();
    let reload = moat(gw.dir.path(), &["reload", "--config", "moat.toml"]);
    reload.assert_success();
    assert!(
        reload
            .stdout()
            .contains("reloaded: delivery routes 1 (1 changed"),
        "{}",
        reload.stdout()
    );
    assert!(
        reload
            .stderr()
            .contains("[delivery] keys other than route and mx_port take a restart"),
        "{}",
        reload.stderr()
    );
    moat(gw.dir.path(), &["queue", "flush", "--config", "moat.toml"]).assert_success();
    assert!(
        wait_until(Duration::from_secs(20), || sink.messages().len() == 1),
        "the waiting message never reached the new server; queue: {:?}",
        queue(&gw)
    );
    assert!(
        wait_until(Duration::from_secs(10), || queue(&gw).is_empty()),
        "{:?}",
        queue(&gw)
    );
    let again = moat(gw.dir.path(), &["reload", "--config", "moat.toml"]);
    again.assert_success();
    assert!(
        again
            .stdout()
            .contains("reloaded: delivery routes 1 (unchanged)"),
        "a reload of the same routes keeps them: {}",
        again.stdout()
    );
}

/// The queue commands select by sender or recipient (an address or @domain), as after a
/// compromised account's spam run: list shows the selection, delete needs --yes, and a
/// command with nothing named is refused.
#[test]
fn queue_commands_act_on_every_message_of_a_sender_or_recipient() {
    let gone = SocketAddr::from(([127, 0, 0, 1], free_port("127.0.0.1")));
    let gw = Gateway::start(&delivery_config(
        "",
        &[(&["example.test", "localhost"], gone)],
    ));
    let spam: Vec<String> = (0..2)
        .map(|i| {
            send(
                &gw,
                "spammer@example.org",
                &["bob@example.test"],
                &message(&format!("spam {i}"), "", "buy\r\n"),
            )
        })
        .collect();
    let kept = send(
        &gw,
        "alice@localhost",
        &["carol@localhost"],
        &message("real", "", "hello\r\n"),
    );
    let run = |args: &[&str]| {
        let mut full = vec!["queue"];
        full.extend_from_slice(args);
        full.extend(["--config", "moat.toml"]);
        moat(gw.dir.path(), &full)
    };
    let listed = run(&["list", "--json", "--from", "Spammer@EXAMPLE.org"]);
    listed.assert_success();
    let mut ids: Vec<String> = listed
        .json_lines()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected = spam.clone();
    expected.sort();
    assert_eq!(ids, expected);

    run(&["delete", "--from", "spammer@example.org"]).assert_failure();
    assert_eq!(queue(&gw).len(), 3, "nothing deleted without --yes");
    let hold = run(&["hold"]);
    hold.assert_failure();
    assert!(
        hold.stderr().contains("name the messages"),
        "{}",
        hold.stderr()
    );

    let deleted = run(&[
        "delete",
        "--from",
        "@example.org",
        "--to",
        "bob@example.test",
        "--yes",
    ]);
    deleted.assert_success();
    assert!(
        deleted.stdout().contains("delete: 2 messages"),
        "{}",
        deleted.stdout()
    );
    let left = queue(&gw);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["id"], kept.as_str());

    let held = run(&["hold", "--to", "@LOCALHOST"]);
    held.assert_success();
    assert!(
        held.stdout().contains("hold: 1 messages"),
        "{}",
        held.stdout()
    );
    assert_eq!(queue(&gw)[0]["held"], true);

    // The admin endpoint the CLI uses for many messages at once.
    let batch = |action: &str, body: &str| {
        crate::metrics::admin_request(&gw, &format!("POST /queue/batch/{action}"), "", body)
    };
    let unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    let answer = batch(
        "release",
        &format!("{{\"ids\": [\"{kept}\", \"{unknown}\"]}}"),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["done"], serde_json::json!([kept]), "{body}");
    assert_eq!(body["missing"], serde_json::json!([unknown]), "{body}");
    assert_eq!(queue(&gw)[0]["held"], false);
    // The server selects by sender or recipient; a message both named and selected is
    // acted on once.
    let answer = batch("hold", "{\"to\": \"@LOCALHOST\"}");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains(&format!("\"done\":[\"{kept}\"]")),
        "{answer}"
    );
    assert_eq!(queue(&gw)[0]["held"], true);
    let answer = batch(
        "release",
        &format!("{{\"ids\": [\"{kept}\"], \"from\": \"alice@localhost\"}}"),
    );
    assert!(
        answer.contains(&format!("\"done\":[\"{kept}\"]")),
        "{answer}"
    );
    assert_eq!(queue(&gw)[0]["held"], false);
    let answer = batch("hold", "{\"from\": \"nobody@example.org\"}");
    assert!(answer.contains("\"done\":[]"), "{answer}");
    let answer = batch("hold", "{}");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("at least one"), "{answer}");
    let answer = batch("explode", "{\"ids\": []}");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.contains("no queue action `explode`"), "{answer}");
    let answer = batch("hold", "[1, 2]");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(
        queue(&gw)[0]["held"],
        false,
        "a refused request changes nothing"
    );

    // Returned to its sender: the message leaves, a bounce to alice (routed to the
    // same dead server, so it waits) takes its place.
    assert!(
        wait_until(Duration::from_secs(20), || {
            recipient_state(&gw, &kept, "carol@localhost").is_some_and(|s| s["state"] == "deferred")
        }),
        "{:?}",
        queue(&gw)
    );
    let bounced = run(&["bounce", "--from", "alice@localhost"]);
    bounced.assert_success();
    assert!(
        bounced.stdout().contains(&format!("bounce: {kept}"))
            && bounced.stdout().contains("bounce: 1 messages"),
        "{}",
        bounced.stdout()
    );
    let left = queue(&gw);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_ne!(left[0]["id"], kept.as_str());
    assert_eq!(left[0]["mail_from"], "", "{left:?}");
    assert_eq!(left[0]["recipients"][0]["address"], "alice@localhost");
    let shown = run(&["show", left[0]["id"].as_str().unwrap(), "--raw"]);
    shown.assert_success();
    let dsn = shown.stdout();
    assert!(
        dsn.contains(
            "<carol@localhost>: 550 5.0.0 returned to the sender by the mail system's operator; \
             last error: "
        ),
        "{dsn}"
    );
    assert!(
        dsn.contains("Subject: real"),
        "the original header is attached: {dsn}"
    );
}

/// A message for 150 recipients of one destination leaves in two transactions on one
/// connection, of 100 and 50 recipients (RFC 5321 obliges a server to take 100, no more),
/// and leaves the queue.
#[test]
fn more_than_100_recipients_go_in_transactions_of_at_most_100() {
    let dir = scratch();
    let sink = SmtpSink::start(&dir.path().join("sink"), 0, &[]);
    let gw = Gateway::start(&format!(
        "bundled = []\n[smtp]\nmax_recipients = 200\n{}",
        delivery_config("", &[(&["example.test"], sink.addr)])
    ));
    let rcpts: Vec<String> = (0..150).map(|i| format!("r{i}@example.test")).collect();
    let rcpt_refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    send(
        &gw,
        "alice@example.org",
        &rcpt_refs,
        &message("many", "", "hello"),
    );
    assert!(
        wait_until(Duration::from_secs(30), || sink.messages().len() == 2),
        "smtp-sink got {} transactions; queue: {:?}",
        sink.messages().len(),
        queue(&gw)
    );
    let mut per_transaction: Vec<usize> = sink
        .messages()
        .iter()
        .map(|dump| {
            String::from_utf8_lossy(dump)
                .lines()
                .filter(|line| line.starts_with("X-Rcpt-Args: "))
                .count()
        })
        .collect();
    per_transaction.sort_unstable();
    assert_eq!(per_transaction, [50, 100]);
    assert!(
        wait_until(Duration::from_secs(10), || queue(&gw).is_empty()),
        "a delivered message must leave the queue: {:?}",
        queue(&gw)
    );
}

/// Sends a message to `rcpt` and waits until `downstream` has received `count` messages.
fn send_until_received(gw: &Gateway, downstream: &Downstream, rcpt: &str, count: usize) {
    let body = message(&format!("message {count} to {rcpt}"), "", "body\r\n");
    send(gw, "alice@example.org", &[rcpt], &body);
    assert!(
        wait_until(Duration::from_secs(20), || downstream.messages().len()
            == count),
        "{:?}",
        downstream.events()
    );
}

#[test]
fn a_trickle_of_mail_reuses_one_connection_unless_connection_cache_time_is_0s() {
    for (cache_time, connections) in [("30s", 1), ("0s", 4)] {
        let dir = scratch();
        let downstream = Downstream::start("127.0.0.1", 0, &dir.path().join("log"), &[]);
        let gw = Gateway::start(&delivery_config(
            &format!("connection_cache_time = \"{cache_time}\""),
            &[(&["example.test"], downstream.addr)],
        ));
        for n in 1..=4 {
            send_until_received(&gw, &downstream, "bob@example.test", n);
            // The queue is empty between messages: only a cached connection carries the next.
            std::thread::sleep(Duration::from_millis(300));
        }
        assert_eq!(
            downstream.connections(),
            connections,
            "connection_cache_time = {cache_time}: {:?}",
            downstream.events()
        );
    }
}

#[test]
fn an_idle_cached_connection_gives_its_permit_up_to_a_worker_that_needs_one() {
    let dir = scratch();
    let first = Downstream::start(
        "127.0.0.1",
        0,
        &dir.path().join("first"),
        &["--log-commands"],
    );
    // Answers each message's final dot only after 15 s: its worker holds a permit that long.
    let slow = Downstream::start(
        "127.0.0.1",
        0,
        &dir.path().join("slow"),
        &["--data-delay", "15"],
    );
    // Two connections in all, an idle one cached for far longer than the test waits.
    let gw = Gateway::start(&delivery_config(
        "max_connections = 2\nconnection_cache_time = \"60s\"",
        &[(&["example.test"], first.addr), (&["localhost"], slow.addr)],
    ));
    send_until_received(&gw, &first, "bob@example.test", 1);
    // The first destination's worker now idles with one permit; the slow destination's
    // first message takes the other.
    send_until_received(&gw, &slow, "carol@localhost", 1);
    // A second worker for it finds no permit free: the idle connection gives its up, so
    // this message does not wait 15 s for the first one's reply.
    let started = std::time::Instant::now();
    send_until_received(&gw, &slow, "dave@localhost", 2);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the second message waited {:?} for a permit an idle connection kept",
        started.elapsed()
    );
    assert!(
        first.events().iter().any(|e| e["event"] == "quit"),
        "the idle connection was not closed: {:?}",
        first.events()
    );
}
