//! Writing to the gateway's log. Lines are tagged with the plugin's name and the session
//! id by the host; messages longer than 4 KiB are truncated. Always available.
//!
//! ```no_run
//! use moat_sdk::log;
//!
//! let phrase = "free money";
//! log::debug(&format!("matched {phrase:?}"));
//! ```
//!
//! A plugin has no stdout or stderr worth writing to; use these instead.

use crate::bindings::moat::filter::log as wit;

/// Logs fine detail for debugging a plugin.
pub fn trace(message: &str) {
    wit::log(wit::Level::Trace, message);
}

/// Logs detail an operator turns on when investigating.
pub fn debug(message: &str) {
    wit::log(wit::Level::Debug, message);
}

/// Logs a normal fact worth recording.
pub fn info(message: &str) {
    wit::log(wit::Level::Info, message);
}

/// Logs that something went wrong but the plugin carried on (e.g. a bad config value was
/// replaced by a default).
pub fn warn(message: &str) {
    wit::log(wit::Level::Warn, message);
}

/// Logs that something went wrong and the plugin's answer is affected.
pub fn error(message: &str) {
    wit::log(wit::Level::Error, message);
}
