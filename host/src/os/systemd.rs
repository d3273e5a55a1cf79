//! Telling the service manager what the server is doing (`sd_notify`, as systemd's
//! `Type=notify` services do): `READY=1` once the listeners are bound and the queue is
//! open, `RELOADING=1` then `READY=1` around a reload, `STOPPING=1` at shutdown, and
//! `WATCHDOG=1` at half the `WatchdogSec=` interval. Without `NOTIFY_SOCKET` in the
//! environment (not started by systemd) every call does nothing.
//!
//! Why not a crate: the protocol is one datagram of `KEY=VALUE` lines to a Unix socket
//! (an abstract one when the path starts with `@`), which std sends as it is.

use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Sends `state` (`KEY=VALUE` lines) to the service manager, if one listens; whether it
/// was sent. A failure is logged, never fatal: the service manager is a bystander.
pub fn notify(state: &str) -> bool {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return false;
    };
    let sent = UnixDatagram::unbound().and_then(|socket| {
        let bytes = path.as_bytes();
        match bytes.strip_prefix(b"@") {
            Some(name) => {
                socket.send_to_addr(state.as_bytes(), &SocketAddr::from_abstract_name(name)?)
            }
            None => socket.send_to(state.as_bytes(), &path),
        }
    });
    match sent {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(%error, state, "cannot notify the service manager");
            false
        }
    }
}

/// `RELOADING=1` with the monotonic time systemd asks for with it.
pub fn reloading() -> bool {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
    }
    let micros = u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000
        + u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000;
    notify(&format!("RELOADING=1\nMONOTONIC_USEC={micros}"))
}

/// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, when it is set for this
/// process.
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID")
        && pid.to_string_lossy() != std::process::id().to_string()
    {
        return None;
    }
    let micros: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (micros > 0).then(|| Duration::from_micros(micros / 2))
}
