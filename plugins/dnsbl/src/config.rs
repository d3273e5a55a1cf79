//! The plugin's settings: the serde shape of the `[config]` table, its validation, and the
//! default lists used when the operator configures none. Pure, no host calls.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

use moat_sdk::Symbol;
use serde::Deserialize;

use crate::query::MAX_NAME_LEN;

/// The score of an answer not in a list's `codes`, when the list sets no `score`.
pub(crate) const DEFAULT_LIST_SCORE: f64 = 1.0;
/// A list's weight when it sets none.
pub(crate) const DEFAULT_LIST_WEIGHT: f64 = 1.0;

/// The `[config]` table as the operator wrote it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    /// A client whose IP-list score reaches this is refused before DATA.
    pub(crate) reject_threshold: Option<f64>,
    /// Where that refusal happens.
    #[serde(default)]
    pub(crate) reject_at: RejectAt,
    /// Skip IP-list lookups for loopback, private, link-local and CGNAT clients.
    #[serde(default = "default_exclude_private_ips")]
    pub(crate) exclude_private_ips: bool,
    /// Skip the IP and HELO lists for clients that logged in (SMTP-AUTH).
    #[serde(default = "default_exclude_authenticated")]
    pub(crate) exclude_authenticated: bool,
    /// Skip lookups of names under reserved TLDs (`test`, `example`, `invalid`,
    /// `localhost`, `local`) and of `example.com`/`.net`/`.org`.
    #[serde(default = "default_exclude_reserved_names")]
    pub(crate) exclude_reserved_names: bool,
    /// The lists; `None` (unset) means [`default_lists`], an empty array means none.
    pub(crate) lists: Option<Vec<RawList>>,
}

/// One `[[lists]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawList {
    /// Symbol for answers not in `codes`, and the list's name in details.
    pub(crate) name: String,
    /// The list's DNS zone, e.g. `zen.spamhaus.org`.
    pub(crate) zone: String,
    /// What the list is asked about.
    pub(crate) kind: Kind,
    /// Multiplies every score of this list.
    #[serde(default = "default_weight")]
    pub(crate) weight: f64,
    /// The score of an answer not in `codes`.
    #[serde(default = "default_score")]
    pub(crate) score: f64,
    /// Return code (`127.0.0.2`) → symbol and score.
    #[serde(default)]
    pub(crate) codes: BTreeMap<String, RawCode>,
}

/// One `codes` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCode {
    /// The symbol an answer with this code gives.
    pub(crate) symbol: String,
    /// Its score, before the list's weight.
    pub(crate) score: f64,
}

fn default_exclude_private_ips() -> bool {
    true
}

fn default_exclude_authenticated() -> bool {
    true
}

fn default_exclude_reserved_names() -> bool {
    true
}

fn default_weight() -> f64 {
    DEFAULT_LIST_WEIGHT
}

fn default_score() -> f64 {
    DEFAULT_LIST_SCORE
}

/// Where a client whose IP-list score reaches `reject_threshold` is refused.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RejectAt {
    /// 554 at the greeting.
    #[default]
    Connect,
    /// 550 to every RCPT TO.
    RcptTo,
}

/// What a list is asked about.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// The client IP, reversed (RFC 5782), at the connect stage.
    Ip,
    /// The HELO/EHLO name (RHSBL), at the helo stage.
    Helo,
    /// The envelope sender's domain (RHSBL), at the mail_from stage.
    Sender,
    /// The domains of the URLs in the body (URIBL/SURBL), at the data stage.
    Uri,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ip => "ip",
            Self::Helo => "helo",
            Self::Sender => "sender",
            Self::Uri => "uri",
        })
    }
}

/// The validated settings.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Config {
    /// A client whose IP-list score reaches this is refused; `None`: never.
    pub(crate) reject_threshold: Option<f64>,
    /// Where.
    pub(crate) reject_at: RejectAt,
    /// Whether loopback, private, link-local and CGNAT clients skip the IP lists.
    pub(crate) exclude_private_ips: bool,
    /// Whether clients that logged in skip the IP and HELO lists.
    pub(crate) exclude_authenticated: bool,
    /// Whether reserved names (RFC 2606, RFC 6761) skip the domain lists.
    pub(crate) exclude_reserved_names: bool,
    /// The lists, in configuration order.
    pub(crate) lists: Vec<List>,
}

impl Config {
    /// The lists of `kind`.
    pub(crate) fn lists_of(&self, kind: Kind) -> impl Iterator<Item = &List> {
        self.lists.iter().filter(move |list| list.kind == kind)
    }
}

