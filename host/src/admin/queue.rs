//! The queue endpoints: list, stats, show, message bytes, flush, hold, release, delete.
//! Each runs the queue's blocking call on the blocking pool.

use hyper::StatusCode;
use serde_json::json;

use super::router::{Reply, bytes, error, json};
use super::server::AdminContext;
use crate::delivery::now_ms;
use crate::queue::{Queue, QueueError, QueueId};

/// Runs `work` on the queue off the async workers; errors become 500.
async fn blocking<T: Send + 'static>(
    context: &AdminContext,
    work: impl FnOnce(&Queue) -> Result<T, QueueError> + Send + 'static,
) -> Result<T, Reply> {
    let queue = context.queue.clone();
    match tokio::task::spawn_blocking(move || work(&queue)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(problem)) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &problem.to_string(),
        )),
        Err(_) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the queue call panicked",
        )),
    }
}

fn parse(id: &str) -> Result<QueueId, Reply> {
    id.parse().map_err(|e: crate::queue::ParseQueueIdError| {
        error(StatusCode::BAD_REQUEST, &e.to_string())
    })
}

fn no_such(id: &QueueId) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        &format!("no message {id} in the queue"),
    )
}

/// `GET /queue`: every envelope, oldest first.
pub(super) async fn list(context: &AdminContext) -> Reply {
    let result = blocking(context, |queue| {
        let mut envelopes = Vec::new();
        for id in queue.ids()? {
            if let Some(envelope) = queue.envelope(&id)? {
                envelopes.push(envelope);
            }
        }
        Ok(envelopes)
    })
    .await;
    match result {
        Ok(envelopes) => json(StatusCode::OK, &json!(envelopes)),
        Err(reply) => reply,
    }
}

/// `GET /queue/stats`: counts over the queue.
pub(super) async fn stats(context: &AdminContext) -> Reply {
    match blocking(context, Queue::summary).await {
        Ok(summary) => json(StatusCode::OK, &json!(summary)),
        Err(reply) => reply,
    }
}

/// `GET /queue/ID`: one envelope.
pub(super) async fn show(context: &AdminContext, id: &str) -> Reply {
    let id = match parse(id) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    match blocking(context, move |queue| queue.envelope(&id)).await {
        Ok(Some(envelope)) => json(StatusCode::OK, &json!(envelope)),
        Ok(None) => no_such(&id),
        Err(reply) => reply,
    }
}

/// `GET /queue/ID/message`: the message's bytes as stored.
pub(super) async fn message(context: &AdminContext, id: &str) -> Reply {
    let id = match parse(id) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    match blocking(context, move |queue| queue.message(&id)).await {
        Ok(Some(message)) => bytes(StatusCode::OK, "message/rfc822", message),
        Ok(None) => no_such(&id),
        Err(reply) => reply,
    }
}

/// `POST /queue/flush`: every message not held is due now.
pub(super) async fn flush_all(context: &AdminContext) -> Reply {
    let now = now_ms();
    match blocking(context, move |queue| queue.flush_all(now)).await {
        Ok(flushed) => json(StatusCode::OK, &json!({ "flushed": flushed })),
        Err(reply) => reply,
    }
}

/// `POST /queue/ID/flush|hold|release`.
pub(super) async fn act(context: &AdminContext, id: &str, action: &str) -> Reply {
    let id = match parse(id) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let now = now_ms();
    let action = action.to_owned();
    let done = {
        let action = action.clone();
        blocking(context, move |queue| match action.as_str() {
            "flush" => queue.flush(&id, now),
            "hold" => queue.hold(&id),
            _ => queue.release(&id, now),
        })
        .await
    };
    match done {
        Ok(true) => json(StatusCode::OK, &json!({ "id": id, "done": action })),
        Ok(false) => no_such(&id),
        Err(reply) => reply,
    }
}

/// `DELETE /queue/ID`: removes the message, no bounce.
pub(super) async fn delete(context: &AdminContext, id: &str) -> Reply {
    let id = match parse(id) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    match blocking(context, move |queue| queue.delete(&id)).await {
        Ok(true) => json(StatusCode::OK, &json!({ "id": id, "done": "delete" })),
        Ok(false) => no_such(&id),
        Err(reply) => reply,
    }
}
