//! From what the images said and the body text to the verdict: the spam-phrase,
//! image-only and mismatch rules, a symbol per kind of skip, and the `ocr-text`
//! annotation. Pure: no host calls.

use std::collections::BTreeMap;

use moat_sdk::{Symbol, Verdict};

use crate::config::Config;
use crate::scan::{ImageReport, SkipKind};
use crate::text::{self, Phrase, Searchable};

/// The annotation key under which the image text is left for later plugins.
pub(crate) const ANNOTATION: &str = "ocr-text";
/// The longest `ocr-text` annotation, in bytes.
const MAX_ANNOTATION_BYTES: usize = 16 * 1024;
/// The body text beyond this many bytes is not looked at.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Spam phrases in the image text.
pub(crate) const SPAM_PHRASE: &str = "OCR_SPAM_PHRASE";
/// Text in images, next to no text in the body.
pub(crate) const IMAGE_ONLY: &str = "OCR_IMAGE_ONLY";
/// Images holding most of the message's words, next to a short body.
pub(crate) const IMAGE_DOMINANT: &str = "OCR_IMAGE_DOMINANT";
/// Image text about something else than the body text.
pub(crate) const TEXT_MISMATCH: &str = "OCR_TEXT_MISMATCH";

impl SkipKind {
    /// The informational (zero-scored) symbol of this kind of skip.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Self::TooLarge => "OCR_SKIPPED_TOO_LARGE",
            Self::Corrupt => "OCR_SKIPPED_CORRUPT",
            Self::Unsupported => "OCR_SKIPPED_UNSUPPORTED",
            Self::Timeout => "OCR_TIMEOUT",
            Self::TooMany => "OCR_SKIPPED_TOO_MANY",
        }
    }
}

/// The verdict on a message whose images gave `reports`, with this body text.
pub(crate) fn evaluate(
    reports: &[ImageReport],
    body_text: &str,
    config: &Config,
    phrases: &[Phrase],
) -> Verdict {
    let texts: Vec<&str> = reports
        .iter()
        .filter_map(|report| report.outcome.as_deref().ok())
        .filter(|found| !found.trim().is_empty())
        .collect();
    let mut verdict = Verdict::new();
    if !texts.is_empty() {
        let image_words: Vec<Vec<String>> = texts.iter().map(|found| text::words(found)).collect();
        let mut body = body_text.to_owned();
        text::truncate(&mut body, MAX_BODY_BYTES);
        let body_words = text::words(&body);
        verdict.extend(spam_phrases(&image_words, phrases, config));
        let all_image_words = image_words.concat();
        match image_only(&all_image_words, &body_words, config) {
            Some(only) => verdict.extend(Some(only)),
            None => {
                verdict.extend(image_dominant(&all_image_words, &body_words, config));
                verdict.extend(mismatch(&all_image_words, &body_words, config));
            }
        }
        verdict = verdict.annotate(ANNOTATION, annotation(&texts));
    }
    verdict.extend(skip_symbols(reports));
    verdict
}

/// `OCR_SPAM_PHRASE`: the distinct phrases found in any image, `phrase_score` each, at
/// most `max_phrase_score`. A phrase does not straddle two images.
fn spam_phrases(
    image_words: &[Vec<String>],
    phrases: &[Phrase],
    config: &Config,
) -> Option<Symbol> {
    let searchable: Vec<Searchable> = image_words
        .iter()
        .map(|words| Searchable::new(words))
        .collect();
    let found: Vec<&str> = phrases
        .iter()
        .filter(|phrase| searchable.iter().any(|image| image.contains(phrase)))
        .map(|phrase| phrase.text.as_str())
        .collect();
    if found.is_empty() {
        return None;
    }
    let score = (config.phrase_score * found.len() as f64).min(config.max_phrase_score);
    Some(Symbol::new(SPAM_PHRASE, score, bounded(found.join(", "))))
}

/// `OCR_IMAGE_ONLY`: the images hold at least `image_only_min_image_words` words, and
/// the body at most `image_only_max_body_words` and fewer than the images. Words are
/// those of [`text::count_words`].
fn image_only(image_words: &[String], body_words: &[String], config: &Config) -> Option<Symbol> {
    let in_images = text::count_words(image_words);
    let in_body = text::count_words(body_words);
    (in_images >= config.image_only_min_image_words as usize
        && in_body <= config.image_only_max_body_words as usize
        && in_body < in_images)
        .then(|| {
            let detail = format!("{in_images} words in images, {in_body} in the body");
            Symbol::new(IMAGE_ONLY, config.image_only_score, detail)
        })
}

