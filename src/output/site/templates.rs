//! The site's templates and page assets: embedded defaults, overridden file by file.
//!
//! The binary carries every default template and asset (`templates/` in the repository), so it
//! runs with no files beside it. A file of the same name in the configured `templates_dir`
//! replaces its embedded twin; a new file there is added. Names under `assets/` are copied to
//! `out_dir` as they are; everything else is a tera template. `pages/NAME.html` is a custom page,
//! published as `NAME.html`: each is compiled on its own, so a broken one never stops the others.
//!
//! This module only loads and parses. Which templates become pages, and with what context, is
//! `render`'s business.

use std::fmt;
use std::path::{Path, PathBuf};
use tera::Tera;

/// The defaults, in the binary. A test checks this list against the `templates/` directory, so
/// a file added there and forgotten here fails the build's tests.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../templates/base.html")),
    (
        "macros.html",
        include_str!("../../../templates/macros.html"),
    ),
    ("index.html", include_str!("../../../templates/index.html")),
    ("tasks.html", include_str!("../../../templates/tasks.html")),
    (
        "changes.html",
        include_str!("../../../templates/changes.html"),
    ),
    (
        "history.html",
        include_str!("../../../templates/history.html"),
    ),
    (
        "incident.html",
        include_str!("../../../templates/incident.html"),
    ),
    (
        "service.html",
        include_str!("../../../templates/service.html"),
    ),
    (
        "assets/style.css",
        include_str!("../../../templates/assets/style.css"),
    ),
    (
        "assets/favicon.svg",
        include_str!("../../../templates/assets/favicon.svg"),
    ),
    (
        "assets/tasks.js",
        include_str!("../../../templates/assets/tasks.js"),
    ),
    (
        "assets/live.js",
        include_str!("../../../templates/assets/live.js"),
    ),
];

/// Where custom pages live among the templates.
pub const PAGES_DIR: &str = "pages/";

/// Output names the built-in pages take; a custom page may not take them over.
const RESERVED_PAGE_NAMES: &[&str] = &["index", "tasks", "history"];

/// File name endings a template directory may hold; anything else (editor swap files, backups,
/// notes) is ignored.
const KNOWN_ENDINGS: &[&str] = &[".html", ".xml", ".txt", ".css", ".js", ".svg", ".json"];

/// Where a template or asset came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Embedded,
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Source {
    /// The name templates use (`index.html`, `assets/style.css`), always with `/`.
    pub name: String,
    pub text: String,
    pub origin: Origin,
}

impl Source {
    /// The file to point a person at: the override's path, or the embedded name.
    pub fn location(&self) -> String {
        match &self.origin {
            Origin::Embedded => format!("(embedded) {}", self.name),
            Origin::File(p) => p.display().to_string(),
        }
    }

    pub fn is_asset(&self) -> bool {
        self.name.starts_with("assets/")
    }

    /// `pages/*.html`. Partials for custom pages go elsewhere (a page name cannot hold `/`).
    pub fn is_custom_page(&self) -> bool {
        self.name.starts_with(PAGES_DIR) && self.name.ends_with(".html")
    }
}

/// A custom page (`pages/NAME.html`), published as `NAME.html`.
#[derive(Debug, Clone)]
pub struct CustomPage {
    /// `NAME`, as found.
    pub name: String,
    /// `NAME.html`; `None` when the name is refused (not safe as a file name and a link), and
    /// then nothing is published.
    pub file: Option<String>,
    /// The template's name, `pages/NAME.html`.
    pub template: String,
    /// From a first line `{# title: Disks #}`, for the navigation.
    pub title: Option<String>,
    /// The file to point a person at.
    pub location: String,
    /// Why it cannot be rendered (a bad name, a syntax error, a missing parent or macro file).
    pub problem: Option<Problem>,
}

/// A problem with a template, located as precisely as tera allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl Problem {
    fn at(source: &Source, error: &tera::Error) -> Problem {
        let message = chain(error);
        let (line, column) = position(&message);
        Problem {
            file: source.location(),
            line,
            column,
            message: tidy(&message),
        }
    }
}

/// Every source, embedded defaults with the directory's files laid over them.
#[derive(Debug, Clone)]
pub struct TemplateSet {
    pub sources: Vec<Source>,
}

