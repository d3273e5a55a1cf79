//! Moat's bundled Bayesian spam scorer: header, body, URL, HTML markup and OCR tokens with
//! orthogonal sparse bigrams, per-token spam/ham counts in the plugin's kv namespace, and
//! Robinson–Fisher (chi-square) combining of the most significant tokens.
//!
//! # Layout
//!
//! * [`tokens`]: the tokenizer over a plain [`Input`] (what the gateway's message gives).
//! * [`html`]: the markup features of the HTML parts' source.
//! * [`images`]: the text of a message's images when learning (no `ocr-text` then).
//! * [`classify`]: Robinson's `f(w)`, the chi-square survival function, combining.
//! * [`model`]: the kv layout, idempotent learning by message digest, classification.
//! * [`config`]: the settings.
//! * this file: the plugin (data stage scores, outcome stage auto-learns, `learn` trains)
//!   and the symbols.
//!
//! Without the `kv` capability the plugin says nothing. The README lists the symbols,
//! the kv keys and the settings.

pub mod classify;
pub mod config;
pub mod html;
pub mod images;
pub mod model;
pub mod tokens;

use moat_sdk::kv::{self, KvError};
use moat_sdk::{
    Action, Decision, Label, LearnOutcome, Message, Plugin, PluginInfo, Session, Stage, Verdict,
    clock, log, ocr,
};

use crate::config::{Config, Cutoffs};
use crate::model::{Classification, Clue, ImageScore, Kv, ModelError, Score, Stats, Teacher};
pub use crate::tokens::Input;
use crate::tokens::Source;

/// The plugin's name; also what [`Decision::score_without`] is asked to leave out.
pub const NAME: &str = "bayes";
/// The annotation an OCR plugin leaves with the text it read in the message's images.
pub const OCR_ANNOTATION: &str = "ocr-text";

/// The plugin: scores at the data stage, auto-learns at the outcome stage, and trains on
/// what the operator classifies.
pub struct Bayes;

impl Plugin for Bayes {
    fn describe() -> PluginInfo {
        // The outcome stage only when auto-learning: otherwise it would cost a sandbox per
        // message for nothing.
        let stages: &[Stage] = if load_config().autolearn {
            &[Stage::Data, Stage::Outcome]
        } else {
            &[Stage::Data]
        };
        PluginInfo::new(NAME, env!("CARGO_PKG_VERSION"), stages.iter().copied()).default_weight(1.0)
    }

    fn on_data(session: &Session, message: &Message) -> Verdict {
        let config = load_config();
        let minimum = config.minimum();
        let result = match model::stats(&mut Gateway) {
            Ok(stats) if stats.spam < minimum.spam || stats.ham < minimum.ham => {
                Ok(Classification::Untrained(stats))
            }
            Ok(_) => score(&mut Gateway, &config, &gather(message, Some(session))),
            Err(error) => Err(error),
        };
        if let Err(ModelError::Kv(KvError::Denied)) = result {
            log::debug("the kv capability is not granted: bayes has nothing to say");
            return Verdict::new();
        }
        if let Err(error) = &result {
            log::error(&format!("bayes cannot score: {error}"));
        }
        verdict_for(&config, result)
    }

    fn on_outcome(session: &Session, decision: &Decision, message: Option<&Message>) {
        let config = load_config();
        let authenticated = session.client.authenticated_user.is_some();
        let label = autolearn_label(&config, decision, authenticated);
        let (Some(message), Some(label)) = (message, label) else {
            return;
        };
        let input = gather(message, Some(session));
        match train(&mut Gateway, &config, &input, label, false, Teacher::Auto) {
            Ok(_) | Err(ModelError::Kv(KvError::Denied)) => {}
            Err(error) => log::error(&format!("bayes auto-learning failed: {error}")),
        }
    }

