//! `on_publish`: the command runs after publishes with out_dir in its environment, never
//! overlaps itself nor holds up the loop, and its failure reaches `errors` and the log once.

use crate::common::{Site, wait_until};
use std::time::Duration;

/// A site whose `on_publish` is `command` (a TOML literal string: no escapes).
fn site_with_hook(interval: &str, command: &str, extra: &str) -> Site {
    Site::new(&format!(
        "interval = \"{interval}\"\non_publish = '{command}'\n{extra}"
    ))
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn on_publish_runs_after_publishes_with_out_dir_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let site = site_with_hook(
        "50ms",
        &format!(
            "ls \"$CORTEX_STATUS_OUT_DIR/status.json\" >> {}",
            runs.display()
        ),
        "",
    );
    let daemon = site.start();
    wait_until("three runs", Duration::from_secs(20), || {
        lines(&runs).len() >= 3
    });
    // Each run saw the published status.json at the absolute out_dir.
    let want = site.out().join("status.json").display().to_string();
    assert!(
        lines(&runs).iter().all(|l| *l == want),
        "{:?}",
        lines(&runs)
    );
    assert!(site.status_json()["errors"].as_array().unwrap().is_empty());
    drop(daemon);
}

#[test]
fn a_failing_on_publish_is_in_errors_and_logged_once_without_its_stderr_in_public() {
    let site = site_with_hook("30ms", "echo sync-broke-7f3 >&2; exit 7", "");
    let daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    wait_until(
        "the failure in status.json",
        Duration::from_secs(20),
        || {
            site.errors()
                .iter()
                .any(|e| e.contains("on_publish command failed: exit status 7"))
        },
    );
    // Many cycles, and so many failed runs, later: still one log line with the stderr.
    let cycles = daemon.health()["cycles"].as_u64().unwrap();
    daemon.wait_for_cycles(cycles + 15, Duration::from_secs(20));
    let log = daemon.log();
    assert_eq!(log.matches("sync-broke-7f3").count(), 1, "{log}");
    let json = std::fs::read_to_string(site.out().join("status.json")).unwrap();
    assert!(!json.contains("sync-broke-7f3"), "stderr published: {json}");
    let html = std::fs::read_to_string(site.out().join("index.html")).unwrap();
    assert!(
        html.contains("on_publish command failed"),
        "the page shows it"
    );
}

#[test]
fn a_hanging_on_publish_is_killed_after_its_timeout_and_reported() {
    let site = site_with_hook("50ms", "sleep 30", "on_publish_timeout = \"200ms\"\n");
    let daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    wait_until(
        "the timeout in status.json",
        Duration::from_secs(20),
        || {
            site.errors()
                .iter()
                .any(|e| e.contains("timed out after 200ms and was killed"))
        },
    );
    drop(daemon);
}

#[test]
fn a_slow_on_publish_never_overlaps_itself_nor_holds_up_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let t = trace.display();
    let site = site_with_hook(
        "20ms",
        &format!("echo start >> {t}; sleep 0.3; echo end >> {t}"),
        "",
    );
    let daemon = site.start();
    wait_until("three runs", Duration::from_secs(30), || {
        lines(&trace).iter().filter(|l| *l == "end").count() >= 3
    });
    let cycles = daemon.health()["cycles"].as_u64().unwrap();
    drop(daemon);
    let trace = lines(&trace);
    for pair in trace.chunks(2) {
        assert!(
            pair == ["start", "end"] || pair == ["start"],
            "runs overlapped: {trace:?}"
        );
    }
    // A loop that waited for the hook would have done one cycle per run.
    let runs = trace.iter().filter(|l| *l == "start").count() as u64;
    assert!(cycles >= 2 * runs, "{cycles} cycles for {runs} runs");
}

#[test]
fn build_waits_for_on_publish_and_fails_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("synced");
    let site = site_with_hook("5s", &format!("sleep 0.2; touch {}", marker.display()), "");
    let out = site.run(&["build"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(marker.exists(), "build returned before on_publish finished");

    let site = site_with_hook("5s", "echo no-bucket >&2; exit 2", "");
    let out = site.run(&["build"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("but the on_publish command failed: exit status 2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no-bucket"),
        "the stderr tail is logged: {stderr}"
    );
    // The files were published all the same.
    assert!(site.out().join("status.json").is_file());
}
