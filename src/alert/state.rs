//! The alert state file, `state_dir/alerts.json`: every alert's [`Track`] of every service, so
//! a restart neither repeats a `down` already sent nor forgets an outage still open.
//!
//! Written whole, atomically (a temporary file in the same directory, fsynced, renamed over
//! the old one, the directory fsynced), and only when something changed: counts saturate at
//! their thresholds, so a steady state writes nothing. Read with a bound (see [`limit`]): a
//! file larger than the state can be, or one that does not parse, is moved aside and reported,
//! and alerting starts afresh rather than trusting it.

use super::policy::{MAX_ERROR, MAX_HELD, Track};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const FILE: &str = "alerts.json";
const VERSION: u32 = 1;

/// alert name → service slug → track.
pub type Tracks = BTreeMap<String, BTreeMap<String, Track>>;

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    alerts: Tracks,
}

/// The largest a state file can honestly be: one track is at most ~2.5 KiB (an error of
/// [`MAX_ERROR`] characters of up to 4 bytes each, [`MAX_HELD`] held changes, times and counts),
/// plus the names.
pub fn limit(alerts: usize, services: usize, longest_names: usize) -> u64 {
    let track = (MAX_ERROR * 4 + MAX_HELD * 80 + 600 + longest_names) as u64;
    16 * 1024 + (alerts as u64) * (services as u64) * track
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Reads the state, or starts afresh: absent is normal; too big or unreadable is moved aside
/// and returned as a problem.
pub fn load(dir: &Path, limit: u64) -> (Tracks, Option<String>) {
    let path = path(dir);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Tracks::new(), None),
        Err(e) => {
            return (
                Tracks::new(),
                Some(format!(
                    "alert state {}: cannot read it: {e}",
                    path.display()
                )),
            );
        }
    };
    let mut bytes = Vec::new();
    let read = file.take(limit + 1).read_to_end(&mut bytes);
    let why = match read {
        Err(e) => format!("cannot read it: {e}"),
        Ok(_) if bytes.len() as u64 > limit => {
            format!("it is larger than alert state can be ({limit} bytes)")
        }
        Ok(_) => match serde_json::from_slice::<StateFile>(&bytes) {
            Ok(s) if s.version == VERSION => {
                let mut tracks = s.alerts;
                // Bounded even if someone edited it by hand.
                for t in tracks.values_mut().flat_map(BTreeMap::values_mut) {
                    t.held.truncate(MAX_HELD);
                    if let Some(o) = &mut t.open {
                        o.error = o
                            .error
                            .as_deref()
                            .map(|e| crate::redact::clip(e, MAX_ERROR));
                    }
                }
                return (tracks, None);
            }
            Ok(s) => format!("version {} is not one this build reads", s.version),
            Err(e) => format!("it is not alert state: {e}"),
        },
    };
    let aside = dir.join(format!("{FILE}.broken-{}", chrono::Utc::now().timestamp()));
    let moved = match std::fs::rename(&path, &aside) {
        Ok(()) => format!("moved to {}", aside.display()),
        Err(e) => format!("could not be moved aside ({e})"),
    };
    (
        Tracks::new(),
        Some(format!(
            "alert state {}: {why}; {moved}, and alerting starts afresh",
            path.display()
        )),
    )
}

pub fn encode(tracks: &Tracks) -> Vec<u8> {
    // Borrowing would need a second type; a clone of a few KiB on a change is cheap.
    serde_json::to_vec(&StateFile {
        version: VERSION,
        alerts: tracks.clone(),
    })
    .unwrap_or_default()
}

/// Writes `bytes` as the state file, atomically and durably.
pub fn write(dir: &Path, bytes: &[u8]) -> Result<(), String> {
    let fail =
        |what: &str, e: std::io::Error| format!("alert state {}: {what}: {e}", path(dir).display());
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create its directory", e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".alerts.json.")
        .tempfile_in(dir)
        .map_err(|e| fail("cannot create a temporary file", e))?;
    tmp.write_all(bytes).map_err(|e| fail("cannot write", e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| fail("cannot sync", e))?;
    tmp.persist(path(dir))
        .map_err(|e| fail("cannot rename into place", e.error))?;
    // The rename is durable only once the directory is.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_file_is_moved_aside_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), b"{not json").unwrap();
        let (tracks, problem) = load(dir.path(), limit(1, 1, 10));
        assert!(tracks.is_empty());
        assert!(problem.unwrap().contains("moved to"));
        assert!(!path(dir.path()).exists());
    }

    #[test]
    fn a_file_past_the_bound_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let huge = vec![b' '; limit(1, 1, 10) as usize + 10];
        std::fs::write(path(dir.path()), huge).unwrap();
        let (_, problem) = load(dir.path(), limit(1, 1, 10));
        assert!(problem.unwrap().contains("larger than"));
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut tracks = Tracks::new();
        tracks.entry("phone".into()).or_default().insert(
            "api".into(),
            Track {
                bad: 3,
                ..Default::default()
            },
        );
        write(dir.path(), &encode(&tracks)).unwrap();
        let (back, problem) = load(dir.path(), limit(1, 1, 10));
        assert!(problem.is_none());
        assert_eq!(back, tracks);
    }

    #[test]
    fn the_worst_track_fits_the_bound() {
        use crate::alert::policy::{Change, Held, Open};
        let t0 = chrono::Utc::now();
        let worst = Track {
            bad: u32::MAX,
            good: u32::MAX,
            bad_since: Some(t0),
            open: Some(Open {
                level: Change::Degraded,
                since: t0,
                // The longest error kept, of the widest characters JSON writes as they are.
                error: Some("\u{1F6A8}".repeat(MAX_ERROR)),
            }),
            last_sent: Some(t0),
            next_reminder: Some(t0),
            pending: Some(Change::Recovered),
            held: vec![
                Held {
                    change: Change::Recovered,
                    at: t0
                };
                MAX_HELD
            ],
            held_count: u32::MAX,
            seen_at: None,
        };
        let name = "n".repeat(64);
        let mut tracks = Tracks::new();
        tracks
            .entry(name.clone())
            .or_default()
            .insert(name.clone(), worst.clone());
        let one = encode(&tracks).len() as u64;
        assert!(one <= limit(1, 1, 128), "{one} bytes");
        let steady = Track {
            good: 2,
            last_sent: Some(t0),
            ..Default::default()
        };
        let mut tracks = Tracks::new();
        tracks
            .entry("phone".into())
            .or_default()
            .insert("symbiont-api".into(), steady);
        println!(
            "worst track: {one} bytes; a steady one: {} bytes",
            encode(&tracks).len()
        );
    }
}
