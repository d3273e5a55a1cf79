//! The storage the plugins' `kv` capability stands on: per-plugin namespaces of byte
//! values under string keys.
//!
//! These traits name no storage engine: fjall is the embedded backend
//! ([`FjallKv`](super::FjallKv)), and a shared one (Redis, Valkey) can implement the same
//! traits so that several gateways share what their plugins learn.
//!
//! Calls block the calling thread. The plugins' `kv` imports (`filter::capabilities`'s
//! `kv`) therefore make none of them on a tokio worker: they hand each call to the
//! filter's kv threads (`filter::kv_workers`) and wait for the answer no longer than the
//! plugin call's deadline, so a slow backend (a write waiting behind the kv database's
//! once-a-second sync, a network backend) costs the plugin its time budget, not a worker.
//! Only reads a backend can answer from memory at once (`get_now`, `get_many_now`,
//! `counters_get_now`: the embedded backend's value cache and counter table) are answered
//! in place, sparing the common case two thread switches. The embedded backend writes to
//! the journal without fsync, so a call itself costs microseconds. Opening a namespace
//! reads its counters from disk; that happens when plugins load. Reads of a whole
//! namespace outside a plugin call (the admin endpoint's learn stats) go through
//! `spawn_blocking`.

use std::fmt;
use std::sync::Arc;

/// A store of plugin namespaces.
pub trait KvBackend: Send + Sync + 'static {
    /// Opens (creating if needed) the namespace of one plugin. No namespace sees another's
    /// keys. Opening the same name again gives a handle on the same namespace.
    fn namespace(&self, name: &str) -> Result<Arc<dyn KvNamespace>, KvError>;

    /// Whether other gateways write the same namespaces (a shared backend): then nothing
    /// about a namespace may be kept in this process, such as the count of its keys.
    fn is_shared(&self) -> bool {
        false
    }

    /// The names of the namespaces that hold anything, for `moat kv export`.
    fn namespaces(&self) -> Result<Vec<String>, KvError>;
}

/// One plugin's keys and values. Keys are ordered by their bytes; a missing key and a
/// deleted key are the same thing.
pub trait KvNamespace: Send + Sync {
    /// The value stored under `key`, or `None`.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;

    /// [`Self::get`] answered from memory at once, without waiting on storage or on a
    /// write in progress: `Some(value)`, or `None` when the backend cannot answer so (then
    /// ask [`Self::get`], from a thread that may block). Callers on async threads (the
    /// plugins' kv imports) try this first and hand only the rest to a blocking thread.
    /// The default never answers.
    fn get_now(&self, _key: &str) -> Option<Option<Vec<u8>>> {
        None
    }

    /// [`Self::get_many`] answered from memory at once, as [`Self::get_now`]: all the
    /// values, or `None`.
    fn get_many_now(&self, _keys: &[String]) -> Option<Vec<Option<Vec<u8>>>> {
        None
    }

    /// [`Self::counters_get`] answered from memory at once, as [`Self::get_now`].
    fn counters_get_now(&self, _ids: &[u64]) -> Option<Vec<i64>> {
        None
    }

