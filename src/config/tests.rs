//! Config parsing: the good, and each kind of bad with its file, line, key and value.

use super::*;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, Path::new("cortex-status.toml"), &Env::new())
}

/// Every problem, in file order.
fn parse_errs(text: &str) -> Vec<ConfigError> {
    parse(text)
        .expect_err("should be refused")
        .into_iter()
        .collect()
}

/// The one problem: a single mistake must not be reported twice or drag in others.
fn parse_err(text: &str) -> ConfigError {
    let mut all = parse_errs(text);
    assert_eq!(all.len(), 1, "one problem expected: {all:#?}");
    all.remove(0)
}

fn env_err(text: &str, env: &Env) -> ConfigError {
    let all: Vec<_> = Config::parse(text, Path::new("c.toml"), env)
        .expect_err("should be refused")
        .into_iter()
        .collect();
    assert_eq!(all.len(), 1, "one problem expected: {all:#?}");
    all.into_iter().next().unwrap()
}

#[test]
fn empty_file_is_the_default() {
    let c = parse("").unwrap();
    assert_eq!(c.title, "Cortex Status");
    assert_eq!(c.interval, Duration::from_secs(5));
    assert_eq!(c.api.listen, "127.0.0.1:4000".parse().unwrap());
    assert!(c.api.serve_public);
    assert!(c.services.is_empty());
    assert!(c.host.public.load && c.host.public.memory && c.host.public.disks);
    assert_eq!(c.tasks.progress_path, "/task/{id}");
}

#[test]
fn the_design_example_parses() {
    let text = r#"
title        = "Cortex Status"
public_url   = "https://status.example.net"
out_dir      = "public"
state_dir    = "state"
interval     = "250ms"
on_publish   = ""

[host]
disks  = ["/", "/data"]
public = ["load", "disks"]

[[service]]
name = "Symbiont API"
kind = "http"
url = "http://127.0.0.1:8111/status"
timeout = "5s"
degraded_after = "1s"
expect_status = [200, 204]

[[service]]
name = "edge-2"
kind = "feed"
url = "https://edge-2.example.net/status.json"

[[service]]
name = "Postgres"
kind = "tcp"
address = "127.0.0.1:5432"

[[service]]
name = "symbiont unit"
kind = "systemd"
unit = "symbiont-ex-api.service"

[[maintenance]]
services = ["symbiont-api"]
start = "2026-12-01T02:00:00Z"
end   = 2026-12-01T03:00:00Z
message = "Database upgrade"

[tasks]
symbiont_url  = "http://127.0.0.1:8111"
submit_path   = "/task"
progress_path = "/task/{id}"

[api]
listen = "127.0.0.1:0"
serve_public = false
allowed_origins = ["https://status.example.net"]
"#;
    let c = parse(text).unwrap();
    assert_eq!(c.interval, Duration::from_millis(250));
    assert_eq!(c.on_publish, None, "an empty command is no command");
    assert!(c.host.public.load && !c.host.public.memory && c.host.public.disks);
    assert_eq!(
        c.host.disks.as_deref(),
        Some(&["/".to_string(), "/data".to_string()][..])
    );
    assert_eq!(c.services.len(), 4);
    let api = &c.services[0];
    assert_eq!(api.slug, "symbiont-api");
    assert_eq!(api.timeout, Duration::from_secs(5));
    assert_eq!(api.degraded_after, Some(Duration::from_secs(1)));
    assert!(
        matches!(&api.check, Check::Http { expect_status, .. } if expect_status == &[200, 204])
    );
    assert_eq!(c.services[1].kind(), Kind::Feed);
    assert!(matches!(&c.services[2].check, Check::Tcp { address } if address == "127.0.0.1:5432"));
    assert_eq!(c.services[3].slug, "symbiont-unit");
    assert_eq!(c.maintenance[0].services, vec!["symbiont-api"]);
    assert_eq!(
        c.maintenance[0].end.to_rfc3339(),
        "2026-12-01T03:00:00+00:00"
    );
    assert!(!c.api.serve_public);
    assert_eq!(c.api.listen.port(), 0);
    assert_eq!(
        c.public_url.unwrap().as_str(),
        "https://status.example.net/"
    );
}

