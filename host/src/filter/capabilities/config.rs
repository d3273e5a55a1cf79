//! `config`: the plugin's own config table, as JSON.

use crate::filter::bindings::moat::filter::config::Host;
use crate::filter::store::StoreState;

impl Host for StoreState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.host.config.get(&key).map(serde_json::Value::to_string))
    }

    fn all(&mut self) -> wasmtime::Result<String> {
        Ok(serde_json::Value::Object(self.host.config.clone()).to_string())
    }
}