impl TemplateSet {
    pub fn load(dir: Option<&Path>) -> Result<TemplateSet, Vec<Problem>> {
        let mut sources: Vec<Source> = EMBEDDED
            .iter()
            .map(|(name, text)| Source {
                name: (*name).to_string(),
                text: (*text).to_string(),
                origin: Origin::Embedded,
            })
            .collect();
        let Some(dir) = dir else {
            return Ok(TemplateSet { sources });
        };
        let mut problems = Vec::new();
        let mut files = Vec::new();
        walk(dir, dir, &mut files, &mut problems);
        for (name, path) in files {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let source = Source {
                        name,
                        text,
                        origin: Origin::File(path),
                    };
                    match sources.iter_mut().find(|s| s.name == source.name) {
                        Some(existing) => *existing = source,
                        None => sources.push(source),
                    }
                }
                Err(e) => problems.push(Problem {
                    file: path.display().to_string(),
                    line: None,
                    column: None,
                    message: format!("cannot be read: {e}"),
                }),
            }
        }
        if problems.is_empty() {
            Ok(TemplateSet { sources })
        } else {
            Err(problems)
        }
    }

    /// The templates every page may use (layouts, macros, built-in pages); custom pages apart.
    pub fn templates(&self) -> impl Iterator<Item = &Source> {
        self.sources
            .iter()
            .filter(|s| !s.is_asset() && !s.is_custom_page())
    }

    pub fn assets(&self) -> impl Iterator<Item = &Source> {
        self.sources.iter().filter(|s| s.is_asset())
    }

    /// Parses every template into one tera instance. Each template is first parsed alone, so
    /// every broken file is reported (tera itself stops at the first); then all together, which
    /// finds a missing parent or macro file. A macro file that no template imports is checked
    /// but not kept (see [`Self::unused_macros`]).
    pub fn compile(&self) -> Result<Tera, Vec<Problem>> {
        let mut problems: Vec<Problem> = self
            .templates()
            .filter_map(|s| {
                tera::Template::new(&s.name, None, &s.text)
                    .err()
                    .map(|e| Problem::at(s, &e))
            })
            .collect();
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html", ".xml", ".svg"]);
        let all = self
            .templates()
            .filter(|s| !self.unused_macros(s))
            .map(|s| (s.name.as_str(), s.text.as_str()));
        if let Err(e) = tera.add_raw_templates(all) {
            // The message names the template at fault; point at it when we can.
            let text = chain(&e);
            let source = self.templates().find(|s| {
                text.contains(&format!("'{}'", s.name)) || text.contains(&format!("`{}`", s.name))
            });
            problems.push(match source {
                Some(s) => Problem::at(s, &e),
                None => Problem {
                    file: "templates".into(),
                    line: None,
                    column: None,
                    message: tidy(&text),
                },
            });
            return Err(problems);
        }
        Ok(tera)
    }

    /// Whether `source` is a file of macros that no template (custom pages included) names in
    /// quotes, as `{% import "macros.html" as m %}` does. tera's syntax trees are large and live
    /// as long as the daemon: the default macros.html alone is about 60 KB resident, for
    /// nothing on a site without custom pages, and RSS is one of this project's budgets.
    fn unused_macros(&self, source: &Source) -> bool {
        let defines_macros = source.text.contains("{% macro") || source.text.contains("{%- macro");
        let quoted = [format!("\"{}\"", source.name), format!("'{}'", source.name)];
        defines_macros
            && !self.sources.iter().any(|other| {
                other.name != source.name
                    && !other.is_asset()
                    && quoted.iter().any(|q| other.text.contains(q.as_str()))
            })
    }

    /// Adds each custom page (`pages/*.html`) to `tera` on its own, after [`Self::compile`]: a
    /// page that does not compile is returned with its problem and left out, and the others
    /// still go in.
    pub fn add_custom_pages(&self, tera: &mut Tera) -> Vec<CustomPage> {
        self.sources
            .iter()
            .filter(|s| s.is_custom_page())
            .map(|s| {
                let file_name = &s.name[PAGES_DIR.len()..s.name.len() - ".html".len()];
                let named = check_page_name(file_name);
                let problem = match &named {
                    Err(message) => Some(Problem {
                        file: s.location(),
                        line: None,
                        column: None,
                        message: message.clone(),
                    }),
                    Ok(()) => add_alone(tera, s).err(),
                };
                CustomPage {
                    name: file_name.to_string(),
                    file: named.ok().map(|()| format!("{file_name}.html")),
                    template: s.name.clone(),
                    title: title_of(&s.text),
                    location: s.location(),
                    problem,
                }
            })
            .collect()
    }
}