#[test]
fn a_bad_duration_names_key_value_line_and_file() {
    let e = parse_err(
        "title = \"x\"\n\n[[service]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"h:1\"\n\n[[service]]\nname = \"b\"\nkind = \"tcp\"\naddress = \"h:1\"\ntimeout = \"fast\"\n",
    );
    assert_eq!(e.file, "cortex-status.toml");
    assert_eq!(e.line, Some(12));
    assert_eq!(e.key, "service[1].timeout");
    assert!(e.message.contains("\"fast\""), "{e}");
    assert_eq!(
        e.to_string(),
        "cortex-status.toml:12: service[1].timeout: expected a duration like \"5s\" or \"250ms\", found \"fast\"; a number and a unit (ms, s, m, h or d), as in \"2 minutes\" or \"1h 30m\""
    );
}

#[test]
fn an_unknown_key_is_refused() {
    let e = parse_err("title = \"x\"\nintervall = \"5s\"\n");
    assert_eq!(e.line, Some(2));
    assert!(
        e.message
            .contains("unknown key `intervall`; did you mean `interval`?"),
        "{e}"
    );
    let e = parse_err("[api]\nlisten = \"127.0.0.1:1\"\nport = 3\n");
    assert_eq!(e.key, "api.port");
    assert!(
        e.message
            .contains("unknown key `port`; the keys here are: listen"),
        "{e}"
    );
    assert_eq!(e.line, Some(3));
}

#[test]
fn a_wrong_type_says_what_was_found() {
    let e = parse_err("interval = 5\n");
    assert_eq!(e.key, "interval");
    assert!(e.message.contains("integer `5`"), "{e}");
    let e = parse_err("[api]\nserve_public = \"yes\"\n");
    assert_eq!(e.key, "api.serve_public");
    assert_eq!(e.line, Some(2));
}

#[test]
fn broken_toml_has_its_line() {
    let e = parse_err("title = \"x\"\nout_dir = \n");
    assert_eq!(e.line, Some(2));
    assert!(e.message.starts_with("invalid TOML"), "{e}");
}

#[test]
fn each_kind_needs_its_target_and_refuses_others() {
    let e = parse_err("[[service]]\nname = \"a\"\nkind = \"http\"\n");
    assert_eq!(e.key, "service[0].url");
    assert_eq!(e.line, Some(1));
    assert!(e.message.contains("needs url"), "{e}");
    let e = parse_err("[[service]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"nope\"\n");
    assert_eq!(e.key, "service[0].address");
    assert!(e.message.contains("\"nope\""));
    let e =
        parse_err("[[service]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"h:1\"\nunit = \"x\"\n");
    assert_eq!(e.key, "service[0].unit");
    assert!(e.message.contains("not used by kind = \"tcp\""));
    let e = parse_err("[[service]]\nname = \"a\"\nkind = \"systemd\"\nunit = \"--now\"\n");
    assert_eq!(e.key, "service[0].unit");
    let e = parse_err("[[service]]\nname = \"a\"\nkind = \"gopher\"\n");
    assert_eq!(e.key, "service[0].kind");
    assert!(e.message.contains("unknown variant `gopher`"), "{e}");
    let e = parse_err("[[service]]\nname = \"a\"\nkind = \"ping\"\n");
    assert_eq!(e.key, "service[0].host");
    assert!(e.message.contains("needs host"), "{e}");
}

#[test]
fn urls_must_be_absolute_http() {
    let e =
        parse_err("[[service]]\nname = \"a\"\nkind = \"http\"\nurl = \"localhost:8111/status\"\n");
    assert_eq!(e.key, "service[0].url");
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("\"localhost:8111/status\""), "{e}");
    let e = parse_err("public_url = \"ftp://x\"\n");
    assert_eq!(e.key, "public_url");
}

#[test]
fn slugs_must_be_unique() {
    let e = parse_err(
        "[[service]]\nname = \"Web API\"\nkind = \"tcp\"\naddress = \"h:1\"\n[[service]]\nname = \"web-api\"\nkind = \"tcp\"\naddress = \"h:2\"\n",
    );
    assert_eq!(e.key, "service[1].name");
    assert_eq!(e.line, Some(6), "the line of the name");
    assert!(e.message.contains("\"web-api\""));
}

