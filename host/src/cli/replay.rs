//! `moat replay`: what a candidate configuration would have decided, before it goes live.
//! By default it re-weighs the decision log's plugin answers under the candidate's
//! weights, hard-action permissions and thresholds (`decisions::ReplayWeights`): fast, and
//! exact for weight and threshold changes. With `--corpus` it runs the candidate's whole
//! pipeline (new or changed plugins) over a labelled corpus instead.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;

use super::ConfigArgs;
use super::corpus::run_corpus;
use crate::cli::output::say;
use crate::config::{ConfigSource, HumanDuration};
use crate::decisions::{ACTIONS, Comparison, ReplayWeights, TruthRates, log_dir, replay_log};

/// `moat replay` arguments.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The candidate configuration (`--config candidate.toml`), and the data dir whose
    /// decision log is replayed (default: the candidate's `server.data_dir`).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Only decisions taken this long ago or since (`7d`, `12h`).
    #[arg(long, value_name = "AGE")]
    pub since: Option<HumanDuration>,
    /// Run the candidate's whole pipeline over a labelled corpus (`DIR/spam/`,
    /// `DIR/ham/`) instead of re-weighing the log.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// With `--corpus`: the configuration the candidate is compared with (the one in
    /// force, say). Without it, only the candidate's rates are given.
    #[arg(long, value_name = "FILE", requires = "corpus")]
    pub baseline: Option<PathBuf>,
    /// The changed messages listed at most (JSON lists them all).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub show: usize,
    /// One JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs the replay.
pub(super) async fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    match &args.corpus {
        Some(_) => replay_corpus(&args).await,
        None => replay_from_log(&args),
    }
}

