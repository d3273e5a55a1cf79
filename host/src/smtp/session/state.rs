//! The protocol phase of a session as a type, and the transitions SMTP allows between
//! phases (RFC 5321 §4.1.4). Pure: no I/O, no filters; out-of-order commands get their
//! `503 5.5.1` from here.

use crate::filter::PluginResult;
use crate::smtp::proto::{BdatReceiver, MailParams, ReversePath};
use crate::smtp::reply::Reply;

/// A mail transaction in progress: from MAIL FROM to the end of the message.
#[derive(Debug, Clone)]
pub(super) struct Transaction {
    /// The sender.
    pub(super) from: ReversePath,
    /// MAIL FROM's parameters.
    pub(super) params: MailParams,
    /// The recipients accepted so far, as `local@domain` in their one spelling
    /// (`relay::Recipient`: `<postmaster>` mapped, the domain normalized).
    pub(super) recipients: Vec<String>,
    /// Filter results of this transaction's stages (mail_from, rcpt_to, data).
    pub(super) results: Vec<PluginResult>,
    /// The BDAT receiver holding the chunks received so far, between BDAT commands.
    pub(super) bdat: Option<BdatReceiver>,
}

impl Transaction {
    /// A new transaction from MAIL FROM.
    pub(super) fn new(from: ReversePath, params: MailParams) -> Self {
        Self {
            from,
            params,
            recipients: Vec::new(),
            results: Vec::new(),
            bdat: None,
        }
    }
}

/// Where the session is in the conversation.
#[derive(Debug, Clone, Default)]
pub(super) enum Phase {
    /// Connected (or just after STARTTLS): EHLO/HELO needed.
    #[default]
    Greeting,
    /// Greeted, no transaction.
    Ready,
    /// MAIL FROM accepted (recipients may have been too, when non-empty).
    Transaction(Box<Transaction>),
}

impl Phase {
    /// MAIL FROM is allowed: greeted and no transaction open (RFC 5321 §4.1.4).
    pub(super) fn check_mail(&self) -> Result<(), Reply> {
        match self {
            Phase::Greeting => Err(Reply::bad_sequence("send EHLO or HELO first")),
            Phase::Ready => Ok(()),
            Phase::Transaction(_) => Err(Reply::bad_sequence("nested MAIL command")),
        }
    }

    /// RCPT TO is allowed: a transaction is open.
    pub(super) fn transaction_for_rcpt(&mut self) -> Result<&mut Transaction, Reply> {
        match self {
            Phase::Transaction(t) => Ok(t),
            _ => Err(Reply::bad_sequence("send MAIL FROM first")),
        }
    }

    /// DATA or BDAT is allowed: a transaction with at least one recipient.
    pub(super) fn transaction_for_data(&mut self) -> Result<&mut Transaction, Reply> {
        match self {
            Phase::Transaction(t) if !t.recipients.is_empty() => Ok(t),
            Phase::Transaction(_) => Err(Reply::bad_sequence("no valid recipients")),
            _ => Err(Reply::bad_sequence("send MAIL FROM first")),
        }
    }

    /// Ends any transaction (RSET, end of message): back to `Ready` if greeted.
    pub(super) fn reset(&mut self) {
        if !matches!(self, Phase::Greeting) {
            *self = Phase::Ready;
        }
    }

    /// Takes the open transaction, leaving `Ready`.
    pub(super) fn take_transaction(&mut self) -> Option<Transaction> {
        match std::mem::replace(self, Phase::Ready) {
            Phase::Transaction(t) => Some(*t),
            other => {
                *self = other;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_transaction(recipients: usize) -> Phase {
        let mut t = Transaction::new(ReversePath::Null, MailParams::default());
        t.recipients = (0..recipients)
            .map(|i| format!("r{i}@example.test"))
            .collect();
        Phase::Transaction(Box::new(t))
    }

    #[test]
    fn mail_needs_a_greeting_and_no_open_transaction() {
        assert_eq!(Phase::Greeting.check_mail().unwrap_err().code, 503);
        assert!(Phase::Ready.check_mail().is_ok());
        assert_eq!(in_transaction(0).check_mail().unwrap_err().code, 503);
    }

    #[test]
    fn rcpt_needs_mail_first() {
        assert!(Phase::Greeting.transaction_for_rcpt().is_err());
        assert!(Phase::Ready.transaction_for_rcpt().is_err());
        assert!(in_transaction(0).transaction_for_rcpt().is_ok());
    }

    #[test]
    fn data_needs_a_recipient() {
        assert!(Phase::Ready.transaction_for_data().is_err());
        assert!(
            in_transaction(0).transaction_for_data().unwrap_err().lines[0]
                .contains("no valid recipients")
        );
        assert!(in_transaction(1).transaction_for_data().is_ok());
    }

    #[test]
    fn reset_keeps_the_greeting() {
        let mut p = in_transaction(2);
        p.reset();
        assert!(matches!(p, Phase::Ready));
        let mut g = Phase::Greeting;
        g.reset();
        assert!(matches!(g, Phase::Greeting));
    }
}
