//! Moat's bundled sender reputation, after rspamd's reputation module: a history of what
//! became of the messages of each client IP, its network, the envelope sender domain and
//! the HELO name, learnt from the gateway's final decisions and decayed over time. A
//! well-managed server is not blocked for a few wrongly marked messages, while a source
//! that sends mostly junk rises. It also scores bursts of connections and recipients per
//! client IP.
//!
//! The state lives in the plugin's kv namespace; without the `kv` capability the plugin
//! says nothing. The README lists the symbols, the kv keys and the settings.

mod config;
mod history;
mod rate;
mod score;
mod subject;

use std::net::IpAddr;

use moat_sdk::kv::{self, KvError};
use moat_sdk::{
    Action, Decision, Message, Plugin, PluginInfo, Session, Stage, Verdict, clock, log,
};

use crate::config::Config;
use crate::history::{History, Outcome};
use crate::rate::{BURST_SCORE, Counter, Window};
use crate::subject::Subject;

/// The plugin's name; also what [`Decision::score_without`] is asked to leave out.
const NAME: &str = "reputation";

/// The plugin: scores subjects at the stage they become known, counts bursts, and learns
/// at the outcome stage.
pub struct Reputation;

impl Plugin for Reputation {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            NAME,
            env!("CARGO_PKG_VERSION"),
            [
                Stage::Connect,
                Stage::Helo,
                Stage::MailFrom,
                Stage::RcptTo,
                Stage::Outcome,
            ],
        )
        .default_weight(1.0)
    }

    fn on_connect(session: &Session) -> Verdict {
        with_kv(session, |host, config, now_ms| {
            connect(host, config, session.client.ip, now_ms)
        })
    }

    fn on_helo(session: &Session) -> Verdict {
        with_kv(session, |host, config, now_ms| {
            helo(host, config, session, now_ms)
        })
    }

    fn on_mail_from(session: &Session) -> Verdict {
        with_kv(session, |host, config, now_ms| {
            mail_from(host, config, session, now_ms)
        })
    }

    fn on_rcpt_to(session: &Session, _recipient: &str) -> Verdict {
        with_kv(session, |host, config, now_ms| {
            rcpt_to(host, config, session.client.ip, now_ms)
        })
    }

    fn on_outcome(session: &Session, decision: &Decision, _message: Option<&Message>) {
        let _ = with_kv(session, |host, config, now_ms| {
            learn(host, config, session, decision, now_ms).map(|()| Verdict::new())
        });
    }
}

moat_sdk::export_plugin!(Reputation);

/// What the stage logic needs from the gateway, so it can be tested natively.
trait Host {
    /// `kv::get`.
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// `kv::compare_and_swap`.
    fn compare_and_swap(
        &mut self,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, KvError>;
    /// `kv::expire`.
    fn expire(&mut self, key: &str, seconds: u32) -> Result<bool, KvError>;
    /// `log::warn`.
    fn warn(&mut self, message: &str);
}

/// The gateway: the plugin's kv namespace and log.
struct Gateway;

impl Host for Gateway {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        kv::get(key)
    }

    fn compare_and_swap(
        &mut self,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, KvError> {
        kv::compare_and_swap(key, expected, Some(value))
    }

    fn expire(&mut self, key: &str, seconds: u32) -> Result<bool, KvError> {
        kv::expire(key, seconds)
    }

    fn warn(&mut self, message: &str) {
        log::warn(message);
    }
}

/// The operator did not grant the `kv` capability: the call ends and says nothing.
#[derive(Debug, PartialEq, Eq)]
struct Denied;

/// Runs one stage of `session` with the configuration, the gateway's kv and its clock.
/// Without the kv capability it logs that once, at debug, and answers nothing; for a
/// session it leaves alone (see [`excluded`]) it does nothing.
fn with_kv(
    session: &Session,
    stage: impl FnOnce(&mut Gateway, &Config, u64) -> Result<Verdict, Denied>,
) -> Verdict {
    let config = load_config();
    if excluded(&config, session) {
        return Verdict::new();
    }
    match stage(&mut Gateway, &config, clock::now_millis()) {
        Ok(verdict) => verdict,
        Err(Denied) => {
            log::debug("the kv capability is not granted: reputation has nothing to say");
            Verdict::new()
        }
    }
}

/// Whether `session` is a logged-in user's, which `exclude_authenticated` leaves alone.
fn excluded(config: &Config, session: &Session) -> bool {
    config.exclude_authenticated && session.client.authenticated_user.is_some()
}

/// The configuration; a bad table is logged as an error and replaced by the defaults,
/// an unusable value by its default.
fn load_config() -> Config {
    let (config, problems) = moat_sdk::config::all_or_default::<Config>().validated();
    for problem in problems {
        log::error(&problem);
    }
    config
}

/// Turns a kv failure into "skip this and go on" (logged) — except `Denied`, which ends
/// the call.
fn tolerate<T>(
    host: &mut impl Host,
    result: Result<T, KvError>,
    what: &str,
) -> Result<Option<T>, Denied> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(KvError::Denied) => Err(Denied),
        Err(error) => {
            host.warn(&format!("{what}: {error}"));
            Ok(None)
        }
    }
}

