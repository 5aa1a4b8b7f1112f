//! The keys each table accepts, the bounds of each duration key, and reading each table of
//! the parsed file into its part of [`Config`](super::Config). Split from `mod.rs`, which keeps
//! the types and the entry points (`load`, `parse`): a key is added here (its name in the
//! table's list, then a `r.get` in the table's `resolve_*`), a type there.
//!
//! **Why one file of ~560 lines.** One reader per table, each a list of `r.get` calls; a
//! table's checks read top to bottom, and the shared `duration` and `Bounds` sit beside them.

use super::*;

/// The keys each table knows; anything else is a typo to report.
pub(super) const TOP_KEYS: &[&str] = &[
    "title",
    "public_url",
    "out_dir",
    "state_dir",
    "templates_dir",
    "incidents_dir",
    "interval",
    "on_publish",
    "on_publish_timeout",
    "host",
    "service",
    "maintenance",
    "alert",
    "tasks",
    "api",
];
pub(super) const HOST_KEYS: &[&str] = &["disks", "public", "warn", "critical"];
pub(super) const SERVICE_KEYS: &[&str] = &[
    "name",
    "kind",
    "url",
    "address",
    "unit",
    "timeout",
    "degraded_after",
    "expect_status",
    "group",
    "expect_text",
    "expect_json",
    "on_mismatch",
    "cert_warn",
    "server_name",
    "query",
    "record",
    "resolver",
    "expect",
    "host",
    "period",
    "grace",
    "token",
    "path",
];
pub(super) const MAINTENANCE_KEYS: &[&str] = &["services", "start", "end", "message"];
pub(super) const TASKS_KEYS: &[&str] = &[
    "symbiont_url",
    "submit_path",
    "progress_path",
    "timeout",
    "terminal_statuses",
];
pub(super) const API_KEYS: &[&str] = &[
    "listen",
    "serve_public",
    "allowed_origins",
    "trusted_proxies",
];

/// The bounds of each duration key. The upper ones keep every sum and product the daemon makes
/// with them far from overflow, and catch a slip of the unit ("5d" for "5s"); the lower ones
/// keep the loop from spending its time publishing and a probe from timing out at once.
pub(super) const INTERVAL: Bounds = Bounds::new(Duration::from_secs(5), MIN_INTERVAL, DAY);
pub(super) const SERVICE_TIMEOUT: Bounds = Bounds::new(Duration::from_secs(5), MILLI, HOUR);
pub(super) const ON_PUBLISH_TIMEOUT: Bounds = Bounds::new(Duration::from_secs(60), MILLI, DAY);
pub(super) const TASKS_TIMEOUT: Bounds = Bounds::new(Duration::from_secs(10), MILLI, HOUR);
/// `cert_warn`: up to a year ahead; 0 turns the warning off.
pub(super) const CERT_WARN: Bounds = Bounds::new(
    Duration::from_secs(14 * 24 * 3600),
    Duration::ZERO,
    Duration::from_secs(366 * 24 * 3600),
);
/// A heartbeat's `period` (and `grace`): from a minute to a year.
pub(super) const PERIOD: Bounds = Bounds::new(
    DAY,
    Duration::from_secs(60),
    Duration::from_secs(366 * 24 * 3600),
);
pub(super) const MILLI: Duration = Duration::from_millis(1);
pub(super) const HOUR: Duration = Duration::from_secs(3600);
pub(super) const DAY: Duration = Duration::from_secs(24 * 3600);

/// A duration key's default and its shortest and longest values.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub(super) default: Duration,
    pub(super) min: Duration,
    pub(super) max: Duration,
}

impl Bounds {
    pub(super) const fn new(default: Duration, min: Duration, max: Duration) -> Bounds {
        Bounds { default, min, max }
    }
}

