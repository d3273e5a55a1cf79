//! Test harness: a real DNS block-list server (Debian's `rbldnsd`, started through the
//! shared `dnsbl-server.sh`) on a loopback port, killed when dropped.
//!
//! Zones (data in `shared/tools/dnsbl/`): `bl.moat.test` lists 127.0.0.2 (answer
//! 127.0.0.2, with a TXT reason) and not 127.0.0.1; `dbl.moat.test` lists `test` and
//! `spammer.example` (answer 127.0.1.2). rbldnsd answers over UDP only.

use std::io::Read;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long the server has to start answering.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// A running rbldnsd; dropping it kills that process (and only it).
pub(crate) struct DnsblServer {
    child: Child,
    addr: SocketAddr,
}

impl DnsblServer {
    /// Starts the server on a free loopback port and waits until it answers. Tries a
    /// second port if the first was taken in between. Panics, naming the package to
    /// install, if rbldnsd is missing.
    pub(crate) fn start() -> Self {
        match Self::try_start() {
            Ok(server) => server,
            Err(first) => Self::try_start().unwrap_or_else(|second| {
                panic!("dnsbl test server did not start: {first}; then: {second}")
            }),
        }
    }

    /// The address to send queries to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn try_start() -> Result<Self, String> {
        let addr = free_udp_port()?;
        let child = Command::new(script())
            .arg(addr.port().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
        let mut server = Self { child, addr };
        server.wait_until_answering()?;
        Ok(server)
    }

    fn wait_until_answering(&mut self) -> Result<(), String> {
        let probe = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("probe socket: {e}"))?;
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| format!("probe socket: {e}"))?;
        let started = Instant::now();
        let mut reply = [0u8; 512];
        while started.elapsed() < START_DEADLINE {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                if let Some(pipe) = self.child.stderr.as_mut() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                if status.code() == Some(2) && stderr.contains("not installed") {
                    panic!(
                        "rbldnsd not found on PATH (Debian puts it in /usr/sbin); install the \
                         test tools: apt-get install -y rbldnsd \
                         (or shared/tools/install-test-tools.sh)"
                    );
                }
                return Err(format!("rbldnsd exited with {status}: {}", stderr.trim()));
            }
            let _ = probe.send_to(&PROBE_QUERY, self.addr);
            if let Ok((n, _)) = probe.recv_from(&mut reply)
                && n >= 2
                && reply[..2] == PROBE_QUERY[..2]
            {
                return Ok(());
            }
            sleep(Duration::from_millis(20));
        }
        Err(format!(
            "rbldnsd did not answer on {} within {START_DEADLINE:?}",
            self.addr
        ))
    }
}

impl Drop for DnsblServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `shared/tools/dnsbl-server.sh`, beside the repository (`../../shared` from `host/`).
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/tools/dnsbl-server.sh")
}

/// A loopback UDP port free a moment ago (rbldnsd needs the number on its command line).
fn free_udp_port() -> Result<SocketAddr, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("finding a port: {e}"))?;
    socket
        .local_addr()
        .map_err(|e| format!("finding a port: {e}"))
}

/// A DNS query for `2.0.0.127.bl.moat.test. A`, id 0x4d54, recursion desired.
const PROBE_QUERY: [u8; 40] = [
    0x4d, 0x54, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // header
    1, b'2', 1, b'0', 1, b'0', 3, b'1', b'2', b'7', 2, b'b', b'l', 4, b'm', b'o', b'a', b't', 4,
    b't', b'e', b's', b't', 0, // name
    0x00, 0x01, 0x00, 0x01, // A, IN
];