    fn learn(message: &Message, label: Label, forget: bool) -> Result<LearnOutcome, String> {
        let config = load_config();
        let mut input = gather(message, None);
        if config.learn_ocr {
            input.ocr_text = image_text(message, &config);
        }
        train(
            &mut Gateway,
            &config,
            &input,
            label,
            forget,
            Teacher::Operator,
        )
        .map_err(|error| match error {
            ModelError::Kv(KvError::Denied) => {
                "the kv capability is not granted: bayes cannot learn".to_owned()
            }
            error => error.to_string(),
        })
    }
}

moat_sdk::export_plugin!(Bayes);

/// The gateway's kv namespace.
struct Gateway;

impl Kv for Gateway {
    fn get_many(&mut self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        kv::get_many(keys)
    }

    fn counters_get(&mut self, ids: &[u64]) -> Result<Vec<i64>, KvError> {
        kv::counters_get(ids)
    }

    fn counters_add(
        &mut self,
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
    ) -> Result<(), KvError> {
        kv::counters_add(deltas, keyed)
    }
}

/// The configuration; a bad table is logged as an error and replaced by the defaults, an
/// unusable value by its default.
fn load_config() -> Config {
    let (config, problems) = moat_sdk::config::all_or_default::<Config>().validated();
    for problem in problems {
        log::error(&problem);
    }
    config
}

/// The text of the message's images, read with the OCR engine as the ocr plugin would
/// (see [`images`]); `None` without images, text or the `ocr` capability.
fn image_text(message: &Message, config: &Config) -> Option<String> {
    let candidates: Vec<images::Candidate> = message
        .attachments()
        .into_iter()
        .map(|a| images::Candidate {
            index: a.index,
            content_type: a.content_type,
            name: a.name,
            size: a.size,
        })
        .collect();
    if candidates.is_empty() {
        return None;
    }
    images::read(
        &mut Images { message },
        &candidates,
        config.learn_ocr_limits(),
    )
}

/// The gateway's attachments, OCR engine and clock.
struct Images<'m> {
    message: &'m Message,
}

impl images::ImageSource for Images<'_> {
    fn attachment_bytes(&mut self, index: u32) -> Option<Vec<u8>> {
        self.message.attachment_bytes(index)
    }

    fn recognize(&mut self, image: &[u8], media_type: &str) -> Result<String, ocr::OcrError> {
        ocr::recognize(image, media_type)
    }

    fn now_ms(&mut self) -> u64 {
        clock::now_millis()
    }
}

/// What the tokenizer reads, fetched from the gateway once per part.
fn gather(message: &Message, session: Option<&Session>) -> Input {
    Input {
        headers: message
            .headers()
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect(),
        text_parts: message.text_parts(),
        html_parts: message.html_parts(),
        html_sources: message.html_sources(),
        urls: message.urls(),
        attachment_types: message
            .attachments()
            .into_iter()
            .map(|a| a.content_type)
            .collect(),
        ocr_text: session
            .and_then(|s| s.annotation(OCR_ANNOTATION))
            .map(str::to_owned),
    }
}

/// Classifies `input` against the token table.
pub fn score(
    kv: &mut impl Kv,
    config: &Config,
    input: &Input,
) -> Result<Classification, ModelError> {
    let tokens = config.tokenizer().tokenize(input);
    model::classify(kv, &tokens, &config.params(), config.minimum())
}

/// Learns (or forgets) `input` as `label`.
pub fn train(
    kv: &mut impl Kv,
    config: &Config,
    input: &Input,
    label: Label,
    forget: bool,
    teacher: Teacher,
) -> Result<LearnOutcome, ModelError> {
    let tokens = config.tokenizer().tokenize(input);
    let digest = model::digest_key(input);
    model::learn(kv, &tokens, &digest, label, forget, teacher)
}

/// What a probability is, by the cut-offs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// At least the spam cut-off.
    Spam,
    /// At most the ham cut-off.
    Ham,
    /// Between them.
    Unsure,
}

impl Class {
    /// The class of `probability` under `cutoffs`.
    #[must_use]
    pub fn of(probability: f64, cutoffs: Cutoffs) -> Self {
        if probability >= cutoffs.spam {
            Self::Spam
        } else if probability <= cutoffs.ham {
            Self::Ham
        } else {
            Self::Unsure
        }
    }
}

