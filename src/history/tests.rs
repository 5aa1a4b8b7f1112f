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
        group: None,
        status,
        latency_ms: latency,
        checked_at: Some(at),
        error: (status == Status::Down).then(|| "connection refused".into()),
        uptime: Uptime::default(),
        observed_since: None,
        uptime_coverage: Default::default(),
        details: Default::default(),
        days: Default::default(),
        latency_24h: Default::default(),
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

/// The records keep what a figure reads: available (up or degraded) and down checks, and the
/// latencies measured (min and max were never shown, so they are no longer kept).
#[test]
fn availability_counts_degraded_as_available_and_ignores_maintenance_and_unknown() {
    let mut c = Day::default();
    let mut b = Bucket::default();
    assert_eq!(c.availability(), None);
    for (status, latency) in [(Status::Maintenance, None), (Status::Unknown, None)] {
        c.add(status);
        b.add(status, latency);
    }
    assert_eq!(c.availability(), None, "nothing countable yet");
    for (status, latency) in [
        (Status::Up, Some(2.0)),
        (Status::Degraded, Some(8.0)),
        (Status::Down, None),
        (Status::Up, Some(5.0)),
    ] {
        c.add(status);
        b.add(status, latency.and_then(records::micros));
    }
    assert_eq!(c.availability(), Some(0.75));
    assert_eq!((c.ok(), c.down()), (3, 1));
    assert_eq!((b.ok, b.down, b.lat_n, b.lat_us()), (3, 1, 3, 15_000));
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
    assert_eq!(s.days.last(), Some(1.0));
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
    let (_, day) = h.service("web").unwrap().days()[0];
    assert_eq!(day.ok() + day.down(), 1);
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
    assert_eq!(s.days.get(0), Some(0.0), "89 days ago is the first bar");
    assert_eq!(s.days.get(86), Some(1.0));
    assert_eq!(s.days.get(89), Some(1.0), "today is the last bar");
    assert_eq!(s.days.iter().flatten().count(), 3);
    assert_eq!(s.latency_24h.len(), LATENCY_SLOTS);
    assert_eq!(s.latency_24h.get(LATENCY_SLOTS - 1), Some(4.0));
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
        b"{\"version\":3,\"services\":{},\"incidents\":[]}",
    )
    .unwrap();
    let at = t("2026-11-24T10:00:00Z");
    let mut h = History::load(dir.path(), at);
    assert!(h.errors(at)[0].contains("format version 3"));
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
        assert_eq!(s.days().len(), KEEP_DAYS);
        assert_eq!(s.buckets().len(), FINE_BUCKETS);
    }
    assert_eq!(h.incidents.len(), KEEP_INCIDENTS);
    assert!(
        h.incidents
            .iter()
            .all(|i| i.error.as_ref().unwrap().chars().count() <= ERROR_CHARS + 1)
    );
    // And it reads back whole (floats compared loosely: JSON need not round-trip the last bit).
    let mut back = History::load(dir.path(), at);
    assert_eq!(back.errors(at), Vec::<String>::new());
    assert_eq!(back.incidents.len(), KEEP_INCIDENTS);
    for slug in &slugs {
        let (a, b) = (back.service(slug).unwrap(), h.service(slug).unwrap());
        assert_eq!(
            (a.last_status, a.last_checked),
            (b.last_status, b.last_checked)
        );
        assert_eq!(a.days().len(), b.days().len());
        assert_eq!(
            a.days().last().unwrap().1.ok(),
            b.days().last().unwrap().1.ok()
        );
        assert_eq!(a.buckets().len(), b.buckets().len());
        assert_eq!(a, b, "the records read back whole");
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
    assert!(s.days.iter().take(DAYS - 2).all(|d| d.is_none()));

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
    stored.fine = Default::default();
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

/// The clock set back a year after a check: the next check is counted (it used to be skipped
/// as "older than the last", which froze every count), and what is dated after it is dropped.
#[test]
fn a_check_after_the_clock_stepped_back_is_counted_and_the_future_dropped() {
    let (_dir, mut h) = fresh();
    let ahead = t("2027-11-24T12:00:00Z");
    check(&mut h, "web", Status::Up, ahead - Duration::minutes(1));
    check(&mut h, "web", Status::Down, ahead);
    assert_eq!(h.incidents.len(), 1);
    let now = t("2026-11-24T12:00:00Z");
    let s = check(&mut h, "web", Status::Up, now);
    let web = h.service("web").unwrap();
    assert_eq!(web.last_checked, Some(now));
    assert_eq!(web.days().len(), 1);
    assert_eq!(web.days()[0].0, now.date_naive());
    assert_eq!(web.days()[0].1.ok(), 1);
    assert_eq!(web.buckets().len(), 1);
    assert_eq!(s.uptime.day, Some(1.0), "the future's down check is gone");
    assert_eq!(s.uptime.year, Some(1.0));
    assert!(
        h.incidents.iter().all(|i| i.at <= now),
        "the future's incident is gone: {:?}",
        h.incidents
    );
    // And counting goes on from there.
    check(&mut h, "web", Status::Up, now + Duration::minutes(1));
    assert_eq!(h.service("web").unwrap().days()[0].1.ok(), 2);
}

#[test]
fn a_last_checked_ahead_of_now_is_reported_at_load_for_a_while() {
    let (dir, mut h) = fresh();
    check(&mut h, "web", Status::Up, t("2027-11-24T12:00:00Z"));
    h.save().unwrap();
    let now = t("2026-11-24T12:00:00Z");
    let mut back = History::load(dir.path(), now);
    let errors = back.errors(now);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("clock") && errors[0].contains("2027-11-24T12:00:00Z"),
        "{errors:?}"
    );
    assert!(back.errors(now + CLOCK_NOTICE_FOR).len() == 1);
    assert!(
        back.errors(now + CLOCK_NOTICE_FOR + Duration::seconds(1))
            .is_empty()
    );
    // A small difference is no step.
    let mut h = History::load(dir.path(), t("2027-11-24T12:00:05Z"));
    assert!(h.errors(t("2027-11-24T12:00:05Z")).is_empty());
}

