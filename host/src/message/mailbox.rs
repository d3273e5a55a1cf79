//! Messages on disk, as operators hand them to `moat check`, `moat learn` and the
//! benchmarks: single message files (.eml), directories of them (walked in name order,
//! hidden entries skipped), and mbox files (one file, many messages, each starting with a
//! `From ` line).

use std::io;
use std::path::{Path, PathBuf};

/// One message read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Where it came from: the file, and for a message of an mbox its number (`box#3`).
    pub origin: String,
    /// The message as stored (for mbox, without the `From ` line, `>From ` unescaped).
    pub raw: Vec<u8>,
}

/// The files under `paths`: files as given, directories walked recursively in name order.
pub fn files_under(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot read directory {}: {e}", path.display()),
                )
            })?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            walk(&entry, files)?;
        } else {
            files.push(entry);
        }
    }
    Ok(())
}

/// A file under the paths given that could not be read.
#[derive(Debug)]
pub struct UnreadableFile {
    /// The file.
    pub path: PathBuf,
    /// Why (its text names the file).
    pub error: io::Error,
}

/// Every message under `paths`, in order: the files of [`files_under`], each read with
/// [`read_file`] (an mbox gives several). A file that cannot be read is an `Err` in its
/// place, so the caller can report it and go on; a directory that cannot be walked fails
/// the whole call.
pub fn messages_under(
    paths: &[PathBuf],
) -> io::Result<impl Iterator<Item = Result<StoredMessage, UnreadableFile>>> {
    Ok(files_under(paths)?
        .into_iter()
        .flat_map(|path| match read_file(&path) {
            Ok(messages) => messages.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(error) => vec![Err(UnreadableFile { path, error })],
        }))
}

/// The messages in the file at `path`: several if it is an mbox, else the file itself.
pub fn read_file(path: &Path) -> io::Result<Vec<StoredMessage>> {
    let bytes = std::fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))?;
    let origin = path.display().to_string();
    if !is_mbox(&bytes) {
        return Ok(vec![StoredMessage { origin, raw: bytes }]);
    }
    let messages = split_mbox(&bytes);
    let single = messages.len() == 1;
    Ok(messages
        .into_iter()
        .enumerate()
        .map(|(n, raw)| StoredMessage {
            origin: if single {
                origin.clone()
            } else {
                format!("{origin}#{}", n + 1)
            },
            raw,
        })
        .collect())
}

/// Whether `bytes` starts like an mbox: a `From ` separator line, which no header can be.
fn is_mbox(bytes: &[u8]) -> bool {
    bytes.starts_with(b"From ")
}

/// The messages of an mbox: a `From ` line at the start of the file or after an empty
/// line begins each one; a line of `>From ` (any number of `>`) loses one `>` (mboxrd).
fn split_mbox(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut messages: Vec<Vec<u8>> = Vec::new();
    let mut previous_blank = true;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if previous_blank && line.starts_with(b"From ") {
            if let Some(last) = messages.last_mut() {
                drop_separator_blank(last);
            }
            messages.push(Vec::new());
            previous_blank = false;
            continue;
        }
        previous_blank = content.is_empty();
        let Some(current) = messages.last_mut() else {
            continue; // before the first separator: not part of any message
        };
        let quoted = line.iter().take_while(|&&b| b == b'>').count();
        if quoted > 0 && line[quoted..].starts_with(b"From ") {
            current.extend_from_slice(&line[1..]);
        } else {
            current.extend_from_slice(line);
        }
    }
    messages.retain(|m| !m.is_empty());
    messages
}

/// Removes the blank line that separates a message from the next `From ` line.
fn drop_separator_blank(message: &mut Vec<u8>) {
    if message.ends_with(b"\r\n\r\n") {
        message.truncate(message.len() - 2);
    } else if message.ends_with(b"\n\n") {
        message.truncate(message.len() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mbox_splits_at_from_lines_after_blank_lines_only() {
        let mbox = b"From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\nFrom here on, not a separator\n\nFrom b@example.org Mon Jan  1 00:00:01 2024\nSubject: two\n\n>From quoted\n>>From twice\n";
        let messages = split_mbox(mbox);
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[0],
            b"Subject: one\n\nbody\nFrom here on, not a separator\n".to_vec()
        );
        assert_eq!(
            messages[1],
            b"Subject: two\n\nFrom quoted\n>From twice\n".to_vec()
        );
    }

    #[test]
    fn files_directories_and_mboxes_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.eml"), b"Subject: a\n\nA\n").unwrap();
        std::fs::write(dir.path().join(".hidden"), b"Subject: h\n\nH\n").unwrap();
        std::fs::write(
            dir.path().join("box"),
            b"From x Thu Jan  1 00:00:00 1970\r\nSubject: 1\r\n\r\n1\r\n\r\nFrom y Thu Jan  1 00:00:00 1970\r\nSubject: 2\r\n\r\n2\r\n",
        )
        .unwrap();
        let files = files_under(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(files.len(), 2, "{files:?}");
        let messages: Vec<StoredMessage> =
            files.iter().flat_map(|f| read_file(f).unwrap()).collect();
        assert_eq!(messages.len(), 3);
        assert!(messages[0].origin.ends_with("box#1"));
        assert_eq!(messages[0].raw, b"Subject: 1\r\n\r\n1\r\n".to_vec());
        assert_eq!(messages[1].raw, b"Subject: 2\r\n\r\n2\r\n".to_vec());
        assert!(messages[2].origin.ends_with("a.eml"));
        assert_eq!(messages[2].raw, b"Subject: a\n\nA\n".to_vec());
    }

    #[test]
    fn a_missing_path_names_itself() {
        let error = read_file(Path::new("no/such/file.eml")).unwrap_err();
        assert!(error.to_string().contains("no/such/file.eml"), "{error}");
    }
}
