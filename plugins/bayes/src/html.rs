//! Markup features of the `text/html` parts, read from their source: which tags and
//! attributes a message uses (`<font color size face>`, `<table bgcolor>`, `<img>`), inline
//! styles, comments, hidden text, entities, and how much of the part is markup. Spam of
//! every era is written by HTML tools whose fingerprints differ from a mail client's.
//!
//! The scanner is a single forward pass, tolerant of broken markup: a `<` that does not
//! start a tag is text, an unclosed tag or comment ends the scan.

/// At most this many bytes of each HTML source are scanned.
const MAX_SCAN: usize = 200_000;
/// Attribute values longer than this are cut.
const MAX_VALUE: usize = 24;
/// A tag longer than this (up to its `>`) is text, not a tag.
const MAX_TAG: usize = 4000;

/// Attributes whose (short) values are features too: colours, sizes, fonts, layout.
const VALUED_ATTRIBUTES: [&str; 20] = [
    "color",
    "bgcolor",
    "text",
    "link",
    "vlink",
    "alink",
    "size",
    "face",
    "align",
    "valign",
    "border",
    "cellpadding",
    "cellspacing",
    "width",
    "height",
    "target",
    "type",
    "dir",
    "lang",
    "charset",
];

/// Tags whose number per part is a feature (`html:n:font:8`, rounded down to a power of 2).
const COUNTED_TAGS: [&str; 10] = [
    "a", "img", "font", "table", "td", "br", "p", "b", "div", "span",
];

/// The markup features of one HTML source, in order of appearance (not yet distinct).
/// Every feature starts with `html:`.
#[must_use]
pub fn features(source: &str) -> Vec<String> {
    let lower = cut(source, MAX_SCAN).to_ascii_lowercase();
    let mut scan = Scan::new(&lower);
    while scan.i < lower.len() {
        match lower.as_bytes()[scan.i] {
            b'<' if lower[scan.i..].starts_with("<!--") => {
                if !scan.comment() {
                    break;
                }
            }
            b'<' => scan.tag(),
            b'&' => scan.entity(),
            b if b.is_ascii_whitespace() => scan.i += 1,
            _ => scan.text_byte(),
        }
    }
    scan.finish()
}

/// One forward pass over a lower-cased HTML source: where it is, the features found so
/// far, and the tallies the summary features come from.
struct Scan<'a> {
    /// The source, lower-cased.
    lower: &'a str,
    /// The byte the scan is at.
    i: usize,
    /// The features found so far.
    out: Vec<String>,
    /// Bytes of markup (tags, comments).
    markup: usize,
    /// Non-blank bytes of text.
    text: usize,
    /// Opening tags.
    tags: usize,
    /// Opening tags of each of [`COUNTED_TAGS`].
    counts: [usize; COUNTED_TAGS.len()],
    /// Whether no opening tag has been seen yet.
    first_tag: bool,
    /// Whether `</html>` was seen and no text has followed it yet.
    closed_html: bool,
}

impl<'a> Scan<'a> {
    /// A scan at the start of `lower`.
    fn new(lower: &'a str) -> Self {
        Self {
            lower,
            i: 0,
            out: Vec::new(),
            markup: 0,
            text: 0,
            tags: 0,
            counts: [0; COUNTED_TAGS.len()],
            first_tag: true,
            closed_html: false,
        }
    }

    /// The comment starting at `i` (`<!--`): its features, and the scan moves past it.
    /// `false` when it is never closed, which ends the scan.
    fn comment(&mut self) -> bool {
        let (lower, bytes, i) = (self.lower, self.lower.as_bytes(), self.i);
        let Some(end) = lower[i + 4..].find("-->").map(|e| i + 4 + e + 3) else {
            self.out.push("html:comment:open".to_owned());
            return false;
        };
        self.out.push("html:comment".to_owned());
        let before = i.checked_sub(1).map(|b| bytes[b]);
        let after = bytes.get(end).copied();
        if before.is_some_and(|b| b.is_ascii_alphanumeric())
            && after.is_some_and(|b| b.is_ascii_alphanumeric())
        {
            self.out.push("html:comment:inword".to_owned());
        }
        if end - i > 200 {
            self.out.push("html:comment:long".to_owned());
        }
        self.markup += end - i;
        self.i = end;
        true
    }

