//! [`DecisionLog`]: the running server's handle on the log. Sessions hand it lines; a
//! thread of its own appends them once a second. It never blocks a session: when the
//! thread falls behind by [`CHANNEL_LINES`] lines, further lines are dropped and counted,
//! and refusals before DATA (which a stranger can cause at will) are logged at most
//! [`REFUSALS_PER_SECOND`] a second, so a flood cannot push the labelled decisions out.
//! Below the queue's free-space reserve nothing is written: mail comes first.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::record::{DecisionRecord, Entry, LabelEvent};
use super::segments::{Appender, Bounds};
use crate::config::{DecisionsConfig, Stage};
use crate::time::Clock;

/// Lines waiting for the writer at most.
const CHANNEL_LINES: usize = 8192;
/// How often the writer appends what it has.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// How often the writer collects the lines sent to it: [`CHANNEL_LINES`] in this time is
/// far above any rate the gateway accepts at.
const DRAIN_INTERVAL: Duration = Duration::from_millis(50);
/// Appended at once when this much is waiting, before the second is up.
const BATCH_BYTES: usize = 256 << 10;
/// How often the bounds are applied besides at each new file.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// Refusals before DATA logged per second at most.
pub const REFUSALS_PER_SECOND: u64 = 20;

/// The decision log of a running server; cheap to clone. A disabled log takes every call
/// and does nothing; a direct one (a command run while no server writes the log) appends
/// each entry at once.
#[derive(Clone, Default)]
pub struct DecisionLog {
    inner: Option<Arc<Inner>>,
    direct: Option<(PathBuf, Clock)>,
}

impl std::fmt::Debug for DecisionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match (&self.inner, &self.direct) {
            (Some(_), _) => "writer",
            (None, Some(_)) => "direct",
            (None, None) => "disabled",
        };
        f.debug_struct("DecisionLog").field("mode", &mode).finish()
    }
}

struct Inner {
    /// Cloned for each line; taken (`None`) at close, which ends the writer.
    sender: Mutex<Option<SyncSender<Vec<u8>>>>,
    dropped: AtomicU64,
    clock: Clock,
    /// The second (since the epoch) refusals are being counted in, and how many.
    refusal_second: AtomicU64,
    refusals: AtomicU64,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl DecisionLog {
    /// A log that records nothing (`[decisions] enabled = false`, `moat check`).
    pub fn disabled() -> Self {
        Self::default()
    }

    /// The log in `dir` for a command run while no server writes it: each entry is
    /// appended at once (`config` off: nothing is).
    pub fn direct(dir: &Path, config: &DecisionsConfig, clock: Clock) -> Self {
        Self {
            inner: None,
            direct: config.enabled.then(|| (dir.to_owned(), clock)),
        }
    }

    /// Opens the log in `dir` with `config`'s bounds and starts its writer thread, which
    /// writes nothing while the disk has less than `min_free` bytes free.
    pub fn open(
        dir: &Path,
        config: &DecisionsConfig,
        clock: Clock,
        min_free: u64,
    ) -> std::io::Result<Self> {
        if !config.enabled {
            return Ok(Self::disabled());
        }
        let bounds = Bounds {
            max_age: config.max_age.limit(),
            max_size: config.max_size.0,
        };
        let appender = Appender::open(dir, bounds)?;
        if let Err(error) = appender.prune(clock.now_ms()) {
            tracing::warn!(%error, "cannot apply the decision log's bounds");
        }
        let (sender, receiver) = sync_channel(CHANNEL_LINES);
        let writer = Writer {
            appender,
            dir: dir.to_owned(),
            min_free,
            clock: clock.clone(),
            failing: false,
        };
        let thread = std::thread::Builder::new()
            .name("moat-decisions".into())
            .spawn(move || writer.run(&receiver))?;
        Ok(Self {
            inner: Some(Arc::new(Inner {
                sender: Mutex::new(Some(sender)),
                dropped: AtomicU64::new(0),
                clock,
                refusal_second: AtomicU64::new(0),
                refusals: AtomicU64::new(0),
                thread: Mutex::new(Some(thread)),
            })),
            direct: None,
        })
    }

    /// Whether entries are recorded at all.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some() || self.direct.is_some()
    }

    /// Records a decision; a refusal before DATA only within [`REFUSALS_PER_SECOND`].
    pub fn record(&self, record: DecisionRecord) {
        if !self.is_enabled() {
            return;
        }
        if record.stage != Stage::Data && !self.refusal_allowed() {
            return;
        }
        self.send(Entry::Decision(record).to_line());
    }

    /// Records what the operator said a message was.
    pub fn label(&self, event: LabelEvent) {
        if self.is_enabled() {
            self.send(Entry::Label(event).to_line());
        }
    }

    /// The time entries are stamped with.
    pub fn now_ms(&self) -> u64 {
        match (&self.inner, &self.direct) {
            (Some(inner), _) => inner.clock.now_ms(),
            (None, Some((_, clock))) => clock.now_ms(),
            (None, None) => crate::time::now_ms(),
        }
    }

