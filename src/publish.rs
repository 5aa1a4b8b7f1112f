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
}
