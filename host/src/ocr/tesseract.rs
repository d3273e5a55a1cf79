//! The tesseract engine: Debian's `tesseract-ocr`, run as a child process per image with
//! the image on stdin and the text on stdout, killed at the time limit.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use super::{OcrEngine, OcrError, OcrFuture};

/// How long `--version` may take when the engine is checked at start.
const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// Runs `tesseract stdin stdout -l LANGUAGES` for each image.
#[derive(Debug, Clone)]
pub struct Tesseract {
    command: PathBuf,
    languages: String,
    timeout: Duration,
}

impl Tesseract {
    /// An engine running `command` with `-l languages`, killed after `timeout`.
    pub fn new(command: PathBuf, languages: String, timeout: Duration) -> Self {
        Self {
            command,
            languages,
            timeout,
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

    async fn run(&self, image: &[u8]) -> Result<String, OcrError> {
        let mut child = Command::new(&self.command)
            .args(["stdin", "stdout", "-l", &self.languages])
            // One core per image: the pool's size is then the CPU OCR can take.
            .env("OMP_THREAD_LIMIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| OcrError::Failed {
                reason: format!("cannot run {}: {e}", self.command.display()),
            })?;
        let mut stdin = child.stdin.take().ok_or_else(|| OcrError::Failed {
            reason: "the engine's stdin was not captured".into(),
        })?;
        let feed = async move {
            // An engine that exits early (unreadable image) closes the pipe: its exit
            // status says why, so a write error here is not the error to report.
            let _ = stdin.write_all(image).await;
            drop(stdin);
        };
        let (_, output) = tokio::join!(feed, child.wait_with_output());
        let output = output.map_err(|e| OcrError::Failed {
            reason: format!("waiting for {}: {e}", self.command.display()),
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let reason = stderr
                .lines()
                .map(str::trim)
                .find(|line| !line.is_empty())
                .unwrap_or("no message");
            return Err(OcrError::Failed {
                reason: format!(
                    "{} exited with {}: {reason}",
                    self.command.display(),
                    output.status
                ),
            });
        }
        // Tesseract ends each page with a form feed.
        Ok(String::from_utf8_lossy(&output.stdout)
            .replace('\u{c}', "")
            .trim()
            .to_owned())
    }
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
        Tesseract::new("tesseract".into(), "eng".into(), Duration::from_secs(20))
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
        let pid_file = dir.path().join("pid");
        let hang = script(
            dir.path(),
            &format!("echo $$ > {}\nexec sleep 30", pid_file.display()),
        );
        let engine = Tesseract::new(hang, "eng".into(), Duration::from_millis(300));
        let start = Instant::now();
        let error = engine.recognize(b"image", "image/png").await.unwrap_err();
        assert_eq!(error, OcrError::Timeout { millis: 300 });
        assert!(start.elapsed() < Duration::from_secs(5));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
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
        let error = Tesseract::new(hang, "eng".into(), Duration::from_secs(1))
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
        );
        assert!(engine.probe().unwrap_err().contains("cannot run"));
        let error = engine.recognize(b"x", "image/png").await.unwrap_err();
        assert!(
            matches!(&error, OcrError::Failed { reason } if reason.contains("cannot run")),
            "{error}"
        );
    }
}