/// The subject's history decayed to `now_ms`; a value that does not decode is logged and
/// counts as an empty history.
fn load_history(
    host: &mut impl Host,
    subject: &Subject,
    config: &Config,
    now_ms: u64,
) -> Result<Option<History>, Denied> {
    let key = subject.key();
    let result = host.get(&key);
    let Some(stored) = tolerate(host, result, &format!("reading {key}"))? else {
        return Ok(None);
    };
    let (history, problem) = decode_history(&key, stored.as_deref());
    if let Some(problem) = problem {
        host.warn(&problem);
    }
    Ok(Some(history.decayed(now_ms, config.half_life_ms())))
}

/// The reputation symbols of these subjects: one per subject with enough history.
fn reputation_symbols(
    host: &mut impl Host,
    config: &Config,
    subjects: impl IntoIterator<Item = Subject>,
    now_ms: u64,
) -> Result<Verdict, Denied> {
    let mut verdict = Verdict::new();
    for subject in subjects {
        let Some(history) = load_history(host, &subject, config, now_ms)? else {
            continue;
        };
        let max_score = config.max_score(subject.kind);
        if let Some(rep) = score::reputation(&history, config.min_messages, max_score) {
            let detail = format!("{}: {}", subject.value, rep.detail());
            verdict = verdict.symbol(subject.kind.symbol(), rep.score, detail);
        }
    }
    Ok(verdict)
}

/// Counts one more in the client's `counter` window, and reports a burst when it
/// exceeds `max`. An unreadable window starts over.
fn count_burst(
    host: &mut impl Host,
    config: &Config,
    counter: Counter,
    ip: IpAddr,
    max: u32,
    now_ms: u64,
) -> Result<Verdict, Denied> {
    let Some(ip) = subject::canonical_ip(ip) else {
        return Ok(Verdict::new());
    };
    let key = counter.key(ip);
    let window_ms = config.window_ms();
    let updated = read_modify_write(host, &key, |stored| {
        let (previous, problem) = match stored.map(Window::decode) {
            None => (None, None),
            Some(Ok(window)) => (Some(window), None),
            Some(Err(error)) => (
                None,
                Some(format!(
                    "stored window under {key} is unreadable ({error}); starting over"
                )),
            ),
        };
        let window = Window::bump(previous, now_ms, window_ms);
        (window.encode().to_vec(), (window, problem))
    })?;
    let Some((window, problem)) = updated else {
        return Ok(Verdict::new());
    };
    if let Some(problem) = problem {
        host.warn(&problem);
    }
    if window.count == 1 {
        // A new window: the key lives two windows from now, so an idle client's goes.
        keep_for(host, &key, config.window_seconds.saturating_mul(2))?;
    }
    Ok(if window.is_over(max) {
        let detail = window.detail(counter, ip, window_ms, max);
        Verdict::new().symbol(counter.symbol(), BURST_SCORE, detail)
    } else {
        Verdict::new()
    })
}

/// Connect: the IP's and the network's reputation, and the connection rate.
fn connect(
    host: &mut impl Host,
    config: &Config,
    ip: IpAddr,
    now_ms: u64,
) -> Result<Verdict, Denied> {
    let subjects = [subject::ip(ip), subject::net(ip)].into_iter().flatten();
    let mut verdict = reputation_symbols(host, config, subjects, now_ms)?;
    let max = config.max_connections_per_window;
    let burst = count_burst(host, config, Counter::Connections, ip, max, now_ms)?;
    verdict.extend(burst.symbols);
    Ok(verdict)
}

