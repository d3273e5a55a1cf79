//! How much room is left on a file system: `statvfs` of a path on it.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

/// The bytes an unprivileged user may still write on the file system holding `path`
/// (`statvfs`'s `f_bavail` blocks of `f_frsize` bytes: what root keeps back does not
/// count, as in `df`'s "Avail").
pub fn available_bytes(path: &Path) -> io::Result<u64> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"))?;
    // SAFETY: `stat` is plain old data that statvfs fills in; zeroed is a valid value of it.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call, and `stat` is a
    // valid, writable statvfs.
    let status = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) };
    if status != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(
        clippy::useless_conversion,
        reason = "the field types differ between targets (u32 on some, u64 on others)"
    )]
    let (blocks, size) = (u64::from(stat.f_bavail), u64::from(stat.f_frsize));
    Ok(blocks.saturating_mul(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_has_some_room_and_a_missing_one_is_an_error() {
        let tmp = tempfile::tempdir().expect("temp dir");
        assert!(available_bytes(tmp.path()).is_ok());
        assert!(available_bytes(&tmp.path().join("missing")).is_err());
    }
}
