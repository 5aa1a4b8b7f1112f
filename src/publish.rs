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

use anyhow::Context;
use std::io::Write;
use std::path::Path;

/// The mode published files get. Temporary files are created 0600, and the web server usually
/// runs as another user: without this it could not read what we publish. Set with fchmod, not
/// at creation, so a strict umask (systemd's `UMask=`) cannot take the read bits away.
#[cfg(unix)]
const MODE: u32 = 0o644;

/// Atomically replaces `dir/name` with `bytes`, creating parent directories as needed.
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
    let mut tmp =
        tmp.with_context(|| format!("cannot create a temporary file in {}", parent.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(MODE))
            .with_context(|| format!("cannot set permissions on {}", tmp.path().display()))?;
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
            .map_err(|e| e.error)
            .with_context(|| format!("cannot replace {}", path.display())),
    }
}

/// Like [`write`], but leaves the file alone when it already holds `bytes`: assets and their
/// sidecars keep their mtime (and so their ETag) until they really change.
pub fn write_if_changed(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<bool> {
    let path = dir.join(name);
    if let Ok(meta) = std::fs::metadata(&path)
        && meta.len() == bytes.len() as u64
        && std::fs::read(&path).is_ok_and(|old| old == bytes)
    {
        return Ok(false);
    }
    write(dir, name, bytes)?;
    Ok(true)
}

/// The sidecars' gzip level. Measured on the outputs of 15 services (see the report on the
/// feeds branch): level 1 gives files within a few percent of level 6 at a third of its CPU,
/// and `status.json` and `index.html` are compressed every cycle.
const GZ_LEVEL: u32 = 1;

/// `bytes` gzipped, with no name and no time in the header: the same bytes always give the
/// same sidecar.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use flate2::{Compression, write::GzEncoder};
    let mut gz = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3 + 64),
        Compression::new(GZ_LEVEL),
    );
    gz.write_all(bytes).expect("writing to memory cannot fail");
    gz.finish().expect("writing to memory cannot fail")
}

/// [`write`], then the gzip sidecar `dir/name.gz` (see the module's note on their order).
pub fn write_with_gz(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    write(dir, name, bytes)?;
    write_gz(dir, name, bytes)
}

/// [`write_if_changed`] with its sidecar: an unchanged file keeps its sidecar untouched, unless
/// the sidecar is missing (a first run of a version that writes them, or someone removed it).
pub fn write_if_changed_with_gz(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<bool> {
    let changed = write_if_changed(dir, name, bytes)?;
    if changed || !dir.join(gz_name(name)).exists() {
        write_gz(dir, name, bytes)?;
    }
    Ok(changed)
}

fn write_gz(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let gz = gz_name(name);
    write(dir, &gz, &gzip(bytes)).inspect_err(|_| {
        // The file is newer than this sidecar now: better none than a stale one.
        let _ = std::fs::remove_file(dir.join(&gz));
    })
}

fn gz_name(name: &str) -> String {
    format!("{name}.gz")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let dir = tempfile::tempdir().unwrap();
        assert!(write_if_changed(dir.path(), "s.css", b"a").unwrap());
        let inode = |p: &Path| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(p).unwrap().ino()
        };
        let before = inode(&dir.path().join("s.css"));
        assert!(!write_if_changed(dir.path(), "s.css", b"a").unwrap());
        assert_eq!(inode(&dir.path().join("s.css")), before);
        assert!(write_if_changed(dir.path(), "s.css", b"b").unwrap());
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
        let dir = tempfile::tempdir().unwrap();
        let text = "<p>hello</p>\n".repeat(100);
        write_with_gz(dir.path(), "a/index.html", text.as_bytes()).unwrap();
        let gz = std::fs::read(dir.path().join("a/index.html.gz")).unwrap();
        assert_eq!(gunzip(&gz), text.as_bytes());
        assert!(gz.len() < text.len() / 10, "{} bytes", gz.len());
        assert_eq!(gzip(text.as_bytes()), gz, "same bytes, same sidecar");
        assert_eq!(&gz[4..8], &[0, 0, 0, 0], "no time in the header");
    }

    #[test]
    fn an_unchanged_file_keeps_its_sidecar_and_a_missing_one_comes_back() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("feed.xml.gz");
        let id = |p: &Path| {
            let m = std::fs::metadata(p).unwrap();
            (m.ino(), m.mtime(), m.mtime_nsec())
        };
        assert!(write_if_changed_with_gz(dir.path(), "feed.xml", b"one").unwrap());
        let before = id(&gz);
        assert!(!write_if_changed_with_gz(dir.path(), "feed.xml", b"one").unwrap());
        assert_eq!(id(&gz), before);
        assert!(write_if_changed_with_gz(dir.path(), "feed.xml", b"two").unwrap());
        assert_eq!(gunzip(&std::fs::read(&gz).unwrap()), b"two");
        std::fs::remove_file(&gz).unwrap();
        assert!(!write_if_changed_with_gz(dir.path(), "feed.xml", b"two").unwrap());
        assert_eq!(gunzip(&std::fs::read(&gz).unwrap()), b"two");
    }

    #[test]
    fn a_sidecar_that_cannot_be_written_is_an_error_after_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // 253 bytes is a valid name, 256 (with ".gz") is not.
        let name = "x".repeat(253);
        let e = write_with_gz(dir.path(), &name, b"new").unwrap_err();
        assert!(format!("{e:#}").contains("cannot"), "{e:#}");
        assert_eq!(std::fs::read(dir.path().join(&name)).unwrap(), b"new");
        assert!(!dir.path().join(format!("{name}.gz")).exists());
    }
}