/// HELO: the HELO name's reputation.
fn helo(
    host: &mut impl Host,
    config: &Config,
    session: &Session,
    now_ms: u64,
) -> Result<Verdict, Denied> {
    let subject = session.client.helo.as_deref().and_then(subject::helo);
    reputation_symbols(host, config, subject, now_ms)
}

/// MAIL FROM: the sender domain's reputation (none for the null sender).
fn mail_from(
    host: &mut impl Host,
    config: &Config,
    session: &Session,
    now_ms: u64,
) -> Result<Verdict, Denied> {
    let subject = session
        .envelope
        .mail_from
        .as_deref()
        .and_then(subject::sender_domain);
    reputation_symbols(host, config, subject, now_ms)
}

/// RCPT TO: the recipient rate.
fn rcpt_to(
    host: &mut impl Host,
    config: &Config,
    ip: IpAddr,
    now_ms: u64,
) -> Result<Verdict, Denied> {
    let max = config.max_recipients_per_window;
    count_burst(host, config, Counter::Recipients, ip, max, now_ms)
}

/// What a decision teaches, never from this plugin's own vote alone: when the score
/// without this plugin's symbols gives another action than the one taken, that action is
/// learnt. An action that did not come from the score at all (another plugin's honoured
/// hard action; this plugin demands none) is learnt as taken. Temporary failures teach
/// nothing.
fn lesson(decision: &Decision) -> Option<Outcome> {
    let thresholds = &decision.thresholds;
    let action = if decision.action == Action::Tempfail
        || decision.action != thresholds.action_for(decision.score)
    {
        decision.action
    } else {
        thresholds.action_for(decision.score_without(NAME))
    };
    Outcome::from_action(action)
}

/// Outcome: records the decision's lesson in the history of every subject of the session.
fn learn(
    host: &mut impl Host,
    config: &Config,
    session: &Session,
    decision: &Decision,
    now_ms: u64,
) -> Result<(), Denied> {
    let Some(outcome) = lesson(decision) else {
        return Ok(());
    };
    let half_life_ms = config.half_life_ms();
    for subject in subject::of_session(session) {
        let key = subject.key();
        let updated = read_modify_write(host, &key, |stored| {
            let (history, problem) = decode_history(&key, stored);
            let previous_ms = stored.is_some().then_some(history.updated_ms);
            let history =
                history
                    .decayed(now_ms, half_life_ms)
                    .record(outcome, now_ms, half_life_ms);
            (history.encode().to_vec(), (problem, previous_ms))
        })?;
        let Some((problem, previous_ms)) = updated else {
            continue;
        };
        if let Some(problem) = problem {
            host.warn(&problem);
        }
        // Refreshed at most daily: a subject unheard of for `HISTORY_HALF_LIVES` half-lives
        // has a history of nothing, and its key goes.
        if previous_ms.is_none_or(|previous| now_ms.saturating_sub(previous) >= DAY_MS) {
            let seconds = (half_life_ms / 1000.0 * HISTORY_HALF_LIVES).min(f64::from(u32::MAX));
            keep_for(host, &key, seconds as u64)?;
        }
    }
    Ok(())
}

/// How many half-lives a history is kept after its last update: by then 1/1024 of it
/// is left.
const HISTORY_HALF_LIVES: f64 = 10.0;

/// A day, in milliseconds.
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Gives `key` an expiry `seconds` from now (at most `u32::MAX`); a failure is logged.
fn keep_for(host: &mut impl Host, key: &str, seconds: u64) -> Result<(), Denied> {
    let seconds = u32::try_from(seconds).unwrap_or(u32::MAX);
    let result = host.expire(key, seconds);
    tolerate(host, result, &format!("setting the expiry of {key}"))?;
    Ok(())
}

/// Most attempts of one read-modify-write. Each failed one means another session's update
/// of the key succeeded in between, so this is above the sessions that update one key at
/// once in practice (a client's connections are capped at 20 by default); an attempt is
/// two cheap kv calls.
const MAX_ATTEMPTS: usize = 64;

