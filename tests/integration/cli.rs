//! `check` and the handling of bad configuration, as a person at a terminal sees them.

use crate::common::Site;

#[test]
fn check_reports_a_broken_template_with_its_file_and_line() {
    let site = Site::new("templates_dir = \"templates\"\n");
    let dir = site.path("templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "{% extends \"base.html\" %}\n{% block main %}\n<p>{{ overall | }}</p>\n{% endblock main %}\n").unwrap();
    std::fs::write(
        dir.join("macros.html"),
        "{% macro status(status) %}\n{% if %}\n{% endmacro status %}\n",
    )
    .unwrap();
    let out = site.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let index = dir.join("index.html").display().to_string();
    let macros = dir.join("macros.html").display().to_string();
    assert!(
        stderr.contains(&format!("{index}:3:")),
        "index.html line 3 named:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("{macros}:2:")),
        "every broken file is reported:\n{stderr}"
    );
    assert!(stderr.contains("2 problem(s) found"), "{stderr}");
}

#[test]
fn check_reports_a_template_that_only_fails_when_rendered() {
    let site = Site::new("templates_dir = \"templates\"\n");
    let dir = site.path("templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<p>{{ no_such_variable }}</p>\n").unwrap();
    let out = site.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("index.html: renders with an error"),
        "{stderr}"
    );
    assert!(stderr.contains("no_such_variable"), "{stderr}");
}

/// A service's own page (`services/<slug>.html`, issue 14) is checked like the others: a broken
/// override used to show only at run time, in the page's errors.
#[test]
fn check_renders_the_service_page_too() {
    let site = Site::new("templates_dir = \"templates\"\n");
    let dir = site.path("templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("service.html"), "<p>{{ s.no_such_field.x }}</p>\n").unwrap();
    let out = site.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("service.html: renders with an error"),
        "{stderr}"
    );
}

