//! Envelope paths (RFC 5321 §4.1.2): the reverse-path of `MAIL FROM` and the forward-path of
//! `RCPT TO`, parsed into a [`Mailbox`] whose domain, once normalized (`crate::domain`),
//! is what relay decisions look at.
//!
//! Angle brackets are required, as RFC 5321 says and as Postfix does with
//! `strict_rfc821_envelopes = yes`: every MTA and mail library sends them, and without them
//! the end of the address and the start of the ESMTP parameters are ambiguous. Source routes
//! are accepted and dropped (§4.1.2, appendix C). Syntax only: whether a mailbox exists or may
//! be relayed to is decided elsewhere.

use std::fmt;

use super::domain::{self, DomainError, DomainSyntax};

/// RFC 5321 §4.5.3.1.1: a local part is at most 64 octets (as sent, quotes included).
pub(crate) const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets, brackets and source route included.
pub(crate) const MAX_PATH: usize = 256;

/// A mailbox `local@domain` from an envelope path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The local part, unquoted: `"john..doe"@example.org` gives `john..doe`. Case is kept:
    /// RFC 5321 §2.4 leaves its meaning to the receiving host.
    pub local: String,
    /// The domain as sent (case kept), or an address literal with its brackets
    /// (`[192.0.2.1]`, `[IPv6:2001:db8::1]`). Syntax only: compare it, route it or store
    /// it in its one spelling, `crate::domain::Domain::parse` (relay control does).
    pub domain: String,
}

impl Mailbox {
    /// Whether the domain is an address literal such as `[192.0.2.1]`.
    pub fn is_address_literal(&self) -> bool {
        self.domain.starts_with('[')
    }

    /// Whether the local part holds `%`, `!` or a (quoted) `@`: the percent hack, bang paths
    /// and nested addresses that ask the receiving host to relay further. They are valid local
    /// parts, so the relay layer, not the parser, decides to refuse them for its own domains.
    pub fn has_routing_characters(&self) -> bool {
        self.local.contains(['%', '!', '@'])
    }
}

impl fmt::Display for Mailbox {
    /// `local@domain`, quoting the local part when it is not a dot-string (RFC 5321 §4.1.2).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_dot_string(self.local.as_bytes(), true) {
            f.write_str(&self.local)?;
        } else {
            f.write_str("\"")?;
            for ch in self.local.chars() {
                if ch == '"' || ch == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{ch}")?;
            }
            f.write_str("\"")?;
        }
        write!(f, "@{}", self.domain)
    }
}

/// The argument of `MAIL FROM`: a mailbox, or the null path `<>` used by bounces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`: the message is a notification that must not itself be bounced
    /// (RFC 5321 §4.5.5).
    Null,
    /// A sender mailbox.
    Address(Mailbox),
}

impl ReversePath {
    /// The mailbox, unless this is the null path.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            Self::Null => None,
            Self::Address(mailbox) => Some(mailbox),
        }
    }
}

impl fmt::Display for ReversePath {
    /// The path in angle brackets, as it would be sent: `<>` or `<local@domain>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("<>"),
            Self::Address(mailbox) => write!(f, "<{mailbox}>"),
        }
    }
}

/// The argument of `RCPT TO`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>` without a domain (any case): the postmaster of the receiving host, which
    /// every SMTP server must accept (RFC 5321 §4.5.1).
    Postmaster,
    /// A recipient mailbox.
    Address(Mailbox),
}

impl ForwardPath {
    /// The mailbox, unless this is the domainless `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            Self::Postmaster => None,
            Self::Address(mailbox) => Some(mailbox),
        }
    }
}

impl fmt::Display for ForwardPath {
    /// The path in angle brackets: `<postmaster>` or `<local@domain>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Postmaster => f.write_str("<postmaster>"),
            Self::Address(mailbox) => write!(f, "<{mailbox}>"),
        }
    }
}

