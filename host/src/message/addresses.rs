//! The addresses of a message's address fields, from mail-parser's parse: what the
//! `message.addresses` import gives plugins, so none needs an address parser.

use mail_parser::{Addr, Address, HeaderValue};

/// One address of an address field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAddress {
    /// The decoded display name, if any.
    pub name: Option<String>,
    /// The address as written.
    pub address: String,
    /// Before its last `@` (all of it without one).
    pub local_part: String,
    /// After its last `@`, lower-cased; empty without one.
    pub domain: String,
    /// The group it is listed in, if any.
    pub group: Option<String>,
}

impl MailAddress {
    fn new(addr: &Addr<'_>, group: Option<&str>) -> Option<Self> {
        let address = addr.address.as_deref()?.trim();
        if address.is_empty() {
            return None;
        }
        let (local_part, domain) = match address.rsplit_once('@') {
            Some((local, domain)) => (local, domain.to_ascii_lowercase()),
            None => (address, String::new()),
        };
        Some(Self {
            name: addr
                .name
                .as_deref()
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned),
            address: address.to_owned(),
            local_part: local_part.to_owned(),
            domain,
            group: group.map(str::to_owned),
        })
    }
}

/// The addresses in `value`, if it is an address field's, group members included.
pub(super) fn of_value(value: &HeaderValue<'_>) -> Vec<MailAddress> {
    match value.as_address() {
        Some(Address::List(list)) => list
            .iter()
            .filter_map(|addr| MailAddress::new(addr, None))
            .collect(),
        Some(Address::Group(groups)) => groups
            .iter()
            .flat_map(|group| {
                group
                    .addresses
                    .iter()
                    .filter_map(|addr| MailAddress::new(addr, group.name.as_deref()))
            })
            .collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::message::ParsedMessage;

    fn parsed(headers: &str) -> ParsedMessage {
        ParsedMessage::parse(format!("{headers}\r\n\r\nbody\r\n").into_bytes()).unwrap()
    }

    #[test]
    fn names_parts_and_groups_come_from_the_parse() {
        let message = parsed(
            "From: \"Example, Alice\" <Alice@Example.ORG>\r\n\
             To: =?utf-8?q?J=C3=B6rg?= <jorg@b.example>, bare@c.example (Old Style)\r\n\
             Cc: Team: x@d.example, y@e.example;, undisclosed-recipients:;\r\n\
             Subject: alice@not.an.address",
        );
        let from = message.addresses("from");
        assert_eq!(from.len(), 1);
        assert_eq!(from[0].name.as_deref(), Some("Example, Alice"));
        assert_eq!(from[0].address, "Alice@Example.ORG");
        assert_eq!(from[0].local_part, "Alice");
        assert_eq!(from[0].domain, "example.org");
        let to = message.addresses("To");
        let pairs: Vec<(Option<&str>, &str)> = to
            .iter()
            .map(|a| (a.name.as_deref(), a.address.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                (Some("Jörg"), "jorg@b.example"),
                (Some("Old Style"), "bare@c.example")
            ]
        );
        let cc = message.addresses("Cc");
        let members: Vec<(&str, Option<&str>)> = cc
            .iter()
            .map(|a| (a.address.as_str(), a.group.as_deref()))
            .collect();
        assert_eq!(
            members,
            [("x@d.example", Some("Team")), ("y@e.example", Some("Team"))]
        );
        assert!(
            message.addresses("Subject").is_empty(),
            "not an address field"
        );
        assert!(message.addresses("Reply-To").is_empty(), "absent");
    }
}
