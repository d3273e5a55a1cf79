//! `moat bench quality`: how well Moat's whole pipeline tells spam from ham on a corpus
//! split, beside other filters on the same split. Rows:
//!
//! * `moat (default weights)`: the learning plugins taught the train split, the test
//!   split checked as `moat check` would;
//! * `moat (tuned on train)`: the same decisions under weights `moat tune`'s fit learnt
//!   from the train split only — from out-of-fold decisions (the train split cut into
//!   `--folds` folds, each checked by plugins taught the other folds), since decisions on
//!   mail the learning plugins were taught are overconfident;
//! * `bogofilter`, `spamassassin` with `--compare`: trained on train, run on test.
//!
//! Without `--config` the pipeline is the bundled headers, bayes and ocr plugins, with
//! sender authentication off: everything a corpus can be judged on offline (block lists
//! and SPF need the network and today's DNS, reputation needs the live arrival history).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use crate::cli::ConfigArgs;
use crate::cli::check_client::relays_with_loopback;
use crate::cli::check_run::CheckEnv;
use crate::cli::corpus::{Sample, check_samples, labelled_samples};
use crate::cli::learn::{Tally, teach_one};
use crate::cli::output::say;
use crate::config::Config;
use crate::decisions::{LoggedDecision, Truth, TruthRates};
use crate::filter::Action;
use crate::filter::assemble::assemble;
use crate::filter::pipeline::Label;
use crate::message::mailbox::read_file;
use crate::message::{MessageHandle, ParsedMessage};
use crate::tune::{FitOptions, Learnt, cross_validated, learn_weights, rates_under};

/// `moat bench quality` arguments.
#[derive(Debug, clap::Args)]
pub struct QualityArgs {
    /// The training split: `spam/` and `ham/` folders of messages.
    #[arg(long, value_name = "DIR")]
    pub train: PathBuf,
    /// The test split, of the same shape.
    #[arg(long, value_name = "DIR")]
    pub test: PathBuf,
    /// Other filters to train and run on the same split: `bogofilter`, `spamassassin`.
    #[arg(long, value_name = "ENGINE", value_delimiter = ',')]
    pub compare: Vec<Engine>,
    /// Folds the train split is cut into for the tuned weights.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(2..=10))]
    pub folds: u8,
    /// A false positive costs this many missed spam, for the tuned weights.
    #[arg(long, default_value_t = FitOptions::default().ham_cost, value_name = "N")]
    pub ham_cost: f64,
    /// The pull of the tuned weights towards the weights in force.
    #[arg(long, default_value_t = FitOptions::default().l2, value_name = "X")]
    pub l2: f64,
    /// Also write the tuned weights to this file.
    #[arg(long, value_name = "FILE")]
    pub weights_out: Option<PathBuf>,
    /// Also write the out-of-fold train decisions the weights were fitted on to this file,
    /// one JSON object per line with its truth: what a new rule would be measured against
    /// (never the test split's, which is not for tuning).
    #[arg(long, value_name = "FILE")]
    pub train_decisions_out: Option<PathBuf>,
    /// One JSON object per row instead of a table.
    #[arg(long)]
    pub json: bool,
    /// A configuration whose plugins and settings are measured (default: headers, bayes
    /// and ocr, sender authentication off); its data dir is not touched.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Filters to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// Debian's bogofilter.
    Bogofilter,
    /// Debian's SpamAssassin, its Bayes trained by sa-learn.
    Spamassassin,
}

/// One row of the table.
struct Row {
    engine: String,
    rates: TruthRates,
    elapsed: Duration,
}

