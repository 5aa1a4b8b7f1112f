use super::*;

const FILE: &str = "+++
title = \"Database failover\"
severity = \"degraded\"
services = [\"symbiont-api\"]
started = \"2026-11-24T10:00:00Z\"
+++

## 2026-11-24 10:30 UTC · Monitoring
Writes are back; we watch the replica.

## 2026-11-24 10:05 UTC · Identified
The primary lost its **disk**.

## 2026-11-24 10:01 UTC · Investigating
Writes fail.
";

fn known() -> Vec<String> {
    vec!["symbiont-api".to_string()]
}

#[test]
fn a_file_with_three_updates_parses_newest_first() {
    let (i, warnings) = parse(FILE, "db", &known(), "").unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(i.title, "Database failover");
    assert_eq!(i.severity, Severity::Degraded);
    assert_eq!(i.services, ["symbiont-api"]);
    assert_eq!(i.url, "incidents/db.html");
    assert_eq!(i.resolved, None);
    let kinds: Vec<_> = i.updates.iter().map(|u| u.kind).collect();
    assert_eq!(
        kinds,
        [
            UpdateKind::Monitoring,
            UpdateKind::Identified,
            UpdateKind::Investigating
        ]
    );
    assert_eq!(i.updates[1].text, "The primary lost its **disk**.");
    assert!(i.updates[1].html.contains("<strong>disk</strong>"));
    assert_eq!(
        crate::snapshot::format_time(&i.updates[0].at),
        "2026-11-24T10:30:00Z"
    );
}

#[test]
fn a_toml_date_time_works_as_well_as_a_string() {
    let text = FILE.replace(
        "started = \"2026-11-24T10:00:00Z\"",
        "started = 2026-11-24T10:00:00Z\nresolved = 2026-11-24T11:10:00+01:00",
    );
    let (i, _) = parse(&text, "db", &known(), "https://s.example/").unwrap();
    assert_eq!(i.duration_seconds, 600);
    assert_eq!(i.url, "https://s.example/incidents/db.html");
}

#[test]
fn each_mistake_is_reported_with_its_line() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "severity = \"degraded\"",
            "severity = \"bad\"",
            3,
            "severity",
        ),
        ("title = \"Database failover\"\n", "", 2, "title"),
        (
            "started = \"2026-11-24T10:00:00Z\"",
            "started = \"yesterday\"",
            5,
            "started",
        ),
        (
            "started = \"2026-11-24T10:00:00Z\"",
            "started = \"2026-11-24T10:00:00Z\"\ncolour = 1",
            6,
            "colour",
        ),
        (
            "## 2026-11-24 10:05 UTC · Identified",
            "## 2026-11-24 10:05 UTC · Fixed",
            11,
            "Fixed",
        ),
        (
            "## 2026-11-24 10:05 UTC · Identified",
            "## 10:05 UTC · Identified",
            11,
            "10:05",
        ),
        (
            "## 2026-11-24 10:05 UTC · Identified",
            "## 2026-11-24 10:05 CET · Identified",
            11,
            "UTC",
        ),
        (
            "\n## 2026-11-24 10:30 UTC",
            "Stray text\n## 2026-11-24 10:30 UTC",
            7,
            "before the first update",
        ),
    ];
    for (from, to, line, word) in cases {
        let text = FILE.replacen(from, to, 1);
        let (at, message) = parse(&text, "db", &known(), "").unwrap_err();
        assert_eq!(at, *line, "{to}: {message}");
        assert!(message.contains(word), "{to}: {message}");
    }
    let (at, message) = parse("title = 1\n", "db", &known(), "").unwrap_err();
    assert_eq!(at, 1, "{message}");
    let (at, message) = parse("+++\ntitle = \"x\"\n", "db", &known(), "").unwrap_err();
    assert_eq!(at, 1, "{message}");
}

#[test]
fn an_unknown_service_is_reported_but_the_incident_publishes() {
    let text = FILE.replace("[\"symbiont-api\"]", "[\"symbiont-apj\"]");
    let (i, warnings) = parse(&text, "db", &known(), "").unwrap();
    assert_eq!(i.services, ["symbiont-apj"]);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].0, 4);
    assert!(warnings[0].1.contains("symbiont-apj"), "{warnings:?}");
}