/// Replaces the value under `key` with what `next` makes of the stored one, with
/// compare-and-swap, so that updates by concurrent sessions (many connections from one
/// client, recipients counted in parallel) are all kept: on a lost race it reads again.
/// `next` also returns what the caller wants to know of the value it wrote. `None`: kv
/// failed or the key stayed contended (both logged), and nothing was written.
fn read_modify_write<T>(
    host: &mut impl Host,
    key: &str,
    mut next: impl FnMut(Option<&[u8]>) -> (Vec<u8>, T),
) -> Result<Option<T>, Denied> {
    for _ in 0..MAX_ATTEMPTS {
        let result = host.get(key);
        let Some(stored) = tolerate(host, result, &format!("reading {key}"))? else {
            return Ok(None);
        };
        let (value, out) = next(stored.as_deref());
        let result = host.compare_and_swap(key, stored.as_deref(), &value);
        match tolerate(host, result, &format!("writing {key}"))? {
            Some(true) => return Ok(Some(out)),
            Some(false) => {}
            None => return Ok(None),
        }
    }
    host.warn(&format!(
        "{key} changed under every one of {MAX_ATTEMPTS} attempts to update it; this update is dropped"
    ));
    Ok(None)
}

/// The history stored under `key` (an empty one when there is none), and a warning when
/// it was unreadable and starts afresh.
fn decode_history(key: &str, stored: Option<&[u8]>) -> (History, Option<String>) {
    match stored.map(History::decode) {
        None => (History::default(), None),
        Some(Ok(history)) => (history, None),
        Some(Err(error)) => (
            History::default(),
            Some(format!(
                "stored history under {key} is unreadable ({error}); starting afresh"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use moat_sdk::{ClientInfo, Envelope, ScoredSymbol, Symbol, Thresholds};

    use super::*;

    const T0: u64 = 1_700_000_000_000;
    const DAY: u64 = 86_400_000;
    const THRESHOLDS: Thresholds = Thresholds {
        tag: 5.0,
        quarantine: 10.0,
        reject: 15.0,
    };

    /// What another session writes between a read and a swap, given how many more swaps
    /// it will win.
    type Racer = Box<dyn FnMut(usize) -> Vec<u8>>;

    /// An in-memory kv namespace and log.
    #[derive(Default)]
    struct Memory {
        store: BTreeMap<String, Vec<u8>>,
        denied: bool,
        broken_key: Option<String>,
        warnings: Vec<String>,
        calls: usize,
        /// The last expiry given to each key, in seconds.
        expiries: BTreeMap<String, u32>,
        /// A concurrent writer: how many more swaps it wins, and what it writes (given
        /// how many it has left).
        racer: Option<(usize, Racer)>,
    }

    impl Host for Memory {
        fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
            self.calls += 1;
            if self.denied {
                return Err(KvError::Denied);
            }
            if self.broken_key.as_deref() == Some(key) {
                return Err(KvError::Storage);
            }
            Ok(self.store.get(key).cloned())
        }

        fn compare_and_swap(
            &mut self,
            key: &str,
            expected: Option<&[u8]>,
            value: &[u8],
        ) -> Result<bool, KvError> {
            self.calls += 1;
            if self.denied {
                return Err(KvError::Denied);
            }
            if let Some((left, write)) = self.racer.as_mut()
                && *left > 0
            {
                // Another session writes the key between this one's read and its swap.
                *left -= 1;
                let theirs = write(*left);
                self.store.insert(key.to_owned(), theirs);
            }
            if self.store.get(key).map(Vec::as_slice) != expected {
                return Ok(false);
            }
            self.store.insert(key.to_owned(), value.to_vec());
            Ok(true)
        }

        fn expire(&mut self, key: &str, seconds: u32) -> Result<bool, KvError> {
            self.calls += 1;
            if self.denied {
                return Err(KvError::Denied);
            }
            self.expiries.insert(key.to_owned(), seconds);
            Ok(self.store.contains_key(key))
        }

        fn warn(&mut self, message: &str) {
            self.warnings.push(message.to_owned());
        }
    }

    fn make_session(ip: &str, helo: Option<&str>, mail_from: Option<&str>) -> Session {
        Session {
            id: "s1".to_owned(),
            client: ClientInfo {
                ip: ip.parse().unwrap(),
                helo: helo.map(str::to_owned),
                ..ClientInfo::default()
            },
            envelope: Envelope {
                mail_from: mail_from.map(str::to_owned),
                rcpt_to: vec![],
            },
            annotations: vec![],
        }
    }

    fn full_session() -> Session {
        make_session("192.0.2.1", Some("mx.example.org"), Some("a@example.org"))
    }

    /// A decision from `others` (another plugin's contribution) and `mine` (this plugin's).
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
            thresholds: THRESHOLDS,
        }
    }

    /// A decision the score alone made.
    fn scored(others: f64, mine: f64) -> Decision {
        decision(THRESHOLDS.action_for(others + mine), others, mine)
    }

    fn names(verdict: &Verdict) -> Vec<&str> {
        verdict.symbols.iter().map(|s| s.name.as_str()).collect()
    }

    fn score_of(verdict: &Verdict, name: &str) -> f64 {
        verdict
            .symbols
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.score)
            .unwrap_or_else(|| panic!("no {name} in {verdict:?}"))
    }

    fn all_symbols(host: &mut Memory, session: &Session, now_ms: u64) -> Verdict {
        let config = Config::default();
        let mut verdict = connect(host, &config, session.client.ip, now_ms).unwrap();
        verdict.extend(helo(host, &config, session, now_ms).unwrap().symbols);
        verdict.extend(mail_from(host, &config, session, now_ms).unwrap().symbols);
        for symbol in &verdict.symbols {
            assert!(Symbol::is_valid(symbol), "{symbol:?}");
        }
        verdict
    }

    fn learn_n(host: &mut Memory, session: &Session, decision: &Decision, n: u64, start: u64) {
        for i in 0..n {
            learn(
                host,
                &Config::default(),
                session,
                decision,
                start + i * 60_000,
            )
            .unwrap();
        }
    }

    #[test]
    fn describes_itself() {
        let info = Reputation::describe();
        assert_eq!(info.name, "reputation");
        assert_eq!(
            info.stages,
            [
                Stage::Connect,
                Stage::Helo,
                Stage::MailFrom,
                Stage::RcptTo,
                Stage::Outcome
            ]
        );
        assert_eq!(info.default_weight, 1.0);
    }

    #[test]
    fn logged_in_users_are_left_alone_unless_the_operator_says_otherwise() {
        let mut user = full_session();
        user.client.authenticated_user = Some("alice@example.org".to_owned());
        let config = Config::default();
        assert!(excluded(&config, &user));
        assert!(!excluded(&config, &full_session()));
        let included = Config {
            exclude_authenticated: false,
            ..Config::default()
        };
        assert!(!excluded(&included, &user));
    }

    #[test]
    fn unknown_subjects_get_no_symbols() {
        let mut host = Memory::default();
        let verdict = all_symbols(&mut host, &full_session(), T0);
        assert!(verdict.symbols.is_empty(), "{verdict:?}");
    }

    #[test]
    fn a_clean_history_earns_negative_scores_at_each_stage() {
        let mut host = Memory::default();
        let session = full_session();
        learn_n(&mut host, &session, &scored(0.0, 0.0), 100, T0);
        assert_eq!(
            host.store
                .keys()
                .filter(|k| !k.starts_with("conn:"))
                .count(),
            4
        );
        for key in [
            "ip:192.0.2.1",
            "net:192.0.2.0/24",
            "dom:example.org",
            "helo:mx.example.org",
        ] {
            assert!(host.store.contains_key(key), "{key}");
        }

        let config = Config::default();
        let connect = connect(&mut host, &config, session.client.ip, T0 + DAY).unwrap();
        assert_eq!(names(&connect), ["REPUTATION_IP", "REPUTATION_NET"]);
        assert!(score_of(&connect, "REPUTATION_IP") < -2.9);
        assert!(score_of(&connect, "REPUTATION_NET") < -1.4);
        assert_eq!(
            connect.symbols[0].detail,
            "192.0.2.1: 95 msgs (0% junk), decayed"
        );

        let helo = helo(&mut host, &config, &session, T0 + DAY).unwrap();
        assert_eq!(names(&helo), ["REPUTATION_HELO"]);
        assert!(score_of(&helo, "REPUTATION_HELO") < -0.9);

        let mail = mail_from(&mut host, &config, &session, T0 + DAY).unwrap();
        assert_eq!(names(&mail), ["REPUTATION_SENDER_DOMAIN"]);
        assert!(score_of(&mail, "REPUTATION_SENDER_DOMAIN") < -1.9);
    }

    #[test]
    fn a_junk_source_rises() {
        let mut host = Memory::default();
        let session = full_session();
        learn_n(&mut host, &session, &scored(20.0, 0.0), 60, T0);
        learn_n(&mut host, &session, &scored(0.0, 0.0), 2, T0 + DAY);
        let verdict = all_symbols(&mut host, &session, T0 + DAY);
        assert!(score_of(&verdict, "REPUTATION_IP") > 2.7);
        assert!(score_of(&verdict, "REPUTATION_NET") > 1.3);
        assert!(score_of(&verdict, "REPUTATION_SENDER_DOMAIN") > 1.8);
        assert!(score_of(&verdict, "REPUTATION_HELO") > 0.9);
        // A neighbour in the same /24 shares only the network's reputation.
        let neighbour = make_session("192.0.2.77", None, None);
        let verdict = all_symbols(&mut host, &neighbour, T0 + DAY);
        assert_eq!(names(&verdict), ["REPUTATION_NET"]);
    }

    #[test]
    fn a_few_wrongly_marked_messages_do_not_block_a_good_server() {
        let mut host = Memory::default();
        let session = full_session();
        learn_n(&mut host, &session, &scored(0.0, 0.0), 400, T0);
        learn_n(&mut host, &session, &scored(20.0, 0.0), 5, T0 + DAY);
        let verdict = all_symbols(&mut host, &session, T0 + DAY);
        assert!(score_of(&verdict, "REPUTATION_IP") < -2.5, "{verdict:?}");
    }

    #[test]
    fn never_learns_from_its_own_vote_alone() {
        // Others said 3 (accept); our +3 made it 6 (tag): learn "accepted".
        assert_eq!(lesson(&scored(3.0, 3.0)), Some(Outcome::Accepted));
        // Others said 12 (quarantine); our -3 made it 9 (tag): learn "quarantined".
        assert_eq!(lesson(&scored(12.0, -3.0)), Some(Outcome::Quarantined));
        // Our vote changed nothing: learn the action.
        assert_eq!(lesson(&scored(16.0, 2.0)), Some(Outcome::Rejected));
        assert_eq!(lesson(&scored(6.0, 1.0)), Some(Outcome::Tagged));
        assert_eq!(lesson(&scored(0.0, -1.0)), Some(Outcome::Accepted));
        // Temporary failures teach nothing.
        assert_eq!(lesson(&decision(Action::Tempfail, 20.0, 0.0)), None);
        // Another plugin's hard action is not our vote: learnt as taken.
        assert_eq!(
            lesson(&decision(Action::Reject, 1.0, 3.0)),
            Some(Outcome::Rejected)
        );
    }

    #[test]
    fn own_vote_cannot_talk_itself_into_blocking() {
        let mut host = Memory::default();
        let session = full_session();
        // Other plugins see nothing wrong; even if our own score tipped every message into
        // quarantine, the history stays clean.
        learn_n(&mut host, &session, &scored(2.0, 9.0), 60, T0);
        let verdict = all_symbols(&mut host, &session, T0 + DAY);
        assert!(score_of(&verdict, "REPUTATION_IP") < 0.0);
    }

    #[test]
    fn tempfail_leaves_kv_untouched() {
        let mut host = Memory::default();
        let tempfail = decision(Action::Tempfail, 0.0, 0.0);
        learn(
            &mut host,
            &Config::default(),
            &full_session(),
            &tempfail,
            T0,
        )
        .unwrap();
        assert_eq!(host.calls, 0);
    }

    #[test]
    fn null_sender_and_missing_helo_are_not_learnt() {
        let mut host = Memory::default();
        let session = make_session("2001:db8::5", None, Some(""));
        learn_n(&mut host, &session, &scored(0.0, 0.0), 1, T0);
        let keys: Vec<&str> = host.store.keys().map(String::as_str).collect();
        assert_eq!(keys, ["ip:2001:db8::5", "net:2001:db8::/64"]);
    }

    #[test]
    fn without_kv_says_nothing() {
        let mut host = Memory {
            denied: true,
            ..Memory::default()
        };
        let config = Config::default();
        let session = full_session();
        let ip = session.client.ip;
        assert_eq!(connect(&mut host, &config, ip, T0), Err(Denied));
        assert_eq!(helo(&mut host, &config, &session, T0), Err(Denied));
        assert_eq!(mail_from(&mut host, &config, &session, T0), Err(Denied));
        assert_eq!(rcpt_to(&mut host, &config, ip, T0), Err(Denied));
        assert_eq!(
            learn(&mut host, &config, &session, &scored(0.0, 0.0), T0),
            Err(Denied)
        );
        // Each call stopped at its first kv call.
        assert_eq!(host.calls, 5);
        assert!(host.warnings.is_empty());
    }

    #[test]
    fn unreadable_history_is_logged_and_starts_afresh() {
        let mut host = Memory::default();
        host.store
            .insert("ip:192.0.2.1".to_owned(), b"garbage".to_vec());
        let session = full_session();
        let verdict = all_symbols(&mut host, &session, T0);
        assert!(verdict.symbols.is_empty());
        assert_eq!(host.warnings.len(), 1);
        assert!(host.warnings[0].contains("ip:192.0.2.1"));

        learn_n(&mut host, &session, &scored(0.0, 0.0), 1, T0);
        let history = History::decode(&host.store["ip:192.0.2.1"]).unwrap();
        assert_eq!(history.accepted, 1.0);
    }

    #[test]
    fn an_update_made_between_read_and_write_by_another_session_is_kept() {
        let session = full_session();
        let accepted = lesson(&scored(0.0, 0.0)).unwrap();
        let half_life = Config::default().half_life_ms();
        let theirs = History::default().record(accepted, T0, half_life).encode();
        let mut host = Memory {
            racer: Some((1, Box::new(move |_| theirs.to_vec()))),
            ..Memory::default()
        };
        learn_n(&mut host, &session, &scored(0.0, 0.0), 1, T0);
        // The other session's message and this one's: a blind write would keep only one.
        let history = History::decode(&host.store["ip:192.0.2.1"]).unwrap();
        assert_eq!(history.accepted, 2.0, "{history:?}");
        assert!(host.warnings.is_empty(), "{:?}", host.warnings);
    }

    #[test]
    fn an_update_that_loses_every_race_is_dropped_and_logged() {
        let session = full_session();
        let mut host = Memory {
            racer: Some((usize::MAX, Box::new(|left| left.to_le_bytes().to_vec()))),
            ..Memory::default()
        };
        let verdict = count_burst(
            &mut host,
            &Config::default(),
            Counter::Connections,
            session.client.ip,
            10,
            T0,
        )
        .unwrap();
        assert!(verdict.symbols.is_empty());
        assert_eq!(host.calls, 2 * MAX_ATTEMPTS);
        assert_eq!(host.warnings.len(), 1, "{:?}", host.warnings);
        assert!(host.warnings[0].contains("attempts"), "{:?}", host.warnings);
    }

    #[test]
    fn a_failing_read_skips_the_subject_without_overwriting_it() {
        let mut host = Memory::default();
        let session = full_session();
        learn_n(&mut host, &session, &scored(0.0, 0.0), 10, T0);
        let before = host.store["ip:192.0.2.1"].clone();
        host.broken_key = Some("ip:192.0.2.1".to_owned());
        learn_n(&mut host, &session, &scored(0.0, 0.0), 1, T0 + DAY);
        assert_eq!(host.store["ip:192.0.2.1"], before);
        assert_eq!(host.warnings.len(), 1);
        let net = History::decode(&host.store["net:192.0.2.0/24"]).unwrap();
        assert!(net.accepted > 10.0);
    }

    #[test]
    fn keys_get_an_expiry_when_made_and_then_at_most_daily_or_per_window() {
        let mut host = Memory::default();
        let session = full_session();
        let config = Config::default();
        learn_n(&mut host, &session, &scored(0.0, 0.0), 1, T0);
        let history_seconds = (14 * 86_400 * 10) as u32;
        assert_eq!(host.expiries.len(), 4, "{:?}", host.expiries);
        assert!(host.expiries.values().all(|&s| s == history_seconds));
        // Within the day: no refresh; a day on: each key is refreshed.
        host.expiries.clear();
        learn_n(&mut host, &session, &scored(0.0, 0.0), 5, T0 + 60_000);
        assert!(host.expiries.is_empty(), "{:?}", host.expiries);
        learn_n(&mut host, &session, &scored(0.0, 0.0), 1, T0 + 2 * DAY);
        assert_eq!(host.expiries.len(), 4, "{:?}", host.expiries);

        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        host.expiries.clear();
        let _ = connect(&mut host, &config, ip, T0).unwrap();
        let window_seconds = (2 * config.window_seconds) as u32;
        assert_eq!(
            host.expiries.values().copied().collect::<Vec<_>>(),
            [window_seconds]
        );
        host.expiries.clear();
        let _ = connect(&mut host, &config, ip, T0 + 1_000).unwrap();
        assert!(host.expiries.is_empty(), "same window: {:?}", host.expiries);
        let _ = connect(&mut host, &config, ip, T0 + config.window_ms() + 1).unwrap();
        assert_eq!(host.expiries.len(), 1, "a new window: {:?}", host.expiries);
    }

    #[test]
    fn connection_bursts() {
        let mut host = Memory::default();
        let config = Config::default();
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        for i in 0..30 {
            let verdict = connect(&mut host, &config, ip, T0 + i * 100).unwrap();
            assert!(verdict.symbols.is_empty(), "connection {i}");
        }
        let verdict = connect(&mut host, &config, ip, T0 + 3_000).unwrap();
        assert_eq!(names(&verdict), ["REPUTATION_CONN_BURST"]);
        assert_eq!(verdict.symbols[0].score, 2.0);
        assert_eq!(
            verdict.symbols[0].detail,
            "31 connections from 198.51.100.7 in 60 s (max 30)"
        );
        // Another IP is counted apart.
        let other: IpAddr = "198.51.100.8".parse().unwrap();
        assert!(
            connect(&mut host, &config, other, T0 + 3_000)
                .unwrap()
                .symbols
                .is_empty()
        );
        // After the window, counting starts over.
        let verdict = connect(&mut host, &config, ip, T0 + 61_000).unwrap();
        assert!(verdict.symbols.is_empty());
    }

    #[test]
    fn recipient_bursts() {
        let mut host = Memory::default();
        let config = Config {
            max_recipients_per_window: 3,
            window_seconds: 10,
            ..Config::default()
        };
        let ip: IpAddr = "2001:db8::9".parse().unwrap();
        for _ in 0..3 {
            assert!(
                rcpt_to(&mut host, &config, ip, T0)
                    .unwrap()
                    .symbols
                    .is_empty()
            );
        }
        let verdict = rcpt_to(&mut host, &config, ip, T0 + 9_999).unwrap();
        assert_eq!(names(&verdict), ["REPUTATION_RCPT_BURST"]);
        assert_eq!(
            verdict.symbols[0].detail,
            "4 recipients from 2001:db8::9 in 10 s (max 3)"
        );
        assert!(
            rcpt_to(&mut host, &config, ip, T0 + 10_000)
                .unwrap()
                .symbols
                .is_empty()
        );
        assert!(host.store.contains_key("rcpt:2001:db8::9"));
    }

    #[test]
    fn unreadable_window_starts_over() {
        let mut host = Memory::default();
        host.store
            .insert("conn:192.0.2.1".to_owned(), vec![0xff; 3]);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let verdict = connect(&mut host, &Config::default(), ip, T0).unwrap();
        assert!(verdict.symbols.is_empty());
        assert_eq!(host.warnings.len(), 1);
        let window = Window::decode(&host.store["conn:192.0.2.1"]).unwrap();
        assert_eq!(window.count, 1);
    }

    #[test]
    fn reputation_fades_without_traffic() {
        let mut host = Memory::default();
        let session = full_session();
        learn_n(&mut host, &session, &scored(20.0, 0.0), 60, T0);
        let config = Config::default();
        let ip = session.client.ip;
        let soon = connect(&mut host, &config, ip, T0 + DAY).unwrap();
        let later = connect(&mut host, &config, ip, T0 + 40 * DAY).unwrap();
        let much_later = connect(&mut host, &config, ip, T0 + 200 * DAY).unwrap();
        assert!(score_of(&later, "REPUTATION_IP") < score_of(&soon, "REPUTATION_IP"));
        assert!(score_of(&later, "REPUTATION_IP") > 0.0);
        assert!(much_later.symbols.is_empty(), "{much_later:?}");
    }
}
