//! The `http` probe: a GET, classified by status code and latency, with a JSON body's top-level
//! scalars kept as `details` (Symbiont's own `/status` is such a body).
//!
//! Error texts never include the URL, which may carry credentials. What the body says reaches
//! our page only bounded (a few fields, each key and text clipped) and with any URL in it shown
//! without userinfo or query: a status body may well echo a connection string.

use super::{Outcome, clip, degrade_if_slow};
use crate::config::JsonExpect;
use crate::net::client::{Client, Conn, Request};
use crate::redact;
use crate::snapshot::{Status, format_time};
use serde_json::{Map, Value};
use std::time::Duration;
use url::Url;

/// A body longer than this is not read further: a status check is not a download.
pub const BODY_CAP: usize = 1 << 20;
/// At most this many `details` fields, each string at most this long: the feed stays small
/// whatever a service answers.
const MAX_DETAILS: usize = 32;
const MAX_DETAIL_CHARS: usize = 256;
/// A key longer than this is cut: keys are names, not content.
const MAX_KEY_CHARS: usize = 64;
/// A reason phrase is a word or two; a server that sends a novel is cut.
const MAX_REASON_CHARS: usize = 100;

/// What an http service's answer must be.
pub struct Want<'a> {
    pub expect_status: &'a [u16],
    pub expect_text: Option<&'a str>,
    pub expect_json: &'a [(String, JsonExpect)],
    /// What a body that does not say what it must makes the service.
    pub on_mismatch: Status,
    pub cert_warn: Duration,
}

pub async fn check(
    client: &Client,
    conn: &mut Option<Conn>,
    url: &Url,
    want: &Want<'_>,
    degraded_after: Option<Duration>,
) -> Outcome {
    let response = match client.send(conn, Request::get(url, BODY_CAP)).await {
        Ok(r) => r,
        Err(e) => return Outcome::down(e.to_string()),
    };
    let reason = clip(&response.reason, MAX_REASON_CHARS);
    let reason = (!reason.is_empty()).then_some(reason.as_str());
    let (mut status, mut error) = classify(response.status, reason, want.expect_status);
    if status == Status::Up
        && let Some(why) =
            super::content::mismatch(&response.body, want.expect_text, want.expect_json)
    {
        (status, error) = (want.on_mismatch, Some(why));
    }
    let (status, error) = degrade_if_slow(status, error, response.latency, degraded_after);
    let mut outcome = Outcome::new(status, Some(response.latency), error);
    outcome.details = details(&response.body);
    super::tls::certificate(
        &mut outcome,
        response.peer_certificate.as_deref(),
        want.cert_warn,
    );
    outcome
}

/// 2xx is up unless `expect_status` lists the codes that are; anything else is down.
pub fn classify(
    code: u16,
    reason: Option<&str>,
    expect_status: &[u16],
) -> (Status, Option<String>) {
    let ok = if expect_status.is_empty() {
        (200..300).contains(&code)
    } else {
        expect_status.contains(&code)
    };
    if ok {
        return (Status::Up, None);
    }
    let mut error = format!("HTTP {code}");
    if let Some(reason) = reason {
        error.push(' ');
        error.push_str(reason);
    }
    if !expect_status.is_empty() {
        let want: Vec<String> = expect_status.iter().map(u16::to_string).collect();
        error.push_str(&format!(" (expected {})", want.join(" or ")));
    }
    (Status::Down, Some(error))
}

/// A JSON object's top-level scalars (strings, numbers, booleans, nulls). Nested values are left
/// out, and anything that is not a JSON object yields nothing: a garbage body is not an error.
pub fn details(body: &[u8]) -> Map<String, Value> {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return Map::new();
    };
    object
        .into_iter()
        .filter_map(|(key, value)| match value {
            Value::String(s) => Some((key, Value::String(normalise_text(s)))),
            Value::Number(_) | Value::Bool(_) | Value::Null => Some((key, value)),
            Value::Array(_) | Value::Object(_) => None,
        })
        .take(MAX_DETAILS)
        .map(|(key, value)| (clip(&key, MAX_KEY_CHARS), value))
        .collect()
}

/// Times written in ISO-8601 are parsed and rewritten as UTC (`2026-11-24T10:00:00Z`), so the
/// page and scripts see one format. Text that looks like a time but does not parse is kept as
/// written: a service's odd clock is its business, never our error.
fn normalise_text(mut s: String) -> String {
    if looks_like_time(&s) {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&s) {
            return format_time(&t.with_timezone(&chrono::Utc));
        }
        // No offset given: ISO-8601 calls that local time, and the only clock we can assume
        // for a server's API is UTC.
        for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&s, format) {
                return format_time(&t.and_utc());
            }
        }
    }
    if s.contains("://") {
        s = redact::text(&s);
    }
    clip(&s, MAX_DETAIL_CHARS)
}

