//! The validated configuration, and the one place where user input becomes it.
//!
//! Precedence, lowest first: built-in defaults < the TOML file < the environment < flags. The
//! file is parsed once into toml's spanned tree; `read` takes it key by key, so one run reports
//! every problem and not only the first; `raw` parses each value type (durations, URLs, times);
//! `resolve` turns it all into [`Config`] with real types, so nothing downstream re-parses a
//! string. Every error names the file (or the environment variable), the line where one is
//! known and the key; it quotes the value only where that cannot carry a credential (URLs lose
//! their userinfo and query, environment values are never quoted), and every message passes
//! through `redact`.

mod raw;
mod read;
mod secret;

pub use raw::{HostFigure, MAX_DURATION, parse_duration};
pub use secret::Secret;

use crate::snapshot::Kind;
use raw::{Dur, HttpUrl, Time};
use read::Reader;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::de::DeTable;
use url::Url;

/// The file looked for in the working directory when no `--config` is given.
pub const DEFAULT_FILE: &str = "cortex-status.toml";

/// Shortest cycle allowed: below this the loop would spend its time publishing.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from; `None` for the embedded default.
    pub file: Option<PathBuf>,
    pub title: String,
    pub public_url: Option<Url>,
    pub out_dir: PathBuf,
    pub state_dir: PathBuf,
    /// Where user templates override the embedded ones; `None` when there is no such directory.
    pub templates_dir: Option<PathBuf>,
    pub interval: Duration,
    /// A shell command run after each publish (see `hook`); `None` when empty or absent.
    pub on_publish: Option<String>,
    /// How long one `on_publish` run may take; then its process group is killed.
    pub on_publish_timeout: Duration,
    pub host: HostConfig,
    pub services: Vec<ServiceConfig>,
    pub maintenance: Vec<Maintenance>,
    pub tasks: TasksConfig,
    pub api: ApiConfig,
    pub secrets: Secrets,
}

#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Mount points to report; `None` reports every disk sysinfo lists.
    pub disks: Option<Vec<String>>,
    pub public: HostPublic,
}

/// Which host figures the public outputs carry (and so which sysinfo refreshes at all).
#[derive(Debug, Clone, Copy)]
pub struct HostPublic {
    pub load: bool,
    pub memory: bool,
    pub disks: bool,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub name: String,
    pub slug: String,
    pub timeout: Duration,
    /// Slower than this is `degraded` rather than `up`.
    pub degraded_after: Option<Duration>,
    pub check: Check,
}