    /// The `<` at `i`: a tag (its name, the counts, its attributes), a doctype, or text
    /// when it starts no tag.
    fn tag(&mut self) {
        let (lower, i) = (self.lower, self.i);
        let Some(len) = tag_length(&lower.as_bytes()[i..]) else {
            self.text += 1;
            self.i += 1;
            return;
        };
        let tag = &lower[i + 1..i + len - 1];
        self.markup += len;
        self.i += len;
        let Some(name) = tag_name(tag) else {
            if tag.starts_with('!') {
                self.out.push("html:doctype".to_owned());
            } else {
                // `<` followed by something that is no tag name: text.
                self.text += len;
                self.markup -= len;
            }
            return;
        };
        if name.closing {
            if name.name == "html" {
                self.closed_html = true;
            }
            return;
        }
        self.tags += 1;
        if self.first_tag {
            self.out.push(format!("html:first:{}", name.name));
            self.first_tag = false;
        }
        if let Some(k) = COUNTED_TAGS.iter().position(|t| *t == name.name) {
            self.counts[k] += 1;
        }
        self.out.push(format!("html:tag:{}", name.name));
        attributes(name.name, &tag[name.end..], &mut self.out);
    }

    /// The `&` at `i`: an entity (`&#…;` or `&name;`, up to 10 bytes) counts as one
    /// character of text and is a feature; a lone `&` is text.
    fn entity(&mut self) {
        let (lower, i) = (self.lower, self.i);
        let entity_end = lower[i + 1..]
            .bytes()
            .take(10)
            .position(|b| b == b';')
            .map(|p| i + 1 + p);
        match entity_end {
            Some(end) if end > i + 1 => {
                let entity = &lower[i + 1..end];
                if entity.starts_with('#') {
                    self.out.push("html:entity:#".to_owned());
                } else if entity.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    self.out.push(format!("html:entity:{entity}"));
                }
                self.text += 1;
                self.i = end + 1;
            }
            _ => {
                self.text += 1;
                self.i += 1;
            }
        }
    }

    /// A byte of text at `i`; the first one after `</html>` is a feature.
    fn text_byte(&mut self) {
        if self.closed_html {
            self.out.push("html:after-end".to_owned());
            self.closed_html = false;
        }
        self.text += 1;
        self.i += 1;
    }

    /// The features found, followed by the summary ones: the number of tags (in all and
    /// of each counted tag), the share of markup, and whether there is little text.
    fn finish(mut self) -> Vec<String> {
        self.out.push(format!("html:tags:{}", bucket(self.tags)));
        for (tag, n) in COUNTED_TAGS.iter().zip(self.counts) {
            if n > 0 {
                self.out.push(format!("html:n:{tag}:{}", bucket(n)));
            }
        }
        let total = self.markup + self.text;
        // The share of markup among the non-blank bytes, in tenths.
        if let Some(share) = (self.markup * 10).checked_div(total) {
            self.out.push(format!("html:markup:{share}"));
        }
        if self.text < 50 {
            self.out.push("html:little-text".to_owned());
        }
        self.out
    }
}

/// `n` rounded down to a power of two (0 stays 0).
fn bucket(n: usize) -> usize {
    if n == 0 { 0 } else { 1 << n.ilog2() }
}

/// `s` cut to at most `max` bytes on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The length of the tag starting at `bytes[0] == b'<'`, through its `>` (quotes
/// respected), or `None` when it does not end within [`MAX_TAG`] bytes.
fn tag_length(bytes: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (k, &b) in bytes.iter().enumerate().skip(1).take(MAX_TAG) {
        match (quote, b) {
            (None, b'>') => return Some(k + 1),
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            _ => {}
        }
    }
    None
}

struct TagName<'a> {
    name: &'a str,
    closing: bool,
    /// Where the attributes start in the tag text.
    end: usize,
}

/// The name of a tag (its text between `<` and `>`, lower-case).
fn tag_name(tag: &str) -> Option<TagName<'_>> {
    let closing = tag.starts_with('/');
    let start = usize::from(closing);
    let end = tag[start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-'))
        .map_or(tag.len(), |e| start + e);
    let name = &tag[start..end];
    let first = name.bytes().next()?;
    (first.is_ascii_alphabetic() && name.len() <= 12).then_some(TagName { name, closing, end })
}

/// The attribute features of a tag.
fn attributes(tag: &str, mut rest: &str, out: &mut Vec<String>) {
    let mut found = 0;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() || found >= 20 {
            return;
        }
        found += 1;
        let name_end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        rest = rest[name_end..].trim_start();
        let mut value = "";
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (v, remaining) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => match after[1..].find(q) {
                    Some(e) => (&after[1..1 + e], &after[e + 2..]),
                    None => (&after[1..], ""),
                },
                _ => {
                    let e = after
                        .find(|c: char| c.is_ascii_whitespace())
                        .unwrap_or(after.len());
                    (&after[..e], &after[e..])
                }
            };
            value = v.trim();
            rest = remaining;
        }
        if name.is_empty()
            || name.len() > 20
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':')
        {
            if name.is_empty() {
                // A stray `=`: skip one character so the loop advances.
                rest = rest.get(1..).unwrap_or_default();
            }
            continue;
        }
        out.push(format!("html:attr:{tag}.{name}"));
        attribute_value(tag, name, value, out);
    }
}

