//! The dnsbl plugin against a real DNS block-list server (rbldnsd) on loopback: listed and
//! unlisted addresses (IPv4 and IPv6), return-code mapping, the refused-quota code,
//! RHSBL on sender and HELO, URIBL on body links, a server that never answers; and the
//! postscreen-style refusal before DATA in a live session.

use std::net::UdpSocket;

use moat_test_support::{DnsblServer, scratch, workspace_root};

use crate::gateway::{Gateway, step};
use crate::{message, moat};

/// The plugin section with the test lists of `tests/fixtures/dnsbl`.
pub(crate) fn dnsbl_section(reject: &str) -> String {
    format!(
        "[plugin.dnsbl]\ntime_budget = \"5s\"\n[plugin.dnsbl.config]\nexclude_private_ips = false\nexclude_reserved_names = false\n{reject}\n\
[[plugin.dnsbl.config.lists]]\nname = \"TEST_BL\"\nzone = \"bl.moat.test\"\nkind = \"ip\"\nscore = 4.0\n\
[plugin.dnsbl.config.lists.codes]\n\"127.0.0.2\" = {{ symbol = \"TEST_BL_SPAM\", score = 5.0 }}\n\"127.0.0.10\" = {{ symbol = \"TEST_BL_POLICY\", score = 2.0 }}\n\
[[plugin.dnsbl.config.lists]]\nname = \"TEST_DBL_SENDER\"\nzone = \"dbl.moat.test\"\nkind = \"sender\"\nscore = 3.0\n\
[[plugin.dnsbl.config.lists]]\nname = \"TEST_DBL_HELO\"\nzone = \"dbl.moat.test\"\nkind = \"helo\"\nscore = 1.5\n\
[[plugin.dnsbl.config.lists]]\nname = \"TEST_URIBL\"\nzone = \"dbl.moat.test\"\nkind = \"uri\"\nscore = 4.0\n"
    )
}

pub(crate) fn dns_section(nameserver: std::net::SocketAddr) -> String {
    format!("[dns]\nnameservers = [\"{nameserver}\"]\ntimeout = \"500ms\"\nattempts = 1\n")
}

pub(crate) fn zones() -> std::path::PathBuf {
    workspace_root().join("tests/fixtures/dnsbl")
}

