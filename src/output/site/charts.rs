//! The per-service parts of the status page that are made in Rust as whole pieces of markup: the
//! 90-day bar strip (`day_strip`), the 24-hour latency sparkline (`sparkline`) and the list of
//! availability figures (`uptimes`).
//!
//! They are tera filters that return markup in one go, not tera loops or lookups: the page is
//! rendered every cycle, and 90 bars and 96 points per service through tera's interpreter would
//! cost a good part of the cycle's CPU budget (even five `s.uptime["24h"]` lookups cost more than
//! the strip). Their output holds only numbers and dates formatted here, never text
//! a person wrote, so it is marked safe (no `| safe` needed in templates). Every chart says in
//! text what its colours and lines show: a title per bar, an `aria-label` summary, an SVG
//! `<title>`.
//!
//! Written for speed, measured with examples/page-weight.rs (the release build is opt-level "z",
//! which makes every small copy and division a call): bytes, not `write!`; digits from a table;
//! and the strip's bars for a perfect day and a day without data made once a day, since they
//! are the same for every service and every cycle of that day.
//!
//! **Why one file of ~510 lines (and its tests).** The three charts share their scales,
//! their coverage rules and the markup helpers; each is short, and reading them side by side
//! is how their agreement is checked.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;

/// A filter whose output is markup made here from numbers: tera must not escape it.
pub struct Markup(pub fn(&Value, &HashMap<String, Value>) -> tera::Result<Value>);

impl tera::Filter for Markup {
    fn filter(&self, value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
        (self.0)(value, args)
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// A share 0..1 as a percentage for people: at most two decimals, rounded *down*, so 99.996% is
/// "99.99%" and only a perfect record reads "100%".
pub fn percent_down(ratio: f64) -> String {
    let mut out = Bytes::with_capacity(8);
    out.percent(ratio);
    out.into_string()
}

/// Two ASCII digits for each of 0..100: small numbers written without dividing.
const PAIRS: &[u8; 200] = b"00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// Markup written as bytes, numbers digit by digit.
struct Bytes(Vec<u8>);

impl Bytes {
    fn with_capacity(n: usize) -> Bytes {
        Bytes(Vec::with_capacity(n))
    }

    fn str(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }

    fn number(&mut self, n: u32) {
        if n < 10 {
            self.0.push(b'0' + n as u8);
        } else if n < 100 {
            self.two_digits(n);
        } else {
            self.number(n / 100);
            self.two_digits(n % 100);
        }
    }

    /// `n` (under 100) as two digits: 7 → "07".
    fn two_digits(&mut self, n: u32) {
        let at = 2 * n as usize;
        self.0.extend_from_slice(&PAIRS[at..at + 2]);
    }

    /// `2026-11-24`.
    fn date(&mut self, date: NaiveDate) {
        use chrono::Datelike;
        self.number(date.year().max(0) as u32);
        self.0.push(b'-');
        self.two_digits(date.month());
        self.0.push(b'-');
        self.two_digits(date.day());
    }

    /// See [`percent_down`].
    fn percent(&mut self, ratio: f64) {
        // The epsilon undoes binary fractions: 0.9995 * 10000 is 9994.99…, which is 99.95 to a
        // person.
        let hundredths = (ratio.clamp(0.0, 1.0) * 10_000.0 + 1e-6) as u32;
        let (whole, frac) = (hundredths / 100, hundredths % 100);
        self.number(whole);
        if frac > 0 {
            self.0.push(b'.');
            let at = 2 * frac as usize;
            let digits = if frac % 10 == 0 { 1 } else { 2 };
            self.0.extend_from_slice(&PAIRS[at..at + digits]);
        }
        self.0.push(b'%');
    }

    fn into_string(self) -> String {
        String::from_utf8(self.0).expect("only whole &str and ASCII digits were written")
    }
}

/// Colour class of a day; the text says the same.
fn day_class(ratio: Option<f64>) -> &'static str {
    match ratio {
        None => "none",
        Some(r) if r >= 0.999 => "ok",
        Some(r) if r >= 0.99 => "minor",
        Some(_) => "major",
    }
}

fn array<'a>(value: &'a Value, filter: &str) -> tera::Result<&'a Vec<Value>> {
    value.as_array().ok_or_else(|| {
        tera::Error::msg(format!(
            "filter `{filter}` needs a list of numbers, got {value}"
        ))
    })
}