/// The symbol for a classification (or nothing when kv is denied).
fn verdict_for(config: &Config, result: Result<Classification, ModelError>) -> Verdict {
    match result {
        Err(ModelError::Kv(KvError::Denied)) => Verdict::new(),
        Err(ModelError::Kv(error)) => Verdict::new().symbol(
            "BAYES_ERROR",
            0.0,
            format!("token table unreadable: {error}"),
        ),
        Err(error @ ModelError::Corrupt { .. }) => {
            Verdict::new().symbol("BAYES_ERROR", 0.0, error.to_string())
        }
        Ok(Classification::Untrained(stats)) => Verdict::new().symbol(
            "BAYES_UNTRAINED",
            0.0,
            untrained_detail(stats, config.minimum()),
        ),
        Ok(Classification::Scored(score)) => {
            let cutoffs = config.cutoffs();
            let (name, points) = match Class::of(score.probability, cutoffs) {
                Class::Spam => (
                    "BAYES_SPAM",
                    points(cutoffs, score.probability, config.spam_score),
                ),
                Class::Ham => (
                    "BAYES_HAM",
                    points(cutoffs, score.probability, config.ham_score),
                ),
                Class::Unsure => unsure_band(score.probability),
            };
            let verdict = Verdict::new().symbol(name, points, detail(&score, config));
            match &score.image {
                Some(image) => verdict_for_image(config, image, verdict),
                None => verdict,
            }
        }
    }
}

/// The bands of the unsure range that lean to spam, as SpamAssassin's BAYES_50 …
/// BAYES_95: (lowest probability, symbol, score), highest first. Below the lowest,
/// `BAYES_UNSURE` with 0. Their scores are small (at most 1 point: a mailbox of image
/// mail leans bayes towards spam on ham too); they give `moat tune` a probability to
/// weigh beside other evidence, and a learnt weight scales them.
const UNSURE_BANDS: [(f64, &str, f64); 5] = [
    (0.95, "BAYES_95", 1.0),
    (0.90, "BAYES_90", 0.75),
    (0.80, "BAYES_80", 0.5),
    (0.60, "BAYES_60", 0.25),
    (0.50, "BAYES_50", 0.1),
];

/// The symbol and score of an unsure probability `p`.
fn unsure_band(p: f64) -> (&'static str, f64) {
    UNSURE_BANDS
        .iter()
        .find(|(from, _, _)| p >= *from)
        .map_or(("BAYES_UNSURE", 0.0), |(_, name, score)| (*name, *score))
}

/// Adds `BAYES_OCR_SPAM`, `BAYES_OCR_HAM` or `BAYES_OCR_UNSURE` (0): what the image text
/// alone is, by its own cut-offs.
fn verdict_for_image(config: &Config, image: &ImageScore, verdict: Verdict) -> Verdict {
    let p = image.probability;
    let cutoffs = config.ocr_cutoffs();
    let (name, points) = match Class::of(p, cutoffs) {
        Class::Spam => ("BAYES_OCR_SPAM", points(cutoffs, p, config.ocr_spam_score)),
        Class::Ham => ("BAYES_OCR_HAM", points(cutoffs, p, config.ocr_ham_score)),
        Class::Unsure => ("BAYES_OCR_UNSURE", 0.0),
    };
    let mut text = format!("image text alone: probability {p:.4}; top:");
    push_clues(&mut text, &image.clues);
    verdict.symbol(name, points, text)
}

/// The points for probability `p` with `full` at the extreme: half of `full` at the
/// cut-off, all of it at 0 (ham) or 1 (spam), rounded to hundredths.
fn points(cutoffs: Cutoffs, p: f64, full: f64) -> f64 {
    let depth = match Class::of(p, cutoffs) {
        Class::Spam if cutoffs.spam < 1.0 => (p - cutoffs.spam) / (1.0 - cutoffs.spam),
        Class::Ham if cutoffs.ham > 0.0 => (cutoffs.ham - p) / cutoffs.ham,
        Class::Unsure => return 0.0,
        _ => 1.0,
    };
    // Round to hundredths, and never -0.
    (full * (0.5 + 0.5 * depth) * 100.0).round() / 100.0 + 0.0
}