fn replay_from_log(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let started = Instant::now();
    let (weights, errors) = ReplayWeights::from_config(&config);
    super::report_load_errors(&errors);
    let dir = log_dir(&config.server.data_dir);
    let (comparison, unreadable_lines) = replay_log(&dir, since_ms(args.since), &weights)
        .with_context(|| format!("cannot read the decision log in {}", dir.display()))?;
    let elapsed = started.elapsed();
    if args.json {
        let mut value = comparison_json(&comparison);
        value["unreadable_lines"] = json!(unreadable_lines);
        value["seconds"] = json!(elapsed.as_secs_f64());
        say!("{value}");
    } else {
        say!(
            "{} decisions{} from {}, re-weighed under {} in {:.2} s{}",
            comparison.messages,
            args.since
                .map(|age| format!(" of the last {age}"))
                .unwrap_or_default(),
            dir.display(),
            candidate_name(&args.config.source()),
            elapsed.as_secs_f64(),
            if unreadable_lines > 0 {
                format!(" ({unreadable_lines} unreadable lines skipped)")
            } else {
                String::new()
            }
        );
        print_comparison(
            &comparison,
            args.show,
            "logged",
            "quarantine releases and moat learn",
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn replay_corpus(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let dir = args.corpus.as_ref().expect("corpus mode");
    let candidate = args.config.load()?;
    let baseline = match &args.baseline {
        Some(file) => Some(
            ConfigSource {
                file: Some(file.clone()),
                data_dir: args.config.data_dir.clone(),
            }
            .load()?,
        ),
        None => None,
    };
    let new = run_corpus(&candidate, dir).await?;
    let old = match &baseline {
        Some(config) => Some(run_corpus(config, dir).await?),
        None => None,
    };
    let mut comparison = Comparison::default();
    for (i, checked) in new.decisions.iter().enumerate() {
        let record = &checked.record;
        let before = old
            .as_ref()
            .and_then(|old| old.decisions.get(i))
            .map_or((record.action, record.score), |o| {
                (o.record.action, o.record.score)
            });
        comparison.add_pair(record, checked.truth, before, (record.action, record.score));
    }
    if args.json {
        let mut value = comparison_json(&comparison);
        value["unreadable"] = json!(new.unreadable);
        value["seconds"] = json!(new.elapsed.as_secs_f64());
        if old.is_none() {
            value["old"] = serde_json::Value::Null;
        }
        say!("{value}");
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "{} messages of {} checked under {} in {:.1} s{}",
        new.decisions.len(),
        dir.display(),
        candidate_name(&args.config.source()),
        new.elapsed.as_secs_f64(),
        if new.unreadable > 0 {
            format!(" ({} unreadable)", new.unreadable)
        } else {
            String::new()
        }
    );
    match &args.baseline {
        Some(file) => print_comparison(
            &comparison,
            args.show,
            &format!("baseline {}", file.display()),
            "the corpus's spam/ and ham/",
        ),
        None => print_rates(&[("candidate", &comparison.new_rates)]),
    }
    Ok(ExitCode::SUCCESS)
}

fn candidate_name(source: &ConfigSource) -> String {
    source.file.as_ref().map_or_else(
        || "the embedded default".to_owned(),
        |f| f.display().to_string(),
    )
}

fn comparison_json(comparison: &Comparison) -> serde_json::Value {
    let mut matrix = serde_json::Map::new();
    for (i, old) in ACTIONS.iter().enumerate() {
        let row: serde_json::Map<String, serde_json::Value> = ACTIONS
            .iter()
            .enumerate()
            .map(|(j, new)| (new.as_str().to_owned(), json!(comparison.matrix[i][j])))
            .collect();
        matrix.insert(old.as_str().to_owned(), row.into());
    }
    json!({
        "messages": comparison.messages,
        "matrix": matrix,
        "changed": comparison.changed,
        "old": comparison.old_rates,
        "new": comparison.new_rates,
    })
}

fn print_comparison(comparison: &Comparison, show: usize, old_name: &str, truth_from: &str) {
    say!("");
    let mut header = format!("{:<16}", "old \\ new");
    for action in ACTIONS {
        header.push_str(&format!("{:>11}", action.as_str()));
    }
    say!("{header}");
    for (i, old) in ACTIONS.iter().enumerate() {
        if comparison.row_total(*old) == 0 {
            continue;
        }
        let mut row = format!("{:<16}", old.as_str());
        for count in comparison.matrix[i] {
            row.push_str(&format!("{count:>11}"));
        }
        say!("{row}");
    }
    say!("");
    if comparison.changed.is_empty() {
        say!("no message changes action");
    } else {
        say!("{} messages change action:", comparison.changed.len());
        for change in comparison.changed.iter().take(show) {
            say!(
                "  {:<10} {} -> {} ({:.2} -> {:.2}){}  {}  from <{}>  {}",
                age(change.time),
                change.old_action.as_str(),
                change.new_action.as_str(),
                change.old_score,
                change.new_score,
                change
                    .truth
                    .map(|t| format!(
                        " [{}]",
                        if t == crate::decisions::Truth::Spam {
                            "spam"
                        } else {
                            "ham"
                        }
                    ))
                    .unwrap_or_default(),
                printable(&change.id),
                printable(&change.mail_from),
                printable(change.subject.as_deref().unwrap_or(""))
            );
        }
        if comparison.changed.len() > show {
            say!(
                "  ... and {} more (--show N, or --json)",
                comparison.changed.len() - show
            );
        }
    }
    say!("");
    let known = comparison.old_rates.spam + comparison.old_rates.ham;
    if known == 0 {
        say!("no message's truth is known yet ({truth_from} tell it)");
    } else {
        say!("where the truth is known ({truth_from}):");
        print_rates(&[
            (old_name, &comparison.old_rates),
            ("candidate", &comparison.new_rates),
        ]);
    }
}

fn print_rates(rows: &[(&str, &TruthRates)]) {
    say!("  {:<28} {:>22} {:>22}", "", "spam caught", "ham flagged");
    for (name, rates) in rows {
        say!(
            "  {:<28} {:>22} {:>22}",
            name,
            format!(
                "{} of {} ({:.1}%)",
                rates.spam_caught,
                rates.spam,
                rates.caught_percent()
            ),
            format!(
                "{} of {} ({:.2}%)",
                rates.ham_flagged,
                rates.ham,
                rates.flagged_percent()
            ),
        );
    }
}

/// The cut-off `--since AGE` names, in ms since the epoch.
pub(super) fn since_ms(since: Option<HumanDuration>) -> Option<u64> {
    since.map(|age| {
        crate::time::now_ms().saturating_sub(u64::try_from(age.0.as_millis()).unwrap_or(u64::MAX))
    })
}

/// `text` with control characters (a sender's Subject may carry escapes) shown as `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// How long ago `time_ms` was, roughly: `12s ago`, `5m ago`, `3h ago`, `2d ago`.
fn age(time_ms: u64) -> String {
    let secs = crate::time::now_ms().saturating_sub(time_ms) / 1000;
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn a_senders_escapes_and_line_breaks_never_reach_the_terminal() {
        assert_eq!(printable("Hi\u{1b}[2J\r\nthere\u{7}"), "Hi?[2J??there?");
        assert_eq!(printable("Grüße"), "Grüße");
    }
}
