//! `moat bench smtp`: starts `moat serve` on loopback (once per measurement, with and
//! without the bundled plugins), drives it with concurrent SMTP sessions that send
//! messages back to back, and prints messages/s, the latency of the reply to the end of
//! data (the durable 250), and how many fsyncs the queue did per second meanwhile.
//! With `--smtp-source`, Postfix's `smtp-source` is timed against the same server too.
//! With `--train DIR`, the learning plugins (bayes) are trained on `DIR/spam` and
//! `DIR/ham` once (`moat learn`), and every server with plugins starts from a copy of
//! that data, so bayes scores instead of answering "untrained".
//!
//! The test message's body is varied text (deterministic pseudo-words), so a 20 KB message
//! gives the bayes plugin as many distinct tokens as real mail of that size does.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::task::JoinSet;

use crate::cli::output::say;

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
    /// Train the learning plugins on DIR/spam and DIR/ham first (a corpus split, such as
    /// the training half of a `moat bench bayes` corpus).
    #[arg(long, value_name = "DIR")]
    pub train: Option<PathBuf>,
    /// The bundled plugins the servers with plugins run (`dnsbl,reputation,ocr,bayes`, say).
    /// Unset: all of them.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub bundled: Option<Vec<String>>,
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
    let setup = Setup {
        exe,
        scratch: scratch.path().to_path_buf(),
        dns_port,
        trained: None,
        bundled: args.bundled.clone(),
    };
    let result = measure(&args, setup).await;
    let _ = rbldnsd.kill().await;
    result
}

/// What every server of the benchmark starts from.
struct Setup {
    exe: PathBuf,
    scratch: PathBuf,
    dns_port: u16,
    /// A data directory the learning plugins were trained into, copied for each server
    /// with plugins.
    trained: Option<PathBuf>,
    /// `--bundled`: the bundled plugins of the servers with plugins; `None`: all.
    bundled: Option<Vec<String>>,
}

