//! The log's files: `decisions-<ms>.jsonl`, named by the time of their first line, so
//! their names sort in time order and a file's lines are all older than the next file's
//! name. A new file is begun after a day or 1/16 of the size cap; whole files are deleted
//! past `max_age` (their successor began before the cut-off) or past `max_size` (oldest
//! first; the newest file always stays).

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A file is begun anew at least this often.
const FILE_SPAN: Duration = Duration::from_secs(86_400);

/// One file of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Segment {
    /// When its first line was written (ms since the epoch).
    pub(super) start_ms: u64,
    /// Where it is.
    pub(super) path: PathBuf,
    /// Its size in bytes.
    pub(super) size: u64,
}

/// The log's files, oldest first; files not named as the log names them are left alone.
pub(super) fn list(dir: &Path) -> io::Result<Vec<Segment>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(start_ms) = name
            .to_str()
            .and_then(|n| n.strip_prefix("decisions-"))
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        let size = match entry.metadata() {
            Ok(metadata) => metadata.len(),
            // Pruned since the folder was read.
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        segments.push(Segment {
            start_ms,
            path: entry.path(),
            size,
        });
    }
    segments.sort_by_key(|s| s.start_ms);
    Ok(segments)
}

fn segment_path(dir: &Path, start_ms: u64) -> PathBuf {
    dir.join(format!("decisions-{start_ms:013}.jsonl"))
}

/// The bounds of the log.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    /// Delete what is older; `None`: keep until `max_size`.
    pub(super) max_age: Option<Duration>,
    /// The most bytes the files may hold together.
    pub(super) max_size: u64,
}

impl Bounds {
    /// The size past which a new file is begun.
    fn file_size(self) -> u64 {
        (self.max_size / 16).max(64 << 10)
    }
}

/// The file being appended to.
pub(super) struct Appender {
    dir: PathBuf,
    bounds: Bounds,
    current: Option<(File, Segment)>,
}

impl Appender {
    /// An appender to the log in `dir` (made if missing), continuing its newest file.
    pub(super) fn open(dir: &Path, bounds: Bounds) -> io::Result<Self> {
        crate::os::private::create_private_dir(dir)?;
        let current = match list(dir)?.pop() {
            Some(newest) => {
                let file = OpenOptions::new().append(true).open(&newest.path)?;
                Some((file, newest))
            }
            None => None,
        };
        Ok(Self {
            dir: dir.to_owned(),
            bounds,
            current,
        })
    }

    /// Appends whole lines at `now_ms`, beginning a new file (and applying the bounds)
    /// when the current one is a day old or full.
    pub(super) fn append(&mut self, lines: &[u8], now_ms: u64) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let due = match &self.current {
            None => true,
            Some((_, segment)) => {
                segment.size >= self.bounds.file_size()
                    || now_ms.saturating_sub(segment.start_ms) >= FILE_SPAN.as_millis() as u64
            }
        };
        if due {
            self.begin(now_ms)?;
        }
        let (file, segment) = self.current.as_mut().expect("begun above");
        file.write_all(lines)?;
        segment.size += lines.len() as u64;
        Ok(())
    }

    fn begin(&mut self, now_ms: u64) -> io::Result<()> {
        // Names must grow: a clock stepped back must not reuse an older file's name.
        let start_ms = match &self.current {
            Some((_, segment)) => now_ms.max(segment.start_ms + 1),
            None => now_ms,
        };
        let path = segment_path(&self.dir, start_ms);
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)?;
        self.current = Some((
            file,
            Segment {
                start_ms,
                path,
                size: 0,
            },
        ));
        // The new file stands even when an old one cannot go: its lines are not lost.
        if let Err(error) = prune(&self.dir, self.bounds, now_ms) {
            tracing::warn!(%error, "cannot apply the decision log's bounds");
        }
        Ok(())
    }

    /// Applies the bounds now (the writer does so every hour as well as at each new file).
    pub(super) fn prune(&self, now_ms: u64) -> io::Result<()> {
        prune(&self.dir, self.bounds, now_ms)
    }
}

