//! [`RedisKv`]: the shared kv backend, on Redis or Valkey (`[kv] backend = "redis"`), so
//! that the gateways of one site learn together: what the primary MX's plugins count, the
//! backup MX's plugins read.
//!
//! Layout, for the cluster prefix `P` (`[kv] prefix`) and the namespace `NS`:
//! `P:{NS}:v:KEY` holds the value of `KEY` (counters as 8-byte little-endian integers, as
//! in every backend), the sorted set `P:{NS}:keys` lists the keys (all at score 0, so in
//! byte order: scans page through it), the hash `P:{NS}:ids` holds the id counters
//! (8-byte little-endian too), and the sorted set `P:{NS}:exp` scores each key with an expiry by its
//! deadline. Redis expires the values itself (`PEXPIREAT`; writes use `KEEPTTL`, so they
//! keep it); [`KvNamespace::remove_expired`] then takes the expired keys out of the index. The braces are Redis Cluster's hash tag: a namespace's keys share a slot,
//! so a script may touch all of them. A namespace name may not contain a brace.
//!
//! Atomicity: `set` and `delete` are MULTI/EXEC transactions (value and index together);
//! `compare_and_swap`, the increments and `counters_add` are Lua scripts
//! ([`super::redis_scripts`]), which Redis runs without interleaving any other write.
//!
//! Failures: every call has the connect and command timeouts of `[kv]`; a connection
//! that failed is dropped, and the next call connects afresh, so the backend reconnects
//! by itself once Redis is back. The calls block: like every backend's, they run on the
//! filter's kv threads, bounded by the plugin call's deadline (`filter::kv_workers`).
//! Nothing is cached in the process, so several gateways never disagree.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::{Connection, RedisResult};

use super::kv::{EntryChange, KvBackend, KvError, KvNamespace, QuotaLimit, ScanLimit};
use super::redis_scripts::{COMPARE_AND_SWAP, COUNTERS_ADD, EXPIRE, INCREMENT_MANY, SWEEP};

/// How to reach Redis and name the keys: `[kv]`'s redis settings, resolved.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://[user@]host:port[/db]`.
    pub url: String,
    /// The password (read from `[kv] password_file`), if any.
    pub password: Option<String>,
    /// With a `rediss://` url: the CA certificates (PEM) the server's certificate must
    /// chain to; `None`: the system's CA store.
    pub tls_ca: Option<Vec<u8>>,
    /// The first part of every key: one per cluster of gateways sharing what they learn.
    pub prefix: String,
    /// Idle connections kept for the next calls.
    pub pool_size: usize,
    /// Time to open a connection.
    pub connect_timeout: Duration,
    /// Time to wait for one reply.
    pub command_timeout: Duration,
}

/// The kv backend on Redis or Valkey.
pub struct RedisKv {
    pool: Arc<Pool>,
    prefix: String,
}

impl RedisKv {
    /// A backend for `settings`. It does not connect yet: the first call does.
    pub fn new(settings: &RedisSettings) -> Result<Self, KvError> {
        Ok(Self {
            pool: Arc::new(Pool::new(settings)?),
            prefix: settings.prefix.clone(),
        })
    }

    /// Asks Redis for a PONG: whether it answers now.
    pub fn ping(&self) -> Result<(), KvError> {
        self.pool
            .with(|c| redis::cmd("PING").query::<String>(c).map(drop))
            .map_err(|e| storage("", "ping", e))
    }
}

impl Pool {
    /// The connections of `settings`; none is opened yet.
    pub(super) fn new(settings: &RedisSettings) -> Result<Self, KvError> {
        let storage = |source: redis::RedisError| KvError::Storage {
            namespace: String::new(),
            operation: "configure",
            source: Box::new(source),
        };
        let info = redis::IntoConnectionInfo::into_connection_info(settings.url.as_str())
            .map_err(storage)?;
        let info = match &settings.password {
            Some(password) => {
                let redis = info.redis_settings().clone().set_password(password);
                info.set_redis_settings(redis)
            }
            None => info,
        };
        let client = if settings.url.starts_with("rediss://") {
            // redis builds its rustls config on the process's provider: Moat's is ring.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: settings.tls_ca.clone(),
            };
            redis::Client::build_with_tls(info, certificates).map_err(storage)?
        } else {
            redis::Client::open(info).map_err(storage)?
        };
        Ok(Self {
            client,
            idle: Mutex::new(Vec::new()),
            max_idle: settings.pool_size.max(1),
            connect_timeout: settings.connect_timeout,
            command_timeout: settings.command_timeout,
        })
    }
}

