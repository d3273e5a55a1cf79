//! One handler per command: EHLO/HELO, MAIL, RCPT, DATA/BDAT, RSET, NOOP, QUIT, VRFY,
//! EXPN, HELP, STARTTLS, AUTH. Each checks the phase, runs the filter stage the command
//! belongs to, and answers.

use super::state::{Phase, Transaction};
use super::{BdatChunk, Mode, Next, Session};
use crate::filter::pipeline::StageInput;
use crate::filter::{Action, Decision, PluginResult};
use crate::smtp::headers::top_symbols;
use crate::smtp::proto::{
    AddressError, BdatReceiver, Command, CommandError, ForwardPath, MECHANISMS, MailParams,
    ParseContext, ReversePath, parse_command_with,
};
use crate::smtp::relay::{Recipient, RecipientCheck, RecipientError};
use crate::smtp::reply::Reply;

impl Session {
    /// Parses and handles one command line.
    pub(super) async fn command(&mut self, line: &[u8], mode: &mut Mode) -> Next {
        self.commands += 1;
        if self.commands > self.params.smtp.max_commands {
            self.reply(Reply::too_many_commands());
            return Next::Close;
        }
        if let Some(exchange) = self.sasl.take() {
            return self.continue_auth(exchange, line).await;
        }
        let smtputf8 = matches!(&self.phase, Phase::Transaction(t) if t.params.smtputf8);
        let command = match parse_command_with(line, ParseContext { smtputf8 }) {
            Ok(command) => command,
            Err(error) => return self.client_error(reply_for(&error)),
        };
        if self.refused && command != Command::Quit {
            return self.client_error(Reply::session_refused());
        }
        match command {
            Command::Ehlo(name) => self.handle_ehlo(name, true).await,
            Command::Helo(name) => self.handle_ehlo(name, false).await,
            Command::MailFrom { from, params } => self.handle_mail_from(from, params).await,
            Command::RcptTo { to, .. } => self.handle_rcpt_to(to).await,
            Command::Data => self.handle_data(mode),
            Command::Bdat { size, last } => self.handle_bdat(size, last, mode).await,
            Command::Rset => {
                self.phase.reset();
                self.ctx.annotations.truncate(self.session_annotations);
                self.ctx.sender_auth = None;
                self.reply(Reply::reset());
                Next::Continue
            }
            Command::Noop => {
                self.reply(Reply::ok());
                Next::Continue
            }
            Command::Quit => {
                self.reply(Reply::bye(&self.params.hostname));
                Next::Close
            }
            Command::Vrfy(_) => {
                self.reply(Reply::vrfy_disabled());
                Next::Continue
            }
            Command::Expn(_) => {
                self.reply(Reply::expn_disabled());
                Next::Continue
            }
            Command::Help(_) => {
                self.reply(Reply::help());
                Next::Continue
            }
            Command::StartTls => self.handle_starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.handle_auth(&mechanism, initial_response).await,
        }
    }

    /// The ESMTP extensions offered in the EHLO reply.
    fn extensions(&self) -> Vec<String> {
        let mut extensions = vec![
            "PIPELINING".to_owned(),
            format!("SIZE {}", self.params.smtp.max_message_size.0),
            "8BITMIME".to_owned(),
            "SMTPUTF8".to_owned(),
            "ENHANCEDSTATUSCODES".to_owned(),
            "CHUNKING".to_owned(),
        ];
        if self.params.tls.is_some() && !self.tls_active {
            extensions.push("STARTTLS".to_owned());
        }
        // Passwords only over TLS (RFC 4954 §4): AUTH is not even offered before it.
        if self.kind.is_submission() && self.tls_active {
            extensions.push(format!("AUTH {}", MECHANISMS.join(" ")));
        }
        extensions
    }

    async fn handle_ehlo(&mut self, name: String, extended: bool) -> Next {
        // A new EHLO resets any transaction (RFC 5321 §4.1.4).
        self.phase = Phase::Greeting;
        self.ctx.annotations.truncate(self.session_annotations);
        self.ctx.sender_auth = None;
        self.ctx.client.helo = Some(name.clone());
        let held_for_login =
            self.kind.is_submission() && self.ctx.client.authenticated_user.is_none();
        let results = if held_for_login {
            Vec::new()
        } else {
            match self.run_stage_before_data(StageInput::Helo, &[]).await {
                Ok(results) => results,
                Err(reply) => return self.client_error(reply),
            }
        };
        // HELO-stage results count for every message of the session; a repeated EHLO
        // replaces those of the previous one.
        self.session_results
            .retain(|r| r.stage != crate::filter::Stage::Helo);
        self.session_results.extend(results);
        self.session_annotations = self.ctx.annotations.len();
        self.phase = Phase::Ready;
        let reply = if extended {
            Reply::ehlo(&self.params.hostname, &name, &self.extensions())
        } else {
            Reply::helo(&self.params.hostname)
        };
        self.reply(reply);
        Next::Continue
    }

