//! `moat bench bayes`: the accuracy and speed of the Bayesian plugin on a corpus split.
//! Trains a fresh model (in a temporary data dir) on `--train` and tests on `--test`,
//! each holding `spam/` and `ham/` folders of messages; prints spam caught, ham wrongly
//! flagged and unsure counts, and messages/s for training and scoring. With
//! `--compare bogofilter`, Debian's bogofilter is trained and tested on the same split and
//! printed beside it.

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;

use super::latency::quantile;
use crate::cli::ConfigArgs;
use crate::cli::output::say;
use crate::filter::assemble::assemble;
use crate::filter::pipeline::{Label, LearnOutcome, StageInput};
use crate::filter::plugin::LoadedPlugin;
use crate::filter::{Pipeline, SessionContext};
use crate::message::ParsedMessage;
use crate::message::mailbox::{files_under, read_file};

/// `moat bench bayes` arguments.
#[derive(Debug, clap::Args)]
pub struct BayesArgs {
    /// The training split: a folder with `spam/` and `ham/` folders of messages.
    #[arg(long, value_name = "DIR")]
    pub train: PathBuf,
    /// The test split, of the same shape.
    #[arg(long, value_name = "DIR")]
    pub test: PathBuf,
    /// One JSON object per engine per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also train and test another filter on the same split (`bogofilter`).
    #[arg(long, value_name = "ENGINE")]
    pub compare: Vec<Engine>,
    /// The plugin instance to measure.
    #[arg(long, default_value = "bayes")]
    pub plugin: String,
    /// A configuration whose `[plugin.NAME]` settings are used (default: the embedded
    /// one); its data dir is not touched.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Filters to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// Debian's bogofilter.
    Bogofilter,
}

/// What one engine did on the split.
#[derive(Debug, Default)]
struct Row {
    engine: String,
    spam_total: usize,
    spam_caught: usize,
    spam_unsure: usize,
    ham_total: usize,
    ham_flagged: usize,
    ham_unsure: usize,
    train_messages: usize,
    train_time: Duration,
    score_time: Duration,
    /// Per-message scoring latency, when measured per message.
    latencies: Vec<Duration>,
    /// Per-message latency of test messages of 16 to 24 KiB.
    latencies_20k: Vec<Duration>,
}

/// How an engine classed one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Spam,
    Ham,
    Unsure,
}

impl Row {
    fn count(&mut self, truth: Label, class: Class) {
        match truth {
            Label::Spam => {
                self.spam_total += 1;
                self.spam_caught += usize::from(class == Class::Spam);
                self.spam_unsure += usize::from(class == Class::Unsure);
            }
            Label::Ham => {
                self.ham_total += 1;
                self.ham_flagged += usize::from(class == Class::Spam);
                self.ham_unsure += usize::from(class == Class::Unsure);
            }
        }
    }

    fn scored(&self) -> usize {
        self.spam_total + self.ham_total
    }

    fn to_json(&self) -> serde_json::Value {
        let per_s = |n: usize, t: Duration| (n as f64 / t.as_secs_f64().max(1e-9)).round();
        let mut value = json!({
            "engine": self.engine,
            "spam_total": self.spam_total,
            "spam_caught": self.spam_caught,
            "spam_unsure": self.spam_unsure,
            "ham_total": self.ham_total,
            "ham_flagged": self.ham_flagged,
            "ham_unsure": self.ham_unsure,
            "train_per_s": per_s(self.train_messages, self.train_time),
            "score_per_s": per_s(self.scored(), self.score_time),
        });
        if !self.latencies.is_empty() {
            let mut sorted = self.latencies.clone();
            sorted.sort();
            value["score_p50_us"] = json!(quantile(&sorted, 0.5).as_micros() as u64);
            value["score_p99_us"] = json!(quantile(&sorted, 0.99).as_micros() as u64);
        }
        if !self.latencies_20k.is_empty() {
            let mut sorted = self.latencies_20k.clone();
            sorted.sort();
            value["score_20k_p50_us"] = json!(quantile(&sorted, 0.5).as_micros() as u64);
            value["score_20k_count"] = json!(sorted.len());
        }
        value
    }
}

/// A labelled message of a split.
struct Sample {
    origin: String,
    truth: Label,
    raw: Vec<u8>,
}

