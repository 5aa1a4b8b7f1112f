//! The `systemd` probe: `systemctl is-active UNIT`, mapped onto our statuses.
//!
//! Where systemctl is absent (a container, another init system) the status is `unknown` with
//! that reason: we cannot tell, and saying `down` would be a lie.
//!
//! What systemctl prints when it cannot answer ("System has not been booted with systemd as init
//! system (PID 1). Can't operate. Failed to connect to bus: Host is down") is for the operator,
//! not the public page: the page and `status.json` get a short reason ("systemd is not running
//! on this host"), and the full text goes to the log, once per unit until it changes.

use super::Outcome;
use crate::snapshot::Status;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::sync::Mutex;
use tokio::process::Command;

/// What was last logged per unit, so a message that repeats every cycle is logged once.
static LOGGED: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

pub async fn check(unit: &str) -> Outcome {
    let output = Command::new("systemctl")
        .args(["is-active", "--", unit])
        .stdin(std::process::Stdio::null())
        // If the probe times out, the child must not linger.
        .kill_on_drop(true)
        .output()
        .await;
    let output = match output {
        Ok(o) => o,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Outcome::new(
                Status::Unknown,
                None,
                Some("systemctl not found: this host cannot report systemd units".into()),
            );
        }
        Err(e) => {
            return Outcome::new(
                Status::Unknown,
                None,
                Some(format!("cannot run systemctl: {e}")),
            );
        }
    };
    let state = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let (status, error) = classify(&state, &stderr);
    log_once(unit, status, &state, &stderr);
    let mut outcome = Outcome::new(status, None, error);
    if !state.is_empty() {
        outcome.details.insert("state".into(), Value::String(state));
    }
    outcome
}

/// Logs what systemctl said when it could not answer, the first time and whenever it changes.
fn log_once(unit: &str, status: Status, state: &str, stderr: &str) {
    let said = [state.trim(), stderr.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    let mut logged = LOGGED.lock().unwrap_or_else(|p| p.into_inner());
    if status != Status::Unknown || said.is_empty() {
        logged.remove(unit);
        return;
    }
    if logged.get(unit) != Some(&said) {
        tracing::warn!(
            "systemd {unit}: systemctl is-active said: {}",
            crate::redact::text(&said.replace('\n', " "))
        );
        logged.insert(unit.to_string(), said);
    }
}

/// `systemctl is-active` prints one word; anything else (no systemd running, no D-Bus) is
/// `unknown` with a short reason for the public (the full text is logged by [`check`]).
pub fn classify(state: &str, stderr: &str) -> (Status, Option<String>) {
    match state {
        "active" => (Status::Up, None),
        "activating" | "reloading" | "refreshing" => {
            (Status::Degraded, Some(format!("unit is {state}")))
        }
        "inactive" | "failed" | "deactivating" | "maintenance" => {
            (Status::Down, Some(format!("unit is {state}")))
        }
        _ => {
            let said = format!("{state}\n{stderr}").to_ascii_lowercase();
            let reason = if [
                "not been booted with systemd",
                "failed to connect to bus",
                "no such file or directory",
            ]
            .iter()
            .any(|m| said.contains(m))
            {
                "systemd is not running on this host"
            } else if said.contains("access denied") || said.contains("permission denied") {
                "not allowed to ask systemd about this unit"
            } else if said.trim().is_empty() {
                "systemctl gave no answer"
            } else {
                "systemctl gave no usable answer (the log has its words)"
            };
            (Status::Unknown, Some(reason.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_unit_states() {
        assert_eq!(classify("active", ""), (Status::Up, None));
        assert_eq!(classify("failed", "").0, Status::Down);
        assert_eq!(classify("inactive", "").1.unwrap(), "unit is inactive");
        assert_eq!(classify("activating", "").0, Status::Degraded);
        let (s, e) = classify(
            "",
            "System has not been booted with systemd as init system (PID 1). Can't operate.\n\
             Failed to connect to bus: Host is down\n",
        );
        assert_eq!(s, Status::Unknown);
        assert_eq!(e.unwrap(), "systemd is not running on this host");
        assert_eq!(
            classify("", "Failed to connect to bus: No such file or directory")
                .1
                .unwrap(),
            "systemd is not running on this host"
        );
        assert_eq!(
            classify("", "Access denied as requested by policy")
                .1
                .unwrap(),
            "not allowed to ask systemd about this unit"
        );
        let (_, odd) = classify("", "Unit name /etc/evil?token=abc is not valid.");
        assert!(!odd.unwrap().contains("token"), "nothing raw is public");
        assert_eq!(classify("", "").1.unwrap(), "systemctl gave no answer");
    }
}
