//! `dns`: lookups through the shared, caching resolver.

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

impl Host for StoreState {
    async fn lookup(&mut self, q: Question) -> wasmtime::Result<Result<Vec<String>, DnsError>> {
        if !self.host.dns_granted {
            return Ok(Err(DnsError::Denied));
        }
        let Some(resolver) = self.host.services.resolver.clone() else {
            return Ok(Err(DnsError::ServerFailure));
        };
        Ok(resolver.lookup(&q.name, kind(q.kind)).await.map_err(error))
    }

    async fn lookup_all(
        &mut self,
        qs: Vec<Question>,
    ) -> wasmtime::Result<Vec<Result<Vec<String>, DnsError>>> {
        if !self.host.dns_granted {
            return Ok(qs.iter().map(|_| Err(DnsError::Denied)).collect());
        }
        if qs.len() > MAX_QUESTIONS {
            return Ok(qs.iter().map(|_| Err(DnsError::InvalidName)).collect());
        }
        let Some(resolver) = self.host.services.resolver.clone() else {
            return Ok(qs.iter().map(|_| Err(DnsError::ServerFailure)).collect());
        };
        let questions: Vec<(String, RecordKind)> =
            qs.into_iter().map(|q| (q.name, kind(q.kind))).collect();
        Ok(resolver
            .lookup_all(&questions)
            .await
            .into_iter()
            .map(|r| r.map_err(error))
            .collect())
    }
}