/// Runs the benchmark.
pub(super) async fn run(args: QualityArgs) -> anyhow::Result<ExitCode> {
    let base = base_config(&args)?;
    let train = labelled_samples(&args.train)?;
    let test = labelled_samples(&args.test)?;
    let mut rows = Vec::new();
    let started = Instant::now();
    let test_decisions = taught_and_checked(
        &base,
        &train.iter().collect::<Vec<_>>(),
        &test.iter().collect::<Vec<_>>(),
    )
    .await?;
    rows.push(Row {
        engine: "moat (default weights)".into(),
        rates: rates_as_decided(&test_decisions),
        elapsed: started.elapsed(),
    });
    let started = Instant::now();
    let out_of_fold = out_of_fold(&base, &train, args.folds).await?;
    let options = FitOptions {
        tag: base.thresholds.tag,
        ham_cost: args.ham_cost,
        l2: args.l2,
    };
    if let Some(out) = &args.train_decisions_out {
        write_decisions(out, &out_of_fold)?;
    }
    let learnt = learn_weights(&base, &out_of_fold, options);
    let mut tuned = base.clone();
    tuned.learnt_weights = learnt.weights.clone();
    let train_rates = TrainRates {
        default: rates_as_decided(&out_of_fold),
        tuned_in_sample: rates_under(&tuned, &out_of_fold),
        tuned_held_out: cross_validated(&base, &out_of_fold, args.folds, options),
    };
    rows.push(Row {
        engine: "moat (tuned on train)".into(),
        rates: rates_under(&tuned, &test_decisions),
        elapsed: started.elapsed(),
    });
    if let Some(out) = &args.weights_out {
        let comment = format!(
            "Learnt by `moat bench quality` on {} ({}-fold out-of-fold decisions, ham cost {})",
            args.train.display(),
            args.folds,
            args.ham_cost
        );
        std::fs::write(out, learnt.weights.to_toml(&comment))
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    for engine in &args.compare {
        rows.push(match engine {
            Engine::Bogofilter => measure_bogofilter(&args)?,
            Engine::Spamassassin => {
                let run = super::spamassassin::measure_spamassassin(&args.train, &args.test)?;
                anyhow::ensure!(
                    run.failed == 0,
                    "SpamAssassin could not score {} messages",
                    run.failed
                );
                Row {
                    engine: "spamassassin".into(),
                    rates: run.rates,
                    elapsed: run.train_time + run.score_time,
                }
            }
        });
    }
    if args.json {
        for row in &rows {
            say!("{}", row_json(row));
        }
    } else {
        print_table(&args, &rows, &learnt, &train_rates);
    }
    Ok(ExitCode::SUCCESS)
}

/// The configuration measured: `--config`'s, else the offline default; never with
/// learnt weights of its own (the tuned row learns them).
fn base_config(args: &QualityArgs) -> anyhow::Result<Config> {
    let mut config = args.config.load()?;
    if args.config.config.is_none() {
        config.filter.bundled = Some(vec!["headers".into(), "bayes".into(), "ocr".into()]);
        config.sender_auth.verify = false;
    }
    config.learnt_weights = crate::config::LearntWeights::default();
    config.decisions.enabled = false;
    Ok(config)
}

/// Teaches a fresh pipeline (in a temporary data dir) `train`, then checks `check`.
async fn taught_and_checked(
    base: &Config,
    train: &[&Sample],
    check: &[&Sample],
) -> anyhow::Result<Vec<LoggedDecision>> {
    let scratch = tempfile::tempdir()?;
    let mut config = base.clone();
    config.server.data_dir = scratch.path().to_owned();
    let assembled = assemble(&config, scratch.path())
        .await
        .context("cannot set up the filter pipeline")?;
    crate::cli::report_load_errors(&assembled.load_errors);
    teach(&assembled.pipeline, train).await?;
    let relays = relays_with_loopback(&config.relay.trusted_relays)?;
    let env = CheckEnv {
        pipeline: &assembled.pipeline,
        relays: &relays,
        verifier: None,
    };
    let samples: Vec<Sample> = check
        .iter()
        .map(|s| Sample {
            path: s.path.clone(),
            truth: s.truth,
        })
        .collect();
    Ok(check_samples(&env, &samples).await.decisions)
}

/// The train figures of the default and the tuned weights.
struct TrainRates {
    /// The weights in force, on the out-of-fold decisions.
    default: TruthRates,
    /// Weights fitted on all the out-of-fold decisions, judged on the same decisions.
    tuned_in_sample: TruthRates,
    /// Each fold judged under weights fitted on the other folds' decisions: what the fit
    /// does on mail it did not see, the figure to choose fit options by.
    tuned_held_out: TruthRates,
}

/// Decisions on every train message by plugins taught the other folds.
async fn out_of_fold(
    base: &Config,
    train: &[Sample],
    folds: u8,
) -> anyhow::Result<Vec<LoggedDecision>> {
    let fold_of = |i: usize| i % usize::from(folds);
    let mut decisions = Vec::with_capacity(train.len());
    for fold in 0..usize::from(folds) {
        let held: Vec<&Sample> = train
            .iter()
            .enumerate()
            .filter(|(i, _)| fold_of(*i) == fold)
            .map(|(_, s)| s)
            .collect();
        let taught: Vec<&Sample> = train
            .iter()
            .enumerate()
            .filter(|(i, _)| fold_of(*i) != fold)
            .map(|(_, s)| s)
            .collect();
        decisions.extend(taught_and_checked(base, &taught, &held).await?);
    }
    Ok(decisions)
}

/// Teaches every plugin that learns each sample.
async fn teach(pipeline: &crate::filter::Pipeline, samples: &[&Sample]) -> anyhow::Result<()> {
    let mut learners: Vec<_> = pipeline
        .plugins()
        .iter()
        .map(|p| (p, Tally::default()))
        .collect();
    for sample in samples {
        let label = match sample.truth {
            Truth::Spam => Label::Spam,
            Truth::Ham => Label::Ham,
        };
        for message in read_file(&sample.path)? {
            let Ok(parsed) = ParsedMessage::parse(message.raw) else {
                continue;
            };
            let handle = MessageHandle::new(parsed);
            teach_one(
                pipeline,
                &mut learners,
                &message.origin,
                &handle,
                label,
                false,
            )
            .await;
        }
    }
    Ok(())
}

/// Writes `decisions` as JSON lines, each record with its `truth`.
fn write_decisions(out: &std::path::Path, decisions: &[LoggedDecision]) -> anyhow::Result<()> {
    let mut text = String::new();
    for decision in decisions {
        let mut line = serde_json::to_value(&decision.record)?;
        line["truth"] = serde_json::to_value(decision.truth)?;
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))
}