#[test]
fn timing_rules() {
    let e = parse_err("interval = \"1ms\"\n");
    assert_eq!(e.key, "interval");
    let e = parse_err(
        "[[service]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"h:1\"\ntimeout = \"1s\"\ndegraded_after = \"2s\"\n",
    );
    assert_eq!(e.key, "service[0].degraded_after");
    assert!(e.message.contains("not shorter than timeout 1s"), "{e}");
}

#[test]
fn maintenance_must_name_a_service_and_end_after_it_starts() {
    let svc = "[[service]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"h:1\"\n";
    let e = parse_err(&format!(
        "{svc}[[maintenance]]\nservices = [\"b\"]\nstart = \"2026-12-01T02:00:00Z\"\nend = \"2026-12-01T03:00:00Z\"\n"
    ));
    assert_eq!(e.key, "maintenance[0].services");
    assert!(e.message.contains("\"b\" is not a configured service"));
    let e = parse_err(&format!(
        "{svc}[[maintenance]]\nservices = [\"a\"]\nstart = \"2026-12-01T02:00:00Z\"\nend = \"2026-12-01T01:00:00Z\"\n"
    ));
    assert_eq!(e.key, "maintenance[0].end");
    let e = parse_err(&format!(
        "{svc}[[maintenance]]\nservices = [\"a\"]\nstart = \"tomorrow\"\nend = \"2026-12-01T01:00:00Z\"\n"
    ));
    assert_eq!(e.key, "maintenance[0].start");
    assert!(e.message.contains("\"tomorrow\""), "{e}");
}

#[test]
fn the_environment_overrides_the_file() {
    let mut env = Env::new();
    env.insert("PORT".into(), "8123".into());
    env.insert("SYMBIONT_URL".into(), "http://127.0.0.1:9999".into());
    env.insert(
        "STATUS_PUBLIC_URL".into(),
        "https://status.example.org".into(),
    );
    env.insert("STATUS_TASK_PASSWORD".into(), "hunter2\n".into());
    let c = Config::parse(
        "public_url = \"https://a.example\"\n[api]\nlisten = \"127.0.0.1:4000\"\n",
        Path::new("c.toml"),
        &env,
    )
    .unwrap();
    assert_eq!(c.api.listen.port(), 8123);
    assert_eq!(
        c.tasks.symbiont_url.unwrap().as_str(),
        "http://127.0.0.1:9999/"
    );
    assert_eq!(c.public_url.unwrap().host_str(), Some("status.example.org"));
    assert_eq!(c.secrets.task_password.unwrap().expose(), "hunter2");
    assert!(c.secrets.symbiont_token.is_none());

    env.insert("PORT".into(), "eighty".into());
    let e = env_err("", &env);
    assert_eq!((e.file.as_str(), e.key.as_str()), ("environment", "PORT"));
    assert!(e.message.contains("port number"), "{e}");
    assert!(
        !e.to_string().contains("eighty"),
        "environment values are never quoted: {e}"
    );
}

#[test]
fn secrets_come_from_files_and_never_print() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "s3cret-token\n").unwrap();
    let mut env = Env::new();
    env.insert("SYMBIONT_TOKEN_FILE".into(), file.display().to_string());
    let c = Config::parse("", Path::new("c.toml"), &env).unwrap();
    let token = c.secrets.symbiont_token.as_ref().unwrap();
    assert_eq!(token.expose(), "s3cret-token");
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "Debug must not show secrets"
    );

    env.insert("SYMBIONT_TOKEN".into(), "other".into());
    let e = env_err("", &env);
    assert!(e.message.contains("not both"));
    assert!(!e.to_string().contains("other"));

    let mut env = Env::new();
    env.insert("STATUS_TASK_PASSWORD_FILE".into(), "/no/such/file".into());
    let e = env_err("", &env);
    assert!(e.message.contains("STATUS_TASK_PASSWORD_FILE"), "{e}");
    assert!(
        !e.to_string().contains("/no/such/file"),
        "nor is the path quoted: {e}"
    );

    let mut env = Env::new();
    env.insert("STATUS_TASK_PASSWORD".into(), "".into());
    let c = Config::parse("", Path::new("c.toml"), &env).unwrap();
    assert!(
        c.secrets.task_password.is_none(),
        "an empty password opens nothing"
    );
}

