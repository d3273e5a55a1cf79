//! A received message, parsed once (mail-parser) and shared by every plugin that looks at
//! it. The parts plugins ask for — decoded headers, body text, the text and HTML parts,
//! URLs, the attachment list — are computed on first use and kept, so ten plugins reading
//! the body text cost one conversion. Only the raw bytes, an attachment's bytes and the
//! From addresses are read from the parsed message at each call. `header_section` reads
//! the raw header section as byte ranges, without parsing.

mod addresses;
pub mod header_section;
pub mod mailbox;
mod text;

use std::sync::{Arc, OnceLock};

use mail_parser::{MessageParser, MimeHeaders};

pub use addresses::MailAddress;

/// A header field with its value decoded to text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// The name as written.
    pub name: String,
    /// The unfolded, decoded value.
    pub value: String,
}

/// A non-text MIME part: attachment or inline image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    /// The part's index among attachments (what `attachment_bytes` takes).
    pub index: u32,
    /// File name, if the part has one.
    pub name: Option<String>,
    /// Lower-case media type, e.g. `image/png`.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    /// Content-ID without angle brackets.
    pub content_id: Option<String>,
}

/// One hop of a message's path, as a `Received` field records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceivedHop {
    /// The sending host's address, if the field gives one.
    pub ip: Option<std::net::IpAddr>,
    /// The name it greeted with (or the name the field gives it).
    pub helo: Option<String>,
    /// The reverse name the receiving host found for the address, if the field says and
    /// does not note it as unverified (sendmail's `may be forged`).
    pub reverse_dns: Option<String>,
    /// The field records a step inside one host, not a hop between two: it has no `from`
    /// clause at all (qmail's `(qmail 15060 invoked by uid 82)`, sendmail's `(from
    /// user@localhost)`), or it is a content scanner's record in qmail-scanner's exact
    /// shape ([`scanner_step`]). Read from the field's text, never from a failed parse:
    /// a field a relay wrote for a client that greeted with junk still starts with `from`.
    pub local_step: bool,
}

/// Whether a raw `Received` field's value starts with a `from` clause.
fn starts_with_from(field: &[u8]) -> bool {
    field.trim_ascii_start().get(..5).is_some_and(|word| {
        word[..4].eq_ignore_ascii_case(b"from") && word[4].is_ascii_whitespace()
    })
}

/// What a raw `Received` field is, if qmail-scanner wrote it: its record of scanning the
/// message on the relay itself (`from SENDER by HOST [by uid N] with qmail-scanner-V
/// (COMMENT); DATE`, or 2.x's `from IP by HOST (envelope-from <…>, uid N) with
/// qmail-scanner-V (COMMENT); DATE`). `None`: not qmail-scanner's. `Some(true)`: a step
/// inside the relay, passed over as SpamAssassin does. `Some(false)`: its shape, but with
/// more than the scanner writes after its name, so nothing in it is trusted.
///
/// Recognised by the end, which the relay writes: after the last ` with ` comes the
/// scanner's name, then nothing but comments without brackets. Where an MTA's record of a
/// client ends in text the client chose, it is a recipient address, which ends in a
/// domain (or `>`, `"`, `]`), never in `)`. The sender in front is the envelope sender as
/// the client gave it (`x@[192.0.2.66]` is one), so no address is read from the field.
fn scanner_step(field: &[u8]) -> Option<bool> {
    if !starts_with_from(field) {
        return None;
    }
    let clauses = field
        .iter()
        .rposition(|&b| b == b';')
        .map_or(field, |end| &field[..end]);
    let with = clauses
        .windows(6)
        .rposition(|w| w.eq_ignore_ascii_case(b" with "))?;
    let (product, comments) = first_word(&clauses[with + 6..]);
    if product.len() <= 13 || !product[..13].eq_ignore_ascii_case(b"qmail-scanner") {
        return None;
    }
    scanner_head(&clauses[..with]).then(|| only_comments(comments))
}