#[test]
fn the_clock_watch_tells_a_step_from_time_passing() {
    let mut w = ClockWatch::default();
    let at = t("2026-11-24T12:00:00Z");
    let mono = std::time::Duration::from_secs(1000);
    assert_eq!(w.step_at(at, mono), None);
    // A minute on both clocks: no step.
    let (at, mono) = (
        at + Duration::minutes(1),
        mono + std::time::Duration::from_secs(60),
    );
    assert_eq!(w.step_at(at, mono), None);
    // A second on the monotonic clock, an hour back on the wall: a step back.
    let (back, mono) = (
        at - Duration::hours(1),
        mono + std::time::Duration::from_secs(1),
    );
    assert_eq!(
        w.step_at(back, mono),
        Some(-Duration::hours(1) - Duration::seconds(1))
    );
    // A day forward.
    let (fwd, mono) = (
        back + Duration::days(1),
        mono + std::time::Duration::from_secs(1),
    );
    assert_eq!(
        w.step_at(fwd, mono),
        Some(Duration::days(1) - Duration::seconds(1))
    );
    let mut h = History::load(tempfile::tempdir().unwrap().path(), fwd);
    h.clock_stepped("the clock stepped forward by 1day".into(), fwd);
    assert!(h.errors(fwd)[0].starts_with("clock: the clock stepped forward"));
}

#[test]
fn a_file_past_the_limit_is_not_read_but_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let at = t("2026-11-24T12:00:00Z");
    std::fs::write(dir.path().join(FILE), vec![b' '; 1000]).unwrap();
    let mut h = History::load_within(dir.path(), at, 999);
    let errors = h.errors(at);
    assert!(
        errors[0].contains("1000 bytes") && errors[0].contains("999"),
        "{errors:?}"
    );
    assert!(!dir.path().join(FILE).exists());
    assert!(
        dir.path()
            .join(format!("{FILE}.oversized-20261124T120000Z"))
            .exists()
    );
    // The limit is generous for a small config, and grows with it.
    assert!(load_limit(1, 4) >= 4 * max_file_bytes(1, 64) as u64);
    assert!(load_limit(100, 20) > load_limit(1, 20));
}

