//! MX resolution (RFC 5321 §5.1): a domain's MX hosts in preference order, each with its
//! A and AAAA addresses; the domain's own address when it has no MX (the implicit MX);
//! and the null MX (RFC 7505), which says the domain accepts no mail at all.

use super::host::{Host, RouteError, addresses};
use crate::dns::{LookupError, RecordKind, Resolver};

/// The hosts to try for mail to `domain`, best preference first, at `port`. `domain` is
/// in its one spelling (a lowercase A-label name, from [`super::route::Destination`]), so
/// the lookup asks for the domain relay control and routing decided on, never a Unicode
/// spelling the resolver would map its own way.
pub(super) async fn hosts(
    resolver: Option<&Resolver>,
    domain: &str,
    port: u16,
) -> Result<Vec<Host>, RouteError> {
    let temporary = |reason: String| RouteError::Temporary {
        destination: domain.to_owned(),
        reason,
    };
    let Some(dns) = resolver else {
        return Err(temporary("no DNS resolver is available".into()));
    };
    let records = match dns.lookup(domain, RecordKind::Mx).await {
        Ok(answers) => parse(&answers),
        Err(LookupError::NotFound) => {
            // No MX: the domain's own address is its mail host (RFC 5321 §5.1).
            return match addresses(resolver, domain, port).await {
                Ok(addresses) => Ok(vec![Host {
                    name: domain.to_owned(),
                    addresses,
                }]),
                Err(LookupError::NotFound | LookupError::InvalidName) => {
                    Err(RouteError::Permanent {
                        reply: format!(
                            "550 5.1.2 the domain {domain} has no MX and no address records"
                        ),
                    })
                }
                Err(error) => Err(temporary(format!("address lookup: {error}"))),
            };
        }
        Err(LookupError::InvalidName) => {
            return Err(RouteError::Permanent {
                reply: format!("550 5.1.2 {domain:?} is not a valid domain name"),
            });
        }
        Err(error) => return Err(temporary(format!("MX lookup: {error}"))),
    };
    if records.iter().any(|(_, host)| host.is_empty()) {
        return Err(RouteError::Permanent {
            reply: format!("556 5.1.10 the domain {domain} accepts no mail (null MX)"),
        });
    }
    let mut hosts = Vec::new();
    let mut temporary_failure = None;
    for (_, name) in records {
        match addresses(resolver, &name, port).await {
            Ok(addresses) => hosts.push(Host { name, addresses }),
            Err(LookupError::NotFound | LookupError::InvalidName) => {}
            Err(error) => temporary_failure = Some(format!("{name}: {error}")),
        }
    }
    if !hosts.is_empty() {
        return Ok(hosts);
    }
    match temporary_failure {
        Some(reason) => Err(temporary(reason)),
        None => Err(RouteError::Permanent {
            reply: format!("550 5.4.4 no MX host of {domain} has an address"),
        }),
    }
}

/// MX answers (`PREFERENCE HOST.`) as (preference, host without the final dot), sorted by
/// preference; the order of equal preferences is kept. The null MX's host is `""`.
fn parse(answers: &[String]) -> Vec<(u16, String)> {
    let mut records: Vec<(u16, String)> = answers
        .iter()
        .filter_map(|answer| {
            let (preference, host) = answer.split_once(' ')?;
            Some((
                preference.parse().ok()?,
                host.trim().trim_end_matches('.').to_ascii_lowercase(),
            ))
        })
        .collect();
    records.sort_by_key(|(preference, _)| *preference);
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_sort_by_preference_keeping_ties_in_order() {
        let answers = [
            "20 b.example.",
            "10 a.example.",
            "20 c.example.",
            "5 Z.Example.",
        ]
        .map(String::from);
        assert_eq!(
            parse(&answers),
            [
                (5, "z.example".to_owned()),
                (10, "a.example".to_owned()),
                (20, "b.example".to_owned()),
                (20, "c.example".to_owned()),
            ]
        );
    }

    #[test]
    fn the_null_mx_has_an_empty_host() {
        assert_eq!(parse(&["0 .".to_owned()]), [(0, String::new())]);
    }
}
