//! The status page's "Recent changes" list (`changes.html`), rendered only when it changes.
//!
//! The list holds up to 50 service incidents with a time, a duration and an error each. Once a
//! service has a history it is full, and rendering it was most of the status page's rendering
//! every cycle (measured with examples/page-weight at 10 services: 152 µs for the page without
//! it, 672 µs with 50 incidents). What it shows changes when an incident begins or ends, and,
//! while one lasts, when its duration as the `duration` filter words it changes (each second
//! for the first hour, then each minute, then each hour): so it is rendered on its own, from
//! `changes.html` with `incidents` as its only variable, and kept until its key changes. The
//! status page's context carries the result as `changes`.
//!
//! The cache lives in the loaded [`super::Site`], so new templates start it afresh.

use crate::snapshot::Incident;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The last rendering of the list, with the key it was rendered from.
#[derive(Default)]
pub struct Changes {
    cache: Mutex<Option<(u64, String)>>,
    /// Renderings since the site loaded (a cached one is not counted), for tests.
    renders: AtomicU64,
}

impl Changes {
    /// The list's markup for these incidents: the kept one when its key is unchanged.
    pub fn for_page(&self, tera: &tera::Tera, incidents: &[Incident]) -> tera::Result<String> {
        let k = key(incidents);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((known, html)) = cache.as_ref()
            && *known == k
        {
            return Ok(html.clone());
        }
        let mut ctx = tera::Context::new();
        ctx.insert("incidents", incidents);
        // Its own line, whole: tera's top message only says "Failed to render", and this is
        // what names the cause in `errors` and in `check` when an override is broken.
        let html = tera.render("changes.html", &ctx).map_err(|e| {
            tera::Error::msg(format!(
                "template changes.html: {}",
                super::templates::chain(&e)
            ))
        })?;
        self.renders.fetch_add(1, Ordering::Relaxed);
        *cache = Some((k, html.clone()));
        Ok(html)
    }

    /// How many times the list was rendered since this site loaded.
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }
}

