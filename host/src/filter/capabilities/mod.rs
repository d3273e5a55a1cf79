//! What plugins can call: the host side of each WIT interface they import, one file per
//! interface — the capabilities `dns`, `kv`, `ocr`, `log`, `config` and `clock`, the
//! `message` resource they read and the `sender-auth` results open to all — plus what one
//! plugin is allowed to use ([`PluginHost`]) and the gateway services behind it
//! ([`Services`]). Each function returns
//! `wasmtime::Result<Result<T, WitError>>`: the outer error traps the plugin (a host bug it
//! must not survive), the inner one is the WIT error the plugin handles — including
//! `denied` when the operator did not grant the capability, which the operator hears of
//! once per plugin and capability ([`DeniedCalls`]).
//!
//! Host calls that wait are bounded per plugin call: kv calls run on the kv threads
//! ([`KvWorkers`]) and are given up at the call's deadline (the call then fails with
//! `timeout`); DNS lookups spend the call's [`DnsBudget`] of questions and time, and
//! lookups beyond it are answered with an error the plugin handles.

mod clock;
mod config;
mod denied;
mod dns;
mod domain;
mod kv;
mod log;
mod message;
mod ocr;
mod sender_auth;

use std::sync::Arc;

pub use denied::DeniedCalls;
pub use dns::DnsBudget;
pub use kv::{MAX_SCAN_BYTES, MAX_SCAN_ENTRIES};

use super::kv_workers::KvWorkers;
use crate::config::Capability;
use crate::dns::Resolver;
use crate::ocr::OcrEngine;
use crate::store::KvNamespace;
use crate::time::Clock;

use super::metrics::PluginMetrics;

/// Services shared by every plugin of the gateway.
#[derive(Clone)]
pub struct Services {
    /// The shared DNS resolver; `None` when it could not be set up (lookups then fail
    /// with `server-failure`).
    pub resolver: Option<Resolver>,
    /// The OCR engine.
    pub ocr: Arc<dyn OcrEngine>,
    /// The clock plugins see.
    pub clock: Clock,
    /// Each plugin's calls, failures and call time, for `/metrics`.
    pub metrics: PluginMetrics,
    /// The threads kv calls run on, off the async workers.
    pub kv_workers: KvWorkers,
}

/// What one plugin may use: its grants, its kv namespace and its config, built at load
/// and shared by all its calls.
pub struct PluginHost {
    /// The plugin's instance name (log lines, kv namespace).
    pub name: String,
    /// The gateway's services.
    pub services: Services,
    /// Whether `dns` is granted.
    pub dns_granted: bool,
    /// The plugin's kv namespace, present exactly when `kv` is granted.
    pub kv: Option<Arc<dyn KvNamespace>>,
    /// Whether `ocr` is granted.
    pub ocr_granted: bool,
    /// The plugin's config table.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The capabilities it called without the grant, each warned about once.
    pub denied: DeniedCalls,
}

impl PluginHost {
    /// The capabilities granted, in [`Capability::ALL`] order (`moat plugin list`).
    pub fn granted(&self) -> Vec<Capability> {
        Capability::ALL
            .into_iter()
            .filter(|capability| match capability {
                Capability::Dns => self.dns_granted,
                Capability::Kv => self.kv.is_some(),
                Capability::Ocr => self.ocr_granted,
            })
            .collect()
    }

    /// Records a call to `capability`, which was not granted: the caller answers the
    /// plugin `denied`; the operator is warned the first time.
    pub fn deny(&self, capability: Capability) {
        self.denied.record(&self.name, capability);
    }
}

impl super::bindings::moat::filter::types::Host for super::store::StoreState {}
