//! Hot reload end to end: a plugin dropped into the plugin directory goes live by itself;
//! a changed weight in moat.toml plus SIGHUP changes the next decision while a session
//! opened before keeps the set it started with; a broken .wasm leaves the previous version
//! live; `moat reload` refuses an invalid configuration, naming the key; a renewed
//! `[tls]` certificate is served after `moat reload`, and one that cannot be read is
//! refused.

use std::time::Duration;

use moat::test_guests::EXAMPLE_HELLO;
use moat_test_support::{RawSmtp, wait_until};

use crate::gateway::{Gateway, step};
use crate::{message, moat};

/// hello scores 4 for this subject; with weight 1 that is accepted, with 20 rejected.
const INVOICE: &str = "Your quarterly invoice";

fn config(weight: f64) -> String {
    format!(
        "plugin_dir = \"plugins\"\n[plugin.hello]\nweight = {weight:.1}\n[thresholds]\ntag = 5.0\nquarantine = 50.0\nreject = 60.0\n[admin]\naddress = \"127.0.0.1:0\"\n"
    )
}

/// The code the gateway answers at the end of DATA for the invoice message.
fn invoice_reply(gw: &Gateway) -> u64 {
    let steps = gw.smtplib(
        "mx",
        message(INVOICE, "", "hello").as_bytes(),
        &["--from", "a@example.org", "--rcpt", "b@example.test"],
    );
    step(&steps, "data")["code"].as_u64().unwrap()
}

fn install_hello(gw: &Gateway) {
    let plugins = gw.dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(
        plugins.join("hello.toml"),
        "[config.phrases]\n\"quarterly invoice\" = 4.0\n",
    )
    .unwrap();
    std::fs::copy(EXAMPLE_HELLO, plugins.join("hello.wasm")).unwrap();
}

/// Whether `/metrics` lists `plugin` (it lists every plugin in force).
fn is_live(gw: &Gateway, plugin: &str) -> bool {
    crate::metrics::get_metrics(gw, "")
        .contains(&format!("moat_plugin_calls_total{{plugin=\"{plugin}\"}}"))
}

