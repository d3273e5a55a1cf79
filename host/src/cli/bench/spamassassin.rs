//! SpamAssassin as a reference row for `moat bench quality`: Debian's SpamAssassin (the
//! `spamassassin` package) with the rules the package ships in `/usr/share/spamassassin`
//! (named explicitly, so rules fetched by `sa-update` are not used whether or not it has
//! ever been run) and the site configuration in `/etc/spamassassin` as installed.
//!
//! Everything lives in a temporary folder: HOME, the Bayes database and a preferences file
//! (`use_bayes 1`, `bayes_auto_learn 0`, `bayes_auto_expire 0`, `required_score 5.0`)
//! that both `sa-learn` and the scorer read, so the user's `~/.spamassassin` is never
//! touched. `sa-learn --local` learns the train split's `spam/` then its `ham/` folder;
//! then the test split is scored with network tests off (`local_tests_only`, as `-L`) by
//! a few Perl workers (one per core, at most four), each running SpamAssassin's own
//! library once over its share of the messages, exactly as the `spamassassin` command
//! does per message (`parse`, `check`) but loading the rules once per worker: this is as
//! fast as spamd with as many children and needs no daemon, port or user switch (spamd
//! running as root refuses to scan as root). A message is caught or flagged when its score
//! reaches 5.0. Auto-expiry is off so the database cannot shrink in the middle of scoring.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::decisions::{Truth, TruthRates};
use crate::filter::Action;
use crate::message::mailbox::files_under;

/// Where Debian's spamassassin package installs its rules.
const SHIPPED_RULES: &str = "/usr/share/spamassassin";

/// The most scoring workers, whatever the number of cores.
const MAX_WORKERS: usize = 4;

/// How long a scoring worker may go without finishing a message (loading the rules
/// included) before the run is abandoned.
const STALL_LIMIT: Duration = Duration::from_secs(120);

/// The hint printed when SpamAssassin is missing.
const INSTALL_HINT: &str = "Debian: apt-get install spamassassin";

/// A scoring worker: reads file names (one a line) from the file named by its fourth
/// argument, scores each message with SpamAssassin and prints `INDEX Y|N SCORE`, INDEX
/// counting from 0. Its arguments: the rules folder, the preferences file, the helpers'
/// home folder, the list.
const WORKER: &str = r#"
use strict;
use warnings;
use Mail::SpamAssassin;
my ($rules, $prefs, $home, $list) = @ARGV;
my $sa = Mail::SpamAssassin->new({
    rules_filename       => $rules,
    userprefs_filename   => $prefs,
    home_dir_for_helpers => $home,
    local_tests_only     => 1,
    dont_copy_prefs      => 1,
    require_rules        => 1,
});
$sa->init(1);
open(my $names, '<', $list) or die "$list: $!\n";
$| = 1;
my $n = 0;
while (my $path = <$names>) {
    chomp $path;
    open(my $file, '<:raw', $path) or die "$path: $!\n";
    my $text = do { local $/; <$file> };
    close $file;
    my $mail = $sa->parse($text);
    my $status = $sa->check($mail);
    printf "%d %s %s\n", $n++, $status->is_spam ? 'Y' : 'N', $status->get_score;
    $status->finish;
    $mail->finish;
}
$sa->finish;
"#;

/// What SpamAssassin did on a split.
pub(super) struct SpamAssassinRun {
    /// Caught (score >= required 5.0) and flagged counts.
    pub(super) rates: TruthRates,
    /// Training time (sa-learn).
    pub(super) train_time: Duration,
    /// Scoring time, the workers' loading of the rules included.
    pub(super) score_time: Duration,
    /// Messages SpamAssassin could not score (should be 0).
    pub(super) failed: usize,
}

/// Trains SpamAssassin's Bayes (a database in a temporary folder) on `train` and scores
/// `test`; each split holds `spam/` and `ham/` folders of message files (LF line ends, one
/// message per file).
pub(super) fn measure_spamassassin(train: &Path, test: &Path) -> anyhow::Result<SpamAssassinRun> {
    let rules = Path::new(SHIPPED_RULES);
    if !rules.is_dir() {
        bail!(
            "SpamAssassin's rules are not in {} ({INSTALL_HINT})",
            rules.display()
        );
    }
    let scratch = tempfile::Builder::new().prefix("moat-sa-").tempdir()?;
    let home = scratch.path().join("home");
    std::fs::create_dir(&home)?;
    let prefs = scratch.path().join("user_prefs");
    let bayes_dir = scratch.path().join("bayes");
    let bayes = bayes_dir
        .to_str()
        .filter(|path| !path.contains('\n'))
        .context("the temporary folder's name cannot go in SpamAssassin's configuration")?;
    std::fs::write(
        &prefs,
        format!(
            "required_score 5.0\n\
             use_bayes 1\n\
             use_bayes_rules 1\n\
             bayes_auto_learn 0\n\
             bayes_auto_expire 0\n\
             bayes_path {bayes}\n"
        ),
    )?;
    let env = Env {
        rules,
        prefs: &prefs,
        home: &home,
    };

    let started = Instant::now();
    for (folder, flag) in [("spam", "--spam"), ("ham", "--ham")] {
        let dir = train.join(folder);
        let files = split_files(train, folder)?;
        sa_learn(&env, flag, &dir, files.len())?;
    }
    let train_time = started.elapsed();

    let mut messages = Vec::new();
    for (folder, truth) in [("spam", Truth::Spam), ("ham", Truth::Ham)] {
        messages.extend(split_files(test, folder)?.into_iter().map(|f| (f, truth)));
    }
    let started = Instant::now();
    let flagged = score(&env, scratch.path(), &messages)?;
    let score_time = started.elapsed();

    let mut rates = TruthRates::default();
    let mut failed = 0;
    for ((_, truth), flagged) in messages.iter().zip(flagged) {
        match flagged {
            Some(flagged) => {
                let action = if flagged { Action::Tag } else { Action::Accept };
                rates.count(*truth, action);
            }
            None => failed += 1,
        }
    }
    Ok(SpamAssassinRun {
        rates,
        train_time,
        score_time,
        failed,
    })
}

