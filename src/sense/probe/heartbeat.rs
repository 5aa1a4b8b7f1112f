//! Heartbeats: a job tells us it ran, and the `heartbeat` service is up while it keeps doing so.
//!
//! Two ways in: `POST /api/heartbeat/{slug}` (and `/start`, `/fail`, `?exit=N`, as
//! healthchecks.io has them) with the service's token as `Authorization: Bearer`, handled by the
//! listener through [`Beats::ping`]; or `path`, a file whose modification time is the last ping.
//! The [`Beats`] store is the one place both sides meet: the listener writes it, the probe
//! reads it. It is saved to `state_dir/heartbeats.json` after every ping (temp file + rename),
//! so the last ping, start, duration and exit status survive a restart.
//!
//! Up while the last good ping is within `period` + `grace`; down when it is later, or when the
//! job's last word was a failure; `unknown` before the first ping.

use super::Outcome;
use crate::config::{Check, Secret, ServiceConfig};
use crate::snapshot::{Status, format_time};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The file in `state_dir`.
pub const FILE: &str = "heartbeats.json";
/// The most `heartbeats.json` is read at: a few hundred bytes a heartbeat service.
const MAX_FILE: u64 = 1 << 20;

/// What a job last said, per service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    pub last_ping: Option<DateTime<Utc>>,
    pub last_start: Option<DateTime<Utc>>,
    pub last_fail: Option<DateTime<Utc>>,
    /// From the last `/start` to the ping or failure that ended that run.
    pub last_duration_seconds: Option<f64>,
    pub last_exit: Option<i64>,
    /// Set by `/start`, cleared by the ping or failure that ends the run.
    pub running_since: Option<DateTime<Utc>>,
}

/// What a ping says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The job ran (or `?exit=0`).
    Success(Option<i64>),
    Start,
    /// `/fail`, or `?exit=N` with N other than 0.
    Fail(Option<i64>),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No heartbeat service has this slug.
    Unknown,
    /// The service takes no pings over HTTP (no `token`).
    NoToken,
    WrongToken,
}

#[derive(Default)]
struct State {
    dir: Option<PathBuf>,
    tokens: BTreeMap<String, Option<Secret>>,
    beats: BTreeMap<String, Beat>,
}

/// The process's heartbeats; see the module's docs.
pub struct Beats {
    state: Mutex<State>,
}

/// The one store of the process.
pub fn store() -> &'static Beats {
    static STORE: OnceLock<Beats> = OnceLock::new();
    STORE.get_or_init(|| Beats {
        state: Mutex::new(State::default()),
    })
}

