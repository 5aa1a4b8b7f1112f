//! The two small charts of the status page, made in Rust as whole pieces of markup: the 90-day
//! bar strip (`day_strip`) and the 24-hour latency sparkline (`sparkline`).
//!
//! They are tera filters that return markup in one go, not tera loops: the page is rendered every
//! cycle, and 90 bars and 96 points per service through tera's interpreter would cost a good part
//! of the cycle's CPU budget (measured with scripts/bench-cycle; see the README's budgets). Their
//! output holds only numbers and dates formatted here, never text a person wrote, so it is marked
//! safe (no `| safe` needed in templates). Every chart says in text what its colours and lines
//! show: a title per bar, an `aria-label` summary, an SVG `<title>`.

use chrono::NaiveDate;
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
    let p = (ratio * 100.0).clamp(0.0, 100.0);
    // The epsilon undoes binary fractions: 0.9995 * 100 is 99.94999…, which is 99.95 to a person.
    let floored = ((p * 100.0) + 1e-6).floor() / 100.0;
    let text = format!("{floored:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
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

/// `{{ s.days | day_strip(today=generated_at) }}`: one bar per day, oldest first and `today` (the
/// UTC date of that time) last, each with a title ("2026-11-24: 99.95% available"), the whole
/// strip labelled with a summary for screen readers. An empty list says "No history yet".
pub fn day_strip(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let days = array(value, "day_strip")?;
    let today = args
        .get("today")
        .and_then(Value::as_str)
        .and_then(|t| t.get(..10))
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| {
            tera::Error::msg("filter `day_strip` needs `today`, a time like \"2026-11-24T10:00:00Z\" (give it generated_at)")
        })?;
    if days.is_empty() {
        return Ok(Value::String(
            "<p class=\"days-empty\">No history yet</p>".into(),
        ));
    }
    let n = days.len();
    let date_of = |i: usize| today - chrono::Days::new((n - 1 - i) as u64);
    let mut counted = 0;
    let mut good = 0;
    let mut worst: Option<(usize, f64)> = None;
    // About 45 bytes a bar; one allocation for the lot.
    let mut bars = String::with_capacity(n * 48);
    for (i, day) in days.iter().enumerate() {
        let ratio = day.as_f64();
        let date = date_of(i);
        // `<i>` keeps 90 bars per service short; inside role="img" they are presentational.
        match ratio {
            Some(r) => {
                counted += 1;
                if r >= 0.999 {
                    good += 1;
                }
                if worst.is_none_or(|(_, w)| r < w) {
                    worst = Some((i, r));
                }
                let _ = write!(
                    bars,
                    "<i class=\"{}\" title=\"{date}: {} available\"></i>",
                    day_class(ratio),
                    percent_down(r)
                );
            }
            None => {
                let _ = write!(bars, "<i class=\"none\" title=\"{date}: no data\"></i>");
            }
        }
    }
    let mut label = format!("Availability per day, last {n} days: ");
    match worst {
        None => label.push_str("no data yet"),
        Some((i, w)) => {
            let _ = write!(label, "{counted} with data, {good} at 99.9% or more");
            if w < 0.999 {
                let _ = write!(label, "; worst {} on {}", percent_down(w), date_of(i));
            }
        }
    }
    Ok(Value::String(format!(
        "<div class=\"days\" role=\"img\" aria-label=\"{label}\">{bars}</div>"
    )))
}

