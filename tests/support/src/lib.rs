//! Test harness for Moat's end-to-end tests: run the real `moat` binary (as a one-shot
//! command, or as a server read until its ready line and killed on drop), find fixtures,
//! and fail with the child's output when something goes wrong. Every wait has a deadline.

mod peers;
mod redis;

pub use peers::{Downstream, Nsd, SmtpSink, free_port, message_bytes, sbin_program, wait_until};
pub use redis::RedisServer;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The workspace root (the folder holding host/, sdk/, tests/).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// The shared test data beside the workspace (`../shared`: corpus, tools).
pub fn shared_dir() -> PathBuf {
    workspace_root().join("../shared")
}

/// A message from the shared corpus, e.g. `corpus_file("mail/test/spam")` picks the first
/// file of that folder in name order.
pub fn first_corpus_file(folder: &str) -> PathBuf {
    let dir = shared_dir().join("corpus").join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus folder {} is missing: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("corpus folder {} is empty", dir.display()))
}

/// A scratch directory for one test, removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("moat-test-")
        .tempdir()
        .expect("create a temp dir")
}

/// The output of a finished command, with helpers that fail readably.
#[derive(Debug)]
pub struct Finished {
    /// Exit status, stdout and stderr.
    pub output: Output,
}

impl Finished {
    /// Standard output as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Standard error as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Panics (showing both streams) unless the command succeeded.
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.output.status.success(),
            "command failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.output.status,
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// Panics (showing both streams) unless the command failed.
    pub fn assert_failure(&self) -> &Self {
        assert!(
            !self.output.status.success(),
            "command unexpectedly succeeded:\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// Each stdout line parsed as JSON; panics on a line that is not JSON.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\nstderr:\n{}", self.stderr()))
            })
            .collect()
    }
}

/// Runs `bin` with `args` in `dir`, killing it if it runs past `limit`.
pub fn run_in(bin: &str, dir: &Path, args: &[&str], limit: Duration) -> Finished {
    run_with_input(bin, dir, args, b"", limit)
}

/// [`run_in`] with `input` on the child's standard input.
pub fn run_with_input(
    bin: &str,
    dir: &Path,
    args: &[&str],
    input: &[u8],
    limit: Duration,
) -> Finished {
    let mut child = spawn_piped(bin, dir, args, &[]);
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        // A child that exits without reading its input is not an error here.
        let _ = stdin.write_all(input);
    }
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{bin} {args:?} ran past {limit:?}; stderr so far:\n{}",
                String::from_utf8_lossy(&stderr.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Finished {
        output: Output {
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        },
    }
}

/// Starts `bin` in `dir` with all three streams piped, and `env` added to its
/// environment.
fn spawn_piped(bin: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    Command::new(bin)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"))
}

fn drain(mut stream: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        bytes
    })
}

/// A `moat serve` child: started, read until its ready line, killed on drop.
pub struct Server {
    child: Child,
    /// The ready line it printed (`moat ready ...`).
    pub ready_line: String,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

impl Server {
    /// Starts `bin` with `args` in `dir` and waits up to `limit` for the ready line.
    pub fn start(bin: &str, dir: &Path, args: &[&str], limit: Duration) -> Server {
        Self::start_with_env(bin, dir, args, &[], limit)
    }

    /// [`Server::start`] with `env` added to the server's environment.
    pub fn start_with_env(
        bin: &str,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        limit: Duration,
    ) -> Server {
        let mut child = spawn_piped(bin, dir, args, env);
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("moat ready") {
                    let _ = tx.send(line);
                }
            }
        });
        match rx.recv_timeout(limit) {
            Ok(ready_line) => Server {
                child,
                ready_line,
                stderr,
            },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "moat printed no ready line within {limit:?}; stderr:\n{}",
                    String::from_utf8_lossy(&stderr.join().unwrap_or_default())
                );
            }
        }
    }

    /// The server's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends the server signal `name` (`HUP`, …), as `kill -NAME` does.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {pid} failed");
    }

    /// Stops the server with SIGTERM and returns its exit status and stderr.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for moat") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().expect("wait for moat");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stderr = std::mem::replace(&mut self.stderr, std::thread::spawn(Vec::new));
        (
            status,
            String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned(),
        )
    }
}

