//! A page per service, `services/<slug>.html`: the service's strip, sparkline, availability,
//! details and its feed's link, which the status page can then leave out. Past
//! [`COMPACT_FROM`] services the status page lists each in one line (status, name, latency,
//! 24-hour availability) linking here, so that a page of 1,000 services stays within 1 MB.
//!
//! This module owns when such a page is rendered: only when what it shows changes
//! ([`key`]), never because a cycle passed. At 1,000 services, 1,000 renders a cycle would be
//! most of the cycle's CPU; what changes every check (the latency, the check's time) is left
//! out of the page, the sparkline is redrawn a quarter hour at a time (staggered by slug, so
//! the pages do not all come due in the same cycle), and the availability figures count as
//! changed when their hundredths of a percent do (what the page shows).

use super::{SiteFiles, SiteInfo, SiteView};
use crate::snapshot::{Service, Snapshot};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// From how many services the status page shows one line per service and links to its page.
pub const COMPACT_FROM: usize = 51;

/// The file of a service's page, relative to out_dir.
pub fn file(slug: &str) -> String {
    format!("services/{slug}.html")
}

/// What a service's page is made from, as a number: equal keys render equal pages. `generation`
/// stands for everything outside the snapshot (templates, site settings): a new one renders
/// every page again.
pub fn key(snapshot: &Snapshot, s: &Service, generation: u64) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    generation.hash(&mut h);
    // The page's quarter hour, shifted by the slug's hash so the pages' redraws spread over the
    // quarter instead of all falling in one cycle.
    let slug_hash = {
        let mut sh = std::collections::hash_map::DefaultHasher::new();
        s.slug.hash(&mut sh);
        sh.finish()
    };
    let slot = crate::snapshot::LATENCY_SLOTS as i64;
    let quarter = 86_400 / slot;
    ((snapshot.generated_at.timestamp() + (slug_hash % quarter as u64) as i64) / quarter)
        .hash(&mut h);
    // The strip's "today".
    snapshot.generated_at.date_naive().hash(&mut h);
    (
        &s.slug,
        &s.name,
        &s.group,
        std::mem::discriminant(&s.kind),
        s.status.as_str(),
    )
        .hash(&mut h);
    s.error.hash(&mut h);
    s.observed_since.map(|t| t.timestamp()).hash(&mut h);
    // Hashed as it is: serialising it first cost an allocation per service per cycle.
    s.details.hash(&mut h);
    hash_figures(s, &mut h);
    for d in s.days.iter() {
        d.map(|r| (r * 10_000.0 + 1e-6) as u32).hash(&mut h);
    }
    // The open written incidents that name it (its markers).
    for i in snapshot
        .incidents_open
        .iter()
        .filter(|i| i.services.contains(&s.slug))
    {
        (&i.slug, &i.title, i.severity.as_str()).hash(&mut h);
    }
    h.finish()
}

/// The context of one service's page: `site`, `root`, `generated_at`, the service as `s` and
/// the open incidents, not the whole snapshot (a copy of it per page would cost more than the
/// page).
pub fn context(
    snapshot: &Snapshot,
    info: &SiteInfo,
    files: &SiteFiles,
    s: &Service,
) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("site", &SiteView { info, files });
    ctx.insert("root", "../");
    ctx.insert("generated_at", &snapshot.generated_at);
    ctx.insert("s", s);
    let open: Vec<_> = snapshot
        .incidents_open
        .iter()
        .filter(|i| i.services.contains(&s.slug))
        .collect();
    ctx.insert("incidents_open", &open);
    ctx
}

/// Which pages are due: those whose key differs from `known` (the keys last written), with
/// their new keys. `known` keeps only configured services afterwards.
pub fn due<'a>(
    snapshot: &'a Snapshot,
    generation: u64,
    known: &mut HashMap<String, u64>,
) -> Vec<(&'a Service, u64)> {
    let slugs = snapshot.slugs();
    known.retain(|slug, _| slugs.contains(slug.as_str()));
    snapshot
        .services
        .iter()
        .filter_map(|s| {
            let k = key(snapshot, s, generation);
            (known.get(&s.slug) != Some(&k)).then_some((s, k))
        })
        .collect()
}

/// Hashes what a service's uptime figures show: each window to the hundredth of a percent,
/// and which windows are watched in full. Shared by the keys of a service's page and of its
/// fragment on the status page, which must move together.
pub fn hash_figures(s: &Service, h: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    let hundredths = |r: Option<f64>| r.map(|r| (r.clamp(0.0, 1.0) * 10_000.0 + 1e-6) as u32);
    let u = &s.uptime;
    [u.day, u.week, u.month, u.quarter, u.year]
        .map(hundredths)
        .hash(h);
    let c = &s.uptime_coverage;
    [c.day, c.week, c.month, c.quarter, c.year]
        .map(|c| c >= 1.0)
        .hash(h);
}
