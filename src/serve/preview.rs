//! Serving `out_dir` for a preview without Caddy (`[api] serve_public = true`).
//!
//! Only files inside `out_dir` are ever served. A request path is percent-decoded once, split
//! into segments, and refused if any segment is `..`, `.`, empty in the middle, hidden (`.x`,
//! which also hides publish's temporary files) or holds a `\` or NUL. The file found is then
//! canonicalised and must still lie under the canonical `out_dir`, which defeats symlinks that
//! point out. Anything refused is a plain 404: the preview says nothing about what exists.
//!
//! Every file goes out with `ETag` and `Last-Modified`, and a request whose `If-None-Match` (or,
//! without one, `If-Modified-Since`) still matches gets a bodiless 304: the page's script polls
//! `status.json` every few seconds, and most polls of an unchanged file cost only a head. The
//! headers are the ones Caddy's file server sends, so the preview behaves as production does;
//! HTML also gets the Content-Security-Policy production is meant to enforce, so a template
//! that breaks it shows up here first.

use crate::serve::response::{Body, FileBody};
use http_body_util::{Either, Full};
use hyper::HeaderMap;
use hyper::Response;
use hyper::body::Bytes;
use hyper::header::{self, HeaderName, HeaderValue};
use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The policy for pages: nothing inline, nothing from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'";

/// What of a request decides the answer besides its target: its validators, and whether it is
/// a HEAD (no body is read then).
#[derive(Debug, Default)]
pub struct Conditions {
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub head: bool,
}

impl Conditions {
    pub fn of(headers: &HeaderMap, head: bool) -> Conditions {
        let text = |name: HeaderName| {
            headers
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        Conditions {
            if_none_match: text(header::IF_NONE_MATCH),
            if_modified_since: text(header::IF_MODIFIED_SINCE),
            head,
        }
    }
}

/// The answer for a GET or HEAD of `target` (path and query) under `out_dir`: the file, a 304
/// when the request's validators still match it, or `None` for a 404. Blocks on the disk: call
/// it from the blocking pool.
pub fn response(out_dir: &Path, target: &str, wanted: &Conditions) -> Option<Response<Body>> {
    let path = resolve(out_dir, target)?;
    let mut file = File::open(&path).ok()?;
    let meta = file.metadata().ok()?;
    let (etag, modified) = validators(&meta);
    let fresh = not_modified(
        &etag,
        meta.modified().ok(),
        wanted.if_none_match.as_deref(),
        wanted.if_modified_since.as_deref(),
    );
    let empty = || Either::Left(Full::new(Bytes::new()));
    let mut response = if fresh {
        let mut r = Response::new(empty());
        *r.status_mut() = hyper::StatusCode::NOT_MODIFIED;
        r
    } else if wanted.head {
        // hyper sends no body for a HEAD, but keeps the length we state.
        let mut r = Response::new(empty());
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
        r
    } else {
        Response::new(FileBody::start(&mut file, meta.len()).ok()?.into_body(file))
    };
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    if !fresh {
        set(header::CONTENT_TYPE, content_type(&path));
    }
    set(header::ETAG, &etag);
    if let Some(modified) = modified {
        set(header::LAST_MODIFIED, &modified);
    }
    set(header::CACHE_CONTROL, cache_control(&path, target));
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if path.extension().is_some_and(|e| e == "html") {
        set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    }
    Some(response)
}

/// A strong `ETag` from what changes when publish replaces a file (inode, mtime in ns, size),
/// and the `Last-Modified` date. Publishing renames a new file into place, so new content always
/// means a new inode and mtime; an unchanged page (`write_if_changed`) keeps both.
fn validators(meta: &Metadata) -> (String, Option<String>) {
    let nanos = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    let etag = format!("\"{inode:x}-{nanos:x}-{:x}\"", meta.len());
    (etag, meta.modified().ok().map(httpdate::fmt_http_date))
}

/// Whether a conditional GET may be answered 304 (RFC 9110, 13.2.2): `If-None-Match` when
/// present, and only then; else `If-Modified-Since`, which has whole seconds and so cannot see
/// two versions within one second: the ETag is what the page's script relies on.
fn not_modified(
    etag: &str,
    modified: Option<SystemTime>,
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
) -> bool {
    if let Some(list) = if_none_match {
        let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
        return list.trim() == "*" || list.split(',').any(|t| bare(t) == bare(etag));
    }
    match (
        modified,
        if_modified_since.and_then(|v| httpdate::parse_http_date(v).ok()),
    ) {
        (Some(modified), Some(since)) => {
            let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            secs(modified) <= secs(since)
        }
        _ => false,
    }
}

/// Pages, the feed and the metrics change every cycle: revalidate every time (a 304 is cheap).
/// An asset asked for with its version (`style.css?v=…`) never changes under that URL.
fn cache_control(path: &Path, target: &str) -> &'static str {
    let versioned = target
        .split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|p| p.starts_with("v=")));
    let asset = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "assets");
    if asset && versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// The file to serve for a request target (path and optional query), or `None` for a 404.
