//! The checks themselves, with mail-auth on the gateway's resolver: SPF when MAIL FROM
//! arrives (so a policy can refuse early), DKIM, ARC and DMARC once the message is in.
//! Each step is bounded by the time budget; what runs out of time is a `temperror`,
//! never a stall.

use std::net::IpAddr;
use std::time::Duration;

use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DkimResult, DmarcResult, MessageAuthenticator, SpfOutput,
    SpfResult,
};
use password_hash::rand_core::{OsRng, RngCore as _};
use tokio::time::Instant;

use super::alignment::relaxed_aligned;
use super::limits::{self, MAX_SIGNATURES, keep_first_signatures, shown_domain, shown_selector};
use super::relays::{Path, TrustedRelays};
use super::results::{
    DkimCheck, DkimVerdict, DmarcCheck, DmarcPolicy, DmarcVerdict, SenderAuthResults, SpfCheck,
    SpfVerdict,
};
use crate::message::ReceivedHop;

/// Checks who sent a message. One per gateway, shared by every session.
pub struct SenderVerifier {
    authenticator: MessageAuthenticator,
    /// Our host name: the SPF `r` macro.
    hostname: String,
    relays: TrustedRelays,
    time_budget: Duration,
    check_local: bool,
}

/// What is known of the envelope when the message is checked.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The connected client.
    pub client: IpAddr,
    /// Its EHLO/HELO name.
    pub helo: Option<&'a str>,
    /// The MAIL FROM address (empty for the null sender).
    pub mail_from: &'a str,
}

impl SenderVerifier {
    /// A verifier asking through `authenticator` (the gateway's resolver), judging mail
    /// relayed by `relays` by its first untrusted hop, with `time_budget` per step;
    /// mail from loopback and private addresses only with `check_local`.
    pub fn new(
        authenticator: MessageAuthenticator,
        hostname: String,
        relays: TrustedRelays,
        time_budget: Duration,
        check_local: bool,
    ) -> Self {
        Self {
            authenticator,
            hostname,
            relays,
            time_budget,
            check_local,
        }
    }

    /// Whether mail from `client` is checked at all: not from a loopback or private
    /// address (unless `check_local`), unless that is a trusted relay.
    pub fn checks(&self, client: IpAddr) -> bool {
        self.check_local || crate::dns::reverse::is_public(client) || self.relays.trusts(client)
    }

    /// SPF at MAIL FROM; `None` when the client is a trusted relay (the origin is then
    /// read from the message's `Received` fields, in [`Self::check_message`]).
    pub async fn check_envelope(&self, envelope: Envelope<'_>) -> Option<SenderAuthResults> {
        if self.relays.trusts(envelope.client) {
            return None;
        }
        let deadline = Instant::now() + self.time_budget;
        Some(
            self.spf(envelope.client, envelope.helo, envelope.mail_from, deadline)
                .await,
        )
    }

    /// SPF results without asking DNS, for a session past its allowance of checks: a
    /// `temperror`, as for a DNS failure (the client may retry in a new session).
    pub fn spf_not_checked(&self, envelope: Envelope<'_>) -> SenderAuthResults {
        let (domain, identity) = identity(envelope.helo.unwrap_or_default(), envelope.mail_from);
        SenderAuthResults {
            spf_mail_from: Some(SpfCheck {
                domain,
                result: SpfVerdict::TempError,
            }),
            mail_from: identity,
            ..SenderAuthResults::for_client(envelope.client)
        }
    }

