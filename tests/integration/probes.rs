//! Each kind of service, up and in each way of failing, through `cortex-status build`.

use crate::common::Site;
use crate::common::peer::{Behaviour, Peer, closed_port};
use serde_json::Value;
use std::time::{Duration, Instant};

fn service<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {status:#}"))
}

#[test]
fn every_way_of_failing_is_data_and_the_cycle_ends_near_the_timeout() {
    let up = Peer::start(Behaviour::json(
        200,
        r#"{"status":"ok","version":"1.2.3","tasks":3,"started_at":"2026-11-24T11:00:00+01:00","bad_at":"2026-99-99T00:00:00Z","nested":{"x":1}}"#,
    ));
    let slow = Peer::start(Behaviour::ok().delayed(Duration::from_millis(400)));
    let failing = Peer::start(Behaviour::json(500, r#"{"error":"boom"}"#));
    let hanging = Peer::start(Behaviour::ok().delayed(Duration::from_secs(60)));
    let garbage_body = Peer::start(Behaviour::Answer {
        status: 200,
        content_type: "application/json",
        body: "{not json at all \u{1}\u{2}".into(),
        delay: Duration::ZERO,
    });
    let not_http = Peer::start(Behaviour::Garbage);
    let closed = closed_port();
    let site = Site::new(&format!(
        r#"
[[service]]
name = "Up"
kind = "http"
url = "{up}"
[[service]]
name = "Slow"
kind = "http"
url = "{slow}"
degraded_after = "150ms"
timeout = "3s"
[[service]]
name = "Failing"
kind = "http"
url = "{failing}"
[[service]]
name = "Hanging"
kind = "http"
url = "{hanging}"
timeout = "700ms"
[[service]]
name = "Closed"
kind = "http"
url = "http://{closed}/"
[[service]]
name = "Garbage body"
kind = "http"
url = "{garbage_body}"
[[service]]
name = "Not HTTP"
kind = "http"
url = "{not_http}"
[[service]]
name = "TCP up"
kind = "tcp"
address = "{tcp}"
[[service]]
name = "TCP closed"
kind = "tcp"
address = "{closed}"
"#,
        up = up.url("/status"),
        slow = slow.url("/"),
        failing = failing.url("/"),
        hanging = hanging.url("/"),
        garbage_body = garbage_body.url("/"),
        not_http = not_http.url("/"),
        tcp = up.addr,
    ));
    let started = Instant::now();
    let out = site.run(&["build"]);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The hanging peer answers after 60 s; its 700 ms timeout must end the cycle, not the peer.
    // (A bound, not a timing: the longest timeout here is 3 s.)
    assert!(took < Duration::from_secs(15), "build took {took:?}");

    let status = site.status_json();
    let up_svc = service(&status, "Up");
    assert_eq!(up_svc["status"], "up");
    assert!(up_svc["latency_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(up_svc["error"], Value::Null);
    assert_eq!(up_svc["details"]["version"], "1.2.3");
    assert_eq!(up_svc["details"]["tasks"], 3);
    assert_eq!(
        up_svc["details"]["started_at"], "2026-11-24T10:00:00Z",
        "ISO-8601 normalised to UTC"
    );
    assert_eq!(
        up_svc["details"]["bad_at"], "2026-99-99T00:00:00Z",
        "unparseable time kept raw"
    );
    assert!(
        up_svc["details"].get("nested").is_none(),
        "only scalars are kept"
    );

    let slow_svc = service(&status, "Slow");
    assert_eq!(slow_svc["status"], "degraded");
    assert!(
        slow_svc["error"]
            .as_str()
            .unwrap()
            .contains("degraded after 150ms")
    );
    assert!(slow_svc["latency_ms"].as_f64().unwrap() >= 400.0);

    let failing_svc = service(&status, "Failing");
    assert_eq!(failing_svc["status"], "down");
    assert!(
        failing_svc["error"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 500")
    );

    let hanging_svc = service(&status, "Hanging");
    assert_eq!(hanging_svc["status"], "down");
    assert_eq!(hanging_svc["error"], "timed out after 700ms");

    let closed_svc = service(&status, "Closed");
    assert_eq!(closed_svc["status"], "down");
    assert!(
        closed_svc["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot connect"),
        "{closed_svc}"
    );
    assert!(
        !closed_svc["error"].as_str().unwrap().contains("http://"),
        "errors never carry the URL"
    );

    let garbage_svc = service(&status, "Garbage body");
    assert_eq!(
        garbage_svc["status"], "up",
        "the status code decides; a bad body just has no details"
    );
    assert_eq!(garbage_svc["details"], serde_json::json!({}));

    let not_http_svc = service(&status, "Not HTTP");
    assert_eq!(not_http_svc["status"], "down");
    assert!(not_http_svc["error"].is_string());

    assert_eq!(service(&status, "TCP up")["status"], "up");
    let tcp_closed = service(&status, "TCP closed");
    assert_eq!(tcp_closed["status"], "down");
    assert!(
        tcp_closed["error"].as_str().unwrap().contains("refused"),
        "{tcp_closed}"
    );

    assert_eq!(status["overall"], "down");
    // The page shows every service, and the errors as text.
    let html = std::fs::read_to_string(site.out().join("index.html")).unwrap();
    for name in [
        "Up",
        "Slow",
        "Failing",
        "Hanging",
        "Closed",
        "Garbage body",
        "Not HTTP",
        "TCP up",
    ] {
        assert!(
            html.contains(&format!("{name} <span class=\"muted\">")),
            "{name} missing from the page"
        );
    }
    assert!(html.contains("timed out after 700ms"));
}

#[test]
fn build_writes_schema_1() {
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&format!(
        "title = \"Schema\"\ninterval = \"2s\"\n[[service]]\nname = \"Symbiont API\"\nkind = \"http\"\nurl = \"{}\"\n",
        peer.url("/status")
    ));
    let out = site.run(&["build"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = site.status_json();
    assert_eq!(s["schema"], 1);
    let generated = s["generated_at"].as_str().unwrap();
    assert!(
        generated.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(generated).is_ok(),
        "{generated}"
    );
    assert_eq!(s["interval_seconds"], 2);
    assert_eq!(s["overall"], "up");
    let host = &s["host"];
    assert!(host["hostname"].is_string());
    assert!(host["uptime_seconds"].as_u64().unwrap() > 0);
    assert!(host["cpu_count"].as_u64().unwrap() >= 1);
    for k in ["one", "five", "fifteen"] {
        assert!(host["load"][k].is_number(), "load.{k}");
    }
    assert!(host["cpu_load_normalized"].is_number());
    for k in ["total_bytes", "used_bytes"] {
        assert!(host["memory"][k].is_u64(), "memory.{k}");
    }
    let ratio = host["memory"]["used_ratio"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&ratio));
    let disks = host["disks"].as_array().unwrap();
    assert!(disks.iter().any(|d| d["mount"] == "/"), "{disks:?}");
    for d in disks {
        assert!(d["total_bytes"].is_u64() && d["used_bytes"].is_u64() && d["used_ratio"].is_f64());
    }
    let svc = &s["services"][0];
    assert_eq!(svc["name"], "Symbiont API");
    assert_eq!(svc["slug"], "symbiont-api");
    assert_eq!(svc["kind"], "http");
    assert_eq!(svc["status"], "up");
    assert!(svc["latency_ms"].is_number());
    assert!(chrono::DateTime::parse_from_rfc3339(svc["checked_at"].as_str().unwrap()).is_ok());
    assert_eq!(svc["error"], Value::Null);
    for w in ["24h", "7d", "30d"] {
        assert!(svc["uptime"].get(w).is_some(), "uptime.{w} is present");
    }
    assert!(svc["details"].is_object());
    assert!(s["incidents"].is_array());
    assert_eq!(s["errors"], serde_json::json!([]));
    // And the rest of the site beside it.
    let out_dir = site.out();
    assert!(out_dir.join("index.html").is_file());
    assert!(out_dir.join("assets/style.css").is_file());
}

#[test]
fn host_figures_left_out_of_public_are_null() {
    let site = Site::new("[host]\npublic = [\"disks\"]\ndisks = [\"/\"]\n");
    let out = site.run(&["build"]);
    assert!(out.status.success());
    let s = site.status_json();
    assert_eq!(s["host"]["memory"], Value::Null);
    assert_eq!(s["host"]["load"], Value::Null);
    assert_eq!(s["host"]["disks"].as_array().unwrap().len(), 1);
    assert_eq!(s["errors"], serde_json::json!([]));
    let html = std::fs::read_to_string(site.out().join("index.html")).unwrap();
    assert!(!html.contains("<h3>Memory</h3>"));
}

#[test]
fn systemd_without_systemctl_is_unknown_with_the_reason() {
    let site =
        Site::new("[[service]]\nname = \"Caddy\"\nkind = \"systemd\"\nunit = \"caddy.service\"\n");
    // An empty PATH: no systemctl to be found, as on a host without systemd.
    let empty = site.path("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = site
        .command(&["build"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = site.status_json();
    assert_eq!(s["services"][0]["status"], "unknown");
    assert!(
        s["services"][0]["error"]
            .as_str()
            .unwrap()
            .contains("systemctl not found")
    );
    assert_eq!(s["overall"], "unknown");
}

#[test]
fn a_maintenance_window_in_progress_shows_maintenance_not_down() {
    let closed = closed_port();
    let site = Site::new(&format!(
        "[[service]]\nname = \"DB\"\nkind = \"tcp\"\naddress = \"{closed}\"\n[[maintenance]]\nservices = [\"db\"]\nstart = \"2000-01-01T00:00:00Z\"\nend = \"2999-01-01T00:00:00Z\"\nmessage = \"Database upgrade\"\n"
    ));
    assert!(site.run(&["build"]).status.success());
    let s = site.status_json();
    assert_eq!(s["services"][0]["status"], "maintenance");
    assert_eq!(s["services"][0]["error"], "maintenance: Database upgrade");
    assert_eq!(s["overall"], "maintenance");
}

#[test]
fn a_feed_service_shows_another_instance() {
    // A real second instance, serving its own status.json through its preview server.
    let inner_peer = Peer::start(Behaviour::json(503, "{}"));
    let edge = Site::new(&format!(
        "interval = \"200ms\"\n[[service]]\nname = \"Edge web\"\nkind = \"http\"\nurl = \"{}\"\n",
        inner_peer.url("/")
    ));
    let edge_daemon = edge.start();
    edge_daemon.wait_for_cycles(2, Duration::from_secs(20));
    let hub = Site::new(&format!(
        "[[service]]\nname = \"edge-2\"\nkind = \"feed\"\nurl = \"http://{}/status.json\"\n[[service]]\nname = \"not a feed\"\nkind = \"feed\"\nurl = \"http://{}/index.html\"\n",
        edge_daemon.addr(),
        edge_daemon.addr()
    ));
    assert!(hub.run(&["build"]).status.success());
    let s = hub.status_json();
    let feed = service(&s, "edge-2");
    assert_eq!(feed["kind"], "feed");
    assert_eq!(
        feed["status"], "down",
        "the edge's overall: its web service answers 503"
    );
    assert_eq!(feed["error"], "Edge web is down");
    assert_eq!(feed["details"]["services"][0]["name"], "Edge web");
    assert!(feed["details"]["hostname"].is_string());
    let not_feed = service(&s, "not a feed");
    assert_eq!(not_feed["status"], "down");
    assert!(
        not_feed["error"]
            .as_str()
            .unwrap()
            .starts_with("not a cortex-status feed")
    );
}