    async fn handle_mail_from(&mut self, from: ReversePath, params: MailParams) -> Next {
        if let Err(reply) = self.phase.check_mail() {
            return self.client_error(reply);
        }
        if self.tls_required() && !self.tls_active {
            return self.client_error(Reply::tls_required());
        }
        let max = self.params.smtp.max_message_size.0;
        if params.size.is_some_and(|size| size > max) {
            return self.client_error(Reply::message_too_large(max));
        }
        if let Some(next) = self.storage_refusal(params.size.unwrap_or(0)) {
            return next;
        }
        if let Err(reply) = self.check_sender(&from) {
            tracing::info!(from = %from, code = reply.code, "sender refused");
            return self.client_error(reply);
        }
        self.ctx.mail_from = Some(from.mailbox().map(ToString::to_string).unwrap_or_default());
        self.ctx.rcpt_to.clear();
        self.check_envelope_sender().await;
        let results = match self.run_stage_before_data(StageInput::MailFrom, &[]).await {
            Ok(results) => results,
            Err(reply) => {
                self.ctx.annotations.truncate(self.session_annotations);
                return self.client_error(reply);
            }
        };
        let mut transaction = Transaction::new(from, params);
        transaction.results = results;
        self.phase = Phase::Transaction(Box::new(transaction));
        self.reply(Reply::sender_ok());
        Next::Continue
    }

    async fn handle_rcpt_to(&mut self, to: ForwardPath) -> Next {
        let max = self.params.smtp.max_recipients;
        let recipients = match self.phase.transaction_for_rcpt() {
            Ok(t) => t.recipients.len(),
            Err(reply) => return self.client_error(reply),
        };
        if recipients >= max {
            return self.client_error(Reply::too_many_recipients(max));
        }
        // The one spelling of the recipient: what is checked, filtered, queued and routed.
        let recipient = match self.params.relay.recipient(&to) {
            Ok(recipient) => recipient,
            Err(error) => return self.refuse_recipient(&to, reply_for_recipient(&error)),
        };
        if let Some(reply) = self.relay_refusal(&recipient) {
            return self.refuse_recipient(&recipient, reply);
        }
        let address = recipient.to_string();
        if let Err(reply) = self.take_recipient_allowance() {
            return self.client_error(reply);
        }
        let transaction_results: Vec<PluginResult> = match &self.phase {
            Phase::Transaction(t) => t.results.clone(),
            _ => Vec::new(),
        };
        let input = StageInput::RcptTo(address.clone());
        let results = match self
            .run_stage_before_data(input, &transaction_results)
            .await
        {
            Ok(results) => results,
            Err(reply) => return self.client_error(reply),
        };
        if let Err(reply) = self.verify_recipient(&address).await {
            return self.client_error(reply);
        }
        if let Ok(t) = self.phase.transaction_for_rcpt() {
            t.recipients.push(address.clone());
            t.results.extend(results);
        }
        self.ctx.rcpt_to.push(address);
        self.reply(Reply::recipient_ok());
        Next::Continue
    }

    /// Logs the refusal of `rcpt` and answers `reply`.
    fn refuse_recipient(&mut self, rcpt: &dyn std::fmt::Display, reply: Reply) -> Next {
        tracing::info!(rcpt = %rcpt, code = reply.code, "recipient refused");
        self.client_error(reply)
    }

    /// The reply refusing `recipient` under relay control, if it is refused. An
    /// authenticated user's mail may go to any domain (it leaves through MX); a protected
    /// domain's local-part and list checks apply to everyone.
    fn relay_refusal(&self, recipient: &Recipient) -> Option<Reply> {
        let authenticated = self.ctx.client.authenticated_user.is_some();
        match self.params.relay.check(recipient) {
            RecipientCheck::Accept => None,
            RecipientCheck::RelayDenied { .. } if authenticated => None,
            RecipientCheck::RelayDenied { domain } => Some(Reply::relay_denied(&domain)),
            RecipientCheck::UnknownUser => Some(Reply::unknown_recipient(&recipient.to_string())),
            RecipientCheck::RoutingInLocalPart => Some(Reply::routing_in_local_part()),
        }
    }

    /// Runs a stage before DATA and decides on everything so far (the session's results,
    /// `transaction` and this stage's): the stage's results, or the refusal to answer.
    pub(super) async fn run_stage_before_data(
        &mut self,
        input: StageInput,
        transaction: &[PluginResult],
    ) -> Result<Vec<PluginResult>, Reply> {
        let results = self.pipeline.run_stage(&mut self.ctx, &input).await;
        let all_results = self.results_with(transaction, &results);
        let decision = self.decide(&all_results);
        match refusal_before_data(&decision) {
            Some(reply) => {
                self.log_decision(None, input.stage(), &decision, &all_results, None, None);
                Err(reply)
            }
            None => Ok(results),
        }
    }

