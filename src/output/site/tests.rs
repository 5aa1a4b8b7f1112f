use super::filters::{PAGE_DETAIL_CHARS, PAGE_DETAILS};
use super::*;
use crate::output::site::templates::TemplateSet;
use serde_json::Value;

fn site_info() -> SiteInfo {
    SiteInfo {
        title: "Cortex <Status>".into(),
        public_url: String::new(),
        version: "0",
        terminal_statuses: vec!["completed".into(), "failed".into()],
        tasks_missing: Vec::new(),
    }
}

fn files() -> SiteFiles {
    SiteFiles {
        pages: vec![
            PageLink {
                name: "disks".into(),
                title: Some("Disk <usage>".into()),
            },
            PageLink {
                name: "backups".into(),
                title: None,
            },
        ],
        assets_version: "0a1b2c3d".into(),
    }
}

fn render(name: &str, snapshot: &Snapshot) -> String {
    let mut tera = TemplateSet::load(None).unwrap().compile().unwrap();
    filters::register(&mut tera);
    page(
        &tera,
        name,
        &context(
            &mut snapshot.clone(),
            &site_info(),
            &files(),
            &Default::default(),
            (&tera, &Default::default()),
        )
        .unwrap(),
    )
    .unwrap()
}

fn render_index(snapshot: &Snapshot) -> String {
    render("index.html", snapshot)
}

#[test]
fn each_service_has_its_day_strip_sparkline_and_uptimes() {
    let html = render_index(&crate::snapshot::example());
    assert_eq!(html.matches("<div class=\"days\" role=\"img\"").count(), 5);
    assert_eq!(html.matches("<svg class=\"spark\"").count(), 5);
    // Today is the UTC date of generated_at; the example's last day is perfect.
    // (one bar per run of equal days, named from its first day to its last)
    assert!(html.contains("<i class=\"ok f19\" title=\"2026-11-06 to 11-24: 100%\"></i></div>"));
    assert!(
        html.contains("title=\"2026-08-27 to 09-25: no data\""),
        "the first day is 89 days before"
    );
    assert!(html.contains("<title>latency over 24 h: 2.0–5.0 ms, no answer in"));
    assert!(html.contains("<dt>30 days<dd>99.8%"));
    // Watched for 60 days: the 90- and 365-day windows are one entry that says since when.
    assert!(html.contains(
        "<dt>since 26 Sep<dd title=\"90 and 365 days are not watched in full yet: \
         it counts every check since 2026-09-26 00:00 UTC\">99.75%</dl>"
    ));
    assert!(!html.contains("<dt>90 days") && !html.contains("<dt>365 days"));
    assert!(html.contains("<div class=\"scale s90\" aria-hidden=\"true\"></div>"));
    assert!(html.contains("last 90 days: watched since 2026-09-26, 60 with data"));
    assert!(html.contains("<div class=\"scale l24\" aria-hidden=\"true\"></div>"));
}

#[test]
fn a_service_s_details_are_shown_collapsed_escaped_and_bounded() {
    let html = render_index(&crate::snapshot::example());
    assert_eq!(
        html.matches("<details class=\"facts\"").count(),
        1,
        "only where there are some"
    );
    assert!(html.contains(
        "<details class=\"facts\" id=\"details-symbiont-api\"><summary>Details <span class=\"muted\">(3)</span></summary><dl>"
    ));
    assert!(html.contains("<dt>queue_depth</dt><dd>3</dd>"), "{html}");
    assert!(html.contains("<dt>version</dt><dd>1.4.2</dd>"));
    assert!(
        html.contains("<dd>&lt;b&gt;escaped&lt;&#x2F;b&gt; https:"),
        "{html}"
    );
    assert!(!html.contains("pw@") && !html.contains("token=abc") && !html.contains("<b>"));

    let mut s = crate::snapshot::example();
    s.services[0].details = (0..40)
        .map(|i| (format!("k{i:02}"), Value::String("x".repeat(1000))))
        .chain([("nested".into(), serde_json::json!([{"a": 1}]))])
        .collect::<serde_json::Map<_, _>>()
        .into();
    let html = render_index(&s);
    let part = &html[html.find("details-symbiont-api").unwrap()..];
    let part = &part[..part.find("</details>").unwrap()];
    assert_eq!(part.matches("<dt>").count(), PAGE_DETAILS);
    assert!(part.contains(&format!("<dd>{}…</dd>", "x".repeat(PAGE_DETAIL_CHARS))));
    assert!(part.contains("29 more in <a href=\"status.json\">status.json</a>"));
    assert!(part.len() < 4_000, "bounded: {} bytes", part.len());
}