/// One validated list.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct List {
    /// Symbol prefix and the name for answers not in `codes`.
    pub(crate) name: String,
    /// Lower-case zone without a trailing dot.
    pub(crate) zone: String,
    /// What it is asked about.
    pub(crate) kind: Kind,
    /// Multiplies every score.
    pub(crate) weight: f64,
    /// The score of an answer not in `codes`.
    pub(crate) score: f64,
    /// Return code → symbol and score.
    pub(crate) codes: BTreeMap<Ipv4Addr, Code>,
}

/// What a return code means.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Code {
    /// The symbol.
    pub(crate) symbol: Cow<'static, str>,
    /// The score, before the list's weight.
    pub(crate) score: f64,
}

/// Whether `ip` is a "query refused / over quota" answer (127.255.255.0/24, the Spamhaus
/// convention).
pub(crate) fn is_refusal_code(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    (a, b, c) == (127, 255, 255)
}

impl RawConfig {
    /// Checks every setting; the problems found, each naming its key, if any.
    pub(crate) fn validate(self) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();
        if let Some(threshold) = self.reject_threshold
            && !threshold.is_finite()
        {
            problems.push(format!(
                "reject_threshold: must be a finite number, not {threshold}"
            ));
        }
        let lists = match self.lists {
            None => default_lists(),
            Some(raw) => {
                let mut seen = BTreeSet::new();
                let mut lists = Vec::with_capacity(raw.len());
                for (index, list) in raw.into_iter().enumerate() {
                    let key = format!("lists[{index}]");
                    if !seen.insert(list.name.clone()) {
                        problems.push(format!(
                            "{key}.name: `{}` is used by another list",
                            list.name
                        ));
                    }
                    if let Some(list) = list.validate(&key, &mut problems) {
                        lists.push(list);
                    }
                }
                lists
            }
        };
        if problems.is_empty() {
            Ok(Config {
                reject_threshold: self.reject_threshold,
                reject_at: self.reject_at,
                exclude_private_ips: self.exclude_private_ips,
                exclude_authenticated: self.exclude_authenticated,
                exclude_reserved_names: self.exclude_reserved_names,
                lists,
            })
        } else {
            Err(problems)
        }
    }
}

impl RawList {
    fn validate(self, key: &str, problems: &mut Vec<String>) -> Option<List> {
        let before = problems.len();
        if !Symbol::is_valid_name(&self.name) {
            problems.push(format!(
                "{key}.name: `{}` must be 1 to 64 characters from A-Z, 0-9 and _",
                self.name
            ));
        }
        let zone = self.zone.trim().trim_end_matches('.').to_ascii_lowercase();
        if !valid_zone(&zone) {
            problems.push(format!(
                "{key}.zone: `{}` is not a DNS zone name (ASCII letters, digits, `-` and `_`)",
                self.zone
            ));
        }
        for (what, value) in [("weight", self.weight), ("score", self.score)] {
            if !value.is_finite() {
                problems.push(format!(
                    "{key}.{what}: must be a finite number, not {value}"
                ));
            }
        }
        let mut codes = BTreeMap::new();
        for (code, raw) in self.codes {
            let code_key = format!("{key}.codes.\"{code}\"");
            match code.trim().parse::<Ipv4Addr>() {
                Ok(ip) if ip.octets()[0] != 127 => problems.push(format!(
                    "{code_key}: block lists answer within 127.0.0.0/8; other answers are ignored"
                )),
                Ok(ip) if is_refusal_code(ip) => problems.push(format!(
                    "{code_key}: 127.255.255.0/24 means \"query refused\" and is never scored"
                )),
                Ok(ip) => {
                    if !Symbol::is_valid_name(&raw.symbol) {
                        problems.push(format!(
                            "{code_key}.symbol: `{}` must be 1 to 64 characters from A-Z, 0-9 and _",
                            raw.symbol
                        ));
                    }
                    if !raw.score.is_finite() {
                        problems.push(format!(
                            "{code_key}.score: must be a finite number, not {}",
                            raw.score
                        ));
                    }
                    codes.insert(
                        ip,
                        Code {
                            symbol: Cow::Owned(raw.symbol),
                            score: raw.score,
                        },
                    );
                }
                Err(_) => problems.push(format!("{code_key}: not an IPv4 address")),
            }
        }
        (problems.len() == before).then_some(List {
            name: self.name,
            zone,
            kind: self.kind,
            weight: self.weight,
            score: self.score,
            codes,
        })
    }
}

