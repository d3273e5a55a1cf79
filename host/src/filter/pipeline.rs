//! Running a stage across the plugins: each plugin that wants the stage is called in order
//! (later plugins see earlier plugins' annotations), each call in a fresh store with its
//! deadline and memory cap; whatever a call does wrong becomes a [`PluginError`].

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use wasmtime::component::Resource;
use wasmtime::{Store, Trap, UpdateDeadline};

use super::Stage;
use super::bindings::PluginPre;
use super::bindings::exports::moat::filter::filter::Guest;
use super::bindings::moat::filter::types as wit;
use super::capabilities::PluginHost;
use super::combine::{self, Decision, PluginOutcome, PluginResult, WeightTable};
use super::engine::FilterEngine;
use super::error::PluginError;
use super::plugin::{CallLimits, LoadedPlugin, PluginInfo};
use super::store::{MemoryLimitExceeded, StoreState};
use super::verdict::{Annotation, Verdict};
use crate::config::Thresholds;
use crate::message::MessageHandle;
use crate::sender_auth::SenderAuthResults;

/// The TLS session of a client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// e.g. "TLSv1.3".
    pub version: String,
    /// e.g. "TLS13_AES_256_GCM_SHA384".
    pub cipher: String,
}

/// What is known of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Its address.
    pub ip: IpAddr,
    /// Its source port.
    pub port: u16,
    /// Its verified reverse DNS name.
    pub reverse_dns: Option<String>,
    /// Its EHLO/HELO name.
    pub helo: Option<String>,
    /// Its TLS session.
    pub tls: Option<TlsInfo>,
    /// Its SMTP-AUTH identity.
    pub authenticated_user: Option<String>,
}

/// The context plugins are called with, built up as the SMTP conversation goes on.
#[derive(Debug, Clone)]
pub struct SessionContext {
    /// Session (or check) id for log correlation.
    pub id: Arc<str>,
    /// The client.
    pub client: ClientInfo,
    /// Envelope sender: `None` before MAIL FROM, `Some("")` for the null sender.
    pub mail_from: Option<String>,
    /// Recipients accepted so far.
    pub rcpt_to: Vec<String>,
    /// Annotations from plugins that already ran for this message.
    pub annotations: Vec<Annotation>,
    /// What sender authentication found for the message so far (SPF from MAIL FROM on,
    /// the rest from DATA on); `None` where nothing was checked.
    pub sender_auth: Option<Arc<SenderAuthResults>>,
}

impl SessionContext {
    /// The context of a fresh connection from `client`: nothing known yet but its address.
    pub fn connected(id: Arc<str>, client: std::net::SocketAddr) -> Self {
        Self {
            id,
            client: ClientInfo {
                ip: client.ip(),
                port: client.port(),
                reverse_dns: None,
                helo: None,
                tls: None,
                authenticated_user: None,
            },
            mail_from: None,
            rcpt_to: Vec::new(),
            annotations: Vec::new(),
            sender_auth: None,
        }
    }

    fn to_wit(&self) -> wit::Session {
        wit::Session {
            id: self.id.to_string(),
            client: wit::ClientInfo {
                ip: self.client.ip.to_string(),
                port: self.client.port,
                reverse_dns: self.client.reverse_dns.clone(),
                helo: self.client.helo.clone(),
                tls: self.client.tls.as_ref().map(|t| wit::TlsInfo {
                    version: t.version.clone(),
                    cipher: t.cipher.clone(),
                }),
                authenticated_user: self.client.authenticated_user.clone(),
            },
            envelope: wit::Envelope {
                mail_from: self.mail_from.clone(),
                rcpt_to: self.rcpt_to.clone(),
            },
            annotations: self
                .annotations
                .iter()
                .map(|a| wit::Annotation {
                    key: a.key.clone(),
                    value: a.value.clone(),
                })
                .collect(),
        }
    }
}

/// What a stage call passes besides the session.
#[derive(Clone)]
pub enum StageInput {
    /// Connect.
    Connect,
    /// EHLO/HELO.
    Helo,
    /// MAIL FROM.
    MailFrom,
    /// RCPT TO with this recipient.
    RcptTo(String),
    /// The message.
    Data(MessageHandle),
}

impl StageInput {
    /// The stage this input belongs to.
    pub fn stage(&self) -> Stage {
        match self {
            StageInput::Connect => Stage::Connect,
            StageInput::Helo => Stage::Helo,
            StageInput::MailFrom => Stage::MailFrom,
            StageInput::RcptTo(_) => Stage::RcptTo,
            StageInput::Data(_) => Stage::Data,
        }
    }
}

