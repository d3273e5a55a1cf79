//! A test plugin for the plugin author's path (`moat plugin test`, the plugin directory):
//! it behaves like the plugins authors write, small and predictable.
//!
//! - At MAIL FROM it answers `COUNTER_SENDER` (score 1, the sender as detail) unless the
//!   sender is the null sender, which it skips as plugins that ignore bounces do.
//! - At DATA it counts the messages it has seen in kv (`increment("messages")`) and
//!   answers `COUNTER_SEEN` with the count as score; without the `kv` grant it answers
//!   `COUNTER_KV_DENIED` (score 0).
//! - Its name is `counter`, unless config `name` says otherwise (to test how the host
//!   treats names it must refuse, such as `"Link Count"`).

use moat_sdk::kv::KvError;
use moat_sdk::{Message, Plugin, PluginInfo, Session, Stage, Verdict, config, kv};

/// The name the plugin gives itself unless configured otherwise.
pub const NAME: &str = "counter";

/// The counting plugin.
pub struct Counter;

impl Plugin for Counter {
    fn describe() -> PluginInfo {
        let name = config::get::<String>("name")
            .ok()
            .flatten()
            .unwrap_or_else(|| NAME.to_owned());
        PluginInfo::new(
            name,
            env!("CARGO_PKG_VERSION"),
            [Stage::MailFrom, Stage::Data],
        )
    }

    fn on_mail_from(session: &Session) -> Verdict {
        sender_verdict(session.envelope.mail_from.as_deref())
    }

    fn on_data(_session: &Session, _message: &Message) -> Verdict {
        count_verdict(kv::increment("messages", 1))
    }
}

/// `COUNTER_SENDER` for a sender, nothing for the null sender (or none at all).
pub fn sender_verdict(mail_from: Option<&str>) -> Verdict {
    match mail_from {
        Some(sender) if !sender.is_empty() => Verdict::new().symbol("COUNTER_SENDER", 1.0, sender),
        _ => Verdict::new(),
    }
}

/// `COUNTER_SEEN` with the count, `COUNTER_KV_DENIED` without the grant, else
/// `COUNTER_KV_FAILED`.
pub fn count_verdict(counted: Result<i64, KvError>) -> Verdict {
    match counted {
        Ok(count) => {
            Verdict::new().symbol("COUNTER_SEEN", count as f64, format!("message {count}"))
        }
        Err(KvError::Denied) => Verdict::new().symbol("COUNTER_KV_DENIED", 0.0, "kv not granted"),
        Err(error) => Verdict::new().symbol("COUNTER_KV_FAILED", 0.0, format!("{error:?}")),
    }
}

moat_sdk::export_plugin!(Counter);

#[cfg(test)]
mod tests {
    use super::*;

    fn names(verdict: &Verdict) -> Vec<&str> {
        verdict.symbols.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn the_null_sender_is_skipped() {
        assert!(sender_verdict(Some("")).is_empty());
        assert!(sender_verdict(None).is_empty());
        assert_eq!(
            names(&sender_verdict(Some("alice@example.org"))),
            ["COUNTER_SENDER"]
        );
    }

    #[test]
    fn the_count_is_the_score() {
        let seen = count_verdict(Ok(3));
        assert_eq!(names(&seen), ["COUNTER_SEEN"]);
        assert_eq!(seen.symbols[0].score, 3.0);
        assert_eq!(
            names(&count_verdict(Err(KvError::Denied))),
            ["COUNTER_KV_DENIED"]
        );
        assert_eq!(
            names(&count_verdict(Err(KvError::Storage))),
            ["COUNTER_KV_FAILED"]
        );
    }
}
