//! The `on_publish` hook: a shell command run after each publish, to sync out_dir to a CDN or an
//! object store. It owns when the command runs, for how long, and what its failure becomes; it
//! must never stop or delay the snapshot loop.
//!
//! - One run at a time. A publish while a run is going on is *coalesced*: it asks for one more
//!   run, started as soon as the current one ends, however many publishes came meanwhile. So the
//!   last publish is always synced, and a sync slower than the interval runs back to back
//!   rather than piling up.
//! - `sh -c COMMAND` in its own process group, with `CORTEX_STATUS_OUT_DIR` (absolute) in its
//!   environment and without the two secrets' variables nor `CREDENTIALS_DIRECTORY`; the
//!   daemon's own environment no longer holds them either (`secret_env`), so
//!   `/proc/$PPID/environ` does not show them. stdin and stdout are /dev/null; the last few
//!   lines of stderr are kept for the log.
//! - After `timeout` the whole process group is killed (a `sh -c` that started `rsync` would
//!   otherwise leave it running, holding the stderr pipe open). Dropping a run (the daemon
//!   shutting down) kills it the same way.
//! - A failure (non-zero exit, killed by a signal, timed out, could not start) is logged once,
//!   with its stderr tail, and stays in [`Hook::failure`] until a run succeeds; the generator
//!   puts that into the next snapshot's `errors`. The public text says what happened but not
//!   the stderr, which may name buckets, hosts or URLs with credentials in them.

use crate::config::Config;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;

/// How much of stderr is kept: the end is where tools say what went wrong.
const TAIL_BYTES: usize = 2048;
/// Lines of that tail that go into the log.
const TAIL_LINES: usize = 5;
/// After the group is killed, how long to wait for the stderr pipe to close. Only a process
/// that left the group (setsid) could hold it open longer; its output is then not waited for.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(1);
/// Variables the command is not given: the task form's secrets are the daemon's alone, and so
/// is systemd's credentials directory. Since the start moved the secrets out of the daemon's
/// environment (`secret_env`) they are normally not there; removing them again costs nothing
/// and holds if that move could not be made.
const WITHHELD_ENV: [&str; 6] = [
    "STATUS_TASK_PASSWORD",
    "STATUS_TASK_PASSWORD_FILE",
    "SYMBIONT_TOKEN",
    "SYMBIONT_TOKEN_FILE",
    crate::secret_env::CREDENTIALS_DIRECTORY,
    crate::secret_env::MARKER,
];

/// The configured command and the state of its runs.
pub struct Hook {
    shared: Arc<Mutex<Shared>>,
    /// The task running the command (and any coalesced re-run); `None` before the first.
    runner: Option<JoinHandle<()>>,
}

/// What one run needs; shared with the runner task.
struct Job {
    program: String,
    args: Vec<String>,
    out_dir: PathBuf,
    timeout: Duration,
}

struct Shared {
    /// What the next run runs: a config reload replaces it without a second runner.
    job: Arc<Job>,
    running: bool,
    /// A publish came during the current run: run once more when it ends.
    pending: bool,
    /// The last finished run's failure; `None` after a success.
    failure: Option<Failure>,
    /// Finished runs, for tests and the log.
    runs: u64,
}

/// Why a run failed: `what` for the public snapshot, `stderr` (its tail) for the log only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub what: String,
    pub stderr: String,
}

impl Hook {
    /// The hook of this config, if it has an `on_publish` command.
    pub fn from_config(config: &Config) -> Option<Hook> {
        Some(Hook::with_job(Job::of(config)?))
    }

    /// `sh -c command`.
    pub fn new(command: String, out_dir: PathBuf, timeout: Duration) -> Hook {
        Hook::with_program("sh", vec!["-c".into(), command], out_dir, timeout)
    }

    fn with_program(program: &str, args: Vec<String>, out_dir: PathBuf, timeout: Duration) -> Hook {
        Hook::with_job(Job {
            program: program.into(),
            args,
            out_dir,
            timeout,
        })
    }

