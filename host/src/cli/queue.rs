//! `moat queue`: look into the queue. Today these commands open the data directory
//! themselves, so they work while the gateway is stopped; they will go through the admin
//! API (and so work while it runs) once that exists.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;

use super::ConfigArgs;
use crate::queue::{Queue, QueueId};
use crate::store::Database;

/// `moat queue ...`
#[derive(Debug, clap::Subcommand)]
pub enum QueueCommand {
    /// Every queued message: id, sender, recipients with their state, attempts, next attempt.
    List {
        /// Config and data dir.
        #[command(flatten)]
        config: ConfigArgs,
        /// One JSON object per message per line.
        #[arg(long)]
        json: bool,
    },
    /// One message: its envelope, then (with --raw, only) its bytes as stored.
    Show {
        /// The queue id.
        id: QueueId,
        /// Config and data dir.
        #[command(flatten)]
        config: ConfigArgs,
        /// Print only the message bytes, exactly as stored.
        #[arg(long)]
        raw: bool,
    },
}

/// Runs the queue command.
pub(super) async fn run(command: QueueCommand) -> anyhow::Result<ExitCode> {
    match command {
        QueueCommand::List { config, json } => {
            let queue = open(&config)?;
            for id in queue.ids()? {
                let Some(envelope) = queue.envelope(&id)? else {
                    continue;
                };
                if json {
                    println!("{}", serde_json::to_string(&envelope)?);
                } else {
                    let rcpts: Vec<String> = envelope
                        .recipients
                        .iter()
                        .map(|r| format!("{} ({:?})", r.address, r.state))
                        .collect();
                    println!(
                        "{id}  <{}>  {}  attempts {}",
                        envelope.mail_from,
                        rcpts.join(", "),
                        envelope.attempts
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Show { id, config, raw } => {
            let queue = open(&config)?;
            let (Some(envelope), Some(message)) = (queue.envelope(&id)?, queue.message(&id)?)
            else {
                eprintln!("moat: no message {id} in the queue");
                return Ok(ExitCode::FAILURE);
            };
            let mut stdout = std::io::stdout().lock();
            if !raw {
                writeln!(stdout, "{}", json!(envelope))?;
            }
            stdout.write_all(&message)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open(args: &ConfigArgs) -> anyhow::Result<Queue> {
    let config = args.load()?;
    let db = Database::open(&config.server.data_dir).with_context(|| {
        format!(
            "cannot open the data directory {}",
            config.server.data_dir.display()
        )
    })?;
    Ok(Queue::open(db)?)
}
