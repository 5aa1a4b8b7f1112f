use super::*;
use crate::snapshot::Kind;

fn t(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn service(slug: &str, status: Status, latency: Option<f64>, at: DateTime<Utc>) -> Service {
    Service {
        name: slug.into(),
        slug: slug.into(),
        kind: Kind::Http,
        status,
        latency_ms: latency,
        checked_at: Some(at),
        error: (status == Status::Down).then(|| "connection refused".into()),
        uptime: Uptime::default(),
        observed_since: None,
        uptime_coverage: Default::default(),
        details: Default::default(),
        days: Vec::new(),
        latency_24h: Vec::new(),
    }
}

/// One check of `slug` at `at`, through the same door the generator uses.
fn check(h: &mut History, slug: &str, status: Status, at: DateTime<Utc>) -> Service {
    let mut s = [service(slug, status, Some(10.0), at)];
    h.observe(&mut s, at);
    let [s] = s;
    s
}

fn fresh() -> (tempfile::TempDir, History) {
    let dir = tempfile::tempdir().unwrap();
    let h = History::load(dir.path(), t("2026-11-24T00:00:00Z"));
    (dir, h)
}

#[test]
fn availability_counts_degraded_as_available_and_ignores_maintenance_and_unknown() {
    let mut c = Counts::default();
    assert_eq!(c.availability(), None);
    c.add(Status::Maintenance, None);
    c.add(Status::Unknown, None);
    assert_eq!(c.availability(), None, "nothing countable yet");
    c.add(Status::Up, Some(2.0));
    c.add(Status::Degraded, Some(8.0));
    c.add(Status::Down, None);
    c.add(Status::Up, Some(5.0));
    assert_eq!(c.availability(), Some(0.75));
    assert_eq!(c.checks(), 6);
    assert_eq!(
        (c.lat_min, c.lat_max, c.latency_avg()),
        (2.0, 8.0, Some(5.0))
    );
}

#[test]
fn maintenance_is_not_downtime() {
    let (_dir, mut h) = fresh();
    let start = t("2026-11-24T10:00:00Z");
    for i in 0..10 {
        check(&mut h, "db", Status::Up, start + Duration::minutes(i));
    }
    // An hour of maintenance in which the service is unreachable.
    for i in 10..70 {
        check(
            &mut h,
            "db",
            Status::Maintenance,
            start + Duration::minutes(i),
        );
    }
    let s = check(&mut h, "db", Status::Up, start + Duration::minutes(70));
    assert_eq!(s.uptime.day, Some(1.0));
    assert_eq!(s.uptime.week, Some(1.0));
    assert_eq!(s.days.last(), Some(&Some(1.0)));
    // …whereas the same hour down counts.
    for i in 71..131 {
        check(&mut h, "db", Status::Down, start + Duration::minutes(i));
    }
    let s = check(&mut h, "db", Status::Up, start + Duration::minutes(131));
    assert_eq!(s.uptime.day, Some(ratio(12.0 / 72.0)));
}

#[test]
fn a_result_is_counted_once_however_many_cycles_show_it() {
    let (_dir, mut h) = fresh();
    let at = t("2026-11-24T10:00:00Z");
    for _ in 0..5 {
        check(&mut h, "web", Status::Up, at);
    }
    assert_eq!(h.service("web").unwrap().days[0].counts.checks(), 1);
}

#[test]
fn a_change_of_status_opens_an_incident_and_closes_the_one_before() {
    let (_dir, mut h) = fresh();
    let at = t("2026-11-24T10:00:00Z");
    check(&mut h, "web", Status::Up, at);
    assert!(h.incidents.is_empty(), "the first check is not a change");
    check(&mut h, "web", Status::Down, at + Duration::minutes(1));
    let mut s = [service(
        "web",
        Status::Up,
        Some(1.0),
        at + Duration::minutes(4),
    )];
    let incidents = h.observe(&mut s, at + Duration::minutes(10));
    assert_eq!(incidents.len(), 2);
    let (back, down) = (&incidents[0], &incidents[1]);
    assert_eq!((down.from, down.to), (Status::Up, Status::Down));
    assert_eq!(down.error.as_deref(), Some("connection refused"));
    assert_eq!(down.end, Some(at + Duration::minutes(4)));
    assert_eq!(down.duration_seconds, 180);
    assert_eq!(
        (back.from, back.to, back.end),
        (Status::Down, Status::Up, None)
    );
    assert_eq!(
        back.duration_seconds, 360,
        "an open incident lasts until now"
    );
    assert!(h.save_due(), "a change is saved without waiting");
}

#[test]
fn the_strip_and_the_sparkline_line_up_with_today_and_now() {
    let (_dir, mut h) = fresh();
    let now = t("2026-11-24T12:07:00Z");
    check(&mut h, "web", Status::Down, now - Duration::days(89));
    check(&mut h, "web", Status::Up, now - Duration::days(3));
    let mut s = [service("web", Status::Up, Some(4.0), now)];
    h.observe(&mut s, now);
    let [s] = s;
    assert_eq!(s.days.len(), DAYS);
    assert_eq!(s.days[0], Some(0.0), "89 days ago is the first bar");
    assert_eq!(s.days[86], Some(1.0));
    assert_eq!(s.days[89], Some(1.0), "today is the last bar");
    assert_eq!(s.days.iter().flatten().count(), 3);
    assert_eq!(s.latency_24h.len(), LATENCY_SLOTS);
    assert_eq!(s.latency_24h[LATENCY_SLOTS - 1], Some(4.0));
    assert_eq!(s.latency_24h.iter().flatten().count(), 1);
    assert_eq!(s.uptime.week, Some(1.0));
    assert_eq!(s.uptime.quarter, Some(ratio(2.0 / 3.0)));
}

#[test]
fn a_restart_keeps_uptime_and_incidents_and_sees_a_change_across_it() {
    let dir = tempfile::tempdir().unwrap();
    let at = t("2026-11-24T10:00:00Z");
    let mut h = History::load(dir.path(), at);
    check(&mut h, "web", Status::Up, at);
    check(&mut h, "web", Status::Down, at + Duration::minutes(1));
    check(&mut h, "web", Status::Up, at + Duration::minutes(2));
    h.save().unwrap();
    let before = h.service("web").cloned();

    let mut h = History::load(dir.path(), at + Duration::minutes(3));
    assert!(h.errors(at).is_empty());
    assert_eq!(h.service("web").cloned(), before);
    let s = check(&mut h, "web", Status::Down, at + Duration::minutes(3));
    assert_eq!(s.uptime.day, Some(0.5));
    assert_eq!(
        h.incidents.len(),
        3,
        "the change after the restart is an incident"
    );
}

#[test]
fn a_corrupt_file_is_moved_aside_reported_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE);
    std::fs::write(&path, b"{\"version\":1,\"services\":{\"web\":{\"days\":[{").unwrap();
    let at = t("2026-11-24T10:00:00Z");
    let mut h = History::load(dir.path(), at);
    let errors = h.errors(at);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("not a valid history file"), "{errors:?}");
    assert!(errors[0].contains("history.json.corrupt-20261124T100000Z"));
    let aside = dir.path().join("history.json.corrupt-20261124T100000Z");
    assert!(
        std::fs::read(&aside).unwrap().starts_with(b"{\"version\""),
        "kept for a person to look at"
    );
    assert!(!path.exists());
    assert!(h.save_due());
    check(&mut h, "web", Status::Up, at);
    h.save().unwrap();
    assert!(History::load(dir.path(), at).errors(at).is_empty());
    assert_eq!(h.errors(at + Duration::hours(25)), Vec::<String>::new());
}

