//! The C library's memory arenas: a daemon of [`FROM`] services or more runs with one
//! (`MALLOC_ARENA_MAX=1`), set by re-executing itself at start when the variable is not set.
//!
//! **Why.** glibc gives each thread that allocates an arena of its own (up to eight per core),
//! and memory freed in one arena serves only the threads of that arena. The cycle's blocking
//! task, the per-service files' job and the history save run on whichever blocking-pool thread
//! is free, so every arena grows to the largest cycle it ever served and keeps it. Measured at
//! 1,000 services with a year of history (`scripts/bench-cycle --services 1000 --peers 20
//! --history-days 365 --interval 1s`): 60 MiB resident with the default arenas, 51 MiB with two,
//! 45 MiB with one, for the same wall per cycle. It costs CPU, though (measured side by side,
//! `MALLOC_ARENA_MAX=1` against 16 on the same build): about 20 ms more system time a cycle at
//! 1,000 services (137–144 against 116–122 ms). Measured again later (2026-11-30, three runs
//! of each alternated, a year of history, `--tmpdir /dev/shm`): at 100 services one arena cost
//! 9.75–10.5 against 8.75–9.5 ms a cycle for 9.9–10.1 against 10.9 MiB; at 10 services no
//! CPU the tick could see (2.2–2.3 against 2.25–2.45 ms) for 8.7 against 9.0–9.3 MiB. So only a
//! config of [`FROM`] services or more (counted as `[[service]]` headers in the config file,
//! which is all there is to read before the exec) gets it: below, the default.
//!
//! **Why a re-exec.** glibc reads the variable once, when the process starts; the call that
//! would set it in-process (`mallopt`) is `unsafe`, which this crate forbids. So, as
//! [`crate::secret_env`] does for the secrets, the binary executes itself again
//! (`/proc/self/exe`, same pid, same arguments) with the variable set. Only the long-running
//! commands (`run`, `build`) do; a variable already set (by the operator, or by the first
//! image) is left as it is, so an operator can choose other arenas. If the exec fails the daemon
//! runs on with glibc's default: it only costs memory.
//!
//! Children (`on_publish`) inherit the variable; for them it only means one arena too.

use std::os::unix::process::CommandExt;

/// The variable glibc reads at start.
pub const VAR: &str = "MALLOC_ARENA_MAX";

/// From how many services one arena pays for its CPU.
pub const FROM: usize = 500;

/// The `[[service]]` tables a config file's text declares.
pub fn services_in(config_text: &str) -> usize {
    config_text
        .lines()
        .filter(|l| l.trim_start().starts_with("[[service]]"))
        .count()
}

/// Re-executes this binary with [`VAR`] set to 1 when `config_text` declares [`FROM`] services
/// or more and the variable is not set. Call first thing in `main`, while the process has one
/// thread. Returns only when no exec happened: too few services, the variable was set, this is
/// not a glibc build, or the exec failed (its error).
pub fn one(config_text: Option<&str>) -> Option<std::io::Error> {
    if !cfg!(all(target_os = "linux", target_env = "gnu"))
        || std::env::var_os(VAR).is_some()
        || config_text.map_or(0, services_in) < FROM
    {
        return None;
    }
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "cortex-status".into());
    // Only returns on failure.
    Some(
        std::process::Command::new("/proc/self/exe")
            .arg0(arg0)
            .args(args)
            .env(VAR, "1")
            .exec(),
    )
}