/// A file that is valid JSON but past the bounds `record` keeps (written by hand, by another
/// tool, or by a bug) is trimmed when read, and what was mended is reported.
#[test]
fn a_file_past_the_bounds_is_trimmed_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let at = t("2026-11-24T12:00:00Z");
    let day0 = t("2020-01-01T00:00:00Z").date_naive();
    // Days newest first (out of order), one repeated; buckets past their number.
    let mut days: Vec<serde_json::Value> = (0..1000)
        .rev()
        .map(|i| serde_json::json!({"date": (day0 + Duration::days(i)).to_string(), "up": 1}))
        .collect();
    days.push(serde_json::json!({"date": (day0 + Duration::days(999)).to_string(), "down": 1}));
    let fine: Vec<serde_json::Value> = (0..1000)
        .map(|i| serde_json::json!({"start": i * BUCKET_SECONDS, "up": 1, "lat_n": 1, "lat_min": -5.0, "lat_sum": -5.0, "lat_max": -5.0}))
        .collect();
    let incidents: Vec<serde_json::Value> = (0..3000)
        .map(|i| {
            serde_json::json!({"service": "web", "from": "up", "to": "down",
                "at": (at - Duration::minutes(i)).to_rfc3339(), "error": "x".repeat(10_000),
                "duration_seconds": 0})
        })
        .collect();
    let file = serde_json::json!({"version": 1, "services": {"web": {"last_status": "up",
        "days": days, "fine": fine}}, "incidents": incidents});
    std::fs::write(dir.path().join(FILE), serde_json::to_vec(&file).unwrap()).unwrap();

    let mut h = History::load(dir.path(), at);
    let web = h.service("web").unwrap();
    let days = web.days();
    assert_eq!(days.len(), KEEP_DAYS);
    assert!(days.iter().zip(days.iter().skip(1)).all(|(a, b)| a.0 < b.0));
    let last = days.last().unwrap();
    assert_eq!(
        (last.0, last.1.ok(), last.1.down()),
        (day0 + Duration::days(999), 1, 1)
    );
    assert_eq!(web.buckets().len(), FINE_BUCKETS);
    assert!(
        web.buckets()
            .iter()
            .all(|(_, b)| b.lat_n == 0 && b.lat_us() == 0)
    );
    assert_eq!(h.incidents.len(), KEEP_INCIDENTS);
    assert!(
        h.incidents
            .iter()
            .all(|i| i.error.as_ref().unwrap().chars().count() == ERROR_CHARS + 1)
    );
    let errors = h.errors(at);
    assert!(
        errors[0].contains("601 day records") && errors[0].contains("2000 incidents"),
        "{errors:?}"
    );
    // Saved at once (the mend is urgent), within the bound.
    assert!(h.save_due());
    h.save().unwrap();
    let size = std::fs::metadata(dir.path().join(FILE)).unwrap().len() as usize;
    assert!(size <= max_file_bytes(1, 3), "{size}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            prop_oneof![
                Just("up".to_string()),
                Just("down".to_string()),
                Just("2026-11-24".to_string()),
                Just("+262142-12-31T23:59:59Z".to_string()),
                Just("-262143-01-01T00:00:00Z".to_string()),
                Just("2026-11-24T12:00:00Z".to_string()),
                ".{0,20}",
            ]
            .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("version".to_string()),
                        Just("services".to_string()),
                        Just("incidents".to_string()),
                        Just("days".to_string()),
                        Just("fine".to_string()),
                        Just("date".to_string()),
                        Just("start".to_string()),
                        Just("last_checked".to_string()),
                        Just("last_status".to_string()),
                        Just("up".to_string()),
                        Just("lat_n".to_string()),
                        Just("lat_sum".to_string()),
                        Just("at".to_string()),
                        Just("web".to_string()),
                        // Version 2's columns.
                        Just("day".to_string()),
                        Just("ok".to_string()),
                        Just("down".to_string()),
                        Just("bucket".to_string()),
                        Just("fine_ok".to_string()),
                        Just("fine_down".to_string()),
                        Just("lat_us".to_string()),
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Loads `bytes` as the history file, then does what a cycle does with it: never a panic.
    fn exercise(bytes: &[u8], now: DateTime<Utc>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), bytes).unwrap();
        let mut h = History::load_within(dir.path(), now, 1 << 20);
        let mut services = [service("web", Status::Up, Some(1.0), now)];
        h.observe(&mut services, now);
        let _ = h.errors(now);
        h.save().unwrap();
        let _ = History::load(dir.path(), now);
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_json_never_panics(v in any_json(), now in 0i64..8_000_000_000) {
            exercise(&serde_json::to_vec(&v).unwrap(), at(now));
        }

        #[test]
        fn extreme_values_in_a_well_formed_file_never_panic(
            // The edges, where arithmetic on the value overflows, as often as the middle.
            start in prop_oneof![any::<i64>(), i64::MAX - 1000..=i64::MAX, i64::MIN..i64::MIN + 1000],
            // RFC 3339 (the file's format for times) has four-digit years: 0001 to 9999.
            day in prop_oneof![1i32..3_652_059, -262_000i32 * 365..262_000 * 365],
            count in any::<u32>(),
            latency in any::<f64>().prop_filter("finite", |f| f.is_finite()),
            checked in -62_000_000_000i64..253_000_000_000,
            incident_at in -62_000_000_000i64..253_000_000_000,
            now in 0i64..8_000_000_000,
        ) {
            let date = NaiveDate::from_num_days_from_ce_opt(day).unwrap_or_default();
            let file = serde_json::json!({"version": 1, "services": {"web": {
                "last_status": "down",
                "last_checked": at(checked).to_rfc3339(),
                "days": [{"date": date.to_string(), "up": count, "down": count, "lat_n": count,
                          "lat_min": latency, "lat_sum": latency, "lat_max": latency}],
                "fine": [{"start": start, "up": count, "lat_n": count, "lat_sum": latency,
                          "lat_max": latency}]}},
                "incidents": [{"service": "web", "from": "up", "to": "down",
                    "at": at(incident_at).to_rfc3339(), "duration_seconds": count}]});
            exercise(&serde_json::to_vec(&file).unwrap(), at(now));
        }

        #[test]
        fn extreme_values_in_a_version_2_file_never_panic(
            bucket in prop_oneof![any::<i64>(), i64::MAX - 1000..=i64::MAX, i64::MIN..i64::MIN + 1000],
            day in prop_oneof![1i32..3_652_059, -262_000i32 * 365..262_000 * 365],
            count in any::<u32>(),
            us in any::<u64>(),
            generation in prop_oneof![any::<u64>(), Just(u64::MAX)],
            days in 0usize..1_000,
            buckets in 0usize..1_000,
            // Columns of unequal length.
            short in 0usize..3,
            checked in -62_000_000_000i64..253_000_000_000,
            now in 0i64..8_000_000_000,
        ) {
            let date = NaiveDate::from_num_days_from_ce_opt(day).unwrap_or_default();
            let file = serde_json::json!({"version": 2, "generation": generation, "services": {"web": {
                "last_status": "down",
                "last_checked": at(checked).to_rfc3339(),
                "day": date.to_string(),
                "ok": vec![count; days], "down": vec![count; days.saturating_sub(short)],
                "bucket": bucket,
                "fine_ok": vec![count; buckets], "fine_down": vec![count; buckets],
                "lat_n": vec![count; buckets.saturating_sub(short)], "lat_us": vec![us; buckets]}},
                "incidents": []});
            exercise(&serde_json::to_vec(&file).unwrap(), at(now));
        }
    }
}

/// A history of `n` services with a check on each of the last 365 days, saved whole.
fn a_year_of(n: usize, dir: &Path, now: DateTime<Utc>) -> History {
    let mut h = History::load(dir, now);
    for day in (1..=365).rev() {
        let at = now - Duration::days(day);
        for i in 0..n {
            let status = if (day + i as i64) % 50 == 0 {
                Status::Down
            } else {
                Status::Up
            };
            h.record(&service(&format!("svc-{i}"), status, Some(3.5), at), at);
        }
    }
    h.save().unwrap();
    h
}

