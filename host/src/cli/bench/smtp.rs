//! `moat bench smtp`: starts `moat serve` on loopback (once per measurement, with and
//! without the bundled plugins), drives it with concurrent SMTP sessions that send
//! messages back to back, and prints messages/s, the latency of the reply to the end of
//! data (the durable 250), and how many fsyncs the queue did per second meanwhile.
//! With `--smtp-source`, Postfix's `smtp-source` is timed against the same server too.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::task::JoinSet;

/// `moat bench smtp` arguments.
#[derive(Debug, clap::Args)]
pub struct SmtpArgs {
    /// Message sizes in bytes (suffix k allowed).
    #[arg(long, value_delimiter = ',', default_value = "1k,20k,200k")]
    pub sizes: Vec<String>,
    /// Concurrent sessions.
    #[arg(long, value_delimiter = ',', default_value = "1,10,50")]
    pub sessions: Vec<usize>,
    /// Seconds to measure each cell.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Only with the bundled plugins (`on`), only without (`off`), or both.
    #[arg(long, default_value = "both")]
    pub plugins: String,
    /// Also time Postfix's smtp-source (50 sessions, 20 KB) against each server.
    #[arg(long)]
    pub smtp_source: bool,
}

struct Cell {
    messages: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// Runs the benchmark.
pub(super) async fn run(args: SmtpArgs) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    // The dnsbl plugin needs block lists that answer: three on a loopback rbldnsd.
    let (mut rbldnsd, dns_port) = super::dnsbl::start_rbldnsd(scratch.path()).await?;
    let result = measure(&args, scratch.path(), &exe, dns_port).await;
    let _ = rbldnsd.kill().await;
    result
}