    /// Everything once the message is in: SPF of the origin if the client was a trusted
    /// relay (`at_mail_from` is then `None`), DKIM, ARC and DMARC, all within one time
    /// budget. `raw` is the message as the client sent it. `None` when the message came
    /// from inside (every hop trusted, or the origin a local address without
    /// `check_local`), as mail from such a client directly is not checked.
    pub async fn check_message(
        &self,
        raw: &[u8],
        envelope: Envelope<'_>,
        hops: &[ReceivedHop],
        at_mail_from: Option<&SenderAuthResults>,
    ) -> Option<SenderAuthResults> {
        let deadline = Instant::now() + self.time_budget;
        let mut results = match at_mail_from {
            Some(results) => results.clone(),
            None => match self.relays.path(hops) {
                Path::From(origin) if self.checks_origin(origin.ip) => {
                    let helo = origin.helo.as_deref();
                    self.spf(origin.ip, helo, envelope.mail_from, deadline)
                        .await
                }
                Path::From(_) | Path::Inside => return None,
                Path::Unreadable => {
                    tracing::info!(
                        "the trusted relay's Received field names no sender: SPF temperror"
                    );
                    self.spf_not_checked(envelope)
                }
            },
        };
        let limited = keep_first_signatures(raw, MAX_SIGNATURES);
        let raw = limited.as_ref().map_or(raw, |(bytes, _)| bytes.as_slice());
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            results.dmarc = Some(unchecked_dmarc(String::new(), DmarcVerdict::PermError));
            results.arc = Some(DkimVerdict::None);
            return Some(results);
        };
        results.from_domain = domain_of(message.first_from_address());
        let checks = async {
            let (dkim, arc) = tokio::join!(
                self.authenticator.verify_dkim(&message),
                self.authenticator.verify_arc(&message)
            );
            (dkim, DkimVerdict::from(arc.result()))
        };
        let Ok((dkim, arc)) = tokio::time::timeout_at(deadline, checks).await else {
            tracing::info!("DKIM and ARC checks out of time: temperror");
            results.dkim = timed_out_signatures(&message, &results.from_domain);
            results.arc = Some(DkimVerdict::TempError);
            results.dmarc = Some(unchecked_dmarc(
                results.from_domain.clone(),
                DmarcVerdict::TempError,
            ));
            return Some(results);
        };
        results.arc = Some(arc);
        results.dkim = dkim
            .iter()
            .map(|output| dkim_check(output, &results.from_domain))
            .collect();
        if let Some((_, total)) = limited {
            results.dkim.push(DkimCheck {
                domain: String::new(),
                selector: String::new(),
                result: DkimVerdict::PermError,
                aligned: false,
                detail: format!(
                    "{} more signatures not checked: at most {MAX_SIGNATURES} are",
                    total - MAX_SIGNATURES
                ),
                signature_prefix: String::new(),
            });
        }
        results.dmarc = Some(self.dmarc(&message, &dkim, &results, deadline).await);
        Some(results)
    }

    /// Whether the origin behind the trusted relays is checked: as for a client.
    fn checks_origin(&self, ip: IpAddr) -> bool {
        self.check_local || crate::dns::reverse::is_public(ip)
    }

    async fn spf(
        &self,
        ip: IpAddr,
        helo: Option<&str>,
        mail_from: &str,
        deadline: Instant,
    ) -> SenderAuthResults {
        let helo_name = helo.unwrap_or_default();
        let checks = async {
            let helo_check = async {
                if is_domain_name(helo_name) {
                    let params = SpfParameters::helo(ip, helo_name, &self.hostname);
                    Some(self.authenticator.verify_spf(params).await)
                } else {
                    None
                }
            };
            let params = SpfParameters::mail_from(ip, helo_name, &self.hostname, mail_from);
            tokio::join!(helo_check, self.authenticator.verify_spf(params))
        };
        let (domain, identity) = identity(helo_name, mail_from);
        let (helo_result, mail_from_result) = match tokio::time::timeout_at(deadline, checks).await
        {
            Ok((helo, mail_from)) => (helo.map(|o| o.result()), mail_from.result()),
            Err(_) => {
                tracing::info!("SPF check out of time: temperror");
                (
                    is_domain_name(helo_name).then_some(SpfResult::TempError),
                    SpfResult::TempError,
                )
            }
        };
        SenderAuthResults {
            spf_helo: helo_result.map(|result| SpfCheck {
                domain: helo_name.to_ascii_lowercase(),
                result: result.into(),
            }),
            spf_mail_from: Some(SpfCheck {
                domain,
                result: mail_from_result.into(),
            }),
            mail_from: identity,
            ..SenderAuthResults::for_client(ip)
        }
    }

    async fn dmarc(
        &self,
        message: &AuthenticatedMessage<'_>,
        dkim: &[DkimOutput<'_>],
        results: &SenderAuthResults,
        deadline: Instant,
    ) -> DmarcCheck {
        if results.from_domain.is_empty() {
            return unchecked_dmarc(String::new(), DmarcVerdict::PermError);
        }
        let spf = results.spf_mail_from.as_ref();
        let spf_domain = spf.map_or_else(String::new, |s| s.domain.clone());
        let spf_output = SpfOutput::new(spf_domain.clone())
            .with_result(spf.map_or(SpfResult::None, |s| s.result.into()));
        let params = DmarcParameters::new(message, dkim, &spf_domain, &spf_output);
        let Ok(output) =
            tokio::time::timeout_at(deadline, self.authenticator.verify_dmarc(params)).await
        else {
            tracing::info!("DMARC check out of time: temperror");
            return unchecked_dmarc(results.from_domain.clone(), DmarcVerdict::TempError);
        };
        let mut policy = DmarcPolicy::from(output.policy());
        if matches!(output.result(), DmarcResult::Fail(_))
            && matches!(policy, DmarcPolicy::Reject | DmarcPolicy::Quarantine)
        {
            let percent = self.percentage(&results.from_domain, deadline).await;
            policy = sampled(policy, percent, OsRng.next_u32() % 100);
        }
        DmarcCheck {
            domain: results.from_domain.clone(),
            result: DmarcVerdict::from(&output.result()),
            policy,
            spf_aligned: matches!(output.spf_result(), DmarcResult::Pass),
            dkim_aligned: matches!(output.dkim_result(), DmarcResult::Pass),
        }
    }

    /// The `pct=` of the DMARC record that applies to `from_domain` (RFC 7489 §6.3), found
    /// as mail-auth finds it (RFC 9989's walk: the domain, then each parent, at most 8
    /// names); 100 when absent, and when the record has `t=y` (mail-auth has already
    /// stepped the policy down for it). RFC 9989 dropped `pct`; domains still publish it.
    async fn percentage(&self, from_domain: &str, deadline: Instant) -> u32 {
        let Ok(domain) = crate::domain::Domain::parse(from_domain) else {
            return 100;
        };
        let domain = domain.to_string();
        let labels: Vec<&str> = domain.split('.').collect();
        for start in 0..labels.len().saturating_sub(1).min(8) {
            let name = format!("_dmarc.{}.", labels[start..].join("."));
            let lookup = self.authenticator.resolver().txt_lookup(name.as_str());
            let Ok(Ok(answer)) = tokio::time::timeout_at(deadline, lookup).await else {
                continue;
            };
            for record in answer.answers() {
                let hickory_resolver::proto::rr::RData::TXT(txt) = &record.data else {
                    continue;
                };
                let text: Vec<u8> = txt
                    .txt_data
                    .iter()
                    .flat_map(|c| c.iter().copied())
                    .collect();
                if let Some(percent) = pct_tag(&text) {
                    return percent;
                }
            }
        }
        100
    }
}

