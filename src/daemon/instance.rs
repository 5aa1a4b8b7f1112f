//! What one running instance claims and tidies at start: an exclusive lock on `state_dir`, and
//! the temporary files an earlier instance left behind when it was killed mid-write.
//!
//! **The lock.** Two processes writing one history file would each overwrite the other's counts
//! without a word, so `run` and `build` take an exclusive `flock` on `state_dir/LOCK_FILE` before
//! anything else and hold it until they exit (the kernel drops it then, even after `kill -9`, so
//! a stale lock file never blocks a start). The file holds the holder's pid, so the second
//! instance can say whose lock it is. The file is left in place at exit: removing it would let
//! a third process lock a new inode while a second still holds the old one.
//!
//! **The leftovers.** Every file is written as a temporary file beside it and renamed into
//! place; a kill between the two leaves the temporary file. Only our own temporary names
//! ([`TEMP_PREFIXES`] followed by the random suffix `tempfile` adds) are removed, and only once
//! the lock is held, so they cannot belong to a live instance sharing `state_dir`.

use anyhow::Context as _;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

/// The lock file's name in `state_dir`.
pub const LOCK_FILE: &str = "cortex-status.lock";

/// The prefixes of the temporary files this program writes (publish.rs, history.rs).
pub const TEMP_PREFIXES: &[&str] = &[".publish-", ".history-"];

/// How deep under `out_dir` leftovers are looked for (`badges/`, `assets/`, custom pages'
/// directories); the published tree is shallow, and a bound keeps a mistaken `out_dir = "/"`
/// from walking the disk.
const MAX_DEPTH: usize = 4;

/// The lock on `state_dir`, held as long as this value lives.
#[derive(Debug)]
pub struct Lock {
    _file: std::fs::File,
    pub path: PathBuf,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another cortex-status{} is using state_dir {dir} (it holds {lock}); stop it, or give \
         this one another state_dir",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        dir = dir.display(),
        lock = lock.display()
    )]
    Held {
        pid: Option<u32>,
        dir: PathBuf,
        lock: PathBuf,
    },
    #[error("cannot lock state_dir {}: {problem:#}", dir.display())]
    Io {
        dir: PathBuf,
        problem: anyhow::Error,
    },
}

/// Creates `state_dir` if needed and takes the lock, without waiting: a second instance fails
/// at once, naming the first one's pid.
pub fn lock(state_dir: &Path) -> Result<Lock, LockError> {
    let io = |problem: anyhow::Error| LockError::Io {
        dir: state_dir.to_path_buf(),
        problem,
    };
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("cannot create {}", state_dir.display()))
        .map_err(io)?;
    let path = state_dir.join(LOCK_FILE);
    // Not truncated on open: until we hold the lock, the pid in it is the holder's.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))
        .map_err(io)?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let mut text = String::new();
            // The holder may be between truncating and writing: then the pid is unknown.
            let _ = std::io::Read::by_ref(&mut file)
                .take(32)
                .read_to_string(&mut text);
            return Err(LockError::Held {
                pid: text.trim().parse().ok(),
                dir: state_dir.to_path_buf(),
                lock: path,
            });
        }
        Err(e) => {
            return Err(io(anyhow::Error::from(std::io::Error::from(e))
                .context(format!("cannot lock {}", path.display()))));
        }
    }
    let pid = std::process::id();
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{pid}"));
    if let Err(e) = written {
        // The lock holds without the pid; a second instance just cannot name us.
        tracing::warn!("cannot write the pid into {}: {e}", path.display());
    }
    Ok(Lock { _file: file, path })
}

/// Removes our temporary files from `out_dir` (and the directories under it, to
/// [`MAX_DEPTH`]) and from `state_dir`. Returns how many were removed; problems are logged, not
/// fatal (a leftover costs disk space, not correctness).
pub fn remove_leftovers(out_dir: &Path, state_dir: &Path) -> usize {
    let mut removed = 0;
    sweep(out_dir, MAX_DEPTH, &mut removed);
    if state_dir != out_dir {
        sweep(state_dir, 0, &mut removed);
    }
    if removed > 0 {
        tracing::info!("removed {removed} temporary file(s) left by an earlier run");
    }
    removed
}

fn sweep(dir: &Path, depth: usize, removed: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        // Missing (a first start) or unreadable: the first write will say so if it matters.
        return;
    };
    for entry in entries.flatten() {
        // `file_type` does not follow symlinks: a link to elsewhere is neither walked nor removed.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            if depth > 0 {
                sweep(&path, depth - 1, removed);
            }
        } else if kind.is_file() && is_ours(&entry.file_name().to_string_lossy()) {
            match std::fs::remove_file(&path) {
                Ok(()) => *removed += 1,
                Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
            }
        }
    }
}

/// A temporary name of ours: a prefix, then `tempfile`'s random suffix (letters and digits).
fn is_ours(name: &str) -> bool {
    TEMP_PREFIXES.iter().any(|prefix| {
        name.strip_prefix(prefix).is_some_and(|rest| {
            (1..=32).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_temporary_names_are_ours() {
        assert!(is_ours(".publish-AbC123"));
        assert!(is_ours(".history-x9Y8z7"));
        for other in [
            ".publish-",
            ".publish-abc.html",
            "publish-abc123",
            ".history-../x",
            "history.json",
            "history.json.corrupt-20261130T000000Z",
            ".htaccess",
            "cortex-status.lock",
        ] {
            assert!(!is_ours(other), "{other}");
        }
    }

    #[test]
    fn the_second_lock_fails_naming_the_first_pid() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = lock(&state).unwrap();
        let second = lock(&state).unwrap_err();
        let message = second.to_string();
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        drop(first);
        lock(&state).expect("free again once the holder is gone");
    }

    #[test]
    fn leftovers_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let (out, state) = (dir.path().join("public"), dir.path().join("state"));
        std::fs::create_dir_all(out.join("badges")).unwrap();
        std::fs::create_dir_all(&state).unwrap();
        for p in [
            out.join(".publish-aaaaaa"),
            out.join("badges/.publish-bbbbbb"),
            state.join(".history-cccccc"),
        ] {
            std::fs::write(p, "x").unwrap();
        }
        for p in [
            out.join("index.html"),
            out.join(".well-known"),
            state.join("history.json"),
        ] {
            std::fs::write(p, "x").unwrap();
        }
        assert_eq!(remove_leftovers(&out, &state), 3);
        let mut left: Vec<String> = walk(dir.path());
        left.sort();
        assert_eq!(
            left,
            [
                "public/.well-known",
                "public/index.html",
                "state/history.json"
            ]
        );
    }

    fn walk(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(
                        e.path()
                            .strip_prefix(root)
                            .unwrap()
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
        }
        out
    }
}
