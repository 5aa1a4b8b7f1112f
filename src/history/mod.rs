//! The history of every service, kept in one file in `state_dir` with no database: daily
//! roll-ups for 400 days, the last 24 hours in 5-minute buckets, and the incident log.
//!
//! Everything the page and the feed say about the past (uptime windows, the 90-day strip, the
//! 24-hour sparkline, recent incidents) is computed from here into the snapshot: what comes
//! from past days once per day, what comes from today and the last 24 hours every cycle
//! ([`figures`]).
//!
//! **Bounded by design, and small.** Per service a fixed ring of [`KEEP_DAYS`] day records and
//! one of [`FINE_BUCKETS`] buckets, each a few integers ([`records`]): about 7 KB resident
//! whatever it has seen ([`ServiceHistory::stored_values`]); at most [`KEEP_INCIDENTS`]
//! incidents in all, each error cut to [`ERROR_CHARS`] characters; services no longer in the
//! config are dropped (with a log line). The file's size depends on the number of services,
//! never on how long it runs or how often a service flaps: see [`max_file_bytes`] and the test
//! that simulates a year.
//!
//! **Durable, and never a crash.** The file ([`format`]: columns of integers, version 2;
//! version 1 is still read, and rewritten as 2 at the next save) is written like the published
//! ones (temporary file in the same directory, then rename) but fsynced, because unlike them
//! it is not rewritten from scratch by the next cycle. It is saved when a status changes, at
//! most [`SAVE_EVERY`] apart otherwise, and at shutdown: a crash loses at most that much. A
//! save appends the checks recorded since the last one to a journal ([`journal`]); the whole
//! file is rewritten (streamed from the records) only when the journal has grown as large as
//! it, and at shutdown. So a save costs what changed, not the year of every service. A file
//! that cannot be read or parsed is moved aside (`history.json.corrupt-<time>`), logged,
//! reported in `errors` for a day, and a fresh history starts. So is a file larger than the
//! bound for the configured services ([`load_limit`]), without reading it; a file within it
//! is trimmed to the bounds above while it is read, and values no check could have written
//! (negative or non-finite latencies, days and buckets out of order) are mended.
//!
//! **Clocks.** A check's time is the wall clock's, which can step. A step back leaves the
//! recorded past dated in the future: a check older than the last one recorded is still
//! counted (only the very same result is skipped), and day records, buckets and incidents
//! dated after it are dropped, so the order holds and no window counts days that have not happened. A step
//! forward leaves a gap that stays a gap: nothing is counted for it. Steps are found by
//! [`ClockWatch`] while running and at load (a `last_checked` ahead of now), logged, and shown
//! in `errors` for [`CLOCK_NOTICE_FOR`].
//!
//! **What is where.** This file keeps what changes the history as a whole (observe, load,
//! save, mend, trim) and its bounds; [`records`] one service's rings; [`figures`] what is
//! computed from them; [`format`] the file; [`clock`] steps of the wall clock.

mod clock;
mod figures;
mod format;
mod records;

use crate::snapshot::{Coverage, DAYS, Incident, LATENCY_SLOTS, Series, Service, Status, Uptime};
use chrono::{DateTime, Duration, NaiveDate, Utc};
pub use clock::ClockWatch;
use clock::describe;
pub use format::max_file_bytes;
pub use records::{Bucket, Day, ServiceHistory};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};

mod journal;

/// The file's name in `state_dir`.
pub const FILE: &str = "history.json";
/// The format [`FILE`] is written in; version 1 is read too, and a file with another version is
/// moved aside like a corrupt one.
const VERSION: u32 = 2;
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
/// Journal lines waiting for a save, at most (about): past it a save is due before
/// [`SAVE_EVERY`]. A minute of checks of 5,000 services every second is 20 MB of lines, and
/// the buffer kept its largest size from save to save; now it is a save every few cycles at
/// that rate, and the buffer stays under twice this.
pub const PENDING_MAX: usize = 512 * 1024;
/// Journal lines on their way to the journal, beside the loop ([`History::take_append`]).
pub struct Append {
    path: PathBuf,
    lines: Vec<u8>,
}

/// How an [`Append`] went: the bytes appended, or why not.
pub struct Appended(Result<usize, String>);

