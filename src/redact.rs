//! Text that may reach the public page, the feed, a log line or an HTTP answer, made safe.
//!
//! A URL in a config value or a probe error can carry a credential (`http://admin:pw@host/`, a
//! token in `?key=…`); a peer's or Symbiont's message can echo a secret back. Every message
//! built from outside text goes through here: URLs lose their userinfo and query string, and
//! known secret values are replaced. It never fails and never grows a text by more than the
//! markers it puts in.

use url::Url;

/// What stands in for a removed secret, userinfo or query string.
pub const MARK: &str = "[redacted]";

/// A URL as it may be shown: no userinfo, no query, no fragment (`?…` says a query was there).
pub fn url(url: &Url) -> String {
    let mut shown = url.clone();
    let had_query = shown.query().is_some();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    let mut text = shown.to_string();
    if had_query {
        text.push_str("?…");
    }
    text
}

/// Free text with every `scheme://…` URL in it shown as [`url`] shows it; a URL-like word that
/// does not parse loses everything after its host part's `@`, or is left as is when it has none.
pub fn text(text: &str) -> String {
    if !text.contains("://") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme: the letters, digits, `+`, `-`, `.` just before "://".
        let scheme_start = rest[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(at, |(i, _)| i);
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(rest.len(), |e| at + e);
        out.push_str(&rest[..scheme_start]);
        let word = &rest[scheme_start..end];
        // A trailing sentence mark is not part of the URL.
        let trimmed = word.trim_end_matches(['.', ',', ';', ':', ')', ']']);
        let tail = &word[trimmed.len()..];
        match Url::parse(trimmed) {
            Ok(u) if scheme_start < at => out.push_str(&url(&u)),
            _ => out.push_str(&strip_unparsed(trimmed)),
        }
        out.push_str(tail);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A URL-ish word that did not parse: drop userinfo (anything before an `@` in the authority)
/// and the query.
fn strip_unparsed(word: &str) -> String {
    let Some(sep) = word.find("://") else {
        return word.to_string();
    };
    let (scheme, after) = word.split_at(sep + 3);
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, path) = after.split_at(authority_end);
    let host = match authority.rfind('@') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    let path = match path.find(['?', '#']) {
        Some(i) => format!("{}?…", &path[..i]),
        None => path.to_string(),
    };
    format!("{scheme}{host}{path}")
}

/// `text` with each of `secrets` (non-empty ones) replaced by [`MARK`]. For answers relayed
/// from a peer that may echo what we sent it (a bearer token in "invalid token: Bearer …").
pub fn secrets(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        // A very short "secret" would blank out ordinary words; the config refuses those, and
        // an empty one would match everywhere.
        if !secret.is_empty() && out.contains(secret) {
            out = out.replace(secret, MARK);
        }
    }
    out
}

/// Outside text as it may be shown: control characters (newlines that would forge a log line,
/// escapes that would drive a terminal) become spaces, and text longer than `max` characters is
/// cut, with `…` marking the cut. Never longer than `max` characters.
pub fn clip(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let mut out = String::with_capacity(text.len().min(max.saturating_mul(4)));
    for _ in 0..max {
        match chars.next() {
            Some(c) => out.push(if c.is_control() { ' ' } else { c }),
            None => return out,
        }
    }
    if max > 0 && chars.next().is_some() {
        out.pop();
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_bounds_and_cleans_outside_text() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("exactly10!", 10), "exactly10!");
        assert_eq!(clip("eleven char", 10), "eleven ch…");
        assert_eq!(clip("a\nforged: line\x1b[31m", 100), "a forged: line [31m");
        assert_eq!(clip(&"é".repeat(1000), 5).chars().count(), 5);
        assert_eq!(clip("abc", 0), "");
        assert_eq!(clip("", 3), "");
    }

    #[test]
    fn urls_lose_userinfo_and_query() {
        let u = Url::parse("http://admin:pw@host:8080/status?token=abc#x").unwrap();
        assert_eq!(url(&u), "http://host:8080/status?…");
        let u = Url::parse("https://host/a").unwrap();
        assert_eq!(url(&u), "https://host/a");
    }

    #[test]
    fn text_redacts_every_url_in_it() {
        let t = text("bad url \"http://admin:s3cret@db.local/x?k=v\", then https://u@h/p. end");
        assert!(
            !t.contains("s3cret") && !t.contains("admin") && !t.contains("k=v"),
            "{t}"
        );
        assert!(
            t.contains("http://db.local/x?…") && t.contains("https://h/p. end"),
            "{t}"
        );
        assert_eq!(text("no urls here"), "no urls here");
    }

    #[test]
    fn text_redacts_urls_that_do_not_parse() {
        let t = text("value: http://admin:pw@[bad/x?y=1");
        assert!(!t.contains("pw") && !t.contains("y=1"), "{t}");
    }

    #[test]
    fn secrets_are_replaced() {
        let t = secrets("invalid token: Bearer tok-123", &["tok-123", ""]);
        assert_eq!(t, "invalid token: Bearer [redacted]");
    }
}