/// The sampling percentage a DMARC record asks for: its `pct=` (at most 100), or 100
/// without one or with `t=y`; `None` when `record` is not a DMARC record.
fn pct_tag(record: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(record).ok()?;
    if !text.starts_with("v=DMARC1") {
        return None;
    }
    let tag = |wanted: &str| {
        text.split(';')
            .filter_map(|tag| tag.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.trim())
    };
    if tag("t").is_some_and(|t| t.eq_ignore_ascii_case("y")) {
        return Some(100);
    }
    Some(
        tag("pct")
            .and_then(|p| p.parse::<u32>().ok())
            .map_or(100, |p| p.min(100)),
    )
}

/// The policy applied to a failing message given `pct=percent` and a uniform `draw` in
/// 0..100: the message is in the sample with probability `percent`; outside it the
/// policy steps down one level (RFC 7489 §6.6.4).
fn sampled(policy: DmarcPolicy, percent: u32, draw: u32) -> DmarcPolicy {
    if draw < percent {
        return policy;
    }
    match policy {
        DmarcPolicy::Reject => DmarcPolicy::Quarantine,
        DmarcPolicy::Quarantine => DmarcPolicy::None,
        other => other,
    }
}

/// The domain of `address` (after the last `@`), lower-case; the whole of it when it
/// has no `@`.
fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map_or(address, |(_, d)| d)
        .trim_end_matches('>')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Whether `name` can have an SPF policy: a dotted name, not an address literal.
