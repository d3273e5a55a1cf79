//! The quarantine endpoints: list, show, message bytes, release, delete.

use hyper::StatusCode;
use serde_json::json;

use super::queue::{blocking, parse};
use super::router::{Failure, Reply, bytes, json, json_of};
use super::server::AdminContext;
use crate::delivery::now_ms;
use crate::queue::{Queue, QueueId};

fn no_such(id: &QueueId) -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        format!("no message {id} in quarantine"),
    )
}

/// `GET /quarantine`: every quarantined message's envelope and report, oldest first.
pub(super) async fn list(context: &AdminContext) -> Result<Reply, Failure> {
    let records = blocking(context, Queue::quarantined_all).await?;
    Ok(json_of(StatusCode::OK, &records))
}

/// `GET /quarantine/ID`: one record.
pub(super) async fn show(context: &AdminContext, id: &str) -> Result<Reply, Failure> {
    let id = parse(id)?;
    let record = blocking(context, move |queue| queue.quarantined(&id))
        .await?
        .ok_or_else(|| no_such(&id))?;
    Ok(json(StatusCode::OK, &json!(record)))
}

/// `GET /quarantine/ID/message`: the message's bytes as stored.
pub(super) async fn message(context: &AdminContext, id: &str) -> Result<Reply, Failure> {
    let id = parse(id)?;
    let message = blocking(context, move |queue| {
        Ok(match queue.quarantined(&id)? {
            Some(_) => queue.message(&id)?,
            None => None,
        })
    })
    .await?
    .ok_or_else(|| no_such(&id))?;
    Ok(bytes(StatusCode::OK, "message/rfc822", message))
}

/// `POST /quarantine/ID/release`: into the delivery queue, due now.
pub(super) async fn release(context: &AdminContext, id: &str) -> Result<Reply, Failure> {
    let id = parse(id)?;
    let now = now_ms();
    blocking(context, move |queue| queue.release_quarantined(&id, now))
        .await?
        .ok_or_else(|| no_such(&id))?;
    Ok(json(
        StatusCode::OK,
        &json!({ "id": id, "done": "release" }),
    ))
}

/// `DELETE /quarantine/ID`: record and bytes, for good.
pub(super) async fn delete(context: &AdminContext, id: &str) -> Result<Reply, Failure> {
    let id = parse(id)?;
    if !blocking(context, move |queue| queue.delete_quarantined(&id)).await? {
        return Err(no_such(&id));
    }
    Ok(json(StatusCode::OK, &json!({ "id": id, "done": "delete" })))
}
