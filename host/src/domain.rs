//! The one spelling of a mail domain. Everything that compares, looks up or stores a
//! domain — the relay check, `[relay.recipients]`, the delivery routes, MX lookups,
//! submission ownership, the recipients in the queue — goes through [`Domain::parse`],
//! so a name accepted as protected is the name routed, whatever the client's spelling.
//!
//! A name is processed by UTS 46 (`ToASCII`, nontransitional, STD3 rules: letters,
//! digits and hyphens; CheckBidi, CheckJoiners; hyphens refused at the start and end of a
//! label) with the `idna` crate, which also lowercases and applies NFC/NFKC mappings:
//! `BANK.test`, `ban\u{212A}.test` (KELVIN SIGN), `ｂａｎｋ.test` (fullwidth),
//! `bank。test` (ideographic full stop) and `ba\u{AD}nk.test` (soft hyphen, ignored) are
//! all `bank.test`; `bücher.test`, `BÜCHER.test`, `bu\u{308}cher.test` and
//! `XN--BCHER-KVA.test` are all `xn--bcher-kva.test`. `ß` and `ς` are kept (they are
//! distinct letters in IDNA 2008, so `straße.test` is `xn--strae-oqa.test`, not
//! `strasse.test`). A zero-width joiner outside the contexts CheckJoiners allows, an
//! invalid Punycode label, a disallowed character, or a result longer than DNS allows
//! (253 octets, labels of 63) is not a domain: [`DomainError`]. SMTP refuses such a
//! recipient (`553 5.1.3`); the configuration refuses such a key.
//!
//! A trailing dot (the root label, after mapping) is removed: `bank.test.` is the same
//! fully qualified name as `bank.test`. (A path in `RCPT TO` cannot have one anyway: RFC
//! 5321's `Domain` grammar has none, and the SMTP parser refuses it, `501 5.1.3`.)
//!
//! An address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`) is not a name: it is kept in
//! a canonical form (the address as Rust prints it, the `IPv6:` tag in that case) and is
//! never a protected domain.
//!
//! This module imports nothing of the crate, so every layer can use it.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

/// RFC 1035 §2.3.4 as DNS carries it: a name of at most 253 octets without its
/// trailing dot.
const MAX_NAME: usize = 253;
/// RFC 1035 §2.3.4: a label is at most 63 octets.
const MAX_LABEL: usize = 63;

/// A domain in its one spelling: lowercase A-labels joined by dots, without a trailing
/// dot, or a canonical address literal. Built only by [`Domain::parse`] and
/// [`Domain::parse_name`], so holding one means the spelling is settled.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

/// Why a text is not a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Nothing, or only the root (`.`).
    #[error("it is empty")]
    Empty,
    /// UTS 46 refuses it: a character IDNA disallows (space, `_`, `@`, symbols ...), an
    /// invalid Punycode label, a bidi or joiner rule broken (a zero-width joiner between
    /// letters), a hyphen at the start or end of a label, or an empty label.
    #[error("IDNA (UTS 46) refuses one of its characters, labels or A-labels")]
    InvalidName,
    /// As an A-label, longer than 253 octets, or with a label longer than 63.
    #[error("longer than DNS allows (253 octets, 63 a label, as A-labels)")]
    TooLong,
    /// `[...]` that is neither an IPv4 address nor `IPv6:` and an IPv6 address.
    #[error("an address literal that is not an IPv4 or IPv6 address")]
    InvalidAddressLiteral,
    /// An address literal where only a name will do (a protected domain, a route).
    #[error("an address literal")]
    AddressLiteral,
}

impl Domain {
    /// The one spelling of `text`, a domain name (any case, U-labels or A-labels, one
    /// trailing dot allowed) or an address literal in brackets.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        if text.starts_with('[') {
            return literal(text).map(Self);
        }
        name(text).map(Self)
    }

    /// As [`Domain::parse`], but only names: what the configuration's domains and a
    /// user's `may_send_as` domains must be.
    pub fn parse_name(text: &str) -> Result<Self, DomainError> {
        if text.starts_with('[') {
            return Err(DomainError::AddressLiteral);
        }
        name(text).map(Self)
    }

    /// The normalized text: what is stored, compared and looked up.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is an address literal (`[192.0.2.1]`), which no route or MX serves.
    pub fn is_address_literal(&self) -> bool {
        self.0.starts_with('[')
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `address` split at its last `@` into a local part and a domain, both non-empty;
/// `None` for anything else (`postmaster`, `@domain`, `local@`). The domain is as written:
/// give it to [`Domain::parse`] to compare it.
pub fn split_address(address: &str) -> Option<(&str, &str)> {
    let (local, domain) = address.rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty()).then_some((local, domain))
}