/// `moat check --json` of one message with the client `ip`, `helo` and `from`; the
/// symbols of the dnsbl plugin as (name, score).
fn check(config: &str, ip: &str, helo: &str, from: &str, body: &str) -> Vec<(String, f64)> {
    let dir = scratch();
    let cache = workspace_root().join("target/e2e-plugin-cache");
    let text = format!(
        "[server]\ndata_dir = \"data\"\n[filter]\nbundled = [\"dnsbl\"]\ncache_dir = {:?}\n{config}",
        cache.display().to_string()
    );
    std::fs::write(dir.path().join("moat.toml"), text).unwrap();
    std::fs::write(dir.path().join("m.eml"), message("hello", "", body)).unwrap();
    let out = moat(
        dir.path(),
        &[
            "check",
            "--json",
            "--config",
            "moat.toml",
            "--ip",
            ip,
            "--helo",
            helo,
            "--from",
            from,
            "m.eml",
        ],
    );
    out.assert_success();
    let value = &out.json_lines()[0];
    value["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["plugin"] == "dnsbl")
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn has(symbols: &[(String, f64)], name: &str, score: f64) -> bool {
    symbols
        .iter()
        .any(|(n, s)| n == name && (*s - score).abs() < 1e-9)
}

#[test]
fn block_list_answers_map_to_the_configured_symbols() {
    let server = DnsblServer::start(&zones());
    let config = format!("{}{}", dns_section(server.addr), dnsbl_section(""));
    let clean = "hello, nothing to see";
    let cases: &[(&str, &str, &str, &str, &str, f64)] = &[
        (
            "listed IPv4 (RFC 5782 test entry)",
            "127.0.0.2",
            "client.example",
            "a@example.org",
            "TEST_BL_SPAM",
            5.0,
        ),
        (
            "listed IPv4 network",
            "192.0.2.33",
            "client.example",
            "a@example.org",
            "TEST_BL_SPAM",
            5.0,
        ),
        (
            "listed IPv6",
            "2001:db8:bad::1",
            "client.example",
            "a@example.org",
            "TEST_BL_SPAM",
            5.0,
        ),
        (
            "return code mapping",
            "198.51.100.7",
            "client.example",
            "a@example.org",
            "TEST_BL_POLICY",
            2.0,
        ),
        (
            "RHSBL on the sender",
            "127.0.0.1",
            "client.example",
            "a@spammer.example",
            "TEST_DBL_SENDER",
            3.0,
        ),
        (
            "RHSBL on the HELO",
            "127.0.0.1",
            "spammer.example",
            "a@example.org",
            "TEST_DBL_HELO",
            1.5,
        ),
    ];
    for (what, ip, helo, from, symbol, score) in cases {
        let symbols = check(&config, ip, helo, from, clean);
        assert!(has(&symbols, symbol, *score), "{what}: {symbols:?}");
    }
    let uribl = check(
        &config,
        "127.0.0.1",
        "client.example",
        "a@example.org",
        "see http://www.bad-urls.example/offer now",
    );
    assert!(has(&uribl, "TEST_URIBL", 4.0), "URIBL: {uribl:?}");
    // spammer.example is listed without subdomains: only the link's registrable domain,
    // which the plugin asks the gateway for (the `domain` import), is found.
    let by_registrable = check(
        &config,
        "127.0.0.1",
        "client.example",
        "a@example.org",
        "see http://mail.deep.spammer.example/offer now",
    );
    assert!(
        has(&by_registrable, "TEST_URIBL", 4.0),
        "URIBL by registrable domain: {by_registrable:?}"
    );
    let unlisted = check(
        &config,
        "127.0.0.1",
        "client.example",
        "a@example.org",
        clean,
    );
    assert!(
        unlisted.iter().all(|(_, s)| *s == 0.0),
        "unlisted: {unlisted:?}"
    );
    let refused = check(
        &config,
        "203.0.113.254",
        "client.example",
        "a@example.org",
        clean,
    );
    assert!(has(&refused, "DNSBL_REFUSED", 0.0), "refused: {refused:?}");
    assert!(
        refused.iter().all(|(_, s)| *s == 0.0),
        "a refused query is not scored: {refused:?}"
    );
}

#[test]
fn a_server_that_never_answers_scores_nothing_and_says_so() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = format!(
        "{}{}",
        dns_section(silent.local_addr().unwrap()),
        dnsbl_section("")
    );
    let symbols = check(
        &config,
        "127.0.0.2",
        "client.example",
        "a@example.org",
        "hi",
    );
    assert!(has(&symbols, "DNSBL_UNREACHABLE", 0.0), "{symbols:?}");
    assert!(symbols.iter().all(|(_, s)| *s == 0.0), "{symbols:?}");
}

fn gateway_with_dnsbl(server: &DnsblServer, reject_at: &str) -> Gateway {
    let reject = format!("reject_threshold = 5.0\nreject_at = \"{reject_at}\"");
    Gateway::start(&format!(
        "{}{}",
        dns_section(server.addr),
        dnsbl_section(&reject)
    ))
}

#[test]
fn a_listed_client_is_refused_at_the_greeting_when_configured_so() {
    let server = DnsblServer::start(&zones());
    let gw = gateway_with_dnsbl(&server, "connect");
    let steps = deliver(
        &gw,
        "mx",
        "127.0.0.2",
        "client.example",
        "a@example.org",
        "hi",
    )
    .1;
    let connect = step(&steps, "connect");
    assert_eq!(connect["code"], 554, "{steps:?}");
    assert!(
        connect["text"].as_str().unwrap().contains("TEST_BL_SPAM"),
        "{steps:?}"
    );
    let clean = deliver(
        &gw,
        "mx",
        "127.0.0.1",
        "client.example",
        "a@example.org",
        "hi",
    )
    .1;
    assert_eq!(step(&clean, "data")["code"], 250, "{clean:?}");
}

#[test]
fn block_list_lookups_show_as_dns_cache_misses_then_hits_in_the_metrics() {
    let server = DnsblServer::start(&zones());
    let gw = Gateway::start(&format!(
        "{}{}[admin]\naddress = \"127.0.0.1:0\"\n",
        dns_section(server.addr),
        dnsbl_section("")
    ));
    let lookups = |result: &str| {
        let text = crate::metrics::get_metrics(&gw, "");
        let body = text.split_once("\r\n\r\n").unwrap().1;
        crate::metrics::parse(body)[&format!("moat_dns_cache_lookups_total{{result=\"{result}\"}}")]
    };
    // A listed client: its list answer has a TTL and is cached (a clean client's
    // NXDOMAIN carries no SOA here, so by RFC 2308 it is not).
    let send = || {
        deliver(
            &gw,
            "mx",
            "127.0.0.2",
            "client.example",
            "a@example.org",
            "hi",
        );
    };
    send();
    let (misses, hits) = (lookups("miss"), lookups("hit"));
    assert!(
        misses >= 1.0,
        "the first message's lists were not cached yet"
    );
    send();
    assert!(
        lookups("hit") > hits,
        "the same questions again come from the cache: hits {hits} -> {}, misses {misses} -> {}",
        lookups("hit"),
        lookups("miss")
    );
}

#[test]
fn a_listed_client_is_refused_at_rcpt_when_configured_so() {
    let server = DnsblServer::start(&zones());
    let gw = gateway_with_dnsbl(&server, "rcpt_to");
    let steps = deliver(
        &gw,
        "mx",
        "127.0.0.2",
        "client.example",
        "a@example.org",
        "hi",
    )
    .1;
    assert_eq!(step(&steps, "connect")["code"], 220, "{steps:?}");
    let rcpt = step(&steps, "rcpt");
    assert_eq!(rcpt["code"], 554, "{steps:?}");
    assert!(
        rcpt["text"].as_str().unwrap().starts_with("5.7.1"),
        "{steps:?}"
    );
    assert!(
        steps.iter().all(|s| s["step"] != "data"),
        "no DATA after every RCPT was refused: {steps:?}"
    );
}

/// Sends one message and returns (the last reply code, the stored message if queued).
fn deliver(
    gw: &Gateway,
    listener: &str,
    source: &str,
    helo: &str,
    from: &str,
    body: &str,
) -> (u64, Vec<serde_json::Value>) {
    let steps = gw.smtplib(
        listener,
        message("hello", "", body).as_bytes(),
        &[
            "--source",
            source,
            "--ehlo",
            helo,
            "--from",
            from,
            "--rcpt",
            "b@example.test",
        ],
    );
    (steps.last().unwrap()["code"].as_u64().unwrap(), steps)
}

#[test]
fn every_kind_of_answer_gets_its_smtp_reply_end_to_end() {
    let server = DnsblServer::start(&zones());
    let reject = "reject_threshold = 5.0\nreject_at = \"connect\"";
    let extra = format!(
        "[[listener]]\nname = \"mx6\"\naddress = \"[::1]:0\"\n[thresholds]\ntag = 1.0\nquarantine = 50.0\nreject = 60.0\n{}{}",
        dns_section(server.addr),
        dnsbl_section(reject)
    );
    let mut gw = Gateway::start(&extra);
    let clean = "nothing to see";
    // Listed IPv4 and IPv6 clients are refused at the greeting.
    for (listener, source) in [("mx", "127.0.0.2"), ("mx6", "::1")] {
        let (code, steps) = deliver(
            &gw,
            listener,
            source,
            "client.example",
            "a@example.org",
            clean,
        );
        assert_eq!(code, 554, "{source}: {steps:?}");
        assert!(
            step(&steps, "connect")["text"]
                .as_str()
                .unwrap()
                .contains("TEST_BL_SPAM"),
            "{steps:?}"
        );
    }
    // Accepted, and tagged only by the hits: (source, helo, sender, body, symbol or none).
    let accepted: &[(&str, &str, &str, &str, Option<&str>)] = &[
        ("127.0.0.1", "client.example", "a@example.org", clean, None),
        ("127.0.0.99", "client.example", "a@example.org", clean, None),
        (
            "127.0.0.1",
            "client.example",
            "a@spammer.example",
            clean,
            Some("TEST_DBL_SENDER"),
        ),
        (
            "127.0.0.1",
            "spammer.example",
            "a@example.org",
            clean,
            Some("TEST_DBL_HELO"),
        ),
        (
            "127.0.0.1",
            "client.example",
            "a@example.org",
            "see http://www.bad-urls.example/x",
            Some("TEST_URIBL"),
        ),
    ];
    let mut expected = Vec::new();
    for (source, helo, from, body, symbol) in accepted {
        let (code, steps) = deliver(&gw, "mx", source, helo, from, body);
        assert_eq!(code, 250, "{source} {helo} {from}: {steps:?}");
        let id = crate::gateway::queued_id(step(&steps, "data")["text"].as_str().unwrap());
        expected.push((id, *symbol));
    }
    gw.stop();
    for (id, symbol) in expected {
        let stored = String::from_utf8(gw.queued_message(&id)).unwrap();
        match symbol {
            Some(symbol) => assert!(
                stored.contains("X-Spam-Flag: YES") && stored.contains(&format!("dnsbl.{symbol}(")),
                "{symbol}: {stored}"
            ),
            None => assert!(stored.contains("X-Spam-Flag: NO"), "not tagged: {stored}"),
        }
    }
}

#[test]
fn mail_still_flows_when_the_block_list_server_never_answers() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let reject = "reject_threshold = 5.0\nreject_at = \"connect\"";
    let extra = format!(
        "[thresholds]\ntag = 1.0\nquarantine = 50.0\nreject = 60.0\n{}{}",
        dns_section(silent.local_addr().unwrap()),
        dnsbl_section(reject)
    );
    let gw = Gateway::start(&extra);
    let (code, steps) = deliver(
        &gw,
        "mx",
        "127.0.0.2",
        "spammer.example",
        "a@spammer.example",
        "http://www.bad-urls.example/",
    );
    assert_eq!(code, 250, "an unreachable list is not a listing: {steps:?}");
}
