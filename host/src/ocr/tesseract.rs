//! The tesseract engine: Debian's `tesseract-ocr`, run as a child process per image with
//! the image on stdin and the text on stdout, under the kernel's memory, CPU and file-size
//! limits, killed at the time limit, its output read only so far.

use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::Command;

use super::{MAX_TEXT_BYTES, OcrEngine, OcrError, OcrFuture};
use crate::os::child_limits::ChildLimits;

/// How long `--version` may take when the engine is checked at start.
const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// The most of the engine's stdout read: twice the text kept, for the page separators and
/// blank lines removed before the text is cut. The engine is done once it is reached:
/// the pipe is closed and its exit status no longer matters.
const MAX_STDOUT_BYTES: usize = 2 * MAX_TEXT_BYTES;

/// The most of the engine's stderr read; its first line is the reason for a failure.
const MAX_STDERR_BYTES: usize = 4 << 10;

/// Runs `tesseract stdin stdout -l LANGUAGES` for each image.
#[derive(Debug, Clone)]
pub struct Tesseract {
    command: PathBuf,
    languages: String,
    timeout: Duration,
    memory_limit: u64,
}

impl Tesseract {
    /// An engine running `command` with `-l languages`, killed after `timeout`, in an
    /// address space of at most `memory_limit` bytes.
    pub fn new(command: PathBuf, languages: String, timeout: Duration, memory_limit: u64) -> Self {
        Self {
            command,
            languages,
            timeout,
            memory_limit,
        }
    }

    /// The version line `command --version` prints, or why it could not be run: whether
    /// the engine is installed at all.
    pub fn probe(&self) -> Result<String, String> {
        let mut child = std::process::Command::new(&self.command)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.command.display()))?;
        let deadline = std::time::Instant::now() + PROBE_LIMIT;
        while child.try_wait().map_err(|e| e.to_string())?.is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} --version did not answer within {} s",
                    self.command.display(),
                    PROBE_LIMIT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let output = child
            .wait_with_output()
            .map_err(|e| format!("cannot run {}: {e}", self.command.display()))?;
        // Older versions print the version on stderr.
        let text = [output.stdout, output.stderr].concat();
        let text = String::from_utf8_lossy(&text);
        match text.lines().next() {
            Some(line) if output.status.success() => Ok(line.trim().to_owned()),
            _ => Err(format!(
                "{} --version failed ({})",
                self.command.display(),
                output.status
            )),
        }
    }

    /// The limits one run is held to: the memory limit; CPU time a second more than the
    /// timeout (one thread, so the timeout comes first while the gateway lives: this is
    /// for a child that outlives it); no file written.
    fn limits(&self) -> ChildLimits {
        ChildLimits {
            address_space: self.memory_limit,
            cpu_seconds: self.timeout.as_secs() + u64::from(self.timeout.subsec_nanos() > 0) + 1,
            file_size: 0,
        }
    }

    /// The engine's process for one image, its stdio piped, under [`Self::limits`].
    fn spawn(&self) -> Result<tokio::process::Child, OcrError> {
        let mut command = Command::new(&self.command);
        command
            .args(["stdin", "stdout", "-l", &self.languages])
            // One core per image: the pool's size is then the CPU OCR can take.
            .env("OMP_THREAD_LIMIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        self.limits().apply_to(&mut command);
        command.spawn().map_err(|e| OcrError::Failed {
            reason: format!("cannot run {}: {e}", self.command.display()),
        })
    }

    async fn run(&self, image: &[u8]) -> Result<String, OcrError> {
        let mut child = self.spawn()?;
        let not_captured = || OcrError::Failed {
            reason: "the engine's stdio was not captured".into(),
        };
        let mut stdin = child.stdin.take().ok_or_else(not_captured)?;
        let stdout = child.stdout.take().ok_or_else(not_captured)?;
        let stderr = child.stderr.take().ok_or_else(not_captured)?;
        let feed = async move {
            // An engine that exits early (unreadable image) closes the pipe: its exit
            // status says why, so a write error here is not the error to report.
            let _ = stdin.write_all(image).await;
            drop(stdin);
        };
        let read_stdout = async {
            let (text, full) = read_at_most(stdout, MAX_STDOUT_BYTES).await;
            if full {
                // Nothing more is needed from it.
                let _ = child.start_kill();
            }
            (text, full)
        };
        let (_, (stdout, stdout_full), (stderr, _)) =
            tokio::join!(feed, read_stdout, read_at_most(stderr, MAX_STDERR_BYTES));
        let status = child.wait().await.map_err(|e| OcrError::Failed {
            reason: format!("waiting for {}: {e}", self.command.display()),
        })?;
        // With stdout full the text is all there is to keep; the engine was stopped.
        if !status.success() && !stdout_full {
            return Err(self.failure(status, &stderr));
        }
        // Tesseract ends each page with a form feed.
        Ok(String::from_utf8_lossy(&stdout)
            .replace('\u{c}', "")
            .trim()
            .to_owned())
    }

    /// The error for a run that ended with `status`, having written `stderr`: a timeout
    /// when the CPU limit stopped it, otherwise a failure naming the status (a signal
    /// when the memory limit made an allocation fail and the engine aborted) and the
    /// first line it wrote.
    fn failure(&self, status: std::process::ExitStatus, stderr: &[u8]) -> OcrError {
        if status.signal() == Some(libc::SIGXCPU) {
            return OcrError::Timeout {
                millis: self.timeout.as_millis() as u64,
            };
        }
        let stderr = String::from_utf8_lossy(stderr);
        let reason = stderr
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("no message");
        OcrError::Failed {
            reason: format!("{} exited with {status}: {reason}", self.command.display()),
        }
    }
}

