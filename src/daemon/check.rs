//! `cortex-status check`: every problem with the config, the templates and the incident files,
//! each with its file and line, before anything is deployed.
//!
//! Templates are parsed one by one (so every broken file is reported), compiled together (a
//! missing parent or macro file), and each page is rendered against an example snapshot (an
//! unknown variable or filter, which only shows at render time).

use crate::config::{Config, Env};
use crate::output::site::Site;
use crate::output::site::SiteInfo;
use std::path::Path;

pub struct Report {
    pub problems: Vec<String>,
    /// What may be fine where the config is deployed but is not true here (a disk in
    /// `[host] disks` that this host has not mounted): printed, not a failure, since a config
    /// is often written on another machine.
    pub warnings: Vec<String>,
    /// What was checked, for the success line.
    pub summary: String,
}

pub fn run(path: Option<&Path>, env: &Env) -> Report {
    let mut problems = Vec::new();
    let config = match Config::load(path, env) {
        Ok(c) => Some(c),
        // Every problem in the config, one line each, not a summary line.
        Err(errors) => {
            problems.extend(errors.iter().map(ToString::to_string));
            None
        }
    };
    // With a broken config, still check the templates beside it, as the daemon would find them.
    let templates_dir = match &config {
        Some(c) => c.templates_dir.clone(),
        None => {
            let base = path.and_then(Path::parent).unwrap_or(Path::new(""));
            Some(base.join("templates")).filter(|d| d.is_dir())
        }
    };
    let config_ref = match &config {
        Some(c) => c,
        None => &Config {
            templates_dir: templates_dir.clone(),
            ..Config::embedded()
        },
    };
    let mut pages = 0;
    match Site::load(config_ref) {
        Err(template_problems) => problems.extend(template_problems),
        Ok(site) => {
            let mut example = crate::snapshot::example();
            // The context renders changes.html (the status page's "Recent changes"), which an
            // override in templates_dir can break: a problem to report, like any page's; the
            // pages made from that context cannot be tried then.
            let mut ctx = match site.context(&mut example, &SiteInfo::new(config_ref)) {
                Ok(ctx) => Some(ctx),
                Err(e) => {
                    problems.push(format!(
                        "{e}; the status page and the incident pages need it and were not tried"
                    ));
                    None
                }
            };
            // The incident pages, with the example's open incident.
            if let Some(ctx) = ctx.as_mut() {
                let written = &example.incidents_open;
                for (name, rendered) in crate::output::site::incidents::render(
                    &site,
                    ctx,
                    &example,
                    written,
                    &example.incidents,
                ) {
                    if let Err(e) = rendered {
                        problems.push(format!("{name}: renders with an error: {e}"));
                    }
                }
            }
            // Each service's own page (`services/<slug>.html`), for the example's first one.
            if let Some(s) = example.services.first() {
                use crate::output::site::services;
                let info = SiteInfo::new(config_ref);
                let ctx = services::context(&example, &info, site.files(), s);
                if let Err(e) = site.render("service.html", &ctx) {
                    problems.push(format!("service.html: renders with an error: {e}"));
                }
            }
            // Custom pages too: one that does not compile comes with its problem.
            for page in site.outputs() {
                pages += 1;
                let rendered = match (&page.problem, &ctx) {
                    (Some(problem), _) => Err(problem.clone()),
                    (None, None) => Ok(()),
                    (None, Some(ctx)) => site
                        .render(&page.template, ctx)
                        .map(drop)
                        .map_err(|e| format!("{}: renders with an error: {e}", page.location)),
                };
                if let Err(e) = rendered {
                    problems.push(e);
                }
            }
        }
    }
    // Every incident file, as the daemon would read it; each problem names file and line.
    let incidents = match &config {
        Some(c) => {
            let slugs: Vec<String> = c.services.iter().map(|s| s.slug.clone()).collect();
            let written = crate::sense::incidents::load(
                &c.incidents_dir,
                &slugs,
                &SiteInfo::new(c).public_url,
            );
            problems.extend(written.problems);
            written.incidents.len()
        }
        None => 0,
    };
    let mut warnings = Vec::new();
    if let Some(wanted) = config.as_ref().and_then(|c| c.host.disks.as_deref()) {
        for m in crate::sense::host::unmounted(wanted) {
            warnings.push(format!(
                "warning: {}: host.disks: {m} is not mounted on this host; the page will show \
                 \"disk {m}: not mounted\" until it is",
                config_ref.source()
            ));
        }
    }
    // Incident files are mentioned when there are some.
    let incidents = match incidents {
        0 => String::new(),
        n => format!("{}, ", counted(n, "incident")),
    };
    let summary = format!(
        "{}: {}, {incidents}{}, {}",
        config_ref.source(),
        counted(config_ref.services.len(), "service"),
        counted(pages, "page"),
        templates_dir.map_or("the embedded templates".into(), |d| format!(
            "templates in {} over the embedded ones",
            shown_dir(&d)
        ))
    );
    Report {
        problems,
        warnings,
        summary,
    }
}

/// "1 service", "3 services".
fn counted(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A directory as a person would type it: `./templates/` rather than a bare `templates`, which
/// reads as a word in the sentence.
fn shown_dir(dir: &Path) -> String {
    let text = dir.display().to_string();
    let text = if dir.is_relative() && !text.starts_with('.') {
        format!("./{text}")
    } else {
        text
    };
    if text.ends_with('/') {
        text
    } else {
        format!("{text}/")
    }
}
