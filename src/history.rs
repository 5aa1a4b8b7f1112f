//! The history of every service, kept in one file in `state_dir` with no database: daily
//! roll-ups for 400 days, the last 24 hours in 5-minute buckets, and the incident log.
//!
//! Everything the page and the feed say about the past (uptime windows, the 90-day strip, the
//! 24-hour sparkline, recent incidents) is computed from here, once per cycle, into the snapshot.
//!
//! **Bounded by design.** Per service at most [`KEEP_DAYS`] day records and [`FINE_BUCKETS`]
//! buckets; at most [`KEEP_INCIDENTS`] incidents in all, each error cut to [`ERROR_CHARS`]
//! characters; services no longer in the config are dropped (with a log line). The file's size
//! depends on the number of services, never on how long it runs or how often a service flaps:
//! see [`max_file_bytes`] and the test that simulates a year.
//!
//! **Durable, and never a crash.** The file is written like the published ones (temporary file in
//! the same directory, then rename) but fsynced, because unlike them it is not rewritten from
//! scratch by the next cycle. It is saved when a status changes, at most [`SAVE_EVERY`] apart
//! otherwise, and at shutdown: a crash loses at most that much. A file that cannot be read or
//! parsed is moved aside (`history.json.corrupt-<time>`), logged, reported in `errors` for a
//! day, and a fresh history starts.

use crate::snapshot::{Coverage, DAYS, Incident, LATENCY_SLOTS, Service, Status, Uptime};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The file's name in `state_dir`.
pub const FILE: &str = "history.json";
/// The format of [`FILE`]; a file with another version is moved aside like a corrupt one.
const VERSION: u32 = 1;
/// Daily roll-ups kept per service: enough for a 365-day window and a year-on-year look.
pub const KEEP_DAYS: usize = 400;
/// Width of a fine bucket.
pub const BUCKET_SECONDS: i64 = 300;
/// Fine buckets kept per service: 24 hours of them.
pub const FINE_BUCKETS: usize = (86_400 / BUCKET_SECONDS) as usize;
/// Incidents kept (all services together).
pub const KEEP_INCIDENTS: usize = 1_000;
/// An incident's error is cut to this many characters: it is a reason, not a log.
pub const ERROR_CHARS: usize = 300;
/// How long unsaved history may wait (a crash loses at most this much).
pub const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// How many incidents the snapshot carries.
pub const RECENT_INCIDENTS: usize = 50;
/// How long a problem with the history file itself stays in `errors`.
const NOTICE_FOR: Duration = Duration::hours(24);

/// What a set of checks found. Zero counts are left out of the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    #[serde(skip_serializing_if = "is_zero")]
    pub up: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub degraded: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub down: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub maintenance: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub unknown: u32,
    /// Checks that measured a latency, and its min, sum and max in ms (avg = sum / n).
    #[serde(skip_serializing_if = "is_zero")]
    pub lat_n: u32,
    #[serde(skip_serializing_if = "is_zero_f")]
    pub lat_min: f64,
    #[serde(skip_serializing_if = "is_zero_f")]
    pub lat_sum: f64,
    #[serde(skip_serializing_if = "is_zero_f")]
    pub lat_max: f64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_f(n: &f64) -> bool {
    *n == 0.0
}

impl Counts {
    fn add(&mut self, status: Status, latency_ms: Option<f64>) {
        let n = match status {
            Status::Up => &mut self.up,
            Status::Degraded => &mut self.degraded,
            Status::Down => &mut self.down,
            Status::Maintenance => &mut self.maintenance,
            Status::Unknown => &mut self.unknown,
        };
        *n = n.saturating_add(1);
        if let Some(ms) = latency_ms.filter(|ms| ms.is_finite() && *ms >= 0.0) {
            self.lat_min = if self.lat_n == 0 {
                ms
            } else {
                self.lat_min.min(ms)
            };
            self.lat_max = self.lat_max.max(ms);
            self.lat_sum += ms;
            self.lat_n = self.lat_n.saturating_add(1);
        }
    }

