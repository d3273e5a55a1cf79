//! `moat queue`: look into the queue and act on it. While the server runs (it holds the
//! database), the commands go through its admin endpoint (`[admin]`, address found in
//! `data_dir/admin.addr` or given with `--admin`); while it is stopped, they open the data
//! directory themselves. Both ways run the same queue operations.

use std::collections::HashSet;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use hyper::Method;
use serde_json::{Value, json};

use super::ConfigArgs;
use super::queue_select::Filter;
use crate::admin::client::{self, Endpoint};
use crate::admin::{self, QueueAction};
use crate::cli::output::{say, say_part};
use crate::delivery::now_ms;
use crate::queue::{
    OperatorAction, Queue, QueueId, QueueSummary, QueuedEnvelope, RecipientState, Selection,
};
use crate::store::{Database, StoreError};

/// Where to reach the queue, shared by every queue command.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Config and data dir.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The running server's admin endpoint (default: from the data dir, else `[admin]`).
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
}

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

/// The queue, through the running server or opened here.
pub(super) enum Backend {
    Remote(Endpoint),
    Local(Queue),
}

/// Runs the queue command.
pub(super) async fn run(command: QueueCommand) -> anyhow::Result<ExitCode> {
    match command {
        QueueCommand::List {
            target,
            json,
            filter,
        } => {
            let envelopes = envelopes(&backend(&target).await?).await?;
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
        QueueCommand::Show { id, target, raw } => {
            let (envelope, message) = match backend(&target).await? {
                Backend::Remote(endpoint) => {
                    let envelope = get_opt(&endpoint, &format!("/queue/{id}")).await?;
                    let message = get_raw(&endpoint, &format!("/queue/{id}/message")).await?;
                    (envelope.map(serde_json::from_value).transpose()?, message)
                }
                Backend::Local(queue) => (queue.envelope(&id)?, queue.message(&id)?),
            };
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
        QueueCommand::Stats { target, json } => {
            let summary: QueueSummary = match backend(&target).await? {
                Backend::Remote(endpoint) => decode(get(&endpoint, "/queue/stats").await?)?,
                Backend::Local(queue) => queue.summary(),
            };
            if json {
                say!("{}", serde_json::to_string(&summary)?);
            } else {
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
            }
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Flush {
            ids,
            filter,
            target,
        } if ids.is_empty() && !filter.selection().is_set() => {
            let flushed = match backend(&target).await? {
                Backend::Remote(endpoint) => {
                    let value = send(&endpoint, Method::POST, "/queue/flush").await?;
                    value["flushed"].as_u64().unwrap_or_default() as usize
                }
                Backend::Local(queue) => queue.flush_all(now_ms())?,
            };
            say!("flushed {flushed} messages");
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Flush {
            ids,
            filter,
            target,
        } => {
            act(
                &target,
                &ids,
                &filter,
                QueueAction::Queue(OperatorAction::Flush),
            )
            .await
        }
        QueueCommand::Hold {
            ids,
            filter,
            target,
        } => {
            act(
                &target,
                &ids,
                &filter,
                QueueAction::Queue(OperatorAction::Hold),
            )
            .await
        }
        QueueCommand::Release {
            ids,
            filter,
            target,
        } => {
            act(
                &target,
                &ids,
                &filter,
                QueueAction::Queue(OperatorAction::Release),
            )
            .await
        }
        QueueCommand::Delete {
            ids,
            filter,
            target,
            yes,
        } => {
            if !yes {
                eprintln!(
                    "moat: deleting drops messages without telling their senders; add --yes to confirm"
                );
                return Ok(ExitCode::FAILURE);
            }
            act(
                &target,
                &ids,
                &filter,
                QueueAction::Queue(OperatorAction::Delete),
            )
            .await
        }
        QueueCommand::Bounce {
            ids,
            filter,
            target,
        } => act(&target, &ids, &filter, QueueAction::Bounce).await,
    }
}

/// Every queued envelope, through the server or from the database.
async fn envelopes(backend: &Backend) -> anyhow::Result<Vec<QueuedEnvelope>> {
    Ok(match backend {
        Backend::Remote(endpoint) => decode(get(endpoint, "/queue").await?)?,
        Backend::Local(queue) => {
            let mut envelopes = Vec::new();
            for id in queue.ids()? {
                envelopes.extend(queue.envelope(&id)?);
            }
            envelopes
        }
    })
}

/// Flush, hold, release, delete or bounce the messages `ids` names and `filter` selects.
/// Fails when nothing is named or selected by either, or a named message is not there.
async fn act(
    target: &Target,
    ids: &[QueueId],
    filter: &Filter,
    action: QueueAction,
) -> anyhow::Result<ExitCode> {
    let selection = filter.selection();
    if ids.is_empty() && !selection.is_set() {
        bail!("name the messages: queue ids, or --from / --to ADDRESS (or @domain)");
    }
    let backend = backend(target).await?;
    let hostname = target.config.load()?.server.hostname;
    let done = apply(&backend, action, &hostname, ids, &selection).await?;
    for id in &done {
        say!("{}: {id}", action.name());
    }
    let found: HashSet<&QueueId> = done.iter().collect();
    let mut code = ExitCode::SUCCESS;
    for id in ids.iter().filter(|id| !found.contains(id)) {
        eprintln!("moat: no message {id} in the queue");
        code = ExitCode::FAILURE;
    }
    if selection.is_set() {
        say!("{}: {} messages", action.name(), done.len());
    }
    Ok(code)
}

/// Ids sent to the server per request (about 30 bytes each in JSON).
const IDS_PER_REQUEST: usize = 10_000;

/// Applies `action` to the messages `ids` names and `selection` selects, through the
/// server (which does the selecting) or on the database (`hostname` reporting the
/// bounces): the ids that were queued, each once, in order.
async fn apply(
    backend: &Backend,
    action: QueueAction,
    hostname: &str,
    ids: &[QueueId],
    selection: &Selection,
) -> anyhow::Result<Vec<QueueId>> {
    let endpoint = match backend {
        Backend::Local(queue) => {
            let chosen = queue.select(ids, selection)?;
            return Ok(action.run(queue, hostname, &chosen, now_ms())?);
        }
        Backend::Remote(endpoint) => endpoint,
    };
    let path = format!("/queue/batch/{}", action.name());
    let mut requests: Vec<Value> = ids
        .chunks(IDS_PER_REQUEST)
        .map(|chunk| json!({ "ids": chunk }))
        .collect();
    // The selection rides on the last request: what earlier ones deleted or bounced is
    // gone by then, and what they held or flushed is dropped below when selected again.
    if selection.is_set() {
        match requests.last_mut() {
            Some(last) => {
                last["from"] = json!(selection.from);
                last["to"] = json!(selection.to);
            }
            None => requests.push(json!({ "ids": [], "from": selection.from, "to": selection.to })),
        }
    }
    let mut seen = HashSet::new();
    let mut done = Vec::with_capacity(ids.len());
    for request in requests {
        let body = serde_json::to_vec(&request)?;
        let response = client::request_with_body(endpoint, Method::POST, &path, body).await?;
        if response.status != 200 {
            bail!("{}", error_text(&response.body));
        }
        let answer: Value = serde_json::from_slice(&response.body)?;
        let answered: Vec<QueueId> = decode(answer["done"].clone())?;
        done.extend(answered.into_iter().filter(|id| seen.insert(*id)));
    }
    Ok(done)
}

/// The running server's endpoint when `--admin` is given or the database is in use (the
/// server holds it), else the queue opened here.
pub(super) async fn backend(target: &Target) -> anyhow::Result<Backend> {
    let config = target.config.load()?;
    if let Some(address) = target.admin {
        let token = config.admin.as_ref().and_then(|a| a.token.clone());
        return Ok(Backend::Remote(Endpoint { address, token }));
    }
    let data_dir = &config.server.data_dir;
    match Database::open(data_dir) {
        Ok(db) => Ok(Backend::Local(Queue::open(db)?)),
        Err(StoreError::InUse { .. }) => Ok(Backend::Remote(running_admin(&config)?)),
        Err(error) => Err(error)
            .with_context(|| format!("cannot open the data directory {}", data_dir.display())),
    }
}

/// The admin endpoint of the server running on `config`'s data dir: the address it wrote
/// there, else the configured one; with the configured token.
pub(super) fn running_admin(config: &crate::config::Config) -> anyhow::Result<Endpoint> {
    let data_dir = &config.server.data_dir;
    let from_file = std::fs::read_to_string(admin::address_file(data_dir))
        .ok()
        .and_then(|text| text.trim().parse::<SocketAddr>().ok());
    let from_config = config
        .admin
        .as_ref()
        .map(|a| a.address)
        .filter(|a| a.port() != 0);
    let token = config.admin.as_ref().and_then(|a| a.token.clone());
    match from_file.or(from_config) {
        Some(address) => Ok(Endpoint { address, token }),
        None => bail!(
            "moat is running on {} but has no admin endpoint (add an [admin] section)",
            data_dir.display()
        ),
    }
}

/// Sends `method path`: `true` on 200, `false` on 404 (no such message).
pub(super) async fn status(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
) -> anyhow::Result<bool> {
    let response = client::request(endpoint, method, path).await?;
    match response.status {
        200 => Ok(true),
        404 => Ok(false),
        _ => bail!("{}", error_text(&response.body)),
    }
}

pub(super) async fn get(endpoint: &Endpoint, path: &str) -> anyhow::Result<Value> {
    send(endpoint, Method::GET, path).await
}

/// `GET path` as JSON, `None` on 404.
pub(super) async fn get_opt(endpoint: &Endpoint, path: &str) -> anyhow::Result<Option<Value>> {
    let response = client::request(endpoint, Method::GET, path).await?;
    match response.status {
        200 => Ok(Some(serde_json::from_slice(&response.body)?)),
        404 => Ok(None),
        _ => bail!("{}", error_text(&response.body)),
    }
}

/// `GET path` as bytes, `None` on 404.
pub(super) async fn get_raw(endpoint: &Endpoint, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let response = client::request(endpoint, Method::GET, path).await?;
    match response.status {
        200 => Ok(Some(response.body)),
        404 => Ok(None),
        _ => bail!("{}", error_text(&response.body)),
    }
}

async fn send(endpoint: &Endpoint, method: Method, path: &str) -> anyhow::Result<Value> {
    let response = client::request(endpoint, method, path).await?;
    if response.status != 200 {
        bail!("{}", error_text(&response.body));
    }
    Ok(serde_json::from_slice(&response.body)?)
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(value: Value) -> anyhow::Result<T> {
    serde_json::from_value(value).context("the admin endpoint answered an unexpected shape")
}

pub(super) fn error_text(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
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
