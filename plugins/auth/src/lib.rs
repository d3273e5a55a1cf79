//! Moat's bundled sender authentication scoring: the gateway's SPF, DKIM, DMARC and ARC
//! results (checked once by the host, see `moat_sdk::sender_auth`) turned into scored
//! symbols, with optional hard actions for DMARC and SPF failures and an allow-list of
//! trusted sender domains that counts only when the message proves its From.
//!
//! Everything is scored at DATA: SPF with the rest, unless `spf_reject` is on, which needs
//! the mail-from stage too (to refuse before the message is sent); then SPF is scored
//! there when the host has it then. One call per message is one sandbox less. The README lists the symbols and the config keys.
//!
//! - `evaluate.rs`: the decision for a stage, as a pure function.
//! - `spf.rs`, `dkim.rs`, `dmarc.rs`, `trusted.rs`: the findings, one module per check.
//! - `settings.rs` and `symbols.rs`: the operator's settings, symbol names and scores.

mod dkim;
mod dmarc;
mod evaluate;
mod finding;
mod settings;
mod spf;
mod symbols;
mod trusted;

use moat_sdk::{Message, Plugin, PluginInfo, Session, Stage, Verdict, config, log, sender_auth};
use serde::de::DeserializeOwned;

use crate::evaluate::{Checkpoint, SPF_SCORED, evaluate};
use crate::settings::Settings;
use crate::symbols::configured_scores;

/// The plugin: scores SPF, DKIM, DMARC and ARC at data; with `spf_reject`, SPF at
/// mail_from already.
pub struct Auth;

impl Plugin for Auth {
    fn describe() -> PluginInfo {
        let stages: &[Stage] = if configured_settings().spf_reject {
            &[Stage::MailFrom, Stage::Data]
        } else {
            &[Stage::Data]
        };
        PluginInfo::new("auth", env!("CARGO_PKG_VERSION"), stages.iter().copied())
            .default_weight(1.0)
    }

    fn on_mail_from(_session: &Session) -> Verdict {
        let Some(auth) = sender_auth::results() else {
            return Verdict::new();
        };
        evaluate(
            &auth,
            Checkpoint::MailFrom,
            &configured_settings(),
            &configured_scores(),
        )
    }

    fn on_data(session: &Session, _message: &Message) -> Verdict {
        let Some(auth) = sender_auth::results() else {
            return Verdict::new();
        };
        let checkpoint = Checkpoint::Data {
            spf_scored: session.annotation(SPF_SCORED).is_some(),
        };
        evaluate(
            &auth,
            checkpoint,
            &configured_settings(),
            &configured_scores(),
        )
    }
}

/// The operator's settings; a bad value is logged and replaced by its default rather than
/// failing every message.
fn configured_settings() -> Settings {
    let mut settings = Settings::default();
    settings.dmarc_reject = value_or_default("dmarc_reject");
    settings.dmarc_quarantine = value_or_default("dmarc_quarantine");
    settings.spf_reject = value_or_default("spf_reject");
    let domains: Vec<String> = value_or_default("trusted_senders");
    let (settings, ignored) = settings.with_trusted_senders(domains);
    for domain in ignored {
        log::warn(&format!(
            "config `trusted_senders` holds an empty domain {domain:?}; ignored"
        ));
    }
    settings
}

/// The config value under `key`, or `T::default()` when unset or (with a warning) invalid.
fn value_or_default<T: DeserializeOwned + Default>(key: &str) -> T {
    match config::get(key) {
        Ok(value) => value.unwrap_or_default(),
        Err(error) => {
            log::warn(&format!("{error}; using the default"));
            T::default()
        }
    }
}

moat_sdk::export_plugin!(Auth);