#[test]
fn a_file_of_another_version_is_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(FILE),
        b"{\"version\":2,\"services\":{},\"incidents\":[]}",
    )
    .unwrap();
    let at = t("2026-11-24T10:00:00Z");
    let mut h = History::load(dir.path(), at);
    assert!(h.errors(at)[0].contains("format version 2"));
}

#[test]
fn a_failed_save_is_reported_until_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    // state_dir is a file: nothing can be created in it.
    let blocker = dir.path().join("state");
    std::fs::write(&blocker, b"").unwrap();
    let at = t("2026-11-24T10:00:00Z");
    let mut h = History::load(&blocker, at);
    check(&mut h, "web", Status::Up, at);
    assert!(h.save().is_err());
    let errors = h.errors(at);
    assert!(
        errors.iter().any(|e| e.contains("cannot save")),
        "{errors:?}"
    );
    assert!(h.save_due(), "retried");
}

#[test]
fn services_no_longer_configured_are_dropped() {
    let (_dir, mut h) = fresh();
    let at = t("2026-11-24T10:00:00Z");
    check(&mut h, "old", Status::Up, at);
    check(&mut h, "web", Status::Up, at);
    let config = crate::config::Config::parse(
        "[[service]]\nname = \"Web\"\nkind = \"http\"\nurl = \"http://127.0.0.1:1/\"\n",
        Path::new("c.toml"),
        &Default::default(),
    )
    .unwrap();
    h.retain(&config.services);
    assert!(h.service("old").is_none() && h.service("web").is_some());
}

