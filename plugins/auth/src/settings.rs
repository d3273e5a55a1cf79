//! The operator's settings (`dmarc_reject`, `dmarc_quarantine`, `spf_reject`,
//! `trusted_senders`) and the domain comparison the trusted-sender list needs. Reading the
//! config table happens in `lib.rs`; this module only holds and normalizes the values.

/// What the operator configured, with the defaults for what they did not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Demand Reject when DMARC fails and the From domain asks for `p=reject`.
    pub(crate) dmarc_reject: bool,
    /// Demand Quarantine when DMARC fails and the From domain asks for `p=quarantine`.
    pub(crate) dmarc_quarantine: bool,
    /// Demand Reject when SPF of the MAIL FROM domain fails.
    pub(crate) spf_reject: bool,
    /// The trusted sender domains, normalized by [`normalize_domain`]; never empty strings.
    trusted_senders: Vec<String>,
}

impl Settings {
    /// These settings with the trusted sender domains `domains` (any case, with or without
    /// a trailing dot). Entries that are empty after normalizing are dropped and returned
    /// as the second value, so the caller can warn about them.
    pub(crate) fn with_trusted_senders(
        mut self,
        domains: impl IntoIterator<Item = String>,
    ) -> (Self, Vec<String>) {
        let mut rejected = Vec::new();
        for domain in domains {
            match normalize_domain(&domain) {
                Some(normalized) => self.trusted_senders.push(normalized),
                None => rejected.push(domain),
            }
        }
        (self, rejected)
    }

    /// The trusted sender domains, normalized.
    pub(crate) fn trusted_senders(&self) -> &[String] {
        &self.trusted_senders
    }
}

/// `domain` lower-cased, without surrounding blanks or leading and trailing dots; `None`
/// when nothing is left. An empty entry must not become a suffix every domain matches.
pub(crate) fn normalize_domain(domain: &str) -> Option<String> {
    let trimmed = domain.trim().trim_matches('.');
    (!trimmed.is_empty()).then(|| trimmed.to_ascii_lowercase())
}

/// Whether `domain` is `parent` or one of its subdomains, ignoring case and a trailing
/// dot. `parent` is expected normalized (see [`normalize_domain`]).
pub(crate) fn is_within(domain: &str, parent: &str) -> bool {
    let Some(domain) = normalize_domain(domain) else {
        return false;
    };
    if parent.is_empty() {
        return false;
    }
    domain == parent
        || domain
            .strip_suffix(parent)
            .is_some_and(|head| head.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_blanks_and_dots() {
        assert_eq!(
            normalize_domain(" News.Example.COM. ").as_deref(),
            Some("news.example.com")
        );
        assert_eq!(normalize_domain("."), None);
        assert_eq!(normalize_domain("  "), None);
    }

    #[test]
    fn drops_and_reports_empty_trusted_senders() {
        let (settings, rejected) = Settings::default().with_trusted_senders([
            "Example.org.".to_owned(),
            String::new(),
            "b.example".to_owned(),
        ]);
        assert_eq!(settings.trusted_senders(), ["example.org", "b.example"]);
        assert_eq!(rejected, [""]);
    }

    #[test]
    fn within_means_equal_or_subdomain() {
        assert!(is_within("example.com", "example.com"));
        assert!(is_within("News.Example.com.", "example.com"));
        assert!(is_within("a.b.example.com", "example.com"));
        assert!(!is_within("badexample.com", "example.com"));
        assert!(!is_within("example.com", "news.example.com"));
        assert!(!is_within("example.com.evil.test", "example.com"));
        assert!(!is_within("", "example.com"));
        assert!(!is_within("example.com", ""));
    }
}