impl KvBackend for RedisKv {
    fn is_shared(&self) -> bool {
        true
    }

    fn namespaces(&self) -> Result<Vec<String>, KvError> {
        let start = format!("{}:{{", self.prefix);
        let mut names = Vec::new();
        for index in ["keys", "ids"] {
            let pattern = format!("{start}*}}:{index}");
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = self
                    .pool
                    .with(|c| {
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&pattern)
                            .arg("COUNT")
                            .arg(1000)
                            .query(c)
                    })
                    .map_err(|e| storage("", "list namespaces", e))?;
                names.extend(
                    keys.iter()
                        .filter_map(|key| key.strip_prefix(&start)?.split_once('}'))
                        .map(|(name, _)| name.to_owned()),
                );
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn namespace(&self, name: &str) -> Result<Arc<dyn KvNamespace>, KvError> {
        if name.is_empty() || name.contains(['{', '}']) {
            return Err(KvError::InvalidNamespace {
                name: name.to_owned(),
                reason: "a Redis namespace name is not empty and has no braces".into(),
            });
        }
        let tag = format!("{}:{{{name}}}", self.prefix);
        Ok(Arc::new(RedisNamespace {
            pool: Arc::clone(&self.pool),
            name: name.to_owned(),
            value_prefix: format!("{tag}:v:"),
            index: format!("{tag}:keys"),
            ids: format!("{tag}:ids"),
            expiring: format!("{tag}:exp"),
        }))
    }
}

/// Connections to Redis: taken for one call, given back unless it failed.
pub(super) struct Pool {
    client: redis::Client,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    connect_timeout: Duration,
    command_timeout: Duration,
}

impl Pool {
    /// Runs `call` on an idle connection, or a new one.
    pub(super) fn with<T>(
        &self,
        call: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> RedisResult<T> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => self.connect()?,
        };
        let result = call(&mut connection);
        // A server that became a replica or is loading answers errors on a connection
        // that is fine otherwise: behind a moved address, a new connection reaches the
        // new primary.
        let broken = result.as_ref().is_err_and(|e| {
            e.is_io_error()
                || e.is_timeout()
                || e.is_connection_dropped()
                || e.is_unrecoverable_error()
                || matches!(e.code(), Some("READONLY" | "LOADING" | "MASTERDOWN"))
        });
        if !broken {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < self.max_idle {
                idle.push(connection);
            }
        }
        result
    }

    fn connect(&self) -> RedisResult<Connection> {
        let connection = self
            .client
            .get_connection_with_timeout(self.connect_timeout)?;
        connection.set_read_timeout(Some(self.command_timeout))?;
        connection.set_write_timeout(Some(self.command_timeout))?;
        Ok(connection)
    }
}

/// One plugin's namespace on Redis.
struct RedisNamespace {
    pool: Arc<Pool>,
    name: String,
    /// `P:{NS}:v:`, before every key.
    value_prefix: String,
    /// `P:{NS}:keys`, the sorted set of keys.
    index: String,
    /// `P:{NS}:ids`, the hash of id counters.
    ids: String,
    /// `P:{NS}:exp`, the keys with an expiry, scored by their deadline.
    expiring: String,
}

/// The error of a failed Redis call in `namespace`.
pub(super) fn storage(
    namespace: &str,
    operation: &'static str,
    source: redis::RedisError,
) -> KvError {
    KvError::Storage {
        namespace: namespace.to_owned(),
        operation,
        source: Box::new(source),
    }
}

impl RedisNamespace {
    fn value_key(&self, key: &str) -> String {
        format!("{}{key}", self.value_prefix)
    }