/// A year and more of the worst case: two services that change status at every check, each
/// with a long error of multi-byte characters. The file must stay within [`max_file_bytes`].
#[test]
fn the_file_stays_within_its_bound_after_a_simulated_year() {
    let dir = tempfile::tempdir().unwrap();
    let start = t("2025-10-01T00:00:00Z");
    let mut h = History::load(dir.path(), start);
    let slugs: Vec<String> = (0..2).map(|i| format!("service-number-{i}")).collect();
    let error = "«ошибка» \"quoted\" \u{1}".repeat(40);
    let step = Duration::minutes(5);
    let checks = 420 * 24 * 12;
    let statuses = [
        Status::Up,
        Status::Down,
        Status::Degraded,
        Status::Maintenance,
    ];
    let mut at = start;
    for n in 0..checks {
        for (i, slug) in slugs.iter().enumerate() {
            let mut s = service(slug, statuses[(n + i) % 4], Some(1e9 / 7.0), at);
            s.error = Some(error.clone());
            h.record(&s, at);
        }
        at += step;
    }
    h.save().unwrap();
    let size = std::fs::metadata(dir.path().join(FILE)).unwrap().len() as usize;
    let bound = max_file_bytes(slugs.len(), slugs[0].len());
    let incidents = serde_json::to_vec(&h.incidents).unwrap().len();
    eprintln!(
        "worst case after 420 days, 2 services: {size} bytes, of which incidents {incidents} \
         (bound {bound})"
    );
    assert!(size <= bound, "{size} > {bound}");
    for slug in &slugs {
        let s = h.service(slug).unwrap();
        assert_eq!(s.days.len(), KEEP_DAYS);
        assert_eq!(s.fine.len(), FINE_BUCKETS);
    }
    assert_eq!(h.incidents.len(), KEEP_INCIDENTS);
    assert!(
        h.incidents
            .iter()
            .all(|i| i.error.as_ref().unwrap().chars().count() <= ERROR_CHARS + 1)
    );
    // And it reads back whole (floats compared loosely: JSON need not round-trip the last bit).
    let mut back = History::load(dir.path(), at);
    assert!(back.errors(at).is_empty());
    assert_eq!(back.incidents.len(), KEEP_INCIDENTS);
    for slug in &slugs {
        let (a, b) = (back.service(slug).unwrap(), h.service(slug).unwrap());
        assert_eq!(
            (a.last_status, a.last_checked),
            (b.last_status, b.last_checked)
        );
        assert_eq!(a.days.len(), b.days.len());
        assert_eq!(
            a.days.back().unwrap().counts.up,
            b.days.back().unwrap().counts.up
        );
        assert_eq!(a.fine.len(), b.fine.len());
    }
}

