//! Moat: an SMTP filtering gateway whose filters are sandboxed WebAssembly plugins.
//!
//! # Layout
//!
//! * `config`: the operator's TOML configuration, validated with errors naming the key.
//! * `domain`: the one spelling of a mail domain (UTS 46, lowercase A-labels), which
//!   relay control, routing, submission ownership and the queue all compare by.
//! * `message`: a received message parsed once and shared by every plugin.
//! * `filter`: the plugin runtime (wasmtime engine, loader, per-call sandboxes, host
//!   capabilities), verdict validation, and `combine`, which turns verdicts into a decision
//!   with a report explaining every point of the score.
//! * `decisions`: the decision log (every verdict with its symbols, and what the operator
//!   later said each message was), what `moat replay` re-weighs and `moat tune` learns from.
//! * `dns`: the shared caching resolver behind the plugins' `dns` capability.
//! * `store`: the fjall databases under the data dir (the queue's; the plugins' kv store in
//!   `data_dir/kv`) and the kv storage trait.
//! * `ocr`: OCR engines behind the plugins' `ocr` capability.
//! * `auth`: submission accounts (the users file, argon2id passwords), login-failure
//!   lockouts and per-account sending limits.
//! * `smtp`: listeners, sessions (a typed phase per step of the conversation), the sans-IO
//!   protocol layer, replies, STARTTLS and relay control.
//! * `queue`: the durable message queue in fjall (250 only after fsync, group commit).
//! * `delivery`: the scheduler over the due index, routes and MX, the SMTP client,
//!   per-recipient outcomes, retries and DSNs.
//! * `server`: the running gateway: start-up, background tasks, reload, shutdown, and
//!   the admin endpoint (the local HTTP API `moat queue ...` uses while it runs).
//! * `control`: the operator's queue and quarantine actions, once, on the queue itself
//!   or through the admin API.
//! * `metrics`: the registry every subsystem counts in, and its Prometheus exposition.
//! * `net`: clients counted per IPv4 address or IPv6 /64.
//! * `time`: the one clock; `os`: private files, dropping root, telling systemd.
//! * `tune`: symbol weights learnt from labelled decisions (`moat tune`).
//! * `cli`: the `moat` commands (parsing and printing); `telemetry`: log setup.
//!
//! docs/ARCHITECTURE.md has the system picture.

pub mod auth;
pub mod cli;
pub mod config;
pub mod control;
pub mod decisions;
pub mod delivery;
pub mod dns;
pub mod domain;
pub mod filter;
pub mod message;
pub mod metrics;
pub mod net;
pub mod ocr;
pub mod os;
pub mod queue;
pub mod sender_auth;
pub mod server;
pub mod smtp;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod tune;

#[cfg(test)]
mod layout_tests;

/// Paths of the test and example guests built by `build.rs`, for tests.
#[doc(hidden)]
pub mod test_guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}