#[test]
fn a_dropped_in_plugin_goes_live_and_sighup_applies_a_new_weight_but_not_to_open_sessions() {
    let mut gw = Gateway::start(&config(1.0));
    assert_eq!(invoice_reply(&gw), 250, "no hello plugin yet");

    assert!(!is_live(&gw, "hello"));
    install_hello(&gw);
    // Nothing is asked to reload: the watcher sees the new files by itself.
    assert!(
        wait_until(Duration::from_secs(10), || is_live(&gw, "hello")),
        "hello never went live"
    );
    assert_eq!(invoice_reply(&gw), 250, "weight 1: 4 points, accepted");
    // `moat plugin list` shows the running server's set (through GET /plugins).
    let listed = moat(
        gw.dir.path(),
        &["plugin", "list", "--json", "--config", "moat.toml"],
    );
    listed.assert_success();
    let hello = listed
        .json_lines()
        .into_iter()
        .find(|p| p["name"] == "hello")
        .unwrap_or_else(|| panic!("{}", listed.stdout()));
    assert_eq!(hello["weight"], 1.0);

    // A session opened now keeps this set (weight 1) to its end.
    let mut open = RawSmtp::connect(gw.mx());
    open.reply();
    assert_eq!(open.command("EHLO open.example").code, 250);
    assert_eq!(open.command("MAIL FROM:<a@example.org>").code, 250);
    assert_eq!(open.command("RCPT TO:<b@example.test>").code, 250);

    let path = gw.dir.path().join("moat.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("weight = 1.0", "weight = 20.0")).unwrap();
    gw.hangup();
    assert!(
        wait_until(Duration::from_secs(10), || invoice_reply(&gw) == 550),
        "weight 20 (80 points) must reject after SIGHUP"
    );

    assert_eq!(open.command("DATA").code, 354);
    open.send(message(INVOICE, "", "hello").as_bytes());
    open.send(b".\r\n");
    let reply = open.reply().expect("end-of-data reply");
    assert_eq!(reply.code, 250, "the open session kept its set: {reply:?}");
    let stderr = gw.stop();
    assert!(stderr.contains("configuration reloaded"), "{stderr}");
}

#[test]
fn a_broken_plugin_keeps_the_previous_version_and_an_invalid_config_is_refused() {
    let mut gw = Gateway::start(&config(20.0));
    install_hello(&gw);
    assert!(
        wait_until(Duration::from_secs(10), || invoice_reply(&gw) == 550),
        "hello never went live"
    );

    // A broken hello.wasm: reported, and the previous hello stays live.
    std::fs::write(gw.dir.path().join("plugins/hello.wasm"), b"\0asm broken").unwrap();
    let out = moat(gw.dir.path(), &["reload", "--config", "moat.toml"]);
    out.assert_failure();
    assert!(
        out.stderr()
            .contains("hello: the previous version stays live"),
        "{}",
        out.stderr()
    );
    assert!(out.stdout().contains("hello"), "{}", out.stdout());
    assert_eq!(invoice_reply(&gw), 550, "the old hello still scores");

    // An invalid configuration: the server refuses it, naming the key, and the running one
    // stays. (--admin: the CLI itself cannot read the file any more.)
    let path = gw.dir.path().join("moat.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("reject = 60.0", "reject = 1.0")).unwrap();
    let admin = gw.addr("admin").to_string();
    let out = moat(
        gw.dir.path(),
        &["reload", "--config", "moat.toml", "--admin", &admin],
    );
    out.assert_failure();
    assert!(
        out.stderr().contains("reload refused") && out.stderr().contains("thresholds."),
        "{}",
        out.stderr()
    );
    assert_eq!(invoice_reply(&gw), 550);
    // SIGHUP with the same file: refused too, in the log.
    gw.hangup();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(invoice_reply(&gw), 550);
    let stderr = gw.stop();
    assert!(
        stderr.contains("plugin failed to load on reload"),
        "{stderr}"
    );
    assert!(
        stderr.contains("reload refused; the running configuration stays"),
        "{stderr}"
    );
}

#[test]
fn under_a_minute_of_load_with_a_reload_every_second_no_session_fails_and_nothing_is_lost() {
    const SENDERS: usize = 4;
    const LOAD: Duration = Duration::from_secs(60);
    let mut gw = Gateway::start(&config(1.0));
    install_hello(&gw);
    assert!(wait_until(Duration::from_secs(10), || is_live(
        &gw, "hello"
    )));
    let mx = gw.mx();
    let deadline = std::time::Instant::now() + LOAD;
    let senders: Vec<_> = (0..SENDERS)
        .map(|n| {
            std::thread::spawn(move || {
                // Sessions of 20 messages each, until the deadline: each 250's queue id.
                let mut ids = Vec::new();
                while std::time::Instant::now() < deadline {
                    let mut smtp = RawSmtp::connect(mx);
                    assert_eq!(smtp.reply().expect("greeting").code, 220);
                    assert_eq!(smtp.command(&format!("EHLO load{n}.example")).code, 250);
                    for i in 0..20 {
                        assert_eq!(smtp.command("MAIL FROM:<a@example.org>").code, 250);
                        assert_eq!(smtp.command("RCPT TO:<b@example.test>").code, 250);
                        assert_eq!(smtp.command("DATA").code, 354);
                        let subject = format!("{INVOICE} {n}-{}-{i}", ids.len());
                        smtp.send(message(&subject, "", "hello").as_bytes());
                        let reply = smtp.command(".");
                        assert_eq!(reply.code, 250, "{reply:?}");
                        ids.push(crate::gateway::queued_id(&reply.text));
                    }
                    assert_eq!(smtp.command("QUIT").code, 221);
                }
                ids
            })
        })
        .collect();
    let mut reloads = 0;
    while std::time::Instant::now() < deadline {
        let out = moat(gw.dir.path(), &["reload", "--config", "moat.toml"]);
        out.assert_success();
        reloads += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
    let mut accepted: Vec<String> = senders
        .into_iter()
        .flat_map(|s| s.join().expect("a sender failed"))
        .collect();
    let log = gw.stop();
    let mut queued = gw.queue_ids();
    accepted.sort();
    queued.sort();
    eprintln!(
        "{} messages accepted during {reloads} reloads",
        accepted.len()
    );
    // `moat reload` every second is a process and a whole reload each: fewer than 60 on a
    // busy machine.
    assert!(reloads >= 30, "{reloads} reloads");
    assert_eq!(
        log.matches("configuration reloaded").count(),
        reloads + 1,
        "the drop-in and every `moat reload` reloaded"
    );
    assert!(accepted.len() >= 100, "only {} messages", accepted.len());
    assert_eq!(
        queued, accepted,
        "every 250 is in the queue, and nothing else"
    );
}

/// A new certificate and key, as PEM, and the SHA-256 of the certificate's DER.
fn new_certificate(name: &str) -> (String, String, String) {
    use sha2::Digest as _;
    let certified = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    let digest = sha2::Sha256::digest(certified.cert.der());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    (
        certified.cert.pem(),
        certified.signing_key.serialize_pem(),
        hex,
    )
}

/// The SHA-256 of the certificate the mx listener serves at STARTTLS.
fn served_certificate(gw: &Gateway) -> String {
    let steps = gw.talk("mx", &["--starttls"]);
    step(&steps, "starttls")["cert_sha256"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A certificate renewed in place (as certbot's deploy hook leaves it) is served from the
/// next handshake after `moat reload`; a key that does not parse is refused, and the
/// certificate in force stays.
#[test]
fn moat_reload_serves_a_renewed_certificate_and_refuses_an_unreadable_one() {
    let files = moat_test_support::scratch();
    let (cert, key) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    let (old_pem, old_key, old_sha) = new_certificate("mx.test");
    std::fs::write(&cert, old_pem).unwrap();
    std::fs::write(&key, old_key).unwrap();
    let gw = Gateway::start(&format!(
        "[tls]\ncertificate = {:?}\nkey = {:?}\n[admin]\naddress = \"127.0.0.1:0\"\n",
        cert.display().to_string(),
        key.display().to_string()
    ));
    assert_eq!(served_certificate(&gw), old_sha);

    let (new_pem, new_key, new_sha) = new_certificate("mx.test");
    std::fs::write(&cert, new_pem).unwrap();
    std::fs::write(&key, new_key).unwrap();
    assert_eq!(
        served_certificate(&gw),
        old_sha,
        "nothing changes before the reload"
    );
    let reload = moat(gw.dir.path(), &["reload", "--config", "moat.toml"]);
    reload.assert_success();
    assert!(
        reload.stdout().contains("reloaded: certificate "),
        "{}",
        reload.stdout()
    );
    assert_eq!(
        served_certificate(&gw),
        new_sha,
        "the renewed certificate is served"
    );

    std::fs::write(&key, "not a key\n").unwrap();
    let refused = moat(gw.dir.path(), &["reload", "--config", "moat.toml"]);
    refused.assert_failure();
    assert!(
        refused.stderr().contains("cannot read [tls] again")
            && refused.stderr().contains("private key"),
        "{}",
        refused.stderr()
    );
    assert_eq!(
        served_certificate(&gw),
        new_sha,
        "the certificate in force stays"
    );
}