#[test]
fn a_service_without_history_says_so() {
    let mut s = crate::snapshot::example();
    for svc in &mut s.services {
        svc.days = Default::default();
        svc.latency_24h = Default::default();
        svc.uptime = crate::snapshot::Uptime::default();
        svc.uptime_coverage = crate::snapshot::Coverage::default();
        svc.observed_since = None;
    }
    let html = render_index(&s);
    assert_eq!(html.matches("No history yet").count(), 5);
    assert_eq!(html.matches("Latency: collecting data").count(), 5);
    assert_eq!(
        html.matches("<span class=\"muted\">Availability</span> <span>not checked yet</span>")
            .count(),
        5
    );
    assert!(!html.contains("days ago") && !html.contains("scale s90") && !html.contains("100%"));
}

#[test]
fn incidents_say_how_long_and_maintenance_is_announced() {
    let html = render_index(&crate::snapshot::example());
    // What is ongoing is said in words: an outage lasts, a recovery is "up again".
    assert!(
        html.contains(
            "<strong>Database</strong> <span class=\"status status-down\"><span class=\"icon\" aria-hidden=\"true\">✕</span> down</span> since <time datetime=\"2026-11-24T10:00:00Z\">2026-11-24 10:00:00 UTC</time> <span class=\"muted\">(ongoing, 0s so far)</span>: cannot connect</li>"
        ),
        "{html}"
    );
    assert!(
        html.contains(
            "<span class=\"icon\" aria-hidden=\"true\">✓</span> up</span> from <time datetime=\"2026-11-24T07:00:00Z\">2026-11-24 07:00:00 UTC</time> to <time datetime=\"2026-11-24T08:00:00Z\">08:00:00</time> <span class=\"muted\">(1h)</span></li>"
        ),
        "{html}"
    );
    assert!(!html.contains("→"), "no bare transitions");
    let mut s = crate::snapshot::example();
    s.incidents[1].end = None;
    // Ended on another day: the end has its date.
    s.incidents[0].end = Some(s.incidents[0].at + chrono::Duration::days(1));
    let html = render_index(&s);
    assert!(html.contains("up</span> again since <time datetime=\"2026-11-24T07:00:00Z\">"));
    assert!(!html.contains("ongoing"), "an up period is not ongoing");
    assert!(
        html.contains("<time datetime=\"2026-11-25T10:00:00Z\">2026-11-25 10:00:00 UTC</time>")
    );
    assert!(html.contains("<strong>In progress:</strong> Mail,"));
    assert!(html.contains("2026-11-24 09:30–10:30 UTC</time>: upgrade</li>"));
    // Scheduled, with service names for the slugs, the span and the (escaped) message.
    assert!(html.contains("<strong>Scheduled:</strong> Symbiont API, Database,"));
    assert!(html.contains("2026-12-01 10:00–11:00 UTC</time>: Database &lt;upgrade&gt;</li>"));
    let scheduled = html.find("Scheduled:").unwrap();
    assert!(
        html.find("In progress:").unwrap() < scheduled,
        "soonest first, as given"
    );
}