    /// Whether `key` holds a value. The default reads the value; backends answer it more
    /// cheaply where they can.
    fn contains(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.get(key)?.is_some())
    }

    /// Stores `value` under `key`, replacing any previous value.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;

    /// Removes `key`; removing a missing key is not an error.
    fn delete(&self, key: &str) -> Result<(), KvError>;

    /// Stores `value` under `key` (`None`: removes it) if the key's value is `expected`
    /// (`None`: absent), atomically with respect to every other write to the namespace;
    /// returns whether it did.
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<bool, KvError>;

    /// Removes `key` `seconds` from now (`0`: cancels its expiry), unless called again for
    /// it; writes keep the deadline and deleting the key ends it. Returns whether the key
    /// exists (a missing key gets no expiry). The key goes at the deadline or when
    /// [`KvNamespace::remove_expired`] next runs after it.
    fn expire(&self, key: &str, seconds: u32) -> Result<bool, KvError>;

    /// Removes up to `limit` keys whose deadline is at or before `now_ms` (milliseconds
    /// since the Unix epoch), with their expiry bookkeeping, and returns how many keys
    /// [`KvNamespace::len`] no longer counts. A backend whose store expires keys itself
    /// (Redis) only tidies its key index here.
    fn remove_expired(&self, _now_ms: u64, _limit: usize) -> Result<u64, KvError> {
        Ok(0)
    }

    /// Adds `delta` to the counter under `key` (a missing key counts as 0) and returns the
    /// new value, atomically with respect to every other write to the namespace. Counters
    /// are stored as 8-byte little-endian signed integers and saturate at `i64::MIN` and
    /// `i64::MAX` instead of wrapping.
    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError>;

    /// The values under each of `keys`, in order.
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        keys.iter().map(|key| self.get(key)).collect()
    }

    /// Adds each delta to its counter in one atomic write (all or none) and returns the
    /// new values in order; a key given twice gets both deltas.
    fn increment_many(&self, deltas: &[(String, i64)]) -> Result<Vec<i64>, KvError>;

    /// The id counters under `ids`, in order: 0 for an id never added, or back at 0.
    ///
    /// Id counters are a namespace's bulk counters keyed by 64-bit ids (a Bayesian
    /// filter's hashed tokens), for plugins that read thousands per message: backends keep
    /// them where a read costs a hash lookup. They live beside the string keys (no string
    /// key names one; [`Self::scan_prefix`] does not list them) and count towards
    /// [`Self::len`]; a counter back at 0 is removed.
    fn counters_get(&self, ids: &[u64]) -> Result<Vec<i64>, KvError>;

    /// Every id counter that is not 0, in no particular order (`moat kv export`). The
    /// wrappers over a backend's namespace (quota, metrics, overlay) do not list them.
    fn counters_all(&self) -> Result<Vec<(u64, i64)>, KvError> {
        Err(KvError::Storage {
            namespace: String::new(),
            operation: "list counters",
            source: "this namespace does not list its id counters".into(),
        })
    }

    /// Adds `deltas` to id counters and `keyed` to counters under string keys (as
    /// [`Self::increment_many`]), all in one atomic write: every counter changes or, on an
    /// error, none does. A plugin keeps totals under string keys consistent with its id
    /// counters this way. Refused with [`QuotaLimit::Entries`] (`actual` the net entries it
    /// would add, `max` the room) when it would add more than `room` entries net of those
    /// it removes.
    fn counters_add(
        &self,
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
        room: u64,
    ) -> Result<EntryChange, KvError>;

    /// Up to `limit` entries whose keys start with `prefix`, in key order, starting after
    /// the key `start_after` when given (for paging: pass the last key of the previous
    /// page). [`Self::scan`] with no byte bound.
    fn scan_prefix(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        self.scan(prefix, start_after, ScanLimit::entries(limit))
    }

    /// Entries whose keys start with `prefix`, in key order, starting after the key
    /// `start_after` when given, within `limit`: at most `limit.entries`, and no more
    /// than `limit.bytes` of keys and values together, except that the first entry is
    /// returned whatever its size (so paging always moves on). A page may thus be shorter
    /// than `limit.entries` before the end; only an empty page says the scan is done.
    /// Backends stop reading at the bound, so a scan never holds more than it returns.
    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: ScanLimit,
    ) -> Result<Vec<(String, Vec<u8>)>, KvError>;

    /// The number of keys in the namespace (used by quotas; may scan the namespace).
    fn len(&self) -> Result<u64, KvError>;

    /// Whether the namespace holds no keys.
    fn is_empty(&self) -> Result<bool, KvError> {
        Ok(self.len()? == 0)
    }
}