/// Runs the benchmark.
pub(super) async fn run(args: BayesArgs) -> anyhow::Result<ExitCode> {
    let train = load_split(&args.train)?;
    let test = load_split(&args.test)?;
    let mut rows = vec![measure_moat(&args, &train, &test).await?];
    for engine in &args.compare {
        rows.push(match engine {
            Engine::Bogofilter => measure_bogofilter(&args)?,
        });
    }
    if args.json {
        for row in &rows {
            say!("{}", row.to_json());
        }
    } else {
        print_table(&args, &rows);
    }
    Ok(ExitCode::SUCCESS)
}

/// The messages of `dir/spam` and `dir/ham`.
fn load_split(dir: &Path) -> anyhow::Result<Vec<Sample>> {
    let mut samples = Vec::new();
    for (folder, truth) in [("spam", Label::Spam), ("ham", Label::Ham)] {
        let path = dir.join(folder);
        if !path.is_dir() {
            bail!("{} has no {folder}/ folder", dir.display());
        }
        for file in files_under(&[path])? {
            for stored in read_file(&file)? {
                samples.push(Sample {
                    origin: stored.origin,
                    truth,
                    raw: stored.raw,
                });
            }
        }
    }
    Ok(samples)
}

async fn measure_moat(args: &BayesArgs, train: &[Sample], test: &[Sample]) -> anyhow::Result<Row> {
    let scratch = tempfile::tempdir()?;
    let mut config = args.config.load()?;
    config.server.data_dir = scratch.path().to_path_buf();
    config.filter.bundled = Some(vec![args.plugin.clone()]);
    config.filter.plugin_dir = None;
    let assembled = assemble(&config, scratch.path()).await?;
    if let Some(error) = assembled.load_errors.first() {
        bail!("the {} plugin did not load: {error}", args.plugin);
    }
    let pipeline = &assembled.pipeline;
    let plugin = pipeline
        .plugins()
        .iter()
        .find(|p| p.name == args.plugin)
        .with_context(|| format!("no plugin named {} is loaded", args.plugin))?;
    let mut row = Row {
        engine: format!("moat-{}", args.plugin),
        ..Row::default()
    };
    let started = Instant::now();
    for sample in train {
        let message = Arc::new(ParsedMessage::parse(sample.raw.clone())?);
        let report = pipeline.learn(plugin, message, sample.truth, false).await;
        match report.result {
            Ok(Ok(LearnOutcome::Done | LearnOutcome::Unchanged)) => row.train_messages += 1,
            Ok(Ok(LearnOutcome::Unsupported)) => bail!("{} does not learn", args.plugin),
            Ok(Err(reason)) => bail!("{}: {} refused: {reason}", sample.origin, args.plugin),
            Err(error) => bail!("{}: {} failed: {error}", sample.origin, args.plugin),
        }
    }
    row.train_time = started.elapsed();
    let started = Instant::now();
    for sample in test {
        let began = Instant::now();
        let class = classify(pipeline, plugin, sample).await?;
        let took = began.elapsed();
        row.latencies.push(took);
        if (16 << 10..=24 << 10).contains(&sample.raw.len()) {
            row.latencies_20k.push(took);
        }
        row.count(sample.truth, class);
    }
    row.score_time = started.elapsed();
    Ok(row)
}

/// Parses `sample` and runs the plugin's data stage: BAYES_SPAM is spam, BAYES_HAM ham,
/// anything else unsure.
async fn classify(
    pipeline: &Pipeline,
    plugin: &LoadedPlugin,
    sample: &Sample,
) -> anyhow::Result<Class> {
    let message = Arc::new(ParsedMessage::parse(sample.raw.clone())?);
    let ctx =
        SessionContext::connected(Arc::from("bench"), (Ipv4Addr::new(192, 0, 2, 1), 25).into());
    let report = pipeline
        .call_stage(plugin, &ctx, &StageInput::Data(message))
        .await;
    let verdict = report
        .result
        .with_context(|| format!("{}: the plugin failed", sample.origin))?;
    let has = |name: &str| verdict.symbols.iter().any(|s| s.name == name);
    Ok(if has("BAYES_SPAM") {
        Class::Spam
    } else if has("BAYES_HAM") {
        Class::Ham
    } else {
        Class::Unsure
    })
}

/// Trains bogofilter (in a temporary word list) on the train split and classifies the test
/// split with its default cut-offs.
fn measure_bogofilter(args: &BayesArgs) -> anyhow::Result<Row> {
    let mut row = Row {
        engine: "bogofilter".into(),
        ..Row::default()
    };
    let split = bogofilter_split(&args.train, &args.test)?;
    row.train_time = split.train_time;
    row.score_time = split.score_time;
    row.train_messages = split.train_messages;
    for (truth, class) in split.classes {
        let truth = match truth {
            crate::decisions::Truth::Spam => Label::Spam,
            crate::decisions::Truth::Ham => Label::Ham,
        };
        let class = match class {
            'S' => Class::Spam,
            'H' => Class::Ham,
            _ => Class::Unsure,
        };
        row.count(truth, class);
    }
    Ok(row)
}

