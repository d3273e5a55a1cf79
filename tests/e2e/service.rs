//! Running as a service: nothing Moat writes is readable by other users, root is given up
//! once the listeners are bound, and systemd hears READY / RELOADING / STOPPING (issue 22
//! points 7 and 9).

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use moat_test_support::{Server, ready_addresses, scratch};

use crate::gateway::{Gateway, step};
use crate::{MOAT, message};

/// Every path under `dir` (itself included) whose mode lets other users in.
fn open_to_others(dir: &Path) -> Vec<String> {
    let mut open = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.permissions().mode() & 0o077 != 0 {
            open.push(format!(
                "{} {:o}",
                path.display(),
                meta.permissions().mode()
            ));
        }
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    open
}

#[test]
fn the_data_dir_and_every_file_in_it_are_private_to_moats_user() {
    let mut gw = Gateway::start("[admin]\naddress = \"127.0.0.1:0\"\n");
    let steps = gw.smtplib(
        "mx",
        message("private", "", "nobody else may read this").as_bytes(),
        &["--from", "a@example.org", "--rcpt", "b@example.test"],
    );
    assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");
    gw.stop();
    let data = gw.dir.path().join("data");
    assert!(data.join("admin.token").exists());
    assert!(
        data.join("tls").exists(),
        "the dev certificate is in the data dir"
    );
    let open = open_to_others(&data);
    assert!(open.is_empty(), "readable by others: {open:#?}");
}

#[test]
fn serve_warns_when_the_data_dir_is_open_to_other_users() {
    let dir = scratch();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut gw = Gateway::start_in(dir, "");
    let log = gw.stop();
    assert!(
        log.contains("the data directory is open to other users"),
        "{log}"
    );
}

/// A configuration that nobody but root can start: listeners on loopback, data under
/// `data`, switching to `nobody`.
const AS_NOBODY: &str = "[server]\nhostname = \"mx.test\"\ndata_dir = \"data\"\n\
user = \"nobody\"\ngroup = \"nogroup\"\n\
[[listener]]\nname = \"mx\"\naddress = \"127.0.0.1:0\"\n\
[relay]\ndomains = [\"example.test\"]\n\
[filter]\nbundled = [\"headers\"]\n\
[[delivery.route]]\ndomains = [\"example.test\"]\nservers = [\"127.0.0.1:9\"]\n";

/// The `Uid:` line of `/proc/PID/status`: real, effective, saved and file-system uid.
fn uids(pid: u32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect()
}

#[test]
fn started_as_root_with_a_user_the_server_runs_as_that_user_and_still_answers() {
    // SAFETY: geteuid reads this process's credentials.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only root can switch users (run the suite as root, as .ci/run does)");
        return;
    }
    let dir = scratch();
    // nobody must be able to reach its data dir through the scratch dir.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::write(dir.path().join("moat.toml"), AS_NOBODY).unwrap();
    let server = Server::start(
        MOAT,
        dir.path(),
        &["serve", "--config", "moat.toml"],
        Duration::from_secs(120),
    );
    let uids = uids(server.id());
    assert!(uids.iter().all(|&uid| uid != 0), "still root: {uids:?}");
    let mx = ready_addresses(&server.ready_line)["mx"];
    let mut smtp = moat_test_support::RawSmtp::connect(mx);
    assert_eq!(smtp.reply().expect("greeting").code, 220);
    smtp.send(
        b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n",
    );
    for _ in 0..4 {
        assert!(smtp.reply().expect("reply").code < 400);
    }
    smtp.send(format!("{}.\r\n", message("as nobody", "", "hello")).as_bytes());
    let queued = smtp.reply().expect("end of data");
    assert_eq!(queued.code, 250, "{queued:?}");
    let (status, stderr) = server.stop();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("running as"), "{stderr}");
}

#[test]
fn systemd_hears_ready_reloading_and_stopping() {
    let dir = scratch();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let receive = || {
        let mut buffer = [0u8; 512];
        let n = socket.recv(&mut buffer).expect("a notification");
        String::from_utf8_lossy(&buffer[..n]).into_owned()
    };
    let config = crate::gateway::base_config("", "");
    std::fs::write(dir.path().join("moat.toml"), config).unwrap();
    let server = Server::start_with_env(
        MOAT,
        dir.path(),
        &["serve", "--dev", "--config", "moat.toml"],
        &[("NOTIFY_SOCKET", socket_path.to_str().unwrap())],
        Duration::from_secs(120),
    );
    assert_eq!(receive(), "READY=1", "after the ready line");
    server.signal("HUP");
    let reloading = receive();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    assert_eq!(receive(), "READY=1", "after the reload");
    let (status, stderr) = server.stop();
    assert!(status.success(), "{stderr}");
    assert_eq!(receive(), "STOPPING=1");
}