    fn with_job(job: Job) -> Hook {
        Hook {
            shared: Arc::new(Mutex::new(Shared {
                job: Arc::new(job),
                running: false,
                pending: false,
                failure: None,
                runs: 0,
            })),
            runner: None,
        }
    }

    /// Called after a publish: starts a run on the current tokio runtime, or, if one is going
    /// on, asks for one more after it. Returns at once.
    pub fn trigger(&mut self) {
        let mut shared = self.shared.lock().unwrap();
        if shared.running {
            shared.pending = true;
            return;
        }
        shared.running = true;
        drop(shared);
        let shared = Arc::clone(&self.shared);
        self.runner = Some(tokio::spawn(async move {
            loop {
                let job = Arc::clone(&shared.lock().unwrap().job);
                let result = job.run().await;
                let mut s = shared.lock().unwrap();
                s.runs += 1;
                log_change(s.failure.as_ref(), result.as_ref().err(), s.runs);
                s.failure = result.err();
                if !std::mem::take(&mut s.pending) {
                    s.running = false;
                    return;
                }
            }
        }));
    }

    /// The last finished run's failure, worded for the public snapshot; `None` when it
    /// succeeded or none has finished.
    pub fn failure(&self) -> Option<String> {
        let shared = self.shared.lock().unwrap();
        let failure = shared.failure.as_ref()?;
        Some(format!(
            "on_publish command {}; its stderr is in the log",
            failure.what
        ))
    }

    /// Waits until no run is going on or asked for, and returns the last run's failure.
    /// `cortex-status build` uses it: there, the publish is not done until the sync is.
    pub async fn settle(&mut self) -> Option<Failure> {
        if let Some(runner) = self.runner.take() {
            // A runner that panicked has no failure to report beyond the panic, which tokio
            // has already printed; the state below says what the last finished run did.
            let _ = runner.await;
        }
        self.shared.lock().unwrap().failure.clone()
    }

    /// Runs finished so far.
    pub fn runs(&self) -> u64 {
        self.shared.lock().unwrap().runs
    }
}

/// Follows a config reload: a new or changed command takes effect from the next run (a run in
/// flight finishes as it started, and no second one starts beside it); a removed one runs no
/// more (a run in flight finishes on its own).
pub fn reconfigure(slot: &mut Option<Hook>, config: &Config) {
    match (slot.as_mut(), Job::of(config)) {
        (Some(hook), Some(job)) => hook.shared.lock().unwrap().job = Arc::new(job),
        (_, job) => *slot = job.map(Hook::with_job),
    }
}

/// Logs a failure when it differs from the last one, and the recovery once: a command that
/// fails the same way every cycle is one log line, not one per cycle.
fn log_change(before: Option<&Failure>, now: Option<&Failure>, run: u64) {
    match (before, now) {
        (Some(b), Some(n)) if b.what == n.what => {}
        (_, Some(n)) => {
            let stderr = if n.stderr.is_empty() {
                "(nothing on stderr)".to_string()
            } else {
                format!("stderr ends with:\n{}", n.stderr)
            };
            tracing::error!("on_publish command {} (run {run}); {stderr}", n.what);
        }
        (Some(_), None) => tracing::info!("on_publish command succeeded again (run {run})"),
        (None, None) => {}
    }
}

impl Job {
    fn of(config: &Config) -> Option<Job> {
        let command = config.on_publish.clone()?;
        Some(Job {
            program: "sh".into(),
            args: vec!["-c".into(), command],
            // The command's directory may differ from ours: give it an absolute out_dir.
            out_dir: std::path::absolute(&config.out_dir).unwrap_or(config.out_dir.clone()),
            timeout: config.on_publish_timeout,
        })
    }

