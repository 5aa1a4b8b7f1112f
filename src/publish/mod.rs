//! Stage 5, publish: bytes → files in `out_dir`, then the `on_publish` hook.
//!
//! It owns the atomic write (temporary file in the same directory, then rename), the gzip
//! sidecars, the fingerprints that skip rewriting unchanged files ([`Publisher`]), and the hook
//! ([`hook`]) run after a cycle published. It takes a directory, a name and bytes; it knows
//! nothing of what the bytes mean (no snapshot, no templates). It must never leave a partial
//! file where a reader can see it, nor put a secret into a file or the hook's public output.
//!
//! Writing files into `out_dir` so that a reader never sees part of one.
//!
//! Each file is written to a temporary name in the same directory (same filesystem, so the
//! rename is atomic) and renamed over the old one: a web server serving it sees the old file or
//! the new one. Temporary names start with `.` so neither the preview server nor a glob picks
//! them up, and a failed write leaves the last good file in place.
//!
//! The swap is `renameat2(RENAME_EXCHANGE)` where the filesystem has it, then the old content
//! (now under the temporary name) is unlinked. Readers see the same thing as with a plain rename,
//! but ext4 does not force the new file's blocks to disk the way it does when a rename replaces
//! a file (`auto_da_alloc`): measured, that forced writeback was a quarter of a cycle's CPU. A
//! file here lives one interval, so its blocks are usually never written at all. Where exchange
//! is not supported (or there is no old file yet), a plain rename does the job.
//!
//! No fsync, for the same reason: these files are regenerated every interval, and after a crash
//! the next cycle rewrites them. What must survive a crash (history) is written elsewhere.
//!
//! Text files also get a gzip sidecar (`index.html.gz`) for Caddy's `file_server { precompressed
//! gzip }`, written by [`write_with_gz`] and [`write_if_changed_with_gz`]. A file and its sidecar
//! are two renames, not one, so for the moment between them they disagree. The file goes first
//! and its sidecar after, never the other way: a client that takes gzip may get the previous
//! version for that moment (as if it had asked a moment earlier), but never a version the plain
//! file has not reached. If the sidecar cannot be written it is removed, so Caddy serves the
//! file itself rather than stale content until the next cycle.
//!
//! A file under [`GZ_MIN`] bytes gets no sidecar (and one left from when it was larger is
//! removed): gzip's own header and trailer make a badge's 89 B of JSON 112 B, and resetting the
//! compressor costs more than writing such a file. Caddy then serves the file itself.

pub mod hook;

use anyhow::Context;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The mode published files get. Temporary files are created 0600, and the web server usually
/// runs as another user: without this it could not read what we publish. Set with fchmod, not
/// at creation, so a strict umask (systemd's `UMask=`) cannot take the read bits away.
#[cfg(unix)]
const MODE: u32 = 0o644;

/// What a process publishes through: the fingerprints of the files it wrote (so an unchanged
/// file is not rewritten) and the one gzip compressor it reuses. Owned by the cycle
/// (`daemon::cycle::Generator`), which lives as long as the process; a test makes its own, so
/// tests share no cache.
#[derive(Default)]
pub struct Publisher {
    /// What this publisher last wrote or found at each path given to
    /// [`Publisher::write_if_changed`] (and the `_with_gz` twin): a fingerprint of the bytes, and
    /// when the disk was last seen to hold them. An unchanged file then costs a checksum, not the
    /// half-dozen system calls of reading it back: measured, with a badge pair per service those
    /// calls were most of a cycle's CPU. Keyed by a hash of the path ([`path_key`]): a few
    /// files per service, each path kept as a `PathBuf` was 0.7 MB at 1,000 services.
    known: Mutex<HashMap<u64, Known>>,
    /// One compressor, reset between files. A new one allocates and zeroes about 320 KiB;
    /// measured, the page faults of doing that for each file cost more CPU than all the rest of
    /// a cycle. Kept, it stays resident instead (the RSS figure counts it once).
    compressor: Mutex<Option<Compress>>,
}