    fn merge(&mut self, other: &Counts) {
        self.up = self.up.saturating_add(other.up);
        self.degraded = self.degraded.saturating_add(other.degraded);
        self.down = self.down.saturating_add(other.down);
        self.maintenance = self.maintenance.saturating_add(other.maintenance);
        self.unknown = self.unknown.saturating_add(other.unknown);
        if other.lat_n > 0 {
            self.lat_min = if self.lat_n == 0 {
                other.lat_min
            } else {
                self.lat_min.min(other.lat_min)
            };
            self.lat_max = self.lat_max.max(other.lat_max);
            self.lat_sum += other.lat_sum;
            self.lat_n = self.lat_n.saturating_add(other.lat_n);
        }
    }

    /// Every check, whatever it found.
    pub fn checks(&self) -> u64 {
        [
            self.up,
            self.degraded,
            self.down,
            self.maintenance,
            self.unknown,
        ]
        .iter()
        .map(|&n| u64::from(n))
        .sum()
    }

    /// Availability as [`Uptime`] defines it: up or degraded among up, degraded and down.
    pub fn availability(&self) -> Option<f64> {
        let available = u64::from(self.up) + u64::from(self.degraded);
        let counted = available + u64::from(self.down);
        (counted > 0).then(|| available as f64 / counted as f64)
    }

    pub fn latency_avg(&self) -> Option<f64> {
        (self.lat_n > 0).then(|| self.lat_sum / f64::from(self.lat_n))
    }
}

/// One UTC day of one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Day {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Five minutes of one service; `start` in seconds since the epoch, a multiple of
/// [`BUCKET_SECONDS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub start: i64,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceHistory {
    /// The status of the last check recorded, to see a change across a restart.
    pub last_status: Option<Status>,
    /// When the last recorded check was taken: a probe result is counted once, however many
    /// cycles show it (a slow probe keeps its slot across cycles).
    #[serde(default, with = "time_opt")]
    pub last_checked: Option<DateTime<Utc>>,
    /// When the first check was recorded. Windows and quarter hours before it were not
    /// watched, and the page and feed say so rather than count them as up or down. Absent from
    /// files written before it existed: [`ServiceHistory::since`] infers it then.
    #[serde(default, with = "time_opt", skip_serializing_if = "Option::is_none")]
    pub first_checked: Option<DateTime<Utc>>,
    /// Oldest first, one per day that had a check.
    pub days: VecDeque<Day>,
    /// Oldest first, within the last 24 hours.
    pub fine: VecDeque<Bucket>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Stored {
    version: u32,
    services: BTreeMap<String, ServiceHistory>,
    /// Newest first.
    incidents: VecDeque<Incident>,
}

pub struct History {
    path: PathBuf,
    services: BTreeMap<String, ServiceHistory>,
    incidents: VecDeque<Incident>,
    dirty: bool,
    /// Set when something was recorded that must not wait for [`SAVE_EVERY`].
    urgent: bool,
    last_save: Option<std::time::Instant>,
    /// A problem with the file itself, shown in `errors` until it expires (or is solved).
    notice: Option<(String, DateTime<Utc>)>,
    /// A save that failed: shown in `errors` until a save succeeds.
    save_error: Option<String>,
}

impl History {
    /// Reads `state_dir/history.json`. A missing file is a fresh start; an unreadable or corrupt
    /// one is moved aside (when possible) and reported, and a fresh history starts.
    pub fn load(state_dir: &Path, now: DateTime<Utc>) -> History {
        let path = state_dir.join(FILE);
        let mut history = History {
            path,
            services: BTreeMap::new(),
            incidents: VecDeque::new(),
            dirty: false,
            urgent: false,
            last_save: None,
            notice: None,
            save_error: None,
        };
        let problem = match std::fs::read(&history.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return history,
            Err(e) => format!("cannot read it: {e}"),
            Ok(bytes) => match serde_json::from_slice::<Stored>(&bytes) {
                Ok(stored) if stored.version == VERSION => {
                    history.services = stored.services;
                    history.incidents = stored.incidents;
                    tracing::info!(
                        "history: {} services, {} incidents from {}",
                        history.services.len(),
                        history.incidents.len(),
                        history.path.display()
                    );
                    return history;
                }
                Ok(stored) => format!(
                    "it is format version {}, this build reads version {VERSION}",
                    stored.version
                ),
                Err(e) => format!("it is not a valid history file: {e}"),
            },
        };
        let aside = history
            .path
            .with_file_name(format!("{FILE}.corrupt-{}", now.format("%Y%m%dT%H%M%SZ")));
        let what = match std::fs::rename(&history.path, &aside) {
            Ok(()) => format!("moved aside to {}", aside.display()),
            Err(e) => format!("could not be moved aside ({e})"),
        };
        let message = format!(
            "history: {} {problem}; it was {what} and a fresh history started",
            history.path.display()
        );
        tracing::error!("{message}");
        history.notice = Some((message, now));
        history.dirty = true;
        history.urgent = true;
        history
    }