/// Five minutes of history do not make a week of 100%: each window says how much of it was
/// watched, and the days before the first check are not counted either way.
#[test]
fn a_fresh_history_says_how_much_of_each_window_it_covers() {
    let (_dir, mut h) = fresh();
    let first = t("2026-11-29T23:55:00Z");
    check(&mut h, "web", Status::Up, first);
    let now = first + Duration::minutes(5);
    let mut s = [service("web", Status::Up, Some(3.0), now)];
    h.observe(&mut s, now);
    let [s] = s;
    assert_eq!(s.observed_since, Some(first));
    assert_eq!(s.uptime.week, Some(1.0), "the ratio keeps its meaning");
    // 5 minutes of 24 hours; of the 7-day window (6 days and 0 minutes long at midnight).
    assert_eq!(s.uptime_coverage.day, 0.003472);
    assert_eq!(s.uptime_coverage.week, 0.000578);
    assert!(s.uptime_coverage.year < s.uptime_coverage.month);
    assert!(s.uptime_coverage.year > 0.0);
    // The strip: data for yesterday and today only.
    assert_eq!(s.days.iter().flatten().count(), 2);
    assert!(s.days[..DAYS - 2].iter().all(Option::is_none));

    // A week on, the short windows are whole and the long ones still partial.
    let later = first + Duration::days(8);
    let s = check(&mut h, "web", Status::Up, later);
    assert_eq!((s.uptime_coverage.day, s.uptime_coverage.week), (1.0, 1.0));
    assert!(s.uptime_coverage.month < 1.0);

    // A service never checked has no since and covers nothing.
    assert_eq!(
        ServiceHistory::default().uptime(later).1,
        Coverage::default()
    );
}

/// A history file from before `first_checked` existed: its oldest data stands in for it.
#[test]
fn the_first_check_of_an_old_file_is_inferred_from_its_oldest_data() {
    let (_dir, mut h) = fresh();
    let at = t("2026-11-24T10:02:00Z");
    check(&mut h, "web", Status::Up, at);
    let stored = h.services.get_mut("web").unwrap();
    stored.first_checked = None;
    assert_eq!(stored.since(), Some(t("2026-11-24T10:00:00Z")));
    stored.fine.clear();
    assert_eq!(stored.since(), Some(t("2026-11-24T00:00:00Z")));
    // The next check records it for good.
    check(&mut h, "web", Status::Up, at + Duration::minutes(1));
    assert_eq!(
        h.service("web").unwrap().first_checked,
        Some(t("2026-11-24T00:00:00Z"))
    );
}

#[test]
fn a_service_down_at_its_first_check_is_an_incident() {
    let (_dir, mut h) = fresh();
    let at = t("2026-11-24T10:00:00Z");
    check(&mut h, "db", Status::Down, at);
    check(&mut h, "web", Status::Up, at);
    check(&mut h, "slow", Status::Degraded, at);
    let mut s = [service("db", Status::Down, None, at)];
    let incidents = h.observe(&mut s, at + Duration::seconds(30));
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    let db = incidents.iter().find(|i| i.service == "db").unwrap();
    assert_eq!(
        (db.from, db.to, db.end),
        (Status::Unknown, Status::Down, None)
    );
    assert_eq!(db.error.as_deref(), Some("connection refused"));
    assert_eq!(db.duration_seconds, 30);
    assert!(h.save_due());
}

/// The page shows times cut to the second; the duration is the difference of those, so one
/// outage has one length wherever it is read.
#[test]
fn a_duration_is_the_difference_of_the_times_shown() {
    let (_dir, mut h) = fresh();
    let at = t("2026-11-24T10:00:00.900Z");
    check(&mut h, "web", Status::Up, at - Duration::seconds(5));
    check(&mut h, "web", Status::Down, at);
    let back = t("2026-11-24T10:00:20.100Z");
    let mut s = [service("web", Status::Up, Some(1.0), back)];
    let incidents = h.observe(&mut s, t("2026-11-24T10:00:30.050Z"));
    let down = &incidents[1];
    assert_eq!(
        crate::snapshot::format_time(&down.at),
        "2026-11-24T10:00:00Z"
    );
    assert_eq!(
        crate::snapshot::format_time(&down.end.unwrap()),
        "2026-11-24T10:00:20Z"
    );
    assert_eq!(down.duration_seconds, 20);
    assert_eq!(
        incidents[0].duration_seconds, 10,
        "20.1 to 30.05 shows as :20 to :30"
    );
}