/// What every SpamAssassin run is given.
struct Env<'a> {
    /// The rules folder.
    rules: &'a Path,
    /// The preferences file (Bayes database, threshold).
    prefs: &'a Path,
    /// HOME for SpamAssassin and its helpers.
    home: &'a Path,
}

/// The message files of `split/folder`.
fn split_files(split: &Path, folder: &str) -> anyhow::Result<Vec<PathBuf>> {
    let dir = split.join(folder);
    if !dir.is_dir() {
        bail!("{} has no {folder}/ folder", split.display());
    }
    Ok(files_under(&[dir])?)
}

/// Runs `sa-learn --local FLAG DIR` on the temporary database, bounded in time, and checks
/// that it examined `expected` messages.
fn sa_learn(env: &Env<'_>, flag: &str, dir: &Path, expected: usize) -> anyhow::Result<()> {
    let mut command = Command::new("sa-learn");
    command
        .env("HOME", env.home)
        .arg("--local")
        .arg("--configpath")
        .arg(env.rules)
        .arg("--prefspath")
        .arg(env.prefs)
        .arg(flag)
        .arg(dir)
        .stdin(Stdio::null());
    let per_message = Duration::from_millis(200);
    let limit = Duration::from_secs(60)
        + per_message.saturating_mul(u32::try_from(expected).unwrap_or(u32::MAX));
    let (status, stdout, stderr) = run_bounded(command, limit)
        .with_context(|| format!("sa-learn {flag} {}", dir.display()))?;
    if !status.success() {
        bail!(
            "sa-learn {flag} {} failed ({status}): {}",
            dir.display(),
            stderr.trim()
        );
    }
    // "Learned tokens from 918 message(s) (924 message(s) examined)"
    let examined = stdout
        .lines()
        .find_map(|line| {
            let (head, _) = line.split_once(" message(s) examined")?;
            head.rsplit('(').next()?.parse::<usize>().ok()
        })
        .with_context(|| format!("unexpected sa-learn output: {}", stdout.trim()))?;
    if examined != expected {
        bail!(
            "sa-learn {flag} examined {examined} of the {expected} messages in {}",
            dir.display()
        );
    }
    Ok(())
}

/// Runs `command`, killing it if it outlives `limit`; its exit status, stdout and stderr.
fn run_bounded(
    mut command: Command,
    limit: Duration,
) -> anyhow::Result<(std::process::ExitStatus, String, String)> {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| spawn_error(command.get_program(), error))?;
    let mut children = Children(vec![child]);
    let child = &mut children.0[0];
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            bail!("still running after {} s: stopped", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    children.0.clear();
    Ok((status, join(stdout), join(stderr)))
}

/// Scores `messages` with a few workers; for each message in order, whether it reached
/// the required score (`None` if it got no score).
fn score(
    env: &Env<'_>,
    scratch: &Path,
    messages: &[(PathBuf, Truth)],
) -> anyhow::Result<Vec<Option<bool>>> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let workers = cores.clamp(1, MAX_WORKERS).min(messages.len()).max(1);
    // Worker w gets messages w, w + workers, ...: spam and ham spread evenly.
    let shares: Vec<Vec<usize>> = (0..workers)
        .map(|w| (w..messages.len()).step_by(workers).collect())
        .collect();
    let (sender, results) = mpsc::channel::<(usize, Option<String>)>();
    let mut children = Children(Vec::new());
    let mut stderrs = Vec::new();
    for (w, share) in shares.iter().enumerate() {
        let list = scratch.join(format!("worker-{w}.list"));
        write_list(&list, share, messages)?;
        stderrs.push(spawn_worker(env, &list, w, &mut children, sender.clone())?);
    }
    drop(sender);
    let flagged = collect(&results, &shares, messages)?;
    reap(&mut children, stderrs)?;
    let scored = flagged.iter().filter(|f| f.is_some()).count();
    if scored != messages.len() {
        bail!(
            "SpamAssassin scored {scored} of {} messages",
            messages.len()
        );
    }
    Ok(flagged)
}

