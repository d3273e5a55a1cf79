//! `GET /metrics` on the admin endpoint: Prometheus text format (parsed here line by line)
//! whose counters match what was sent.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use moat_test_support::wait_until;

use crate::gateway::{Gateway, step};
use crate::{GTUBE, message};

/// `GET /metrics` over a plain HTTP/1.1 connection with `headers` (each ending in CRLF):
/// the whole response.
pub(crate) fn get_metrics(gw: &Gateway, headers: &str) -> String {
    admin_request(gw, "GET /metrics", headers, "")
}

/// The admin token `gw`'s server asks for: `[admin] token` if its config sets one, else
/// the one it made in its data dir.
pub(crate) fn admin_token(gw: &Gateway) -> String {
    let config = std::fs::read_to_string(gw.dir.path().join("moat.toml")).unwrap();
    if let Some(line) = config.lines().find(|l| l.starts_with("token = ")) {
        return line["token = ".len()..].trim_matches('"').to_owned();
    }
    std::fs::read_to_string(gw.dir.path().join("data/admin.token"))
        .expect("the server made its admin token")
        .trim()
        .to_owned()
}

/// `request` (method and path) to `gw`'s admin endpoint over a plain HTTP/1.1 connection,
/// as the CLI sends it (its token; a JSON body type on writes) unless `headers` (each
/// ending in CRLF) say otherwise, with `body`: the whole response.
pub(crate) fn admin_request(gw: &Gateway, request: &str, headers: &str, body: &str) -> String {
    let mut defaults = String::new();
    if !headers.to_ascii_lowercase().contains("authorization:") {
        defaults.push_str(&format!("Authorization: Bearer {}\r\n", admin_token(gw)));
    }
    if !request.starts_with("GET ") && !headers.to_ascii_lowercase().contains("content-type:") {
        defaults.push_str("Content-Type: application/json\r\n");
    }
    raw_admin_request(
        gw.addr("admin"),
        request,
        &format!("{defaults}{headers}"),
        body,
    )
}

/// `request` to the admin endpoint at `admin` with exactly `headers` (and `Host: ADMIN`
/// unless they name another).
pub(crate) fn raw_admin_request(
    admin: SocketAddr,
    request: &str,
    headers: &str,
    body: &str,
) -> String {
    let mut stream = TcpStream::connect(admin).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let host = if headers.to_ascii_lowercase().contains("host:") {
        String::new()
    } else {
        format!("Host: {admin}\r\n")
    };
    write!(
        stream,
        "{request} HTTP/1.1\r\n{host}{headers}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// `GET /metrics`: the body, after checking the status and the content type.
pub(crate) fn scrape(gw: &Gateway) -> String {
    let response = get_metrics(gw, "");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.to_owned()
}

/// Every sample of the exposition, `name{labels}` to value, after checking that each line
/// is a comment (`# HELP` / `# TYPE` of a known kind) or `name[{labels}] value`.
pub(crate) fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.split_whitespace();
            let keyword = words.next();
            assert!(matches!(keyword, Some("HELP" | "TYPE")), "{line}");
            if keyword == Some("TYPE") {
                let kind = words.nth(1);
                assert!(
                    matches!(kind, Some("counter" | "gauge" | "histogram")),
                    "{line}"
                );
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{line}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "twice: {line}"
        );
    }
    samples
}

#[test]
fn metrics_scrape_in_the_text_format_and_count_what_was_sent() {
    let gw = Gateway::start("[admin]\naddress = \"127.0.0.1:0\"\n");
    let before = parse(&scrape(&gw));
    assert_eq!(before["moat_smtp_connections_total"], 0.0);

    let mut accepted = 0;
    for i in 0..3 {
        let steps = gw.smtplib(
            "mx",
            message(&format!("m{i}"), "", "hello").as_bytes(),
            &["--from", "a@example.org", "--rcpt", "b@example.test"],
        );
        assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");
        accepted += 1;
    }
    let steps = gw.smtplib(
        "mx",
        message("gtube", "", GTUBE).as_bytes(),
        &["--from", "a@example.org", "--rcpt", "b@example.test"],
    );
    assert_eq!(step(&steps, "data")["code"], 550, "{steps:?}");

    // The first attempts go to the default route, 127.0.0.1:9, where nothing listens.
    assert!(
        wait_until(Duration::from_secs(10), || {
            parse(&scrape(&gw))["moat_delivery_recipients_total{outcome=\"deferred\"}"]
                >= f64::from(accepted)
        }),
        "no deferred deliveries counted"
    );
    let after = parse(&scrape(&gw));
    assert_eq!(
        after["moat_delivery_recipients_total{outcome=\"delivered\"}"],
        0.0
    );
    assert_eq!(after["moat_delivery_expired_total"], 0.0);
    // The services report (the DNS cache counts are checked in the dnsbl tests).
    assert!(after.contains_key("moat_dns_cache_lookups_total{result=\"miss\"}"));
    assert_eq!(after["moat_smtp_connections_total"], 4.0);
    let passed = after["moat_messages_total{action=\"accept\"}"]
        + after["moat_messages_total{action=\"tag\"}"];
    assert_eq!(passed, f64::from(accepted));
    assert_eq!(after["moat_messages_total{action=\"reject\"}"], 1.0);
    assert_eq!(after["moat_queue_messages"], f64::from(accepted));
    // Every bundled plugin was called, and its histogram adds up.
    for plugin in ["headers", "dnsbl", "reputation", "ocr", "bayes"] {
        let calls = after[&format!("moat_plugin_calls_total{{plugin=\"{plugin}\"}}")];
        assert!(calls >= 4.0, "{plugin}: {calls} calls");
        let count = after[&format!("moat_plugin_call_seconds_count{{plugin=\"{plugin}\"}}")];
        let inf =
            after[&format!("moat_plugin_call_seconds_bucket{{plugin=\"{plugin}\",le=\"+Inf\"}}")];
        assert_eq!(count, calls);
        assert_eq!(inf, calls);
        assert_eq!(
            after[&format!("moat_plugin_failures_total{{plugin=\"{plugin}\"}}")],
            0.0
        );
    }
}

#[test]
fn with_a_token_the_admin_endpoint_refuses_requests_without_it() {
    let gw =
        Gateway::start("[admin]\naddress = \"127.0.0.1:0\"\ntoken = \"0123456789abcdef-test\"\n");
    let admin = gw.addr("admin");
    let response = raw_admin_request(
        admin,
        "GET /metrics",
        "Authorization: Bearer wrong-token-of-some-length\r\n",
        "",
    );
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    let response = raw_admin_request(admin, "GET /metrics", "", "");
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    // The CLI takes the token from the same configuration.
    let out = crate::moat(
        gw.dir.path(),
        &["queue", "list", "--json", "--config", "moat.toml"],
    );
    out.assert_success();
    let out = crate::moat(
        gw.dir.path(),
        &["quarantine", "list", "--config", "moat.toml"],
    );
    out.assert_success();
}