    /// Forgets services that are no longer configured, so the file stays bounded by the config.
    pub fn retain(&mut self, configured: &[crate::config::ServiceConfig]) {
        let slugs: HashSet<&str> = configured.iter().map(|s| s.slug.as_str()).collect();
        let gone: Vec<String> = self
            .services
            .keys()
            .filter(|k| !slugs.contains(k.as_str()))
            .cloned()
            .collect();
        for slug in gone {
            tracing::warn!("history: {slug} is no longer configured; its history is dropped");
            self.services.remove(&slug);
            self.dirty = true;
        }
    }

    /// Counts each service's new check, logs changes of status as incidents, and fills in the
    /// services' history fields (uptime, days, latency) and the snapshot's incidents.
    pub fn observe(&mut self, services: &mut [Service], now: DateTime<Utc>) -> Vec<Incident> {
        for s in services.iter_mut() {
            if let Some(at) = s.checked_at {
                self.record(s, at);
            }
            if let Some(h) = self.services.get(&s.slug) {
                s.observed_since = h.since();
                (s.uptime, s.uptime_coverage) = h.uptime(now);
                s.days = h.day_strip(now.date_naive());
                s.latency_24h = h.latency_slots(now);
            }
        }
        self.recent(services, now)
    }

    fn record(&mut self, s: &Service, at: DateTime<Utc>) {
        // `entry` would allocate the slug every check; look it up first.
        if !self.services.contains_key(&s.slug) {
            self.services
                .insert(s.slug.clone(), ServiceHistory::default());
        }
        let Some(h) = self.services.get_mut(&s.slug) else {
            return;
        };
        if h.last_checked.is_some_and(|last| at <= last) {
            return;
        }
        h.last_checked = Some(at);
        if h.first_checked.is_none() {
            h.first_checked = Some(h.since().unwrap_or(at));
        }
        self.dirty = true;
        let day = at.date_naive();
        match h.days.back_mut() {
            Some(d) if d.date == day => d.counts.add(s.status, s.latency_ms),
            _ => {
                let mut counts = Counts::default();
                counts.add(s.status, s.latency_ms);
                h.days.push_back(Day { date: day, counts });
            }
        }
        while h.days.len() > KEEP_DAYS {
            h.days.pop_front();
        }
        let start = at.timestamp().div_euclid(BUCKET_SECONDS) * BUCKET_SECONDS;
        match h.fine.back_mut() {
            Some(b) if b.start == start => b.counts.add(s.status, s.latency_ms),
            _ => {
                let mut counts = Counts::default();
                counts.add(s.status, s.latency_ms);
                h.fine.push_back(Bucket { start, counts });
            }
        }
        let oldest = start - (FINE_BUCKETS as i64 - 1) * BUCKET_SECONDS;
        while h.fine.front().is_some_and(|b| b.start < oldest) || h.fine.len() > FINE_BUCKETS {
            h.fine.pop_front();
        }
        let from = match h.last_status.replace(s.status) {
            Some(from) => (from != s.status).then_some(from),
            // Failing at its very first check is news too: without an incident, a feed
            // subscriber would never hear of a service that was down from the start.
            None => matches!(s.status, Status::Down | Status::Degraded).then_some(Status::Unknown),
        };
        if let Some(from) = from {
            tracing::info!(
                "{}: {from} → {}{}",
                s.slug,
                s.status,
                s.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
            if let Some(open) = self
                .incidents
                .iter_mut()
                .find(|i| i.service == s.slug && i.end.is_none())
            {
                open.end = Some(at);
                open.duration_seconds = seconds_between(open.at, at);
            }
            self.incidents.push_front(Incident {
                service: s.slug.clone(),
                name: None,
                from,
                to: s.status,
                at,
                error: s.error.as_deref().map(cut),
                end: None,
                duration_seconds: 0,
            });
            self.incidents.truncate(KEEP_INCIDENTS);
            self.urgent = true;
        }
    }

    /// The newest incidents, named as `services` name them now, with the duration of the open
    /// ones brought up to `now`.
    fn recent(&self, services: &[Service], now: DateTime<Utc>) -> Vec<Incident> {
        self.incidents
            .iter()
            .take(RECENT_INCIDENTS)
            .map(|i| {
                let mut i = i.clone();
                i.name = services
                    .iter()
                    .find(|s| s.slug == i.service)
                    .map(|s| s.name.clone());
                if i.end.is_none() {
                    i.duration_seconds = seconds_between(i.at, now);
                }
                i
            })
            .collect()
    }

    /// Problems with the history file that belong in this cycle's `errors`.
    pub fn errors(&mut self, now: DateTime<Utc>) -> Vec<String> {
        if self
            .notice
            .as_ref()
            .is_some_and(|(_, since)| now - *since > NOTICE_FOR)
        {
            self.notice = None;
        }
        self.notice
            .iter()
            .map(|(m, _)| m.clone())
            .chain(self.save_error.clone())
            .collect()
    }

    /// Whether anything is recorded that is not in the file yet.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Whether [`History::save`] has something worth writing now.
    pub fn save_due(&self) -> bool {
        self.dirty
            && (self.urgent
                || self.save_error.is_some()
                || self.last_save.is_none_or(|t| t.elapsed() >= SAVE_EVERY))
    }

    /// Writes the file durably and atomically. A failure is kept for `errors` and retried at
    /// the next [`History::save_due`]; the history in memory is kept either way.
    pub fn save(&mut self) -> Result<(), String> {
        let result = self.write().map_err(|e| {
            format!(
                "history: cannot save {}: {e:#}; the history is kept in memory and saving is retried",
                self.path.display()
            )
        });
        self.last_save = Some(std::time::Instant::now());
        match &result {
            Ok(()) => {
                self.dirty = false;
                self.urgent = false;
                self.save_error = None;
            }
            Err(message) => {
                if self.save_error.as_ref() != Some(message) {
                    tracing::error!("{message}");
                }
                self.save_error = Some(message.clone());
            }
        }
        result
    }

    fn write(&self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        #[derive(Serialize)]
        struct Borrowed<'a> {
            version: u32,
            services: &'a BTreeMap<String, ServiceHistory>,
            incidents: &'a VecDeque<Incident>,
        }
        let bytes = serde_json::to_vec(&Borrowed {
            version: VERSION,
            services: &self.services,
            incidents: &self.incidents,
        })?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".history-")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        tmp.write_all(&bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        // The rename itself is durable only once the directory is.
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }

    #[cfg(test)]
    fn service(&self, slug: &str) -> Option<&ServiceHistory> {
        self.services.get(slug)
    }
}

impl ServiceHistory {
    /// When this service was first checked: the recorded time, or for a file written before it
    /// was recorded, the start of the oldest data kept (the oldest five minutes if they fall on
    /// the oldest day, else that day's midnight).
    pub fn since(&self) -> Option<DateTime<Utc>> {
        if self.first_checked.is_some() {
            return self.first_checked;
        }
        let fine = self
            .fine
            .front()
            .and_then(|b| DateTime::from_timestamp(b.start, 0));
        match (self.days.front(), fine) {
            (Some(d), Some(f)) if f.date_naive() == d.date => Some(f),
            (Some(d), _) => Some(d.date.and_time(chrono::NaiveTime::MIN).and_utc()),
            (None, f) => f,
        }
    }

    /// Each window's availability, and how much of it was watched.
    fn uptime(&self, now: DateTime<Utc>) -> (Uptime, Coverage) {
        let since = now.timestamp() - 86_400;
        let mut fine = Counts::default();
        for b in self
            .fine
            .iter()
            .filter(|b| b.start + BUCKET_SECONDS > since)
        {
            fine.merge(&b.counts);
        }
        let today = now.date_naive();
        let window = |days: i64| {
            let first = today - Duration::days(days - 1);
            let mut c = Counts::default();
            for d in self.days.iter().rev().take_while(|d| d.date >= first) {
                c.merge(&d.counts);
            }
            c.availability().map(ratio)
        };
        let uptime = Uptime {
            day: fine.availability().map(ratio),
            week: window(7),
            month: window(30),
            quarter: window(90),
            year: window(365),
        };
        let since = self.since();
        // The share of [start, now] after `since`, to six decimals like the ratios, rounded down so that only a window watched
        // from its start reads 1.
        let covered = |start: DateTime<Utc>| match since {
            None => 0.0,
            Some(since) if since <= start => 1.0,
            Some(since) => {
                let span = (now - start).num_milliseconds().max(1) as f64;
                let seen = (now - since).num_milliseconds().max(0) as f64;
                ((seen / span).min(1.0) * 1e6).floor() / 1e6
            }
        };
        let day_window = |days: i64| {
            covered(
                (today - Duration::days(days - 1))
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc(),
            )
        };
        let coverage = Coverage {
            day: covered(now - Duration::hours(24)),
            week: day_window(7),
            month: day_window(30),
            quarter: day_window(90),
            year: day_window(365),
        };
        (uptime, coverage)
    }

