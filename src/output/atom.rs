//! `feed.xml`: an Atom feed (RFC 4287) of the snapshot's status changes and maintenance windows.
//!
//! The feed is rewritten only when its bytes change, so nothing in it may move from cycle to
//! cycle: no `generated_at`, no duration of a status that still lasts. Each entry's `<updated>` is
//! the last instant its content changed (an incident: its start, then its end; a maintenance
//! window: its start), and the feed's is the newest of those that is not in the future (a window
//! still to come is dated by its start, but the feed was not updated in the future). A feed with
//! nothing to date it by says when watching began (the earliest `observed_since`): the time its
//! empty content became true, and a fixed one, rather than the generation time, which would
//! change the file every cycle. Only before the first check ever (or with no services) is it the
//! generation time itself. Never the Unix epoch: a reader would show "1970".
//!
//! Ids are stable: an incident is named by its service and start, a maintenance window by its
//! start and services, so a reader sees the same entry across cycles and restarts. With
//! `public_url` set, links are absolute and ids live under `{public_url}feed.xml#…`; without it
//! links are relative to the feed (Atom allows that, and the feed sits at the site's root) and ids
//! are `urn:cortex-status:{hostname}:…`, still unique per host, still valid IRIs.
//!
//! Written by hand (see `xml`) rather than with a feed crate: the document has one fixed shape,
//! a test validates it against the RFC's schema, and a crate would cost binary size and memory,
//! which are budgets here.

use crate::output::site::SiteInfo;
use crate::output::site::filters::duration_words;
use crate::output::xml::escape;
use crate::snapshot::{
    Incident, MaintenanceWindow, Service, Snapshot, WrittenIncident, format_time,
};
use chrono::{DateTime, Utc};
use std::fmt::Write as _;

/// The feed for `snapshot`; the same snapshot contents give the same bytes.
pub fn feed(snapshot: &Snapshot, site: &SiteInfo) -> String {
    render(snapshot, site, None)
}

/// `feeds/<slug>.xml`: the same, for one service: its status changes, the maintenance windows
/// and the written incidents that name it. Relative links climb out of `feeds/`.
pub fn service_feed(snapshot: &Snapshot, site: &SiteInfo, service: &Service) -> String {
    render(snapshot, site, Some(service))
}

