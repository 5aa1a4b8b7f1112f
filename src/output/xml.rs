//! Escaping text for XML documents we write by hand (the Atom feed, the SVG badges).
//!
//! Both documents are small and fixed in shape, so they are written with `format!` rather than
//! an XML library; everything that came from a person or a peer (names, messages, errors) goes
//! through [`escape`] on its way in. XML 1.0 forbids most control characters even as character
//! references, so an error text from a misbehaving peer could otherwise make the whole feed
//! unparseable: those characters become U+FFFD.

use std::borrow::Cow;

/// `text` safe for element content and for attribute values in either quote style.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_work) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if !allowed(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_work(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'') || !allowed(c)
}

/// The `Char` production of XML 1.0 (surrogates cannot occur in a Rust `char`).
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;"
        );
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(escape("Symbiont API — up ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn characters_xml_forbids_become_replacement_characters() {
        assert_eq!(
            escape("a\u{0}b\u{1b}[31mc\u{FFFF}"),
            "a\u{FFFD}b\u{FFFD}[31mc\u{FFFD}"
        );
        assert_eq!(escape("tab\tand\nnewline"), "tab\tand\nnewline");
    }
}