fn stamp(path: &Path) -> (u64, u64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    (m.ino(), m.len(), m.mtime_nsec())
}

#[test]
fn a_save_after_one_changed_service_writes_a_line_not_the_year() {
    let dir = tempfile::tempdir().unwrap();
    let now = t("2026-11-24T12:00:00Z");
    let mut h = a_year_of(100, dir.path(), now);
    let file = dir.path().join(FILE);
    let before = stamp(&file);
    assert!(
        before.1 > 100_000,
        "a year of 100 services: {} bytes",
        before.1
    );
    check(&mut h, "svc-7", Status::Up, now);
    h.save().unwrap();
    assert_eq!(stamp(&file), before, "the year was rewritten");
    let journal = journal::path(&file, h.generation);
    let written = std::fs::metadata(&journal).unwrap().len();
    eprintln!(
        "history.json {} bytes; the save of one check wrote {written}",
        before.1
    );
    assert!(written <= 200, "{written} bytes for one check");
    // The file and its journal give back the same history.
    let again = History::load(dir.path(), now);
    assert_eq!(again.services, h.services);
    assert_eq!(again.incidents, h.incidents);
}

#[test]
fn a_kill_loses_at_most_the_checks_since_the_last_save() {
    let dir = tempfile::tempdir().unwrap();
    let now = t("2026-11-24T12:00:00Z");
    let mut h = a_year_of(3, dir.path(), now);
    let mut at = now;
    for _ in 0..5 {
        at += Duration::seconds(30);
        check(&mut h, "svc-1", Status::Down, at);
        check(&mut h, "svc-2", Status::Up, at);
        h.save().unwrap();
    }
    let saved = (h.services.clone(), h.incidents.clone());
    // Checks after the last save, then a kill -9: gone, and only they.
    at += Duration::seconds(30);
    check(&mut h, "svc-1", Status::Up, at);
    drop(h);
    let journal = journal::path(&dir.path().join(FILE), 1);
    // A kill in the middle of an append leaves a torn last line.
    let mut torn = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    torn.write_all(b"{\"s\":\"svc-1\",\"t\":17").unwrap();
    drop(torn);
    let mut h = History::load(dir.path(), at);
    assert_eq!((h.services.clone(), h.incidents.clone()), saved);
    assert!(h.errors(at).is_empty(), "{:?}", h.errors(at));
    // The next save starts a new generation; the torn journal is gone.
    h.save().unwrap();
    assert!(!journal.exists());
    let again = History::load(dir.path(), at);
    assert_eq!((again.services, again.incidents), saved);
}

#[test]
fn a_file_without_a_generation_loads_and_the_journal_of_another_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let now = t("2026-11-24T12:00:00Z");
    // The format before the journal: no generation.
    std::fs::write(
        dir.path().join(FILE),
        br#"{"version":1,"services":{"web":{"last_status":"up","days":[{"date":"2026-11-24","up":4}],"fine":[]}},"incidents":[]}"#,
    )
    .unwrap();
    // A journal left by a crash after a whole write of a later generation would be ignored
    // the same way: only the file's own generation is replayed.
    std::fs::write(
        journal::path(&dir.path().join(FILE), 5),
        b"{\"s\":\"web\",\"t\":1795000000000,\"st\":\"down\"}\n",
    )
    .unwrap();
    let h = History::load(dir.path(), now);
    let web = h.service("web").unwrap();
    assert_eq!(web.days()[0].1.ok(), 4);
    assert_eq!(web.days()[0].1.down(), 0);
}

/// What one service's history may keep resident, in integers: two per day record, four per
/// bucket, the past's figures (the 4 windows' two sums, 89 strip days, the day they are for),
/// the last 24 hours' (a code per latency slot, two sums, five keys and counts) and a few
/// scalars. The maps of version 1 held ten values per day and per bucket (a date or start,
/// five counts, three latency figures): 6,880 after a year, and a struct of f64 each.
const STORED_VALUES_PER_SERVICE: usize =
    2 * KEEP_DAYS + 4 * FINE_BUCKETS + (2 * 4 + DAYS) + (LATENCY_SLOTS + 7) + 8;

/// Issue 14: "the history's resident size per service (counted in stored values) is bounded".
/// A year and more of checks every minute, and a service checked every second for a week: each
/// keeps the same fixed count, and a few KB.
#[test]
fn the_resident_size_per_service_is_bounded_after_a_simulated_year() {
    let (_dir, mut h) = fresh();
    let start = t("2025-10-01T00:00:00Z");
    let statuses = [
        Status::Up,
        Status::Down,
        Status::Degraded,
        Status::Maintenance,
    ];
    // Straight to the records: the journal lines a save would write are not what is measured.
    for n in 0..(400 * 24 * 60) {
        let at = start + Duration::minutes(n);
        h.record_check("minutely", statuses[n as usize % 4], Some(3.5), None, at);
    }
    for n in 0..(7 * 86_400) {
        let at = start + Duration::seconds(n);
        h.record_check("every-second", Status::Up, Some(0.25), None, at);
    }
    let now = start + Duration::days(400);
    let mut services = [
        service("minutely", Status::Up, Some(1.0), now),
        service("every-second", Status::Up, Some(1.0), now),
    ];
    h.observe(&mut services, now);
    for slug in ["minutely", "every-second"] {
        let s = h.service(slug).unwrap();
        eprintln!(
            "{slug}: {} stored values, {} bytes resident",
            s.stored_values(),
            s.resident_bytes()
        );
        assert!(
            s.stored_values() <= STORED_VALUES_PER_SERVICE,
            "{slug}: {} values",
            s.stored_values()
        );
        // 400 days of 6 bytes, 288 buckets of 12, the cached figures: 6.7 KB (7.5 with days of
        // 8 bytes, 10.9 with buckets of 24 bytes too).
        assert!(
            s.resident_bytes() <= 6_800,
            "{slug}: {} bytes",
            s.resident_bytes()
        );
    }
    assert_eq!(h.service("minutely").unwrap().days().len(), KEEP_DAYS);
    assert!(h.stored_values() <= 2 * STORED_VALUES_PER_SERVICE);
}