/// What the list shows, as a number: every field of every incident, but an ongoing one's
/// duration only as the `duration` filter words it.
fn key(incidents: &[Incident]) -> u64 {
    let mut h = DefaultHasher::new();
    incidents.len().hash(&mut h);
    for i in incidents {
        i.service.hash(&mut h);
        i.name.hash(&mut h);
        (i.from, i.to).hash(&mut h);
        i.at.timestamp_nanos_opt().hash(&mut h);
        i.end.map(|t| t.timestamp_nanos_opt()).hash(&mut h);
        i.error.hash(&mut h);
        match i.end {
            Some(_) => i.duration_seconds.hash(&mut h),
            None => super::filters::duration_words(i.duration_seconds).hash(&mut h),
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::site::templates::{EMBEDDED, TemplateSet};
    use crate::output::site::{SiteFiles, SiteInfo, context, filters, fragments, page};
    use crate::snapshot::{Snapshot, Status};

    fn info() -> SiteInfo {
        SiteInfo::new(&crate::config::Config::embedded())
    }

    /// The status page as it is (the list from changes.html, kept) and as it was before, with
    /// the list's markup inline in index.html, rendered from the same context.
    fn both(snapshot: &Snapshot, changes: &Changes) -> (String, String) {
        let text = |name: &str| EMBEDDED.iter().find(|(n, _)| *n == name).unwrap().1;
        let (index, partial) = (text("index.html"), text("changes.html"));
        let call = "{{ changes | safe -}}\n";
        assert!(index.contains(call));
        let old = index.replace(call, partial);
        let mut tera = TemplateSet::load(None).unwrap().compile().unwrap();
        tera.add_raw_template("old.html", &old).unwrap();
        filters::register(&mut tera);
        let kept = fragments::Fragments::default();
        let ctx = context(
            &mut snapshot.clone(),
            &info(),
            &SiteFiles::default(),
            &kept,
            (&tera, changes),
        )
        .unwrap();
        (
            page(&tera, "index.html", &ctx).unwrap(),
            page(&tera, "old.html", &ctx).unwrap(),
        )
    }

    /// Fifty incidents as a year of history leaves them: the newest ongoing, the rest over.
    fn a_year_of_changes(snapshot: &mut Snapshot) {
        let now = snapshot.generated_at;
        snapshot.incidents = (0..50)
            .map(|k| Incident {
                service: format!("service-{}", k % 7),
                name: (k % 5 != 0).then(|| format!("Service <{}>", k % 7)),
                from: if k % 2 == 0 { Status::Up } else { Status::Down },
                to: if k % 2 == 0 { Status::Down } else { Status::Up },
                at: now - chrono::Duration::hours(k * 7 + 1),
                error: (k % 2 == 0).then(|| "connection refused & reset".to_string()),
                end: (k > 0).then(|| now - chrono::Duration::hours(k * 7)),
                duration_seconds: 3_600,
            })
            .collect();
    }

    #[test]
    fn the_page_with_the_kept_list_is_the_page_as_the_inline_list_made_it() {
        let mut snapshot = crate::snapshot::example();
        let changes = Changes::default();
        let (new, old) = both(&snapshot, &changes);
        assert_eq!(new, old);
        assert!(new.contains("Recent changes"), "the example has incidents");
        a_year_of_changes(&mut snapshot);
        let (new, old) = both(&snapshot, &changes);
        assert_eq!(new, old);
        assert_eq!(new.matches("<li><strong>").count(), 50);
        // With none, no list at all (but the element live.js swaps is there).
        snapshot.incidents.clear();
        let (new, old) = both(&snapshot, &changes);
        assert_eq!(new, old);
        assert!(
            !new.contains("Recent changes") && new.contains("<div id=\"incidents\" data-live>")
        );
    }

    #[test]
    fn the_list_is_rendered_again_only_when_what_it_shows_changes() {
        let mut snapshot = crate::snapshot::example();
        a_year_of_changes(&mut snapshot);
        let changes = Changes::default();
        let mut tera = TemplateSet::load(None).unwrap().compile().unwrap();
        filters::register(&mut tera);
        let first = changes.for_page(&tera, &snapshot.incidents).unwrap();
        assert_eq!(changes.renders(), 1);
        // Cycles later, nothing changed: the kept markup, not a rendering.
        for _ in 0..5 {
            assert_eq!(changes.for_page(&tera, &snapshot.incidents).unwrap(), first);
        }
        assert_eq!(changes.renders(), 1);
        // The ongoing one lasts a second longer: "1h" either way, so nothing to render.
        snapshot.incidents[0].duration_seconds = 3_601;
        assert_eq!(changes.for_page(&tera, &snapshot.incidents).unwrap(), first);
        assert_eq!(changes.renders(), 1);
        // A minute longer reads "1h 1m": rendered, and the page says so.
        snapshot.incidents[0].duration_seconds = 3_660;
        let later = changes.for_page(&tera, &snapshot.incidents).unwrap();
        assert_eq!(changes.renders(), 2);
        assert!(later.contains("(ongoing, 1h 1m so far)"), "{later}");
        // The ongoing one ends: rendered again.
        snapshot.incidents[0].end = Some(snapshot.generated_at);
        let ended = changes.for_page(&tera, &snapshot.incidents).unwrap();
        assert_eq!(changes.renders(), 3);
        assert!(!ended.contains("ongoing"));
        // An ended one's fields are all in the key: its error, its name, its end.
        snapshot.incidents[3].error = Some("timed out".into());
        assert!(
            changes
                .for_page(&tera, &snapshot.incidents)
                .unwrap()
                .contains("timed out")
        );
        snapshot.incidents[4].name = Some("Renamed".into());
        assert!(
            changes
                .for_page(&tera, &snapshot.incidents)
                .unwrap()
                .contains("Renamed")
        );
        assert_eq!(changes.renders(), 5);
        // A new incident at the top.
        let mut new = snapshot.incidents[1].clone();
        new.at = snapshot.generated_at;
        new.end = None;
        snapshot.incidents.insert(0, new);
        changes.for_page(&tera, &snapshot.incidents).unwrap();
        assert_eq!(changes.renders(), 6);
    }
}
