//! The quarantine shared by the gateways of a site (`[kv] backend = "redis"`): what
//! [`LocalControl`](super::LocalControl) adds to its own queue's quarantine, and the task
//! that keeps this gateway's quarantine published ([`sync_shared_quarantine`]).
//!
//! A message quarantined here stays in this queue (durable before its 250); the shared
//! store only shows it to the other gateways and lets them release it. A release takes a
//! claim first (so two gateways do not both release it), queues the message in the
//! releasing gateway's queue (fsynced), and only then removes the shared entry and leaves
//! its tombstone, from which the gateway holding the message drops its copy. A gateway
//! that dies between the two releases the message again later, never loses it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::ControlError;
use crate::queue::{NewMessage, QuarantinedMessage, Queue, QueueError, QueueId};
use crate::store::{KvError, RedisQuarantine};

/// How often a gateway publishes its new quarantined messages and drops those released
/// or deleted elsewhere.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(2);

/// A shared-store failure, as the operator reads it.
fn shared_error(error: KvError) -> ControlError {
    ControlError::Refused(format!("the shared quarantine (Redis) failed: {error}"))
}

/// Runs a blocking call on the shared store off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    shared: &RedisQuarantine,
    call: impl FnOnce(&RedisQuarantine) -> Result<T, KvError> + Send + 'static,
) -> Result<T, ControlError> {
    let shared = shared.clone();
    match tokio::task::spawn_blocking(move || call(&shared)).await {
        Ok(result) => result.map_err(shared_error),
        Err(_) => Err(ControlError::Panicked),
    }
}

/// The published records of every gateway.
pub(super) async fn records(
    shared: &RedisQuarantine,
) -> Result<Vec<QuarantinedMessage>, ControlError> {
    let records = blocking(shared, RedisQuarantine::records).await?;
    Ok(records
        .into_iter()
        .filter_map(|(_, json)| serde_json::from_str(&json).ok())
        .collect())
}

/// The published record and bytes of `id`.
pub(super) async fn entry(
    shared: &RedisQuarantine,
    id: QueueId,
) -> Result<Option<(QuarantinedMessage, Vec<u8>)>, ControlError> {
    let entry = blocking(shared, move |s| s.entry(&id.to_string())).await?;
    Ok(entry.and_then(|(json, bytes)| Some((serde_json::from_str(&json).ok()?, bytes))))
}

/// Releases `id`, quarantined by another gateway, into `queue`: the new queue id, or
/// `None` when it is not published or another gateway is releasing it.
pub(super) async fn release_elsewhere(
    shared: &RedisQuarantine,
    queue: &Queue,
    id: QueueId,
) -> Result<Option<QueueId>, ControlError> {
    if !blocking(shared, move |s| s.claim(&id.to_string())).await? {
        return Ok(None);
    }
    let Some((record, bytes)) = entry(shared, id).await? else {
        blocking(shared, move |s| s.unclaim(&id.to_string())).await?;
        return Ok(None);
    };
    let envelope = &record.envelope;
    let message = NewMessage {
        mail_from: envelope.mail_from.clone(),
        recipients: envelope
            .recipients
            .iter()
            .map(|r| r.address.clone())
            .collect(),
        client_ip: envelope.client_ip.clone(),
        helo: envelope.helo.clone(),
        authenticated_user: envelope.authenticated_user.clone(),
        smtputf8: envelope.smtputf8,
        eight_bit_mime: envelope.eight_bit_mime,
        spam: false,
    };
    match queue.enqueue(message, bytes).await {
        Ok(queued) => {
            tracing::info!(quarantine_id = %id, queue_id = %queued, "released from another gateway's quarantine");
            // Queued: from here on the release stands. Nobody may release it again before
            // its shared entry is gone, and the removal is retried until it is.
            let done = blocking(shared, move |s| {
                s.hold_claim(&id.to_string())?;
                s.remove(&id.to_string())
            })
            .await;
            if let Err(error) = done {
                tracing::warn!(%error, quarantine_id = %id, "the shared entry of a released message stays until it can be removed; retrying");
                tokio::spawn(remove_until_done(shared.clone(), id));
            }
            Ok(Some(queued))
        }
        Err(error) => {
            blocking(shared, move |s| s.unclaim(&id.to_string())).await?;
            Err(error.into())
        }
    }
}

