//! The trait a plugin implements, and what it says about itself.

use crate::bindings::moat::filter::types as wit;
use crate::{Decision, Label, LearnOutcome, Message, Session, Verdict};

/// The version of this SDK, reported to the host in the plugin's info so the operator can
/// see what each plugin was built with.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A Moat filter plugin.
///
/// Implement [`describe`](Plugin::describe) and the stage methods for the stages you list
/// there, then export the type with [`export_plugin!`](crate::export_plugin). The host
/// calls only the stages the plugin listed (and the operator did not disable); every other
/// method keeps its default, which says nothing.
///
/// The methods take no `self`: **every call runs in a fresh sandbox**, so nothing
/// survives from one call to the next — not statics, not caches. Keep state that must
/// persist in [`kv`](crate::kv).
///
/// A panic (or running out of the time or memory budget) fails the call; the host then
/// skips the plugin for that message or answers with a temporary failure, as the operator
/// chose with `on_error`.
///
/// ```no_run
/// use moat_sdk::{Plugin, PluginInfo, Session, Stage, Verdict};
///
/// struct NoHelo;
///
/// impl Plugin for NoHelo {
///     fn describe() -> PluginInfo {
///         PluginInfo::new("no-helo", "1.0.0", [Stage::Helo])
///     }
///
///     fn on_helo(session: &Session) -> Verdict {
///         match session.client.helo.as_deref() {
///             Some("") | None => Verdict::new().symbol("EMPTY_HELO", 2.0, "no HELO name"),
///             Some(_) => Verdict::new(),
///         }
///     }
/// }
///
/// moat_sdk::export_plugin!(NoHelo);
/// # fn main() {}
/// ```
pub trait Plugin {
    /// Name, version, the stages to be called at and the default weight. The host calls
    /// it once, when it loads the plugin.
    fn describe() -> PluginInfo;

    /// A client connected; `session.client` has the IP, port and reverse DNS.
    fn on_connect(_session: &Session) -> Verdict {
        Verdict::new()
    }

    /// The client sent EHLO/HELO; `session.client.helo` is set.
    fn on_helo(_session: &Session) -> Verdict {
        Verdict::new()
    }

    /// The client sent MAIL FROM; `session.envelope.mail_from` is set.
    fn on_mail_from(_session: &Session) -> Verdict {
        Verdict::new()
    }

    /// The client sent RCPT TO with `recipient`, which is not yet in
    /// `session.envelope.rcpt_to`. A rejecting verdict refuses only this recipient.
    fn on_rcpt_to(_session: &Session, _recipient: &str) -> Verdict {
        Verdict::new()
    }

    /// The whole message arrived. Most content filters only implement this.
    fn on_data(_session: &Session, _message: &Message) -> Verdict {
        Verdict::new()
    }

    /// The gateway decided on the message. Learn from the decision here (reputation,
    /// Bayes auto-learning). `message` is present when the decision was taken at DATA.
    fn on_outcome(_session: &Session, _decision: &Decision, _message: Option<&Message>) {}

    /// Train on a message the operator classified with `moat learn`, or forget it again
    /// when `forget` is true. Return `Err` with a reason when the message cannot be learnt.
    ///
    /// The default answers [`LearnOutcome::Unsupported`]: the plugin does not learn.
    fn learn(_message: &Message, _label: Label, _forget: bool) -> Result<LearnOutcome, String> {
        Ok(LearnOutcome::Unsupported)
    }
}

/// The point of the SMTP conversation at which a plugin is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// A client connected ([`Plugin::on_connect`]).
    Connect,
    /// The client sent EHLO or HELO ([`Plugin::on_helo`]).
    Helo,
    /// The client sent MAIL FROM ([`Plugin::on_mail_from`]).
    MailFrom,
    /// The client sent RCPT TO ([`Plugin::on_rcpt_to`]).
    RcptTo,
    /// The whole message was received ([`Plugin::on_data`]).
    Data,
    /// The decision was taken ([`Plugin::on_outcome`]).
    Outcome,
}

impl Stage {
    fn into_wit(self) -> wit::Stage {
        match self {
            Self::Connect => wit::Stage::Connect,
            Self::Helo => wit::Stage::Helo,
            Self::MailFrom => wit::Stage::MailFrom,
            Self::RcptTo => wit::Stage::RcptTo,
            Self::Data => wit::Stage::Data,
            Self::Outcome => wit::Stage::Outcome,
        }
    }
}

/// What a plugin says about itself in [`Plugin::describe`].
///
/// ```
/// use moat_sdk::{PluginInfo, Stage};
///
/// let info = PluginInfo::new("dnsbl", env!("CARGO_PKG_VERSION"), [Stage::Connect])
///     .default_weight(2.0);
/// assert_eq!(info.stages, [Stage::Connect]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PluginInfo {
    /// Plugin name: 1 to 64 characters from `a-z`, `0-9`, `-` and `_`, e.g. `"dnsbl"`
    /// ([`PluginInfo::is_valid_name`]); the host refuses to load a plugin with any other.
    /// Unique per gateway; the operator's configuration refers to the plugin by it, and in
    /// a plugin directory its file must be `NAME.wasm` (its settings `NAME.toml`).
    pub name: String,
    /// The plugin's own version, e.g. `"1.2.0"`; `env!("CARGO_PKG_VERSION")` is typical.
    pub version: String,
    /// The stages to be called at. The operator may narrow them, never widen them.
    pub stages: Vec<Stage>,
    /// The weight of the plugin's symbols when the operator configures none; usually 1.0.
    pub default_weight: f64,
}

impl PluginInfo {
    /// Info for plugin `name` at `version`, called at `stages`, with default weight 1.0.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        stages: impl IntoIterator<Item = Stage>,
    ) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            stages: stages.into_iter().collect(),
            default_weight: 1.0,
        }
    }

    /// Whether `name` is a plugin name the host accepts: 1 to 64 characters from `a-z`,
    /// `0-9`, `-` and `_`. Use it in unit tests to catch a bad name before the host does.
    ///
    /// ```
    /// use moat_sdk::PluginInfo;
    ///
    /// assert!(PluginInfo::is_valid_name("link-count"));
    /// assert!(!PluginInfo::is_valid_name("Link Count"));
    /// ```
    #[must_use]
    pub fn is_valid_name(name: &str) -> bool {
        (1..=64).contains(&name.len())
            && name.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_'
            })
    }

    /// Sets the weight of the plugin's symbols when the operator configures none.
    #[must_use]
    pub fn default_weight(mut self, weight: f64) -> Self {
        self.default_weight = weight;
        self
    }

    pub(crate) fn into_wit(self) -> wit::PluginInfo {
        wit::PluginInfo {
            name: self.name,
            version: self.version,
            sdk_version: SDK_VERSION.to_owned(),
            stages: self.stages.into_iter().map(Stage::into_wit).collect(),
            default_weight: self.default_weight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fills_in_the_sdk_version() {
        let info = PluginInfo::new("x", "2.0.0", [Stage::Connect, Stage::Data])
            .default_weight(0.5)
            .into_wit();
        assert_eq!(info.name, "x");
        assert_eq!(info.version, "2.0.0");
        assert_eq!(info.sdk_version, SDK_VERSION);
        assert_eq!(info.stages, [wit::Stage::Connect, wit::Stage::Data]);
        assert_eq!(info.default_weight, 0.5);
    }
}
