//! The queue endpoints: list, stats, show, message bytes, flush, hold, release, delete,
//! bounce, and the same actions on many messages at once.
//! Each runs the queue's blocking call on the blocking pool.

use std::collections::HashSet;

use hyper::StatusCode;
use serde_json::json;

use super::router::{Failure, Reply, bytes, json, json_of};
use super::server::AdminContext;
use crate::delivery::now_ms;
use crate::delivery::return_to_sender::return_to_sender;
use crate::queue::{OperatorAction, Queue, QueueError, QueueId, Selection};

/// Runs `work` on the queue off the async workers; errors become 500.
pub(super) async fn blocking<T: Send + 'static>(
    context: &AdminContext,
    work: impl FnOnce(&Queue) -> Result<T, QueueError> + Send + 'static,
) -> Result<T, Failure> {
    let queue = context.queue.clone();
    match tokio::task::spawn_blocking(move || work(&queue)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(problem)) => Err(Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            problem.to_string(),
        )),
        Err(_) => Err(Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the queue call panicked".into(),
        )),
    }
}

pub(super) fn parse(id: &str) -> Result<QueueId, Failure> {
    id.parse().map_err(|e: crate::queue::ParseQueueIdError| {
        Failure::new(StatusCode::BAD_REQUEST, e.to_string())
    })
}

fn no_such(id: &QueueId) -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        format!("no message {id} in the queue"),
    )
}

/// `GET /queue`: every envelope, oldest first. Written into the body one envelope at a
/// time: at 100,000 messages a list of envelopes turned into a JSON tree took ~450 MB
/// that the allocator kept after the request; this way the peak is the body itself.
pub(super) async fn list(context: &AdminContext) -> Result<Reply, Failure> {
    let body = blocking(context, |queue| {
        let mut body = b"[".to_vec();
        for id in queue.ids()? {
            // Gone since the listing of ids (delivered, deleted): not listed.
            let Some(envelope) = queue.envelope(&id)? else {
                continue;
            };
            if body.len() > 1 {
                body.push(b',');
            }
            serde_json::to_writer(&mut body, &envelope)
                .map_err(|source| QueueError::Encode { source })?;
        }
        body.push(b']');
        Ok(body)
    })
    .await?;
    Ok(bytes(StatusCode::OK, "application/json", body))
}

/// `GET /queue/stats`: counts over the queue.
pub(super) async fn stats(context: &AdminContext) -> Result<Reply, Failure> {
    Ok(json(StatusCode::OK, &json!(context.queue.summary())))
}

/// `GET /queue/ID`: one envelope.
pub(super) async fn show(context: &AdminContext, id: &str) -> Result<Reply, Failure> {
    let id = parse(id)?;
    let envelope = blocking(context, move |queue| queue.envelope(&id))
        .await?
        .ok_or_else(|| no_such(&id))?;
    Ok(json(StatusCode::OK, &json!(envelope)))
}

/// `GET /queue/ID/message`: the message's bytes as stored.
pub(super) async fn message(context: &AdminContext, id: &str) -> Result<Reply, Failure> {
    let id = parse(id)?;
    let message = blocking(context, move |queue| queue.message(&id))
        .await?
        .ok_or_else(|| no_such(&id))?;
    Ok(bytes(StatusCode::OK, "message/rfc822", message))
}

/// `POST /queue/flush`: every message not held is due now.
pub(super) async fn flush_all(context: &AdminContext) -> Result<Reply, Failure> {
    let now = now_ms();
    let flushed = blocking(context, move |queue| queue.flush_all(now)).await?;
    Ok(json(StatusCode::OK, &json!({ "flushed": flushed })))
}

/// What the queue commands do to the messages they name: the queue's own actions, and
/// returning mail to its sender (which needs delivery's bounces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueAction {
    /// Flush, hold, release or delete ([`Queue::apply`]).
    Queue(OperatorAction),
    /// Fail what is left, bounce to the sender, remove
    /// ([`crate::delivery::return_to_sender::return_to_sender`]).
    Bounce,
}

