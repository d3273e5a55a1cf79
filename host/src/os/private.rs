//! Files nobody else on the host can read. The data dir holds every queued and
//! quarantined message, the plugins' state and the admin token: it is made mode 0700,
//! and the process's umask (077, set first thing in `main`) makes every file and folder
//! Moat creates readable by its own user only.

use std::io;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::Path;

/// Makes every file and folder this process creates from now on private to its user
/// (umask 077). Call it first, before any thread starts.
pub fn restrict_umask() {
    // SAFETY: umask only swaps the process's file mode mask; it cannot fail and touches
    // no memory.
    unsafe {
        libc::umask(0o077);
    }
}

/// Creates `dir` (and its missing parents) mode 0700 if it does not exist.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// The permission bits of `path` that let users other than its owner in (`0o077` of its
/// mode), when there are any.
pub fn open_to_others(path: &Path) -> io::Result<Option<u32>> {
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    Ok((mode & 0o077 != 0).then_some(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_dir_is_0700_and_an_open_one_is_reported() {
        let scratch = tempfile::tempdir().expect("temp dir");
        let dir = scratch.path().join("a/b");
        create_private_dir(&dir).expect("created");
        assert_eq!(open_to_others(&dir).expect("mode"), None);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(open_to_others(&dir).expect("mode"), Some(0o755));
    }
}
