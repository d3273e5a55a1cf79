//! Turning a question into the name asked on the wire.
//!
//! Every name is made fully qualified: a plugin asking for `2.0.0.127.bl.example` means that
//! zone, never a search-list variant of it (which would also cost extra queries, each of
//! which a block list would answer NXDOMAIN).

use std::net::IpAddr;
use std::str::FromStr;

use hickory_resolver::proto::rr::Name;

use super::error::LookupError;
use super::kind::RecordKind;

/// The name to ask for `question`: for PTR, the reverse name (`in-addr.arpa` or
/// `ip6.arpa`) of the IP address it must be; otherwise the domain name itself (a trailing
/// dot is optional, internationalised names are IDNA-encoded).
///
/// Fails with [`LookupError::InvalidName`] on an empty or unparsable name, or a PTR
/// question that is not an IP address.
pub(crate) fn query_name(question: &str, kind: RecordKind) -> Result<Name, LookupError> {
    let mut name = match kind {
        RecordKind::Ptr => {
            let ip = IpAddr::from_str(question).map_err(|_| LookupError::InvalidName)?;
            Name::from(ip)
        }
        _ if question.is_empty() => return Err(LookupError::InvalidName),
        _ => Name::from_str(question).map_err(|_| LookupError::InvalidName)?,
    };
    name.set_fqdn(true);
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(question: &str, kind: RecordKind) -> String {
        query_name(question, kind)
            .expect("question should be valid")
            .to_ascii()
    }

    #[test]
    fn names_are_made_fully_qualified() {
        assert_eq!(
            asked("2.0.0.127.bl.moat.test", RecordKind::A),
            "2.0.0.127.bl.moat.test."
        );
        assert_eq!(asked("example.org.", RecordKind::Mx), "example.org.");
        assert_eq!(asked("localhost", RecordKind::A), "localhost.");
    }

    #[test]
    fn underscores_and_idn_are_accepted() {
        assert_eq!(
            asked("_dmarc.example.org", RecordKind::Txt),
            "_dmarc.example.org."
        );
        assert_eq!(
            asked("bücher.example", RecordKind::A),
            "xn--bcher-kva.example."
        );
    }

    #[test]
    fn ptr_asks_the_reverse_name() {
        assert_eq!(
            asked("127.0.0.2", RecordKind::Ptr),
            "2.0.0.127.in-addr.arpa."
        );
        assert_eq!(
            asked("2001:db8::1", RecordKind::Ptr),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        );
    }

    #[test]
    fn bad_questions_are_invalid_names() {
        let too_long_label = format!("{}.example", "a".repeat(64));
        let too_long_name = vec!["abcdefghij"; 30].join(".");
        let cases = [
            ("", RecordKind::A),
            ("a..b", RecordKind::A),
            (too_long_label.as_str(), RecordKind::A),
            (too_long_name.as_str(), RecordKind::Txt),
            ("example.org", RecordKind::Ptr),
            ("256.0.0.1", RecordKind::Ptr),
            ("", RecordKind::Ptr),
        ];
        for (question, kind) in cases {
            assert_eq!(
                query_name(question, kind),
                Err(LookupError::InvalidName),
                "{question:?} {kind}"
            );
        }
    }
}