/// One call's result with what it cost, for `moat plugin test` and the logs.
#[derive(Debug)]
pub struct CallReport<T> {
    /// The answer, or the failure.
    pub result: Result<T, PluginError>,
    /// Wall-clock time of the call including instantiation.
    pub elapsed: Duration,
    /// The largest linear memory the instance reached, in bytes.
    pub peak_memory: usize,
    /// What the plugin wrote to stderr.
    pub stderr: String,
}

/// The loaded plugin set with the weights and thresholds that combine their answers.
pub struct Pipeline {
    engine: Arc<FilterEngine>,
    plugins: Vec<Arc<LoadedPlugin>>,
    weights: WeightTable,
    thresholds: Thresholds,
    outbound_thresholds: Thresholds,
    slots: Arc<Semaphore>,
}

/// Which way a message travels, which picks the thresholds its decision is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Mail for the protected domains, from anyone (the MX listeners): `[thresholds]`.
    Inbound,
    /// Mail from authenticated users (the submission listeners): `[submission.thresholds]`.
    Outbound,
}

impl Pipeline {
    /// A pipeline over `plugins` (in call order); `max_concurrent_calls` must not exceed
    /// the engine's pool size.
    pub fn new(
        engine: Arc<FilterEngine>,
        plugins: Vec<Arc<LoadedPlugin>>,
        thresholds: Thresholds,
        max_concurrent_calls: u32,
    ) -> Self {
        let mut weights = WeightTable::default();
        for plugin in &plugins {
            weights.insert(&plugin.name, plugin.weights.clone());
        }
        let slots = Arc::new(Semaphore::new(max_concurrent_calls.max(1) as usize));
        Self {
            engine,
            plugins,
            weights,
            outbound_thresholds: thresholds,
            thresholds,
            slots,
        }
    }

    /// The same pipeline deciding outbound mail with `thresholds`.
    pub fn with_outbound_thresholds(mut self, thresholds: Thresholds) -> Self {
        self.outbound_thresholds = thresholds;
        self
    }

    /// A pipeline over `plugins` with `thresholds` that shares this one's engine and pool
    /// of call slots (a reload: old and new sets together never exceed the engine's pool).
    pub fn successor(&self, plugins: Vec<Arc<LoadedPlugin>>, thresholds: Thresholds) -> Self {
        let mut weights = WeightTable::default();
        for plugin in &plugins {
            weights.insert(&plugin.name, plugin.weights.clone());
        }
        Self {
            engine: Arc::clone(&self.engine),
            plugins,
            weights,
            outbound_thresholds: thresholds,
            thresholds,
            slots: Arc::clone(&self.slots),
        }
    }

    /// The plugins, in call order.
    pub fn plugins(&self) -> &[Arc<LoadedPlugin>] {
        &self.plugins
    }

    /// The thresholds in force.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Runs every plugin that wants `input`'s stage, in order; annotations they return are
    /// added to `ctx` for the plugins after them.
    pub async fn run_stage(
        &self,
        ctx: &mut SessionContext,
        input: &StageInput,
    ) -> Vec<PluginResult> {
        let stage = input.stage();
        let mut results = Vec::new();
        for plugin in self.plugins.iter().filter(|p| p.wants(stage)) {
            if let Some(reason) = too_large_for(plugin, input) {
                results.push(PluginResult {
                    plugin: plugin.name.clone(),
                    stage,
                    outcome: PluginOutcome::Skipped { reason },
                });
                continue;
            }
            if let StageInput::Data(message) = input {
                message.parse_body();
            }
            let report = self.call_stage(plugin, ctx, input).await;
            let outcome = match report.result {
                Ok(verdict) => {
                    ctx.annotations.extend(verdict.annotations.iter().cloned());
                    PluginOutcome::Answered {
                        verdict,
                        hard_action_allowed: plugin.allow_hard_action,
                    }
                }
                Err(error) => PluginOutcome::Failed {
                    on_error: plugin.policy_for(&error),
                    error,
                },
            };
            results.push(PluginResult {
                plugin: plugin.name.clone(),
                stage,
                outcome,
            });
        }
        results
    }

    /// Combines results (of one stage, or of every stage so far) into a decision on
    /// inbound mail.
    pub fn decide(&self, results: &[PluginResult]) -> Decision {
        self.decide_as(Direction::Inbound, results)
    }

    /// Combines results into a decision with the thresholds of `direction`.
    pub fn decide_as(&self, direction: Direction, results: &[PluginResult]) -> Decision {
        combine::combine(results, &self.weights, self.thresholds_for(direction))
    }

