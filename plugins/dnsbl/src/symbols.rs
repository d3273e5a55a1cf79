//! The plugin's own symbols (besides the configured lists' symbols), the annotation it
//! leaves, and keeping details within the host's 1 KiB limit.

use moat_sdk::Symbol;

/// The configuration could not be used (or the `dns` capability is not granted); score 0.
pub(crate) const CONFIG_ERROR: &str = "DNSBL_CONFIG_ERROR";
/// A list answered 127.255.255.x: query refused or over quota; score 0.
pub(crate) const REFUSED: &str = "DNSBL_REFUSED";
/// A list's query timed out or its server failed; score 0.
pub(crate) const UNREACHABLE: &str = "DNSBL_UNREACHABLE";
/// The client was refused at the greeting (`reject_at = "connect"`); score 0.
pub(crate) const REJECT_AT_CONNECT: &str = "DNSBL_REJECT_AT_CONNECT";
/// A recipient was refused (`reject_at = "rcpt_to"`); score 0.
pub(crate) const REJECT_AT_RCPT: &str = "DNSBL_REJECT_AT_RCPT";

/// The annotation holding the client's IP-list score, left at the connect stage.
pub(crate) const IP_SCORE_ANNOTATION: &str = "dnsbl-ip-score";

/// `parts` joined with `"; "`, cut so that the result fits in a symbol's detail: parts
/// that do not fit are replaced by `"; … and N more"`.
pub(crate) fn join_details(parts: &[String]) -> String {
    const SEPARATOR: &str = "; ";
    // Room for "; … and 9999 more".
    const RESERVE: usize = 24;
    let mut detail = String::new();
    for (index, part) in parts.iter().enumerate() {
        let extra = if detail.is_empty() {
            0
        } else {
            SEPARATOR.len()
        } + part.len();
        let last = index + 1 == parts.len();
        let limit = if last {
            Symbol::MAX_DETAIL_LEN
        } else {
            Symbol::MAX_DETAIL_LEN - RESERVE
        };
        if detail.len() + extra > limit {
            if detail.is_empty() {
                return truncate(part, Symbol::MAX_DETAIL_LEN);
            }
            let rest = parts.len() - index;
            detail.push_str(SEPARATOR);
            detail.push_str(&format!("… and {rest} more"));
            return truncate(&detail, Symbol::MAX_DETAIL_LEN);
        }
        if !detail.is_empty() {
            detail.push_str(SEPARATOR);
        }
        detail.push_str(part);
    }
    detail
}

/// `text` cut to at most `max` bytes at a character boundary, ending in `…` if cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let ellipsis = '…';
    let mut end = max.saturating_sub(ellipsis.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ellipsis}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_symbols_are_valid_names() {
        for name in [
            CONFIG_ERROR,
            REFUSED,
            UNREACHABLE,
            REJECT_AT_CONNECT,
            REJECT_AT_RCPT,
        ] {
            assert!(Symbol::is_valid_name(name), "{name}");
        }
    }

    #[test]
    fn joins_short_details() {
        assert_eq!(join_details(&[]), "");
        assert_eq!(join_details(&["a".to_owned()]), "a");
        assert_eq!(join_details(&["a".to_owned(), "b".to_owned()]), "a; b");
    }

    #[test]
    fn cuts_long_details() {
        let parts: Vec<String> = (0..100)
            .map(|i| format!("{i:03}{}", "x".repeat(60)))
            .collect();
        let detail = join_details(&parts);
        assert!(detail.len() <= Symbol::MAX_DETAIL_LEN, "{}", detail.len());
        assert!(detail.starts_with("000x"));
        assert!(detail.ends_with(" more"), "{detail}");
        let one = vec!["é".repeat(1000)];
        let detail = join_details(&one);
        assert!(detail.len() <= Symbol::MAX_DETAIL_LEN);
        assert!(detail.ends_with('…'));
    }

    #[test]
    fn truncates_at_char_boundaries() {
        assert_eq!(truncate("short", 10), "short");
        let cut = truncate(&"é".repeat(10), 8);
        assert!(cut.len() <= 8);
        assert!(cut.ends_with('…'));
    }
}
