//! [`FjallKv`]: the embedded kv backend, one fjall keyspace per plugin namespace.
//!
//! Layout: the namespace `NAME` is the keyspace `kv.NAME` (fjall 3 takes any characters in
//! a keyspace name, so plugin names are used as they are, without an escaping that could
//! make two names collide). Every string key is stored behind one tag byte, `k`: lsm-tree
//! keys may not be empty, plugin keys may; the tag keeps the order of keys. Id counters
//! are stored as the tag `c` and the id's 8 big-endian bytes; they are read into a
//! [`CounterTable`] when the namespace opens and served from it. A key with an expiry has
//! two more entries: `x` and the key, holding its deadline, and `e`, the deadline and the
//! key, an index in deadline order that [`KvNamespace::remove_expired`] reads; writes do
//! not touch them, so a key keeps its expiry until it expires, is deleted or gets another. An id counter entry that
//! is not 8 bytes is reported and left out (it reads 0; the next write replaces it).
//!
//! Durability: writes are not synced to disk one by one. kv holds learnt state (token
//! counts, reputation), not mail: when a write returns it is in the journal in the
//! operating system's buffers, so it survives the process crashing, but the last moments of
//! learning may be lost if the machine fails before the next
//! [`Database::sync`](super::Database::sync) of the kv database (`data_dir/kv`, a database
//! of its own: the queue's syncs do not cover it). The server syncs it every second and at
//! shutdown, `moat learn` when it is done. The journal keeps the store consistent either
//! way: recovery replays whole writes only.
//!
//! Atomicity: each namespace has a write lock; `set`, `delete` and the read-modify-write
//! of `increment` take it, so an increment never loses a concurrent write. Reads take no
//! lock, unless they miss the namespace's value cache ([`ValueCache`]) and fill it.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use fjall::Keyspace;
use tracing::debug;

use super::counters::CounterTable;
use super::kv::{
    EntryChange, KvBackend, KvError, KvNamespace, QuotaLimit, ScanLimit, decode_counter,
};
use super::value_cache::{Cached, ValueCache};
use super::{Database, MAX_KEYSPACE_NAME_BYTES, StoreError};

/// The keyspace of namespace `NAME` is `kv.NAME`.
const KEYSPACE_PREFIX: &str = "kv.";

/// The byte before every stored string key.
const KEY_TAG: u8 = b'k';

/// The byte before every stored id counter's id.
const COUNTER_TAG: u8 = b'c';

/// The byte before a key that has an expiry; the value is its deadline (milliseconds
/// since the Unix epoch, 8 bytes big-endian).
const EXPIRY_TAG: u8 = b'x';

/// The byte before each entry of the expiry index: the deadline (8 bytes big-endian),
/// then the key; no value. In deadline order, so a sweep reads only what is due.
const DEADLINE_TAG: u8 = b'e';

/// The longest key lsm-tree stores, in bytes, less the tag.
const MAX_KEY_BYTES: usize = u16::MAX as usize - 1;

/// The kv backend on the gateway's fjall [`Database`]. Namespaces opened are kept, so
/// opening a name twice gives the same handle (and the same write lock).
pub struct FjallKv {
    db: Database,
    cache_bytes: u64,
    open: Mutex<HashMap<String, Arc<FjallNamespace>>>,
}

/// The value cache of each namespace unless said otherwise: 64 MiB.
pub(super) const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

impl FjallKv {
    /// The backend on `db`; namespaces are created in it as they are first opened, each
    /// with a value cache of `DEFAULT_CACHE_BYTES`.
    pub fn new(db: Database) -> Self {
        Self::with_cache(db, DEFAULT_CACHE_BYTES)
    }

    /// The backend on `db`, each namespace with a value cache of at most `cache_bytes`
    /// (0: none).
    pub fn with_cache(db: Database, cache_bytes: u64) -> Self {
        Self {
            db,
            cache_bytes,
            open: Mutex::new(HashMap::new()),
        }
    }
}

