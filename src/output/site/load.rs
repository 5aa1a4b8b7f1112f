//! The loaded site: the compiled templates (with the filters registered), the assets to copy,
//! and the list of pages to write each cycle. Loaded once at start and again on reload; the
//! cycle holds it in an `Arc` and renders from it on the blocking pool.

use super::templates::{Problem, TemplateSet};
use super::{PAGES, PageLink, SiteFiles, SiteInfo};
use crate::config::Config;
use crate::snapshot::Snapshot;
use tera::Tera;

/// The compiled templates and the assets to copy, shared with the blocking render task.
pub struct Site {
    tera: Tera,
    assets: Vec<(String, Vec<u8>)>,
    /// What templates see in `site` beyond the config: custom pages, the assets' version.
    files: SiteFiles,
    /// The pages written every cycle: the built-in ones, then the custom ones.
    outputs: Vec<Output>,
    /// Each service's charts on the status page as last rendered with these templates.
    fragments: super::fragments::Fragments,
    /// The status page's "Recent changes" as last rendered with these templates.
    changes: super::changes::Changes,
}

/// A page written every cycle.
#[derive(Debug, Clone)]
pub struct Output {
    pub template: String,
    /// Its name in out_dir; empty for a custom page whose name is refused.
    pub file: String,
    /// The template's file, to point a person at.
    pub location: String,
    /// Why it cannot be rendered (`file:line:column: message`).
    pub problem: Option<String>,
}

impl Output {
    /// What goes into `errors` every cycle while the page cannot be rendered.
    pub fn failure(&self) -> Option<String> {
        let problem = self.problem.as_ref()?;
        Some(if self.file.is_empty() {
            format!("template: {problem}")
        } else {
            format!("template: {problem}; the last good {} stays", self.file)
        })
    }
}

impl Site {
    /// Loads and compiles the templates; each problem is one line naming file and line. A
    /// custom page that does not compile is not a failure here: it becomes an [`Output`] with
    /// its problem, so the other pages are still written.
    pub fn load(config: &Config) -> Result<Site, Vec<String>> {
        let to_lines = |ps: Vec<Problem>| ps.iter().map(ToString::to_string).collect::<Vec<_>>();
        let set = TemplateSet::load(config.templates_dir.as_deref()).map_err(to_lines)?;
        let mut tera = set.compile().map_err(to_lines)?;
        super::filters::register(&mut tera);
        let custom = set.add_custom_pages(&mut tera);
        let assets: Vec<(String, Vec<u8>)> = set
            .assets()
            .map(|s| (s.name.clone(), s.text.clone().into_bytes()))
            .collect();
        let files = SiteFiles {
            pages: custom
                .iter()
                .filter(|p| p.problem.is_none())
                .map(|p| PageLink {
                    name: p.name.clone(),
                    title: p.title.clone(),
                })
                .collect(),
            assets_version: assets_version(&assets),
        };
        let location = |name: &str| {
            set.sources
                .iter()
                .find(|s| s.name == name)
                .map_or_else(|| name.to_string(), |s| s.location())
        };
        let mut outputs: Vec<Output> = PAGES
            .iter()
            .map(|name| Output {
                template: name.to_string(),
                file: name.to_string(),
                location: location(name),
                problem: None,
            })
            .collect();
        outputs.extend(custom.into_iter().map(|p| Output {
            problem: p.problem.map(|e| e.to_string()),
            file: p.file.unwrap_or_default(),
            template: p.template,
            location: p.location,
        }));
        Ok(Site {
            tera,
            assets,
            files,
            outputs,
            fragments: Default::default(),
            changes: Default::default(),
        })
    }

    pub fn render(&self, name: &str, ctx: &tera::Context) -> Result<String, super::RenderError> {
        super::page(&self.tera, name, ctx)
    }

    /// The context every page of this site is rendered with: the snapshot and what the
    /// templates see besides, with the status page's kept parts (`fragments`, `changes`).
    pub fn context(&self, snapshot: &mut Snapshot, info: &SiteInfo) -> tera::Result<tera::Context> {
        super::context(
            snapshot,
            info,
            &self.files,
            &self.fragments,
            (&self.tera, &self.changes),
        )
    }

    /// The cache of the status page's "Recent changes" (how often it was rendered, for tests).
    pub fn changes(&self) -> &super::changes::Changes {
        &self.changes
    }

    /// The cache of the status page's per-service charts (how many were rendered, for tests).
    pub fn fragments(&self) -> &super::fragments::Fragments {
        &self.fragments
    }

    /// What templates see in `site` from the templates themselves.
    pub fn files(&self) -> &super::SiteFiles {
        &self.files
    }

    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }

    /// The assets copied into `out_dir` (name, bytes).
    pub fn assets(&self) -> &[(String, Vec<u8>)] {
        &self.assets
    }
}

/// A short hash of every asset's name and bytes (FNV-1a, 64 bits, 8 hex digits shown): stable
/// across builds and platforms, unlike std's hasher, and plenty for telling versions apart.
fn assets_version(assets: &[(String, Vec<u8>)]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, bytes) in assets {
        for b in name.bytes().chain([0]).chain(bytes.iter().copied()) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{:08x}", hash >> 32)
}