/// Writes the file names of `share` (indexes into `messages`), one per line, to `list`.
fn write_list(list: &Path, share: &[usize], messages: &[(PathBuf, Truth)]) -> anyhow::Result<()> {
    let mut names = String::new();
    for &i in share {
        let path = messages[i].0.to_str().filter(|p| !p.contains('\n'));
        let path = path.with_context(|| {
            format!(
                "{}: a file name SpamAssassin's worker cannot read",
                messages[i].0.display()
            )
        })?;
        names.push_str(path);
        names.push('\n');
    }
    std::fs::write(list, names)?;
    Ok(())
}

/// Starts worker `w` on the messages in `list` (into `children`); its result lines go to
/// `sender` as `(w, Some(line))`, then `(w, None)`. Returns the reader of its stderr.
fn spawn_worker(
    env: &Env<'_>,
    list: &Path,
    w: usize,
    children: &mut Children,
    sender: mpsc::Sender<(usize, Option<String>)>,
) -> anyhow::Result<std::thread::JoinHandle<String>> {
    let child = Command::new("perl")
        .env("HOME", env.home)
        .arg("-e")
        .arg(WORKER)
        .arg("--")
        .arg(env.rules)
        .arg(env.prefs)
        .arg(env.home)
        .arg(list)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| spawn_error(std::ffi::OsStr::new("perl"), error))?;
    children.0.push(child);
    let child = children.0.last_mut().expect("just pushed");
    let stderr = drain(child.stderr.take());
    let stdout = child.stdout.take().context("the worker's stdout")?;
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send((w, Some(line))).is_err() {
                return;
            }
        }
        let _ = sender.send((w, None));
    });
    Ok(stderr)
}

/// Reads the workers' results until every worker is done; a worker silent for
/// [`STALL_LIMIT`] stops the run.
fn collect(
    results: &mpsc::Receiver<(usize, Option<String>)>,
    shares: &[Vec<usize>],
    messages: &[(PathBuf, Truth)],
) -> anyhow::Result<Vec<Option<bool>>> {
    let workers = shares.len();
    let mut flagged: Vec<Option<bool>> = vec![None; messages.len()];
    let mut last_news = vec![Instant::now(); workers];
    let mut finished = vec![false; workers];
    while finished.contains(&false) {
        match results.recv_timeout(Duration::from_secs(1)) {
            Ok((w, Some(line))) => {
                last_news[w] = Instant::now();
                let (index, spam) = parse_result(&line).with_context(|| {
                    format!("unexpected output from a SpamAssassin worker: {line}")
                })?;
                let Some(&i) = shares[w].get(index) else {
                    bail!(
                        "a SpamAssassin worker scored message {index} of {}",
                        shares[w].len()
                    );
                };
                if flagged[i].replace(spam).is_some() {
                    bail!("SpamAssassin scored {} twice", messages[i].0.display());
                }
            }
            Ok((w, None)) => finished[w] = true,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if (0..workers).any(|w| !finished[w] && last_news[w].elapsed() > STALL_LIMIT) {
            bail!(
                "a SpamAssassin worker scored nothing for {} s: stopped",
                STALL_LIMIT.as_secs()
            );
        }
    }
    Ok(flagged)
}

/// Waits for the workers (their stdout is closed: they are exiting); a failed one is an
/// error with its stderr.
fn reap(
    children: &mut Children,
    stderrs: Vec<std::thread::JoinHandle<String>>,
) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for (child, stderr) in children.0.iter_mut().zip(stderrs) {
        let status = child.wait()?;
        let stderr = join(stderr);
        if !status.success() {
            failures.push(format!("{status}: {}", stderr.trim()));
        }
    }
    children.0.clear();
    if let Some(failure) = failures.first() {
        bail!("a SpamAssassin worker failed ({INSTALL_HINT}): {failure}");
    }
    Ok(())
}

/// `INDEX Y|N SCORE` as the index and whether the message is spam.
fn parse_result(line: &str) -> Option<(usize, bool)> {
    let mut fields = line.split(' ');
    let index = fields.next()?.parse().ok()?;
    let spam = match fields.next()? {
        "Y" => true,
        "N" => false,
        _ => return None,
    };
    let _score: f64 = fields.next()?.parse().ok()?;
    fields.next().is_none().then_some((index, spam))
}

/// Child processes that are killed and reaped if still listed when dropped.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads `pipe` to its end on a thread.
fn drain<R: std::io::Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// What `drain` read.
fn join(reader: std::thread::JoinHandle<String>) -> String {
    reader.join().unwrap_or_default()
}

/// The error for a program that would not start.
fn spawn_error(program: &std::ffi::OsStr, error: std::io::Error) -> anyhow::Error {
    let program = program.to_string_lossy();
    if error.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!("{program} is not installed ({INSTALL_HINT})")
    } else {
        anyhow::anyhow!("cannot run {program}: {error}")
    }
}