    fn handle_data(&mut self, mode: &mut Mode) -> Next {
        if let Err(reply) = self.phase.transaction_for_data() {
            return self.client_error(reply);
        }
        if let Some(next) = self.storage_refusal(0) {
            return next;
        }
        if let Err(reply) = self.reserve_for_message() {
            self.reply(reply);
            return Next::Continue;
        }
        *mode = self.data_mode();
        self.reply(Reply::start_data());
        Next::Continue
    }

    /// BDAT's bytes follow the command whatever the answer, so they are always read (and
    /// dropped when out of sequence) before the reply.
    async fn handle_bdat(&mut self, size: u64, last: bool, mode: &mut Mode) -> Next {
        let max = self.params.smtp.max_message_size.0;
        let (mut receiver, in_sequence, first) = match self.phase.transaction_for_data() {
            Ok(t) => match t.bdat.take() {
                Some(receiver) => (receiver, true, false),
                None => (BdatReceiver::new(max), true, true),
            },
            Err(_) => (BdatReceiver::new(max), false, false),
        };
        // The first chunk of a message takes its share of memory; without one the chunks
        // are still read (they follow the command), dropped and answered 452.
        if first && self.reserve_for_message().is_err() {
            self.over_budget = true;
            receiver.discard();
        }
        receiver.start_chunk(size, last);
        let mut chunk = BdatChunk {
            receiver,
            in_sequence,
            last,
        };
        if size == 0 {
            // A zero-size chunk (`BDAT 0 LAST`) has no bytes to wait for.
            if let (_, Some(end)) = chunk.receiver.ingest(&[]) {
                let reply = self.bdat_chunk(chunk, end).await;
                self.reply(reply);
                return Next::Continue;
            }
        }
        *mode = Mode::Bdat(chunk);
        Next::Continue
    }

    /// Refuses new mail the queue cannot take (the server's fault, so not a client error):
    /// `421 4.3.2` and the session ends once the queue's database failed (the server is
    /// restarting), `452 4.3.1` while its disk has less room than `[queue] min_free` (and,
    /// at MAIL, the `declared` SIZE). BDAT needs no check of its own: its bytes come with
    /// the command and are only written at the last chunk, which the queue refuses then.
    fn storage_refusal(&mut self, declared: u64) -> Option<Next> {
        if self.params.queue.failure().is_some() {
            self.reply(Reply::storage_failed(&self.params.hostname));
            return Some(Next::Close);
        }
        if let Err(shortage) = self.params.queue.space().for_mail(declared) {
            tracing::info!(%shortage, "mail refused: no room on the queue's disk");
            self.reply(Reply::storage_full());
            return Some(Next::Continue);
        }
        None
    }

    fn handle_starttls(&mut self) -> Next {
        if self.tls_active {
            return self.client_error(Reply::bad_sequence("TLS is already active"));
        }
        if self.params.tls.is_none() {
            return self.client_error(Reply::tls_not_available("no certificate is configured"));
        }
        self.reply(Reply::start_tls());
        Next::StartTls
    }

    /// Whether this listener requires TLS before mail: submission does (passwords and
    /// users' mail never in clear); the MX never does, since senders without TLS must
    /// still reach it (RFC 3207 §4).
    fn tls_required(&self) -> bool {
        self.kind.is_submission()
    }
}

/// The reply a filter decision before DATA gets, if it refuses.
fn refusal_before_data(decision: &Decision) -> Option<Reply> {
    match decision.action {
        Action::Reject => Some(Reply::rejected_before_data(&top_symbols(decision, 3))),
        Action::Tempfail => Some(Reply::tempfail_before_data()),
        _ => None,
    }
}

/// The reply to a forward path that names no recipient Moat can keep.
fn reply_for_recipient(error: &RecipientError) -> Reply {
    match error {
        RecipientError::NoPostmaster => Reply::unknown_recipient("postmaster"),
        RecipientError::InvalidDomain(reason) => {
            Reply::invalid_recipient_domain(&reason.to_string())
        }
    }
}

/// The reply to a command line that could not be parsed.
fn reply_for(error: &CommandError) -> Reply {
    match error {
        CommandError::Empty => Reply::syntax_error("empty command"),
        CommandError::ContainsNul => Reply::nul_in_command(),
        CommandError::UnknownCommand { .. } => Reply::unknown_command(),
        CommandError::Syntax { reason } => Reply::syntax_error(reason),
        CommandError::InvalidHelo { reason } => {
            Reply::syntax_error(&format!("invalid EHLO/HELO argument: {reason}"))
        }
        CommandError::InvalidAddress {
            reason: AddressError::NonAscii,
        } => Reply::utf8_not_declared(),
        CommandError::InvalidAddress { reason } => Reply::invalid_address(&reason.to_string()),
        CommandError::UnknownParameter { name } => Reply::unknown_parameter(name),
        CommandError::InvalidParameter { name, reason } => Reply::invalid_parameter(name, reason),
        CommandError::DuplicateParameter { name } => Reply::invalid_parameter(name, "given twice"),
    }
}