    /// Lines dropped because the writer was behind (what `/metrics` reports).
    pub fn dropped(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |inner| inner.dropped.load(Ordering::Relaxed))
    }

    fn refusal_allowed(&self) -> bool {
        let Some(inner) = &self.inner else {
            return true;
        };
        let second = inner.clock.now_ms() / 1000;
        if inner.refusal_second.swap(second, Ordering::Relaxed) != second {
            inner.refusals.store(0, Ordering::Relaxed);
        }
        inner.refusals.fetch_add(1, Ordering::Relaxed) < REFUSALS_PER_SECOND
    }

    fn send(&self, line: Vec<u8>) {
        if let Some((dir, clock)) = &self.direct {
            if let Err(error) = super::segments::append_now(dir, &line, clock.now_ms()) {
                tracing::warn!(%error, "cannot write the decision log");
            }
            return;
        }
        let Some(inner) = &self.inner else { return };
        let sender = inner
            .sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(sender) = sender else { return };
        match sender.try_send(line) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                if inner.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!("decision log behind: decisions dropped from the log");
                }
            }
        }
    }

    /// Writes what is pending and stops the writer (at shutdown); later calls do nothing.
    pub fn close(&self) {
        let Some(inner) = &self.inner else { return };
        drop(
            inner
                .sender
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(),
        );
        let thread = inner
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// The writer thread's state.
struct Writer {
    appender: Appender,
    dir: PathBuf,
    min_free: u64,
    clock: Clock,
    /// Whether the last write failed (said once, until one succeeds again).
    failing: bool,
}

impl Writer {
    /// Appends what arrives once a second (or at [`BATCH_BYTES`]), until every sender is
    /// gone. It collects the lines every [`DRAIN_INTERVAL`] rather than waking for each
    /// (a wake-up per message was 1% of the gateway's CPU).
    fn run(mut self, receiver: &Receiver<Vec<u8>>) {
        let mut pending = Vec::with_capacity(BATCH_BYTES);
        let mut last_prune = Instant::now();
        let mut deadline = Instant::now() + FLUSH_INTERVAL;
        loop {
            std::thread::sleep(
                DRAIN_INTERVAL.min(deadline.saturating_duration_since(Instant::now())),
            );
            let disconnected = loop {
                match receiver.try_recv() {
                    Ok(line) => pending.extend_from_slice(&line),
                    Err(TryRecvError::Empty) => break false,
                    Err(TryRecvError::Disconnected) => break true,
                }
            };
            let due = Instant::now() >= deadline;
            if due || disconnected || pending.len() >= BATCH_BYTES {
                self.write(&mut pending);
                deadline = Instant::now() + FLUSH_INTERVAL;
            }
            if disconnected {
                return;
            }
            if due && last_prune.elapsed() >= PRUNE_INTERVAL {
                last_prune = Instant::now();
                if let Err(error) = self.appender.prune(self.clock.now_ms()) {
                    tracing::warn!(%error, "cannot apply the decision log's bounds");
                }
            }
        }
    }

    fn write(&mut self, pending: &mut Vec<u8>) {
        if pending.is_empty() {
            return;
        }
        let result = match crate::os::disk::available_bytes(&self.dir) {
            Ok(free) if free < self.min_free => Err(std::io::Error::other(format!(
                "{free} bytes free, below the queue's reserve of {}",
                self.min_free
            ))),
            _ => self.appender.append(pending, self.clock.now_ms()),
        };
        match result {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!("decision log written again");
            }
            Ok(()) => {}
            Err(error) if !self.failing => {
                self.failing = true;
                tracing::warn!(%error, "cannot write the decision log: decisions dropped");
            }
            Err(_) => {}
        }
        pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::reader::read_log;
    use crate::filter::Action;

    fn record(stage: Stage, digest: &str) -> DecisionRecord {
        DecisionRecord {
            stage,
            digest: digest.into(),
            action: Action::Reject,
            ..crate::decisions::testing::record()
        }
    }

    #[test]
    fn close_writes_everything_sent_and_refusals_before_data_are_rate_limited() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(1_700_000_000_000);
        let log =
            DecisionLog::open(dir.path(), &DecisionsConfig::default(), clock.clone(), 0).unwrap();
        for n in 0..50 {
            log.record(record(Stage::Data, &format!("m{n}")));
        }
        // A flood of refusals at connect within one second: only the first few are kept.
        for n in 0..100 {
            log.record(record(Stage::Connect, &format!("c{n}")));
        }
        clock.advance(Duration::from_secs(1));
        log.record(record(Stage::RcptTo, "next-second"));
        log.close();
        // Closed: later entries go nowhere.
        log.record(record(Stage::Data, "late"));
        let reading = read_log(dir.path(), None).unwrap();
        let digests: Vec<&str> = reading
            .decisions
            .iter()
            .map(|d| d.record.digest.as_str())
            .collect();
        assert_eq!(digests.iter().filter(|d| d.starts_with('m')).count(), 50);
        assert_eq!(
            digests.iter().filter(|d| d.starts_with('c')).count(),
            REFUSALS_PER_SECOND as usize
        );
        assert!(digests.contains(&"next-second") && !digests.contains(&"late"));
        assert_eq!(log.dropped(), 0);
    }

    #[test]
    fn nothing_is_written_below_the_free_space_reserve() {
        let dir = tempfile::tempdir().unwrap();
        let log = DecisionLog::open(
            dir.path(),
            &DecisionsConfig::default(),
            Clock::system(),
            u64::MAX,
        )
        .unwrap();
        log.record(record(Stage::Data, "m"));
        log.close();
        assert!(read_log(dir.path(), None).unwrap().decisions.is_empty());
    }
}