fn untrained_detail(stats: Stats, min: Stats) -> String {
    format!(
        "not enough training: {} spam and {} ham learnt, {} and {} needed",
        stats.spam, stats.ham, min.spam, min.ham
    )
}

/// Probability, cut-offs, tokens per source and the most significant tokens, in at most
/// 1 KiB.
fn detail(score: &Score, config: &Config) -> String {
    let class = match Class::of(score.probability, config.cutoffs()) {
        Class::Spam => format!("spam, >= {}", config.spam_cutoff),
        Class::Ham => format!("ham, <= {}", config.ham_cutoff),
        Class::Unsure => format!("unsure, {}..{}", config.ham_cutoff, config.spam_cutoff),
    };
    let sources: Vec<String> = Source::ALL
        .iter()
        .zip(score.per_source)
        .map(|(source, n)| format!("{} {n}", source.name()))
        .collect();
    let mut text = format!(
        "probability {:.4} ({class}); tokens {}; {} clues; top:",
        score.probability,
        sources.join(", "),
        score.clues.len()
    );
    push_clues(&mut text, &score.clues);
    text
}

/// Appends up to 10 clues (`token f(w);`) to `text` within the 1 KiB detail limit.
fn push_clues(text: &mut String, clues: &[Clue]) {
    const LIMIT: usize = moat_sdk::Symbol::MAX_DETAIL_LEN;
    for clue in clues.iter().take(10) {
        let mut token: String = clue.text.chars().take(48).collect();
        token.retain(|c| !c.is_control());
        let item = format!(" {token} {:.3};", clue.probability);
        if text.len() + item.len() > LIMIT {
            break;
        }
        text.push_str(&item);
    }
    if text.ends_with(';') {
        text.pop();
    }
}