/// `OCR_IMAGE_DOMINANT` (checked when the message is not image-only): the images hold at
/// least `dominant_min_image_words` words and `dominant_min_share` of all the message's
/// words, and the body at most `dominant_max_body_words`. A few sentences of innocent
/// text next to a picture that does the talking.
fn image_dominant(
    image_words: &[String],
    body_words: &[String],
    config: &Config,
) -> Option<Symbol> {
    let in_images = text::count_words(image_words);
    let in_body = text::count_words(body_words);
    let share = in_images as f64 / (in_images + in_body).max(1) as f64;
    (in_images >= config.dominant_min_image_words as usize
        && in_body <= config.dominant_max_body_words as usize
        && share >= config.dominant_min_share)
        .then(|| {
            let detail = format!(
                "{in_images} words in images, {in_body} in the body ({:.0}% in images)",
                share * 100.0
            );
            Symbol::new(IMAGE_DOMINANT, config.dominant_score, detail)
        })
}

/// `OCR_TEXT_MISMATCH` (checked when the message is not image-only): the images hold at
/// least `mismatch_min_image_words` distinct content words, the body at least
/// `mismatch_min_body_words`, and at most `mismatch_max_overlap` of the images' content
/// words occur in the body. Content words are those of [`text::vocabulary`].
fn mismatch(image_words: &[String], body_words: &[String], config: &Config) -> Option<Symbol> {
    let image_vocabulary = text::vocabulary(image_words);
    let body_vocabulary = text::vocabulary(body_words);
    if image_vocabulary.len() < config.mismatch_min_image_words as usize
        || body_vocabulary.len() < config.mismatch_min_body_words as usize
    {
        return None;
    }
    let shared = image_vocabulary.intersection(&body_vocabulary).count();
    let overlap = shared as f64 / image_vocabulary.len() as f64;
    (overlap <= config.mismatch_max_overlap).then(|| {
        let detail = format!(
            "{shared} of {} image words occur in the body ({:.0}%, at most {:.0}%)",
            image_vocabulary.len(),
            overlap * 100.0,
            config.mismatch_max_overlap * 100.0
        );
        Symbol::new(TEXT_MISMATCH, config.mismatch_score, detail)
    })
}

/// The `ocr-text` value: each image's text with whitespace collapsed, one image per
/// line, cut at 16 KiB.
fn annotation(texts: &[&str]) -> String {
    let mut value = texts
        .iter()
        .map(|found| text::collapse_whitespace(found))
        .collect::<Vec<_>>()
        .join("\n");
    text::truncate(&mut value, MAX_ANNOTATION_BYTES);
    value
}

/// One zero-scored symbol per kind of skip, its detail listing the images and why.
fn skip_symbols(reports: &[ImageReport]) -> Vec<Symbol> {
    let mut by_kind: BTreeMap<SkipKind, Vec<String>> = BTreeMap::new();
    for report in reports {
        if let Err(skip) = &report.outcome {
            let line = format!("{}: {}", report.source, skip.reason);
            by_kind.entry(skip.kind).or_default().push(line);
        }
    }
    by_kind
        .into_iter()
        .map(|(kind, lines)| Symbol::new(kind.symbol(), 0.0, bounded(lines.join("; "))))
        .collect()
}

