//! An example Moat plugin written only against `moat-sdk`: at the data stage it scores
//! phrases in the subject, taken from its config (`phrases`, a table phrase → score) or,
//! when none are configured, from a small built-in list.

mod phrases;

use std::collections::BTreeMap;

use moat_sdk::{Message, Plugin, PluginInfo, Session, Stage, Symbol, Verdict, config, log};

/// The symbol emitted once per phrase found in the subject.
const SYMBOL: &str = "HELLO_SUBJECT_PHRASE";

/// The plugin: scores subject phrases.
pub struct Hello;

impl Plugin for Hello {
    fn describe() -> PluginInfo {
        PluginInfo::new("hello", env!("CARGO_PKG_VERSION"), [Stage::Data])
    }

    fn on_data(_session: &Session, message: &Message) -> Verdict {
        let Some(subject) = message.subject() else {
            return Verdict::new();
        };
        let phrases = phrases::phrases_or_default(configured_phrases());
        phrases::matching_phrases(&subject, &phrases)
            .into_iter()
            .map(|(phrase, score)| {
                Symbol::new(SYMBOL, score, format!("subject contains '{phrase}'"))
            })
            .collect()
    }
}

/// The `phrases` table of the plugin's config; empty when unset or unreadable.
fn configured_phrases() -> BTreeMap<String, f64> {
    match config::get("phrases") {
        Ok(phrases) => phrases.unwrap_or_default(),
        Err(error) => {
            log::warn(&format!("ignoring the configured phrases: {error}"));
            BTreeMap::new()
        }
    }
}

moat_sdk::export_plugin!(Hello);