#[test]
fn relative_paths_are_relative_to_the_config_file() {
    let c = Config::parse(
        "out_dir = \"www\"\nstate_dir = \"/var/lib/x\"\n",
        Path::new("/etc/cortex/c.toml"),
        &Env::new(),
    )
    .unwrap();
    assert_eq!(c.out_dir, PathBuf::from("/etc/cortex/www"));
    assert_eq!(c.state_dir, PathBuf::from("/var/lib/x"));
}

#[test]
fn a_missing_explicit_templates_dir_is_an_error() {
    let e = parse_err("templates_dir = \"/no/such/dir\"\n");
    assert_eq!(e.key, "templates_dir");
}

#[test]
fn slugify_makes_url_safe_names() {
    assert_eq!(slugify("Symbiont API"), "symbiont-api");
    assert_eq!(slugify("  edge--2 (EU) "), "edge-2-eu");
    assert_eq!(slugify("Ünïcode"), "n-code");
    assert_eq!(slugify("!!!"), "");
}

#[test]
fn disks_are_mount_points() {
    let e = parse_err("[host]\ndisks = [\"/\", \"data\"]\n");
    assert_eq!(e.key, "host.disks");
    assert!(e.message.contains("\"data\""), "{e}");
}

#[test]
fn on_publish_and_its_timeout() {
    let c = parse("").unwrap();
    assert_eq!(c.on_publish, None);
    assert_eq!(c.on_publish_timeout, Duration::from_secs(60));
    let c = parse("on_publish = \"rclone sync . r:b\"\non_publish_timeout = \"2m\"\n").unwrap();
    assert_eq!(c.on_publish.as_deref(), Some("rclone sync . r:b"));
    assert_eq!(c.on_publish_timeout, Duration::from_secs(120));
    let e = parse_err("on_publish_timeout = \"0s\"\n");
    assert_eq!(e.key, "on_publish_timeout");
    let e = parse_err("on_publish_timeout = \"soon\"\n");
    assert_eq!((e.key.as_str(), e.line), ("on_publish_timeout", Some(1)));
}

// Issue 10: one run of `check` reports every problem, each with its line.
#[test]
fn every_problem_is_reported_with_its_line_not_only_the_first() {
    let text = "title = \"x\"\n\
                intervall = \"5s\"\n\
                [[service]]\n\
                name = \"a\"\n\
                kind = \"gopher\"\n\
                timeout = \"fast\"\n\
                adress = \"h:1\"\n";
    let all = parse_errs(text);
    let got: Vec<(Option<usize>, &str)> = all.iter().map(|e| (e.line, e.key.as_str())).collect();
    assert_eq!(
        got,
        [
            (Some(2), "intervall"),
            (Some(5), "service[0].kind"),
            (Some(6), "service[0].timeout"),
            (Some(7), "service[0].adress"),
        ],
        "{all:#?}"
    );
    assert!(
        all[1].message.contains("unknown variant `gopher`"),
        "{}",
        all[1]
    );
    assert!(
        all[3].message.contains("did you mean `address`?"),
        "{}",
        all[3]
    );
}

#[test]
fn semantic_problems_carry_their_line_too() {
    let text = "interval = \"1ms\"\n\
                [[service]]\n\
                name = \"Web\"\n\
                kind = \"http\"\n\
                url = \"localhost:80\"\n\
                [[service]]\n\
                name = \"web\"\n\
                kind = \"tcp\"\n\
                address = \"h:1\"\n\
                timeout = \"1s\"\n\
                degraded_after = \"2s\"\n\
                [tasks]\n\
                progress_path = \"/task\"\n";
    let all = parse_errs(text);
    let got: Vec<(Option<usize>, &str)> = all.iter().map(|e| (e.line, e.key.as_str())).collect();
    assert_eq!(
        got,
        [
            (Some(1), "interval"),
            (Some(5), "service[0].url"),
            (Some(7), "service[1].name"),
            (Some(11), "service[1].degraded_after"),
            (Some(13), "tasks.progress_path"),
        ],
        "{all:#?}"
    );
    assert_eq!(
        all[0].message, "1ms is too short; the shortest is 10ms",
        "{}",
        all[0]
    );
}