/// Adds one template to `tera`, or leaves `tera` as it was and says why not. tera keeps a
/// template that fails to link (missing parent or macro file) and would then fail every later
/// addition, so the addition is tried on a copy (once, when the templates load).
fn add_alone(tera: &mut Tera, source: &Source) -> Result<(), Problem> {
    tera::Template::new(&source.name, None, &source.text).map_err(|e| Problem::at(source, &e))?;
    let mut attempt = tera.clone();
    attempt
        .add_raw_template(&source.name, &source.text)
        .map_err(|e| Problem::at(source, &e))?;
    *tera = attempt;
    Ok(())
}

/// A custom page's name becomes a file name in out_dir and a link: slug-like only.
fn check_page_name(name: &str) -> Result<(), String> {
    let safe = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !name.starts_with(['-', '_']);
    if !safe {
        return Err(format!(
            "{name:?} cannot be a page name: use lower-case letters, digits, '-' and '_' \
             (it becomes {name}.html in out_dir and a link), at most 64, e.g. pages/disk-usage.html; \
             the page is not published"
        ));
    }
    if RESERVED_PAGE_NAMES.contains(&name) {
        return Err(format!(
            "{name}.html is a built-in page: to change it, put {name}.html beside pages/, not in \
             it; this page is not published"
        ));
    }
    Ok(())
}

/// The title from a first line `{# title: Disk usage #}`.
fn title_of(text: &str) -> Option<String> {
    let comment = text.trim_start().strip_prefix("{#")?;
    let comment = &comment[..comment.find("#}")?];
    let title = comment
        .trim()
        .trim_start_matches('-')
        .trim()
        .strip_prefix("title:")?;
    let title = title.trim().trim_end_matches('-').trim();
    (!title.is_empty()).then(|| title.to_string())
}

/// Collects `(name, path)` for every file under `dir` with a known ending, skipping hidden files
/// and editor droppings (`.index.html.swp`, `index.html~`, `#index.html#`).
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>, problems: &mut Vec<Problem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem {
                file: dir.display().to_string(),
                line: None,
                column: None,
                message: format!("cannot be listed: {e}"),
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') || file_name.starts_with('#') || file_name.ends_with('~') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out, problems);
        } else if KNOWN_ENDINGS.iter().any(|e| file_name.ends_with(e)) {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((name, path));
        }
    }
}

