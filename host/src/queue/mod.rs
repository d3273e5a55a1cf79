//! The durable message queue: where an accepted message lives until every recipient has a
//! final state.
//!
//! A message answered `250` is on disk: [`Queue::enqueue`] writes its bytes, its envelope
//! and its due-index entry in ONE atomic fjall batch, fsyncs the journal, and only then
//! returns. Sessions enqueueing at the same moment share that fsync (`commit`: group
//! commit), so throughput does not fall to the disk's fsync rate.
//!
//! Four keyspaces of the queue's database (the data dir's `store::Database`; the plugins'
//! kv store is a database of its own):
//!
//! * `queue.messages`: id → the raw message, queued or quarantined, with fjall's key-value
//!   separation so large bodies sit in blob files and compaction moves only small pointers;
//! * `queue.envelopes`: id → [`QueuedEnvelope`] (JSON), sender, recipients with their
//!   states, attempts, next attempt;
//! * `queue.due`: big-endian next-attempt millis ++ id → nothing; a range scan from the
//!   start yields what is due, soonest first; read once at open into [`Queue::due`]'s
//!   copy in memory (`schedule`), which every writer updates after its commit;
//! * `queue.quarantine`: id → [`QuarantinedMessage`] (JSON) for messages held by the
//!   filters' decision; they have no envelope or due entry until released.
//!
//! Files: `id` ([`QueueId`]), `keys` (key encodings), `record` (the serde records),
//! `commit` (the group committer), `quarantine` (quarantine operations), `select`
//! ([`Selection`]: messages by sender or recipient), `error`
//! ([`QueueError`]), `space` ([`FreeSpace`]: the room on the queue's disk against `[queue]
//! min_free`), `health` (whether the database still takes writes: fjall refuses every
//! write after one failed, see [`Queue::failure`]), `update` ([`Queue::modify`]: an
//! envelope read, changed and written back with its due entry, its removal and any
//! bounces in ONE fsynced batch; the operator's hold, release, flush and delete), `grouped`
//! ([`Queue::update`]: the same for async callers, many changes sharing one batch —
//! delivery outcomes), `summary` ([`QueueSummary`]), `schedule` (the due index in memory),
//! `books` (the counts and the schedule, kept by every writer), `metrics` (its gauges for
//! `/metrics`). Delivery itself is in
//! `crate::delivery`. Whoever changes an envelope's `next_attempt_ms` or `held` does it
//! through [`Queue::modify`], which moves the due entry in the same batch; a held message
//! has no due entry. Delivery removes a message only once [`QueuedEnvelope::is_complete`].

mod books;
mod bytes;
mod commit;
mod error;
mod grouped;
mod health;
mod id;
mod keys;
mod metrics;
mod quarantine;
mod record;
mod schedule;
mod select;
pub mod space;
mod summary;
mod update;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod update_tests;

use std::fmt;
use std::sync::Arc;

use fjall::{Keyspace, KeyspaceCreateOptions, KvSeparationOptions, OwnedWriteBatch};
use tracing::info;

pub use bytes::MessageBytes;
pub use commit::CommitStats;
pub use error::QueueError;
pub use id::{ParseQueueIdError, QueueId};
pub use quarantine::QuarantinedMessage;
pub use record::{NewMessage, QueuedEnvelope, RecipientRecord, RecipientState};
pub use select::Selection;
pub use space::FreeSpace;
pub use summary::QueueSummary;
pub use update::{OPERATOR_BATCH, OperatorAction, Settle};

use crate::domain::split_address;
use crate::store::Database;
use commit::{Committer, Entry, Placement};
use health::Health;

/// The keyspace of message bytes.
const MESSAGES: &str = "queue.messages";
/// The keyspace of envelopes.
const ENVELOPES: &str = "queue.envelopes";
/// The keyspace of the due index.
const DUE: &str = "queue.due";
/// The keyspace of quarantine records.
const QUARANTINE: &str = "queue.quarantine";

/// The memtable of the keyspaces of small records (envelopes, the due index, quarantine
/// records): each change rewrites a whole record, so a bulk operator pass over a long
/// queue fills fjall's default 64 MiB with versions readers never see again.
const SMALL_RECORDS_MEMTABLE: u64 = 8 << 20;

/// The options of the keyspaces of small records.
fn small_records() -> KeyspaceCreateOptions {
    KeyspaceCreateOptions::default().max_memtable_size(SMALL_RECORDS_MEMTABLE)
}