/// An optional time argument ("2026-11-24T10:00:00Z"); `null` or absent is `None`.
fn time_arg(args: &HashMap<String, Value>, name: &str) -> Option<DateTime<Utc>> {
    args.get(name)
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// "29 Nov" (or "29 Nov 2025" in another year than `now`), or the time of day "01:05 UTC" when
/// `since` is less than a day before `now`: when a partial window began, for people.
fn since_words(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    use chrono::Datelike;
    if now - since < chrono::Duration::hours(24) {
        since.format("%H:%M UTC").to_string()
    } else if since.year() == now.year() {
        since.format("%-d %b").to_string()
    } else {
        since.format("%-d %b %Y").to_string()
    }
}

/// `{{ s.days | day_strip(today=generated_at) }}`: one bar per run of equal days, oldest first
/// and `today` (the UTC date of that time) last, each with a title that names its days
/// ("2026-11-24: 99.95%", "2026-08-27 to 11-23: 100%") and
/// as wide as its days, the whole strip labelled with a summary for screen readers. An empty
/// list says "No history yet".
///
/// Runs, not days: a bar per day was 90 elements and 4.7 KB a service, most of them the same
/// perfect day; a run says the same in one (issue 14: 20 services in 40 KB). Only days with the
/// very same figure make a run, so every day still has its own words.
///
/// With `since=s.observed_since`, days before the service's first check say "no data" (grey
/// and short, unlike a bad day's tall red bar) and the summary says since when it is watched;
/// a watched day with nothing counted (maintenance or `unknown` all day) says so instead.
#[derive(Default)]
pub struct DayStrip;

/// What a day shows: days that show the same make one run.
#[derive(Clone, Copy, PartialEq)]
enum DayShows {
    Ratio(f64),
    /// Before the first check.
    NoData,
    /// Watched, but nothing counted.
    Nothing,
}

/// One bar for `len` days from `date`. `<i>` keeps the bars short; inside role="img" they are
/// presentational.
fn run(out: &mut Bytes, date: NaiveDate, len: usize, shows: DayShows) {
    let ratio = match shows {
        DayShows::Ratio(r) => Some(r),
        _ => None,
    };
    out.str("<i class=\"");
    out.str(day_class(ratio));
    // As wide as its days: a class per width (style.css has `.days .f2` to `.f90`), since a
    // style attribute is what a strict CSP blocks.
    if len > 1 {
        out.str(" f");
        out.number(len as u32);
    }
    out.str("\" title=\"");
    out.date(date);
    if len > 1 {
        // The dates say how many days; "(19 days)" again was 10 bytes a run. The last day
        // without its year when it is the first's: "2026-10-27 to 11-04" (ISO 8601's short
        // form of a range's end).
        use chrono::Datelike;
        let last = date + chrono::Days::new(len as u64 - 1);
        out.str(" to ");
        if last.year() == date.year() {
            out.two_digits(last.month());
            out.0.push(b'-');
            out.two_digits(last.day());
        } else {
            out.date(last);
        }
    }
    match shows {
        DayShows::Ratio(r) => {
            // "available" is in the strip's label; 10 bytes a run here (issue 14).
            out.str(": ");
            out.percent(r);
            out.str("\"></i>");
        }
        DayShows::NoData => out.str(": no data\"></i>"),
        DayShows::Nothing => out.str(": nothing counted (maintenance or unknown)\"></i>"),
    }
}

impl tera::Filter for DayStrip {
    fn filter(&self, value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let days = array(value, "day_strip")?;
        let today = args
            .get("today")
            .and_then(Value::as_str)
            .and_then(|t| t.get(..10))
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| {
                tera::Error::msg(
                    "filter `day_strip` needs `today`, a time like \"2026-11-24T10:00:00Z\" \
                     (give it generated_at)",
                )
            })?;
        if days.is_empty() {
            return Ok(Value::String(
                "<p class=\"days-empty\">No history yet</p>".into(),
            ));
        }
        let n = days.len();
        let first = today - chrono::Days::new(n as u64 - 1);
        let since = time_arg(args, "since").map(|t| t.date_naive());
        // The summary first (no formatting, cheap), so the markup is written in one pass.
        let mut counted = 0;
        let mut good = 0;
        let mut worst: Option<(usize, f64)> = None;
        for (i, r) in days
            .iter()
            .enumerate()
            .filter_map(|(i, d)| Some((i, d.as_f64()?)))
        {
            counted += 1;
            if r >= 0.999 {
                good += 1;
            }
            if worst.is_none_or(|(_, w)| r < w) {
                worst = Some((i, r));
            }
        }
        // About 80 bytes a run; a few runs a service.
        let mut out = Bytes::with_capacity(600);
        out.str("<div class=\"days\" role=\"img\" aria-label=\"Availability per day, last ");
        out.number(n as u32);
        out.str(" days: ");
        if let Some(since) = since.filter(|&d| d > first) {
            out.str("watched since ");
            out.date(since);
            out.str(", ");
        }
        match worst {
            None => out.str("no data yet"),
            Some((i, w)) => {
                out.number(counted);
                out.str(" with data, ");
                out.number(good);
                out.str(" at 99.9% or more");
                if w < 0.999 {
                    out.str("; worst ");
                    out.percent(w);
                    out.str(" on ");
                    out.date(first + chrono::Days::new(i as u64));
                }
            }
        }
        out.str("\">");
        let shows = |i: usize, day: &Value| match day.as_f64() {
            Some(r) => DayShows::Ratio(r),
            None if since.is_some_and(|s| first + chrono::Days::new(i as u64) >= s) => {
                DayShows::Nothing
            }
            None => DayShows::NoData,
        };
        let mut start = 0;
        while start < n {
            let what = shows(start, &days[start]);
            let mut end = start + 1;
            while end < n && shows(end, &days[end]) == what {
                end += 1;
            }
            run(
                &mut out,
                first + chrono::Days::new(start as u64),
                end - start,
                what,
            );
            start = end;
        }
        if n == 90 {
            // The usual strip's scale is written by style.css (`.s90`): 82 bytes a service
            // less; it is aria-hidden either way, the label above says the same.
            out.str("</div><div class=\"scale s90\" aria-hidden=\"true\"></div>");
        } else {
            out.str("</div><div class=\"scale\" aria-hidden=\"true\"><span>");
            out.number(n as u32);
            out.str(" days ago</span><span>today</span></div>");
        }
        Ok(Value::String(out.into_string()))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// `{{ s.uptime | uptimes(coverage=s.uptime_coverage, since=s.observed_since, now=generated_at) }}`:
/// the availability over 24 h, 7, 30, 90 and 365 days as a list, rounded down ("99.95%"), "–"
/// where the window holds no counted check.
///
/// A window watched only in part (coverage below 1) cannot claim its span: those windows hold
/// the same checks (all of them since the first), so they are one entry, "since 29 Nov" (or
/// "since 01:05 UTC" within the first day), whose title names the windows it stands for. Before
/// the first check the list says so. Without `coverage` every window counts as whole (custom
/// templates written before it existed).
pub fn uptimes(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let windows = value.as_object().ok_or_else(|| {
        tera::Error::msg(format!(
            "filter `uptimes` needs a service's uptime, got {value}"
        ))
    })?;
    let coverage = args.get("coverage").and_then(Value::as_object);
    let since = time_arg(args, "since");
    let now = time_arg(args, "now").unwrap_or_else(Utc::now);
    let mut out = Bytes::with_capacity(400);
    out.str("<div class=\"uptime\"><span class=\"muted\">Availability</span>");
    if coverage.is_some() && since.is_none() {
        out.str(" <span>not checked yet</span></div>");
        return Ok(Value::String(out.into_string()));
    }
    out.str("<dl>");
    let mut partial: Vec<&str> = Vec::new();
    let mut partial_ratio = None;
    for (key, label, short) in [
        ("24h", "24 h", "24 hours"),
        ("7d", "7 days", "7"),
        ("30d", "30 days", "30"),
        ("90d", "90 days", "90"),
        ("365d", "365 days", "365"),
    ] {
        let ratio = windows.get(key).and_then(Value::as_f64);
        let whole = coverage
            .and_then(|c| c.get(key))
            .and_then(Value::as_f64)
            .is_none_or(|c| c >= 1.0);
        if !whole {
            // The shortest partial window: the others hold the same checks.
            if partial.is_empty() {
                partial_ratio = ratio;
            }
            partial.push(short);
            continue;
        }
        // `<dt>` and `<dd>` close themselves (HTML lets their end tags go): 35 bytes a window
        // became 17 (issue 14).
        out.str("<dt>");
        out.str(label);
        out.str("<dd>");
        match ratio {
            Some(r) => out.percent(r),
            None => out.str("–"),
        }
    }
    if let (Some(since), Some(last)) = (since, partial.last()) {
        // "7, 30, 90 and 365 days are not watched in full yet", or "24 hours, 7, … days".
        let mut names = partial[..partial.len() - 1].join(", ");
        if !names.is_empty() {
            names.push_str(" and ");
        }
        names.push_str(last);
        if *last != "24 hours" {
            names.push_str(" days");
        }
        out.str("<dt>since ");
        out.str(&since_words(since, now));
        // Its title says why it stands for several windows.
        out.str("<dd title=\"");
        out.str(&names);
        out.str(" are not watched in full yet: it counts every check since ");
        out.str(&since.format("%Y-%m-%d %H:%M UTC").to_string());
        out.str("\">");
        match partial_ratio {
            Some(r) => out.percent(r),
            None => out.str("–"),
        }
    }
    out.str("</dl></div>");
    Ok(Value::String(out.into_string()))
}

/// Milliseconds for people: "0.4", "12", "1500".
fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// `{{ s.latency_24h | sparkline(since=s.observed_since, now=generated_at) }}`: the latency
/// points as one SVG path, oldest left, with a gap where no check answered, a `<title>` giving
/// the range in words, and the scale under it. An empty or all-null list says "no latency
/// data".
///
/// With `since` and `now`, the quarter hours before the first check are not drawn (the line
/// spans only the watched ones, so a new service has no blank area) and are not "no answer";
/// until two watched quarter hours hold an answer, it says "collecting data".
pub fn sparkline(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    const HEIGHT: f64 = 20.0; // the viewBox's height, written out below
    const PAD: f64 = 2.0;
    const SLOT: i64 = 86_400 / crate::snapshot::LATENCY_SLOTS as i64;
    let all = array(value, "sparkline")?;
    let (since, now) = (time_arg(args, "since"), time_arg(args, "now"));
    // The first watched point: the slot of the first check, counted back from now's slot.
    let skip = match (since, now) {
        (None, Some(_)) => all.len(),
        (Some(since), Some(now)) => {
            let first = now.timestamp().div_euclid(SLOT) - (all.len() as i64 - 1);
            usize::try_from(since.timestamp().div_euclid(SLOT) - first)
                .unwrap_or(0)
                .min(all.len())
        }
        _ => 0,
    };
    let points = &all[skip..];
    let answered = points.iter().filter(|v| v.is_number()).count();
    if answered < 2 && points.len() <= 2 && now.is_some() {
        return Ok(Value::String(
            "<p class=\"spark-empty\">Latency: collecting data</p>".into(),
        ));
    }
    let scale_markup = match since.filter(|_| skip > 0) {
        Some(since) => format!(
            "<div class=\"scale\" aria-hidden=\"true\"><span>latency since {}</span></div>",
            since.format("%H:%M UTC")
        ),
        // Written by style.css (`.l24`), as the strip's usual scale.
        None => "<div class=\"scale l24\" aria-hidden=\"true\"></div>".to_string(),
    };
    let (min, max, missing) = points.iter().fold(
        (f64::INFINITY, f64::NEG_INFINITY, 0),
        |(lo, hi, gaps), v| match v.as_f64() {
            Some(v) => (lo.min(v), hi.max(v), gaps),
            None => (lo, hi, gaps + 1),
        },
    );
    if min > max {
        return Ok(Value::String(
            "<p class=\"spark-empty\">Latency: no data</p>".into(),
        ));
    }
    let mut title = match since.filter(|_| skip > 0) {
        Some(since) => format!("latency since {}: {}", since.format("%H:%M UTC"), ms(min)),
        None => format!("latency over 24 h: {}", ms(min)),
    };
    if max > min {
        let _ = write!(title, "–{}", ms(max));
    }
    title.push_str(" ms");
    if missing > 0 {
        let _ = write!(
            title,
            ", no answer in {missing} of {} quarter hours",
            points.len()
        );
    }
    // y grows downwards: the highest latency at the top. A flat line sits in the middle.
    let (base, scale) = if max > min {
        (HEIGHT - PAD, (HEIGHT - 2.0 * PAD) / (max - min))
    } else {
        (HEIGHT / 2.0, 0.0)
    };
    // At most a point per half hour (issue 14: a light page): a 12rem line cannot show 96
    // apart anyway. A half hour is its slower quarter, and a gap if either quarter had no
    // answer, so a missed check still breaks the line; the title counts quarter hours.
    let halves: Vec<Value>;
    let points = if points.len() > 48 {
        halves = points
            .chunks(2)
            .map(|pair| {
                let mut worst = Some(f64::NEG_INFINITY);
                for v in pair {
                    worst = match (worst, v.as_f64()) {
                        (Some(w), Some(v)) => Some(w.max(v)),
                        _ => None,
                    };
                }
                worst.map_or(Value::Null, Value::from)
            })
            .collect();
        &halves[..]
    } else {
        points
    };
    let width = points.len().saturating_sub(1).max(1);
    // About 4 bytes a point (issue 14: a light page): whole units of a 20-high box (the line is
    // 2rem high, so a unit is under 2 px), and after a run's first point only the step, which
    // is always one to the right: "M0 18l1-8 1 3". Absolute points to a tenth were 9 bytes.
    let mut out = Bytes::with_capacity(title.len() + points.len() * 5 + 200);
    out.str("<svg class=\"spark\" viewBox=\"0 0 ");
    out.number(width as u32);
    // The <title> is the chart's name for a screen reader (role="img") and its tooltip; an
    // aria-label saying the same again was 80 bytes a service.
    out.str(" 20\" preserveAspectRatio=\"none\" role=\"img\"><title>");
    out.str(&title);
    out.str("</title><path d=\"");
    let mut run = 0;
    let mut last_y = 0i32;
    for (x, v) in points.iter().enumerate() {
        match v.as_f64() {
            Some(v) => {
                let y = (base - (v - min) * scale).round() as i32;
                if run == 0 {
                    out.0.push(b'M');
                    out.number(x as u32);
                    out.0.push(b' ');
                    out.number(y as u32);
                } else {
                    out.str(if run == 1 { "l1" } else { " 1" });
                    // A minus sign separates the numbers by itself.
                    let dy = y - last_y;
                    if dy < 0 {
                        out.0.push(b'-');
                    } else {
                        out.0.push(b' ');
                    }
                    out.number(dy.unsigned_abs());
                }
                last_y = y;
                run += 1;
            }
            None => {
                if run == 1 {
                    out.str("h0"); // a lone point: a dot, thanks to round line caps
                }
                run = 0;
            }
        }
    }
    if run == 1 {
        out.str("h0");
    }
    out.str("\"/></svg>");
    out.str(&scale_markup);
    Ok(Value::String(out.into_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tera::Filter as _;

    fn today() -> HashMap<String, Value> {
        HashMap::from([("today".to_string(), json!("2026-11-24T10:00:00Z"))])
    }

    fn text(v: tera::Result<Value>) -> String {
        v.unwrap().as_str().unwrap().to_string()
    }

    #[test]
    fn percentages_round_down_so_only_perfect_is_100() {
        assert_eq!(percent_down(1.0), "100%");
        assert_eq!(percent_down(0.99996), "99.99%");
        assert_eq!(percent_down(0.9995), "99.95%");
        assert_eq!(percent_down(0.75), "75%");
        assert_eq!(percent_down(0.999), "99.9%");
        assert_eq!(percent_down(0.0), "0%");
    }

    #[test]
    fn the_strip_has_a_bar_per_run_of_equal_days_dated_up_to_today() {
        let mut days: Vec<Value> = vec![Value::Null; 90];
        days[89] = json!(0.9995);
        days[88] = json!(1.0);
        days[0] = json!(0.5);
        let html = text(DayStrip.filter(&json!(days), &today()));
        // 50%, 87 days of no data, 100%, 99.95%: four runs that name all 90 days.
        assert_eq!(html.matches("<i ").count(), 4);
        assert!(html.contains(
            "<i class=\"ok\" title=\"2026-11-24: 99.95%\"></i></div><div class=\"scale s90\""
        ));
        assert!(html.contains("title=\"2026-11-23: 100%\""));
        // 89 days before the 24th of November.
        assert!(html.contains("<i class=\"major\" title=\"2026-08-27: 50%\">"));
        assert!(html.contains("<i class=\"none f87\" title=\"2026-08-28 to 11-22: no data\">"));
        assert!(html.contains(
            "aria-label=\"Availability per day, last 90 days: 3 with data, 2 at 99.9% or more; worst 50% on 2026-08-27\""
        ));
        assert!(html.starts_with("<div class=\"days\" role=\"img\""));
        // The usual 90 days' scale is written by style.css; another length writes its own.
        assert!(html.ends_with("<div class=\"scale s90\" aria-hidden=\"true\"></div>"));
        let short = text(DayStrip.filter(&json!([1.0, 1.0, 0.5]), &today()));
        assert!(short.ends_with("<span>3 days ago</span><span>today</span></div>"));
    }

    /// The bars shared between strips are made again when the day changes.
    #[test]
    fn a_new_day_moves_the_strip() {
        let strip = DayStrip;
        let days = json!([1.0, null, 0.5, 1.0]);
        let monday = text(strip.filter(&days, &today()));
        assert!(monday.contains("title=\"2026-11-24: 100%\"></i></div>"));
        assert!(monday.contains("<i class=\"ok\" title=\"2026-11-21: 100%\">"));
        assert!(monday.contains("<i class=\"none\" title=\"2026-11-22: no data\">"));
        assert!(monday.contains("<i class=\"major\" title=\"2026-11-23: 50%\">"));
        let tuesday = HashMap::from([("today".to_string(), json!("2026-11-25T00:00:01Z"))]);
        let tuesday = text(strip.filter(&days, &tuesday));
        assert!(tuesday.contains("title=\"2026-11-25: 100%\"></i></div>"));
        assert!(tuesday.contains("<i class=\"none\" title=\"2026-11-23: no data\">"));
        // Across a year's end, with the same cache.
        let new_year = HashMap::from([("today".to_string(), json!("2027-01-01T00:00:00Z"))]);
        let html = text(strip.filter(&days, &new_year));
        assert!(html.contains("\"2026-12-29: 100%\""), "{html}");
        assert!(html.contains("\"2027-01-01: 100%\""), "{html}");
    }

    #[test]
    fn uptimes_are_listed_with_a_dash_for_no_data() {
        let html = text(uptimes(
            &json!({"24h": 1.0, "7d": 0.99996, "30d": 0.998, "90d": null}),
            &HashMap::new(),
        ));
        assert_eq!(
            html,
            "<div class=\"uptime\"><span class=\"muted\">Availability</span><dl>\
             <dt>24 h<dd>100%<dt>7 days<dd>99.99%<dt>30 days<dd>99.8%<dt>90 days<dd>–\
             <dt>365 days<dd>–</dl></div>"
        );
        assert!(uptimes(&json!([1.0]), &HashMap::new()).is_err());
    }

    #[test]
    fn an_empty_strip_says_so_and_bad_input_is_an_error() {
        let strip = DayStrip;
        assert!(text(strip.filter(&json!([]), &today())).contains("No history yet"));
        let html = text(strip.filter(&json!([null, null]), &today()));
        assert!(html.contains("last 2 days: no data yet"), "{html}");
        assert!(strip.filter(&json!([1.0]), &HashMap::new()).is_err());
        assert!(strip.filter(&json!("x"), &today()).is_err());
    }

    #[test]
    fn the_sparkline_breaks_where_no_check_answered() {
        let html = text(sparkline(
            &json!([1.0, 3.0, null, 2.0, null, 5.0, 1.0]),
            &HashMap::new(),
        ));
        assert!(html.contains("viewBox=\"0 0 6 20\""), "{html}");
        // Highest at the top (y = 2), lowest at the bottom (18); a lone point is a dot; after a
        // run's first point, steps of one to the right.
        assert!(html.contains("d=\"M0 18l1-8M3 14h0M5 2l1 16\""), "{html}");
        assert!(html.contains(
            "<title>latency over 24 h: 1.0–5.0 ms, no answer in 2 of 7 quarter hours</title>"
        ));
        assert!(html.contains("role=\"img\""));
        assert!(!html.contains("style="));
    }

    /// A day of quarter hours is drawn a half hour a point, in whole units: a light page.
    #[test]
    fn a_full_day_is_drawn_at_half_hours_and_a_missed_quarter_still_breaks_it() {
        let mut points: Vec<Value> = (0..96).map(|i| json!(1.0 + (i % 4) as f64)).collect();
        points[41] = Value::Null;
        let html = text(sparkline(&json!(points), &HashMap::new()));
        // 48 points, 47 steps.
        assert!(html.contains("viewBox=\"0 0 47 20\""), "{html}");
        // Two runs: the missed quarter's half hour (20) is a gap.
        assert_eq!(html.matches('M').count(), 2, "{html}");
        assert!(html.contains("M21 "), "{html}");
        assert!(
            html.contains("no answer in 1 of 96 quarter hours"),
            "{html}"
        );
        let path = html
            .split("d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(!path.contains('.'), "whole units only: {path}");
        assert!(path.len() <= 48 * 5, "{} bytes: {path}", path.len());
    }

    #[test]
    fn a_flat_or_empty_sparkline() {
        let flat = text(sparkline(&json!([12.0, 12.0]), &HashMap::new()));
        assert!(flat.contains("d=\"M0 10l1 0\""), "{flat}");
        assert!(flat.contains("latency over 24 h: 12 ms<"));
        for empty in [json!([]), json!([null, null])] {
            assert!(text(sparkline(&empty, &HashMap::new())).contains("Latency: no data"));
        }
        assert!(sparkline(&json!({}), &HashMap::new()).is_err());
    }

    fn args(pairs: &[(&str, Value)]) -> HashMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    /// A service first checked five minutes ago: 95 quarter hours were not watched, so they are
    /// neither drawn nor "no answer"; one answer is not a line yet.
    #[test]
    fn a_new_service_is_collecting_data_not_missing_answers() {
        let mut points = vec![Value::Null; 96];
        points[95] = json!(3.2);
        let a = args(&[
            ("since", json!("2026-11-24T09:55:00Z")),
            ("now", json!("2026-11-24T10:00:00Z")),
        ]);
        let html = text(sparkline(&json!(points), &a));
        assert_eq!(
            html,
            "<p class=\"spark-empty\">Latency: collecting data</p>"
        );
        // Not checked at all yet.
        let none = args(&[
            ("since", Value::Null),
            ("now", json!("2026-11-24T10:00:00Z")),
        ]);
        assert!(text(sparkline(&json!(vec![Value::Null; 96]), &none)).contains("collecting data"));

        // Two hours on: only the watched quarter hours, from the left edge, and the words say
        // since when; the one without an answer is the only "no answer".
        let mut points = vec![Value::Null; 96];
        for (i, slot) in points.iter_mut().enumerate().skip(87) {
            *slot = json!(2.0 + (i % 3) as f64);
        }
        points[90] = Value::Null;
        let a = args(&[
            ("since", json!("2026-11-24T08:05:00Z")),
            ("now", json!("2026-11-24T10:00:00Z")),
        ]);
        let html = text(sparkline(&json!(points), &a));
        assert!(html.contains("viewBox=\"0 0 8 20\""), "{html}");
        assert!(
            html.contains("d=\"M0 "),
            "the line starts at the left edge: {html}"
        );
        assert!(html.contains(
            "<title>latency since 08:05 UTC: 2.0–4.0 ms, no answer in 1 of 9 quarter hours</title>"
        ));
        assert!(
            html.ends_with("<span>latency since 08:05 UTC</span></div>"),
            "{html}"
        );
    }

    #[test]
    fn partial_windows_are_one_entry_that_says_since_when() {
        let uptime = json!({"24h": 1.0, "7d": 1.0, "30d": 1.0, "90d": 1.0, "365d": 1.0});
        let a = args(&[
            (
                "coverage",
                json!({"24h": 0.0034, "7d": 0.0005, "30d": 0.0001, "90d": 0.0, "365d": 0.0}),
            ),
            ("since", json!("2026-11-29T23:55:00Z")),
            ("now", json!("2026-11-30T00:00:00Z")),
        ]);
        let html = text(uptimes(&uptime, &a));
        assert_eq!(
            html,
            "<div class=\"uptime\"><span class=\"muted\">Availability</span><dl>\
             <dt>since 23:55 UTC<dd title=\"24 hours, 7, 30, 90 and 365 days \
             are not watched in full yet: it counts every check since 2026-11-29 23:55 \
             UTC\">100%</dl></div>"
        );
        // Three days on: 24 h is whole, the rest are one "since" entry with a date.
        let a = args(&[
            (
                "coverage",
                json!({"24h": 1.0, "7d": 0.5, "30d": 0.1, "90d": 0.03, "365d": 0.008}),
            ),
            ("since", json!("2026-11-27T10:00:00Z")),
            ("now", json!("2026-11-30T10:00:00Z")),
        ]);
        let html = text(uptimes(
            &json!({"24h": 0.99, "7d": 0.995, "30d": 0.995}),
            &a,
        ));
        assert!(html.contains("<dt>24 h<dd>99%<dt>"), "{html}");
        assert!(
            html.contains("title=\"7, 30, 90 and 365 days are not watched"),
            "{html}"
        );
        assert!(html.contains("<dt>since 27 Nov<dd title="), "{html}");
        assert!(!html.contains("7 days"));
        // Before the first check.
        let a = args(&[("coverage", json!({})), ("since", Value::Null)]);
        assert!(text(uptimes(&json!({}), &a)).contains("not checked yet"));
    }

    #[test]
    fn days_before_the_first_check_are_no_data_and_later_empty_days_say_why() {
        let mut days = vec![Value::Null; 90];
        days[89] = json!(1.0);
        days[87] = json!(0.5);
        let a = HashMap::from([
            ("today".to_string(), json!("2026-11-24T10:00:00Z")),
            ("since".to_string(), json!("2026-11-22T10:00:00Z")),
        ]);
        let html = text(DayStrip.filter(&json!(days), &a));
        assert!(html.contains("<i class=\"none f87\" title=\"2026-08-27 to 11-21: no data\">"));
        assert!(html.contains("<i class=\"major\" title=\"2026-11-22: 50%\">"));
        assert!(html.contains(
            "<i class=\"none\" title=\"2026-11-23: nothing counted (maintenance or unknown)\">"
        ));
        assert!(
            html.contains("last 90 days: watched since 2026-11-22, 2 with data"),
            "{html}"
        );
    }
}
