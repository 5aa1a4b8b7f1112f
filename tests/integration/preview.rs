//! The preview server: serves out_dir, and nothing outside it.

use crate::common::{Site, get, request};
use std::time::Duration;

#[test]
fn serves_the_site_with_the_right_types() {
    let site = Site::new("interval = \"50ms\"\n");
    let daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    let addr = daemon.addr();
    let index = get(addr, "/");
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(index.text().contains("<!doctype html>"));
    let json = get(addr, "/status.json");
    assert_eq!(json.status, 200);
    assert_eq!(json.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(v["schema"], 1);
    assert_eq!(
        get(addr, "/assets/style.css").header("content-type"),
        Some("text/css; charset=utf-8")
    );
    assert_eq!(
        get(addr, "/assets/favicon.svg").header("content-type"),
        Some("image/svg+xml")
    );
    assert_eq!(get(addr, "/index.html?x=1").status, 200);
    assert_eq!(get(addr, "/nope.html").status, 404);
    assert_eq!(request(addr, "POST", "/index.html", &[], b"x").status, 405);
    let api = get(addr, "/api/nope");
    assert_eq!(api.status, 404);
    assert_eq!(api.header("content-type"), Some("application/json"));
    assert!(api.text().contains("\"error\""));
}

#[test]
fn path_traversal_gets_404() {
    let site = Site::new("interval = \"50ms\"\n");
    std::fs::write(site.path("secret.txt"), "TOP SECRET").unwrap();
    let daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    std::os::unix::fs::symlink(site.path("secret.txt"), site.out().join("link.txt")).unwrap();
    std::os::unix::fs::symlink(site.dir.path(), site.out().join("up")).unwrap();
    for target in [
        "/../secret.txt",
        "/../cortex-status.toml",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%5csecret.txt",
        "/link.txt",
        "/up/secret.txt",
        "/up/cortex-status.toml",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
    ] {
        let r = get(daemon.addr(), target);
        assert_eq!(r.status, 404, "{target} answered {}", r.status);
        assert!(!r.text().contains("TOP SECRET"), "{target} leaked");
    }
}

#[test]
fn with_serve_public_off_only_the_api_answers() {
    let site =
        Site::new("interval = \"50ms\"\n[api]\nlisten = \"127.0.0.1:0\"\nserve_public = false\n");
    let daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    assert_eq!(get(daemon.addr(), "/index.html").status, 404);
    assert_eq!(get(daemon.addr(), "/api/health").status, 200);
}