impl Append {
    /// Appends the lines to the journal and fsyncs it (on the blocking pool).
    pub fn run(self) -> Appended {
        Appended(
            journal::append(&self.path, &self.lines)
                .map(|()| self.lines.len())
                .map_err(|e| e.to_string()),
        )
    }

    /// An append that did not finish (its task panicked).
    pub fn lost(why: String) -> Appended {
        Appended(Err(why))
    }
}

/// The journal is folded into the file once it is as large as the file, and never sooner
/// than this: so the whole file is rewritten at most once per its size in appended checks.
pub const JOURNAL_FLOOR: u64 = 256 * 1024;
/// How many incidents the snapshot carries.
pub const RECENT_INCIDENTS: usize = 50;
/// How long a problem with the history file itself stays in `errors`.
const NOTICE_FOR: Duration = Duration::hours(24);
/// How long a clock step stays in `errors`.
pub const CLOCK_NOTICE_FOR: Duration = Duration::hours(1);
/// A difference between the wall clock and the monotonic one smaller than this is drift or
/// scheduling, not a step worth a word.
pub const CLOCK_STEP_MIN: Duration = Duration::seconds(10);

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
    /// A clock step, shown in `errors` until it expires (by the clock after the step).
    clock_notice: Option<(String, DateTime<Utc>)>,
    /// The generation of the file on disk: its journal is `journal::path(path, generation)`.
    generation: u64,
    /// Journal lines of the checks recorded since the last save.
    pending: Vec<u8>,
    /// Bytes in the journal on disk.
    journal_len: u64,
    /// Size of the file on disk when last written: the journal is folded in past it.
    file_len: u64,
    /// The next save must write the whole file: there is none yet, or something happened that
    /// the journal cannot say (a mend, a service dropped, a failed append).
    rewrite: bool,
    /// True while the journal is replayed at load.
    replaying: bool,
}

impl History {
    /// Reads `state_dir/history.json` whatever its size (tests; the daemon uses
    /// [`History::load_within`]).
    pub fn load(state_dir: &Path, now: DateTime<Utc>) -> History {
        History::load_within(state_dir, now, u64::MAX)
    }

