//! Image spam end to end (issue 25, point 6): messages whose pitch is only in a picture,
//! beside a few innocent sentences meant to poison Bayes. Bayes is taught with
//! `moat learn` (which now reads the images with real tesseract), then a sample of the
//! generated test set (`tests/data/image-spam`: other phrasing, fonts, sizes, colours and
//! JPEG noise than the training set) goes through `moat check`: no ham may be flagged,
//! and at least 90% of the spam must not be accepted.

use std::path::{Path, PathBuf};

use moat_test_support::{scratch, shared_dir, workspace_root};

use crate::moat;

/// The generated set.
fn set_dir() -> PathBuf {
    workspace_root().join("tests/data/image-spam")
}

/// Every `.eml` of `dir`, sorted.
fn messages(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
}

/// The bundled plugins without network (no dnsbl, no sender authentication) and without
/// reputation (one `moat check` run is one client sending every message, a burst), with
/// tesseract for both ocr and bayes's learning.
fn config(dir: &Path) -> &'static str {
    let cache = workspace_root().join("target/e2e-plugin-cache");
    let text = format!(
        "[server]\ndata_dir = \"data\"\n[filter]\nbundled = [\"headers\", \"auth\", \"ocr\", \"bayes\"]\n\
cache_dir = {:?}\n[sender_auth]\nverify = false\n[ocr]\nengine = \"tesseract\"\n\
[plugin.ocr]\ntime_budget = \"20s\"\n[plugin.bayes]\ntime_budget = \"20s\"\n\
[plugin.bayes.config]\nlearn_ocr_budget_ms = 15000\n",
        cache.display().to_string()
    );
    std::fs::write(dir.join("images.toml"), text).unwrap();
    "images.toml"
}

/// Every `step`-th file of `files`.
fn every(files: Vec<PathBuf>, step: usize) -> Vec<PathBuf> {
    files.into_iter().step_by(step).collect()
}

#[test]
fn image_spam_is_caught_and_image_ham_is_not_flagged() {
    let dir = scratch();
    let config = config(dir.path());
    let set = set_dir();
    let corpus = shared_dir().join("corpus/mail/train");
    // A share of the mail corpus for the vocabulary, the whole image training set.
    for (label, mail, images) in [
        (
            "spam",
            every(messages(&corpus.join("spam")), 4),
            set.join("train/spam"),
        ),
        (
            "ham",
            every(messages(&corpus.join("ham")), 4),
            set.join("train/ham"),
        ),
    ] {
        let mut args = vec!["learn", "--config", config, label];
        args.extend(mail.iter().map(|p| p.to_str().unwrap()));
        args.push(images.to_str().unwrap());
        moat(dir.path(), &args).assert_success();
    }

    let spam = every(messages(&set.join("test/spam")), 2);
    let ham = every(messages(&set.join("test/ham")), 2);
    let mut args = vec!["check", "--json", "--config", config];
    args.extend(spam.iter().chain(&ham).map(|p| p.to_str().unwrap()));
    let out = moat(dir.path(), &args);
    out.assert_success();
    let decisions = out.json_lines();
    assert_eq!(decisions.len(), spam.len() + ham.len());
    let (spam_decisions, ham_decisions) = decisions.split_at(spam.len());
    let accepted: Vec<&serde_json::Value> = spam_decisions
        .iter()
        .filter(|d| d["action"] == "accept")
        .collect();
    let flagged: Vec<&serde_json::Value> = ham_decisions
        .iter()
        .filter(|d| d["action"] != "accept")
        .collect();
    // The target: at least 90% of spam not accepted, no ham flagged. Measured
    // with this test's training (a quarter of the mail corpus) and sample: 20 of 22;
    // on the whole test split with all of mail/train learnt: 40 of 44
    // (plugins/bayes/README.md, "Image spam").
    let not_accepted = spam.len() - accepted.len();
    assert!(
        not_accepted * 10 >= spam.len() * 9,
        "only {not_accepted} of {} image spam not accepted: {accepted:#?}",
        spam.len()
    );
    assert!(flagged.is_empty(), "image ham flagged: {flagged:#?}");
    // The pitch reached bayes as image text.
    let with_image_verdict = spam_decisions
        .iter()
        .filter(|d| {
            d["symbols"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"].as_str().unwrap_or("").starts_with("BAYES_OCR_"))
        })
        .count();
    assert!(
        with_image_verdict * 10 >= spam.len() * 9,
        "{with_image_verdict} of {} spam had their image text classified",
        spam.len()
    );
}
