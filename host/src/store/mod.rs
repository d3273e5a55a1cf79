//! Local persistent storage: the gateway's fjall databases, and the key-value storage the
//! plugins' `kv` capability (`wit/kv.wit`) stands on.
//!
//! A data directory holds two [`Database`]s: the directory itself, with the queue's
//! keyspaces (fsynced before every 250), and `data_dir/kv`, with one keyspace per plugin kv
//! namespace (synced every second, at shutdown and by `moat learn`). The plugins' state is
//! a database of its own because fjall holds a database's journal lock while it fsyncs: in
//! the queue's database, every plugin write waited behind the queue's fsyncs. Each is
//! opened once (`filter::assemble`); clones are cheap handles on it.
//!
//! The kv capability does not see fjall: it is written against [`KvBackend`] and
//! [`KvNamespace`], whose signatures hold only plain Rust types, so a shared backend (Redis
//! or Valkey, for several gateways learning together) can stand in for the embedded
//! [`FjallKv`] without a plugin noticing. [`QuotaNamespace`] enforces the operator's
//! [`KvQuota`] over any backend.
//!
//! * `error`: [`StoreError`], why the database could not be opened or used.
//! * `kv`: the storage traits and [`KvError`].
//! * `fjall_kv`: [`FjallKv`], the embedded backend.
//! * `redis_kv`: [`RedisKv`], the shared backend on Redis or Valkey; `redis_scripts` its
//!   atomic read-modify-writes, `redis_scan` its ordered scans.
//! * `redis_quarantine`: [`RedisQuarantine`], every gateway's quarantine seen and released
//!   from any gateway of a site.
//! * `quota`: [`KvQuota`] and [`QuotaNamespace`].
//! * `overlay`: [`OverlayKv`], live reads and throw-away writes (`moat check`).
//! * `counters`: the in-memory table of a namespace's id counters.
//! * `value_cache`: the in-memory cache of a namespace's values under string keys.

mod counters;
mod error;
mod fjall_kv;
mod kv;
mod overlay;
mod quota;
mod redis_kv;
mod redis_quarantine;
mod redis_scan;
mod redis_scripts;
mod value_cache;

#[cfg(test)]
mod fjall_kv_tests;
#[cfg(test)]
mod kv_contract_tests;
#[cfg(test)]
mod redis_kv_tests;

use std::path::{Path, PathBuf};

use fjall::{Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode};
use tracing::info;

pub use error::StoreError;
pub use fjall_kv::FjallKv;
pub use kv::{EntryChange, KvBackend, KvError, KvNamespace, QuotaLimit, ScanLimit};
pub use overlay::OverlayKv;
pub use quota::{KvQuota, QuotaNamespace};
pub use redis_kv::{RedisKv, RedisSettings};
pub use redis_quarantine::RedisQuarantine;

/// The longest keyspace name fjall accepts, in bytes (names must not be empty either).
pub(crate) const MAX_KEYSPACE_NAME_BYTES: usize = 255;

/// One fjall database of the gateway: the queue's (the data directory) or the plugins' kv
/// store (`data_dir/kv`). Cheap to clone; clones share the database. Calls on it and its
/// keyspaces block (disk I/O): from async code, make them through `spawn_blocking` when
/// they may be slow.
///
/// Writes reach the journal in the operating system's buffers when they return, so they
/// survive the process crashing; they are on disk (and survive the machine failing) only
/// after [`Database::sync`], which covers every keyspace of this database at once, and
/// none of the other's.
#[derive(Clone)]
pub struct Database {
    db: fjall::Database,
    dir: PathBuf,
}

