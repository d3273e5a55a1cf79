//! The queue endpoints: list, stats, show, message bytes, flush, hold, release, delete,
//! bounce, and the same actions on many messages at once. Each is a route onto
//! [`LocalControl`](crate::control::LocalControl).

use std::collections::HashSet;

use hyper::StatusCode;
use serde_json::json;

use super::router::{Failure, Reply, bytes, json, json_of};
use super::server::AdminContext;
use crate::control::{ControlError, Operations as _, QueueAction};
use crate::queue::{QueueId, Selection};

/// A failed operation: 500 with its reason.
pub(super) fn failed(error: ControlError) -> Failure {
    Failure::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

/// The queue id in a path, or 400.
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

/// `GET /queue`: every envelope, oldest first, serialized straight to bytes (a JSON tree
/// of 100,000 envelopes would take several times the body's size).
pub(super) async fn list(context: &AdminContext) -> Result<Reply, Failure> {
    let envelopes = context.control.queue_list().await.map_err(failed)?;
    Ok(json_of(StatusCode::OK, &envelopes))
}

/// `GET /queue/stats`: counts over the queue.
pub(super) async fn stats(context: &AdminContext) -> Result<Reply, Failure> {
    let summary = context.control.queue_stats().await.map_err(failed)?;
    Ok(json_of(StatusCode::OK, &summary))
}

/// `GET /queue/ID`: one envelope.
pub(super) async fn show(context: &AdminContext, id: &str) -> Result<Reply, Failure> {
    let id = parse(id)?;
    let envelope = context.control.queue_envelope(id).await.map_err(failed)?;
    Ok(json_of(
        StatusCode::OK,
        &envelope.ok_or_else(|| no_such(&id))?,
    ))
}

/// `GET /queue/ID/message`: the message's bytes as stored.
pub(super) async fn message(context: &AdminContext, id: &str) -> Result<Reply, Failure> {
    let id = parse(id)?;
    let message = context.control.queue_message(id).await.map_err(failed)?;
    Ok(bytes(
        StatusCode::OK,
        "message/rfc822",
        message.ok_or_else(|| no_such(&id))?,
    ))
}

/// `POST /queue/flush`: every message not held is due now.
pub(super) async fn flush_all(context: &AdminContext) -> Result<Reply, Failure> {
    let flushed = context.control.queue_flush_all().await.map_err(failed)?;
    Ok(json(StatusCode::OK, &json!({ "flushed": flushed })))
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

/// `POST /queue/ID/ACTION` and `DELETE /queue/ID`: applies `action` to message `id`.
pub(super) async fn act(context: &AdminContext, id: &str, action: &str) -> Result<Reply, Failure> {
    let action = action_named(action)?;
    let id = parse(id)?;
    let done = context
        .control
        .queue_apply(action, vec![id], Selection::default())
        .await
        .map_err(failed)?;
    if done.is_empty() {
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
    let done = context
        .control
        .queue_apply(action, ids.clone(), selection)
        .await
        .map_err(failed)?;
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
