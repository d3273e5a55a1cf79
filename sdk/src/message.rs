//! The message under inspection: a handle to the copy the host parsed once, from which a
//! plugin pulls only the parts it needs.

use crate::bindings::moat::filter::message as wit;
use crate::url::Url;

/// The received message, passed to [`Plugin::on_data`](crate::Plugin::on_data),
/// [`Plugin::on_outcome`](crate::Plugin::on_outcome) and [`Plugin::learn`](crate::Plugin::learn).
///
/// The host parsed the message once; every method fetches one part of it across the
/// sandbox boundary, so a header-only plugin never copies a 25 MB body into its memory.
/// Each call copies again: keep what you need in a local variable rather than calling the
/// same method in a loop.
///
/// A `Message` is only valid during the call it is passed to, which is why plugins only
/// ever see it borrowed.
#[derive(Debug)]
#[repr(transparent)]
pub struct Message(wit::Message);

impl Message {
    pub(crate) fn from_wit(message: &wit::Message) -> &Self {
        // SAFETY: `Message` is a `repr(transparent)` wrapper around `wit::Message`, so both
        // references have the same layout, and the returned borrow keeps the lifetime of
        // the original one.
        unsafe { &*std::ptr::from_ref(message).cast::<Self>() }
    }

    /// Every header field, in message order, with values unfolded and RFC 2047 encoded
    /// words decoded.
    #[must_use]
    pub fn headers(&self) -> Vec<Header> {
        self.0
            .headers()
            .into_iter()
            .map(|header| Header {
                name: header.name,
                value: header.value,
            })
            .collect()
    }

    /// The value of the first header field named `name` (case-insensitive), decoded;
    /// `None` if there is none.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<String> {
        self.0.header(name)
    }

    /// The values of every header field named `name` (case-insensitive), in order. Use it
    /// for fields that may repeat (`Received`) or to count duplicates (`From`).
    #[must_use]
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.0.header_all(name)
    }

    /// The addresses of every field named `name` (case-insensitive): `From`, `To`, `Cc`,
    /// `Reply-To`, `Sender`, the `Resent-` fields. The gateway parsed them (quoted and
    /// encoded display names, comments, groups, obsolete forms), so no plugin needs an
    /// address parser. Entries without an address (an empty group such as
    /// `undisclosed-recipients:;`) are left out; a field that is not an address field
    /// gives none.
    ///
    /// ```no_run
    /// # fn f(message: &moat_sdk::Message) {
    /// let sender_domains: Vec<String> =
    ///     message.addresses("From").into_iter().map(|a| a.domain).collect();
    /// # }
    /// ```
    #[must_use]
    pub fn addresses(&self, name: &str) -> Vec<Address> {
        self.0
            .addresses(name)
            .into_iter()
            .map(|a| Address {
                name: a.name,
                address: a.address,
                local_part: a.local_part,
                domain: a.domain,
                group: a.group,
            })
            .collect()
    }

    /// The decoded `Subject`, if the message has one. Shorthand for `header("Subject")`.
    #[must_use]
    pub fn subject(&self) -> Option<String> {
        self.header("Subject")
    }

    /// The `text/plain` parts, in order, converted to UTF-8.
    #[must_use]
    pub fn text_parts(&self) -> Vec<String> {
        self.0.text_parts()
    }

    /// The `text/html` parts converted to plain text, in order.
    #[must_use]
    pub fn html_parts(&self) -> Vec<String> {
        self.0.html_parts()
    }

    /// The `text/html` parts as HTML source (transfer encoding and charset decoded), in
    /// order: the markup, links and inline `data:` URIs that [`html_parts`](Self::html_parts)
    /// leaves out.
    #[must_use]
    pub fn html_sources(&self) -> Vec<String> {
        self.0.html_sources()
    }

    /// All body text in one string: the text parts, then the HTML parts as text, separated
    /// by blank lines. What a content filter usually wants.
    #[must_use]
    pub fn body_text(&self) -> String {
        self.0.body_text()
    }

    /// The distinct `http(s)` URLs found in the text and HTML parts, in order of appearance,
    /// as written. A link written without a scheme (`www.example.com/offer`) comes as
    /// `http://www.example.com/offer`.
    #[must_use]
    pub fn urls(&self) -> Vec<String> {
        self.0.urls()
    }

    /// The [`urls`](Self::urls) parsed and normalised ([`Url::parse`]): each link once,
    /// however it was spelled, in order of first appearance. URLs that do not parse are
    /// left out. Compare and count links with these rather than with the strings.
    #[must_use]
    pub fn links(&self) -> Vec<Url> {
        crate::url::distinct(self.urls().iter().map(String::as_str))
    }

    /// The parts that are not body text: attachments and inline images. Their contents
    /// are fetched separately with [`Message::attachment_bytes`].
    #[must_use]
    pub fn attachments(&self) -> Vec<Attachment> {
        self.0
            .attachments()
            .into_iter()
            .map(|attachment| Attachment {
                index: attachment.index,
                name: attachment.name,
                content_type: attachment.content_type,
                size: attachment.size,
                content_id: attachment.content_id,
            })
            .collect()
    }

    /// The decoded bytes of the attachment with this [`Attachment::index`]; `None` if the
    /// index is out of range.
    #[must_use]
    pub fn attachment_bytes(&self, index: u32) -> Option<Vec<u8>> {
        self.0.attachment_bytes(index)
    }

    /// The message exactly as received: headers and body, CRLF line ends. Usually the
    /// parsed accessors above are what you want; this copies the whole message.
    #[must_use]
    pub fn raw(&self) -> Vec<u8> {
        self.0.raw()
    }

    /// The size of the raw message in bytes, without copying it.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.0.size()
    }
}

