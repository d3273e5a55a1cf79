//! The record kinds a lookup may ask for, and how each kind's answers are written as
//! strings (the forms `wit/dns.wit` promises plugins).

use std::fmt;

use hickory_resolver::proto::rr::{RData, Record, RecordType};

/// The kind of record asked for; each kind has one answer format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// IPv4 addresses, answered as dotted quads (`127.0.0.2`).
    A,
    /// IPv6 addresses, answered in RFC 5952 form (`2001:db8::1`).
    Aaaa,
    /// Text records; each answer is one record's strings concatenated, decoded as UTF-8
    /// (invalid sequences replaced by U+FFFD).
    Txt,
    /// Mail exchangers, answered as `PREFERENCE HOST` (`10 mx.example.org.`).
    Mx,
    /// Reverse names: the question is an IP address, answers are host names
    /// (`host.example.org.`).
    Ptr,
}

impl RecordKind {
    /// The DNS record type asked on the wire.
    pub(crate) fn record_type(self) -> RecordType {
        match self {
            Self::A => RecordType::A,
            Self::Aaaa => RecordType::AAAA,
            Self::Txt => RecordType::TXT,
            Self::Mx => RecordType::MX,
            Self::Ptr => RecordType::PTR,
        }
    }

    /// The answers of this kind among `records`, formatted; records of other types (the
    /// CNAMEs of a chain, say) are left out.
    pub(crate) fn format_answers(self, records: &[Record]) -> Vec<String> {
        records
            .iter()
            .filter_map(|record| self.format(&record.data))
            .collect()
    }

    /// One record's data in this kind's format, or `None` if it is of another type.
    ///
    /// Host names are written in their ASCII form (IDN labels as `xn--` A-labels) with the
    /// trailing dot, so that they compare byte for byte and parse back unchanged.
    fn format(self, data: &RData) -> Option<String> {
        match (self, data) {
            (Self::A, RData::A(a)) => Some(a.0.to_string()),
            // std's Ipv6Addr display is RFC 5952: lowercase, longest zero run compressed.
            (Self::Aaaa, RData::AAAA(aaaa)) => Some(aaaa.0.to_string()),
            (Self::Txt, RData::TXT(txt)) => {
                // Join the bytes first, so a character split across strings survives.
                let joined: Vec<u8> = txt
                    .txt_data
                    .iter()
                    .flat_map(|s| s.iter().copied())
                    .collect();
                Some(String::from_utf8_lossy(&joined).into_owned())
            }
            (Self::Mx, RData::MX(mx)) => {
                Some(format!("{} {}", mx.preference, mx.exchange.to_ascii()))
            }
            (Self::Ptr, RData::PTR(ptr)) => Some(ptr.0.to_ascii()),
            _ => None,
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Txt => "TXT",
            Self::Mx => "MX",
            Self::Ptr => "PTR",
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::str::FromStr;

    use hickory_resolver::proto::rr::Name;
    use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, TXT};

    use super::*;

    fn record(data: RData) -> Record {
        let owner = Name::from_str("owner.example.").expect("valid test name");
        Record::from_rdata(owner, 300, data)
    }

    fn name(s: &str) -> Name {
        Name::from_str(s).expect("valid test name")
    }

    #[test]
    fn a_is_a_dotted_quad() {
        let records = [record(RData::A(A(Ipv4Addr::new(127, 0, 0, 2))))];
        assert_eq!(RecordKind::A.format_answers(&records), ["127.0.0.2"]);
    }

    #[test]
    fn aaaa_is_rfc_5952() {
        let cases = [
            ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
            ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("::ffff:127.0.0.2", "::ffff:127.0.0.2"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ];
        for (input, expected) in cases {
            let ip = Ipv6Addr::from_str(input).expect("valid test address");
            let records = [record(RData::AAAA(AAAA(ip)))];
            assert_eq!(
                RecordKind::Aaaa.format_answers(&records),
                [expected],
                "{input}"
            );
        }
    }

    #[test]
    fn txt_joins_each_records_strings() {
        let records = [
            record(RData::TXT(TXT::new(vec!["v=spf1 ".into(), "-all".into()]))),
            record(RData::TXT(TXT::new(vec!["second".into()]))),
        ];
        assert_eq!(
            RecordKind::Txt.format_answers(&records),
            ["v=spf1 -all", "second"]
        );
    }

    #[test]
    fn txt_keeps_a_character_split_across_strings_and_replaces_invalid_bytes() {
        // "é" is 0xC3 0xA9: split between two strings it must still come out whole.
        let split = TXT::from_bytes(vec![b"caf\xc3", b"\xa9"]);
        let invalid = TXT::from_bytes(vec![b"bad\xff"]);
        let records = [record(RData::TXT(split)), record(RData::TXT(invalid))];
        assert_eq!(
            RecordKind::Txt.format_answers(&records),
            ["café", "bad\u{fffd}"]
        );
    }

    #[test]
    fn mx_is_preference_then_host_with_trailing_dot() {
        let records = [
            record(RData::MX(MX::new(10, name("mx.example.org.")))),
            record(RData::MX(MX::new(20, name("bücher.example.")))),
        ];
        assert_eq!(
            RecordKind::Mx.format_answers(&records),
            ["10 mx.example.org.", "20 xn--bcher-kva.example."]
        );
    }

    #[test]
    fn ptr_is_the_host_name() {
        let records = [record(RData::PTR(PTR(name("host.example.org."))))];
        assert_eq!(
            RecordKind::Ptr.format_answers(&records),
            ["host.example.org."]
        );
    }

    #[test]
    fn records_of_other_types_are_left_out() {
        let records = [
            record(RData::CNAME(CNAME(name("alias.example.")))),
            record(RData::A(A(Ipv4Addr::new(192, 0, 2, 1)))),
        ];
        assert_eq!(RecordKind::A.format_answers(&records), ["192.0.2.1"]);
        assert!(RecordKind::Mx.format_answers(&records).is_empty());
    }

    #[test]
    fn kinds_map_to_their_record_types() {
        assert_eq!(RecordKind::A.record_type(), RecordType::A);
        assert_eq!(RecordKind::Aaaa.record_type(), RecordType::AAAA);
        assert_eq!(RecordKind::Txt.record_type(), RecordType::TXT);
        assert_eq!(RecordKind::Mx.record_type(), RecordType::MX);
        assert_eq!(RecordKind::Ptr.record_type(), RecordType::PTR);
        assert_eq!(RecordKind::Aaaa.to_string(), "AAAA");
    }
}