/// `YYYY-MM-DD` followed by `T` or a space and more.
fn looks_like_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 11
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && matches!(b[10], b'T' | b't' | b' ')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_by_status_code() {
        assert_eq!(classify(200, Some("OK"), &[]), (Status::Up, None));
        assert_eq!(classify(204, None, &[]), (Status::Up, None));
        assert_eq!(
            classify(500, Some("Internal Server Error"), &[]),
            (Status::Down, Some("HTTP 500 Internal Server Error".into()))
        );
        assert_eq!(classify(301, None, &[]).0, Status::Down);
        assert_eq!(classify(301, None, &[301, 302]), (Status::Up, None));
        assert_eq!(
            classify(200, Some("OK"), &[204]),
            (Status::Down, Some("HTTP 200 OK (expected 204)".into()))
        );
    }

    #[test]
    fn keeps_top_level_scalars_and_parses_times() {
        let body = json!({
            "status": "ok", "tasks": 3, "healthy": true, "note": null,
            "started_at": "2026-11-24T11:00:00+01:00",
            "naive_at": "2026-11-24 10:00:00",
            "broken_at": "2026-13-45T99:00:00Z",
            "nested": {"a": 1}, "list": [1, 2]
        });
        let d = details(body.to_string().as_bytes());
        assert_eq!(d["status"], "ok");
        assert_eq!(d["tasks"], 3);
        assert_eq!(d["healthy"], true);
        assert_eq!(d["note"], Value::Null);
        assert_eq!(d["started_at"], "2026-11-24T10:00:00Z");
        assert_eq!(d["naive_at"], "2026-11-24T10:00:00Z");
        assert_eq!(d["broken_at"], "2026-13-45T99:00:00Z", "kept as written");
        assert!(!d.contains_key("nested") && !d.contains_key("list"));
    }

    #[test]
    fn detail_keys_are_clipped_and_urls_in_texts_redacted() {
        let body = json!({
            "k".repeat(10_000): 1,
            "database": "postgres://app:hunter2@db.local:5432/app?sslkey=abc",
            "line": "one\ntwo",
        });
        let d = details(body.to_string().as_bytes());
        assert!(d.keys().all(|k| k.chars().count() <= MAX_KEY_CHARS));
        assert_eq!(d["database"], "postgres://db.local:5432/app?…");
        assert_eq!(d["line"], "one two");
    }

    #[test]
    fn garbage_gives_no_details() {
        assert!(details(b"<html>oops</html>").is_empty());
        assert!(details(b"[1,2,3]").is_empty());
        assert!(details(&[0xff, 0xfe, 0x00]).is_empty());
        assert!(details(b"").is_empty());
    }

    #[test]
    fn details_are_bounded() {
        let mut object = serde_json::Map::new();
        for i in 0..100 {
            object.insert(format!("k{i:03}"), json!("x".repeat(1000)));
        }
        let d = details(Value::Object(object).to_string().as_bytes());
        assert_eq!(d.len(), MAX_DETAILS);
        assert!(
            d.values()
                .all(|v| v.as_str().unwrap().chars().count() == MAX_DETAIL_CHARS)
        );
    }

    mod properties {
        //! Whatever a body holds, `details` stays within its bounds and never panics.
        use super::*;
        use proptest::prelude::*;

        fn text(max: usize) -> impl Strategy<Value = String> {
            proptest::collection::vec(any::<char>(), 0..max)
                .prop_map(|chars| chars.into_iter().collect())
        }

        fn any_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|i| json!(i)),
                any::<u64>().prop_map(|u| json!(u)),
                any::<f64>().prop_map(|f| json!(f)),
                text(600).prop_map(Value::String),
                Just(json!("2026-11-24T10:00:00+14:00")),
                Just(json!("+262143-12-31T23:59:59Z")),
                Just(json!("9999-99-99 99:99:99")),
            ];
            leaf.prop_recursive(4, 100, 10, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..10).prop_map(Value::Array),
                    proptest::collection::vec((text(200), inner), 0..60)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn details_are_bounded_whatever_the_body(value in any_json()) {
                let d = details(value.to_string().as_bytes());
                prop_assert!(d.len() <= MAX_DETAILS);
                for (key, value) in &d {
                    prop_assert!(key.chars().count() <= MAX_KEY_CHARS);
                    prop_assert!(!key.chars().any(char::is_control));
                    if let Value::String(s) = value {
                        prop_assert!(s.chars().count() <= MAX_DETAIL_CHARS);
                        prop_assert!(!s.chars().any(char::is_control));
                    }
                    prop_assert!(!value.is_array() && !value.is_object());
                }
            }
        }
    }
}