#[test]
fn a_problem_in_one_service_does_not_hide_another_services() {
    let svc = |n: &str, extra: &str| {
        format!("[[service]]\nname = \"{n}\"\nkind = \"tcp\"\naddress = \"h:1\"\n{extra}")
    };
    let text = [
        svc("a", "timeout = \"soon\"\n"),
        svc("b", ""),
        svc("c", "unit = \"x.service\"\n"),
    ]
    .concat();
    let keys: Vec<String> = parse_errs(&text).into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["service[0].timeout", "service[2].unit"]);
}

#[test]
fn a_maintenance_window_naming_a_broken_service_is_not_a_second_problem() {
    let text = "[[service]]\nname = \"db\"\nkind = \"tcp\"\naddress = \"nope\"\n\
                [[maintenance]]\nservices = [\"db\"]\nstart = \"2026-12-01T02:00:00Z\"\nend = \"2026-12-01T03:00:00Z\"\n";
    assert_eq!(parse_err(text).key, "service[0].address");
}

#[test]
fn syntax_errors_are_all_reported_and_nothing_else() {
    let all = parse_errs("title = \"x\"\nout_dir = \nbogus\nintervall = \"1s\"\n");
    assert!(!all.is_empty());
    assert!(
        all.iter().all(|e| e.message.starts_with("invalid TOML")),
        "{all:#?}"
    );
    assert_eq!(all[0].line, Some(2));
}

#[test]
fn the_one_line_form_is_bounded_and_check_gets_every_problem() {
    let text: String = (0..40).map(|i| format!("typo{i} = 1\n")).collect();
    let errors = parse(&text).unwrap_err();
    assert_eq!(errors.len(), 40);
    let line = errors.to_string();
    assert!(line.starts_with("40 problems: "), "{line}");
    assert!(
        line.contains("and 35 more (`cortex-status check` lists them all)"),
        "{line}"
    );
    assert!(!line.contains('\n'));
}

