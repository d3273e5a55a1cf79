//! `sender-auth`: the message's SPF, DKIM, DMARC and ARC results, read-only and open to
//! every plugin (they reveal nothing a plugin could not ask DNS itself).

use crate::filter::bindings::moat::filter::sender_auth::{self as wit, Host};
use crate::filter::store::StoreState;
use crate::sender_auth::{
    DkimVerdict, DmarcPolicy, DmarcVerdict, SenderAuthResults, SpfCheck, SpfVerdict,
};

impl Host for StoreState {
    fn results(&mut self) -> wasmtime::Result<Option<wit::AuthResults>> {
        Ok(self.sender_auth.as_deref().map(to_wit))
    }
}

fn to_wit(r: &SenderAuthResults) -> wit::AuthResults {
    wit::AuthResults {
        client_ip: r.client_ip.to_string(),
        spf_helo: r.spf_helo.as_ref().map(spf),
        spf_mail_from: r.spf_mail_from.as_ref().map(spf),
        dkim: r
            .dkim
            .iter()
            .map(|d| wit::DkimSignature {
                domain: d.domain.clone(),
                selector: d.selector.clone(),
                result: dkim(d.result),
                aligned: d.aligned,
                detail: d.detail.clone(),
            })
            .collect(),
        dmarc: r.dmarc.as_ref().map(|d| wit::DmarcCheck {
            domain: d.domain.clone(),
            result: match d.result {
                DmarcVerdict::Pass => wit::DmarcResult::Pass,
                DmarcVerdict::Fail => wit::DmarcResult::Fail,
                DmarcVerdict::None => wit::DmarcResult::None,
                DmarcVerdict::TempError => wit::DmarcResult::TempError,
                DmarcVerdict::PermError => wit::DmarcResult::PermError,
            },
            policy: match d.policy {
                DmarcPolicy::None => wit::DmarcPolicy::None,
                DmarcPolicy::Quarantine => wit::DmarcPolicy::Quarantine,
                DmarcPolicy::Reject => wit::DmarcPolicy::Reject,
                DmarcPolicy::Unspecified => wit::DmarcPolicy::Unspecified,
            },
            spf_aligned: d.spf_aligned,
            dkim_aligned: d.dkim_aligned,
        }),
        arc: r.arc.map(dkim),
        from_domain: r.from_domain.clone(),
    }
}

fn spf(check: &SpfCheck) -> wit::SpfCheck {
    wit::SpfCheck {
        domain: check.domain.clone(),
        result: match check.result {
            SpfVerdict::Pass => wit::SpfResult::Pass,
            SpfVerdict::Fail => wit::SpfResult::Fail,
            SpfVerdict::SoftFail => wit::SpfResult::SoftFail,
            SpfVerdict::Neutral => wit::SpfResult::Neutral,
            SpfVerdict::None => wit::SpfResult::None,
            SpfVerdict::TempError => wit::SpfResult::TempError,
            SpfVerdict::PermError => wit::SpfResult::PermError,
        },
    }
}

fn dkim(verdict: DkimVerdict) -> wit::DkimResult {
    match verdict {
        DkimVerdict::Pass => wit::DkimResult::Pass,
        DkimVerdict::Fail => wit::DkimResult::Fail,
        DkimVerdict::Neutral => wit::DkimResult::Neutral,
        DkimVerdict::None => wit::DkimResult::None,
        DkimVerdict::TempError => wit::DkimResult::TempError,
        DkimVerdict::PermError => wit::DkimResult::PermError,
    }
}
