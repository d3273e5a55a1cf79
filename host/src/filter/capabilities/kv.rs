//! `kv`: the plugin's own namespace in the gateway's key-value store.

use crate::filter::bindings::moat::filter::kv::{Host, KvError as WitKvError};
use crate::filter::store::StoreState;
use crate::store::{KvError, KvNamespace};

fn map_error(plugin: &str, error: KvError) -> WitKvError {
    match error {
        KvError::QuotaExceeded { .. } => WitKvError::QuotaExceeded,
        KvError::NotACounter { .. } => WitKvError::NotACounter,
        other => {
            tracing::warn!(plugin, error = %other, "kv storage error");
            WitKvError::Storage
        }
    }
}

impl StoreState {
    fn with_kv<T>(
        &self,
        op: impl FnOnce(&dyn KvNamespace) -> Result<T, KvError>,
    ) -> Result<T, WitKvError> {
        let namespace = self.host.kv.as_deref().ok_or(WitKvError::Denied)?;
        op(namespace).map_err(|e| map_error(&self.host.name, e))
    }
}

impl Host for StoreState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, WitKvError>> {
        Ok(self.with_kv(|kv| kv.get(&key)))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), WitKvError>> {
        Ok(self.with_kv(|kv| kv.set(&key, &value)))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), WitKvError>> {
        Ok(self.with_kv(|kv| kv.delete(&key)))
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
    ) -> wasmtime::Result<Result<bool, WitKvError>> {
        Ok(self.with_kv(|kv| kv.compare_and_swap(&key, expected.as_deref(), value.as_deref())))
    }

    fn increment(&mut self, key: String, delta: i64) -> wasmtime::Result<Result<i64, WitKvError>> {
        Ok(self.with_kv(|kv| kv.increment(&key, delta)))
    }

    fn get_many(
        &mut self,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<Option<Vec<u8>>>, WitKvError>> {
        Ok(self.with_kv(|kv| kv.get_many(&keys)))
    }

    fn increment_many(
        &mut self,
        deltas: Vec<(String, i64)>,
    ) -> wasmtime::Result<Result<Vec<i64>, WitKvError>> {
        Ok(self.with_kv(|kv| kv.increment_many(&deltas)))
    }

    fn counters_get(&mut self, ids: Vec<u64>) -> wasmtime::Result<Result<Vec<i64>, WitKvError>> {
        Ok(self.with_kv(|kv| kv.counters_get(&ids)))
    }

    fn counters_add(
        &mut self,
        deltas: Vec<(u64, i64)>,
        keyed: Vec<(String, i64)>,
    ) -> wasmtime::Result<Result<(), WitKvError>> {
        Ok(self.with_kv(|kv| kv.counters_add(&deltas, &keyed, u64::MAX).map(|_| ())))
    }

    fn scan_prefix(
        &mut self,
        prefix: String,
        start_after: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<(String, Vec<u8>)>, WitKvError>> {
        Ok(self.with_kv(|kv| kv.scan_prefix(&prefix, start_after.as_deref(), limit as usize)))
    }
}