/// Removes the shared entry of `id` (released here), trying again every
/// [`SYNC_INTERVAL`] until it is done.
async fn remove_until_done(shared: RedisQuarantine, id: QueueId) {
    loop {
        tokio::time::sleep(SYNC_INTERVAL).await;
        if blocking(&shared, move |s| s.remove(&id.to_string()))
            .await
            .is_ok()
        {
            return;
        }
    }
}

/// Every [`SYNC_INTERVAL`] until `shutdown`: publishes this gateway's quarantined
/// messages the shared store does not show, and deletes those released or deleted on
/// another gateway. Failures are logged (at most once per state change) and tried again.
pub async fn sync_shared_quarantine(
    queue: Queue,
    shared: RedisQuarantine,
    shutdown: CancellationToken,
) {
    let mut failing = false;
    loop {
        let (queue_now, shared_now) = (queue.clone(), shared.clone());
        match tokio::task::spawn_blocking(move || sync_once(&queue_now, &shared_now)).await {
            Ok(Ok(())) if failing => {
                tracing::info!("the shared quarantine is in sync again");
                failing = false;
            }
            Ok(Ok(())) => {}
            Ok(Err(error)) if !failing => {
                tracing::warn!(%error, "cannot sync the shared quarantine; retrying");
                failing = true;
            }
            Ok(Err(_)) => {}
            Err(error) => tracing::error!(%error, "the shared quarantine sync panicked"),
        }
        tokio::select! {
            () = tokio::time::sleep(SYNC_INTERVAL) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Why a sync pass stopped.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Shared(#[from] KvError),
}

/// One pass: drops the local copies released or deleted elsewhere, removes (with a
/// tombstone) what this gateway published and no longer holds (released or deleted here
/// while Redis did not answer, or by `moat quarantine` while the server was stopped, or
/// expired), and publishes what is not published yet. A failure on one message is
/// logged and the pass goes on; the pass fails only when it cannot read at all.
fn sync_once(queue: &Queue, shared: &RedisQuarantine) -> Result<(), SyncError> {
    let ids = queue.quarantined_ids()?;
    let names: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let states = shared.states(&names)?;
    let held: std::collections::HashSet<&String> = names.iter().collect();
    for stale in shared.published_here()? {
        if !held.contains(&stale) {
            let removed = shared
                .remove(&stale)
                .and_then(|()| shared.forget_published(&stale));
            if let Err(error) = removed {
                tracing::warn!(%error, queue_id = %stale, "cannot remove a shared quarantine entry this gateway no longer holds");
            }
        }
    }
    for ((id, name), (published, gone)) in ids.iter().zip(&names).zip(states) {
        let result = if gone {
            drop_released(queue, id).map_err(SyncError::from)
        } else if published {
            Ok(())
        } else {
            publish(queue, shared, id, name)
        };
        if let Err(error) = result {
            tracing::warn!(%error, queue_id = %id, "cannot sync this quarantined message");
        }
    }
    Ok(())
}

/// Deletes the local copy of a message released or deleted on another gateway.
fn drop_released(queue: &Queue, id: &QueueId) -> Result<(), QueueError> {
    if queue.delete_quarantined(id)? {
        tracing::info!(queue_id = %id, "quarantined message released or deleted on another gateway: dropped here");
    }
    Ok(())
}

/// Publishes one local quarantined message.
fn publish(
    queue: &Queue,
    shared: &RedisQuarantine,
    id: &QueueId,
    name: &str,
) -> Result<(), SyncError> {
    if let (Some(record), Some(bytes)) = (queue.quarantined(id)?, queue.message(id)?) {
        let json = serde_json::to_string(&record).unwrap_or_default();
        shared.publish(name, &json, &bytes, record.envelope.received_at_ms)?;
    }
    Ok(())
}