impl QueueAction {
    /// The lower-case name, as the CLI and the admin API spell it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Queue(action) => action.name(),
            Self::Bounce => "bounce",
        }
    }

    /// The action named `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "bounce" => Some(Self::Bounce),
            _ => OperatorAction::from_name(name).map(Self::Queue),
        }
    }

    /// Applies the action to `ids` at `now_ms` (`hostname` reports the bounces): the ids
    /// that were queued. Blocks on disk I/O.
    pub fn run(
        self,
        queue: &Queue,
        hostname: &str,
        ids: &[QueueId],
        now_ms: u64,
    ) -> Result<Vec<QueueId>, QueueError> {
        match self {
            Self::Queue(action) => queue.apply(action, ids, now_ms),
            Self::Bounce => return_to_sender(queue, hostname, ids, now_ms),
        }
    }
}

/// The action named in a path, or 404.
fn action_named(name: &str) -> Result<QueueAction, Failure> {
    QueueAction::from_name(name).ok_or_else(|| {
        Failure::new(
            StatusCode::NOT_FOUND,
            format!("no queue action `{name}` (flush, hold, release, delete, bounce)"),
        )
    })
}

/// Runs `action` on the blocking pool on `ids`, then on the messages `selection` selects.
async fn run(
    context: &AdminContext,
    action: QueueAction,
    ids: Vec<QueueId>,
    selection: Selection,
) -> Result<Vec<QueueId>, Failure> {
    let hostname = context.hostname.clone();
    let now = now_ms();
    blocking(context, move |queue| {
        let chosen = queue.select(&ids, &selection)?;
        action.run(queue, &hostname, &chosen, now)
    })
    .await
}

/// `POST /queue/ID/ACTION` and `DELETE /queue/ID`: applies `action` to message `id`.
pub(super) async fn act(context: &AdminContext, id: &str, action: &str) -> Result<Reply, Failure> {
    let action = action_named(action)?;
    let id = parse(id)?;
    if run(context, action, vec![id], Selection::default())
        .await?
        .is_empty()
    {
        return Err(no_such(&id));
    }
    Ok(json(
        StatusCode::OK,
        &json!({ "id": id, "done": action.name() }),
    ))
}

/// `POST /queue/batch/ACTION` with `{"ids": [...], "from": ADDRESS, "to": ADDRESS}` (each
/// optional, one at least): applies the action to every message named, then to every
/// message from that sender and/or for that recipient (`@domain` for a whole domain,
/// `<>` for bounces), the queue's actions a thousand to an fsync: an operator's cleanup
/// of many messages. Answers which were done and which named ones are not in the queue.
pub(super) async fn act_on_many(
    context: &AdminContext,
    action: &str,
    body: &[u8],
) -> Result<Reply, Failure> {
    let action = action_named(action)?;
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        ids: Vec<QueueId>,
        #[serde(flatten)]
        selection: Selection,
    }
    let bad_body = |reason: String| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the body must be {{\"ids\": [queue ids], \"from\": address, \"to\": address}}, with at least one: {reason}"
            ),
        )
    };
    let Body { ids, selection } =
        serde_json::from_slice(body).map_err(|error| bad_body(error.to_string()))?;
    if ids.is_empty() && !selection.is_set() {
        return Err(bad_body("none given".into()));
    }
    let done = run(context, action, ids.clone(), selection).await?;
    let found: HashSet<&QueueId> = done.iter().collect();
    let missing: Vec<&QueueId> = ids.iter().filter(|id| !found.contains(id)).collect();
    #[derive(serde::Serialize)]
    struct Answer<'a> {
        action: &'static str,
        done: &'a [QueueId],
        missing: Vec<&'a QueueId>,
    }
    let answer = Answer {
        action: action.name(),
        done: &done,
        missing,
    };
    Ok(json_of(StatusCode::OK, &answer))
}
