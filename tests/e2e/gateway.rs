//! A running `moat serve` for SMTP tests: a config in a scratch dir (listeners on port 0,
//! data under it, the compiled-plugin cache shared between tests), its addresses from the
//! ready line, and the queue read back after it stops.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use moat_test_support::{Finished, Server, ready_addresses, run_in, scratch, workspace_root};
use tempfile::TempDir;

use crate::{MOAT, moat};

/// A gateway under test.
pub(crate) struct Gateway {
    pub(crate) dir: TempDir,
    server: Option<Server>,
    addresses: std::collections::HashMap<String, SocketAddr>,
}

/// The config every SMTP test starts from; `listener_extra` adds keys to the mx listener,
/// `extra` adds keys to [filter] and then tables (not [server], which is here). Unless
/// `extra` has a `[relay]` table, the protected domains are `example.test` and
/// `localhost` (with the keys of `relay_extra`, in [`Gateway::start_with_relay`]). Unless
/// `extra` configures delivery, the protected domains are routed to a
/// loopback port where nothing listens (port 9), so mail stays queued and no test looks
/// anything up on the network.
pub(crate) fn base_config(listener_extra: &str, extra: &str) -> String {
    base_config_with_relay(listener_extra, "", extra)
}

/// [`base_config`] with `relay_extra` added to `[relay]`.
fn base_config_with_relay(listener_extra: &str, relay_extra: &str, extra: &str) -> String {
    let cache = workspace_root().join("target/e2e-plugin-cache");
    let delivery = if extra.contains("delivery") {
        ""
    } else {
        "[[delivery.route]]\ndomains = [\"example.test\", \"localhost\"]\nservers = [\"127.0.0.1:9\"]\n"
    };
    let relay = if extra.contains("[relay]") {
        String::new()
    } else {
        format!("[relay]\ndomains = [\"example.test\", \"localhost\"]\n{relay_extra}")
    };
    format!(
        "[server]\nhostname = \"mx.test\"\ndata_dir = \"data\"\n\
[[listener]]\nname = \"mx\"\naddress = \"127.0.0.1:0\"\n{listener_extra}\
{relay}\
[filter]\ncache_dir = {:?}\n{extra}\n{delivery}",
        cache.display().to_string()
    )
}

impl Gateway {
    /// Starts `moat serve --dev --config` on `base_config("", extra)`.
    pub(crate) fn start(extra: &str) -> Gateway {
        Self::start_with("", extra)
    }

    /// Starts `moat serve --dev --config` on `base_config(listener_extra, extra)`.
    pub(crate) fn start_with(listener_extra: &str, extra: &str) -> Gateway {
        Self::start_with_in(scratch(), listener_extra, extra)
    }

    /// Starts `moat serve --dev --config` on `base_config("", extra)` in `dir`, which may
    /// hold a data dir already.
    pub(crate) fn start_in(dir: TempDir, extra: &str) -> Gateway {
        Self::start_with_in(dir, "", extra)
    }

    /// Starts a gateway named `hostname` instead of `mx.test`: one that delivers to
    /// another test gateway (two gateways of one name would be mail looping back to
    /// itself, which delivery refuses).
    pub(crate) fn start_named(hostname: &str, extra: &str) -> Gateway {
        let config = base_config("", extra).replacen(
            "hostname = \"mx.test\"",
            &format!("hostname = \"{hostname}\""),
            1,
        );
        Self::start_config(scratch(), &config)
    }

    /// Starts `moat serve --dev --config` on `base_config("", extra)` with `relay_extra`
    /// added to `[relay]`.
    pub(crate) fn start_with_relay(relay_extra: &str, extra: &str) -> Gateway {
        Self::start_config(scratch(), &base_config_with_relay("", relay_extra, extra))
    }

    fn start_with_in(dir: TempDir, listener_extra: &str, extra: &str) -> Gateway {
        Self::start_config(dir, &base_config(listener_extra, extra))
    }

    fn start_config(dir: TempDir, config: &str) -> Gateway {
        std::fs::write(dir.path().join("moat.toml"), config).unwrap();
        let server = Server::start(
            MOAT,
            dir.path(),
            &["serve", "--dev", "--config", "moat.toml"],
            Duration::from_secs(120),
        );
        let addresses = ready_addresses(&server.ready_line);
        Gateway {
            dir,
            server: Some(server),
            addresses,
        }
    }

    /// Stops the gateway (SIGTERM) and starts it again on the same config and data.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Waits up to `limit` for the gateway to exit by itself: its exit status (`None`: it
    /// was still running, and is killed now) and its stderr.
    pub(crate) fn wait_for_exit(
        &mut self,
        limit: Duration,
    ) -> (Option<std::process::ExitStatus>, String) {
        self.server.take().unwrap().wait_for_exit(limit)
    }

