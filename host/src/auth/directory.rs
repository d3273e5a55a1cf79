//! The server's view of the users file: read at start, and read again whenever the file
//! has changed (checked at each login, a `stat` away), so `moat user add` takes effect
//! without a restart. A file that no longer parses is reported and the last good accounts
//! stay in force: a typo never locks every user out.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::password;
use super::users::{Account, UsersFile};

/// What identifies one version of the file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(&meta),
        })
    }
}

struct Loaded {
    stamp: Option<FileStamp>,
    users: Arc<UsersFile>,
}

/// The accounts in force, from the users file.
pub struct UserDirectory {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

impl UserDirectory {
    /// Reads the users file at `path` (none there: no accounts yet).
    pub fn open(path: PathBuf) -> Result<Self, super::UsersError> {
        let stamp = FileStamp::of(&path);
        let users = Arc::new(UsersFile::load(&path)?);
        Ok(Self {
            path,
            loaded: Mutex::new(Loaded { stamp, users }),
        })
    }

    /// The file this directory reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The accounts as the file now has them.
    pub fn current(&self) -> Arc<UsersFile> {
        let stamp = FileStamp::of(&self.path);
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if loaded.stamp != stamp {
            match UsersFile::load(&self.path) {
                Ok(users) => {
                    tracing::info!(path = %self.path.display(), accounts = users.user.len(), "users file read");
                    loaded.users = Arc::new(users);
                }
                Err(error) => {
                    tracing::error!(%error, "users file not read again; the accounts read before stay in force");
                }
            }
            loaded.stamp = stamp;
        }
        Arc::clone(&loaded.users)
    }

    /// The account `login` if `password` is its password. Spends one argon2 verification
    /// whether or not the account exists (no timing difference to probe names with); runs
    /// on a blocking thread.
    pub async fn verify(&self, login: &str, password: &str) -> Option<Account> {
        let account = self.current().find(login).cloned();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || match account {
            Some(account) if password::verify(&password, &account.password) => Some(account),
            Some(_) => None,
            None => {
                password::verify_nothing(&password);
                None
            }
        })
        .await
        .ok()
        .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(address: &str, password: &str) -> Account {
        Account {
            address: address.into(),
            password: password::hash(password).unwrap(),
            may_send_as: Vec::new(),
        }
    }

    #[tokio::test]
    async fn accounts_added_to_the_file_log_in_without_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let directory = UserDirectory::open(path.clone()).unwrap();
        assert!(
            directory
                .verify("alice@example.org", "password1")
                .await
                .is_none()
        );
        UsersFile::edit(&path, |f| f.add(account("alice@example.org", "password1"))).unwrap();
        let alice = directory.verify("Alice@example.org", "password1").await;
        assert_eq!(alice.unwrap().address, "alice@example.org");
        assert!(
            directory
                .verify("alice@example.org", "password2")
                .await
                .is_none()
        );
        UsersFile::edit(&path, |f| f.remove("alice@example.org").map(drop)).unwrap();
        assert!(
            directory
                .verify("alice@example.org", "password1")
                .await
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_broken_file_keeps_the_accounts_read_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        UsersFile::edit(&path, |f| f.add(account("alice@example.org", "password1"))).unwrap();
        let directory = UserDirectory::open(path.clone()).unwrap();
        std::fs::write(&path, "[[user]\nbroken").unwrap();
        assert!(
            directory
                .verify("alice@example.org", "password1")
                .await
                .is_some()
        );
    }
}
