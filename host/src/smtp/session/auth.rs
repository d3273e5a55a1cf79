//! The submission side of a session: AUTH (PLAIN, LOGIN; only over TLS, with failed logins
//! counted and locked out), and the checks that pin an authenticated user's mail to
//! addresses the account owns and to its sending allowance. Passwords are never logged.

use super::state::Phase;
use super::{Next, Session};
use crate::auth::{Exceeded, Refusal, Submission};
use crate::filter::pipeline::StageInput;
use crate::message::ParsedMessage;
use crate::smtp::metrics::LoginOutcome;
use crate::smtp::proto::{Credentials, ReversePath, SaslError, SaslExchange, SaslStep};
use crate::smtp::reply::Reply;

impl Session {
    /// The submission accounts, on a submission listener.
    fn submission(&self) -> Option<std::sync::Arc<Submission>> {
        if self.kind.is_submission() {
            self.params.submission.clone()
        } else {
            None
        }
    }

    /// `AUTH mechanism [initial-response]`.
    pub(super) async fn handle_auth(&mut self, mechanism: &str, initial: Option<String>) -> Next {
        let Some(submission) = self.submission() else {
            return self.client_error(Reply::auth_not_available());
        };
        if !self.tls_active {
            return self.client_error(Reply::auth_needs_tls());
        }
        if self.ctx.client.authenticated_user.is_some() {
            return self.client_error(Reply::already_authenticated());
        }
        match self.phase {
            Phase::Greeting => return self.client_error(Reply::bad_sequence("send EHLO first")),
            Phase::Transaction(_) => {
                return self.client_error(Reply::bad_sequence(
                    "AUTH is not allowed during a mail transaction",
                ));
            }
            Phase::Ready => {}
        }
        if let Some(locked) = submission.failures.address_locked(self.ctx.client.ip) {
            self.params.metrics.login(LoginOutcome::LockedOut);
            tracing::info!(
                remaining_s = locked.remaining.as_secs(),
                "login refused: address locked out"
            );
            return self.client_error(Reply::auth_locked_out(
                false,
                locked.remaining.as_secs() + 1,
            ));
        }
        let step = SaslExchange::start(mechanism, initial.as_deref());
        self.sasl_step(step).await
    }

    /// The client's response to a `334` challenge.
    pub(super) async fn continue_auth(&mut self, exchange: SaslExchange, line: &[u8]) -> Next {
        let step = exchange.respond(line);
        self.sasl_step(step).await
    }

    async fn sasl_step(
        &mut self,
        step: Result<(Option<SaslExchange>, SaslStep), SaslError>,
    ) -> Next {
        match step {
            Ok((next, SaslStep::Challenge(challenge))) => {
                self.sasl = next;
                self.reply(Reply::auth_challenge(&challenge));
                Next::Continue
            }
            Ok((_, SaslStep::Done(credentials))) => self.log_in(credentials).await,
            Err(SaslError::UnknownMechanism) => self.client_error(Reply::auth_mechanism_unknown()),
            Err(SaslError::Cancelled) => self.client_error(Reply::auth_cancelled()),
            Err(SaslError::Malformed) => self.client_error(Reply::auth_malformed()),
            Err(SaslError::AuthzidMismatch) => self.client_error(Reply::auth_failed()),
        }
    }

    async fn log_in(&mut self, credentials: Credentials) -> Next {
        let Some(submission) = self.submission() else {
            return self.client_error(Reply::auth_not_available());
        };
        let ip = self.ctx.client.ip;
        // The guess is taken before the password is checked, so parallel sessions share
        // one allowance of guesses; and the checks at once are bounded.
        let attempt = match submission.failures.begin(ip, &credentials.login) {
            Ok(attempt) => attempt,
            Err(Refusal::Locked(locked)) => {
                self.params.metrics.login(LoginOutcome::LockedOut);
                tracing::info!(user = %credentials.login, account = locked.account, "login refused: locked out");
                return self.client_error(Reply::auth_locked_out(
                    locked.account,
                    locked.remaining.as_secs() + 1,
                ));
            }
            Err(Refusal::Busy) => return self.login_busy(&credentials.login),
        };
        let Ok(_check) = submission.checks.try_acquire() else {
            return self.login_busy(&credentials.login);
        };
        match submission
            .directory
            .verify(&credentials.login, &credentials.password)
            .await
        {
            Some(account) => {
                attempt.succeeded();
                self.params.metrics.login(LoginOutcome::Succeeded);
                tracing::info!(user = %account.address, "authenticated");
                self.ctx.client.authenticated_user = Some(account.address);
                if let Some(refusal) = self.run_stages_held_for_login().await {
                    tracing::info!(
                        code = refusal.code,
                        "authenticated session refused by filters"
                    );
                    self.refused = true;
                    return self.client_error(refusal);
                }
                self.reply(Reply::auth_succeeded());
                Next::Continue
            }
            None => {
                let locked = attempt.failed();
                self.params.metrics.login(LoginOutcome::Failed);
                tracing::warn!(user = %credentials.login, locked_out = locked, "authentication failed");
                self.client_error(Reply::auth_failed())
            }
        }
    }

