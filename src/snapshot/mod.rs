//! The snapshot: one cycle's view of the host and its services.
//!
//! This type *is* the public contract. Serialised it is `status.json` (schema 1, see DESIGN.md),
//! given to tera it is the page's context, and later outputs print it. Nothing here is computed
//! in two places: if a figure is on the page, it is a field of these structs.
//!
//! Fields may be added; none of the schema-1 fields may be renamed or removed without raising
//! [`SCHEMA`].

mod example;
pub(crate) mod series;
mod written;

pub use example::example;
pub use series::Series;
pub use written::{IncidentUpdate, Severity, UpdateKind, WrittenIncident};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::time::Duration;

/// The version of the JSON contract. Raise it only when a field is renamed or removed.
pub const SCHEMA: u32 = 1;

/// The slug of the host entry that `[host] warn` / `critical` add at the top of `services`.
pub const HOST_SLUG: &str = "host";

/// How healthy a service is. The order is by severity: `overall` is the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Up,
    Maintenance,
    Unknown,
    Degraded,
    Down,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Maintenance => "maintenance",
            Status::Unknown => "unknown",
            Status::Degraded => "degraded",
            Status::Down => "down",
        }
    }

    /// Reads a status from another instance's feed. A word this version does not know (a newer
    /// peer) is `Unknown` rather than an error, so federation survives version skew.
    pub fn from_feed_word(word: &str) -> Status {
        match word {
            "up" => Status::Up,
            "maintenance" => Status::Maintenance,
            "degraded" => Status::Degraded,
            "down" => Status::Down,
            _ => Status::Unknown,
        }
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = String::deserialize(d)?;
        Ok(Status::from_feed_word(&word))
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of check a service is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Http,
    Tcp,
    Systemd,
    Feed,
    Tls,
    Dns,
    Ping,
    Heartbeat,
    /// The host entry `[host] warn` / `critical` add (slug `host`).
    Host,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema: u32,
    #[serde(with = "rfc3339")]
    pub generated_at: DateTime<Utc>,
    #[serde(serialize_with = "seconds", deserialize_with = "from_seconds")]
    pub interval_seconds: Duration,
    pub overall: Status,
    pub host: Host,
    pub services: Vec<Service>,
    /// Recent status changes, newest first, from the history in `state_dir` (so they survive a
    /// restart).
    pub incidents: Vec<Incident>,
    /// `[[maintenance]]` windows that are running or still to come, soonest first; past ones are
    /// left out.
    #[serde(default)]
    pub maintenance: Vec<MaintenanceWindow>,
    /// Incidents written by people (`incidents_dir`) that are not resolved, newest first.
    #[serde(default)]
    pub incidents_open: Vec<WrittenIncident>,
    /// Written incidents resolved in the last two weeks, newest resolution first (at most ten;
    /// `history.html` lists them all).
    #[serde(default)]
    pub incidents_recent: Vec<WrittenIncident>,
    /// What went wrong in this cycle that is not a service's status: a template that failed to
    /// render, a disk that could not be read, a file that could not be written.
    pub errors: Vec<String>,
}

impl Snapshot {
    /// The services' slugs, to ask "is this one still configured?" of each of thousands of files
    /// without a scan of the services for each (which made a publish quadratic in them).
    pub fn slugs(&self) -> std::collections::HashSet<&str> {
        self.services.iter().map(|s| s.slug.as_str()).collect()
    }

    /// `overall` with the open written incidents counted: at least the worst one's severity (a
    /// person can declare an outage the probes cannot see).
    pub fn overall_with_incidents(&self) -> Status {
        let written = self
            .incidents_open
            .iter()
            .filter_map(|i| i.severity.status());
        Snapshot::overall_of(&self.services).max(written.max().unwrap_or(Status::Up))
    }