fn is_domain_name(name: &str) -> bool {
    name.contains('.')
        && !name.starts_with('[')
        && name.parse::<IpAddr>().is_err()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
}

fn dkim_check(output: &DkimOutput<'_>, from_domain: &str) -> DkimCheck {
    let (domain, selector, signature_prefix) = output.signature().map_or_else(
        || (String::new(), String::new(), String::new()),
        |s| {
            (
                shown_domain(&s.d),
                shown_selector(&s.s),
                limits::signature_prefix(&s.b),
            )
        },
    );
    let detail = match output.result() {
        DkimResult::Pass | DkimResult::None => String::new(),
        DkimResult::Fail(e)
        | DkimResult::Neutral(e)
        | DkimResult::PermError(e)
        | DkimResult::TempError(e) => e.to_string(),
    };
    DkimCheck {
        aligned: relaxed_aligned(&domain, from_domain),
        domain,
        selector,
        result: DkimVerdict::from(output.result()),
        detail,
        signature_prefix,
    }
}

/// Every signature of `message` as a temperror (the checks ran out of time).
fn timed_out_signatures(message: &AuthenticatedMessage<'_>, from_domain: &str) -> Vec<DkimCheck> {
    message
        .dkim_signatures()
        .iter()
        .map(|h| DkimCheck {
            aligned: relaxed_aligned(&h.header.d, from_domain),
            domain: shown_domain(&h.header.d),
            selector: shown_selector(&h.header.s),
            result: DkimVerdict::TempError,
            detail: "out of time".to_owned(),
            signature_prefix: limits::signature_prefix(&h.header.b),
        })
        .collect()
}

/// A DMARC result reached without mail-auth's verdict: no policy applies.
fn unchecked_dmarc(domain: String, result: DmarcVerdict) -> DmarcCheck {
    DmarcCheck {
        domain,
        result,
        policy: DmarcPolicy::Unspecified,
        spf_aligned: false,
        dkim_aligned: false,
    }
}

/// The domain SPF checks for MAIL FROM `mail_from` after HELO `helo` (the HELO name for
/// the null sender), and the identity as written (`postmaster@HELO` for the null sender).
fn identity(helo: &str, mail_from: &str) -> (String, String) {
    if mail_from.is_empty() {
        (helo.to_ascii_lowercase(), format!("postmaster@{helo}"))
    } else {
        (domain_of(mail_from), mail_from.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pct_is_read_from_a_dmarc_record_only() {
        assert_eq!(pct_tag(b"v=DMARC1; p=reject; pct=20"), Some(20));
        assert_eq!(pct_tag(b"v=DMARC1; p=reject; PCT = 250"), Some(100));
        assert_eq!(pct_tag(b"v=DMARC1; p=reject"), Some(100));
        assert_eq!(pct_tag(b"v=DMARC1; p=reject; pct=10; t=y"), Some(100));
        assert_eq!(pct_tag(b"v=spf1 pct=20"), None);
    }

    #[test]
    fn outside_the_sample_the_policy_steps_down_one_level() {
        assert_eq!(sampled(DmarcPolicy::Reject, 20, 19), DmarcPolicy::Reject);
        assert_eq!(
            sampled(DmarcPolicy::Reject, 20, 20),
            DmarcPolicy::Quarantine
        );
        assert_eq!(sampled(DmarcPolicy::Quarantine, 0, 0), DmarcPolicy::None);
        assert_eq!(sampled(DmarcPolicy::Reject, 100, 99), DmarcPolicy::Reject);
    }

    #[test]
    fn helo_names_worth_an_spf_check() {
        assert!(is_domain_name("mail.example.org"));
        assert!(!is_domain_name("localhost"));
        assert!(!is_domain_name("[192.0.2.1]"));
        assert!(!is_domain_name("192.0.2.1"));
        assert!(!is_domain_name("bad name.example"));
    }

    #[test]
    fn domains_are_taken_after_the_last_at() {
        assert_eq!(domain_of("Alice@Example.ORG"), "example.org");
        assert_eq!(domain_of("\"a@b\"@example.org"), "example.org");
        assert_eq!(domain_of("example.org."), "example.org");
    }
}
