//! The tera filters: formatting for people (bytes, percentages, durations, times, status
//! icons, a service's details), so the snapshot and the feed keep raw numbers. The charts
//! (day strip, sparkline, uptime windows) are in [`super::charts`].

use super::charts;
use serde_json::Value;
use std::collections::HashMap;
use tera::Tera;

/// Registers every filter on a compiled site. Called by the site loader ([`super::Site::load`])
/// after `compile()`: tera looks filters up when it renders, so the template loader need not
/// know them, and `templates` imports nothing of the site.
pub fn register(tera: &mut Tera) {
    tera.register_filter("bytes", bytes);
    tera.register_filter("percent", percent);
    tera.register_filter("duration", duration);
    tera.register_filter("icon", icon);
    tera.register_filter("datetime", datetime);
    tera.register_filter("clock", clock);
    tera.register_filter("availability", availability);
    tera.register_filter("timespan", timespan);
    tera.register_filter("day_strip", charts::DayStrip);
    tera.register_filter("sparkline", charts::Markup(charts::sparkline));
    tera.register_filter("uptimes", charts::Markup(charts::uptimes));
    tera.register_filter("details", charts::Markup(details));
}

/// How many of a service's details the page shows, and how many characters of each value:
/// the page stays compact whatever a service answers; `status.json` has them all.
pub const PAGE_DETAILS: usize = 12;
pub const PAGE_DETAIL_CHARS: usize = 120;

/// `{{ s.details | details(id=s.slug) }}`: what a service's check found beyond its status
/// (Symbiont's `version` and `queue_depth`, the message of a 500's JSON body, a feed's
/// services), as a collapsed `<details>` list. Escaped here (the markup is marked safe), URLs
/// redacted, each value cut to [`PAGE_DETAIL_CHARS`], at most [`PAGE_DETAILS`] of them, nested
/// values as compact JSON. Nothing for no details.
pub(super) fn details(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let Some(map) = value.as_object().filter(|m| !m.is_empty()) else {
        return Ok(Value::String(String::new()));
    };
    let esc = |t: &str| tera::escape_html(&crate::redact::text(t));
    let cut = |t: String| match t.char_indices().nth(PAGE_DETAIL_CHARS) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t,
    };
    let mut out = String::with_capacity(200 + 60 * map.len().min(PAGE_DETAILS));
    out.push_str("<details class=\"facts\"");
    if let Some(id) = args.get("id").and_then(Value::as_str) {
        out.push_str(" id=\"details-");
        out.push_str(&esc(id));
        out.push('"');
    }
    out.push_str("><summary>Details <span class=\"muted\">(");
    out.push_str(&map.len().to_string());
    out.push_str(")</span></summary><dl>");
    for (key, v) in map.iter().take(PAGE_DETAILS) {
        let text = match v {
            Value::String(t) => t.clone(),
            Value::Null => "–".into(),
            other => other.to_string(),
        };
        out.push_str("<dt>");
        out.push_str(&esc(&cut(key.clone())));
        out.push_str("</dt><dd>");
        out.push_str(&esc(&cut(text)));
        out.push_str("</dd>");
    }
    out.push_str("</dl>");
    if map.len() > PAGE_DETAILS {
        out.push_str("<p class=\"muted\">");
        out.push_str(&(map.len() - PAGE_DETAILS).to_string());
        out.push_str(" more in <a href=\"status.json\">status.json</a></p>");
    }
    out.push_str("</details>");
    Ok(Value::String(out))
}

fn number(value: &Value, filter: &str) -> tera::Result<f64> {
    value
        .as_f64()
        .ok_or_else(|| tera::Error::msg(format!("filter `{filter}` needs a number, got {value}")))
}

/// 1536 → "1.5 KiB".
fn bytes(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let mut n = number(value, "bytes")?;
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    while n >= 1024.0 && unit + 1 < units.len() {
        n /= 1024.0;
        unit += 1;
    }
    let text = if unit == 0 {
        format!("{n} B")
    } else if n < 10.0 {
        format!("{n:.1} {}", units[unit])
    } else {
        format!("{n:.0} {}", units[unit])
    };
    Ok(Value::String(text))
}

/// 0.4213 → "42.1%".
fn percent(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let n = number(value, "percent")? * 100.0;
    Ok(Value::String(format!("{n:.1}%")))
}

