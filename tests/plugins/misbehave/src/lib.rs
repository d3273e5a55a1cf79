//! A test plugin that misbehaves on purpose at the data stage, so the gateway's sandbox
//! limits and error handling can be tested end to end.
//!
//! The mode comes from the config key `mode` and may be overridden per message by the
//! header `X-Misbehave: MODE`: `none`, `loop`, `memory-bomb`, `panic`, `stack-overflow` or
//! `invalid-verdict`. An unknown mode answers the symbol `MISBEHAVE_UNKNOWN_MODE`.

mod misbehaviour;
mod mode;

use moat_sdk::{Message, Plugin, PluginInfo, Session, Stage, Verdict, config, log};

use crate::mode::Mode;

/// The misbehaving plugin.
pub struct Misbehave;

impl Plugin for Misbehave {
    fn describe() -> PluginInfo {
        PluginInfo::new("misbehave", env!("CARGO_PKG_VERSION"), [Stage::Data])
    }

    fn on_data(_session: &Session, message: &Message) -> Verdict {
        let header = message.header("X-Misbehave");
        let configured = configured_mode();
        let name = mode::effective_mode_name(header.as_deref(), configured.as_deref());
        match Mode::parse(name) {
            Some(Mode::None) => Verdict::new().symbol("MISBEHAVE_OK", 0.0, "behaved"),
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
            None => Verdict::new().symbol(
                "MISBEHAVE_UNKNOWN_MODE",
                0.0,
                format!("unknown mode {name:?}"),
            ),
        }
    }
}

/// The `mode` of the plugin's config, if set and a string.
fn configured_mode() -> Option<String> {
    config::get("mode").unwrap_or_else(|error| {
        log::warn(&format!("ignoring the configured mode: {error}"));
        None
    })
}

moat_sdk::export_plugin!(Misbehave);
