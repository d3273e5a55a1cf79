//! Checks on the HTML source: red lettering. (An HTML part without an `<html>` tag was
//! measured and not kept; the README says why.)

use crate::rules::{Facts, Finding};
use crate::symbols::HTML_FONT_RED;

/// Where each `<NAME` of `html` ends (the start of its attributes), the name in any
/// case: `<` found with memchr, the name compared after it. Also what `<img` tags are
/// counted with (`mime::images_little_text`).
pub(crate) fn tag_ends<'a>(html: &'a str, name: &'a str) -> impl Iterator<Item = usize> + 'a {
    let bytes = html.as_bytes();
    memchr::memchr_iter(b'<', bytes).filter_map(move |at| {
        let end = at + 1 + name.len();
        let found = bytes.get(at + 1..end)?;
        found.eq_ignore_ascii_case(name.as_bytes()).then_some(end)
    })
}

/// The attributes of every `<font …>` tag of `html`, in any case.
fn font_tags(html: &str) -> impl Iterator<Item = &str> {
    tag_ends(html, "font").filter_map(|end| {
        // `<font` is ASCII, so `end` is a character boundary.
        let tag = &html[end..];
        tag.find('>').map(|close| &tag[..close])
    })
}

/// Whether a `<font>` tag's attributes, lower-cased, set the colour red (`red`,
/// `#ff0000`).
fn is_red(attributes: &str) -> bool {
    attributes.match_indices("color").any(|(at, _)| {
        let value = attributes[at + 5..].trim_start();
        let Some(value) = value.strip_prefix('=') else {
            return false;
        };
        let value = value.trim_start().trim_start_matches(['"', '\'']);
        let value = value.strip_prefix('#').unwrap_or(value);
        value.starts_with("ff0000") || value.starts_with("red")
    })
}

/// HTML_FONT_RED: a `<font>` tag sets red text, the shout of advertising mail.
pub(crate) fn font_red(facts: &Facts) -> Option<Finding> {
    facts
        .html_sources
        .iter()
        .flat_map(|html| font_tags(html))
        .any(|attributes| is_red(&attributes.to_ascii_lowercase()))
        .then(|| Finding::new(HTML_FONT_RED, "<font color=red>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::clean;

    fn with_html(html: &str) -> Facts {
        let mut facts = clean();
        facts.html_sources = vec![html.to_owned()];
        facts
    }

    #[test]
    fn red_fonts() {
        for html in [
            "<p><FONT face=Arial COLOR=\"#FF0000\">Buy</FONT>",
            "<font size=4 color = red>now</font>",
            "<font color='ff0000'>x",
        ] {
            let found = font_red(&with_html(html));
            assert_eq!(found.map(|f| f.symbol), Some(HTML_FONT_RED), "{html}");
        }
        for html in [
            "<font color=\"#000000\">red</font>",
            "<span style=\"color: red\">x</span>",
            "<font color=red",
            "<fo",
            "x <",
        ] {
            assert_eq!(font_red(&with_html(html)), None, "{html}");
        }
    }
}
