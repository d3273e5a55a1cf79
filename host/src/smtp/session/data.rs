//! The end of a message: parse it once, run the data stage, decide, and act on the
//! decision — refuse it, or put it on disk (queue or quarantine) and only then answer 250.

use std::sync::Arc;

use password_hash::rand_core::{OsRng, RngCore as _};

use super::Session;
use crate::config::Stage;
use crate::filter::pipeline::{ClientInfo, StageInput};
use crate::filter::{Action, Decision};
use crate::message::ParsedMessage;
use crate::queue::{MessageBytes, NewMessage, QueueError, QueueId};
use crate::sender_auth::{Path, authentication_results};
use crate::smtp::budget::Reservation;
use crate::smtp::header_fields::hop_count;
use crate::smtp::headers::{
    ReceivedFields, missing_origin_fields, received, top_symbols, verdict_fields,
};
use crate::smtp::proto::{Body, MessageData};
use crate::smtp::reply::Reply;

impl Session {
    /// Filters a complete message and answers for it.
    pub(super) async fn finish_message(&mut self, data: MessageData) -> Reply {
        let Some(transaction) = self.phase.take_transaction() else {
            return Reply::bad_sequence("no transaction open");
        };
        self.messages += 1;
        self.commands = 0;
        let reply = self.filter_and_store(data, &transaction).await;
        self.ctx.annotations.truncate(self.session_annotations);
        self.ctx.sender_auth = None;
        reply
    }

    async fn filter_and_store(
        &mut self,
        data: MessageData,
        transaction: &super::state::Transaction,
    ) -> Reply {
        // The message's share of memory goes with its bytes, until its outcome is done.
        let reservation = self.take_reservation();
        if data.has_nul {
            return Reply::nul_in_data();
        }
        let hops = hop_count(&data.bytes);
        if hops >= self.params.smtp.max_hops {
            tracing::warn!(hops, "message refused: too many hops (a mail loop)");
            return Reply::too_many_hops(hops);
        }
        // The message as sent is kept beside the stripped one while its signatures are
        // checked: a stripped field may be a signed one.
        let (bytes, as_sent) = match self.params.strip.strip(&data.bytes) {
            Some(stripped) => (stripped, Some(data.bytes)),
            None => (data.bytes, None),
        };
        let Ok(message) = ParsedMessage::parse(bytes) else {
            return Reply::not_a_message();
        };
        if let Err(reply) = self.check_from_header(&message) {
            return reply;
        }
        self.check_message_sender(as_sent.as_deref().unwrap_or(message.raw()), &message)
            .await;
        drop(as_sent);
        let message = Arc::new(message);
        // Behind a trusted relay, the plugins judge the first hop outside it, as the
        // sender checks do and `moat check` does; the relay stays the session's client.
        let relay = self
            .origin_behind_relay(&message)
            .map(|origin| std::mem::replace(&mut self.ctx.client, origin));
        let results = self
            .pipeline
            .run_stage(&mut self.ctx, &StageInput::Data(message.clone()))
            .await;
        let origin = relay.map(|relay| std::mem::replace(&mut self.ctx.client, relay));
        let all_results = self.results_with(&transaction.results, &results);
        let decision = self.decide(&all_results);
        self.params.metrics.message(decision.action);
        let (reply, queue_id) = self.apply_decision(&decision, &message, transaction).await;
        self.log_decision(
            origin.as_ref(),
            Stage::Data,
            &decision,
            &all_results,
            Some(&message),
            queue_id.as_ref().map(ToString::to_string),
        );
        // The one line per message an operator greps for (the session's span adds the
        // session id and client IP).
        let symbols = if decision.report.iter().any(|l| l.contribution > 0.0) {
            top_symbols(&decision, 5)
        } else {
            "-".to_owned()
        };
        tracing::info!(
            queue_id = %queue_id.map_or_else(|| "-".to_owned(), |id| id.to_string()),
            from = %transaction.from,
            rcpts = %transaction.recipients.join(","),
            action = decision.action.as_str(),
            score = decision.score,
            symbols = %symbols,
            reply = reply.code,
            "message"
        );
        self.learn_outcome(decision, message, reservation, origin);
        reply
    }

    /// The client a message from a trusted relay (`[relay] trusted_relays`) is judged
    /// as: the first hop of its Received chain outside the relays; `None` when the
    /// client is not a trusted relay, has logged in, or the chain names no such hop.
    fn origin_behind_relay(&self, message: &ParsedMessage) -> Option<ClientInfo> {
        let relays = &self.params.sender_auth.relays;
        // A user who logged in is judged as who they are, wherever the relay got it.
        if self.ctx.client.authenticated_user.is_some() || !relays.trusts(self.ctx.client.ip) {
            return None;
        }
        match relays.path(&message.received_hops()) {
            Path::From(origin) => Some(ClientInfo {
                ip: origin.ip,
                port: 0,
                reverse_dns: origin.reverse_dns,
                helo: origin.helo,
                tls: None,
                authenticated_user: None,
            }),
            Path::Inside | Path::Unreadable => None,
        }
    }

