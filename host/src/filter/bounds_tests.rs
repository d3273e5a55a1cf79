//! The bounds on what one plugin call's host calls may cost, against the real `misbehave`
//! test guest: a slow kv backend is cut at the call's time budget, a scan returns no more
//! than the host allows whatever the plugin asks, and DNS lookups beyond the call's budget
//! of questions or time are answered with errors the plugin handles.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::capabilities::{MAX_SCAN_BYTES, MAX_SCAN_ENTRIES, Services};
use super::engine::{EngineSettings, FilterEngine};
use super::kv_workers::KvWorkers;
use super::loader::{LoadContext, load_file};
use super::metrics::PluginMetrics;
use super::pipeline::{CallReport, Pipeline, SessionContext, StageInput};
use super::verdict::Verdict;
use crate::config::{Config, OcrConfig, PluginSettings};
use crate::dns::{Resolver, ResolverSettings};
use crate::message::ParsedMessage;
use crate::metrics::Registry;
use crate::store::{
    Database, EntryChange, FjallKv, KvBackend, KvError, KvNamespace, KvQuota, ScanLimit,
};
use crate::test_guests::TEST_MISBEHAVE;

/// A kv backend whose every call first sleeps: a backend stuck on its disk or network.
struct SlowKv {
    inner: FjallKv,
    delay: Duration,
}

struct SlowNamespace {
    inner: Arc<dyn KvNamespace>,
    delay: Duration,
}

impl KvBackend for SlowKv {
    fn namespaces(&self) -> Result<Vec<String>, KvError> {
        self.inner.namespaces()
    }

    fn namespace(&self, name: &str) -> Result<Arc<dyn KvNamespace>, KvError> {
        Ok(Arc::new(SlowNamespace {
            inner: self.inner.namespace(name)?,
            delay: self.delay,
        }))
    }
}

impl SlowNamespace {
    fn wait(&self) -> &dyn KvNamespace {
        std::thread::sleep(self.delay);
        &*self.inner
    }
}

impl KvNamespace for SlowNamespace {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.wait().get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.wait().set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), KvError> {
        self.wait().delete(key)
    }
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<bool, KvError> {
        self.wait().compare_and_swap(key, expected, value)
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.wait().increment(key, delta)
    }
    fn expire(&self, key: &str, seconds: u32) -> Result<bool, KvError> {
        self.wait().expire(key, seconds)
    }
    fn increment_many(&self, deltas: &[(String, i64)]) -> Result<Vec<i64>, KvError> {
        self.wait().increment_many(deltas)
    }
    fn counters_get(&self, ids: &[u64]) -> Result<Vec<i64>, KvError> {
        self.wait().counters_get(ids)
    }
    fn counters_add(
        &self,
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
        room: u64,
    ) -> Result<EntryChange, KvError> {
        self.wait().counters_add(deltas, keyed, room)
    }
    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: ScanLimit,
    ) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        self.wait().scan(prefix, start_after, limit)
    }
    fn len(&self) -> Result<u64, KvError> {
        // Opening the namespace counts its keys: not slow, or loading would be.
        self.inner.len()
    }
}

/// The misbehave guest loaded with `settings` (kv granted), over `kv`, in a pipeline.
struct Harness {
    pipeline: Pipeline,
    _cache: tempfile::TempDir,
}

impl Harness {
    async fn new(kv: &dyn KvBackend, resolver: Option<Resolver>, settings: PluginSettings) -> Self {
        let engine = Arc::new(
            FilterEngine::new(&EngineSettings {
                max_concurrent_calls: 2,
                max_memory: 64 << 20,
            })
            .expect("engine"),
        );
        let services = Services {
            resolver,
            ocr: crate::ocr::engine_from_config(&OcrConfig::default()),
            clock: crate::time::Clock::system(),
            metrics: PluginMetrics::register(&Registry::new()),
            kv_workers: KvWorkers::start(2),
        };
        let cache = tempfile::tempdir().expect("cache dir");
        let config = Config::embedded_default().expect("the embedded config");
        let ctx = LoadContext {
            engine: &engine,
            services: &services,
            kv,
            kv_quota: KvQuota {
                max_key_bytes: 256,
                max_value_bytes: 65_536,
                max_entries: 1_000_000,
            },
            cache_dir: cache.path().to_owned(),
        };
        let settings = PluginSettings {
            capabilities: Some(vec![
                crate::config::Capability::Kv,
                crate::config::Capability::Dns,
            ]),
            ..settings
        };
        let plugin = load_file(
            &ctx,
            &config,
            "misbehave",
            Path::new(TEST_MISBEHAVE),
            settings,
        )
        .await
        .expect("the misbehave guest loads");
        let pipeline = Pipeline::new(engine, vec![Arc::new(plugin)], config.thresholds, 2);
        Self {
            pipeline,
            _cache: cache,
        }
    }