impl std::fmt::Debug for FjallKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallKv")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl KvBackend for FjallKv {
    fn namespaces(&self) -> Result<Vec<String>, KvError> {
        Ok(self
            .db
            .keyspace_names()
            .into_iter()
            .filter_map(|name| name.strip_prefix(KEYSPACE_PREFIX).map(str::to_owned))
            .collect())
    }

    fn namespace(&self, name: &str) -> Result<Arc<dyn KvNamespace>, KvError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(namespace) = open.get(name) {
            return Ok(Arc::clone(namespace) as Arc<dyn KvNamespace>);
        }
        if name.is_empty() {
            return Err(KvError::InvalidNamespace {
                name: name.to_owned(),
                reason: "it is empty".to_owned(),
            });
        }
        let keyspace_name = format!("{KEYSPACE_PREFIX}{name}");
        let keyspace = self
            .db
            .keyspace(&keyspace_name)
            .map_err(|error| match error {
                StoreError::InvalidKeyspaceName { .. } => KvError::InvalidNamespace {
                    name: name.to_owned(),
                    reason: format!(
                        "it is {} bytes, at most {} fit",
                        name.len(),
                        MAX_KEYSPACE_NAME_BYTES - KEYSPACE_PREFIX.len()
                    ),
                },
                other => KvError::Storage {
                    namespace: name.to_owned(),
                    operation: "open",
                    source: Box::new(other),
                },
            })?;
        debug!(
            namespace = name,
            keyspace = keyspace_name,
            "kv namespace opened"
        );
        let counters = load_counters(name, &keyspace)?;
        let namespace = Arc::new(FjallNamespace {
            cache: ValueCache::new(self.cache_bytes),
            counters: RwLock::new(counters),
            db: self.db.clone(),
            name: name.to_owned(),
            keyspace,
            writes: Mutex::new(()),
        });
        open.insert(name.to_owned(), Arc::clone(&namespace));
        Ok(namespace)
    }
}

