//! The users file: the submission accounts, their argon2id password hashes and the
//! addresses and domains each may send as. `moat user` edits it (under a lock, replaced
//! atomically); the server reads it (see `directory`).
//!
//! ```toml
//! [[user]]
//! address = "alice@example.org"
//! password = "$argon2id$v=19$m=19456,t=2,p=1$..."
//! may_send_as = ["sales@example.org", "example.net"]
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::password;
use crate::domain::{Domain, split_address};

/// The first lines of every users file Moat writes.
const HEADER: &str = "# Moat's submission accounts, written by `moat user`; a running server picks up\n\
# changes by itself. `password` is an argon2id hash; `may_send_as` lists further addresses\n\
# (`sales@example.org`) and whole domains (`example.net`) the account may send as.\n\n";

/// One account.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// `address = "alice@example.org"`: the login name, and an address the account owns.
    pub address: String,
    /// `password = "$argon2id$..."`: the PHC string of the password.
    pub password: String,
    /// `may_send_as = ["sales@example.org", "example.net"]`: further addresses, and whole
    /// domains, the account may use as envelope sender and in From.
    #[serde(default)]
    pub may_send_as: Vec<String>,
}

impl Account {
    /// Whether this account may send as `address`: its own address or a listed one (a
    /// `+detail` suffix on the local part allowed), or any address of a listed domain.
    /// Local parts compare case-insensitively (ASCII); domains in their one spelling
    /// (`crate::domain`: any case, U-labels or A-labels), the spelling mail is routed by.
    /// An address whose domain does not normalize is owned by nobody.
    pub fn owns(&self, address: &str) -> bool {
        let Some((local, domain)) = split_address(address) else {
            return false;
        };
        let Ok(domain) = Domain::parse_name(domain) else {
            return false;
        };
        let base = local.split_once('+').map_or(local, |(base, _)| base);
        let same_domain = |owned: &str| Domain::parse_name(owned).is_ok_and(|d| d == domain);
        std::iter::once(self.address.as_str())
            .chain(self.may_send_as.iter().map(String::as_str))
            .any(|entry| match split_address(entry) {
                Some((owned_local, owned_domain)) => {
                    same_domain(owned_domain)
                        && (owned_local.eq_ignore_ascii_case(local)
                            || owned_local.eq_ignore_ascii_case(base))
                }
                None => same_domain(entry.trim_start_matches('@')),
            })
    }
}

/// Why the users file could not be read, changed or written.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML of the users-file shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// An entry is wrong; `key` names it (`user[2].password`).
    #[error("{path}: {key}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// `moat user add` of an account that exists.
    #[error("{0} already exists (change its password with `moat user passwd`)")]
    Exists(String),
    /// `moat user passwd|remove` of an account that does not exist.
    #[error("there is no account {0}")]
    NoSuchAccount(String),
}

/// The whole users file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UsersFile {
    /// `[[user]]`: the accounts.
    #[serde(default)]
    pub user: Vec<Account>,
}

