//! Two gateways on one Redis (`[kv] backend = "redis"`), as a primary and a backup MX:
//! what the plugins learn through one, the other's plugins score with.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use moat_test_support::{RedisServer, SmtpSink, scratch, shared_dir, wait_until};

use crate::decisions::first_files;
use crate::delivery::{delivery_config, send};
use crate::durability::start_load;
use crate::gateway::{Gateway, queued_id, step};
use crate::metrics::get_metrics;
use crate::moat;

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

/// Sends one message to `gw`; its DATA reply code.
fn send_one(gw: &Gateway) -> u64 {
    let steps = gw.smtplib(
        "mx",
        b"From: a@example.org\r\nTo: b@example.test\r\nSubject: during\r\n\r\nhello\r\n",
        &["--from", "a@example.org", "--rcpt", "b@example.test"],
    );
    step(&steps, "data")["code"].as_u64().unwrap()
}

/// The sum of a counter family's samples in `gw`'s `/metrics`.
fn metric_total(gw: &Gateway, name: &str) -> f64 {
    get_metrics(gw, "")
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn with_redis_killed_mid_load_both_gateways_answer_lose_nothing_and_use_it_again() {
    let mut redis = RedisServer::start();
    let extra = format!(
        "[admin]\naddress = \"127.0.0.1:0\"\n\
[kv]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:{}/\"\nprefix = \"site\"\n\
connect_timeout = \"200ms\"\ncommand_timeout = \"200ms\"\n\
[sender_auth]\nverify = false\n",
        redis.port
    );
    let mut gateways = [Gateway::start(&extra), Gateway::start(&extra)];
    let loads: Vec<_> = gateways
        .iter()
        .map(|gw| start_load(gw.mx(), 8, 6))
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    redis.kill();
    for gw in &gateways {
        assert_eq!(send_one(gw), 250, "a gateway answers while Redis is down");
        assert!(
            metric_total(gw, "moat_kv_errors_total") > 0.0,
            "its plugins got kv errors"
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    redis.restart();
    let acknowledged: Vec<Vec<serde_json::Value>> = loads.into_iter().map(|l| l.finish()).collect();
    for acks in &acknowledged {
        assert!(
            acks.len() >= 20,
            "the load ran: {} acknowledged",
            acks.len()
        );
    }

    // Back: learning through one gateway reaches the other's plugins, no restart.
    let spam = first_files(&shared_dir().join("corpus/mail/train/spam"), 1).remove(0);
    let learnt = wait_until(Duration::from_secs(10), || {
        moat(
            gateways[0].dir.path(),
            &[
                "learn",
                "--config",
                "moat.toml",
                "spam",
                spam.to_str().unwrap(),
            ],
        )
        .stdout()
        .contains("bayes: 1 learnt")
    });
    assert!(learnt, "the plugins use Redis again once it is back");
    let stats = moat(
        gateways[1].dir.path(),
        &["learn", "stats", "--config", "moat.toml"],
    );
    assert!(
        stats
            .stdout()
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["spam", "1"]),
        "{}",
        stats.stdout()
    );

    for (gw, acks) in gateways.iter_mut().zip(&acknowledged) {
        gw.stop();
        let queued: std::collections::HashSet<String> = gw.queue_ids().into_iter().collect();
        for ack in acks {
            let id = ack["id"].as_str().unwrap();
            assert!(queued.contains(id), "{id} got a 250 but is not queued");
        }
    }
}

/// smtp-source's 30 messages over 10 sessions from 127.0.0.1 to `gw`, in the background.
fn smtp_source(gw: &Gateway) -> Child {
    std::fs::write(gw.dir.path().join("m.txt"), "Subject: hi\n\nhello\n").unwrap();
    Command::new(moat_test_support::sbin_program("smtp-source"))
        .args([
            "-s",
            "10",
            "-m",
            "30",
            "-f",
            "a@example.org",
            "-t",
            "b@example.test",
        ])
        .args(["-F", "m.txt", &gw.mx().to_string()])
        .current_dir(gw.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("smtp-source (Debian package postfix)")
}

/// 20 sessions at once from one client, half to each gateway: the reputation plugin's
/// compare-and-swap updates of the client's connection window and history, made by two
/// processes on one Redis, lose none, and what the traffic on both built shows in either.
#[test]
fn compare_and_swap_from_sessions_on_both_gateways_loses_no_update() {
    let redis = RedisServer::start();
    let extra = format!(
        "[kv]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:{}/\"\nprefix = \"site\"\n\
[plugin.reputation]\ntime_budget = \"10s\"\n\
[plugin.reputation.config]\nmax_connections_per_window = 60\nwindow_seconds = 3600\n\
[sender_auth]\nverify = false\n",
        redis.port
    );
    let mut gateways = [Gateway::start(&extra), Gateway::start(&extra)];
    let mut senders: Vec<_> = gateways.iter().map(smtp_source).collect();
    for sender in &mut senders {
        assert!(sender.wait().unwrap().success());
    }
    // The outcome stage runs after each reply; let the last ones land.
    std::thread::sleep(Duration::from_millis(500));
    for gw in &mut gateways {
        let log = gw.stop();
        assert_eq!(gw.queue_ids().len(), 30);
        let warnings: Vec<&str> = log
            .lines()
            .filter(|line| line.contains("WARN") && line.contains("reputation"))
            .collect();
        assert!(warnings.is_empty(), "{warnings:#?}");
    }
    // `moat check` on the second gateway's config reads the live state in Redis.
    let backup = &gateways[1];
    std::fs::write(
        backup.dir.path().join("probe.eml"),
        "Subject: probe\r\n\r\nhello\r\n",
    )
    .unwrap();
    let out = moat(
        backup.dir.path(),
        &[
            "check",
            "--json",
            "--config",
            "moat.toml",
            "--ip",
            "127.0.0.1",
            "probe.eml",
        ],
    );
    out.assert_success();
    let symbols = out.json_lines()[0]["symbols"].as_array().unwrap().clone();
    let detail = |name: &str| {
        symbols
            .iter()
            .find(|s| s["name"] == name)
            .and_then(|s| s["detail"].as_str())
            .unwrap_or_else(|| panic!("{name} in {symbols:?}"))
            .to_owned()
    };
    assert!(
        detail("REPUTATION_CONN_BURST").starts_with("61 connections from 127.0.0.1"),
        "{symbols:?}"
    );
    assert!(
        detail("REPUTATION_IP").starts_with("127.0.0.1: 60 msgs"),
        "{symbols:?}"
    );
    // The window and the history carry expiries, in Redis's own TTL and in the index the
    // sweep reads: a client never seen again leaves nothing behind.
    let expiring = redis.cli(&["ZRANGE", "site:{reputation}:exp", "0", "-1"]);
    for key in ["conn:127.0.0.1", "ip:127.0.0.1"] {
        assert!(
            expiring.lines().any(|line| line == key),
            "{key} in {expiring}"
        );
        let ttl: i64 = redis
            .cli(&["TTL", &format!("site:{{reputation}}:v:{key}")])
            .trim()
            .parse()
            .expect("a TTL");
        assert!(ttl > 0, "{key}: TTL {ttl}");
    }
}

/// `moat quarantine list --json` through `gw`'s admin endpoint: the quarantined ids.
fn quarantined_ids(gw: &Gateway) -> Vec<String> {
    let out = moat(
        gw.dir.path(),
        &["quarantine", "list", "--json", "--config", "moat.toml"],
    );
    out.assert_success();
    out.json_lines()
        .iter()
        .filter_map(|r| r["envelope"]["id"].as_str().map(str::to_owned))
        .collect()
}

/// A message quarantined on the primary is listed on the backup, released from there,
/// delivered downstream by the backup, and the primary drops its own copy.
#[test]
fn a_message_quarantined_on_one_gateway_is_released_from_the_other() {
    let redis = RedisServer::start();
    let sink_dir = scratch();
    let sink = SmtpSink::start(&sink_dir.path().join("sink"), 0, &[]);
    let config = format!(
        "[thresholds]\ntag = 0.5\nquarantine = 0.5\nreject = 60.0\n\
[kv]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:{}/\"\nprefix = \"site\"\n\
[sender_auth]\nverify = false\n{}",
        redis.port,
        delivery_config("", &[(&["example.test"], sink.addr)])
    );
    let primary = Gateway::start(&config);
    let backup = Gateway::start(&config);
    // No Date field: MISSING_DATE, which these thresholds quarantine.
    let held = send(
        &primary,
        "a@example.org",
        &["b@example.test"],
        "From: a@example.org\r\nTo: b@example.test\r\nSubject: held\r\n\r\nbody of held\r\n",
    );
    assert_eq!(quarantined_ids(&primary), std::slice::from_ref(&held));
    assert!(
        wait_until(Duration::from_secs(10), || quarantined_ids(&backup)
            == [held.clone()]),
        "the backup lists the primary's quarantine: {:?}",
        quarantined_ids(&backup)
    );
    let shown = moat(
        backup.dir.path(),
        &[
            "quarantine",
            "show",
            "--raw",
            &held,
            "--config",
            "moat.toml",
        ],
    );
    assert!(
        shown.stdout().contains("body of held"),
        "{}",
        shown.stdout()
    );
    // The published quarantine is no plugin namespace: exporting the kv still works.
    let exported = moat(
        backup.dir.path(),
        &["kv", "export", "--config", "moat.toml"],
    );
    exported.assert_success();
    assert!(!exported.stdout().contains("\"namespace\":\"quarantine\""));

    let released = moat(
        backup.dir.path(),
        &["quarantine", "release", &held, "--config", "moat.toml"],
    );
    released.assert_success();
    assert!(
        wait_until(Duration::from_secs(30), || {
            sink.messages()
                .iter()
                .any(|m| String::from_utf8_lossy(m).contains("body of held"))
        }),
        "the released message reached the downstream server"
    );
    assert!(
        wait_until(Duration::from_secs(10), || quarantined_ids(&primary)
            .is_empty()),
        "the primary dropped its copy: {:?}",
        quarantined_ids(&primary)
    );
    assert!(quarantined_ids(&backup).is_empty());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        sink.messages().len(),
        1,
        "delivered once, by the backup only"
    );
}

/// A node's learnt state moved from its embedded store into Redis with `moat kv export |
/// moat kv import`: the same training, and importing twice changes nothing.
#[test]
fn kv_export_then_import_moves_a_nodes_state_into_redis() {
    let redis = RedisServer::start();
    let dir = scratch();
    let fjall = crate::offline_config(dir.path());
    let text = std::fs::read_to_string(dir.path().join(fjall)).unwrap();
    std::fs::write(
        dir.path().join("redis.toml"),
        format!(
            "{text}[kv]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:{}/\"\nprefix = \"site\"\n",
            redis.port
        ),
    )
    .unwrap();
    let corpus = shared_dir().join("corpus/mail/train");
    for (label, folder) in [("spam", "spam"), ("ham", "ham")] {
        let files: Vec<String> = first_files(&corpus.join(folder), 15)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let mut args = vec!["learn", "--config", fjall, label];
        args.extend(files.iter().map(String::as_str));
        moat(dir.path(), &args).assert_success();
    }
    let stats = |config: &str| {
        let out = moat(dir.path(), &["learn", "stats", "--config", config]);
        out.assert_success();
        out.stdout()
    };
    let before = stats(fjall);
    assert!(before.contains("spam") && before.contains("15"), "{before}");

    let exported = moat(dir.path(), &["kv", "export", "--config", fjall]);
    exported.assert_success();
    let lines = exported.stdout();
    assert!(
        lines.lines().count() > 100,
        "token counters and totals: {lines:.300}"
    );
    for _ in 0..2 {
        let imported = moat_test_support::run_with_input(
            crate::MOAT,
            dir.path(),
            &["kv", "import", "--config", "redis.toml"],
            lines.as_bytes(),
            crate::COMMAND_LIMIT,
        );
        imported.assert_success();
        assert_eq!(
            stats("redis.toml"),
            before,
            "the same training, however often imported"
        );
    }
    let again = moat(dir.path(), &["kv", "export", "--config", "redis.toml"]);
    let sorted = |text: String| {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    assert_eq!(
        sorted(again.stdout()),
        sorted(lines),
        "Redis holds exactly what was exported"
    );
}