/// A header field as it appears in the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The field name as written, e.g. `"Subject"`. Compare it case-insensitively.
    pub name: String,
    /// The field value, unfolded and with RFC 2047 encoded words decoded.
    pub value: String,
}

impl Header {
    /// A header with this name and value; handy in tests of code that reads headers.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// One address of an address field, as the gateway parsed it ([`Message::addresses`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// The decoded display name (`Alice Example`), if any; for a bare address the comment
    /// after it (`bob@example.org (Bob)`).
    pub name: Option<String>,
    /// The address as written (`alice@Example.org`).
    pub address: String,
    /// What comes before its last `@` (all of it if it has none).
    pub local_part: String,
    /// What comes after its last `@`, lower-cased; empty if it has none.
    pub domain: String,
    /// The group it is listed in (`Team: a@x, b@y;`), if any.
    pub group: Option<String>,
}

impl Address {
    /// An address as the gateway would give it for `address` (split at its last `@`, the
    /// domain lower-cased), with no name or group: handy in tests.
    pub fn new(address: impl Into<String>) -> Self {
        let address = address.into();
        let (local_part, domain) = match address.rsplit_once('@') {
            Some((local, domain)) => (local.to_owned(), domain.to_ascii_lowercase()),
            None => (address.clone(), String::new()),
        };
        Self {
            name: None,
            address,
            local_part,
            domain,
            group: None,
        }
    }
}

/// A MIME part that is not body text: an attachment or an inline image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The index to pass to [`Message::attachment_bytes`].
    pub index: u32,
    /// The file name from Content-Disposition or Content-Type, if any.
    pub name: Option<String>,
    /// The media type, lower-case, e.g. `"image/png"`.
    pub content_type: String,
    /// The decoded size in bytes.
    pub size: u64,
    /// The Content-ID without angle brackets, for parts referenced from HTML (`cid:`).
    pub content_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_splits_at_its_last_at_sign() {
        let address = Address::new("\"a@b\"@Example.ORG");
        assert_eq!(address.local_part, "\"a@b\"");
        assert_eq!(address.domain, "example.org");
        assert_eq!(address.address, "\"a@b\"@Example.ORG");
        let local = Address::new("postmaster");
        assert_eq!(
            (local.local_part.as_str(), local.domain.as_str()),
            ("postmaster", "")
        );
    }
}