fn rates_as_decided(decisions: &[LoggedDecision]) -> TruthRates {
    let mut rates = TruthRates::default();
    for decision in decisions {
        if let Some(truth) = decision.truth {
            rates.count(truth, decision.record.action);
        }
    }
    rates
}

/// Trains bogofilter on train and classifies test with its default cut-offs (unsure
/// counts as not caught, not flagged).
fn measure_bogofilter(args: &QualityArgs) -> anyhow::Result<Row> {
    let started = Instant::now();
    let mut rates = TruthRates::default();
    for (truth, class) in super::bayes::bogofilter_split(&args.train, &args.test)?.classes {
        let action = if class == 'S' {
            Action::Tag
        } else {
            Action::Accept
        };
        rates.count(truth, action);
    }
    Ok(Row {
        engine: "bogofilter".into(),
        rates,
        elapsed: started.elapsed(),
    })
}

fn row_json(row: &Row) -> serde_json::Value {
    json!({
        "engine": row.engine,
        "spam": row.rates.spam,
        "spam_caught": row.rates.spam_caught,
        "caught_percent": (row.rates.caught_percent() * 100.0).round() / 100.0,
        "ham": row.rates.ham,
        "ham_flagged": row.rates.ham_flagged,
        "flagged_percent": (row.rates.flagged_percent() * 1000.0).round() / 1000.0,
        "seconds": (row.elapsed.as_secs_f64() * 10.0).round() / 10.0,
    })
}

fn print_table(args: &QualityArgs, rows: &[Row], learnt: &Learnt, train: &TrainRates) {
    say!(
        "train {} ({} folds for the tuned weights), test {}",
        args.train.display(),
        args.folds,
        args.test.display()
    );
    say!(
        "{:<24} {:>20} {:>20} {:>10}",
        "engine",
        "spam caught",
        "ham flagged",
        "seconds"
    );
    for row in rows {
        say!(
            "{:<24} {:>20} {:>20} {:>10.1}",
            row.engine,
            format!(
                "{}/{} ({:.1}%)",
                row.rates.spam_caught,
                row.rates.spam,
                row.rates.caught_percent()
            ),
            format!(
                "{}/{} ({:.2}%)",
                row.rates.ham_flagged,
                row.rates.ham,
                row.rates.flagged_percent()
            ),
            row.elapsed.as_secs_f64()
        );
    }
    let fraction = |r: &TruthRates| {
        format!(
            "{}/{} caught, {}/{} flagged",
            r.spam_caught, r.spam, r.ham_flagged, r.ham
        )
    };
    say!(
        "on train, out of fold: default weights {}; tuned, fitted on these {}; tuned, each fold under weights fitted on the others {}",
        fraction(&train.default),
        fraction(&train.tuned_in_sample),
        fraction(&train.tuned_held_out)
    );
    crate::cli::tune::print_moved("tuned weights that moved most", learnt, 10);
}
