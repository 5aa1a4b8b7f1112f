//! The expensive part of each service on the status page, rendered once and kept until what it
//! shows changes: the 90-day strip, the 24-hour sparkline, the availability figures and the
//! details list (issue 14, "work only when something changed").
//!
//! This module owns that cache and its keys. The page itself is still rendered every cycle (it
//! must show each check's latency and time, and when it was generated, fresh to a reader
//! without JavaScript), but those volatile figures are a few lookups in the template; the
//! charts are most of a service's markup and of its rendering. A fragment's key is made of
//! exactly what its markup is made of, so an equal key gives equal bytes, with one deliberate
//! exception: the sparkline's last point (the quarter hour still running, whose average moves
//! with every check) is drawn as it stood when the fragment was last rendered. The fragment is
//! rendered again when a quarter hour begins (or anything else in it changes), exactly as the
//! service's own page (`services::key`) has done.
//!
//! The cache lives in the loaded [`super::Site`], so new templates start it afresh. It holds
//! one entry per service listed in full (only below [`super::services::COMPACT_FROM`]).

use super::charts;
use crate::snapshot::{LATENCY_SLOTS, Service, Snapshot};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The rendered fragments by slug, with the key each was rendered from.
#[derive(Default)]
pub struct Fragments {
    cache: Mutex<HashMap<String, (u64, String)>>,
    /// How many fragments were rendered since the site loaded (a cached one is not counted):
    /// what tests and the debug log look at.
    renders: AtomicU64,
}

impl Fragments {
    /// Each service's fragment, by slug, for the page's context (`fragments[s.slug]`): taken
    /// from the cache when its key is unchanged, rendered otherwise. Services no longer in the
    /// snapshot are forgotten.
    pub fn for_page(&self, snapshot: &Snapshot) -> tera::Result<Map<String, Value>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let slugs: std::collections::HashSet<&str> =
            snapshot.services.iter().map(|s| s.slug.as_str()).collect();
        cache.retain(|slug, _| slugs.contains(slug.as_str()));
        let mut out = Map::new();
        let mut rendered = 0;
        for s in &snapshot.services {
            let k = key(snapshot, s);
            let html = match cache.get(&s.slug) {
                Some((known, html)) if *known == k => html.clone(),
                _ => {
                    let html = render(snapshot, s)?;
                    rendered += 1;
                    cache.insert(s.slug.clone(), (k, html.clone()));
                    html
                }
            };
            out.insert(s.slug.clone(), Value::String(html));
        }
        self.renders.fetch_add(rendered, Ordering::Relaxed);
        tracing::debug!(
            "index.html: {rendered} of {} service fragments rendered, the others cached",
            snapshot.services.len()
        );
        Ok(out)
    }

    /// How many fragments were rendered since this site loaded.
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }
}

/// What a service's fragment is made of, as a number: equal keys render equal markup (but for
/// the running quarter hour's latency, see the module's note).
fn key(snapshot: &Snapshot, s: &Service) -> u64 {
    let mut h = DefaultHasher::new();
    let now = snapshot.generated_at;
    s.slug.hash(&mut h);
    // The strip: its days (exactly), dated back from today, and the first watched day.
    now.date_naive().hash(&mut h);
    s.observed_since.map(|t| t.timestamp()).hash(&mut h);
    for d in s.days.iter() {
        d.map(f64::to_bits).hash(&mut h);
    }
    // The sparkline: the quarter hour of `now` (the points are counted back from it) and every
    // point but the running one.
    let slot = 86_400 / LATENCY_SLOTS as i64;
    now.timestamp().div_euclid(slot).hash(&mut h);
    s.latency_24h.len().hash(&mut h);
    for v in s.latency_24h.iter().rev().skip(1) {
        v.map(f64::to_bits).hash(&mut h);
    }
    // The availability figures, as shown (hundredths of a percent, rounded down), which
    // windows are whole, and what "since …" says (it depends on now's year and on whether the
    // first check is less than a day old).
    super::services::hash_figures(s, &mut h);
    {
        use chrono::Datelike;
        now.year().hash(&mut h);
    }
    s.observed_since
        .map(|t| now - t < chrono::Duration::hours(24))
        .hash(&mut h);
    s.details.hash(&mut h);
    h.finish()
}

