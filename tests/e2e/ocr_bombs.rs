//! Image bombs the header of the first image does not show: a GIF whose second frame
//! declares 65535 × 65535 pixels, a GIF of many frames and a TIFF of 200 pages are refused
//! by the gateway before tesseract runs (a wrapper around it records every run), each with
//! a zero-scored skip, while the gateway's memory stays flat; and tesseract over its
//! memory limit fails as a skip too, never as a gateway error.
//!
//! The bundled ocr plugin reads PNG, JPEG and GIF only: TIFFs reach the engine through a
//! plugin that checks nothing, the `misbehave` guest in mode `ocr-raw`.

use std::path::{Path, PathBuf};

use moat::test_guests::TEST_MISBEHAVE;
use moat_test_support::scratch;
use serde_json::Value;

use crate::gateway::{Gateway, step};
use crate::ocr::{
    check_one, corpus_images, fake_engine, image_mail, ocr_config, record_run, recorded_runs,
    symbol,
};

/// A GIF89a with a 1 × 1 logical screen and a 1 × 1 first frame, then one frame of each
/// size in `later`, each with the first frame's few bytes of image data.
fn gif(later: &[(u16, u16)]) -> Vec<u8> {
    let mut gif = b"GIF89a\x01\0\x01\0\x80\0\0\xff\xff\xff\0\0\0".to_vec();
    for (width, height) in [(1, 1)].iter().chain(later) {
        gif.extend_from_slice(b"\x2c\0\0\0\0");
        gif.extend_from_slice(&width.to_le_bytes());
        gif.extend_from_slice(&height.to_le_bytes());
        gif.extend_from_slice(b"\0\x02\x02\x44\x01\0");
    }
    gif.push(b';');
    gif
}

