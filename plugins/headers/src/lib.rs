//! Moat's bundled header and content sanity checks, after rspamd's basic header rules
//! and SpamAssassin's header and MIME rules: missing or duplicated essential fields,
//! suspicious subjects and dates, HTML-only bodies, undisclosed or mass recipients, the
//! GTUBE test string, MIME structure (`mime`), links (`urls`), a Message-ID the claimed
//! mailer would not write (`msgid`) and fields it always writes (`mailer`), headers
//! forged against the `Received` chain (`forgery`), bulk-mail marks (`bulk`), the body's
//! words (`body`) and its HTML (`html`); and one sign for the message, a client in the
//! sender's own domain (`origin`).
//!
//! Each symbol's score can be changed with the config table `scores` (SYMBOL = score);
//! the README lists the symbols and their defaults.

mod address;
mod body;
mod bulk;
mod date;
mod encoding;
mod forgery;
mod html;
mod mailer;
mod mime;
mod msgid;
mod origin;
mod raw;
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
        let raw = (message.size() <= MAX_SCANNED_SIZE).then(|| message.raw());
        let facts = Facts {
            headers: message.headers(),
            text_parts: message.text_parts(),
            html_parts: message.html_parts(),
            html_sources: message.html_sources(),
            urls: message.urls(),
            client_helo: session.client.helo.clone(),
            client_ip: Some(session.client.ip),
            client_reverse_dns: session.client.reverse_dns.clone(),
            mail_from: session.envelope.mail_from.clone(),
            transfer: raw.as_deref().map(mime::scan_transfer),
            raw,
            ok_locales: ok_locales(),
            now_millis: clock::now_millis(),
            body_words: std::cell::OnceCell::new(),
            date_millis: std::cell::OnceCell::new(),
            received_dates: std::cell::OnceCell::new(),
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

/// The config's `ok_locales`: none unless the operator lists some. A mistyped value is
/// logged and counts as none; an unknown locale is logged.
fn ok_locales() -> Vec<String> {
    let locales = match moat_sdk::config::get::<Vec<String>>("ok_locales") {
        Ok(locales) => locales.unwrap_or_default(),
        Err(error) => {
            moat_sdk::log::warn(&format!("ignoring ok_locales: {error}"));
            Vec::new()
        }
    };
    for locale in &locales {
        let known = encoding::LOCALE_CHARSETS
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(locale));
        if !known {
            moat_sdk::log::warn(&format!(
                "ok_locales names an unknown locale {locale:?} (known: zh, ja, ko, ru, th)"
            ));
        }
    }
    locales
}

moat_sdk::export_plugin!(Headers);