/// A version 1 file (a JSON object per day and per bucket) loads with the figures it had, and
/// the next save writes version 2, which loads with the same figures again.
#[test]
fn a_version_1_file_loads_with_the_same_figures_and_is_saved_as_version_2() {
    let dir = tempfile::tempdir().unwrap();
    let now = t("2026-11-24T12:07:00Z");
    let day = |d: i64| (now - Duration::days(d)).date_naive().to_string();
    let bucket = |minutes: i64| (now - Duration::minutes(minutes)).timestamp() / 300 * 300;
    let file = serde_json::json!({"version": 1, "generation": 0, "services": {"web": {
        "last_status": "up",
        "last_checked": "2026-11-24T12:05:00.000Z",
        "first_checked": "2025-11-01T00:00:00.000Z",
        "days": [
            {"date": day(200), "up": 10, "down": 10},
            {"date": day(60), "up": 70, "degraded": 20, "down": 10, "maintenance": 500},
            {"date": day(3), "up": 1, "unknown": 4},
            {"date": day(1), "down": 3, "up": 1, "lat_n": 1, "lat_min": 1.0, "lat_sum": 1.0, "lat_max": 1.0},
            {"date": day(0), "up": 4, "lat_n": 4, "lat_min": 2.0, "lat_sum": 10.0, "lat_max": 3.0}],
        "fine": [
            {"start": bucket(60 * 25), "down": 9},
            {"start": bucket(60), "up": 2, "lat_n": 2, "lat_min": 2.0, "lat_sum": 5.0, "lat_max": 3.0},
            {"start": bucket(2), "up": 2, "down": 2, "lat_n": 2, "lat_min": 2.0, "lat_sum": 4.5, "lat_max": 2.5}]}},
        "incidents": []});
    std::fs::write(dir.path().join(FILE), serde_json::to_vec(&file).unwrap()).unwrap();

    let figures = |h: &mut History| {
        let mut s = [service("web", Status::Up, None, now)];
        s[0].checked_at = None;
        h.observe(&mut s, now);
        let [s] = s;
        (
            s.uptime,
            s.uptime_coverage,
            s.observed_since,
            s.days,
            s.latency_24h,
        )
    };
    let mut h = History::load(dir.path(), now);
    assert!(h.errors(now).is_empty(), "{:?}", h.errors(now));
    let (uptime, _, since, days, latency) = figures(&mut h);
    // As version 1 computed them: 24 h from the buckets (the one 25 h ago is out), windows
    // from the days with degraded as available and maintenance and unknown not counted.
    assert_eq!(uptime.day, Some(ratio(4.0 / 6.0)));
    assert_eq!(uptime.week, Some(ratio(6.0 / 9.0)));
    assert_eq!(uptime.month, Some(ratio(6.0 / 9.0)));
    assert_eq!(uptime.quarter, Some(ratio(96.0 / 109.0)));
    assert_eq!(uptime.year, Some(ratio(106.0 / 129.0)));
    assert_eq!(since, Some(t("2025-11-01T00:00:00Z")));
    assert_eq!(days.get(DAYS - 1), Some(1.0));
    assert_eq!(days.get(DAYS - 2), Some(0.25));
    assert_eq!(days.get(DAYS - 4), Some(1.0));
    assert_eq!(days.get(DAYS - 61), Some(0.9));
    assert_eq!(days.iter().flatten().count(), 4);
    assert_eq!(
        latency.get(LATENCY_SLOTS - 1),
        Some(2.3),
        "4.5 ms over 2 checks"
    );
    assert_eq!(latency.get(LATENCY_SLOTS - 5), Some(2.5));
    assert_eq!(latency.iter().flatten().count(), 2);
    let before = figures(&mut h);

    // Nothing new: nothing to save. A check later, the save writes the whole file, as version 2.
    assert!(!h.is_dirty());
    check(&mut h, "web", Status::Up, now);
    h.save().unwrap();
    let bytes = std::fs::read(dir.path().join(FILE)).unwrap();
    assert!(
        bytes.starts_with(b"{\"version\":2,"),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let mut again = History::load(dir.path(), now);
    assert!(again.errors(now).is_empty());
    assert_eq!(again.services, h.services);
    let mut after = figures(&mut h);
    assert_eq!(figures(&mut again), after);
    // The one check added is all that moved.
    after.0.day = before.0.day;
    after.4 = before.4.clone();
    assert_eq!(after.3.to_vec()[..DAYS - 1], before.3.to_vec()[..DAYS - 1]);
}

/// Issue 14: a whole rewrite of a year of 100 services is the compact form: a few KB per service.
#[test]
fn a_year_of_a_service_takes_a_few_kb_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let now = t("2026-11-24T12:00:00Z");
    let h = a_year_of(100, dir.path(), now);
    let size = std::fs::metadata(dir.path().join(FILE)).unwrap().len();
    eprintln!("a year of 100 services: {size} bytes");
    assert!(size <= 100 * 4 * 1024, "{size} bytes");
    assert!(size as usize <= max_file_bytes(100, 6));
    let back = History::load(dir.path(), now);
    assert_eq!(back.services, h.services);
}