/// Seconds → the two largest units: 93784 → "1d 2h".
fn duration(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = number(value, "duration")?.max(0.0) as u64;
    Ok(Value::String(duration_words(s)))
}

/// The `duration` filter's words, for outputs that are not templates (the Atom feed).
pub fn duration_words(s: u64) -> String {
    let parts = [
        (s / 86_400, "d"),
        (s / 3_600 % 24, "h"),
        (s / 60 % 60, "m"),
        (s % 60, "s"),
    ];
    let first = parts.iter().position(|(n, _)| *n > 0).unwrap_or(3);
    parts[first..]
        .iter()
        .take(2)
        .filter(|(n, _)| *n > 0 || first == 3)
        .map(|(n, u)| format!("{n}{u}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn text<'a>(value: &'a Value, filter: &str) -> tera::Result<&'a str> {
    value.as_str().ok_or_else(|| {
        tera::Error::msg(format!(
            "filter `{filter}` needs a time as text, got {value}"
        ))
    })
}

/// "2026-11-24T10:00:00Z" → "2026-11-24 10:00:00 UTC".
fn datetime(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let t = text(value, "datetime")?;
    Ok(Value::String(match t.strip_suffix('Z') {
        Some(t) => format!("{} UTC", t.replacen('T', " ", 1)),
        None => t.replacen('T', " ", 1),
    }))
}

/// "2026-11-24T10:00:00Z" → "10:00:00" (the time of day, UTC).
fn clock(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let t = text(value, "clock")?;
    let time = t.split_once('T').map_or(t, |(_, time)| time);
    Ok(Value::String(time.trim_end_matches('Z').to_string()))
}

/// An availability share → "99.95%" (rounded down: only a perfect record is "100%"); `null`,
/// a window with no counted check, → "–".
fn availability(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(match value {
        Value::Null => "–".into(),
        v => charts::percent_down(number(v, "availability")?),
    }))
}

/// `{{ start | timespan(end=end) }}` → "2026-12-01 02:00–03:00 UTC", or with both dates when
/// the span crosses midnight: "2026-12-01 23:00 – 2026-12-02 01:00 UTC".
fn timespan(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let start = text(value, "timespan")?;
    let end = args.get("end").map_or(Ok(""), |e| text(e, "timespan"))?;
    let minutes = |t: &str| t.get(11..16).unwrap_or("").to_string();
    let (start_day, end_day) = (
        start.get(..10).unwrap_or(start),
        end.get(..10).unwrap_or(end),
    );
    Ok(Value::String(if start_day == end_day {
        format!("{start_day} {}–{} UTC", minutes(start), minutes(end))
    } else {
        format!(
            "{start_day} {} – {end_day} {} UTC",
            minutes(start),
            minutes(end)
        )
    }))
}

/// A status word → a symbol that differs in shape, not only colour.
fn icon(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let symbol = match value.as_str() {
        Some("up") => "✓",
        Some("degraded") => "▲",
        Some("down") => "✕",
        Some("maintenance") => "◆",
        // A written incident's severity that is not a status.
        Some("notice") => "ℹ",
        _ => "?",
    };
    Ok(Value::String(symbol.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_format_for_people() {
        let f = |filter: fn(&Value, &HashMap<String, Value>) -> tera::Result<Value>, v: Value| {
            filter(&v, &HashMap::new())
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(f(bytes, 512.into()), "512 B");
        assert_eq!(f(bytes, 1536.into()), "1.5 KiB");
        assert_eq!(f(bytes, (250u64 << 30).into()), "250 GiB");
        assert_eq!(f(percent, 0.4213.into()), "42.1%");
        assert_eq!(f(duration, 93_784.into()), "1d 2h");
        assert_eq!(f(duration, 3_600.into()), "1h");
        assert_eq!(f(duration, 42.into()), "42s");
        assert_eq!(f(duration, 0.into()), "0s");
        assert_eq!(
            f(datetime, "2026-11-24T10:00:00Z".into()),
            "2026-11-24 10:00:00 UTC"
        );
        assert_eq!(f(clock, "2026-11-24T10:00:07Z".into()), "10:00:07");
        assert!(bytes(&Value::from("x"), &HashMap::new()).is_err());
    }
}
