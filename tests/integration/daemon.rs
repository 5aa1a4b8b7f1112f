//! The daemon: cycles on its timer, never stacks them, publishes atomically, stops cleanly.

use crate::common::peer::{Behaviour, Peer};
use crate::common::{Site, names_in};
use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[test]
fn a_reader_never_sees_a_partial_file_during_hundreds_of_publishes() {
    // A file is rewritten only when its bytes change (issue 14), and times in status.json are
    // to the second: a service's latency is what changes each cycle here.
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&format!(
        "interval = \"10ms\"\n[[service]]\nname = \"API\"\nkind = \"http\"\nurl = \"{}\"\n",
        peer.url("/health")
    ));
    let mut daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    let out = site.out();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (out, stop) = (out.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let (mut reads, mut inodes, mut pages) = (0u64, HashSet::new(), 0u64);
            while !stop.load(Ordering::Relaxed) {
                // Open once, then read what that inode holds: the file as one publish left it.
                let mut file = std::fs::File::open(out.join("status.json")).unwrap();
                // Inode numbers are reused once a renamed-over file is freed; with the mtime
                // they tell publishes apart.
                let meta = file.metadata().unwrap();
                inodes.insert((meta.ino(), meta.mtime(), meta.mtime_nsec()));
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).unwrap();
                let parsed: serde_json::Value =
                    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                        panic!(
                            "partial status.json ({e}): {:?}",
                            String::from_utf8_lossy(&bytes)
                        )
                    });
                assert_eq!(parsed["schema"], 1);
                let html = std::fs::read_to_string(out.join("index.html")).unwrap();
                assert!(html.trim_end().ends_with("</html>"), "partial index.html");
                reads += 1;
                pages += 1;
            }
            (reads, inodes.len(), pages)
        })
    };
    let before = daemon.health()["cycles"].as_u64().unwrap();
    daemon.wait_for_cycles(before + 300, Duration::from_secs(60));
    stop.store(true, Ordering::Relaxed);
    let (reads, distinct, pages) = reader.join().unwrap();
    assert!(distinct >= 100, "the reader saw only {distinct} publishes");
    assert!(reads >= distinct as u64 && pages > 0);
    // No temporary file is left behind to be served or to fill the disk. Looked at once the
    // daemon has stopped: while it runs, a publish every 10 ms has a temporary file open.
    assert!(daemon.terminate().success());
    assert!(
        names_in(&out).iter().all(|n| !n.starts_with('.')),
        "{:?}",
        names_in(&out)
    );
}

#[test]
fn a_slow_probe_never_delays_the_next_cycle() {
    // The probe may run for 30 s (its timeout); the interval is 100 ms.
    let hanging = Peer::start(Behaviour::ok().delayed(Duration::from_secs(60)));
    let up = Peer::start(Behaviour::ok());
    let site = Site::new(&format!(
        "interval = \"100ms\"\n[[service]]\nname = \"Hanging\"\nkind = \"http\"\nurl = \"{}\"\ntimeout = \"30s\"\n[[service]]\nname = \"Up\"\nkind = \"http\"\nurl = \"{}\"\n",
        hanging.url("/"),
        up.url("/")
    ));
    let daemon = site.start();
    let start = Instant::now();
    daemon.wait_for_cycles(10, Duration::from_secs(20));
    assert!(start.elapsed() < Duration::from_secs(20));
    let s = site.status_json();
    assert_eq!(s["services"][0]["status"], "unknown");
    assert_eq!(s["services"][0]["error"], "first check still running");
    assert_eq!(
        s["services"][1]["status"], "up",
        "the other service is checked every cycle"
    );
    // One probe of the hanging service is in flight; no second one was stacked on it.
    assert_eq!(hanging.hits(), 1, "probes of one service must not stack");
    assert!(up.hits() >= 9, "up was probed {} times", up.hits());
}