    /// The reply to the end of data, and the queue id when the message was stored.
    async fn apply_decision(
        &self,
        decision: &Decision,
        message: &ParsedMessage,
        transaction: &super::state::Transaction,
    ) -> (Reply, Option<QueueId>) {
        match decision.action {
            Action::Reject => (Reply::message_rejected(&top_symbols(decision, 3)), None),
            Action::Tempfail => (Reply::message_tempfail(), None),
            Action::Accept | Action::Tag | Action::Quarantine => {
                let stored = self.stored_bytes(decision, message, transaction);
                let envelope = NewMessage {
                    mail_from: transaction
                        .from
                        .mailbox()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    recipients: transaction.recipients.clone(),
                    client_ip: self.ctx.client.ip.to_string(),
                    helo: self.ctx.client.helo.clone().unwrap_or_default(),
                    authenticated_user: self.ctx.client.authenticated_user.clone(),
                    smtputf8: transaction.params.smtputf8,
                    eight_bit_mime: matches!(
                        transaction.params.body,
                        Some(Body::EightBitMime | Body::BinaryMime)
                    ),
                    spam: decision.action == Action::Tag,
                };
                let stored = if decision.action == Action::Quarantine {
                    self.params
                        .queue
                        .quarantine(
                            envelope,
                            stored,
                            crate::filter::report::to_json(decision).to_string(),
                        )
                        .await
                } else {
                    self.params.queue.enqueue(envelope, stored).await
                };
                match stored {
                    Ok(id) => (Reply::queued(&id.to_string()), Some(id)),
                    Err(error @ QueueError::NoRoom { .. }) => {
                        tracing::info!(%error, "message refused with 452");
                        (Reply::storage_full(), None)
                    }
                    // A failed write: the server logs it once, and restarts.
                    Err(error @ QueueError::DiskFull { .. }) => {
                        tracing::warn!(%error, "message refused with 452");
                        (Reply::storage_full(), None)
                    }
                    Err(error) => {
                        tracing::warn!(%error, "queue write failed: message refused with 451");
                        (Reply::local_error(), None)
                    }
                }
            }
        }
    }

    /// The message as it goes on disk: our Received field, the Date and Message-ID an
    /// authenticated user's message lacks, the verdict fields (`[headers]`; on submission
    /// listeners only with `submission = true`), then the message exactly as received,
    /// built in one buffer (the received bytes are not copied twice).
    fn stored_bytes(
        &self,
        decision: &Decision,
        message: &ParsedMessage,
        transaction: &super::state::Transaction,
    ) -> MessageBytes {
        let protocol = match (
            self.tls_active,
            self.ctx.client.authenticated_user.is_some(),
        ) {
            (true, true) => "ESMTPSA",
            (true, false) => "ESMTPS",
            (false, true) => "ESMTPA",
            (false, false) => "ESMTP",
        };
        let now = self.params.clock.now_secs();
        let id = format!("{}.{}", self.id, self.messages);
        let single =
            (transaction.recipients.len() == 1).then(|| transaction.recipients[0].as_str());
        let mut out = received(&ReceivedFields {
            client: &self.ctx.client,
            hostname: &self.params.hostname,
            protocol,
            id: &id,
            single_recipient: single,
            now,
        })
        .into_bytes();
        if self.ctx.client.authenticated_user.is_some() {
            let origin = missing_origin_fields(
                message.header("Date").is_some(),
                message.header("Message-ID").is_some(),
                &self.params.hostname,
                now,
                OsRng.next_u64(),
            );
            out.extend_from_slice(origin.as_bytes());
        }
        if let (Some(authserv_id), Some(results)) =
            (&self.params.sender_auth.authserv_id, &self.ctx.sender_auth)
        {
            out.extend_from_slice(authentication_results(authserv_id, results).as_bytes());
        }
        let headers = &self.params.headers;
        if headers.on(self.kind) {
            let required = self.pipeline.thresholds_for(self.direction()).tag;
            out.extend_from_slice(verdict_fields(decision, required, headers).as_bytes());
        }
        if self.ctx.client.authenticated_user.is_some() {
            let signatures = self.dkim_signatures(message, &out);
            if !signatures.is_empty() {
                out.splice(0..0, signatures.into_bytes());
            }
        }
        MessageBytes::joined(&out, message.raw())
    }

    /// Runs the outcome stage in the background (as `origin` when the message came
    /// through a trusted relay): learning must not delay the reply. At
    /// most `outcomes` run at once: past that, this message teaches nothing (learning is
    /// best effort; a backlog of messages waiting to teach would hold their memory).
    fn learn_outcome(
        &self,
        decision: Decision,
        message: Arc<ParsedMessage>,
        reservation: Option<Reservation>,
        origin: Option<ClientInfo>,
    ) {
        let Ok(slot) = Arc::clone(&self.params.outcomes).try_acquire_owned() else {
            tracing::warn!("outcome stage skipped: too many running");
            return;
        };
        let pipeline = self.pipeline.clone();
        let mut ctx = self.ctx.clone();
        if let Some(origin) = origin {
            ctx.client = origin;
        }
        tokio::spawn(async move {
            pipeline.run_outcome(&ctx, &decision, Some(&message)).await;
            drop((slot, reservation, message));
        });
    }
}

/// Turns every CR or LF that is not part of a CRLF pair into CRLF.
pub(super) fn normalize_line_endings(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 64);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_line_endings;

    #[test]
    fn bare_cr_and_lf_become_crlf_and_crlf_stays() {
        assert_eq!(
            normalize_line_endings(b"a\nb\rc\r\nd\n\re"),
            b"a\r\nb\r\nc\r\nd\r\n\r\ne"
        );
    }
}
