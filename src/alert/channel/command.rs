//! `kind = "command"`: runs `sh -c COMMAND` with the event as JSON on stdin and in
//! `CORTEX_ALERT_*` variables. Its environment is made from nothing (PATH, HOME, LANG and the
//! event), so no secret of ours reaches it; it runs in its own process group, which is killed
//! after `timeout`.

use super::Event;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub async fn send(command: &str, timeout: Duration, event: &Event) -> Result<(), String> {
    let json = serde_json::to_vec(event).map_err(|e| e.to_string())?;
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for var in ["HOME", "LANG", "TZ"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    let vars = [
        ("CORTEX_ALERT_NAME", event.alert.clone()),
        ("CORTEX_ALERT_EVENT", event.event.as_str().to_string()),
        ("CORTEX_ALERT_SERVICE", event.service.clone()),
        ("CORTEX_ALERT_SLUG", event.slug.clone()),
        ("CORTEX_ALERT_STATUS", event.status.clone()),
        (
            "CORTEX_ALERT_SINCE",
            crate::snapshot::format_time(&event.since),
        ),
        ("CORTEX_ALERT_AT", crate::snapshot::format_time(&event.at)),
        (
            "CORTEX_ALERT_ERROR",
            event.error.clone().unwrap_or_default(),
        ),
        ("CORTEX_ALERT_URL", event.url.clone().unwrap_or_default()),
        ("CORTEX_ALERT_TITLE", event.title.clone()),
        ("CORTEX_ALERT_TEXT", event.text.clone()),
    ];
    cmd.envs(vars);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start the command: {e}"))?;
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let run = async {
        // A command that does not read its stdin must not hang us: the write ends with it.
        let _ = stdin.write_all(&json).await;
        drop(stdin);
        let mut tail = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = stderr.read(&mut buf).await {
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 2048 {
                tail.drain(..tail.len() - 2048);
            }
        }
        (child.wait().await, tail)
    };
    match tokio::time::timeout(timeout, run).await {
        Ok((Ok(status), _)) if status.success() => Ok(()),
        Ok((Ok(status), tail)) => {
            let said = String::from_utf8_lossy(&tail);
            let last = said
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Err(match status.code() {
                Some(code) => format!("the command exited with status {code}: {last}"),
                None => format!("the command was killed ({status}): {last}"),
            })
        }
        Ok((Err(e), _)) => Err(format!("cannot wait for the command: {e}")),
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            Err(format!(
                "the command timed out after {} and was killed",
                humantime::format_duration(timeout)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_past_its_timeout_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("late");
        let event = Event::test("script", None);
        // The child of sh would write the marker after 1 s if it were not killed with the group.
        let cmd = format!("(sleep 1; touch {}) & wait", marker.display());
        let err = send(&cmd, Duration::from_millis(200), &event)
            .await
            .unwrap_err();
        assert!(
            err.contains("timed out after 200ms and was killed"),
            "{err}"
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !marker.exists(),
            "a process of the command outlived the timeout"
        );
    }

    #[tokio::test]
    async fn a_failing_command_says_its_status_and_last_words() {
        let event = Event::test("script", None);
        let err = send("echo nope >&2; exit 3", Duration::from_secs(5), &event)
            .await
            .unwrap_err();
        assert_eq!(err, "the command exited with status 3: nope");
    }
}
