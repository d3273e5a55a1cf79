//! The learning endpoints: teach the running server's learning plugins (bayes) a message,
//! and read what they have learnt. `moat learn` uses them while the server runs, since
//! the plugins' kv store is the server's then.

use hyper::StatusCode;
use serde_json::{Value, json};

use super::router::{Failure, Reply, json};
use super::server::AdminContext;
use crate::decisions::{LabelEvent, Truth};
use crate::filter::pipeline::{Label, LearnOutcome, STATS_PREFIX};
use crate::message::{MessageHandle, ParsedMessage};

/// What `POST /learn/WHAT` asks.
#[derive(Debug, Clone, Copy)]
pub(super) enum Lesson {
    /// Learn as this label.
    Learn(Label),
    /// Unlearn, whatever it was learnt as.
    Forget,
}

impl Lesson {
    /// `spam`, `ham` or `forget`.
    pub(super) fn parse(what: &str) -> Result<Self, Failure> {
        match what {
            "spam" => Ok(Self::Learn(Label::Spam)),
            "ham" => Ok(Self::Learn(Label::Ham)),
            "forget" => Ok(Self::Forget),
            other => Err(Failure::new(
                StatusCode::NOT_FOUND,
                format!("no lesson {other:?}: spam, ham or forget"),
            )),
        }
    }
}

/// `POST /learn/{spam,ham,forget}[?plugin=NAME]` with one message as the body: each
/// learning plugin's outcome, as `[{"plugin", "outcome", "detail"?}]` (outcome: `done`,
/// `unchanged`, `unsupported`, `refused` or `failed`).
pub(super) async fn learn(
    context: &AdminContext,
    lesson: Lesson,
    plugin: Option<&str>,
    body: Vec<u8>,
) -> Result<Reply, Failure> {
    let parsed = ParsedMessage::parse(body).map_err(|error| {
        Failure::new(StatusCode::BAD_REQUEST, format!("not a message: {error}"))
    })?;
    let message = MessageHandle::new(parsed);
    let (label, forget) = match lesson {
        Lesson::Learn(label) => (label, false),
        Lesson::Forget => (Label::Spam, true),
    };
    let pipeline = context.pipeline.current();
    let mut results = Vec::new();
    for loaded in pipeline
        .plugins()
        .iter()
        .filter(|p| plugin.is_none_or(|name| p.name == name))
    {
        let report = pipeline.learn(loaded, message.clone(), label, forget).await;
        let (outcome, detail) = match report.result {
            Ok(Ok(LearnOutcome::Done)) => ("done", None),
            Ok(Ok(LearnOutcome::Unchanged)) => ("unchanged", None),
            Ok(Ok(LearnOutcome::Unsupported)) => ("unsupported", None),
            Ok(Err(reason)) => ("refused", Some(reason)),
            Err(error) => ("failed", Some(error.to_string())),
        };
        results.push(json!({ "plugin": loaded.name, "outcome": outcome, "detail": detail }));
    }
    if results.is_empty() {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            format!("no plugin named {} is loaded", plugin.unwrap_or("(any)")),
        ));
    }
    let log = &context.decisions;
    log.label(LabelEvent::learnt(&message, truth_of(lesson), log.now_ms()));
    Ok(json(StatusCode::OK, &Value::Array(results)))
}

/// What a lesson says the message is, for the decision log.
pub(super) fn truth_of(lesson: Lesson) -> Option<Truth> {
    match lesson {
        Lesson::Learn(label) => Some(Truth::from(label)),
        Lesson::Forget => None,
    }
}

/// `GET /learn/stats`: each plugin with learning counters, as
/// `[{"plugin", "keys", "counters": {NAME: VALUE}}]`.
pub(super) async fn stats(context: &AdminContext) -> Result<Reply, Failure> {
    let pipeline = context.pipeline.current();
    let stats = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for plugin in pipeline.plugins() {
            let Some(kv) = plugin.host.kv.as_ref() else {
                continue;
            };
            let counters = kv
                .scan_prefix(STATS_PREFIX, None, 1000)
                .map_err(|error| format!("cannot read {}'s store: {error}", plugin.name))?;
            if counters.is_empty() {
                continue;
            }
            let counters: serde_json::Map<String, Value> = counters
                .into_iter()
                .map(|(key, value)| {
                    let name = key.strip_prefix(STATS_PREFIX).unwrap_or(&key).to_owned();
                    let value = <[u8; 8]>::try_from(value.as_slice()).map_or_else(
                        |_| json!(String::from_utf8_lossy(&value)),
                        |bytes| json!(i64::from_le_bytes(bytes)),
                    );
                    (name, value)
                })
                .collect();
            out.push(json!({
                "plugin": plugin.name,
                "keys": kv.len().unwrap_or_default(),
                "counters": counters,
            }));
        }
        Ok::<_, String>(out)
    })
    .await
    .map_err(|_| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "stats panicked".into()))?
    .map_err(|error| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, error))?;
    Ok(json(StatusCode::OK, &Value::Array(stats)))
}