fn render(snapshot: &Snapshot, site: &SiteInfo, only: Option<&Service>) -> String {
    let ids = Ids::new(snapshot, site);
    let base = site.public_url.as_str();
    // What relative links to the site's files start with, from where the feed sits.
    let root = match (base.is_empty(), only) {
        (false, _) => base,
        (true, None) => "",
        (true, Some(_)) => "../",
    };
    let home = if root.is_empty() { "./" } else { root };
    let concerns = |slug: &str| only.is_none_or(|s| s.slug == slug);
    let maintenance: Vec<&MaintenanceWindow> = snapshot
        .maintenance
        .iter()
        .filter(|m| only.is_none_or(|s| m.services.contains(&s.slug)))
        .collect();
    let incidents: Vec<&Incident> = snapshot
        .incidents
        .iter()
        .filter(|i| concerns(&i.service))
        .collect();
    let written: Vec<&WrittenIncident> = snapshot
        .incidents_open
        .iter()
        .chain(&snapshot.incidents_recent)
        .filter(|w| only.is_none_or(|s| w.services.contains(&s.slug)))
        .collect();
    let now = snapshot.generated_at;
    // A service's own feed looks at that service only: a scan of every service for each of
    // thousands of feeds made writing them quadratic (a sixth of a cycle at 5,000 services).
    let watched_since = match only {
        Some(s) => s.observed_since,
        None => snapshot
            .services
            .iter()
            .filter_map(|s| s.observed_since)
            .min(),
    };
    let updated = incidents
        .iter()
        .map(|i| incident_updated(i))
        .chain(maintenance.iter().map(|m| m.start))
        .chain(written.iter().map(|w| written_updated(w)))
        .filter(|t| *t <= now)
        .max()
        .or(watched_since)
        .unwrap_or(now)
        .min(now);

    let mut out = String::with_capacity(1024 + 700 * incidents.len());
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    let title = match only {
        None => escape(&site.title),
        Some(s) => escape(&format!("{}: {}", site.title, s.name))
            .into_owned()
            .into(),
    };
    let (id, self_href) = match only {
        None => (ids.feed(), format!("{root}feed.xml")),
        Some(s) => (
            ids.service_feed(&s.slug),
            format!("{root}feeds/{}.xml", s.slug),
        ),
    };
    let _ = write!(
        out,
        "  <title>{title}</title>\n  <subtitle>Status changes, incidents and maintenance windows</subtitle>\n  \
         <id>{id}</id>\n  <updated>{updated}</updated>\n  <author><name>{author}</name></author>\n  \
         <generator version=\"{version}\">cortex-status</generator>\n  \
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{self_href}\"/>\n  \
         <link rel=\"alternate\" type=\"text/html\" href=\"{home}\"/>\n  \
         <icon>{root}assets/favicon.svg</icon>\n",
        updated = format_time(&updated),
        author = escape(&site.title),
        version = escape(site.version),
        self_href = escape(&self_href),
        home = escape(home),
        root = escape(root),
    );
    for w in &written {
        written_entries(&mut out, snapshot, w, &ids, root);
    }
    for m in maintenance {
        maintenance_entry(&mut out, snapshot, m, &ids, home);
    }
    for i in incidents {
        incident_entry(&mut out, snapshot, i, &ids, home);
    }
    out.push_str("</feed>\n");
    out
}

/// When a written incident's entry last changed: its newest update, or its resolution.
fn written_updated(w: &WrittenIncident) -> DateTime<Utc> {
    w.updates
        .iter()
        .map(|u| u.at)
        .chain(w.resolved)
        .chain([w.started])
        .max()
        .unwrap_or(w.started)
}

/// A written incident as one entry that says what it is and how it stands, then one entry per
/// update with its HTML, so a reader sees each update arrive. Nothing in them moves with the
/// clock (no duration while open), so the feed's bytes stay still between edits.
fn written_entries(
    out: &mut String,
    snapshot: &Snapshot,
    w: &WrittenIncident,
    ids: &Ids,
    root: &str,
) {
    let link = if w.url.contains("://") {
        escape(&w.url).into_owned()
    } else {
        escape(&format!("{root}{}", w.url)).into_owned()
    };
    let title = escape(&w.title);
    let names = w
        .services
        .iter()
        .map(|slug| service_name(snapshot, slug))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = format!("{}: {}.", w.severity.as_str(), w.title);
    if !names.is_empty() {
        let _ = write!(text, " Affects {names}.");
    }
    match w.resolved {
        Some(end) => {
            let _ = write!(
                text,
                " Resolved: from {} to {} ({}).",
                words_time(&w.started),
                words_time(&end),
                duration_words(w.duration_seconds)
            );
        }
        None => {
            let _ = write!(text, " Open since {}.", words_time(&w.started));
        }
    }
    let _ = write!(
        out,
        "  <entry>\n    <id>{id}</id>\n    <title>{title}</title>\n    <updated>{updated}</updated>\n    \
         <published>{started}</published>\n    <category term=\"{severity}\"/>\n    \
         <link rel=\"alternate\" type=\"text/html\" href=\"{link}\"/>\n    \
         <content type=\"text\">{text}</content>\n  </entry>\n",
        id = ids.written(&w.slug, None),
        updated = format_time(&written_updated(w)),
        started = format_time(&w.started),
        severity = w.severity.as_str(),
        text = escape(&text),
    );
    for u in &w.updates {
        let at = format_time(&u.at);
        let _ = write!(
            out,
            "  <entry>\n    <id>{id}</id>\n    <title>{title}: {kind}</title>\n    <updated>{at}</updated>\n    \
             <published>{at}</published>\n    <category term=\"{term}\"/>\n    \
             <link rel=\"alternate\" type=\"text/html\" href=\"{link}\"/>\n    \
             <content type=\"html\">{html}</content>\n  </entry>\n",
            id = ids.written(&w.slug, Some(&at)),
            kind = u.kind.label(),
            term = u.kind.as_str(),
            html = escape(&u.html),
        );
    }
}