#[test]
fn the_page_keeps_itself_fresh_with_or_without_javascript() {
    let html = render_index(&crate::snapshot::example());
    assert!(html.contains("<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>"));
    assert!(html.contains("<script src=\"assets/live.js?v=0a1b2c3d\" defer></script>"));
    assert!(html.contains("href=\"assets/style.css?v=0a1b2c3d\""));
    assert!(html.contains("data-generated-at=\"2026-11-24T10:00:00Z\" data-interval=\"5\""));
    assert!(html.contains("<div id=\"stale\" class=\"stale\" hidden></div>"));
    assert!(html.contains("id=\"live-announce\" class=\"visually-hidden\" aria-live=\"polite\""));
    assert!(html.contains("Updated <span id=\"updated-ago\" hidden></span> <time"));
    // Every region live.js swaps is there even when empty, once.
    let mut quiet = crate::snapshot::example();
    quiet.incidents.clear();
    quiet.maintenance.clear();
    quiet.errors.clear();
    let html = render_index(&quiet);
    for id in [
        "overall",
        "maintenance",
        "problems",
        "host",
        "services",
        "incidents",
    ] {
        assert_eq!(html.matches(&format!("id=\"{id}\"")).count(), 1, "{id}");
        let at = html.find(&format!("id=\"{id}\"")).unwrap();
        let tag = &html[at..at + html[at..].find('>').unwrap()];
        assert!(
            tag.contains("data-live"),
            "{id} is not marked data-live: {tag}"
        );
    }
}

#[test]
fn nothing_inline_that_a_strict_csp_would_block() {
    for name in ["index.html", "tasks.html"] {
        let html = render(name, &crate::snapshot::example());
        assert!(!html.contains("style="), "{name} has a style attribute");
        assert!(!html.contains("<style"), "{name} has a style element");
        for (at, _) in html.match_indices("<script") {
            assert!(
                html[at..].starts_with("<script src="),
                "{name}: inline script"
            );
        }
        for handler in [
            " onclick=",
            " onload=",
            " onerror=",
            " onsubmit=",
            "javascript:",
        ] {
            assert!(!html.contains(handler), "{name} has {handler}");
        }
    }
}

/// A templates_dir holding `files`, and the site loaded from it.
fn site_with(files: &[(&str, &str)]) -> (tempfile::TempDir, crate::output::site::Site) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let config = crate::config::Config {
        templates_dir: Some(dir.path().to_path_buf()),
        ..crate::config::Config::embedded()
    };
    let site = crate::output::site::Site::load(&config).unwrap();
    (dir, site)
}

/// The example page of the README (examples/pages/host.html) renders every macro.
#[test]
fn the_example_custom_page_renders_with_the_macros() {
    let example = include_str!("../../../examples/pages/host.html");
    let (_dir, site) = site_with(&[("pages/host.html", example)]);
    let ctx = site
        .context(&mut crate::snapshot::example(), &site_info())
        .unwrap();
    let page = site
        .outputs()
        .iter()
        .find(|o| o.file == "host.html")
        .unwrap();
    assert_eq!(page.template, "pages/host.html");
    assert_eq!(page.problem, None);
    let html = site.render(&page.template, &ctx).unwrap();
    for part in [
        "<title>Host details · Cortex &lt;Status&gt;</title>",
        "<div class=\"cards\"><article class=\"card figure-card\">",
        "<h3>Memory used</h3>\n  <p class=\"figure\">3.0 GiB</p>\n  <p class=\"muted\">of 24 GiB</p>",
        "<p class=\"figure\">1d 10h</p>",
        "<div class=\"row\"><table class=\"table\"><caption>Services</caption>",
        "<th scope=\"col\">Latency (ms)</th>",
        "<td>Web &lt;shop&gt;</td>",
        "<td class=\"num\">3.2</td>",
        "<td>–</td>",
        "<th scope=\"col\">service</th>",
        "<span class=\"icon\" aria-hidden=\"true\">✕</span> down</span></td>",
        "<meter min=\"0\" max=\"1\"",
        "<a href=\"host.html\">Host details</a>",
    ] {
        assert!(html.contains(part), "no {part:?} in\n{html}");
    }
    // Layout macros print the markup they are given, but every value was escaped before.
    assert!(!html.contains("Web <shop>"));
}

