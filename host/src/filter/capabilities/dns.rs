//! `dns`: lookups through the shared, caching resolver, within the call's DNS budget.
//!
//! Each plugin call may ask so many questions and wait so long on DNS over all its lookups
//! ([`DnsBudget`], from the plugin's `dns_max_questions` and `dns_time_budget`). Beyond
//! it, lookups are answered without being asked, with errors a plugin already handles: a
//! question over the count is refused (`server-failure`), and once the time is spent a
//! lookup is cut off (`timeout`). So a plugin that loops over lookups, or waits on a slow
//! resolver, still answers within its time budget.

use std::time::{Duration, Instant};

use crate::config::Capability;
use crate::dns::{LookupError, RecordKind};
use crate::filter::bindings::moat::filter::dns::{DnsError, Host, Question, RecordKind as WitKind};
use crate::filter::store::StoreState;

/// The most questions one `lookup-all` call may ask.
const MAX_QUESTIONS: usize = 64;

fn kind(kind: WitKind) -> RecordKind {
    match kind {
        WitKind::A => RecordKind::A,
        WitKind::Aaaa => RecordKind::Aaaa,
        WitKind::Txt => RecordKind::Txt,
        WitKind::Mx => RecordKind::Mx,
        WitKind::Ptr => RecordKind::Ptr,
    }
}

fn error(error: LookupError) -> DnsError {
    match error {
        LookupError::NotFound => DnsError::NotFound,
        LookupError::Timeout => DnsError::Timeout,
        LookupError::ServerFailure => DnsError::ServerFailure,
        LookupError::InvalidName => DnsError::InvalidName,
    }
}

/// What one plugin call may still spend on DNS: questions, and time waiting for answers.
#[derive(Debug)]
pub struct DnsBudget {
    questions: u32,
    time: Duration,
    /// Whether running out has been logged (once per call).
    told: bool,
}

impl DnsBudget {
    /// A budget of `questions` questions and `time` of waiting.
    pub fn new(questions: u32, time: Duration) -> Self {
        Self {
            questions,
            time,
            told: false,
        }
    }

    /// Takes up to `wanted` questions from the budget; how many it may ask.
    pub fn take(&mut self, wanted: usize) -> usize {
        let granted = u32::try_from(wanted)
            .unwrap_or(u32::MAX)
            .min(self.questions);
        self.questions -= granted;
        granted as usize
    }

    /// The waiting time left.
    pub fn time_left(&self) -> Duration {
        self.time
    }

    /// Spends `waited` of the time.
    pub fn spend(&mut self, waited: Duration) {
        self.time = self.time.saturating_sub(waited);
    }

    /// Logs, once per call, that the budget ran out.
    fn tell(&mut self, plugin: &str, session_id: &str, what: &str) {
        if !self.told {
            self.told = true;
            tracing::warn!(
                plugin,
                session_id,
                "{what}: further lookups of this call are answered without asking"
            );
        }
    }
}

impl StoreState {
    /// Asks `questions` within the call's budget: answers in order, those over the
    /// question count refused, all of them `timeout` if the time runs out first.
    async fn ask(
        &mut self,
        questions: Vec<(String, RecordKind)>,
    ) -> Vec<Result<Vec<String>, DnsError>> {
        let session_id = self.session_id.clone();
        let plugin = self.host.name.clone();
        if self.dns.time_left().is_zero() {
            self.dns.tell(&plugin, &session_id, "DNS time budget spent");
            return questions.iter().map(|_| Err(DnsError::Timeout)).collect();
        }
        let asked = self.dns.take(questions.len());
        if asked < questions.len() {
            self.dns
                .tell(&plugin, &session_id, "DNS question budget spent");
        }
        let Some(resolver) = self.host.services.resolver.clone() else {
            return questions
                .iter()
                .map(|_| Err(DnsError::ServerFailure))
                .collect();
        };
        let time = self.dns.time_left();
        let started = Instant::now();
        let answers = match &questions[..asked] {
            [] => Ok(Vec::new()),
            [(name, kind)] => tokio::time::timeout(time, resolver.lookup(name, *kind))
                .await
                .map(|answer| vec![answer]),
            some => tokio::time::timeout(time, resolver.lookup_all(some)).await,
        };
        self.dns.spend(started.elapsed());
        let mut answers: Vec<_> = match answers {
            Ok(answers) => answers.into_iter().map(|a| a.map_err(error)).collect(),
            Err(_elapsed) => {
                self.dns.tell(&plugin, &session_id, "DNS time budget spent");
                vec![Err(DnsError::Timeout); asked]
            }
        };
        answers.resize(questions.len(), Err(DnsError::ServerFailure));
        answers
    }
}

impl Host for StoreState {
    async fn lookup(&mut self, q: Question) -> wasmtime::Result<Result<Vec<String>, DnsError>> {
        if !self.host.dns_granted {
            self.host.deny(Capability::Dns);
            return Ok(Err(DnsError::Denied));
        }
        let mut answers = self.ask(vec![(q.name, kind(q.kind))]).await;
        Ok(answers.pop().unwrap_or(Err(DnsError::ServerFailure)))
    }

    async fn lookup_all(
        &mut self,
        qs: Vec<Question>,
    ) -> wasmtime::Result<Vec<Result<Vec<String>, DnsError>>> {
        if !self.host.dns_granted {
            self.host.deny(Capability::Dns);
            return Ok(qs.iter().map(|_| Err(DnsError::Denied)).collect());
        }
        if qs.len() > MAX_QUESTIONS {
            return Ok(qs.iter().map(|_| Err(DnsError::InvalidName)).collect());
        }
        let questions = qs.into_iter().map(|q| (q.name, kind(q.kind))).collect();
        Ok(self.ask(questions).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_grants_questions_until_it_is_spent() {
        let mut budget = DnsBudget::new(5, Duration::from_millis(100));
        assert_eq!(budget.take(3), 3);
        assert_eq!(budget.take(3), 2);
        assert_eq!(budget.take(1), 0);
        budget.spend(Duration::from_millis(60));
        assert_eq!(budget.time_left(), Duration::from_millis(40));
        budget.spend(Duration::from_millis(60));
        assert!(budget.time_left().is_zero());
    }
}
