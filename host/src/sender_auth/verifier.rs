//! The checks themselves, with mail-auth on the gateway's resolver: SPF when MAIL FROM
//! arrives (so a policy can refuse early), DKIM, ARC and DMARC once the message is in.
//! Each step is bounded by the time budget; what runs out of time is a `temperror`,
//! never a stall.

use std::net::IpAddr;
use std::time::Duration;

use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DkimResult, DmarcOutput, DmarcResult, MessageAuthenticator,
    SpfOutput, SpfResult,
};
use password_hash::rand_core::{OsRng, RngCore as _};

use super::alignment::{organizational_domain, relaxed_aligned};
use super::relays::TrustedRelays;
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
        Some(
            self.spf(envelope.client, envelope.helo, envelope.mail_from)
                .await,
        )
    }

    /// Everything once the message is in: SPF of the origin if the client was a trusted
    /// relay (`at_mail_from` is then `None`), DKIM, ARC and DMARC. `raw` is the message as
    /// the client sent it.
    pub async fn check_message(
        &self,
        raw: &[u8],
        envelope: Envelope<'_>,
        hops: &[ReceivedHop],
        at_mail_from: Option<&SenderAuthResults>,
    ) -> SenderAuthResults {
        let mut results = match at_mail_from {
            Some(results) => results.clone(),
            None => match self.relays.first_untrusted(hops) {
                Some(origin) => {
                    self.spf(origin.ip, origin.helo.as_deref(), envelope.mail_from)
                        .await
                }
                None => SenderAuthResults::for_client(envelope.client),
            },
        };
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            results.dmarc = Some(DmarcCheck {
                domain: String::new(),
                result: DmarcVerdict::PermError,
                policy: DmarcPolicy::Unspecified,
                spf_aligned: false,
                dkim_aligned: false,
            });
            results.arc = Some(DkimVerdict::None);
            return results;
        };
        results.from_domain = domain_of(message.first_from_address());
        let checks = async {
            let (dkim, arc) = tokio::join!(
                self.authenticator.verify_dkim(&message),
                self.authenticator.verify_arc(&message)
            );
            (dkim, arc.result().clone())
        };
        let (dkim, arc) = match tokio::time::timeout(self.time_budget, checks).await {
            Ok((dkim, arc)) => (dkim, Some(dkim_verdict(&arc))),
            Err(_) => {
                tracing::info!("DKIM and ARC checks out of time: temperror");
                results.dkim = timed_out_signatures(&message, &results.from_domain);
                results.arc = Some(DkimVerdict::TempError);
                results.dmarc = Some(timed_out_dmarc(&results.from_domain));
                return results;
            }
        };
        results.arc = arc;
        results.dkim = dkim
            .iter()
            .map(|output| dkim_check(output, &results.from_domain))
            .collect();
        results.dmarc = Some(self.dmarc(&message, &dkim, &results).await);
        results
    }

    async fn spf(&self, ip: IpAddr, helo: Option<&str>, mail_from: &str) -> SenderAuthResults {
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
        let mail_from_domain = if mail_from.is_empty() {
            helo_name.to_ascii_lowercase()
        } else {
            domain_of(mail_from)
        };
        let identity = if mail_from.is_empty() {
            format!("postmaster@{helo_name}")
        } else {
            mail_from.to_owned()
        };
        let (helo_result, mail_from_result) =
            match tokio::time::timeout(self.time_budget, checks).await {
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
                result: spf_verdict(result),
            }),
            spf_mail_from: Some(SpfCheck {
                domain: mail_from_domain,
                result: spf_verdict(mail_from_result),
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
    ) -> DmarcCheck {
        if results.from_domain.is_empty() {
            return DmarcCheck {
                domain: String::new(),
                result: DmarcVerdict::PermError,
                policy: DmarcPolicy::Unspecified,
                spf_aligned: false,
                dkim_aligned: false,
            };
        }
        let spf = results.spf_mail_from.as_ref();
        let spf_domain = spf.map_or_else(String::new, |s| s.domain.clone());
        let spf_output = SpfOutput::new(spf_domain.clone())
            .with_result(spf.map_or(SpfResult::None, |s| spf_result(s.result)));
        let params = DmarcParameters::new(message, dkim, &spf_domain, &spf_output);
        let Ok(output) =
            tokio::time::timeout(self.time_budget, self.authenticator.verify_dmarc(params)).await
        else {
            tracing::info!("DMARC check out of time: temperror");
            return timed_out_dmarc(&results.from_domain);
        };
        let mut policy = dmarc_policy(&output);
        if matches!(output.result(), DmarcResult::Fail(_))
            && matches!(policy, DmarcPolicy::Reject | DmarcPolicy::Quarantine)
        {
            let percent = self.percentage(&results.from_domain).await;
            policy = sampled(policy, percent, OsRng.next_u32() % 100);
        }
        DmarcCheck {
            domain: results.from_domain.clone(),
            result: dmarc_verdict(&output.result()),
            policy,
            spf_aligned: matches!(output.spf_result(), DmarcResult::Pass),
            dkim_aligned: matches!(output.dkim_result(), DmarcResult::Pass),
        }
    }

    /// The `pct=` of the From domain's DMARC record (RFC 7489 §6.3), or of its
    /// organizational domain's; 100 when absent. mail-auth follows RFC 9989, which
    /// dropped `pct`; domains still publish it, and receivers still honour it.
    async fn percentage(&self, from_domain: &str) -> u32 {
        let organizational = organizational_domain(from_domain);
        let mut names = vec![format!("_dmarc.{from_domain}.")];
        if organizational != from_domain {
            names.push(format!("_dmarc.{organizational}."));
        }
        for name in names {
            let lookup = self.authenticator.resolver().txt_lookup(name.as_str());
            let Ok(Ok(answer)) = tokio::time::timeout(self.time_budget, lookup).await else {
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
                if text.starts_with(b"v=DMARC1") {
                    return 100;
                }
            }
        }
        100
    }
}

