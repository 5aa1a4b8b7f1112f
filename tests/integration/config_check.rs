//! The config as a person meets it through the binary: `check` lists every problem with its
//! line, durations are bounded before `run` uses them, a credential in a broken config value
//! reaches no published file, log line or output, and `init` writes a file `check` accepts.

use crate::common::{BIN, Site, gunzip, wait_until};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// stderr lines that are problems (not the count line).
fn problem_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| !l.ends_with("problem(s) found"))
        .collect()
}

// Issue 10: a typo'd key, a bad duration and an unknown kind give three lines.
#[test]
fn check_reports_three_problems_in_three_lines() {
    let site = Site::new(
        "intervall = \"5s\"\n\
         [[service]]\n\
         name = \"db\"\n\
         kind = \"postgres\"\n\
         address = \"127.0.0.1:5432\"\n\
         timeout = \"5 parsecs\"\n",
    );
    let config = site.config().display().to_string();
    let out = site.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines = problem_lines(&stderr);
    assert_eq!(lines.len(), 3, "three problems, three lines:\n{stderr}");
    // Site::new puts out_dir and state_dir on lines 1 and 2.
    assert!(
        lines[0].starts_with(&format!(
            "{config}:3: intervall: unknown key `intervall`; did you mean `interval`?"
        )),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "{config}:6: service[0].kind: unknown variant `postgres`"
        )),
        "{stderr}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "{config}:8: service[0].timeout: expected a duration"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("3 problem(s) found"), "{stderr}");

    // `run` refuses the same file and prints every problem too, one per line.
    let out = site.run(&["run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for key in ["intervall", "service[0].kind", "service[0].timeout"] {
        assert_eq!(
            stderr
                .lines()
                .filter(|l| l.starts_with("error: ") && l.contains(key))
                .count(),
            1,
            "{key}:\n{stderr}"
        );
    }
}

