//! The `feed` probe: another cortex-status instance's `status.json` (federation).
//!
//! Its `overall` becomes this service's status and its services are listed in `details`, so a
//! hub's page shows every host. A feed that has stopped being regenerated is `unknown`, not the
//! `up` it last claimed: a dead generator must never look like a healthy host.
//!
//! A peer is outside input, and may be broken or hostile. So:
//! - its numbers are range-checked before any arithmetic (an `interval_seconds` of 1e19 once
//!   overflowed a `Duration` and aborted the hub);
//! - a `generated_at` in the future (beyond [`AHEAD_SKEW`]) is a problem shown as such: a clock
//!   running ahead would otherwise keep the feed "fresh" forever;
//! - what it can put on our page is bounded: at most [`MAX_LISTED`] services in `details` (with
//!   `services_total` saying how many it has), at most [`MAX_NAMED`] of them named in the error,
//!   every text clipped to [`MAX_NAME_CHARS`]. Its list is counted as it is parsed, never kept
//!   whole.

use super::http::BODY_CAP;
use super::{MAX_ERROR_CHARS, Outcome, clip, degrade_if_slow};
use crate::net::client::{Client, Conn, Request};
use crate::redact;
use crate::snapshot::{Status, format_time};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde_json::{Value, json};
use std::fmt;
use std::time::Duration;
use url::Url;

/// Grace for clock skew between hosts and for the last publish's propagation.
const SKEW: Duration = Duration::from_secs(5);
/// How far a peer's clock may run ahead of ours before its times are not believed.
pub const AHEAD_SKEW: Duration = Duration::from_secs(60);
/// The longest refresh interval a peer may claim, in seconds (a week). Anything longer, zero,
/// negative or not a number is a broken feed, not a reason to trust it for years.
pub const MAX_PEER_INTERVAL_SECONDS: f64 = 7.0 * 24.0 * 3600.0;
/// A peer's services listed in `details`; the rest are counted in `services_total`.
pub const MAX_LISTED: usize = 50;
/// A peer's troubled services named in the error; the rest are counted ("and 9,950 more").
pub const MAX_NAMED: usize = 4;
/// A name (service, host) from a peer is cut to this many characters.
pub const MAX_NAME_CHARS: usize = 100;

/// The parts of a peer's feed we read. Unknown fields are ignored: a newer peer adds fields.
#[derive(Deserialize)]
struct PeerFeed {
    generated_at: DateTime<Utc>,
    interval_seconds: f64,
    overall: Status,
    #[serde(default)]
    host: Option<PeerHost>,
    #[serde(default)]
    services: PeerServices,
}

#[derive(Deserialize)]
struct PeerHost {
    hostname: String,
}

#[derive(Deserialize)]
struct PeerService {
    name: String,
    status: Status,
}

/// A peer's service list as read: the first few kept (names clipped), the rest only counted.
#[derive(Default)]
struct PeerServices {
    /// The first [`MAX_LISTED`] services.
    listed: Vec<(String, Status)>,
    /// The first [`MAX_NAMED`] services that are not up.
    troubled: Vec<(String, Status)>,
    total: usize,
    troubled_total: usize,
}

impl<'de> Deserialize<'de> for PeerServices {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Counting;
        impl<'de> Visitor<'de> for Counting {
            type Value = PeerServices;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of services")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PeerServices, A::Error> {
                let mut services = PeerServices::default();
                // One element at a time: a 10,000-service list costs one service's memory.
                while let Some(s) = seq.next_element::<PeerService>()? {
                    services.total += 1;
                    let keep_listed = services.listed.len() < MAX_LISTED;
                    let troubled = s.status != Status::Up;
                    let keep_named = troubled && services.troubled.len() < MAX_NAMED;
                    if troubled {
                        services.troubled_total += 1;
                    }
                    if keep_listed || keep_named {
                        let name = shown(&s.name);
                        if keep_named {
                            services.troubled.push((name.clone(), s.status));
                        }
                        if keep_listed {
                            services.listed.push((name, s.status));
                        }
                    }
                }
                Ok(services)
            }
        }
        deserializer.deserialize_seq(Counting)
    }
}

/// A name from a peer as our page may show it.
fn shown(name: &str) -> String {
    clip(&redact::text(&clip(name, MAX_ERROR_CHARS)), MAX_NAME_CHARS)
}