impl Server {
    /// Waits up to `limit` for the server to exit by itself (no signal sent): its exit
    /// status, or `None` when it was still running (it is then killed), and its stderr.
    pub fn wait_for_exit(mut self, limit: Duration) -> (Option<std::process::ExitStatus>, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for moat") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = std::mem::replace(&mut self.stderr, std::thread::spawn(Vec::new));
        (
            status,
            String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The addresses in a `moat ready name=addr ...` line, by listener name.
pub fn ready_addresses(
    ready_line: &str,
) -> std::collections::HashMap<String, std::net::SocketAddr> {
    ready_line
        .split_whitespace()
        .filter_map(|field| field.split_once('='))
        .filter_map(|(name, value)| value.parse().ok().map(|addr| (name.to_owned(), addr)))
        .collect()
}

/// A raw SMTP connection for protocol tests: send exact bytes, read replies.
pub struct RawSmtp {
    stream: std::net::TcpStream,
    buffer: Vec<u8>,
}

/// One SMTP reply: its code and its lines' texts joined by newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpReply {
    /// The three-digit code.
    pub code: u16,
    /// The text of every line (after the code and separator).
    pub text: String,
}

impl RawSmtp {
    /// Connects to `addr`; every read waits at most 30 s.
    pub fn connect(addr: std::net::SocketAddr) -> RawSmtp {
        let stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .expect("connect to moat");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set a read timeout");
        RawSmtp {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Sends `bytes` as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        use std::io::Write as _;
        self.stream.write_all(bytes).expect("write to moat");
    }

    /// Reads one (possibly multi-line) reply; `None` if the server closed the connection.
    pub fn reply(&mut self) -> Option<SmtpReply> {
        let mut text = Vec::new();
        loop {
            let line = self.line()?;
            let code = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("not an SMTP reply line: {line:?}"));
            text.push(line.get(4..).unwrap_or_default().to_owned());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Some(SmtpReply {
                    code,
                    text: text.join("\n"),
                });
            }
        }
    }

    /// Sends a command line (CRLF added) and reads its reply.
    pub fn command(&mut self, line: &str) -> SmtpReply {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
            .unwrap_or_else(|| panic!("connection closed after {line:?}"))
    }

    fn line(&mut self) -> Option<String> {
        use std::io::Read as _;
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
                self.buffer.drain(..end + 2);
                return Some(line);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("reading from moat: {e}"),
            }
        }
    }
}

impl Server {
    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real DNSBL server (Debian's rbldnsd, through `../shared/tools/dnsbl-server.sh`) on a
/// free loopback port, serving the zones in `zone_dir`; killed on drop.
pub struct DnsblServer {
    child: Child,
    /// Where it answers (UDP).
    pub addr: std::net::SocketAddr,
}

impl DnsblServer {
    /// Starts the server; fails the test with a hint when rbldnsd is not installed.
    pub fn start(zone_dir: &Path) -> DnsblServer {
        let script = shared_dir().join("tools/dnsbl-server.sh");
        for _ in 0..5 {
            // rbldnsd takes a port number, so pick a free one; retry if another process
            // takes it first.
            let port = std::net::UdpSocket::bind("127.0.0.1:0")
                .and_then(|s| s.local_addr())
                .expect("a free UDP port")
                .port();
            let mut child = Command::new("bash")
                .arg(&script)
                .arg(port.to_string())
                .arg(zone_dir)
                .env(
                    "PATH",
                    format!(
                        "{}:/usr/sbin:/sbin",
                        std::env::var("PATH").unwrap_or_default()
                    ),
                )
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start dnsbl-server.sh");
            let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
            if wait_for_dns(addr, Duration::from_secs(5)) {
                return DnsblServer { child, addr };
            }
            let _ = child.kill();
            let output = child.wait_with_output().expect("wait for dnsbl-server.sh");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                !stderr.contains("not installed"),
                "{stderr} (../shared/tools/install-test-tools.sh installs it)"
            );
        }
        panic!("rbldnsd did not start on a free port after 5 tries");
    }
}

impl Drop for DnsblServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a DNS server answers at `addr` within `limit` (a query for `2.0.0.127.bl.moat.test`).
fn wait_for_dns(addr: std::net::SocketAddr, limit: Duration) -> bool {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("set a timeout");
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["2", "0", "0", "127", "bl", "moat", "test"] {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    let deadline = Instant::now() + limit;
    let mut answer = [0u8; 512];
    while Instant::now() < deadline {
        let _ = socket.send_to(&query, addr);
        if matches!(socket.recv_from(&mut answer), Ok((n, _)) if n > 12) {
            return true;
        }
    }
    false
}
