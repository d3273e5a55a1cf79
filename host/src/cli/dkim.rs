//! `moat dkim keygen DOMAIN SELECTOR`: writes a new DKIM private key for `[[dkim.key]]`
//! and prints the DNS record to publish, as opendkim-genkey does.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};

use crate::sender_auth::keygen::{KeyKind, generate, zone_line};

/// `moat dkim …`.
#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Make a signing key: write the private key (mode 0600) and print the TXT record to
    /// publish at SELECTOR._domainkey.DOMAIN and the `[[dkim.key]]` entry to add.
    Keygen {
        /// The signing domain: the From domain of the mail to sign.
        domain: String,
        /// The key's name, e.g. `moat2026`; a new selector for each new key.
        selector: String,
        /// The key type.
        #[arg(long, value_enum, default_value = "rsa")]
        algorithm: Algorithm,
        /// Where to write the key; default `SELECTOR.DOMAIN.pem` in the current directory.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// The key types offered.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Algorithm {
    /// RSA, 2048 bits: verified everywhere.
    Rsa,
    /// Ed25519 (RFC 8463): publish it beside an RSA key, not instead.
    Ed25519,
}

/// Runs `moat dkim …`.
pub(super) fn run(command: DkimCommand) -> anyhow::Result<ExitCode> {
    let DkimCommand::Keygen {
        domain,
        selector,
        algorithm,
        out,
    } = command;
    let domain = crate::domain::Domain::parse(&domain)
        .map_err(|e| anyhow::anyhow!("{domain:?} is not a domain name: {e}"))?
        .to_string();
    if selector.is_empty()
        || !selector
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        anyhow::bail!("{selector:?} is not a selector: use letters, digits, '-', '_' and '.'");
    }
    let kind = match algorithm {
        Algorithm::Rsa => KeyKind::Rsa2048,
        Algorithm::Ed25519 => KeyKind::Ed25519,
    };
    let key = generate(kind)?;
    let path = out.unwrap_or_else(|| PathBuf::from(format!("{selector}.{domain}.pem")));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| {
            format!(
                "cannot create {} (an existing key is never overwritten)",
                path.display()
            )
        })?;
    file.write_all(key.private_pem.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("; publish in the zone of {domain}:");
    println!("{}", zone_line(&domain, &selector, &key.record));
    println!();
    println!("# then add to moat.toml:");
    println!(
        "[[dkim.key]]\ndomain = {domain:?}\nselector = {selector:?}\nkey_file = {:?}",
        path.display().to_string()
    );
    Ok(ExitCode::SUCCESS)
}