/// The largest message the queue stores: fjall's limit for one value (4 GiB - 1).
const MAX_MESSAGE_BYTES: u64 = u32::MAX as u64;

/// The queue: a cheap-to-clone handle on the queue's keyspaces and its group committer.
///
/// Open one per process (two would each commit on their own and share no fsyncs). The
/// committer stops when the last clone is dropped, after answering every message already
/// handed to it; that drop waits for the batch in progress.
///
/// The reading methods block on disk I/O (no fsync): from async code, call them through
/// `tokio::task::spawn_blocking`. [`Queue::enqueue`] is async and never blocks the caller's
/// thread.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

struct Inner {
    keyspaces: Keyspaces,
    committer: Committer,
    /// For the direct batches of `update` (delivery outcomes, operator commands).
    db: Database,
    /// Changes waiting to share a batch ([`Queue::update`]).
    group: grouped::Group,
    /// Wakes the delivery scheduler: a message was queued or became due.
    work: tokio::sync::Notify,
    /// The queue's counts and schedule, which every writer of an envelope updates after
    /// its commit.
    books: Arc<books::Books>,
    /// Counts operator flushes and releases, so delivery can forget what it learnt about
    /// unreachable destinations when an operator says "try now".
    flushes: std::sync::atomic::AtomicU64,
    /// Whether the database still takes writes (shared with the committer).
    health: Arc<Health>,
    /// The room on the disk against `[queue] min_free`.
    space: FreeSpace,
}

/// Handles on the queue's keyspaces.
#[derive(Clone)]
struct Keyspaces {
    messages: Keyspace,
    envelopes: Keyspace,
    due: Keyspace,
    quarantine: Keyspace,
}

impl Queue {
    /// Opens (creating if needed) the queue's keyspaces in `db` and starts the committer
    /// thread, with no reserve of disk space (as the CLI does on a stopped server's data
    /// dir). Blocks on disk I/O: call it at startup, or through `spawn_blocking`.
    pub fn open(db: Database) -> Result<Self, QueueError> {
        Self::open_with(db, FreeSpace::unlimited())
    }

    /// [`Queue::open`], keeping the room `space` says free on the disk: a new message that
    /// would eat into it is refused ([`QueueError::NoRoom`]), and SMTP and delivery ask it
    /// through [`Queue::space`].
    pub fn open_with(db: Database, space: FreeSpace) -> Result<Self, QueueError> {
        let open = |name, options: fn() -> KeyspaceCreateOptions| {
            db.keyspace_with(name, options)
                .map_err(|source| QueueError::Open { source })
        };
        let keyspaces = Keyspaces {
            messages: open(MESSAGES, || {
                KeyspaceCreateOptions::default()
                    .with_kv_separation(Some(KvSeparationOptions::default()))
            })?,
            envelopes: open(ENVELOPES, small_records)?,
            due: open(DUE, small_records)?,
            quarantine: open(QUARANTINE, small_records)?,
        };
        let books = Arc::new(books::Books {
            lock: std::sync::Mutex::new(()),
            tally: summary::Tally::default(),
            schedule: schedule::Schedule::load(&keyspaces.due)?,
        });
        let health = Arc::new(Health::default());
        let committer = Committer::start(
            db.clone(),
            keyspaces.clone(),
            Arc::clone(&books),
            Arc::clone(&health),
        )?;
        let queue = Self {
            inner: Arc::new(Inner {
                keyspaces,
                committer,
                db,
                group: grouped::Group::default(),
                books,
                work: tokio::sync::Notify::new(),
                flushes: std::sync::atomic::AtomicU64::new(0),
                health,
                space,
            }),
        };
        queue.inner.books.tally.count_all(&queue)?;
        let summary = queue.summary();
        info!(
            messages = summary.messages,
            held = summary.held,
            "queue opened"
        );
        Ok(queue)
    }