    /// The thresholds mail going `direction` is decided with.
    pub fn thresholds_for(&self, direction: Direction) -> &Thresholds {
        match direction {
            Direction::Inbound => &self.thresholds,
            Direction::Outbound => &self.outbound_thresholds,
        }
    }

    /// Tells the plugins that want the outcome stage what was decided. Their failures are
    /// logged; they cannot change the decision.
    pub async fn run_outcome(
        &self,
        ctx: &SessionContext,
        decision: &Decision,
        message: Option<&MessageHandle>,
    ) {
        let wit_decision = wit::Decision {
            action: decision.action.into(),
            score: decision.score,
            symbols: decision
                .report
                .iter()
                .map(|l| wit::ScoredSymbol {
                    plugin: l.plugin.clone(),
                    name: l.name.clone(),
                    score: l.score,
                    weight: l.weight,
                    contribution: l.contribution,
                })
                .collect(),
            thresholds: wit::Thresholds {
                tag: self.thresholds.tag,
                quarantine: self.thresholds.quarantine,
                reject: self.thresholds.reject,
            },
        };
        for plugin in self.plugins.iter().filter(|p| p.wants(Stage::Outcome)) {
            let session = ctx.to_wit();
            let decision = wit_decision.clone();
            // A message over the plugin's max_message_size is withheld, as if the decision
            // had been taken before DATA.
            let message = message
                .filter(|m| !plugin.skips_message_of(m.raw().len() as u64))
                .cloned();
            if let Some(message) = &message {
                message.parse_body();
            }
            let sender_auth = ctx.sender_auth.clone();
            let _ = self
                .call(plugin, &ctx.id, move |guest, store| {
                    Box::pin(async move {
                        store.data_mut().sender_auth = sender_auth;
                        let message = match message {
                            Some(m) => Some(store.data_mut().table().push(m)?),
                            None => None,
                        };
                        let rep = message.as_ref().map(Resource::rep);
                        let result = guest
                            .call_on_outcome(&mut *store, &session, &decision, message)
                            .await;
                        if let Some(rep) = rep {
                            store
                                .data_mut()
                                .table()
                                .delete(Resource::<MessageHandle>::new_own(rep))?;
                        }
                        result
                    })
                })
                .await;
        }
    }

    /// Teaches `plugin` that `message` is `label` (spam or ham), or with `forget` makes it
    /// unlearn the message; used by `moat learn`. The plugin answers whether anything
    /// changed, or that it does not learn; an `Err` inside the result is the plugin's own
    /// refusal (a corrupt store, say), told apart from the call failing.
    pub async fn learn(
        &self,
        plugin: &LoadedPlugin,
        message: MessageHandle,
        label: Label,
        forget: bool,
    ) -> CallReport<Result<LearnOutcome, String>> {
        let id: Arc<str> = Arc::from("learn");
        let size = message.raw().len() as u64;
        message.parse_body();
        let wit_label = match label {
            Label::Spam => wit::Label::Spam,
            Label::Ham => wit::Label::Ham,
        };
        let report = self
            .call(plugin, &id, move |guest, store| {
                Box::pin(async move {
                    let resource = store.data_mut().table().push(message)?;
                    let rep = resource.rep();
                    let result = guest
                        .call_learn(&mut *store, resource, wit_label, forget)
                        .await;
                    store
                        .data_mut()
                        .table()
                        .delete(Resource::<MessageHandle>::new_own(rep))?;
                    result
                })
            })
            .await;
        if let Err(error) = &report.result {
            self.note_failure(plugin, &id, error, &report.stderr, Some(size));
        }
        CallReport {
            result: report.result.map(|answer| {
                answer.map(|outcome| match outcome {
                    wit::LearnOutcome::Done => LearnOutcome::Done,
                    wit::LearnOutcome::Unchanged => LearnOutcome::Unchanged,
                    wit::LearnOutcome::Unsupported => LearnOutcome::Unsupported,
                })
            }),
            elapsed: report.elapsed,
            peak_memory: report.peak_memory,
            stderr: report.stderr,
        }
    }

