//! Moat's bundled header and content sanity checks, after rspamd's basic header rules
//! and SpamAssassin's header and MIME rules: missing or duplicated essential fields,
//! suspicious subjects and dates, HTML-only bodies, undisclosed or mass recipients, the
//! GTUBE test string, MIME structure (`mime`), links (`urls`), a Message-ID the claimed
//! mailer would not write (`msgid`), and headers forged against the `Received` chain
//! (`forgery`).
//!
//! Each symbol's score can be changed with the config table `scores` (SYMBOL = score);
//! the README lists the symbols and their defaults.

mod address;
mod date;
mod forgery;
mod mime;
mod msgid;
mod received;
mod rules;
mod symbols;
mod urls;

use moat_sdk::{Action, Message, Plugin, PluginInfo, Session, Stage, Verdict, clock};

use crate::rules::Facts;
use crate::symbols::{REJECTING, configured_scores};

/// Messages up to this size are copied whole for the scan of their MIME header blocks
/// (base64 text parts); larger ones, mostly attachments, are not.
const MAX_SCANNED_SIZE: u64 = 512 * 1024;

/// The plugin: runs the header checks at the data stage.
pub struct Headers;

impl Plugin for Headers {
    fn describe() -> PluginInfo {
        PluginInfo::new("headers", env!("CARGO_PKG_VERSION"), [Stage::Data])
    }

    fn on_data(session: &Session, message: &Message) -> Verdict {
        let facts = Facts {
            headers: message.headers(),
            text_parts: message.text_parts(),
            html_parts: message.html_parts(),
            html_sources: message.html_sources(),
            urls: message.urls(),
            client_helo: session.client.helo.clone(),
            transfer: (message.size() <= MAX_SCANNED_SIZE)
                .then(|| mime::scan_transfer(&message.raw())),
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