    /// Queues `message` (the raw bytes as received) with `envelope`, and returns its new id
    /// once the message, its envelope (every recipient pending, no attempt yet) and its
    /// due entry (due now) are on disk, fsynced in one atomic batch. Only then may SMTP
    /// answer `250`.
    ///
    /// On [`QueueError::DiskFull`] or [`QueueError::NoRoom`] answer `452 4.3.1`, on any
    /// other error `451 4.3.0`; nothing of the message is then visible in the queue. If the
    /// future is dropped after the message was handed to the committer, the message may
    /// still be queued.
    pub async fn enqueue(
        &self,
        envelope: NewMessage,
        message: impl Into<MessageBytes>,
    ) -> Result<QueueId, QueueError> {
        let message = message.into();
        let record = accept(envelope, message.as_bytes())?;
        self.make_room(record.size)?;
        let id = record.id;
        let encoded = encode(&record)?;
        self.inner
            .committer
            .commit(Entry {
                id,
                placement: Placement::Queue {
                    envelope: encoded,
                    next_attempt_ms: record.next_attempt_ms,
                    record: Box::new(record.clone()),
                },
                message,
            })
            .await?;
        self.wake();
        info!(
            queue_id = %id,
            rcpts = record.recipients.len(),
            size = record.size,
            "message queued"
        );
        Ok(id)
    }

    /// The envelope of `id`, or `None` if no such message is queued.
    pub fn envelope(&self, id: &QueueId) -> Result<Option<QueuedEnvelope>, QueueError> {
        let Some(value) = self.get(&self.inner.keyspaces.envelopes, ENVELOPES, id)? else {
            return Ok(None);
        };
        decode(&value, ENVELOPES, id).map(Some)
    }

    /// The raw bytes of message `id` as stored, queued or quarantined, or `None` if there
    /// is no such message.
    pub fn message(&self, id: &QueueId) -> Result<Option<Vec<u8>>, QueueError> {
        Ok(self
            .get(&self.inner.keyspaces.messages, MESSAGES, id)?
            .map(|value| value.to_vec()))
    }

    /// The ids of every queued message, oldest first (for `moat queue list` and tests).
    /// Reads every envelope key.
    pub fn ids(&self) -> Result<Vec<QueueId>, QueueError> {
        ids_in(&self.inner.keyspaces.envelopes, ENVELOPES)
    }

    /// How many messages are queued. Counts the envelope keys, so it takes time in
    /// proportion to the queue's length.
    pub fn len(&self) -> Result<u64, QueueError> {
        let len = self
            .inner
            .keyspaces
            .envelopes
            .len()
            .map_err(|source| QueueError::Read {
                keyspace: ENVELOPES,
                source,
            })?;
        Ok(u64::try_from(len).unwrap_or(u64::MAX))
    }

    /// Whether no message is queued.
    pub fn is_empty(&self) -> Result<bool, QueueError> {
        self.inner
            .keyspaces
            .envelopes
            .is_empty()
            .map_err(|source| QueueError::Read {
                keyspace: ENVELOPES,
                source,
            })
    }

    /// Up to `limit` messages whose next attempt is due at or before `now_ms` (unix
    /// milliseconds), soonest first, ties oldest first. Reads the due index's copy in
    /// memory, from its start to the first entry not yet due.
    pub fn due(&self, now_ms: u64, limit: usize) -> Result<Vec<QueueId>, QueueError> {
        Ok(self
            .inner
            .books
            .schedule
            .due(now_ms, &std::collections::HashSet::new(), limit))
    }

    /// Wakes whoever waits in [`Queue::work`] (the delivery scheduler): something was queued
    /// or became due. A wake with nobody waiting is kept for the next wait.
    pub fn wake(&self) {
        self.inner.work.notify_one();
    }