/// What auto-learning learns from a decision, never from this plugin's own vote: spam
/// when the decision was reject and the other plugins' score is at least the reject
/// threshold plus `autolearn_spam_margin`; ham when the message was accepted and the
/// other plugins' score is at most the tag threshold minus `autolearn_ham_margin`.
/// Nothing from a logged-in user's mail unless `autolearn_authenticated`.
fn autolearn_label(config: &Config, decision: &Decision, authenticated: bool) -> Option<Label> {
    if !config.autolearn || (authenticated && !config.autolearn_authenticated) {
        return None;
    }
    let others = decision.score_without(NAME);
    let thresholds = &decision.thresholds;
    match decision.action {
        Action::Reject if others >= thresholds.reject + config.autolearn_spam_margin => {
            Some(Label::Spam)
        }
        Action::Accept if others <= thresholds.tag - config.autolearn_ham_margin => {
            Some(Label::Ham)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use moat_sdk::{ScoredSymbol, Symbol, Thresholds};

    use super::*;
    use crate::model::MemoryKv;

    fn config() -> Config {
        Config {
            min_spam: 5,
            min_ham: 5,
            ..Config::default()
        }
    }

    fn mail(subject: &str, body: &str, id: usize) -> Input {
        Input {
            headers: vec![
                ("Subject".into(), subject.into()),
                ("Message-ID".into(), format!("<{id}@example.org>")),
            ],
            text_parts: vec![body.into()],
            ..Input::default()
        }
    }

    fn trained() -> MemoryKv {
        let mut kv = MemoryKv::default();
        for i in 0..10 {
            let spam = mail("cheap pills", &format!("buy cheap pills now offer {i}"), i);
            let ham = mail(
                "meeting",
                &format!("the agenda for the meeting {i}"),
                100 + i,
            );
            let config = config();
            train(
                &mut kv,
                &config,
                &spam,
                Label::Spam,
                false,
                Teacher::Operator,
            )
            .unwrap();
            train(&mut kv, &config, &ham, Label::Ham, false, Teacher::Operator).unwrap();
        }
        kv
    }

    fn symbol(verdict: &Verdict) -> &Symbol {
        assert_eq!(verdict.symbols.len(), 1, "{verdict:?}");
        assert!(verdict.symbols[0].is_valid(), "{verdict:?}");
        &verdict.symbols[0]
    }

    #[test]
    fn untrained_scores_nothing_and_says_why() {
        let mut kv = MemoryKv::default();
        let config = Config::default();
        let input = mail("hi", "hello", 1);
        train(
            &mut kv,
            &config,
            &input,
            Label::Spam,
            false,
            Teacher::Operator,
        )
        .unwrap();
        let verdict = verdict_for(&config, score(&mut kv, &config, &input));
        let symbol = symbol(&verdict);
        assert_eq!(symbol.name, "BAYES_UNTRAINED");
        assert_eq!(symbol.score, 0.0);
        assert_eq!(
            symbol.detail,
            "not enough training: 1 spam and 0 ham learnt, 200 and 200 needed"
        );
    }

    #[test]
    fn spam_and_ham_get_their_symbols() {
        let mut kv = trained();
        let config = config();
        let spam = mail("cheap pills", "buy cheap pills", 1000);
        let verdict = verdict_for(&config, score(&mut kv, &config, &spam));
        let s = symbol(&verdict);
        assert_eq!(s.name, "BAYES_SPAM");
        assert!(s.score > 3.0 && s.score <= 6.0, "{s:?}");
        assert!(s.detail.contains("(spam, >= 0.99)"), "{}", s.detail);
        assert!(s.detail.contains("subj:cheap"), "{}", s.detail);
        let ham = mail("meeting", "the agenda", 1001);
        let verdict = verdict_for(&config, score(&mut kv, &config, &ham));
        let s = symbol(&verdict);
        assert_eq!(s.name, "BAYES_HAM");
        assert!(s.score < -1.5 && s.score >= -3.0, "{s:?}");
    }

    #[test]
    fn ocr_tokens_show_in_the_detail() {
        let mut kv = MemoryKv::default();
        let config = config();
        for i in 0..10 {
            let mut spam = mail("hello", &format!("see picture {i}"), i);
            spam.ocr_text = Some("cheap pills online".into());
            train(
                &mut kv,
                &config,
                &spam,
                Label::Spam,
                false,
                Teacher::Operator,
            )
            .unwrap();
            let ham = mail("hello", &format!("see picture of the cat {i}"), 100 + i);
            train(&mut kv, &config, &ham, Label::Ham, false, Teacher::Operator).unwrap();
        }
        let mut input = mail("hello", "see picture", 1000);
        input.ocr_text = Some("cheap pills".into());
        let verdict = verdict_for(&config, score(&mut kv, &config, &input));
        let s = symbol(&verdict);
        // `ocr:cheap`, `cheap`, their bigrams and `pills`, each as both.
        assert!(s.detail.contains("ocr 6"), "{}", s.detail);
        assert!(s.detail.contains("ocr:cheap"), "{}", s.detail);
    }

    /// Ten spam whose pitch is in the image and ten ham about a cat; then a message
    /// whose body is the ham's words and whose image is the spam's.
    fn poisoned() -> (Config, MemoryKv, Input) {
        let mut kv = MemoryKv::default();
        let config = Config {
            ocr_min_tokens: 5,
            ..config()
        };
        let pitch = "cheap pills online today fast shipping";
        for i in 0..10 {
            let mut spam = mail("hello", &format!("see picture {i}"), i);
            spam.ocr_text = Some(pitch.into());
            train(
                &mut kv,
                &config,
                &spam,
                Label::Spam,
                false,
                Teacher::Operator,
            )
            .unwrap();
            let ham = mail(
                "hello",
                &format!("a picture of the cat in the garden {i}"),
                100 + i,
            );
            train(&mut kv, &config, &ham, Label::Ham, false, Teacher::Operator).unwrap();
        }
        let mut input = mail("hello", "the cat in the garden", 1000);
        input.ocr_text = Some(pitch.into());
        (config, kv, input)
    }

    #[test]
    fn image_text_has_its_own_cut_offs() {
        let config = Config::default();
        // Unsure for a whole message, spam for the few words of an image.
        assert_eq!(Class::of(0.95, config.cutoffs()), Class::Unsure);
        let image = ImageScore {
            probability: 0.95,
            clues: Vec::new(),
        };
        let verdict = verdict_for_image(&config, &image, Verdict::new());
        assert_eq!(verdict.symbols[0].name, "BAYES_OCR_SPAM");
        // Half of the full score at the cut-off (0.9), all of it at 1: 3 + 1.5.
        assert_eq!(verdict.symbols[0].score, 4.5);
        let image = ImageScore {
            probability: 0.85,
            clues: Vec::new(),
        };
        let verdict = verdict_for_image(&config, &image, Verdict::new());
        assert_eq!(verdict.symbols[0].name, "BAYES_OCR_UNSURE");
        assert_eq!(verdict.symbols[0].score, 0.0);
    }

    #[test]
    fn image_text_alone_is_classified_too() {
        let (config, mut kv, input) = poisoned();
        let verdict = verdict_for(&config, score(&mut kv, &config, &input));
        let names: Vec<&str> = verdict.symbols.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), 2, "{verdict:?}");
        assert_eq!(names[1], "BAYES_OCR_SPAM", "{verdict:?}");
        let image = &verdict.symbols[1];
        let full = config.ocr_spam_score;
        assert!(
            image.score >= full / 2.0 && image.score <= full,
            "{image:?}"
        );
        assert!(
            image
                .detail
                .starts_with("image text alone: probability 1.0000; top:"),
            "{}",
            image.detail
        );
        assert!(image.detail.contains("ocr:cheap"), "{}", image.detail);

        // Too few image tokens: no second symbol.
        let (mut config, mut kv, input) = poisoned();
        config.ocr_min_tokens = 100;
        let verdict = verdict_for(&config, score(&mut kv, &config, &input));
        assert_eq!(verdict.symbols.len(), 1, "{verdict:?}");

        // Hammy image text: BAYES_OCR_HAM.
        let (config, mut kv, mut input) = poisoned();
        input.ocr_text = Some("a picture of the cat in the garden".into());
        let verdict = verdict_for(&config, score(&mut kv, &config, &input));
        assert_eq!(verdict.symbols[1].name, "BAYES_OCR_HAM", "{verdict:?}");
        assert!(verdict.symbols[1].score < 0.0);
    }

    #[test]
    fn unsure_is_a_zero_symbol() {
        let config = config();
        let score = Score {
            probability: 0.45,
            clues: vec![Clue {
                text: "x".into(),
                probability: 0.7,
            }],
            per_source: [1, 0, 0, 0, 0],
            stats: Stats { spam: 5, ham: 5 },
            image: None,
        };
        let verdict = verdict_for(&config, Ok(Classification::Scored(score)));
        let s = symbol(&verdict);
        assert_eq!((s.name.as_str(), s.score), ("BAYES_UNSURE", 0.0));
        assert!(s.detail.contains("unsure"), "{}", s.detail);
    }

    #[test]
    fn an_unsure_probability_leaning_to_spam_gets_its_band() {
        assert_eq!(unsure_band(0.4999), ("BAYES_UNSURE", 0.0));
        assert_eq!(unsure_band(0.5), ("BAYES_50", 0.1));
        assert_eq!(unsure_band(0.7), ("BAYES_60", 0.25));
        assert_eq!(unsure_band(0.85), ("BAYES_80", 0.5));
        assert_eq!(unsure_band(0.93), ("BAYES_90", 0.75));
        assert_eq!(unsure_band(0.989), ("BAYES_95", 1.0));
        for (_, name, _) in UNSURE_BANDS {
            assert!(Symbol::is_valid_name(name));
        }
    }

    #[test]
    fn detail_stays_within_a_kibibyte() {
        let config = config();
        let score = Score {
            probability: 1.0,
            clues: (0..200)
                .map(|i| Clue {
                    text: format!("{i}{}", "é".repeat(100)),
                    probability: 0.99,
                })
                .collect(),
            per_source: [1, 2, 3, 4, 5],
            stats: Stats::default(),
            image: None,
        };
        let verdict = verdict_for(&config, Ok(Classification::Scored(score)));
        let s = symbol(&verdict);
        assert_eq!(s.score, 6.0);
        assert!(s.detail.len() <= 1024);
    }

    #[test]
    fn errors_say_nothing_or_explain() {
        let config = config();
        assert!(verdict_for(&config, Err(ModelError::Kv(KvError::Denied))).is_empty());
        let corrupt = ModelError::Corrupt {
            key: "stats:spam".into(),
            reason: "3 bytes, not an 8-byte counter".into(),
        };
        let verdict = verdict_for(&config, Err(corrupt));
        let s = symbol(&verdict);
        assert_eq!(s.name, "BAYES_ERROR");
        assert_eq!(s.score, 0.0);
        assert!(s.detail.contains("stats:spam is corrupt"));
    }

    fn decision(action: Action, others: f64, mine: f64) -> Decision {
        let symbol = |plugin: &str, contribution: f64| ScoredSymbol {
            plugin: plugin.to_owned(),
            name: "X".to_owned(),
            score: contribution,
            weight: 1.0,
            contribution,
        };
        Decision {
            action,
            score: others + mine,
            symbols: vec![symbol("headers", others), symbol(NAME, mine)],
            thresholds: Thresholds {
                tag: 5.0,
                quarantine: 10.0,
                reject: 15.0,
            },
        }
    }

    #[test]
    fn autolearning_is_off_by_default_and_needs_the_others_to_be_sure() {
        assert!(!Config::default().autolearn);
        let config = Config {
            autolearn: true,
            ..Config::default()
        };
        let learn =
            |action, others, mine| autolearn_label(&config, &decision(action, others, mine), false);
        assert_eq!(learn(Action::Reject, 20.0, 6.0), Some(Label::Spam));
        // Its own vote does not count.
        assert_eq!(learn(Action::Reject, 14.0, 6.0), None);
        assert_eq!(learn(Action::Accept, -1.0, -3.0), Some(Label::Ham));
        assert_eq!(learn(Action::Accept, 1.0, -3.0), None);
        assert_eq!(learn(Action::Tag, 20.0, 0.0), None);
        let off = Config {
            autolearn: false,
            ..Config::default()
        };
        assert_eq!(
            autolearn_label(&off, &decision(Action::Reject, 30.0, 6.0), false),
            None
        );
    }

    #[test]
    fn a_logged_in_users_mail_is_learnt_only_when_asked() {
        let config = Config {
            autolearn: true,
            ..Config::default()
        };
        let sure_spam = decision(Action::Reject, 20.0, 6.0);
        let sure_ham = decision(Action::Accept, -1.0, -3.0);
        assert_eq!(autolearn_label(&config, &sure_spam, true), None);
        assert_eq!(autolearn_label(&config, &sure_ham, true), None);
        let asked = Config {
            autolearn_authenticated: true,
            ..config
        };
        assert_eq!(autolearn_label(&asked, &sure_spam, true), Some(Label::Spam));
        assert_eq!(autolearn_label(&asked, &sure_ham, true), Some(Label::Ham));
    }

    #[test]
    fn symbol_names_are_valid() {
        for name in [
            "BAYES_SPAM",
            "BAYES_HAM",
            "BAYES_UNSURE",
            "BAYES_UNTRAINED",
            "BAYES_ERROR",
        ] {
            assert!(Symbol::is_valid_name(name));
        }
    }
}