/// Deletes the files past the bounds: those whose successor began before `now - max_age`,
/// then the oldest while the total exceeds `max_size`. The newest file always stays.
pub(super) fn prune(dir: &Path, bounds: Bounds, now_ms: u64) -> io::Result<()> {
    let segments = list(dir)?;
    let mut total: u64 = segments.iter().map(|s| s.size).sum();
    let cutoff = bounds
        .max_age
        .map(|age| now_ms.saturating_sub(age.as_millis() as u64));
    for (i, segment) in segments.iter().enumerate() {
        let Some(next) = segments.get(i + 1) else {
            break;
        };
        let too_old = cutoff.is_some_and(|cutoff| next.start_ms < cutoff);
        if too_old || total > bounds.max_size {
            match std::fs::remove_file(&segment.path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
            total -= segment.size;
        } else {
            break;
        }
    }
    Ok(())
}

/// Appends `lines` to the log in `dir` at once, for a command run while no server writes
/// it (`moat learn` on the data dir): the newest file, or a new one.
pub fn append_now(dir: &Path, lines: &[u8], now_ms: u64) -> io::Result<()> {
    let bounds = Bounds {
        max_age: None,
        max_size: u64::MAX,
    };
    Appender::open(dir, bounds)?.append(lines, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(max_age_ms: Option<u64>, max_size: u64) -> Bounds {
        Bounds {
            max_age: max_age_ms.map(Duration::from_millis),
            max_size,
        }
    }

    #[test]
    fn lines_go_to_one_file_until_it_is_a_day_old() {
        let dir = tempfile::tempdir().unwrap();
        let mut appender = Appender::open(dir.path(), bounds(None, 1 << 30)).unwrap();
        appender.append(b"a\n", 1_000).unwrap();
        appender.append(b"b\n", 2_000).unwrap();
        let day = FILE_SPAN.as_millis() as u64;
        appender.append(b"c\n", 1_000 + day).unwrap();
        let files = list(dir.path()).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(std::fs::read(&files[0].path).unwrap(), b"a\nb\n");
        assert_eq!(std::fs::read(&files[1].path).unwrap(), b"c\n");
        // A new appender continues the newest file.
        Appender::open(dir.path(), bounds(None, 1 << 30))
            .unwrap()
            .append(b"d\n", 2_000 + day)
            .unwrap();
        let files = list(dir.path()).unwrap();
        assert_eq!(std::fs::read(&files[1].path).unwrap(), b"c\nd\n");
    }

    #[test]
    fn files_past_max_age_go_but_the_newest_stays() {
        let dir = tempfile::tempdir().unwrap();
        let day = FILE_SPAN.as_millis() as u64;
        let mut appender = Appender::open(dir.path(), bounds(Some(3 * day), 1 << 30)).unwrap();
        for n in 0..6 {
            appender.append(b"x\n", 1 + n * day).unwrap();
        }
        // Six files begun on days 0..5; at day 5 the cut-off is day 2: only the file of
        // day 0 ended (its successor began) before it. Day 1's ended at the cut-off.
        let starts: Vec<u64> = list(dir.path())
            .unwrap()
            .iter()
            .map(|s| s.start_ms)
            .collect();
        assert_eq!(
            starts,
            [1 + day, 1 + 2 * day, 1 + 3 * day, 1 + 4 * day, 1 + 5 * day]
        );
        prune(dir.path(), bounds(Some(1), 1 << 30), 100 * day).unwrap();
        assert_eq!(list(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn the_oldest_files_go_past_max_size() {
        let dir = tempfile::tempdir().unwrap();
        // Files of 64 KiB at most (the smallest), a cap of 3 such files.
        let cap = 3 * (64 << 10);
        let mut appender = Appender::open(dir.path(), bounds(None, cap)).unwrap();
        let line = vec![b'y'; 1023];
        let mut lines = line.clone();
        lines.push(b'\n');
        for n in 0..400 {
            appender.append(&lines, 1_000 + n).unwrap();
        }
        let files = list(dir.path()).unwrap();
        let total: u64 = files.iter().map(|s| s.size).sum();
        assert!(
            total <= cap + (64 << 10),
            "{total} bytes in {} files",
            files.len()
        );
        assert!(files.len() >= 3);
        // Every file holds whole lines.
        for file in &files {
            assert_eq!(file.size % 1024, 0);
        }
    }

    #[test]
    fn the_log_is_private_to_moats_user() {
        use std::os::unix::fs::PermissionsExt as _;
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("decisions");
        append_now(&dir, b"x\n", 1).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&list(&dir).unwrap()[0].path), 0o600);
    }

    #[test]
    fn other_files_in_the_folder_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "keep").unwrap();
        prune(dir.path(), bounds(Some(1), 1), u64::MAX / 2).unwrap();
        assert!(dir.path().join("notes.txt").exists());
        assert!(list(dir.path()).unwrap().is_empty());
    }
}