    /// How many times an operator flushed or released messages so far. Delivery stops
    /// treating a destination as unreachable once this number changes.
    pub fn flushes(&self) -> u64 {
        self.inner
            .flushes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes the update lock (see `Books::lock`) for a read-change-write of envelopes or
    /// quarantine records.
    fn lock_updates(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner.books.lock()
    }

    /// Counts an operator's flush or release (see [`Queue::flushes`]).
    pub(crate) fn count_flush(&self) {
        self.inner
            .flushes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Resolves when [`Queue::wake`] is called (or was called since the last wait).
    pub async fn work(&self) {
        self.inner.work.notified().await;
    }

    /// The time of the soonest due entry whose message is not in `skip` (unix
    /// milliseconds), or `None` if there is none. Reads the due index from its start past
    /// the entries skipped, so keep `skip` small (the messages being delivered).
    pub fn next_due(
        &self,
        skip: &std::collections::HashSet<QueueId>,
    ) -> Result<Option<u64>, QueueError> {
        Ok(self.inner.books.schedule.next(skip))
    }

    /// The group committer's counters: batches committed (= fsyncs) and the messages in
    /// them. `messages / batches` is how many sessions shared each fsync.
    pub fn stats(&self) -> CommitStats {
        let (update_batches, updates) = self.inner.group.counts();
        CommitStats {
            update_batches,
            updates,
            ..self.inner.committer.stats()
        }
    }

    /// The room on the queue's disk against `[queue] min_free`: SMTP asks it before a
    /// transaction, delivery before an attempt.
    pub fn space(&self) -> &FreeSpace {
        &self.inner.space
    }

    /// Why the queue's database refuses writes, once a write failed: fjall then refuses
    /// every later one until the database is opened again (a restart). `None` while it
    /// works.
    pub fn failure(&self) -> Option<&str> {
        self.inner.health.failure()
    }

    /// Resolves when a write of the queue's database fails (at once if one did).
    pub async fn failed(&self) {
        self.inner.health.failed().await;
    }

    /// Writes one durable batch that changes nothing a reader sees (the removal of a key no
    /// record has), to learn at start-up whether the database takes writes: an error here
    /// means nothing can be recorded, and the database is then failed as after any write.
    /// Blocks on an fsync.
    pub fn check_writable(&self) -> Result<(), QueueError> {
        let mut batch = self.inner.db.durable_batch();
        batch.remove(&self.inner.keyspaces.envelopes, keys::WRITE_PROBE_KEY);
        self.commit(batch)
    }

    /// Takes `size` bytes of the room on the disk for a new message, or refuses it.
    fn make_room(&self, size: u64) -> Result<(), QueueError> {
        self.inner
            .space
            .take(size)
            .map_err(|shortage| QueueError::NoRoom { shortage })
    }

    /// Commits `batch`; a failure is the database's failure for good (see `health`).
    fn commit(&self, batch: OwnedWriteBatch) -> Result<(), QueueError> {
        batch.commit().map_err(|source| {
            let error = QueueError::from_commit(Arc::new(source));
            self.inner.health.commit_failed(&error);
            error
        })
    }

    fn get(
        &self,
        keyspace: &Keyspace,
        name: &'static str,
        id: &QueueId,
    ) -> Result<Option<fjall::Slice>, QueueError> {
        keyspace
            .get(keys::id_key(id))
            .map_err(|source| QueueError::Read {
                keyspace: name,
                source,
            })
    }
}

/// The envelope of a message accepted now: checked (a recipient at least, each with a
/// domain; not too large), given its id, every recipient pending, due at once.
fn accept(envelope: NewMessage, message: &[u8]) -> Result<QueuedEnvelope, QueueError> {
    if envelope.recipients.is_empty() {
        return Err(QueueError::NoRecipients);
    }
    if let Some(recipient) = envelope
        .recipients
        .iter()
        .find(|r| split_address(r).is_none())
    {
        return Err(QueueError::RecipientWithoutDomain {
            recipient: recipient.clone(),
        });
    }
    let size = u64::try_from(message.len()).unwrap_or(u64::MAX);
    if size > MAX_MESSAGE_BYTES {
        return Err(QueueError::TooLarge {
            size,
            max: MAX_MESSAGE_BYTES,
        });
    }
    let id = QueueId::generate();
    Ok(QueuedEnvelope::accepted(
        id,
        id.timestamp_ms(),
        envelope,
        size,
    ))
}

/// `record` as stored: JSON.
fn encode<T: serde::Serialize>(record: &T) -> Result<Vec<u8>, QueueError> {
    serde_json::to_vec(record).map_err(|source| QueueError::Encode { source })
}

/// The record of `id` stored in `keyspace`, decoded.
fn decode<T: serde::de::DeserializeOwned>(
    value: &[u8],
    keyspace: &'static str,
    id: &QueueId,
) -> Result<T, QueueError> {
    serde_json::from_slice(value).map_err(|source| QueueError::CorruptRecord {
        keyspace,
        queue_id: *id,
        source,
    })
}

/// Every key of `keyspace` (named `name`) as a queue id, in order.
fn ids_in(keyspace: &Keyspace, name: &'static str) -> Result<Vec<QueueId>, QueueError> {
    keyspace
        .iter()
        .map(|guard| {
            let key = guard.key().map_err(|source| QueueError::Read {
                keyspace: name,
                source,
            })?;
            QueueId::from_slice(&key).ok_or(QueueError::CorruptKey {
                keyspace: name,
                len: key.len(),
            })
        })
        .collect()
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