/// Features of an attribute's value.
fn attribute_value(tag: &str, name: &str, value: &str, out: &mut Vec<String>) {
    if VALUED_ATTRIBUTES.contains(&name) {
        let value = match name {
            // The first font of a list.
            "face" => value.split(',').next().unwrap_or_default().trim(),
            _ => value,
        };
        if !value.is_empty() {
            out.push(format!("html:val:{name}={}", cut(value, MAX_VALUE)));
        }
        if name == "size" && matches!(value, "1" | "-1" | "-2" | "0") {
            out.push("html:tiny".to_owned());
        }
        return;
    }
    match name {
        "style" => style(value, out),
        "href" | "src" | "background" | "action" => {
            let kind = if value.starts_with("http://") || value.starts_with("https://") {
                "remote"
            } else if value.starts_with("mailto:") {
                "mailto"
            } else if value.starts_with("cid:") {
                "cid"
            } else if value.starts_with("javascript:") {
                "javascript"
            } else if value.starts_with("data:") {
                "data"
            } else if value.starts_with('#') {
                "anchor"
            } else if value.is_empty() {
                "empty"
            } else {
                "relative"
            };
            out.push(format!("html:{tag}.{name}:{kind}"));
        }
        _ => {}
    }
}

/// Inline style declarations: each property, its (short) value, and hidden or tiny text.
fn style(value: &str, out: &mut Vec<String>) {
    for declaration in value.split(';').take(20) {
        let Some((property, v)) = declaration.split_once(':') else {
            continue;
        };
        let property = property.trim();
        let v = v.trim();
        if property.is_empty()
            || property.len() > 24
            || !property
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'-')
        {
            continue;
        }
        out.push(format!("html:style:{property}"));
        if !v.is_empty() {
            out.push(format!("html:style:{property}:{}", cut(v, MAX_VALUE)));
        }
        let hidden = (property == "display" && v.starts_with("none"))
            || (property == "visibility" && v.starts_with("hidden"));
        if hidden {
            out.push("html:hidden".to_owned());
        }
        if property == "font-size"
            && (v.starts_with('0') || v.starts_with("1px") || v.starts_with("1pt"))
        {
            out.push("html:tiny".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(features: &[String], expected: &str) -> bool {
        features.iter().any(|f| f == expected)
    }

    #[test]
    fn tags_attributes_and_values() {
        let f = features(
            r#"<HTML><BODY bgColor=#ffffff><FONT face="Arial, Helvetica" size=2 color='#FF0000'>Buy <b>now</b></FONT>
            <table border="0" width="100%"><tr><td><a href="http://x.example/">here</a><img src="cid:pic1"></td></tr></table></BODY></HTML>"#,
        );
        for expected in [
            "html:first:html",
            "html:tag:html",
            "html:tag:body",
            "html:attr:body.bgcolor",
            "html:val:bgcolor=#ffffff",
            "html:tag:font",
            "html:val:face=arial",
            "html:val:size=2",
            "html:val:color=#ff0000",
            "html:val:border=0",
            "html:val:width=100%",
            "html:a.href:remote",
            "html:img.src:cid",
            "html:n:font:1",
            "html:n:td:1",
        ] {
            assert!(has(&f, expected), "{expected} missing from {f:?}");
        }
        assert!(!f.iter().any(|t| t.contains("/font")), "{f:?}");
    }

    #[test]
    fn styles_hidden_text_and_comments() {
        let f = features(
            "<p style=\"display: none; COLOR:#fff\">x</p><span style='font-size:1px'>y</span>vi<!-- z -->agra &nbsp; &#65;",
        );
        for expected in [
            "html:style:display",
            "html:style:display:none",
            "html:style:color:#fff",
            "html:hidden",
            "html:tiny",
            "html:comment",
            "html:comment:inword",
            "html:entity:nbsp",
            "html:entity:#",
            "html:little-text",
        ] {
            assert!(has(&f, expected), "{expected} missing from {f:?}");
        }
    }

    #[test]
    fn markup_share_and_counts() {
        let f = features("<p>hello there, this is mostly text and not much markup at all</p>");
        assert!(has(&f, "html:markup:1"), "{f:?}");
        assert!(has(&f, "html:tags:1"), "{f:?}");
        let many = "<br>".repeat(9);
        let f = features(&many);
        assert!(has(&f, "html:n:br:8"), "{f:?}");
        assert!(has(&f, "html:markup:10"), "{f:?}");
    }

    #[test]
    fn broken_markup_does_not_panic() {
        for source in [
            "<",
            "<<>>",
            "a < b and c > d",
            "<font color=\"red>never closed",
            "<!-- open",
            "&",
            "&;&#;",
            "<a href=>x</a>",
            "<p =x ==y>",
            "<é>ü</é>",
            "</html>trailing",
        ] {
            let _ = features(source);
        }
        let f = features("a < b");
        assert!(!f.iter().any(|t| t.starts_with("html:tag:")), "{f:?}");
    }
}
