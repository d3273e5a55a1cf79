//! `moat queue`: look into the queue and act on it. While the server runs (it holds the
//! database), the commands go through its admin endpoint (`[admin]`, address found in
//! `data_dir/admin.addr` or given with `--admin`); while it is stopped, they open the data
//! directory themselves. Both ways run the same queue operations.

use std::collections::HashSet;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::bail;
use serde_json::json;

use super::queue_select::Filter;
use super::target::{Target, connect, with_operations};
use crate::cli::output::{say, say_part};
use crate::control::{Operations, QueueAction};
use crate::queue::{OperatorAction, QueueId, QueuedEnvelope, RecipientState};
use crate::time::now_ms;

/// `moat queue ...`
#[derive(Debug, clap::Subcommand)]
pub enum QueueCommand {
    /// Every queued message: id, sender, recipients with their state and last error,
    /// attempts, next attempt.
    List {
        /// Where the queue is.
        #[command(flatten)]
        target: Target,
        /// One JSON object per message per line.
        #[arg(long)]
        json: bool,
        /// Only some messages.
        #[command(flatten)]
        filter: Filter,
    },
    /// One message: its envelope, then (with --raw, only) its bytes as stored.
    Show {
        /// The queue id.
        id: QueueId,
        /// Where the queue is.
        #[command(flatten)]
        target: Target,
        /// Print only the message bytes, exactly as stored.
        #[arg(long)]
        raw: bool,
    },
    /// Counts over the queue: messages, recipients by state, bytes, oldest.
    Stats {
        /// Where the queue is.
        #[command(flatten)]
        target: Target,
        /// As one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Try now: the messages given or selected, or every message that is not held.
    Flush {
        /// Queue ids; with neither ids nor --from/--to, every message.
        ids: Vec<QueueId>,
        /// Also the messages selected.
        #[command(flatten)]
        filter: Filter,
        /// Where the queue is.
        #[command(flatten)]
        target: Target,
    },
    /// Hold messages: they are not delivered until released.
    Hold {
        /// Queue ids.
        ids: Vec<QueueId>,
        /// Also the messages selected.
        #[command(flatten)]
        filter: Filter,
        /// Where the queue is.
        #[command(flatten)]
        target: Target,
    },
    /// Release held messages; they are tried at once.
    Release {
        /// Queue ids.
        ids: Vec<QueueId>,
        /// Also the messages selected.
        #[command(flatten)]
        filter: Filter,
        /// Where the queue is.
        #[command(flatten)]
        target: Target,
    },
    /// Delete messages for good, without a bounce.
    Delete {
        /// Queue ids.
        ids: Vec<QueueId>,
        /// Also the messages selected.
        #[command(flatten)]
        filter: Filter,
        /// Where the queue is.
        #[command(flatten)]
        target: Target,
        /// Confirm: the messages are deleted and nobody is told.
        #[arg(long)]
        yes: bool,
    },
    /// Return messages to their senders now: every recipient not yet delivered fails,
    /// the sender gets a bounce, and the message leaves the queue (Postfix's
    /// `postsuper -e`): for a destination that will not come back.
    Bounce {
        /// Queue ids.
        ids: Vec<QueueId>,
        /// Also the messages selected.
        #[command(flatten)]
        filter: Filter,
        /// Where the queue is.
        #[command(flatten)]
        target: Target,
    },
}

/// Runs the queue command.
pub(super) async fn run(command: QueueCommand) -> anyhow::Result<ExitCode> {
    let connection = connect(command.target()).await?;
    with_operations!(connection, ops => execute(&ops, command).await)
}

impl QueueCommand {
    /// Where the command's queue is.
    fn target(&self) -> &Target {
        match self {
            Self::List { target, .. }
            | Self::Show { target, .. }
            | Self::Stats { target, .. }
            | Self::Flush { target, .. }
            | Self::Hold { target, .. }
            | Self::Release { target, .. }
            | Self::Delete { target, .. }
            | Self::Bounce { target, .. } => target,
        }
    }
}

/// Runs `command` through `ops`.
async fn execute(ops: &impl Operations, command: QueueCommand) -> anyhow::Result<ExitCode> {
    let queue_action = |action| QueueAction::Queue(action);
    match command {
        QueueCommand::List { json, filter, .. } => list(ops, json, &filter).await,
        QueueCommand::Show { id, raw, .. } => show(ops, id, raw).await,
        QueueCommand::Stats { json, .. } => stats(ops, json).await,
        QueueCommand::Flush { ids, filter, .. }
            if ids.is_empty() && !filter.selection().is_set() =>
        {
            let flushed = ops.queue_flush_all().await?;
            say!("flushed {flushed} messages");
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Flush { ids, filter, .. } => {
            act(ops, ids, &filter, queue_action(OperatorAction::Flush)).await
        }
        QueueCommand::Hold { ids, filter, .. } => {
            act(ops, ids, &filter, queue_action(OperatorAction::Hold)).await
        }
        QueueCommand::Release { ids, filter, .. } => {
            act(ops, ids, &filter, queue_action(OperatorAction::Release)).await
        }
        QueueCommand::Delete {
            ids, filter, yes, ..
        } => {
            if !yes {
                eprintln!(
                    "moat: deleting drops messages without telling their senders; add --yes to confirm"
                );
                return Ok(ExitCode::FAILURE);
            }
            act(ops, ids, &filter, queue_action(OperatorAction::Delete)).await
        }
        QueueCommand::Bounce { ids, filter, .. } => {
            act(ops, ids, &filter, QueueAction::Bounce).await
        }
    }
}

/// `moat queue list`: each message selected, as text or JSON lines.
async fn list(ops: &impl Operations, json: bool, filter: &Filter) -> anyhow::Result<ExitCode> {
    let envelopes = ops.queue_list().await?;
    let now = now_ms();
    let selection = filter.selection();
    for envelope in envelopes.iter().filter(|e| selection.matches(e)) {
        if json {
            say!("{}", serde_json::to_string(envelope)?);
        } else {
            say_part!("{}", describe(envelope, now));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `moat queue show`: the envelope as JSON (unless `raw`), then the bytes.
async fn show(ops: &impl Operations, id: QueueId, raw: bool) -> anyhow::Result<ExitCode> {
    let envelope = ops.queue_envelope(id).await?;
    let message = ops.queue_message(id).await?;
    let (Some(envelope), Some(message)) = (envelope, message) else {
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

/// `moat queue stats`: the counts, as text or one JSON object.
async fn stats(ops: &impl Operations, json: bool) -> anyhow::Result<ExitCode> {
    let summary = ops.queue_stats().await?;
    if json {
        say!("{}", serde_json::to_string(&summary)?);
        return Ok(ExitCode::SUCCESS);
    }
    let age = summary
        .oldest_received_at_ms
        .map_or("-".to_owned(), |t| ago(now_ms().saturating_sub(t)));
    say!(
        "messages {}  held {}  null-sender {}  bytes {}\nrecipients: pending {}  deferred {}  delivered {}  failed {}\noldest: {age}",
        summary.messages,
        summary.held,
        summary.null_sender,
        summary.bytes,
        summary.pending,
        summary.deferred,
        summary.delivered,
        summary.failed
    );
    Ok(ExitCode::SUCCESS)
}

/// Flush, hold, release, delete or bounce the messages `ids` names and `filter` selects.
/// Fails when nothing is named or selected by either, or a named message is not there.
async fn act(
    ops: &impl Operations,
    ids: Vec<QueueId>,
    filter: &Filter,
    action: QueueAction,
) -> anyhow::Result<ExitCode> {
    let selection = filter.selection();
    if ids.is_empty() && !selection.is_set() {
        bail!("name the messages: queue ids, or --from / --to ADDRESS (or @domain)");
    }
    let selected = selection.is_set();
    let done = ops.queue_apply(action, ids.clone(), selection).await?;
    for id in &done {
        say!("{}: {id}", action.name());
    }
    let found: HashSet<&QueueId> = done.iter().collect();
    let mut code = ExitCode::SUCCESS;
    for id in ids.iter().filter(|id| !found.contains(id)) {
        eprintln!("moat: no message {id} in the queue");
        code = ExitCode::FAILURE;
    }
    if selected {
        say!("{}: {} messages", action.name(), done.len());
    }
    Ok(code)
}

/// A message in the human list: a header line, then one line per recipient.
fn describe(envelope: &QueuedEnvelope, now: u64) -> String {
    let next = if envelope.held {
        "held".to_owned()
    } else if envelope.next_attempt_ms <= now {
        "next attempt now".to_owned()
    } else {
        format!("next attempt in {}", ago(envelope.next_attempt_ms - now))
    };
    let mut out = format!(
        "{}  <{}>  {} bytes  attempts {}  {}\n",
        envelope.id, envelope.mail_from, envelope.size, envelope.attempts, next
    );
    for recipient in &envelope.recipients {
        let state = match &recipient.state {
            RecipientState::Pending => "pending".to_owned(),
            RecipientState::Delivered { .. } => "delivered".to_owned(),
            RecipientState::Deferred { last_error } => format!("deferred: {last_error}"),
            RecipientState::Failed { reply, .. } => format!("failed: {reply}"),
        };
        out.push_str(&format!("    <{}>  {state}\n", recipient.address));
    }
    out
}

/// A span of milliseconds as `3h12m`, `45s`.
pub(super) fn ago(ms: u64) -> String {
    let seconds = ms / 1000;
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{}s", seconds / 60, seconds % 60),
        _ => format!("{}h{}m", seconds / 3600, seconds % 3600 / 60),
    }
}
