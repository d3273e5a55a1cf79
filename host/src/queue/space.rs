//! The room left on the queue's disk, against the operator's reserve (`[queue] min_free`,
//! Postfix's `queue_minfree`).
//!
//! A failed write stops fjall's database until the process restarts (`health`), so the
//! queue keeps away from a full disk instead of finding it: SMTP asks
//! [`FreeSpace::for_mail`] before it takes a transaction, the queue asks
//! [`FreeSpace::take`] before it writes a new message, and delivery asks
//! [`FreeSpace::for_delivery`] before it starts an attempt. Three levels of one reserve:
//!
//! * below `min_free`, new mail is refused (`452 4.3.1`), MAIL also when its declared SIZE
//!   would not leave `min_free`;
//! * a message is not written if it would leave less than half of `min_free`;
//! * delivery goes on below `min_free` (a delivered message leaves the queue), and pauses
//!   only below a quarter of it, where its outcomes might not be written: an outcome that
//!   cannot be written would make the message be delivered again after the restart.
//!
//! The file system is asked (`statvfs`) at most once per [`FRESH_FOR`]; between two
//! readings, the bytes of the messages written since are taken off the last reading, so a
//! burst of sessions cannot overshoot it. A reserve of 0 turns every check off.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::{info, warn};

/// How long one reading of the file system is used before it is taken again.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Asks how many bytes are available on the file system of a directory.
pub type Probe = Box<dyn Fn(&Path) -> io::Result<u64> + Send + Sync>;

/// Not enough room on the queue's disk for what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{available} bytes available on the queue's disk, {needed} needed")]
pub struct Shortage {
    /// The bytes available, as last read, less what was written since.
    pub available: u64,
    /// The bytes the check needed available.
    pub needed: u64,
}

/// The room on the queue's disk, read at most once per [`FRESH_FOR`], against a reserve.
pub struct FreeSpace {
    dir: PathBuf,
    min_free: u64,
    probe: Probe,
    reading: Mutex<Reading>,
}

/// The last reading of the file system and what was written since.
#[derive(Debug, Default)]
struct Reading {
    /// When it was taken; `None` before the first.
    at: Option<Instant>,
    /// The bytes available then; `None` when the probe failed (the checks then pass).
    available: Option<u64>,
    /// Bytes of messages handed to the queue since.
    taken: u64,
    /// The level of the last reading, to log each change once.
    level: Level,
}

/// Where the last reading stands against the reserve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Level {
    /// At least `min_free`, or not known.
    #[default]
    Room,
    /// Below `min_free`: new mail is refused.
    Short,
    /// Below a quarter of `min_free`: delivery pauses too.
    Low,
}

impl FreeSpace {
    /// The room on the file system of `dir` against `min_free` bytes, read with
    /// `statvfs`.
    pub fn new(dir: &Path, min_free: u64) -> Self {
        Self::with_probe(dir, min_free, Box::new(crate::os::disk::available_bytes))
    }

    /// No reserve: every check passes and the file system is never asked.
    pub fn unlimited() -> Self {
        Self::new(Path::new("."), 0)
    }

    /// The room on the file system of `dir` against `min_free` bytes, read with `probe`
    /// (tests give their own).
    pub fn with_probe(dir: &Path, min_free: u64, probe: Probe) -> Self {
        Self {
            dir: dir.to_path_buf(),
            min_free,
            probe,
            reading: Mutex::new(Reading::default()),
        }
    }

    /// The reserve, in bytes (0: none).
    pub fn min_free(&self) -> u64 {
        self.min_free
    }

    /// Whether a new transaction may start: at least `min_free` plus `declared` (MAIL's
    /// SIZE, or 0) available.
    pub fn for_mail(&self, declared: u64) -> Result<(), Shortage> {
        self.check_at(Instant::now(), self.min_free.saturating_add(declared))
    }

    /// Whether delivery may start an attempt: at least a quarter of `min_free` available,
    /// so that its outcome can be written.
    pub fn for_delivery(&self) -> Result<(), Shortage> {
        self.check_at(Instant::now(), self.min_free / 4)
    }