/// A duration key: its value within `bounds`, or the default when absent or refused (then
/// recorded with the key's line).
pub(super) fn duration(
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

pub(super) fn resolve_host(r: &mut Reader, root: &DeTable<'_>) -> HostConfig {
    let mut disks = None;
    let mut public = None;
    let mut warn = None;
    let mut critical = None;
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
        (warn, critical) = resolve_thresholds(r, t);
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
        warn,
        critical,
    }
}

/// The services that are good, and the slug of every service that has a usable name (so a
/// maintenance window naming a service with another problem is not reported as well).
pub(super) fn resolve_services(
    r: &mut Reader,
    root: &DeTable<'_>,
) -> (Vec<ServiceConfig>, HashSet<String>) {
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
                group: svc.group,
            });
        }
    }
    (services, slugs)
}

/// One `[[service]]` as far as it could be read: the parts that are good.
pub(super) struct ServiceParts {
    /// The name, its span and its slug, when the name is usable.
    name: Option<(String, read::Span, String)>,
    check: Option<Check>,
    timeout: Duration,
    degraded_after: Option<Duration>,
    group: Option<String>,
}

/// Checks one `[[service]]` table, recording each problem under `service[i]`.
pub(super) fn resolve_service(
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
                "every service needs a kind: \"http\", \"tcp\", \"systemd\", \"feed\", \"tls\", \"dns\", \"ping\" or \"heartbeat\"",
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
    // The page's group heading; blank is no group.
    let group = r
        .get::<String>(t, prefix, "group")
        .map(|(g, _)| g.trim().to_string())
        .filter(|g| !g.is_empty());
    let parts = |check| ServiceParts {
        name: name.clone(),
        check,
        timeout,
        degraded_after,
        group: group.clone(),
    };
    let Some(kind) = kind else {
        return parts(None);
    };
    let kind_word = match kind {
        Kind::Http => "http",
        Kind::Tcp => "tcp",
        Kind::Systemd => "systemd",
        Kind::Feed => "feed",
        Kind::Tls => "tls",
        Kind::Dns => "dns",
        Kind::Ping => "ping",
        Kind::Heartbeat => "heartbeat",
        Kind::Host => "host",
    };
    // A key that the kind does not use is a mistake worth reporting, not ignoring.
    let stray = [
        ("url", matches!(kind, Kind::Http | Kind::Feed)),
        ("address", matches!(kind, Kind::Tcp | Kind::Tls)),
        ("unit", kind == Kind::Systemd),
        ("expect_status", kind == Kind::Http),
        ("expect_text", kind == Kind::Http),
        ("expect_json", kind == Kind::Http),
        ("on_mismatch", kind == Kind::Http),
        ("cert_warn", matches!(kind, Kind::Http | Kind::Tls)),
        ("server_name", kind == Kind::Tls),
        ("query", kind == Kind::Dns),
        ("record", kind == Kind::Dns),
        ("resolver", kind == Kind::Dns),
        ("expect", kind == Kind::Dns),
        ("host", kind == Kind::Ping),
        ("period", kind == Kind::Heartbeat),
        ("grace", kind == Kind::Heartbeat),
        ("token", kind == Kind::Heartbeat),
        ("path", kind == Kind::Heartbeat),
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
    let keys = read_new_keys(r, t, prefix);
    if let Some((_, span)) = &keys.on_mismatch
        && keys.expect_text.is_none()
        && keys.expect_json.is_none()
    {
        r.problem(
            Some(span),
            &key("on_mismatch"),
            "has nothing to act on; set expect_text or expect_json",
        );
    }
    let check = match kind {
        Kind::Tls | Kind::Dns | Kind::Ping | Kind::Heartbeat | Kind::Host => {
            resolve_new_kind(r, kind, keys, address, table_span, prefix, &given)
        }
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
                expect_text: keys.expect_text.map(|(t, _)| t),
                expect_json: keys.expect_json.map(|(j, _)| j).unwrap_or_default(),
                on_mismatch: keys
                    .on_mismatch
                    .map_or(crate::snapshot::Status::Down, |(s, _)| s),
                cert_warn: keys.cert_warn,
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

pub(super) fn resolve_maintenance(
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

pub(super) fn resolve_tasks(r: &mut Reader, root: &DeTable<'_>) -> TasksConfig {
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

pub(super) fn resolve_api(r: &mut Reader, root: &DeTable<'_>) -> ApiConfig {
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

/// `[host] warn` and `critical`: ratios above 0, warn not above critical.
fn resolve_thresholds(r: &mut Reader, t: &DeTable<'_>) -> (Option<Thresholds>, Option<Thresholds>) {
    let mut found = [None, None];
    for (i, name) in ["warn", "critical"].into_iter().enumerate() {
        let Some((limits, span)) = r.get::<Thresholds>(t, "host", name) else {
            continue;
        };
        let bad = [limits.disk, limits.memory, limits.load_per_core]
            .into_iter()
            .flatten()
            .find(|v| !v.is_finite() || *v <= 0.0);
        match bad {
            Some(v) => r.problem(
                Some(&span),
                &format!("host.{name}"),
                format!(
                    "{v} is not a ratio; write disk and memory as 0.9 for 90 %, load_per_core as 1.5"
                ),
            ),
            None => found[i] = Some((limits, span)),
        }
    }
    if let (Some((w, span)), Some((c, _))) = (&found[0], &found[1]) {
        let pairs = [
            (w.disk, c.disk),
            (w.memory, c.memory),
            (w.load_per_core, c.load_per_core),
        ];
        if pairs
            .iter()
            .any(|p| matches!(p, (Some(w), Some(c)) if w > c))
        {
            r.problem(
                Some(span),
                "host.warn",
                "a warn ratio is above its critical one; warn comes first",
            );
        }
    }
    let [w, c] = found;
    (w.map(|(t, _)| t), c.map(|(t, _)| t))
}

/// The keys of the kinds added for checks beyond http/tcp/systemd/feed, read for any kind (a
/// stray one is reported by the caller).
struct NewKeys {
    expect_text: Option<(String, read::Span)>,
    expect_json: Option<(Vec<(String, JsonExpect)>, read::Span)>,
    on_mismatch: Option<(crate::snapshot::Status, read::Span)>,
    cert_warn: Duration,
    server_name: Option<(String, read::Span)>,
    query: Option<(String, read::Span)>,
    record: Option<(DnsRecord, read::Span)>,
    resolver: Option<(SocketAddr, read::Span)>,
    expect: Option<(Vec<String>, read::Span)>,
    host: Option<(String, read::Span)>,
    period: Option<Duration>,
    grace: Option<(Duration, read::Span)>,
    token: Option<(String, read::Span)>,
    path: Option<(PathBuf, read::Span)>,
}

fn read_new_keys(r: &mut Reader, t: &DeTable<'_>, prefix: &str) -> NewKeys {
    let key = |k: &str| read::path(prefix, k);
    let expect_json = r
        .get::<std::collections::BTreeMap<String, serde_json::Value>>(t, prefix, "expect_json")
        .map(|(map, span)| {
            let mut out = Vec::new();
            for (pointer, want) in map {
                if !(pointer.is_empty() || pointer.starts_with('/')) {
                    r.problem(
                        Some(&span),
                        &key("expect_json"),
                        format!(
                            "{} is not a JSON Pointer; write it like \"/status\" or \"/db/connected\"",
                            raw::shown(&pointer)
                        ),
                    );
                    continue;
                }
                let expect = match &want {
                    serde_json::Value::String(s)
                        if s.trim_start().starts_with(['<', '>', '=', '!']) =>
                    {
                        match Compare::parse(s) {
                            Some((op, n)) => JsonExpect::Compare(op, n),
                            None => {
                                r.problem(
                                    Some(&span),
                                    &key("expect_json"),
                                    format!(
                                        "{} is not a comparison; write it like \"< 100\" (<, <=, >, >=, ==, != and a number)",
                                        raw::shown(s)
                                    ),
                                );
                                continue;
                            }
                        }
                    }
                    _ => JsonExpect::Equals(want),
                };
                out.push((pointer, expect));
            }
            (out, span)
        });
    let on_mismatch = r
        .get::<String>(t, prefix, "on_mismatch")
        .and_then(|(word, span)| match word.as_str() {
            "down" => Some((crate::snapshot::Status::Down, span)),
            "degraded" => Some((crate::snapshot::Status::Degraded, span)),
            _ => {
                r.problem(
                    Some(&span),
                    &key("on_mismatch"),
                    format!(
                        "expected \"down\" or \"degraded\", found {}",
                        raw::shown(&word)
                    ),
                );
                None
            }
        });
    let resolver = r
        .get::<String>(t, prefix, "resolver")
        .and_then(|(text, span)| match text.parse::<SocketAddr>() {
            Ok(a) => Some((a, span)),
            Err(_) => match text.parse::<std::net::IpAddr>() {
                Ok(ip) => Some((SocketAddr::new(ip, 53), span)),
                Err(_) => {
                    r.problem(
                        Some(&span),
                        &key("resolver"),
                        format!(
                            "expected an IP address and port like \"127.0.0.1:53\", found {}",
                            raw::shown_url(&text)
                        ),
                    );
                    None
                }
            },
        });
    let record = r
        .get::<String>(t, prefix, "record")
        .and_then(|(word, span)| {
            let parsed = match word.to_ascii_uppercase().as_str() {
                "A" => Some(DnsRecord::A),
                "AAAA" => Some(DnsRecord::Aaaa),
                "CNAME" => Some(DnsRecord::Cname),
                "MX" => Some(DnsRecord::Mx),
                "TXT" => Some(DnsRecord::Txt),
                "NS" => Some(DnsRecord::Ns),
                _ => None,
            };
            if parsed.is_none() {
                r.problem(
                    Some(&span),
                    &key("record"),
                    format!(
                        "{} is not a record type this checks; use A, AAAA, CNAME, MX, TXT or NS",
                        raw::shown(&word)
                    ),
                );
            }
            parsed.map(|p| (p, span))
        });
    let period = find_key(t, "period").map(|_| duration(r, t, prefix, "period", PERIOD));
    let grace = find_key(t, "grace").map(|v| {
        let span = v.span();
        (duration(r, t, prefix, "grace", PERIOD), span)
    });
    NewKeys {
        expect_text: r.get::<String>(t, prefix, "expect_text"),
        expect_json,
        on_mismatch,
        cert_warn: duration(r, t, prefix, "cert_warn", CERT_WARN),
        server_name: r.get::<String>(t, prefix, "server_name"),
        query: r.get::<String>(t, prefix, "query"),
        record,
        resolver,
        expect: r.get::<Vec<String>>(t, prefix, "expect"),
        host: r.get::<String>(t, prefix, "host"),
        period,
        grace,
        token: r.get::<String>(t, prefix, "token"),
        path: r.get::<PathBuf>(t, prefix, "path"),
    }
}

/// A `host:port` address, as `tcp` and `tls` take it.
fn host_port_ok(address: &str) -> bool {
    address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

/// The check of a `tls`, `dns`, `ping` or `heartbeat` service; `None` with the problem recorded.
fn resolve_new_kind(
    r: &mut Reader,
    kind: Kind,
    keys: NewKeys,
    address: Option<(String, read::Span)>,
    table_span: &read::Span,
    prefix: &str,
    given: &dyn Fn(&str) -> bool,
) -> Option<Check> {
    let key = |k: &str| read::path(prefix, k);
    let missing = |r: &mut Reader, word: &str, name: &str, example: &str| {
        if !given(name) {
            r.problem(
                Some(table_span),
                &key(name),
                format!("kind = \"{word}\" needs {name}, like {name} = {example}"),
            );
        }
    };
    match kind {
        Kind::Tls => {
            let Some((address, span)) = address else {
                missing(r, "tls", "address", "\"mail.example.net:465\"");
                return None;
            };
            if !host_port_ok(&address) {
                r.problem(
                    Some(&span),
                    &key("address"),
                    format!(
                        "expected host:port like \"mail.example.net:465\", found {}",
                        raw::shown_url(&address)
                    ),
                );
                return None;
            }
            if let Some((name, span)) = &keys.server_name
                && rustls::pki_types::ServerName::try_from(name.as_str()).is_err()
            {
                r.problem(
                    Some(span),
                    &key("server_name"),
                    format!("{} is not a DNS name or IP address", raw::shown(name)),
                );
                return None;
            }
            Some(Check::Tls {
                address,
                server_name: keys.server_name.map(|(n, _)| n),
                cert_warn: keys.cert_warn,
            })
        }
        Kind::Dns => {
            let Some((query, span)) = keys.query else {
                missing(r, "dns", "query", "\"example.net\"");
                return None;
            };
            if query.trim().is_empty() || query.len() > 253 || query.contains(char::is_whitespace) {
                r.problem(
                    Some(&span),
                    &key("query"),
                    format!("{} is not a domain name", raw::shown(&query)),
                );
                return None;
            }
            Some(Check::Dns {
                query,
                record: keys.record.map_or(DnsRecord::A, |(r, _)| r),
                resolver: keys.resolver.map(|(a, _)| a),
                expect: keys.expect.map(|(e, _)| e).unwrap_or_default(),
            })
        }
        Kind::Ping => {
            let Some((host, span)) = keys.host else {
                missing(r, "ping", "host", "\"10.0.0.1\"");
                return None;
            };
            if host.trim().is_empty()
                || host.contains(['/', ' ', ':']) && host.parse::<std::net::IpAddr>().is_err()
            {
                r.problem(
                    Some(&span),
                    &key("host"),
                    format!("{} is not a host name or IP address", raw::shown_url(&host)),
                );
                return None;
            }
            Some(Check::Ping { host })
        }
        Kind::Heartbeat => {
            let Some(period) = keys.period else {
                missing(r, "heartbeat", "period", "\"24h\"");
                return None;
            };
            if keys.token.is_none() && keys.path.is_none() {
                if !given("token") && !given("path") {
                    r.problem(
                        Some(table_span),
                        &key("token"),
                        "kind = \"heartbeat\" needs token (pings over HTTP), like token = \"${BACKUP_PING_TOKEN}\", or path (a file the job touches), or both",
                    );
                }
                return None;
            }
            if let Some((token, span)) = &keys.token
                && token.len() < 16
            {
                r.problem(
                    Some(span),
                    &key("token"),
                    "is shorter than 16 characters; use a long random token from the environment, like token = \"${BACKUP_PING_TOKEN}\" (the value is not shown)",
                );
                return None;
            }
            // healthchecks.io's default: a tenth of the period, at least a minute.
            let grace = keys
                .grace
                .map(|(g, _)| g)
                .unwrap_or_else(|| (period / 10).max(Duration::from_secs(60)));
            Some(Check::Heartbeat {
                period,
                grace,
                token: keys.token.map(|(t, _)| Secret::new(t)),
                path: keys.path.map(|(p, _)| p),
            })
        }
        Kind::Host => {
            r.problem(
                Some(table_span),
                &key("kind"),
                "kind = \"host\" is the host entry; set [host] warn and critical instead",
            );
            None
        }
        Kind::Http | Kind::Tcp | Kind::Systemd | Kind::Feed => None,
    }
}

fn find_key<'a, 'i>(
    t: &'a DeTable<'i>,
    name: &str,
) -> Option<&'a toml::Spanned<toml::de::DeValue<'i>>> {
    t.iter().find(|(k, _)| k.get_ref() == name).map(|(_, v)| v)
}
