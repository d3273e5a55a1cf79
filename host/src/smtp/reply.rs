//! Every reply Moat sends, built here and nowhere else: a code, an enhanced status code
//! (RFC 3463) and a text. The session writes `Reply` values; it never formats one.

use std::fmt;

/// One SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The enhanced status code, e.g. "5.7.1"; empty for the banner and EHLO lines.
    pub enhanced: &'static str,
    /// The human text; several lines for multi-line replies.
    pub lines: Vec<String>,
}

impl Reply {
    fn new(code: u16, enhanced: &'static str, text: impl Into<String>) -> Self {
        Self {
            code,
            enhanced,
            lines: vec![text.into()],
        }
    }

    /// Whether the client may go on (2xx/3xx).
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// The reply as it goes on the wire, CRLF-terminated.
    pub fn to_wire(&self) -> String {
        let mut out = String::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            if self.enhanced.is_empty() {
                out.push_str(&format!("{}{sep}{line}\r\n", self.code));
            } else {
                out.push_str(&format!("{}{sep}{} {line}\r\n", self.code, self.enhanced));
            }
        }
        out
    }

    // --- connection ---

    /// The greeting.
    pub fn greeting(hostname: &str) -> Self {
        Self {
            code: 220,
            enhanced: "",
            lines: vec![format!("{hostname} ESMTP Moat")],
        }
    }
    /// The client sent commands before the greeting (RFC 5321 §4.3.1; postscreen's pregreet test).
    pub fn pregreet() -> Self {
        Self::new(
            554,
            "5.5.1",
            "Protocol error: the client talked before the greeting",
        )
    }
    /// Too many connections from this client (a policy: 4.7.0), or in all (the system
    /// is busy: 4.3.2).
    pub fn too_many_connections(per_client: bool) -> Self {
        if per_client {
            Self::new(
                421,
                "4.7.0",
                "Too many connections from your address, try again later",
            )
        } else {
            Self::new(421, "4.3.2", "Too many connections in all, try again later")
        }
    }
    /// The server is shutting down.
    pub fn shutting_down(hostname: &str) -> Self {
        Self::new(
            421,
            "4.3.2",
            format!("{hostname} Service shutting down, try again later"),
        )
    }
    /// The session has been open for longer than `[smtp] max_session_time`.
    pub fn session_too_long(hostname: &str) -> Self {
        Self::new(
            421,
            "4.3.2",
            format!("{hostname} Session open for too long, closing connection"),
        )
    }
    /// The client was idle too long.
    pub fn idle_timeout(hostname: &str) -> Self {
        Self::new(
            421,
            "4.4.2",
            format!("{hostname} Timeout waiting for input, closing connection"),
        )
    }
    /// The session exceeded its command budget.
    pub fn too_many_commands() -> Self {
        Self::new(
            421,
            "4.7.0",
            "Too many commands in one session, closing connection",
        )
    }
    /// Too many protocol errors.
    pub fn too_many_errors() -> Self {
        Self::new(421, "4.7.0", "Too many errors, closing connection")
    }
    /// QUIT.
    pub fn bye(hostname: &str) -> Self {
        Self::new(221, "2.0.0", format!("{hostname} Bye"))
    }

    // --- EHLO/HELO and simple commands ---

    /// The EHLO reply with the extensions offered.
    pub fn ehlo(hostname: &str, client_helo: &str, extensions: &[String]) -> Self {
        let mut lines = vec![format!("{hostname} greets {client_helo}")];
        lines.extend(extensions.iter().cloned());
        Self {
            code: 250,
            enhanced: "",
            lines,
        }
    }
    /// The HELO reply.
    pub fn helo(hostname: &str) -> Self {
        Self {
            code: 250,
            enhanced: "",
            lines: vec![hostname.to_owned()],
        }
    }
    /// Generic success.
    pub fn ok() -> Self {
        Self::new(250, "2.0.0", "OK")
    }
    /// MAIL FROM accepted.
    pub fn sender_ok() -> Self {
        Self::new(250, "2.1.0", "Sender OK")
    }
    /// RCPT TO accepted.
    pub fn recipient_ok() -> Self {
        Self::new(250, "2.1.5", "Recipient OK")
    }
    /// RSET.
    pub fn reset() -> Self {
        Self::new(250, "2.0.0", "Reset OK")
    }
    /// VRFY is not offered (RFC 5321 §3.5.3: 252 would mean "cannot verify but will try").
    pub fn vrfy_disabled() -> Self {
        Self::new(
            252,
            "2.5.2",
            "Cannot VRFY user, but will accept message and attempt delivery",
        )
    }
    /// EXPN is not offered.
    pub fn expn_disabled() -> Self {
        Self::new(502, "5.5.1", "EXPN not available")
    }
    /// HELP.
    pub fn help() -> Self {
        Self::new(214, "2.0.0", "See RFC 5321; this server speaks ESMTP")
    }
    /// DATA may start.
    pub fn start_data() -> Self {
        Self {
            code: 354,
            enhanced: "",
            lines: vec!["End data with <CR><LF>.<CR><LF>".into()],
        }
    }
    /// A BDAT chunk that is not the last was received.
    pub fn chunk_ok(size: u64) -> Self {
        Self::new(250, "2.0.0", format!("{size} octets received"))
    }
    /// STARTTLS may start.
    pub fn start_tls() -> Self {
        Self::new(220, "2.0.0", "Ready to start TLS")
    }

    // --- errors of the client ---

    /// A command the server does not know.
    pub fn unknown_command() -> Self {
        Self::new(500, "5.5.1", "Command not recognized")
    }
    /// A command line that could not be parsed.
    pub fn syntax_error(reason: &str) -> Self {
        Self::new(501, "5.5.2", format!("Syntax error: {reason}"))
    }
    /// A line longer than the limit.
    pub fn line_too_long() -> Self {
        Self::new(500, "5.5.6", "Line too long")
    }
    /// A line containing NUL.
    pub fn nul_in_command() -> Self {
        Self::new(500, "5.5.2", "Syntax error: NUL character in command")
    }
    /// An address that is not a valid mailbox.
    pub fn invalid_address(reason: &str) -> Self {
        Self::new(501, "5.1.3", format!("Bad address syntax: {reason}"))
    }
    /// A recipient domain that is not a domain name once normalized (UTS 46): `reason`
    /// says why, the domain itself is not echoed. RFC 5321's 553, "mailbox name not
    /// allowed", with RFC 3463's bad destination mailbox address syntax.
    pub fn invalid_recipient_domain(reason: &str) -> Self {
        Self::new(553, "5.1.3", format!("Bad recipient domain: {reason}"))
    }
    /// An ESMTP parameter the server does not know.
    pub fn unknown_parameter(name: &str) -> Self {
        Self::new(555, "5.5.4", format!("Unsupported parameter {name}"))
    }
    /// A parameter value that is not acceptable.
    pub fn invalid_parameter(name: &str, reason: &str) -> Self {
        Self::new(501, "5.5.4", format!("Invalid parameter {name}: {reason}"))
    }
    /// A command out of sequence.
    pub fn bad_sequence(what: &str) -> Self {
        Self::new(503, "5.5.1", format!("Bad sequence of commands: {what}"))
    }
    /// AUTH on a listener that does not offer it.
    pub fn auth_not_available() -> Self {
        Self::new(503, "5.5.1", "AUTH not available on this port")
    }
    /// A SASL challenge (already base64; empty for PLAIN's initial prompt).
    pub fn auth_challenge(challenge: &str) -> Self {
        Self::new(334, "", challenge)
    }
    /// The login worked.
    pub fn auth_succeeded() -> Self {
        Self::new(235, "2.7.0", "Authentication successful")
    }
    /// Wrong account name or password (never saying which).
    pub fn auth_failed() -> Self {
        Self::new(535, "5.7.8", "Authentication credentials invalid")
    }
    /// Logins from this address, or as this account, are locked out for a while.
    pub fn auth_locked_out(account: bool, remaining_secs: u64) -> Self {
        let what = if account {
            "this account"
        } else {
            "your address"
        };
        Self::new(
            454,
            "4.7.0",
            format!("Too many failed logins for {what}; try again in {remaining_secs} seconds"),
        )
    }
    /// Every password check the server allows at once is running, or every guess this
    /// address or account has left is being checked: try again in a moment.
    pub fn auth_busy() -> Self {
        Self::new(
            454,
            "4.7.0",
            "Too many logins at once; try again in a moment",
        )
    }
    /// AUTH before STARTTLS: passwords never cross the network in clear (RFC 4954 §6).
    pub fn auth_needs_tls() -> Self {
        Self::new(
            538,
            "5.7.11",
            "Encryption required for requested authentication mechanism",
        )
    }
    /// MAIL on a submission listener before AUTH.
    pub fn auth_required() -> Self {
        Self::new(530, "5.7.0", "Authentication required")
    }
    /// AUTH a second time.
    pub fn already_authenticated() -> Self {
        Self::new(503, "5.5.1", "Already authenticated")
    }
    /// AUTH with a mechanism Moat does not offer.
    pub fn auth_mechanism_unknown() -> Self {
        Self::new(504, "5.5.4", "Unrecognized authentication type")
    }
    /// The client cancelled the exchange with `*`.
    pub fn auth_cancelled() -> Self {
        Self::new(501, "5.0.0", "Authentication cancelled")
    }
    /// A SASL response that could not be decoded.
    pub fn auth_malformed() -> Self {
        Self::new(501, "5.5.2", "Cannot decode the authentication response")
    }
    /// A sender (envelope or From) the logged-in account does not own.
    pub fn sender_not_owned(what: &str, address: &str, account: &str) -> Self {
        Self::new(
            553,
            "5.7.1",
            format!("{what} <{address}> is not owned by user {account}"),
        )
    }
    /// The account has used up its hourly sending allowance.
    pub fn sending_limit(what: &str, per_hour: u32) -> Self {
        Self::new(
            450,
            "4.7.1",
            format!("Sending limit of {per_hour} {what} per hour reached; try again later"),
        )
    }
    /// STARTTLS when TLS is not available or already on.
    pub fn tls_not_available(reason: &str) -> Self {
        Self::new(454, "4.7.0", format!("TLS not available: {reason}"))
    }
    /// A command other than STARTTLS/EHLO/QUIT where TLS is required.
    pub fn tls_required() -> Self {
        Self::new(530, "5.7.0", "Must issue a STARTTLS command first")
    }
    /// SMTPUTF8 address without the SMTPUTF8 parameter.
    pub fn utf8_not_declared() -> Self {
        Self::new(
            553,
            "5.6.7",
            "UTF-8 address requires the SMTPUTF8 parameter",
        )
    }
    /// 8-bit data without BODY=8BITMIME (RFC 6152).
    pub fn eight_bit_not_declared() -> Self {
        Self::new(554, "5.6.1", "8-bit data requires BODY=8BITMIME")
    }
    /// Message declared or found larger than the limit.
    pub fn message_too_large(limit: u64) -> Self {
        Self::new(
            552,
            "5.3.4",
            format!("Message size exceeds fixed maximum message size of {limit} bytes"),
        )
    }
    /// Too many recipients.
    pub fn too_many_recipients(limit: usize) -> Self {
        Self::new(
            452,
            "4.5.3",
            format!("Too many recipients (at most {limit} per message)"),
        )
    }
    /// A bare CR or LF in the data (SMTP smuggling defence).
    pub fn bare_line_ending() -> Self {
        Self::new(
            550,
            "5.6.11",
            "Bare CR or LF in message data; lines must end with CRLF",
        )
    }
    /// NUL bytes in the message data.
    pub fn nul_in_data() -> Self {
        Self::new(550, "5.6.0", "NUL character in message data")
    }
    /// A message that has made too many hops: a mail loop (RFC 5321 §6.3).
    pub fn too_many_hops(hops: usize) -> Self {
        Self::new(
            554,
            "5.4.6",
            format!("Too many hops ({hops} Received fields): mail loop"),
        )
    }

    /// A message that is not an RFC 5322 message.
    pub fn not_a_message() -> Self {
        Self::new(550, "5.6.0", "Message has no header section")
    }

    // --- relay and filtering ---

    /// A recipient domain this gateway does not serve.
    pub fn relay_denied(domain: &str) -> Self {
        Self::new(550, "5.7.1", format!("Relaying to {domain} denied"))
    }
    /// A recipient unknown at a protected domain.
    pub fn unknown_recipient(address: &str) -> Self {
        Self::new(
            550,
            "5.1.1",
            format!("<{address}>: Recipient address rejected: User unknown"),
        )
    }
    /// A recipient the protected server could not be asked about now (recipient
    /// verification): the sender tries again later.
    pub fn recipient_unverified(address: &str) -> Self {
        Self::new(
            450,
            "4.1.1",
            format!(
                "<{address}>: Recipient address rejected: cannot verify the address now, try again later"
            ),
        )
    }
    /// Routing characters in a local part (%-hack, bang path, quoted @).
    pub fn routing_in_local_part() -> Self {
        Self::new(
            550,
            "5.7.1",
            "Source routing in the local part is not accepted",
        )
    }
    /// The filters rejected the connection.
    pub fn rejected_at_connect(symbols: &str) -> Self {
        Self::new(
            554,
            "5.7.1",
            format!("Connection rejected by policy ({symbols})"),
        )
    }
    /// The filters rejected a command before DATA. 554, as Postfix answers policy and
    /// block-list rejections (`access_map_reject_code`, `maps_rbl_reject_code`).
    pub fn rejected_before_data(symbols: &str) -> Self {
        Self::new(554, "5.7.1", format!("Rejected by policy ({symbols})"))
    }
    /// The filters asked for a temporary failure before DATA.
    pub fn tempfail_before_data() -> Self {
        Self::new(
            450,
            "4.7.1",
            "Temporarily rejected by policy, try again later",
        )
    }
    /// The filters asked for a temporary failure of the connection.
    pub fn tempfail_at_connect() -> Self {
        Self::new(
            421,
            "4.7.1",
            "Service temporarily unavailable, try again later",
        )
    }
    /// After a refused greeting, every command but QUIT.
    pub fn session_refused() -> Self {
        Self::new(503, "5.7.1", "Session refused; send QUIT")
    }
    /// The message was rejected by the filters.
    pub fn message_rejected(symbols: &str) -> Self {
        Self::new(
            550,
            "5.7.1",
            format!("Message rejected as spam ({symbols})"),
        )
    }
    /// The filters asked for a temporary failure of the message.
    pub fn message_tempfail() -> Self {
        Self::new(
            451,
            "4.7.1",
            "Message temporarily deferred by policy, try again later",
        )
    }

    // --- acceptance ---

    /// The message is on disk.
    pub fn queued(queue_id: &str) -> Self {
        Self::new(250, "2.0.0", format!("OK: queued as {queue_id}"))
    }
    /// The message is in quarantine (the client is told it was accepted).
    pub fn quarantined(queue_id: &str) -> Self {
        Self::new(250, "2.0.0", format!("OK: queued as {queue_id}"))
    }
    /// The memory for mail in flight is used up: the message is refused (DATA, BDAT) or
    /// was dropped (its end). The client retries later.
    pub fn inflight_full() -> Self {
        Self::new(452, "4.3.1", "Too much mail in progress, try again later")
    }
    /// The queue could not store the message, or takes no new mail (MAIL, DATA): its disk
    /// is full or below `[queue] min_free` (RFC 3463's mail system full).
    pub fn storage_full() -> Self {
        Self::new(452, "4.3.1", "Insufficient system storage, try again later")
    }
    /// The queue's database failed a write and takes none until moat restarts: the
    /// session is closed (RFC 5321's 421, RFC 3463's system not accepting messages).
    pub fn storage_failed(hostname: &str) -> Self {
        Self::new(
            421,
            "4.3.2",
            format!("{hostname} Service not available: cannot store mail now, closing connection"),
        )
    }
    /// The queue could not store the message: another local error.
    pub fn local_error() -> Self {
        Self::new(451, "4.3.0", "Local error in processing, try again later")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_wire().trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_replies_carry_the_enhanced_code() {
        assert_eq!(
            Reply::relay_denied("other.example").to_wire(),
            "550 5.7.1 Relaying to other.example denied\r\n"
        );
    }

    #[test]
    fn multi_line_replies_use_dashes_until_the_last_line() {
        let r = Reply::ehlo(
            "mx.test",
            "client.test",
            &["PIPELINING".into(), "SIZE 100".into()],
        );
        assert_eq!(
            r.to_wire(),
            "250-mx.test greets client.test\r\n250-PIPELINING\r\n250 SIZE 100\r\n"
        );
    }

    #[test]
    fn every_error_reply_has_a_matching_enhanced_class() {
        for r in [
            Reply::pregreet(),
            Reply::syntax_error("x"),
            Reply::storage_full(),
            Reply::storage_failed("mx.test"),
            Reply::local_error(),
            Reply::message_tempfail(),
            Reply::bare_line_ending(),
            Reply::auth_failed(),
            Reply::auth_locked_out(true, 5),
            Reply::auth_needs_tls(),
            Reply::auth_required(),
            Reply::sender_not_owned("Sender", "a@b.org", "c@b.org"),
            Reply::sending_limit("messages", 10),
            Reply::unknown_recipient("a@b.org"),
            Reply::recipient_unverified("a@b.org"),
        ] {
            let class = (r.code / 100).to_string();
            assert!(r.enhanced.starts_with(&class), "{r}");
        }
    }

    #[test]
    fn a_challenge_has_no_enhanced_code() {
        assert_eq!(
            Reply::auth_challenge("VXNlcm5hbWU6").to_wire(),
            "334 VXNlcm5hbWU6\r\n"
        );
        assert_eq!(Reply::auth_challenge("").to_wire(), "334 \r\n");
    }
}
