//! What one plugin call's store holds: the empty WASI context (no files, network or
//! environment; stderr captured), the resource table, the memory limiter, the call's
//! deadline and DNS budget, and the plugin's granted host services.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::capabilities::{DnsBudget, PluginHost};
use super::plugin::CallLimits;
use crate::sender_auth::SenderAuthResults;

/// How much of a plugin's stderr is kept per call (panic messages, debug prints).
pub const STDERR_CAPTURE_BYTES: usize = 4096;

/// The data of one plugin call's store.
pub struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The memory cap of this call and the peak it reached.
    pub limiter: MemoryLimiter,
    /// The plugin's services and grants.
    pub host: Arc<PluginHost>,
    /// The session the call belongs to, for log lines.
    pub session_id: Arc<str>,
    /// The plugin's stderr (bounded).
    pub stderr: MemoryOutputPipe,
    /// When the call's time budget runs out: host calls that wait (kv) wait no longer.
    pub deadline: Instant,
    /// What the call may still spend on DNS.
    pub dns: DnsBudget,
    /// The sender authentication results of the message (`sender-auth` interface).
    pub sender_auth: Option<Arc<SenderAuthResults>>,
}

impl StoreState {
    /// A fresh state for one call of the plugin behind `host`, starting now, within
    /// `limits`.
    pub fn new(host: Arc<PluginHost>, session_id: Arc<str>, limits: CallLimits) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(usize::try_from(limits.memory_limit).unwrap_or(usize::MAX)),
            host,
            session_id,
            stderr,
            deadline: Instant::now() + limits.time_budget,
            dns: DnsBudget::new(limits.dns_max_questions, limits.dns_time_budget),
            sender_auth: None,
        }
    }

    /// The resource table (the message handle lives here during a call).
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// What the plugin wrote to stderr, lossily decoded.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_owned()
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The error a store's memory limiter raises when a plugin grows past its cap; the
/// pipeline recognises it to report `memory` as the failure kind.
#[derive(Debug, thiserror::Error)]
#[error("plugin memory limit of {limit} bytes exceeded (asked for {requested})")]
pub struct MemoryLimitExceeded {
    /// The cap.
    pub limit: u64,
    /// The size asked for.
    pub requested: u64,
}

/// Caps linear memory per call and records the peak, for `moat plugin test`.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: usize,
    peak: usize,
}

/// Tables are small in Rust guests; this bounds a hostile one.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl MemoryLimiter {
    /// A limiter with a cap of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self { limit, peak: 0 }
    }

    /// The largest linear memory size the plugin reached, in bytes.
    pub fn peak(&self) -> usize {
        self.peak
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit: self.limit as u64,
                requested: desired as u64,
            }));
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