/// String-key counters about to be written: stored key to (key, new value, new key).
type KeyedTotals<'a> = HashMap<&'a [u8], (&'a str, i64, bool)>;

/// One plugin's namespace: a fjall keyspace and the lock its writes take.
struct FjallNamespace {
    /// Values recently read or written; filled and updated under `writes`.
    cache: Option<ValueCache>,
    /// Every id counter; changed under `writes`, after the storage.
    counters: RwLock<CounterTable>,
    /// For batches that write several keys atomically.
    db: Database,
    name: String,
    keyspace: Keyspace,
    writes: Mutex<()>,
}

impl FjallNamespace {
    /// `key` as stored: the tag, then the key's bytes.
    fn stored_key(&self, key: &str) -> Result<Vec<u8>, KvError> {
        if key.len() > MAX_KEY_BYTES {
            return Err(KvError::QuotaExceeded {
                limit: QuotaLimit::KeyBytes,
                actual: key.len() as u64,
                max: MAX_KEY_BYTES as u64,
            });
        }
        Ok(tagged(key))
    }

    fn storage(
        &self,
        operation: &'static str,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> KvError {
        KvError::Storage {
            namespace: self.name.clone(),
            operation,
            source: Box::new(error),
        }
    }

    /// The value under `key`, from the cache or else from fjall (then cached, under the
    /// write lock).
    fn cached_get(&self, key: &str) -> Result<Cached, KvError> {
        let Some(cache) = &self.cache else {
            let Ok(stored) = self.stored_key(key) else {
                return Ok(None); // too long to have been stored
            };
            return self.read(&stored);
        };
        if let Some(hit) = cache.get(key) {
            return Ok(hit);
        }
        let _writing = self.lock_writes();
        self.fill(cache, key)
    }

    /// Reads `key` from fjall into `cache` unless a write got there first. Call with the
    /// write lock held.
    fn fill(&self, cache: &ValueCache, key: &str) -> Result<Cached, KvError> {
        if let Some(hit) = cache.get(key) {
            return Ok(hit);
        }
        let Ok(stored) = self.stored_key(key) else {
            return Ok(None); // too long to have been stored, and not worth caching
        };
        let value = self.read(&stored)?;
        cache.put(key, value.clone());
        Ok(value)
    }

    /// `key`'s value for a read-modify-write: from the cache or fjall. Call with the write
    /// lock held.
    fn read_locked(&self, key: &str, stored: &[u8]) -> Result<Cached, KvError> {
        match self.cache.as_ref().and_then(|cache| cache.get(key)) {
            Some(hit) => Ok(hit),
            None => self.read(stored),
        }
    }

    /// Reads a stored key from fjall.
    fn read(&self, stored: &[u8]) -> Result<Cached, KvError> {
        let value = self
            .keyspace
            .get(stored)
            .map_err(|e| self.storage("get", e))?;
        Ok(value.map(|v| Arc::from(&*v)))
    }

    /// Records a value just written. Call with the write lock held.
    fn remember(&self, key: &str, value: Cached) {
        if let Some(cache) = &self.cache {
            cache.put(key, value);
        }
    }

    /// The stored keys of the counters in `deltas`.
    fn stored_keys(&self, deltas: &[(String, i64)]) -> Result<Vec<Vec<u8>>, KvError> {
        deltas.iter().map(|(key, _)| self.stored_key(key)).collect()
    }

    /// What adding `deltas` (stored as `stored`) to string-key counters makes of them: per
    /// stored key, the key, its new value and whether it is new; and the value after each
    /// delta, in order (running totals: a key given twice sees its first delta). Call
    /// with the write lock held.
    fn keyed_totals<'a>(
        &self,
        deltas: &'a [(String, i64)],
        stored: &'a [Vec<u8>],
    ) -> Result<(KeyedTotals<'a>, Vec<i64>), KvError> {
        let mut totals: KeyedTotals<'a> = HashMap::with_capacity(deltas.len());
        let mut after_each = Vec::with_capacity(deltas.len());
        for ((key, delta), stored) in deltas.iter().zip(stored) {
            let (current, new) = match totals.get(stored.as_slice()) {
                Some(&(_, total, new)) => (total, new),
                None => {
                    let value = self.read_locked(key, stored)?;
                    (decode_counter(key, value.as_deref())?, value.is_none())
                }
            };
            let value = current.saturating_add(*delta);
            totals.insert(stored, (key, value, new));
            after_each.push(value);
        }
        Ok((totals, after_each))
    }

    /// Records the counters of `totals` just written. Call with the write lock held.
    fn remember_totals(&self, totals: &KeyedTotals<'_>) {
        for (key, value, _) in totals.values() {
            self.remember(key, Some(Arc::from(value.to_le_bytes().as_slice())));
        }
    }

    /// The deadline of `key`'s expiry, if it has one. Call with the write lock held.
    fn deadline(&self, key: &str) -> Result<Option<u64>, KvError> {
        let stored = self
            .keyspace
            .get(expiry_key(key))
            .map_err(|e| self.storage("expire", e))?;
        Ok(stored.and_then(|value| Some(u64::from_be_bytes(<[u8; 8]>::try_from(&*value).ok()?))))
    }

    /// Removes the stored `key` with its expiry, in one batch. Call with the write lock
    /// held.
    fn remove_locked(
        &self,
        key: &str,
        stored: Vec<u8>,
        operation: &'static str,
    ) -> Result<(), KvError> {
        let mut batch = self.db.batch();
        batch.remove(&self.keyspace, stored);
        if let Some(deadline) = self.deadline(key)? {
            batch.remove(&self.keyspace, expiry_key(key));
            batch.remove(&self.keyspace, deadline_key(deadline, key.as_bytes()));
        }
        batch.commit().map_err(|e| self.storage(operation, e))
    }

    fn lock_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        // The lock guards no data, so a panic while holding it left nothing half-done.
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Refuses a value longer than fjall stores (`u32::MAX` bytes).
fn storable(value: &[u8]) -> Result<(), KvError> {
    if u32::try_from(value.len()).is_err() {
        return Err(KvError::QuotaExceeded {
            limit: QuotaLimit::ValueBytes,
            actual: value.len() as u64,
            max: u64::from(u32::MAX),
        });
    }
    Ok(())
}

impl KvNamespace for FjallNamespace {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.cached_get(key)?.map(|v| v.to_vec()))
    }

    fn get_now(&self, key: &str) -> Option<Option<Vec<u8>>> {
        let hit = self.cache.as_ref()?.get(key)?;
        Some(hit.map(|v| v.to_vec()))
    }

    fn get_many_now(&self, keys: &[String]) -> Option<Vec<Option<Vec<u8>>>> {
        let cache = self.cache.as_ref()?;
        keys.iter()
            .map(|key| cache.get(key).map(|hit| hit.map(|v| v.to_vec())))
            .collect()
    }

    fn counters_get_now(&self, ids: &[u64]) -> Option<Vec<i64>> {
        // Not while a write holds the table: that would be waiting.
        Some(self.counters.try_read().ok()?.get_many(ids))
    }

    fn contains(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.cached_get(key)?.is_some())
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        let stored = self.stored_key(key)?;
        storable(value)?;
        let _writing = self.lock_writes();
        self.keyspace
            .insert(stored, value)
            .map_err(|e| self.storage("set", e))?;
        self.remember(key, Some(Arc::from(value)));
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        let Ok(stored) = self.stored_key(key) else {
            return Ok(()); // too long to have been stored
        };
        let _writing = self.lock_writes();
        self.remove_locked(key, stored, "delete")?;
        self.remember(key, None);
        Ok(())
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<bool, KvError> {
        let stored = self.stored_key(key)?;
        if let Some(value) = value {
            storable(value)?;
        }
        let _writing = self.lock_writes();
        let current = self.read_locked(key, &stored)?;
        if current.as_deref() != expected {
            return Ok(false);
        }
        match value {
            Some(value) => self
                .keyspace
                .insert(stored, value)
                .map_err(|e| self.storage("compare-and-swap", e))?,
            None => self.remove_locked(key, stored, "compare-and-swap")?,
        }
        self.remember(key, value.map(Arc::from));
        Ok(true)
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        let stored = self.stored_key(key)?;
        let _writing = self.lock_writes();
        let current = self.read_locked(key, &stored)?;
        let value = decode_counter(key, current.as_deref())?.saturating_add(delta);
        self.keyspace
            .insert(stored, value.to_le_bytes())
            .map_err(|e| self.storage("increment", e))?;
        self.remember(key, Some(Arc::from(value.to_le_bytes().as_slice())));
        Ok(value)
    }

    fn expire(&self, key: &str, seconds: u32) -> Result<bool, KvError> {
        let Ok(stored) = self.stored_key(key) else {
            return Ok(false); // too long to have been stored
        };
        let _writing = self.lock_writes();
        if self.read_locked(key, &stored)?.is_none() {
            return Ok(false);
        }
        let mut batch = self.db.batch();
        if let Some(old) = self.deadline(key)? {
            batch.remove(&self.keyspace, deadline_key(old, key.as_bytes()));
        }
        if seconds == 0 {
            batch.remove(&self.keyspace, expiry_key(key));
        } else {
            let deadline = crate::time::now_ms().saturating_add(u64::from(seconds) * 1000);
            batch.insert(&self.keyspace, expiry_key(key), deadline.to_be_bytes());
            batch.insert(&self.keyspace, deadline_key(deadline, key.as_bytes()), b"");
        }
        batch.commit().map_err(|e| self.storage("expire", e))?;
        Ok(true)
    }

    fn remove_expired(&self, now_ms: u64, limit: usize) -> Result<u64, KvError> {
        let _writing = self.lock_writes();
        let due_end = deadline_key(now_ms.saturating_add(1), b"");
        let mut due = Vec::new();
        for guard in self
            .keyspace
            .range::<Vec<u8>, _>(vec![DEADLINE_TAG]..due_end)
            .take(limit)
        {
            let (entry, _) = guard.into_inner().map_err(|e| self.storage("expire", e))?;
            let deadline = entry
                .get(1..9)
                .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                .map(u64::from_be_bytes);
            due.push((entry.to_vec(), deadline));
        }
        let mut batch = self.db.batch();
        let mut removed = Vec::new();
        for (entry, deadline) in due {
            batch.remove(&self.keyspace, entry.clone());
            let key = entry.get(9..).and_then(|key| std::str::from_utf8(key).ok());
            let (Some(key), Some(deadline)) = (key, deadline) else {
                continue; // not an index entry this code wrote: dropped
            };
            // Only the key's current deadline removes it (`expire` replaces both entries
            // in one batch, so this is a guard, not a race).
            if self.deadline(key)? == Some(deadline) {
                batch.remove(&self.keyspace, tagged(key));
                batch.remove(&self.keyspace, expiry_key(key));
                removed.push(key.to_owned());
            }
        }
        batch.commit().map_err(|e| self.storage("expire", e))?;
        for key in &removed {
            self.remember(key, None);
        }
        Ok(removed.len() as u64)
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        let Some(cache) = &self.cache else {
            return keys.iter().map(|key| self.get(key)).collect();
        };
        let mut values: Vec<Option<Option<Vec<u8>>>> = keys
            .iter()
            .map(|key| cache.get(key).map(|hit| hit.map(|v| v.to_vec())))
            .collect();
        if values.iter().any(Option::is_none) {
            // Fill every miss under one hold of the lock.
            let _writing = self.lock_writes();
            for (key, value) in keys.iter().zip(values.iter_mut()) {
                if value.is_none() {
                    *value = Some(self.fill(cache, key)?.map(|v| v.to_vec()));
                }
            }
        }
        Ok(values.into_iter().map(Option::unwrap_or_default).collect())
    }

    fn increment_many(&self, deltas: &[(String, i64)]) -> Result<Vec<i64>, KvError> {
        let stored = self.stored_keys(deltas)?;
        let _writing = self.lock_writes();
        let (totals, results) = self.keyed_totals(deltas, &stored)?;
        let mut batch = self.db.batch();
        for (stored, (_, value, _)) in &totals {
            batch.insert(&self.keyspace, stored.to_vec(), value.to_le_bytes());
        }
        batch.commit().map_err(|e| self.storage("increment", e))?;
        self.remember_totals(&totals);
        Ok(results)
    }

    fn counters_get(&self, ids: &[u64]) -> Result<Vec<i64>, KvError> {
        Ok(self
            .counters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get_many(ids))
    }

    fn counters_all(&self) -> Result<Vec<(u64, i64)>, KvError> {
        Ok(self
            .counters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .all())
    }

    fn counters_add(
        &self,
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
        room: u64,
    ) -> Result<EntryChange, KvError> {
        let stored = self.stored_keys(keyed)?;
        let _writing = self.lock_writes();
        let changes = self
            .counters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .plan(deltas);
        let (totals, _) = self.keyed_totals(keyed, &stored)?;
        let change = EntryChange {
            added: changes.added + totals.values().filter(|(_, _, new)| *new).count() as u64,
            removed: changes.removed.len() as u64,
        };
        if change.added > change.removed.saturating_add(room) {
            return Err(KvError::QuotaExceeded {
                limit: QuotaLimit::Entries,
                actual: change.added - change.removed,
                max: room,
            });
        }
        let mut batch = self.db.batch();
        for &(id, value) in &changes.set {
            batch.insert(&self.keyspace, counter_key(id), value.to_le_bytes());
        }
        for &id in &changes.removed {
            batch.remove(&self.keyspace, counter_key(id));
        }
        for (stored, (_, value, _)) in &totals {
            batch.insert(&self.keyspace, stored.to_vec(), value.to_le_bytes());
        }
        batch.commit().map_err(|e| self.storage("increment", e))?;
        self.counters
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .apply(&changes);
        self.remember_totals(&totals);
        Ok(change)
    }

    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: ScanLimit,
    ) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        if limit.entries == 0 {
            return Ok(Vec::new());
        }
        let stored_prefix = tagged(prefix);
        // Start at the prefix, or just after `start_after` if that is further on.
        let lower = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(tagged(after)),
            _ => Bound::Included(stored_prefix.clone()),
        };
        let mut entries = Vec::new();
        let mut held = 0usize;
        for guard in self.keyspace.range::<Vec<u8>, _>((lower, Bound::Unbounded)) {
            let (stored, value) = guard.into_inner().map_err(|e| self.storage("scan", e))?;
            if !stored.starts_with(&stored_prefix) {
                break; // keys are ordered: past the prefix, nothing more matches
            }
            let size = stored.len() - 1 + value.len();
            if !limit.has_room(entries.len(), held, size) {
                break;
            }
            held += size;
            let key = stored.get(1..).unwrap_or_default().to_vec();
            let key = String::from_utf8(key).map_err(|e| self.storage("scan", e))?;
            entries.push((key, value.to_vec()));
            if entries.len() == limit.entries {
                break;
            }
        }
        Ok(entries)
    }

    fn len(&self) -> Result<u64, KvError> {
        let count = self.keyspace.len().map_err(|e| self.storage("count", e))?;
        // Each expiring key has two bookkeeping entries beside it, not counted as keys.
        let expiring = self.keyspace.prefix([EXPIRY_TAG]).count();
        Ok(count.saturating_sub(2 * expiring) as u64)
    }
}

