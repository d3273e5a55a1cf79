//! `moat bench floods`: what a flood costs the server, measured against the real binary on
//! loopback. Two figures, each on a server of its own:
//!
//! * idle connections: N connections opened and greeted from 250 loopback addresses, then
//!   the time a new client waits for its greeting;
//! * large messages at once: S sessions each sending a message of SIZE bytes at the same
//!   time against a memory budget: how many got 250 and 452, and the server's peak
//!   resident memory above where it started, beside the budget.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::{Child, Command};

use crate::cli::output::say;
use crate::config::ByteSize;

/// `moat bench floods` arguments.
#[derive(Debug, clap::Args)]
pub struct FloodsArgs {
    /// Idle connections to hold open, one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    pub idle: Vec<usize>,
    /// Sessions sending a large message at once.
    #[arg(long, default_value_t = 200)]
    pub sessions: usize,
    /// The size of each large message.
    #[arg(long, default_value = "20MiB")]
    pub size: ByteSize,
    /// The server's memory budget for mail in flight (`[smtp] max_inflight_bytes`).
    #[arg(long, default_value = "1GiB")]
    pub budget: ByteSize,
}

/// Runs the benchmark.
pub(super) async fn run(args: FloodsArgs) -> anyhow::Result<ExitCode> {
    let files = crate::os::limits::raise_open_files()?;
    let most = args.idle.iter().max().copied().unwrap_or(0);
    anyhow::ensure!(
        files > u64::try_from(most + 256).unwrap_or(u64::MAX),
        "{most} idle connections need more open files than the hard limit ({files})"
    );
    let scratch = tempfile::tempdir()?;
    for &count in &args.idle {
        let server = Flooded::start(scratch.path(), &args, "idle").await?;
        let waited = idle_flood(server.mx, count).await?;
        say!("idle connections {count}: a new client greeted after {waited:?}");
    }
    let server = Flooded::start(scratch.path(), &args, "memory").await?;
    let start = server.memory()?.1;
    let codes = large_messages(server.mx, args.sessions, args.size.0).await;
    let (peak, _) = server.memory()?;
    let accepted = codes.iter().filter(|c| **c == Some(250)).count();
    let refused = codes.iter().filter(|c| **c == Some(452)).count();
    say!(
        "large messages {} x {}: {accepted} accepted (250), {refused} refused (452), {} other; \
         peak resident memory {} above a start of {} (budget {})",
        args.sessions,
        args.size,
        codes.len() - accepted - refused,
        ByteSize(peak.saturating_sub(start)),
        ByteSize(start),
        args.budget
    );
    Ok(ExitCode::SUCCESS)
}

/// A server under test, killed when dropped.
struct Flooded {
    child: Child,
    mx: SocketAddr,
}

impl Flooded {
    /// Starts this binary's `serve` with its data in `dir/NAME`, no plugins and no
    /// delivery.
    async fn start(dir: &Path, args: &FloodsArgs, name: &str) -> anyhow::Result<Self> {
        let data = dir.join(name);
        let config = dir.join(format!("{name}.toml"));
        let largest = ByteSize(args.size.0 + (1 << 20));
        std::fs::write(
            &config,
            format!(
                "[server]\ndata_dir = {data:?}\n[[listener]]\nname = \"mx\"\naddress = \"127.0.0.1:0\"\n\
max_connections_per_ip = 1000000\n[relay]\ndomains = [\"example.test\"]\n[filter]\nbundled = []\n\
[smtp]\nmax_message_size = \"{largest}\"\nmax_inflight_bytes = \"{}\"\n[delivery]\nenabled = false\n",
                args.budget
            ),
        )?;
        let mut child = Command::new(std::env::current_exe()?)
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().context("piped stdout")?).lines();
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .context("moat did not print its ready line")??
            .context("moat exited before it was ready")?;
        let mx = crate::cli::ready_address(&line, "mx").context("no mx address")?;
        Ok(Self { child, mx })
    }

    /// The server's peak and current resident memory, in bytes.
    fn memory(&self) -> anyhow::Result<(u64, u64)> {
        let pid = self.child.id().context("the server exited")?;
        let memory = super::memory::of(&pid.to_string())
            .context("no VmHWM or VmRSS in the server's /proc status")?;
        Ok((memory.peak, memory.resident))
    }
}

/// Opens `count` connections from 250 loopback addresses, each greeted, then measures a
/// new client's wait for its greeting.
async fn idle_flood(mx: SocketAddr, count: usize) -> anyhow::Result<Duration> {
    let mut idle = Vec::with_capacity(count);
    for n in 0..count {
        let source = format!("127.0.0.{}", 2 + n % 250);
        let mut stream = connect_from(&source, mx).await?;
        let mut greeting = [0u8; 4];
        stream.read_exact(&mut greeting).await?;
        anyhow::ensure!(&greeting == b"220 ", "connection {n} was not greeted");
        idle.push(stream);
    }
    let started = Instant::now();
    let mut client = connect_from("127.0.1.1", mx).await?;
    let mut greeting = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(60), client.read_exact(&mut greeting))
        .await
        .context("no greeting within a minute")??;
    Ok(started.elapsed())
}

/// A connection to `server` from the loopback address `source`.
async fn connect_from(source: &str, server: SocketAddr) -> anyhow::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse()?)?;
    Ok(socket.connect(server).await?)
}

/// `sessions` sessions each sending a `size`-byte message at once: each one's deciding
/// reply code (`None` if the session failed).
async fn large_messages(mx: SocketAddr, sessions: usize, size: u64) -> Vec<Option<u16>> {
    let mut message =
        b"From: a@example.org\r\nTo: b@example.test\r\nSubject: large\r\n\r\n".to_vec();
    let line = b"the quick brown fox jumps over the lazy dog, again and again and again\r\n";
    while (message.len() as u64) < size {
        message.extend_from_slice(line);
    }
    let message = Arc::new(message);
    let tasks: Vec<_> = (0..sessions)
        .map(|_| tokio::spawn(send_one(mx, Arc::clone(&message))))
        .collect();
    let mut codes = Vec::with_capacity(sessions);
    for task in tasks {
        codes.push(task.await.ok().and_then(Result::ok));
    }
    codes
}

/// One session sending `message`: the code of the reply that decided it.
async fn send_one(mx: SocketAddr, message: Arc<Vec<u8>>) -> anyhow::Result<u16> {
    let (read, mut write) = TcpStream::connect(mx).await?.into_split();
    let mut replies = BufReader::new(read).lines();
    let mut reply = async || -> anyhow::Result<u16> {
        loop {
            let line = replies.next_line().await?.context("closed")?;
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line.get(..3).context("short reply")?.parse()?);
            }
        }
    };
    reply().await?;
    for command in [
        "EHLO bench.example\r\n",
        "MAIL FROM:<s@example.org>\r\n",
        "RCPT TO:<b@example.test>\r\n",
        "DATA\r\n",
    ] {
        write.write_all(command.as_bytes()).await?;
        let code = reply().await?;
        if code >= 400 {
            return Ok(code);
        }
    }
    write.write_all(&message).await?;
    write.write_all(b".\r\n").await?;
    reply().await
}
