//! A persistent key-value namespace of the plugin's own: counts, history, token tables.
//! Requires the `kv` capability.
//!
//! Every call to a plugin runs in a fresh sandbox, so this is the only place state
//! survives between messages. No plugin sees another's keys; writes are durable across
//! restarts; the operator's quotas bound key size, value size and the number of keys.
//!
//! ```no_run
//! use moat_sdk::kv;
//!
//! # fn count(sender_domain: &str) -> Result<(), kv::KvError> {
//! let seen = kv::increment(&format!("seen:{sender_domain}"), 1)?;
//! if seen == 1 {
//!     kv::set(&format!("first-seen:{sender_domain}"), &moat_sdk::clock::now_millis().to_le_bytes())?;
//! }
//! # Ok(())
//! # }
//! ```

use std::fmt;

#[cfg(target_arch = "wasm32")]
use crate::bindings::moat::filter::kv as wit;

/// Why a kv call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KvError {
    /// The key exceeds the key-size quota, the value the value-size quota, or the namespace
    /// holds its maximum number of keys.
    QuotaExceeded,
    /// [`increment`] or [`get_i64`] on a value that is not an 8-byte little-endian signed
    /// integer.
    NotACounter,
    /// The store failed (disk error); the operation did not happen.
    Storage,
    /// The operator did not grant this plugin the `kv` capability.
    Denied,
}

impl KvError {
    #[cfg(target_arch = "wasm32")]
    fn from_wit(error: wit::KvError) -> Self {
        match error {
            wit::KvError::QuotaExceeded => Self::QuotaExceeded,
            wit::KvError::NotACounter => Self::NotACounter,
            wit::KvError::Storage => Self::Storage,
            wit::KvError::Denied => Self::Denied,
        }
    }
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::QuotaExceeded => "kv quota exceeded",
            Self::NotACounter => "kv value is not a counter",
            Self::Storage => "kv storage failed",
            Self::Denied => "the plugin was not granted the kv capability",
        })
    }
}

impl std::error::Error for KvError {}

/// The value stored under `key`, or `None`.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
    backend::get(key)
}

/// Stores `value` under `key`, replacing any previous value.
pub fn set(key: &str, value: &[u8]) -> Result<(), KvError> {
    backend::set(key, value)
}

/// Removes `key`; removing a missing key is not an error.
pub fn delete(key: &str) -> Result<(), KvError> {
    backend::delete(key)
}

