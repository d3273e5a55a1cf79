//! Why the queue could not open, take a message, or read one back.
//!
//! The SMTP side maps these to replies (`smtp/reply.rs`): [`QueueError::DiskFull`] and
//! [`QueueError::NoRoom`] to `452 4.3.1`, every other enqueue failure to `451 4.3.0`. This
//! module only classifies.

use std::io;
use std::sync::Arc;

use super::id::QueueId;
use crate::store::StoreError;

/// Why the queue could not open, take a message, or read one back.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// One of the queue's keyspaces could not be opened.
    #[error("cannot open the queue: {source}")]
    Open {
        /// The store's reason.
        #[source]
        source: StoreError,
    },
    /// The group committer's thread could not be started.
    #[error("cannot start the queue's commit thread: {source}")]
    Spawn {
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The disk (or the user's quota) is full: the batch holding the message was not
    /// written. SMTP answers `452 4.3.1`. fjall refuses later writes too
    /// ([`QueueError::Poisoned`]) until the process restarts; `[queue] min_free`
    /// ([`QueueError::NoRoom`]) is what keeps this from happening.
    #[error("the disk is full; the message was not queued: {source}")]
    DiskFull {
        /// fjall's reason (shared by every message of the failed batch).
        #[source]
        source: Arc<fjall::Error>,
    },
    /// Writing or syncing the batch holding the message failed for another reason (I/O
    /// error): the message was not queued. SMTP answers `451 4.3.0`.
    #[error("cannot write the message to the queue: {source}")]
    Write {
        /// fjall's reason (shared by every message of the failed batch).
        #[source]
        source: Arc<fjall::Error>,
    },
    /// An earlier write or sync failed, so fjall refuses every write until the database is
    /// reopened (after a failed fsync, what reached the disk is unknown). The server exits
    /// for its supervisor to restart it; SMTP answers `451 4.3.0` meanwhile.
    #[error("the queue refuses writes since an earlier disk failure; restart moat")]
    Poisoned,
    /// Writing the message would leave less room on the queue's disk than the reserve
    /// keeps (`[queue] min_free`): it was not written. SMTP answers `452 4.3.1`.
    #[error(
        "no room for the message: {} bytes available on the queue's disk, {} needed",
        shortage.available,
        shortage.needed
    )]
    NoRoom {
        /// What was available and what was needed.
        shortage: super::space::Shortage,
    },
    /// The group committer has stopped (its thread panicked, or the queue is closing).
    #[error("the queue's commit thread has stopped")]
    CommitterStopped,
    /// The change asked of a queued message panicked: nothing of it was written.
    #[error("the change to queued message {queue_id} panicked; nothing of it was written")]
    ChangePanicked {
        /// The message.
        queue_id: QueueId,
    },
    /// A message with no recipient cannot be queued: it could never be delivered nor leave
    /// the queue.
    #[error("a message needs at least one recipient to be queued")]
    NoRecipients,
    /// A recipient without a domain (`postmaster`): delivery routes by the domain, and
    /// would take the whole address for one, find no host and bounce the message to its
    /// sender. SMTP maps `<postmaster>` to an address before queueing; this keeps any
    /// other path from queueing such a recipient.
    #[error("the recipient {recipient:?} has no domain; only local@domain can be queued")]
    RecipientWithoutDomain {
        /// The recipient as given.
        recipient: String,
    },
    /// The message is larger than fjall can store as one value.
    #[error("a message of {size} bytes is larger than the queue's limit of {max} bytes")]
    TooLarge {
        /// The message's size in bytes.
        size: u64,
        /// The largest storable message in bytes.
        max: u64,
    },
    /// A record could not be encoded (a bug: the records always encode).
    #[error("cannot encode a queue record: {source}")]
    Encode {
        /// serde_json's reason.
        #[source]
        source: serde_json::Error,
    },
    /// Reading a keyspace failed.
    #[error("cannot read the queue keyspace {keyspace}: {source}")]
    Read {
        /// The keyspace's name.
        keyspace: &'static str,
        /// fjall's reason.
        #[source]
        source: fjall::Error,
    },
    /// A stored envelope or quarantine record does not decode: written by an incompatible
    /// version, or damaged.
    #[error("the stored record of {queue_id} in {keyspace} is unreadable: {source}")]
    CorruptRecord {
        /// The keyspace's name.
        keyspace: &'static str,
        /// The message's id.
        queue_id: QueueId,
        /// serde_json's reason.
        #[source]
        source: serde_json::Error,
    },
    /// A stored key has the wrong length for its keyspace.
    #[error("a key of {len} bytes in the queue keyspace {keyspace} is not a queue key")]
    CorruptKey {
        /// The keyspace's name.
        keyspace: &'static str,
        /// The key's length in bytes.
        len: usize,
    },
}

impl QueueError {
    /// The error for every message of a batch whose commit failed with `source`.
    pub(super) fn from_commit(source: Arc<fjall::Error>) -> Self {
        if matches!(*source, fjall::Error::Poisoned) {
            Self::Poisoned
        } else if is_disk_full(source.as_ref()) {
            Self::DiskFull { source }
        } else {
            Self::Write { source }
        }
    }
}

/// Whether `error` comes from a full disk or an exhausted quota (`ENOSPC`, `EDQUOT`),
/// looking through fjall's and lsm-tree's wrappers to the I/O error.
pub(super) fn is_disk_full(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<io::Error>()
            && matches!(
                io.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            )
        {
            return true;
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Linux's `ENOSPC` and `EDQUOT`.
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;

    #[test]
    fn no_space_and_quota_errors_are_disk_full_through_the_wrappers() {
        for errno in [ENOSPC, EDQUOT] {
            let fjall_io = fjall::Error::Io(io::Error::from_raw_os_error(errno));
            assert!(matches!(
                QueueError::from_commit(Arc::new(fjall_io)),
                QueueError::DiskFull { .. }
            ));
            let lsm_io =
                fjall::Error::Storage(fjall::LsmError::Io(io::Error::from_raw_os_error(errno)));
            assert!(is_disk_full(&lsm_io), "{lsm_io:?}");
        }
    }

    #[test]
    fn other_failures_are_write_errors_or_poisoned() {
        let eio = fjall::Error::Io(io::Error::from_raw_os_error(5));
        assert!(matches!(
            QueueError::from_commit(Arc::new(eio)),
            QueueError::Write { .. }
        ));
        assert!(matches!(
            QueueError::from_commit(Arc::new(fjall::Error::Poisoned)),
            QueueError::Poisoned
        ));
    }
}
