//! A plugin's kv namespace counted: every backend call's time and its storage failures,
//! for `/metrics` (`moat_kv_calls_total`, `moat_kv_errors_total`, `moat_kv_call_seconds`,
//! by plugin), and storage failures logged at most once per [`LOG_EVERY`] per plugin with
//! the number passed over, so that a backend that is down (Redis stopped) does not write a
//! log line per call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::metrics::{Counter, Histogram};
use crate::store::{EntryChange, KvError, KvNamespace, ScanLimit};

/// The most often a plugin's kv storage failures are logged.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// One plugin's kv counters (from [`super::metrics::PluginMetrics::kv_for_plugin`]).
#[derive(Debug, Clone, Default)]
pub struct KvCallStats {
    /// Backend calls.
    pub calls: Counter,
    /// Calls the backend failed (`storage`: down, slow past its timeout, broken).
    pub errors: Counter,
    /// Time of each backend call.
    pub seconds: Histogram,
}

/// A namespace whose calls are counted and timed.
pub struct Metered {
    inner: Arc<dyn KvNamespace>,
    plugin: String,
    stats: KvCallStats,
    /// When a failure was last logged, and the failures since then not logged.
    logged: Mutex<Option<Instant>>,
    unlogged: AtomicU64,
}

impl Metered {
    /// Counts `inner`'s calls for `plugin` in `stats`.
    pub fn new(inner: Arc<dyn KvNamespace>, plugin: &str, stats: KvCallStats) -> Self {
        Self {
            inner,
            plugin: plugin.to_owned(),
            stats,
            logged: Mutex::new(None),
            unlogged: AtomicU64::new(0),
        }
    }

    fn timed<T>(
        &self,
        call: impl FnOnce(&dyn KvNamespace) -> Result<T, KvError>,
    ) -> Result<T, KvError> {
        let started = Instant::now();
        let result = call(self.inner.as_ref());
        self.stats.calls.inc();
        self.stats.seconds.observe(started.elapsed());
        if let Err(error @ KvError::Storage { .. }) = &result {
            self.stats.errors.inc();
            self.log(error);
        }
        result
    }

    fn log(&self, error: &KvError) {
        let mut logged = self.logged.lock().unwrap_or_else(PoisonError::into_inner);
        if logged.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *logged = Some(Instant::now());
        let passed_over = self.unlogged.swap(0, Ordering::Relaxed);
        tracing::warn!(plugin = %self.plugin, %error, passed_over, "kv storage error (the plugin's on_error applies)");
    }
}

impl KvNamespace for Metered {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.timed(|kv| kv.get(key))
    }
    fn get_now(&self, key: &str) -> Option<Option<Vec<u8>>> {
        self.inner.get_now(key)
    }
    fn get_many_now(&self, keys: &[String]) -> Option<Vec<Option<Vec<u8>>>> {
        self.inner.get_many_now(keys)
    }
    fn counters_get_now(&self, ids: &[u64]) -> Option<Vec<i64>> {
        self.inner.counters_get_now(ids)
    }
    fn contains(&self, key: &str) -> Result<bool, KvError> {
        self.timed(|kv| kv.contains(key))
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.timed(|kv| kv.set(key, value))
    }
    fn delete(&self, key: &str) -> Result<(), KvError> {
        self.timed(|kv| kv.delete(key))
    }
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<bool, KvError> {
        self.timed(|kv| kv.compare_and_swap(key, expected, value))
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.timed(|kv| kv.increment(key, delta))
    }
    fn expire(&self, key: &str, seconds: u32) -> Result<bool, KvError> {
        self.timed(|kv| kv.expire(key, seconds))
    }
    fn remove_expired(&self, now_ms: u64, limit: usize) -> Result<u64, KvError> {
        self.inner.remove_expired(now_ms, limit)
    }
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        self.timed(|kv| kv.get_many(keys))
    }
    fn increment_many(&self, deltas: &[(String, i64)]) -> Result<Vec<i64>, KvError> {
        self.timed(|kv| kv.increment_many(deltas))
    }
    fn counters_get(&self, ids: &[u64]) -> Result<Vec<i64>, KvError> {
        self.timed(|kv| kv.counters_get(ids))
    }
    fn counters_add(
        &self,
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
        room: u64,
    ) -> Result<EntryChange, KvError> {
        self.timed(|kv| kv.counters_add(deltas, keyed, room))
    }
    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: ScanLimit,
    ) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        self.timed(|kv| kv.scan(prefix, start_after, limit))
    }
    fn len(&self) -> Result<u64, KvError> {
        self.timed(|kv| kv.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Registry;
    use crate::store::{Database, FjallKv, KvBackend};

    /// A namespace whose storage always fails.
    struct Broken;

    impl KvNamespace for Broken {
        fn get(&self, _: &str) -> Result<Option<Vec<u8>>, KvError> {
            Err(KvError::Storage {
                namespace: "p".into(),
                operation: "get",
                source: "down".into(),
            })
        }
        fn set(&self, _: &str, _: &[u8]) -> Result<(), KvError> {
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<(), KvError> {
            Ok(())
        }
        fn compare_and_swap(
            &self,
            _: &str,
            _: Option<&[u8]>,
            _: Option<&[u8]>,
        ) -> Result<bool, KvError> {
            Ok(false)
        }
        fn increment(&self, _: &str, _: i64) -> Result<i64, KvError> {
            Ok(0)
        }
        fn expire(&self, _: &str, _: u32) -> Result<bool, KvError> {
            Ok(false)
        }
        fn increment_many(&self, _: &[(String, i64)]) -> Result<Vec<i64>, KvError> {
            Ok(Vec::new())
        }
        fn counters_get(&self, _: &[u64]) -> Result<Vec<i64>, KvError> {
            Ok(Vec::new())
        }
        fn counters_add(
            &self,
            _: &[(u64, i64)],
            _: &[(String, i64)],
            _: u64,
        ) -> Result<EntryChange, KvError> {
            Ok(EntryChange::default())
        }
        fn scan(
            &self,
            _: &str,
            _: Option<&str>,
            _: ScanLimit,
        ) -> Result<Vec<(String, Vec<u8>)>, KvError> {
            Ok(Vec::new())
        }
        fn len(&self) -> Result<u64, KvError> {
            Ok(0)
        }
    }

    #[test]
    fn calls_and_storage_failures_are_counted_by_plugin() {
        let registry = Registry::new();
        let metrics = super::super::metrics::PluginMetrics::register(&registry);
        let dir = tempfile::tempdir().unwrap();
        let live = FjallKv::new(Database::open(dir.path()).unwrap());
        let ok = Metered::new(
            live.namespace("rep").unwrap(),
            "rep",
            metrics.kv_for_plugin("rep"),
        );
        ok.set("k", b"v").unwrap();
        assert_eq!(ok.get("k").unwrap().as_deref(), Some(&b"v"[..]));
        let broken = Metered::new(Arc::new(Broken), "bayes", metrics.kv_for_plugin("bayes"));
        for _ in 0..3 {
            assert!(broken.get("k").is_err());
        }
        assert_eq!(
            broken.unlogged.load(Ordering::Relaxed),
            2,
            "one line, two passed over"
        );
        let text = registry.render();
        for line in [
            "moat_kv_calls_total{plugin=\"rep\"} 2",
            "moat_kv_errors_total{plugin=\"rep\"} 0",
            "moat_kv_calls_total{plugin=\"bayes\"} 3",
            "moat_kv_errors_total{plugin=\"bayes\"} 3",
            "moat_kv_call_seconds_count{plugin=\"bayes\"} 3",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} in {text}");
        }
    }
}