    /// The worst status among services; a host with no services is `up` (it is generating).
    pub fn overall_of(services: &[Service]) -> Status {
        services
            .iter()
            .map(|s| s.status)
            .max()
            .unwrap_or(Status::Up)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Host {
    pub hostname: String,
    pub uptime_seconds: u64,
    pub cpu_count: usize,
    /// `None` when `[host] public` leaves load out: the feed says `null`, the page hides the card.
    pub load: Option<Load>,
    /// Load average over one minute divided by the CPU count: 1.0 means every core is busy.
    pub cpu_load_normalized: Option<f64>,
    pub memory: Option<Memory>,
    pub disks: Option<Vec<Disk>>,
    /// Mount points listed in `[host] disks` that are not mounted on this host: the page shows
    /// each in the disks card. Each is also in `errors` (so `cortex_status_errors` counts it).
    /// Always present (empty when none), so templates can test it.
    #[serde(default)]
    pub disks_missing: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Load {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Memory {
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub used_ratio: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Disk {
    pub mount: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub used_ratio: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub slug: String,
    pub kind: Kind,
    /// The `group` it is listed under on the page; `null` for none.
    #[serde(default)]
    pub group: Option<String>,
    pub status: Status,
    /// Time to the answer (HTTP headers, TCP connect, the feed's headers), in ms to 0.1.
    pub latency_ms: Option<f64>,
    /// When the result shown was taken; `None` until the first check of this service finishes.
    #[serde(with = "rfc3339_opt")]
    pub checked_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub uptime: Uptime,
    /// When this host first checked the service, from the history; `null` before its first
    /// check. The windows in `uptime` that began before this hold no data for their start.
    #[serde(with = "rfc3339_opt", default)]
    pub observed_since: Option<DateTime<Utc>>,
    /// How much of each `uptime` window was watched (see [`Coverage`]).
    #[serde(default)]
    pub uptime_coverage: Coverage,
    /// Extra facts the check found: an HTTP service's JSON scalars, a feed's services.
    /// Shared, like [`Series`]: the same facts a cycle ago are the same allocation
    /// (`daemon::cycle` hands out the last one while they are equal).
    pub details: Details,
    /// The last [`DAYS`] UTC days, oldest first, today last: the share of that day's checks
    /// that were available (see [`Uptime`]), `null` for a day with no counted check (no
    /// history yet, or maintenance all day). The page draws it as the bar strip.
    #[serde(default)]
    pub days: Series,
    /// Average latency in ms for each [`LATENCY_SLOTS`]th of the last 24 hours, oldest first,
    /// `null` where no check answered. The page draws it as the sparkline.
    #[serde(default)]
    pub latency_24h: Series,
}

impl Service {
    /// A service as this cycle saw it, before the history adds its past (uptime, coverage,
    /// strip, sparkline): one constructor, so a new field is added in one place.
    pub fn new(
        name: impl Into<String>,
        slug: impl Into<String>,
        kind: Kind,
        group: Option<String>,
        status: Status,
    ) -> Service {
        Service {
            name: name.into(),
            slug: slug.into(),
            kind,
            group,
            status,
            latency_ms: None,
            checked_at: None,
            error: None,
            uptime: Uptime::default(),
            observed_since: None,
            uptime_coverage: Coverage::default(),
            details: Default::default(),
            days: Series::default(),
            latency_24h: Series::default(),
        }
    }
}

/// How many days the bar strip (`Service::days`) covers.
pub const DAYS: usize = 90;

/// A service's `details`: what its check found, shared between the snapshots alive at once
/// while it is the same. Serialised as the plain object.
pub type Details = std::sync::Arc<Map<String, Value>>;

/// How many points the 24-hour sparkline (`Service::latency_24h`) has: one per 15 minutes.
pub const LATENCY_SLOTS: usize = 96;

/// Availability per window: the share of checks that found the service `up` or `degraded`
/// (it answered) among those that found it `up`, `degraded` or `down`. Checks in maintenance and
/// `unknown` ones (we could not tell) are not counted either way. `null` where no counted check
/// falls in the window. 24h comes from the fine history, the longer windows from the daily
/// roll-ups (today counts as one of the days).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Uptime {
    #[serde(rename = "24h")]
    pub day: Option<f64>,
    #[serde(rename = "7d")]
    pub week: Option<f64>,
    #[serde(rename = "30d")]
    pub month: Option<f64>,
    #[serde(rename = "90d", default)]
    pub quarter: Option<f64>,
    #[serde(rename = "365d", default)]
    pub year: Option<f64>,
}

/// The share (0..1, rounded down to 6 decimals) of each [`Uptime`] window that lies after the
/// service's first check (`observed_since`): 1 for a window watched from its start, less for a
/// window that opened before this host watched the service, 0 before the first check. A ratio
/// in `uptime` whose coverage is below 1 speaks only for the part since `observed_since`.
/// Same keys as `uptime`; numbers, never `null`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Coverage {
    #[serde(rename = "24h")]
    pub day: f64,
    #[serde(rename = "7d")]
    pub week: f64,
    #[serde(rename = "30d")]
    pub month: f64,
    #[serde(rename = "90d")]
    pub quarter: f64,
    #[serde(rename = "365d")]
    pub year: f64,
}

/// A change of a service's status, and how long the new status lasted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// The service's slug.
    pub service: String,
    /// The service's name as configured now, for people; `null` once it is no longer configured.
    /// Not kept in the history file: a rename shows at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub from: Status,
    pub to: Status,
    /// When the change was seen: the start of the period in `to`.
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub error: Option<String>,
    /// When the service next changed status; `null` while this status lasts.
    #[serde(with = "rfc3339_opt", default)]
    pub end: Option<DateTime<Utc>>,
    /// From `at` to `end`, or to `generated_at` while it lasts.
    #[serde(default)]
    pub duration_seconds: u64,
}

/// A `[[maintenance]]` window as the feed shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    /// Slugs of the services it covers.
    pub services: Vec<String>,
    #[serde(with = "rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub end: DateTime<Utc>,
    pub message: Option<String>,
    /// True once `start` has passed: the services show `maintenance` and it is not downtime.
    pub active: bool,
}

/// Milliseconds to one decimal, as the feed shows them.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// A time as the feed writes it: `2026-11-24T10:00:00Z`, whole seconds, always UTC.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Whole seconds print as an integer (`5`), as the schema shows; sub-second intervals as `0.25`.
fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    if d.subsec_nanos() == 0 {
        s.serialize_u64(d.as_secs())
    } else {
        s.serialize_f64(d.as_secs_f64())
    }
}