impl ServiceConfig {
    pub fn kind(&self) -> Kind {
        match self.check {
            Check::Http { .. } => Kind::Http,
            Check::Tcp { .. } => Kind::Tcp,
            Check::Systemd { .. } => Kind::Systemd,
            Check::Feed { .. } => Kind::Feed,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Check {
    /// `expect_status` empty means any 2xx.
    Http {
        url: Url,
        expect_status: Vec<u16>,
    },
    Tcp {
        address: String,
    },
    Systemd {
        unit: String,
    },
    Feed {
        url: Url,
    },
}

#[derive(Debug, Clone)]
pub struct Maintenance {
    pub services: Vec<String>,
    pub start: chrono::DateTime<chrono::Utc>,
    pub end: chrono::DateTime<chrono::Utc>,
    pub message: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TasksConfig {
    pub symbiont_url: Option<Url>,
    pub submit_path: String,
    pub progress_path: String,
    pub timeout: Duration,
    pub terminal_statuses: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    pub serve_public: bool,
    pub allowed_origins: Vec<Url>,
    /// Addresses whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// The two secrets. They come only from the environment (or files it names), never from the
/// config file, and [`Secret`] has no `Display` or `Serialize`, so they cannot be printed.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub task_password: Option<Secret>,
    pub symbiont_token: Option<Secret>,
    /// The values put in for `${NAME}`s in the config file.
    pub interpolated: Vec<Secret>,
}

impl Secrets {
    /// Every secret value, for scrubbing text that may echo one ([`crate::redact::secrets`]).
    pub fn values(&self) -> Vec<&str> {
        let named = [&self.task_password, &self.symbiont_token];
        named
            .into_iter()
            .flatten()
            .chain(&self.interpolated)
            .map(Secret::expose)
            .collect()
    }
}

/// A configuration problem, located as precisely as we can.
///
/// Made only by [`ConfigError::new`], which passes the key and the message through
/// `redact::text`: the message reaches the page, the feed and the log, and a value it quotes
/// may be a URL with a password in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {}{}", .file, .line.map(|l| format!(":{l}")).unwrap_or_default(), if .key.is_empty() { String::new() } else { format!("{}: ", .key) }, .message)]
pub struct ConfigError {
    /// The file, or `environment` for an environment variable.
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(file: &str, line: Option<usize>, key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_string(),
            line,
            key: crate::redact::text(key),
            message: crate::redact::text(&message.into()),
        }
    }
}

/// Every problem found in one config, in the order of the file (the environment's last).
/// Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(Vec<ConfigError>);

/// How many problems the one-line form names; `check` lists them all.
const SHOWN_IN_ONE_LINE: usize = 5;

impl ConfigErrors {
    fn new(mut problems: Vec<ConfigError>) -> ConfigErrors {
        debug_assert!(!problems.is_empty());
        // Stable: problems on one line keep the order they were found in.
        problems.sort_by_key(|p| (p.file == "environment", p.line.unwrap_or(0)));
        ConfigErrors(problems)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// One line, for a log line or the page's `errors`: the problem, or the first few and a count.
impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let [only] = self.0.as_slice() {
            return write!(f, "{only}");
        }
        write!(f, "{} problems: ", self.0.len())?;
        for (i, e) in self.0.iter().take(SHOWN_IN_ONE_LINE).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        if self.0.len() > SHOWN_IN_ONE_LINE {
            write!(
                f,
                "; and {} more (`cortex-status check` lists them all)",
                self.0.len() - SHOWN_IN_ONE_LINE
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The environment as the config sees it; a map so tests need not touch the process's.
pub type Env = HashMap<String, String>;

/// The process environment plus the secret variables handed over at start (they are no
/// longer in the real one, see `secret_env`). A variable that is not UTF-8 is left out rather
/// than panicking (`std::env::vars` would).
pub fn process_env() -> Env {
    let mut env: Env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    env.extend(crate::secret_env::handed_over().iter().cloned());
    env
}

/// The keys each table knows; anything else is a typo to report.
const TOP_KEYS: &[&str] = &[
    "title",
    "public_url",
    "out_dir",
    "state_dir",
    "templates_dir",
    "interval",
    "on_publish",
    "on_publish_timeout",
    "host",
    "service",
    "maintenance",
    "tasks",
    "api",
];
const HOST_KEYS: &[&str] = &["disks", "public"];
const SERVICE_KEYS: &[&str] = &[
    "name",
    "kind",
    "url",
    "address",
    "unit",
    "timeout",
    "degraded_after",
    "expect_status",
];
const MAINTENANCE_KEYS: &[&str] = &["services", "start", "end", "message"];
const TASKS_KEYS: &[&str] = &[
    "symbiont_url",
    "submit_path",
    "progress_path",
    "timeout",
    "terminal_statuses",
];
const API_KEYS: &[&str] = &[
    "listen",
    "serve_public",
    "allowed_origins",
    "trusted_proxies",
];

/// The bounds of each duration key. The upper ones keep every sum and product the daemon makes
/// with them far from overflow, and catch a slip of the unit ("5d" for "5s"); the lower ones
/// keep the loop from spending its time publishing and a probe from timing out at once.
const INTERVAL: Bounds = Bounds::new(Duration::from_secs(5), MIN_INTERVAL, DAY);
const SERVICE_TIMEOUT: Bounds = Bounds::new(Duration::from_secs(5), MILLI, HOUR);
const ON_PUBLISH_TIMEOUT: Bounds = Bounds::new(Duration::from_secs(60), MILLI, DAY);
const TASKS_TIMEOUT: Bounds = Bounds::new(Duration::from_secs(10), MILLI, HOUR);
const MILLI: Duration = Duration::from_millis(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// A duration key's default and its shortest and longest values.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    default: Duration,
    min: Duration,
    max: Duration,
}

impl Bounds {
    const fn new(default: Duration, min: Duration, max: Duration) -> Bounds {
        Bounds { default, min, max }
    }
}

impl Config {
    /// Finds and loads the configuration: `path` if given (it must exist), else
    /// `cortex-status.toml` in the working directory if present, else the embedded default.
    pub fn load(path: Option<&Path>, env: &Env) -> Result<Config, ConfigErrors> {
        let path = match path {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
        };
        match path {
            None => Config::resolve(&DeTable::new(), None, "", env),
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError::new(
                        &path.display().to_string(),
                        None,
                        "",
                        format!("cannot read the config file: {e}"),
                    )
                })?;
                Config::parse(&text, &path, env)
            }
        }
    }

    /// The embedded default: every key at its default, no services, no environment.
    pub fn embedded() -> Config {
        Config::resolve(&DeTable::new(), None, "", &Env::new())
            .expect("the embedded default is valid")
    }

    /// Parses config text as if read from `path` (used for messages and relative paths), and
    /// reports every problem in it, not only the first.
    pub fn parse(text: &str, path: &Path, env: &Env) -> Result<Config, ConfigErrors> {
        let file = path.display().to_string();
        let (root, syntax) = DeTable::parse_recoverable(text);
        if !syntax.is_empty() {
            // What follows a syntax error is guessed at by the parser; checking its keys would
            // report problems that are not there. Every syntax error is reported, though.
            let problems = syntax
                .iter()
                .map(|e| {
                    let line = e.span().map(|s| read::line_at(text, s.start));
                    ConfigError::new(&file, line, "", format!("invalid TOML: {}", e.message()))
                })
                .collect();
            return Err(ConfigErrors::new(problems));
        }
        Config::resolve(root.get_ref(), Some(path), text, env)
    }

    fn resolve(
        root: &DeTable<'_>,
        path: Option<&Path>,
        text: &str,
        env: &Env,
    ) -> Result<Config, ConfigErrors> {
        let file = path.map_or("(embedded default)".to_string(), |p| {
            p.display().to_string()
        });
        let mut r = Reader::new(text, file, env);
        // Relative paths are relative to the config file, so a unit file or cron job works from
        // any working directory; with no file, relative to the working directory.
        let base = path
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let at_base = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };

        r.unknown_keys(root, "", TOP_KEYS);
        let title = r.get::<String>(root, "", "title").map(|(t, _)| t);
        let public_url = r.get::<HttpUrl>(root, "", "public_url").map(|(u, _)| u.0);
        let out_dir = r.get::<PathBuf>(root, "", "out_dir").map(|(p, _)| p);
        let state_dir = r.get::<PathBuf>(root, "", "state_dir").map(|(p, _)| p);
        let interval = duration(&mut r, root, "", "interval", INTERVAL);
        let on_publish = r.get::<String>(root, "", "on_publish").map(|(c, _)| c);
        let on_publish_timeout =
            duration(&mut r, root, "", "on_publish_timeout", ON_PUBLISH_TIMEOUT);

        let templates_dir = match r.get::<PathBuf>(root, "", "templates_dir") {
            Some((dir, span)) => {
                let dir = at_base(dir);
                if !dir.is_dir() {
                    r.problem(
                        Some(&span),
                        "templates_dir",
                        format!("{} is not a directory", dir.display()),
                    );
                }
                Some(dir)
            }
            // The default `templates` is used only when it exists.
            None => Some(at_base("templates".into())).filter(|d| d.is_dir()),
        };

        let host = resolve_host(&mut r, root);
        let (services, slugs) = resolve_services(&mut r, root);
        let maintenance = resolve_maintenance(&mut r, root, &slugs);
        let tasks = resolve_tasks(&mut r, root);
        let api = resolve_api(&mut r, root);

        let (mut problems, interpolated) = r.finish();
        let mut config = Config {
            file: path.map(Path::to_path_buf),
            title: title.unwrap_or_else(|| "Cortex Status".into()),
            public_url,
            out_dir: at_base(out_dir.unwrap_or_else(|| "public".into())),
            state_dir: at_base(state_dir.unwrap_or_else(|| "state".into())),
            templates_dir,
            interval,
            on_publish: on_publish.filter(|c| !c.trim().is_empty()),
            on_publish_timeout,
            host,
            services,
            maintenance,
            tasks,
            api,
            secrets: Secrets::default(),
        };
        config.secrets.interpolated = interpolated;
        config.apply_env(env, &mut problems);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors::new(problems))
        }
    }

    /// The environment overrides the file: `PORT`, `SYMBIONT_URL`, `STATUS_PUBLIC_URL`, and the
    /// two secrets, which live nowhere else. A message never quotes an environment value: a
    /// secret set in the wrong variable would be printed (and published) with it.
    fn apply_env(&mut self, env: &Env, problems: &mut Vec<ConfigError>) {
        let mut err = |key: &str, message: String| {
            problems.push(ConfigError::new("environment", None, key, message))
        };
        if env.get("PORT").is_some_and(|v| !v.is_empty()) {
            match env["PORT"].parse::<u16>() {
                Ok(port) => self.api.listen.set_port(port),
                Err(_) => err(
                    "PORT",
                    "expected a port number from 0 to 65535 (the value is not shown)".into(),
                ),
            }
        }
        for (name, target) in [
            ("SYMBIONT_URL", &mut self.tasks.symbiont_url),
            ("STATUS_PUBLIC_URL", &mut self.public_url),
        ] {
            let Some(text) = env.get(name).filter(|v| !v.is_empty()) else {
                continue;
            };
            match url::Url::parse(text) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                    *target = Some(u);
                }
                Ok(_) => err(
                    name,
                    "expected an absolute http:// or https:// URL (the value is not shown)".into(),
                ),
                Err(e) => err(
                    name,
                    format!(
                        "expected an absolute http:// or https:// URL: {e} (the value is not shown)"
                    ),
                ),
            }
        }
        let mut secret = |name: &str| {
            Secret::from_env(env, name).unwrap_or_else(|m| {
                err(name, m);
                None
            })
        };
        self.secrets = Secrets {
            task_password: secret("STATUS_TASK_PASSWORD"),
            symbiont_token: secret("SYMBIONT_TOKEN"),
            interpolated: std::mem::take(&mut self.secrets.interpolated),
        };
    }

    /// Where this config came from, for messages.
    pub fn source(&self) -> String {
        self.file
            .as_ref()
            .map_or("(embedded default)".into(), |p| p.display().to_string())
    }
}