/// How much one [`KvNamespace::scan`] may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimit {
    /// The most entries.
    pub entries: usize,
    /// The most bytes of keys and values together (the first entry excepted).
    pub bytes: usize,
}

impl ScanLimit {
    /// At most `entries` entries, of any size.
    pub fn entries(entries: usize) -> Self {
        Self {
            entries,
            bytes: usize::MAX,
        }
    }

    /// Whether a page of `taken` entries holding `held` bytes has room for one of
    /// `size` bytes more.
    pub fn has_room(&self, taken: usize, held: usize, size: usize) -> bool {
        taken < self.entries && (taken == 0 || held.saturating_add(size) <= self.bytes)
    }
}

/// How a write changed the number of entries in a namespace (for quotas).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EntryChange {
    /// Entries the write created.
    pub added: u64,
    /// Entries the write removed.
    pub removed: u64,
}

/// Why a kv call failed. Every failed call left the namespace as it was.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The key or value is larger than the quota allows, or the namespace already holds
    /// the most keys it may.
    #[error("kv quota exceeded: {limit} would be {actual}, at most {max}")]
    QuotaExceeded {
        /// Which limit.
        limit: QuotaLimit,
        /// What the call would have made it.
        actual: u64,
        /// The limit.
        max: u64,
    },
    /// `increment` on a value that is not an 8-byte little-endian integer.
    #[error("kv key {key:?} holds {len} bytes, not an 8-byte counter")]
    NotACounter {
        /// The key incremented.
        key: String,
        /// The length of the value found there.
        len: usize,
    },
    /// The storage failed (disk or network error, corrupt data); the operation did not
    /// happen.
    #[error("kv storage failed to {operation} in namespace {namespace:?}: {source}")]
    Storage {
        /// The namespace.
        namespace: String,
        /// What was being done ("get", "set", "open", …).
        operation: &'static str,
        /// The backend's reason.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A namespace name the backend cannot take (empty, or too long).
    #[error("invalid kv namespace name {name:?}: {reason}")]
    InvalidNamespace {
        /// The name asked for.
        name: String,
        /// Why it cannot be used.
        reason: String,
    },
}

/// The quota limits a write can exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaLimit {
    /// The size of a key, in bytes.
    KeyBytes,
    /// The size of a value, in bytes.
    ValueBytes,
    /// The number of keys in the namespace.
    Entries,
}

impl fmt::Display for QuotaLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::KeyBytes => "key size in bytes",
            Self::ValueBytes => "value size in bytes",
            Self::Entries => "number of keys",
        })
    }
}

/// The counter a stored value holds: `None` if the key is missing (counts as 0), an
/// error if the value is not 8 bytes.
pub(crate) fn decode_counter(key: &str, value: Option<&[u8]>) -> Result<i64, KvError> {
    let Some(bytes) = value else {
        return Ok(0);
    };
    let array: [u8; 8] = bytes.try_into().map_err(|_| KvError::NotACounter {
        key: key.to_owned(),
        len: bytes.len(),
    })?;
    Ok(i64::from_le_bytes(array))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_8_byte_little_endian() {
        assert_eq!(decode_counter("k", None).ok(), Some(0));
        assert_eq!(decode_counter("k", Some(&5i64.to_le_bytes())).ok(), Some(5));
        assert_eq!(
            decode_counter("k", Some(&(-2i64).to_le_bytes())).ok(),
            Some(-2)
        );
        assert!(matches!(
            decode_counter("k", Some(b"12")),
            Err(KvError::NotACounter { len: 2, .. })
        ));
    }

    #[test]
    fn quota_errors_name_the_limit() {
        let error = KvError::QuotaExceeded {
            limit: QuotaLimit::KeyBytes,
            actual: 300,
            max: 256,
        };
        assert_eq!(
            error.to_string(),
            "kv quota exceeded: key size in bytes would be 300, at most 256"
        );
    }
}