    /// Takes `bytes` for a new message if they leave at least half of `min_free`
    /// available; they are then counted as written until the next reading.
    pub fn take(&self, bytes: u64) -> Result<(), Shortage> {
        self.take_at(Instant::now(), bytes)
    }

    fn check_at(&self, now: Instant, needed: u64) -> Result<(), Shortage> {
        if self.min_free == 0 {
            return Ok(());
        }
        match self.read_at(now).room() {
            Some(available) if available < needed => Err(Shortage { available, needed }),
            _ => Ok(()),
        }
    }

    fn take_at(&self, now: Instant, bytes: u64) -> Result<(), Shortage> {
        if self.min_free == 0 {
            return Ok(());
        }
        let mut reading = self.read_at(now);
        let needed = bytes.saturating_add(self.min_free / 2);
        match reading.room() {
            Some(available) if available < needed => Err(Shortage { available, needed }),
            _ => {
                reading.taken = reading.taken.saturating_add(bytes);
                Ok(())
            }
        }
    }

    /// The reading, taken again first when it is older than [`FRESH_FOR`].
    fn read_at(&self, now: Instant) -> std::sync::MutexGuard<'_, Reading> {
        let mut reading = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
        let stale = reading.at.is_none_or(|at| {
            now.checked_duration_since(at)
                .is_none_or(|age| age >= FRESH_FOR)
        });
        if stale {
            let available = match (self.probe)(&self.dir) {
                Ok(available) => Some(available),
                Err(error) => {
                    if reading.available.is_some() || reading.at.is_none() {
                        warn!(dir = %self.dir.display(), %error, "cannot read the room left on the queue's disk; [queue] min_free is not enforced meanwhile");
                    }
                    None
                }
            };
            reading.at = Some(now);
            reading.available = available;
            reading.taken = 0;
            self.log_level(&mut reading);
        }
        reading
    }

    /// Logs the reading's level when it changed since the last one.
    fn log_level(&self, reading: &mut Reading) {
        let level = match reading.available {
            Some(available) if available < self.min_free / 4 => Level::Low,
            Some(available) if available < self.min_free => Level::Short,
            _ => Level::Room,
        };
        if level == reading.level {
            return;
        }
        let available = reading.available.unwrap_or(u64::MAX);
        let min_free = self.min_free;
        match level {
            Level::Low => warn!(
                available,
                min_free,
                "the queue's disk is almost full (less than a quarter of [queue] min_free): \
                 new mail is refused and delivery pauses until there is room"
            ),
            Level::Short if reading.level == Level::Room => warn!(
                available,
                min_free,
                "the queue's disk has less room than [queue] min_free: new mail is refused \
                 with 452 4.3.1 until there is room; delivery goes on"
            ),
            Level::Short => info!(
                available,
                min_free, "room on the queue's disk: delivery resumes"
            ),
            Level::Room => info!(
                available,
                min_free, "room on the queue's disk: new mail is taken again"
            ),
        }
        reading.level = level;
    }
}

impl Reading {
    /// The bytes available now by this reading, or `None` when not known.
    fn room(&self) -> Option<u64> {
        self.available
            .map(|available| available.saturating_sub(self.taken))
    }
}

