//! `log`: plugin log lines, tagged with the plugin and the session.

use crate::filter::bindings::moat::filter::log::{Host, Level};
use crate::filter::store::StoreState;

/// Longer plugin log messages are cut to this many bytes.
const MAX_LOG_BYTES: usize = 4096;

impl Host for StoreState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let mut message = message;
        if message.len() > MAX_LOG_BYTES {
            let cut = (0..=MAX_LOG_BYTES)
                .rev()
                .find(|i| message.is_char_boundary(*i))
                .unwrap_or(0);
            message.truncate(cut);
        }
        let plugin = self.host.name.as_str();
        let session_id = &*self.session_id;
        match level {
            Level::Trace => tracing::trace!(plugin, session_id, "{message}"),
            Level::Debug => tracing::debug!(plugin, session_id, "{message}"),
            Level::Info => tracing::info!(plugin, session_id, "{message}"),
            Level::Warn => tracing::warn!(plugin, session_id, "{message}"),
            Level::Error => tracing::error!(plugin, session_id, "{message}"),
        }
        Ok(())
    }
}