    fn run<T>(
        &self,
        operation: &'static str,
        call: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, KvError> {
        self.pool
            .with(call)
            .map_err(|e| storage(&self.name, operation, e))
    }

    /// Counters from a script's `{1, value…}` reply.
    fn counters_from(&self, reply: Vec<redis::Value>) -> Result<Vec<i64>, KvError> {
        let mut reply = reply.into_iter();
        match reply.next() {
            Some(redis::Value::Int(1)) => reply.map(|v| self.counter(v)).collect(),
            Some(redis::Value::Int(0)) => Err(self.not_a_counter(reply)),
            other => Err(self.unexpected("increment", other)),
        }
    }

    fn counter(&self, value: redis::Value) -> Result<i64, KvError> {
        match value {
            redis::Value::BulkString(bytes) => super::kv::decode_counter("", Some(&bytes)),
            other => Err(self.unexpected("increment", Some(other))),
        }
    }

    /// `NotACounter` from a script's `key, length` reply.
    fn not_a_counter(&self, mut rest: impl Iterator<Item = redis::Value>) -> KvError {
        let key = match rest.next() {
            Some(redis::Value::BulkString(key)) => String::from_utf8_lossy(&key).into_owned(),
            _ => String::new(),
        };
        let len = match rest.next() {
            Some(redis::Value::Int(len)) => usize::try_from(len).unwrap_or_default(),
            _ => 0,
        };
        KvError::NotACounter { key, len }
    }

    fn unexpected(&self, operation: &'static str, reply: Option<redis::Value>) -> KvError {
        KvError::Storage {
            namespace: self.name.clone(),
            operation,
            source: format!("unexpected reply from Redis: {reply:?}").into(),
        }
    }
}

impl KvNamespace for RedisNamespace {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let key = self.value_key(key);
        self.run("get", |c| redis::cmd("GET").arg(&key).query(c))
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = keys.iter().map(|k| self.value_key(k)).collect();
        self.run("get", |c| redis::cmd("MGET").arg(&keys).query(c))
    }

    fn contains(&self, key: &str) -> Result<bool, KvError> {
        let key = self.value_key(key);
        self.run("get", |c| redis::cmd("EXISTS").arg(&key).query(c))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        let stored = self.value_key(key);
        self.run("set", |c| {
            redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(&stored)
                .arg(value)
                .arg("KEEPTTL")
                .ignore()
                .zadd(&self.index, key, 0)
                .ignore()
                .query(c)
        })
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        let stored = self.value_key(key);
        self.run("delete", |c| {
            redis::pipe()
                .atomic()
                .del(&stored)
                .ignore()
                .zrem(&self.index, key)
                .ignore()
                .zrem(&self.expiring, key)
                .ignore()
                .query(c)
        })
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<bool, KvError> {
        let wrote: i64 = self.run("compare-and-swap", |c| {
            COMPARE_AND_SWAP
                .key(&self.index)
                .key(&self.expiring)
                .arg(&self.value_prefix)
                .arg(key)
                .arg(if expected.is_some() { "1" } else { "0" })
                .arg(if value.is_some() { "1" } else { "0" })
                .arg(value.unwrap_or_default())
                .arg(expected.unwrap_or_default())
                .invoke(c)
        })?;
        Ok(wrote == 1)
    }

    fn expire(&self, key: &str, seconds: u32) -> Result<bool, KvError> {
        let deadline = crate::time::now_ms().saturating_add(u64::from(seconds) * 1000);
        let exists: i64 = self.run("expire", |c| {
            EXPIRE
                .key(&self.expiring)
                .arg(self.value_key(key))
                .arg(key)
                .arg(seconds)
                .arg(deadline)
                .invoke(c)
        })?;
        Ok(exists == 1)
    }

    fn remove_expired(&self, now_ms: u64, limit: usize) -> Result<u64, KvError> {
        let removed: u64 = self.run("expire", |c| {
            SWEEP
                .key(&self.expiring)
                .key(&self.index)
                .arg(&self.value_prefix)
                .arg(now_ms)
                .arg(limit)
                .invoke(c)
        })?;
        Ok(removed)
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        let values = self.increment_many(&[(key.to_owned(), delta)])?;
        values
            .first()
            .copied()
            .ok_or_else(|| self.unexpected("increment", None))
    }

    fn increment_many(&self, deltas: &[(String, i64)]) -> Result<Vec<i64>, KvError> {
        if deltas.is_empty() {
            return Ok(Vec::new());
        }
        let reply: Vec<redis::Value> = self.run("increment", |c| {
            let mut invocation = INCREMENT_MANY.key(&self.index);
            invocation.arg(&self.value_prefix);
            for (key, delta) in deltas {
                invocation.arg(key).arg(&delta.to_le_bytes()[..]);
            }
            invocation.invoke(c)
        })?;
        self.counters_from(reply)
    }

    fn counters_get(&self, ids: &[u64]) -> Result<Vec<i64>, KvError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let counts: Vec<Option<Vec<u8>>> = self.run("get", |c| {
            redis::cmd("HMGET").arg(&self.ids).arg(ids).query(c)
        })?;
        Ok(counts
            .iter()
            .map(|count| id_count(count.as_deref()))
            .collect())
    }