/// Whether `zone` (already lower-cased, without the trailing dot) can be queried below.
fn valid_zone(zone: &str) -> bool {
    !zone.is_empty()
        && zone.len() <= MAX_NAME_LEN
        && zone.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Spamhaus DBL return codes of the list named `$list`: symbol, score. The symbols are
/// spelled out at compile time: built with `format!` at every call, the default lists cost
/// the dnsbl plugin more than its lookups.
macro_rules! dbl_codes {
    ($list:literal) => {
        &[
            ([127, 0, 1, 2], concat!($list, "_SPAM"), 6.5),
            ([127, 0, 1, 4], concat!($list, "_PHISH"), 6.5),
            ([127, 0, 1, 5], concat!($list, "_MALWARE"), 6.5),
            ([127, 0, 1, 6], concat!($list, "_BOTNET"), 5.5),
            ([127, 0, 1, 102], concat!($list, "_ABUSED_SPAM"), 3.0),
            ([127, 0, 1, 103], concat!($list, "_ABUSED_REDIRECTOR"), 1.5),
            ([127, 0, 1, 104], concat!($list, "_ABUSED_PHISH"), 5.0),
            ([127, 0, 1, 105], concat!($list, "_ABUSED_MALWARE"), 5.0),
            ([127, 0, 1, 106], concat!($list, "_ABUSED_BOTNET"), 3.0),
            ([127, 0, 1, 255], concat!($list, "_IP_QUERY"), 0.0),
        ]
    };
}

/// Spamhaus ZEN return codes: symbol, score.
const ZEN_CODES: &[([u8; 4], &str, f64)] = &[
    ([127, 0, 0, 2], "SPAMHAUS_ZEN_SBL", 4.0),
    ([127, 0, 0, 3], "SPAMHAUS_ZEN_CSS", 2.0),
    ([127, 0, 0, 4], "SPAMHAUS_ZEN_XBL", 4.0),
    ([127, 0, 0, 5], "SPAMHAUS_ZEN_XBL", 4.0),
    ([127, 0, 0, 6], "SPAMHAUS_ZEN_XBL", 4.0),
    ([127, 0, 0, 7], "SPAMHAUS_ZEN_XBL", 4.0),
    ([127, 0, 0, 9], "SPAMHAUS_ZEN_DROP", 7.0),
    ([127, 0, 0, 10], "SPAMHAUS_ZEN_PBL", 2.0),
    ([127, 0, 0, 11], "SPAMHAUS_ZEN_PBL", 2.0),
];

fn spamhaus_list(
    name: &str,
    zone: &str,
    kind: Kind,
    codes: &[([u8; 4], &'static str, f64)],
) -> List {
    List {
        name: name.to_owned(),
        zone: zone.to_owned(),
        kind,
        weight: DEFAULT_LIST_WEIGHT,
        score: DEFAULT_LIST_SCORE,
        codes: codes
            .iter()
            .map(|&(code, symbol, score)| {
                (
                    Ipv4Addr::from(code),
                    Code {
                        symbol: Cow::Borrowed(symbol),
                        score,
                    },
                )
            })
            .collect(),
    }
}

/// The lists used when the operator configures none: Spamhaus ZEN for the client IP, and
/// Spamhaus DBL for the HELO name, the sender domain and the URL domains. Public lists
/// refuse queries from large public resolvers (answering 127.255.255.254), so they need a
/// resolver of one's own.
pub(crate) fn default_lists() -> Vec<List> {
    const DBL: &str = "dbl.spamhaus.org";
    vec![
        spamhaus_list("SPAMHAUS_ZEN", "zen.spamhaus.org", Kind::Ip, ZEN_CODES),
        spamhaus_list(
            "SPAMHAUS_DBL_HELO",
            DBL,
            Kind::Helo,
            dbl_codes!("SPAMHAUS_DBL_HELO"),
        ),
        spamhaus_list(
            "SPAMHAUS_DBL_SENDER",
            DBL,
            Kind::Sender,
            dbl_codes!("SPAMHAUS_DBL_SENDER"),
        ),
        spamhaus_list(
            "SPAMHAUS_DBL_URI",
            DBL,
            Kind::Uri,
            dbl_codes!("SPAMHAUS_DBL_URI"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_json;

    fn parse(json: &str) -> Result<RawConfig, String> {
        test_json::from_str(json)
    }

    fn config(json: &str) -> Result<Config, Vec<String>> {
        parse(json).expect("parses").validate()
    }

    const EXAMPLE: &str = r#"{
        "reject_threshold": 8.0,
        "reject_at": "connect",
        "lists": [{
            "name": "TEST_BL",
            "zone": "bl.moat.test",
            "kind": "ip",
            "weight": 1.0,
            "score": 4.0,
            "codes": {
                "127.0.0.2": { "symbol": "TEST_BL_SPAM", "score": 5.0 },
                "127.0.0.10": { "symbol": "TEST_BL_POLICY", "score": 2.0 }
            }
        }]
    }"#;

    #[test]
    fn parses_the_documented_example() {
        let config = config(EXAMPLE).expect("valid");
        assert_eq!(config.reject_threshold, Some(8.0));
        assert_eq!(config.reject_at, RejectAt::Connect);
        assert_eq!(config.lists.len(), 1);
        let list = &config.lists[0];
        assert_eq!(list.name, "TEST_BL");
        assert_eq!(list.zone, "bl.moat.test");
        assert_eq!(list.kind, Kind::Ip);
        assert_eq!(list.weight, 1.0);
        assert_eq!(list.score, 4.0);
        let spam = &list.codes[&Ipv4Addr::new(127, 0, 0, 2)];
        assert_eq!((&*spam.symbol, spam.score), ("TEST_BL_SPAM", 5.0));
        let policy = &list.codes[&Ipv4Addr::new(127, 0, 0, 10)];
        assert_eq!((&*policy.symbol, policy.score), ("TEST_BL_POLICY", 2.0));
    }

    /// `[plugin.dnsbl.config]` of examples/dnsbl-test.toml, as the host hands it over.
    #[test]
    fn parses_the_gateway_test_config() {
        let config = config(
            r#"{
            "exclude_private_ips": false,
            "reject_threshold": 5.0,
            "reject_at": "connect",
            "lists": [
                { "name": "MOAT_TEST_BL", "zone": "bl.moat.test", "kind": "ip", "score": 4.0,
                  "codes": {
                    "127.0.0.2": { "symbol": "MOAT_TEST_BL", "score": 5.0 },
                    "127.0.0.10": { "symbol": "MOAT_TEST_BL_POLICY", "score": 2.0 } } },
                { "name": "MOAT_TEST_DBL_SENDER", "zone": "dbl.moat.test", "kind": "sender", "score": 3.0 },
                { "name": "MOAT_TEST_DBL_HELO", "zone": "dbl.moat.test", "kind": "helo", "score": 1.5 },
                { "name": "MOAT_TEST_URIBL", "zone": "dbl.moat.test", "kind": "uri", "score": 4.0 }
            ] }"#,
        )
        .expect("valid");
        assert!(!config.exclude_private_ips);
        assert!(config.exclude_authenticated, "on unless turned off");
        assert_eq!(config.reject_threshold, Some(5.0));
        assert_eq!(config.lists.len(), 4);
        assert_eq!(config.lists_of(Kind::Helo).count(), 1);
    }

    #[test]
    fn every_kind_and_reject_at_parse() {
        let config = config(
            r#"{ "reject_threshold": 8, "reject_at": "rcpt_to", "exclude_private_ips": false,
                 "exclude_authenticated": false, "lists": [
                { "name": "A", "zone": "a.test", "kind": "ip" },
                { "name": "B", "zone": "B.Test.", "kind": "helo" },
                { "name": "C", "zone": "c.test", "kind": "sender" },
                { "name": "D", "zone": "d.test", "kind": "uri", "weight": 0.5, "score": 2 }
            ] }"#,
        )
        .expect("valid");
        assert_eq!(config.reject_threshold, Some(8.0));
        assert_eq!(config.reject_at, RejectAt::RcptTo);
        assert!(!config.exclude_private_ips);
        assert!(!config.exclude_authenticated);
        let kinds: Vec<Kind> = config.lists.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, [Kind::Ip, Kind::Helo, Kind::Sender, Kind::Uri]);
        assert_eq!(config.lists[1].zone, "b.test");
        assert_eq!(config.lists[0].weight, DEFAULT_LIST_WEIGHT);
        assert_eq!(config.lists[0].score, DEFAULT_LIST_SCORE);
        assert!(config.lists[0].codes.is_empty());
        assert_eq!((config.lists[3].weight, config.lists[3].score), (0.5, 2.0));
        assert_eq!(config.lists_of(Kind::Uri).count(), 1);
    }

    #[test]
    fn empty_table_gives_the_defaults() {
        let config = config("{}").expect("valid");
        assert_eq!(config.reject_threshold, None);
        assert_eq!(config.reject_at, RejectAt::Connect);
        assert!(config.exclude_private_ips);
        assert!(config.exclude_reserved_names);
        assert_eq!(config.lists, default_lists());
    }

    #[test]
    fn empty_lists_means_none() {
        assert!(
            config(r#"{ "lists": [] }"#)
                .expect("valid")
                .lists
                .is_empty()
        );
    }

    #[test]
    fn defaults_are_valid() {
        let lists = default_lists();
        let kinds: BTreeSet<String> = lists.iter().map(|l| l.kind.to_string()).collect();
        assert_eq!(kinds.len(), 4, "one default list per kind");
        for list in &lists {
            assert!(Symbol::is_valid_name(&list.name), "{}", list.name);
            assert!(valid_zone(&list.zone));
            for (code, meaning) in &list.codes {
                assert!(Symbol::is_valid_name(&meaning.symbol), "{}", meaning.symbol);
                assert_eq!(code.octets()[0], 127);
                assert!(!is_refusal_code(*code));
            }
        }
        let zen = &lists[0];
        assert_eq!(
            zen.codes[&Ipv4Addr::new(127, 0, 0, 2)].symbol,
            "SPAMHAUS_ZEN_SBL"
        );
        let dbl = &lists[3];
        assert_eq!(
            dbl.codes[&Ipv4Addr::new(127, 0, 1, 2)].symbol,
            "SPAMHAUS_DBL_URI_SPAM"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let error = parse(r#"{ "reject_treshold": 8 }"#).expect_err("unknown key");
        assert!(error.contains("unknown field `reject_treshold`"), "{error}");
        assert!(
            parse(r#"{ "lists": [{ "name": "A", "zone": "a.test", "kind": "ip", "scor": 1 }] }"#)
                .is_err()
        );
        assert!(
            parse(
                r#"{ "lists": [{ "name": "A", "zone": "a.test", "kind": "ip",
                 "codes": { "127.0.0.2": { "symbol": "A_X", "score": 1, "weight": 2 } } }] }"#
            )
            .is_err()
        );
    }

    #[test]
    fn bad_shapes_are_rejected() {
        assert!(parse(r#"{ "reject_at": "data" }"#).is_err());
        assert!(
            parse(r#"{ "lists": [{ "name": "A", "zone": "a.test", "kind": "rhsbl" }] }"#).is_err()
        );
        assert!(parse(r#"{ "lists": [{ "name": "A", "zone": "a.test" }] }"#).is_err());
        assert!(parse(r#"{ "reject_threshold": "high" }"#).is_err());
        assert!(parse(r#"{ "exclude_private_ips": "no" }"#).is_err());
        assert!(parse(r#"{ "lists": { "name": "A" } }"#).is_err());
    }

    #[test]
    fn validation_names_every_problem() {
        let problems = config(
            r#"{ "lists": [
                { "name": "bad-name", "zone": "bl..test", "kind": "ip", "codes": {
                    "127.0.0.2": { "symbol": "lower", "score": 1 },
                    "10.0.0.1": { "symbol": "X", "score": 1 },
                    "127.255.255.254": { "symbol": "Y", "score": 1 },
                    "nonsense": { "symbol": "Z", "score": 1 }
                } },
                { "name": "OK", "zone": "ok.test", "kind": "ip" },
                { "name": "OK", "zone": "ok2.test", "kind": "helo" }
            ] }"#,
        )
        .expect_err("invalid");
        let all = problems.join("\n");
        assert!(all.contains("lists[0].name: `bad-name`"), "{all}");
        assert!(all.contains("lists[0].zone: `bl..test`"), "{all}");
        assert!(
            all.contains("lists[0].codes.\"127.0.0.2\".symbol: `lower`"),
            "{all}"
        );
        assert!(all.contains("lists[0].codes.\"10.0.0.1\""), "{all}");
        assert!(all.contains("lists[0].codes.\"127.255.255.254\""), "{all}");
        assert!(
            all.contains("lists[0].codes.\"nonsense\": not an IPv4 address"),
            "{all}"
        );
        assert!(
            all.contains("lists[2].name: `OK` is used by another list"),
            "{all}"
        );
        assert_eq!(problems.len(), 7, "{all}");
    }

    #[test]
    fn zones_are_checked() {
        assert!(valid_zone("bl.moat.test"));
        assert!(valid_zone("key123.zen.dq.spamhaus.net"));
        assert!(!valid_zone(""));
        assert!(!valid_zone("bl moat.test"));
        assert!(!valid_zone(".bl.test"));
        assert!(!valid_zone(&format!("{}.test", "a".repeat(64))));
    }

    #[test]
    fn refusal_codes() {
        assert!(is_refusal_code(Ipv4Addr::new(127, 255, 255, 254)));
        assert!(is_refusal_code(Ipv4Addr::new(127, 255, 255, 0)));
        assert!(!is_refusal_code(Ipv4Addr::new(127, 255, 254, 1)));
        assert!(!is_refusal_code(Ipv4Addr::new(127, 0, 0, 2)));
    }
}
