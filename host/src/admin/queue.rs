//! The queue endpoints: list, stats, show, message bytes, flush, hold, release, delete.
//! Each runs the queue's blocking call on the blocking pool.

use hyper::StatusCode;
use serde_json::json;

use super::router::{Failure, Reply, bytes, json};
use super::server::AdminContext;
use crate::delivery::now_ms;
use crate::queue::{Queue, QueueError, QueueId};

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

/// `GET /queue`: every envelope, oldest first.
pub(super) async fn list(context: &AdminContext) -> Result<Reply, Failure> {
    let envelopes = blocking(context, |queue| {
        let mut envelopes = Vec::new();
        for id in queue.ids()? {
            envelopes.extend(queue.envelope(&id)?);
        }
        Ok(envelopes)
    })
    .await?;
    Ok(json(StatusCode::OK, &json!(envelopes)))
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

/// What `POST /queue/ID/ACTION` and `DELETE /queue/ID` do.
#[derive(Debug, Clone, Copy)]
pub(super) enum Action {
    /// Due now.
    Flush,
    /// Not delivered until released.
    Hold,
    /// Released and due now.
    Release,
    /// Removed, without a bounce.
    Delete,
}

/// Applies `action` to message `id`.
pub(super) async fn act(
    context: &AdminContext,
    id: &str,
    action: Action,
) -> Result<Reply, Failure> {
    let id = parse(id)?;
    let now = now_ms();
    let found = blocking(context, move |queue| match action {
        Action::Flush => queue.flush(&id, now),
        Action::Hold => queue.hold(&id),
        Action::Release => queue.release(&id, now),
        Action::Delete => queue.delete(&id),
    })
    .await?;
    if !found {
        return Err(no_such(&id));
    }
    let done = format!("{action:?}").to_lowercase();
    Ok(json(StatusCode::OK, &json!({ "id": id, "done": done })))
}