/// Reads `pipe` to its end, keeping at most `max` bytes; stops (closing the pipe) as soon
/// as there are more. The bytes, and whether it stopped early.
async fn read_at_most(pipe: impl AsyncRead + Unpin, max: usize) -> (Vec<u8>, bool) {
    let mut bytes = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    // A read error ends the output like its end would; the exit status tells the rest.
    let _ = pipe.take(limit).read_to_end(&mut bytes).await;
    let full = bytes.len() > max;
    bytes.truncate(max);
    (bytes, full)
}

impl OcrEngine for Tesseract {
    fn recognize<'a>(&'a self, image: &'a [u8], _content_type: &'a str) -> OcrFuture<'a> {
        Box::pin(async move {
            // Dropping the run at the deadline kills the child (kill_on_drop).
            match tokio::time::timeout(self.timeout, self.run(image)).await {
                Ok(result) => result,
                Err(_) => Err(OcrError::Timeout {
                    millis: self.timeout.as_millis() as u64,
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;
    use std::time::Instant;

    use super::*;

    fn tesseract() -> Tesseract {
        Tesseract::new(
            "tesseract".into(),
            "eng".into(),
            Duration::from_secs(20),
            512 << 20,
        )
    }

    fn corpus_image(name: &str) -> Vec<u8> {
        std::fs::read(
            moat_test_support::shared_dir()
                .join("corpus/images")
                .join(name),
        )
        .expect("corpus image")
    }

    /// A fake engine: a shell script with `body`, in `dir`.
    fn script(dir: &std::path::Path, body: &str) -> PathBuf {
        let path = dir.join("engine.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn reads_the_text_of_a_spam_image() {
        let engine = tesseract();
        assert!(engine.probe().unwrap().contains("tesseract"));
        let names: Vec<_> =
            std::fs::read_dir(moat_test_support::shared_dir().join("corpus/images/spam"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
        let first = names.iter().min().unwrap();
        let text = engine
            .recognize(&corpus_image(&format!("spam/{first}")), "image/png")
            .await
            .unwrap();
        assert!(
            text.split_whitespace().count() >= 3,
            "too little text: {text:?}"
        );
        assert!(!text.contains('\u{c}'));
    }

    #[tokio::test]
    async fn a_corrupt_image_fails_with_the_engines_reason() {
        let mut png = corpus_image("ham/ham-01.png");
        png.truncate(200);
        let error = tesseract().recognize(&png, "image/png").await.unwrap_err();
        assert!(matches!(error, OcrError::Failed { .. }), "{error}");
    }

    #[tokio::test]
    async fn an_engine_that_hangs_is_killed_at_the_time_limit() {
        let dir = moat_test_support::scratch();
        // The engine may write no file (RLIMIT_FSIZE 0): it names an empty one by its pid.
        let hang = script(
            dir.path(),
            &format!(": > {}/$$.pid\nexec sleep 30", dir.path().display()),
        );
        let engine = Tesseract::new(hang, "eng".into(), Duration::from_millis(300), 512 << 20);
        let start = Instant::now();
        let error = engine.recognize(b"image", "image/png").await.unwrap_err();
        assert_eq!(error, OcrError::Timeout { millis: 300 });
        assert!(start.elapsed() < Duration::from_secs(5));
        let pid = std::fs::read_dir(dir.path())
            .unwrap()
            .find_map(|entry| {
                let name = entry.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".pid").map(str::to_owned)
            })
            .expect("the engine named its pid");
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let deadline = Instant::now() + Duration::from_secs(5);
        // Gone, or a zombie awaiting the reaper: either way no longer running.
        while proc_dir.exists() && !is_zombie(&proc_dir) {
            assert!(
                Instant::now() < deadline,
                "the engine still runs after its time limit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn is_zombie(proc_dir: &std::path::Path) -> bool {
        std::fs::read_to_string(proc_dir.join("stat"))
            .map(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(true)
    }

    #[test]
    fn a_probe_that_hangs_gives_up() {
        let dir = moat_test_support::scratch();
        let hang = script(dir.path(), "exec sleep 30");
        let started = Instant::now();
        let error = Tesseract::new(hang, "eng".into(), Duration::from_secs(1), 512 << 20)
            .probe()
            .unwrap_err();
        assert!(error.contains("did not answer"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(15));
    }

    #[tokio::test]
    async fn a_missing_binary_is_a_clear_error() {
        let engine = Tesseract::new(
            "/nonexistent/tesseract".into(),
            "eng".into(),
            Duration::from_secs(1),
            512 << 20,
        );
        assert!(engine.probe().unwrap_err().contains("cannot run"));
        let error = engine.recognize(b"x", "image/png").await.unwrap_err();
        assert!(
            matches!(&error, OcrError::Failed { reason } if reason.contains("cannot run")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_engine_runs_under_memory_cpu_and_file_limits() {
        let dir = moat_test_support::scratch();
        let limits = script(
            dir.path(),
            "cat > /dev/null\necho $(ulimit -v) $(ulimit -t) $(ulimit -f) $(ulimit -c)",
        );
        let engine = Tesseract::new(limits, "eng".into(), Duration::from_millis(1500), 256 << 20);
        // KiB of address space; CPU seconds: the timeout rounded up, and one more.
        assert_eq!(
            engine.recognize(b"image", "image/png").await.unwrap(),
            "262144 3 0 0"
        );
    }

    #[tokio::test]
    async fn tesseract_over_its_memory_limit_fails_cleanly() {
        let image = corpus_image("spam/spam-01.png");
        let engine = Tesseract::new(
            "tesseract".into(),
            "eng".into(),
            Duration::from_secs(20),
            32 << 20,
        );
        let error = engine.recognize(&image, "image/png").await.unwrap_err();
        assert!(matches!(error, OcrError::Failed { .. }), "{error}");
        let text = tesseract().recognize(&image, "image/png").await.unwrap();
        assert!(!text.is_empty(), "the image reads within the default limit");
    }

    #[tokio::test]
    async fn an_engine_stopped_by_its_cpu_limit_timed_out() {
        let dir = moat_test_support::scratch();
        let spent = script(dir.path(), "cat > /dev/null\nkill -XCPU $$");
        let engine = Tesseract::new(spent, "eng".into(), Duration::from_secs(20), 256 << 20);
        assert_eq!(
            engine.recognize(b"image", "image/png").await,
            Err(OcrError::Timeout { millis: 20_000 })
        );
    }

    #[tokio::test]
    async fn only_so_much_output_is_read() {
        let dir = moat_test_support::scratch();
        // 50 MB of text, then 50 MB of complaints with a failure.
        let chatty = script(
            dir.path(),
            "cat > /dev/null\nhead -c 50000000 /dev/zero | tr '\\0' a\n\
             head -c 50000000 /dev/zero | tr '\\0' e >&2\nexit 1",
        );
        let engine = Tesseract::new(chatty, "eng".into(), Duration::from_secs(20), 256 << 20);
        let started = Instant::now();
        let text = engine.recognize(b"image", "image/png").await.unwrap();
        assert_eq!(text.len(), MAX_STDOUT_BYTES);
        assert!(started.elapsed() < Duration::from_secs(10));

        let complainer = script(
            dir.path(),
            "cat > /dev/null\nhead -c 50000000 /dev/zero | tr '\\0' e >&2\nexit 1",
        );
        let engine = Tesseract::new(complainer, "eng".into(), Duration::from_secs(20), 256 << 20);
        let error = engine.recognize(b"image", "image/png").await.unwrap_err();
        assert!(
            matches!(&error, OcrError::Failed { reason } if reason.len() < MAX_STDERR_BYTES + 200),
            "{error:.300}"
        );
    }
}