/// When an incident's entry last changed: its end once it has one.
fn incident_updated(i: &Incident) -> DateTime<Utc> {
    i.end.unwrap_or(i.at)
}

/// Written piece by piece rather than with `format!`: a feed holds up to 50 incidents and is
/// rendered every cycle (to be compared with the last one), so each entry's cost counts.
fn incident_entry(out: &mut String, snapshot: &Snapshot, i: &Incident, ids: &Ids, home: &str) {
    let name = escape(service_name(snapshot, &i.service));
    let at = format_time(&i.at);
    let end = i.end.as_ref().map(format_time);
    let (from, to) = (i.from.as_str(), i.to.as_str());
    out.push_str("  <entry>\n    <id>");
    ids.incident(out, i, &at);
    for piece in [
        "</id>\n    <title>",
        &name,
        " is ",
        to,
        "</title>\n    <updated>",
    ] {
        out.push_str(piece);
    }
    out.push_str(end.as_deref().unwrap_or(&at));
    for piece in [
        "</updated>\n    <published>",
        &at,
        "</published>\n    <category term=\"",
    ] {
        out.push_str(piece);
    }
    out.push_str(to);
    out.push_str("\"/>\n    <link rel=\"alternate\" type=\"text/html\" href=\"");
    out.push_str(&escape(home));
    out.push_str("#service-");
    out.push_str(&i.service);
    out.push_str("\"/>\n    <content type=\"text\">");
    for piece in [&name, " went from ", from, " to ", to, " at "] {
        out.push_str(piece);
    }
    push_words_time(out, &at);
    match &i.error {
        Some(e) => {
            out.push_str(": ");
            out.push_str(&escape(e));
            out.push('.');
        }
        None => out.push('.'),
    }
    match &end {
        Some(end) => {
            out.push_str(" This lasted ");
            out.push_str(&duration_words(i.duration_seconds));
            out.push_str(", until ");
            push_words_time(out, end);
            out.push('.');
        }
        // The duration so far changes every cycle; the entry says it is open instead.
        None => out.push_str(" This is the current status."),
    }
    out.push_str("</content>\n  </entry>\n");
}

/// "2026-11-24T10:00:00Z" (as [`format_time`] writes it) → "2026-11-24 10:00:00 UTC", as the
/// page writes times.
fn push_words_time(out: &mut String, rfc3339: &str) {
    match (rfc3339.get(..10), rfc3339.get(11..19)) {
        (Some(date), Some(time)) => {
            for piece in [date, " ", time, " UTC"] {
                out.push_str(piece);
            }
        }
        _ => out.push_str(rfc3339),
    }
}

fn maintenance_entry(
    out: &mut String,
    snapshot: &Snapshot,
    m: &MaintenanceWindow,
    ids: &Ids,
    home: &str,
) {
    let names = m
        .services
        .iter()
        .map(|slug| service_name(snapshot, slug))
        .collect::<Vec<_>>()
        .join(", ");
    let title = match (&m.message, m.active) {
        (Some(msg), true) => format!("Maintenance in progress: {msg}"),
        (Some(msg), false) => format!("Scheduled maintenance: {msg}"),
        (None, true) => format!("Maintenance in progress: {names}"),
        (None, false) => format!("Scheduled maintenance: {names}"),
    };
    let mut text = format!(
        "Maintenance of {names} from {} to {}.",
        words_time(&m.start),
        words_time(&m.end)
    );
    if let Some(msg) = &m.message {
        let _ = write!(text, " {msg}.");
    }
    text.push_str(" Checks during the window do not count as downtime.");
    // Dated at its start, also while it is still to come: that is when it matters, and a date
    // that does not move keeps the feed's bytes still. Readers list it by that date.
    let _ = write!(
        out,
        "  <entry>\n    <id>{id}</id>\n    <title>{title}</title>\n    <updated>{start}</updated>\n    \
         <category term=\"maintenance\"/>\n    \
         <link rel=\"alternate\" type=\"text/html\" href=\"{home}\"/>\n    \
         <content type=\"text\">{text}</content>\n  </entry>\n",
        id = ids.maintenance(m),
        title = escape(&title),
        start = format_time(&m.start),
        home = escape(home),
        text = escape(&text),
    );
}

