//! Serving `out_dir` for a preview without Caddy (`[api] serve_public = true`).
//!
//! Only files inside `out_dir` are ever served. A request path is percent-decoded once, split
//! into segments, and refused if any segment is `..`, `.`, empty in the middle, hidden (`.x`,
//! which also hides publish's temporary files) or holds a `\` or NUL. The file found is then
//! canonicalised and must still lie under the canonical `out_dir`, which defeats symlinks that
//! point out. Anything refused is a plain 404: the preview says nothing about what exists.

use std::path::{Path, PathBuf};

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
