//! Turning raw fuzz bytes into SMTP-shaped input, limits and chunk boundaries.

use crate::proto::BareLfPolicy;

/// The limits and policy of one run, chosen by the control byte.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) max_line: usize,
    pub(crate) max_size: u64,
    pub(crate) policy: BareLfPolicy,
}

impl Settings {
    /// Bits 0–1 pick the mapping (see [`remap`]), bit 2 the bare-LF policy, bits 3–4 the
    /// message size limit, bits 5–6 the line limit.
    pub(crate) fn from_control(control: u8) -> Self {
        const MAX_SIZES: [u64; 4] = [0, 8, 64, 1 << 20];
        const MAX_LINES: [usize; 4] = [4, 32, 100, 2048];
        Self {
            policy: if control & 4 == 0 {
                BareLfPolicy::Reject
            } else {
                BareLfPolicy::Normalize
            },
            max_size: MAX_SIZES[usize::from(control >> 3) & 3],
            max_line: MAX_LINES[usize::from(control >> 5) & 3],
        }
    }
}

/// The RFC 5321 alphabet of smtp-proto's fuzz target, plus the characters of paths.
const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz:=-<>,; \r\n.@\"\\[]";

/// SMTP fragments: one input byte picks one, so short inputs make whole conversations.
#[rustfmt::skip]
const TOKENS: &[&[u8]] = &[
    b"EHLO ", b"HELO ", b"MAIL FROM:", b"RCPT TO:", b"DATA", b"BDAT ", b" LAST", b"RSET",
    b"NOOP", b"QUIT", b"VRFY ", b"HELP", b"STARTTLS", b"AUTH PLAIN ", b"AGFiYw==",
    b"\r\n", b"\r\n", b"\r\n", b"\r", b"\n", b".", b".", b"\r\n.\r\n", b"\r\n.\n", b"\n.\n",
    b"\r.\r", b"<", b">", b"<>", b"@", b"\"", b"\\", b" ", b",", b":", b"a", b"b.example",
    b"[192.0.2.1]", b"[IPv6:2001:db8::1]", b"postmaster", b"%", b"!", b"0", b"1", b"7",
    b"65", b" SIZE=", b" BODY=8BITMIME", b" BODY=BINARYMIME", b" SMTPUTF8", b" AUTH=<>",
    b" RET=HDRS", b" ENVID=", b" NOTIFY=SUCCESS,DELAY", b" NOTIFY=NEVER", b" ORCPT=rfc822;",
    b"+2B", b"=", b"\0", b"\xc3\xa9", b"\xff", b"-", b"_", b"x", b"AUTH LOGIN",
    b"AHVzZXIAcGFzcw==", b"dXNlcg==", b"*",
];

/// Bits 0–1 of `control`: 0 keeps the bytes, 1 maps each onto [`ALPHABET`], 2 and 3 onto
/// [`TOKENS`].
pub(crate) fn remap(control: u8, bytes: &[u8]) -> Vec<u8> {
    match control & 3 {
        0 => bytes.to_vec(),
        1 => bytes
            .iter()
            .map(|&byte| ALPHABET[usize::from(byte) % ALPHABET.len()])
            .collect(),
        _ => bytes
            .iter()
            .flat_map(|&byte| TOKENS[usize::from(byte) % TOKENS.len()].iter().copied())
            .collect(),
    }
}

/// Splits `bytes` into chunks of 0 to 8 bytes (empty chunks included: a read may
/// deliver nothing new after a state change).
pub(crate) fn pseudo_random_chunks(bytes: &[u8], seed: u64) -> Vec<&[u8]> {
    let mut state = seed | 1;
    let mut chunks = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = ((state % 9) as usize).min(rest.len());
        let (chunk, tail) = rest.split_at(len);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}