impl Beats {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the heartbeat services of a (new) config; reads `state_dir`'s file the first time
    /// it is seen. Returns a problem reading it, for the log.
    pub fn configure(&self, state_dir: &Path, services: &[ServiceConfig]) -> Option<String> {
        let mut state = self.lock();
        let mut problem = None;
        if state.dir.as_deref() != Some(state_dir) {
            state.dir = Some(state_dir.to_path_buf());
            let path = state_dir.join(FILE);
            // The size is looked at before the file is read: a file past the bound (no
            // heartbeat config makes one) is not loaded whole to be thrown away.
            let size = std::fs::metadata(&path).map_or(0, |m| m.len());
            state.beats = if size > MAX_FILE {
                problem = Some(format!(
                    "heartbeats: {} is {size} bytes, more than the {MAX_FILE} a state file can \
                     hold; starting without last pings",
                    path.display()
                ));
                BTreeMap::new()
            } else {
                match std::fs::read(&path) {
                    Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                        problem = Some(format!(
                            "heartbeats: {} is not readable ({e}); starting without last pings",
                            path.display()
                        ));
                        BTreeMap::new()
                    }),
                    Err(_) => BTreeMap::new(),
                }
            };
        }
        state.tokens = services
            .iter()
            .filter_map(|s| match &s.check {
                Check::Heartbeat { token, .. } => Some((s.slug.clone(), token.clone())),
                _ => None,
            })
            .collect();
        let tokens = std::mem::take(&mut state.tokens);
        state.beats.retain(|slug, _| tokens.contains_key(slug));
        state.tokens = tokens;
        problem
    }

    /// Records a ping for `slug` when `token` is its token; saves the store. The token is
    /// compared in constant time.
    pub fn ping(
        &self,
        slug: &str,
        token: Option<&str>,
        signal: Signal,
        now: DateTime<Utc>,
    ) -> Result<(), Refused> {
        let mut state = self.lock();
        let expected = match state.tokens.get(slug) {
            None => return Err(Refused::Unknown),
            Some(None) => return Err(Refused::NoToken),
            Some(Some(t)) => t.clone(),
        };
        let ok = token.is_some_and(|t| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                t.as_bytes(),
                expected.expose().as_bytes(),
            ))
        });
        if !ok {
            return Err(Refused::WrongToken);
        }
        let beat = state.beats.entry(slug.to_string()).or_default();
        record(beat, signal, now);
        let (dir, beats) = (state.dir.clone(), state.beats.clone());
        drop(state);
        if let Some(dir) = dir
            && let Err(e) = save(&dir, &beats)
        {
            tracing::error!("heartbeats: cannot save {}: {e}", dir.join(FILE).display());
        }
        Ok(())
    }

    pub fn get(&self, slug: &str) -> Option<Beat> {
        self.lock().beats.get(slug).cloned()
    }
}

fn record(beat: &mut Beat, signal: Signal, now: DateTime<Utc>) {
    let duration = |beat: &mut Beat| {
        if let Some(start) = beat.running_since.take() {
            beat.last_duration_seconds = Some((now - start).num_milliseconds() as f64 / 1000.0);
        }
    };
    match signal {
        Signal::Start => {
            beat.last_start = Some(now);
            beat.running_since = Some(now);
        }
        Signal::Success(exit) => {
            duration(beat);
            beat.last_ping = Some(now);
            beat.last_exit = exit;
        }
        Signal::Fail(exit) => {
            duration(beat);
            beat.last_fail = Some(now);
            beat.last_exit = exit;
        }
    }
}

/// Written whole to a temporary file in the same directory and renamed into place.
fn save(dir: &Path, beats: &BTreeMap<String, Beat>) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(&serde_json::to_vec(beats).map_err(std::io::Error::other)?)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dir.join(FILE)).map_err(|e| e.error)?;
    Ok(())
}