    /// Calls one plugin at one stage; used by `run_stage` and `moat plugin test`.
    pub async fn call_stage(
        &self,
        plugin: &LoadedPlugin,
        ctx: &SessionContext,
        input: &StageInput,
    ) -> CallReport<Verdict> {
        let session = ctx.to_wit();
        let message_size = match input {
            StageInput::Data(message) => Some(message.raw().len() as u64),
            _ => None,
        };
        let input = input.clone();
        let sender_auth = ctx.sender_auth.clone();
        let report = self
            .call(plugin, &ctx.id, move |guest, store| {
                Box::pin(async move {
                    store.data_mut().sender_auth = sender_auth;
                    match input {
                        StageInput::Connect => guest.call_on_connect(&mut *store, &session).await,
                        StageInput::Helo => guest.call_on_helo(&mut *store, &session).await,
                        StageInput::MailFrom => {
                            guest.call_on_mail_from(&mut *store, &session).await
                        }
                        StageInput::RcptTo(rcpt) => {
                            guest.call_on_rcpt_to(&mut *store, &session, &rcpt).await
                        }
                        StageInput::Data(message) => {
                            let resource = store.data_mut().table().push(message)?;
                            let rep = resource.rep();
                            let result = guest.call_on_data(&mut *store, &session, resource).await;
                            store
                                .data_mut()
                                .table()
                                .delete(Resource::<MessageHandle>::new_own(rep))?;
                            result
                        }
                    }
                })
            })
            .await;
        let result = report.result.and_then(|verdict| {
            Verdict::from_wit(verdict).map_err(|reason| PluginError::InvalidVerdict { reason })
        });
        if let Err(error) = &result {
            self.note_failure(plugin, &ctx.id, error, &report.stderr, message_size);
        }
        CallReport {
            result,
            elapsed: report.elapsed,
            peak_memory: report.peak_memory,
            stderr: report.stderr,
        }
    }

    /// Logs a failed call and counts it towards switching the plugin off, unless it ran
    /// out of memory or time on a large message (of `message_size` bytes): that failure is
    /// the message's, and a sender must not be able to switch a plugin off for everyone.
    fn note_failure(
        &self,
        plugin: &LoadedPlugin,
        session_id: &str,
        error: &PluginError,
        stderr: &str,
        message_size: Option<u64>,
    ) {
        if matches!(error, PluginError::Disabled { .. }) {
            return;
        }
        if plugin.failure_is_the_messages(error, message_size) {
            tracing::warn!(plugin = %plugin.name, session_id, kind = error.kind(), %error, stderr, message_size, "plugin failed on a large message (not counted towards switching it off)");
            return;
        }
        tracing::warn!(plugin = %plugin.name, session_id, kind = error.kind(), %error, stderr, "plugin failed");
        if plugin.health.record_failure(Instant::now()) {
            tracing::warn!(plugin = %plugin.name, "plugin switched off after repeated failures");
        }
    }

    /// Runs `body` against a fresh instance of `plugin`: waits for a pool slot, applies the
    /// deadline and memory cap, and classifies any failure.
    async fn call<T, F>(
        &self,
        plugin: &LoadedPlugin,
        session_id: &Arc<str>,
        body: F,
    ) -> CallReport<T>
    where
        F: for<'a> FnOnce(
            &'a Guest,
            &'a mut Store<StoreState>,
        ) -> BoxFuture<'a, wasmtime::Result<T>>,
    {
        let started = Instant::now();
        let report = |result: Result<T, PluginError>, peak_memory, stderr| {
            let elapsed = started.elapsed();
            plugin.stats.record(elapsed, result.is_err());
            CallReport {
                result,
                elapsed,
                peak_memory,
                stderr,
            }
        };
        if let Err(error) = plugin.health.check(started) {
            return report(Err(error), 0, String::new());
        }
        let Ok(_slot) = self.slots.acquire().await else {
            return report(
                Err(PluginError::Instantiate {
                    reason: "the plugin pool is closed".into(),
                }),
                0,
                String::new(),
            );
        };
        let limits = plugin.limits();
        let mut store = new_store(
            &self.engine,
            plugin.host.clone(),
            limits,
            session_id.clone(),
        );
        let budget = limits.time_budget;
        // Belt and braces: the epoch deadline only fires while wasm runs; this also bounds
        // time spent awaiting host calls.
        let outer_limit = budget * 2 + Duration::from_secs(1);
        let run = async {
            let instance = plugin.pre.instantiate_async(&mut store).await?;
            let guest = instance.moat_filter_filter();
            body(guest, &mut store).await
        };
        let result = match tokio::time::timeout(outer_limit, run).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(classify(&error, limits, &store.data().stderr_text())),
            Err(_) => Err(PluginError::Timeout {
                budget_ms: budget.as_millis() as u64,
            }),
        };
        let state = store.data();
        report(result, state.limiter.peak(), state.stderr_text())
    }
}

/// Why `plugin` is not given `input`'s message: it is larger than the plugin's
/// `max_message_size`. `None` for the other stages, and for messages within the limit.
fn too_large_for(plugin: &LoadedPlugin, input: &StageInput) -> Option<String> {
    let StageInput::Data(message) = input else {
        return None;
    };
    let size = message.raw().len() as u64;
    plugin.skips_message_of(size).then(|| {
        let max = crate::config::ByteSize(plugin.max_message_size.unwrap_or_default());
        format!("the message is {size} bytes, over the plugin's max_message_size of {max}")
    })
}

