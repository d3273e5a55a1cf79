//! A test plugin that misbehaves on purpose at the data stage, so the gateway's sandbox
//! limits and error handling can be tested end to end.
//!
//! The mode comes from the config key `mode` and may be overridden per message by the
//! header `X-Misbehave: MODE`: `none`, `loop`, `memory-bomb`, `panic`, `stack-overflow`,
//! `invalid-verdict`, `hoard-body`, `scan-all`, `dns-flood` or `ocr-raw` (each described
//! in `mode.rs`). An unknown mode answers the symbol `MISBEHAVE_UNKNOWN_MODE`.
//!
//! It also lets tests drive decisions before DATA: with config `act_at = "STAGE"`
//! (`connect`, `helo`, `mail_from`, `rcpt_to`) and `act = "reject"` or `"tempfail"`, it
//! demands that action at that stage. And it counts the outcome calls it gets in kv
//! (when granted), reporting the count in `MISBEHAVE_OK`'s detail, so tests can see the
//! outcome stage ran.

mod misbehaviour;
mod mode;

use moat_sdk::{
    Action, Decision, Message, Plugin, PluginInfo, Session, Stage, Verdict, config, dns, kv, log,
};

use crate::mode::Mode;

/// The misbehaving plugin.
pub struct Misbehave;

impl Plugin for Misbehave {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "misbehave",
            env!("CARGO_PKG_VERSION"),
            [
                Stage::Connect,
                Stage::Helo,
                Stage::MailFrom,
                Stage::RcptTo,
                Stage::Data,
                Stage::Outcome,
            ],
        )
    }

    fn on_connect(_session: &Session) -> Verdict {
        act_at("connect")
    }

    fn on_helo(_session: &Session) -> Verdict {
        act_at("helo")
    }

    fn on_mail_from(_session: &Session) -> Verdict {
        act_at("mail_from")
    }

    fn on_rcpt_to(_session: &Session, _recipient: &str) -> Verdict {
        act_at("rcpt_to")
    }

    fn on_outcome(_session: &Session, _decision: &Decision, _message: Option<&Message>) {
        let _ = kv::increment("outcomes", 1);
    }

    fn on_data(_session: &Session, message: &Message) -> Verdict {
        let header = message.header("X-Misbehave");
        let configured = configured_mode();
        let name = mode::effective_mode_name(header.as_deref(), configured.as_deref());
        match Mode::parse(name) {
            Some(Mode::None) => {
                let outcomes = kv::get_i64("outcomes").ok().flatten().unwrap_or(0);
                Verdict::new().symbol(
                    "MISBEHAVE_OK",
                    0.0,
                    format!("behaved; outcomes seen: {outcomes}"),
                )
            }
            Some(Mode::Loop) => misbehaviour::spin_forever(),
            Some(Mode::MemoryBomb) => misbehaviour::exhaust_memory(),
            Some(Mode::Panic) => panic!("misbehave plugin panicked on purpose"),
            Some(Mode::StackOverflow) => {
                let depth = misbehaviour::overflow_stack(0);
                Verdict::new().symbol("MISBEHAVE_OK", 0.0, format!("stack survived {depth}"))
            }
            Some(Mode::InvalidVerdict) => {
                Verdict::new().symbol("not a valid name!", f64::NAN, "invalid on purpose")
            }
            Some(Mode::HoardBody) => {
                let held = misbehaviour::hoard(&message.body_text(), 16);
                Verdict::new().symbol("MISBEHAVE_OK", 0.0, format!("held {held} bytes"))
            }
            Some(Mode::ScanAll) => scan_all(),
            Some(Mode::DnsFlood) => dns_flood(),
            Some(Mode::OcrRaw) => {
                Verdict::new().symbol("MISBEHAVE_OCR", 0.0, misbehaviour::ocr_everything(message))
            }
            None => Verdict::new().symbol(
                "MISBEHAVE_UNKNOWN_MODE",
                0.0,
                format!("unknown mode {name:?}"),
            ),
        }
    }
}

/// The action configured for `stage` (`act_at`/`act`), as a verdict.
fn act_at(stage: &str) -> Verdict {
    let at: Option<String> = config::get("act_at").ok().flatten();
    if at.as_deref() != Some(stage) {
        return Verdict::new();
    }
    let act: Option<String> = config::get("act").ok().flatten();
    let action = match act.as_deref() {
        Some("tempfail") => Action::Tempfail,
        _ => Action::Reject,
    };
    Verdict::new()
        .symbol(
            "MISBEHAVE_ACT",
            100.0,
            format!("configured to act at {stage}"),
        )
        .action(action)
}

/// One scan of the whole namespace asking for every entry there is, after writing config
/// `fill` keys (default none) in one call.
fn scan_all() -> Verdict {
    let fill: u32 = config::get("fill").ok().flatten().unwrap_or(0);
    let deltas: Vec<(String, i64)> = (0..fill).map(|i| (format!("fill:{i:06}"), 1)).collect();
    if let Err(error) = kv::increment_many(&deltas) {
        return Verdict::new().symbol("MISBEHAVE_SCANNED", 0.0, format!("fill error: {error}"));
    }
    let detail = match kv::scan_prefix("", None, u32::MAX) {
        Ok(entries) => format!("{} entries", entries.len()),
        Err(error) => format!("error: {error}"),
    };
    Verdict::new().symbol("MISBEHAVE_SCANNED", 0.0, detail)
}

/// Many lookups, one by one, counted by how they were answered.
fn dns_flood() -> Verdict {
    let lookups: u32 = config::get("lookups").ok().flatten().unwrap_or(300);
    let name: Option<String> = config::get("dns_name").ok().flatten();
    let question = match &name {
        Some(name) => dns::Question::new(name.clone(), dns::RecordKind::A),
        None => dns::Question::new("not-an-ip", dns::RecordKind::Ptr),
    };
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..lookups {
        let answer = match dns::lookup(&question) {
            Ok(_) => "answered",
            Err(dns::DnsError::NotFound) => "not-found",
            Err(dns::DnsError::Timeout) => "timeout",
            Err(dns::DnsError::ServerFailure) => "server-failure",
            Err(dns::DnsError::InvalidName) => "invalid-name",
            Err(dns::DnsError::Denied) => "denied",
            Err(_) => "other",
        };
        *counts.entry(answer).or_insert(0u32) += 1;
    }
    let detail: Vec<String> = counts.iter().map(|(k, n)| format!("{k}={n}")).collect();
    Verdict::new().symbol("MISBEHAVE_DNS", 0.0, detail.join(" "))
}

/// The `mode` of the plugin's config, if set and a string.
fn configured_mode() -> Option<String> {
    config::get("mode").unwrap_or_else(|error| {
        log::warn(&format!("ignoring the configured mode: {error}"));
        None
    })
}

moat_sdk::export_plugin!(Misbehave);