/// What bogofilter did on a split.
pub(super) struct BogofilterSplit {
    /// Each test message's truth and bogofilter's class: `S`, `H` or `U`.
    pub(super) classes: Vec<(crate::decisions::Truth, char)>,
    /// Messages trained on.
    pub(super) train_messages: usize,
    /// Time training.
    pub(super) train_time: Duration,
    /// Time classifying.
    pub(super) score_time: Duration,
}

/// Trains bogofilter (in a temporary word list) on `train` and classifies every message of
/// `test`.
pub(super) fn bogofilter_split(train: &Path, test: &Path) -> anyhow::Result<BogofilterSplit> {
    use crate::decisions::Truth;
    let scratch = tempfile::tempdir()?;
    let started = Instant::now();
    let mut train_messages = 0;
    for (folder, flag) in [("spam", "-s"), ("ham", "-n")] {
        let files = files_under(&[train.join(folder)])?;
        train_messages += files.len();
        bogofilter(scratch.path(), &[flag, "-b"], &files)?;
    }
    let train_time = started.elapsed();
    let started = Instant::now();
    let mut classes = Vec::new();
    for (folder, truth) in [("spam", Truth::Spam), ("ham", Truth::Ham)] {
        let files = files_under(&[test.join(folder)])?;
        let output = bogofilter(scratch.path(), &["-t", "-v", "-b"], &files)?;
        let before = classes.len();
        for line in output.lines() {
            // "PATH X SCORE", X one of S, H, U.
            let mut fields = line.rsplitn(3, ' ');
            let (_score, class) = (fields.next(), fields.next());
            match class {
                Some("S") => classes.push((truth, 'S')),
                Some("H") => classes.push((truth, 'H')),
                Some("U") => classes.push((truth, 'U')),
                _ => bail!("unexpected bogofilter output: {line}"),
            }
        }
        if classes.len() - before != files.len() {
            bail!(
                "bogofilter classified {} of {} messages",
                classes.len() - before,
                files.len()
            );
        }
    }
    Ok(BogofilterSplit {
        classes,
        train_messages,
        train_time,
        score_time: started.elapsed(),
    })
}

/// Runs bogofilter on the word list in `dir` with `flags`, the file names on stdin.
fn bogofilter(dir: &Path, flags: &[&str], files: &[PathBuf]) -> anyhow::Result<String> {
    let mut child = std::process::Command::new("bogofilter")
        .arg("-d")
        .arg(dir)
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run bogofilter (Debian: apt-get install bogofilter)")?;
    let mut stdin = child.stdin.take().context("bogofilter's stdin")?;
    let names: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
    let writer = std::thread::spawn(move || stdin.write_all(names.as_bytes()));
    let output = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writing to bogofilter panicked"))??;
    // bogofilter exits 0 for spam, 1 for ham, 2 for unsure, 3 for errors.
    if output.status.code().is_none_or(|code| code > 2) {
        bail!(
            "bogofilter {} failed: {}",
            flags.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn print_table(args: &BayesArgs, rows: &[Row]) {
    say!(
        "trained on {}, tested on {}",
        args.train.display(),
        args.test.display()
    );
    say!(
        "{:<12} {:>16} {:>8} {:>16} {:>8} {:>12} {:>12} {:>12}",
        "engine",
        "spam caught",
        "unsure",
        "ham flagged",
        "unsure",
        "train msg/s",
        "score msg/s",
        "20KB p50"
    );
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    for row in rows {
        let value = row.to_json();
        let twenty = value["score_20k_p50_us"]
            .as_u64()
            .map_or("-".to_owned(), |us| format!("{:.2} ms", us as f64 / 1000.0));
        say!(
            "{:<12} {:>7}/{:<3} {:>4.1}% {:>8} {:>7}/{:<3} {:>4.2}% {:>8} {:>12.0} {:>12.0} {:>12}",
            row.engine,
            row.spam_caught,
            row.spam_total,
            pct(row.spam_caught, row.spam_total),
            row.spam_unsure,
            row.ham_flagged,
            row.ham_total,
            pct(row.ham_flagged, row.ham_total),
            row.ham_unsure,
            value["train_per_s"].as_f64().unwrap_or_default(),
            value["score_per_s"].as_f64().unwrap_or_default(),
            twenty
        );
    }
}
