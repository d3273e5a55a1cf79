//! Giving up root: a server started as root (to bind ports 25, 465 and 587) switches to
//! `[server] user` and `group` once its listeners are bound, before it reads a message or
//! opens its data dir, so neither a bug in Moat nor the OCR engine it runs ever handles
//! mail as root. Under systemd, run as the user from the start with
//! `AmbientCapabilities=CAP_NET_BIND_SERVICE` instead (`examples/moat.service`).

use std::ffi::{CStr, CString};
use std::path::Path;

/// Why the switch did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// No such user in the system's user database.
    #[error("server.user: no user `{0}` on this host")]
    NoUser(String),
    /// No such group.
    #[error("server.group: no group `{0}` on this host")]
    NoGroup(String),
    /// Only root can switch users.
    #[error(
        "server.user: moat runs as uid {uid}, not root, and cannot switch to `{user}` (start it as root, or as `{user}`)"
    )]
    NotRoot {
        /// The user asked for.
        user: String,
        /// Who moat runs as.
        uid: u32,
    },
    /// A system call refused.
    #[error("cannot switch to {what}: {source}")]
    Switch {
        /// Which step.
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The data dir could not be handed to the user.
    #[error("cannot give the data directory {dir} to `{user}`: {source}")]
    DataDir {
        /// The directory.
        dir: String,
        /// The user.
        user: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The account a server runs as after start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user's name, for messages.
    pub user: String,
    /// Its uid.
    pub uid: u32,
    /// The gid to run with (`group`, else the user's primary group).
    pub gid: u32,
}

impl Account {
    /// Looks up `user` (and `group`, if given) in the system's databases.
    pub fn lookup(user: &str, group: Option<&str>) -> Result<Self, PrivilegeError> {
        let (uid, primary_gid) = user_ids(user)?;
        let gid = match group {
            Some(group) => group_id(group)?,
            None => primary_gid,
        };
        Ok(Self {
            user: user.to_owned(),
            uid,
            gid,
        })
    }

    /// Switches this process (every thread) to the account, for good: supplementary
    /// groups dropped, then the gid, then the uid. Returns without doing anything when
    /// already running as it.
    pub fn switch_to(&self) -> Result<(), PrivilegeError> {
        // SAFETY: getuid/geteuid read the process's credentials; they cannot fail.
        let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
        if uid == self.uid && euid == self.uid {
            return Ok(());
        }
        if euid != 0 {
            return Err(PrivilegeError::NotRoot {
                user: self.user.clone(),
                uid: euid,
            });
        }
        let gid = self.gid;
        // SAFETY: setgroups reads one gid from a valid pointer; setgid/setuid take plain
        // integers. glibc applies each to every thread of the process.
        let steps: [(&'static str, libc::c_int); 3] = unsafe {
            [
                ("the group list", libc::setgroups(1, &gid)),
                ("the group", libc::setgid(gid)),
                ("the user", libc::setuid(self.uid)),
            ]
        };
        for (what, result) in steps {
            if result != 0 {
                return Err(PrivilegeError::Switch {
                    what,
                    source: std::io::Error::last_os_error(),
                });
            }
        }
        Ok(())
    }

    /// Makes `dir` (the data dir) belong to the account, so that it can keep using it
    /// after the switch. Only the directory itself: what is inside was made by the account
    /// already, or by an older run as root, which the operator fixes (`chown -R`) when the
    /// server says so.
    pub fn own_dir(&self, dir: &Path) -> Result<(), PrivilegeError> {
        std::os::unix::fs::chown(dir, Some(self.uid), Some(self.gid)).map_err(|source| {
            PrivilegeError::DataDir {
                dir: dir.display().to_string(),
                user: self.user.clone(),
                source,
            }
        })
    }
}

/// Whether binding `port` needs privilege (`CAP_NET_BIND_SERVICE`): below the kernel's
/// `net.ipv4.ip_unprivileged_port_start`, 1024 unless changed. Nobody else can bind such a
/// port between Moat's bind and its listen, so only these are bound before Moat is ready.
pub fn is_privileged_port(port: u16) -> bool {
    port != 0 && port < unprivileged_port_start()
}

/// `net.ipv4.ip_unprivileged_port_start`, or 1024 where the kernel does not say.
fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(1024)
}

/// Whether the process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid reads the process's credentials; it cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The uid and primary gid of `user`.
fn user_ids(user: &str) -> Result<(u32, u32), PrivilegeError> {
    let name = CString::new(user).map_err(|_| PrivilegeError::NoUser(user.to_owned()))?;
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; the buffer's length is passed with it;
    // getpwnam_r is the thread-safe lookup.
    let status = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if status != 0 || found.is_null() {
        return Err(PrivilegeError::NoUser(user.to_owned()));
    }
    Ok((entry.pw_uid, entry.pw_gid))
}

/// The gid of `group`.
fn group_id(group: &str) -> Result<u32, PrivilegeError> {
    let name = CString::new(group).map_err(|_| PrivilegeError::NoGroup(group.to_owned()))?;
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 64 * 1024];
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in `user_ids`, for getgrnam_r.
    let status = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if status != 0 || found.is_null() {
        return Err(PrivilegeError::NoGroup(group.to_owned()));
    }
    // The name is checked back, so a buffer problem cannot pass for another group.
    // SAFETY: gr_name points into `buffer`, NUL-terminated, as getgrnam_r filled it.
    let matched = unsafe { CStr::from_ptr(entry.gr_name) } == name.as_c_str();
    if !matched {
        return Err(PrivilegeError::NoGroup(group.to_owned()));
    }
    Ok(entry.gr_gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_unknown_accounts_are_looked_up() {
        let root = Account::lookup("root", None).expect("root exists");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(matches!(
            Account::lookup("no-such-user-here", None),
            Err(PrivilegeError::NoUser(_))
        ));
        assert!(matches!(
            Account::lookup("root", Some("no-such-group-here")),
            Err(PrivilegeError::NoGroup(_))
        ));
        let message = Account::lookup("no-such-user-here", None)
            .expect_err("unknown")
            .to_string();
        assert!(message.starts_with("server.user:"), "{message}");
    }

    #[test]
    fn only_ports_below_the_kernels_unprivileged_start_are_privileged() {
        let start = unprivileged_port_start();
        assert!(!is_privileged_port(0), "an ephemeral port is nobody's");
        assert!(!is_privileged_port(u16::MAX));
        if start > 25 {
            assert!(is_privileged_port(25));
            assert!(is_privileged_port(start - 1));
        }
        assert!(!is_privileged_port(start.max(1)));
    }
}
