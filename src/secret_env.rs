//! The two secrets out of the process environment, so that no child (the `on_publish` command)
//! and no other process of our user can read them from `/proc/<pid>/environ`.
//!
//! Why a re-exec: `/proc/<pid>/environ` shows the environment block the process was *started*
//! with; `unsetenv` (and Rust's `remove_var`, which is `unsafe` in edition 2024 and forbidden
//! here) changes only the C library's copy, never that block. The only safe way to get a new
//! block is a new `execve`. So at the very start of `main`, before any thread exists, when one
//! of [`SECRET_VARS`] or `CREDENTIALS_DIRECTORY` is set:
//!
//! 1. the secret variables (names and values, as given: a `*_FILE` variable still names its
//!    file, which the config reads as before) are written to a `memfd` (memory only, never
//!    disk; `memfd_create` is in systemd's `@system-service` filter);
//! 2. the same binary (`/proc/self/exe`, the file we run even if it was replaced on disk) is
//!    exec'd with the same arguments, those variables and `CREDENTIALS_DIRECTORY` removed, the
//!    memfd as its stdin and [`MARKER`] set;
//! 3. the new image sees the marker, checks that stdin really is our memfd, reads the
//!    variables, empties the memfd and puts `/dev/null` back on stdin. The values live on only
//!    in this process's memory ([`handed_over`], merged into [`crate::config::process_env`], so
//!    a config reload reads them as the start did).
//!
//! The pid stays the same (systemd and the tests follow it). When the daemon holds a secret it
//! also makes itself non-dumpable: `/proc/<pid>/mem`, `environ`, `fd/` become unreadable to
//! other processes of its user, its own children included, and no core file is written.
//!
//! The same goes for every variable the config file names as `${NAME}` (and its `NAME_FILE`):
//! a value interpolated into the config is as likely a credential (`url =
//! "http://app:${DB_PASSWORD}@db/"`) as the two. Only the conventional non-secret variables
//! ([`NEVER_SECRET`]: `PATH`, `HOME`, …) stay, since the daemon and its children need them.
//!
//! If the re-exec cannot happen (no `/proc`), the daemon runs on with the variables where they
//! were and says so in the log: a status page that stays up beats one that refuses to start.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The variables that hold a secret or name a file that does.
pub const SECRET_VARS: [&str; 4] = [
    "STATUS_TASK_PASSWORD",
    "STATUS_TASK_PASSWORD_FILE",
    "SYMBIONT_TOKEN",
    "SYMBIONT_TOKEN_FILE",
];
/// Variables a config may name in `${…}` that are never secrets and that the daemon and its
/// children need where they are (a sync command needs `HOME` and `PATH`).
const NEVER_SECRET: [&str; 17] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "PWD",
    "LANG",
    "TZ",
    "TMPDIR",
    "HOSTNAME",
    "PORT",
    "RUST_LOG",
    "SYMBIONT_URL",
    "STATUS_PUBLIC_URL",
    "STATE_DIRECTORY",
    "RUNTIME_DIRECTORY",
    "CONFIGURATION_DIRECTORY",
];
/// systemd's directory of this service's credentials. The `*_FILE` variables already name the
/// files in it (`%d/task-password`), so it is dropped, not handed over: a child that finds no
/// such variable anywhere has to guess the path.
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";
/// Set on the re-executed image: "your stdin is the handoff". Not a secret.
pub const MARKER: &str = "CORTEX_STATUS_SECRETS_ON_STDIN";
/// The memfd's name; `/proc/self/fd/0` reads `/memfd:<this> (deleted)`.
const MEMFD_NAME: &str = "cortex-status-secrets";
/// More than this on the handoff is not ours: no secret or path is this long.
const MAX_HANDOFF: u64 = 1 << 20;

static HANDED_OVER: OnceLock<Vec<(String, String)>> = OnceLock::new();

/// The secret variables handed over at start, for [`crate::config::process_env`]; empty when
/// there were none (or they could not be moved and are still in the real environment).
pub fn handed_over() -> &'static [(String, String)] {
    HANDED_OVER.get().map_or(&[], Vec::as_slice)
}

