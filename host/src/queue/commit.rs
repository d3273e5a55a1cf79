//! Group commit: many SMTP sessions enqueue at once and share one fsync.
//!
//! One committer thread owns every write of a new message, queued or quarantined. Sessions
//! hand it a request (the id, the encoded envelope or quarantine record, the message bytes)
//! over a bounded channel and wait on a oneshot. The thread takes everything waiting, up to
//! [`BATCH_MAX_MESSAGES`] messages or [`BATCH_MAX_BYTES`], writes it as ONE atomic fjall
//! batch committed with `PersistMode::SyncAll`, then answers every waiter of the batch with
//! the same outcome.
//! While one batch is being fsynced, the next one gathers in the channel, so the number of
//! fsyncs follows the disk's fsync rate, not the message rate; no timer delays a lone
//! message.
//!
//! Why a dedicated std thread and not a tokio task: the commit blocks for the fsync, which
//! must not happen on a tokio worker; a task would have to hop into `spawn_blocking` for
//! every batch anyway, while a thread owns the blocking loop outright, needs no runtime to
//! exist when the queue is opened or closed, and takes no slot of the blocking pool for
//! the life of the process. The channel is tokio's, so async senders wait without
//! blocking when it is full (back-pressure), and the thread receives with `blocking_recv`.
//!
//! What fjall guarantees (fjall 3.1, `OwnedWriteBatch::commit`): the batch is written to
//! the journal between a start marker and an end marker with a checksum, the journal is
//! fsynced, and only then are the writes applied to the memtables and made visible, all
//! under the journal lock. So a batch that fails is never visible in this process: a
//! failed write or fsync also poisons the database, and every later write fails with
//! `Poisoned` until the process restarts (the failure goes to the queue's `Health`, which
//! the server watches). On recovery, a batch without its end marker or with a bad checksum
//! is discarded whole. One caveat: if the write or fsync failed, bytes of the batch may
//! still have reached the disk (fjall's buffer is written out when the database closes),
//! and the whole batch may then reappear after a restart; its senders were answered `4xx`
//! and will send again, so the worst case is a duplicate, never a loss or a partial
//! message.
//!
//! Dropping the [`Committer`] closes the channel; the thread commits what is already in it,
//! answers those waiters, and exits, and the drop waits for that.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, debug_span, error, warn};

use super::Keyspaces;
use super::books::Books;
use super::error::QueueError;
use super::health::Health;
use super::id::QueueId;
use super::keys;
use crate::store::Database;

/// The most messages in one batch: bounds the work (and the wait) behind one fsync.
pub(super) const BATCH_MAX_MESSAGES: usize = 512;

/// A batch closes once it holds this many bytes of messages and records (or when the
/// next message would pass it), so one fsync never carries an unbounded journal write. A
/// single larger message still goes, alone.
pub(super) const BATCH_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Requests that may wait for the committer before senders wait in turn: two full batches.
const CHANNEL_CAPACITY: usize = 2 * BATCH_MAX_MESSAGES;

/// Counters of the committer's work, for benchmarks and the admin endpoint.
///
/// `messages / batches` is the mean group size; each batch is one fsync. Only committed
/// batches count; failed ones are logged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Batches committed, each with one fsync of the journal.
    pub batches: u64,
    /// Messages committed in those batches.
    pub messages: u64,
    /// Batches of changes to queued messages written through [`super::Queue::update`]
    /// (delivery outcomes): one write each, fsynced when a change in it decides something.
    pub update_batches: u64,
    /// Changes in those batches (a change to a message no longer queued is not counted).
    pub updates: u64,
}

/// One message to commit: what goes into the batch for it.
pub(super) struct Entry {
    /// The message's id: the key of its bytes and its record.
    pub(super) id: QueueId,
    /// Where the message goes, and its record there, already encoded.
    pub(super) placement: Placement,
    /// The message as stored.
    pub(super) message: super::MessageBytes,
}

/// Where a new message goes besides its bytes.
pub(super) enum Placement {
    /// Into the delivery queue: its envelope, and its due entry at `next_attempt_ms`.
    Queue {
        /// The encoded [`super::QueuedEnvelope`].
        envelope: Vec<u8>,
        /// When the first attempt is due.
        next_attempt_ms: u64,
        /// The envelope itself, for the queue's counts once committed.
        record: Box<super::QueuedEnvelope>,
    },
    /// Into quarantine: its record, and no due entry.
    Quarantine {
        /// The encoded [`super::QuarantinedMessage`].
        record: Vec<u8>,
    },
}

impl Entry {
    /// The bytes this entry adds to a batch.
    fn weight(&self) -> usize {
        let placement = match &self.placement {
            Placement::Queue { envelope, .. } => envelope.len() + keys::DUE_KEY_LEN,
            Placement::Quarantine { record } => record.len(),
        };
        self.message.len() + 2 * QueueId::LEN + placement
    }
}

/// An entry and where its outcome goes.
struct Request {
    entry: Entry,
    done: oneshot::Sender<Result<(), QueueError>>,
}

impl Request {
    fn weight(&self) -> usize {
        self.entry.weight()
    }
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    messages: AtomicU64,
}