#[test]
fn check_passes_a_good_config_and_says_what_it_checked() {
    let site = Site::new("[[service]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\n");
    let out = site.run(&["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("ok: ")
            && stdout.contains(": 1 service, 2 pages, the embedded templates"),
        "{stdout}"
    );
    assert!(!stdout.contains("1 services"), "{stdout}");
}

/// The summary names a templates_dir as a directory ("templates from templates" read as a
/// stutter), and a disk in `[host] disks` that this host has not mounted is a warning: the
/// config may be meant for another machine, so `check` still passes.
#[test]
fn check_names_the_templates_dir_and_warns_of_a_disk_not_mounted_here() {
    let site =
        Site::new("templates_dir = \"templates\"\n[host]\ndisks = [\"/\", \"/no/such/mount\"]\n");
    std::fs::create_dir(site.path("templates")).unwrap();
    let out = site.run(&["check"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "a warning is no failure: {stderr}");
    assert!(
        stdout.contains(": 0 services, 2 pages, templates in "),
        "{stdout}"
    );
    assert!(
        stdout.contains("/templates/ over the embedded ones"),
        "{stdout}"
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("host.disks: /no/such/mount is not mounted on this host"),
        "{stderr}"
    );
    // A relative templates_dir is shown as one, whatever the summary's start.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cortex-status.toml"),
        "templates_dir = \"templates\"\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    let out = std::process::Command::new(crate::common::BIN)
        .arg("check")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok: cortex-status.toml: 0 services, 2 pages, templates in ./templates/ over the embedded ones"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bad_config_names_file_line_key_and_value_and_writes_nothing() {
    let site = Site::new(
        "[[service]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\ntimeout = \"fast\"\n",
    );
    let config = site.config().display().to_string();
    for command in ["check", "build", "run"] {
        let out = site.run(&[command]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains(&format!("{config}:7: service[0].timeout: expected a duration like \"5s\" or \"250ms\", found \"fast\"")),
            "{command}:\n{stderr}"
        );
    }
    assert!(
        !site.out().exists(),
        "nothing is published from a bad config"
    );
}

#[test]
fn a_missing_config_file_is_an_error_naming_it() {
    let site = Site::new("");
    let out = std::process::Command::new(crate::common::BIN)
        .args(["check", "--config", "/no/such/cortex.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/no/such/cortex.toml: cannot read the config file"),
        "{stderr}"
    );
    drop(site);
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let site = Site::new("");
    let out = site
        .command(&["build"])
        .env("PORT", "eighty")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("environment: PORT: expected a port number from 0 to 65535"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("eighty"),
        "environment values are not quoted: {stderr}"
    );
}

#[test]
fn help_and_version_teach_the_tool() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(crate::common::BIN)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let long = run(&["--help"]);
    for needle in [
        "run",
        "build",
        "check",
        "init",
        "--config",
        "PORT",
        "STATUS_PUBLIC_URL",
        "SYMBIONT_URL",
        "STATUS_TASK_PASSWORD",
        "STATUS_TASK_PASSWORD_FILE",
        "SYMBIONT_TOKEN",
        "SYMBIONT_TOKEN_FILE",
        "RUST_LOG",
        "CORTEX_STATUS_OUT_DIR",
        "index.html",
        "status.json",
        "tasks.html",
        "feed.xml",
        "metrics",
        "badges/",
        "*.gz",
        "state_dir",
        "on_publish",
        "Examples:",
        "Exit status",
        // Both places a Caddyfile is: a package install has no scripts/.
        "/usr/share/doc/cortex-status/examples/Caddyfile",
        "scripts/Caddyfile",
    ] {
        assert!(
            long.contains(needle),
            "--help does not mention {needle}:\n{long}"
        );
    }
    let short = run(&["-h"]);
    assert!(
        short.len() < long.len() / 2,
        "-h is the short one:\n{short}"
    );
    assert!(short.contains("--help"), "-h points to --help:\n{short}");
    let build = run(&["build", "--help"]);
    assert!(
        build.contains("on_publish") && build.contains("Exits 1"),
        "{build}"
    );

    let version = run(&["--version"]);
    assert!(
        version.starts_with(&format!("cortex-status {}\n", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    assert!(version.contains("status.json schema 1"), "{version}");
}

/// Issue 10: `-V` printed one line and `--version` three, so a bug report's version depended on
/// the flag. Both now print the same lines.
#[test]
fn short_and_long_version_flags_print_the_same() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(crate::common::BIN)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let long = run(&["--version"]);
    assert!(long.contains("status.json schema 1"), "{long}");
    assert!(long.contains("built for"), "{long}");
    assert_eq!(run(&["-V"]), long);
    // A subcommand's flags too (clap names it `cortex-status-check` there).
    assert_eq!(run(&["check", "-V"]), run(&["check", "--version"]));
}

/// "Recent changes" is its own template (`changes.html`, issue 14), rendered while the status
/// page's data is made: a broken override is named by `check`, not a panic, and a build keeps
/// the last good page and says why.
#[test]
fn a_broken_changes_template_is_named_by_check_and_keeps_the_last_good_page() {
    let site = Site::new("templates_dir = \"templates\"\n");
    let dir = site.path("templates");
    std::fs::create_dir_all(&dir).unwrap();
    assert!(site.run(&["build"]).status.success());
    let good = std::fs::read_to_string(site.out().join("index.html")).unwrap();
    std::fs::write(dir.join("changes.html"), "<p>{{ no_such_list.x }}</p>\n").unwrap();
    let out = site.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("template changes.html:") && stderr.contains("no_such_list"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let out = site.run(&["build"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(site.out().join("index.html")).unwrap(),
        good
    );
    let errors = site.status_json()["errors"].to_string();
    assert!(
        errors.contains("template changes.html:")
            && errors.contains("no_such_list")
            && errors.contains("the last good pages stay"),
        "{errors}"
    );
}
