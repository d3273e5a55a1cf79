//! Two gateways on one Redis (`[kv] backend = "redis"`), as a primary and a backup MX:
//! what the plugins learn through one, the other's plugins score with.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use moat_test_support::{free_port, scratch, shared_dir, wait_until};

use crate::decisions::first_files;
use crate::gateway::{Gateway, queued_id, step};
use crate::moat;

/// A redis-server of the test's own on a loopback port, its data in a temporary
/// directory; killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    fn start() -> Self {
        let dir = scratch();
        let port = free_port("127.0.0.1");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (Debian package redis-server)");
        assert!(
            wait_until(Duration::from_secs(10), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            }),
            "redis-server did not listen on port {port}"
        );
        Self {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `file` to `gw` and returns the `X-Moat-Report` it was queued with.
fn report(gw: &mut Gateway, file: &std::path::Path) -> String {
    let raw = std::fs::read(file).unwrap();
    let crlf = String::from_utf8_lossy(&raw)
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");
    let steps = gw.smtplib(
        "mx",
        crlf.as_bytes(),
        &["--from", "sender@example.org", "--rcpt", "b@example.test"],
    );
    let data = step(&steps, "data");
    assert_eq!(data["code"], 250, "{steps:?}");
    let id = queued_id(data["text"].as_str().unwrap());
    gw.stop();
    let stored = String::from_utf8_lossy(&gw.queued_message(&id)).into_owned();
    gw.start_again();
    stored
        .lines()
        .skip_while(|l| !l.starts_with("X-Moat-Report:"))
        .take_while(|l| {
            l.starts_with("X-Moat-Report:") || l.starts_with('\t') || l.starts_with(' ')
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn spam_learnt_through_one_gateway_is_scored_by_the_other() {
    let redis = RedisServer::start();
    let extra = format!(
        "bundled = [\"headers\", \"bayes\"]\n\
[admin]\naddress = \"127.0.0.1:0\"\n\
[kv]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:{}/\"\nprefix = \"site\"\n\
[plugin.bayes.config]\nmin_spam = 20\nmin_ham = 20\n\
[sender_auth]\nverify = false\n\
[thresholds]\ntag = 50.0\nquarantine = 60.0\nreject = 100.0\n",
        redis.port
    );
    let primary = Gateway::start(&extra);
    let mut backup = Gateway::start(&extra);
    let corpus = shared_dir().join("corpus/mail");
    let spam = first_files(&corpus.join("test/spam"), 1).remove(0);

    let before = report(&mut backup, &spam);
    assert!(
        !before.contains("BAYES_SPAM"),
        "nothing learnt yet: {before}"
    );

    for (label, folder) in [("spam", "train/spam"), ("ham", "train/ham")] {
        let training: Vec<String> = first_files(&corpus.join(folder), 40)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let mut args = vec!["learn", "--config", "moat.toml", label];
        args.extend(training.iter().map(String::as_str));
        let out = moat(primary.dir.path(), &args);
        out.assert_success();
        assert!(
            out.stdout().contains("by the running server"),
            "learnt through the primary's live plugins: {}",
            out.stdout()
        );
    }
    let after = report(&mut backup, &spam);
    assert!(
        after.contains("BAYES_SPAM"),
        "the backup scores with what the primary learnt: {after}"
    );
    // The backup's live plugins read the training totals from Redis too.
    let stats = moat(
        backup.dir.path(),
        &["learn", "stats", "--config", "moat.toml"],
    );
    stats.assert_success();
    let spam_learnt = stats
        .stdout()
        .lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["spam", "40"]);
    assert!(spam_learnt, "{}", stats.stdout());
}
