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

/// The page's script polls status.json every few seconds: an unchanged file must cost a 304
/// with no body, a changed one a 200 with the new bytes and a new ETag.
#[test]
fn a_conditional_get_of_an_unchanged_file_is_a_bodiless_304() {
    // One cycle at the start, then nothing changes out_dir for an hour.
    let site = Site::new("interval = \"1h\"\n");
    let daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    let addr = daemon.addr();
    let first = get(addr, "/status.json");
    assert_eq!(first.status, 200);
    assert_eq!(first.header("cache-control"), Some("no-cache"));
    let etag = first.header("etag").expect("an ETag").to_string();
    let modified = first
        .header("last-modified")
        .expect("a Last-Modified")
        .to_string();

    let unchanged = request(
        addr,
        "GET",
        "/status.json",
        &[("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(unchanged.status, 304);
    assert!(unchanged.body.is_empty(), "a 304 has no body");
    assert_eq!(unchanged.header("etag"), Some(etag.as_str()));
    let by_date = request(
        addr,
        "GET",
        "/status.json",
        &[("If-Modified-Since", &modified)],
        b"",
    );
    assert_eq!(by_date.status, 304);

    // The next publish, as the generator does it: a new file renamed over the old one.
    let new_body = b"{\"schema\":1,\"changed\":true}\n";
    std::fs::write(site.out().join(".next"), new_body).unwrap();
    std::fs::rename(site.out().join(".next"), site.out().join("status.json")).unwrap();
    let changed = request(
        addr,
        "GET",
        "/status.json",
        &[("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(changed.status, 200);
    assert_eq!(changed.body, new_body);
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
    // If-None-Match decides when present: the date alone (same second) would have said 304.
    let both = request(
        addr,
        "GET",
        "/status.json",
        &[("If-None-Match", &etag), ("If-Modified-Since", &modified)],
        b"",
    );
    assert_eq!(both.status, 200);
}

#[test]
fn pages_carry_the_strict_policy_and_versioned_assets_are_cached_for_long() {
    let site = Site::new("interval = \"1h\"\n");
    let daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    let index = get(daemon.addr(), "/");
    let csp = index.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'") && csp.contains("style-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    // The page links its assets with their version; that URL may be cached for a year.
    let html = index.text();
    let at = html
        .find("assets/style.css?v=")
        .expect("a versioned stylesheet link");
    let link = &html[at..at + html[at..].find('"').unwrap()];
    let css = get(daemon.addr(), &format!("/{link}"));
    assert_eq!(css.status, 200);
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        get(daemon.addr(), "/assets/style.css").header("cache-control"),
        Some("no-cache")
    );
}