fn from_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
}

mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_time(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

mod rfc3339_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format_time(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|text| {
            DateTime::parse_from_rfc3339(&text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

/// A service's stable identifier in URLs, badges and the feed: lowercase letters and digits,
/// runs of anything else as one `-`. "Symbiont API" → "symbiont-api".
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

/// What `errors` says about a configured disk that is not mounted. The page shows the disk in
/// its card instead and leaves this line out of its problems (see `output::site::context`).
pub fn missing_disk_error(mount: &str) -> String {
    format!("disk {mount}: not mounted, or not readable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overall_is_the_worst_status() {
        let svc = |status| Service {
            name: "a".into(),
            slug: "a".into(),
            kind: Kind::Http,
            group: None,
            status,
            latency_ms: None,
            checked_at: None,
            error: None,
            uptime: Uptime::default(),
            observed_since: None,
            uptime_coverage: Coverage::default(),
            details: Default::default(),
            days: Default::default(),
            latency_24h: Default::default(),
        };
        assert_eq!(Snapshot::overall_of(&[]), Status::Up);
        assert_eq!(
            Snapshot::overall_of(&[svc(Status::Up), svc(Status::Maintenance)]),
            Status::Maintenance
        );
        assert_eq!(
            Snapshot::overall_of(&[svc(Status::Up), svc(Status::Down), svc(Status::Degraded)]),
            Status::Down
        );
        assert_eq!(
            Snapshot::overall_of(&[svc(Status::Unknown), svc(Status::Degraded)]),
            Status::Degraded
        );
    }

    #[test]
    fn a_status_word_from_a_newer_peer_is_unknown() {
        let s: Status = serde_json::from_str("\"on-fire\"").unwrap();
        assert_eq!(s, Status::Unknown);
        let s: Status = serde_json::from_str("\"degraded\"").unwrap();
        assert_eq!(s, Status::Degraded);
    }

    #[test]
    fn intervals_print_as_the_schema_shows() {
        let mut out = Vec::new();
        seconds(
            &Duration::from_secs(5),
            &mut serde_json::Serializer::new(&mut out),
        )
        .unwrap();
        assert_eq!(out, b"5");
        out.clear();
        seconds(
            &Duration::from_millis(250),
            &mut serde_json::Serializer::new(&mut out),
        )
        .unwrap();
        assert_eq!(out, b"0.25");
    }

    #[test]
    fn latency_is_rounded_to_a_tenth_of_a_millisecond() {
        assert_eq!(millis(Duration::from_micros(3_249)), 3.2);
        assert_eq!(millis(Duration::from_micros(3_250)), 3.3);
    }
}
