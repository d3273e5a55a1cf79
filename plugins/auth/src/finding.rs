//! A finding: a symbol this plugin reports and why. Scores and actions are applied in
//! `evaluate.rs`.

use moat_sdk::Symbol;

/// One thing the gateway's results say about the sender.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Finding {
    /// The symbol to report.
    pub(crate) symbol: &'static str,
    /// Why, for the report; at most [`Symbol::MAX_DETAIL_LEN`] bytes.
    pub(crate) detail: String,
}

impl Finding {
    /// A finding; a detail too long for the host is shortened rather than failing the call.
    pub(crate) fn new(symbol: &'static str, detail: impl Into<String>) -> Self {
        Self {
            symbol,
            detail: clip(detail.into()),
        }
    }
}

/// `text` cut to at most [`Symbol::MAX_DETAIL_LEN`] bytes, on a character boundary.
fn clip(mut text: String) -> String {
    const ELLIPSIS: char = '…';
    if text.len() > Symbol::MAX_DETAIL_LEN {
        let mut end = Symbol::MAX_DETAIL_LEN - ELLIPSIS.len_utf8();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push(ELLIPSIS);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_details_are_clipped_on_a_char_boundary() {
        let finding = Finding::new("DKIM_INVALID", "é".repeat(2000));
        assert!(finding.detail.len() <= Symbol::MAX_DETAIL_LEN);
        assert!(finding.detail.ends_with('…'));
        assert!(Symbol::new(finding.symbol, 1.0, finding.detail).is_valid());
        assert_eq!(Finding::new("DKIM_NONE", "short").detail, "short");
    }
}