/// The markup the page had inline before: strip and sparkline in `history`, then the figures
/// and the details, with nothing between the tags (as the template's trimming left them).
fn render(snapshot: &Snapshot, s: &Service) -> tera::Result<String> {
    use tera::Filter as _;
    let text = |v: Value| match v {
        Value::String(t) => t,
        other => other.to_string(),
    };
    let now = Value::String(crate::snapshot::format_time(&snapshot.generated_at));
    let since = s.observed_since.map_or(Value::Null, |t| {
        Value::String(crate::snapshot::format_time(&t))
    });
    let args = |pairs: &[(&str, &Value)]| -> HashMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).clone()))
            .collect()
    };
    let days = serde_json::to_value(&s.days)?;
    let latency = serde_json::to_value(&s.latency_24h)?;
    let uptime = serde_json::to_value(s.uptime)?;
    let coverage = serde_json::to_value(s.uptime_coverage)?;
    let strip = charts::DayStrip.filter(&days, &args(&[("today", &now), ("since", &since)]))?;
    let spark = charts::sparkline(&latency, &args(&[("since", &since), ("now", &now)]))?;
    let uptimes = charts::uptimes(
        &uptime,
        &args(&[("coverage", &coverage), ("since", &since), ("now", &now)]),
    )?;
    let slug = Value::String(s.slug.clone());
    let details = super::filters::details(
        &Value::Object(Map::clone(&s.details)),
        &args(&[("id", &slug)]),
    )?;
    let mut out = String::with_capacity(2048);
    out.push_str("<div class=\"history\"><div class=\"strip\">");
    out.push_str(&text(strip));
    out.push_str("</div><div class=\"latency\">");
    out.push_str(&text(spark));
    out.push_str("</div></div>");
    out.push_str(&text(uptimes));
    out.push_str(&text(details));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::site::templates::{EMBEDDED, TemplateSet};
    use crate::output::site::{SiteFiles, SiteInfo, context, filters, page};

    fn info() -> SiteInfo {
        SiteInfo {
            title: "T".into(),
            public_url: String::new(),
            version: "0",
            terminal_statuses: Vec::new(),
            tasks_missing: Vec::new(),
        }
    }

    /// The status page rendered with the fragments, and with the filters inline as before.
    fn both(snapshot: &Snapshot, fragments: &Fragments) -> (String, String) {
        let index = EMBEDDED.iter().find(|(n, _)| *n == "index.html").unwrap().1;
        let inline = "{#- #}<div class=\"history\">
        {#- #}<div class=\"strip\">{{ s.days | day_strip(today=generated_at, since=s.observed_since) }}</div>
        {#- #}<div class=\"latency\">{{ s.latency_24h | sparkline(since=s.observed_since, now=generated_at) }}</div>
      {#- #}</div>
      {{- s.uptime | uptimes(coverage=s.uptime_coverage, since=s.observed_since, now=generated_at) }}
      {{- s.details | details(id=s.slug) }}";
        assert!(index.contains("{{- fragments[s.slug] | safe }}"));
        let old = index.replace("{{- fragments[s.slug] | safe }}", inline);
        let mut tera = TemplateSet::load(None).unwrap().compile().unwrap();
        tera.add_raw_template("old.html", &old).unwrap();
        filters::register(&mut tera);
        let ctx = context(
            &mut snapshot.clone(),
            &info(),
            &SiteFiles::default(),
            fragments,
            (&tera, &Default::default()),
        )
        .unwrap();
        (
            page(&tera, "index.html", &ctx).unwrap(),
            page(&tera, "old.html", &ctx).unwrap(),
        )
    }

    #[test]
    fn the_page_with_fragments_is_the_page_as_the_filters_made_it() {
        let mut snapshot = crate::snapshot::example();
        let fragments = Fragments::default();
        let (new, old) = both(&snapshot, &fragments);
        assert_eq!(new, old);
        // A service watched for a few hours (partial windows, "since 01:05 UTC"), one never
        // checked, one with nothing at all.
        snapshot.services[1].observed_since =
            Some(snapshot.generated_at - chrono::Duration::hours(3));
        snapshot.services[1].uptime_coverage.day = 0.125;
        snapshot.services[2].observed_since = None;
        snapshot.services[3].days = Default::default();
        snapshot.services[3].latency_24h = Default::default();
        let (new, old) = both(&snapshot, &fragments);
        assert_eq!(new, old);
        assert!(new.contains("since 0"), "the partial window is there");
    }

    #[test]
    fn volatile_figures_render_no_fragment_and_each_input_renders_one() {
        let mut snapshot = crate::snapshot::example();
        let n = snapshot.services.len() as u64;
        let fragments = Fragments::default();
        fragments.for_page(&snapshot).unwrap();
        assert_eq!(fragments.renders(), n);
        // The next check: new latency, new time, a new running quarter-hour average, the next
        // second; the page changes, no fragment is rendered.
        for s in &mut snapshot.services {
            s.latency_ms = s.latency_ms.map(|l| l + 1.5);
            s.checked_at = s.checked_at.map(|t| t + chrono::Duration::seconds(1));
            if let Some(i) = s.latency_24h.len().checked_sub(1) {
                let last = s.latency_24h.last();
                s.latency_24h.set(i, Some(last.unwrap_or(1.0) * 2.0));
            }
        }
        snapshot.generated_at += chrono::Duration::seconds(1);
        let (new, old) = both(&snapshot, &fragments);
        assert_eq!(fragments.renders(), n, "nothing it shows changed");
        assert_ne!(new, old, "the running quarter hour is drawn as it stood");
        assert!(new.contains(&format!(
            "{}&nbsp;ms",
            snapshot.services[0].latency_ms.unwrap()
        )));
        // Each of what a fragment shows renders that service's fragment again, and only it.
        let changes: [&dyn Fn(&mut Service); 5] = [
            &|s| s.days.set(89, Some(0.5)),
            &|s| s.latency_24h.set(0, Some(123.0)),
            &|s| s.uptime.week = Some(0.25),
            &|s| {
                s.uptime_coverage.day = if s.uptime_coverage.day >= 1.0 {
                    0.5
                } else {
                    1.0
                }
            },
            &|s| {
                std::sync::Arc::make_mut(&mut s.details).insert("version".into(), "9".into());
            },
        ];
        for (i, change) in changes.iter().enumerate() {
            let before = fragments.renders();
            let at = i % snapshot.services.len();
            change(&mut snapshot.services[at]);
            fragments.for_page(&snapshot).unwrap();
            assert_eq!(fragments.renders(), before + 1, "change {i}");
        }
        // A new quarter hour redraws every sparkline.
        let before = fragments.renders();
        snapshot.generated_at += chrono::Duration::minutes(15);
        let (new, old) = both(&snapshot, &fragments);
        assert_eq!(fragments.renders(), before + n);
        assert_eq!(new, old);
    }
}