mod incremental {
    //! The figures kept from one cycle to the next against the same figures computed from
    //! every check recorded, after random sequences of checks that cross midnights, skip days,
    //! and step the clock back.
    use super::*;
    use proptest::prelude::*;

    /// Every check, kept as a list, with the rules of the records applied the plain way.
    #[derive(Default)]
    struct Naive {
        /// (day, bucket, status, latency in µs)
        checks: Vec<(i64, i64, Status, Option<u64>)>,
        /// Which checks each series still holds: the days and buckets are dropped separately.
        in_days: Vec<bool>,
        in_fine: Vec<bool>,
        last: Option<DateTime<Utc>>,
        first: Option<DateTime<Utc>>,
    }

    impl Naive {
        fn record(&mut self, status: Status, latency: Option<u64>, at: DateTime<Utc>) {
            if self.last == Some(at) {
                return;
            }
            let (day, bucket) = (records::day_key(at), records::bucket_key(at));
            if self.last.is_some_and(|last| at < last) {
                for (i, c) in self.checks.iter().enumerate() {
                    self.in_days[i] &= c.0 <= day;
                    self.in_fine[i] &= c.1 <= bucket;
                }
            }
            self.last = Some(at);
            self.first.get_or_insert(at);
            self.checks.push((day, bucket, status, latency));
            self.in_days.push(true);
            self.in_fine.push(true);
            // The rings keep the newest KEEP_DAYS days and FINE_BUCKETS buckets.
            let newest_day = self.days().map(|c| c.0).max().unwrap_or(day);
            let newest_bucket = self.fine().map(|c| c.1).max().unwrap_or(bucket);
            for (i, c) in self.checks.iter().enumerate() {
                self.in_days[i] &= c.0 > newest_day - KEEP_DAYS as i64;
                self.in_fine[i] &= c.1 > newest_bucket - FINE_BUCKETS as i64;
            }
        }

        fn days(&self) -> impl Iterator<Item = &(i64, i64, Status, Option<u64>)> {
            self.checks
                .iter()
                .zip(&self.in_days)
                .filter(|c| *c.1)
                .map(|c| c.0)
        }

        fn fine(&self) -> impl Iterator<Item = &(i64, i64, Status, Option<u64>)> {
            self.checks
                .iter()
                .zip(&self.in_fine)
                .filter(|c| *c.1)
                .map(|c| c.0)
        }

        fn availability<'a>(
            checks: impl Iterator<Item = &'a (i64, i64, Status, Option<u64>)>,
        ) -> Option<f64> {
            let (mut ok, mut down) = (0u64, 0u64);
            for c in checks {
                match c.2 {
                    Status::Up | Status::Degraded => ok += 1,
                    Status::Down => down += 1,
                    _ => {}
                }
            }
            (ok + down > 0).then(|| ok as f64 / (ok + down) as f64)
        }

        fn figures(&self, now: DateTime<Utc>) -> (Uptime, Vec<Option<f64>>, Vec<Option<f64>>) {
            let today = records::day_key(now);
            let since = now.timestamp() - 86_400;
            let window = |n: i64| {
                Self::availability(self.days().filter(|c| c.0 >= today - (n - 1))).map(ratio)
            };
            let uptime = Uptime {
                day: Self::availability(
                    self.fine()
                        .filter(|c| c.1 * BUCKET_SECONDS + BUCKET_SECONDS > since),
                )
                .map(ratio),
                week: window(7),
                month: window(30),
                quarter: window(90),
                year: window(365),
            };
            let strip = (0..DAYS as i64)
                .map(|i| {
                    let day = today - (DAYS as i64 - 1) + i;
                    Self::availability(self.days().filter(|c| c.0 == day))
                        .map(|r| (r * 10_000.0).round() / 10_000.0)
                })
                .collect();
            let slot = 86_400 / LATENCY_SLOTS as i64;
            let first = now.timestamp().div_euclid(slot) - (LATENCY_SLOTS as i64 - 1);
            let latency = (0..LATENCY_SLOTS as i64)
                .map(|i| {
                    let (mut n, mut us) = (0u64, 0u64);
                    for c in self.fine() {
                        if (c.1 * BUCKET_SECONDS).div_euclid(slot) - first == i
                            && let Some(l) = c.3
                        {
                            n += 1;
                            us += l;
                        }
                    }
                    (n > 0).then(|| (us as f64 / n as f64 / 1000.0 * 10.0).round() / 10.0)
                })
                .collect();
            (uptime, strip, latency)
        }
    }

    fn step() -> impl Strategy<Value = (i64, u8, Option<u32>, i64)> {
        (
            prop_oneof![
                6 => 1i64..900,
                3 => 900i64..3 * 86_400,
                1 => -2 * 86_400i64..0,
                1 => 30 * 86_400i64..500 * 86_400,
            ],
            0u8..5,
            prop::option::of(0u32..5_000_000),
            // How long after the check the cycle looks: at once, a little later, with the
            // check at the edge of the 24 hours, or much later.
            prop_oneof![
                Just(0i64),
                0i64..1_800,
                86_400 - 900i64..86_400 + 900,
                0i64..2 * 86_400
            ],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn the_kept_figures_equal_a_computation_from_every_check(
            steps in prop::collection::vec(step(), 1..80),
        ) {
            let (_dir, mut h) = fresh();
            let mut naive = Naive::default();
            let statuses = [Status::Up, Status::Degraded, Status::Down, Status::Maintenance, Status::Unknown];
            let mut at = t("2026-03-01T22:00:00Z");
            for (delta, status, latency_us, look) in steps {
                at += Duration::seconds(delta);
                let status = statuses[usize::from(status)];
                let latency = latency_us.map(|us| f64::from(us) / 1000.0);
                naive.record(status, latency_us.map(u64::from), at);
                let mut s = [service("web", status, latency, at)];
                let now = at + Duration::seconds(look);
                h.observe(&mut s, now);
                let [s] = s;
                let (uptime, strip, slots) = naive.figures(now);
                prop_assert_eq!(s.uptime, uptime);
                prop_assert_eq!(&s.days.to_vec()[..], &strip[..]);
                prop_assert_eq!(&s.latency_24h.to_vec()[..], &slots[..]);
                prop_assert_eq!(s.observed_since, naive.first);
            }
        }
    }
}