// Issue 9: `interval = "500000000000y"` passed check, then aborted run.
#[test]
fn a_huge_or_tiny_duration_is_refused_by_check_and_run_without_a_panic() {
    for (value, says) in [
        ("500000000000y", "is longer than any duration a key accepts"),
        ("2 days", "2days is too long; the longest is 1day"),
        ("1ms", "1ms is too short; the shortest is 10ms"),
    ] {
        let site = Site::new(&format!("interval = \"{value}\"\n"));
        let config = site.config().display().to_string();
        for command in ["check", "run", "build"] {
            let out = site.run(&[command]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{command} {value}: {stderr}");
            assert!(
                stderr.contains(&format!("{config}:3: interval: ")) && stderr.contains(says),
                "{command} {value}:\n{stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
}

/// Every file under `dir`, as text; `.gz` sidecars unpacked, as a client would read them.
fn all_text_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_text_under(&path));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let bytes = if path.extension().is_some_and(|e| e == "gz") {
            gunzip(&bytes)
        } else {
            bytes
        };
        out.push((
            path.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    out
}

// Issue 9: a broken edit of a credential URL put the password into status.json and the page.
#[test]
fn a_broken_credential_url_reaches_no_published_file_log_or_output() {
    let site = Site::new("interval = \"1h\"\ntitle = \"Creds\"\n");
    let mut daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    let head = format!(
        "out_dir = \"public\"\nstate_dir = \"state\"\ninterval = \"1h\"\n[api]\nlisten = \"{}\"\n",
        daemon.addr()
    );
    let edits = [
        // A URL that parses, in a file broken elsewhere (a stray key and a bad duration).
        (
            "[[service]]\nname = \"Admin\"\nkind = \"http\"\n\
             url = \"http://admin:s3cretpw@127.0.0.1:1/x?token=t0kenabc\"\ntimeout = \"fast\"\ncolour = \"red\"\n",
            "service[0].timeout",
        ),
        // The URL itself broken, in each place a URL goes.
        (
            "[[service]]\nname = \"Admin\"\nkind = \"http\"\nurl = \"http://admin:s3cretpw@[bad/x?token=t0kenabc\"\n",
            "service[0].url",
        ),
        (
            "[[service]]\nname = \"Edge\"\nkind = \"feed\"\nurl = \"admin:s3cretpw@edge/status.json?token=t0kenabc\"\n",
            "service[0].url",
        ),
        (
            "[tasks]\nsymbiont_url = \"http://admin:s3cretpw@[bad:1/?token=t0kenabc\"\n",
            "tasks.symbiont_url",
        ),
    ];
    for (body, key) in edits {
        // [api] must stay the last table: the edit goes before it.
        let text = head.replace("[api]", &format!("{body}[api]"));
        std::fs::write(site.path("new.toml"), &text).unwrap();
        std::fs::rename(site.path("new.toml"), site.config()).unwrap();
        wait_until(
            &format!("the config error naming {key}; log:\n{}", daemon.log()),
            Duration::from_secs(20),
            || site.errors().iter().any(|e| e.contains(key)),
        );
        daemon.wait_for_log(key, Duration::from_secs(10));

        let check = site.run(&["check"]);
        let check_out = format!(
            "{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        assert_eq!(check.status.code(), Some(1), "{check_out}");
        assert!(check_out.contains(key), "{check_out}");
        let mut places = all_text_under(&site.out());
        places.extend(all_text_under(&site.path("state")));
        places.push(("the log".into(), daemon.log()));
        places.push(("check's output".into(), check_out));
        assert!(places.len() > 5, "out_dir was published: {places:?}");
        for (place, text) in &places {
            for secret in ["s3cretpw", "t0kenabc", "admin:"] {
                assert!(
                    !text.contains(secret),
                    "{secret} in {place} after the edit of {key}:\n{text}"
                );
            }
        }
    }
}

// Issue 10: `init` writes a starter config that `check` accepts, and never overwrites one.
#[test]
fn init_writes_a_config_that_check_accepts_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cortex-status.toml");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    // The default path: cortex-status.toml in the working directory.
    let out = run(&["init"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("wrote cortex-status.toml"), "{stdout}");
    assert!(
        stdout.contains("cortex-status check --config cortex-status.toml"),
        "{stdout}"
    );
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("# [[service]]"), "{written}");
    assert!(
        written.contains("systemd units were not looked at") || written.contains("systemd unit"),
        "says what it found in systemd, or why not:\n{written}"
    );

    let out = run(&["check", "--config", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "check refuses what init wrote:\n{}\n{written}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: "));

    // A second init, by the default path and by --config, refuses and leaves the file alone.
    std::fs::write(&path, "title = \"mine\"\n").unwrap();
    for args in [
        &["init"][..],
        &["init", "--config", path.to_str().unwrap()][..],
    ] {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("exists; init never overwrites a config"),
            "{stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "title = \"mine\"\n"
        );
    }
    // Nothing left behind but the config: the temporary file was linked or removed.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["cortex-status.toml"]);

    // A directory is not a config file.
    let out = run(&["init", "--config", "."]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(". is a directory; give the file's path")
    );

    // A directory that does not exist is named.
    let out = run(&["init", "--config", "no/such/dir/c.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the directory no/such/dir does not exist")
    );
}

// Issue 9: a bad SYMBIONT_URL or STATUS_PUBLIC_URL is named, never quoted.
#[test]
fn a_bad_environment_url_is_named_and_not_quoted() {
    let site = Site::new("");
    for name in ["SYMBIONT_URL", "STATUS_PUBLIC_URL"] {
        for command in ["check", "run"] {
            let out = site
                .command(&[command])
                .env(name, "http://admin:s3cretpw@[bad/?token=t0kenabc")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(
                stderr.contains(&format!("environment: {name}: ")),
                "{stderr}"
            );
            assert!(
                !stderr.contains("s3cretpw") && !stderr.contains("t0kenabc"),
                "{stderr}"
            );
        }
    }
}