/// A service's name as configured, or its slug if the snapshot no longer lists it.
fn service_name<'a>(snapshot: &'a Snapshot, slug: &'a str) -> &'a str {
    snapshot
        .services
        .iter()
        .find(|s| s.slug == slug)
        .map_or(slug, |s| s.name.as_str())
}

fn words_time(t: &DateTime<Utc>) -> String {
    let mut out = String::with_capacity(23);
    push_words_time(&mut out, &format_time(t));
    out
}

/// Entry and feed ids: under the public URL, or `urn:` names when there is none.
struct Ids {
    /// What every id starts with, XML-escaped.
    prefix: String,
}

impl Ids {
    fn new(snapshot: &Snapshot, site: &SiteInfo) -> Ids {
        let prefix = if site.public_url.is_empty() {
            // A URN's name part allows few characters; a hostname rarely needs more.
            let host: String =
                percent_encoding::utf8_percent_encode(&snapshot.host.hostname, URN_UNSAFE)
                    .collect();
            format!("urn:cortex-status:{host}:")
        } else {
            format!("{}feed.xml#", site.public_url)
        };
        // Escaped once here: a URL may hold `&`.
        Ids {
            prefix: escape(&prefix).into_owned(),
        }
    }

    fn feed(&self) -> String {
        match self.prefix.strip_suffix('#') {
            Some(url) => url.to_string(),
            None => format!("{}feed", self.prefix),
        }
    }

    /// `at` is the incident's start as [`format_time`] writes it.
    fn incident(&self, out: &mut String, i: &Incident, at: &str) {
        for piece in [&self.prefix, "incident-", &i.service, "-", at] {
            out.push_str(piece);
        }
    }

    /// A service's own feed.
    fn service_feed(&self, slug: &str) -> String {
        match self.prefix.strip_suffix("feed.xml#") {
            Some(base) => format!("{base}feeds/{slug}.xml"),
            None => format!("{}feed-{slug}", self.prefix),
        }
    }

    /// A written incident (`at`: `None`) or one of its updates (`at`: its time).
    fn written(&self, slug: &str, at: Option<&str>) -> String {
        match at {
            None => format!("{}written-{slug}", self.prefix),
            Some(at) => format!("{}written-{slug}-{at}", self.prefix),
        }
    }

    fn maintenance(&self, m: &MaintenanceWindow) -> String {
        format!(
            "{}maintenance-{}-{}",
            self.prefix,
            format_time(&m.start),
            m.services.join("+")
        )
    }
}

/// Everything but letters, digits, `-` and `.` is percent-encoded in a URN's name.
const URN_UNSAFE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.');

#[cfg(test)]
mod tests {
    use super::*;

    fn site(public_url: &str) -> SiteInfo {
        SiteInfo {
            title: "Cortex <Status> & co".into(),
            public_url: public_url.into(),
            version: "0.1.0",
            terminal_statuses: Vec::new(),
            tasks_missing: Vec::new(),
        }
    }