/// A duration key: its value within `bounds`, or the default when absent or refused (then
/// recorded with the key's line).
fn duration(
    r: &mut Reader,
    table: &DeTable<'_>,
    prefix: &str,
    name: &str,
    bounds: Bounds,
) -> Duration {
    let Some((Dur(d), span)) = r.get::<Dur>(table, prefix, name) else {
        return bounds.default;
    };
    let show = |d: Duration| humantime::format_duration(d).to_string();
    if d < bounds.min {
        r.problem(
            Some(&span),
            &read::path(prefix, name),
            format!(
                "{} is too short; the shortest is {}",
                show(d),
                show(bounds.min)
            ),
        );
        bounds.default
    } else if d > bounds.max {
        r.problem(
            Some(&span),
            &read::path(prefix, name),
            format!(
                "{} is too long; the longest is {}",
                show(d),
                show(bounds.max)
            ),
        );
        bounds.default
    } else {
        d
    }
}

fn resolve_host(r: &mut Reader, root: &DeTable<'_>) -> HostConfig {
    let mut disks = None;
    let mut public = None;
    if let Some((t, _)) = r.table(root, "host") {
        r.unknown_keys(t, "host", HOST_KEYS);
        if let Some((list, span)) = r.get::<Vec<String>>(t, "host", "disks") {
            if let Some(bad) = list.iter().find(|d| !d.starts_with('/')) {
                r.problem(
                    Some(&span),
                    "host.disks",
                    format!(
                        "{} is not a mount point; write it as an absolute path like \"/data\"",
                        raw::shown(bad)
                    ),
                );
            }
            disks = Some(list);
        }
        public = r
            .get::<Vec<HostFigure>>(t, "host", "public")
            .map(|(p, _)| p);
    }
    let public =
        public.unwrap_or_else(|| vec![HostFigure::Load, HostFigure::Memory, HostFigure::Disks]);
    HostConfig {
        disks,
        public: HostPublic {
            load: public.contains(&HostFigure::Load),
            memory: public.contains(&HostFigure::Memory),
            disks: public.contains(&HostFigure::Disks),
        },
    }
}

