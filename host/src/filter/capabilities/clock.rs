//! `clock`: the gateway's time ([`crate::time::Clock`]), which tests may shift.

use crate::filter::bindings::moat::filter::clock::Host;
use crate::filter::store::StoreState;

impl Host for StoreState {
    fn now_millis(&mut self) -> wasmtime::Result<u64> {
        Ok(self.host.services.clock.now_ms())
    }
}
