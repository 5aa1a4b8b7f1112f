//! History across restarts: uptime and incidents survive, a corrupt state file is recovered,
//! maintenance is not downtime, and a stopping daemon saves what it saw.

use crate::common::Site;
use crate::common::peer::{Behaviour, Peer};
use chrono::{Duration as Days, Utc};
use serde_json::Value;
use std::time::Duration;

fn service(peer: &Peer) -> String {
    format!(
        "[[service]]\nname = \"Web\"\nkind = \"http\"\nurl = \"{}\"\ntimeout = \"2s\"\n",
        peer.url("/health")
    )
}

fn build(site: &Site) -> Value {
    let out = site.run(&["build"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    site.status_json()
}

/// Every `build` is a fresh process: five of them are four restarts.
#[test]
fn uptime_and_incidents_survive_restarts() {
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&service(&peer));
    for _ in 0..3 {
        build(&site);
    }
    peer.set(Behaviour::json(500, "{}"));
    build(&site);
    peer.set(Behaviour::ok());
    let status = build(&site);
    let web = &status["services"][0];
    assert_eq!(web["status"], "up");
    assert_eq!(web["uptime"]["24h"], 0.8, "4 of 5 checks up: {web}");
    assert_eq!(web["uptime"]["7d"], 0.8);
    assert_eq!(web["uptime"]["365d"], 0.8);
    assert_eq!(web["days"].as_array().unwrap().len(), 90);
    assert_eq!(web["days"][89], 0.8, "today is the last bar");
    assert_eq!(web["days"][88], Value::Null);
    assert_eq!(web["latency_24h"].as_array().unwrap().len(), 96);
    assert!(web["latency_24h"][95].is_number());
    let incidents = status["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    assert_eq!(
        (&incidents[0]["from"], &incidents[0]["to"]),
        (&"down".into(), &"up".into())
    );
    assert!(incidents[0]["end"].is_null(), "still up");
    assert_eq!(incidents[0]["service"], "web");
    assert_eq!(
        incidents[0]["name"], "Web",
        "named for people as configured now"
    );
    assert_eq!(incidents[1]["to"], "down");
    assert!(
        incidents[1]["error"].as_str().unwrap().contains("500"),
        "{incidents:?}"
    );
    assert_eq!(incidents[1]["end"], incidents[0]["at"]);
    assert!(status["errors"].as_array().unwrap().is_empty());
}

#[test]
fn a_corrupt_state_file_is_moved_aside_and_a_fresh_one_started() {
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&service(&peer));
    std::fs::create_dir_all(site.path("state")).unwrap();
    std::fs::write(site.path("state/history.json"), b"{\"version\":1,\"serv").unwrap();
    let status = build(&site);
    let errors: Vec<&str> = status["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("history.json") && e.contains("moved aside")),
        "{errors:?}"
    );
    let aside: Vec<_> = crate::common::names_in(&site.path("state"))
        .into_iter()
        .filter(|n| n.starts_with("history.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "the bad file is kept for a person to read");
    assert_eq!(
        std::fs::read(site.path("state").join(&aside[0])).unwrap(),
        b"{\"version\":1,\"serv"
    );
    let fresh: Value =
        serde_json::from_slice(&std::fs::read(site.path("state/history.json")).unwrap()).unwrap();
    assert_eq!(fresh["version"], 2);
    assert_eq!(status["services"][0]["uptime"]["24h"], 1.0);
}

#[test]
fn maintenance_is_announced_shown_and_not_downtime() {
    let peer = Peer::start(Behaviour::json(503, "{}"));
    let now = Utc::now();
    let time = |d: Days| (now + d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let site = Site::new(&format!(
        "{}\n[[maintenance]]\nservices = [\"Web\"]\nstart = \"{}\"\nend = \"{}\"\nmessage = \"Upgrade\"\n\
         [[maintenance]]\nservices = [\"web\"]\nstart = \"{}\"\nend = \"{}\"\n\
         [[maintenance]]\nservices = [\"web\"]\nstart = \"{}\"\nend = \"{}\"\n",
        service(&peer),
        time(Days::hours(-1)),
        time(Days::hours(1)),
        time(Days::days(3)),
        time(Days::days(3) + Days::hours(2)),
        time(Days::days(-3)),
        time(Days::days(-3) + Days::hours(2)),
    ));
    build(&site);
    let status = build(&site);
    let web = &status["services"][0];
    assert_eq!(web["status"], "maintenance");
    assert_eq!(
        web["uptime"]["24h"],
        Value::Null,
        "down in maintenance is not counted"
    );
    assert_eq!(web["days"][89], Value::Null);
    assert!(status["incidents"].as_array().unwrap().is_empty());
    let windows = status["maintenance"].as_array().unwrap();
    assert_eq!(windows.len(), 2, "the past window is gone: {windows:?}");
    assert_eq!(windows[0]["active"], true);
    assert_eq!(windows[0]["message"], "Upgrade");
    assert_eq!(windows[0]["services"], serde_json::json!(["web"]));
    assert_eq!(windows[1]["active"], false, "announced before it starts");
    assert_eq!(windows[1]["start"], time(Days::days(3)));
}

#[test]
fn a_stopping_daemon_saves_what_it_saw() {
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&format!("interval = \"20ms\"\n{}", service(&peer)));
    let mut daemon = site.start();
    daemon.wait_for_cycles(20, Duration::from_secs(20));
    assert!(daemon.terminate().success());
    let saved: Value =
        serde_json::from_slice(&std::fs::read(site.path("state/history.json")).unwrap()).unwrap();
    // Saved at the first cycle and then only every minute, so more than one check in the file
    // means the shutdown saved.
    let up = saved["services"]["web"]["ok"][0].as_u64().unwrap();
    assert!(up > 1, "only {up} checks saved: {saved}");
}