/// UTS 46 `ToASCII`, the trailing dot removed, lengths checked.
fn name(text: &str) -> Result<String, DomainError> {
    let ascii = Uts46::new()
        .to_ascii(
            text.as_bytes(),
            AsciiDenyList::STD3,
            // LDH: no hyphen first or last; `ab--cd` stays allowed (real names have it).
            Hyphens::CheckFirstLast,
            // Checked below, after the trailing dot is gone, to tell the errors apart.
            DnsLength::Ignore,
        )
        .map_err(|_| DomainError::InvalidName)?;
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii);
    if ascii.is_empty() {
        return Err(DomainError::Empty);
    }
    if ascii.split('.').any(str::is_empty) {
        return Err(DomainError::InvalidName);
    }
    if ascii.len() > MAX_NAME || ascii.split('.').any(|label| label.len() > MAX_LABEL) {
        return Err(DomainError::TooLong);
    }
    // UTS 46 maps upper case to lower case; ASCII upper case too.
    debug_assert!(!ascii.bytes().any(|b| b.is_ascii_uppercase()));
    Ok(ascii.to_owned())
}

/// RFC 5321 §4.1.3: `[192.0.2.1]` or `[IPv6:2001:db8::1]` (tag in any case), canonical.
fn literal(text: &str) -> Result<String, DomainError> {
    let inner = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or(DomainError::InvalidAddressLiteral)?;
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => inner[5..]
            .parse::<Ipv6Addr>()
            .map(|ip| format!("[IPv6:{ip}]")),
        _ => inner.parse::<Ipv4Addr>().map(|ip| format!("[{ip}]")),
    }
    .map_err(|_| DomainError::InvalidAddressLiteral)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<String, DomainError> {
        Domain::parse(text).map(|d| d.as_str().to_owned())
    }

    #[test]
    fn case_and_compatibility_spellings_are_one_name() {
        for spelling in [
            "bank.test",
            "BANK.TEST",
            "BaNk.TeSt",
            // KELVIN SIGN
            "ban\u{212A}.test",
            // fullwidth letters, fullwidth upper case, fullwidth full stop
            "\u{FF42}\u{FF41}\u{FF4E}\u{FF4B}.test",
            "\u{FF22}\u{FF21}\u{FF2E}\u{FF2B}\u{FF0E}\u{FF34}\u{FF25}\u{FF33}\u{FF34}",
            // ideographic and halfwidth ideographic full stops
            "bank\u{3002}test",
            "bank\u{FF61}test",
            // soft hyphen: ignored by UTS 46
            "ba\u{AD}nk.test",
            // mathematical bold small b
            "\u{1D41B}ank.test",
            // the root label
            "bank.test.",
            "bank.test\u{3002}",
        ] {
            assert_eq!(parsed(spelling), Ok("bank.test".to_owned()), "{spelling:?}");
        }
    }

    #[test]
    fn internationalized_names_become_lowercase_a_labels() {
        for spelling in [
            "b\u{FC}cher.test",
            "B\u{DC}CHER.test",
            "bu\u{308}cher.test",
            "xn--bcher-kva.test",
            "XN--BCHER-KVA.TEST",
            "Xn--Bcher-Kva.Test.",
        ] {
            assert_eq!(
                parsed(spelling),
                Ok("xn--bcher-kva.test".to_owned()),
                "{spelling:?}"
            );
        }
    }

    #[test]
    fn sharp_s_and_final_sigma_stay_distinct_letters() {
        // Nontransitional processing (IDNA 2008): not folded to `ss` and `σ`.
        assert_eq!(parsed("stra\u{DF}e.test"), Ok("xn--strae-oqa.test".into()));
        assert_eq!(parsed("STRASSE.test"), Ok("strasse.test".into()));
        assert_ne!(parsed("stra\u{DF}e.test"), parsed("strasse.test"));
        let final_sigma = parsed("\u{3B1}\u{3C2}.test").unwrap();
        let sigma = parsed("\u{3B1}\u{3C3}.test").unwrap();
        assert_ne!(final_sigma, sigma);
        assert!(final_sigma.starts_with("xn--"), "{final_sigma}");
        // Upper-case sigma lowercases to σ, never to ς.
        assert_eq!(parsed("\u{391}\u{3A3}.test").unwrap(), sigma);
    }

    #[test]
    fn look_alikes_by_glyph_are_other_names() {
        // Greek alpha and Cyrillic a look like `a` but are other letters.
        for spelling in ["b\u{3B1}nk.test", "b\u{430}nk.test"] {
            let name = parsed(spelling).unwrap();
            assert_ne!(name, "bank.test");
            assert!(name.starts_with("xn--"), "{name}");
        }
    }

    #[test]
    fn names_that_do_not_survive_uts46_are_refused() {
        for spelling in [
            // zero width joiner and non-joiner between Latin letters (CheckJoiners)
            "ban\u{200D}k.test",
            "ban\u{200C}k.test",
            // not LDH (STD3 rules)
            "ba nk.test",
            "ba_nk.test",
            "bank@test",
            "-bank.test",
            "bank-.test",
            // empty labels
            "bank..test",
            ".bank.test",
            "bank.test..",
            // invalid Punycode, and an A-label of a plain ASCII label
            "xn--.test",
            "xn--zz-.test",
            "xn--bank-.test",
            // a right-to-left label mixing in Latin (CheckBidi)
            "\u{5D0}a.test",
        ] {
            assert_eq!(
                parsed(spelling),
                Err(DomainError::InvalidName),
                "{spelling:?}"
            );
        }
        assert_eq!(parsed(""), Err(DomainError::Empty));
        assert_eq!(parsed("."), Err(DomainError::Empty));
    }

    #[test]
    fn lengths_are_those_of_the_a_label() {
        let label = "a".repeat(63);
        assert!(parsed(&format!("{label}.test")).is_ok());
        assert_eq!(parsed(&format!("a{label}.test")), Err(DomainError::TooLong));
        let long = [label.as_str(); 4].join(".");
        assert_eq!(long.len(), 255);
        assert_eq!(parsed(&long), Err(DomainError::TooLong));
        assert_eq!(parsed(&long[2..]).map(|n| n.len()), Ok(253));
        // 30 ü are 60 octets of UTF-8 but a longer A-label: still one label.
        let umlauts = "\u{FC}".repeat(30);
        let name = parsed(&format!("{umlauts}.test")).unwrap();
        assert!(name.split('.').next().unwrap().len() <= 63, "{name}");
    }

    #[test]
    fn address_literals_keep_a_canonical_form_and_are_not_names() {
        assert_eq!(parsed("[192.0.2.1]"), Ok("[192.0.2.1]".into()));
        assert_eq!(
            parsed("[ipv6:2001:DB8:0::1]"),
            Ok("[IPv6:2001:db8::1]".into())
        );
        for bad in ["[192.0.2.256]", "[192.0.2.1", "[tag:x]", "[IPv6:1.2.3.4]"] {
            assert_eq!(
                parsed(bad),
                Err(DomainError::InvalidAddressLiteral),
                "{bad}"
            );
        }
        assert!(Domain::parse("[192.0.2.1]").unwrap().is_address_literal());
        assert!(!Domain::parse("bank.test").unwrap().is_address_literal());
        assert_eq!(
            Domain::parse_name("[192.0.2.1]"),
            Err(DomainError::AddressLiteral)
        );
    }

    #[test]
    fn parsing_is_idempotent() {
        for spelling in ["ban\u{212A}.test", "B\u{DC}CHER.test.", "[IPv6:::1]"] {
            let once = Domain::parse(spelling).unwrap();
            assert_eq!(Domain::parse(once.as_str()), Ok(once));
        }
    }

    #[test]
    fn addresses_split_at_the_last_at_sign() {
        assert_eq!(split_address("a@b.test"), Some(("a", "b.test")));
        assert_eq!(split_address("\"a@x\"@b.test"), Some(("\"a@x\"", "b.test")));
        for none in ["postmaster", "@b.test", "a@", ""] {
            assert_eq!(split_address(none), None, "{none}");
        }
    }
}