#[test]
fn a_heading_in_a_code_block_is_code() {
    let text = FILE.replace(
        "Writes fail.",
        "Writes fail:\n\n```\n## 2026-11-24 09:00 UTC · Resolved\n```",
    );
    let (i, _) = parse(&text, "db", &known(), "").unwrap();
    assert_eq!(i.updates.len(), 3);
    assert!(
        i.updates[2].html.contains("<pre><code>## 2026"),
        "{}",
        i.updates[2].html
    );
}

#[test]
fn bounds_hold() {
    let long = format!("{FILE}{}\n", "x".repeat(MAX_TEXT_CHARS + 1));
    let (line, message) = parse(&long, "db", &known(), "").unwrap_err();
    assert_eq!(line, 14, "{message}");
    let mut many = FILE.to_string();
    for i in 0..MAX_UPDATES {
        many.push_str(&format!(
            "\n## 2026-11-23 {:02}:{:02} UTC · Update\nx\n",
            i / 60,
            i % 60
        ));
    }
    let (_, message) = parse(&many, "db", &known(), "").unwrap_err();
    assert!(message.contains("updates"), "{message}");
}

#[test]
fn a_directory_publishes_the_good_files_and_reports_the_others() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("2026-11-24-db.md"), FILE).unwrap();
    std::fs::write(
        dir.path().join("broken.md"),
        FILE.replace("severity = \"degraded\"", "severity = degraded"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not an incident").unwrap();
    std::fs::write(dir.path().join(".2026-11-24-db.md.swp"), "x").unwrap();
    std::fs::write(
        dir.path().join("huge.md"),
        "x".repeat(MAX_FILE_BYTES as usize + 1),
    )
    .unwrap();
    let w = load(dir.path(), &known(), "");
    assert_eq!(w.incidents.len(), 1);
    assert_eq!(w.incidents[0].slug, "2026-11-24-db");
    assert_eq!(w.problems.len(), 2, "{:?}", w.problems);
    assert!(
        w.problems.iter().any(|p| p.contains("broken.md:3: ")),
        "{:?}",
        w.problems
    );
    assert!(
        w.problems
            .iter()
            .any(|p| p.contains("huge.md") && p.contains("KiB")),
        "{:?}",
        w.problems
    );

    // A missing directory is no incidents and no problem.
    let none = load(&dir.path().join("nope"), &known(), "");
    assert!(none.incidents.is_empty() && none.problems.is_empty());
}

#[test]
fn open_and_recent_are_split_at_now() {
    let (open, _) = parse(FILE, "a", &known(), "").unwrap();
    let resolved = FILE.replace(
        "started = \"2026-11-24T10:00:00Z\"",
        "started = \"2026-11-24T10:00:00Z\"\nresolved = \"2026-11-24T11:00:00Z\"",
    );
    let (done, _) = parse(&resolved, "b", &known(), "").unwrap();
    let old = resolved.replace("2026-11-24T", "2026-10-01T");
    let (old, _) = parse(&old, "c", &known(), "").unwrap();
    let w = Written {
        incidents: vec![open, done, old],
        ..Written::default()
    };
    let now = DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let (open, recent) = w.at(now);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].duration_seconds, 7200);
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].slug, "b");
    assert_eq!(recent[0].duration_seconds, 3600);
}

#[test]
fn open_incidents_past_the_bound_are_reported_and_the_newest_shown() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..MAX_OPEN + 2 {
        let text = FILE.replace(
            "2026-11-24T10:00:00Z",
            &format!("2026-11-{:02}T10:00:00Z", i + 1),
        );
        std::fs::write(dir.path().join(format!("i{i}.md")), text).unwrap();
    }
    let w = load(dir.path(), &known(), "");
    assert_eq!(w.incidents.len(), MAX_OPEN + 2);
    assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
    assert!(w.problems[0].contains("more than 20"), "{:?}", w.problems);
    let now = DateTime::parse_from_rfc3339("2026-12-24T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let (open, _) = w.at(now);
    assert_eq!(open.len(), MAX_OPEN);
    assert_eq!(
        open[0].slug,
        format!("i{}", MAX_OPEN + 1),
        "the newest first"
    );
}
