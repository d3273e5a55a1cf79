//! Which way to misbehave, as named in the config key `mode` or the `X-Misbehave` header.

/// A way of misbehaving at the data stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Behave: answer the symbol `MISBEHAVE_OK` with score 0.
    None,
    /// Spin forever, to hit the time budget.
    Loop,
    /// Allocate and touch 1 MiB chunks forever, to hit the memory limit.
    MemoryBomb,
    /// Panic, to trap.
    Panic,
    /// Recurse without bound, to exhaust the wasm stack.
    StackOverflow,
    /// Answer a verdict the host must reject (bad symbol name, NaN score).
    InvalidVerdict,
    /// Keep 16 copies of the body text: fine on a small message, past any sensible memory
    /// limit on a large one (as a real plugin holding a huge message's text several times).
    HoardBody,
    /// Scan the whole kv namespace in one call, asking for `u32::MAX` entries, and report
    /// how many came back (`MISBEHAVE_SCANNED`); with config `fill = N`, first write N keys.
    ScanAll,
    /// Ask many DNS questions one by one (config `lookups`, default 300; config `dns_name`,
    /// else an invalid PTR question answered without the network) and report how each was
    /// answered (`MISBEHAVE_DNS`).
    DnsFlood,
    /// Hand every attachment to the host's OCR as it is, checking nothing (as a careless
    /// third-party plugin would), and answer `MISBEHAVE_OCR` (score 0) with the outcomes:
    /// what the host's image bounds are for.
    OcrRaw,
}

impl Mode {
    /// The mode named `name` (surrounding blanks and case ignored), or `None` if unknown.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "none" => Self::None,
            "loop" => Self::Loop,
            "memory-bomb" => Self::MemoryBomb,
            "panic" => Self::Panic,
            "stack-overflow" => Self::StackOverflow,
            "invalid-verdict" => Self::InvalidVerdict,
            "hoard-body" => Self::HoardBody,
            "scan-all" => Self::ScanAll,
            "dns-flood" => Self::DnsFlood,
            "ocr-raw" => Self::OcrRaw,
            _ => return None,
        })
    }
}

/// The mode name in effect: the message's `X-Misbehave` header wins over the configured
/// `mode`, and without either the plugin behaves.
pub(crate) fn effective_mode_name<'a>(
    header: Option<&'a str>,
    configured: Option<&'a str>,
) -> &'a str {
    header.or(configured).unwrap_or("none")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_mode() {
        assert_eq!(Mode::parse("none"), Some(Mode::None));
        assert_eq!(Mode::parse("loop"), Some(Mode::Loop));
        assert_eq!(Mode::parse("memory-bomb"), Some(Mode::MemoryBomb));
        assert_eq!(Mode::parse(" Panic "), Some(Mode::Panic));
        assert_eq!(Mode::parse("stack-overflow"), Some(Mode::StackOverflow));
        assert_eq!(Mode::parse("invalid-verdict"), Some(Mode::InvalidVerdict));
        assert_eq!(Mode::parse("hoard-body"), Some(Mode::HoardBody));
        assert_eq!(Mode::parse("scan-all"), Some(Mode::ScanAll));
        assert_eq!(Mode::parse("dns-flood"), Some(Mode::DnsFlood));
        assert_eq!(Mode::parse("ocr-raw"), Some(Mode::OcrRaw));
        assert_eq!(Mode::parse("explode"), None);
    }

    #[test]
    fn header_overrides_config() {
        assert_eq!(effective_mode_name(Some("panic"), Some("loop")), "panic");
        assert_eq!(effective_mode_name(None, Some("loop")), "loop");
        assert_eq!(effective_mode_name(None, None), "none");
    }
}
