//! The value types a config key can hold, each parsed and checked on its own: durations, URLs,
//! times, the host figures, status codes.
//!
//! Each is a serde type, so `read::Reader` can deserialize one key's value at a time and report
//! its problem with that key's line. Checks that need more than one key (a kind's required
//! fields, unique slugs, maintenance naming a service, a duration's bounds for its key) live in
//! `config::resolve`.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::fmt;
use std::time::Duration;

/// The longest duration any key accepts. Each key has its own, shorter, bound (see
/// `config::resolve`); this one makes sure that no duration the parser lets through can
/// overflow the arithmetic done with it (`Instant + Duration` panics on overflow).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// The host figures `[host] public` may list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostFigure {
    Load,
    Memory,
    Disks,
}

/// `expect_status = 204` or `expect_status = [200, 301]`.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
pub enum ExpectStatus {
    One(u16),
    Many(Vec<u16>),
}

/// A duration written as text: "5s", "250ms", "1m 30s", "2 minutes".
#[derive(Debug, Clone, Copy)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration in quotes, like \"5s\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Dur, E> {
                parse_duration(text).map(Dur).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Parses a duration as the config writes it. It accepts what humantime accepts (units in
/// lower case, words included, a space or none between number and unit, several parts summed),
/// and refuses zero-length text and anything longer than [`MAX_DURATION`]. Never panics.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let refused = || {
        format!(
            "expected a duration like \"5s\" or \"250ms\", found {}; a number and a unit \
             (ms, s, m, h or d), as in \"2 minutes\" or \"1h 30m\"",
            shown(text)
        )
    };
    let d = humantime::parse_duration(text.trim()).map_err(|_| refused())?;
    if d > MAX_DURATION {
        return Err(format!(
            "{} is longer than any duration a key accepts (365 days at most)",
            shown(text),
        ));
    }
    Ok(d)
}

/// An absolute http:// or https:// URL.
#[derive(Debug, Clone)]
pub struct HttpUrl(pub url::Url);

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HttpUrl;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an http:// or https:// URL in quotes")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<HttpUrl, E> {
                parse_http_url(text).map(HttpUrl).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// An absolute http(s) URL. The error shows the text as [`shown_url`] does: a URL may carry a
/// password or a token, and the error goes to the page, the feed and the log.
pub fn parse_http_url(text: &str) -> Result<url::Url, String> {
    let expected = || {
        format!(
            "expected an http:// or https:// URL, found {}",
            shown_url(text)
        )
    };
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        Ok(_) => Err(expected()),
        Err(e) => Err(format!("{} ({e})", expected())),
    }
}

/// A URL someone wrote, as a message may show it, quoted: without userinfo or query, whether
/// or not it parses, and whether or not it has a scheme (`admin:pw@host/x` loses `admin:pw@`).
pub fn shown_url(text: &str) -> String {
    let safe = if text.contains("://") {
        crate::redact::text(text)
    } else {
        let rest = text.rsplit_once('@').map_or(text, |(_, host)| host);
        match rest.split_once(['?', '#']) {
            Some((before, _)) => format!("{before}?…"),
            None => rest.to_string(),
        }
    };
    shown(&safe)
}

/// A value quoted for a message, cut to a length that fits a line: a stray paste of a whole
/// file into one key must not make a message of the whole file.
pub fn shown(text: &str) -> String {
    const MAX_CHARS: usize = 80;
    if text.chars().count() <= MAX_CHARS {
        format!("{text:?}")
    } else {
        let cut: String = text.chars().take(MAX_CHARS).collect();
        format!("{cut:?}…")
    }
}

/// A point in time: a TOML datetime (`2026-12-01T02:00:00Z`) or the same text quoted.
#[derive(Debug, Clone, Copy)]
pub struct Time(pub chrono::DateTime<chrono::Utc>);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Toml(toml::value::Datetime),
        }
        let text = match Either::deserialize(d) {
            Ok(Either::Text(t)) => t,
            Ok(Either::Toml(t)) => t.to_string(),
            Err(_) => {
                return Err(de::Error::custom(
                    "expected a time like \"2026-12-01T02:00:00Z\"",
                ));
            }
        };
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| Time(t.with_timezone(&chrono::Utc)))
            .map_err(|e| {
                de::Error::custom(format!(
                    "expected a time with its offset like \"2026-12-01T02:00:00Z\", found {} ({e})",
                    shown(&text)
                ))
            })
    }
}
