//! A redis-server of the test's own (Debian's package) on a free loopback port, its data
//! in a temporary directory and nothing kept on disk; killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, scratch, wait_until};

/// A running redis-server.
pub struct RedisServer {
    child: Child,
    /// The port it serves on (TLS only, for [`RedisServer::start_tls`]).
    pub port: u16,
    dir: tempfile::TempDir,
    tls: bool,
}

impl RedisServer {
    /// Starts one serving plain RESP on `127.0.0.1:port`.
    pub fn start() -> Self {
        Self::started(false, None)
    }

    /// Starts one serving TLS only, with the certificate and key given (PEM), clients
    /// not asked for certificates.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Self {
        Self::started(true, Some((cert_pem, key_pem)))
    }

    fn started(tls: bool, pems: Option<(&str, &str)>) -> Self {
        let dir = scratch();
        if let Some((cert, key)) = pems {
            std::fs::write(dir.path().join("cert.pem"), cert).expect("write the certificate");
            std::fs::write(dir.path().join("key.pem"), key).expect("write the key");
        }
        let port = free_port("127.0.0.1");
        let child = spawn(port, &dir, tls);
        Self {
            child,
            port,
            dir,
            tls,
        }
    }

    /// Kills it, as a crash would; its data goes with it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What `redis-cli` prints for one command (`args`), for a test to look inside; plain
    /// RESP servers only.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli (Debian package redis-tools)");
        assert!(output.status.success(), "redis-cli {args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.child = spawn(self.port, &self.dir, self.tls);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(port: u16, dir: &tempfile::TempDir, tls: bool) -> Child {
    let port_text = port.to_string();
    let mut command = Command::new("redis-server");
    command.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
    if tls {
        let file = |name: &str| dir.path().join(name).display().to_string();
        command
            .args([
                "--port",
                "0",
                "--tls-port",
                &port_text,
                "--tls-auth-clients",
                "no",
            ])
            .args([
                "--tls-cert-file",
                &file("cert.pem"),
                "--tls-key-file",
                &file("key.pem"),
            ])
            .args(["--tls-ca-cert-file", &file("cert.pem")]);
    } else {
        command.args(["--port", &port_text]);
    }
    let child = command
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server (Debian package redis-server)");
    assert!(
        wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }),
        "redis-server did not listen on port {port}"
    );
    child
}