/// The services that are good, and the slug of every service that has a usable name (so a
/// maintenance window naming a service with another problem is not reported as well).
fn resolve_services(r: &mut Reader, root: &DeTable<'_>) -> (Vec<ServiceConfig>, HashSet<String>) {
    let mut services = Vec::new();
    let mut slugs = HashSet::new();
    for (i, (table, span)) in r.tables(root, "service").into_iter().enumerate() {
        let prefix = format!("service[{i}]");
        let before = r.count();
        let svc = resolve_service(r, table, &span, &prefix);
        let Some((name, name_span, slug)) = svc.name else {
            continue;
        };
        if !slugs.insert(slug.clone()) {
            r.problem(
                Some(&name_span),
                &format!("{prefix}.name"),
                format!(
                    "{} gives the slug {slug:?}, which another service already has; names must differ in more than case and punctuation",
                    raw::shown(&name)
                ),
            );
            continue;
        }
        if let Some(check) = svc.check
            && r.count() == before
        {
            services.push(ServiceConfig {
                name,
                slug,
                timeout: svc.timeout,
                degraded_after: svc.degraded_after,
                check,
            });
        }
    }
    (services, slugs)
}

/// One `[[service]]` as far as it could be read: the parts that are good.
struct ServiceParts {
    /// The name, its span and its slug, when the name is usable.
    name: Option<(String, read::Span, String)>,
    check: Option<Check>,
    timeout: Duration,
    degraded_after: Option<Duration>,
}

