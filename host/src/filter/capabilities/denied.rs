//! Calls to a capability the operator did not grant: the plugin gets `denied` every time,
//! and the operator one warning per plugin and capability, naming both. A plugin that
//! needs `kv` and was installed without it then shows up in the log at its first call,
//! not as a plugin quietly scoring nothing; a plugin that calls on every message does not
//! fill the log.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Capability;

/// Which capabilities a plugin has already been warned about, shared by all its calls.
#[derive(Debug, Default)]
pub struct DeniedCalls {
    dns: AtomicBool,
    kv: AtomicBool,
    ocr: AtomicBool,
}

impl DeniedCalls {
    /// Records that plugin `plugin` called `capability` without the grant, and warns the
    /// first time it does; true when this call warned.
    pub fn record(&self, plugin: &str, capability: Capability) -> bool {
        let flag = match capability {
            Capability::Dns => &self.dns,
            Capability::Kv => &self.kv,
            Capability::Ocr => &self.ocr,
        };
        let first = !flag.swap(true, Ordering::Relaxed);
        if first {
            tracing::warn!(
                plugin,
                capability = capability.as_str(),
                "plugin called a capability it was not granted (answered `denied`; grant it \
                 with `capabilities` in its settings, or `moat plugin test --grant`)"
            );
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_capability_warns_once() {
        let denied = DeniedCalls::default();
        assert!(denied.record("counter", Capability::Kv));
        assert!(!denied.record("counter", Capability::Kv));
        assert!(denied.record("counter", Capability::Dns));
        assert!(denied.record("counter", Capability::Ocr));
        assert!(!denied.record("counter", Capability::Dns));
    }
}
