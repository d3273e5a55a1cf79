//! What sender authentication found out about one message, in the gateway's own terms:
//! handed to plugins (`wit/sender-auth.wit`) and written into `Authentication-Results`.

use std::net::IpAddr;

/// An SPF result (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfVerdict {
    /// The client may send for the domain.
    Pass,
    /// The domain says it may not.
    Fail,
    /// The domain says it probably may not (`~all`).
    SoftFail,
    /// The domain asserts nothing (`?all`).
    Neutral,
    /// No SPF policy.
    None,
    /// A transient DNS error.
    TempError,
    /// A broken policy.
    PermError,
}

impl SpfVerdict {
    /// The result as RFC 8601 writes it (`softfail`, `temperror`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::SoftFail => "softfail",
            Self::Neutral => "neutral",
            Self::None => "none",
            Self::TempError => "temperror",
            Self::PermError => "permerror",
        }
    }
}

/// One SPF check: of the HELO name or of the MAIL FROM identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfCheck {
    /// The domain whose policy was evaluated.
    pub domain: String,
    /// The result.
    pub result: SpfVerdict,
}

/// A DKIM signature's (or the ARC chain's) result (RFC 8601 §2.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimVerdict {
    /// It verifies.
    Pass,
    /// It does not.
    Fail,
    /// It could not be processed.
    Neutral,
    /// Nothing to verify.
    None,
    /// A transient DNS error.
    TempError,
    /// Unusable signature or key.
    PermError,
}

impl DkimVerdict {
    /// The result as RFC 8601 writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Neutral => "neutral",
            Self::None => "none",
            Self::TempError => "temperror",
            Self::PermError => "permerror",
        }
    }
}

/// One DKIM-Signature of a message and its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimCheck {
    /// `d=`, lower-case.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The result.
    pub result: DkimVerdict,
    /// Whether `domain` has the From domain's organizational domain.
    pub aligned: bool,
    /// Why it did not pass; empty when it did.
    pub detail: String,
    /// The first 8 characters of the signature (`b=`) in base64, which tell two
    /// signatures of one domain and selector apart (`header.b`, RFC 6008); empty when
    /// the signature did not parse.
    pub signature_prefix: String,
}

/// A DMARC result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcVerdict {
    /// SPF or DKIM passed aligned.
    Pass,
    /// Neither did.
    Fail,
    /// No policy published.
    None,
    /// A transient DNS error.
    TempError,
    /// A broken policy.
    PermError,
}

impl DmarcVerdict {
    /// The result as RFC 8601 writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::None => "none",
            Self::TempError => "temperror",
            Self::PermError => "permerror",
        }
    }
}

/// What a From domain asks for mail that fails DMARC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcPolicy {
    /// `p=none`.
    None,
    /// `p=quarantine`.
    Quarantine,
    /// `p=reject`.
    Reject,
    /// No usable record.
    Unspecified,
}

impl DmarcPolicy {
    /// The policy as `policy.dmarc=` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None | Self::Unspecified => "none",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
        }
    }
}

/// The DMARC evaluation of a message's From domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcCheck {
    /// The From domain.
    pub domain: String,
    /// The result.
    pub result: DmarcVerdict,
    /// The policy that applies to this message (subdomain policy, `pct` and `t=y`
    /// applied); meaningful when `result` is `Fail`.
    pub policy: DmarcPolicy,
    /// SPF passed for an aligned domain.
    pub spf_aligned: bool,
    /// A DKIM signature passed for an aligned domain.
    pub dkim_aligned: bool,
}

/// Everything sender authentication found out about one message. The envelope part (SPF)
/// is known at MAIL FROM; the rest once the message is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderAuthResults {
    /// The address SPF was evaluated for: the client, or the first untrusted hop.
    pub client_ip: IpAddr,
    /// SPF of the HELO name.
    pub spf_helo: Option<SpfCheck>,
    /// SPF of the MAIL FROM identity (the HELO name for the null sender).
    pub spf_mail_from: Option<SpfCheck>,
    /// The MAIL FROM identity SPF checked (`postmaster@HELO` for the null sender).
    pub mail_from: String,
    /// Every DKIM-Signature, in message order.
    pub dkim: Vec<DkimCheck>,
    /// DMARC of the From domain; `None` before the message is in.
    pub dmarc: Option<DmarcCheck>,
    /// The ARC chain; `None` before the message is in.
    pub arc: Option<DkimVerdict>,
    /// The From domain, once the message is in (empty without a usable From).
    pub from_domain: String,
}

impl SenderAuthResults {
    /// Results before anything was checked, for `client_ip`.
    pub fn for_client(client_ip: IpAddr) -> Self {
        Self {
            client_ip,
            spf_helo: None,
            spf_mail_from: None,
            mail_from: String::new(),
            dkim: Vec::new(),
            dmarc: None,
            arc: None,
            from_domain: String::new(),
        }
    }
}

// mail-auth's results in our terms, and back (DMARC takes the SPF result as mail-auth's).

impl From<mail_auth::SpfResult> for SpfVerdict {
    fn from(result: mail_auth::SpfResult) -> Self {
        use mail_auth::SpfResult as R;
        match result {
            R::Pass => Self::Pass,
            R::Fail => Self::Fail,
            R::SoftFail => Self::SoftFail,
            R::Neutral => Self::Neutral,
            R::TempError => Self::TempError,
            R::PermError => Self::PermError,
            R::None => Self::None,
        }
    }
}

impl From<SpfVerdict> for mail_auth::SpfResult {
    fn from(verdict: SpfVerdict) -> Self {
        match verdict {
            SpfVerdict::Pass => Self::Pass,
            SpfVerdict::Fail => Self::Fail,
            SpfVerdict::SoftFail => Self::SoftFail,
            SpfVerdict::Neutral => Self::Neutral,
            SpfVerdict::TempError => Self::TempError,
            SpfVerdict::PermError => Self::PermError,
            SpfVerdict::None => Self::None,
        }
    }
}

impl From<&mail_auth::DkimResult> for DkimVerdict {
    fn from(result: &mail_auth::DkimResult) -> Self {
        use mail_auth::DkimResult as R;
        match result {
            R::Pass => Self::Pass,
            R::Fail(_) => Self::Fail,
            R::Neutral(_) => Self::Neutral,
            R::PermError(_) => Self::PermError,
            R::TempError(_) => Self::TempError,
            R::None => Self::None,
        }
    }
}

impl From<&mail_auth::DmarcResult> for DmarcVerdict {
    fn from(result: &mail_auth::DmarcResult) -> Self {
        use mail_auth::DmarcResult as R;
        match result {
            R::Pass => Self::Pass,
            R::Fail(_) => Self::Fail,
            R::TempError(_) => Self::TempError,
            R::PermError(_) => Self::PermError,
            R::None => Self::None,
        }
    }
}

impl From<mail_auth::dmarc::Policy> for DmarcPolicy {
    fn from(policy: mail_auth::dmarc::Policy) -> Self {
        use mail_auth::dmarc::Policy as P;
        match policy {
            P::None => Self::None,
            P::Quarantine => Self::Quarantine,
            P::Reject => Self::Reject,
            P::Unspecified => Self::Unspecified,
        }
    }
}
