//! The `systemd` probe: `systemctl is-active UNIT`, mapped onto our statuses.
//!
//! Where systemctl is absent (a container, another init system) the status is `unknown` with
//! that reason: we cannot tell, and saying `down` would be a lie.

use super::Outcome;
use crate::snapshot::Status;
use serde_json::Value;
use std::io::ErrorKind;
use tokio::process::Command;

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
    let (status, error) = classify(&state, &String::from_utf8_lossy(&output.stderr));
    let mut outcome = Outcome::new(status, None, error);
    if !state.is_empty() {
        outcome.details.insert("state".into(), Value::String(state));
    }
    outcome
}

/// `systemctl is-active` prints one word; anything else (no systemd running, no D-Bus) is
/// `unknown` with what systemctl said.
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
            let said = [state.trim(), stderr.trim()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            let said = if said.is_empty() {
                "no answer".to_string()
            } else {
                said
            };
            (Status::Unknown, Some(format!("systemctl: {said}")))
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
            "System has not been booted with systemd as init system (PID 1). Can't operate.\n",
        );
        assert_eq!(s, Status::Unknown);
        assert!(e.unwrap().contains("not been booted with systemd"));
    }
}