/// The heartbeat service's status now.
pub async fn check(slug: &str, period: Duration, grace: Duration, path: Option<&Path>) -> Outcome {
    let beat = store().get(slug).unwrap_or_default();
    let mut file_problem = None;
    let touched = match path {
        None => None,
        // One stat of a local file: cheaper than a hand-off to the blocking pool.
        Some(p) => match std::fs::metadata(p).and_then(|m| m.modified()) {
            Ok(t) => Some(DateTime::<Utc>::from(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                file_problem = Some(format!("{} cannot be read: {e}", p.display()));
                None
            }
        },
    };
    let mut outcome = evaluate(&beat, touched, period, grace, Utc::now());
    if let Some(problem) = file_problem
        && outcome.status != Status::Up
    {
        outcome.error = Some(problem);
    }
    outcome
}

fn evaluate(
    beat: &Beat,
    touched: Option<DateTime<Utc>>,
    period: Duration,
    grace: Duration,
    now: DateTime<Utc>,
) -> Outcome {
    let last_ok = beat.last_ping.max(touched);
    let span = |d: Duration| humantime::format_duration(d).to_string();
    let allowed = chrono::Duration::from_std(period + grace).unwrap_or(chrono::Duration::MAX);
    let (status, error) = match (last_ok, beat.last_fail) {
        (ok, Some(fail)) if ok.is_none_or(|ok| fail > ok) => (
            Status::Down,
            Some(format!(
                "the job reported a failure at {}{}",
                format_time(&fail),
                beat.last_exit
                    .map(|e| format!(" (exit status {e})"))
                    .unwrap_or_default()
            )),
        ),
        (None, None) => (
            Status::Unknown,
            Some(format!("no ping yet; expected every {}", span(period))),
        ),
        (Some(ok), _) if now - ok > allowed => {
            let ago = (now - ok).to_std().unwrap_or_default();
            let ago = Duration::from_secs(ago.as_secs());
            (
                Status::Down,
                Some(format!(
                    "late: the last ping was {} ago, at {}; expected every {} (grace {})",
                    span(ago),
                    format_time(&ok),
                    span(period),
                    span(grace)
                )),
            )
        }
        _ => (Status::Up, None),
    };
    let mut outcome = Outcome::new(status, None, error);
    let d = &mut outcome.details;
    let time = |t: Option<DateTime<Utc>>| json!(t.as_ref().map(format_time));
    d.insert("last_ping".into(), time(last_ok));
    d.insert(
        "next_due".into(),
        time(last_ok.and_then(|t| t.checked_add_signed(allowed))),
    );
    d.insert("last_start".into(), time(beat.last_start));
    d.insert(
        "last_duration_seconds".into(),
        json!(beat.last_duration_seconds),
    );
    d.insert("last_exit".into(), json!(beat.last_exit));
    if beat.running_since.is_some() {
        d.insert("running_since".into(), time(beat.running_since));
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A state file past its bound is reported and not read (it used to be read whole and
    /// then dropped without a word).
    #[test]
    fn an_oversized_state_file_is_reported_not_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), vec![b' '; (MAX_FILE + 1) as usize]).unwrap();
        let beats = Beats {
            state: Mutex::new(State::default()),
        };
        let problem = beats.configure(dir.path(), &[]).expect("a problem");
        assert!(problem.contains("more than the"), "{problem}");
        // A small broken file is reported too; a missing one is no problem.
        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        let beats = Beats {
            state: Mutex::new(State::default()),
        };
        assert!(beats.configure(dir.path(), &[]).is_some());
        let empty = tempfile::tempdir().unwrap();
        assert!(beats.configure(empty.path(), &[]).is_none());
    }

    #[test]
    fn on_time_late_failed_and_never() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let hour = Duration::from_secs(3600);
        let minutes = |m| chrono::Duration::minutes(m);
        let mut beat = Beat::default();
        assert_eq!(
            evaluate(&beat, None, hour, hour / 10, now).status,
            Status::Unknown
        );
        record(&mut beat, Signal::Start, now - minutes(70));
        record(&mut beat, Signal::Success(Some(0)), now - minutes(65));
        assert_eq!(beat.last_duration_seconds, Some(300.0));
        let o = evaluate(&beat, None, hour, hour / 10, now);
        assert_eq!(o.status, Status::Up, "65 min < 60 min + 6 min grace");
        let o = evaluate(&beat, None, hour, hour / 10, now + minutes(2));
        assert_eq!(o.status, Status::Down);
        assert!(
            o.error
                .unwrap()
                .starts_with("late: the last ping was 1h 7m ago")
        );
        // A file touched later counts as a ping.
        let o = evaluate(
            &beat,
            Some(now - minutes(1)),
            hour,
            hour / 10,
            now + minutes(2),
        );
        assert_eq!(o.status, Status::Up);
        record(&mut beat, Signal::Fail(Some(3)), now);
        let o = evaluate(&beat, None, hour, hour / 10, now);
        assert_eq!(o.status, Status::Down);
        assert!(o.error.unwrap().ends_with("(exit status 3)"));
        record(&mut beat, Signal::Success(None), now + minutes(1));
        assert_eq!(
            evaluate(&beat, None, hour, hour / 10, now + minutes(1)).status,
            Status::Up
        );
    }
}
