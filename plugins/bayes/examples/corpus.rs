//! The accuracy harness: parses `.eml` files into the [`Input`] the gateway would give the
//! plugin, trains an in-memory token table through the plugin's own learning path, and
//! reports spam caught, ham flagged, unsure, distinct kv keys and speed.
//!
//! ```sh
//! cargo run --release -p moat-plugin-bayes --example corpus -- --train TRAIN_DIR --test TEST_DIR
//! cargo run --release -p moat-plugin-bayes --example corpus -- --cv TRAIN_DIR --folds 5
//! ```
//!
//! Each directory holds `spam/` and `ham/` with one message per file. `--config JSON`
//! overrides settings (`'{"spam_cutoff": 0.995}'`); `--sweep` also prints the results at
//! other cut-offs; `--show-errors` lists misclassified files; `--scores FILE` writes every
//! scored message's probability. `--dump FILE` writes each message's tokens instead of
//! classifying (for trying other classifiers on the same features, as
//! `examples/discriminative.py` does).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mail_parser::{Address, Header, HeaderValue, MessageParser, MimeHeaders, PartType};
use moat_plugin_bayes::config::Config;
use moat_plugin_bayes::model::{Classification, MemoryKv, Teacher};
use moat_plugin_bayes::{Class, Input, score, train};
use moat_sdk::Label;

struct Mail {
    path: PathBuf,
    label: Label,
    input: Input,
}

#[derive(Default)]
struct Tally {
    spam: [usize; 3],
    ham: [usize; 3],
    errors: Vec<String>,
    /// Each scored message's label, spam probability and file name.
    probabilities: Vec<(Label, f64, String)>,
    train_time: Duration,
    trained: usize,
    score_time: Duration,
    scored: usize,
    keys: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let config: Config = match value("--config") {
        Some(json) => {
            serde_json::from_str(&json).unwrap_or_else(|e| fail(&format!("--config: {e}")))
        }
        None => Config::default(),
    };
    let (config, problems) = config.validated();
    for problem in problems {
        eprintln!("warning: {problem}");
    }
    let sweep = args.iter().any(|a| a == "--sweep");
    let show_errors = args.iter().any(|a| a == "--show-errors");
    let explain: Vec<String> = args
        .windows(2)
        .filter(|w| w[0] == "--explain")
        .map(|w| w[1].clone())
        .collect();

