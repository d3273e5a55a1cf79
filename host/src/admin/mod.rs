//! The admin endpoint: a small HTTP/1.1 JSON API on a loopback address, served by
//! `moat serve`, through which the `moat queue ...` and `moat quarantine ...` commands act
//! on the running server's queue (fjall lets one process at a time open the database).
//!
//! * `server`: the accept loop (hyper's HTTP/1.1 connection handling; no hand-written
//!   parser).
//! * `router`: method and path to endpoint: one `match` over the path's segments, so a new
//!   endpoint (metrics, quarantine, reload) is one more arm and one more handler file.
//! * `queue`: the queue endpoints.
//! * `quarantine`: the quarantine endpoints.
//! * `learn`: teaching the running server's learning plugins, and their counters.
//! * `client`: the HTTP client the CLI uses.
//!
//! With `[admin] token` every request must carry `Authorization: Bearer TOKEN` (compared
//! in constant time); the configuration refuses an address beyond loopback without one.
//! The server writes the address it listens on to `data_dir/admin.addr` (port 0 picks
//! one), where the CLI finds it.
//!
//! Why hyper: it is the HTTP implementation the Rust ecosystem's servers stand on, it is
//! small with only the `http1` features, and it already speaks tokio; axum would add a
//! routing layer the handful of endpoints here does not need.

pub mod client;
mod learn;
mod quarantine;
mod queue;
mod router;
mod server;

use std::path::{Path, PathBuf};

pub use queue::QueueAction;
pub use server::{AdminContext, serve};

/// The file in the data directory holding the running server's admin address.
pub fn address_file(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.addr")
}
