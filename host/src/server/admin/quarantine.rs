//! The quarantine endpoints: list, show, message bytes, release, delete. Each is a route
//! onto [`LocalControl`](crate::control::LocalControl).

use hyper::StatusCode;
use serde_json::json;

use super::queue::{failed, parse};
use super::router::{Failure, Reply, bytes, json, json_of};
use super::server::AdminContext;
use crate::control::Operations as _;
use crate::queue::QueueId;

fn no_such(id: &QueueId) -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        format!("no message {id} in quarantine"),
    )
}

/// `GET /quarantine`: every quarantined message's envelope and report, oldest first.
pub(super) async fn list(context: &AdminContext) -> Result<Reply, Failure> {
    let records = context.control.quarantine_list().await.map_err(failed)?;
    Ok(json_of(StatusCode::OK, &records))
}

/// `GET /quarantine/ID`: one record.
pub(super) async fn show(context: &AdminContext, id: &str) -> Result<Reply, Failure> {
    let id = parse(id)?;
    let record = context
        .control
        .quarantine_record(id)
        .await
        .map_err(failed)?;
    Ok(json_of(
        StatusCode::OK,
        &record.ok_or_else(|| no_such(&id))?,
    ))
}

/// `GET /quarantine/ID/message`: the message's bytes as stored.
pub(super) async fn message(context: &AdminContext, id: &str) -> Result<Reply, Failure> {
    let id = parse(id)?;
    let message = context
        .control
        .quarantine_message(id)
        .await
        .map_err(failed)?;
    Ok(bytes(
        StatusCode::OK,
        "message/rfc822",
        message.ok_or_else(|| no_such(&id))?,
    ))
}

/// `POST /quarantine/ID/release`: into the delivery queue, due now.
pub(super) async fn release(context: &AdminContext, id: &str) -> Result<Reply, Failure> {
    let id = parse(id)?;
    if !context
        .control
        .quarantine_release(id)
        .await
        .map_err(failed)?
    {
        return Err(no_such(&id));
    }
    Ok(json(
        StatusCode::OK,
        &json!({ "id": id, "done": "release" }),
    ))
}

/// `DELETE /quarantine/ID`: record and bytes, for good.
pub(super) async fn delete(context: &AdminContext, id: &str) -> Result<Reply, Failure> {
    let id = parse(id)?;
    if !context
        .control
        .quarantine_delete(id)
        .await
        .map_err(failed)?
    {
        return Err(no_such(&id));
    }
    Ok(json(StatusCode::OK, &json!({ "id": id, "done": "delete" })))
}