pub async fn check(
    client: &Client,
    conn: &mut Option<Conn>,
    url: &Url,
    degraded_after: Option<Duration>,
) -> Outcome {
    let response = match client.send(conn, Request::get(url, BODY_CAP)).await {
        Ok(r) => r,
        Err(e) => return Outcome::down(e.to_string()),
    };
    if !(200..300).contains(&response.status) {
        let mut o = Outcome::down(
            format!(
                "HTTP {} {}",
                response.status,
                clip(&response.reason, MAX_NAME_CHARS)
            )
            .trim_end()
            .to_string(),
        );
        o.latency = Some(response.latency);
        return o;
    }
    if response.truncated {
        // Cut at the cap, it would only fail to parse, with a message about column 1048576.
        let mut o = Outcome::down(format!(
            "the feed is larger than {} KiB: not read",
            BODY_CAP / 1024
        ));
        o.latency = Some(response.latency);
        return o;
    }
    let mut outcome = read_feed(&response.body, Utc::now());
    outcome.latency = Some(response.latency);
    let (status, error) = degrade_if_slow(
        outcome.status,
        outcome.error.take(),
        response.latency,
        degraded_after,
    );
    outcome.status = status;
    outcome.error = error;
    outcome
}

/// Judges a peer's feed as of `now`.
fn read_feed(body: &[u8], now: DateTime<Utc>) -> Outcome {
    let feed: PeerFeed = match serde_json::from_slice(body) {
        Ok(f) => f,
        // serde's message quotes the offending value, which may be a megabyte of string.
        Err(e) => {
            return Outcome::down(clip(
                &format!("not a cortex-status feed: {e}"),
                MAX_ERROR_CHARS,
            ));
        }
    };
    let (status, error) = judge(&feed, now);
    let mut outcome = Outcome::new(status, None, error);
    outcome.checked_at = now;
    if let Some(host) = &feed.host {
        outcome
            .details
            .insert("hostname".into(), Value::String(shown(&host.hostname)));
    }
    outcome.details.insert(
        "generated_at".into(),
        Value::String(format_time(&feed.generated_at)),
    );
    let services: Vec<Value> = feed
        .services
        .listed
        .iter()
        .map(|(name, status)| json!({"name": name, "status": status}))
        .collect();
    outcome
        .details
        .insert("services".into(), Value::Array(services));
    outcome
        .details
        .insert("services_total".into(), json!(feed.services.total));
    outcome
}

/// The status and error a feed earns: unknown when its times cannot be believed (a broken
/// interval, a clock ahead of ours, a stale feed), else what the peer says, with the reason.
fn judge(feed: &PeerFeed, now: DateTime<Utc>) -> (Status, Option<String>) {
    let interval = match peer_interval(feed.interval_seconds) {
        Ok(i) => i,
        Err(e) => return (Status::Unknown, Some(e)),
    };
    // Differences of two valid times cannot overflow; a negative one fails `to_std`.
    if let Ok(ahead) = (feed.generated_at - now).to_std()
        && ahead > AHEAD_SKEW
    {
        return (
            Status::Unknown,
            Some(format!(
                "the peer's clock is {} ahead of ours: its feed says it was generated at {}, \
                 so whether it is fresh cannot be told",
                humantime::format_duration(Duration::from_secs(ahead.as_secs())),
                format_time(&feed.generated_at)
            )),
        );
    }
    let age = (now - feed.generated_at).to_std().unwrap_or(Duration::ZERO);
    // At most a week times three plus five seconds: cannot overflow, checked all the same.
    let limit = interval
        .checked_mul(3)
        .and_then(|d| d.checked_add(SKEW))
        .unwrap_or(Duration::MAX);
    if age > limit {
        return (
            Status::Unknown,
            Some(format!(
                "feed is stale: generated {} ago (it refreshes every {})",
                humantime::format_duration(Duration::from_secs(age.as_secs())),
                humantime::format_duration(interval)
            )),
        );
    }
    let error = (feed.overall != Status::Up).then(|| troubled_text(feed));
    (feed.overall, error)
}