/// tera's error and every cause, as one text.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The `--> LINE:COLUMN` pest puts in a parse error.
fn position(message: &str) -> (Option<usize>, Option<usize>) {
    let Some(at) = message.find("--> ") else {
        return (None, None);
    };
    let rest = &message[at + 4..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(rest.len());
    let mut parts = rest[..end].split(':').map(|p| p.parse::<usize>().ok());
    (parts.next().flatten(), parts.next().flatten())
}

/// One line per problem: pest's multi-line excerpt is folded, and its position is already in
/// `file:line:column`.
fn tidy(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("-->")
                && *l != "|"
                && !l.chars().next().is_some_and(|c| c.is_ascii_digit())
                && !l.starts_with("| ")
        })
        .map(|l| l.trim_start_matches("= "))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page's script is fetched by every visitor: issue 3 asks for under 5 KB.
    #[test]
    fn live_js_stays_under_5_kb() {
        let (_, text) = EMBEDDED
            .iter()
            .find(|(name, _)| *name == "assets/live.js")
            .expect("live.js is embedded");
        assert!(text.len() < 5 * 1024, "live.js is {} bytes", text.len());
    }

    #[test]
    fn every_file_in_templates_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut files = Vec::new();
        let mut problems = Vec::new();
        walk(&root, &root, &mut files, &mut problems);
        assert!(problems.is_empty());
        let mut on_disk: Vec<String> = files.into_iter().map(|(n, _)| n).collect();
        let mut embedded: Vec<String> = EMBEDDED.iter().map(|(n, _)| n.to_string()).collect();
        on_disk.sort();
        embedded.sort();
        assert_eq!(on_disk, embedded, "templates/ and EMBEDDED disagree");
    }

    #[test]
    fn the_embedded_set_compiles() {
        TemplateSet::load(None).unwrap().compile().unwrap();
    }

    #[test]
    fn an_override_replaces_its_twin_and_new_files_are_added() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/style.css"), "body{}").unwrap();
        std::fs::write(dir.path().join("extra.html"), "hi").unwrap();
        std::fs::write(dir.path().join(".index.html.swp"), "junk").unwrap();
        std::fs::write(dir.path().join("index.html~"), "junk").unwrap();
        let set = TemplateSet::load(Some(dir.path())).unwrap();
        let css = set
            .sources
            .iter()
            .find(|s| s.name == "assets/style.css")
            .unwrap();
        assert_eq!(css.text, "body{}");
        assert!(matches!(css.origin, Origin::File(_)));
        assert!(set.sources.iter().any(|s| s.name == "extra.html"));
        assert_eq!(set.sources.len(), EMBEDDED.len() + 1);
    }

    #[test]
    fn every_broken_template_is_reported_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.html"),
            "<p>\n\n{{ overall | }}\n</p>",
        )
        .unwrap();
        std::fs::write(dir.path().join("other.html"), "{% if %}").unwrap();
        let problems = TemplateSet::load(Some(dir.path()))
            .unwrap()
            .compile()
            .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        let index = problems
            .iter()
            .find(|p| p.file.ends_with("index.html"))
            .unwrap();
        assert_eq!(index.line, Some(3));
        assert!(index.to_string().contains("index.html:3:"), "{index}");
        assert!(!index.message.contains('\n'));
    }

    #[test]
    fn a_missing_parent_is_reported_against_the_child() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "{% extends \"nope.html\" %}").unwrap();
        let problems = TemplateSet::load(Some(dir.path()))
            .unwrap()
            .compile()
            .unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].file.ends_with("index.html"),
            "{:?}",
            problems[0]
        );
        assert!(problems[0].message.contains("nope.html"));
    }

    #[test]
    fn page_names_must_be_safe_file_names() {
        for good in ["disks", "disk-usage", "a_b", "v2"] {
            assert_eq!(check_page_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Disks",
            "a b",
            "a/b",
            "../x",
            ".hidden",
            "-x",
            "é",
            &"x".repeat(65),
        ] {
            let e = check_page_name(bad).unwrap_err();
            assert!(e.contains("cannot be a page name"), "{bad}: {e}");
        }
        assert!(
            check_page_name("index")
                .unwrap_err()
                .contains("built-in page")
        );
    }

    #[test]
    fn a_page_title_comes_from_its_first_comment() {
        assert_eq!(
            title_of("{# title: Disk usage #}\n<p>"),
            Some("Disk usage".into())
        );
        assert_eq!(title_of("\n{#- title: Backups -#}"), Some("Backups".into()));
        assert_eq!(title_of("{# a note #}\n{# title: Late #}"), None);
        assert_eq!(title_of("<p>{# title: No #}"), None);
        assert_eq!(title_of("{# title: #}"), None);
    }

    #[test]
    fn custom_pages_are_not_part_of_the_shared_set() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pages")).unwrap();
        std::fs::write(dir.path().join("pages/broken.html"), "{% if %}").unwrap();
        std::fs::write(dir.path().join("pages/ok.html"), "{{ overall }}").unwrap();
        let set = TemplateSet::load(Some(dir.path())).unwrap();
        // The broken page does not stop the shared templates from compiling…
        let mut tera = set.compile().unwrap();
        let pages = set.add_custom_pages(&mut tera);
        assert_eq!(pages.len(), 2);
        let broken = pages.iter().find(|p| p.name == "broken").unwrap();
        assert_eq!(broken.problem.as_ref().unwrap().line, Some(1));
        assert_eq!(broken.file.as_deref(), Some("broken.html"));
        // …nor the other page from being added, and tera is left without it.
        assert!(tera.get_template_names().any(|n| n == "pages/ok.html"));
        assert!(!tera.get_template_names().any(|n| n == "pages/broken.html"));
    }

    #[test]
    fn a_macro_file_is_kept_only_when_a_template_imports_it() {
        let names = |set: &TemplateSet| {
            let mut tera = set.compile().unwrap();
            set.add_custom_pages(&mut tera);
            tera.get_template_names()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let embedded = TemplateSet::load(None).unwrap();
        assert!(!names(&embedded).contains(&"macros.html".to_string()));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pages")).unwrap();
        std::fs::write(
            dir.path().join("pages/x.html"),
            "{% import \"macros.html\" as m %}{{ m::status(status=overall) }}",
        )
        .unwrap();
        let with_page = TemplateSet::load(Some(dir.path())).unwrap();
        let names = names(&with_page);
        assert!(names.contains(&"macros.html".to_string()), "{names:?}");
        assert!(names.contains(&"pages/x.html".to_string()));
    }
}