    /// One run to its end: exit, timeout or failure to start.
    async fn run(&self) -> Result<(), Failure> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .env("CORTEX_STATUS_OUT_DIR", &self.out_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own group, so that a timeout can kill everything it started.
            .process_group(0)
            .kill_on_drop(true);
        for name in WITHHELD_ENV {
            command.env_remove(name);
        }
        let mut child = command.spawn().map_err(|e| Failure {
            what: format!("could not start ({}: {e})", self.program),
            stderr: String::new(),
        })?;
        let group = GroupKiller(child.id());
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let mut tail = Vec::new();
        let finished = tokio::time::timeout(self.timeout, async {
            let (_, status) = tokio::join!(read_tail(&mut stderr, &mut tail), child.wait());
            status
        })
        .await;
        let what = match finished {
            Ok(waited) => {
                group.disarm();
                match waited {
                    Ok(status) if status.success() => None,
                    Ok(status) => Some(match status.code() {
                        Some(code) => format!("failed: exit status {code}"),
                        None => format!("failed: {status}"),
                    }),
                    Err(e) => Some(format!("failed: cannot wait for it: {e}")),
                }
            }
            Err(_) => {
                drop(group);
                // Reaps sh (kill_on_drop would, too, but only at some later point).
                let _ = child.wait().await;
                // The group is dead; what it wrote before dying is still in the pipe.
                let _ =
                    tokio::time::timeout(DRAIN_AFTER_KILL, read_tail(&mut stderr, &mut tail)).await;
                Some(format!(
                    "timed out after {} and was killed",
                    humantime::format_duration(self.timeout)
                ))
            }
        };
        match what {
            None => Ok(()),
            Some(what) => Err(Failure {
                what,
                stderr: last_lines(&tail, TAIL_LINES),
            }),
        }
    }
}

/// Reads a stream to its end, keeping only the last [`TAIL_BYTES`].
async fn read_tail(stream: &mut (impl AsyncReadExt + Unpin), tail: &mut Vec<u8>) {
    let mut buf = [0u8; 1024];
    while let Ok(n @ 1..) = stream.read(&mut buf).await {
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > TAIL_BYTES {
            tail.drain(..tail.len() - TAIL_BYTES);
        }
    }
}

/// The last `n` non-empty lines of `bytes`, as text for the log: a sync tool's stderr often
/// names its remote by URL, key included, so every URL in it is redacted, and control
/// characters (a forged log line, terminal escapes) become spaces.
fn last_lines(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|line| crate::redact::clip(&crate::redact::text(line), TAIL_BYTES))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Kills a run's process group when dropped while armed: on timeout, or when the run itself is
/// dropped (shutdown). Disarmed once the command has exited and been reaped: its pid may then be
/// reused, and a group of that number could be someone else's.
struct GroupKiller(Option<u32>);

impl GroupKiller {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        let pid = self
            .0
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(dir: &std::path::Path, command: &str, timeout: Duration) -> Hook {
        Hook::new(command.into(), dir.to_path_buf(), timeout)
    }

    #[tokio::test]
    async fn runs_with_out_dir_in_its_environment_and_no_secrets() {
        let dir = tempfile::tempdir().unwrap();
        // The child writes what it sees to a file. SYMBIONT_TOKEN is withheld even when the
        // daemon has it (not set here: tests do not touch their own process environment).
        let mut h = hook(
            dir.path(),
            "echo \"$CORTEX_STATUS_OUT_DIR|${SYMBIONT_TOKEN-unset}\" > \"$CORTEX_STATUS_OUT_DIR/seen\"",
            Duration::from_secs(10),
        );
        h.trigger();
        assert_eq!(h.settle().await, None);
        let seen = std::fs::read_to_string(dir.path().join("seen")).unwrap();
        assert_eq!(seen.trim(), format!("{}|unset", dir.path().display()));
        assert_eq!(h.failure(), None);
        assert_eq!(h.runs(), 1);
    }