/// `interval_seconds` as a duration, if it is one a cortex-status instance can have.
fn peer_interval(seconds: f64) -> Result<Duration, String> {
    let bad = || {
        format!(
            "the peer's interval_seconds ({}) is out of range: more than 0 and at most {} \
             expected, so whether its feed is fresh cannot be told",
            clip(&seconds.to_string(), 40),
            MAX_PEER_INTERVAL_SECONDS
        )
    };
    if !(seconds > 0.0 && seconds <= MAX_PEER_INTERVAL_SECONDS) {
        return Err(bad());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

/// "web is down, db is degraded and 9,950 more not up", or the peer's overall when it names
/// no service.
fn troubled_text(feed: &PeerFeed) -> String {
    let services = &feed.services;
    if services.troubled.is_empty() {
        return format!("peer reports {}", feed.overall);
    }
    let named: Vec<String> = services
        .troubled
        .iter()
        .map(|(name, status)| format!("{name} is {status}"))
        .collect();
    let mut text = named.join(", ");
    let more = services
        .troubled_total
        .saturating_sub(services.troubled.len());
    if more > 0 {
        text.push_str(&format!(" and {} more not up", thousands(more)));
    }
    text
}

/// `9950` as "9,950".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(generated_at: &str, overall: &str) -> Vec<u8> {
        json!({
            "schema": 1, "generated_at": generated_at, "interval_seconds": 5,
            "overall": overall, "host": {"hostname": "edge-2"},
            "services": [{"name": "web", "status": overall}, {"name": "db", "status": "up"}],
            "incidents": [], "errors": [], "a_future_field": {"x": 1}
        })
        .to_string()
        .into_bytes()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_fresh_feed_gives_its_overall_and_lists_its_services() {
        let o = read_feed(
            &feed("2026-11-24T10:00:00Z", "down"),
            at("2026-11-24T10:00:04Z"),
        );
        assert_eq!(o.status, Status::Down);
        assert_eq!(o.error.as_deref(), Some("web is down"));
        assert_eq!(o.details["hostname"], "edge-2");
        assert_eq!(o.details["services"][1]["name"], "db");
    }

    #[test]
    fn a_stale_feed_is_unknown_whatever_it_claims() {
        let o = read_feed(
            &feed("2026-11-24T10:00:00Z", "up"),
            at("2026-11-24T10:05:00Z"),
        );
        assert_eq!(o.status, Status::Unknown);
        assert!(o.error.unwrap().contains("stale: generated 5m ago"));
    }

    /// A feed's text with `interval` and `generated_at` spliced in as written (any JSON).
    fn raw_feed(generated_at: &str, interval: &str, services: &str) -> Vec<u8> {
        format!(
            r#"{{"schema":1,"generated_at":{generated_at},"interval_seconds":{interval},"overall":"down","services":{services}}}"#
        )
        .into_bytes()
    }

    const NOW: &str = "2026-11-24T10:00:00Z";

    #[test]
    fn extreme_intervals_are_unknown_with_the_reason_and_never_panic() {
        let gen_at = format!("\"{NOW}\"");
        for interval in [
            "1e19",
            "18446744073709551615",
            "1.7976931348623157e308",
            "-5",
            "0",
            "-0.0",
            "604801",
            "5e-324",
        ] {
            let o = read_feed(&raw_feed(&gen_at, interval, "[]"), at(NOW));
            let error = o.error.unwrap_or_default();
            if interval == "5e-324" {
                // Tiny but positive: a valid (absurd) interval, judged as such.
                assert_eq!(o.status, Status::Down, "{interval}: {error}");
                continue;
            }
            assert_eq!(o.status, Status::Unknown, "{interval}");
            assert!(
                error.contains("interval_seconds") && error.contains("out of range"),
                "{interval}: {error}"
            );
            assert!(error.contains(" expected, so whether"), "{error}");
        }
        // Out of f64's range, or not a number at all: not a feed, said briefly.
        for interval in ["1e400", "\"5\"", "null", "[1]", "{}"] {
            let o = read_feed(&raw_feed(&gen_at, interval, "[]"), at(NOW));
            assert_eq!(o.status, Status::Down, "{interval}");
            let error = o.error.unwrap();
            assert!(error.starts_with("not a cortex-status feed"), "{error}");
        }
        let o = read_feed(&raw_feed(&gen_at, "604800", "[]"), at(NOW));
        assert_eq!(o.status, Status::Down, "a week is a valid interval");
    }

    #[test]
    fn a_feed_from_the_future_is_unknown_and_says_the_clock_is_ahead() {
        let o = read_feed(
            &feed("2026-11-24T11:00:00Z", "up"),
            at("2026-11-24T10:00:00Z"),
        );
        assert_eq!(o.status, Status::Unknown);
        let error = o.error.unwrap();
        assert!(
            error.contains("the peer's clock is 1h ahead of ours"),
            "{error}"
        );
        assert!(
            error.ends_with(
                "generated at 2026-11-24T11:00:00Z, so whether it is fresh cannot be told"
            ),
            "{error}"
        );
        // Within the allowed skew it is fresh.
        let o = read_feed(
            &feed("2026-11-24T10:00:59Z", "up"),
            at("2026-11-24T10:00:00Z"),
        );
        assert_eq!((o.status, o.error), (Status::Up, None));
        // The far ends of chrono's range: no overflow.
        for far in ["+262142-12-31T23:59:59Z", "-262143-01-01T00:00:00Z"] {
            let o = read_feed(&feed(far, "up"), at(NOW));
            assert_eq!(o.status, Status::Unknown, "{far}");
        }
    }

    #[test]
    fn a_peer_with_ten_thousand_services_is_bounded() {
        let services: Vec<Value> = (0..10_000)
            .map(|i| json!({"name": format!("service-{i:05}-{}", "n".repeat(500)), "status": "down"}))
            .collect();
        let body = raw_feed(
            &format!("\"{NOW}\""),
            "5",
            &Value::Array(services).to_string(),
        );
        let o = read_feed(&body, at(NOW));
        assert_eq!(o.status, Status::Down);
        let error = o.error.unwrap();
        assert!(error.chars().count() <= MAX_ERROR_CHARS, "{}", error.len());
        assert!(error.starts_with("service-00000-nnn"), "{error}");
        assert!(error.ends_with(" and 9,996 more not up"), "{error}");
        assert_eq!(o.details["services"].as_array().unwrap().len(), MAX_LISTED);
        assert_eq!(o.details["services_total"], 10_000);
        let name = o.details["services"][0]["name"].as_str().unwrap();
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(Value::Object(o.details).to_string().len() < 16 * 1024);
    }

    #[test]
    fn peer_texts_are_clipped_cleaned_and_redacted() {
        let body = json!({
            "generated_at": NOW, "interval_seconds": 5, "overall": "down",
            "host": {"hostname": "h\nERROR forged".repeat(1000)},
            "services": [{"name": "see http://u:pw@x.local/?k=v", "status": "down"}],
        });
        let o = read_feed(body.to_string().as_bytes(), at(NOW));
        let error = o.error.unwrap();
        assert_eq!(error, "see http://x.local/?… is down");
        let host = o.details["hostname"].as_str().unwrap();
        assert!(!host.contains('\n') && host.chars().count() == MAX_NAME_CHARS);
        // A bad value quoted by the parser's message is cut.
        let body = json!({"generated_at": "x".repeat(100_000)});
        let error = read_feed(body.to_string().as_bytes(), at(NOW))
            .error
            .unwrap();
        assert!(error.chars().count() <= MAX_ERROR_CHARS, "{}", error.len());
        // Deep nesting is refused by the parser's depth limit, not by a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let o = read_feed(deep.as_bytes(), at(NOW));
        assert_eq!(o.status, Status::Down);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(9_950), "9,950");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn something_else_is_down_with_the_reason() {
        let o = read_feed(b"<html>hello</html>", Utc::now());
        assert_eq!(o.status, Status::Down);
        assert!(o.error.unwrap().starts_with("not a cortex-status feed"));
        let o = read_feed(br#"{"overall": "up"}"#, Utc::now());
        assert_eq!(o.status, Status::Down);
    }

    mod properties {
        //! Random and extreme feeds through the parser: it never panics, and what it lets
        //! through to our page is bounded whatever the peer sends.
        use super::*;
        use proptest::prelude::*;

        fn text(max: usize) -> impl Strategy<Value = String> {
            proptest::collection::vec(any::<char>(), 0..max)
                .prop_map(|chars| chars.into_iter().collect())
        }

        /// A JSON number, or something where a number should be, as written.
        fn number() -> impl Strategy<Value = String> {
            prop_oneof![
                4 => (0.0f64..1e6).prop_map(|f| f.to_string()),
                1 => any::<f64>().prop_map(|f| format!("{f:e}")),
                1 => any::<f64>().prop_map(|f| f.to_string()),
                1 => any::<i64>().prop_map(|i| i.to_string()),
                1 => any::<u64>().prop_map(|u| u.to_string()),
                1 => (any::<i128>(), -400i32..400).prop_map(|(m, e)| format!("{m}e{e}")),
                1 => prop::sample::select(vec![
                    "1e19", "-1e19", "1e400", "-1e400", "0", "-0", "5e-324", "NaN", "Infinity",
                    "null", "\"5\"", "[]", "{}", "true", "604800", "604800.0000001",
                ])
                .prop_map(str::to_string),
            ]
        }

        /// A time as written: valid ones across chrono's range, or any string, or not a string.
        fn time() -> impl Strategy<Value = String> {
            prop_oneof![
                2 => (-8_000_000_000_000i64..8_000_000_000_000).prop_map(|s| {
                    DateTime::from_timestamp(s, 0)
                        .map(|t| format!("\"{}\"", t.to_rfc3339()))
                        .unwrap_or_else(|| "null".into())
                }),
                6 => (-4_000_000_000i64..4_000_000_000).prop_map(|s| {
                    let t = at(NOW) + chrono::TimeDelta::seconds(s);
                    format!("\"{}\"", t.to_rfc3339())
                }),
                1 => text(40).prop_map(|s| Value::String(s).to_string()),
                1 => number(),
            ]
        }

        fn status() -> impl Strategy<Value = String> {
            prop_oneof![
                30 => prop::sample::select(vec!["up", "down", "degraded", "unknown", "maintenance"])
                    .prop_map(|s| format!("\"{s}\"")),
                1 => text(20).prop_map(|s| Value::String(s).to_string()),
                1 => number(),
            ]
        }

        fn service() -> impl Strategy<Value = String> {
            (text(600), status()).prop_map(|(name, status)| {
                format!(r#"{{"name":{},"status":{status}}}"#, Value::String(name))
            })
        }

        fn any_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|i| json!(i)),
                any::<f64>().prop_map(|f| json!(f)),
                text(200).prop_map(Value::String),
            ];
            leaf.prop_recursive(6, 200, 10, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..10).prop_map(Value::Array),
                    proptest::collection::vec((text(30), inner), 0..10)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        fn assert_bounded(o: &Outcome) {
            if let Some(e) = &o.error {
                assert!(
                    e.chars().count() <= MAX_ERROR_CHARS,
                    "{} chars",
                    e.chars().count()
                );
            }
            let services = o.details.get("services").and_then(Value::as_array);
            assert!(services.is_none_or(|s| s.len() <= MAX_LISTED));
            for s in services.into_iter().flatten() {
                assert!(s["name"].as_str().unwrap().chars().count() <= MAX_NAME_CHARS);
            }
            let size = Value::Object(o.details.clone()).to_string().len();
            assert!(size <= 64 * 1024, "details of {size} bytes");
        }

        proptest! {
            #[test]
            fn any_feed_is_judged_without_panic_and_bounded(
                generated_at in time(),
                interval in number(),
                overall in status(),
                services in proptest::collection::vec(service(), 0..80),
                hostname in text(400),
            ) {
                let body = format!(
                    r#"{{"schema":1,"generated_at":{generated_at},"interval_seconds":{interval},"overall":{overall},"host":{{"hostname":{}}},"services":[{}]}}"#,
                    Value::String(hostname),
                    services.join(",")
                );
                let o = read_feed(body.as_bytes(), at(NOW));
                assert_bounded(&o);
                // A time ahead of ours by more than the skew is never fresh.
                if let Ok(t) = serde_json::from_str::<DateTime<Utc>>(&generated_at)
                    && t > at(NOW) + AHEAD_SKEW
                {
                    // Unknown, or down when the rest of the feed did not parse.
                    prop_assert!(matches!(o.status, Status::Unknown | Status::Down), "{:?}", o.status);
                }
            }

            #[test]
            fn any_json_is_judged_without_panic_and_bounded(value in any_json()) {
                assert_bounded(&read_feed(value.to_string().as_bytes(), at(NOW)));
            }

            #[test]
            fn any_bytes_are_judged_without_panic_and_bounded(
                bytes in proptest::collection::vec(any::<u8>(), 0..2000)
            ) {
                assert_bounded(&read_feed(&bytes, at(NOW)));
            }
        }
    }
}
