//! The history's journal: what was recorded since the last full write, appended at each save,
//! so a save writes what changed (a line per check) and not the whole year of every service.
//!
//! `history.json` carries a generation number; its journal is `history.journal-<generation>`.
//! A save appends the pending lines and fsyncs them. When the journal has grown as large as the
//! file (or at shutdown, or after anything a line cannot say: a mend, a service dropped), the
//! whole history is written under the next generation (atomically, fsynced, as before) and the
//! old journal removed. A crash between the two leaves a journal of an older generation, which
//! is ignored: the new file already holds everything in it. So the file plus its journal is
//! always a state the history was in at a save; a kill -9 loses at most what was recorded after
//! the last save, and a torn last line (a kill during an append) is the end of the journal.
//!
//! Replaying goes through the same code as a live check ([`super::History::record_check`]), so
//! incidents, clock steps and bounds come out as they did.

use crate::snapshot::Status;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The journal of generation `generation` beside the history file `file`.
pub fn path(file: &Path, generation: u64) -> PathBuf {
    file.with_file_name(format!("history.journal-{generation}"))
}

/// One recorded check, as a line of the journal.
#[derive(Debug, Serialize, Deserialize)]
pub struct Line<'a> {
    /// The service's slug.
    pub s: std::borrow::Cow<'a, str>,
    /// When the check was taken, in ms since the epoch.
    pub t: i64,
    /// What it found.
    pub st: Status,
    /// Its latency in ms, if it measured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l: Option<f64>,
    /// Its error, cut as an incident keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<std::borrow::Cow<'a, str>>,
}

impl Line<'_> {
    pub fn at(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.t)
    }
}

/// Appends `line` (one JSON object and a newline) to `buf`.
pub fn push(buf: &mut Vec<u8>, line: &Line<'_>) {
    // Serialising a struct of strings and numbers into memory cannot fail.
    if serde_json::to_writer(&mut *buf, line).is_ok() {
        buf.push(b'\n');
    }
}

/// Appends `bytes` to the journal at `path` and makes them durable. `created` says the file is
/// new, so the directory entry is made durable too.
pub fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let existed = path.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_data()?;
    if !existed && let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The lines of the journal at `path`, up to the first that does not parse (a torn append).
/// `None` when there is no journal; an error when it cannot be read or is over `limit` bytes.
pub fn read(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, String> {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "it is more than the {limit} bytes a journal can take"
        ));
    }
    Ok(Some(bytes))
}

/// The parsed lines of `bytes`, stopping at the first that is not whole and valid.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = Line<'_>> {
    bytes.split_inclusive(|&b| b == b'\n').map_while(|l| {
        let l = l.strip_suffix(b"\n")?;
        serde_json::from_slice::<Line<'_>>(l).ok()
    })
}