/// A kill in the middle of a whole rewrite (the stream to the temporary file cut short, no
/// rename) leaves the file and journal of the last save, which load back whole.
#[test]
fn a_kill_during_a_whole_rewrite_loses_nothing_saved() {
    let dir = tempfile::tempdir().unwrap();
    let now = t("2026-11-24T12:00:00Z");
    let mut h = a_year_of(3, dir.path(), now);
    check(&mut h, "svc-1", Status::Down, now + Duration::seconds(30));
    h.save().unwrap();
    let saved = (h.services.clone(), h.incidents.clone());
    // What the rewrite had streamed when the kill came: half of the next file.
    let mut next = Vec::new();
    format::write(
        &mut next,
        h.generation.wrapping_add(1),
        &h.services,
        &h.incidents,
    )
    .unwrap();
    next.truncate(next.len() / 2);
    std::fs::write(dir.path().join(".history-Ab12Cd"), &next).unwrap();
    drop(h);
    let back = History::load(dir.path(), now + Duration::minutes(1));
    assert_eq!((back.services, back.incidents), saved);
}

/// A bucket's counts are 16 bits wide and its latency sum 48 (a bucket is 12 bytes): the most checks five minutes can
/// hold at the shortest interval fit, and more (from a hand-edited file) load saturated, not
/// wrapped.
#[test]
fn a_bucket_is_12_bytes_and_a_count_past_its_width_loads_saturated() {
    assert_eq!(std::mem::size_of::<records::Bucket>(), 12);
    let wide = (1u64 << 40) + 5;
    assert_eq!(records::Bucket::new(1, 0, 1, wide).lat_us(), wide);
    assert_eq!(
        records::Bucket::new(1, 0, 1, u64::MAX).lat_us(),
        records::MAX_LAT_US
    );
    let most = 300_000 / crate::config::MIN_INTERVAL.as_millis();
    assert!(most <= u128::from(u16::MAX), "{most} checks in a bucket");
    let dir = tempfile::tempdir().unwrap();
    let now = t("2026-11-24T12:07:00Z");
    let start = now.timestamp() / 300 * 300 - 300;
    let file = serde_json::json!({"version": 2, "generation": 0, "services": {"web": {
        "last_status": "up", "last_checked": "2026-11-24T12:06:00Z",
        "bucket": start, "fine_ok": [70_000, 5], "fine_down": [0, 5], "lat_n": [70_000, 1],
        "lat_us": [70_000_000u64, 1000]}}, "incidents": []});
    std::fs::write(dir.path().join("history.json"), file.to_string()).unwrap();
    let h = History::load(dir.path(), now);
    let buckets = h.service("web").unwrap().buckets();
    assert_eq!(buckets.len(), 2, "{buckets:?}");
    let (b0, b1) = (buckets[0].1, buckets[1].1);
    assert_eq!(
        (b0.ok, b0.down, b0.lat_n, b0.lat_us()),
        (u16::MAX, 0, u16::MAX, 70_000_000)
    );
    assert_eq!((b1.ok, b1.down, b1.lat_n, b1.lat_us()), (5, 5, 1, 1000));
}

/// A day record is 6 bytes (24-bit counts, enough for a day of checks at the shortest
/// interval); a file's count past that loads saturated, and one below it exactly.
#[test]
fn a_day_is_6_bytes_and_a_count_past_its_width_loads_saturated() {
    assert_eq!(std::mem::size_of::<Day>(), 6);
    let most = 86_400_000 / crate::config::MIN_INTERVAL.as_millis();
    assert!(
        most <= u128::from(records::MAX_DAY_COUNT),
        "{most} checks in a day"
    );
    let mut d = Day::new(records::MAX_DAY_COUNT - 1, 7);
    d.add(Status::Up);
    d.add(Status::Up);
    d.add(Status::Down);
    assert_eq!((d.ok(), d.down()), (records::MAX_DAY_COUNT, 8));
    let dir = tempfile::tempdir().unwrap();
    let now = t("2026-11-24T12:07:00Z");
    let file = serde_json::json!({"version": 2, "generation": 0, "services": {"web": {
        "last_status": "up", "last_checked": "2026-11-24T12:06:00Z",
        "day": "2026-11-23", "ok": [u32::MAX, 8_640_000], "down": [20_000_000, 3]}},
        "incidents": []});
    std::fs::write(dir.path().join("history.json"), file.to_string()).unwrap();
    let h = History::load(dir.path(), now);
    let days = h.service("web").unwrap().days();
    assert_eq!(days.len(), 2, "{days:?}");
    let (d0, d1) = (days[0].1, days[1].1);
    assert_eq!(
        (d0.ok(), d0.down()),
        (records::MAX_DAY_COUNT, records::MAX_DAY_COUNT)
    );
    assert_eq!((d1.ok(), d1.down()), (8_640_000, 3));
}