pub fn resolve(out_dir: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let rel = decoded.strip_prefix('/')?;
    let mut file = out_dir.to_path_buf();
    let segments: Vec<&str> = rel.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        if segment.is_empty() && last {
            break; // a trailing slash: a directory's index
        }
        let bad = segment.is_empty() || segment.starts_with('.') || segment.contains(['\\', '\0']);
        if bad {
            return None;
        }
        file.push(segment);
    }
    if file.is_dir() {
        file.push("index.html");
    }
    let real = file.canonicalize().ok()?;
    let root = out_dir.canonicalize().ok()?;
    (real.starts_with(&root) && real.is_file()).then_some(real)
}

/// The `Content-Type` for a file we publish.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("xml") => "application/atom+xml; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("gz") => "application/gzip",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        // Prometheus text exposition has no extension.
        None if path.file_name().is_some_and(|n| n == "metrics") => {
            "text/plain; version=0.0.4; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        std::fs::create_dir_all(out.join("assets")).unwrap();
        std::fs::write(out.join("index.html"), "i").unwrap();
        std::fs::write(out.join("assets/style.css"), "c").unwrap();
        std::fs::write(out.join(".publish-tmp"), "t").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "s").unwrap();
        (dir, out)
    }

    #[test]
    fn serves_files_and_directory_indexes() {
        let (_d, out) = site();
        let root = out.canonicalize().unwrap();
        assert_eq!(resolve(&out, "/"), Some(root.join("index.html")));
        assert_eq!(
            resolve(&out, "/index.html?x=1"),
            Some(root.join("index.html"))
        );
        assert_eq!(
            resolve(&out, "/assets/style.css"),
            Some(root.join("assets/style.css"))
        );
        assert_eq!(
            resolve(&out, "/assets/%73tyle.css"),
            Some(root.join("assets/style.css"))
        );
        assert_eq!(resolve(&out, "/nope.html"), None);
        assert_eq!(resolve(&out, "/assets/"), None, "no index there");
    }

    #[test]
    fn refuses_everything_outside_or_hidden() {
        let (_d, out) = site();
        for target in [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt",
            "/assets/../../secret.txt",
            "/assets/%2e%2e/%2e%2e/secret.txt",
            "/..%2fsecret.txt",
            "/%2e%2e%2fsecret.txt",
            "/.publish-tmp",
            "/assets//style.css",
            "/..\\secret.txt",
            "/index.html%00",
            "/%ff",
            "secret.txt",
        ] {
            assert_eq!(resolve(&out, target), None, "{target}");
        }
    }

    #[test]
    fn a_matching_etag_is_not_modified_and_wins_over_the_date() {
        let now = SystemTime::now();
        let later = httpdate::fmt_http_date(now + std::time::Duration::from_secs(60));
        let earlier = httpdate::fmt_http_date(now - std::time::Duration::from_secs(60));
        let e = "\"1-2-3\"";
        assert!(not_modified(e, Some(now), Some("\"1-2-3\""), None));
        assert!(not_modified(e, Some(now), Some("\"x\", W/\"1-2-3\""), None));
        assert!(not_modified(e, Some(now), Some("*"), None));
        assert!(!not_modified(e, Some(now), Some("\"1-2-4\""), None));
        // If-None-Match decides alone when present, even against a later date.
        assert!(!not_modified(e, Some(now), Some("\"old\""), Some(&later)));
        assert!(not_modified(e, Some(now), None, Some(&later)));
        assert!(!not_modified(e, Some(now), None, Some(&earlier)));
        assert!(!not_modified(e, Some(now), None, Some("yesterday")));
        assert!(!not_modified(e, Some(now), None, None));
    }

    #[test]
    fn only_versioned_assets_are_cached_for_long() {
        let asset = Path::new("/srv/public/assets/style.css");
        assert_eq!(
            cache_control(asset, "/assets/style.css?v=1a2b3c4d"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_control(asset, "/assets/style.css"), "no-cache");
        for (file, target) in [
            ("/srv/public/index.html", "/index.html?v=1"),
            ("/srv/public/status.json", "/status.json"),
            ("/srv/public/metrics", "/metrics"),
            ("/srv/public/feed.xml", "/feed.xml"),
        ] {
            assert_eq!(cache_control(Path::new(file), target), "no-cache", "{file}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks_that_lead_out() {
        let (dir, out) = site();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), out.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(dir.path(), out.join("up")).unwrap();
        assert_eq!(resolve(&out, "/link.txt"), None);
        assert_eq!(resolve(&out, "/up/secret.txt"), None);
    }
}
