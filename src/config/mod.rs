//! The validated configuration, and the one place where user input becomes it.
//!
//! Precedence, lowest first: built-in defaults < the TOML file < the environment < flags. What
//! the user wrote is parsed by `raw`; `resolve` turns it into [`Config`] with real types, so
//! nothing downstream re-parses a string. Every error names the file (or the environment
//! variable), the line where one is known, the key and the value.

mod raw;
mod secret;

pub use raw::{HostFigure, parse_duration};
pub use secret::Secret;

use crate::snapshot::Kind;
use raw::{RawConfig, RawService};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
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
}

/// A configuration problem, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {}{}", .file, .line.map(|l| format!(":{l}")).unwrap_or_default(), if .key.is_empty() { String::new() } else { format!("{}: ", .key) }, .message)]
pub struct ConfigError {
    /// The file, or `environment` for an environment variable.
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

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

impl Config {
    /// Finds and loads the configuration: `path` if given (it must exist), else
    /// `cortex-status.toml` in the working directory if present, else the embedded default.
    pub fn load(path: Option<&Path>, env: &Env) -> Result<Config, ConfigError> {
        let path = match path {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
        };
        match path {
            None => Config::resolve(RawConfig::default(), None, "", env),
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
                    file: path.display().to_string(),
                    line: None,
                    key: String::new(),
                    message: format!("cannot read the config file: {e}"),
                })?;
                Config::parse(&text, &path, env)
            }
        }
    }

    /// The embedded default: every key at its default, no services, no environment.
    pub fn embedded() -> Config {
        Config::resolve(RawConfig::default(), None, "", &Env::new())
            .expect("the embedded default is valid")
    }

    /// Parses config text as if read from `path` (used for messages and relative paths).
    pub fn parse(text: &str, path: &Path, env: &Env) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let line_of = |offset: usize| line_at(text, offset);
        let de = toml::Deserializer::parse(text).map_err(|e| ConfigError {
            file: file.clone(),
            line: e.span().map(|s| line_of(s.start)),
            key: String::new(),
            message: format!("invalid TOML: {}", e.message()),
        })?;
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            // `toml::Spanned` (used to find a table's line) shows up in the path as a private
            // field name; the user never wrote it.
            let key = e
                .path()
                .to_string()
                .replace(".$__serde_spanned_private_value", "");
            let inner = e.into_inner();
            ConfigError {
                file: file.clone(),
                line: inner.span().map(|s| line_of(s.start)),
                key: if key == "." { String::new() } else { key },
                message: inner.message().to_string(),
            }
        })?;
        Config::resolve(raw, Some(path), text, env)
    }

    fn resolve(
        raw: RawConfig,
        path: Option<&Path>,
        text: &str,
        env: &Env,
    ) -> Result<Config, ConfigError> {
        let file = path.map_or("(embedded default)".to_string(), |p| {
            p.display().to_string()
        });
        let line_of = |offset: usize| line_at(text, offset);
        let err = |line: Option<usize>, key: String, message: String| ConfigError {
            file: file.clone(),
            line,
            key,
            message,
        };
        // Relative paths are relative to the config file, so a unit file or cron job works from
        // any working directory; with no file, relative to the working directory.
        let base = path
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let at_base = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };

        let interval = raw.interval.map_or(Duration::from_secs(5), |d| d.0);
        if interval < MIN_INTERVAL {
            return Err(err(
                None,
                "interval".into(),
                format!("{interval:?} is too short; the shortest is {MIN_INTERVAL:?}"),
            ));
        }

        let on_publish_timeout = raw
            .on_publish_timeout
            .map_or(Duration::from_secs(60), |d| d.0);
        if on_publish_timeout.is_zero() {
            return Err(err(
                None,
                "on_publish_timeout".into(),
                "must be longer than 0s".into(),
            ));
        }

        let explicit_templates = raw.templates_dir.is_some();
        let templates_dir = at_base(raw.templates_dir.unwrap_or_else(|| "templates".into()));
        let templates_dir = if templates_dir.is_dir() {
            Some(templates_dir)
        } else if explicit_templates {
            return Err(err(
                None,
                "templates_dir".into(),
                format!("{} is not a directory", templates_dir.display()),
            ));
        } else {
            None
        };

        let raw_host = raw.host.unwrap_or_default();
        if let Some(bad) = raw_host
            .disks
            .iter()
            .flatten()
            .find(|d| !d.starts_with('/'))
        {
            return Err(err(
                None,
                "host.disks".into(),
                format!(
                    "{bad:?} is not a mount point; write it as an absolute path like \"/data\""
                ),
            ));
        }
        let public = raw_host
            .public
            .unwrap_or_else(|| vec![HostFigure::Load, HostFigure::Memory, HostFigure::Disks]);
        let host = HostConfig {
            disks: raw_host.disks,
            public: HostPublic {
                load: public.contains(&HostFigure::Load),
                memory: public.contains(&HostFigure::Memory),
                disks: public.contains(&HostFigure::Disks),
            },
        };

        let mut services = Vec::with_capacity(raw.service.len());
        let mut slugs = HashSet::new();
        for (i, spanned) in raw.service.into_iter().enumerate() {
            let line = Some(line_of(spanned.span().start));
            let svc = resolve_service(spanned.into_inner())
                .map_err(|(key, msg)| err(line, format!("service[{i}]{key}"), msg))?;
            if !slugs.insert(svc.slug.clone()) {
                return Err(err(
                    line,
                    format!("service[{i}].name"),
                    format!(
                        "{:?} gives the slug {:?}, which another service already has; names must differ in more than case and punctuation",
                        svc.name, svc.slug
                    ),
                ));
            }
            services.push(svc);
        }

        let mut maintenance = Vec::new();
        for (i, spanned) in raw.maintenance.into_iter().enumerate() {
            let line = Some(line_of(spanned.span().start));
            let m = spanned.into_inner();
            if m.end.0 <= m.start.0 {
                return Err(err(
                    line,
                    format!("maintenance[{i}].end"),
                    "must be after start".into(),
                ));
            }
            let mut named = Vec::new();
            for s in &m.services {
                let slug = slugify(s);
                if !slugs.contains(&slug) {
                    return Err(err(
                        line,
                        format!("maintenance[{i}].services"),
                        format!("{s:?} is not a configured service"),
                    ));
                }
                named.push(slug);
            }
            maintenance.push(Maintenance {
                services: named,
                start: m.start.0,
                end: m.end.0,
                message: m.message,
            });
        }

        let raw_tasks = raw.tasks.unwrap_or_default();
        let tasks = TasksConfig {
            symbiont_url: raw_tasks.symbiont_url.map(|u| u.0),
            submit_path: raw_tasks.submit_path.unwrap_or_else(|| "/task".into()),
            progress_path: raw_tasks
                .progress_path
                .unwrap_or_else(|| "/task/{id}".into()),
            timeout: raw_tasks.timeout.map_or(Duration::from_secs(10), |d| d.0),
            terminal_statuses: raw_tasks
                .terminal_statuses
                .unwrap_or_else(|| vec!["completed".into(), "failed".into()]),
        };
        for (key, path) in [
            ("submit_path", &tasks.submit_path),
            ("progress_path", &tasks.progress_path),
        ] {
            if !path.starts_with('/') {
                return Err(err(
                    None,
                    format!("tasks.{key}"),
                    format!("{path:?} must start with /"),
                ));
            }
        }
        if !tasks.progress_path.contains("{id}") {
            return Err(err(
                None,
                "tasks.progress_path".into(),
                format!(
                    "{:?} must contain {{id}} where the task id goes",
                    tasks.progress_path
                ),
            ));
        }

        let raw_api = raw.api.unwrap_or_default();
        let listen_text = raw_api.listen.unwrap_or_else(|| "127.0.0.1:4000".into());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            err(
                None,
                "api.listen".into(),
                format!(
                    "expected an address and port like \"127.0.0.1:4000\", found {listen_text:?}"
                ),
            )
        })?;
        let mut trusted_proxies = Vec::new();
        for p in raw_api
            .trusted_proxies
            .unwrap_or_else(|| vec!["127.0.0.1".into(), "::1".into()])
        {
            trusted_proxies.push(p.parse().map_err(|_| {
                err(
                    None,
                    "api.trusted_proxies".into(),
                    format!("expected an IP address like \"127.0.0.1\", found {p:?}"),
                )
            })?);
        }
        let api = ApiConfig {
            trusted_proxies,
            listen,
            serve_public: raw_api.serve_public.unwrap_or(true),
            allowed_origins: raw_api
                .allowed_origins
                .unwrap_or_default()
                .into_iter()
                .map(|u| u.0)
                .collect(),
        };

        let mut config = Config {
            file: path.map(Path::to_path_buf),
            title: raw.title.unwrap_or_else(|| "Cortex Status".into()),
            public_url: raw.public_url.map(|u| u.0),
            out_dir: at_base(raw.out_dir.unwrap_or_else(|| "public".into())),
            state_dir: at_base(raw.state_dir.unwrap_or_else(|| "state".into())),
            templates_dir,
            interval,
            on_publish: raw.on_publish.filter(|c| !c.trim().is_empty()),
            on_publish_timeout,
            host,
            services,
            maintenance,
            tasks,
            api,
            secrets: Secrets::default(),
        };
        config.apply_env(env)?;
        Ok(config)
    }

    /// The environment overrides the file: `PORT`, `SYMBIONT_URL`, `STATUS_PUBLIC_URL`, and the
    /// two secrets, which live nowhere else.
    fn apply_env(&mut self, env: &Env) -> Result<(), ConfigError> {
        let err = |key: &str, message: String| ConfigError {
            file: "environment".into(),
            line: None,
            key: key.into(),
            message,
        };
        if let Some(port) = env.get("PORT").filter(|v| !v.is_empty()) {
            let port: u16 = port
                .parse()
                .map_err(|_| err("PORT", format!("expected a port number, found {port:?}")))?;
            self.api.listen.set_port(port);
        }
        if let Some(url) = env.get("SYMBIONT_URL").filter(|v| !v.is_empty()) {
            self.tasks.symbiont_url =
                Some(raw::parse_http_url(url).map_err(|m| err("SYMBIONT_URL", m))?);
        }
        if let Some(url) = env.get("STATUS_PUBLIC_URL").filter(|v| !v.is_empty()) {
            self.public_url =
                Some(raw::parse_http_url(url).map_err(|m| err("STATUS_PUBLIC_URL", m))?);
        }
        self.secrets = Secrets {
            task_password: Secret::from_env(env, "STATUS_TASK_PASSWORD")
                .map_err(|m| err("STATUS_TASK_PASSWORD", m))?,
            symbiont_token: Secret::from_env(env, "SYMBIONT_TOKEN")
                .map_err(|m| err("SYMBIONT_TOKEN", m))?,
        };
        Ok(())
    }

    /// Where this config came from, for messages.
    pub fn source(&self) -> String {
        self.file
            .as_ref()
            .map_or("(embedded default)".into(), |p| p.display().to_string())
    }
}

