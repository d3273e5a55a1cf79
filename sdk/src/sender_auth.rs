//! Who really sent the message: the gateway's SPF, DKIM, DMARC and ARC results. The host
//! checks them once per message, with its DNS cache, so a plugin reads them here instead
//! of asking DNS again. Always available; no capability is needed.
//!
//! SPF is known from the mail-from stage on; DKIM, DMARC and ARC from the data stage on.
//! Mail from an authenticated submission user is not checked, and [`results`] is `None`
//! for it.
//!
//! ```no_run
//! use moat_sdk::sender_auth::{self, DmarcResult};
//! use moat_sdk::{Message, Session, Verdict};
//!
//! fn on_data(_session: &Session, _message: &Message) -> Verdict {
//!     let Some(auth) = sender_auth::results() else {
//!         return Verdict::new();
//!     };
//!     match auth.dmarc.map(|d| d.result) {
//!         Some(DmarcResult::Fail) => Verdict::new().symbol("FORGED_FROM", 4.0, "DMARC fails"),
//!         _ => Verdict::new(),
//!     }
//! }
//! ```

use crate::bindings::moat::filter::sender_auth as wit;

/// An SPF result (RFC 7208 §2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpfResult {
    /// The client is authorized to send for the domain.
    Pass,
    /// The domain says the client is not authorized.
    Fail,
    /// The domain says the client is probably not authorized (`~all`).
    SoftFail,
    /// The domain makes no assertion (`?all`).
    Neutral,
    /// The domain publishes no SPF policy.
    None,
    /// A transient DNS error; a later try may succeed.
    TempError,
    /// The domain's policy is broken.
    PermError,
}

/// One SPF check: of the HELO name, or of the MAIL FROM domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpfCheck {
    /// The domain whose policy was evaluated.
    pub domain: String,
    /// The result.
    pub result: SpfResult,
}

/// A DKIM signature's result, also used for the ARC chain (RFC 8601 §2.7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DkimResult {
    /// The signature verifies.
    Pass,
    /// The signature does not verify (the message was changed, or forged).
    Fail,
    /// The signature could not be processed for a reason other than a failure.
    Neutral,
    /// No signature (for ARC: no ARC set).
    None,
    /// A transient DNS error fetching the key.
    TempError,
    /// The signature or its key is unusable (no key published, bad syntax).
    PermError,
}

/// One DKIM-Signature of the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkimSignature {
    /// The signing domain (`d=`), lower-case.
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// The result of verifying it.
    pub result: DkimResult,
    /// Whether `domain` has the same organizational domain as the From domain (relaxed
    /// alignment, by the Public Suffix List).
    pub aligned: bool,
    /// Why it did not pass; empty when it did.
    pub detail: String,
}

/// A DMARC result (RFC 7489, RFC 9989).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DmarcResult {
    /// SPF or DKIM passed for a domain aligned with the From domain.
    Pass,
    /// Neither did.
    Fail,
    /// The From domain publishes no DMARC policy.
    None,
    /// A transient DNS error.
    TempError,
    /// The policy is broken.
    PermError,
}

/// What a From domain asks receivers to do with mail that fails DMARC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DmarcPolicy {
    /// `p=none`: monitor only.
    None,
    /// `p=quarantine`.
    Quarantine,
    /// `p=reject`.
    Reject,
    /// No usable record.
    Unspecified,
}

/// The DMARC evaluation of the message's From domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmarcCheck {
    /// The From domain, lower-case.
    pub domain: String,
    /// The result.
    pub result: DmarcResult,
    /// The policy that applies to this message (`sp=` for a subdomain, `pct=` and `t=y`
    /// already taken into account); meaningful when `result` is [`DmarcResult::Fail`].
    pub policy: DmarcPolicy,
    /// Whether SPF passed for a domain aligned with the From domain.
    pub spf_aligned: bool,
    /// Whether a DKIM signature passed for a domain aligned with the From domain.
    pub dkim_aligned: bool,
}