    /// A login not checked because too many are being checked at once.
    fn login_busy(&mut self, login: &str) -> Next {
        self.params.metrics.login(LoginOutcome::Busy);
        tracing::info!(user = %login, "login refused: too many at once");
        self.client_error(Reply::auth_busy())
    }

    /// The connect and HELO stages, which a submission listener holds until the login
    /// (see `greet`), with the user known to the plugins. Their results count for every
    /// message of the session, as they would have from the greeting. A refusal (the
    /// reply) leaves the session refused: every later command but QUIT is.
    async fn run_stages_held_for_login(&mut self) -> Option<Reply> {
        // AUTH comes after EHLO, so the HELO name is known.
        let mut results = Vec::new();
        for input in [StageInput::Connect, StageInput::Helo] {
            match self.run_stage_before_data(input, &results).await {
                Ok(stage) => results.extend(stage),
                Err(reply) => return Some(reply),
            }
        }
        self.session_results.extend(results);
        self.session_annotations = self.ctx.annotations.len();
        None
    }

    /// On a submission listener: MAIL needs a login, a sender the account owns, and
    /// allowance left. Elsewhere: nothing to check.
    pub(super) fn check_sender(&self, from: &ReversePath) -> Result<(), Reply> {
        let Some(submission) = self.submission() else {
            return Ok(());
        };
        let Some(user) = &self.ctx.client.authenticated_user else {
            return Err(Reply::auth_required());
        };
        let address = from.mailbox().map(ToString::to_string).unwrap_or_default();
        if !owned_by(&submission, user, &address) {
            return Err(Reply::sender_not_owned("Sender", &address, user));
        }
        submission.sending.message(user).map_err(limit_reply)
    }

    /// On a submission listener, each recipient counts against the account's allowance.
    pub(super) fn take_recipient_allowance(&self) -> Result<(), Reply> {
        match (self.submission(), &self.ctx.client.authenticated_user) {
            (Some(submission), Some(user)) => {
                submission.sending.recipient(user).map_err(limit_reply)
            }
            _ => Ok(()),
        }
    }

    /// On a submission listener, every From address must be the account's own (a message
    /// without one is refused too: the recipient would not know who sent it).
    pub(super) fn check_from_header(&self, message: &ParsedMessage) -> Result<(), Reply> {
        let (Some(submission), Some(user)) =
            (self.submission(), &self.ctx.client.authenticated_user)
        else {
            return Ok(());
        };
        let from = message.from_addresses();
        if from.is_empty() {
            return Err(Reply::sender_not_owned("From header", "", user));
        }
        match from.iter().find(|a| !owned_by(&submission, user, a)) {
            Some(foreign) => {
                tracing::info!(from_header = %foreign, "message refused: From not owned");
                Err(Reply::sender_not_owned("From header", foreign, user))
            }
            None => Ok(()),
        }
    }
}

/// Whether `user`'s account (as the users file has it now) owns `address`.
fn owned_by(submission: &Submission, user: &str, address: &str) -> bool {
    submission
        .directory
        .current()
        .find(user)
        .is_some_and(|account| account.owns(address))
}

fn limit_reply(exceeded: Exceeded) -> Reply {
    match exceeded {
        Exceeded::Messages(n) => Reply::sending_limit("messages", n),
        Exceeded::Recipients(n) => Reply::sending_limit("recipients", n),
    }
}