/// The handle on the committer thread: send requests, read the counters, stop on drop.
pub(super) struct Committer {
    /// `None` only while dropping, to close the channel before joining the thread.
    sender: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl Committer {
    /// Starts the committer thread, writing into `keyspaces` of `db`.
    /// Each committed envelope is added to `books`; a failed batch is told to `health`.
    pub(super) fn start(
        db: Database,
        keyspaces: Keyspaces,
        books: Arc<Books>,
        health: Arc<Health>,
    ) -> Result<Self, QueueError> {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let counters = Arc::new(Counters::default());
        let worker = Worker {
            receiver,
            carried: None,
            db,
            keyspaces,
            counters: Arc::clone(&counters),
            books,
            health,
        };
        let thread = std::thread::Builder::new()
            .name("queue-commit".to_owned())
            .spawn(move || worker.run())
            .map_err(|source| QueueError::Spawn { source })?;
        Ok(Self {
            sender: Some(sender),
            thread: Some(thread),
            counters,
        })
    }

    /// Hands `entry` to the committer and waits until its batch is on disk (or failed).
    ///
    /// If the caller stops waiting after the request was sent, the message may still be
    /// committed: the committer logs it as queued without a waiter.
    pub(super) async fn commit(&self, entry: Entry) -> Result<(), QueueError> {
        let (done, outcome) = oneshot::channel();
        let sender = self.sender.as_ref().ok_or(QueueError::CommitterStopped)?;
        sender
            .send(Request { entry, done })
            .await
            .map_err(|_| QueueError::CommitterStopped)?;
        outcome.await.map_err(|_| QueueError::CommitterStopped)?
    }

    /// The counters so far.
    pub(super) fn stats(&self) -> CommitStats {
        CommitStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            messages: self.counters.messages.load(Ordering::Relaxed),
            ..CommitStats::default()
        }
    }
}

impl Drop for Committer {
    /// Closes the channel and waits for the thread to commit and answer what was already
    /// sent (at most a few batches).
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            error!("queue commit thread panicked");
        }
    }
}

/// The committer thread's state.
struct Worker {
    receiver: mpsc::Receiver<Request>,
    /// A request taken from the channel that did not fit the last batch: the next one
    /// starts with it.
    carried: Option<Request>,
    db: Database,
    keyspaces: Keyspaces,
    counters: Arc<Counters>,
    books: Arc<Books>,
    health: Arc<Health>,
}

impl Worker {
    /// Commits batches until the channel is closed and drained.
    fn run(mut self) {
        while let Some(batch) = self.next_batch() {
            self.commit(batch);
        }
        debug!("queue commit thread stopped");
    }

    /// Waits for a request, then takes every other one already waiting, within the
    /// bounds. `None` once every sender is gone and nothing is left.
    fn next_batch(&mut self) -> Option<Vec<Request>> {
        let first = match self.carried.take() {
            Some(request) => request,
            None => self.receiver.blocking_recv()?,
        };
        let mut bytes = first.weight();
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX_MESSAGES && bytes < BATCH_MAX_BYTES {
            let Ok(request) = self.receiver.try_recv() else {
                break;
            };
            if bytes + request.weight() > BATCH_MAX_BYTES {
                self.carried = Some(request);
                break;
            }
            bytes += request.weight();
            batch.push(request);
        }
        Some(batch)
    }

    /// Writes `batch` as one atomic, fsynced fjall batch and answers each waiter.
    fn commit(&self, batch: Vec<Request>) {
        let messages = batch.len();
        let bytes: usize = batch.iter().map(Request::weight).sum();
        let _span = debug_span!("queue.commit", messages, bytes).entered();

        let mut write = self.db.durable_batch();
        let mut waiters = Vec::with_capacity(messages);
        let mut queued = Vec::with_capacity(messages);
        for Request { entry, done } in batch {
            let key = keys::id_key(&entry.id);
            write.insert(&self.keyspaces.messages, key, entry.message.into_slice());
            match entry.placement {
                Placement::Queue {
                    envelope,
                    next_attempt_ms,
                    record,
                } => {
                    let due = keys::due_key(next_attempt_ms, &entry.id);
                    write.insert(&self.keyspaces.envelopes, key, envelope);
                    write.insert(&self.keyspaces.due, due, Vec::new());
                    queued.push(record);
                }
                Placement::Quarantine { record } => {
                    write.insert(&self.keyspaces.quarantine, key, record);
                }
            }
            waiters.push((entry.id, done));
        }

        let started = Instant::now();
        // Under the update lock, so that no change to these messages reaches the books
        // before their arrival does.
        let guard = self.books.lock();
        match write.commit() {
            Ok(()) => {
                for record in &queued {
                    self.books.changed(None, Some(record));
                }
                drop(guard);
                self.counters.batches.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .messages
                    .fetch_add(messages as u64, Ordering::Relaxed);
                debug!(
                    elapsed_us = started.elapsed().as_micros(),
                    "queue batch committed"
                );
                for (queue_id, done) in waiters {
                    if done.send(Ok(())).is_err() {
                        warn!(%queue_id, "message queued but its sender stopped waiting");
                    }
                }
            }
            Err(source) => {
                let source = Arc::new(source);
                self.health
                    .commit_failed(&QueueError::from_commit(Arc::clone(&source)));
                warn!(error = %source, messages, "queue batch failed; its messages were not queued");
                for (_, done) in waiters {
                    // A waiter that is gone has nothing left to tell.
                    let _ = done.send(Err(QueueError::from_commit(Arc::clone(&source))));
                }
            }
        }
    }
}
