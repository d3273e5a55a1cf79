//! The OCR path end to end: the bundled ocr plugin asking real tesseract (Debian's
//! tesseract-ocr) through the gateway's bounded engine, on messages built from the
//! corpus images; bad images; an engine that hangs; and plain mail flowing past a busy
//! OCR pool on a live gateway.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use moat_test_support::{run_in, scratch, shared_dir, workspace_root};
use serde_json::Value;

use crate::gateway::{Gateway, step};
use crate::moat;

/// A config running only the ocr and bayes plugins, tesseract as the engine; `ocr_extra`
/// adds keys to `[ocr]`, `extra` adds tables.
pub(crate) fn ocr_config(dir: &Path, ocr_extra: &str, extra: &str) -> &'static str {
    let cache = workspace_root().join("target/e2e-plugin-cache");
    let text = format!(
        "[server]\ndata_dir = \"data\"\n[filter]\nbundled = [\"ocr\", \"bayes\"]\ncache_dir = {:?}\n\
[ocr]\nengine = \"tesseract\"\n{ocr_extra}\n[plugin.ocr]\ntime_budget = \"20s\"\n\
[plugin.bayes.config]\nmin_spam = 1\nmin_ham = 1\n{extra}",
        cache.display().to_string()
    );
    std::fs::write(dir.join("ocr.toml"), text).unwrap();
    "ocr.toml"
}

/// Writes a message with `args` (see clients/image_mail.py) to `dir/name`.
pub(crate) fn image_mail(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let script = workspace_root().join("tests/e2e/clients/image_mail.py");
    let out_path = dir.join(name);
    let mut full = vec![
        script.to_str().unwrap().to_owned(),
        out_path.to_str().unwrap().to_owned(),
    ];
    full.extend(args.iter().map(|a| (*a).to_owned()));
    let refs: Vec<&str> = full.iter().map(String::as_str).collect();
    run_in("python3", dir, &refs, Duration::from_secs(30)).assert_success();
    out_path
}