/// tera turns autoescaping off for a macro called in another macro's arguments; the macros
/// escape by themselves, exactly once whichever way they are called.
#[test]
fn macros_escape_once_called_directly_or_nested() {
    let page = "{% import \"macros.html\" as m %}{{ m::card(title=\"A <b>\", value=\"x<y\") }}\n\
                {{ m::table(rows=services, columns=[\"name\"]) }}\n\
                {{ m::row(items=[m::card(title=\"A <b>\", hint=\"x<y\"), m::meter(label=\"<m>\", ratio=0.5)]) }}";
    let (_dir, site) = site_with(&[("pages/direct.html", page)]);
    let ctx = site
        .context(&mut crate::snapshot::example(), &site_info())
        .unwrap();
    let html = site.render("pages/direct.html", &ctx).unwrap();
    assert_eq!(html.matches("<h3>A &lt;b&gt;</h3>").count(), 2, "{html}");
    assert!(html.contains("<p class=\"figure\">x&lt;y</p>"));
    assert!(html.contains("<p class=\"muted\">x&lt;y</p>"));
    assert!(html.contains("<td>Web &lt;shop&gt;</td>"));
    assert!(html.contains("<span>&lt;m&gt;</span>"));
    assert!(!html.contains("&amp;") && !html.contains("<b>") && !html.contains("<m>"));
}

#[test]
fn a_broken_custom_page_is_left_out_and_the_others_render() {
    let (dir, site) = site_with(&[
        (
            "pages/good.html",
            "{% extends \"base.html\" %}{% block main %}<p>{{ overall }}</p>{% endblock main %}",
        ),
        ("pages/broken.html", "<p>\n{% if %}\n</p>"),
        ("pages/orphan.html", "{% extends \"nope.html\" %}"),
        ("pages/Not Safe.html", "<p>hi</p>"),
        ("pages/index.html", "<p>hi</p>"),
    ]);
    let by_file = |f: &str| {
        site.outputs()
            .iter()
            .find(|o| o.template == f)
            .unwrap()
            .clone()
    };
    assert_eq!(by_file("pages/good.html").problem, None);
    assert_eq!(by_file("pages/good.html").file, "good.html");
    let broken = by_file("pages/broken.html");
    let path = dir.path().join("pages/broken.html").display().to_string();
    assert!(
        broken
            .failure()
            .unwrap()
            .starts_with(&format!("template: {path}:2:")),
        "{broken:?}"
    );
    assert!(
        broken
            .failure()
            .unwrap()
            .ends_with("; the last good broken.html stays")
    );
    assert!(
        by_file("pages/orphan.html")
            .problem
            .unwrap()
            .contains("nope.html")
    );
    let unsafe_name = by_file("pages/Not Safe.html");
    assert_eq!(
        unsafe_name.file, "",
        "nothing is published for a refused name"
    );
    assert!(
        unsafe_name
            .failure()
            .unwrap()
            .contains("cannot be a page name")
    );
    assert!(
        by_file("pages/index.html")
            .problem
            .unwrap()
            .contains("built-in page")
    );
    // The good page and the built-in ones render; only the good page is in the navigation.
    let ctx = site
        .context(&mut crate::snapshot::example(), &site_info())
        .unwrap();
    for page in site.outputs().iter().filter(|o| o.problem.is_none()) {
        let html = site.render(&page.template, &ctx).unwrap();
        assert!(html.contains("<a href=\"good.html\">good</a> <a href=\"tasks.html\">"));
    }
    assert_eq!(
        site.outputs()
            .iter()
            .filter(|o| o.problem.is_none())
            .count(),
        3
    );
}