    fn between<'a>(text: &'a str, start: &str, end: &str) -> Vec<&'a str> {
        text.split(start)
            .skip(1)
            .map(|rest| rest.split(end).next().unwrap())
            .collect()
    }

    #[test]
    fn entries_and_links_are_absolute_under_the_public_url() {
        let xml = feed(
            &crate::snapshot::example(),
            &site("https://status.example.net/"),
        );
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
        assert!(xml.contains("<id>https://status.example.net/feed.xml</id>"));
        assert!(xml.contains("rel=\"self\" type=\"application/atom+xml\" href=\"https://status.example.net/feed.xml\""));
        assert!(xml.contains("href=\"https://status.example.net/#service-database\""));
        assert_eq!(
            xml.matches("<entry>").count(),
            6,
            "2 windows + 2 incidents + a written incident and its update"
        );
        for href in between(&xml, "href=\"", "\"") {
            assert!(href.starts_with("https://status.example.net/"), "{href}");
        }
        for id in between(&xml, "<id>", "</id>") {
            assert!(
                id.starts_with("https://status.example.net/feed.xml"),
                "{id}"
            );
        }
    }

    #[test]
    fn without_a_public_url_links_are_relative_and_ids_are_urns() {
        let xml = feed(&crate::snapshot::example(), &site(""));
        assert!(xml.contains("<id>urn:cortex-status:cortex:feed</id>"));
        assert!(
            xml.contains(
                "<id>urn:cortex-status:cortex:incident-database-2026-11-24T10:00:00Z</id>"
            )
        );
        assert!(xml.contains("href=\"feed.xml\""));
        assert!(xml.contains("href=\"./#service-database\""));
    }

    #[test]
    fn user_written_text_is_escaped() {
        let mut s = crate::snapshot::example();
        s.incidents[0].error = Some("</content><evil a=\"1\"> & \u{7}".into());
        let xml = feed(&s, &site("https://status.example.net/"));
        assert!(xml.contains("<title>Cortex &lt;Status&gt; &amp; co</title>"));
        assert!(xml.contains("Scheduled maintenance: Database &lt;upgrade&gt;"));
        assert!(xml.contains("&lt;/content&gt;&lt;evil a=&quot;1&quot;&gt; &amp; \u{FFFD}"));
        assert!(!xml.contains("<evil"));
        assert!(xml.contains("Web &lt;shop&gt; is up"), "names are escaped");
    }

    #[test]
    fn ids_are_stable_and_the_bytes_do_not_follow_the_clock() {
        let s = crate::snapshot::example();
        let before = feed(&s, &site("https://status.example.net/"));
        let mut later = s.clone();
        later.generated_at += chrono::Duration::minutes(5);
        later.incidents[0].duration_seconds += 300;
        later.host.uptime_seconds += 300;
        assert_eq!(feed(&later, &site("https://status.example.net/")), before);

        // A new incident adds an entry; the old entries keep their ids.
        let mut next = s.clone();
        let mut new = next.incidents[0].clone();
        new.at += chrono::Duration::minutes(1);
        new.from = new.to;
        new.to = crate::snapshot::Status::Up;
        next.incidents[0].end = Some(new.at);
        next.incidents[0].duration_seconds = 60;
        next.incidents.insert(0, new);
        let after = feed(&next, &site("https://status.example.net/"));
        for id in between(&before, "<id>", "</id>") {
            assert!(after.contains(&format!("<id>{id}</id>")), "{id} is gone");
        }
        assert_eq!(after.matches("<entry>").count(), 7);
        assert!(after.contains("cannot connect. This lasted 1m, until 2026-11-24 10:01:00 UTC."));
    }

    #[test]
    fn the_feed_is_dated_by_its_newest_past_entry_never_the_epoch_or_the_future() {
        let mut s = crate::snapshot::example();
        // The upcoming window (in a week) is not a date the feed was updated at: the newest
        // past one is (the open incident, at generated_at).
        let xml = feed(&s, &site(""));
        assert_eq!(
            between(&xml, "<updated>", "</updated>")[0],
            "2026-11-24T10:00:00Z"
        );
        s.incidents.clear();
        s.incidents_open.clear();
        let xml = feed(&s, &site(""));
        assert_eq!(
            between(&xml, "<updated>", "</updated>")[0],
            format_time(&s.maintenance[0].start),
            "the running window's start"
        );
        // No entries: since when the services are watched, the same every cycle.
        s.maintenance.clear();
        let since = s.services[0].observed_since.unwrap();
        let xml = feed(&s, &site(""));
        assert!(!xml.contains("<entry>"));
        assert!(!xml.contains("1970"));
        assert_eq!(
            between(&xml, "<updated>", "</updated>")[0],
            format_time(&since)
        );
        let mut later = s.clone();
        later.generated_at += chrono::Duration::minutes(5);
        assert_eq!(
            feed(&later, &site("")),
            xml,
            "the bytes do not follow the clock"
        );
        // Before any check: the generation time.
        for svc in &mut s.services {
            svc.observed_since = None;
        }
        let xml = feed(&s, &site(""));
        assert_eq!(
            between(&xml, "<updated>", "</updated>")[0],
            "2026-11-24T10:00:00Z"
        );
    }

    #[test]
    fn a_written_incident_is_an_entry_and_so_is_each_update() {
        let s = crate::snapshot::example();
        let xml = feed(&s, &site(""));
        assert!(
            xml.contains("<id>urn:cortex-status:cortex:written-2026-11-24-database-failover</id>")
        );
        assert!(xml.contains("<title>Database &lt;failover&gt;</title>"));
        assert!(xml.contains("<title>Database &lt;failover&gt;: Identified</title>"));
        assert!(xml.contains(
            "<content type=\"html\">&lt;p&gt;The primary lost its &lt;strong&gt;disk&lt;/strong&gt;.&lt;/p&gt;"
        ));
        assert!(xml.contains("href=\"incidents/2026-11-24-database-failover.html\""));
        assert!(xml.contains("Open since 2026-11-24 09:50:00 UTC."), "{xml}");
    }

    #[test]
    fn a_service_feed_has_what_concerns_it_and_links_out_of_its_folder() {
        let s = crate::snapshot::example();
        let db = s.services.iter().find(|x| x.slug == "database").unwrap();
        let xml = service_feed(&s, &site(""), db);
        assert!(xml.contains("<title>Cortex &lt;Status&gt; &amp; co: Database</title>"));
        assert!(xml.contains("<id>urn:cortex-status:cortex:feed-database</id>"));
        assert!(xml.contains("href=\"../feeds/database.xml\""));
        assert!(xml.contains("href=\"../incidents/2026-11-24-database-failover.html\""));
        assert!(xml.contains("href=\"../#service-database\""));
        assert!(
            xml.contains("Database &lt;upgrade&gt;"),
            "its maintenance window"
        );
        assert!(
            !xml.contains("Web &lt;shop&gt;"),
            "another service's incident"
        );
        assert!(!xml.contains("mail"), "another service's window");
        let xml = service_feed(&s, &site("https://status.example.net/"), db);
        assert!(xml.contains("<id>https://status.example.net/feeds/database.xml</id>"));
        let web = s.services.iter().find(|x| x.slug == "web-shop").unwrap();
        let xml = service_feed(&s, &site(""), web);
        assert!(!xml.contains("failover"), "{xml}");
    }

    #[test]
    fn an_ended_incident_says_how_long_it_lasted_and_an_open_one_does_not() {
        let xml = feed(&crate::snapshot::example(), &site(""));
        assert!(xml.contains("Web &lt;shop&gt; went from down to up at 2026-11-24 07:00:00 UTC. This lasted 1h, until 2026-11-24 08:00:00 UTC."));
        assert!(xml.contains("Database went from up to down at 2026-11-24 10:00:00 UTC: cannot connect. This is the current status."));
        assert!(
            xml.contains("<updated>2026-11-24T08:00:00Z</updated>"),
            "dated by its end"
        );
    }
}