    /// The data stage on a small message in `mode`.
    async fn data(&self, mode: &str) -> CallReport<Verdict> {
        let raw = format!(
            "From: a@example.org\r\nTo: b@example.test\r\nSubject: t\r\nX-Misbehave: {mode}\r\n\r\nhello\r\n"
        );
        let message = Arc::new(ParsedMessage::parse(raw.into_bytes()).expect("a message"));
        let ctx = SessionContext::connected(Arc::from("t"), SocketAddr::from(([127, 0, 0, 1], 4)));
        let plugin = &self.pipeline.plugins()[0];
        self.pipeline
            .call_stage(plugin, &ctx, &StageInput::Data(message))
            .await
    }
}

/// The detail of `symbol` in the verdict, which must have come.
fn detail(report: &CallReport<Verdict>, symbol: &str) -> String {
    let verdict = report.result.as_ref().expect("the call answers");
    verdict
        .symbols
        .iter()
        .find(|s| s.name == symbol)
        .unwrap_or_else(|| panic!("no {symbol} in {verdict:?}"))
        .detail
        .clone()
}

fn fjall(dir: &Path) -> FjallKv {
    FjallKv::new(Database::open(dir).expect("kv database"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_stuck_in_a_slow_kv_call_fails_at_its_time_budget() {
    let dir = tempfile::tempdir().expect("data dir");
    let kv = SlowKv {
        inner: fjall(dir.path()),
        delay: Duration::from_secs(5),
    };
    let settings = PluginSettings {
        time_budget: Some(crate::config::HumanDuration(Duration::from_millis(200))),
        ..PluginSettings::default()
    };
    let harness = Harness::new(&kv, None, settings).await;
    let started = Instant::now();
    // `none` reads its kv counter.
    let report = harness.data("none").await;
    let elapsed = started.elapsed();
    assert_eq!(
        report
            .result
            .as_ref()
            .map_err(super::PluginError::kind)
            .err(),
        Some("timeout"),
        "{:?}",
        report.result
    );
    // Loose, for loaded machines: waiting on the backend or the resolver would take 5 s.
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_for_u32_max_entries_gets_at_most_the_host_bounds() {
    let dir = tempfile::tempdir().expect("data dir");
    let kv = fjall(dir.path());
    let namespace = kv.namespace("misbehave").expect("namespace");
    for i in 0..1500 {
        namespace.set(&format!("small:{i:04}"), b"v").expect("set");
    }
    let harness = Harness::new(&kv, None, PluginSettings::default()).await;
    let report = harness.data("scan-all").await;
    assert_eq!(
        detail(&report, "MISBEHAVE_SCANNED"),
        format!("{MAX_SCAN_ENTRIES} entries")
    );

    // Entries of 4 KiB each: the byte bound comes first.
    for i in 0..1500 {
        namespace.delete(&format!("small:{i:04}")).expect("delete");
        namespace
            .set(&format!("big:{i:04}"), &[7u8; 4096 - 8])
            .expect("set");
    }
    let report = harness.data("scan-all").await;
    assert_eq!(
        detail(&report, "MISBEHAVE_SCANNED"),
        format!("{} entries", MAX_SCAN_BYTES / 4096)
    );
}

/// A resolver asking `server` once per question, for at most `timeout`.
fn resolver(server: SocketAddr, timeout: Duration) -> Resolver {
    Resolver::new(&ResolverSettings {
        nameservers: vec![server],
        timeout,
        attempts: 1,
        ..ResolverSettings::default()
    })
    .expect("resolver")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_past_the_question_budget_are_refused() {
    let dir = tempfile::tempdir().expect("data dir");
    let kv = fjall(dir.path());
    // Invalid PTR questions are answered without asking anyone (port 9: nothing listens).
    let resolver = resolver(
        SocketAddr::from(([127, 0, 0, 1], 9)),
        Duration::from_secs(1),
    );
    let settings = PluginSettings {
        dns_max_questions: Some(50),
        ..PluginSettings::default()
    };
    let harness = Harness::new(&kv, Some(resolver), settings).await;
    let report = harness.data("dns-flood").await;
    assert_eq!(
        detail(&report, "MISBEHAVE_DNS"),
        "invalid-name=50 server-failure=250"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_past_the_dns_time_budget_time_out_and_the_plugin_still_answers() {
    let dir = tempfile::tempdir().expect("data dir");
    let kv = fjall(dir.path());
    // A nameserver that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    let resolver = resolver(
        silent.local_addr().expect("address"),
        Duration::from_secs(1),
    );
    let settings = PluginSettings {
        time_budget: Some(crate::config::HumanDuration(Duration::from_secs(2))),
        dns_time_budget: Some(crate::config::HumanDuration(Duration::from_millis(300))),
        config: Some(toml::from_str("lookups = 5\ndns_name = \"slow.moat.test\"").expect("toml")),
        ..PluginSettings::default()
    };
    let harness = Harness::new(&kv, Some(resolver), settings).await;
    let started = Instant::now();
    let report = harness.data("dns-flood").await;
    let elapsed = started.elapsed();
    assert_eq!(detail(&report, "MISBEHAVE_DNS"), "timeout=5");
    // Loose, for loaded machines: waiting on the backend or the resolver would take 5 s.
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}
