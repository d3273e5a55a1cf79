//! Moat's bundled DNS block list checks, after rspamd's RBL module and Postfix's
//! postscreen: the client IP (connect), the HELO name (helo), the envelope sender's domain
//! (mail_from) and the domains of the URLs in the body (data) are looked up in the
//! configured lists, all questions of a stage at once. A client whose IP-list score
//! reaches `reject_threshold` is refused at the greeting or at each RCPT TO.
//!
//! The README lists the configuration keys and the symbols.

mod answer;
mod config;
mod evaluate;
mod query;
mod reject;
mod symbols;
#[cfg(test)]
mod test_json;
mod urls;

use moat_sdk::dns::{self, Question, RecordKind};
use moat_sdk::{Message, Plugin, PluginInfo, Session, Stage, Verdict, log};

use crate::config::{Config, Kind, RawConfig, RejectAt};
use crate::evaluate::{Findings, Level, Planned, distinct_names, evaluate, plan};
use crate::reject::{config_error_verdict, connect_verdict, rcpt_verdict, scoring_verdict};

/// The plugin: DNS block list lookups at connect, helo, mail_from and data; refusals at
/// connect or rcpt_to.
pub struct Dnsbl;

impl Plugin for Dnsbl {
    /// The stages this configuration needs: a stage with no list of its kind (and RCPT
    /// unless refusing there) costs a sandbox per message for nothing. A broken
    /// configuration asks for every stage, so its error is reported.
    fn describe() -> PluginInfo {
        let stages =
            load_config().map_or_else(|_| ALL_STAGES.to_vec(), |config| stages_needed(&config));
        PluginInfo::new("dnsbl", env!("CARGO_PKG_VERSION"), stages)
    }

    fn on_connect(session: &Session) -> Verdict {
        with_config(|config| {
            if skips_client_lists(config, session) {
                return Verdict::new();
            }
            let ip = session.client.ip;
            let subjects: Vec<String> = if config.exclude_private_ips && query::is_private(ip) {
                Vec::new()
            } else {
                query::reverse_ip(ip).into_iter().collect()
            };
            let findings = look_up(&plan(config.lists_of(Kind::Ip), &subjects));
            connect_verdict(config, findings)
        })
    }

    fn on_helo(session: &Session) -> Verdict {
        with_config(|config| {
            if skips_client_lists(config, session) {
                return Verdict::new();
            }
            let helo = session.client.helo.as_deref().and_then(query::helo_domain);
            domain_stage(config, Kind::Helo, helo)
        })
    }

    fn on_mail_from(session: &Session) -> Verdict {
        with_config(|config| {
            let sender = session
                .envelope
                .mail_from
                .as_deref()
                .and_then(query::sender_domain);
            domain_stage(config, Kind::Sender, sender)
        })
    }

    fn on_rcpt_to(session: &Session, _recipient: &str) -> Verdict {
        // A broken configuration is reported at the other stages, not once per recipient.
        load_config().map_or_else(|_| Verdict::new(), |config| rcpt_verdict(&config, session))
    }

    fn on_data(_session: &Session, message: &Message) -> Verdict {
        with_config(|config| {
            if config.lists_of(Kind::Uri).next().is_none() {
                return Verdict::new();
            }
            let mut domains = urls::uri_domains(&message.urls(), urls::MAX_URI_DOMAINS);
            if config.exclude_reserved_names {
                domains.retain(|domain| !query::is_reserved_name(domain));
            }
            scoring_verdict(look_up(&plan(config.lists_of(Kind::Uri), &domains)))
        })
    }
}

/// Every stage the plugin can work at.
const ALL_STAGES: [Stage; 5] = [
    Stage::Connect,
    Stage::Helo,
    Stage::MailFrom,
    Stage::RcptTo,
    Stage::Data,
];

/// The stages `config` gives the plugin work at.
fn stages_needed(config: &Config) -> Vec<Stage> {
    let has = |kind| config.lists_of(kind).next().is_some();
    let refuses_at_rcpt = config.reject_threshold.is_some() && config.reject_at == RejectAt::RcptTo;
    [
        // The connect stage also sets the `dnsbl-ip-score` annotation.
        (Stage::Connect, has(Kind::Ip) || refuses_at_rcpt),
        (Stage::Helo, has(Kind::Helo)),
        (Stage::MailFrom, has(Kind::Sender)),
        (Stage::RcptTo, refuses_at_rcpt),
        (Stage::Data, has(Kind::Uri)),
    ]
    .into_iter()
    .filter_map(|(stage, needed)| needed.then_some(stage))
    .collect()
}

/// The validated configuration, or the problems with it.
fn load_config() -> Result<Config, Vec<String>> {
    match moat_sdk::config::all::<RawConfig>() {
        Ok(raw) => raw.validate(),
        Err(error) => Err(vec![error.to_string()]),
    }
}

/// Runs `stage` with the configuration; a broken one is logged and reported as
/// `DNSBL_CONFIG_ERROR` instead, and nothing is looked up.
fn with_config(stage: impl FnOnce(&Config) -> Verdict) -> Verdict {
    match load_config() {
        Ok(config) => stage(&config),
        Err(problems) => {
            for problem in &problems {
                log::error(&format!("bad dnsbl configuration: {problem}"));
            }
            config_error_verdict(&problems)
        }
    }
}

/// A helo or mail_from stage: the domain's candidate names in the lists of `kind`.
fn domain_stage(config: &Config, kind: Kind, domain: Option<String>) -> Verdict {
    let subjects = domain
        .filter(|domain| !(config.exclude_reserved_names && query::is_reserved_name(domain)))
        .map(|domain| query::domain_candidates(&domain))
        .unwrap_or_default();
    scoring_verdict(look_up(&plan(config.lists_of(kind), &subjects)))
}

/// Asks every planned question at once and adds up the answers, logging what needs it.
fn look_up(planned: &[Planned<'_>]) -> Findings {
    if planned.is_empty() {
        return Findings::default();
    }
    let (names, indexes) = distinct_names(planned);
    let questions: Vec<Question> = names
        .into_iter()
        .map(|name| Question::new(name, RecordKind::A))
        .collect();
    let answers = dns::lookup_all(&questions);
    let findings = evaluate(planned, &indexes, &answers);
    for (level, line) in &findings.logs {
        match level {
            Level::Warn => log::warn(line),
            Level::Error => log::error(line),
        }
    }
    findings
}

moat_sdk::export_plugin!(Dnsbl);

/// Whether the IP and HELO lists are skipped for this session: its client logged in and
/// `exclude_authenticated` is on. Those lists say where a connection comes from, and a
/// user's mail may come from anywhere: Spamhaus's PBL, for one, lists the dynamic
/// addresses users submit from, and is not to be used against authenticated mail.
fn skips_client_lists(config: &Config, session: &Session) -> bool {
    config.exclude_authenticated && session.client.authenticated_user.is_some()
}
