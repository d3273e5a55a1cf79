//! [`RedisKv`] against a real `redis-server` (Debian's package) on a loopback port, one
//! per test ([`RedisServer`], killed when the test ends).

use std::sync::Arc;
use std::time::{Duration, Instant};

use moat_test_support::RedisServer;

use super::kv_contract_tests::kv_contract_tests;
use super::{KvBackend, KvError, KvNamespace, RedisKv, RedisSettings, ScanLimit};

kv_contract_tests!();

/// How a test reaches `server` under the key prefix `prefix`.
fn backend(server: &RedisServer, prefix: &str) -> RedisKv {
    RedisKv::new(&RedisSettings {
        url: format!("redis://127.0.0.1:{}/", server.port),
        password: None,
        tls_ca: None,
        prefix: prefix.to_owned(),
        pool_size: 4,
        connect_timeout: Duration::from_secs(1),
        command_timeout: Duration::from_secs(1),
    })
    .expect("backend")
}

struct Fixture {
    server: RedisServer,
    backend: RedisKv,
}

impl Fixture {
    fn new() -> Self {
        let server = RedisServer::start();
        let backend = backend(&server, "moat-test");
        Self { server, backend }
    }

    fn namespace(&self, name: &str) -> Arc<dyn KvNamespace> {
        self.backend.namespace(name).expect("open namespace")
    }
}

fn value(ns: &dyn KvNamespace, key: &str) -> Option<Vec<u8>> {
    ns.get(key).expect("get")
}

fn keys(entries: &[(String, Vec<u8>)]) -> Vec<&str> {
    entries.iter().map(|(k, _)| k.as_str()).collect()
}

fn keyed(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(k, d)| ((*k).to_owned(), *d)).collect()
}

#[test]
fn increment_many_is_all_or_nothing() {
    let fixture = Fixture::new();
    let ns = fixture.namespace("p");
    ns.set("bad", b"xyz").expect("set");
    assert!(matches!(
        ns.increment_many(&keyed(&[("a", 1), ("bad", 1)])),
        Err(KvError::NotACounter { len: 3, .. })
    ));
    assert_eq!(value(&*ns, "a"), None, "the first key was not written");
    assert_eq!(
        ns.increment_many(&keyed(&[("a", 1), ("b", 5), ("a", 2)]))
            .expect("increment"),
        [1, 5, 3]
    );
}

#[test]
fn two_gateways_on_one_prefix_share_their_namespaces_and_other_prefixes_do_not() {
    let fixture = Fixture::new();
    let primary = fixture.namespace("reputation");
    let backup = backend(&fixture.server, "moat-test")
        .namespace("reputation")
        .expect("namespace");
    primary.increment("192.0.2.7", 3).expect("increment");
    assert_eq!(backup.increment("192.0.2.7", 1).ok(), Some(4));
    let other_site = backend(&fixture.server, "elsewhere")
        .namespace("reputation")
        .expect("namespace");
    assert_eq!(other_site.get("192.0.2.7").expect("get"), None);
    assert!(
        fixture.backend.namespace("a{b}").is_err(),
        "a brace would break the hash tag"
    );
}

#[test]
fn a_scan_pages_past_keys_deleted_meanwhile_and_across_round_trips() {
    let fixture = Fixture::new();
    let ns = fixture.namespace("tokens");
    for n in 0..1200 {
        ns.set(&format!("t:{n:05}"), b"v").expect("set");
    }
    ns.delete("t:00003").expect("delete");
    let all = ns.scan("t:", None, ScanLimit::entries(2000)).expect("scan");
    assert_eq!(all.len(), 1199);
    assert_eq!(all[3].0, "t:00004");
    let page = ns
        .scan("t:", Some("t:01195"), ScanLimit::entries(10))
        .expect("scan");
    assert_eq!(keys(&page), ["t:01196", "t:01197", "t:01198", "t:01199"]);
}

#[test]
fn calls_fail_within_their_timeout_while_redis_is_down_and_work_again_when_it_is_back() {
    let mut fixture = Fixture::new();
    let ns = fixture.namespace("reputation");
    ns.set("k", b"v").expect("set");
    fixture.server.kill();
    let started = Instant::now();
    assert!(matches!(ns.get("k"), Err(KvError::Storage { .. })));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a call to a dead Redis failed after {:?}",
        started.elapsed()
    );
    // The same port, a fresh (empty) server: the backend reconnects by itself.
    fixture.server.restart();
    let back = Instant::now();
    while ns.set("k", b"again").is_err() {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "never reconnected"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(value(&*ns, "k").as_deref(), Some(&b"again"[..]));
}

/// A redis-server serving TLS only, with a certificate for 127.0.0.1 of its own CA;
/// and that CA.
fn tls_server() -> (RedisServer, Vec<u8>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("a certificate");
    let cert = certified.cert.pem();
    let server = RedisServer::start_tls(&cert, &certified.signing_key.serialize_pem());
    (server, cert.into_bytes())
}

#[test]
fn rediss_urls_speak_tls_and_verify_the_servers_certificate() {
    let (server, ca) = tls_server();
    let port = server.port;
    let settings = |tls_ca: Option<Vec<u8>>| RedisSettings {
        url: format!("rediss://127.0.0.1:{port}/"),
        password: None,
        tls_ca,
        prefix: "tls".into(),
        pool_size: 2,
        connect_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(2),
    };
    let trusted = RedisKv::new(&settings(Some(ca))).unwrap();
    let ns = trusted.namespace("p").unwrap();
    ns.set("k", b"over tls").expect("set over TLS");
    assert_eq!(value(&*ns, "k").as_deref(), Some(&b"over tls"[..]));
    // The system's CA store does not know this server's CA: refused.
    let unknown = RedisKv::new(&settings(None)).unwrap();
    assert!(matches!(
        unknown.namespace("p").unwrap().get("k"),
        Err(KvError::Storage { .. })
    ));
}