pub(crate) fn corpus_images(kind: &str) -> Vec<PathBuf> {
    let mut images: Vec<PathBuf> = std::fs::read_dir(shared_dir().join("corpus/images").join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    images.sort();
    assert!(!images.is_empty(), "no {kind} images in the corpus");
    images
}

/// The decision `moat check --json` prints for `file` (the run must succeed).
pub(crate) fn check_one(dir: &Path, config: &str, file: &Path) -> Value {
    let out = moat(
        dir,
        &[
            "check",
            "--json",
            "--config",
            config,
            file.to_str().unwrap(),
        ],
    );
    out.assert_success();
    out.json_lines().swap_remove(0)
}

/// The symbols of a `moat check --json` line, by name.
pub(crate) fn symbol<'a>(decision: &'a Value, name: &str) -> Option<&'a Value> {
    decision["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

/// Teaches bayes one spam and one ham from the corpus, so it scores (and shows tokens).
fn train_minimally(dir: &Path, config: &str) {
    let first = |kind: &str| {
        moat_test_support::first_corpus_file(&format!("mail/train/{kind}"))
            .display()
            .to_string()
    };
    moat(dir, &["learn", "spam", "--config", config, &first("spam")]).assert_success();
    moat(dir, &["learn", "ham", "--config", config, &first("ham")]).assert_success();
}

#[test]
fn corpus_images_get_their_symbols_and_their_text_reaches_bayes() {
    let dir = scratch();
    let config = ocr_config(dir.path(), "", "");
    train_minimally(dir.path(), config);
    let mut files = Vec::new();
    for (kind, images) in [
        ("spam", corpus_images("spam")),
        ("ham", corpus_images("ham")),
    ] {
        for image in images {
            let name = format!(
                "{kind}-{}.eml",
                image.file_stem().unwrap().to_string_lossy()
            );
            let body = "Please see the attached picture, it explains everything we talked about.";
            files.push((
                kind,
                image_mail(
                    dir.path(),
                    &name,
                    &["--body", body, "--attach", image.to_str().unwrap()],
                ),
            ));
        }
    }
    let mut args = vec!["check", "--json", "--config", config];
    args.extend(files.iter().map(|(_, f)| f.to_str().unwrap()));
    let out = moat(dir.path(), &args);
    out.assert_success();
    let decisions = out.json_lines();
    assert_eq!(decisions.len(), files.len());
    for ((kind, file), decision) in files.iter().zip(&decisions) {
        let phrase = symbol(decision, "OCR_SPAM_PHRASE");
        match *kind {
            "spam" => assert!(
                phrase.is_some(),
                "{}: no OCR_SPAM_PHRASE in {decision}",
                file.display()
            ),
            _ => assert!(
                phrase.is_none(),
                "{}: ham image flagged: {decision}",
                file.display()
            ),
        }
        let bayes = decision["symbols"]
            .as_array()
            .unwrap()
            .iter()
            // The whole message's verdict, not the image text's own (`BAYES_OCR_*`).
            .find(|s| {
                s["plugin"] == "bayes" && !s["name"].as_str().unwrap().starts_with("BAYES_OCR_")
            })
            .unwrap_or_else(|| panic!("no bayes symbol in {decision}"));
        let detail = bayes["detail"].as_str().unwrap();
        let ocr_tokens: u32 = detail
            .split_once("ocr ")
            .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no ocr token count in {detail:?}"));
        assert!(
            ocr_tokens > 0,
            "{}: bayes saw no image text: {detail}",
            file.display()
        );
    }
}

#[test]
fn inline_and_data_uri_images_are_read_too() {
    let dir = scratch();
    let config = ocr_config(dir.path(), "", "");
    let spam = corpus_images("spam");
    let file = image_mail(
        dir.path(),
        "inline.eml",
        &[
            "--body",
            "hi",
            "--inline",
            spam[7].to_str().unwrap(),
            "--data-uri",
            spam[2].to_str().unwrap(),
        ],
    );
    let decision = &check_one(dir.path(), config, &file);
    let detail =
        symbol(decision, "OCR_SPAM_PHRASE").unwrap_or_else(|| panic!("{decision}"))["detail"]
            .as_str()
            .unwrap()
            .to_owned();
    // spam-08 (cid:) speaks of a casino, spam-03 (data: URI) of weight loss.
    assert!(
        detail.contains("casino") && detail.contains("weight loss"),
        "{detail}"
    );
}

/// A PNG header declaring `width`×`height`, then `tail`.
fn png_header_hex(width: u32, height: u32, tail: &str) -> String {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.push_str(tail);
    hex
}

#[test]
fn a_bomb_a_corrupt_and_an_oversized_image_are_skipped_with_a_symbol() {
    let dir = scratch();
    // Corpus images are about 11 KiB: 8 KiB makes them oversized.
    let config = ocr_config(
        dir.path(),
        "",
        "[plugin.ocr.config]\nmax_image_bytes = 8192\n",
    );
    let bomb = format!(
        "bomb.png:image/png:{}",
        png_header_hex(100_000, 100_000, "00000000")
    );
    let corrupt = format!(
        "broken.png:image/png:{}",
        png_header_hex(760, 200, &"ab".repeat(400))
    );
    let big = corpus_images("spam")[0].clone();
    let cases = [
        (
            "bomb.eml",
            vec!["--raw-image", bomb.as_str()],
            "OCR_SKIPPED_TOO_LARGE",
        ),
        (
            "corrupt.eml",
            vec!["--raw-image", corrupt.as_str()],
            "OCR_SKIPPED_CORRUPT",
        ),
        (
            "huge.eml",
            vec!["--attach", big.to_str().unwrap()],
            "OCR_SKIPPED_TOO_LARGE",
        ),
    ];
    for (name, args, expected) in cases {
        let mut full = vec!["--body", "a picture for you"];
        full.extend(args);
        let file = image_mail(dir.path(), name, &full);
        let decision = &check_one(dir.path(), config, &file);
        let found = symbol(decision, expected)
            .unwrap_or_else(|| panic!("{name}: no {expected} in {decision}"));
        assert_eq!(found["score"], 0.0, "{name}: a skip only informs");
        assert!(
            symbol(decision, "OCR_SPAM_PHRASE").is_none(),
            "{name}: {decision}"
        );
        assert_eq!(decision["action"], "accept", "{name}: {decision}");
    }
}

/// An executable fake engine in `dir`: a shell script that answers `--version` as
/// tesseract does and runs `body` for an image.
pub(crate) fn fake_engine(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'tesseract 5.3.0 (fake)'; exit 0; fi\n{body}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A shell line with which a fake engine records that it ran: it may write no file
/// (RLIMIT_FSIZE 0), so it makes an empty one in `runs`, named by its pid.
pub(crate) fn record_run(runs: &Path) -> String {
    std::fs::create_dir_all(runs).unwrap();
    format!(": > {}/$$.pid", runs.display())
}

/// The pids of the runs recorded in `runs` (see [`record_run`]).
pub(crate) fn recorded_runs(runs: &Path) -> Vec<String> {
    std::fs::read_dir(runs)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".pid").map(str::to_owned)
        })
        .collect()
}

