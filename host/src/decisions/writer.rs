//! [`DecisionLog`]: the running server's handle on the log. Sessions hand it lines; a
//! thread of its own appends them once a second. It never blocks a session: when the
//! thread falls behind by [`CHANNEL_LINES`] lines, further lines are dropped and counted.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::record::{DecisionRecord, Entry, LabelEvent};
use super::segments::{Appender, Bounds};
use crate::config::DecisionsConfig;
use crate::time::Clock;

/// Lines waiting for the writer at most.
const CHANNEL_LINES: usize = 8192;
/// How often the writer appends what it has.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Appended at once when this much is waiting, before the second is up.
const BATCH_BYTES: usize = 256 << 10;
/// How often the bounds are applied besides at each new file.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

enum Command {
    Line(Vec<u8>),
    Flush(std::sync::mpsc::Sender<()>),
}

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
    sender: Mutex<Option<SyncSender<Command>>>,
    dropped: AtomicU64,
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

    /// Opens the log in `dir` with `config`'s bounds and starts its writer thread.
    pub fn open(dir: &Path, config: &DecisionsConfig, clock: Clock) -> std::io::Result<Self> {
        if !config.enabled {
            return Ok(Self::disabled());
        }
        let bounds = Bounds {
            max_age: config.max_age.limit(),
            max_size: config.max_size.0,
        };
        let appender = Appender::open(dir, bounds)?;
        appender.prune(clock.now_ms())?;
        let (sender, receiver) = sync_channel(CHANNEL_LINES);
        let thread = std::thread::Builder::new()
            .name("moat-decisions".into())
            .spawn(move || write_lines(appender, receiver, clock))?;
        Ok(Self {
            inner: Some(Arc::new(Inner {
                sender: Mutex::new(Some(sender)),
                dropped: AtomicU64::new(0),
                thread: Mutex::new(Some(thread)),
            })),
            direct: None,
        })
    }

    /// Whether entries are recorded at all.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some() || self.direct.is_some()
    }

    /// Records a decision.
    pub fn record(&self, record: DecisionRecord) {
        if self.is_enabled() {
            self.send(Entry::Decision(record).to_line());
        }
    }

    /// Records what the operator said a message was.
    pub fn label(&self, event: LabelEvent) {
        if self.is_enabled() {
            self.send(Entry::Label(event).to_line());
        }
    }

    /// The time entries are stamped with.
    pub fn now_ms(&self) -> u64 {
        match &self.direct {
            Some((_, clock)) => clock.now_ms(),
            None => crate::time::now_ms(),
        }
    }

    /// Lines dropped because the writer was behind.
    pub fn dropped(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |inner| inner.dropped.load(Ordering::Relaxed))
    }

    fn send(&self, line: Vec<u8>) {
        if let Some((dir, clock)) = &self.direct {
            if let Err(error) = super::segments::append_now(dir, &line, clock.now_ms()) {
                tracing::warn!(%error, "cannot write the decision log");
            }
            return;
        }
        let Some(inner) = &self.inner else { return };
        let sender = inner.sender.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sender) = sender.as_ref() else {
            return;
        };
        match sender.try_send(Command::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if inner.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!("decision log behind: decisions dropped from the log");
                }
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Waits until every line sent so far is written (for `close`, and the tests).
    pub fn flush(&self) {
        let Some(inner) = &self.inner else { return };
        let (ack, done) = std::sync::mpsc::channel();
        let sent = {
            let sender = inner.sender.lock().unwrap_or_else(|e| e.into_inner());
            sender
                .as_ref()
                .is_some_and(|s| s.send(Command::Flush(ack)).is_ok())
        };
        if sent {
            let _ = done.recv_timeout(Duration::from_secs(10));
        }
    }

    /// Writes what is pending and stops the writer (at shutdown); later calls do nothing.
    pub fn close(&self) {
        let Some(inner) = &self.inner else { return };
        drop(
            inner
                .sender
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        if let Some(thread) = inner
            .thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = thread.join();
        }
    }
}

/// The writer thread: appends what arrives once a second (or at [`BATCH_BYTES`]), until
/// every sender is gone.
fn write_lines(mut appender: Appender, receiver: Receiver<Command>, clock: Clock) {
    let mut pending = Vec::with_capacity(BATCH_BYTES);
    let mut last_prune = Instant::now();
    let mut failing = false;
    let mut write = |pending: &mut Vec<u8>, appender: &mut Appender| {
        match appender.append(pending, clock.now_ms()) {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("decision log written again");
            }
            Ok(()) => {}
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "cannot write the decision log: decisions dropped");
            }
            Err(_) => {}
        }
        pending.clear();
    };
    let mut deadline = Instant::now() + FLUSH_INTERVAL;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(wait) {
            Ok(Command::Line(line)) => {
                pending.extend_from_slice(&line);
                if pending.len() >= BATCH_BYTES {
                    write(&mut pending, &mut appender);
                }
            }
            Ok(Command::Flush(ack)) => {
                write(&mut pending, &mut appender);
                let _ = ack.send(());
            }
            Err(RecvTimeoutError::Timeout) => {
                write(&mut pending, &mut appender);
                deadline = Instant::now() + FLUSH_INTERVAL;
                if last_prune.elapsed() >= PRUNE_INTERVAL {
                    last_prune = Instant::now();
                    if let Err(error) = appender.prune(clock.now_ms()) {
                        tracing::warn!(%error, "cannot apply the decision log's bounds");
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                write(&mut pending, &mut appender);
                return;
            }
        }
    }
}