/// The 1-based line of a byte offset in the config text.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Checks one `[[service]]` table. Errors are `(key suffix, message)`; the caller adds
/// `service[i]`, the file and the line.
fn resolve_service(raw: RawService) -> Result<ServiceConfig, (String, String)> {
    let slug = slugify(&raw.name);
    if slug.is_empty() {
        return Err((
            ".name".into(),
            format!("{:?} needs at least one letter or digit", raw.name),
        ));
    }
    let kind_word = match raw.kind {
        Kind::Http => "http",
        Kind::Tcp => "tcp",
        Kind::Systemd => "systemd",
        Kind::Feed => "feed",
    };
    // A key that the kind does not use is a mistake worth reporting, not ignoring.
    let stray = [
        (
            "url",
            raw.url.is_some(),
            matches!(raw.kind, Kind::Http | Kind::Feed),
        ),
        ("address", raw.address.is_some(), raw.kind == Kind::Tcp),
        ("unit", raw.unit.is_some(), raw.kind == Kind::Systemd),
        (
            "expect_status",
            raw.expect_status.is_some(),
            raw.kind == Kind::Http,
        ),
    ];
    for (key, given, allowed) in stray {
        if given && !allowed {
            return Err((
                format!(".{key}"),
                format!("is not used by kind = \"{kind_word}\""),
            ));
        }
    }
    let missing = |key: &str, example: &str| {
        (
            format!(".{key}"),
            format!("kind = \"{kind_word}\" needs {key}, like {key} = {example}"),
        )
    };
    let check = match raw.kind {
        Kind::Http => {
            let url = raw
                .url
                .ok_or_else(|| missing("url", "\"http://127.0.0.1:8111/status\""))?;
            let expect_status = match raw.expect_status {
                None => Vec::new(),
                Some(raw::ExpectStatus::One(c)) => vec![c],
                Some(raw::ExpectStatus::Many(cs)) => cs,
            };
            if let Some(bad) = expect_status.iter().find(|c| !(100..=599).contains(*c)) {
                return Err((
                    ".expect_status".into(),
                    format!("{bad} is not an HTTP status code (100 to 599)"),
                ));
            }
            Check::Http {
                url: url.0,
                expect_status,
            }
        }
        Kind::Feed => Check::Feed {
            url: raw
                .url
                .ok_or_else(|| missing("url", "\"https://edge-2.example.net/status.json\""))?
                .0,
        },
        Kind::Tcp => {
            let address = raw
                .address
                .ok_or_else(|| missing("address", "\"127.0.0.1:5432\""))?;
            let port_ok = address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                return Err((
                    ".address".into(),
                    format!("expected host:port like \"127.0.0.1:5432\", found {address:?}"),
                ));
            }
            Check::Tcp { address }
        }
        Kind::Systemd => {
            let unit = raw
                .unit
                .ok_or_else(|| missing("unit", "\"caddy.service\""))?;
            // The unit goes to systemctl as one argument; refuse anything that could be read
            // as an option or that no unit name contains.
            let ok = !unit.is_empty()
                && !unit.starts_with('-')
                && unit
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c));
            if !ok {
                return Err((
                    ".unit".into(),
                    format!("{unit:?} is not a systemd unit name"),
                ));
            }
            Check::Systemd { unit }
        }
    };
    let timeout = raw.timeout.map_or(Duration::from_secs(5), |d| d.0);
    if timeout.is_zero() {
        return Err((".timeout".into(), "must be longer than 0s".into()));
    }
    let degraded_after = raw.degraded_after.map(|d| d.0);
    if let Some(d) = degraded_after
        && d >= timeout
    {
        return Err((
            ".degraded_after".into(),
            format!(
                "{} is not shorter than timeout {}; a check that slow times out instead",
                humantime::format_duration(d),
                humantime::format_duration(timeout)
            ),
        ));
    }
    // A timeout longer than the interval is allowed: the probe keeps running across cycles
    // (see `probe`), and the page shows its last result until it ends.
    Ok(ServiceConfig {
        name: raw.name,
        slug,
        timeout,
        degraded_after,
        check,
    })
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
