//! Domain names as the Public Suffix List sees them: the registrable domain of a host
//! (`mail.example.co.uk` → `example.co.uk`), which is what block lists list and what
//! tells one sender's hosts from another's.
//!
//! The gateway answers from its own copy of the list (the one its DMARC alignment uses),
//! so a plugin carries no list and never an older one than the gateway's. Built natively
//! (a plugin's unit tests), the SDK answers with the same rule and the same `psl` list.
//!
//! No IDNA mapping: a host is looked up as written (lower-cased), and the list knows both
//! the Unicode and the `xn--` spelling of its suffixes.

#[path = "domain_rules.rs"]
mod domain_rules;

/// The registrable domain of `host` (the public suffix and one label more), lower-cased
/// and without a trailing dot: `www.Example.co.uk.` → `example.co.uk`.
///
/// The list's private section counts (`alice.github.io` is its own registrable domain),
/// as it does for the gateway's DMARC alignment. A name under a top-level domain the list
/// does not know is taken as under that TLD (`mail.spammer.example` → `spammer.example`).
///
/// `None` for what has no registrable domain: an empty name, a name with an empty label,
/// a public suffix itself (`co.uk`, `com`), and IP addresses, bracketed or not, including
/// the numeric forms browsers read as IPv4 (`3221225985`, `0xC0.0.2.1`).
///
/// ```
/// use moat_sdk::domain::registrable;
///
/// assert_eq!(registrable("mail.example.co.uk").as_deref(), Some("example.co.uk"));
/// assert_eq!(registrable("co.uk"), None);
/// assert_eq!(registrable("192.0.2.1"), None);
/// ```
#[must_use]
pub fn registrable(host: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::moat::filter::domain::registrable(host)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        domain_rules::registrable(host)
    }
}

/// Whether `name` is an IP address or address literal rather than a domain name: it parses
/// as an IP (bracketed or not, a trailing dot ignored: `192.0.2.1`, `[IPv6:2001:db8::1]`),
/// or its last label is a number, decimal or `0x` hex, which browsers read as IPv4
/// (`3221225985`, `0xc0.0.2.1`). The same test [`registrable`] applies.
///
/// ```
/// use moat_sdk::domain::looks_like_ip;
///
/// assert!(looks_like_ip("[192.0.2.1]"));
/// assert!(!looks_like_ip("1.example.org"));
/// ```
#[must_use]
pub fn looks_like_ip(name: &str) -> bool {
    domain_rules::looks_like_ip(name)
}