/// Checks one `[[service]]` table, recording each problem under `service[i]`.
fn resolve_service(
    r: &mut Reader,
    t: &DeTable<'_>,
    table_span: &read::Span,
    prefix: &str,
) -> ServiceParts {
    let key = |k: &str| read::path(prefix, k);
    r.unknown_keys(t, prefix, SERVICE_KEYS);
    let name = match r.get::<String>(t, prefix, "name") {
        None if !t.iter().any(|(k, _)| k.get_ref() == "name") => {
            r.problem(
                Some(table_span),
                &key("name"),
                "every service needs a name, like name = \"Postgres\"",
            );
            None
        }
        None => None,
        Some((name, span)) => {
            let slug = slugify(&name);
            if slug.is_empty() {
                r.problem(
                    Some(&span),
                    &key("name"),
                    format!("{} needs at least one letter or digit", raw::shown(&name)),
                );
                None
            } else {
                Some((name, span, slug))
            }
        }
    };
    let kind = match r.get::<Kind>(t, prefix, "kind") {
        None if !t.iter().any(|(k, _)| k.get_ref() == "kind") => {
            r.problem(
                Some(table_span),
                &key("kind"),
                "every service needs a kind: \"http\", \"tcp\", \"systemd\" or \"feed\"",
            );
            None
        }
        other => other.map(|(k, _)| k),
    };
    let url = r.get::<HttpUrl>(t, prefix, "url");
    let address = r.get::<String>(t, prefix, "address");
    let unit = r.get::<String>(t, prefix, "unit");
    let expect_status = r.get::<raw::ExpectStatus>(t, prefix, "expect_status");
    let timeout = duration(r, t, prefix, "timeout", SERVICE_TIMEOUT);
    let degraded_after = r
        .get::<Dur>(t, prefix, "degraded_after")
        .and_then(|(d, span)| {
            if d.0 >= timeout {
                r.problem(
                    Some(&span),
                    &key("degraded_after"),
                    format!(
                        "{} is not shorter than timeout {}; a check that slow times out instead",
                        humantime::format_duration(d.0),
                        humantime::format_duration(timeout)
                    ),
                );
                None
            } else {
                Some(d.0)
            }
        });
    // A timeout longer than the interval is allowed: the probe keeps running across cycles
    // (see `probe`), and the page shows its last result until it ends.
    let parts = |check| ServiceParts {
        name: name.clone(),
        check,
        timeout,
        degraded_after,
    };
    let Some(kind) = kind else {
        return parts(None);
    };
    let kind_word = match kind {
        Kind::Http => "http",
        Kind::Tcp => "tcp",
        Kind::Systemd => "systemd",
        Kind::Feed => "feed",
    };
    // A key that the kind does not use is a mistake worth reporting, not ignoring.
    let stray = [
        ("url", matches!(kind, Kind::Http | Kind::Feed)),
        ("address", kind == Kind::Tcp),
        ("unit", kind == Kind::Systemd),
        ("expect_status", kind == Kind::Http),
    ];
    for (name, allowed) in stray {
        if !allowed && let Some((k, _)) = t.iter().find(|(k, _)| k.get_ref() == name) {
            r.problem(
                Some(&k.span()),
                &key(name),
                format!("is not used by kind = \"{kind_word}\""),
            );
        }
    }
    let given = |name: &str| t.iter().any(|(k, _)| k.get_ref() == name);
    let missing = |r: &mut Reader, name: &str, example: &str| {
        // A key that is there but refused was reported already.
        if !given(name) {
            r.problem(
                Some(table_span),
                &key(name),
                format!("kind = \"{kind_word}\" needs {name}, like {name} = {example}"),
            );
        }
    };
    let check = match kind {
        Kind::Http => {
            let codes = match expect_status {
                None => Vec::new(),
                Some((raw::ExpectStatus::One(c), _)) => vec![c],
                Some((raw::ExpectStatus::Many(cs), _)) => cs,
            };
            if let Some(bad) = codes.iter().find(|c| !(100..=599).contains(*c)) {
                let span = t
                    .iter()
                    .find(|(k, _)| k.get_ref() == "expect_status")
                    .map(|(_, v)| v.span());
                r.problem(
                    span.as_ref(),
                    &key("expect_status"),
                    format!("{bad} is not an HTTP status code (100 to 599)"),
                );
            }
            if url.is_none() {
                missing(r, "url", "\"http://127.0.0.1:8111/status\"");
            }
            url.map(|(u, _)| Check::Http {
                url: u.0,
                expect_status: codes,
            })
        }
        Kind::Feed => {
            if url.is_none() {
                missing(r, "url", "\"https://edge-2.example.net/status.json\"");
            }
            url.map(|(u, _)| Check::Feed { url: u.0 })
        }
        Kind::Tcp => match address {
            None => {
                missing(r, "address", "\"127.0.0.1:5432\"");
                None
            }
            Some((address, span)) => {
                let port_ok = address
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
                if port_ok {
                    Some(Check::Tcp { address })
                } else {
                    r.problem(
                        Some(&span),
                        &key("address"),
                        format!(
                            "expected host:port like \"127.0.0.1:5432\", found {}",
                            raw::shown_url(&address)
                        ),
                    );
                    None
                }
            }
        },
        Kind::Systemd => match unit {
            None => {
                missing(r, "unit", "\"caddy.service\"");
                None
            }
            Some((unit, span)) => {
                // The unit goes to systemctl as one argument; refuse anything that could be
                // read as an option or that no unit name contains.
                let ok = !unit.is_empty()
                    && !unit.starts_with('-')
                    && unit
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c));
                if ok {
                    Some(Check::Systemd { unit })
                } else {
                    r.problem(
                        Some(&span),
                        &key("unit"),
                        format!("{} is not a systemd unit name", raw::shown(&unit)),
                    );
                    None
                }
            }
        },
    };
    parts(check)
}