/// Whether `head` (a field's text before its `with` clause) is qmail-scanner's: `from
/// SENDER by HOST`, then nothing, `by uid N`, or comments.
fn scanner_head(head: &[u8]) -> bool {
    let (from, rest) = first_word(head);
    let (sender, rest) = first_word(rest);
    let (by, rest) = first_word(rest);
    let (host, rest) = first_word(rest);
    let starts = from.eq_ignore_ascii_case(b"from")
        && !sender.is_empty()
        && by.eq_ignore_ascii_case(b"by")
        && !host.is_empty()
        && !host.iter().any(|b| b"()[];".contains(b));
    let rest = rest.trim_ascii();
    let uid = {
        let (by, after) = first_word(rest);
        let (uid, after) = first_word(after);
        let (n, after) = first_word(after);
        by.eq_ignore_ascii_case(b"by")
            && uid.eq_ignore_ascii_case(b"uid")
            && !n.is_empty()
            && n.iter().all(u8::is_ascii_digit)
            && after.trim_ascii().is_empty()
    };
    starts && (rest.is_empty() || uid || only_comments(rest))
}

/// The first blank-separated word of `text` (empty if none) and what follows it.
fn first_word(text: &[u8]) -> (&[u8], &[u8]) {
    let text = text.trim_ascii_start();
    let end = text
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(text.len());
    text.split_at(end)
}

/// Whether `text` is nothing but parenthesised comments (nested ones too) and blanks,
/// with no brackets anywhere.
fn only_comments(text: &[u8]) -> bool {
    let mut depth = 0usize;
    for &byte in text {
        match byte {
            b'(' => depth += 1,
            b')' if depth == 0 => return false,
            b')' => depth -= 1,
            b'[' | b']' => return false,
            _ if depth == 0 && !byte.is_ascii_whitespace() => return false,
            _ => {}
        }
    }
    depth == 0
}

/// The reverse name a `Received` field records for its client, in the comment after the
/// greeting (`from HELO (NAME [ip])`, as Postfix and sendmail write it); `unknown` is
/// none. qmail and Exim write the name in front instead, but a client can make its
/// greeting look like that form, so the name in front is never read as verified.
fn reverse_name(received: &mail_parser::Received<'_>) -> Option<String> {
    received
        .from_iprev
        .as_deref()
        .filter(|name| !name.eq_ignore_ascii_case("unknown"))
        .map(str::to_owned)
}

/// mail-parser's view of a message, borrowing the bytes it was parsed from.
type Parsed<'a> = mail_parser::Message<'a>;

self_cell::self_cell!(
    /// The received bytes and a parse that borrows them: the bytes are shared by the
    /// header parse and the full one, never copied (mail-parser's `into_owned` would).
    struct Parse {
        owner: Arc<Vec<u8>>,
        #[covariant]
        dependent: Parsed,
    }
);

/// A message parsed once; cheap to share through [`MessageHandle`].
///
/// The header section is parsed at once (the session reads From, the `Received` chain
/// and the sender checks from it); the body (MIME parts, transfer and charset decoding)
/// on first use, so a gateway whose plugins never read the body never decodes it.
pub struct ParsedMessage {
    header_parse: Parse,
    full_parse: OnceLock<Parse>,
    headers: OnceLock<Vec<HeaderField>>,
    body_text: OnceLock<String>,
    text_parts: OnceLock<Vec<String>>,
    html_parts: OnceLock<Vec<String>>,
    html_sources: OnceLock<Vec<String>>,
    urls: OnceLock<Vec<String>>,
    attachments: OnceLock<Vec<AttachmentInfo>>,
}

/// The handle plugins receive for the `message` resource: the parsed message behind an `Arc`.
pub type MessageHandle = Arc<ParsedMessage>;

/// Why bytes could not be taken as a message.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The input is empty or has no header section.
    #[error("not an RFC 5322 message: no header section found")]
    NoHeaders,
}