/// Atomically replaces `dir/name` with `bytes`, creating parent directories as needed. It
/// knows no [`Publisher`]: a file written this way that a publisher also writes must go
/// through [`Publisher::write`], so its fingerprint is dropped.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(name);
    let parent = path.parent().unwrap_or(dir);
    let create = || {
        tempfile::Builder::new()
            .prefix(".publish-")
            .tempfile_in(parent)
    };
    // The directory exists on every cycle but the first: try first, create it only if missing
    // (checking first would cost two failing mkdir calls per file per cycle).
    let tmp = match create() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create directory {}", parent.display()))?;
            create()
        }
        other => other,
    };
    // The messages name the file being published, never the temporary one: its random name
    // would make every cycle's failure a new message, logged again each time.
    let mut tmp = tmp
        .map_err(|e| os_error(&e))
        .with_context(|| format!("cannot create a temporary file in {}", parent.display()))?;
    tmp.write_all(bytes)
        .map_err(|e| os_error(&e))
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(MODE))
            .map_err(|e| os_error(&e))
            .with_context(|| format!("cannot set permissions on {}", path.display()))?;
    }
    let tmp = tmp.into_temp_path();
    let exchanged = rustix::fs::renameat_with(
        rustix::fs::CWD,
        &*tmp,
        rustix::fs::CWD,
        &path,
        rustix::fs::RenameFlags::EXCHANGE,
    );
    match exchanged {
        // The old content now sits under the temporary name; dropping `tmp` unlinks it.
        Ok(()) => Ok(()),
        Err(_) => tmp
            .persist(&path)
            .map_err(|e| os_error(&e.error))
            .with_context(|| format!("cannot replace {}", path.display())),
    }
}

/// An I/O error as the system's words alone. tempfile's errors end in `at path "…/.publish-XXXX"`
/// (and keep the OS code out of reach); cut that off, and the message is the same each time.
fn os_error(e: &std::io::Error) -> std::io::Error {
    if let Some(code) = e.raw_os_error() {
        return std::io::Error::from_raw_os_error(code);
    }
    let text = e.to_string();
    match text.rfind(" at path \"") {
        Some(at) => std::io::Error::new(e.kind(), text[..at].to_string()),
        None => std::io::Error::new(e.kind(), text),
    }
}

/// How long a file is trusted to hold what we left in it before the disk is read again. Bounds
/// how long a file removed behind our back (or a fingerprint collision) goes unnoticed.
const RECHECK: Duration = Duration::from_secs(60);

#[derive(Clone, Copy)]
struct Known {
    /// CRC-32 and length: cheap (the CRC is what gzip computes anyway), and a collision costs
    /// at most one [`RECHECK`] of delay.
    crc: u32,
    len: usize,
    since: Instant,
}

/// A path as [`Publisher`]'s `known` holds it. Two paths with one key would share an entry,
/// and a file would be skipped only if its bytes' CRC and length matched the other's too; a
/// wrong entry lasts at most a [`RECHECK`].
fn path_key(path: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}