/// What the host found out about the sender of the current message.
///
/// `Default` exists so unit tests can build one with struct-update syntax.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SenderAuth {
    /// The client address SPF was evaluated for: the connecting client, or the first hop
    /// outside the operator's trusted relays.
    pub client_ip: String,
    /// SPF of the HELO name, when one was given and checked.
    pub spf_helo: Option<SpfCheck>,
    /// SPF of the MAIL FROM domain (the HELO name for the null sender).
    pub spf_mail_from: Option<SpfCheck>,
    /// Every DKIM-Signature, in message order; empty before the data stage and for
    /// unsigned mail.
    pub dkim: Vec<DkimSignature>,
    /// DMARC of the From domain; `None` before the data stage.
    pub dmarc: Option<DmarcCheck>,
    /// The ARC chain's validation; `None` before the data stage, `Some(DkimResult::None)`
    /// when the message has no ARC set.
    pub arc: Option<DkimResult>,
    /// The From domain, lower-case, once the message is known (empty if it has no usable
    /// From).
    pub from_domain: String,
}

/// The results for the message being filtered; `None` where nothing was checked: before
/// MAIL FROM, for mail from an authenticated user, or with verification switched off.
#[must_use]
pub fn results() -> Option<SenderAuth> {
    wit::results().map(SenderAuth::from_wit)
}

impl SenderAuth {
    fn from_wit(r: wit::AuthResults) -> Self {
        Self {
            client_ip: r.client_ip,
            spf_helo: r.spf_helo.map(SpfCheck::from_wit),
            spf_mail_from: r.spf_mail_from.map(SpfCheck::from_wit),
            dkim: r.dkim.into_iter().map(DkimSignature::from_wit).collect(),
            dmarc: r.dmarc.map(DmarcCheck::from_wit),
            arc: r.arc.map(DkimResult::from_wit),
            from_domain: r.from_domain,
        }
    }
}

impl SpfCheck {
    fn from_wit(c: wit::SpfCheck) -> Self {
        let result = match c.result {
            wit::SpfResult::Pass => SpfResult::Pass,
            wit::SpfResult::Fail => SpfResult::Fail,
            wit::SpfResult::SoftFail => SpfResult::SoftFail,
            wit::SpfResult::Neutral => SpfResult::Neutral,
            wit::SpfResult::None => SpfResult::None,
            wit::SpfResult::TempError => SpfResult::TempError,
            wit::SpfResult::PermError => SpfResult::PermError,
        };
        Self {
            domain: c.domain,
            result,
        }
    }
}

impl DkimResult {
    fn from_wit(r: wit::DkimResult) -> Self {
        match r {
            wit::DkimResult::Pass => Self::Pass,
            wit::DkimResult::Fail => Self::Fail,
            wit::DkimResult::Neutral => Self::Neutral,
            wit::DkimResult::None => Self::None,
            wit::DkimResult::TempError => Self::TempError,
            wit::DkimResult::PermError => Self::PermError,
        }
    }
}

impl DkimSignature {
    fn from_wit(s: wit::DkimSignature) -> Self {
        Self {
            domain: s.domain,
            selector: s.selector,
            result: DkimResult::from_wit(s.result),
            aligned: s.aligned,
            detail: s.detail,
        }
    }
}

impl DmarcCheck {
    fn from_wit(d: wit::DmarcCheck) -> Self {
        let result = match d.result {
            wit::DmarcResult::Pass => DmarcResult::Pass,
            wit::DmarcResult::Fail => DmarcResult::Fail,
            wit::DmarcResult::None => DmarcResult::None,
            wit::DmarcResult::TempError => DmarcResult::TempError,
            wit::DmarcResult::PermError => DmarcResult::PermError,
        };
        let policy = match d.policy {
            wit::DmarcPolicy::None => DmarcPolicy::None,
            wit::DmarcPolicy::Quarantine => DmarcPolicy::Quarantine,
            wit::DmarcPolicy::Reject => DmarcPolicy::Reject,
            wit::DmarcPolicy::Unspecified => DmarcPolicy::Unspecified,
        };
        Self {
            domain: d.domain,
            result,
            policy,
            spf_aligned: d.spf_aligned,
            dkim_aligned: d.dkim_aligned,
        }
    }
}
