//! The Debian package as a person installs it: `cargo deb` builds it (metadata in Cargo.toml),
//! `dpkg -i` installs it on this machine, the installed unit passes `systemd-analyze verify`,
//! the installed binary accepts the installed config, and `dpkg --purge` leaves /etc, /var/lib
//! and /usr exactly as they were, run-time state included.
//!
//! It changes the machine, so it runs only as root where dpkg exists and no cortex-status is
//! installed already (the purge would take a person's config, secrets and history with it);
//! anywhere else it says why it skipped. It packages the binary every other test runs
//! (`cargo deb --no-build` on a scratch target dir): the release profile's fat LTO would cost
//! minutes and test nothing more about the package.

use crate::common::BIN;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PACKAGE: &str = "cortex-status";

/// Where a person's cortex-status would live: if any exists, this machine has one in use.
const IN_USE: [&str; 4] = [
    "/etc/cortex-status",
    "/var/lib/cortex-status",
    "/var/lib/private/cortex-status",
    "/usr/bin/cortex-status",
];

/// Says why the test skips, past the test harness's capture (which takes only `print!` and
/// `eprint!`), so `cargo test` shows it even when the test passes.
fn skip(why: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "package::the_deb_round_trip skipped: {why}"
    );
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().is_ok_and(|o| o.status.success())
}

fn why_not_here() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("installing a package needs root".into());
    }
    if !succeeds(Command::new("dpkg").arg("--version")) {
        return Some("no dpkg on this machine".into());
    }
    if succeeds(Command::new("dpkg").args(["-s", PACKAGE])) {
        return Some(format!(
            "the {PACKAGE} package is installed here; its purge would remove it"
        ));
    }
    IN_USE
        .iter()
        .find(|p| Path::new(p).symlink_metadata().is_ok())
        .map(|p| format!("{p} exists: this machine runs a cortex-status the purge would erase"))
}

/// Runs a command to completion and insists that it succeeds.
fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every path under `roots` (directories too; symlinks not followed), but bytecode caches.
fn paths_under(roots: &[&str]) -> BTreeSet<PathBuf> {
    fn walk(dir: &Path, into: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Python's bytecode caches: any python run as root while this test runs may write
            // them, and the package has no Python.
            if path.ends_with("__pycache__") {
                continue;
            }
            into.insert(path.clone());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&path, into);
            }
        }
    }
    let mut all = BTreeSet::new();
    for root in roots {
        walk(Path::new(root), &mut all);
    }
    all
}

/// Builds the .deb in `dir` from the binary under test; returns its path.
fn build_deb(dir: &Path) -> PathBuf {
    assert!(
        succeeds(Command::new("cargo").args(["deb", "--version"])),
        "cargo-deb is not installed: run scripts/test, or `cargo install cargo-deb --locked`"
    );
    // cargo-deb takes the binary from TARGET_DIR/release (it refuses the dev profile); a scratch
    // target dir holding the tested binary there keeps the real target dir untouched.
    let target = dir.join("target");
    std::fs::create_dir_all(target.join("release")).unwrap();
    let bin = target.join("release/cortex-status");
    if std::fs::hard_link(BIN, &bin).is_err() {
        std::fs::copy(BIN, &bin).unwrap();
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = dir.join("deb");
    run(Command::new("cargo")
        .args(["deb", "--no-build", "--strip", "--fast", "--manifest-path"])
        .arg(&manifest)
        .arg("--output")
        .arg(&out)
        .env("CARGO_TARGET_DIR", &target));
    let debs: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    debs.into_iter().next().unwrap()
}

/// Purges the package when dropped, so a failed assertion leaves no package installed.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", PACKAGE]).output();
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn repo(rel: &str) -> String {
    read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(rel)
            .display()
            .to_string(),
    )
}

