//! A test plugin for the plugin author's path (`moat plugin test`, the plugin directory):
//! it behaves like the plugins authors write, small and predictable.
//!
//! - At MAIL FROM it answers `COUNTER_SENDER` (score 1, the sender as detail) unless the
//!   sender is the null sender, which it skips as plugins that ignore bounces do.
//! - At DATA it counts the messages it has seen in kv (`increment("messages")`) and
//!   answers `COUNTER_SEEN` with the count as score and the first From address the
//!   gateway parsed (its domain and display name) in the detail; without the `kv` grant
//!   it answers `COUNTER_KV_DENIED` (score 0).
//! - Its name is `counter`, unless config `name` says otherwise (to test how the host
//!   treats names it must refuse, such as `"Link Count"`).

use moat_sdk::kv::KvError;
use moat_sdk::{Address, Message, Plugin, PluginInfo, Session, Stage, Verdict, config, kv};

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

    fn on_data(_session: &Session, message: &Message) -> Verdict {
        let from = message.addresses("From").into_iter().next();
        count_verdict(kv::increment("messages", 1), from.as_ref())
    }
}

/// `COUNTER_SENDER` for a sender, nothing for the null sender (or none at all).
pub fn sender_verdict(mail_from: Option<&str>) -> Verdict {
    match mail_from {
        Some(sender) if !sender.is_empty() => Verdict::new().symbol("COUNTER_SENDER", 1.0, sender),
        _ => Verdict::new(),
    }
}

/// `COUNTER_SEEN` with the count (and who the message is from), `COUNTER_KV_DENIED`
/// without the grant, else `COUNTER_KV_FAILED`.
pub fn count_verdict(counted: Result<i64, KvError>, from: Option<&Address>) -> Verdict {
    match counted {
        Ok(count) => {
            let from = from.map_or_else(String::new, |from| {
                format!(
                    " from {} ({})",
                    from.domain,
                    from.name.as_deref().unwrap_or("-")
                )
            });
            Verdict::new().symbol(
                "COUNTER_SEEN",
                count as f64,
                format!("message {count}{from}"),
            )
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
        // Natively, kv is the SDK's in-memory store.
        moat_sdk::testing::reset_kv();
        kv::increment("messages", 2).unwrap();
        let from = Address::new("alice@Example.ORG");
        let seen = count_verdict(kv::increment("messages", 1), Some(&from));
        assert_eq!(names(&seen), ["COUNTER_SEEN"]);
        assert_eq!(seen.symbols[0].score, 3.0);
        assert_eq!(seen.symbols[0].detail, "message 3 from example.org (-)");
        moat_sdk::testing::with_kv(|store| store.set_fault(Some(KvError::Denied)));
        assert_eq!(
            names(&count_verdict(kv::increment("messages", 1), None)),
            ["COUNTER_KV_DENIED"]
        );
        assert_eq!(
            names(&count_verdict(Err(KvError::Storage), None)),
            ["COUNTER_KV_FAILED"]
        );
    }
}