// Issue 9/10: durations are bounded where they are parsed, with the accepted forms named.
#[test]
fn durations_accept_the_words_people_type() {
    for (text, want) in [
        ("5s", Duration::from_secs(5)),
        ("5 secs", Duration::from_secs(5)),
        ("5 seconds", Duration::from_secs(5)),
        ("2 minutes", Duration::from_secs(120)),
        ("2min", Duration::from_secs(120)),
        ("1 hour", Duration::from_secs(3600)),
        ("1h 30m", Duration::from_secs(5400)),
        ("1.5s", Duration::from_millis(1500)),
        ("250ms", Duration::from_millis(250)),
        (" 1d ", Duration::from_secs(86_400)),
    ] {
        assert_eq!(parse_duration(text), Ok(want), "{text:?}");
    }
    for bad in ["5", "5 Secs", "five seconds", "", "-1s", "5s!", "1e3s"] {
        let e = parse_duration(bad).expect_err(bad);
        assert!(
            e.contains("a number and a unit (ms, s, m, h or d)"),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn huge_durations_are_refused_where_they_are_parsed() {
    let e = parse_err("interval = \"500000000000y\"\n");
    assert_eq!((e.key.as_str(), e.line), ("interval", Some(1)));
    assert!(e.message.contains("\"500000000000y\""), "{e}");
    let e = parse_err("interval = \"99999999999999999999999s\"\n");
    assert_eq!(e.key, "interval");
    let e = parse_err("interval = \"2d\"\n");
    assert_eq!(e.message, "2days is too long; the longest is 1day");
    let e = parse_err(
        "[[service]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"h:1\"\ntimeout = \"2h\"\n",
    );
    assert_eq!((e.key.as_str(), e.line), ("service[0].timeout", Some(5)));
    let e = parse_err("[tasks]\ntimeout = \"0s\"\n");
    assert_eq!(e.key, "tasks.timeout");
    assert!(e.message.contains("too short"), "{e}");
    // Each key at its largest is accepted.
    let c = parse(
        "interval = \"1d\"\non_publish_timeout = \"24h\"\n[tasks]\ntimeout = \"1h\"\n\
         [[service]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"h:1\"\ntimeout = \"60m\"\n",
    )
    .unwrap();
    assert_eq!(c.interval, Duration::from_secs(86_400));
}

// Issue 9: a credential in a config value reaches no message.
#[test]
fn credentials_in_urls_reach_no_message() {
    let text = "public_url = \"ftp://admin:s3cretpw@h/x?token=abc\"\n\
                [[service]]\nname = \"a\"\nkind = \"http\"\nurl = \"http://admin:s3cretpw@[bad/x?token=abc\"\n\
                [[service]]\nname = \"b\"\nkind = \"http\"\nurl = \"admin:s3cretpw@host/x?token=abc\"\n\
                [[service]]\nname = \"c\"\nkind = \"tcp\"\naddress = \"http://admin:s3cretpw@h/?token=abc\"\n\
                [api]\nserve_public = \"http://admin:s3cretpw@h/?token=abc\"\n\
                allowed_origins = [\"https://admin:s3cretpw@\"]\n\
                listen = \"admin:s3cretpw@h\"\n";
    let all = parse_errs(text);
    assert_eq!(all.len(), 7, "{all:#?}");
    for e in &all {
        let shown = e.to_string();
        assert!(
            !shown.contains("s3cretpw") && !shown.contains("abc") && !shown.contains("admin"),
            "{shown}"
        );
    }
    assert!(all[1].to_string().contains("http://[bad/x?…"), "{}", all[1]);
}

#[test]
fn environment_values_are_never_quoted() {
    for name in ["SYMBIONT_URL", "STATUS_PUBLIC_URL"] {
        for value in [
            "http://admin:s3cretpw@[bad",
            "s3cretpw",
            "ftp://admin:s3cretpw@h/",
        ] {
            let mut env = Env::new();
            env.insert(name.into(), value.into());
            let e = env_err("", &env);
            assert_eq!((e.file.as_str(), e.key.as_str()), ("environment", name));
            assert!(!e.to_string().contains("s3cretpw"), "{e}");
        }
    }
}

mod properties {
    //! Random and extreme text through the duration parser and the whole config: nothing
    //! panics, and whatever is accepted is within its bounds.
    use super::*;
    use proptest::prelude::*;

    fn duration_text() -> impl Strategy<Value = String> {
        let unit = prop_oneof![
            Just(""),
            Just("ns"),
            Just("ms"),
            Just("s"),
            Just("sec"),
            Just(" secs"),
            Just("m"),
            Just(" minutes"),
            Just("h"),
            Just(" hours"),
            Just("d"),
            Just("w"),
            Just("M"),
            Just("y"),
            Just(" years"),
            Just("µs"),
            Just("x"),
        ];
        let number = prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            (0u32..100_000).prop_map(|n| n.to_string()),
            "[0-9]{1,40}",
            "[0-9]{1,20}\\.[0-9]{0,20}",
            Just(u64::MAX.to_string()),
            Just("18446744073709551616".to_string()),
        ];
        prop_oneof![
            prop::collection::vec((number, unit), 1..4).prop_map(|parts| {
                parts
                    .into_iter()
                    .map(|(n, u)| format!("{n}{u}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
            ".{0,30}",
        ]
    }

    proptest! {
        #[test]
        fn parse_duration_never_panics_and_stays_bounded(text in duration_text()) {
            if let Ok(d) = parse_duration(&text) {
                prop_assert!(d <= MAX_DURATION, "{text:?} gave {d:?}");
            }
        }

        #[test]
        fn config_durations_are_within_their_keys_bounds(
            interval in duration_text(),
            timeout in duration_text(),
            degraded in duration_text(),
            publish in duration_text(),
            tasks in duration_text(),
        ) {
            let text = format!(
                "interval = {}\non_publish_timeout = {}\n[tasks]\ntimeout = {}\n\
                 [[service]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"h:1\"\ntimeout = {}\ndegraded_after = {}\n",
                quoted(&interval), quoted(&publish), quoted(&tasks), quoted(&timeout), quoted(&degraded),
            );
            match parse(&text) {
                Ok(c) => {
                    prop_assert!(INTERVAL.min <= c.interval && c.interval <= INTERVAL.max);
                    prop_assert!(c.on_publish_timeout <= ON_PUBLISH_TIMEOUT.max);
                    prop_assert!(!c.on_publish_timeout.is_zero());
                    prop_assert!(c.tasks.timeout <= TASKS_TIMEOUT.max && !c.tasks.timeout.is_zero());
                    let s = &c.services[0];
                    prop_assert!(s.timeout <= SERVICE_TIMEOUT.max && !s.timeout.is_zero());
                    prop_assert!(s.degraded_after.is_none_or(|d| d < s.timeout));
                    // What the daemon does with them cannot overflow.
                    let now = std::time::Instant::now();
                    let _ = now + c.interval + s.timeout + c.on_publish_timeout + c.tasks.timeout;
                }
                Err(errors) => {
                    for e in errors.iter() {
                        prop_assert!(e.line.is_some(), "{e}");
                        prop_assert!(!e.key.is_empty(), "{e}");
                    }
                }
            }
        }

        #[test]
        fn numbers_anywhere_never_panic(n in any::<i64>(), f in any::<f64>(), key in 0usize..8) {
            let keys = ["interval", "title", "on_publish_timeout", "out_dir", "public_url", "templates_dir", "on_publish", "state_dir"];
            // f64's Debug writes inf, -inf and NaN; TOML has inf and nan, so NaN is a syntax error.
            let value = if n % 2 == 0 { n.to_string() } else { format!("{f:?}") };
            let _ = parse(&format!("{} = {value}\n[[service]]\nname = \"a\"\nkind = \"http\"\nurl = \"http://h/\"\nexpect_status = {n}\n[api]\nlisten = \"127.0.0.1:{n}\"\n", keys[key]));
        }

        #[test]
        fn any_text_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }
    }

    fn quoted(s: &str) -> String {
        toml::Value::String(s.to_string()).to_string()
    }
}

#[test]
fn syntax_errors_and_odd_keys_show_no_credential_either() {
    for text in [
        "url = \"http://admin:s3cretpw@host/x?token=abc\n",
        "[[service]]\nurl = 'http://admin:s3cretpw@host/x?token=abc\nname = \"a\"\n",
        "a = http://admin:s3cretpw@host/x?token=abc\n",
        "a = \"x\"\na = \"http://admin:s3cretpw@host/x?token=abc\"\n",
        "\"http://admin:s3cretpw@host/x?token=abc\" = 1\n",
        "[api]\nserve_public = \"http://admin:s3cretpw@host/x?token=abc\"\n",
        "[api]\nallowed_origins = \"http://admin:s3cretpw@host/x?token=abc\"\n",
        "[[service]]\nname = \"a\"\nkind = \"http\"\nurl = [\"http://admin:s3cretpw@host/x?token=abc\"]\n",
    ] {
        let all = parse_errs(text);
        for e in &all {
            let shown = e.to_string();
            assert!(
                !shown.contains("s3cretpw") && !shown.contains("token=abc"),
                "{text:?}: {shown}"
            );
            assert!(e.line.is_some(), "{text:?}: {shown}");
        }
    }
}

/// `${NAME}` in any string value: read from the environment (or `NAME_FILE`), kept among the
/// secrets, and an unset one is a problem at its line that names it and quotes no value.
#[test]
fn names_in_values_come_from_the_environment_and_stay_secret() {
    let text = "title = \"t\"\n[[service]]\nname = \"Web\"\nkind = \"http\"\nurl = \"http://127.0.0.1:1/${WEB_PATH}\"\n";
    let env: Env = [("WEB_PATH".to_string(), "hidden-path-42".to_string())].into();
    let config = Config::parse(text, Path::new("c.toml"), &env).unwrap();
    match &config.services[0].check {
        Check::Http { url, .. } => assert_eq!(url.path(), "/hidden-path-42"),
        other => panic!("{other:?}"),
    }
    assert!(config.secrets.values().contains(&"hidden-path-42"));

    let errors = Config::parse(text, Path::new("c.toml"), &Env::new()).unwrap_err();
    let line = errors.to_string();
    assert!(
        line.contains("c.toml:5") && line.contains("WEB_PATH"),
        "{line}"
    );

    // A value that does not fit its key is refused without quoting the secret put in.
    let env: Env = [("WEB_PATH".to_string(), "s3cret value".to_string())].into();
    let bad = text.replace("http://127.0.0.1:1/${WEB_PATH}", "${WEB_PATH}");
    let errors = Config::parse(&bad, Path::new("c.toml"), &env).unwrap_err();
    assert!(!errors.to_string().contains("s3cret"), "{errors}");
}