/// `detail` cut to what the host accepts, marked with `…` when cut.
fn bounded(mut detail: String) -> String {
    if detail.len() > Symbol::MAX_DETAIL_LEN {
        text::truncate(&mut detail, Symbol::MAX_DETAIL_LEN - '…'.len_utf8());
        detail.push('…');
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{Skip, Source};

    fn read(texts: &[&str]) -> Vec<ImageReport> {
        texts
            .iter()
            .enumerate()
            .map(|(n, found)| ImageReport {
                source: Source::Attachment {
                    index: n as u32,
                    name: None,
                },
                outcome: Ok((*found).to_owned()),
            })
            .collect()
    }

    fn skipped(index: u32, kind: SkipKind, reason: &str) -> ImageReport {
        ImageReport {
            source: Source::Attachment {
                index,
                name: Some(format!("f{index}.png")),
            },
            outcome: Err(Skip {
                kind,
                reason: reason.to_owned(),
            }),
        }
    }

    fn run(reports: &[ImageReport], body: &str) -> Verdict {
        let config = Config::default();
        let verdict = evaluate(reports, body, &config, &config.phrase_list());
        for symbol in &verdict.symbols {
            assert!(symbol.is_valid(), "{symbol:?}");
        }
        verdict
    }

    fn symbol<'v>(verdict: &'v Verdict, name: &str) -> Option<&'v Symbol> {
        verdict.symbols.iter().find(|symbol| symbol.name == name)
    }

    fn names(verdict: &Verdict) -> Vec<&str> {
        verdict.symbols.iter().map(|s| s.name.as_str()).collect()
    }

    /// Enough ordinary words for a body that is not "little text".
    const LETTER: &str = "Dear team, please find the quarterly figures attached. \
        We discussed the revenue numbers at the meeting on Monday and agreed to \
        review the budget for the next planning session with everyone involved.";

    #[test]
    fn spam_phrases_score_per_distinct_phrase_up_to_the_cap() {
        let one = run(&read(&["Casino bonus 500%"]), LETTER);
        let found = symbol(&one, SPAM_PHRASE).unwrap();
        assert_eq!(found.score, 3.0);
        assert_eq!(found.detail, "casino");

        // The same phrase in two images counts once.
        let twice = run(&read(&["casino", "CASINO"]), LETTER);
        assert_eq!(symbol(&twice, SPAM_PHRASE).unwrap().score, 3.0);

        let two = run(
            &read(&["Casino bonus 500%\nFree spins - click here"]),
            LETTER,
        );
        let found = symbol(&two, SPAM_PHRASE).unwrap();
        assert_eq!(found.detail, "casino, free spins, click here");
        assert_eq!(found.score, 9.0, "three phrases reach the cap");

        let many = run(
            &read(&["viagra cialis casino lottery jackpot winner act now"]),
            LETTER,
        );
        assert_eq!(symbol(&many, SPAM_PHRASE).unwrap().score, 9.0);
    }

    #[test]
    fn phrases_do_not_straddle_images() {
        let verdict = run(&read(&["Please click", "here is the agenda"]), LETTER);
        assert!(symbol(&verdict, SPAM_PHRASE).is_none(), "{verdict:?}");
    }

    #[test]
    fn image_only_boundaries() {
        let image = "one two three four five";
        // Five image words and an empty body.
        let verdict = run(&read(&[image]), "");
        let found = symbol(&verdict, IMAGE_ONLY).unwrap();
        assert_eq!(found.score, 2.0);
        assert_eq!(found.detail, "5 words in images, 0 in the body");
        // Four image words are not enough.
        assert!(symbol(&run(&read(&["one two three four"]), ""), IMAGE_ONLY).is_none());
        // OCR debris (single characters, bare numbers) is not a word.
        assert!(
            symbol(
                &run(&read(&["a | 1 2 3 x - one two three four"]), ""),
                IMAGE_ONLY
            )
            .is_none()
        );
        // The body must have fewer words than the images...
        assert!(symbol(&run(&read(&[image]), "aa bb cc dd ee"), IMAGE_ONLY).is_none());
        assert!(symbol(&run(&read(&[image]), "aa bb cc dd"), IMAGE_ONLY).is_some());
        // ... and at most fifteen.
        let image = "word ".repeat(40);
        let body15 = "body ".repeat(15);
        let body16 = "body ".repeat(16);
        assert!(symbol(&run(&read(&[&image]), &body15), IMAGE_ONLY).is_some());
        assert!(symbol(&run(&read(&[&image]), &body16), IMAGE_ONLY).is_none());
    }

    #[test]
    fn image_dominant_boundaries() {
        let image = "word ".repeat(30);
        // 30 image words and 20 in the body: 60% in images, not image-only.
        let verdict = run(&read(&[&image]), &"body ".repeat(20));
        let found = symbol(&verdict, IMAGE_DOMINANT).unwrap();
        assert_eq!(found.score, 1.5);
        assert_eq!(
            found.detail,
            "30 words in images, 20 in the body (60% in images)"
        );
        assert!(symbol(&verdict, IMAGE_ONLY).is_none());
        // Half the words is enough; fewer is not.
        assert!(symbol(&run(&read(&[&image]), &"body ".repeat(30)), IMAGE_DOMINANT).is_some());
        assert!(symbol(&run(&read(&[&image]), &"body ".repeat(31)), IMAGE_DOMINANT).is_none());
        // At most 80 body words, at least 12 image words.
        let big = "word ".repeat(200);
        assert!(symbol(&run(&read(&[&big]), &"body ".repeat(80)), IMAGE_DOMINANT).is_some());
        assert!(symbol(&run(&read(&[&big]), &"body ".repeat(81)), IMAGE_DOMINANT).is_none());
        let twelve = "word ".repeat(12);
        let eleven = "word ".repeat(11);
        assert!(symbol(&run(&read(&[&twelve]), &"body ".repeat(12)), IMAGE_DOMINANT).is_some());
        assert!(symbol(&run(&read(&[&eleven]), &"body ".repeat(11)), IMAGE_DOMINANT).is_none());
        // An image-only message is not also image-dominant.
        let verdict = run(&read(&[&image]), "a few words");
        assert_eq!(names(&verdict), [IMAGE_ONLY]);
    }

    #[test]
    fn a_poisoned_pitch_is_dominant_and_mismatched() {
        let image = "Wallet Multiplier Program. Send a small deposit and receive five \
                     times back instantly; our algorithm earns while you sleep, profits \
                     paid automatically every single day to members";
        let body = "The orchard smelled of apples and the dog slept under the oak \
                    tree. Grandfather kept his tools in a wooden box.";
        let verdict = run(&read(&[image]), body);
        assert_eq!(names(&verdict), [IMAGE_DOMINANT, TEXT_MISMATCH]);
    }

    #[test]
    fn mismatch_needs_substantial_unrelated_text_on_both_sides() {
        let image = "Hot stock alert: buy ZXQT shares today. Price will triple \
                     this week, analysts predict massive gains for investors, \
                     insiders accumulate quietly before announcement";
        let verdict = run(&read(&[image]), LETTER);
        let found = symbol(&verdict, TEXT_MISMATCH).unwrap();
        assert_eq!(found.score, 1.5);
        assert!(
            found
                .detail
                .starts_with("0 of 20 image words occur in the body (0%"),
            "{}",
            found.detail
        );
        assert!(symbol(&verdict, IMAGE_ONLY).is_none());

        // The same text in the body: no mismatch.
        let verdict = run(&read(&[image]), &format!("{LETTER} {image}"));
        assert!(symbol(&verdict, TEXT_MISMATCH).is_none());

        // Too little image text: no mismatch.
        let verdict = run(
            &read(&["Quarterly report Q3\nRevenue grew 4% year on year"]),
            LETTER,
        );
        assert!(verdict.symbols.is_empty(), "{verdict:?}");
    }

    #[test]
    fn mismatch_overlap_boundary() {
        // Ten distinct image words, two of them in the body: 20 % is still a mismatch.
        let image = "alpha bravo charlie delta echo foxtrot golf hotel india juliet";
        let config = Config {
            mismatch_min_image_words: 10,
            mismatch_min_body_words: 5,
            image_only_max_body_words: 0,
            ..Config::default()
        };
        let body = |shared: &str| format!("kilo lima mike november oscar papa {shared}");
        let check = |shared: &str| {
            evaluate(&read(&[image]), &body(shared), &config, &[])
                .symbols
                .iter()
                .any(|s| s.name == TEXT_MISMATCH)
        };
        assert!(check("alpha bravo"));
        assert!(!check("alpha bravo charlie"));
    }

    #[test]
    fn annotates_the_image_text() {
        let verdict = run(
            &read(&["CHEAP  VIAGRA\n80% OFF\n", "  ", "Second\timage"]),
            LETTER,
        );
        assert_eq!(
            verdict.annotations,
            [moat_sdk::Annotation::new(
                ANNOTATION,
                "CHEAP VIAGRA 80% OFF\nSecond image"
            )]
        );
        let long = "word ".repeat(10_000);
        let verdict = run(&read(&[&long]), LETTER);
        assert_eq!(verdict.annotations[0].value.len(), 16 * 1024);
    }

    #[test]
    fn no_text_no_annotation() {
        assert!(run(&read(&[]), LETTER).is_empty());
        assert!(run(&read(&["", " \n "]), "").is_empty());
    }

    #[test]
    fn skips_give_zero_scored_symbols_per_kind() {
        let reports = vec![
            skipped(
                0,
                SkipKind::TooLarge,
                "6000000 bytes, over max_image_bytes = 5242880",
            ),
            skipped(1, SkipKind::Corrupt, "PNG header is unreadable"),
            skipped(2, SkipKind::TooLarge, "over the OCR engine's limits"),
            skipped(3, SkipKind::Timeout, "the OCR engine timed out"),
            skipped(4, SkipKind::TooMany, "over max_images = 8"),
            skipped(
                5,
                SkipKind::Unsupported,
                "the OCR engine does not read image/gif",
            ),
        ];
        let verdict = run(&reports, "");
        assert_eq!(
            names(&verdict),
            [
                "OCR_SKIPPED_TOO_LARGE",
                "OCR_SKIPPED_CORRUPT",
                "OCR_SKIPPED_UNSUPPORTED",
                "OCR_TIMEOUT",
                "OCR_SKIPPED_TOO_MANY"
            ]
        );
        assert!(verdict.symbols.iter().all(|s| s.score == 0.0));
        assert_eq!(
            verdict.symbols[0].detail,
            "attachment 0 (\"f0.png\"): 6000000 bytes, over max_image_bytes = 5242880; \
             attachment 2 (\"f2.png\"): over the OCR engine's limits"
        );
        assert!(verdict.annotations.is_empty());
    }

    #[test]
    fn details_stay_within_the_host_limit() {
        let reports: Vec<ImageReport> = (0..100)
            .map(|i| skipped(i, SkipKind::Corrupt, "the OCR engine could not read it"))
            .collect();
        let verdict = run(&reports, "");
        let detail = &verdict.symbols[0].detail;
        assert!(detail.len() <= Symbol::MAX_DETAIL_LEN);
        assert!(detail.ends_with('…'));
    }
}