#[test]
fn sigterm_finishes_the_cycle_in_flight_and_exits_0() {
    // The first cycle waits about a second for this probe; the signal comes during that wait.
    let slow = Peer::start(Behaviour::ok().delayed(Duration::from_millis(1000)));
    let site = Site::new(&format!(
        "interval = \"5s\"\n[[service]]\nname = \"Slow\"\nkind = \"http\"\nurl = \"{}\"\n",
        slow.url("/")
    ));
    let mut daemon = site.start();
    let start = Instant::now();
    while slow.hits() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no probe:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !site.out().join("status.json").exists(),
        "the first cycle is still in flight"
    );
    let status = daemon.terminate();
    assert!(status.success(), "exit {status}:\n{}", daemon.log());
    assert!(daemon.log().contains("SIGTERM received"));
    // The cycle in flight finished and published whole files. It did not wait for the probe:
    // a stop abandons probes in flight (one on a 5-minute timeout would hold it for as long;
    // see restarts.rs), so the service shows that its first check was still running.
    let s = site.status_json();
    assert_eq!(s["services"][0]["status"], "unknown");
    assert_eq!(s["services"][0]["error"], "first check still running");
    assert!(names_in(&site.out()).iter().all(|n| !n.starts_with('.')));
}

#[test]
fn a_service_that_changes_is_logged_and_listed_as_an_incident() {
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&format!(
        "interval = \"50ms\"\n[[service]]\nname = \"Flappy\"\nkind = \"http\"\nurl = \"{}\"\n",
        peer.url("/")
    ));
    let mut daemon = site.start();
    daemon.wait_for_cycles(2, Duration::from_secs(20));
    peer.set(Behaviour::json(503, "{}"));
    daemon.wait_for_log("flappy: up → down", Duration::from_secs(20));
    let before = daemon.health()["cycles"].as_u64().unwrap();
    daemon.wait_for_cycles(before + 2, Duration::from_secs(20));
    let s = site.status_json();
    let incident = &s["incidents"][0];
    assert_eq!(incident["service"], "flappy");
    assert_eq!(
        (incident["from"].as_str(), incident["to"].as_str()),
        (Some("up"), Some("down"))
    );
    assert!(incident["error"].as_str().unwrap().starts_with("HTTP 503"));
}

#[test]
fn a_broken_template_keeps_the_last_good_page() {
    let site = Site::new("templates_dir = \"templates\"\n");
    std::fs::create_dir_all(site.path("templates")).unwrap();
    assert!(site.run(&["build"]).status.success());
    let good = std::fs::read_to_string(site.out().join("index.html")).unwrap();
    std::fs::write(site.path("templates/index.html"), "{% if %}broken").unwrap();
    let out = site.run(&["build"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "build says the page could not be made"
    );
    assert_eq!(
        std::fs::read_to_string(site.out().join("index.html")).unwrap(),
        good
    );
    let s = site.status_json();
    let errors = s["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().unwrap().contains("index.html:1:")
                && e.as_str().unwrap().contains("the last good page stays")),
        "{errors:?}"
    );
}

#[test]
fn the_daemon_serves_health() {
    let site = Site::new("interval = \"50ms\"\n");
    let daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    let h = daemon.health();
    assert_eq!(h["status"], "ok");
    assert!(chrono::DateTime::parse_from_rfc3339(h["last_snapshot"].as_str().unwrap()).is_ok());
    assert!(h["cycles"].as_u64().unwrap() >= 1);
}

#[test]
fn a_lasting_problem_is_logged_once_but_stays_in_errors() {
    let site = Site::new("interval = \"20ms\"\ntemplates_dir = \"templates\"\n");
    std::fs::create_dir_all(site.path("templates")).unwrap();
    std::fs::write(site.path("templates/index.html"), "{% if %}").unwrap();
    let daemon = site.start();
    daemon.wait_for_cycles(20, Duration::from_secs(20));
    let logged = daemon.log().matches("the last good page stays").count();
    assert_eq!(logged, 1, "logged {logged} times:\n{}", daemon.log());
    let errors = site.status_json()["errors"].clone();
    assert!(
        errors[0].as_str().unwrap().contains("index.html:1:"),
        "{errors}"
    );
}
