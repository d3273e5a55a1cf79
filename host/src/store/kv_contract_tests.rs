//! The behaviour every kv backend shares, as tests any backend's test module runs: it
//! defines `Fixture` (`Fixture::new()`, `fixture.namespace(name)`) and the helpers
//! `value` and `keys`, then invokes [`kv_contract_tests!`]. The fjall backend runs them
//! on a temporary database, the Redis backend on a real `redis-server`.

/// The shared tests, expanded in the invoking module.
macro_rules! kv_contract_tests {
    () => {
        #[test]
        fn set_get_delete() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("bayes");
            assert_eq!(value(&*ns, "k"), None);
            ns.set("k", b"one").expect("set");
            assert_eq!(value(&*ns, "k").as_deref(), Some(&b"one"[..]));
            ns.set("k", b"two").expect("replace");
            assert_eq!(value(&*ns, "k").as_deref(), Some(&b"two"[..]));
            assert!(ns.contains("k").expect("contains"));
            ns.delete("k").expect("delete");
            assert_eq!(value(&*ns, "k"), None);
            assert!(!ns.contains("k").expect("contains"));
            ns.delete("k")
                .expect("deleting a missing key is not an error");
        }

        #[test]
        fn empty_keys_and_values_are_ordinary() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("p");
            ns.set("", b"empty key").expect("set empty key");
            ns.set("e", b"").expect("set empty value");
            assert_eq!(value(&*ns, "").as_deref(), Some(&b"empty key"[..]));
            assert_eq!(value(&*ns, "e").as_deref(), Some(&b""[..]));
            assert_eq!(ns.len().ok(), Some(2));
            let all = ns.scan_prefix("", None, 10).expect("scan");
            assert_eq!(keys(&all), ["", "e"]);
        }

        #[test]
        fn increment_counts_from_zero_and_stores_8_byte_le() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("reputation");
            assert_eq!(ns.increment("hits", 5).ok(), Some(5));
            assert_eq!(ns.increment("hits", -7).ok(), Some(-2));
            assert_eq!(value(&*ns, "hits"), Some((-2i64).to_le_bytes().to_vec()));
            ns.set("preset", &40i64.to_le_bytes()).expect("set");
            assert_eq!(ns.increment("preset", 2).ok(), Some(42));
        }

        #[test]
        fn increment_saturates_instead_of_wrapping() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("p");
            ns.set("max", &(i64::MAX - 1).to_le_bytes()).expect("set");
            assert_eq!(ns.increment("max", 10).ok(), Some(i64::MAX));
            assert_eq!(ns.increment("min", i64::MIN).ok(), Some(i64::MIN));
            assert_eq!(ns.increment("min", -1).ok(), Some(i64::MIN));
        }

        #[test]
        fn increment_on_a_non_counter_fails_and_leaves_it() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("p");
            ns.set("name", b"not a number").expect("set");
            match ns.increment("name", 1) {
                Err(KvError::NotACounter { key, len }) => {
                    assert_eq!(key, "name");
                    assert_eq!(len, 12);
                }
                other => panic!("expected NotACounter, got {other:?}"),
            }
            assert_eq!(value(&*ns, "name").as_deref(), Some(&b"not a number"[..]));
        }

        #[test]
        fn concurrent_increments_sum_exactly() {
            let fixture = Fixture::new();
            const THREADS: i64 = 8;
            const PER_THREAD: i64 = 500;
            std::thread::scope(|scope| {
                for _ in 0..THREADS {
                    // Each thread opens the namespace itself: the same name is the same lock.
                    let ns = fixture.namespace("counters");
                    scope.spawn(move || {
                        for _ in 0..PER_THREAD {
                            ns.increment("total", 1).expect("increment");
                            ns.increment("by-two", 2).expect("increment");
                        }
                    });
                }
            });
            let ns = fixture.namespace("counters");
            assert_eq!(ns.increment("total", 0).ok(), Some(THREADS * PER_THREAD));
            assert_eq!(
                ns.increment("by-two", 0).ok(),
                Some(2 * THREADS * PER_THREAD)
            );
        }

        #[test]
        fn scan_prefix_is_ordered_limited_and_pages() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("tokens");
            for key in ["t:b", "t:a", "t:c", "t:d", "u:a", "t", "s:z", "t:aa"] {
                ns.set(key, key.as_bytes()).expect("set");
            }

            let all = ns.scan_prefix("t:", None, 100).expect("scan");
            assert_eq!(keys(&all), ["t:a", "t:aa", "t:b", "t:c", "t:d"]);
            assert!(all.iter().all(|(k, v)| k.as_bytes() == v.as_slice()));

            let first = ns.scan_prefix("t:", None, 2).expect("first page");
            assert_eq!(keys(&first), ["t:a", "t:aa"]);
            let second = ns.scan_prefix("t:", Some("t:aa"), 2).expect("second page");
            assert_eq!(keys(&second), ["t:b", "t:c"]);
            let third = ns.scan_prefix("t:", Some("t:c"), 2).expect("third page");
            assert_eq!(keys(&third), ["t:d"]);
            let done = ns.scan_prefix("t:", Some("t:d"), 2).expect("past the end");
            assert!(done.is_empty());

            // start_after before the prefix starts at the prefix; after it, nothing.
            let before = ns.scan_prefix("t:", Some("a"), 1).expect("scan");
            assert_eq!(keys(&before), ["t:a"]);
            assert!(
                ns.scan_prefix("t:", Some("z"), 10)
                    .expect("scan")
                    .is_empty()
            );
            // A start_after between keys, and no limit.
            let between = ns.scan_prefix("t:", Some("t:ab"), 10).expect("scan");
            assert_eq!(keys(&between), ["t:b", "t:c", "t:d"]);
            assert!(ns.scan_prefix("t:", None, 0).expect("scan").is_empty());
            // The empty prefix is everything.
            assert_eq!(ns.scan_prefix("", None, 100).expect("scan").len(), 8);
        }

        #[test]
        fn a_scan_stops_at_its_byte_bound_but_always_moves_on() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("big");
            for key in ["a", "b", "c", "d"] {
                ns.set(key, &[0u8; 99]).expect("set");
            }
            let page = |after: Option<&str>, bytes| {
                let limit = ScanLimit { entries: 10, bytes };
                let entries = ns.scan("", after, limit).expect("scan");
                entries.into_iter().map(|(key, _)| key).collect::<Vec<_>>()
            };
            // Each entry is 100 bytes of key and value.
            assert_eq!(page(None, 250), ["a", "b"]);
            assert_eq!(page(Some("b"), 250), ["c", "d"]);
            assert_eq!(page(None, 400), ["a", "b", "c", "d"]);
            // One entry larger than the bound still comes, alone.
            assert_eq!(page(None, 10), ["a"]);
            assert_eq!(page(Some("a"), 10), ["b"]);
            assert!(page(Some("d"), 10).is_empty());
        }

        #[test]
        fn len_counts_keys() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("p");
            assert_eq!(ns.len().ok(), Some(0));
            assert!(ns.is_empty().expect("is_empty"));
            ns.set("a", b"1").expect("set");
            ns.set("b", b"2").expect("set");
            ns.set("a", b"3").expect("replace");
            assert_eq!(ns.len().ok(), Some(2));
            ns.delete("a").expect("delete");
            assert_eq!(ns.len().ok(), Some(1));
            assert!(!ns.is_empty().expect("is_empty"));
        }

        #[test]
        fn an_expired_key_goes_and_writes_keep_the_expiry() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("reputation");
            for key in ["window", "kept", "recreated", "counter"] {
                ns.set(key, b"0").expect("set");
            }
            ns.set("counter", &1i64.to_le_bytes()).expect("set");
            assert!(!ns.expire("missing", 1).expect("expire"), "a missing key");
            assert!(!ns.contains("missing").expect("contains"));
            for key in ["window", "kept", "recreated", "counter"] {
                assert!(ns.expire(key, 1).expect("expire"), "{key}");
            }
            // Writes keep the deadline; cancelling or deleting ends it.
            ns.set("window", b"1").expect("set");
            assert!(
                ns.compare_and_swap("window", Some(b"1"), Some(b"2"))
                    .expect("swap")
            );
            assert_eq!(ns.increment("counter", 1).ok(), Some(2));
            assert!(ns.expire("kept", 0).expect("cancel"));
            ns.delete("recreated").expect("delete");
            ns.set("recreated", b"new").expect("set");
            assert_eq!(ns.len().ok(), Some(4));

            std::thread::sleep(std::time::Duration::from_millis(1_300));
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_millis() as u64;
            assert_eq!(ns.remove_expired(now_ms, 100).ok(), Some(2));
            assert_eq!(ns.remove_expired(now_ms, 100).ok(), Some(0), "once");
            assert_eq!(value(&*ns, "window"), None);
            assert_eq!(value(&*ns, "counter"), None);
            assert_eq!(value(&*ns, "kept").as_deref(), Some(&b"0"[..]));
            assert_eq!(value(&*ns, "recreated").as_deref(), Some(&b"new"[..]));
            assert_eq!(ns.len().ok(), Some(2));
            let all = ns.scan_prefix("", None, 10).expect("scan");
            assert_eq!(keys(&all), ["kept", "recreated"]);
            // A key that expired and is written again lives on, without an expiry.
            ns.set("window", b"again").expect("set");
            assert_eq!(ns.remove_expired(u64::MAX, 100).ok(), Some(0));
            assert_eq!(value(&*ns, "window").as_deref(), Some(&b"again"[..]));
        }

        #[test]
        fn namespaces_are_isolated() {
            let fixture = Fixture::new();
            let a = fixture.namespace("plugin-a");
            let b = fixture.namespace("plugin_a");
            a.set("shared-key", b"from a").expect("set");
            assert_eq!(value(&*b, "shared-key"), None);
            b.set("shared-key", b"from b").expect("set");
            assert_eq!(value(&*a, "shared-key").as_deref(), Some(&b"from a"[..]));
            assert_eq!(a.scan_prefix("", None, 10).expect("scan").len(), 1);
            a.increment("n", 1).expect("increment");
            assert_eq!(b.len().ok(), Some(1));
        }

        #[test]
        fn compare_and_swap_writes_only_over_the_expected_value() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("reputation");
            // Absent: only `None` matches.
            assert!(!ns.compare_and_swap("k", Some(b"x"), Some(b"one")).unwrap());
            assert_eq!(value(&*ns, "k"), None);
            assert!(ns.compare_and_swap("k", None, Some(b"one")).unwrap());
            assert_eq!(value(&*ns, "k").as_deref(), Some(&b"one"[..]));
            // Present: a stale expectation loses, the current one wins.
            assert!(!ns.compare_and_swap("k", None, Some(b"two")).unwrap());
            assert!(
                !ns.compare_and_swap("k", Some(b"zero"), Some(b"two"))
                    .unwrap()
            );
            assert_eq!(value(&*ns, "k").as_deref(), Some(&b"one"[..]));
            assert!(
                ns.compare_and_swap("k", Some(b"one"), Some(b"two"))
                    .unwrap()
            );
            assert_eq!(value(&*ns, "k").as_deref(), Some(&b"two"[..]));
            // `None` as the new value removes the key.
            assert!(ns.compare_and_swap("k", Some(b"two"), None).unwrap());
            assert_eq!(value(&*ns, "k"), None);
            assert_eq!(ns.len().ok(), Some(0));
        }

        #[test]
        fn concurrent_read_modify_writes_with_compare_and_swap_lose_nothing() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("reputation");
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let ns = ns.clone();
                    std::thread::spawn(move || {
                        for _ in 0..250 {
                            loop {
                                let current = ns.get("log").unwrap();
                                let mut next = current.clone().unwrap_or_default();
                                next.push(b'.');
                                if ns
                                    .compare_and_swap("log", current.as_deref(), Some(&next))
                                    .unwrap()
                                {
                                    break;
                                }
                            }
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            assert_eq!(value(&*ns, "log").map(|v| v.len()), Some(1000));
        }

        #[test]
        fn id_counters_are_exact_and_saturate_over_the_whole_i64_range() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("bayes");
            let big = (1i64 << 53) + 1; // not a double
            ns.counters_add(&[(7, big), (8, i64::MAX - 1)], &[], u64::MAX)
                .expect("add");
            assert_eq!(ns.counters_get(&[7, 8]).ok(), Some(vec![big, i64::MAX - 1]));
            ns.counters_add(&[(7, 1), (8, 10), (9, i64::MIN), (9, -1)], &[], u64::MAX)
                .expect("add");
            assert_eq!(
                ns.counters_get(&[7, 8, 9]).ok(),
                Some(vec![big + 1, i64::MAX, i64::MIN])
            );
            let mut all = ns.counters_all().expect("all");
            all.sort_unstable();
            assert_eq!(all, [(7, big + 1), (8, i64::MAX), (9, i64::MIN)]);
        }

        #[test]
        fn id_counters_live_beside_string_keys_in_one_atomic_write() {
            let fixture = Fixture::new();
            let ns = fixture.namespace("bayes");
            ns.set("text", b"not a counter").expect("set");
            let keyed = |pairs: &[(&str, i64)]| -> Vec<(String, i64)> {
                pairs.iter().map(|(k, d)| ((*k).to_owned(), *d)).collect()
            };
            // A string key that is not a counter fails the whole write.
            assert!(matches!(
                ns.counters_add(&[(7, 1)], &keyed(&[("text", 1)]), u64::MAX),
                Err(KvError::NotACounter { len: 13, .. })
            ));
            assert_eq!(ns.counters_get(&[7]).expect("get"), [0]);

            let change = ns
                .counters_add(
                    &[(7, 2), (u64::MAX, -1), (7, 3)],
                    &keyed(&[("stats", 1)]),
                    u64::MAX,
                )
                .expect("add");
            assert_eq!((change.added, change.removed), (3, 0));
            assert_eq!(ns.counters_get(&[7, 8, u64::MAX]).expect("get"), [5, 0, -1]);
            assert_eq!(ns.increment("stats", 0).ok(), Some(1));
            assert_eq!(ns.len().ok(), Some(4), "text, stats and two counters");
            // Counters are not string keys.
            assert_eq!(
                keys(&ns.scan_prefix("", None, 100).expect("scan")),
                ["stats", "text"]
            );
            // Back at 0, a counter is removed.
            let change = ns
                .counters_add(&[(u64::MAX, 1)], &[], u64::MAX)
                .expect("add");
            assert_eq!((change.added, change.removed), (0, 1));
            assert_eq!(ns.len().ok(), Some(3));
            // Refused for want of room, nothing changes.
            assert!(matches!(
                ns.counters_add(&[(1, 1), (2, 1)], &keyed(&[("stats", 1)]), 1),
                Err(KvError::QuotaExceeded {
                    actual: 2,
                    max: 1,
                    ..
                })
            ));
            assert_eq!(ns.counters_get(&[1, 2]).expect("get"), [0, 0]);
            assert_eq!(ns.increment("stats", 0).ok(), Some(1));
        }
    };
}

pub(super) use kv_contract_tests;