/// The stored key of id counter `id`.
fn counter_key(id: u64) -> [u8; 9] {
    let mut key = [COUNTER_TAG; 9];
    key[1..].copy_from_slice(&id.to_be_bytes());
    key
}

/// Reads every id counter of the namespace `name` into memory. Entries that are not a
/// 9-byte key and an 8-byte value are reported and left out.
fn load_counters(name: &str, keyspace: &Keyspace) -> Result<CounterTable, KvError> {
    let storage = |source: fjall::Error| KvError::Storage {
        namespace: name.to_owned(),
        operation: "read counters",
        source: Box::new(source),
    };
    let mut entries = Vec::new();
    let mut skipped = 0u64;
    for guard in keyspace.range([COUNTER_TAG]..[COUNTER_TAG + 1]) {
        let (key, value) = guard.into_inner().map_err(storage)?;
        let id = key.get(1..).and_then(|id| <[u8; 8]>::try_from(id).ok());
        let counter = <[u8; 8]>::try_from(&*value).ok();
        match (id, counter) {
            (Some(id), Some(value)) => {
                entries.push((u64::from_be_bytes(id), i64::from_le_bytes(value)));
            }
            _ => {
                skipped += 1;
                if skipped <= 10 {
                    tracing::error!(
                        namespace = name,
                        key = ?&*key,
                        value_bytes = value.len(),
                        "kv id counter entry is corrupt (not a 9-byte key and an 8-byte value); it reads 0 until written again"
                    );
                }
            }
        }
    }
    if skipped > 0 {
        tracing::error!(
            namespace = name,
            skipped,
            "corrupt kv id counter entries left out"
        );
    }
    let table = CounterTable::from_entries(entries);
    if table.len() > 0 {
        debug!(
            namespace = name,
            counters = table.len(),
            "kv id counters loaded"
        );
    }
    Ok(table)
}

/// The entry holding `key`'s deadline.
fn expiry_key(key: &str) -> Vec<u8> {
    let mut stored = Vec::with_capacity(1 + key.len());
    stored.push(EXPIRY_TAG);
    stored.extend_from_slice(key.as_bytes());
    stored
}

/// The expiry index entry of `key` at `deadline`.
fn deadline_key(deadline: u64, key: &[u8]) -> Vec<u8> {
    let mut stored = Vec::with_capacity(9 + key.len());
    stored.push(DEADLINE_TAG);
    stored.extend_from_slice(&deadline.to_be_bytes());
    stored.extend_from_slice(key);
    stored
}

/// `key` behind the tag byte.
fn tagged(key: &str) -> Vec<u8> {
    let mut stored = Vec::with_capacity(1 + key.len());
    stored.push(KEY_TAG);
    stored.extend_from_slice(key.as_bytes());
    stored
}