impl ParsedMessage {
    /// Parses `raw` (the message as received, CRLF or LF line ends): its header section
    /// now, its body when something asks for it.
    pub fn parse(raw: Vec<u8>) -> Result<Self, MessageError> {
        let header_parse = Parse::try_new(Arc::new(raw), |raw| {
            MessageParser::default()
                .parse_headers(raw.as_slice())
                .filter(|parsed| !parsed.headers().is_empty())
                .ok_or(MessageError::NoHeaders)
        })?;
        Ok(Self {
            header_parse,
            full_parse: OnceLock::new(),
            headers: OnceLock::new(),
            body_text: OnceLock::new(),
            text_parts: OnceLock::new(),
            html_parts: OnceLock::new(),
            html_sources: OnceLock::new(),
            urls: OnceLock::new(),
            attachments: OnceLock::new(),
        })
    }

    /// The message as received.
    pub fn raw(&self) -> &[u8] {
        self.header_parse.borrow_owner()
    }

    /// mail-parser's view of the header section.
    fn parsed_headers(&self) -> &[mail_parser::Header<'_>] {
        self.header_parse.borrow_dependent().headers()
    }

    /// mail-parser's view of the whole message, parsed on first use.
    fn parsed(&self) -> &Parsed<'_> {
        self.full_parse
            .get_or_init(|| {
                let raw = Arc::clone(self.header_parse.borrow_owner());
                Parse::new(raw, |raw| {
                    let parser = MessageParser::default();
                    // The header section parsed, so the whole does too (mail-parser runs
                    // the same header parse first); the header parse is the fallback.
                    parser
                        .parse(raw.as_slice())
                        .or_else(|| parser.parse_headers(raw.as_slice()))
                        .unwrap_or_default()
                })
            })
            .borrow_dependent()
    }

    /// Parses the body now, if nothing has yet. The pipeline calls it before a plugin
    /// that is handed the message starts, so that the parse of a sender's MIME structure
    /// (which a stranger can make costly) is never charged to a plugin's time budget,
    /// where timeouts would trip the plugin's circuit breaker.
    pub fn parse_body(&self) {
        self.parsed();
    }

    /// Every header field, decoded, in message order.
    pub fn headers(&self) -> &[HeaderField] {
        self.headers.get_or_init(|| {
            let raw = self.raw();
            self.parsed_headers()
                .iter()
                .map(|h| HeaderField {
                    name: h.name().to_owned(),
                    value: text::header_value(h, raw),
                })
                .collect()
        })
    }

    /// Every value of the header `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers()
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).next()
    }

    /// The addresses of every field named `name` (case-insensitive) that mail-parser
    /// parsed as an address field, in order, group members included.
    pub fn addresses(&self, name: &str) -> Vec<MailAddress> {
        self.parsed_headers()
            .iter()
            .filter(|header| header.name().eq_ignore_ascii_case(name))
            .flat_map(|header| addresses::of_value(&header.value))
            .collect()
    }

    /// The addresses in every From header field (group members included), as written.
    pub fn from_addresses(&self) -> Vec<String> {
        self.parsed_headers()
            .iter()
            .filter(|header| header.name == mail_parser::HeaderName::From)
            .filter_map(|header| header.value.as_address())
            .flat_map(mail_parser::Address::iter)
            .filter_map(|addr| addr.address())
            .map(str::to_owned)
            .collect()
    }

    /// Where each `Received` field says the message came from, newest (topmost) first:
    /// the sending host's address, the name it greeted with and its verified reverse name,
    /// where the field says.
    pub fn received_hops(&self) -> Vec<ReceivedHop> {
        let raw = self.raw();
        self.parsed_headers()
            .iter()
            .filter(|header| header.name == mail_parser::HeaderName::Received)
            .map(|header| {
                let field = raw
                    .get(header.offset_start as usize..header.offset_end as usize)
                    .unwrap_or_default();
                // qmail-scanner's sender is the envelope sender, not a client: no
                // address is read from its field, whether or not it is a clean step.
                let scanner = scanner_step(field);
                let local_step = !starts_with_from(field) || scanner == Some(true);
                let received = header.value.as_received().filter(|_| scanner.is_none());
                let Some(received) = received else {
                    return ReceivedHop {
                        local_step,
                        ..ReceivedHop::default()
                    };
                };
                ReceivedHop {
                    // The address the receiving host saw (`[192.0.2.1]`), never the name
                    // the sender greeted with, which it chooses.
                    ip: received.from_ip,
                    // Sendmail notes a reverse name whose address does not map back: it
                    // is the address owner's claim, not a verified name.
                    reverse_dns: reverse_name(received)
                        .filter(|_| memchr::memmem::find(field, b"may be forged").is_none()),
                    local_step,
                    helo: received
                        .helo
                        .as_ref()
                        .or(received.from.as_ref())
                        .and_then(|host| match host {
                            // A scanner's `from sender@example.org by …` names a sender,
                            // not a host.
                            mail_parser::Host::Name(name) if !name.contains('@') => {
                                Some(name.to_string())
                            }
                            _ => None,
                        }),
                }
            })
            .collect()
    }

    /// The decoded text/plain body parts.
    pub fn text_parts(&self) -> &[String] {
        self.text_parts.get_or_init(|| {
            self.parsed()
                .text_bodies()
                .filter(|p| matches!(p.body, mail_parser::PartType::Text(_)))
                .filter_map(|p| p.text_contents().map(str::to_owned))
                .collect()
        })
    }

    /// The text/html body parts converted to plain text.
    pub fn html_parts(&self) -> &[String] {
        self.html_parts.get_or_init(|| {
            self.parsed()
                .html_bodies()
                .filter_map(|p| match &p.body {
                    mail_parser::PartType::Html(html) => {
                        Some(mail_parser::decoders::html::html_to_text(html))
                    }
                    _ => None,
                })
                .collect()
        })
    }

    /// The text/html parts as HTML source (decoded from transfer encoding and charset).
    pub fn html_sources(&self) -> &[String] {
        self.html_sources.get_or_init(|| {
            self.parsed()
                .html_bodies()
                .filter_map(|p| match &p.body {
                    mail_parser::PartType::Html(html) => Some(html.to_string()),
                    _ => None,
                })
                .collect()
        })
    }

    /// The readable text of the message: for each body part its plain version, or its HTML
    /// converted to text where it has no plain version; parts separated by a blank line.
    pub fn body_text(&self) -> &str {
        self.body_text.get_or_init(|| {
            (0..self.parsed().text_body_count())
                .filter_map(|i| self.parsed().body_text(i))
                .collect::<Vec<_>>()
                .join("\n\n")
        })
    }

    /// The distinct http(s) URLs in the text and HTML parts, in order of appearance.
    pub fn urls(&self) -> &[String] {
        self.urls.get_or_init(|| {
            let mut sources: Vec<String> = self
                .parsed()
                .text_bodies()
                .filter_map(|p| p.text_contents().map(str::to_owned))
                .collect();
            sources.extend(
                self.parsed()
                    .html_bodies()
                    .filter_map(|p| p.text_contents().map(str::to_owned)),
            );
            text::find_urls(sources.iter().map(String::as_str))
        })
    }

    /// The attachments and inline images.
    pub fn attachments(&self) -> &[AttachmentInfo] {
        self.attachments.get_or_init(|| {
            self.parsed()
                .attachments()
                .enumerate()
                .map(|(index, part)| AttachmentInfo {
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                    name: part.attachment_name().map(str::to_owned),
                    content_type: part
                        .content_type()
                        .map(|ct| match ct.subtype() {
                            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
                            None => ct.ctype().to_ascii_lowercase(),
                        })
                        .unwrap_or_else(|| "application/octet-stream".into()),
                    size: part.contents().len() as u64,
                    content_id: part
                        .content_id()
                        .map(|id| id.trim_matches(['<', '>']).to_owned()),
                })
                .collect()
        })
    }

    /// The decoded bytes of attachment `index`.
    pub fn attachment_bytes(&self, index: u32) -> Option<&[u8]> {
        self.parsed()
            .attachments()
            .nth(index as usize)
            .map(|p| p.contents())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTIPART: &str = "From: Alice <alice@example.org>\r\nTo: bob@example.test\r\n\
Subject: =?utf-8?q?caf=C3=A9?= menu\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n\
--b2\r\nContent-Type: text/plain\r\n\r\nSee https://example.org/menu today.\r\n\
--b2\r\nContent-Type: text/html\r\n\r\n<p>See <a href=\"https://example.org/menu\">the menu</a> or https://cafe.example/x</p>\r\n\
--b2--\r\n--b1\r\nContent-Type: image/png; name=\"pic.png\"\r\nContent-ID: <pic1>\r\n\
Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b1--\r\n";

    fn parsed() -> ParsedMessage {
        ParsedMessage::parse(MULTIPART.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn headers_are_decoded_and_found_case_insensitively() {
        let m = parsed();
        assert_eq!(m.header("subject"), Some("café menu"));
        assert_eq!(m.header("FROM"), Some("Alice <alice@example.org>"));
        assert_eq!(m.header("X-Missing"), None);
        assert_eq!(m.headers().len(), 5);
    }

    #[test]
    fn received_hops_find_the_reverse_name_each_mta_writes() {
        let raw = "Received: from helo.example (mx.example.org [192.0.2.1]) by a.test; \
Mon, 2 Dec 2002 18:34:36 -0600\r\n\
Received: from edc18.example.com (HELO mbox.example.com) (192.0.2.2) by b.test with SMTP\r\n\
Received: from mail.example.net ([192.0.2.3] helo=smtp.example.net) by c.test\r\n\
Received: from unknown (HELO dsl.example) (192.0.2.4) by d.test with SMTP\r\n\
Received: from helo.example ([192.0.2.5]) by e.test\r\n\
Received: from bounce@example.com by scanner with qmail-scanner-1.00\r\n\
Received: from helo.example (forged.example.org [192.0.2.6] (may be forged))\r\n\tby f.test\r\n\r\nbody\r\n";
        let hops = ParsedMessage::parse(raw.as_bytes().to_vec())
            .unwrap()
            .received_hops();
        let names: Vec<_> = hops.iter().map(|hop| hop.reverse_dns.as_deref()).collect();
        // qmail's and Exim's name in front is not read: a greeting can imitate that form.
        assert_eq!(
            names,
            [Some("mx.example.org"), None, None, None, None, None, None]
        );
        assert_eq!(hops[6].ip, Some("192.0.2.6".parse().unwrap()));
        assert_eq!(hops[1].helo.as_deref(), Some("mbox.example.com"));
        let local: Vec<bool> = hops.iter().map(|hop| hop.local_step).collect();
        assert_eq!(local, [false, false, false, false, false, true, false]);
    }

    #[test]
    fn a_scanner_step_is_known_by_the_end_the_relay_writes() {
        let step = |field: &str| scanner_step(field.as_bytes());
        for field in [
            "from bounce@example.com by scanner with qmail-scanner-1.00",
            "from D-8-27-DE1-08ADF4DD@xmr3.example by mailhost with qmail-scanner-1.00 \
(uvscan: v4.1.40/v4208. . Clean. Processed in 6.249967 secs); 25 Jun 2002 11:39:03 -0000",
            "from enews-owner@tribute.example by newmail\r\n\t by uid 1005 with \
qmail-scanner-1.10 (avp. Clear:0. Processed in 0.323878 secs); 23 Aug 2002 07:25:40 -0000",
            // 2.x, nested comments
            "from 192.0.2.1 by mx.example (envelope-from <a@example.org>, uid 201) with \
qmail-scanner-2.01 (clamdscan: 0.88. Clear:RC:0(192.0.2.1):SA:0(-4.9/5.0):. \
Processed in 0.2 secs); 25 Jun 2006 11:39:03 -0000",
            // The sender is the envelope sender as the client gave it, an address
            // literal too: it is never read as the client's address.
            "from x@[192.0.2.66] by mailhost by uid 82 with qmail-scanner-1.10 \
(avp. Clear:0. Processed in 0.3 secs); 23 Aug 2002 07:25:40 -0000",
        ] {
            assert_eq!(step(field), Some(true), "{field}");
        }
        // The scanner's shape with more after its name than it writes: nothing in it is
        // trusted, neither as a step nor for an address.
        for field in [
            "from x@[192.0.2.66] by mailhost with qmail-scanner-1.10 (found [x])",
            "from a@b by c with qmail-scanner-1.0 (x) by relay.test",
            "from a@b by c with qmail-scanner-1.0 (x",
        ] {
            assert_eq!(step(field), Some(false), "{field}");
        }
        // What MTAs write for a client whose greeting, reverse name or recipient
        // imitates the scanner: the relay's own text or the recipient's domain ends the
        // field, so it is a hop, read as usual.
        for field in [
            // sendmail, HELO `a@b by c with qmail-scanner-1.0`
            "from a@b by c with qmail-scanner-1.0 (rdns.example [192.0.2.9]) by relay.test \
(8.12.5) with ESMTP id g1; Mon, 2 Dec 2002 10:00:00 +0000",
            // Postfix, a quoted recipient
            "from mx.example (mx.example [192.0.2.9]) by relay.test (Postfix) with ESMTP id A \
for <\"a with qmail-scanner-1 (b)\"@example.org>; Mon, 2 Dec 2002 10:00:00 +0000",
            // Exim writes the recipient without brackets
            "from mx.example ([192.0.2.9] helo=c) by relay.test with esmtp (Exim 4.50) id 1A \
for \"x with qmail-scanner-1 (y)\"@example.org; Mon, 2 Dec 2002 10:00:00 +0000",
            // qmail
            "from a@b (HELO c) (192.0.2.9) by relay.test with SMTP; 25 Jun 2002 11:38:53 -0000",
            "from a@b by c with qmail-scanner",
            "from a@b by c with ESMTP",
            // more than a scanner writes before its name
            "from a@b by c d with qmail-scanner-1.0",
            "from a@b (rdns [192.0.2.9]) by c with qmail-scanner-1.0",
            "from a@b by c (x [y]) with qmail-scanner-1.0",
            "(qmail 5969 invoked by uid 82) with qmail-scanner-1.0",
        ] {
            assert_eq!(step(field), None, "{field}");
        }
    }

    #[test]
    fn no_address_is_read_from_a_scanner_field() {
        let raw = "Received: from x@[192.0.2.66] by mailhost by uid 82 with \
qmail-scanner-1.10 (avp. Clear:0.); 23 Aug 2002 07:25:40 -0000\r\n\
Received: from x@[192.0.2.67] by mailhost with qmail-scanner-1.10 (a [b]); \
23 Aug 2002 07:25:40 -0000\r\n\
Received: from mail.example.net (198.51.100.7) by mailhost with SMTP; \
23 Aug 2002 07:25:39 -0000\r\n\r\nbody\r\n";
        let hops = ParsedMessage::parse(raw.as_bytes().to_vec())
            .unwrap()
            .received_hops();
        let seen: Vec<_> = hops.iter().map(|hop| (hop.ip, hop.local_step)).collect();
        assert_eq!(
            seen,
            [
                (None, true),
                (None, false),
                (Some("198.51.100.7".parse().unwrap()), false)
            ]
        );
    }

    #[test]
    fn only_a_field_without_a_from_clause_is_a_local_step() {
        // A relay's field for a client that greeted with `;`: mail-parser reads nothing
        // from it, but it is a hop, not a local step.
        let raw = "Received: (qmail 15060 invoked by uid 82); 25 Jul 2002 19:39:07 -0000\r\n\
Received: (from user@localhost) by host.test (8.12/Submit) id g1; Mon, 2 Dec 2002 10:00:00 +0000\r\n\
Received: from ; (unknown [203.0.113.5]) by relay.test (Postfix) with ESMTP id A; \
Mon, 2 Dec 2002 10:00:00 +0000\r\n\
Received: from mail.example.com (mail.example.com [64.4.250.1]) by x\r\n\r\nbody\r\n";
        let hops = ParsedMessage::parse(raw.as_bytes().to_vec())
            .unwrap()
            .received_hops();
        let local: Vec<bool> = hops.iter().map(|hop| hop.local_step).collect();
        assert_eq!(local, [true, true, false, false], "{hops:?}");
    }

    #[test]
    fn the_body_is_parsed_only_when_asked_for_and_the_header_views_agree() {
        for raw in [
            MULTIPART.as_bytes(),
            b"From: a@example.org\r\nSubject: no body\r\n",
            b"Received: from x (y [192.0.2.1])\r\n\tby z; Mon, 2 Dec 2002 10:00:00 +0000\r\n\
From: =?iso-8859-1?q?Ren=E9?= <r@example.org>,\r\n b@example.org\r\nTo: c@example.test\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\
\r\nCaf=E9 =\r\nau lait\r\n",
        ] {
            let m = ParsedMessage::parse(raw.to_vec()).unwrap();
            let (headers, from, hops) =
                (m.headers().to_vec(), m.from_addresses(), m.received_hops());
            let to = m.addresses("To");
            assert!(
                m.full_parse.get().is_none(),
                "headers alone parsed the body"
            );
            m.parse_body();
            assert!(m.full_parse.get().is_some());
            let full = m.parsed();
            assert_eq!(m.parsed_headers(), full.headers());
            assert!(!headers.is_empty() && !from.is_empty());
            assert_eq!(
                (hops.len(), to.len()),
                (
                    usize::from(raw.starts_with(b"Received")),
                    usize::from(raw.windows(3).any(|w| w == b"To:"))
                )
            );
        }
        let latin = ParsedMessage::parse(
            b"From: a@example.org\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 =\r\nau lait\r\n"
                .to_vec(),
        )
        .unwrap();
        assert_eq!(latin.body_text(), "Café au lait\r\n");
    }

    #[test]
    fn body_text_prefers_the_plain_alternative() {
        let m = parsed();
        assert_eq!(m.body_text().trim(), "See https://example.org/menu today.");
        assert_eq!(m.text_parts().len(), 1);
        assert!(m.html_parts()[0].contains("the menu"));
        assert!(!m.html_parts()[0].contains("<a "));
        assert_eq!(
            m.html_sources(),
            [
                "<p>See <a href=\"https://example.org/menu\">the menu</a> or https://cafe.example/x</p>"
            ]
        );
    }

    #[test]
    fn urls_are_collected_once_each_in_order() {
        assert_eq!(
            m_urls(),
            vec!["https://example.org/menu", "https://cafe.example/x"]
        );
    }

    fn m_urls() -> Vec<String> {
        parsed().urls().to_vec()
    }

    #[test]
    fn attachments_list_inline_images_with_their_content_id() {
        let m = parsed();
        let a = m.attachments();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].content_type, "image/png");
        assert_eq!(a[0].name.as_deref(), Some("pic.png"));
        assert_eq!(a[0].content_id.as_deref(), Some("pic1"));
        assert_eq!(m.attachment_bytes(0).map(<[u8]>::len), Some(8));
        assert!(m.attachment_bytes(1).is_none());
    }

    #[test]
    fn garbage_is_not_a_message() {
        assert!(ParsedMessage::parse(Vec::new()).is_err());
    }
}
