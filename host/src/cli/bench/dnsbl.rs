//! `moat bench dnsbl`: the connect stage with the bundled dnsbl plugin querying three
//! block lists on a real DNS server (Debian's rbldnsd, started here on a free loopback
//! port with generated zones), first with a cold cache (every client address new), then
//! warm (the same addresses again). Prints connections/s and the latency the stage adds
//! to each connection.

use std::net::{IpAddr, Ipv4Addr};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::task::JoinSet;

use crate::cli::output::say;
use crate::config::{Config, PluginSettings};
use crate::filter::assemble::assemble;
use crate::filter::pipeline::StageInput;
use crate::filter::{Pipeline, PluginOutcome, SessionContext};

/// `moat bench dnsbl` arguments.
#[derive(Debug, clap::Args)]
pub struct DnsblArgs {
    /// Distinct client addresses (each one a cold lookup the first time).
    #[arg(long, default_value_t = 2000)]
    pub clients: u32,
    /// Connections evaluated at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
}

pub(super) const ZONES: [&str; 3] = ["bl1.moat.bench", "bl2.moat.bench", "bl3.moat.bench"];

/// Runs the benchmark.
pub(super) async fn run(args: DnsblArgs) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::tempdir()?;
    let (mut rbldnsd, port) = start_rbldnsd(scratch.path()).await?;
    let result = measure(&args, scratch.path(), port).await;
    let _ = rbldnsd.kill().await;
    result
}

async fn measure(
    args: &DnsblArgs,
    scratch: &std::path::Path,
    port: u16,
) -> anyhow::Result<ExitCode> {
    let mut config = Config::embedded_default()?;
    config.filter.bundled = Some(vec!["dnsbl".into()]);
    config.dns.nameservers = vec![([127, 0, 0, 1], port).into()];
    // Room for every answer of the run, so the warm round measures hits.
    config.dns.cache_size = config
        .dns
        .cache_size
        .max(args.clients as usize * ZONES.len() * 2);
    let plugin_config: toml::Table = toml::from_str(&bench_lists(""))?;
    config.plugin.insert(
        "dnsbl".into(),
        PluginSettings {
            config: Some(plugin_config),
            ..PluginSettings::default()
        },
    );
    let assembled = assemble(&config, scratch).await?;
    if let Some(error) = assembled.load_errors.first() {
        bail!("the dnsbl plugin did not load: {error}");
    }
    let pipeline = Arc::new(assembled.pipeline);
    say!(
        "connect stage, dnsbl with {} lists on rbldnsd at 127.0.0.1:{port}, {} clients, {} at once",
        ZONES.len(),
        args.clients,
        args.concurrency
    );
    say!(
        "{:<6} {:>12} {:>14} {:>14} {:>14}",
        "cache",
        "connections",
        "connections/s",
        "p50 µs",
        "p99 µs"
    );
    for round in ["cold", "warm"] {
        let (count, elapsed, mut latencies) = round_trip(&pipeline, args).await?;
        latencies.sort();
        let at = |q: f64| super::latency::quantile(&latencies, q).as_secs_f64() * 1e6;
        say!(
            "{round:<6} {count:>12} {:>14.0} {:>14.1} {:>14.1}",
            count as f64 / elapsed.as_secs_f64(),
            at(0.5),
            at(0.99)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The dnsbl plugin's config table: the three bench zones as ip lists, private client
/// addresses looked up too. `table` is the TOML path of that table (`""` when the text is
/// the table itself, `"plugin.dnsbl.config."` inside a whole config file).
pub(super) fn bench_lists(table: &str) -> String {
    let lists: String = ZONES
        .iter()
        .enumerate()
        .map(|(i, zone)| {
            format!(
                "[[{table}lists]]\nname = \"BENCH_BL{i}\"\nzone = \"{zone}\"\nkind = \"ip\"\nscore = 1.0\n"
            )
        })
        .collect();
    format!("exclude_private_ips = false\n{lists}")
}

/// Evaluates the connect stage once for every client address.
async fn round_trip(
    pipeline: &Arc<Pipeline>,
    args: &DnsblArgs,
) -> anyhow::Result<(usize, Duration, Vec<Duration>)> {
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let per_task = args.clients.div_ceil(args.concurrency.max(1) as u32);
    for t in 0..args.concurrency.max(1) as u32 {
        let pipeline = pipeline.clone();
        let range = (t * per_task)..((t + 1) * per_task).min(args.clients);
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            for n in range {
                let ip = IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + n));
                let mut ctx = SessionContext::connected(Arc::from("bench"), (ip, 25).into());
                let t0 = Instant::now();
                let results = pipeline.run_stage(&mut ctx, &StageInput::Connect).await;
                latencies.push(t0.elapsed());
                if let Some(failure) = results.iter().find_map(|r| match &r.outcome {
                    PluginOutcome::Failed { error, .. } => Some(error.to_string()),
                    PluginOutcome::Answered { .. } | PluginOutcome::Skipped { .. } => None,
                }) {
                    bail!("the dnsbl plugin failed: {failure}");
                }
                tokio::task::yield_now().await;
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        latencies.extend(joined??);
    }
    Ok((latencies.len(), started.elapsed(), latencies))
}

/// Starts rbldnsd with three IPv4 zones listing every fourth /24 of 10.0.0.0/8's first
/// addresses, on a free port; the child is killed by the caller.
pub(super) async fn start_rbldnsd(
    dir: &std::path::Path,
) -> anyhow::Result<(tokio::process::Child, u16)> {
    let zone: String = (0..64).map(|i| format!("10.0.{}.0/24\n", i * 4)).collect();
    // The SOA makes negative answers cacheable (RFC 2308), as real block lists do.
    let soa = "$SOA 3600 ns.moat.bench. hostmaster.moat.bench. 1 600 300 86400 300\n";
    std::fs::write(
        dir.join("bench.zone"),
        format!("{soa}:127.0.0.2:Listed for benchmarking\n{zone}"),
    )?;
    let port = std::net::UdpSocket::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut command = tokio::process::Command::new("rbldnsd");
    command
        .args(["-n", "-q", "-b", &format!("127.0.0.1/{port}"), "-w"])
        .arg(dir);
    for zone in ZONES {
        command.arg(format!("{zone}:ip4set:bench.zone"));
    }
    let path = format!(
        "{}:/usr/sbin:/sbin",
        std::env::var("PATH").unwrap_or_default()
    );
    let child = command
        .env("PATH", path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start rbldnsd (Debian package rbldnsd; ../shared/tools/install-test-tools.sh installs it)")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok((child, port))
}
