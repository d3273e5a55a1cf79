//! `moat bench sender-auth`: what checking a message's sender costs. NSD (started here on
//! a free loopback port) serves SPF, DKIM and DMARC records for a test domain; a message
//! signed with an Ed25519 key is checked the way a session checks it (SPF at MAIL FROM,
//! then DKIM, ARC and DMARC), once cold and then with every answer in the resolver's
//! cache. Prints messages/s and the time per message.

use std::net::IpAddr;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use mail_auth::dkim::{Canonicalization, DkimSigner};
use mail_auth::headers::HeaderWriter as _;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use tokio::task::JoinSet;

use crate::cli::output::say;
use crate::dns::{Resolver, ResolverSettings};
use crate::sender_auth::{DmarcVerdict, Envelope, SenderVerifier, TrustedRelays};

/// `moat bench sender-auth` arguments.
#[derive(Debug, clap::Args)]
pub struct SenderAuthArgs {
    /// Messages checked per round.
    #[arg(long, default_value_t = 2000)]
    pub messages: usize,
    /// Messages checked at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
}

/// Runs the benchmark.
pub(super) async fn run(args: SenderAuthArgs) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::tempdir()?;
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|e| anyhow::anyhow!("key generation: {e}"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|e| anyhow::anyhow!("key generation: {e}"))?;
    let public = base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref());
    let (mut nsd, port) = start_nsd(scratch.path(), &public).await?;
    let result = measure(&args, port, pkcs8.as_ref()).await;
    let _ = nsd.kill().await;
    result
}

async fn measure(args: &SenderAuthArgs, port: u16, pkcs8: &[u8]) -> anyhow::Result<ExitCode> {
    let resolver = Resolver::new(&ResolverSettings {
        nameservers: vec![([127, 0, 0, 1], port).into()],
        ..ResolverSettings::default()
    })?;
    let verifier = Arc::new(SenderVerifier::new(
        resolver.authenticator().clone(),
        "mx.bench.test".into(),
        TrustedRelays::default(),
        Duration::from_secs(10),
        true,
    ));
    let message = Arc::new(signed_message(pkcs8)?);
    say!(
        "sender authentication (SPF, DKIM ed25519, ARC, DMARC) on NSD at 127.0.0.1:{port}, {} messages, {} at once",
        args.messages,
        args.concurrency
    );
    say!(
        "{:<6} {:>10} {:>12} {:>10} {:>10}",
        "cache",
        "messages",
        "messages/s",
        "p50 µs",
        "p99 µs"
    );
    for round in ["cold", "warm"] {
        // Cold: one message alone, so every answer comes from NSD.
        let count = if round == "cold" { 1 } else { args.messages };
        let started = Instant::now();
        let mut latencies = check_all(&verifier, &message, count, args.concurrency).await?;
        let elapsed = started.elapsed();
        latencies.sort();
        let at = |q: f64| super::latency::quantile(&latencies, q).as_secs_f64() * 1e6;
        say!(
            "{round:<6} {count:>10} {:>12.0} {:>10.1} {:>10.1}",
            count as f64 / elapsed.as_secs_f64(),
            at(0.5),
            at(0.99)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks `message` `count` times, `concurrency` at once; the time of each.
async fn check_all(
    verifier: &Arc<SenderVerifier>,
    message: &Arc<Vec<u8>>,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut tasks = JoinSet::new();
    let per_task = count.div_ceil(concurrency.max(1));
    for t in 0..concurrency.max(1) {
        let (verifier, message) = (Arc::clone(verifier), Arc::clone(message));
        let n = per_task.min(count.saturating_sub(t * per_task));
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(n);
            for _ in 0..n {
                let envelope = Envelope {
                    client: IpAddr::from([127, 0, 0, 1]),
                    helo: Some("mail.bench.test"),
                    mail_from: "alice@bench.test",
                };
                let t0 = Instant::now();
                let at_mail_from = verifier.check_envelope(envelope).await;
                let results = verifier
                    .check_message(&message, envelope, &[], at_mail_from.as_ref())
                    .await;
                latencies.push(t0.elapsed());
                let dmarc = results.and_then(|r| r.dmarc).map(|d| d.result);
                anyhow::ensure!(
                    dmarc == Some(DmarcVerdict::Pass),
                    "the bench message should pass DMARC, got {dmarc:?}"
                );
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        latencies.extend(joined??);
    }
    Ok(latencies)
}

/// A 2 KB message from `alice@bench.test`, signed by `bench.test` (selector `b1`).
fn signed_message(pkcs8: &[u8]) -> anyhow::Result<Vec<u8>> {
    let body = "A benchmark message with a few lines of text.\r\n".repeat(40);
    let message = format!(
        "From: Alice <alice@bench.test>\r\nTo: bob@example.test\r\nSubject: bench\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench@bench.test>\r\n\r\n{body}"
    );
    let key = mail_auth::crypto::Ed25519Key::from_pkcs8_der(pkcs8)
        .map_err(|e| anyhow::anyhow!("signing key: {e}"))?;
    let signature = DkimSigner::from_key(key)
        .domain("bench.test")
        .selector("b1")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
        .sign(message.as_bytes())
        .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
    Ok(format!("{}{message}", signature.to_header()).into_bytes())
}

/// Starts NSD serving the zone `test` (SPF, the DKIM key, DMARC for `bench.test`) on a
/// free port; the child is killed by the caller.
async fn start_nsd(
    dir: &std::path::Path,
    public_key: &str,
) -> anyhow::Result<(tokio::process::Child, u16)> {
    let zone = format!(
        "$ORIGIN test.\n$TTL 3600\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 3600\n\
@ IN NS ns.test.\nns IN A 127.0.0.1\nbench IN A 127.0.0.1\n\
bench IN TXT \"v=spf1 ip4:127.0.0.1 -all\"\nmail.bench IN TXT \"v=spf1 ip4:127.0.0.1 -all\"\n\
b1._domainkey.bench IN TXT \"v=DKIM1; k=ed25519; p={public_key}\"\n\
_dmarc.bench IN TXT \"v=DMARC1; p=reject\"\n"
    );
    let zone_file = dir.join("zone");
    std::fs::write(&zone_file, zone)?;
    let port = std::net::UdpSocket::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let d = dir.display();
    let config = format!(
        "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  \
zonesdir: \"{d}\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  pidfile: \"{d}/nsd.pid\"\n  \
xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  \
verbosity: 1\nremote-control:\n  control-enable: no\nzone:\n  name: \"test\"\n  zonefile: \"{}\"\n",
        zone_file.display()
    );
    let config_file = dir.join("nsd.conf");
    std::fs::write(&config_file, config)?;
    let path = format!(
        "{}:/usr/sbin:/sbin",
        std::env::var("PATH").unwrap_or_default()
    );
    let child = tokio::process::Command::new("nsd")
        .args(["-d", "-c"])
        .arg(&config_file)
        .env("PATH", path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start nsd (Debian package nsd; ../shared/tools/install-test-tools.sh installs it)")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok((child, port))
}
