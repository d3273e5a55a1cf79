//! A decision record for the module's tests to change what they test.

use super::record::{DecisionRecord, LoggedClient};
use crate::config::Stage;
use crate::filter::Action;
use crate::filter::pipeline::Direction;

/// An inbound message accepted at DATA with a score of 0 and no plugin answers.
pub(super) fn record() -> DecisionRecord {
    DecisionRecord {
        time: 1,
        queue_id: None,
        digest: String::new(),
        message_id: None,
        subject: None,
        direction: Direction::Inbound,
        stage: Stage::Data,
        client: LoggedClient {
            ip: "192.0.2.1".into(),
            helo: None,
            reverse_dns: None,
            user: None,
        },
        mail_from: String::new(),
        rcpt_to: Vec::new(),
        action: Action::Accept,
        score: 0.0,
        results: Vec::new(),
    }
}