/// Why a path is not acceptable. Syntax problems get `501 5.1.3`; [`AddressError::NonAscii`]
/// gets `553 5.6.7` (RFC 6531 §3.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// No path after `FROM:` or `TO:`.
    #[error("no address given")]
    Missing,
    /// The path does not start with `<`.
    #[error("address must be enclosed in <>")]
    MissingAngleBrackets,
    /// No closing `>` (or an unterminated quoted string).
    #[error("address is missing its closing >")]
    Unterminated,
    /// `<>` as a recipient.
    #[error("the null path <> is not a recipient")]
    NullRecipient,
    /// A source route (`@a.example,@b.example:`) that is not a comma-separated list of
    /// `@domain` ending in `:`.
    #[error("invalid source route")]
    InvalidSourceRoute,
    /// The local part is neither a dot-string nor a non-empty quoted string.
    #[error("invalid local part")]
    InvalidLocalPart,
    /// A local part with no `@domain` (only `<Postmaster>` may omit it, and only in RCPT).
    #[error("address has no domain")]
    MissingDomain,
    /// The domain is not a domain name or address literal.
    #[error("invalid domain: {0}")]
    InvalidDomain(DomainError),
    /// The local part is longer than 64 octets (RFC 5321 §4.5.3.1.1).
    #[error("local part longer than 64 octets")]
    LocalPartTooLong,
    /// The path is longer than 256 octets (RFC 5321 §4.5.3.1.3).
    #[error("address longer than 256 octets")]
    PathTooLong,
    /// Non-ASCII characters without SMTPUTF8 in effect (RFC 6531 §3.2).
    #[error("non-ASCII address without SMTPUTF8")]
    NonAscii,
    /// Non-ASCII bytes that are not UTF-8.
    #[error("address is not valid UTF-8")]
    InvalidUtf8,
}

impl From<DomainError> for AddressError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::NonAscii => Self::NonAscii,
            other => Self::InvalidDomain(other),
        }
    }
}

/// What a path parses to before the command decides which forms it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Path {
    Null,
    Postmaster,
    Mailbox(Mailbox),
}

/// Parses the path at the start of `input` (which must begin with `<`) and returns it with
/// the number of bytes it took. Non-ASCII is allowed only when `smtputf8` is set.
pub(crate) fn parse_path(input: &[u8], smtputf8: bool) -> Result<(Path, usize), AddressError> {
    let mut cursor = Cursor {
        bytes: input,
        pos: 0,
    };
    match cursor.next() {
        None => return Err(AddressError::Missing),
        Some(b'<') => {}
        Some(_) => return Err(AddressError::MissingAngleBrackets),
    }
    if cursor.eat(b'>') {
        return Ok((Path::Null, cursor.pos));
    }
    if cursor.peek() == Some(b'@') {
        skip_source_route(&mut cursor, smtputf8)?;
    }
    let local_start = cursor.pos;
    let local = parse_local_part(&mut cursor, smtputf8)?;
    let local_len = cursor.pos - local_start;
    match cursor.next() {
        Some(b'@') => {}
        Some(b'>') if !local.quoted && local.bytes.eq_ignore_ascii_case(b"postmaster") => {
            return Ok((Path::Postmaster, cursor.pos));
        }
        Some(b'>') => return Err(AddressError::MissingDomain),
        None => return Err(AddressError::Unterminated),
        Some(_) => return Err(AddressError::InvalidLocalPart),
    }
    let domain = cursor.take_until(|byte| byte == b'>');
    if !cursor.eat(b'>') {
        return Err(AddressError::Unterminated);
    }
    let syntax = DomainSyntax {
        utf8: smtputf8,
        underscore: false,
    };
    domain::check_domain(domain, syntax)?;
    if local_len > MAX_LOCAL_PART {
        return Err(AddressError::LocalPartTooLong);
    }
    if cursor.pos > MAX_PATH {
        return Err(AddressError::PathTooLong);
    }
    let mailbox = Mailbox {
        local: String::from_utf8(local.bytes).map_err(|_| AddressError::InvalidUtf8)?,
        domain: String::from_utf8(domain.to_vec()).map_err(|_| AddressError::InvalidUtf8)?,
    };
    Ok((Path::Mailbox(mailbox), cursor.pos))
}