    /// The last [`DAYS`] days' availability, oldest first, today last.
    fn day_strip(&self, today: NaiveDate) -> Vec<Option<f64>> {
        let mut strip = vec![None; DAYS];
        let first = today - Duration::days(DAYS as i64 - 1);
        for d in self.days.iter().rev().take_while(|d| d.date >= first) {
            if let Ok(i) = usize::try_from((d.date - first).num_days())
                && i < DAYS
            {
                strip[i] = d
                    .counts
                    .availability()
                    .map(|r| (r * 10_000.0).round() / 10_000.0);
            }
        }
        strip
    }

    /// Average latency per [`LATENCY_SLOTS`]th of the last 24 hours, oldest first.
    fn latency_slots(&self, now: DateTime<Utc>) -> Vec<Option<f64>> {
        let slot = 86_400 / LATENCY_SLOTS as i64;
        let last = now.timestamp().div_euclid(slot);
        let first = last - (LATENCY_SLOTS as i64 - 1);
        let mut slots = vec![Counts::default(); LATENCY_SLOTS];
        for b in &self.fine {
            let i = b.start.div_euclid(slot) - first;
            if let Ok(i) = usize::try_from(i)
                && i < LATENCY_SLOTS
            {
                slots[i].merge(&b.counts);
            }
        }
        slots
            .iter()
            .map(|c| c.latency_avg().map(|ms| (ms * 10.0).round() / 10.0))
            .collect()
    }
}

/// Ratios in the feed: six decimals tell 99.9999% from 100% and keep the JSON short.
fn ratio(r: f64) -> f64 {
    (r * 1e6).round() / 1e6
}

/// Whole seconds between two times *as they are shown*: the page and the feed print times to
/// the second, cut, not rounded (`format_time`), so the duration is the difference of the cut
/// times. 10:00:00.9 to 10:00:20.1 shows as 10:00:00 to 10:00:20, and lasted 20s, not the 19
/// that subtracting first and cutting after would say.
pub fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    u64::try_from(to.timestamp() - from.timestamp()).unwrap_or(0)
}

fn cut(error: &str) -> String {
    match error.char_indices().nth(ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &error[..i]),
        None => error.to_string(),
    }
}

/// The largest the file can be for `services` configured services, in bytes: every day and
/// bucket with every count at its widest, and the incident log full of the longest errors.
/// The test that simulates a year checks the real file against it.
pub fn max_file_bytes(services: usize, longest_slug: usize) -> usize {
    // `{"date":"2026-11-24","up":4294967295,…,"lat_max":…}` with every field at its widest:
    // five u32 counts (10 digits) + lat_n, three f64 (up to 24 characters each), key names.
    const DAY: usize = 300;
    const BUCKET: usize = 300;
    // Two slugs, two statuses, two times, an error of ERROR_CHARS characters (up to 4 bytes each
    // in UTF-8, up to 6 when JSON-escaped as \uXXXX), key names.
    const INCIDENT: usize = 250 + ERROR_CHARS * 6;
    const SERVICE: usize = 200;
    services * (SERVICE + longest_slug + KEEP_DAYS * DAY + FINE_BUCKETS * BUCKET)
        + KEEP_INCIDENTS * (INCIDENT + longest_slug)
        + 100
}

mod time_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests;
