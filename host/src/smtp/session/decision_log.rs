//! The session's entries in the decision log (`crate::decisions`): every message's
//! decision, and every refusal before DATA, with the plugin answers it was made from.

use super::Session;
use crate::config::Stage;
use crate::decisions::{DecisionRecord, LoggedClient, LoggedResult, MessageIdentity};
use crate::filter::pipeline::ClientInfo;
use crate::filter::{Decision, PluginResult};
use crate::message::ParsedMessage;

impl Session {
    /// Logs `decision`, taken at `stage` from `results`, on `message` (none before DATA),
    /// stored under `queue_id` when it was; `judged` is the client the plugins judged
    /// when it is not the session's (the origin behind a trusted relay).
    pub(super) fn log_decision(
        &self,
        judged: Option<&ClientInfo>,
        stage: Stage,
        decision: &Decision,
        results: &[PluginResult],
        message: Option<&ParsedMessage>,
        queue_id: Option<String>,
    ) {
        let log = &self.params.decisions;
        if !log.is_enabled() {
            return;
        }
        let identity = message.map(MessageIdentity::of);
        let client = judged.unwrap_or(&self.ctx.client);
        log.record(DecisionRecord {
            time: self.params.clock.now_ms(),
            queue_id,
            digest: identity
                .as_ref()
                .map(|i| i.digest.clone())
                .unwrap_or_default(),
            message_id: identity.and_then(|i| i.message_id),
            subject: message.and_then(DecisionRecord::subject_of),
            direction: self.direction(),
            stage,
            client: LoggedClient {
                ip: client.ip.to_string(),
                helo: client.helo.clone(),
                reverse_dns: client.reverse_dns.clone(),
                user: client.authenticated_user.clone(),
            },
            mail_from: self.ctx.mail_from.clone().unwrap_or_default(),
            rcpt_to: self.ctx.rcpt_to.clone(),
            action: decision.action,
            score: decision.score,
            results: LoggedResult::all(results, self.pipeline.plugins()),
        });
    }
}
