//! The running gateway: start-up, the background tasks, reload and shutdown, and the admin
//! endpoint through which the CLI reaches it. `moat serve` (in `cli`) parses its arguments
//! and calls [`run`]; nothing here prints except the two lines a supervisor or benchmark
//! reads (`moat ready …` and `moat stopped …`).
//!
//! * `startup`: what a server is made of, built from the configuration in order (data
//!   dir, TLS, filters, queue, sessions, listeners).
//! * `background`: what runs beside the listeners (delivery, the quarantine's expiry, the
//!   kv sync, the admin endpoint).
//! * `reload`: [`reload::Reloader`], the configuration read again on SIGHUP, `moat
//!   reload` and plugin-directory changes.
//! * `shutdown`: signals, then stop accepting, let sessions finish, stop the rest.
//! * `admin`: the admin endpoint.
//! * `verify`: recipient verification, the SMTP side's prober answered by delivery's
//!   probes.
//!
//! Errors here are `anyhow`: start-up is the binary's edge, and each failure carries the
//! context the operator needs ("cannot listen on …").

mod admin;
mod background;
pub mod reload;
mod sender_auth;
mod shutdown;
mod startup;
mod verify;

pub use sender_auth::sender_auth_service;

use tokio_util::sync::CancellationToken;

use crate::config::ConfigSource;
use crate::os::systemd;

/// Runs the gateway `source` configures until SIGINT or SIGTERM (SIGHUP reloads), then
/// stops accepting, answers open sessions `421 4.3.2` at their next read, and waits for
/// messages in progress. `dev` makes a self-signed certificate when none is configured.
/// Stops the same way, and returns an error, when the queue's database fails a write.
pub async fn run(source: ConfigSource, dev: bool) -> anyhow::Result<()> {
    let signals = shutdown::Signals::catch()?;
    let server = startup::Server::start(source, dev).await?;
    announce(&server.ready_line());
    systemd::notify("READY=1");
    if let Some(every) = systemd::watchdog_interval() {
        tokio::spawn(keep_watchdog_fed(every, server.shutdown.clone()));
    }
    server.serve_until_signalled(signals).await
}

/// Sends `WATCHDOG=1` every `every` until `shutdown`: a server whose runtime hangs stops
/// sending, and systemd restarts it.
async fn keep_watchdog_fed(every: std::time::Duration, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticks.tick() => { systemd::notify("WATCHDOG=1"); }
            () = shutdown.cancelled() => return,
        }
    }
}

/// Prints one of the server's two stdout lines. A server keeps serving when nobody reads
/// its standard output any more, so a failed write is not an error here.
fn announce(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
