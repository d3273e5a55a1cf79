//! Controlling the queue and the quarantine: every operator action (list, show, count,
//! flush, hold, release, delete, bounce; the quarantine's list, show, release and delete)
//! written once, behind [`Operations`], with two transports:
//!
//! * [`LocalControl`]: on the queue itself. The running server's admin endpoint answers
//!   with it, and `moat queue` / `moat quarantine` use it directly when the server is
//!   stopped (fjall lets one process at a time open the data directory).
//! * [`RemoteControl`]: through the running server's admin endpoint, whose routes map
//!   each request back onto [`LocalControl`].
//!
//! Adding an action is one [`LocalControl`] method plus its route: the admin router's arm
//! and the [`RemoteControl`] request that reaches it.
//!
//! * `client`: the admin API's HTTP client and how the CLI finds a running server.
//! * `local`, `remote`: the two transports. `action`: [`QueueAction`].

mod action;
pub mod client;
mod local;
mod remote;
pub mod shared;

use std::future::Future;

pub use action::QueueAction;
pub use local::LocalControl;
pub use remote::RemoteControl;

use crate::queue::{
    QuarantinedMessage, QueueError, QueueId, QueueSummary, QueuedEnvelope, Selection,
};

/// Why an operator action failed (not: "no such message", which each action answers).
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The queue could not be read or written.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The queue's blocking call panicked.
    #[error("the queue call panicked")]
    Panicked,
    /// The admin endpoint could not be reached or did not answer.
    #[error(transparent)]
    Client(#[from] client::AdminClientError),
    /// The admin endpoint refused the request; its message.
    #[error("{0}")]
    Refused(String),
    /// The admin endpoint answered something this version does not read.
    #[error("the admin endpoint answered an unexpected shape: {0}")]
    Decode(#[from] serde_json::Error),
}

/// The operator's actions on the queue and the quarantine, whichever way they travel.
/// A message that is not there is `None`, `false` or missing from the ids answered.
pub trait Operations: Sync {
    /// Every queued envelope, oldest first.
    fn queue_list(&self) -> impl Future<Output = Result<Vec<QueuedEnvelope>, ControlError>> + Send;

    /// Counts over the queue.
    fn queue_stats(&self) -> impl Future<Output = Result<QueueSummary, ControlError>> + Send;

    /// One queued envelope.
    fn queue_envelope(
        &self,
        id: QueueId,
    ) -> impl Future<Output = Result<Option<QueuedEnvelope>, ControlError>> + Send;

    /// A queued (or quarantined) message's bytes as stored.
    fn queue_message(
        &self,
        id: QueueId,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, ControlError>> + Send;

    /// Every message not held is due now: how many.
    fn queue_flush_all(&self) -> impl Future<Output = Result<usize, ControlError>> + Send;

    /// `action` on the messages `ids` names, then on those `selection` selects: the ids
    /// acted on, each once, in order.
    fn queue_apply(
        &self,
        action: QueueAction,
        ids: Vec<QueueId>,
        selection: Selection,
    ) -> impl Future<Output = Result<Vec<QueueId>, ControlError>> + Send;

    /// Every quarantined message's record, oldest first.
    fn quarantine_list(
        &self,
    ) -> impl Future<Output = Result<Vec<QuarantinedMessage>, ControlError>> + Send;

    /// One quarantine record.
    fn quarantine_record(
        &self,
        id: QueueId,
    ) -> impl Future<Output = Result<Option<QuarantinedMessage>, ControlError>> + Send;

    /// A quarantined message's bytes.
    fn quarantine_message(
        &self,
        id: QueueId,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, ControlError>> + Send;

    /// Releases a quarantined message into the delivery queue, due now: whether it was
    /// there.
    fn quarantine_release(
        &self,
        id: QueueId,
    ) -> impl Future<Output = Result<bool, ControlError>> + Send;

    /// Deletes a quarantined message for good: whether it was there.
    fn quarantine_delete(
        &self,
        id: QueueId,
    ) -> impl Future<Output = Result<bool, ControlError>> + Send;
}