impl Setup {
    /// What a row calls a server: without plugins, with them, or with them trained.
    fn variant(&self, plugins: bool) -> &'static str {
        match (plugins, self.trained.is_some()) {
            (false, _) => "none",
            (true, false) => "bundled",
            (true, true) => "trained",
        }
    }

    /// The configuration of a server with its data in `data_dir`, with or without the
    /// bundled plugins.
    fn config(&self, data_dir: &Path, plugins: bool) -> String {
        let cache = self.scratch.join("plugin-cache");
        let (bundled, plugin_sections) = if plugins {
            let sections = format!(
                "[dns]\nnameservers = [\"127.0.0.1:{}\"]\n[plugin.dnsbl]\ntime_budget = \"5s\"\n[plugin.dnsbl.config]\n{}",
                self.dns_port,
                super::dnsbl::bench_lists("plugin.dnsbl.config.")
            );
            let bundled = self.bundled.as_ref().map_or_else(String::new, |names| {
                let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
                format!("bundled = [{}]\n", quoted.join(", "))
            });
            (bundled, sections)
        } else {
            ("bundled = []\n".to_owned(), String::new())
        };
        format!(
            "[server]\ndata_dir = {:?}\n[[listener]]\nname = \"mx\"\naddress = \"127.0.0.1:0\"\nmax_connections_per_ip = 1000\n\
[relay]\ndomains = [\"example.test\"]\n[delivery]\nenabled = false\n[filter]\n{bundled}cache_dir = {:?}\n{plugin_sections}",
            data_dir.display().to_string(),
            cache.display().to_string()
        )
    }

    /// Trains the learning plugins on `corpus/spam` and `corpus/ham` into a data directory
    /// of their own, for [`Server::start`] to copy.
    async fn train(&mut self, corpus: &Path) -> anyhow::Result<()> {
        let config = self.scratch.join("train.toml");
        let data = self.scratch.join("trained");
        std::fs::write(&config, self.config(&data, true))?;
        let started = Instant::now();
        for label in ["spam", "ham"] {
            let status = Command::new(&self.exe)
                .args(["learn", "--config"])
                .arg(&config)
                .arg("--data-dir")
                .arg(&data)
                .arg(label)
                .arg(corpus.join(label))
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .status()
                .await?;
            if !status.success() {
                bail!("moat learn {label} {} failed: {status}", corpus.display());
            }
        }
        say!(
            "trained the learning plugins on {} in {:.1}s:",
            corpus.display(),
            started.elapsed().as_secs_f64()
        );
        // What they learnt, so a run that scored nothing cannot pass for a trained one.
        let status = Command::new(&self.exe)
            .args(["learn", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .arg("stats")
            .env("RUST_LOG", "warn")
            .status()
            .await?;
        if !status.success() {
            bail!("moat learn stats failed: {status}");
        }
        self.trained = Some(data);
        Ok(())
    }
}

async fn measure(args: &SmtpArgs, mut setup: Setup) -> anyhow::Result<ExitCode> {
    let variants: Vec<bool> = match args.plugins.as_str() {
        "on" => vec![true],
        "off" => vec![false],
        _ => vec![false, true],
    };
    if let Some(corpus) = &args.train
        && variants.contains(&true)
    {
        setup.train(corpus).await?;
    }
    say!(
        "durable acceptance over SMTP on loopback (250 only after fsync), {}s per cell",
        args.seconds
    );
    say!(
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
                let seconds = Duration::from_secs(args.seconds);
                measure_cell(&setup, plugins, size_text, size, sessions, seconds).await?;
            }
        }
        if args.smtp_source {
            // Sessions that send message after message, as the rows above do; then a new
            // connection per message, as most MX traffic comes, which runs the connect and
            // HELO stages every time.
            for (reuse, how) in [
                (true, "sessions reused (-d)"),
                (false, "a connection per message"),
            ] {
                time_smtp_source(&setup, plugins, reuse, how).await?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Measures one cell of the table (with or without plugins, one message size, one number
/// of sessions) on a fresh server and prints its row.
async fn measure_cell(
    setup: &Setup,
    plugins: bool,
    size_text: &str,
    size: usize,
    sessions: usize,
    seconds: Duration,
) -> anyhow::Result<()> {
    let mut server = Server::start(setup, plugins).await?;
    let cell = drive(server.addr, size, sessions, seconds).await?;
    let fsyncs = server.stop().await?;
    let secs = cell.elapsed.as_secs_f64();
    say!(
        "{:<8} {:>7} {:>8} {:>9} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>9.0}",
        setup.variant(plugins),
        size_text,
        sessions,
        cell.messages,
        cell.messages as f64 / secs,
        percentile(&cell.latencies, 0.50),
        percentile(&cell.latencies, 0.90),
        percentile(&cell.latencies, 0.99),
        fsyncs as f64 / secs,
    );
    Ok(())
}

/// Times Postfix's `smtp-source` (50 sessions, 20,000 messages of 20 KB) against a fresh
/// server, reusing sessions (`-d`) or not, and prints the rate; `how` names the mode.
async fn time_smtp_source(
    setup: &Setup,
    plugins: bool,
    reuse: bool,
    how: &str,
) -> anyhow::Result<()> {
    let variant = setup.variant(plugins);
    let mut server = Server::start(setup, plugins).await?;
    let messages = 20_000;
    let started = Instant::now();
    let mut command = Command::new("smtp-source");
    if reuse {
        command.arg("-d");
    }
    let status = command
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
        .context("cannot run smtp-source (Debian package postfix; it lives in /usr/sbin)")?;
    let elapsed = started.elapsed().as_secs_f64();
    let fsyncs = server.stop().await?;
    say!(
        "smtp-source, 50 sessions, 20 KB, {how}, plugins {variant}: {messages} messages in {elapsed:.1}s = {:.0} msg/s, {:.0} fsyncs/s ({status})",
        messages as f64 / elapsed,
        fsyncs as f64 / elapsed
    );
    Ok(())
}

/// A `moat serve` child for one measurement.
struct Server {
    child: Child,
    addr: std::net::SocketAddr,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(setup: &Setup, plugins: bool) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir_in(&setup.scratch)?;
        let path: PathBuf = dir.path().join("moat.toml");
        let data = dir.path().join("data");
        std::fs::write(&path, setup.config(&data, plugins))?;
        if let (true, Some(trained)) = (plugins, &setup.trained) {
            copy_tree(trained, &data)?;
        }
        let mut child = Command::new(&setup.exe)
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

/// A plain message of about `size` bytes of varied pseudo-words (the same ones on every
/// call); no line starts with a dot.
fn synthetic_message(size: usize) -> Vec<u8> {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "an", "el", "or", "un", "ber", "tin",
        "gal", "dor",
    ];
    let mut text = String::from(
        "From: Load <load@example.org>\r\nTo: Bob <bob@example.test>\r\nSubject: load test\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <load@example.org>\r\n\r\n",
    );
    let mut state: u32 = 0x2545_f491;
    let mut line = 0usize;
    while text.len() + 2 < size {
        // xorshift: a fixed sequence, so every run sends the same message.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let syllables = 1 + (state % 3) as usize;
        for i in 0..syllables {
            text.push_str(SYLLABLES[((state >> (4 * i + 4)) & 15) as usize]);
        }
        line += 1;
        text.push_str(if line.is_multiple_of(12) { "\r\n" } else { " " });
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// Copies the directory `from` to `to` (created), files and folders.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
