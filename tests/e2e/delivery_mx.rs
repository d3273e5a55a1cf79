//! MX routing against a real authoritative DNS server (NSD) on loopback: bounces to
//! senders of unprotected domains go to the MX hosts in preference order (the first
//! refusing, the second taking it, the third never tried), to the domain's own address
//! when it has no MX, and nowhere for a null MX (RFC 7505) or a domain that does not
//! exist — permanent failures of a null-sender message, which are never bounced.

use std::time::Duration;

use moat_test_support::{Downstream, Nsd, free_port, message_bytes, scratch, wait_until};

use crate::delivery::{delivery_config, queue, send};
use crate::gateway::Gateway;
use crate::message;

const ZONE: &str = "$ORIGIN mx.test.
$TTL 60
@ IN SOA ns.mx.test. hostmaster.mx.test. 1 3600 600 86400 60
@ IN NS ns.mx.test.
ns IN A 127.0.0.1
pref IN MX 30 c.mx.test.
pref IN MX 10 a.mx.test.
pref IN MX 20 b.mx.test.
a IN A 127.0.0.2
b IN A 127.0.0.3
c IN A 127.0.0.4
implicit IN A 127.0.0.5
null IN MX 0 .
";

#[test]
fn bounces_follow_mx_preference_then_the_address_and_a_null_mx_takes_nothing() {
    let dir = scratch();
    let nsd = Nsd::start("mx.test", ZONE);
    let port = free_port("127.0.0.2");
    let log = |name: &str| dir.path().join(name);
    let mx_a = Downstream::start("127.0.0.2", port, &log("a"), &["--refuse-first", "1000"]);
    let mx_b = Downstream::start("127.0.0.3", port, &log("b"), &[]);
    let mx_c = Downstream::start("127.0.0.4", port, &log("c"), &[]);
    let implicit = Downstream::start("127.0.0.5", port, &log("implicit"), &[]);
    let protected = Downstream::start(
        "127.0.0.1",
        0,
        &log("protected"),
        &["--rcpt", "bob@example.test=550 5.1.1 no such user"],
    );
    let config = format!(
        "[dns]\nnameservers = [\"{}\"]\ntimeout = \"1s\"\nattempts = 2\n{}",
        nsd.addr,
        delivery_config(
            &format!("retry_intervals = [\"1s\"]\nmax_age = \"1h\"\nmx_port = {port}"),
            &[(&["example.test"], protected.addr)],
        )
    );
    let gw = Gateway::start(&config);
    for sender in [
        "alice@pref.mx.test",
        "alice@implicit.mx.test",
        "alice@null.mx.test",
        "alice@nowhere.mx.test",
    ] {
        send(
            &gw,
            sender,
            &["bob@example.test"],
            &message("refused", "", "body"),
        );
    }
    assert!(
        wait_until(Duration::from_secs(40), || queue(&gw).is_empty()),
        "every message and bounce is settled without waiting for its maximum age: {:?}",
        queue(&gw)
    );
    assert_eq!(protected.messages().len(), 0);

    // pref.mx.test: a (10) refuses, b (20) takes the bounce, c (30) is never tried.
    assert!(mx_a.connections() >= 1, "the best MX is tried first");
    assert_eq!(mx_a.messages().len(), 0);
    let bounces = mx_b.messages();
    assert_eq!(bounces.len(), 1, "{:?}", mx_b.events());
    assert_eq!(bounces[0]["mail_from"], "");
    assert_eq!(
        bounces[0]["rcpts"],
        serde_json::json!(["alice@pref.mx.test"])
    );
    let bounce = String::from_utf8(message_bytes(&bounces[0])).unwrap();
    assert!(bounce.contains("Status: 5.1.1"), "{bounce}");
    assert_eq!(
        mx_c.connections(),
        0,
        "a worse MX is not tried after a better one took it"
    );

    // implicit.mx.test has no MX: its A record is the mail host.
    let implicit_bounces = implicit.messages();
    assert_eq!(implicit_bounces.len(), 1, "{:?}", implicit.events());
    assert_eq!(
        implicit_bounces[0]["rcpts"],
        serde_json::json!(["alice@implicit.mx.test"])
    );

    // null.mx.test and nowhere.mx.test: their bounces failed for good and were dropped,
    // reaching no server.
    for server in [&mx_a, &mx_b, &mx_c, &implicit, &protected] {
        for event in server.events() {
            let text = event.to_string();
            assert!(
                !text.contains("null.mx.test") && !text.contains("nowhere.mx.test"),
                "{text}"
            );
        }
    }
    let mut gw = gw;
    let log = gw.stop();
    assert!(
        log.contains("556 5.1.10"),
        "the null MX is named in the log:\n{log}"
    );
    assert!(
        log.contains("550 5.1.2"),
        "the missing domain is named in the log:\n{log}"
    );
}