    #[tokio::test]
    async fn a_non_zero_exit_is_a_failure_with_the_stderr_tail_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = hook(
            dir.path(),
            "for i in 1 2 3 4 5 6 7; do echo line$i >&2; done; exit 3",
            Duration::from_secs(10),
        );
        h.trigger();
        let failure = h.settle().await.expect("a failure");
        assert_eq!(failure.what, "failed: exit status 3");
        assert_eq!(failure.stderr, "line3\nline4\nline5\nline6\nline7");
        let public = h.failure().unwrap();
        assert!(public.contains("exit status 3"), "{public}");
        assert!(
            !public.contains("line"),
            "stderr stays out of the snapshot: {public}"
        );
    }

    #[tokio::test]
    async fn a_success_clears_the_failure() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("fail");
        std::fs::write(&flag, "").unwrap();
        let mut h = hook(
            dir.path(),
            "if [ -e \"$CORTEX_STATUS_OUT_DIR/fail\" ]; then exit 1; fi",
            Duration::from_secs(10),
        );
        h.trigger();
        assert!(h.settle().await.is_some());
        assert!(h.failure().is_some());
        std::fs::remove_file(&flag).unwrap();
        h.trigger();
        assert_eq!(h.settle().await, None);
        assert_eq!(h.failure(), None);
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        // A background child that would outlive sh, holding stderr open, and write a file if it
        // were not killed.
        let mut h = hook(
            dir.path(),
            "echo started >&2; (sleep 1; touch \"$CORTEX_STATUS_OUT_DIR/survived\") & sleep 30",
            Duration::from_millis(300),
        );
        h.trigger();
        let failure = h.settle().await.expect("a failure");
        assert_eq!(failure.what, "timed out after 300ms and was killed");
        assert_eq!(failure.stderr, "started");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !dir.path().join("survived").exists(),
            "a process of the group survived the timeout"
        );
    }

    #[tokio::test]
    async fn a_command_that_cannot_start_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = Hook::with_program(
            "/nonexistent/sh",
            vec![],
            dir.path().to_path_buf(),
            Duration::from_secs(1),
        );
        h.trigger();
        let failure = h.settle().await.expect("a failure");
        assert!(failure.what.starts_with("could not start"), "{failure:?}");
    }

    #[tokio::test]
    async fn publishes_during_a_run_are_coalesced_into_one_more_run() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut h = hook(
            dir.path(),
            "echo start >> \"$CORTEX_STATUS_OUT_DIR/log\"; sleep 0.3; echo end >> \"$CORTEX_STATUS_OUT_DIR/log\"",
            Duration::from_secs(10),
        );
        h.trigger();
        // Let the first run start, then publish five times while it runs.
        while !log.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for _ in 0..5 {
            h.trigger();
        }
        assert_eq!(h.settle().await, None);
        assert_eq!(h.runs(), 2, "five publishes during a run make one more run");
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text, "start\nend\nstart\nend\n", "runs never overlap");
    }

    #[tokio::test]
    async fn a_reload_changes_the_next_run_without_a_second_runner() {
        let dir = tempfile::tempdir().unwrap();
        let config = |command: Option<&str>| Config {
            on_publish: command.map(str::to_string),
            out_dir: dir.path().to_path_buf(),
            ..Config::embedded()
        };
        let log = dir.path().join("log");
        let mut slot = Hook::from_config(&config(Some(
            "echo a-start >> \"$CORTEX_STATUS_OUT_DIR/log\"; sleep 0.3; echo a-end >> \"$CORTEX_STATUS_OUT_DIR/log\"",
        )));
        slot.as_mut().unwrap().trigger();
        while !log.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        reconfigure(
            &mut slot,
            &config(Some("echo b >> \"$CORTEX_STATUS_OUT_DIR/log\"")),
        );
        let hook = slot.as_mut().unwrap();
        hook.trigger();
        assert_eq!(hook.settle().await, None);
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "a-start\na-end\nb\n"
        );
        reconfigure(&mut slot, &config(None));
        assert!(slot.is_none(), "no command, no hook");
    }

    #[test]
    fn the_tail_is_the_last_non_empty_lines() {
        assert_eq!(last_lines(b"a\n\nb\nc\n\n", 2), "b\nc");
        assert_eq!(last_lines(b"", 3), "");
        assert_eq!(last_lines(b"only", 3), "only");
        let tail = last_lines(
            b"ERROR: s3://AKIA:wJalr@bucket/x?X-Amz-Signature=abc failed\x1b[2J\n",
            3,
        );
        assert_eq!(tail, "ERROR: s3://bucket/x?… failed [2J");
    }
}
