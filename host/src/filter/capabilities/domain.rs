//! `domain`: the registrable domain of a host name, from the Public Suffix List the
//! gateway links (the `psl` crate, as DMARC alignment uses), so that plugins do not each
//! compile a megabyte of list into their `.wasm`.

use crate::filter::bindings::moat::filter::domain::Host;
use crate::filter::store::StoreState;

#[path = "../../../../sdk/src/domain_rules.rs"]
mod rules;

impl Host for StoreState {
    fn registrable(&mut self, host: String) -> wasmtime::Result<Option<String>> {
        Ok(rules::registrable(&host))
    }
}
