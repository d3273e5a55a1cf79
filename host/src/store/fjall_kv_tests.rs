//! [`FjallKv`] against a real fjall database in a temporary directory.

use std::sync::Arc;

use super::kv_contract_tests::kv_contract_tests;
use super::{Database, FjallKv, KvBackend, KvError, KvNamespace, ScanLimit};

kv_contract_tests!();

struct Fixture {
    tmp: tempfile::TempDir,
    backend: FjallKv,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let db = Database::open(tmp.path()).expect("open database");
        Self {
            tmp,
            backend: FjallKv::new(db),
        }
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

#[test]
fn data_survives_reopening_the_database() {
    let fixture = Fixture::new();
    let dir = fixture.tmp.path().to_path_buf();
    {
        let ns = fixture.namespace("reputation");
        ns.set("ip:192.0.2.1", b"bad").expect("set");
        ns.increment("seen", 3).expect("increment");
    }
    let Fixture { tmp, backend } = fixture;
    drop(backend);

    let backend = FjallKv::new(Database::open(&dir).expect("reopen database"));
    let ns = backend.namespace("reputation").expect("namespace");
    assert_eq!(value(&*ns, "ip:192.0.2.1").as_deref(), Some(&b"bad"[..]));
    assert_eq!(ns.increment("seen", 0).ok(), Some(3));
    assert_eq!(ns.len().ok(), Some(2));
    drop(tmp);
}

#[test]
fn namespace_names_must_fit_a_keyspace_name() {
    let fixture = Fixture::new();
    assert!(matches!(
        fixture.backend.namespace(""),
        Err(KvError::InvalidNamespace { .. })
    ));
    assert!(matches!(
        fixture.backend.namespace(&"n".repeat(253)),
        Err(KvError::InvalidNamespace { .. })
    ));
    assert!(fixture.backend.namespace(&"n".repeat(252)).is_ok());
}

#[test]
fn oversized_keys_are_refused_not_panicked_on() {
    let fixture = Fixture::new();
    let ns = fixture.namespace("p");
    let huge = "k".repeat(70_000);
    assert!(matches!(
        ns.set(&huge, b"v"),
        Err(KvError::QuotaExceeded { .. })
    ));
    assert!(matches!(
        ns.increment(&huge, 1),
        Err(KvError::QuotaExceeded { .. })
    ));
    assert_eq!(value(&*ns, &huge), None);
    ns.delete(&huge).expect("delete of a key that cannot exist");
}

#[test]
fn increment_many_is_all_or_nothing_and_survives_reopening() {
    let fixture = Fixture::new();
    let ns = fixture.namespace("bayes");
    ns.set("text", b"not a counter").expect("set");
    let deltas = |pairs: &[(&str, i64)]| -> Vec<(String, i64)> {
        pairs.iter().map(|(k, d)| ((*k).to_owned(), *d)).collect()
    };
    assert!(matches!(
        ns.increment_many(&deltas(&[("a", 1), ("text", 1)])),
        Err(KvError::NotACounter { .. })
    ));
    assert_eq!(value(&*ns, "a"), None, "a failed batch wrote nothing");
    assert_eq!(
        ns.increment_many(&deltas(&[("a", 2), ("b", -1), ("a", 3)]))
            .expect("increment_many"),
        [2, -1, 5]
    );
    let keys = vec!["a".to_owned(), "missing".to_owned(), "b".to_owned()];
    assert_eq!(
        ns.get_many(&keys).expect("get_many"),
        [
            Some(5i64.to_le_bytes().to_vec()),
            None,
            Some((-1i64).to_le_bytes().to_vec())
        ]
    );
    let dir = fixture.tmp.path().to_owned();
    drop(ns);
    let Fixture { tmp, backend } = fixture;
    drop(backend);
    let reopened = FjallKv::new(Database::open(&dir).expect("reopen"));
    let ns = reopened.namespace("bayes").expect("namespace");
    assert_eq!(ns.get("a").expect("get"), Some(5i64.to_le_bytes().to_vec()));
    drop(tmp);
}

#[test]
fn id_counters_survive_reopening_the_database() {
    let fixture = Fixture::new();
    let ns = fixture.namespace("bayes");
    ns.counters_add(&[(7, 5), (u64::MAX, -1)], &[], u64::MAX)
        .expect("add");
    ns.counters_add(&[(u64::MAX, 1)], &[], u64::MAX)
        .expect("back at 0");
    let dir = fixture.tmp.path().to_owned();
    drop(ns);
    let Fixture { tmp, backend } = fixture;
    drop(backend);
    let reopened = FjallKv::new(Database::open(&dir).expect("reopen"));
    let ns = reopened.namespace("bayes").expect("namespace");
    assert_eq!(ns.counters_get(&[7, u64::MAX]).expect("get"), [5, 0]);
    drop(tmp);
}

#[test]
fn a_corrupt_id_counter_reads_zero_until_written_again() {
    let fixture = Fixture::new();
    let dir = fixture.tmp.path().to_owned();
    {
        let ns = fixture.namespace("bayes");
        ns.counters_add(&[(1, 10), (2, 20)], &[], u64::MAX)
            .expect("add");
    }
    let Fixture { tmp, backend } = fixture;
    drop(backend);
    let db = Database::open(&dir).expect("reopen");
    let raw = db.keyspace("kv.bayes").expect("keyspace");
    let mut key = vec![b'c'];
    key.extend_from_slice(&2u64.to_be_bytes());
    raw.insert(key, b"xyz").expect("corrupt the value");
    raw.insert(b"c-short".to_vec(), 5i64.to_le_bytes())
        .expect("a key of the wrong size");
    drop(raw);
    let backend = FjallKv::new(db);
    let ns = backend
        .namespace("bayes")
        .expect("opens despite the corruption");
    assert_eq!(ns.counters_get(&[1, 2]).expect("get"), [10, 0]);
    ns.counters_add(&[(2, 4)], &[], u64::MAX).expect("rewrite");
    assert_eq!(ns.counters_get(&[2]).expect("get"), [4]);
    drop(tmp);
}