fn resolve_maintenance(
    r: &mut Reader,
    root: &DeTable<'_>,
    slugs: &HashSet<String>,
) -> Vec<Maintenance> {
    let mut out = Vec::new();
    for (i, (t, span)) in r.tables(root, "maintenance").into_iter().enumerate() {
        let prefix = format!("maintenance[{i}]");
        let before = r.count();
        r.unknown_keys(t, &prefix, MAINTENANCE_KEYS);
        let services = r.get::<Vec<String>>(t, &prefix, "services");
        let start = r.get::<Time>(t, &prefix, "start");
        let end = r.get::<Time>(t, &prefix, "end");
        let message = r.get::<String>(t, &prefix, "message").map(|(m, _)| m);
        for (name, got) in [
            ("services", services.is_some()),
            ("start", start.is_some()),
            ("end", end.is_some()),
        ] {
            if !got && !t.iter().any(|(k, _)| k.get_ref() == name) {
                r.problem(
                    Some(&span),
                    &read::path(&prefix, name),
                    format!("a maintenance window needs {name}"),
                );
            }
        }
        if let (Some((start, _)), Some((end, end_span))) = (&start, &end)
            && end.0 <= start.0
        {
            r.problem(
                Some(end_span),
                &read::path(&prefix, "end"),
                "must be after start",
            );
        }
        let mut named = Vec::new();
        if let Some((list, list_span)) = &services {
            for s in list {
                let slug = slugify(s);
                if slugs.contains(&slug) {
                    named.push(slug);
                } else {
                    r.problem(
                        Some(list_span),
                        &read::path(&prefix, "services"),
                        format!("{} is not a configured service", raw::shown(s)),
                    );
                }
            }
        }
        if let (Some((start, _)), Some((end, _))) = (start, end)
            && r.count() == before
        {
            out.push(Maintenance {
                services: named,
                start: start.0,
                end: end.0,
                message,
            });
        }
    }
    out
}