    fn counters_all(&self) -> Result<Vec<(u64, i64)>, KvError> {
        let all: Vec<(u64, Vec<u8>)> = self.run("list counters", |c| {
            redis::cmd("HGETALL").arg(&self.ids).query(c)
        })?;
        Ok(all
            .into_iter()
            .map(|(id, count)| (id, id_count(Some(&count))))
            .filter(|&(_, count)| count != 0)
            .collect())
    }

    fn counters_add(
        &self,
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
        room: u64,
    ) -> Result<EntryChange, KvError> {
        let reply: Vec<redis::Value> = self.run("increment", |c| {
            let mut invocation = COUNTERS_ADD.key(&self.index);
            invocation
                .key(&self.ids)
                .arg(&self.value_prefix)
                .arg(room)
                .arg(deltas.len());
            for (id, delta) in deltas {
                invocation.arg(id).arg(&delta.to_le_bytes()[..]);
            }
            for (key, delta) in keyed {
                invocation.arg(key).arg(&delta.to_le_bytes()[..]);
            }
            invocation.invoke(c)
        })?;
        let mut reply = reply.into_iter();
        let int = |reply: &mut std::vec::IntoIter<redis::Value>| match reply.next() {
            Some(redis::Value::Int(n)) => Ok(n),
            other => Err(self.unexpected("increment", other)),
        };
        match int(&mut reply)? {
            1 => Ok(EntryChange {
                added: u64::try_from(int(&mut reply)?).unwrap_or_default(),
                removed: u64::try_from(int(&mut reply)?).unwrap_or_default(),
            }),
            0 => Err(KvError::QuotaExceeded {
                limit: QuotaLimit::Entries,
                actual: u64::try_from(int(&mut reply)?).unwrap_or_default(),
                max: room,
            }),
            _ => Err(self.not_a_counter(reply)),
        }
    }

    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: ScanLimit,
    ) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        super::redis_scan::scan(self, prefix, start_after, limit)
    }

    fn len(&self) -> Result<u64, KvError> {
        self.run("len", |c| {
            let (keys, ids): (u64, u64) =
                redis::pipe().zcard(&self.index).hlen(&self.ids).query(c)?;
            Ok(keys + ids)
        })
    }
}

/// An id counter as stored: 8 bytes little-endian; anything else (or nothing) reads 0, as
/// a corrupt entry does in fjall.
fn id_count(stored: Option<&[u8]>) -> i64 {
    stored
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map_or(0, i64::from_le_bytes)
}

impl super::redis_scan::Pages for RedisNamespace {
    fn keys_between(&self, min: &[u8], max: &[u8], count: usize) -> Result<Vec<String>, KvError> {
        self.run("scan", |c| {
            redis::cmd("ZRANGEBYLEX")
                .arg(&self.index)
                .arg(min)
                .arg(max)
                .arg("LIMIT")
                .arg(0)
                .arg(count)
                .query(c)
        })
    }

    fn values_of(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        self.get_many(keys)
    }
}
