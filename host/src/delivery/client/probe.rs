//! A recipient probe over an open connection: `MAIL FROM:<>` and one `RCPT TO`, each
//! waiting for its reply, and never DATA. What the gateway asks the protected server to
//! learn whether an address exists (the SMTP side's recipient verification).

use super::{ClientError, Connection, Reply};

/// The server's answer to a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeReply {
    /// `MAIL FROM:<>` was refused, so nothing was asked about the address.
    SenderRefused(Reply),
    /// The reply to `RCPT TO`.
    Recipient(Reply),
    /// The address is not ASCII and the server does not offer SMTPUTF8.
    NeedsSmtputf8,
}

impl Connection {
    /// Asks whether the server takes mail for `address`: `MAIL FROM:<>` (the null sender,
    /// so the server never sends anything back to anyone; with SMTPUTF8 when the address
    /// needs it), then `RCPT TO:<address>`. The transaction is left open; end it with
    /// [`Connection::quit`].
    pub async fn probe_recipient(&mut self, address: &str) -> Result<ProbeReply, ClientError> {
        let utf8 = !address.is_ascii();
        if utf8 && !self.caps.smtputf8 {
            return Ok(ProbeReply::NeedsSmtputf8);
        }
        if self.dirty {
            self.command("RSET", "waiting for the RSET reply").await?;
        }
        let mail = if utf8 {
            "MAIL FROM:<> SMTPUTF8"
        } else {
            "MAIL FROM:<>"
        };
        self.dirty = true;
        let reply = self.command(mail, "waiting for the MAIL reply").await?;
        if !reply.is_positive() {
            return Ok(ProbeReply::SenderRefused(reply));
        }
        let rcpt = format!("RCPT TO:<{address}>");
        let reply = self.command(&rcpt, "waiting for the RCPT reply").await?;
        Ok(ProbeReply::Recipient(reply))
    }
}