impl UsersFile {
    /// Reads and validates the file at `path`; a file that does not exist has no accounts.
    pub fn load(path: &Path) -> Result<Self, UsersError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(UsersError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let file: Self = toml::from_str(&text).map_err(|e| UsersError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        file.validate(path)?;
        Ok(file)
    }

    fn validate(&self, path: &Path) -> Result<(), UsersError> {
        let invalid = |key: String, reason: &str| UsersError::Invalid {
            path: path.to_owned(),
            key,
            reason: reason.to_owned(),
        };
        for (i, account) in self.user.iter().enumerate() {
            if !is_address(&account.address) {
                return Err(invalid(format!("user[{i}].address"), "not local@domain"));
            }
            if self.user[..i]
                .iter()
                .any(|other| other.address.eq_ignore_ascii_case(&account.address))
            {
                return Err(invalid(format!("user[{i}].address"), "listed twice"));
            }
            if !password::is_valid_hash(&account.password) {
                return Err(invalid(
                    format!("user[{i}].password"),
                    "not an argon2 hash (set it with `moat user passwd`)",
                ));
            }
            for (j, entry) in account.may_send_as.iter().enumerate() {
                if !is_address(entry) && !is_domain(entry.trim_start_matches('@')) {
                    return Err(invalid(
                        format!("user[{i}].may_send_as[{j}]"),
                        "neither an address nor a domain",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The account that logs in as `login` (case-insensitive).
    pub fn find(&self, login: &str) -> Option<&Account> {
        self.user
            .iter()
            .find(|a| a.address.eq_ignore_ascii_case(login))
    }

    /// Writes the file: to a temporary file beside it, fsynced, then renamed over it (a
    /// reader sees the old file or the new one, never half of one), readable only by its
    /// owner since it holds password hashes.
    pub fn save(&self, path: &Path) -> Result<(), UsersError> {
        let io = |source| UsersError::Io {
            path: path.to_owned(),
            source,
        };
        let text = toml::to_string(self).map_err(|e| UsersError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut temp = tempfile::Builder::new()
            .prefix(".users-")
            .tempfile_in(dir)
            .map_err(io)?;
        temp.write_all(HEADER.as_bytes()).map_err(io)?;
        temp.write_all(text.as_bytes()).map_err(io)?;
        temp.as_file().sync_all().map_err(io)?;
        temp.persist(path).map_err(|e| io(e.error))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        Ok(())
    }

    /// Loads the file at `path`, applies `change` and saves it, holding a lock on
    /// `path.lock` so two `moat user` commands never lose each other's change.
    pub fn edit<T>(
        path: &Path,
        change: impl FnOnce(&mut Self) -> Result<T, UsersError>,
    ) -> Result<T, UsersError> {
        let io = |source| UsersError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        lock.lock().map_err(io)?;
        let mut file = Self::load(path)?;
        let result = change(&mut file)?;
        file.save(path)?;
        Ok(result)
    }

    /// Adds an account; refuses one that exists.
    pub fn add(&mut self, account: Account) -> Result<(), UsersError> {
        if self.find(&account.address).is_some() {
            return Err(UsersError::Exists(account.address));
        }
        self.user.push(account);
        Ok(())
    }

    /// The account `login`, to change.
    pub fn get_mut(&mut self, login: &str) -> Result<&mut Account, UsersError> {
        self.user
            .iter_mut()
            .find(|a| a.address.eq_ignore_ascii_case(login))
            .ok_or_else(|| UsersError::NoSuchAccount(login.to_owned()))
    }

    /// Removes the account `login`.
    pub fn remove(&mut self, login: &str) -> Result<Account, UsersError> {
        let index = self
            .user
            .iter()
            .position(|a| a.address.eq_ignore_ascii_case(login))
            .ok_or_else(|| UsersError::NoSuchAccount(login.to_owned()))?;
        Ok(self.user.remove(index))
    }
}

/// `local@domain` with no spaces or angle brackets.
pub fn is_address(text: &str) -> bool {
    split_address(text).is_some_and(|(local, domain)| {
        !local.contains(char::is_whitespace) && !local.contains(['<', '>']) && is_domain(domain)
    })
}

/// A domain name: one that has a spelling under `crate::domain` (UTS 46; any case,
/// U-labels or A-labels, one trailing dot), not an address literal.
pub fn is_domain(text: &str) -> bool {
    Domain::parse_name(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Account {
        Account {
            address: "alice@example.org".into(),
            password: password::hash("password1").unwrap(),
            may_send_as: vec!["sales@example.org".into(), "example.net".into()],
        }
    }

    #[test]
    fn an_account_owns_its_address_its_listed_ones_and_its_domains() {
        let alice = alice();
        for owned in [
            "alice@example.org",
            "ALICE@Example.ORG",
            "alice+lists@example.org",
            "sales@example.org",
            "anyone@example.net",
        ] {
            assert!(alice.owns(owned), "{owned}");
        }
        for foreign in [
            "bob@example.org",
            "alice@example.com",
            "alice@sub.example.org",
            "anyone@sub.example.net",
            "alice",
            "",
            "@example.org",
            "alicex@example.org",
        ] {
            assert!(!alice.owns(foreign), "{foreign}");
        }
    }

    #[test]
    fn ownership_compares_domains_in_their_one_spelling() {
        let account = Account {
            address: "alice@b\u{FC}cher.test".into(),
            password: String::new(),
            may_send_as: vec!["BAN\u{212A}.test".into(), "sales@Example.ORG.".into()],
        };
        for owned in [
            "alice@xn--bcher-kva.test",
            "Alice@B\u{DC}CHER.test",
            "alice+x@bu\u{308}cher.test",
            "anyone@bank.test",
            "anyone@\u{FF42}\u{FF41}\u{FF4E}\u{FF4B}.test",
            "sales@example.org",
            "sales@EXAMPLE.org.",
        ] {
            assert!(account.owns(owned), "{owned}");
        }
        for foreign in [
            "alice@bucher.test",
            "anyone@b\u{3B1}nk.test",
            "anyone@ban\u{200D}k.test",
            "sales@example.org.evil",
            "alice@[192.0.2.1]",
        ] {
            assert!(!account.owns(foreign), "{foreign}");
        }
    }

    #[test]
    fn edits_are_saved_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        assert_eq!(UsersFile::load(&path).unwrap(), UsersFile::default());
        UsersFile::edit(&path, |f| f.add(alice())).unwrap();
        let error = UsersFile::edit(&path, |f| f.add(alice())).unwrap_err();
        assert!(matches!(error, UsersError::Exists(_)), "{error}");
        let loaded = UsersFile::load(&path).unwrap();
        assert_eq!(loaded.user, vec![alice_with(&loaded.user[0].password)]);
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("# Moat")
        );
        UsersFile::edit(&path, |f| f.remove("ALICE@example.org")).unwrap();
        assert!(UsersFile::load(&path).unwrap().user.is_empty());
        assert!(matches!(
            UsersFile::edit(&path, |f| f.remove("alice@example.org")),
            Err(UsersError::NoSuchAccount(_))
        ));
    }

    fn alice_with(hash: &str) -> Account {
        Account {
            password: hash.to_owned(),
            ..alice()
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_saved_file_is_readable_only_by_its_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        UsersFile::edit(&path, |f| f.add(alice())).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }

    #[test]
    fn invalid_entries_are_named_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let hash = password::hash("password1").unwrap();
        for (text, key) in [
            (
                "[[user]]\naddress = \"alice\"\npassword = \"x\"\n".to_owned(),
                "user[0].address",
            ),
            (
                "[[user]]\naddress = \"a@b.org\"\npassword = \"plain\"\n".to_owned(),
                "user[0].password",
            ),
            (
                format!(
                    "[[user]]\naddress = \"a@b.org\"\npassword = \"{hash}\"\n\
                     may_send_as = [\"not a domain\"]\n"
                ),
                "user[0].may_send_as[0]",
            ),
            (
                format!(
                    "[[user]]\naddress = \"a@b.org\"\npassword = \"{hash}\"\n\
                     [[user]]\naddress = \"A@b.org\"\npassword = \"{hash}\"\n"
                ),
                "user[1].address",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let error = UsersFile::load(&path).unwrap_err().to_string();
            assert!(error.contains(key), "{error} should name {key}");
        }
        std::fs::write(&path, "[[user]]\nname = 1\n").unwrap();
        assert!(matches!(
            UsersFile::load(&path),
            Err(UsersError::Parse { .. })
        ));
    }
}
