//! Why the database could not be opened or used.

use std::path::PathBuf;

/// Why the database could not be opened, a keyspace opened, or the journal synced.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database in `dir` could not be opened or recovered (permissions, disk error,
    /// another process holding it, data from an incompatible version).
    #[error("cannot open the database in {}: {source}", dir.display())]
    Open {
        /// The data directory.
        dir: PathBuf,
        /// fjall's reason.
        #[source]
        source: fjall::Error,
    },
    /// Another process (a running `moat serve`, say) holds the database in `dir`.
    #[error(
        "the data directory {} is in use by another moat process; stop it or pass --data-dir",
        dir.display()
    )]
    InUse {
        /// The data directory.
        dir: PathBuf,
    },
    /// A keyspace name fjall cannot take: empty, or longer than 255 bytes.
    #[error("invalid keyspace name {name:?}: it must be 1 to 255 bytes")]
    InvalidKeyspaceName {
        /// The name asked for.
        name: String,
    },
    /// The keyspace could not be opened or created.
    #[error("cannot open keyspace {name:?}: {source}")]
    Keyspace {
        /// The keyspace's name.
        name: String,
        /// fjall's reason.
        #[source]
        source: fjall::Error,
    },
    /// The journal could not be forced onto the disk.
    #[error("cannot sync the database to disk: {source}")]
    Sync {
        /// fjall's reason.
        #[source]
        source: fjall::Error,
    },
}
