//! Just enough RFC 5322 address-list parsing for header checks: the addresses in a
//! `From`, `Reply-To` or `To` value, and their domains.

/// The addresses (`local@domain`) in an address-list header value, in order.
///
/// Display names, comments and group names are skipped, so `undisclosed-recipients:;`
/// yields nothing. Values arrive with encoded words already decoded, so a display name may
/// contain unquoted commas; pieces without an `@` are dropped, which keeps them harmless.
pub(crate) fn addresses(value: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut piece = String::new();
    let mut in_quotes = false;
    let mut comment_depth = 0_u32;
    let mut in_angle = false;
    let mut escaped = false;

    for ch in value.chars() {
        if escaped {
            escaped = false;
            piece.push(ch);
            continue;
        }
        match ch {
            '\\' if in_quotes || comment_depth > 0 => escaped = true,
            '"' if comment_depth == 0 => in_quotes = !in_quotes,
            '(' if !in_quotes => comment_depth += 1,
            ')' if !in_quotes && comment_depth > 0 => comment_depth -= 1,
            _ if in_quotes || comment_depth > 0 => {}
            '<' => {
                in_angle = true;
                piece.clear();
            }
            '>' if in_angle => {
                in_angle = false;
                push_address(&mut found, &piece);
                piece.clear();
            }
            ',' | ';' | ':' if !in_angle => {
                // ':' ends a group name, ',' and ';' end an address.
                if ch != ':' {
                    push_address(&mut found, &piece);
                }
                piece.clear();
            }
            _ => piece.push(ch),
        }
    }
    push_address(&mut found, &piece);
    found
}

fn push_address(found: &mut Vec<String>, piece: &str) {
    let address = piece.trim();
    if address.contains('@') && !address.contains(char::is_whitespace) {
        found.push(address.to_owned());
    }
}

/// The domain of `address`, lower-case and without a trailing dot.
pub(crate) fn domain(address: &str) -> Option<String> {
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// Whether two lower-case domains belong together: equal, or one a subdomain of the other.
pub(crate) fn related_domains(a: &str, b: &str) -> bool {
    a == b || is_subdomain(a, b) || is_subdomain(b, a)
}

fn is_subdomain(child: &str, parent: &str) -> bool {
    child
        .strip_suffix(parent)
        .is_some_and(|prefix| prefix.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_plain_and_named_addresses() {
        assert_eq!(addresses("a@example.org"), ["a@example.org"]);
        assert_eq!(
            addresses(r#""Doe, John" <john@example.org>, jane@example.com (Jane)"#),
            ["john@example.org", "jane@example.com"]
        );
        assert_eq!(
            addresses("Doe, John <john@example.org>"),
            ["john@example.org"]
        );
    }

    #[test]
    fn groups_and_undisclosed_recipients() {
        assert!(addresses("undisclosed-recipients:;").is_empty());
        assert!(addresses("").is_empty());
        assert_eq!(
            addresses("team: a@example.org, b@example.org;, c@example.org"),
            ["a@example.org", "b@example.org", "c@example.org"]
        );
    }

    #[test]
    fn ignores_at_signs_in_quotes_and_comments() {
        assert_eq!(
            addresses(r#""me@home" <me@example.org> (sent @ noon)"#),
            ["me@example.org"]
        );
    }

    #[test]
    fn extracts_domains() {
        assert_eq!(domain("a@Example.ORG."), Some("example.org".to_owned()));
        assert_eq!(domain("no-at-sign"), None);
        assert_eq!(domain("a@"), None);
    }

    #[test]
    fn relates_subdomains() {
        assert!(related_domains("example.org", "example.org"));
        assert!(related_domains("mail.example.org", "example.org"));
        assert!(related_domains("example.org", "lists.example.org"));
        assert!(!related_domains("example.org", "badexample.org"));
        assert!(!related_domains("example.org", "example.com"));
    }
}