    if let Some(out) = value("--dump") {
        let dir = value("--cv")
            .or_else(|| value("--train"))
            .unwrap_or_else(|| fail("--dump needs --cv DIR or --train DIR"));
        dump(&config, &load(Path::new(&dir)), Path::new(&out));
        return;
    }
    let tally = if let Some(dir) = value("--cv") {
        let folds: usize = value("--folds").and_then(|f| f.parse().ok()).unwrap_or(5);
        let mails = load(Path::new(&dir));
        let mut total = Tally::default();
        for fold in 0..folds {
            let (test, train_set): (Vec<&Mail>, Vec<&Mail>) =
                mails
                    .iter()
                    .enumerate()
                    .fold((vec![], vec![]), |(mut te, mut tr), (i, m)| {
                        if i % folds == fold {
                            te.push(m);
                        } else {
                            tr.push(m);
                        }
                        (te, tr)
                    });
            let t = run(&config, &train_set, &test, &explain);
            println!(
                "fold {fold}: spam caught {}/{} (unsure {}), ham flagged {}/{} (unsure {})",
                t.spam[0],
                t.spam.iter().sum::<usize>(),
                t.spam[2],
                t.ham[0],
                t.ham.iter().sum::<usize>(),
                t.ham[2]
            );
            total.merge(t);
        }
        total
    } else {
        let train_dir =
            value("--train").unwrap_or_else(|| fail("need --train DIR --test DIR or --cv DIR"));
        let test_dir = value("--test").unwrap_or_else(|| fail("need --test DIR"));
        let train_mails = load(Path::new(&train_dir));
        let test_mails = load(Path::new(&test_dir));
        run(
            &config,
            &train_mails.iter().collect::<Vec<_>>(),
            &test_mails.iter().collect::<Vec<_>>(),
            &explain,
        )
    };
    report(&tally, &config, sweep, show_errors);
    if let Some(out) = value("--scores") {
        write_scores(&tally, Path::new(&out));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

impl Tally {
    fn merge(&mut self, other: Self) {
        for i in 0..3 {
            self.spam[i] += other.spam[i];
            self.ham[i] += other.ham[i];
        }
        self.errors.extend(other.errors);
        self.probabilities.extend(other.probabilities);
        self.train_time += other.train_time;
        self.trained += other.trained;
        self.score_time += other.score_time;
        self.scored += other.scored;
        self.keys = self.keys.max(other.keys);
    }
}

/// Trains on `train_set` and classifies `test`.
fn run(config: &Config, train_set: &[&Mail], test: &[&Mail], explain: &[String]) -> Tally {
    let mut kv = MemoryKv::default();
    let mut tally = Tally::default();
    let start = Instant::now();
    for mail in train_set {
        if let Err(error) = train(
            &mut kv,
            config,
            &mail.input,
            mail.label,
            false,
            Teacher::Operator,
        ) {
            eprintln!("{}: {error}", mail.path.display());
        }
    }
    tally.train_time = start.elapsed();
    tally.trained = train_set.len();
    tally.keys = kv.entries().len() + kv.counters().len();
    let start = Instant::now();
    for mail in test {
        let probability = match score(&mut kv, config, &mail.input) {
            Ok(Classification::Scored(score)) => {
                if explain.iter().any(|e| mail.path.ends_with(e)) {
                    println!(
                        "{} p={:.4} {:?}",
                        mail.path.display(),
                        score.probability,
                        score.per_source
                    );
                    for clue in &score.clues {
                        println!("  {:.4} {}", clue.probability, clue.text);
                    }
                }
                score.probability
            }
            Ok(Classification::Untrained(stats)) => fail(&format!("untrained: {stats:?}")),
            Err(error) => fail(&error.to_string()),
        };
        let name = mail.path.file_name().unwrap_or_default().to_string_lossy();
        tally
            .probabilities
            .push((mail.label, probability, name.into_owned()));
        let class = Class::of(probability, config.cutoffs());
        let index = match class {
            Class::Spam => 0,
            Class::Ham => 1,
            Class::Unsure => 2,
        };
        match mail.label {
            Label::Spam => tally.spam[index] += 1,
            Label::Ham => tally.ham[index] += 1,
        }
        let wrong = !matches!(
            (mail.label, class),
            (Label::Spam, Class::Spam) | (Label::Ham, Class::Ham)
        );
        if wrong {
            tally.errors.push(format!(
                "{:?} {class:?} {probability:.4} {}",
                mail.label,
                mail.path.display()
            ));
        }
    }
    tally.score_time = start.elapsed();
    tally.scored = test.len();
    tally
}

fn report(tally: &Tally, config: &Config, sweep: bool, show_errors: bool) {
    let spam_total: usize = tally.spam.iter().sum();
    let ham_total: usize = tally.ham.iter().sum();
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    println!(
        "cut-offs: spam >= {}, ham <= {}",
        config.spam_cutoff, config.ham_cutoff
    );
    println!(
        "spam: caught {}/{} ({:.2}%), unsure {}, missed as ham {}",
        tally.spam[0],
        spam_total,
        pct(tally.spam[0], spam_total),
        tally.spam[2],
        tally.spam[1]
    );
    println!(
        "ham:  flagged {}/{} ({:.2}%), unsure {}, passed as ham {}",
        tally.ham[0],
        ham_total,
        pct(tally.ham[0], ham_total),
        tally.ham[2],
        tally.ham[1]
    );
    println!("distinct kv keys after training: {}", tally.keys);
    println!(
        "training: {:.0} msgs/s; scoring: {:.0} µs/msg (in-memory kv, native)",
        tally.trained as f64 / tally.train_time.as_secs_f64(),
        tally.score_time.as_secs_f64() * 1e6 / tally.scored.max(1) as f64
    );
    if sweep {
        println!(
            "spam_cutoff  caught  flagged   (ham_cutoff {})",
            config.ham_cutoff
        );
        for cutoff in [
            0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999, 0.99999,
        ] {
            let caught = tally
                .probabilities
                .iter()
                .filter(|(l, p, _)| *l == Label::Spam && *p >= cutoff)
                .count();
            let flagged = tally
                .probabilities
                .iter()
                .filter(|(l, p, _)| *l == Label::Ham && *p >= cutoff)
                .count();
            println!("{cutoff:<11}  {:>6.2}%  {flagged}", pct(caught, spam_total));
        }
    }
    if show_errors {
        for error in &tally.errors {
            println!("{error}");
        }
    }
}

/// Every message under `dir/spam` and `dir/ham`, sorted by name.
fn load(dir: &Path) -> Vec<Mail> {
    let start = Instant::now();
    let mut mails = Vec::new();
    for (sub, label) in [("spam", Label::Spam), ("ham", Label::Ham)] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
            .unwrap_or_else(|e| fail(&format!("{}: {e}", dir.join(sub).display())))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        for path in paths {
            let raw =
                std::fs::read(&path).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
            match parse(&raw) {
                Some(input) => mails.push(Mail { path, label, input }),
                None => eprintln!("{}: not a message; skipped", path.display()),
            }
        }
    }
    // Interleave spam and ham so folds and training order mix both.
    mails.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
    eprintln!(
        "{}: {} messages parsed in {:.1}s",
        dir.display(),
        mails.len(),
        start.elapsed().as_secs_f64()
    );
    mails
}

/// The views of the gateway's `host/src/message` over a parsed message.
fn parse(raw: &[u8]) -> Option<Input> {
    let parsed = MessageParser::default().parse(raw)?;
    if parsed.headers().is_empty() {
        return None;
    }
    let raw = parsed.raw_message();
    let headers = parsed
        .headers()
        .iter()
        .map(|h| (h.name().to_owned(), header_value(h, raw)))
        .collect();
    let text_parts = parsed
        .text_bodies()
        .filter(|p| matches!(p.body, PartType::Text(_)))
        .filter_map(|p| p.text_contents().map(str::to_owned))
        .collect();
    let html_parts = parsed
        .html_bodies()
        .filter_map(|p| match &p.body {
            PartType::Html(html) => Some(mail_parser::decoders::html::html_to_text(html)),
            _ => None,
        })
        .collect();
    let html_sources = parsed
        .html_bodies()
        .filter_map(|p| match &p.body {
            PartType::Html(html) => Some(html.to_string()),
            _ => None,
        })
        .collect();
    let mut sources: Vec<String> = parsed
        .text_bodies()
        .filter_map(|p| p.text_contents().map(str::to_owned))
        .collect();
    sources.extend(
        parsed
            .html_bodies()
            .filter_map(|p| p.text_contents().map(str::to_owned)),
    );
    let urls = find_urls(sources.iter().map(String::as_str));
    let attachment_types = parsed
        .attachments()
        .map(|part| {
            part.content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
                    None => ct.ctype().to_ascii_lowercase(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
        })
        .collect();
    Some(Input {
        headers,
        text_parts,
        html_parts,
        html_sources,
        urls,
        attachment_types,
        ocr_text: None,
    })
}

fn header_value(header: &Header<'_>, raw: &[u8]) -> String {
    match &header.value {
        HeaderValue::Text(text) => text.to_string(),
        HeaderValue::TextList(list) => list.join(", "),
        HeaderValue::Address(address) => format_address(address),
        _ => {
            let start = header.offset_start as usize;
            let end = (header.offset_end as usize).min(raw.len());
            let value = raw.get(start..end).unwrap_or_default();
            unfold(&String::from_utf8_lossy(value))
        }
    }
}

fn format_address(address: &Address<'_>) -> String {
    let one = |a: &mail_parser::Addr<'_>| match (&a.name, &a.address) {
        (Some(name), Some(addr)) => format!("{name} <{addr}>"),
        (None, Some(addr)) => addr.to_string(),
        (Some(name), None) => name.to_string(),
        (None, None) => String::new(),
    };
    match address {
        Address::List(list) => list.iter().map(one).collect::<Vec<_>>().join(", "),
        Address::Group(groups) => groups
            .iter()
            .map(|g| {
                let members = g.addresses.iter().map(one).collect::<Vec<_>>().join(", ");
                format!("{}: {members};", g.name.as_deref().unwrap_or_default())
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn unfold(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn find_urls<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for text in texts {
        let lower = text.to_ascii_lowercase();
        let mut from = 0;
        while let Some(pos) = lower[from..].find("http").map(|p| p + from) {
            from = pos + 4;
            let rest = &lower[pos..];
            if !(rest.starts_with("http://") || rest.starts_with("https://")) {
                continue;
            }
            let len = text[pos..]
                .find(|c: char| c.is_whitespace() || "\"'<>()[]{}`".contains(c))
                .unwrap_or(text.len() - pos);
            let url = text[pos..pos + len].trim_end_matches(['.', ',', ';', ':', '!', '?']);
            from = pos + len;
            if url.len() > "https://".len() && !urls.iter().any(|u| u == url) {
                urls.push(url.to_owned());
                if urls.len() == 1000 {
                    return urls;
                }
            }
        }
    }
    urls
}

/// Writes each scored message's file name, label and spam probability, tab-separated.
fn write_scores(tally: &Tally, out: &Path) {
    let mut text = String::new();
    for (label, probability, name) in &tally.probabilities {
        text.push_str(&format!("{name}\t{}\t{probability}\n", label_name(*label)));
    }
    std::fs::write(out, text).unwrap_or_else(|e| fail(&format!("{}: {e}", out.display())));
}

fn label_name(label: Label) -> &'static str {
    match label {
        Label::Spam => "spam",
        Label::Ham => "ham",
    }
}

/// Writes each message's tokens, one message per line: label, file name, then the tokens,
/// separated by 0x1f (for exploring other classifiers outside the plugin).
fn dump(config: &Config, mails: &[Mail], out: &Path) {
    use std::io::Write;
    let tokenizer = config.tokenizer();
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).unwrap_or_else(|e| fail(&e.to_string())),
    );
    for mail in mails {
        let tokens = tokenizer.tokenize(&mail.input);
        let name = mail.path.file_name().unwrap_or_default().to_string_lossy();
        let mut line = format!("{}\x1f{name}", label_name(mail.label));
        for token in &tokens {
            line.push('\x1f');
            line.push_str(&token.text.replace(['\x1f', '\n'], " "));
        }
        writeln!(file, "{line}").unwrap_or_else(|e| fail(&e.to_string()));
    }
}