#[test]
fn the_deb_round_trip() {
    if let Some(why) = why_not_here() {
        skip(&why);
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let deb = build_deb(scratch.path());

    // What the package holds, and which of it dpkg keeps a person's edits of on upgrade.
    let listing = text(&run(Command::new("dpkg").arg("-c").arg(&deb)));
    for path in [
        "./usr/bin/cortex-status",
        "./usr/lib/systemd/system/cortex-status.service",
        "./etc/cortex-status/cortex-status.toml",
        "./usr/share/doc/cortex-status/examples/Caddyfile",
        "./usr/share/doc/cortex-status/README.md",
    ] {
        assert!(listing.contains(path), "no {path} in:\n{listing}");
    }
    let conffiles = text(&run(Command::new("dpkg-deb")
        .arg("--info")
        .arg(&deb)
        .arg("conffiles")));
    assert_eq!(conffiles.trim(), "/etc/cortex-status/cortex-status.toml");

    let roots = ["/etc", "/var/lib", "/usr"];
    let before = paths_under(&roots);
    let installed = Installed;
    run(Command::new("dpkg").arg("-i").arg(&deb));

    // The files are where the unit, the config and the README say, with their sources' bytes.
    assert_eq!(
        read("/lib/systemd/system/cortex-status.service"),
        repo("scripts/cortex-status.service")
    );
    assert_eq!(
        read("/etc/cortex-status/cortex-status.toml"),
        repo("scripts/cortex-status.example.toml")
    );
    assert_eq!(
        read("/usr/share/doc/cortex-status/examples/Caddyfile"),
        repo("scripts/Caddyfile")
    );
    let version = text(&run(Command::new("/usr/bin/cortex-status").arg("--version")));
    assert!(
        version.starts_with(&format!("cortex-status {}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );

    // systemd's own check of the installed unit: it finds the program its ExecStart names
    // (a bare name, looked up in /usr/local/bin then /usr/bin) and accepts every key.
    let verify = Command::new("systemd-analyze")
        .args(["verify", "/lib/systemd/system/cortex-status.service"])
        .output()
        .expect("systemd-analyze is not installed: run scripts/test or apt-get install systemd");
    assert!(
        verify.status.success() && text(&verify).trim().is_empty(),
        "{}",
        text(&verify)
    );

    // The installed binary accepts the installed config as it is.
    let check = run(Command::new("/usr/bin/cortex-status")
        .args(["check", "--config", "/etc/cortex-status/cortex-status.toml"])
        .env_remove("PORT")
        .env_remove("SYMBIONT_URL")
        .env_remove("STATUS_PUBLIC_URL"));
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(said.starts_with("ok"), "{said}");

    // What a service that ran leaves: the secrets README "Deploy" has a person create, and the
    // history systemd keeps for a DynamicUser service (under private/, behind a symlink).
    for secret in ["task-password", "symbiont-token"] {
        std::fs::write(Path::new("/etc/cortex-status").join(secret), "s3cret").unwrap();
    }
    // systemd makes /var/lib/private for every DynamicUser service and never removes it; the
    // purge leaves it too. If it was not here before, it is this simulation's, not the package's.
    let private_was_here = Path::new("/var/lib/private").exists();
    std::fs::create_dir_all("/var/lib/private/cortex-status").unwrap();
    std::fs::write("/var/lib/private/cortex-status/history.json", "{}").unwrap();
    std::os::unix::fs::symlink("private/cortex-status", "/var/lib/cortex-status").unwrap();

    // `remove` keeps what a person made and edited (the config, the secrets, the history), and
    // masks the unit; the purge after it takes all of that and the mask.
    run(Command::new("dpkg").args(["-r", PACKAGE]));
    assert!(!Path::new("/usr/bin/cortex-status").exists());
    for kept in [
        "/etc/cortex-status/cortex-status.toml",
        "/etc/cortex-status/task-password",
        "/var/lib/private/cortex-status/history.json",
    ] {
        assert!(Path::new(kept).exists(), "remove took {kept}");
    }
    drop(installed);
    assert!(
        !succeeds(Command::new("dpkg").args(["-s", PACKAGE])),
        "still installed after the purge"
    );
    if !private_was_here {
        std::fs::remove_dir("/var/lib/private").unwrap();
    }
    let after = paths_under(&roots);
    let left: Vec<_> = after.difference(&before).collect();
    let lost: Vec<_> = before.difference(&after).collect();
    assert!(
        left.is_empty() && lost.is_empty(),
        "the purge left {left:#?}\nand took {lost:#?}"
    );
}