fn crc(bytes: &[u8]) -> u32 {
    let mut crc = Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// The gzip level of the sidecars written every cycle (`index.html`, `status.json`, `metrics`,
/// the badges and feeds when they change). Measured (issue 14) with examples/gzip-levels.rs on
/// the outputs of 20 services with full history (`scripts/gzip-levels`; flate2's Rust backend
/// at the release profile; median of 300 compressions, this 2-core machine while busy):
///
/// | level | index.html 50.6 KB | status.json 27.8 KB | metrics 34.3 KB | all: bytes | all: µs |
/// |---|---|---|---|---|---|
/// | 1 | 9,217 B, 199 µs | 6,734 B, 129 µs | 3,157 B, 96 µs | 19,108 | 424 |
/// | 2 | 7,399 B, 199 µs | 5,954 B, 151 µs | 2,699 B, 111 µs | 16,052 | 461 |
/// | 3 | 6,729 B, 294 µs | 5,603 B, 196 µs | 2,498 B, 135 µs | 14,830 | 625 |
/// | 4 | 6,456 B, 379 µs | 5,635 B, 317 µs | 2,450 B, 147 µs | 14,541 | 842 |
/// | 5 | 6,323 B, 462 µs | 5,545 B, 434 µs | 2,429 B, 168 µs | 14,297 | 1,064 |
/// | 6 | 6,182 B, 740 µs | 5,449 B, 775 µs | 2,409 B, 265 µs | 14,040 | 1,780 |
/// | 9 | 6,142 B, 1,036 µs | 5,357 B, 1,290 µs | 2,411 B, 404 µs | 13,910 | 2,730 |
///
/// Each byte saved is saved for every visitor and every poll, each µs is paid once a cycle, so
/// the level is where a byte gets dear: 1 → 2 saves 3,056 B for 37 µs (83 B per µs), 2 → 3
/// 1,222 B for 164 µs (7 B/µs), 3 → 4 289 B for 217 µs (1 B/µs). Level 2 is the knee: 16 %
/// fewer bytes than level 1 for the same CPU.
const GZ_LEVEL: u32 = 2;

/// The level of the assets' sidecars (style.css, live.js, …): written once at start and when
/// the templates change, so the smallest file wins (style.css: 3,843 B at level 1, 3,096 B at
/// 9, 125 µs once).
const GZ_LEVEL_ONCE: u32 = 9;

impl Publisher {
    /// [`write`], and what this publisher knew of the path is no longer true.
    pub fn write(&self, dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.known().remove(&path_key(&dir.join(name)));
        write(dir, name, bytes)
    }

    /// Like [`Publisher::write`], but leaves the file alone when it already holds `bytes`: assets
    /// and their sidecars keep their mtime (and so their ETag) until they really change.
    pub fn write_if_changed(&self, dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<bool> {
        self.publish_if_changed(dir, name, bytes, None)
    }

    fn known(&self) -> MutexGuard<'_, HashMap<u64, Known>> {
        // Nothing panics while holding it; if something did, the map is still a valid cache.
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `gz`: the level of its sidecar, or none.
    fn publish_if_changed(
        &self,
        dir: &Path,
        name: &str,
        bytes: &[u8],
        gz: Option<u32>,
    ) -> anyhow::Result<bool> {
        let path = dir.join(name);
        let sum = crc(bytes);
        let key = path_key(&path);
        let last = self
            .known()
            .get(&key)
            .copied()
            .filter(|k| k.since.elapsed() < RECHECK);
        let same = match last {
            Some(k) if k.crc == sum && k.len == bytes.len() => return Ok(false),
            // We wrote (or read) this file moments ago and it held something else: no need to read
            // it back. This is the path of the files that change every cycle.
            Some(_) => false,
            None => {
                std::fs::metadata(&path).is_ok_and(|meta| meta.len() == bytes.len() as u64)
                    && std::fs::read(&path).is_ok_and(|old| old == bytes)
            }
        };
        if !same {
            write(dir, name, bytes)?;
        }
        // A missing sidecar is written even for an unchanged file: the first run of a version that
        // writes them, or one removed by hand.
        if let Some(level) = gz {
            if bytes.len() < GZ_MIN {
                if !same {
                    remove_stale(&dir.join(gz_name(name)))?;
                }
            } else if !same || !dir.join(gz_name(name)).exists() {
                self.write_gz(dir, name, bytes, sum, level)?;
            }
        }
        let entry = Known {
            crc: sum,
            len: bytes.len(),
            since: Instant::now(),
        };
        self.known().insert(key, entry);
        Ok(!same)
    }

    /// `bytes` gzipped, with no name and no time in the header: the same bytes always give the
    /// same sidecar.
    pub fn gzip(&self, bytes: &[u8]) -> Vec<u8> {
        self.gzip_with_crc(bytes, crc(bytes), GZ_LEVEL)
    }

    /// [`gzip`] for a caller that has the CRC-32 of `bytes` already.
    fn gzip_with_crc(&self, bytes: &[u8], sum: u32, level: u32) -> Vec<u8> {
        // The gzip wrapper (RFC 1952): magic, deflate, no flags, mtime 0, no extra flags, OS
        // unknown; then the raw deflate stream; then CRC-32 and length, little-endian.
        const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        let mut out = Vec::with_capacity(bytes.len() / 3 + 64);
        out.extend_from_slice(&HEADER);
        // A panic while compressing leaves the lock poisoned; the compressor is reset before each
        // use anyway.
        let mut slot = self
            .compressor
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Another level (the assets, once) gets a compressor of its own, dropped after.
        let mut other;
        let compress = if level == GZ_LEVEL {
            slot.get_or_insert_with(|| Compress::new(Compression::new(GZ_LEVEL), false))
        } else {
            other = Compress::new(Compression::new(level), false);
            &mut other
        };
        compress.reset();
        let start = compress.total_in();
        loop {
            let done = (compress.total_in() - start) as usize;
            let status = compress
                .compress_vec(&bytes[done..], &mut out, FlushCompress::Finish)
                .expect("deflate into memory cannot fail");
            if status == Status::StreamEnd {
                break;
            }
            // compress_vec writes only into spare capacity.
            out.reserve(out.capacity().max(1024));
        }
        drop(slot);
        out.extend_from_slice(&sum.to_le_bytes());
        // ISIZE is the length modulo 2^32, by definition.
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out
    }

    /// [`write`], then the gzip sidecar `dir/name.gz` (see the module's note on their order),
    /// or none under [`GZ_MIN`] bytes.
    pub fn write_with_gz(&self, dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.write(dir, name, bytes)?;
        if bytes.len() < GZ_MIN {
            return remove_stale(&dir.join(gz_name(name)));
        }
        self.write_gz(dir, name, bytes, crc(bytes), GZ_LEVEL)
    }

    /// [`Publisher::write_if_changed`] with its sidecar: an unchanged file keeps its sidecar untouched.
    pub fn write_if_changed_with_gz(
        &self,
        dir: &Path,
        name: &str,
        bytes: &[u8],
    ) -> anyhow::Result<bool> {
        self.publish_if_changed(dir, name, bytes, Some(GZ_LEVEL))
    }

    /// [`Publisher::write_if_changed_with_gz`] for a file written once (the assets): its
    /// sidecar at the smallest level, [`GZ_LEVEL_ONCE`].
    pub fn write_once_with_gz(&self, dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<bool> {
        self.publish_if_changed(dir, name, bytes, Some(GZ_LEVEL_ONCE))
    }

    fn write_gz(
        &self,
        dir: &Path,
        name: &str,
        bytes: &[u8],
        sum: u32,
        level: u32,
    ) -> anyhow::Result<()> {
        let gz = gz_name(name);
        write(dir, &gz, &self.gzip_with_crc(bytes, sum, level)).inspect_err(|_| {
            // The file is newer than this sidecar now: better none than a stale one.
            let _ = std::fs::remove_file(dir.join(&gz));
        })
    }
}

/// Files smaller than this get no gzip sidecar: Caddy's `encode` does not compress them either
/// (its `minimum_length` is 512), and below it gzip saves a few bytes at best.
pub const GZ_MIN: usize = 512;

/// Removes the sidecar `path` of a file that is now too small for one, if it is there.
fn remove_stale(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(anyhow::anyhow!("cannot remove {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

fn gz_name(name: &str) -> String {
    format!("{name}.gz")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the publisher keeps of each file it wrote is a few fixed-size integers, whatever
    /// the length of its path (a `PathBuf` and its bytes were most of it).
    #[test]
    fn what_is_known_of_a_file_does_not_grow_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = Publisher::default();
        let long = "x".repeat(200);
        for i in 0..100 {
            p.write_if_changed(dir.path(), &format!("{long}-{i}"), b"a")
                .unwrap();
        }
        let known = p.known();
        assert_eq!(known.len(), 100);
        for (key, entry) in known.iter() {
            assert!(size_of_val(key) + size_of_val(entry) <= 40);
        }
    }

    /// Assets are compressed once, at level 9; the files of every cycle at level 2 (issue 14).
    #[test]
    fn assets_get_the_smallest_sidecar_and_the_files_of_every_cycle_a_cheap_one() {
        let style = crate::output::site::templates::EMBEDDED
            .iter()
            .find(|(n, _)| *n == "assets/style.css")
            .unwrap()
            .1
            .as_bytes();
        let (once, cycle) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let p = Publisher::default();
        p.write_once_with_gz(once.path(), "style.css", style)
            .unwrap();
        p.write_if_changed_with_gz(cycle.path(), "style.css", style)
            .unwrap();
        let once = std::fs::read(once.path().join("style.css.gz")).unwrap();
        let cycle = std::fs::read(cycle.path().join("style.css.gz")).unwrap();
        assert!(
            once.len() < cycle.len(),
            "{} against {}",
            once.len(),
            cycle.len()
        );
        // Level 2, not 1: smaller than a level-1 stream of the same bytes.
        let mut one = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
        std::io::Write::write_all(&mut one, style).unwrap();
        assert!(cycle.len() < one.finish().unwrap().len());
        for gz in [&once, &cycle] {
            let mut back = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut back)
                .unwrap();
            assert_eq!(back, style);
        }
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a/b.txt", b"one").unwrap();
        write(dir.path(), "a/b.txt", b"two").unwrap();
        assert_eq!(std::fs::read(dir.path().join("a/b.txt")).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["b.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn published_files_are_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "x.html", b"x").unwrap();
        let mode = std::fs::metadata(dir.path().join("x.html"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn unchanged_content_is_not_rewritten() {
        let p = Publisher::default();
        let dir = tempfile::tempdir().unwrap();
        assert!(p.write_if_changed(dir.path(), "s.css", b"a").unwrap());
        let inode = |p: &Path| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(p).unwrap().ino()
        };
        let before = inode(&dir.path().join("s.css"));
        assert!(!p.write_if_changed(dir.path(), "s.css", b"a").unwrap());
        assert_eq!(inode(&dir.path().join("s.css")), before);
        assert!(p.write_if_changed(dir.path(), "s.css", b"b").unwrap());
        assert_ne!(inode(&dir.path().join("s.css")), before);
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn the_sidecar_holds_the_file_gzipped_and_is_deterministic() {
        let p = Publisher::default();
        let dir = tempfile::tempdir().unwrap();
        let text = "<p>hello</p>\n".repeat(100);
        p.write_with_gz(dir.path(), "a/index.html", text.as_bytes())
            .unwrap();
        let gz = std::fs::read(dir.path().join("a/index.html.gz")).unwrap();
        assert_eq!(gunzip(&gz), text.as_bytes());
        assert!(gz.len() < text.len() / 10, "{} bytes", gz.len());
        assert_eq!(p.gzip(text.as_bytes()), gz, "same bytes, same sidecar");
        assert_eq!(&gz[4..8], &[0, 0, 0, 0], "no time in the header");
    }

    #[test]
    fn gzip_round_trips_empty_and_incompressible_input() {
        let p = Publisher::default();
        assert_eq!(gunzip(&p.gzip(b"")), b"");
        // Noise does not shrink: the output outgrows its first allocation.
        let mut x = 1u32;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        let gz = p.gzip(&noise);
        assert!(gz.len() > noise.len());
        assert_eq!(gunzip(&gz), noise);
        assert_eq!(
            gunzip(&p.gzip(b"again")),
            b"again",
            "the compressor is reset"
        );
    }

    #[test]
    fn an_unchanged_file_keeps_its_sidecar_and_a_missing_one_comes_back() {
        let p = Publisher::default();
        use std::os::unix::fs::MetadataExt;
        // Past GZ_MIN, so they get a sidecar.
        let (one, two) = ("one ".repeat(200), "two ".repeat(200));
        let (one, two) = (one.as_bytes(), two.as_bytes());
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("feed.xml.gz");
        let id = |p: &Path| {
            let m = std::fs::metadata(p).unwrap();
            (m.ino(), m.mtime(), m.mtime_nsec())
        };
        assert!(
            p.write_if_changed_with_gz(dir.path(), "feed.xml", one)
                .unwrap()
        );
        let before = id(&gz);
        assert!(
            !p.write_if_changed_with_gz(dir.path(), "feed.xml", one)
                .unwrap()
        );
        assert_eq!(id(&gz), before);
        assert!(
            p.write_if_changed_with_gz(dir.path(), "feed.xml", two)
                .unwrap()
        );
        assert_eq!(gunzip(&std::fs::read(&gz).unwrap()), two);
        // Removed by hand: trusted to be there until the next look at the disk, then restored.
        std::fs::remove_file(&gz).unwrap();
        assert!(
            !p.write_if_changed_with_gz(dir.path(), "feed.xml", two)
                .unwrap()
        );
        assert!(!gz.exists());
        // As after RECHECK, or in the next process.
        p.known().remove(&path_key(&dir.path().join("feed.xml")));
        assert!(
            !p.write_if_changed_with_gz(dir.path(), "feed.xml", two)
                .unwrap()
        );
        assert_eq!(gunzip(&std::fs::read(&gz).unwrap()), two);
    }

    #[test]
    fn a_small_file_gets_no_sidecar_and_loses_the_one_it_had() {
        let p = Publisher::default();
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("badge.json.gz");
        let big = "x".repeat(GZ_MIN);
        p.write_if_changed_with_gz(dir.path(), "badge.json", big.as_bytes())
            .unwrap();
        assert!(gz.exists(), "a file of GZ_MIN bytes has a sidecar");
        // Smaller now: the old sidecar would serve the old content.
        p.write_if_changed_with_gz(dir.path(), "badge.json", b"{\"small\":1}")
            .unwrap();
        assert!(!gz.exists(), "the stale sidecar is gone");
        p.write_with_gz(dir.path(), "other.json", b"{}").unwrap();
        assert!(!dir.path().join("other.json.gz").exists());
        assert_eq!(std::fs::read(dir.path().join("other.json")).unwrap(), b"{}");
    }

    #[test]
    fn a_sidecar_that_cannot_be_written_is_an_error_after_the_file() {
        let p = Publisher::default();
        let dir = tempfile::tempdir().unwrap();
        // 253 bytes is a valid name, 256 (with ".gz") is not.
        let name = "x".repeat(253);
        let e = p.write_with_gz(dir.path(), &name, b"new").unwrap_err();
        assert!(format!("{e:#}").contains("cannot"), "{e:#}");
        assert_eq!(std::fs::read(dir.path().join(&name)).unwrap(), b"new");
        assert!(!dir.path().join(format!("{name}.gz")).exists());
    }

    #[test]
    fn errors_never_name_the_temporary_file() {
        let missing = tempfile::tempdir().unwrap().path().join("gone");
        let e = tempfile::Builder::new()
            .prefix(".publish-")
            .tempfile_in(&missing)
            .unwrap_err();
        assert!(
            e.to_string().contains(".publish-"),
            "tempfile names it: {e}"
        );
        let plain = os_error(&e);
        assert!(!plain.to_string().contains(".publish-"), "{plain}");
        assert!(plain.to_string().contains("(os error 2)"), "{plain}");
    }
}