/// Milliseconds for people: "0.4", "12", "1500".
fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// `{{ s.latency_24h | sparkline }}`: the latency points as one SVG path, oldest left, with a gap
/// where no check answered, and a `<title>` giving the range in words. An empty or all-null list
/// says "no latency data".
pub fn sparkline(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    const HEIGHT: f64 = 20.0;
    const PAD: f64 = 1.5;
    let points = array(value, "sparkline")?;
    let values: Vec<Option<f64>> = points.iter().map(Value::as_f64).collect();
    let (min, max) = values
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if min > max {
        return Ok(Value::String(
            "<span class=\"spark-empty\">no latency data</span>".into(),
        ));
    }
    let missing = values.iter().filter(|v| v.is_none()).count();
    let mut title = format!("latency over 24 h: {}", ms(min));
    if max > min {
        let _ = write!(title, "–{}", ms(max));
    }
    title.push_str(" ms");
    if missing > 0 {
        let _ = write!(
            title,
            ", no answer in {missing} of {} quarter hours",
            values.len()
        );
    }
    // y grows downwards: the highest latency at the top. A flat line sits in the middle.
    let y = |v: f64| {
        if max > min {
            HEIGHT - PAD - (v - min) / (max - min) * (HEIGHT - 2.0 * PAD)
        } else {
            HEIGHT / 2.0
        }
    };
    let mut d = String::with_capacity(values.len() * 10);
    let mut run = 0;
    for (x, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let _ = write!(d, "{}{x} {:.1}", if run == 0 { 'M' } else { 'L' }, y(*v));
                run += 1;
            }
            None => {
                if run == 1 {
                    d.push_str("h0"); // a lone point: a dot, thanks to round line caps
                }
                run = 0;
            }
        }
    }
    if run == 1 {
        d.push_str("h0");
    }
    let width = values.len().saturating_sub(1).max(1);
    Ok(Value::String(format!(
        "<svg class=\"spark\" viewBox=\"0 0 {width} {HEIGHT}\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"{title}\"><title>{title}</title><path d=\"{d}\"/></svg>"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn the_strip_has_a_bar_per_day_dated_up_to_today() {
        let mut days: Vec<Value> = vec![Value::Null; 90];
        days[89] = json!(0.9995);
        days[88] = json!(1.0);
        days[0] = json!(0.5);
        let html = text(day_strip(&json!(days), &today()));
        assert_eq!(html.matches("<i ").count(), 90);
        assert!(html.contains("<i class=\"ok\" title=\"2026-11-24: 99.95% available\"></i></div>"));
        assert!(html.contains("title=\"2026-11-23: 100% available\""));
        // 89 days before the 24th of November.
        assert!(html.contains("<i class=\"major\" title=\"2026-08-27: 50% available\">"));
        assert!(html.contains("<i class=\"none\" title=\"2026-11-22: no data\">"));
        assert!(html.contains(
            "aria-label=\"Availability per day, last 90 days: 3 with data, 2 at 99.9% or more; worst 50% on 2026-08-27\""
        ));
        assert!(html.starts_with("<div class=\"days\" role=\"img\""));
    }

    #[test]
    fn an_empty_strip_says_so_and_bad_input_is_an_error() {
        assert!(text(day_strip(&json!([]), &today())).contains("No history yet"));
        let html = text(day_strip(&json!([null, null]), &today()));
        assert!(html.contains("last 2 days: no data yet"), "{html}");
        assert!(day_strip(&json!([1.0]), &HashMap::new()).is_err());
        assert!(day_strip(&json!("x"), &today()).is_err());
    }

    #[test]
    fn the_sparkline_breaks_where_no_check_answered() {
        let html = text(sparkline(
            &json!([1.0, 3.0, null, 2.0, null, 5.0, 1.0]),
            &HashMap::new(),
        ));
        assert!(html.contains("viewBox=\"0 0 6 20\""), "{html}");
        // Highest at the top (y = 1.5), lowest at the bottom (18.5); a lone point is a dot.
        assert!(
            html.contains("d=\"M0 18.5L1 10.0M3 14.2h0M5 1.5L6 18.5\""),
            "{html}"
        );
        assert!(html.contains(
            "<title>latency over 24 h: 1.0–5.0 ms, no answer in 2 of 7 quarter hours</title>"
        ));
        assert!(html.contains("role=\"img\""));
        assert!(!html.contains("style="));
    }

    #[test]
    fn a_flat_or_empty_sparkline() {
        let flat = text(sparkline(&json!([12.0, 12.0]), &HashMap::new()));
        assert!(flat.contains("d=\"M0 10.0L1 10.0\""), "{flat}");
        assert!(flat.contains("latency over 24 h: 12 ms<"));
        for empty in [json!([]), json!([null, null])] {
            assert!(text(sparkline(&empty, &HashMap::new())).contains("no latency data"));
        }
        assert!(sparkline(&json!({}), &HashMap::new()).is_err());
    }
}
