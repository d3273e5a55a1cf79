//! What one A-record answer of a block list means. Pure, no host calls.

use std::net::Ipv4Addr;

use crate::config::{List, is_refusal_code};

/// The meaning of one answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Meaning {
    /// Listed: this symbol with this score (the code's score, or the list's score for a
    /// code not in `codes`, times the list's weight).
    Listed {
        /// The symbol to emit.
        symbol: String,
        /// Its score, the list's weight applied.
        score: f64,
    },
    /// 127.255.255.0/24: the list refused the query (public resolver, over quota, …).
    Refused,
    /// Not an IPv4 address in 127.0.0.0/8: not something a block list answers; ignored.
    Bogus,
}

/// What `answer` (a dotted quad, as the host returns A records) means for `list`.
pub(crate) fn classify(list: &List, answer: &str) -> Meaning {
    let Ok(ip) = answer.trim().parse::<Ipv4Addr>() else {
        return Meaning::Bogus;
    };
    if ip.octets()[0] != 127 {
        return Meaning::Bogus;
    }
    if is_refusal_code(ip) {
        return Meaning::Refused;
    }
    let (symbol, score) = match list.codes.get(&ip) {
        Some(code) => (code.symbol.to_string(), code.score),
        None => (list.name.clone(), list.score),
    };
    Meaning::Listed {
        symbol,
        score: score * list.weight,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::{Code, Kind};

    fn list(weight: f64) -> List {
        List {
            name: "TEST_BL".to_owned(),
            zone: "bl.moat.test".to_owned(),
            kind: Kind::Ip,
            weight,
            score: 4.0,
            codes: BTreeMap::from([
                (
                    Ipv4Addr::new(127, 0, 0, 2),
                    Code {
                        symbol: "TEST_BL_SPAM".into(),
                        score: 5.0,
                    },
                ),
                (
                    Ipv4Addr::new(127, 0, 0, 10),
                    Code {
                        symbol: "TEST_BL_POLICY".into(),
                        score: 2.0,
                    },
                ),
            ]),
        }
    }

    fn listed(symbol: &str, score: f64) -> Meaning {
        Meaning::Listed {
            symbol: symbol.to_owned(),
            score,
        }
    }

    #[test]
    fn known_codes_give_their_symbol() {
        assert_eq!(
            classify(&list(1.0), "127.0.0.2"),
            listed("TEST_BL_SPAM", 5.0)
        );
        assert_eq!(
            classify(&list(1.0), "127.0.0.10"),
            listed("TEST_BL_POLICY", 2.0)
        );
    }

    #[test]
    fn other_loopback_codes_give_the_list_score() {
        assert_eq!(classify(&list(1.0), "127.0.0.3"), listed("TEST_BL", 4.0));
        assert_eq!(classify(&list(1.0), "127.0.1.2"), listed("TEST_BL", 4.0));
    }

    #[test]
    fn weight_multiplies_every_score() {
        assert_eq!(
            classify(&list(0.5), "127.0.0.2"),
            listed("TEST_BL_SPAM", 2.5)
        );
        assert_eq!(classify(&list(2.0), "127.0.0.4"), listed("TEST_BL", 8.0));
    }

    #[test]
    fn refusals_are_recognised() {
        for code in ["127.255.255.252", "127.255.255.254", "127.255.255.255"] {
            assert_eq!(classify(&list(1.0), code), Meaning::Refused, "{code}");
        }
    }

    #[test]
    fn answers_outside_loopback_are_bogus() {
        for answer in ["192.0.2.1", "10.0.0.2", "2001:db8::1", "garbage", ""] {
            assert_eq!(classify(&list(1.0), answer), Meaning::Bogus, "{answer}");
        }
    }
}
