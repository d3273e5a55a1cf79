//! Relaxed identifier alignment (RFC 7489 §3.1): two domains are aligned when they share
//! an organizational domain, which the Public Suffix List (compiled in) decides.

/// The organizational domain of `domain` (lower-case, no trailing dot): its registrable
/// domain by the Public Suffix List, or `domain` itself when it is a public suffix or
/// not a valid name.
pub fn organizational_domain(domain: &str) -> String {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&domain).map_or_else(|| domain.clone(), str::to_owned)
}

/// Whether `a` and `b` are aligned in relaxed mode (same organizational domain).
pub fn relaxed_aligned(a: &str, b: &str) -> bool {
    !a.is_empty() && !b.is_empty() && organizational_domain(a) == organizational_domain(b)
}

/// Whether `domain` is `parent` or one of its subdomains (any case, trailing dots
/// ignored).
pub fn is_within(domain: &str, parent: &str) -> bool {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let parent = parent.trim_end_matches('.').to_ascii_lowercase();
    !parent.is_empty()
        && (domain == parent
            || domain
                .strip_suffix(&parent)
                .is_some_and(|rest| rest.ends_with('.')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organizational_domains_follow_the_public_suffix_list() {
        assert_eq!(organizational_domain("mail.Example.COM."), "example.com");
        assert_eq!(organizational_domain("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(organizational_domain("news.example.test"), "example.test");
    }

    #[test]
    fn relaxed_alignment_compares_organizational_domains() {
        assert!(relaxed_aligned("mail.example.com", "example.com"));
        assert!(!relaxed_aligned("example.co.uk", "other.co.uk"));
        assert!(!relaxed_aligned("example.com", "example.net"));
        assert!(!relaxed_aligned("", "example.com"));
    }

    #[test]
    fn within_means_equal_or_below_a_label_boundary() {
        assert!(is_within("news.example.com", "example.com"));
        assert!(is_within("EXAMPLE.com.", "example.com"));
        assert!(!is_within("badexample.com", "example.com"));
        assert!(!is_within("example.com", ""));
    }
}
