//! Renders the status page for N services (default 20) with full history (90 days, 24 hours of
//! latency) into `target/page-weight/`, and prints how long one render of `index.html` and one
//! `status.json` take. Optional: the services in GROUPS groups (default none) and OPEN written
//! incidents (default none), each with three updates and naming two services:
//! `page-weight 20 4 3`. `scripts/page-weight` runs it in release and adds the byte counts, raw and
//! gzipped. The figures go in the README's budgets; nothing here asserts them.

use cortex_status::config::Config;
use cortex_status::output::site::{self as render, Site, SiteInfo};
use cortex_status::snapshot::{Coverage, DAYS, LATENCY_SLOTS, Status};
use std::path::Path;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20);
    let arg = |i: usize| -> anyhow::Result<usize> {
        Ok(std::env::args()
            .nth(i)
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(0))
    };
    let (groups, open) = (arg(2)?, arg(3)?);
    let mut snapshot = cortex_status::snapshot::example();
    let template = snapshot.services[0].clone();
    // A fixed pseudo-random sequence: the same page every run, with realistic variety (nine days
    // in ten perfect, the others not quite; latency wandering), which is what gzip sees.
    let mut seed: u64 = 42;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) as f64 / (1u64 << 31) as f64
    };
    snapshot.services = (0..n)
        .map(|i| {
            let mut s = template.clone();
            s.name = format!("Service {i}");
            s.slug = format!("service-{i}");
            // In config order: the first n/groups services in the first group, and so on.
            s.group = (groups > 0).then(|| format!("Group {}", i * groups / n.max(1)));
            s.status = if i % 7 == 3 { Status::Down } else { Status::Up };
            s.days = (0..DAYS)
                .map(|_| {
                    let r = next();
                    Some(if r < 0.9 { 1.0 } else { 1.0 - next() * 0.02 })
                })
                .collect();
            // Watched for longer than the longest window: every figure whole.
            s.observed_since = Some(snapshot.generated_at - chrono::Duration::days(400));
            s.uptime_coverage = Coverage {
                day: 1.0,
                week: 1.0,
                month: 1.0,
                quarter: 1.0,
                year: 1.0,
            };
            s.latency_24h = (0..LATENCY_SLOTS)
                .map(|_| Some((20.0 + next() * 30.0).round() / 10.0))
                .collect();
            s
        })
        .collect();
    let slugs: Vec<String> = snapshot.services.iter().map(|s| s.slug.clone()).collect();
    snapshot.incidents_open = (0..open)
        .map(|k| {
            let text = format!(
                "+++\ntitle = \"Incident {k}: database failover\"\nseverity = \"degraded\"\n\
                 services = [\"service-{a}\", \"service-{b}\"]\nstarted = \"2026-11-24T10:00:00Z\"\n+++\n\n\
                 ## 2026-11-24 10:30 UTC · Monitoring\nWrites are back; we watch the **replica** \
                 catch up before we call it resolved.\n\n\
                 ## 2026-11-24 10:05 UTC · Identified\nThe primary lost its disk; the replica is \
                 being promoted. See [the runbook](https://example.net/runbook).\n\n\
                 ## 2026-11-24 10:01 UTC · Investigating\nWrites to the API fail.\n",
                a = (2 * k) % n.max(1),
                b = (2 * k + 1) % n.max(1),
            );
            cortex_status::sense::incidents::parse(&text, &format!("incident-{k}"), &slugs, "")
                .map(|(i, _)| i)
                .map_err(|(line, e)| anyhow::anyhow!("line {line}: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    snapshot.overall = snapshot.overall_with_incidents();

    let config = Config::embedded();
    let site = Site::load(&config).map_err(|e| anyhow::anyhow!("{}", e.join("\n")))?;
    let ctx = site.context(&mut snapshot, &SiteInfo::new(&config))?;
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/page-weight");
    std::fs::create_dir_all(out.join("assets"))?;
    let html = site
        .render("index.html", &ctx)
        .map_err(anyhow::Error::msg)?;
    std::fs::write(out.join("index.html"), &html)?;
    let json = render::json(&snapshot);
    std::fs::write(out.join("status.json"), &json)?;
    // For scripts/gzip-levels: the third file compressed every cycle.
    let metrics = cortex_status::output::metrics::metrics(&snapshot, &SiteInfo::new(&config));
    std::fs::write(out.join("metrics"), metrics)?;
    for (name, text) in cortex_status::output::site::templates::EMBEDDED {
        if name.starts_with("assets/") {
            std::fs::write(out.join(name), text)?;
        }
    }

    // What a cycle pays for these services: the context, the page, the feed.
    let rounds = 1000;
    let start = Instant::now();
    for _ in 0..rounds {
        let ctx = site.context(&mut snapshot, &SiteInfo::new(&config))?;
        std::hint::black_box(
            site.render("index.html", &ctx)
                .map_err(anyhow::Error::msg)?,
        );
    }
    let page = start.elapsed() / rounds;
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(render::json(&snapshot));
    }
    let feed = start.elapsed() / rounds;
    println!("services   {n}, each with {DAYS} days and {LATENCY_SLOTS} latency points");
    println!("groups     {groups}, open incidents {open}");
    println!(
        "render     index.html {page:.2?} (context + render), status.json {feed:.2?}; mean of {rounds}"
    );
    println!("written    {}", out.display());
    Ok(())
}