#[test]
fn an_engine_that_hangs_is_killed_at_its_time_limit() {
    let dir = scratch();
    let runs = dir.path().join("runs");
    let engine = fake_engine(
        dir.path(),
        "hang.sh",
        &format!("{}\nexec sleep 60", record_run(&runs)),
    );
    let config = ocr_config(
        dir.path(),
        &format!(
            "command = {:?}\ntimeout = \"1s\"",
            engine.display().to_string()
        ),
        "",
    );
    let file = image_mail(
        dir.path(),
        "one.eml",
        &[
            "--body",
            "hi",
            "--attach",
            corpus_images("ham")[0].to_str().unwrap(),
        ],
    );
    let started = Instant::now();
    let decision = &check_one(dir.path(), config, &file);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "check waited for the hung engine"
    );
    assert!(symbol(decision, "OCR_TIMEOUT").is_some(), "{decision}");
    let [pid] = &recorded_runs(&runs)[..] else {
        panic!("the engine ran other than once")
    };
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    assert!(!proc_dir.exists(), "the engine {pid} still runs");
}

#[test]
fn plain_text_mail_is_not_held_up_behind_a_busy_ocr_pool() {
    let scratch_dir = scratch();
    // One OCR slot and an engine that takes 2 s per image: four image messages keep the
    // pool busy for about 8 s.
    let engine = fake_engine(
        scratch_dir.path(),
        "slow.sh",
        "cat > /dev/null\nsleep 2\necho totally normal words",
    );
    let extra = format!(
        "bundled = [\"ocr\"]\n[ocr]\nengine = \"tesseract\"\ncommand = {:?}\ntimeout = \"20s\"\nconcurrency = 1\n\
[plugin.ocr]\ntime_budget = \"60s\"\n[plugin.ocr.config]\ntime_budget_ms = 50000\n",
        engine.display().to_string()
    );
    let gw = Gateway::start(&extra);
    let images = corpus_images("spam");
    let image_mails: Vec<Vec<u8>> = images[..4]
        .iter()
        .enumerate()
        .map(|(i, image)| {
            std::fs::read(image_mail(
                gw.dir.path(),
                &format!("img{i}.eml"),
                &["--body", "x", "--attach", image.to_str().unwrap()],
            ))
            .unwrap()
        })
        .collect();
    let started = Instant::now();
    let finished = std::thread::scope(|s| {
        let send = |message: Vec<u8>, kind: &'static str| {
            let gw = &gw;
            s.spawn(move || {
                let steps = gw.smtplib(
                    "mx",
                    &message,
                    &["--from", "a@example.org", "--rcpt", "b@example.test"],
                );
                assert_eq!(step(&steps, "data")["code"], 250, "{kind}: {steps:?}");
                (kind, started.elapsed())
            })
        };
        let mut handles: Vec<_> = image_mails.into_iter().map(|m| send(m, "image")).collect();
        // Let the image sessions reach the OCR pool first.
        std::thread::sleep(Duration::from_millis(500));
        for i in 0..4 {
            let text = crate::message(
                &format!("plain {i}"),
                "",
                "Just words, nothing to read in pictures.",
            );
            handles.push(send(text.into_bytes(), "text"));
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let last = |kind: &str| {
        finished
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, t)| *t)
            .max()
            .unwrap()
    };
    let (last_text, last_image) = (last("text"), last("image"));
    assert!(
        last_text + Duration::from_secs(3) < last_image,
        "text mail waited for OCR: last text after {last_text:?}, last image after {last_image:?}"
    );
}