/// What a message is taught as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// Unwanted mail.
    Spam,
    /// Wanted mail.
    Ham,
}

/// The prefix of the kv keys under which a learning plugin keeps the counters
/// `moat learn stats` shows (`stats:spam`, `stats:ham`).
pub const STATS_PREFIX: &str = "stats:";

/// What a plugin did with a message it was taught.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnOutcome {
    /// It learnt (or forgot) the message.
    Done,
    /// Nothing changed: already learnt as that, or never learnt when forgetting.
    Unchanged,
    /// The plugin does not learn.
    Unsupported,
}

/// A boxed future borrowing the store, as call bodies return.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A fresh store for one call, with the memory cap and wall-clock deadline of `limits`.
pub fn new_store(
    engine: &FilterEngine,
    host: Arc<PluginHost>,
    limits: CallLimits,
    session_id: Arc<str>,
) -> Store<StoreState> {
    let state = StoreState::new(host, session_id, limits);
    let deadline = state.deadline;
    let mut store = Store::new(engine.engine(), state);
    store.limiter(|state| &mut state.limiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() > deadline {
            Err(Trap::Interrupt.into())
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store
}

/// The panic a plugin wrote on stderr: the `panicked at FILE:LINE:COL:` line and the
/// message Rust prints on the lines after it (up to the `note:` about backtraces),
/// joined into one line.
fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines().skip_while(|line| !line.contains("panicked"));
    let location = lines.next()?.trim_end();
    let message: Vec<&str> = lines
        .take_while(|line| !line.starts_with("note:"))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .take(5)
        .collect();
    Some(if message.is_empty() {
        location.to_owned()
    } else {
        format!("{location} {}", message.join(" "))
    })
}

/// Turns what a failed call returned into the failure kind an operator reads.
pub fn classify(error: &wasmtime::Error, limits: CallLimits, stderr: &str) -> PluginError {
    if let Some(exceeded) = error.downcast_ref::<MemoryLimitExceeded>() {
        return PluginError::MemoryExceeded {
            limit: exceeded.limit,
            requested: exceeded.requested,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginError::Timeout {
            budget_ms: limits.time_budget.as_millis() as u64,
        },
        Some(Trap::StackOverflow) => PluginError::StackOverflow,
        Some(Trap::UnreachableCodeReached) => PluginError::Panic {
            message: panic_message(stderr).unwrap_or_else(|| {
                "unreachable code reached (no panic message on stderr)".to_owned()
            }),
        },
        Some(trap) => PluginError::Trap {
            trap: trap.to_string(),
        },
        None => PluginError::Trap {
            trap: format!("{:#}", error.root_cause()),
        },
    }
}

/// Calls `describe()` on a fresh instance of `pre`, within `limits`, and checks what it
/// says: a valid plugin name (it is the plugin's file name and config section) and a
/// finite default weight.
pub async fn describe(
    engine: &FilterEngine,
    pre: &PluginPre<StoreState>,
    host: Arc<PluginHost>,
    limits: CallLimits,
) -> Result<PluginInfo, String> {
    let mut store = new_store(engine, host, limits, Arc::from("describe"));
    let info = async {
        let instance = pre.instantiate_async(&mut store).await?;
        instance
            .moat_filter_filter()
            .call_describe(&mut store)
            .await
    }
    .await
    .map_err(|e| classify(&e, limits, &store.data().stderr_text()).to_string())?;
    let stages = info
        .stages
        .iter()
        .map(|s| match s {
            wit::Stage::Connect => Stage::Connect,
            wit::Stage::Helo => Stage::Helo,
            wit::Stage::MailFrom => Stage::MailFrom,
            wit::Stage::RcptTo => Stage::RcptTo,
            wit::Stage::Data => Stage::Data,
            wit::Stage::Outcome => Stage::Outcome,
        })
        .collect();
    if !super::is_valid_plugin_name(&info.name) {
        return Err(format!(
            "it calls itself {:?}, which is not a plugin name (1 to 64 characters of a-z, 0-9, \
             '-' and '_', as the plugin's file name)",
            info.name
        ));
    }
    if !info.default_weight.is_finite() {
        return Err(format!(
            "default weight {} is not a finite number",
            info.default_weight
        ));
    }
    Ok(PluginInfo {
        name: info.name,
        version: info.version,
        sdk_version: info.sdk_version,
        stages,
        default_weight: info.default_weight,
    })
}