    /// Starts the gateway again on the same config and data, once it has stopped (as a
    /// service manager restarts it).
    pub(crate) fn start_again(&mut self) {
        assert!(self.server.is_none(), "the gateway is still running");
        let server = Server::start(
            MOAT,
            self.dir.path(),
            &["serve", "--dev", "--config", "moat.toml"],
            Duration::from_secs(120),
        );
        self.addresses = ready_addresses(&server.ready_line);
        self.server = Some(server);
    }

    /// The running gateway's `moat ready …` line.
    pub(crate) fn ready_line(&self) -> String {
        self.server.as_ref().expect("running").ready_line.clone()
    }

    /// The process id of the running gateway.
    pub(crate) fn pid(&self) -> u32 {
        self.server.as_ref().expect("running").id()
    }

    /// Sends the running gateway SIGHUP: reload.
    pub(crate) fn hangup(&self) {
        self.server.as_ref().expect("running").signal("HUP");
    }

    /// The address of listener `name`.
    pub(crate) fn addr(&self, name: &str) -> SocketAddr {
        self.addresses[name]
    }

    /// The MX listener.
    pub(crate) fn mx(&self) -> SocketAddr {
        self.addr("mx")
    }

    /// Kills the gateway with SIGKILL, as a crash would.
    pub(crate) fn crash(&mut self) {
        self.server.take().unwrap().kill();
    }

    /// Stops the gateway (SIGTERM) and returns its stderr.
    pub(crate) fn stop(&mut self) -> String {
        let (status, stderr) = self.server.take().unwrap().stop();
        assert!(status.success(), "moat exited with {status}: {stderr}");
        stderr
    }

    /// The ids in the queue (the gateway must be stopped).
    pub(crate) fn queue_ids(&self) -> Vec<String> {
        let out = moat(
            self.dir.path(),
            &["queue", "list", "--json", "--config", "moat.toml"],
        );
        out.assert_success();
        out.json_lines()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// A queued message's bytes as stored (the gateway must be stopped).
    pub(crate) fn queued_message(&self, id: &str) -> Vec<u8> {
        let out = moat(
            self.dir.path(),
            &["queue", "show", id, "--raw", "--config", "moat.toml"],
        );
        out.assert_success();
        out.output.stdout.clone()
    }

    /// Talks to listener `listener` with `clients/smtp_talk.py ARGS` (smtplib, command by
    /// command); returns each step's reply.
    pub(crate) fn talk(&self, listener: &str, args: &[&str]) -> Vec<serde_json::Value> {
        let addr = self.addr(listener);
        let script = workspace_root().join("tests/e2e/clients/smtp_talk.py");
        let (script, ip, port) = (
            script.display().to_string(),
            addr.ip().to_string(),
            addr.port().to_string(),
        );
        let mut full = vec![script.as_str(), ip.as_str(), port.as_str()];
        full.extend_from_slice(args);
        let out = run_in("python3", self.dir.path(), &full, Duration::from_secs(120));
        out.assert_success();
        out.json_lines()
    }

    /// Sends `message` with Python's smtplib; returns each step's reply.
    pub(crate) fn smtplib(
        &self,
        listener: &str,
        message: &[u8],
        args: &[&str],
    ) -> Vec<serde_json::Value> {
        let file = self
            .dir
            .path()
            .join(format!("msg-{}.eml", std::process::id() ^ rand_suffix()));
        std::fs::write(&file, message).unwrap();
        let addr = self.addr(listener);
        let script = workspace_root().join("tests/e2e/clients/smtp_send.py");
        let mut full: Vec<String> = vec![
            script.display().to_string(),
            addr.ip().to_string(),
            addr.port().to_string(),
            "--file".into(),
            file.display().to_string(),
        ];
        full.extend(args.iter().map(|s| (*s).to_owned()));
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        let out = run_in("python3", self.dir.path(), &refs, Duration::from_secs(120));
        out.assert_success();
        out.json_lines()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        drop(self.server.take());
    }
}

/// A name part no other call in this test process gives (sessions may run in threads).
fn rand_suffix() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) << 20
}

/// The reply of `step` (the last one of that name).
pub(crate) fn step<'a>(steps: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    steps
        .iter()
        .rev()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no {name} step in {steps:?}"))
}

/// The queue id in a `250 2.0.0 OK: queued as ID` reply.
pub(crate) fn queued_id(text: &str) -> String {
    text.rsplit(' ').next().unwrap().trim().to_owned()
}

/// Runs `swaks` with `args` against `addr`.
pub(crate) fn swaks(dir: &Path, addr: SocketAddr, args: &[&str]) -> Finished {
    let server = format!("{}:{}", addr.ip(), addr.port());
    let mut full = vec!["--server", &server, "--timeout", "60"];
    full.extend_from_slice(args);
    run_in("swaks", dir, &full, Duration::from_secs(120))
}