    /// Reads `state_dir/history.json`. A missing file is a fresh start; an unreadable or corrupt
    /// one, or one larger than `limit` bytes (not read then), is moved aside (when possible) and
    /// reported, and a fresh history starts. What is read is trimmed to the bounds.
    pub fn load_within(state_dir: &Path, now: DateTime<Utc>, limit: u64) -> History {
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
            clock_notice: None,
            generation: 0,
            pending: Vec::new(),
            journal_len: 0,
            file_len: 0,
            rewrite: true,
            replaying: false,
        };
        let (problem, aside_as) = match open_within(&history.path, limit) {
            Err(Unread::Missing) => return history,
            Err(Unread::Io(e)) => (format!("cannot read it: {e}"), "corrupt"),
            Err(Unread::TooBig(size)) => (
                format!(
                    "it is {size} bytes, more than the {limit} a history of the configured \
                     services can take, so it was not read"
                ),
                "oversized",
            ),
            Ok((size, reader)) => match format::read(reader, limit) {
                Ok(parsed) => {
                    history.file_len = size;
                    history.services = parsed.services;
                    history.incidents = parsed.incidents;
                    history.generation = parsed.generation;
                    history.replay(limit, now);
                    let mended = history.mend(parsed.trimmed);
                    tracing::info!(
                        "history: {} services, {} incidents from {}{}",
                        history.services.len(),
                        history.incidents.len(),
                        history.path.display(),
                        if parsed.version == VERSION {
                            String::new()
                        } else {
                            format!(" (format version {}, saved as {VERSION})", parsed.version)
                        }
                    );
                    if !mended.is_empty() {
                        let message = format!(
                            "history: {} held more than its bounds or values no check \
                             writes; trimmed or mended: {}",
                            history.path.display(),
                            mended.join(", ")
                        );
                        // Logged once, by the generator, when it reaches `errors`.
                        history.notice = Some((message, now));
                        history.dirty = true;
                        history.urgent = true;
                    }
                    history.clock_at_load(now);
                    return history;
                }
                Err(format::Problem::Version(version)) => (
                    format!(
                        "it is format version {version}, this build reads versions 1 and {VERSION}"
                    ),
                    "corrupt",
                ),
                Err(format::Problem::Invalid(e)) => {
                    (format!("it is not a valid history file: {e}"), "corrupt")
                }
                Err(format::Problem::Io(e)) => (format!("cannot read it: {e}"), "corrupt"),
                Err(format::Problem::TooBig(size)) => (
                    format!(
                        "it is {size} bytes, more than the {limit} a history of the configured \
                         services can take, so it was not read"
                    ),
                    "oversized",
                ),
            },
        };
        let aside = history.path.with_file_name(format!(
            "{FILE}.{aside_as}-{}",
            now.format("%Y%m%dT%H%M%SZ")
        ));
        let what = match std::fs::rename(&history.path, &aside) {
            Ok(()) => format!("moved aside to {}", aside.display()),
            Err(e) => format!("could not be moved aside ({e})"),
        };
        let message = format!(
            "history: {} {problem}; it was {what} and a fresh history started",
            history.path.display()
        );
        // Logged once, by the generator, when it reaches `errors`.
        history.notice = Some((message, now));
        history.dirty = true;
        history.urgent = true;
        history
    }

    /// Applies the journal that continues the file just read (see [`journal`]). The file is
    /// rewritten at the next save either way, so a torn last line is never appended to.
    fn replay(&mut self, limit: u64, now: DateTime<Utc>) {
        let path = journal::path(&self.path, self.generation);
        match journal::read(&path, limit) {
            Ok(None) => {}
            Ok(Some(bytes)) => {
                let mut n = 0usize;
                self.replaying = true;
                for line in journal::lines(&bytes) {
                    if let Some(at) = line.at() {
                        let error = line.e.as_deref();
                        self.record_check(&line.s, line.st, line.l, error, at);
                        n += 1;
                    }
                }
                self.replaying = false;
                tracing::info!("history: {n} checks from {}", path.display());
            }
            Err(problem) => {
                let message = format!(
                    "history: {} {problem}; the checks in it are not counted",
                    path.display()
                );
                self.notice = Some((message, now));
                self.urgent = true;
            }
        }
        // The next save starts a new generation (and removes this journal).
        self.dirty |= self.journal_len > 0 || path.exists();
        self.rewrite = true;
    }

    /// Brings a history read from disk within the bounds [`History::record`] keeps: the
    /// records were trimmed as they were read (`trimmed` says how much); here
    /// [`KEEP_INCIDENTS`] incidents with errors of [`ERROR_CHARS`]. Says what it did.
    fn mend(&mut self, trimmed: format::Trimmed) -> Vec<String> {
        let (days, buckets, counts) = (trimmed.days, trimmed.buckets, trimmed.latencies);
        let incidents = self.incidents.len().saturating_sub(KEEP_INCIDENTS);
        self.incidents.truncate(KEEP_INCIDENTS);
        let mut errors = 0;
        for i in &mut self.incidents {
            if let Some(e) = i.error.as_mut()
                && e.chars().nth(ERROR_CHARS + 1).is_some()
            {
                *e = cut(e);
                errors += 1;
            }
            // An incident's service is a slug; a slug is short.
            if i.service.chars().nth(ERROR_CHARS + 1).is_some() {
                i.service = cut(&i.service);
                errors += 1;
            }
        }
        [
            (days, "day records"),
            (buckets, "5-minute buckets"),
            (counts, "latency figures"),
            (incidents, "incidents"),
            (errors, "incident texts"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect()
    }

    /// A `last_checked` ahead of `now`: the clock was set back since it was recorded (or the
    /// file came from a machine whose clock was ahead). Counting goes on; see the module's note.
    fn clock_at_load(&mut self, now: DateTime<Utc>) {
        let Some(latest) = self.services.values().filter_map(|h| h.last_checked).max() else {
            return;
        };
        if latest - now > CLOCK_STEP_MIN {
            self.clock_stepped(
                format!(
                    "the clock is {} behind the history: its last check is dated {}",
                    describe(latest - now),
                    latest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                now,
            );
        }
    }

    /// Shows a clock step in `errors` for [`CLOCK_NOTICE_FOR`] (and so in the log, once).
    pub fn clock_stepped(&mut self, what: String, now: DateTime<Utc>) {
        let message = format!(
            "clock: {what}; checks are counted by the clock as it is now, history dated after \
             now is dropped and a gap is not filled"
        );
        self.clock_notice = Some((message, now));
    }

    /// Forgets services that are no longer configured, so the file stays bounded by the config.
    pub fn retain(&mut self, configured: &[crate::config::ServiceConfig]) {
        let mut slugs: HashSet<&str> = configured.iter().map(|s| s.slug.as_str()).collect();
        // The host entry of `[host] warn` / `critical` is no `[[service]]`, but has a history.
        slugs.insert(crate::sense::thresholds::SLUG);
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
            // A journal line cannot say "dropped": the next save writes the whole file.
            self.rewrite = true;
        }
    }

    /// Counts each service's new check, logs changes of status as incidents, and fills in the
    /// services' history fields (uptime, days, latency) and the snapshot's incidents.
    pub fn observe(&mut self, services: &mut [Service], now: DateTime<Utc>) -> Vec<Incident> {
        for s in services.iter_mut() {
            if let Some(at) = s.checked_at {
                self.record(s, at);
            }
            if let Some(h) = self.services.get_mut(&s.slug) {
                s.observed_since = h.since();
                (s.uptime, s.uptime_coverage) = h.uptime(now);
                let (days, slots) = (h.day_strip(now), h.latency_slots(now));
                s.days = records::share(&mut h.shown.0, days);
                s.latency_24h = records::share(&mut h.shown.1, slots);
            }
        }
        self.recent(services, now)
    }

    fn record(&mut self, s: &Service, at: DateTime<Utc>) {
        // A check is kept to the millisecond, in the file as in the journal: so a replay
        // gives back exactly what was recorded.
        let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
        let error = s.error.as_deref();
        if self.record_check(&s.slug, s.status, s.latency_ms, error, at) {
            journal::push(
                &mut self.pending,
                &journal::Line {
                    s: s.slug.as_str().into(),
                    t: at.timestamp_millis(),
                    st: s.status,
                    l: s.latency_ms,
                    e: error.map(|e| cut(e).into()),
                },
            );
        }
    }

    /// Counts one check of `slug`; false when it was counted already (the same result shown
    /// again by a cycle while its probe is still running).
    fn record_check(
        &mut self,
        slug: &str,
        status: Status,
        latency_ms: Option<f64>,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> bool {
        // `entry` would allocate the slug every check; look it up first, once when it is there.
        let h = match self.services.get_mut(slug) {
            Some(h) => h,
            None => self.services.entry(slug.to_string()).or_default(),
        };
        if h.last_checked == Some(at) {
            return false;
        }
        // Older than the last one recorded: the clock stepped back. What is dated after `at`
        // cannot be placed any more; dropped, it keeps the order everything below relies on.
        if h.last_checked.is_some_and(|last| at < last) {
            h.truncate_after(at);
            let dropped = self.incidents.len();
            self.incidents.retain(|i| i.service != slug || i.at <= at);
            self.dirty |= dropped != self.incidents.len();
        }
        h.last_checked = Some(at);
        if h.first_checked.is_none() {
            h.first_checked = Some(h.since().unwrap_or(at));
        }
        self.dirty = true;
        h.add(status, latency_ms, at);
        let from = match h.last_status.replace(status) {
            Some(from) => (from != status).then_some(from),
            // Failing at its very first check is news too: without an incident, a feed
            // subscriber would never hear of a service that was down from the start.
            None => matches!(status, Status::Down | Status::Degraded).then_some(Status::Unknown),
        };
        if let Some(from) = from {
            // A replay at start is not news: the line was logged when it happened.
            if !self.replaying {
                tracing::info!(
                    "{}: {from} → {}{}",
                    slug,
                    status,
                    error.map(|e| format!(" ({e})")).unwrap_or_default()
                );
            }
            if let Some(open) = self
                .incidents
                .iter_mut()
                .find(|i| i.service == slug && i.end.is_none())
            {
                open.end = Some(at);
                open.duration_seconds = seconds_between(open.at, at);
            }
            self.incidents.push_front(Incident {
                service: slug.to_string(),
                name: None,
                from,
                to: status,
                at,
                error: error.map(cut),
                end: None,
                duration_seconds: 0,
            });
            self.incidents.truncate(KEEP_INCIDENTS);
            self.urgent = true;
        }
        true
    }

    /// The newest incidents, named as `services` name them now, with the duration of the open
    /// ones brought up to `now`.
    fn recent(&self, services: &[Service], now: DateTime<Utc>) -> Vec<Incident> {
        self.incidents_named(services, now, RECENT_INCIDENTS)
    }

    /// Every incident the log keeps (at most `KEEP_INCIDENTS`), newest first, named as
    /// [`History::observe`]'s are: for `history.html`, which lists them all.
    pub fn all_incidents(&self, services: &[Service], now: DateTime<Utc>) -> Vec<Incident> {
        self.incidents_named(services, now, usize::MAX)
    }

    fn incidents_named(
        &self,
        services: &[Service],
        now: DateTime<Utc>,
        limit: usize,
    ) -> Vec<Incident> {
        // One map, not a scan of the services per incident: the log holds up to 1,000.
        let names: std::collections::HashMap<&str, &str> = services
            .iter()
            .map(|s| (s.slug.as_str(), s.name.as_str()))
            .collect();
        self.incidents
            .iter()
            .take(limit)
            .map(|i| {
                let mut i = i.clone();
                i.name = names.get(i.service.as_str()).map(|n| n.to_string());
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
        if self
            .clock_notice
            .as_ref()
            .is_some_and(|(_, since)| now - *since > CLOCK_NOTICE_FOR || now < *since)
        {
            self.clock_notice = None;
        }
        self.notice
            .iter()
            .chain(&self.clock_notice)
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
                || self.pending.len() >= PENDING_MAX
                || self.save_error.is_some()
                || self.last_save.is_none_or(|t| t.elapsed() >= SAVE_EVERY))
    }

    /// Writes the file durably and atomically. A failure is kept for `errors` and retried at
    /// the next [`History::save_due`]; the history in memory is kept either way.
    pub fn save(&mut self) -> Result<(), String> {
        let whole = self.rewrite || self.journal_len >= self.file_len.max(JOURNAL_FLOOR);
        let result = if whole {
            self.write_whole()
        } else {
            self.append()
        };
        let result = result.map_err(|e| {
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
            // Not logged here: it comes back from `errors` every cycle, and the generator logs
            // a problem once; a save at shutdown, after the last cycle, logs its own failure.
            Err(message) => self.save_error = Some(message.clone()),
        }
        result
    }

    /// When a save is due and would only append to the journal: the lines to append, taken out
    /// so that the history goes on recording (the next cycle) while they are written and
    /// fsynced; `None` when no save is due or it must write the whole file ([`History::save`]).
    /// Their outcome comes back through [`History::append_done`], before any other save.
    pub fn take_append(&mut self) -> Option<Append> {
        let whole = self.rewrite || self.journal_len >= self.file_len.max(JOURNAL_FLOOR);
        if !self.save_due() || whole || self.pending.is_empty() {
            return None;
        }
        let lines = std::mem::take(&mut self.pending);
        self.last_save = Some(std::time::Instant::now());
        self.dirty = false;
        self.urgent = false;
        Some(Append {
            path: journal::path(&self.path, self.generation),
            lines,
        })
    }

    /// Takes the outcome of an [`Append`]. A failure is kept for `errors` like a failed
    /// save, and the next save writes the whole file (from the records, which hold those
    /// checks) under a new generation: part of the lines may be in the journal, torn.
    pub fn append_done(&mut self, done: Appended) {
        match done.0 {
            Ok(len) => {
                self.journal_len += len as u64;
                self.save_error = None;
            }
            Err(e) => {
                self.rewrite = true;
                self.dirty = true;
                self.save_error = Some(format!(
                    "history: cannot save {}: {e}; the history is kept in memory and saving is \
                     retried",
                    self.path.display()
                ));
            }
        }
    }

    /// Like [`History::save`], but always writes the whole file (at shutdown: what is left is
    /// one file a person can read, and the next start replays nothing).
    pub fn save_whole(&mut self) -> Result<(), String> {
        self.rewrite = true;
        self.save()
    }

    /// Whether a stop should save: something is unsaved, or the journal is not folded in.
    pub fn needs_flush(&self) -> bool {
        self.dirty || self.journal_len > 0
    }

    /// Appends the checks recorded since the last save to the journal.
    fn append(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let path = journal::path(&self.path, self.generation);
        match journal::append(&path, &self.pending) {
            Ok(()) => {
                self.journal_len += self.pending.len() as u64;
                self.pending.clear();
                // One cycle's lines past the bound may have grown it; not kept beyond that.
                self.pending.shrink_to(2 * PENDING_MAX);
                Ok(())
            }
            Err(e) => {
                // Part of the lines may be in the journal, torn: the next try writes the whole
                // file under a new generation instead.
                self.rewrite = true;
                Err(e.into())
            }
        }
    }

    /// Writes the whole history under the next generation, then removes the old journal.
    fn write_whole(&mut self) -> anyhow::Result<()> {
        // Wrapping: a file of generation u64::MAX (by hand) is followed by 0, not a panic.
        let next = self.generation.wrapping_add(1);
        let len = self.write(next)?;
        let old = journal::path(&self.path, self.generation);
        // The new file holds everything the old journal did; left behind (a crash now), it is
        // ignored at load, since its generation is not the file's.
        let _ = std::fs::remove_file(old);
        self.generation = next;
        self.file_len = len;
        self.journal_len = 0;
        self.pending.clear();
        self.pending.shrink_to(2 * PENDING_MAX);
        self.rewrite = false;
        Ok(())
    }

    fn write(&self, generation: u64) -> anyhow::Result<u64> {
        use anyhow::Context as _;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".history-")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        // Streamed from the records through a buffer: no copy of the history, no file-sized
        // allocation.
        let mut out = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
        format::write(&mut out, generation, &self.services, &self.incidents)?;
        out.flush()?;
        drop(out);
        let len = tmp.as_file().metadata()?.len();
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        // The rename itself is durable only once the directory is.
        std::fs::File::open(dir)?.sync_all()?;
        Ok(len)
    }

    /// The integers the services' histories keep resident (see
    /// [`ServiceHistory::stored_values`]): a fixed number per service, whatever it has seen.
    pub fn stored_values(&self) -> usize {
        self.services
            .values()
            .map(ServiceHistory::stored_values)
            .sum()
    }

    /// Bytes the services' histories hold in memory, slugs and map nodes aside.
    pub fn resident_bytes(&self) -> usize {
        self.services
            .values()
            .map(ServiceHistory::resident_bytes)
            .sum()
    }

    /// How many services have a history.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    #[cfg(test)]
    fn service(&self, slug: &str) -> Option<&ServiceHistory> {
        self.services.get(slug)
    }
}

/// Why [`open_within`] opened nothing.
enum Unread {
    Missing,
    Io(std::io::Error),
    TooBig(u64),
}

/// The file and its size, if it has at most `limit` bytes, buffered and bounded to `limit` (and
/// one byte more, to tell a file that grew meanwhile).
fn open_within(
    path: &Path,
    limit: u64,
) -> Result<(u64, std::io::BufReader<std::io::Take<std::fs::File>>), Unread> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Unread::Missing,
        _ => Unread::Io(e),
    })?;
    let size = file.metadata().map_err(Unread::Io)?.len();
    if size > limit {
        return Err(Unread::TooBig(size));
    }
    let reader = file.take(limit.saturating_add(1));
    Ok((size, std::io::BufReader::with_capacity(1 << 16, reader)))
}

/// The largest history file the daemon reads for a config of `services` services: four times
/// the largest a file of format version 1 could be (larger than [`max_file_bytes`] of version
/// 2, so a file left by the version before is read and migrated), which leaves room for
/// services that were configured when the file was written and have been removed since (their
/// history is dropped after loading), and a floor of 16 MiB. A file past it did not come from
/// this program.
pub fn load_limit(services: usize, longest_slug: usize) -> u64 {
    let bound = format::max_file_bytes_v1(services.max(1), longest_slug.max(64));
    (bound.saturating_mul(4) as u64).max(16 << 20)
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

mod time_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer};

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