/// A little-endian TIFF of `pages` pages, each 1 × 1 pixel of 8-bit grey: one pixel byte,
/// then the directories in a chain.
fn tiff(pages: usize) -> Vec<u8> {
    const ENTRIES: [(u16, u16, u32); 9] = [
        (256, 4, 1), // ImageWidth
        (257, 4, 1), // ImageLength
        (258, 3, 8), // BitsPerSample
        (259, 3, 1), // Compression: none
        (262, 3, 1), // PhotometricInterpretation: black is zero
        (273, 4, 8), // StripOffsets: the pixel byte
        (277, 3, 1), // SamplesPerPixel
        (278, 4, 1), // RowsPerStrip
        (279, 4, 1), // StripByteCounts
    ];
    let mut tiff = b"II*\0\x0a\0\0\0\xff\0".to_vec();
    for page in 0..pages {
        tiff.extend_from_slice(&(ENTRIES.len() as u16).to_le_bytes());
        for (tag, field_type, value) in ENTRIES {
            tiff.extend_from_slice(&tag.to_le_bytes());
            tiff.extend_from_slice(&field_type.to_le_bytes());
            tiff.extend_from_slice(&1u32.to_le_bytes());
            tiff.extend_from_slice(&value.to_le_bytes());
        }
        let next = if page + 1 == pages {
            0
        } else {
            u32::try_from(tiff.len() + 4).unwrap()
        };
        tiff.extend_from_slice(&next.to_le_bytes());
    }
    tiff
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `[ocr]` keys of a tesseract that records each run in `dir/runs`.
fn recorded_tesseract(dir: &Path) -> String {
    let engine = fake_engine(
        dir,
        "recorded-tesseract.sh",
        &format!("{}\nexec tesseract \"$@\"", record_run(&dir.join("runs"))),
    );
    format!("command = {:?}", engine.display().to_string())
}

/// The `misbehave` guest handing every attachment to the engine unchecked.
fn careless_plugin() -> String {
    format!(
        "[plugin.misbehave]\nsource = {TEST_MISBEHAVE:?}\ncapabilities = [\"ocr\"]\n\
time_budget = \"20s\"\n[plugin.misbehave.config]\nmode = \"ocr-raw\"\n"
    )
}

/// The images, as `image_mail.py --raw-image` arguments, with whether tesseract may read
/// them: two harmless ones (so that the wrapper is seen to record), then the bombs.
fn images() -> Vec<(&'static str, String, bool)> {
    let raw =
        |name: &str, media_type: &str, bytes: &[u8]| format!("{name}:{media_type}:{}", hex(bytes));
    vec![
        ("one.gif", raw("one.gif", "image/gif", &gif(&[])), true),
        ("one.tif", raw("one.tif", "image/tiff", &tiff(1)), true),
        (
            "bomb.gif",
            raw("bomb.gif", "image/gif", &gif(&[(65_535, 65_535)])),
            false,
        ),
        (
            "frames.gif",
            raw("frames.gif", "image/gif", &gif(&[(1, 1); 40])),
            false,
        ),
        (
            "pages.tif",
            raw("pages.tif", "image/tiff", &tiff(200)),
            false,
        ),
    ]
}

/// A message with the image `raw` (an `image_mail.py --raw-image` argument) in `dir`.
fn mail_with(dir: &Path, name: &str, raw: &str) -> PathBuf {
    image_mail(
        dir,
        &format!("{name}.eml"),
        &["--body", "a picture for you", "--raw-image", raw],
    )
}

/// The detail of the careless plugin's symbol: each attachment's outcome.
fn careless_detail(decision: &Value) -> String {
    symbol(decision, "MISBEHAVE_OCR").unwrap_or_else(|| panic!("{decision}"))["detail"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn bombs_in_later_frames_and_pages_are_skipped_before_tesseract_runs() {
    let dir = scratch();
    let config = ocr_config(
        dir.path(),
        &recorded_tesseract(dir.path()),
        &careless_plugin(),
    );
    let runs = dir.path().join("runs");
    for (name, raw, readable) in images() {
        let file = mail_with(dir.path(), name, &raw);
        let before = recorded_runs(&runs).len();
        let decision = check_one(dir.path(), config, &file);
        let ran = recorded_runs(&runs).len() - before;
        assert_eq!(decision["action"], "accept", "{name}: {decision}");
        if readable {
            assert!(ran > 0, "{name}: tesseract was not run: {decision}");
            continue;
        }
        assert_eq!(ran, 0, "{name}: tesseract ran: {decision}");
        assert!(
            careless_detail(&decision).contains("TooLarge"),
            "{name}: {decision}"
        );
        if name.ends_with(".gif") {
            let skip = symbol(&decision, "OCR_SKIPPED_TOO_LARGE")
                .unwrap_or_else(|| panic!("{name}: no OCR_SKIPPED_TOO_LARGE in {decision}"));
            assert_eq!(skip["score"], 0.0, "{name}: a skip only informs");
        }
    }
}

/// The resident memory of process `pid`, in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in {status}"))
}

#[test]
fn a_live_gateway_refuses_bombs_without_growing_or_running_tesseract() {
    let scratch_dir = scratch();
    let extra = format!(
        "bundled = [\"ocr\"]\n[ocr]\nengine = \"tesseract\"\n{}\n\
[plugin.ocr]\ntime_budget = \"20s\"\n{}",
        recorded_tesseract(scratch_dir.path()),
        careless_plugin()
    );
    let gw = Gateway::start(&extra);
    let bombs: Vec<Vec<u8>> = images()
        .into_iter()
        .filter(|(_, _, readable)| !readable)
        .map(|(name, raw, _)| std::fs::read(mail_with(gw.dir.path(), name, &raw)).unwrap())
        .collect();
    let send = |message: &[u8]| {
        let steps = gw.smtplib(
            "mx",
            message,
            &["--from", "a@example.org", "--rcpt", "b@example.test"],
        );
        assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");
    };
    // Once each first: the plugins are compiled and instantiated, the pools filled.
    bombs.iter().for_each(|bomb| send(bomb));
    let before = resident_kib(gw.pid());
    for _ in 0..4 {
        bombs.iter().for_each(|bomb| send(bomb));
    }
    let after = resident_kib(gw.pid());
    assert!(
        after < before + 32 * 1024,
        "the gateway grew from {before} KiB to {after} KiB"
    );
    let runs = recorded_runs(&scratch_dir.path().join("runs"));
    assert!(runs.is_empty(), "tesseract ran {} times", runs.len());
}

#[test]
fn tesseract_over_its_memory_limit_is_a_skip_not_a_failure() {
    let dir = scratch();
    let config = ocr_config(dir.path(), "memory_limit = \"32MiB\"", "");
    let spam = corpus_images("spam")[0].clone();
    let file = image_mail(
        dir.path(),
        "spam.eml",
        &["--body", "hi", "--attach", spam.to_str().unwrap()],
    );
    let decision = check_one(dir.path(), config, &file);
    let skip = symbol(&decision, "OCR_SKIPPED_CORRUPT")
        .unwrap_or_else(|| panic!("no OCR_SKIPPED_CORRUPT in {decision}"));
    assert_eq!(skip["score"], 0.0);
    assert!(symbol(&decision, "OCR_SPAM_PHRASE").is_none(), "{decision}");
    assert!(
        !decision.to_string().contains("PLUGIN_FAILED"),
        "{decision}"
    );
    // Within the default limit the same image is read.
    let config = ocr_config(dir.path(), "", "");
    let decision = check_one(dir.path(), config, &file);
    assert!(symbol(&decision, "OCR_SPAM_PHRASE").is_some(), "{decision}");
}