async fn measure(
    args: &SmtpArgs,
    scratch: &Path,
    exe: &Path,
    dns_port: u16,
) -> anyhow::Result<ExitCode> {
    let variants: Vec<bool> = match args.plugins.as_str() {
        "on" => vec![true],
        "off" => vec![false],
        _ => vec![false, true],
    };
    println!(
        "durable acceptance over SMTP on loopback (250 only after fsync), {}s per cell",
        args.seconds
    );
    println!(
        "{:<8} {:>7} {:>8} {:>9} {:>10} {:>8} {:>8} {:>8} {:>9}",
        "plugins",
        "size",
        "sessions",
        "messages",
        "msg/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "fsyncs/s"
    );
    for plugins in variants {
        for size_text in &args.sizes {
            let size = parse_size(size_text)?;
            for &sessions in &args.sessions {
                let mut server = Server::start(exe, scratch, plugins, dns_port).await?;
                let cell = drive(
                    server.addr,
                    size,
                    sessions,
                    Duration::from_secs(args.seconds),
                )
                .await?;
                let fsyncs = server.stop().await?;
                let secs = cell.elapsed.as_secs_f64();
                println!(
                    "{:<8} {:>7} {:>8} {:>9} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>9.0}",
                    if plugins { "bundled" } else { "none" },
                    size_text,
                    sessions,
                    cell.messages,
                    cell.messages as f64 / secs,
                    percentile(&cell.latencies, 0.50),
                    percentile(&cell.latencies, 0.90),
                    percentile(&cell.latencies, 0.99),
                    fsyncs as f64 / secs,
                );
            }
        }
        if args.smtp_source {
            let mut server = Server::start(exe, scratch, plugins, dns_port).await?;
            let messages = 20_000;
            let started = Instant::now();
            let status = Command::new("smtp-source")
                .args([
                    "-s",
                    "50",
                    "-m",
                    &messages.to_string(),
                    "-l",
                    "20480",
                    "-f",
                    "load@example.org",
                    "-t",
                    "bob@example.test",
                ])
                .arg(server.addr.to_string())
                .status()
                .await
                .context(
                    "cannot run smtp-source (Debian package postfix; it lives in /usr/sbin)",
                )?;
            let elapsed = started.elapsed().as_secs_f64();
            let fsyncs = server.stop().await?;
            println!(
                "smtp-source, 50 sessions, 20 KB, plugins {}: {messages} messages in {elapsed:.1}s = {:.0} msg/s, {:.0} fsyncs/s ({status})",
                if plugins { "bundled" } else { "none" },
                messages as f64 / elapsed,
                fsyncs as f64 / elapsed
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A `moat serve` child for one measurement.
struct Server {
    child: Child,
    addr: std::net::SocketAddr,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(
        exe: &Path,
        scratch: &Path,
        plugins: bool,
        dns_port: u16,
    ) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir_in(scratch)?;
        let cache = scratch.join("plugin-cache");
        let (bundled, plugin_sections) = if plugins {
            let sections = format!(
                "[dns]\nnameservers = [\"127.0.0.1:{dns_port}\"]\n[plugin.dnsbl]\ntime_budget = \"5s\"\n[plugin.dnsbl.config]\n{}",
                super::dnsbl::bench_lists("plugin.dnsbl.config.")
            );
            ("", sections)
        } else {
            ("bundled = []\n", String::new())
        };
        let config = format!(
            "[server]\ndata_dir = \"data\"\n[[listener]]\nname = \"mx\"\naddress = \"127.0.0.1:0\"\nmax_connections_per_ip = 1000\n\
[relay]\ndomains = [\"example.test\"]\n[delivery]\nenabled = false\n[filter]\n{bundled}cache_dir = {:?}\n{plugin_sections}",
            cache.display().to_string()
        );
        let path: PathBuf = dir.path().join("moat.toml");
        std::fs::write(&path, config)?;
        let mut child = Command::new(exe)
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let mut stdout = BufReader::new(child.stdout.take().context("piped stdout")?).lines();
        let line = tokio::time::timeout(Duration::from_secs(120), stdout.next_line())
            .await
            .context("moat did not print its ready line")??
            .context("moat exited before it was ready")?;
        let addr = crate::cli::ready_address(&line, "mx")
            .with_context(|| format!("no mx address in {line:?}"))?;
        Ok(Server {
            child,
            addr,
            stdout,
            _dir: dir,
        })
    }

    /// SIGTERM, then the fsync count from the `moat stopped` line.
    async fn stop(&mut self) -> anyhow::Result<u64> {
        if let Some(pid) = self.child.id() {
            Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await?;
        }
        while let Some(line) =
            tokio::time::timeout(Duration::from_secs(60), self.stdout.next_line()).await??
        {
            if let Some(rest) = line.strip_prefix("moat stopped") {
                let fsyncs = rest
                    .split_whitespace()
                    .find_map(|f| f.strip_prefix("fsyncs="))
                    .and_then(|v| v.parse().ok());
                self.child.wait().await?;
                return fsyncs.context("no fsyncs= in the stop line");
            }
        }
        bail!("moat exited without its stop line")
    }
}

async fn drive(
    addr: std::net::SocketAddr,
    size: usize,
    sessions: usize,
    duration: Duration,
) -> anyhow::Result<Cell> {
    let message = synthetic_message(size);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = JoinSet::new();
    for n in 0..sessions {
        let message = message.clone();
        tasks.spawn(async move { session(addr, n, &message, deadline).await });
    }
    let mut latencies = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        latencies.extend(joined??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Ok(Cell {
        messages: latencies.len(),
        elapsed,
        latencies,
    })
}

/// One client session sending messages back to back until `deadline`; returns the
/// latency of each end-of-data reply.
async fn session(
    addr: std::net::SocketAddr,
    n: usize,
    message: &[u8],
    deadline: Instant,
) -> anyhow::Result<Vec<Duration>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut replies = BufReader::new(read);
    expect(&mut replies, 220).await?;
    write
        .write_all(format!("EHLO load{n}.example\r\n").as_bytes())
        .await?;
    expect(&mut replies, 250).await?;
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        write
            .write_all(b"MAIL FROM:<load@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
            .await?;
        expect(&mut replies, 250).await?;
        expect(&mut replies, 250).await?;
        expect(&mut replies, 354).await?;
        write.write_all(message).await?;
        write.write_all(b".\r\n").await?;
        let sent = Instant::now();
        expect(&mut replies, 250).await?;
        latencies.push(sent.elapsed());
    }
    write.write_all(b"QUIT\r\n").await?;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), replies.read_to_end(&mut rest)).await;
    Ok(latencies)
}

/// Reads one reply and checks its code.
async fn expect(
    replies: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    code: u16,
) -> anyhow::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        if replies.read_line(&mut line).await? == 0 {
            bail!("the server closed the connection");
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    }
    if !line.starts_with(&code.to_string()) {
        bail!("expected {code}, got {}", line.trim_end());
    }
    Ok(())
}

/// The `q` quantile of `sorted`, in milliseconds.
fn percentile(sorted: &[Duration], q: f64) -> f64 {
    super::latency::quantile(sorted, q).as_secs_f64() * 1000.0
}

fn parse_size(text: &str) -> anyhow::Result<usize> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, factor) = lower
        .strip_suffix('k')
        .map_or((lower.as_str(), 1), |d| (d, 1024));
    Ok(digits
        .parse::<usize>()
        .with_context(|| format!("`{text}` is not a size such as 1k or 20k"))?
        * factor)
}

/// A plain message of about `size` bytes; no line starts with a dot.
fn synthetic_message(size: usize) -> Vec<u8> {
    let mut text = String::from(
        "From: Load <load@example.org>\r\nTo: Bob <bob@example.test>\r\nSubject: load test\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <load@example.org>\r\n\r\n",
    );
    while text.len() + 2 < size {
        text.push_str("the quick brown fox jumps over the lazy dog and keeps running far away\r\n");
    }
    text.into_bytes()
}
