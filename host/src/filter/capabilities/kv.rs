//! `kv`: the plugin's own namespace in the gateway's key-value store.
//!
//! Every call that may wait runs on the kv threads
//! ([`KvWorkers`](crate::filter::kv_workers::KvWorkers)), never on the async worker running
//! the plugin, and is waited for until the plugin call's deadline: a backend call still
//! running then makes the plugin call fail with `timeout`. Reads the backend answers from
//! memory at once (its value cache and counter table: `get_now` and the like) are answered
//! in place, sparing the common case two thread switches.
//! A scan returns at most [`MAX_SCAN_ENTRIES`] entries and about [`MAX_SCAN_BYTES`] of
//! keys and values, whatever `limit` the plugin asks for.

use std::future::Future;
use std::sync::Arc;

use wasmtime::Trap;

use crate::config::Capability;
use crate::filter::bindings::moat::filter::kv::{Host, KvError as WitKvError};
use crate::filter::capabilities::PluginHost;
use crate::filter::kv_workers::KvWorkError;
use crate::filter::store::StoreState;
use crate::store::{KvError, KvNamespace, ScanLimit};

/// The most entries one `scan-prefix` call returns.
pub const MAX_SCAN_ENTRIES: usize = 1000;

/// The most bytes of keys and values one `scan-prefix` call returns (an entry larger than
/// this comes alone).
pub const MAX_SCAN_BYTES: usize = 1 << 20;

/// What a kv call answers the plugin: the WIT result, or a trap (the deadline passed).
type KvAnswer<T> = wasmtime::Result<Result<T, WitKvError>>;

fn map_error(plugin: &str, error: KvError) -> WitKvError {
    match error {
        KvError::QuotaExceeded { .. } => WitKvError::QuotaExceeded,
        KvError::NotACounter { .. } => WitKvError::NotACounter,
        other => {
            // Logged, rate-limited, where it happened (`filter::kv_metrics`).
            tracing::debug!(plugin, error = %other, "kv storage error");
            WitKvError::Storage
        }
    }
}

/// The host side of `scan-prefix`'s `limit`: at most what the plugin asks for and at most
/// the host's bounds.
fn scan_limit(asked: u32) -> ScanLimit {
    ScanLimit {
        entries: usize::try_from(asked).map_or(MAX_SCAN_ENTRIES, |n| n.min(MAX_SCAN_ENTRIES)),
        bytes: MAX_SCAN_BYTES,
    }
}

impl StoreState {
    /// What `read` answers from the namespace's memory at once, if it can (see
    /// [`KvNamespace::get_now`]); `None` also when kv is not granted.
    fn kv_now<T>(&self, read: impl FnOnce(&dyn KvNamespace) -> Option<T>) -> Option<T> {
        self.host.kv.as_deref().and_then(read)
    }

    /// Runs `op` on the plugin's namespace on a kv thread, waiting no longer than the
    /// call's deadline. The future holds nothing of the store.
    fn with_kv<T: Send + 'static>(
        &self,
        op: impl FnOnce(&dyn KvNamespace) -> Result<T, KvError> + Send + 'static,
    ) -> impl Future<Output = KvAnswer<T>> + Send + 'static {
        let host: Arc<PluginHost> = Arc::clone(&self.host);
        let deadline = self.deadline;
        async move {
            let Some(namespace) = host.kv.clone() else {
                host.deny(Capability::Kv);
                return Ok(Err(WitKvError::Denied));
            };
            let workers = host.services.kv_workers.clone();
            match workers.run(deadline, move || op(&*namespace)).await {
                Ok(result) => Ok(result.map_err(|e| map_error(&host.name, e))),
                Err(KvWorkError::Deadline) => {
                    tracing::warn!(plugin = %host.name, "kv call still running at the plugin's deadline");
                    Err(Trap::Interrupt.into())
                }
                Err(KvWorkError::Lost) => {
                    tracing::error!(plugin = %host.name, "kv call panicked");
                    Ok(Err(WitKvError::Storage))
                }
            }
        }
    }
}

impl Host for StoreState {
    async fn get(&mut self, key: String) -> KvAnswer<Option<Vec<u8>>> {
        if let Some(value) = self.kv_now(|kv| kv.get_now(&key)) {
            return Ok(Ok(value));
        }
        self.with_kv(move |kv| kv.get(&key)).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> KvAnswer<()> {
        self.with_kv(move |kv| kv.set(&key, &value)).await
    }

    async fn delete(&mut self, key: String) -> KvAnswer<()> {
        self.with_kv(move |kv| kv.delete(&key)).await
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
    ) -> KvAnswer<bool> {
        self.with_kv(move |kv| kv.compare_and_swap(&key, expected.as_deref(), value.as_deref()))
            .await
    }

    async fn expire(&mut self, key: String, seconds: u32) -> KvAnswer<bool> {
        self.with_kv(move |kv| kv.expire(&key, seconds)).await
    }

    async fn increment(&mut self, key: String, delta: i64) -> KvAnswer<i64> {
        self.with_kv(move |kv| kv.increment(&key, delta)).await
    }

    async fn get_many(&mut self, keys: Vec<String>) -> KvAnswer<Vec<Option<Vec<u8>>>> {
        if let Some(values) = self.kv_now(|kv| kv.get_many_now(&keys)) {
            return Ok(Ok(values));
        }
        self.with_kv(move |kv| kv.get_many(&keys)).await
    }

    async fn increment_many(&mut self, deltas: Vec<(String, i64)>) -> KvAnswer<Vec<i64>> {
        self.with_kv(move |kv| kv.increment_many(&deltas)).await
    }

    async fn counters_get(&mut self, ids: Vec<u64>) -> KvAnswer<Vec<i64>> {
        if let Some(counters) = self.kv_now(|kv| kv.counters_get_now(&ids)) {
            return Ok(Ok(counters));
        }
        self.with_kv(move |kv| kv.counters_get(&ids)).await
    }

    async fn counters_add(
        &mut self,
        deltas: Vec<(u64, i64)>,
        keyed: Vec<(String, i64)>,
    ) -> KvAnswer<()> {
        self.with_kv(move |kv| kv.counters_add(&deltas, &keyed, u64::MAX).map(|_| ()))
            .await
    }

    async fn scan_prefix(
        &mut self,
        prefix: String,
        start_after: Option<String>,
        limit: u32,
    ) -> KvAnswer<Vec<(String, Vec<u8>)>> {
        let limit = scan_limit(limit);
        self.with_kv(move |kv| kv.scan(&prefix, start_after.as_deref(), limit))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_asks_for_no_more_than_the_host_allows() {
        assert_eq!(scan_limit(u32::MAX).entries, MAX_SCAN_ENTRIES);
        assert_eq!(scan_limit(u32::MAX).bytes, MAX_SCAN_BYTES);
        assert_eq!(scan_limit(10).entries, 10);
        assert_eq!(scan_limit(0).entries, 0);
    }
}