impl Database {
    /// Opens the database in `dir`, creating the directory and the database if needed, and
    /// recovering from the journal after a crash. One process at a time may hold it open.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = fjall::Database::builder(dir)
            .open()
            .map_err(|source| match source {
                fjall::Error::Locked => StoreError::InUse {
                    dir: dir.to_path_buf(),
                },
                source => StoreError::Open {
                    dir: dir.to_path_buf(),
                    source,
                },
            })?;
        info!(dir = %dir.display(), keyspaces = db.keyspace_count(), "database opened");
        Ok(Self {
            db,
            dir: dir.to_path_buf(),
        })
    }

    /// The directory the database lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The names of its keyspaces.
    pub(crate) fn keyspace_names(&self) -> Vec<String> {
        self.db
            .list_keyspace_names()
            .iter()
            .map(|name| name.to_string())
            .collect()
    }

    /// Opens the keyspace `name` (1 to 255 bytes, any characters), creating it with
    /// default options if it does not exist yet.
    pub(crate) fn keyspace(&self, name: &str) -> Result<Keyspace, StoreError> {
        self.keyspace_with(name, KeyspaceCreateOptions::default)
    }

    /// Opens the keyspace `name` (1 to 255 bytes), creating it with `options` if it does
    /// not exist yet. An existing keyspace keeps the options it was created with: fjall
    /// stores them with the keyspace (the queue's message bodies use this for key-value
    /// separation).
    pub(crate) fn keyspace_with(
        &self,
        name: &str,
        options: impl FnOnce() -> KeyspaceCreateOptions,
    ) -> Result<Keyspace, StoreError> {
        if name.is_empty() || name.len() > MAX_KEYSPACE_NAME_BYTES {
            return Err(StoreError::InvalidKeyspaceName {
                name: name.to_owned(),
            });
        }
        self.db
            .keyspace(name, options)
            .map_err(|source| StoreError::Keyspace {
                name: name.to_owned(),
                source,
            })
    }

    /// A write batch across keyspaces whose commit is atomic and durable: `commit` writes
    /// the batch to the journal, forces the journal onto the disk (fsync), and only then
    /// makes the writes visible to readers. A batch whose write or fsync fails is never
    /// visible, and fjall then refuses every later write (`fjall::Error::Poisoned`) until
    /// the database is reopened.
    pub(crate) fn durable_batch(&self) -> OwnedWriteBatch {
        self.db.batch().durability(Some(PersistMode::SyncAll))
    }

    /// A write batch across keyspaces whose commit is atomic but not synced: it reaches
    /// the journal in the operating system's buffers, so it survives the process crashing
    /// but not the machine failing. For changes whose loss only repeats work (a deferral:
    /// the message is tried again sooner), never for ones that decide a message's fate.
    pub(crate) fn buffered_batch(&self) -> OwnedWriteBatch {
        self.db.batch().durability(Some(PersistMode::Buffer))
    }

    /// A write batch across keyspaces whose commit is atomic but not forced onto the disk:
    /// it is durable at the next sync of this database ([`Database::sync`]), like the
    /// single writes of the kv store.
    pub(crate) fn batch(&self) -> OwnedWriteBatch {
        self.db.batch()
    }

    /// Forces every write made so far, in every keyspace of this database, onto the disk
    /// (fsync).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.db
            .persist(PersistMode::SyncAll)
            .map_err(|source| StoreError::Sync { source })
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_creating_the_directory_and_keeps_data_across_reopening() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("nested").join("db");
        {
            let db = Database::open(&dir).expect("open new database");
            assert_eq!(db.dir(), dir);
            let keyspace = db.keyspace("queue").expect("keyspace");
            keyspace.insert("id-1", "message").expect("insert");
            db.sync().expect("sync");
        }
        let db = Database::open(&dir).expect("reopen database");
        let keyspace = db.keyspace("queue").expect("keyspace");
        let value = keyspace.get("id-1").expect("get");
        assert_eq!(value.as_deref(), Some(&b"message"[..]));
    }

    #[test]
    fn keyspace_names_must_be_1_to_255_bytes() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let db = Database::open(tmp.path()).expect("open database");
        assert!(matches!(
            db.keyspace(""),
            Err(StoreError::InvalidKeyspaceName { .. })
        ));
        assert!(matches!(
            db.keyspace(&"x".repeat(256)),
            Err(StoreError::InvalidKeyspaceName { .. })
        ));
        assert!(db.keyspace(&"x".repeat(255)).is_ok());
        assert!(db.keyspace("kv.any-name_with/odd:chars é").is_ok());
    }

    #[test]
    fn a_second_open_of_the_same_directory_fails() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let _db = Database::open(tmp.path()).expect("open database");
        let second = Database::open(tmp.path());
        assert!(
            matches!(second, Err(StoreError::InUse { .. })),
            "{second:?}"
        );
    }
}