/// Moves the secrets out of the environment; see the module text. `config_text` is the config
/// file about to be loaded, if any: the variables it names in `${…}` move too. Call first thing
/// in `main`, while the process has one thread. Returns only in the process that will run; a
/// problem worth a log line (logging is not set up yet) comes back as text.
pub fn scrub(config_text: Option<&str>) -> Option<String> {
    if std::env::var_os(MARKER).is_some() && stdin_is_handoff() {
        return receive();
    }
    let mut names: Vec<String> = SECRET_VARS.iter().map(|n| n.to_string()).collect();
    for name in config_text.map(referenced_names).unwrap_or_default() {
        for name in [format!("{name}_FILE"), name] {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let present: Vec<(String, OsString)> = names
        .into_iter()
        .filter_map(|name| std::env::var_os(&name).map(|v| (name, v)))
        .collect();
    if present.is_empty() && std::env::var_os(CREDENTIALS_DIRECTORY).is_none() {
        return None;
    }
    // Only returns when the exec failed.
    let error = reexec(&present);
    harden(!present.is_empty());
    Some(format!(
        "could not re-execute without the secrets in the environment ({error}): they stay \
         readable in /proc/{}/environ to processes of this user, on_publish included",
        std::process::id()
    ))
}

/// Writes the variables to a memfd and execs this binary with it as stdin. Returns the error
/// when the exec failed (on success it does not return).
fn reexec(present: &[(String, OsString)]) -> std::io::Error {
    let memfd = match rustix::fs::memfd_create(MEMFD_NAME, rustix::fs::MemfdFlags::CLOEXEC) {
        Ok(fd) => fd,
        Err(e) => return e.into(),
    };
    let mut file = File::from(memfd);
    let mut payload = Vec::new();
    for (name, value) in present {
        // NAME=VALUE\0, as in /proc/pid/environ: neither can hold a NUL.
        payload.extend_from_slice(name.as_bytes());
        payload.push(b'=');
        payload.extend_from_slice(value.as_bytes());
        payload.push(0);
    }
    if let Err(e) = file.write_all(&payload).and_then(|()| file.rewind()) {
        return e;
    }
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "cortex-status".into());
    let mut command = Command::new("/proc/self/exe");
    command
        .arg0(arg0)
        .args(args)
        .env(MARKER, "1")
        .env_remove(CREDENTIALS_DIRECTORY)
        .stdin(Stdio::from(file));
    for (name, _) in present {
        command.env_remove(name);
    }
    let error = command.exec();
    // A failed exec may have put the memfd on stdin already.
    restore_stdin();
    error
}

/// Whether fd 0 is the memfd a re-exec left: the marker alone could be set by anyone.
fn stdin_is_handoff() -> bool {
    std::fs::read_link("/proc/self/fd/0").is_ok_and(|target| {
        target
            .as_os_str()
            .as_bytes()
            .starts_with(format!("/memfd:{MEMFD_NAME}").as_bytes())
    })
}

/// In the re-executed image: reads the handoff, wipes it, and gives stdin back to /dev/null.
fn receive() -> Option<String> {
    let mut payload = Vec::new();
    let read = std::io::stdin()
        .lock()
        .take(MAX_HANDOFF)
        .read_to_end(&mut payload);
    // The only other copy of the values is this memfd: empty it before letting it go.
    let _ = rustix::fs::ftruncate(std::io::stdin(), 0);
    restore_stdin();
    if let Err(e) = read {
        return Some(format!(
            "could not read the secrets handed over at start: {e}"
        ));
    }
    let (vars, problem) = parse(&payload);
    harden(!vars.is_empty());
    let _ = HANDED_OVER.set(vars);
    problem
}

/// The variables in an environ-style payload (`NAME=VALUE\0`…), and a problem to log.
fn parse(payload: &[u8]) -> (Vec<(String, String)>, Option<String>) {
    let mut vars = Vec::new();
    let mut problem = None;
    for entry in payload.split(|&b| b == 0) {
        let Some(eq) = entry.iter().position(|&b| b == b'=') else {
            continue;
        };
        let Ok(name) = std::str::from_utf8(&entry[..eq]) else {
            continue;
        };
        if !is_name(name) {
            continue;
        }
        match String::from_utf8(entry[eq + 1..].to_vec()) {
            Ok(value) => vars.push((name.to_string(), value)),
            // Never the value itself: it is the secret.
            Err(_) => problem = Some(format!("{name} is not UTF-8 text: ignored")),
        }
    }
    (vars, problem)
}

/// The variable names a config text refers to as `${NAME}`, but for [`NEVER_SECRET`] ones. A
/// plain scan, not a TOML parse: a `${…}` in a comment moves a variable needlessly, which is
/// harmless, and the file may not even parse (then `check` or `run` says so, as before).
pub fn referenced_names(config_text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for piece in config_text.split("${").skip(1) {
        let Some(end) = piece.find('}') else { continue };
        let name = &piece[..end];
        if is_name(name) && !NEVER_SECRET.contains(&name) && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

/// `[A-Za-z_][A-Za-z0-9_]*`: what a shell calls a variable name.
fn is_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Puts /dev/null on stdin; the daemon never reads stdin.
fn restore_stdin() {
    if let Ok(null) = File::open("/dev/null") {
        let _ = rustix::stdio::dup2_stdin(null);
    }
}

/// A process holding a secret is made non-dumpable: see the module text.
fn harden(holds_secret: bool) {
    if holds_secret {
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_keeps_variables_with_proper_names() {
        let (vars, problem) =
            parse(b"SYMBIONT_TOKEN=a=b\0bad name=x\0STATUS_TASK_PASSWORD_FILE=/run/x\0junk\0\0");
        assert_eq!(
            vars,
            [
                ("SYMBIONT_TOKEN".to_string(), "a=b".to_string()),
                (
                    "STATUS_TASK_PASSWORD_FILE".to_string(),
                    "/run/x".to_string()
                )
            ]
        );
        assert_eq!(problem, None);
        let (vars, problem) = parse(b"STATUS_TASK_PASSWORD=s3cr\xffet\0");
        assert!(vars.is_empty());
        let problem = problem.unwrap();
        assert!(problem.contains("STATUS_TASK_PASSWORD") && !problem.contains("s3cr"));
    }

    #[test]
    fn variables_named_in_the_config_are_found_but_not_the_conventional_ones() {
        let text = r#"
            url = "http://app:${DB_PASSWORD}@db/"   # and ${API_KEY} in a comment
            path = "${HOME}/x/${PATH}"
            again = "${DB_PASSWORD}", odd = "${not a name}", open = "${UNCLOSED"
        "#;
        assert_eq!(referenced_names(text), ["DB_PASSWORD", "API_KEY"]);
        assert!(referenced_names("no references").is_empty());
        assert!(is_name("_A1") && !is_name("1A") && !is_name("") && !is_name("A-B"));
    }

    #[test]
    fn stdin_of_a_test_is_not_a_handoff() {
        assert!(!stdin_is_handoff());
        assert!(handed_over().is_empty());
    }
}
