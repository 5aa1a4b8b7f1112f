//! The process's name (`/proc/self/comm`, what `ps`, `top`, `pgrep` and `killall` show) after
//! this binary re-executed itself.
//!
//! **Why.** [`crate::secret_env`] and [`crate::arena`] re-execute the binary through
//! `/proc/self/exe`, the one path that still reaches the file we run after an upgrade replaced
//! it on disk. The kernel names a process after the last part of the path it was executed
//! through, so after either re-exec the daemon was called `exe`: a systemd unit with
//! `LoadCredential=` (the production setup) ran as `exe`, and `pgrep cortex-status` found
//! nothing. So the new image gives itself back the name the first one had: the file name of
//! the binary, as the kernel would have set it (at most 15 bytes).

/// Names this process after its binary when the kernel named it `exe` (a re-exec through
/// `/proc/self/exe`). Call at start, before any thread: threads take their name from the one
/// that starts them. Does nothing elsewhere, and nothing when the binary is itself called `exe`.
pub fn restore() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let Ok(comm) = std::fs::read_to_string("/proc/self/comm") else {
        return;
    };
    if comm.trim_end() != "exe" {
        return;
    }
    let Some(name) = binary_name() else {
        return;
    };
    if name != "exe" {
        // Best effort: a name is for people, the daemon runs the same without it.
        let _ = std::fs::write("/proc/self/comm", name);
    }
}

/// The file name of the binary we run, cut to the kernel's 15 bytes (on a character boundary).
/// An upgrade that replaced the file leaves " (deleted)" after the link's target.
fn binary_name() -> Option<String> {
    name_of(&std::fs::read_link("/proc/self/exe").ok()?)
}

/// [`binary_name`] of the link's target `target`.
fn name_of(target: &std::path::Path) -> Option<String> {
    let name = target.file_name()?.to_string_lossy().into_owned();
    let name = name.strip_suffix(" (deleted)").unwrap_or(&name);
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    Some(name[..end].to_string()).filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::name_of;
    use std::path::Path;

    #[test]
    fn the_name_is_the_binarys_file_name_as_the_kernel_cuts_it() {
        let name = |p: &str| name_of(Path::new(p));
        assert_eq!(
            name("/usr/bin/cortex-status").as_deref(),
            Some("cortex-status")
        );
        // Replaced on disk by an upgrade while running.
        assert_eq!(
            name("/usr/bin/cortex-status (deleted)").as_deref(),
            Some("cortex-status")
        );
        assert_eq!(
            name("/opt/cortex-status-nightly").as_deref(),
            Some("cortex-status-n")
        );
        // 15 bytes would split the "é".
        assert_eq!(
            name("/opt/cortex-statusxé").as_deref(),
            Some("cortex-statusx")
        );
        assert_eq!(name("/"), None);
    }
}