/// Stores `value` under `key` (`None`: removes it), but only if the key's value is
/// `expected` right now (`None`: the key is absent); returns whether it did.
///
/// Use it for a read-modify-write of a structured value that concurrent sessions update
/// (a history, a rate window): [`set`] after [`get`] would lose the other sessions'
/// updates made in between.
///
/// ```no_run
/// use moat_sdk::kv;
///
/// /// Appends `byte` to the log under `key`, however many sessions append at once.
/// fn append(key: &str, byte: u8) -> Result<(), kv::KvError> {
///     loop {
///         let current = kv::get(key)?;
///         let mut next = current.clone().unwrap_or_default();
///         next.push(byte);
///         if kv::compare_and_swap(key, current.as_deref(), Some(&next))? {
///             return Ok(());
///         }
///     }
/// }
/// ```
pub fn compare_and_swap(
    key: &str,
    expected: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<bool, KvError> {
    backend::compare_and_swap(key, expected, value)
}

/// Removes `key` once `seconds` have passed, unless `expire` is called for it again (`0`
/// cancels the expiry). Writes keep a key's expiry; [`delete`] ends it. Returns whether
/// the key exists (a missing key gets no expiry).
///
/// Call it after each write of state that only matters for a while (a client's rate
/// window, a sender's history), so the keys of subjects never seen again go away instead
/// of filling the namespace's key quota. The key goes at its deadline or within about a
/// minute after it: keep the window's own times in the value when the exact end matters.
///
/// ```no_run
/// use moat_sdk::kv;
///
/// /// Counts a client's connections in the current hour; the count goes with the hour.
/// fn count_connection(ip: &str, hour: u64) -> Result<i64, kv::KvError> {
///     let key = format!("conn:{ip}:{hour}");
///     let count = kv::increment(&key, 1)?;
///     if count == 1 {
///         kv::expire(&key, 2 * 3600)?;
///     }
///     Ok(count)
/// }
/// ```
pub fn expire(key: &str, seconds: u32) -> Result<bool, KvError> {
    backend::expire(key, seconds)
}

/// Adds `delta` (which may be negative) to the counter under `key` atomically and returns
/// the new value. A missing key counts as 0. Counters are stored as 8-byte little-endian
/// signed integers, so [`get_i64`] reads them back.
pub fn increment(key: &str, delta: i64) -> Result<i64, KvError> {
    backend::increment(key, delta)
}

/// The counter under `key` (as written by [`increment`]), or `None` if the key is not set.
pub fn get_i64(key: &str) -> Result<Option<i64>, KvError> {
    get(key)?.map(|bytes| decode_counter(&bytes)).transpose()
}

/// The values under each of `keys`, in the same order (`None` for a missing key). One call
/// to the gateway instead of one per key: use it when a message needs many keys (a token
/// table, a history per address).
pub fn get_many(keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
    backend::get_many(keys)
}

/// Adds each delta to its counter, as [`increment`] does, in one atomic write: on an error
/// no counter has changed. Returns the new values in order; a key given twice gets both
/// deltas.
pub fn increment_many(deltas: &[(String, i64)]) -> Result<Vec<i64>, KvError> {
    backend::increment_many(deltas)
}

/// Reads each value of [`get_many`] as a counter (`None` for a missing key).
pub fn get_many_i64(keys: &[String]) -> Result<Vec<Option<i64>>, KvError> {
    get_many(keys)?
        .into_iter()
        .map(|value| value.map(|bytes| decode_counter(&bytes)).transpose())
        .collect()
}

/// The id counters under `ids`, in order: 0 for an id never added (or back at 0).
///
/// Id counters are for counting many things per message, such as a Bayesian filter's
/// tokens: the gateway keeps them in memory, so reading thousands costs well under a
/// millisecond, whether the ids are known or not. Use a good 64-bit hash of what you count
/// as its id. They live beside the string keys ([`scan_prefix`] does not list them), count
/// towards the namespace's key quota, and a counter back at 0 is removed.
///
/// ```no_run
/// use moat_sdk::kv;
///
/// # fn fnv(text: &str) -> u64 { 0 }
/// # fn run() -> Result<(), kv::KvError> {
/// let ids: Vec<u64> = ["cheap", "pills"].iter().map(|w| fnv(w)).collect();
/// // Learn: count the words and the message in one atomic write.
/// let deltas: Vec<(u64, i64)> = ids.iter().map(|&id| (id, 1)).collect();
/// kv::counters_add(&deltas, &[("messages".to_owned(), 1)])?;
/// // Score: read them back.
/// let counts = kv::counters_get(&ids)?;
/// assert_eq!(counts.len(), 2);
/// # Ok(())
/// # }
/// ```
pub fn counters_get(ids: &[u64]) -> Result<Vec<i64>, KvError> {
    backend::counters_get(ids)
}

/// Adds each of `deltas` to its id counter (see [`counters_get`]) and each of `keyed` to
/// the counter under its string key (as [`increment`]), all in one atomic write: on an
/// error no counter has changed. An id or key given twice gets both deltas. Keep totals
/// (how many messages were learnt) under string keys this way, consistent with the id
/// counters.
pub fn counters_add(deltas: &[(u64, i64)], keyed: &[(String, i64)]) -> Result<(), KvError> {
    backend::counters_add(deltas, keyed)
}

/// Up to `limit` entries whose keys start with `prefix`, in key order. To page through
/// more, pass the last key you got as `start_after`.
///
/// The gateway returns at most 1000 entries and 1 MiB of keys and values per call,
/// whatever `limit` asks (an entry larger than that comes alone), so a page can be shorter
/// than `limit` before the end: keep paging until a page comes back empty.
///
/// ```no_run
/// let mut after: Option<String> = None;
/// loop {
///     let page = moat_sdk::kv::scan_prefix("history:", after.as_deref(), 500)?;
///     let Some((last, _)) = page.last() else { break };
///     after = Some(last.clone());
///     // ... use the page ...
/// }
/// # Ok::<(), moat_sdk::kv::KvError>(())
/// ```
pub fn scan_prefix(
    prefix: &str,
    start_after: Option<&str>,
    limit: u32,
) -> Result<Vec<(String, Vec<u8>)>, KvError> {
    backend::scan_prefix(prefix, start_after, limit)
}

/// The gateway's kv, in a plugin built for WebAssembly.
#[cfg(target_arch = "wasm32")]
mod backend {
    use super::{KvError, wit};

    pub(super) fn get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
        wit::get(key).map_err(KvError::from_wit)
    }
    pub(super) fn set(key: &str, value: &[u8]) -> Result<(), KvError> {
        wit::set(key, value).map_err(KvError::from_wit)
    }
    pub(super) fn delete(key: &str) -> Result<(), KvError> {
        wit::delete(key).map_err(KvError::from_wit)
    }
    pub(super) fn compare_and_swap(
        key: &str,
        expected: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<bool, KvError> {
        wit::compare_and_swap(key, expected, value).map_err(KvError::from_wit)
    }
    pub(super) fn expire(key: &str, seconds: u32) -> Result<bool, KvError> {
        wit::expire(key, seconds).map_err(KvError::from_wit)
    }
    pub(super) fn increment(key: &str, delta: i64) -> Result<i64, KvError> {
        wit::increment(key, delta).map_err(KvError::from_wit)
    }
    pub(super) fn get_many(keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        wit::get_many(keys).map_err(KvError::from_wit)
    }
    pub(super) fn increment_many(deltas: &[(String, i64)]) -> Result<Vec<i64>, KvError> {
        wit::increment_many(deltas).map_err(KvError::from_wit)
    }
    pub(super) fn counters_get(ids: &[u64]) -> Result<Vec<i64>, KvError> {
        wit::counters_get(ids).map_err(KvError::from_wit)
    }
    pub(super) fn counters_add(
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
    ) -> Result<(), KvError> {
        wit::counters_add(deltas, keyed).map_err(KvError::from_wit)
    }
    pub(super) fn scan_prefix(
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        wit::scan_prefix(prefix, start_after, limit).map_err(KvError::from_wit)
    }
}

/// In a native build (unit tests): this thread's [`crate::testing::MemoryKv`].
#[cfg(not(target_arch = "wasm32"))]
mod backend {
    use super::KvError;
    use crate::testing::with_kv;

    pub(super) fn get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
        with_kv(|kv| kv.get(key))
    }
    pub(super) fn set(key: &str, value: &[u8]) -> Result<(), KvError> {
        with_kv(|kv| kv.set(key, value))
    }
    pub(super) fn delete(key: &str) -> Result<(), KvError> {
        with_kv(|kv| kv.delete(key))
    }
    pub(super) fn compare_and_swap(
        key: &str,
        expected: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<bool, KvError> {
        with_kv(|kv| kv.compare_and_swap(key, expected, value))
    }
    pub(super) fn expire(key: &str, seconds: u32) -> Result<bool, KvError> {
        with_kv(|kv| kv.expire(key, seconds))
    }
    pub(super) fn increment(key: &str, delta: i64) -> Result<i64, KvError> {
        with_kv(|kv| kv.increment(key, delta))
    }
    pub(super) fn get_many(keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        with_kv(|kv| kv.get_many(keys))
    }
    pub(super) fn increment_many(deltas: &[(String, i64)]) -> Result<Vec<i64>, KvError> {
        with_kv(|kv| kv.increment_many(deltas))
    }
    pub(super) fn counters_get(ids: &[u64]) -> Result<Vec<i64>, KvError> {
        with_kv(|kv| kv.counters_get(ids))
    }
    pub(super) fn counters_add(
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
    ) -> Result<(), KvError> {
        with_kv(|kv| kv.counters_add(deltas, keyed))
    }
    pub(super) fn scan_prefix(
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        with_kv(|kv| kv.scan_prefix(prefix, start_after, limit))
    }
}

fn decode_counter(bytes: &[u8]) -> Result<i64, KvError> {
    let bytes: [u8; 8] = bytes.try_into().map_err(|_| KvError::NotACounter)?;
    Ok(i64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_counters() {
        assert_eq!(decode_counter(&(-5i64).to_le_bytes()), Ok(-5));
        assert_eq!(decode_counter(b"short"), Err(KvError::NotACounter));
    }
}