fn resolve_tasks(r: &mut Reader, root: &DeTable<'_>) -> TasksConfig {
    let mut tasks = TasksConfig {
        symbiont_url: None,
        submit_path: "/task".into(),
        progress_path: "/task/{id}".into(),
        timeout: TASKS_TIMEOUT.default,
        terminal_statuses: vec!["completed".into(), "failed".into()],
    };
    let Some((t, _)) = r.table(root, "tasks") else {
        return tasks;
    };
    r.unknown_keys(t, "tasks", TASKS_KEYS);
    tasks.symbiont_url = r
        .get::<HttpUrl>(t, "tasks", "symbiont_url")
        .map(|(u, _)| u.0);
    tasks.timeout = duration(r, t, "tasks", "timeout", TASKS_TIMEOUT);
    if let Some((list, _)) = r.get::<Vec<String>>(t, "tasks", "terminal_statuses") {
        tasks.terminal_statuses = list;
    }
    for (name, target) in [
        ("submit_path", &mut tasks.submit_path),
        ("progress_path", &mut tasks.progress_path),
    ] {
        let Some((path, span)) = r.get::<String>(t, "tasks", name) else {
            continue;
        };
        if !path.starts_with('/') {
            r.problem(
                Some(&span),
                &read::path("tasks", name),
                format!("{} must start with /", raw::shown(&path)),
            );
        } else if name == "progress_path" && !path.contains("{id}") {
            r.problem(
                Some(&span),
                "tasks.progress_path",
                format!(
                    "{} must contain {{id}} where the task id goes",
                    raw::shown(&path)
                ),
            );
        } else {
            *target = path;
        }
    }
    tasks
}

fn resolve_api(r: &mut Reader, root: &DeTable<'_>) -> ApiConfig {
    let mut api = ApiConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
        serve_public: true,
        allowed_origins: Vec::new(),
        trusted_proxies: vec![
            std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::Ipv6Addr::LOCALHOST.into(),
        ],
    };
    let Some((t, _)) = r.table(root, "api") else {
        return api;
    };
    r.unknown_keys(t, "api", API_KEYS);
    if let Some((text, span)) = r.get::<String>(t, "api", "listen") {
        match text.parse() {
            Ok(addr) => api.listen = addr,
            Err(_) => r.problem(
                Some(&span),
                "api.listen",
                format!(
                    "expected an address and port like \"127.0.0.1:4000\", found {}",
                    raw::shown_url(&text)
                ),
            ),
        }
    }
    if let Some((b, _)) = r.get::<bool>(t, "api", "serve_public") {
        api.serve_public = b;
    }
    if let Some((list, _)) = r.get::<Vec<HttpUrl>>(t, "api", "allowed_origins") {
        api.allowed_origins = list.into_iter().map(|u| u.0).collect();
    }
    if let Some((list, span)) = r.get::<Vec<String>>(t, "api", "trusted_proxies") {
        let mut proxies = Vec::new();
        for p in list {
            match p.parse() {
                Ok(ip) => proxies.push(ip),
                Err(_) => r.problem(
                    Some(&span),
                    "api.trusted_proxies",
                    format!(
                        "expected an IP address like \"127.0.0.1\", found {}",
                        raw::shown_url(&p)
                    ),
                ),
            }
        }
        api.trusted_proxies = proxies;
    }
    api
}

/// A service's stable identifier in URLs, badges and the feed: lowercase letters and digits,
/// runs of anything else as one `-`. "Symbiont API" → "symbiont-api".
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

#[cfg(test)]
mod tests;
