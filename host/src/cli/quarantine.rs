//! `moat quarantine`: the messages the filters held back. Like `moat queue`, the commands go
//! through the running server's admin endpoint, or open the data directory when it is
//! stopped.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::bail;
use hyper::Method;
use serde_json::{Value, json};

use super::learn::{self, LearnArgs};
use super::queue::ago;
use super::target::{Connection, Target, connect, with_operations};
use crate::cli::output::{say, say_part};
use crate::config::HumanDuration;
use crate::control::Operations;
use crate::control::client::{self, Endpoint};
use crate::queue::{QuarantinedMessage, QueueId, Selection};
use crate::time::now_ms;

/// `moat quarantine ...`
#[derive(Debug, clap::Subcommand)]
pub enum QuarantineCommand {
    /// Every quarantined message, oldest first: id, age, sender, recipients and why.
    List {
        /// Where the queue is.
        #[command(flatten)]
        target: Target,
        /// One JSON object (envelope and report) per message per line.
        #[arg(long)]
        json: bool,
        /// Only messages with this recipient (case-insensitive, its domain in any
        /// spelling: `bücher.test` finds `xn--bcher-kva.test`).
        #[arg(long, value_name = "ADDRESS")]
        rcpt: Option<String>,
        /// Only messages quarantined within this long (`2h`, `3d`).
        #[arg(long, value_name = "DURATION")]
        since: Option<HumanDuration>,
    },
    /// One message: its envelope, the decision report, and its header; with --raw, only
    /// its bytes as stored.
    Show {
        /// The quarantine id.
        id: QueueId,
        /// Where the queue is.
        #[command(flatten)]
        target: Target,
        /// Print only the message bytes, exactly as stored.
        #[arg(long)]
        raw: bool,
    },
    /// Release a message: it is queued for delivery at once.
    Release {
        /// The quarantine id.
        id: QueueId,
        /// Where the queue is.
        #[command(flatten)]
        target: Target,
        /// Also teach the learning plugins (bayes) that it is ham; the message is released
        /// only if that worked.
        #[arg(long)]
        learn_ham: bool,
    },
    /// Delete a message for good.
    Delete {
        /// The quarantine id.
        id: QueueId,
        /// Where the queue is.
        #[command(flatten)]
        target: Target,
        /// Confirm: the message is deleted and nobody is told.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs the quarantine command.
pub(super) async fn run(command: QuarantineCommand) -> anyhow::Result<ExitCode> {
    match command {
        QuarantineCommand::List {
            target,
            json,
            rcpt,
            since,
        } => {
            let connection = connect(&target).await?;
            with_operations!(connection, ops => list(&ops, json, rcpt.as_deref(), since).await)
        }
        QuarantineCommand::Show { id, target, raw } => {
            let connection = connect(&target).await?;
            with_operations!(connection, ops => show(&ops, id, raw).await)
        }
        QuarantineCommand::Release {
            id,
            target,
            learn_ham,
        } => release(&target, id, learn_ham).await,
        QuarantineCommand::Delete { id, target, yes } => {
            if !yes {
                eprintln!("moat: deleting {id} drops it for good; add --yes to confirm");
                return Ok(ExitCode::FAILURE);
            }
            let connection = connect(&target).await?;
            let found = with_operations!(connection, ops => ops.quarantine_delete(id).await?);
            if !found {
                eprintln!("moat: no message {id} in quarantine");
                return Ok(ExitCode::FAILURE);
            }
            say!("delete: {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `moat quarantine list`: the records selected, as text or JSON lines.
async fn list(
    ops: &impl Operations,
    json: bool,
    rcpt: Option<&str>,
    since: Option<HumanDuration>,
) -> anyhow::Result<ExitCode> {
    let records = ops.quarantine_list().await?;
    let now = now_ms();
    let cutoff = since.map(|d| now.saturating_sub(d.0.as_millis() as u64));
    // Recipients are stored with their domain normalized: match as `queue --to` does.
    let by_rcpt = Selection {
        from: None,
        to: rcpt.map(str::to_owned),
    };
    for record in records.iter().filter(|r| {
        let envelope = &r.envelope;
        cutoff.is_none_or(|c| envelope.received_at_ms >= c) && by_rcpt.matches(envelope)
    }) {
        if json {
            say!("{}", serde_json::to_string(record)?);
        } else {
            say_part!("{}", describe(record, now));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `moat quarantine show`: envelope, report and header; with `raw`, only the bytes.
async fn show(ops: &impl Operations, id: QueueId, raw: bool) -> anyhow::Result<ExitCode> {
    let record = ops.quarantine_record(id).await?;
    let message = ops.quarantine_message(id).await?;
    let (Some(record), Some(message)) = (record, message) else {
        eprintln!("moat: no message {id} in quarantine");
        return Ok(ExitCode::FAILURE);
    };
    let mut stdout = std::io::stdout().lock();
    if raw {
        stdout.write_all(&message)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(stdout, "{}", json!(record.envelope))?;
    let report: Value = serde_json::from_str(&record.report).unwrap_or(Value::Null);
    writeln!(stdout, "{}", serde_json::to_string_pretty(&report)?)?;
    writeln!(stdout)?;
    stdout.write_all(header_of(&message))?;
    Ok(ExitCode::SUCCESS)
}

/// Releases `id`; with `learn_ham`, teaches it as ham first (the running server's
/// plugins, or the data dir's when it is stopped), and releases it only if that worked.
async fn release(target: &Target, id: QueueId, learn_ham: bool) -> anyhow::Result<ExitCode> {
    let mut connection = connect(target).await?;
    if learn_ham {
        let message = with_operations!(&connection, ops => ops.quarantine_message(id).await?);
        let Some(message) = message else {
            eprintln!("moat: no message {id} in quarantine");
            return Ok(ExitCode::FAILURE);
        };
        connection = match connection {
            Connection::Remote(ops) => {
                learn_live(ops.endpoint(), &id, message).await?;
                Connection::Remote(ops)
            }
            Connection::Local(ops) => {
                // `moat learn` opens the data directory itself.
                drop(ops);
                learn_as_ham(target, &id, &message).await?;
                match connect(target).await? {
                    local @ Connection::Local(_) => local,
                    Connection::Remote(_) => {
                        bail!("the server started meanwhile; release {id} again")
                    }
                }
            }
        };
    }
    let found = with_operations!(connection, ops => ops.quarantine_release(id).await?);
    if !found {
        eprintln!("moat: no message {id} in quarantine");
        return Ok(ExitCode::FAILURE);
    }
    say!("release: {id}");
    Ok(ExitCode::SUCCESS)
}

/// Teaches the running server's learning plugins that `message` is ham.
async fn learn_live(endpoint: &Endpoint, id: &QueueId, message: Vec<u8>) -> anyhow::Result<()> {
    let response = client::request_with_body(endpoint, Method::POST, "/learn/ham", message).await?;
    if response.status != 200 {
        bail!(
            "learning {id} as ham failed, it stays in quarantine: {}",
            client::error_text(&response.body)
        );
    }
    let results: Vec<Value> = serde_json::from_slice(&response.body)?;
    if let Some(bad) = results
        .iter()
        .find(|r| matches!(r["outcome"].as_str(), Some("refused" | "failed")))
    {
        bail!("learning {id} as ham failed, it stays in quarantine: {bad}");
    }
    let learnt = results
        .iter()
        .any(|r| matches!(r["outcome"].as_str(), Some("done" | "unchanged")));
    if !learnt {
        bail!("no plugin of the running server learns; {id} stays in quarantine");
    }
    Ok(())
}

/// Runs `moat learn ham` on the message's bytes.
async fn learn_as_ham(target: &Target, id: &QueueId, message: &[u8]) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let file = scratch.path().join(format!("{id}.eml"));
    std::fs::write(&file, message)?;
    let args = LearnArgs {
        config: target.config.clone(),
        forget: false,
        plugin: None,
        words: vec!["ham".into(), file.into_os_string()],
    };
    let code = learn::run(args).await?;
    if code != ExitCode::SUCCESS {
        bail!("learning {id} as ham failed; it stays in quarantine");
    }
    Ok(())
}

/// A message in the human list: id, age, size, sender, then the score and the reason,
/// then one line per recipient.
fn describe(record: &QuarantinedMessage, now: u64) -> String {
    let envelope = &record.envelope;
    let report: Value = serde_json::from_str(&record.report).unwrap_or(Value::Null);
    let score = report["score"]
        .as_f64()
        .map_or("-".to_owned(), |s| format!("{s:.2}"));
    let reason = report["reason"].as_str().unwrap_or("-");
    let mut out = format!(
        "{}  {} ago  <{}>  {} bytes  score {score}  {reason}\n",
        envelope.id,
        ago(now.saturating_sub(envelope.received_at_ms)),
        envelope.mail_from,
        envelope.size,
    );
    for recipient in &envelope.recipients {
        out.push_str(&format!("    <{}>\n", recipient.address));
    }
    out
}

/// The header section of `message`: up to and including the blank line.
fn header_of(message: &[u8]) -> &[u8] {
    message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|end| &message[..end + 4])
        .or_else(|| {
            message
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|end| &message[..end + 2])
        })
        .unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_ends_at_the_first_blank_line() {
        assert_eq!(
            header_of(b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\n"),
            b"A: 1\r\nB: 2\r\n\r\n"
        );
        assert_eq!(header_of(b"A: 1\n\nbody"), b"A: 1\n\n");
        assert_eq!(header_of(b"A: 1\r\n"), b"A: 1\r\n");
    }
}