/// RFC 5321 §4.1.2 `A-d-l`: `@domain *("," @domain) ":"`, checked and then ignored.
fn skip_source_route(cursor: &mut Cursor<'_>, smtputf8: bool) -> Result<(), AddressError> {
    let syntax = DomainSyntax {
        utf8: smtputf8,
        underscore: false,
    };
    loop {
        if !cursor.eat(b'@') {
            return Err(AddressError::InvalidSourceRoute);
        }
        let hop = cursor.take_until(|byte| matches!(byte, b',' | b':' | b'>'));
        domain::check_domain(hop, syntax).map_err(|_| AddressError::InvalidSourceRoute)?;
        match cursor.next() {
            Some(b',') => {}
            Some(b':') => return Ok(()),
            _ => return Err(AddressError::InvalidSourceRoute),
        }
    }
}

struct LocalPart {
    bytes: Vec<u8>,
    quoted: bool,
}

fn parse_local_part(cursor: &mut Cursor<'_>, smtputf8: bool) -> Result<LocalPart, AddressError> {
    let quoted = cursor.eat(b'"');
    let bytes = if quoted {
        parse_quoted_string(cursor, smtputf8)?
    } else {
        parse_dot_string(cursor, smtputf8)?
    };
    if bytes.is_empty() {
        // `""@example.org`: legal but "SHOULD NOT" (§4.1.2) and no real mailbox.
        return Err(AddressError::InvalidLocalPart);
    }
    Ok(LocalPart { bytes, quoted })
}

/// `Dot-string = Atom *("." Atom)`; every atom must be non-empty.
fn parse_dot_string(cursor: &mut Cursor<'_>, smtputf8: bool) -> Result<Vec<u8>, AddressError> {
    let start = cursor.pos;
    loop {
        let atom = cursor.take_until(|byte| !is_atext(byte, smtputf8));
        if atom.is_empty() {
            return Err(match cursor.peek() {
                Some(byte) if byte >= 0x80 => AddressError::NonAscii,
                _ => AddressError::InvalidLocalPart,
            });
        }
        if !cursor.eat(b'.') {
            break;
        }
    }
    if cursor.peek().is_some_and(|byte| byte >= 0x80) {
        return Err(AddressError::NonAscii);
    }
    Ok(cursor.bytes[start..cursor.pos].to_vec())
}

/// `Quoted-string` after its opening quote; returns the content with quoting removed.
fn parse_quoted_string(cursor: &mut Cursor<'_>, smtputf8: bool) -> Result<Vec<u8>, AddressError> {
    let mut content = Vec::new();
    loop {
        match cursor.next() {
            None => return Err(AddressError::Unterminated),
            Some(b'"') => return Ok(content),
            Some(b'\\') => match cursor.next() {
                Some(byte @ 32..=126) => content.push(byte),
                None => return Err(AddressError::Unterminated),
                Some(_) => return Err(AddressError::InvalidLocalPart),
            },
            // qtextSMTP: printable ASCII but `"` and `\` (handled above), and space.
            Some(byte @ 32..=126) => content.push(byte),
            Some(byte) if byte >= 0x80 && smtputf8 => content.push(byte),
            Some(byte) if byte >= 0x80 => return Err(AddressError::NonAscii),
            Some(_) => return Err(AddressError::InvalidLocalPart),
        }
    }
}

/// RFC 5321 `atext` (from RFC 5322 §3.2.3), widened to UTF-8 by RFC 6531 §3.3.
fn is_atext(byte: u8, smtputf8: bool) -> bool {
    byte.is_ascii_alphanumeric()
        || b"!#$%&'*+-/=?^_`{|}~".contains(&byte)
        || (byte >= 0x80 && smtputf8)
}

fn is_dot_string(bytes: &[u8], utf8: bool) -> bool {
    bytes
        .split(|&byte| byte == b'.')
        .all(|atom| !atom.is_empty() && atom.iter().all(|&byte| is_atext(byte, utf8)))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn eat(&mut self, expected: u8) -> bool {
        let found = self.peek() == Some(expected);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Advances to the first byte matching `stop` (or the end) and returns what it passed.
    fn take_until(&mut self, stop: impl Fn(u8) -> bool) -> &'a [u8] {
        let rest = &self.bytes[self.pos..];
        let len = rest
            .iter()
            .position(|&byte| stop(byte))
            .unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }
}
