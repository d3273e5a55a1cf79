//! A full disk under the queue (issue 23, point 4), on a real small file system: a tmpfs
//! of 8 MiB mounted for the test (root only: without it the tests say so and pass), with
//! `[queue] min_free = "2MiB"`. Below the reserve new mail is refused `452 4.3.1` and
//! nothing is answered 250 that is not on disk; with room again mail flows. A delivery
//! outcome that cannot be written (the disk filled during the attempt) fails the queue's
//! database: moat stops and exits non-zero, and once restarted nothing accepted is lost
//! and nothing is delivered more than once more.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use moat_test_support::{Downstream, RawSmtp, message_bytes, scratch, wait_until};
use tempfile::TempDir;

use crate::delivery::{delivery_config, queue, send};
use crate::gateway::Gateway;

/// The reserve the tests configure, and the file system's size.
const RESERVE: &str = "[queue]\nmin_free = \"2MiB\"\n[smtp]\nmax_message_size = \"1MiB\"\n";
const DISK_SIZE: &str = "8m";

/// A tmpfs of a few MiB, unmounted when dropped.
struct SmallDisk {
    dir: TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` on a new scratch dir; `None` (with a note) when this
    /// process may not mount one.
    fn mount(size: &str) -> Option<SmallDisk> {
        let uid = Command::new("id").arg("-u").output().unwrap();
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = scratch();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        if !mounted.status.success() {
            eprintln!(
                "skipped: cannot mount a tmpfs here: {}",
                String::from_utf8_lossy(&mounted.stderr)
            );
            return None;
        }
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the file system is full; its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        for chunk in [1 << 20, 4096, 1] {
            let bytes = vec![0_u8; chunk];
            while file.write_all(&bytes).is_ok() {}
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let path = self.dir.path();
        let unmounted = Command::new("umount").arg(path).status();
        if !unmounted.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").arg("-l").arg(path).status();
        }
    }
}

/// A scratch dir for the gateway whose `data` is on `disk`.
fn gateway_dir(disk: &SmallDisk) -> TempDir {
    let dir = scratch();
    std::os::unix::fs::symlink(disk.path(), dir.path().join("data")).unwrap();
    dir
}

/// A message with this Message-ID, `header_bytes` of extra header fields and a short body.
fn message(id: &str, header_bytes: usize) -> String {
    let padding: String = (0..header_bytes / 80)
        .map(|i| format!("X-Padding-{i:04}: {}\r\n", "p".repeat(62)))
        .collect();
    format!(
        "From: Sender <sender@example.test>\r\nTo: ok@example.test\r\nSubject: {id}\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{id}@test>\r\n{padding}\r\nbody of {id}\r\n"
    )
}

/// How many messages the downstream received with Message-ID `<id@test>`.
fn received(downstream: &Downstream, id: &str) -> usize {
    let wanted = format!("message-id: <{id}@test>");
    downstream
        .messages()
        .iter()
        .filter(|m| {
            String::from_utf8_lossy(&message_bytes(m))
                .lines()
                .any(|line| line.eq_ignore_ascii_case(&wanted))
        })
        .count()
}

/// Sends MAIL (after RSET) until it is refused, as the space reading expires; the reply.
fn mail_until_refused(smtp: &mut RawSmtp) -> moat_test_support::SmtpReply {
    let mut refusal = None;
    let refused = wait_until(Duration::from_secs(10), || {
        let reply = smtp.command("MAIL FROM:<sender@example.test>");
        if reply.code == 250 {
            smtp.command("RSET");
            return false;
        }
        refusal = Some(reply);
        true
    });
    assert!(refused, "MAIL was never refused on a full disk");
    refusal.unwrap()
}

#[test]
fn a_full_disk_refuses_new_mail_with_452_and_mail_flows_again_once_there_is_room() {
    let Some(disk) = SmallDisk::mount(DISK_SIZE) else {
        return;
    };
    let dir = gateway_dir(&disk);
    let downstream = Downstream::start("127.0.0.1", 0, &dir.path().join("downstream.log"), &[]);
    let config = delivery_config("", &[(&["example.test"], downstream.addr)]) + RESERVE;
    let mut gw = Gateway::start_in(dir, &config);

    send(
        &gw,
        "sender@example.test",
        &["ok@example.test"],
        &message("before", 0),
    );
    assert!(wait_until(Duration::from_secs(30), || queue(&gw).is_empty()));

    // A transaction opened while there was room, then the disk fills.
    let mut open = RawSmtp::connect(gw.mx());
    assert_eq!(open.reply().unwrap().code, 220);
    assert_eq!(open.command("EHLO client.test").code, 250);
    assert_eq!(open.command("MAIL FROM:<sender@example.test>").code, 250);
    assert_eq!(open.command("RCPT TO:<ok@example.test>").code, 250);
    let filler = disk.fill();

    let mut late = RawSmtp::connect(gw.mx());
    assert_eq!(late.reply().unwrap().code, 220);
    assert_eq!(late.command("EHLO client.test").code, 250);
    let refusal = mail_until_refused(&mut late);
    assert_eq!(refusal.code, 452, "{refusal:?}");
    assert!(refusal.text.starts_with("4.3.1 "), "{refusal:?}");
    let data = open.command("DATA");
    assert_eq!(data.code, 452, "DATA on a full disk: {data:?}");
    assert!(data.text.starts_with("4.3.1 "), "{data:?}");
    late.command("QUIT");

    // Room again: the same session's message is taken and delivered.
    std::fs::remove_file(filler).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(open.command("DATA").code, 354);
    open.send(message("after", 0).replace("\r\n.", "\r\n..").as_bytes());
    let queued = open.command(".");
    assert_eq!(queued.code, 250, "{queued:?}");
    assert!(wait_until(Duration::from_secs(30), || {
        received(&downstream, "after") == 1
    }));
    assert!(wait_until(Duration::from_secs(10), || queue(&gw).is_empty()));
    gw.stop();
    assert_eq!(received(&downstream, "before"), 1);
    assert_eq!(received(&downstream, "after"), 1);
    assert_eq!(downstream.messages().len(), 2, "{:?}", downstream.events());
}

#[test]
fn an_outcome_that_cannot_be_written_stops_moat_and_the_restart_delivers_at_most_once_more() {
    let Some(disk) = SmallDisk::mount(DISK_SIZE) else {
        return;
    };
    let dir = gateway_dir(&disk);
    // A slow downstream: the disk fills between its copy of the message and its 250.
    let downstream = Downstream::start(
        "127.0.0.1",
        0,
        &dir.path().join("downstream.log"),
        &[
            "--data-delay",
            "3",
            "--rcpt",
            "unknown@example.test=550 5.1.1 no such user",
        ],
    );
    let config = delivery_config("", &[(&["example.test"], downstream.addr)]) + RESERVE;
    let mut gw = Gateway::start_in(dir, &config);
    send(
        &gw,
        "sender@example.test",
        &["ok@example.test"],
        &message("first", 0),
    );
    assert!(wait_until(Duration::from_secs(30), || queue(&gw).is_empty()));

    // One recipient delivered, one failed: the outcome comes with a bounce carrying the
    // original's 16 KiB header, so writing it needs room the full disk does not have.
    send(
        &gw,
        "sender@example.test",
        &["ok@example.test", "unknown@example.test"],
        &message("fails-to-record", 16 << 10),
    );
    assert!(wait_until(Duration::from_secs(30), || {
        received(&downstream, "fails-to-record") == 1
    }));
    let filler = disk.fill();

    let (status, stderr) = gw.wait_for_exit(Duration::from_secs(60));
    let status = status.unwrap_or_else(|| panic!("moat kept running:\n{stderr}"));
    assert_eq!(status.code(), Some(1), "{stderr}");
    // One error says what happened and what comes next.
    let error = "takes none until it is opened again";
    assert_eq!(stderr.matches(error).count(), 1, "{stderr}");
    assert!(
        stderr.contains("stopped: the queue's database failed a write"),
        "{stderr}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        received(&downstream, "fails-to-record"),
        1,
        "delivered again while down"
    );

    // Room again, and the supervisor's restart: the outcome is recorded (fjall may have
    // kept the failed batch after all) or the message goes once more; then the bounce.
    std::fs::remove_file(filler).unwrap();
    gw.start_again();
    assert!(
        wait_until(Duration::from_secs(60), || {
            downstream
                .messages()
                .iter()
                .any(|m| m["rcpts"] == serde_json::json!(["sender@example.test"]))
        }),
        "no bounce for the failed recipient: {:?}",
        downstream.events()
    );
    assert!(wait_until(Duration::from_secs(30), || queue(&gw).is_empty()));
    gw.stop();
    assert_eq!(received(&downstream, "first"), 1);
    let copies = received(&downstream, "fails-to-record");
    assert!(
        (1..=2).contains(&copies),
        "delivered {copies} times: the at-least-once window allows one more"
    );
    let bounces = downstream
        .messages()
        .iter()
        .filter(|m| m["rcpts"] == serde_json::json!(["sender@example.test"]))
        .count();
    assert_eq!(bounces, 1, "{:?}", downstream.events());
}
