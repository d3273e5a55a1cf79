//! The gateway's clock. Use it rather than `std::time::SystemTime::now()`: plugins get no
//! real WASI clock, and the host's clock lets tests and replays move time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::bindings::moat::filter::clock as wit;

/// Milliseconds since the Unix epoch, UTC, by the gateway's clock.
#[must_use]
pub fn now_millis() -> u64 {
    wit::now_millis()
}

/// The gateway's current time as a [`SystemTime`].
#[must_use]
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(now_millis())
}
