//! `moat tune`: symbol weights learnt from the operator's own mail. From the decision
//! log's labelled decisions (quarantine releases, `moat learn`), or from a labelled corpus
//! the learning plugins were not taught; a held-out fold measures the weights before they
//! are written. Then `moat replay` with them, then `moat reload`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::json;

use super::ConfigArgs;
use super::corpus::run_corpus;
use crate::cli::output::say;
use crate::config::{Config, HumanDuration};
use crate::decisions::{LoggedDecision, TruthRates, log_dir, scan_log};
use crate::tune::{FitOptions, Learnt, held_out, learn_weights, rates_under};

/// `moat tune` arguments.
#[derive(Debug, clap::Args)]
pub struct TuneArgs {
    /// The configuration in force: its plugins, thresholds, pinned weights
    /// (`[plugin.NAME.symbols]`) and data dir (whose decision log is read).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Learn from a labelled corpus (`DIR/spam/`, `DIR/ham/`) run through the pipeline,
    /// instead of the log. Use mail the learning plugins were not taught: on mail it
    /// learnt, bayes looks perfect and takes every weight.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// From the log: only decisions this long ago or since (`30d`).
    #[arg(long, value_name = "AGE", conflicts_with = "corpus")]
    pub since: Option<HumanDuration>,
    /// Where to write the weights (`[filter] weights_file` of the candidate). Without
    /// it, only the report is printed.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// A false positive costs this many missed spam.
    #[arg(long, default_value_t = FitOptions::default().ham_cost, value_name = "N")]
    pub ham_cost: f64,
    /// The share of messages held out to measure the learnt weights on, in percent.
    #[arg(long, default_value_t = 20, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=50))]
    pub holdout: u8,
    /// One JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub(super) async fn run(args: TuneArgs) -> anyhow::Result<ExitCode> {
    if !(args.ham_cost.is_finite() && args.ham_cost > 0.0) {
        bail!("--ham-cost must be a number above 0, not {}", args.ham_cost);
    }
    let config = args.config.load()?;
    let (decisions, source) = match &args.corpus {
        Some(dir) => (
            run_corpus(&config, dir).await?.decisions,
            format!("the corpus {}", dir.display()),
        ),
        None => {
            let dir = log_dir(&config.server.data_dir);
            let mut labelled: Vec<LoggedDecision> = Vec::new();
            scan_log(&dir, super::replay::since_ms(args.since), |decision| {
                if decision.truth.is_some() {
                    labelled.push(decision);
                }
            })
            .with_context(|| format!("cannot read the decision log in {}", dir.display()))?;
            (labelled, format!("the decision log in {}", dir.display()))
        }
    };
    let (fold, rest): (Vec<LoggedDecision>, Vec<LoggedDecision>) = decisions
        .into_iter()
        .partition(|d| held_out(d, args.holdout));
    if rest.is_empty() {
        bail!(
            "no labelled messages in {source}: label decisions (moat learn, quarantine \
             release) or give --corpus DIR"
        );
    }
    let options = FitOptions {
        tag: config.thresholds.tag,
        ham_cost: args.ham_cost,
        ..FitOptions::default()
    };
    let learnt = learn_weights(&config, &rest, options);
    let mut candidate = config.clone();
    candidate.learnt_weights = learnt.weights.clone();
    let before = rates_under(&config, &fold);
    let after = rates_under(&candidate, &fold);
    if let Some(out) = &args.out {
        let comment = format!(
            "Symbol weights learnt by `moat tune` from {source}\n\
             on {} spam and {} ham (ham cost {}); held out: {} spam, {} ham.\n\
             Weights in [plugin.NAME.symbols] of the configuration win over these.",
            learnt.fitted_on.0, learnt.fitted_on.1, args.ham_cost, before.spam, before.ham
        );
        std::fs::write(out, learnt.weights.to_toml(&comment))
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    if args.json {
        say!(
            "{}",
            json!({
                "source": source,
                "fitted_on": { "spam": learnt.fitted_on.0, "ham": learnt.fitted_on.1 },
                "held_out": { "before": before, "after": after },
                "moved": learnt.moved,
                "out": args.out,
            })
        );
    } else {
        print_report(&args, &config, &source, &learnt, (&before, &after));
    }
    Ok(ExitCode::SUCCESS)
}

/// The `most` symbols whose weights moved furthest, under `title`.
pub(super) fn print_moved(title: &str, learnt: &Learnt, most: usize) {
    say!("{title}:");
    for moved in learnt.moved.iter().take(most) {
        say!(
            "  {:<10} {:<28} {:>8.3} -> {:>8.3}",
            moved.plugin,
            moved.symbol,
            moved.before,
            moved.after
        );
    }
}

fn print_report(
    args: &TuneArgs,
    config: &Config,
    source: &str,
    learnt: &Learnt,
    (before, after): (&TruthRates, &TruthRates),
) {
    say!(
        "learnt from {source}: {} spam and {} ham (tag at {}, a false positive costs {} missed spam)",
        learnt.fitted_on.0,
        learnt.fitted_on.1,
        config.thresholds.tag,
        args.ham_cost
    );
    if before.spam + before.ham == 0 {
        say!("no message held out (--holdout 0): the weights are not measured");
    } else {
        say!(
            "held out ({}%): {} spam, {} ham",
            args.holdout,
            before.spam,
            before.ham
        );
        say!("  {:<16} {:>20} {:>20}", "", "spam caught", "ham flagged");
        for (name, rates) in [("weights in force", before), ("learnt weights", after)] {
            say!(
                "  {:<16} {:>20} {:>20}",
                name,
                format!("{} ({:.1}%)", rates.spam_caught, rates.caught_percent()),
                format!("{} ({:.2}%)", rates.ham_flagged, rates.flagged_percent())
            );
        }
    }
    print_moved("weights that moved most", learnt, 15);
    match &args.out {
        Some(out) => say!(
            "written to {}: set [filter] weights_file to it in a candidate configuration, \
             check it with `moat replay --config CANDIDATE`, then `moat reload`",
            out.display()
        ),
        None => say!("(nothing written: --out FILE writes the weights)"),
    }
}
