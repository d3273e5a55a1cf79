//! `clock`: the gateway's time, which tests may shift.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::filter::bindings::moat::filter::clock::Host;
use crate::filter::store::StoreState;

/// Wall-clock time as plugins see it: the system clock plus a fixed offset (zero in
/// production; tests of time decay move it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset_ms: i64,
}

impl Clock {
    /// A clock running `offset_ms` ahead of the system clock (behind when negative).
    pub fn with_offset_ms(offset_ms: i64) -> Self {
        Self { offset_ms }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_millis(&self) -> u64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        system.saturating_add(self.offset_ms).max(0) as u64
    }
}

impl Host for StoreState {
    fn now_millis(&mut self) -> wasmtime::Result<u64> {
        Ok(self.host.services.clock.now_millis())
    }
}
