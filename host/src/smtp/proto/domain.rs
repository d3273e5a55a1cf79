//! Domain and address-literal syntax (RFC 5321 §4.1.2, §4.1.3), shared by the EHLO/HELO
//! argument and the domain of a path. Checks syntax only: no DNS, no IDNA mapping; the
//! one spelling a domain is compared and routed by is `crate::domain`'s. A trailing dot
//! is an empty label here, refused as RFC 5321's `Domain` grammar has none.

use std::net::{Ipv4Addr, Ipv6Addr};

/// RFC 5321 §4.5.3.1.2: a domain name is at most 255 octets.
pub(crate) const MAX_DOMAIN: usize = 255;
/// RFC 1035 §2.3.4: a label is at most 63 octets.
const MAX_LABEL: usize = 63;

/// Why a domain or address literal is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Nothing where a domain was expected.
    #[error("empty domain")]
    Empty,
    /// Longer than 255 octets (RFC 5321 §4.5.3.1.2).
    #[error("domain longer than 255 octets")]
    TooLong,
    /// A label longer than 63 octets (RFC 1035 §2.3.4).
    #[error("domain label longer than 63 octets")]
    LabelTooLong,
    /// An empty label, a label starting or ending with a hyphen, or a character that is not
    /// a letter, digit or hyphen.
    #[error("invalid domain name")]
    InvalidName,
    /// `[...]` that is neither an IPv4 address nor `IPv6:` and an IPv6 address. General
    /// address literals (`[tag:content]`) are refused: no other tag is registered.
    #[error("invalid address literal")]
    InvalidAddressLiteral,
    /// A non-ASCII character where SMTPUTF8 is not in effect (RFC 6531 §3.2).
    #[error("non-ASCII domain without SMTPUTF8")]
    NonAscii,
}

/// Which relaxations of the RFC 5321 `Domain` rule apply.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DomainSyntax {
    /// U-labels (RFC 6531 §3.3): bytes ≥ 0x80 count as letters; UTF-8 validity is checked
    /// where the bytes become a `String`.
    pub(crate) utf8: bool,
    /// `_` inside labels: some Windows hosts greet with such names and Postfix's
    /// `valid_hostname()` accepts them, so EHLO/HELO allows it; paths do not.
    pub(crate) underscore: bool,
}

/// Checks that all of `bytes` is a domain name or an address literal.
pub(crate) fn check_domain(bytes: &[u8], syntax: DomainSyntax) -> Result<(), DomainError> {
    if bytes.is_empty() {
        return Err(DomainError::Empty);
    }
    if bytes.len() > MAX_DOMAIN {
        return Err(DomainError::TooLong);
    }
    if bytes[0] == b'[' {
        return check_address_literal(bytes);
    }
    bytes
        .split(|&byte| byte == b'.')
        .try_for_each(|label| check_label(label, syntax))
}

fn check_label(label: &[u8], syntax: DomainSyntax) -> Result<(), DomainError> {
    if label.len() > MAX_LABEL {
        return Err(DomainError::LabelTooLong);
    }
    let (Some(&first), Some(&last)) = (label.first(), label.last()) else {
        return Err(DomainError::InvalidName);
    };
    if first == b'-' || last == b'-' {
        return Err(DomainError::InvalidName);
    }
    for &byte in label {
        let allowed = byte.is_ascii_alphanumeric()
            || byte == b'-'
            || (byte == b'_' && syntax.underscore)
            || (byte >= 0x80 && syntax.utf8);
        if !allowed {
            return Err(if byte >= 0x80 {
                DomainError::NonAscii
            } else {
                DomainError::InvalidName
            });
        }
    }
    Ok(())
}

/// RFC 5321 §4.1.3: `[192.0.2.1]` or `[IPv6:2001:db8::1]` (the tag is case-insensitive).
fn check_address_literal(bytes: &[u8]) -> Result<(), DomainError> {
    let inner = bytes
        .strip_prefix(b"[")
        .and_then(|rest| rest.strip_suffix(b"]"))
        .ok_or(DomainError::InvalidAddressLiteral)?;
    let text = std::str::from_utf8(inner).map_err(|_| DomainError::InvalidAddressLiteral)?;
    let parsed = match text.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => text
            .get(5..)
            .is_some_and(|ip| ip.parse::<Ipv6Addr>().is_ok()),
        _ => text.parse::<Ipv4Addr>().is_ok(),
    };
    if parsed {
        Ok(())
    } else {
        Err(DomainError::InvalidAddressLiteral)
    }
}
