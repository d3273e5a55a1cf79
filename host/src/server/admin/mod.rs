//! The admin endpoint: a small HTTP/1.1 JSON API on a loopback address, through which
//! `moat queue`, `moat quarantine`, `moat learn` and `moat reload` act on the running
//! server (fjall lets one process at a time open the database), and `/metrics`.
//!
//! * `server`: the accept loop (hyper's HTTP/1.1 connection handling; no hand-written
//!   parser).
//! * `router`: method and path to endpoint: one `match` over the path's segments, so a new
//!   endpoint is one more arm.
//! * `queue`, `quarantine`: the operator's actions, each answered by
//!   [`crate::control::LocalControl`], the same code `moat queue` runs on a stopped
//!   server's data dir.
//! * `learn`: teaching the running server's learning plugins, and their counters.
//!
//! The CLI's side is [`crate::control::client`].
//!
//! `guard` says who may ask: every request carries a token (`[admin] token`, or one
//! generated into `data_dir/admin.token`, mode 0600), and nothing a browser sends gets
//! through (an `Origin` header, a foreign `Host`, a write without a JSON body type).
//! `token` makes the token. The server writes the address it listens on to
//! `data_dir/admin.addr` (port 0 picks one), where the CLI finds it.
//!
//! Why hyper: it is the HTTP implementation the Rust ecosystem's servers stand on, it is
//! small with only the `http1` features, and it already speaks tokio; axum would add a
//! routing layer the handful of endpoints here does not need.

mod guard;
mod learn;
mod quarantine;
mod queue;
mod router;
mod server;
mod token;

pub(super) use server::{AdminContext, serve};
pub(super) use token::token;