/// The `pct=` tag of a DMARC record, if it has a valid one.
fn pct_tag(record: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(record).ok()?;
    if !text.starts_with("v=DMARC1") {
        return None;
    }
    text.split(';')
        .filter_map(|tag| tag.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("pct"))
        .and_then(|(_, value)| value.trim().parse::<u32>().ok())
        .map(|p| p.min(100))
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

fn spf_verdict(result: SpfResult) -> SpfVerdict {
    match result {
        SpfResult::Pass => SpfVerdict::Pass,
        SpfResult::Fail => SpfVerdict::Fail,
        SpfResult::SoftFail => SpfVerdict::SoftFail,
        SpfResult::Neutral => SpfVerdict::Neutral,
        SpfResult::TempError => SpfVerdict::TempError,
        SpfResult::PermError => SpfVerdict::PermError,
        SpfResult::None => SpfVerdict::None,
    }
}

fn spf_result(verdict: SpfVerdict) -> SpfResult {
    match verdict {
        SpfVerdict::Pass => SpfResult::Pass,
        SpfVerdict::Fail => SpfResult::Fail,
        SpfVerdict::SoftFail => SpfResult::SoftFail,
        SpfVerdict::Neutral => SpfResult::Neutral,
        SpfVerdict::TempError => SpfResult::TempError,
        SpfVerdict::PermError => SpfResult::PermError,
        SpfVerdict::None => SpfResult::None,
    }
}

fn dkim_verdict(result: &DkimResult) -> DkimVerdict {
    match result {
        DkimResult::Pass => DkimVerdict::Pass,
        DkimResult::Fail(_) => DkimVerdict::Fail,
        DkimResult::Neutral(_) => DkimVerdict::Neutral,
        DkimResult::PermError(_) => DkimVerdict::PermError,
        DkimResult::TempError(_) => DkimVerdict::TempError,
        DkimResult::None => DkimVerdict::None,
    }
}

fn dkim_check(output: &DkimOutput<'_>, from_domain: &str) -> DkimCheck {
    let (domain, selector) = output.signature().map_or_else(
        || (String::new(), String::new()),
        |s| (s.d.to_ascii_lowercase(), s.s.clone()),
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
        result: dkim_verdict(output.result()),
        detail,
    }
}

fn dmarc_verdict(result: &DmarcResult) -> DmarcVerdict {
    match result {
        DmarcResult::Pass => DmarcVerdict::Pass,
        DmarcResult::Fail(_) => DmarcVerdict::Fail,
        DmarcResult::TempError(_) => DmarcVerdict::TempError,
        DmarcResult::PermError(_) => DmarcVerdict::PermError,
        DmarcResult::None => DmarcVerdict::None,
    }
}

fn dmarc_policy(output: &DmarcOutput) -> DmarcPolicy {
    match output.policy() {
        mail_auth::dmarc::Policy::None => DmarcPolicy::None,
        mail_auth::dmarc::Policy::Quarantine => DmarcPolicy::Quarantine,
        mail_auth::dmarc::Policy::Reject => DmarcPolicy::Reject,
        mail_auth::dmarc::Policy::Unspecified => DmarcPolicy::Unspecified,
    }
}

/// Every signature of `message` as a temperror (the checks ran out of time).
fn timed_out_signatures(message: &AuthenticatedMessage<'_>, from_domain: &str) -> Vec<DkimCheck> {
    message
        .dkim_signatures()
        .iter()
        .map(|h| DkimCheck {
            aligned: relaxed_aligned(&h.header.d, from_domain),
            domain: h.header.d.to_ascii_lowercase(),
            selector: h.header.s.clone(),
            result: DkimVerdict::TempError,
            detail: "out of time".to_owned(),
        })
        .collect()
}

fn timed_out_dmarc(from_domain: &str) -> DmarcCheck {
    DmarcCheck {
        domain: from_domain.to_owned(),
        result: DmarcVerdict::TempError,
        policy: DmarcPolicy::Unspecified,
        spf_aligned: false,
        dkim_aligned: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pct_is_read_from_a_dmarc_record_only() {
        assert_eq!(pct_tag(b"v=DMARC1; p=reject; pct=20"), Some(20));
        assert_eq!(pct_tag(b"v=DMARC1; p=reject; PCT = 250"), Some(100));
        assert_eq!(pct_tag(b"v=DMARC1; p=reject"), None);
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