#[test]
fn the_assets_version_follows_their_bytes() {
    let (_a, plain) = site_with(&[]);
    let (_b, same) = site_with(&[("pages/x.html", "x")]);
    let (_c, changed) = site_with(&[("assets/style.css", "body{}")]);
    let version = |site: &crate::output::site::Site| {
        let ctx = site
            .context(&mut crate::snapshot::example(), &site_info())
            .unwrap();
        ctx.get("site").unwrap()["assets_version"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(version(&plain).len(), 8);
    assert_eq!(version(&plain), version(&same), "a page is not an asset");
    assert_ne!(version(&plain), version(&changed));
}

#[test]
fn custom_pages_are_in_the_navigation() {
    let html = render_index(&crate::snapshot::example());
    assert!(html.contains(
        "<a href=\"index.html\">Status</a> <a href=\"history.html\">History</a> <a href=\"disks.html\">Disk &lt;usage&gt;</a> <a href=\"backups.html\">backups</a> <a href=\"tasks.html\">Tasks</a>"
    ));
}

#[test]
fn the_page_shows_every_service_with_status_as_text_and_icon() {
    let html = render_index(&crate::snapshot::example());
    assert!(html.contains("Some services are down"));
    for (status, icon) in [
        ("up", "✓"),
        ("degraded", "▲"),
        ("down", "✕"),
        ("maintenance", "◆"),
        ("unknown", "?"),
    ] {
        let shown =
            format!("<span class=\"icon\" aria-hidden=\"true\">{icon}</span> {status}</span>");
        assert!(html.contains(&shown), "{status} not shown as text and icon");
    }
    assert!(html.contains("3.2&nbsp;ms"));
    assert!(html.contains("Connection refused"));
    // tera escapes `/` as `&#x2F;`.
    assert!(
        html.contains("<li>on_publish: exited with status 1</li>"),
        "errors are on the page"
    );
    // A disk that is not mounted is in the disks card, once, not among the problems.
    assert_eq!(html.matches("&#x2F;data").count(), 1, "{html}");
    assert!(html.contains(
        "<div class=\"meter disk-missing\"><div class=\"meter-label\"><span>&#x2F;data</span><span>not mounted</span></div></div>"
    ));
    assert!(html.contains("3.0 GiB of 24 GiB"));
    assert!(html.contains("<meter"));
    assert!(html.contains("1d 10h"), "uptime in words");
}

#[test]
fn the_task_form_has_its_parts_and_no_refresh() {
    let html = render("tasks.html", &crate::snapshot::example());
    for part in [
        "id=\"task-form\"",
        "type=\"password\" id=\"password\"",
        "id=\"prompt\"",
        "type=\"submit\" id=\"submit\"",
        "id=\"form-error\" class=\"form-error\" role=\"alert\"",
        "data-terminal=\"completed failed\"",
        "assets/tasks.js",
    ] {
        assert!(html.contains(part), "tasks.html lacks {part}");
    }
    assert!(
        !html.contains("http-equiv=\"refresh\"") && !html.contains("live.js"),
        "a refresh would lose what was typed"
    );
    assert!(!html.contains("<script>"), "no inline script");
}

#[test]
fn an_unconfigured_task_page_says_what_to_set_instead_of_a_form() {
    let mut tera = TemplateSet::load(None).unwrap().compile().unwrap();
    filters::register(&mut tera);
    let config = crate::config::Config::embedded();
    let info = SiteInfo::new(&config);
    assert_eq!(info.tasks_missing.len(), 2, "{:?}", info.tasks_missing);
    let html = page(
        &tera,
        "tasks.html",
        &context(
            &mut crate::snapshot::example(),
            &info,
            &files(),
            &Default::default(),
            (&tera, &Default::default()),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        html.contains("<h2 id=\"tasks-off-heading\">Tasks are not configured on this host</h2>")
    );
    assert!(html.contains("STATUS_TASK_PASSWORD"));
    assert!(html.contains("symbiont_url"));
    assert!(html.contains("SYMBIONT_URL"));
    assert!(!html.contains("id=\"task-form\"") && !html.contains("tasks.js"));
}

#[test]
fn names_are_escaped() {
    let html = render_index(&crate::snapshot::example());
    assert!(html.contains("Web &lt;shop&gt;"));
    assert!(!html.contains("Web <shop>"));
    assert!(html.contains("Cortex &lt;Status&gt;"));
}

#[test]
fn hidden_host_figures_leave_no_card() {
    let mut s = crate::snapshot::example();
    s.host.memory = None;
    s.host.disks = None;
    s.host.disks_missing.clear();
    s.host.load = None;
    s.host.cpu_load_normalized = None;
    let html = render_index(&s);
    assert!(
        !html.contains("<h3>Memory</h3>")
            && !html.contains("<h3>Disks</h3>")
            && !html.contains("<h3>Load")
    );
}

#[test]
fn no_services_says_how_to_add_them_and_claims_nothing_operational() {
    let mut s = crate::snapshot::example();
    s.services.clear();
    s.overall = Snapshot::overall_of(&s.services);
    let html = render_index(&s);
    assert!(
        !html.contains("All systems operational"),
        "nothing was checked"
    );
    assert!(html.contains("No services configured yet — host figures only"));
    assert!(html.contains("class=\"overall overall-none\""));
    assert!(
        html.contains("<title>Cortex &lt;Status&gt;</title>"),
        "no status in the title"
    );
    assert!(html.contains("No services are configured"));
    assert!(html.contains("<code>cortex-status init</code>"));
    // With services that are all up, it is operational.
    let mut s = crate::snapshot::example();
    for svc in &mut s.services {
        svc.status = crate::snapshot::Status::Up;
    }
    s.overall = Snapshot::overall_of(&s.services);
    assert!(render_index(&s).contains("All systems operational"));
}

#[test]
fn load_is_per_core_as_a_number_not_a_percentage() {
    let mut s = crate::snapshot::example();
    s.host.load = Some(crate::snapshot::Load {
        one: 8.48,
        five: 4.0,
        fifteen: 2.0,
    });
    s.host.cpu_load_normalized = Some(4.24);
    let html = render_index(&s);
    let card = &html[html.find("<h3>Load").unwrap()..];
    let card = &card[..card.find("</article>").unwrap()];
    assert!(!card.contains('%'), "{card}");
    assert!(card.contains("<span>4.24 per core</span>"), "{card}");
    assert!(card.contains("<h3>Load <span class=\"muted\">2 cores</span></h3>"));
    assert!(card.contains("<dt>1 min</dt><dd>8.48</dd>"), "{card}");
    s.host.cpu_count = 1;
    s.host.cpu_load_normalized = Some(0.5);
    s.host.load.as_mut().unwrap().one = 0.5;
    let html = render_index(&s);
    assert!(html.contains("<span>0.5 per core</span>"));
    assert!(html.contains("<h3>Load <span class=\"muted\">1 core</span></h3>"));
}

#[test]
fn the_json_is_schema_1() {
    let v: Value = serde_json::from_slice(&json(&crate::snapshot::example())).unwrap();
    assert_eq!(v["schema"], 1);
    assert_eq!(v["generated_at"], "2026-11-24T10:00:00Z");
    assert_eq!(v["interval_seconds"], 5);
    assert_eq!(v["overall"], "down");
    assert_eq!(v["host"]["load"]["one"], 0.12);
    assert_eq!(v["host"]["disks_missing"], serde_json::json!(["/data"]));
    assert_eq!(v["services"][0]["slug"], "symbiont-api");
    assert_eq!(v["services"][0]["uptime"]["24h"], 1.0);
    assert_eq!(v["incidents"][0]["to"], "down");
}

/// The example's services, copied to `n` (each its own slug and name).
fn with_services(n: usize) -> Snapshot {
    let mut snapshot = crate::snapshot::example();
    let base = snapshot.services.clone();
    snapshot.services = (0..n)
        .map(|i| {
            let mut s = base[i % base.len()].clone();
            s.slug = format!("{}-{i}", s.slug);
            s.name = format!("{} {i}", s.name);
            s
        })
        .collect();
    snapshot
}

#[test]
fn the_page_of_20_services_with_history_is_under_40_kb() {
    // Issue 14. Runs of equal days in the strip took it from about 140 KB to 58 KB (61.5 KB
    // once the example carried an open written incident, groups and the new checks' details);
    // the sparkline in whole units and relative steps at half hours, uptimes without wrappers,
    // the usual scales from style.css, the services' feeds linked from their own pages and no
    // indentation per service took it to 40 KB.
    let html = render_index(&with_services(20));
    if let Ok(path) = std::env::var("DUMP_PAGE") {
        std::fs::write(path, &html).unwrap();
    }
    let gz = crate::publish::Publisher::default()
        .gzip(html.as_bytes())
        .len();
    eprintln!(
        "index.html for 20 services: {} bytes, {gz} gzipped",
        html.len()
    );
    assert!(html.len() <= 40_000, "{} bytes", html.len());
    // Every service still has its strip, sparkline and words for each day.
    assert_eq!(html.matches("<div class=\"days\" role=\"img\"").count(), 20);
    assert_eq!(html.matches("<svg class=\"spark\"").count(), 20);
    assert_eq!(html.matches("<title>latency over 24 h").count(), 20);
    assert_eq!(
        html.matches("aria-label=\"Availability per day").count(),
        20
    );
}

/// Past 50 services, a line per service linking to its page: 1,000 within 1 MB.
#[test]
fn a_thousand_services_fit_in_1_mb_with_a_line_each_and_a_page_of_their_own() {
    let snapshot = with_services(1000);
    let html = render_index(&snapshot);
    eprintln!("index.html for 1,000 services: {} bytes", html.len());
    assert!(html.len() <= 1_000_000, "{} bytes", html.len());
    assert_eq!(html.matches("<li id=\"service-").count(), 1000);
    assert_eq!(html.matches("class=\"row service-").count(), 1000);
    assert!(!html.contains("<div class=\"days\""));
    assert!(html.contains("<a href=\"services/symbiont-api-0.html\">Symbiont API 0</a>"));
    // Its page has the whole card and its feed.
    let s = &snapshot.services[0];
    let mut tera = TemplateSet::load(None).unwrap().compile().unwrap();
    filters::register(&mut tera);
    let ctx = services::context(&snapshot, &site_info(), &files(), s);
    let page = page(&tera, "service.html", &ctx).unwrap();
    assert_eq!(page.matches("<div class=\"days\" role=\"img\"").count(), 1);
    assert_eq!(page.matches("<svg class=\"spark\"").count(), 1);
    assert!(page.contains("<dt>30 days<dd>"), "{page}");
    assert!(page.contains("href=\"../feeds/symbiont-api-0.xml\""));
    assert!(page.contains("href=\"../assets/style.css?v=0a1b2c3d\""));
    // A page that stays as it is between renders must not claim to be live.
    assert!(!page.contains("data-generated-at") && !page.contains("live.js"));
    // At 20 services the cards stay on the status page.
    assert!(!render_index(&with_services(20)).contains("class=\"row "));
    // A line still carries the marker of an open incident that names its service.
    let mut marked = with_services(60);
    marked.incidents_open[0].services = vec!["symbiont-api-0".into()];
    let html = render_index(&marked);
    let row = &html[html.find("<li id=\"service-symbiont-api-0\"").unwrap()..];
    let row = &row[..row.find("</li>").unwrap()];
    assert!(row.contains("class=\"marker "), "{row}");
}

/// A service's page is rendered again when what it shows changes, not because a cycle passed.
#[test]
fn a_service_page_is_due_when_its_figures_change_not_its_latency() {
    let mut snapshot = with_services(3);
    let mut known = std::collections::HashMap::new();
    let due = |snapshot: &Snapshot, known: &mut std::collections::HashMap<String, u64>| {
        let due: Vec<(String, u64)> = services::due(snapshot, 0, known)
            .into_iter()
            .map(|(s, k)| (s.slug.clone(), k))
            .collect();
        known.extend(due.iter().cloned());
        due.len()
    };
    assert_eq!(due(&snapshot, &mut known), 3);
    assert_eq!(due(&snapshot, &mut known), 0);
    // A new check: other latency, later time, the same quarter hour.
    for s in &mut snapshot.services {
        s.latency_ms = s.latency_ms.map(|l| l + 1.5);
        s.checked_at = s.checked_at.map(|t| t + chrono::Duration::seconds(5));
    }
    snapshot.generated_at += chrono::Duration::seconds(1);
    assert!(
        due(&snapshot, &mut known) <= 1,
        "at most a quarter hour's redraw"
    );
    snapshot.services[1].status = Status::Down;
    assert_eq!(due(&snapshot, &mut known), 1);
    snapshot.services[2].uptime.day = Some(0.5);
    assert_eq!(due(&snapshot, &mut known), 1);
    // A removed service is forgotten.
    snapshot.services.pop();
    due(&snapshot, &mut known);
    assert_eq!(known.len(), 2);
}

/// Services without a group, after grouped ones, get a heading of their own: without it they
/// read as members of the last group (seen in the groups screenshot).
#[test]
fn ungrouped_services_after_groups_are_headed_as_other_services() {
    let mut snapshot = crate::snapshot::example();
    for (s, g) in snapshot.services.iter_mut().zip(["B", "A", "B", "", ""]) {
        s.group = (!g.is_empty()).then(|| g.to_string());
    }
    let html = render_index(&snapshot);
    let other = html
        .find("Other services")
        .expect("a heading for the ungrouped");
    let last_group = html.rfind("<details id=\"group-").unwrap();
    assert!(other > last_group);
    // Without any group, one plain list and no such heading.
    let mut plain = crate::snapshot::example();
    plain.services.iter_mut().for_each(|s| s.group = None);
    assert!(!render_index(&plain).contains("Other services"));
}

/// Past `COMPACT_FROM` services the site-wide context lists each service as a row: the ten
/// fields a one-line row may show, each as `status.json` has it; not the strip, the sparkline,
/// the details or the coverage (a service's own page has them). One short of it, whole
/// services. The snapshot is left as it was.
#[test]
fn past_the_compact_size_services_are_rows_in_the_site_wide_context() {
    let mut tera = TemplateSet::load(None).unwrap().compile().unwrap();
    filters::register(&mut tera);
    let example = crate::snapshot::example();
    let left_out = ["days", "latency_24h", "details", "uptime_coverage"];
    for n in [services::COMPACT_FROM, services::COMPACT_FROM - 1] {
        let mut snapshot = example.clone();
        snapshot.services = (0..n)
            .map(|i| Service {
                slug: format!("s{i}"),
                ..example.services[i % example.services.len()].clone()
            })
            .collect();
        let before = serde_json::to_value(&snapshot.services).unwrap();
        let ctx = context(
            &mut snapshot,
            &site_info(),
            &files(),
            &Default::default(),
            (&tera, &Default::default()),
        )
        .unwrap()
        .into_json();
        assert_eq!(serde_json::to_value(&snapshot.services).unwrap(), before);
        let listed = ctx["services"].as_array().unwrap();
        assert_eq!(listed.len(), n);
        for (row, full) in listed.iter().zip(before.as_array().unwrap()) {
            let full = full.as_object().unwrap();
            let row = row.as_object().unwrap();
            if n < services::COMPACT_FROM {
                assert_eq!(row, full);
                continue;
            }
            let kept: Vec<&String> = full
                .keys()
                .filter(|k| !left_out.contains(&k.as_str()))
                .collect();
            assert_eq!(row.keys().collect::<Vec<_>>(), kept);
            assert_eq!(kept.len(), 10);
            for (k, v) in row {
                assert_eq!(v, &full[k], "{k}");
            }
        }
    }
}
