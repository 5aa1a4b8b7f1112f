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

mod alert;
mod raw;
mod read;
mod resolve;
mod secret;

pub use alert::{AlertConfig, Channel, SendOn, SmtpTls, glob};

pub use raw::{HostFigure, MAX_DURATION, parse_duration};
// The slug is the snapshot's field; config computes it for each service.
pub use crate::snapshot::slugify;
pub use secret::Secret;

use crate::snapshot::Kind;
use raw::{Dur, HttpUrl, Time};
use read::Reader;
use resolve::*;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::de::DeTable;
use url::Url;

/// The file looked for in the working directory when no `--config` is given.
pub const DEFAULT_FILE: &str = "cortex-status.toml";

/// Shortest cycle allowed: below this the loop would spend its time publishing.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

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
    /// Where incident files are read from (`incidents/` beside the config file by default);
    /// need not exist.
    pub incidents_dir: PathBuf,
    pub interval: Duration,
    /// A shell command run after each publish (see `hook`); `None` when empty or absent.
    pub on_publish: Option<String>,
    /// How long one `on_publish` run may take; then its process group is killed.
    pub on_publish_timeout: Duration,
    pub host: HostConfig,
    pub services: Vec<ServiceConfig>,
    pub maintenance: Vec<Maintenance>,
    /// `[[alert]]`: channels and their policies (see `alert`).
    pub alerts: Vec<AlertConfig>,
    pub tasks: TasksConfig,
    pub api: ApiConfig,
    pub secrets: Secrets,
}

#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Mount points to report; `None` reports every disk sysinfo lists.
    pub disks: Option<Vec<String>>,
    pub public: HostPublic,
    /// Past these ratios the host entry is `degraded` (see `sense::thresholds`).
    pub warn: Option<Thresholds>,
    /// Past these it is `down`.
    pub critical: Option<Thresholds>,
}

/// `[host] warn` / `critical`: ratios (disk and memory used, load per core); unset ones are
/// not judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub disk: Option<f64>,
    pub memory: Option<f64>,
    pub load_per_core: Option<f64>,
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
    /// The heading the page lists it under (`group = "Backend"`); `None` for no group.
    pub group: Option<String>,
}

impl ServiceConfig {
    pub fn kind(&self) -> Kind {
        match self.check {
            Check::Http { .. } => Kind::Http,
            Check::Tcp { .. } => Kind::Tcp,
            Check::Systemd { .. } => Kind::Systemd,
            Check::Feed { .. } => Kind::Feed,
            Check::Tls { .. } => Kind::Tls,
            Check::Dns { .. } => Kind::Dns,
            Check::Ping { .. } => Kind::Ping,
            Check::Heartbeat { .. } => Kind::Heartbeat,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Check {
    /// `expect_status` empty means any 2xx.
    Http {
        url: Url,
        expect_status: Vec<u16>,
        /// A substring the body must contain.
        expect_text: Option<String>,
        /// JSON Pointer → what must be there.
        expect_json: Vec<(String, JsonExpect)>,
        /// What a body that does not match makes the service: `down` or `degraded`.
        on_mismatch: crate::snapshot::Status,
        /// https: `degraded` when the certificate expires sooner than this.
        cert_warn: Duration,
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
    /// A TLS handshake with a service that is not HTTP.
    Tls {
        address: String,
        server_name: Option<String>,
        cert_warn: Duration,
    },
    Dns {
        query: String,
        record: DnsRecord,
        /// `None`: the host's resolvers.
        resolver: Option<SocketAddr>,
        expect: Vec<String>,
    },
    /// An ICMP echo through an unprivileged ICMP socket.
    Ping {
        host: String,
    },
    /// Up while a ping (over HTTP, or `path`'s modification time) came within period + grace.
    Heartbeat {
        period: Duration,
        grace: Duration,
        token: Option<Secret>,
        path: Option<PathBuf>,
    },
}

/// The record types a `dns` service can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum DnsRecord {
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
    #[serde(rename = "CNAME")]
    Cname,
    #[serde(rename = "MX")]
    Mx,
    #[serde(rename = "TXT")]
    Txt,
    #[serde(rename = "NS")]
    Ns,
}

impl DnsRecord {
    pub fn as_str(self) -> &'static str {
        match self {
            DnsRecord::A => "A",
            DnsRecord::Aaaa => "AAAA",
            DnsRecord::Cname => "CNAME",
            DnsRecord::Mx => "MX",
            DnsRecord::Txt => "TXT",
            DnsRecord::Ns => "NS",
        }
    }
}

/// What one JSON Pointer of `expect_json` must find.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonExpect {
    /// This very value (numbers compare as numbers).
    Equals(serde_json::Value),
    /// A number compared with a limit: `"< 100"`.
    Compare(Compare, f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Compare {
    pub fn as_str(self) -> &'static str {
        match self {
            Compare::Lt => "<",
            Compare::Le => "<=",
            Compare::Gt => ">",
            Compare::Ge => ">=",
            Compare::Eq => "==",
            Compare::Ne => "!=",
        }
    }

    /// `"< 100"` → (Lt, 100); `None` when the text is not an operator and a number.
    pub fn parse(text: &str) -> Option<(Compare, f64)> {
        let t = text.trim();
        let ops = [
            ("<=", Compare::Le),
            (">=", Compare::Ge),
            ("==", Compare::Eq),
            ("!=", Compare::Ne),
            ("<", Compare::Lt),
            (">", Compare::Gt),
        ];
        let (rest, op) = ops
            .iter()
            .find_map(|(w, op)| t.strip_prefix(w).map(|r| (r, *op)))?;
        let n: f64 = rest.trim().parse().ok()?;
        n.is_finite().then_some((op, n))
    }
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

        // Unlike templates_dir, need not exist: a first incident file creates it.
        let incidents_dir = r.get::<PathBuf>(root, "", "incidents_dir").map(|(p, _)| p);

        let host = resolve_host(&mut r, root);
        let (mut services, slugs) = resolve_services(&mut r, root);
        if (host.warn.is_some() || host.critical.is_some()) && slugs.contains("host") {
            r.problem(
                None,
                "service",
                "a service is named so that its slug is \"host\", which the host entry of [host] warn / critical uses; rename that service",
            );
        }
        // A heartbeat's file, like every path, is relative to the config file.
        for s in &mut services {
            if let Check::Heartbeat { path: Some(p), .. } = &mut s.check {
                *p = at_base(std::mem::take(p));
            }
        }
        let maintenance = resolve_maintenance(&mut r, root, &slugs);
        let alerts = alert::resolve_alerts(&mut r, root, &slugs);
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
            incidents_dir: at_base(incidents_dir.unwrap_or_else(|| "incidents".into())),
            interval,
            on_publish: on_publish.filter(|c| !c.trim().is_empty()),
            on_publish_timeout,
            host,
            services,
            maintenance,
            alerts,
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

#[cfg(test)]
mod tests;
