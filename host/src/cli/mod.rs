//! The `moat` command line: one file per command, dispatch here. Errors at this edge are
//! `anyhow` with context saying what was being done.

mod bench;
mod check;
mod check_client;
mod check_envelope;
mod check_run;
mod config;
mod corpus;
mod dkim;
mod kv;
mod learn;
mod learn_remote;
pub mod output;
mod plugin;
mod plugin_test;
mod plugin_test_print;
mod quarantine;
mod queue;
mod queue_select;
mod reload;
mod replay;
mod serve;
mod target;
mod tune;
mod user;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigSource};

/// Moat, a filtering SMTP gateway with sandboxed WebAssembly filter plugins.
#[derive(Debug, Parser)]
#[command(name = "moat", version, about)]
pub struct Cli {
    /// Write logs as JSON lines (on stderr).
    #[arg(long, global = true)]
    pub log_json: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// `info` for the server, `warn` for one-shot commands (their output is the point).
    pub fn default_log_level(&self) -> tracing::Level {
        match self.command {
            Command::Serve(_) => tracing::Level::INFO,
            _ => tracing::Level::WARN,
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(serve::ServeArgs),
    /// Run messages through the whole filter pipeline offline and explain each decision.
    Check(check::CheckArgs),
    /// Inspect and try plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Check a configuration file.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Look into the queue.
    #[command(subcommand)]
    Queue(queue::QueueCommand),
    /// Make the running server read its configuration and plugin directory again.
    Reload(target::Target),
    /// What a candidate configuration would have decided: the decision log re-weighed
    /// under its weights and thresholds, or its whole pipeline over a labelled corpus.
    Replay(replay::ReplayArgs),
    /// Look into the quarantine: list, show, release, delete.
    #[command(subcommand)]
    Quarantine(quarantine::QuarantineCommand),
    /// Learn symbol weights from labelled mail (the decision log, or a corpus) and write
    /// them as a weights file.
    Tune(tune::TuneArgs),
    /// Teach the learning plugins (bayes) spam and ham, unlearn messages, show the training.
    Learn(learn::LearnArgs),
    /// The plugins' kv namespaces as JSON lines: export from one backend, import into
    /// another (`moat kv export | moat kv import --config redis.toml`).
    #[command(subcommand)]
    Kv(kv::KvCommand),
    /// DKIM signing keys for submitted mail.
    #[command(subcommand)]
    Dkim(dkim::DkimCommand),
    /// Manage the accounts that send through the submission listeners.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Measure Moat's speed.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Where the configuration comes from, shared by the commands that read one.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// The configuration file. Without it, the embedded default.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory, overriding `server.data_dir`.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl ConfigArgs {
    /// The configuration these arguments name.
    pub fn load(&self) -> anyhow::Result<Config> {
        Ok(self.source().load()?)
    }

    /// Where these arguments say the configuration comes from.
    pub fn source(&self) -> ConfigSource {
        ConfigSource {
            file: self.config.clone(),
            data_dir: self.data_dir.clone(),
        }
    }
}

/// Runs the command; the exit code says whether it succeeded.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Check(args) => check::run(args).await,
        Command::Plugin(command) => plugin::run(command).await,
        Command::Config(command) => config::run(command).await,
        Command::Queue(command) => queue::run(command).await,
        Command::Quarantine(command) => quarantine::run(command).await,
        Command::Reload(target) => reload::run(target).await,
        Command::Replay(args) => replay::run(args).await,
        Command::Tune(args) => tune::run(args).await,
        Command::Learn(args) => learn::run(args).await,
        Command::Kv(command) => kv::run(command).await,
        Command::Bench(command) => bench::run(command).await,
        Command::User(command) => user::run(command),
        Command::Dkim(command) => dkim::run(command),
    }
}

/// The address of listener `name` in a `moat ready name=addr ...` line.
fn ready_address(line: &str, name: &str) -> Option<std::net::SocketAddr> {
    line.split_whitespace()
        .find_map(|field| field.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

/// Creates the data directory (mode 0700) if needed.
fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    crate::os::private::create_private_dir(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

/// Prints why plugins failed to load; true if any did.
fn report_load_errors(errors: &[crate::filter::LoadError]) -> bool {
    for error in errors {
        eprintln!("moat: plugin not loaded: {error}");
    }
    !errors.is_empty()
}
