//! The `feed` probe: another cortex-status instance's `status.json` (federation).
//!
//! Its `overall` becomes this service's status and its services are listed in `details`, so a
//! hub's page shows every host. A feed that has stopped being regenerated is `unknown`, not the
//! `up` it last claimed: a dead generator must never look like a healthy host.

use super::client::{Client, Conn, Request};
use super::http::BODY_CAP;
use super::{Outcome, degrade_if_slow};
use crate::snapshot::{Status, format_time};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;
use url::Url;

/// Grace for clock skew between hosts and for the last publish's propagation.
const SKEW: Duration = Duration::from_secs(5);

/// The parts of a peer's feed we read. Unknown fields are ignored: a newer peer adds fields.
#[derive(Deserialize)]
struct PeerFeed {
    generated_at: DateTime<Utc>,
    interval_seconds: f64,
    overall: Status,
    #[serde(default)]
    host: Option<PeerHost>,
    #[serde(default)]
    services: Vec<PeerService>,
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
            format!("HTTP {} {}", response.status, response.reason)
                .trim_end()
                .to_string(),
        );
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
        Err(e) => return Outcome::down(format!("not a cortex-status feed: {e}")),
    };
    let interval = Duration::try_from_secs_f64(feed.interval_seconds).unwrap_or(Duration::ZERO);
    let age = (now - feed.generated_at).to_std().unwrap_or(Duration::ZERO);
    let (status, error) = if age > interval * 3 + SKEW {
        let age_s = Duration::from_secs(age.as_secs());
        (
            Status::Unknown,
            Some(format!(
                "feed is stale: generated {} ago (it refreshes every {})",
                humantime::format_duration(age_s),
                humantime::format_duration(interval)
            )),
        )
    } else {
        let error = (feed.overall != Status::Up).then(|| {
            let troubled: Vec<String> = feed
                .services
                .iter()
                .filter(|s| s.status != Status::Up)
                .map(|s| format!("{} is {}", s.name, s.status))
                .collect();
            if troubled.is_empty() {
                format!("peer reports {}", feed.overall)
            } else {
                troubled.join(", ")
            }
        });
        (feed.overall, error)
    };
    let mut outcome = Outcome::new(status, None, error);
    outcome.checked_at = now;
    if let Some(host) = feed.host {
        outcome
            .details
            .insert("hostname".into(), Value::String(host.hostname));
    }
    outcome.details.insert(
        "generated_at".into(),
        Value::String(format_time(&feed.generated_at)),
    );
    let services: Vec<Value> = feed
        .services
        .iter()
        .map(|s| json!({"name": s.name, "status": s.status}))
        .collect();
    outcome
        .details
        .insert("services".into(), Value::Array(services));
    outcome
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

    #[test]
    fn something_else_is_down_with_the_reason() {
        let o = read_feed(b"<html>hello</html>", Utc::now());
        assert_eq!(o.status, Status::Down);
        assert!(o.error.unwrap().starts_with("not a cortex-status feed"));
        let o = read_feed(br#"{"overall": "up"}"#, Utc::now());
        assert_eq!(o.status, Status::Down);
    }
}
