//! Moat's bundled header and content sanity checks, after rspamd's basic header rules:
//! missing or duplicated essential fields, suspicious subjects and dates, HTML-only
//! bodies, undisclosed or mass recipients, and the GTUBE test string.
//!
//! Each symbol's score can be changed with the config table `scores` (SYMBOL = score);
//! the README lists the symbols and their defaults.

mod address;
mod date;
mod rules;
mod symbols;

use moat_sdk::{Action, Message, Plugin, PluginInfo, Session, Stage, Verdict, clock};

use crate::rules::Facts;
use crate::symbols::{REJECTING, configured_scores};

/// The plugin: runs the header checks at the data stage.
pub struct Headers;

impl Plugin for Headers {
    fn describe() -> PluginInfo {
        PluginInfo::new("headers", env!("CARGO_PKG_VERSION"), [Stage::Data])
    }

    fn on_data(_session: &Session, message: &Message) -> Verdict {
        let facts = Facts {
            headers: message.headers(),
            text_parts: message.text_parts(),
            html_parts: message.html_parts(),
            now_millis: clock::now_millis(),
        };
        let scores = configured_scores();
        let mut verdict = Verdict::new();
        for finding in rules::check_all(&facts) {
            if REJECTING.contains(&finding.symbol) {
                verdict = verdict.action(Action::Reject);
            }
            let score = scores.score(finding.symbol);
            verdict = verdict.symbol(finding.symbol, score, finding.detail);
        }
        verdict
    }
}

moat_sdk::export_plugin!(Headers);