impl std::fmt::Debug for FreeSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreeSpace")
            .field("dir", &self.dir)
            .field("min_free", &self.min_free)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    const MIB: u64 = 1 << 20;

    /// A probe answering what `available` holds, counting its calls in `calls`.
    fn probed(min_free: u64) -> (FreeSpace, Arc<AtomicU64>, Arc<AtomicU64>) {
        let available = Arc::new(AtomicU64::new(0));
        let calls = Arc::new(AtomicU64::new(0));
        let (answer, count) = (Arc::clone(&available), Arc::clone(&calls));
        let space = FreeSpace::with_probe(
            Path::new("/data"),
            min_free,
            Box::new(move |dir| {
                assert_eq!(dir, Path::new("/data"));
                count.fetch_add(1, Ordering::SeqCst);
                Ok(answer.load(Ordering::SeqCst))
            }),
        );
        (space, available, calls)
    }

    #[test]
    fn the_disk_is_asked_once_per_second_at_most() {
        let (space, available, calls) = probed(100 * MIB);
        let start = Instant::now();
        available.store(500 * MIB, Ordering::SeqCst);
        for ms in [0, 10, 500, 999] {
            assert!(
                space
                    .check_at(start + Duration::from_millis(ms), 100 * MIB)
                    .is_ok()
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // The disk filled meanwhile: seen at the next reading, not before.
        available.store(10 * MIB, Ordering::SeqCst);
        assert!(
            space
                .check_at(start + Duration::from_millis(999), 100 * MIB)
                .is_ok()
        );
        let later = start + FRESH_FOR;
        assert_eq!(
            space.check_at(later, 100 * MIB),
            Err(Shortage {
                available: 10 * MIB,
                needed: 100 * MIB
            })
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn mail_needs_the_reserve_and_its_size_and_delivery_a_quarter_of_it() {
        let (space, available, _) = probed(100 * MIB);
        let now = Instant::now();
        available.store(150 * MIB, Ordering::SeqCst);
        assert!(space.check_at(now, 100 * MIB + 50 * MIB).is_ok());
        assert!(space.check_at(now, 100 * MIB + 50 * MIB + 1).is_err());

        let (space, available, _) = probed(100 * MIB);
        available.store(100 * MIB - 1, Ordering::SeqCst);
        assert!(space.for_mail(0).is_err(), "below the reserve: no new mail");
        assert!(space.for_delivery().is_ok(), "delivery goes on");

        let (space, available, _) = probed(100 * MIB);
        available.store(25 * MIB, Ordering::SeqCst);
        assert!(space.for_delivery().is_ok());
        let (space, available, _) = probed(100 * MIB);
        available.store(25 * MIB - 1, Ordering::SeqCst);
        assert_eq!(
            space.for_delivery(),
            Err(Shortage {
                available: 25 * MIB - 1,
                needed: 25 * MIB
            })
        );
    }

    #[test]
    fn messages_written_since_the_reading_count_until_the_next_one() {
        let (space, available, _) = probed(100 * MIB);
        let start = Instant::now();
        available.store(200 * MIB, Ordering::SeqCst);
        // 200 - 140 leaves 60, more than half the reserve.
        assert!(space.take_at(start, 140 * MIB).is_ok());
        // 60 left: no new transaction, and 20 more would leave 40 < 50.
        assert!(space.check_at(start, 100 * MIB).is_err());
        assert_eq!(
            space.take_at(start, 20 * MIB),
            Err(Shortage {
                available: 60 * MIB,
                needed: 70 * MIB
            })
        );
        assert!(space.take_at(start, 10 * MIB).is_ok());
        // The next reading sees what is on disk (here: the space freed again).
        assert!(space.take_at(start + FRESH_FOR, 140 * MIB).is_ok());
    }

    #[test]
    fn no_reserve_never_asks_the_disk() {
        let (space, _, calls) = probed(0);
        assert!(space.for_mail(u64::MAX).is_ok());
        assert!(space.for_delivery().is_ok());
        assert!(space.take(u64::MAX).is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert_eq!(FreeSpace::unlimited().min_free(), 0);
    }

    #[test]
    fn a_failing_probe_lets_mail_through_and_is_asked_again_later() {
        let calls = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&calls);
        let space = FreeSpace::with_probe(
            Path::new("/data"),
            100 * MIB,
            Box::new(move |_| {
                count.fetch_add(1, Ordering::SeqCst);
                Err(io::Error::other("no statvfs here"))
            }),
        );
        let start = Instant::now();
        assert!(space.check_at(start, 100 * MIB).is_ok());
        assert!(space.take_at(start, 10 * MIB).is_ok());
        assert!(space.check_at(start + FRESH_FOR, 100 * MIB).is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_real_probe_reads_a_directory() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let space = FreeSpace::new(tmp.path(), MIB);
        assert!(space.for_delivery().is_ok());
    }
}
