//! The real next hops of delivery tests, each on loopback and killed on drop: Postfix's
//! `smtp-sink`, the small Python SMTP server `tests/e2e/clients/downstream.py` (chosen
//! replies per recipient, refused connections, exact bytes logged), and NSD, an
//! authoritative DNS server, serving a zone written by the test.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::workspace_root;

/// `PATH` with the sbin directories, where Debian puts smtp-sink and nsd.
fn sbin_path() -> String {
    format!(
        "{}:/usr/local/sbin:/usr/sbin:/sbin",
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The program `name` (a Debian tool such as smtp-source, which lives in sbin): the first
/// match on [`sbin_path`], or `name` itself, so that starting it names what is missing.
pub fn sbin_program(name: &str) -> String {
    std::env::split_paths(&sbin_path())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .map_or_else(|| name.to_owned(), |path| path.display().to_string())
}

/// Waits until `condition` holds, checking every 100 ms; false after `limit`.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A free TCP port on `ip` (bound then released: another process could take it first).
pub fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Postfix's smtp-sink, writing each message to its own file under a directory.
pub struct SmtpSink {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: PathBuf,
}

impl SmtpSink {
    /// Starts smtp-sink on `addr` (a free loopback port if its port is 0), dumping
    /// messages into `dir`; `extra` are more options (e.g. `-r MAIL`).
    pub fn start(dir: &Path, port: u16, extra: &[&str]) -> SmtpSink {
        let port = if port == 0 {
            free_port("127.0.0.1")
        } else {
            port
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        std::fs::create_dir_all(dir).expect("create the dump dir");
        let user = Command::new("id")
            .arg("-un")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .expect("id -un");
        let template = format!("{}/%H%M%S.", dir.display());
        let mut args = vec!["-u", &user, "-d", &template];
        args.extend_from_slice(extra);
        let listen = addr.to_string();
        args.extend([listen.as_str(), "50"]);
        let child = Command::new("smtp-sink")
            .args(&args)
            .env("PATH", sbin_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start smtp-sink (../shared/tools/install-test-tools.sh installs postfix)");
        assert!(
            wait_until(Duration::from_secs(10), || TcpStream::connect(addr).is_ok()),
            "smtp-sink did not listen on {addr}"
        );
        SmtpSink {
            child,
            addr,
            dir: dir.to_path_buf(),
        }
    }

    /// Every message dumped so far, as written (smtp-sink's own `X-…` lines and Received
    /// header first, line endings as LF). smtp-sink creates a dump file before it has
    /// written the whole message, so only files untouched for 300 ms count.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter(|f| {
                std::fs::metadata(f)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= SETTLED)
            })
            .filter_map(|f| std::fs::read(f).ok())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long a dump file must be left alone before [`SmtpSink::messages`] reads it.
const SETTLED: Duration = Duration::from_millis(300);

/// `tests/e2e/clients/downstream.py`: an SMTP server with chosen replies, logging every
/// connection and message as JSON lines.
pub struct Downstream {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Downstream {
    /// Starts it on `ip:port` (0: a free port), logging to `log`, with `args` (see the
    /// script).
    pub fn start(ip: &str, port: u16, log: &Path, args: &[&str]) -> Downstream {
        let script = workspace_root().join("tests/e2e/clients/downstream.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(ip)
            .arg(port.to_string())
            .arg(log)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start downstream.py");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let port: u16 = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line
                .strip_prefix("ready ")
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("downstream.py said {line:?}")),
            Err(_) => {
                let _ = child.kill();
                panic!("downstream.py did not start on {ip}:{port}");
            }
        };
        Downstream {
            child,
            addr: SocketAddr::new(ip.parse().expect("an IP address"), port),
            log: log.to_path_buf(),
        }
    }

    /// Every logged event (`{"event": "connect" | "refused" | "message", ...}`).
    pub fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The messages received: the `message` events.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == "message")
            .collect()
    }

    /// How many connections were opened to it.
    pub fn connections(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| e["event"] == "connect")
            .count()
    }
}

impl Drop for Downstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes a `message` event's bytes.
pub fn message_bytes(event: &serde_json::Value) -> Vec<u8> {
    let text = event["data"].as_str().expect("a data field");
    base64_decode(text)
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buffer = 0_u32;
    let mut bits = 0;
    for byte in text.bytes() {
        let Some(value) = ALPHABET.iter().position(|&a| a == byte) else {
            continue;
        };
        buffer = (buffer << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// NSD, an authoritative DNS server, serving one zone on a free loopback port.
pub struct Nsd {
    child: Child,
    /// Where it answers (UDP and TCP).
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Nsd {
    /// Serves `zone_text` as zone `origin` (no trailing dot). Fails the test with a hint
    /// when nsd is not installed.
    pub fn start(origin: &str, zone_text: &str) -> Nsd {
        let dir = crate::scratch();
        for _ in 0..5 {
            let port = UdpSocket::bind("127.0.0.1:0")
                .and_then(|s| s.local_addr())
                .expect("a free UDP port")
                .port();
            let zone_file = dir.path().join("zone");
            std::fs::write(&zone_file, zone_text).expect("write the zone");
            let config = format!(
                "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  \
zonesdir: \"{dir}\"\n  database: \"\"\n  zonelistfile: \"{dir}/zone.list\"\n  pidfile: \"{dir}/nsd.pid\"\n  \
xfrdfile: \"{dir}/xfrd.state\"\n  xfrdir: \"{dir}\"\n  logfile: \"{dir}/nsd.log\"\n  server-count: 1\n  \
verbosity: 1\n  hide-version: yes\nremote-control:\n  control-enable: no\nzone:\n  name: \"{origin}\"\n  zonefile: \"{zone}\"\n",
                dir = dir.path().display(),
                zone = zone_file.display(),
            );
            let config_file = dir.path().join("nsd.conf");
            std::fs::write(&config_file, config).expect("write nsd.conf");
            let spawned = Command::new("nsd")
                .arg("-d")
                .arg("-c")
                .arg(&config_file)
                .env("PATH", sbin_path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn();
            let mut child = match spawned {
                Ok(child) => child,
                Err(e) => panic!(
                    "cannot start nsd ({e}); ../shared/tools/install-test-tools.sh nsd installs it"
                ),
            };
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            if answers(addr, origin, Duration::from_secs(10)) {
                return Nsd {
                    child,
                    addr,
                    _dir: dir,
                };
            }
            let _ = child.kill();
            let output = child.wait_with_output().expect("wait for nsd");
            eprintln!(
                "nsd did not answer on port {port}: {}\n{}",
                String::from_utf8_lossy(&output.stderr),
                std::fs::read_to_string(dir.path().join("nsd.log")).unwrap_or_default()
            );
        }
        panic!("nsd did not start on a free port after 5 tries");
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a DNS server at `addr` answers a SOA question for `origin` within `limit`.
fn answers(addr: SocketAddr, origin: &str, limit: Duration) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("set a timeout");
    let mut query = vec![0x12, 0x35, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in origin.split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 6, 0, 1]);
    let deadline = Instant::now() + limit;
    let mut answer = [0u8; 512];
    while Instant::now() < deadline {
        let _ = socket.send_to(&query, addr);
        if let Ok((n, _)) = socket.recv_from(&mut answer)
            && n > 12
            && answer[3] & 0x0f == 0
            && u16::from_be_bytes([answer[6], answer[7]]) > 0
        {
            return true;
        }
    }
    false
}
