//! What the SMTP side counts: connections, the decision on each message, and logins on
//! the submission listeners.

use crate::filter::Action;
use crate::metrics::{Counter, Registry};

/// The decisions, in the order of [`SmtpMetrics::messages`].
const ACTIONS: [Action; 5] = [
    Action::Accept,
    Action::Tag,
    Action::Quarantine,
    Action::Reject,
    Action::Tempfail,
];

/// The SMTP counters of a server.
#[derive(Debug, Clone)]
pub struct SmtpMetrics {
    /// Connections accepted (before the per-listener and per-client caps).
    connections: Counter,
    /// Messages decided at the end of DATA, by action (see [`ACTIONS`]).
    messages: [Counter; 5],
    /// Logins: succeeded, failed, refused while locked out, refused as busy
    /// ([`LoginOutcome`]).
    logins: [Counter; 4],
}

/// How a login on a submission listener ended, for [`SmtpMetrics::login`].
#[derive(Debug, Clone, Copy)]
pub enum LoginOutcome {
    /// 235.
    Succeeded,
    /// 535: wrong account or password.
    Failed,
    /// 454: the address or account is locked out.
    LockedOut,
    /// 454: too many logins being checked at once.
    Busy,
}

impl SmtpMetrics {
    /// Registers the SMTP counters in `registry`.
    pub fn register(registry: &Registry) -> Self {
        let connections =
            registry.counter("moat_smtp_connections_total", "SMTP connections accepted.");
        let messages = registry.counter_family(
            "moat_messages_total",
            "Messages decided at the end of DATA, by action.",
            "action",
        );
        let logins = registry.counter_family(
            "moat_smtp_auth_total",
            "SMTP AUTH attempts on the submission listeners, by result.",
            "result",
        );
        Self {
            connections,
            messages: ACTIONS.map(|action| messages.get(action.as_str())),
            logins: ["succeeded", "failed", "locked_out", "busy"].map(|result| logins.get(result)),
        }
    }

    /// Counts an accepted SMTP connection.
    pub fn connection(&self) {
        self.connections.inc();
    }

    /// Counts a message decided at the end of DATA.
    pub fn message(&self, action: Action) {
        if let Some(i) = ACTIONS.iter().position(|a| *a == action) {
            self.messages[i].inc();
        }
    }

    /// Counts a login attempt's outcome.
    pub fn login(&self, outcome: LoginOutcome) {
        self.logins[outcome as usize].inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_and_login_result_is_counted_under_its_label() {
        let registry = Registry::new();
        let metrics = SmtpMetrics::register(&registry);
        metrics.connection();
        metrics.message(Action::Reject);
        metrics.message(Action::Reject);
        metrics.login(LoginOutcome::LockedOut);
        let text = registry.render();
        assert!(text.contains("\nmoat_smtp_connections_total 1\n"), "{text}");
        assert!(text.contains("\nmoat_messages_total{action=\"reject\"} 2\n"));
        assert!(text.contains("\nmoat_messages_total{action=\"accept\"} 0\n"));
        assert!(text.contains("\nmoat_smtp_auth_total{result=\"locked_out\"} 1\n"));
        assert!(text.contains("\nmoat_smtp_auth_total{result=\"failed\"} 0\n"));
    }
}