/// What the history hands out for the page and status.json takes 4 bytes a value (a code), not
/// the 16 of an `Option<f64>`, and reads back the numbers it computed.
#[test]
fn the_strip_and_the_slots_take_4_bytes_a_value() {
    let (_dir, mut h) = fresh();
    let now = t("2026-11-24T12:00:00Z");
    let a = check(&mut h, "web", Status::Up, now);
    let b = check(&mut h, "web", Status::Down, now + Duration::seconds(1));
    for s in [&a, &b] {
        assert_eq!(s.days.heap_bytes(), 4 * DAYS);
        assert_eq!(s.latency_24h.heap_bytes(), 4 * LATENCY_SLOTS);
    }
    assert_eq!(a.days.last(), Some(1.0));
    assert_eq!(b.days.last(), Some(0.5));
}

/// A service's day strip and latency slots are handed out again, not copied, while their values
/// stay the same: the snapshots alive at once then hold one copy, not one each. A change gives
/// a new series and leaves the one an older snapshot holds as it was.
#[test]
fn the_strip_and_the_slots_are_shared_between_cycles_while_they_are_the_same() {
    let (_dir, mut h) = fresh();
    let now = t("2026-11-24T12:00:00Z");
    let a = check(&mut h, "web", Status::Up, now);
    let b = check(&mut h, "web", Status::Up, now + Duration::seconds(1));
    assert_eq!(a.days.len(), DAYS);
    assert!(Series::ptr_eq(&a.days, &b.days));
    assert!(Series::ptr_eq(&a.latency_24h, &b.latency_24h));
    let c = check(&mut h, "web", Status::Down, now + Duration::seconds(2));
    assert!(!Series::ptr_eq(&b.days, &c.days));
    assert_eq!(b.days.last(), Some(1.0));
    assert!(c.days.last().unwrap() < 1.0);
}

/// The journal lines waiting for a save are bounded in bytes, whatever the number of services:
/// past [`PENDING_MAX`] a save is due before [`SAVE_EVERY`], and the buffer does not keep a
/// larger size after it. (5,000 services checked every second made 20 MB of lines a minute,
/// and the buffer kept them allocated.)
#[test]
fn the_lines_waiting_for_a_save_stay_under_a_bound_at_any_number_of_services() {
    let (_dir, mut h) = fresh();
    let now = t("2026-11-24T12:00:00Z");
    let mut most = 0;
    let mut saves = 0;
    for cycle in 0..20 {
        let at = now + Duration::seconds(cycle);
        let mut services: Vec<Service> = (0..5_000)
            .map(|i| service(&format!("svc-{i}"), Status::Up, Some(1.5), at))
            .collect();
        h.observe(&mut services, at);
        most = most.max(h.pending.len());
        // As the generator does after each cycle; the first save of a fresh history is due
        // at once, the others only by size (20 s is under SAVE_EVERY).
        if h.save_due() {
            h.save().unwrap();
            saves += 1;
        }
        assert!(
            h.pending.capacity() <= 2 * PENDING_MAX,
            "cycle {cycle}: {} bytes kept",
            h.pending.capacity()
        );
    }
    // At most one cycle's lines (5,000 of them, about 350 KB) past the bound.
    assert!(most <= 2 * PENDING_MAX, "{most} bytes waiting");
    assert!(saves > 2, "{saves} saves in 20 cycles of 5,000 checks");
}

/// An append beside the loop: the lines are taken out, the history goes on recording while
/// they are written, and the file with its journal then gives back everything recorded.
#[test]
fn lines_appended_beside_the_loop_lose_nothing_recorded_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let now = t("2026-11-24T12:00:00Z");
    let mut h = History::load(dir.path(), now);
    check(&mut h, "web", Status::Up, now);
    h.save().unwrap();
    assert!(h.take_append().is_none(), "nothing due");
    // A change of status is saved at once.
    check(&mut h, "web", Status::Down, now + Duration::seconds(1));
    let append = h.take_append().expect("an append is due");
    assert!(h.pending.is_empty());
    // The next cycle records while the lines are on their way.
    check(&mut h, "web", Status::Down, now + Duration::seconds(2));
    check(&mut h, "db", Status::Up, now + Duration::seconds(2));
    h.append_done(append.run());
    assert!(h.errors(now).is_empty(), "{:?}", h.errors(now));
    check(&mut h, "web", Status::Up, now + Duration::seconds(3));
    let append = h.take_append().expect("a change again");
    h.append_done(append.run());
    let again = History::load(dir.path(), now + Duration::seconds(4));
    assert_eq!(again.services, h.services);
    assert_eq!(again.incidents, h.incidents);
}
