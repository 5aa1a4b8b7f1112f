//! `badges/<slug>.svg` and `badges/<slug>.json`: a status badge per service.
//!
//! The SVG is a flat two-part badge (label on grey, status on its colour) for a README or a
//! wiki; the JSON is the same badge in shields.io's endpoint format, for those who want
//! shields' styles. Both say the status word and, when known, the 24-hour availability, rounded
//! *down* so that "100%" means no counted failure at all. A service watched for less than 24
//! hours says since when ("up · 100% since 01:05"): its figure does not cover the whole day. They change only when one of those
//! does, so they are written only when their bytes change.
//!
//! Text width is estimated from Verdana's advance widths (the font the badge names first), and
//! each `<text>` is given that width as `textLength`, so a viewer with another font still fits
//! the text into its box. The colours keep white text at a contrast of at least 4.5:1.

use crate::output::xml::escape;
use crate::snapshot::{Service, Snapshot, Status};
use std::fmt::Write as _;
use std::path::Path;

/// The files for every service: (name under out_dir, bytes).
pub fn files(snapshot: &Snapshot) -> impl Iterator<Item = (String, Vec<u8>)> + '_ {
    snapshot.services.iter().flat_map(service_files)
}

/// A service's two badge files: (name under out_dir, bytes).
pub type Files = [(String, Vec<u8>); 2];

/// One service's two files.
fn service_files(s: &Service) -> Files {
    #[cfg(test)]
    tests::MADE.with(|m| m.set(m.get() + 1));
    let badge = Badge::of(s);
    [
        (format!("badges/{}.svg", s.slug), badge.svg().into_bytes()),
        (format!("badges/{}.json", s.slug), badge.json().into_bytes()),
    ]
}

/// What a service's badges are made of, as a number: equal keys make equal files. The name,
/// the status, the 24-hour availability as shown (hundredths, rounded down) and, while the day
/// is watched only in part, the minute watching began.
fn key(s: &Service) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&s.slug, &s.name, s.status.as_str()).hash(&mut h);
    s.uptime
        .day
        .map(|r| (r.clamp(0.0, 1.0) * 10_000.0 + 1e-6).floor() as u64)
        .hash(&mut h);
    s.observed_since
        .filter(|_| s.uptime.day.is_some() && s.uptime_coverage.day < 1.0)
        .map(|t| t.timestamp().div_euclid(60))
        .hash(&mut h);
    h.finish()
}

/// The badges written before, by slug: the key they were made from and when. At 1,000
/// services, making 2,000 badges a cycle to find them unchanged cost more than all the rest of
/// this module's work.
#[derive(Default)]
pub struct Kept {
    known: std::sync::Mutex<Known>,
}

/// The directory the badges were written into, and each one's key and when.
#[derive(Default)]
struct Known {
    dir: std::path::PathBuf,
    badges: std::collections::HashMap<String, (u64, std::time::Instant)>,
}

/// How long a badge's key is trusted before its files are made and compared again (so a file
/// removed by hand comes back, as for every published file: `publish::RECHECK`).
const TRUST: std::time::Duration = std::time::Duration::from_secs(60);

impl Kept {
    /// The files of the services whose badges may have changed since they were last handed
    /// out: their key differs, or it was trusted for [`TRUST`]. `written` tells, for each slug
    /// handed out, whether its files were written (a failure is tried again next cycle). The
    /// files are made one service at a time as the iterator is walked: when every badge is due
    /// (the first publish, then once a [`TRUST`]) all of them at once were 1.2 MB at 1,000
    /// services.
    pub fn due<'a>(
        &self,
        snapshot: &'a Snapshot,
        out_dir: &Path,
    ) -> impl ExactSizeIterator<Item = (&'a Service, u64, Files)> + use<'a> {
        let mut guard = self.known.lock().unwrap_or_else(|e| e.into_inner());
        // Another out_dir (a reload): nothing is written there yet.
        if guard.dir != out_dir {
            guard.dir = out_dir.to_path_buf();
            guard.badges.clear();
        }
        let known = &mut guard.badges;
        let slugs = snapshot.slugs();
        known.retain(|slug, _| slugs.contains(slug.as_str()));
        let due: Vec<(&'a Service, u64)> = snapshot
            .services
            .iter()
            .filter_map(|s| {
                let k = key(s);
                let fresh = known
                    .get(&s.slug)
                    .is_some_and(|(old, at)| *old == k && at.elapsed() < TRUST);
                (!fresh).then_some((s, k))
            })
            .collect();
        due.into_iter().map(|(s, k)| (s, k, service_files(s)))
    }

    /// Remembers that `slug`'s badges, made from `key`, are on disk.
    pub fn written(&self, slug: &str, key: u64) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known
            .badges
            .insert(slug.to_string(), (key, std::time::Instant::now()));
    }
}

/// Removes the badges (and their sidecars) of services that are no longer configured, so a
/// README does not show a removed service's last status for ever. Returns how many files went.
pub fn prune(out_dir: &Path, snapshot: &Snapshot) -> anyhow::Result<usize> {
    let dir = out_dir.join("badges");
    let entries = match std::fs::read_dir(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        other => other.map_err(|e| anyhow::anyhow!("cannot list {}: {e}", dir.display()))?,
    };
    let mut removed = 0;
    let slugs = snapshot.slugs();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // Only what this module writes; a publish in flight (`.publish-…`) is not ours to touch.
        let stem = [".svg", ".json", ".svg.gz", ".json.gz"]
            .iter()
            .find_map(|ending| name.strip_suffix(ending));
        let Some(stem) = stem else { continue };
        if name.starts_with('.') || slugs.contains(stem) {
            continue;
        }
        let path = entry.path();
        std::fs::remove_file(&path)
            .map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", path.display()))?;
        removed += 1;
    }
    Ok(removed)
}

/// One service's badge, as both formats show it.
struct Badge<'a> {
    label: &'a str,
    message: String,
    /// For people (the SVG's title and aria-label): the message in words.
    title: String,
    colour: &'static str,
}

impl<'a> Badge<'a> {
    fn of(s: &'a Service) -> Badge<'a> {
        let partial = s.observed_since.filter(|_| s.uptime_coverage.day < 1.0);
        let (message, title) = match (s.uptime.day, partial) {
            (Some(ratio), Some(since)) => {
                let p = percent_down(ratio);
                (
                    format!("{} · {p} since {}", s.status, since.format("%H:%M")),
                    format!(
                        "{}: {}, {p} available since {} (watched for less than 24 hours)",
                        s.name,
                        s.status,
                        since.format("%Y-%m-%d %H:%M UTC")
                    ),
                )
            }
            (Some(ratio), None) => {
                let p = percent_down(ratio);
                (
                    format!("{} · {p}", s.status),
                    format!(
                        "{}: {}, {p} available in the last 24 hours",
                        s.name, s.status
                    ),
                )
            }
            (None, _) => (s.status.to_string(), format!("{}: {}", s.name, s.status)),
        };
        Badge {
            label: &s.name,
            message,
            title,
            colour: colour(s.status),
        }
    }

    /// shields.io's endpoint schema.
    fn json(&self) -> String {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Endpoint<'a> {
            schema_version: u8,
            label: &'a str,
            message: &'a str,
            color: &'a str,
        }
        let mut text = serde_json::to_string(&Endpoint {
            schema_version: 1,
            label: self.label,
            message: &self.message,
            color: self.colour,
        })
        .expect("strings always serialise");
        text.push('\n');
        text
    }

    fn svg(&self) -> String {
        const PAD: f64 = 10.0;
        let (label_w, message_w) = (text_width(self.label), text_width(&self.message));
        let (lw, mw) = ((label_w + PAD).round(), (message_w + PAD).round());
        let w = lw + mw;
        let (label, message, title) = (
            escape(self.label),
            escape(&self.message),
            escape(&self.title),
        );
        let mut out = String::with_capacity(1200);
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"20\" role=\"img\" aria-label=\"{title}\">\
             <title>{title}</title>\
             <linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>\
             <clipPath id=\"r\"><rect width=\"{w}\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>\
             <g clip-path=\"url(#r)\"><rect width=\"{lw}\" height=\"20\" fill=\"#555\"/><rect x=\"{lw}\" width=\"{mw}\" height=\"20\" fill=\"{colour}\"/><rect width=\"{w}\" height=\"20\" fill=\"url(#s)\"/></g>\
             <g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" font-size=\"11\">",
            colour = self.colour,
        );
        for (x, width, text) in [
            (lw / 2.0, label_w, &label),
            (lw + mw / 2.0, message_w, &message),
        ] {
            // A faint shadow one pixel down, then the text.
            let _ = write!(
                out,
                "<text x=\"{x}\" y=\"15\" fill=\"#010101\" fill-opacity=\".3\" textLength=\"{width:.1}\">{text}</text>\
                 <text x=\"{x}\" y=\"14\" textLength=\"{width:.1}\">{text}</text>",
            );
        }
        out.push_str("</g></svg>\n");
        out
    }
}

fn colour(status: Status) -> &'static str {
    match status {
        Status::Up => "#1a7f37",
        Status::Degraded => "#9a6700",
        Status::Down => "#cf222e",
        Status::Maintenance => "#0969da",
        Status::Unknown => "#6e7781",
    }
}

/// 0.99996 → "99.99%", 1.0 → "100%": two decimals at most, rounded down.
fn percent_down(ratio: f64) -> String {
    // The small addition keeps 0.9995 (stored as 0.99949999…) at 99.95.
    let hundredths = (ratio.clamp(0.0, 1.0) * 10_000.0 + 1e-6).floor() as u64;
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    match frac {
        0 => format!("{whole}%"),
        f if f % 10 == 0 => format!("{whole}.{}%", f / 10),
        f => format!("{whole}.{f:02}%"),
    }
}

/// Width in pixels of `text` in 11 px Verdana.
fn text_width(text: &str) -> f64 {
    let units: u32 = text.chars().map(advance).sum();
    f64::from(units) * 11.0 / 2048.0
}

/// Verdana's advance widths in font units (2048 per em) for printable ASCII; other characters
/// are taken as wide as a digit, East Asian wide ones as a full em.
fn advance(c: char) -> u32 {
    #[rustfmt::skip]
    const ASCII: [u16; 95] = [
        // space ! " # $ % & ' ( ) * + , - . /
        720, 809, 942, 1716, 1303, 2212, 1493, 548, 1024, 1024, 1303, 1716, 745, 862, 745, 1034,
        // 0-9
        1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303,
        // : ; < = > ? @
        887, 887, 1716, 1716, 1716, 1112, 2048,
        // A-Z
        1401, 1405, 1432, 1577, 1294, 1178, 1587, 1540, 862, 920, 1419, 1145, 1730, 1532, 1612,
        1235, 1612, 1429, 1405, 1256, 1499, 1401, 2025, 1403, 1256, 1405,
        // [ \ ] ^ _ `
        1024, 1034, 1024, 1716, 1303, 1303,
        // a-z
        1229, 1276, 1067, 1276, 1220, 720, 1276, 1296, 562, 705, 1198, 562, 1992, 1296, 1243,
        1276, 1276, 874, 1067, 807, 1296, 1198, 1654, 1198, 1198, 1051,
        // { | } ~
        1303, 1024, 1303, 1716,
    ];
    match c {
        ' '..='~' => u32::from(ASCII[c as usize - 0x20]),
        '\u{1100}'..='\u{115F}' | '\u{2E80}'..='\u{A4CF}' | '\u{AC00}'..='\u{D7A3}' => 2048,
        '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FF60}' | '\u{20000}'..='\u{3FFFD}' => 2048,
        _ => 1303,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// How many services' files this thread made.
        pub(super) static MADE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// When every badge is due (the first publish, once a minute after), their files are made
    /// one service at a time as they are written, not all of them first.
    #[test]
    fn due_badges_are_made_one_service_at_a_time() {
        let example = crate::snapshot::example();
        let mut snapshot = example.clone();
        snapshot.services = (0..1000)
            .map(|i| Service {
                slug: format!("s{i}"),
                ..example.services[0].clone()
            })
            .collect();
        let kept = Kept::default();
        let made = || MADE.with(|m| m.get());
        let before = made();
        let mut due = kept.due(&snapshot, Path::new("/out"));
        assert_eq!(made(), before, "nothing made before it is walked");
        let (s, k, files) = due.next().unwrap();
        assert_eq!(made(), before + 1);
        assert_eq!(files[0].0, "badges/s0.svg");
        kept.written(&s.slug, k);
        assert_eq!(due.len(), 999);
        assert_eq!(due.count(), 999);
        assert_eq!(made(), before + 1000);
    }

    /// Badges are made again only when what they say changes; then, exactly when their bytes
    /// would differ.
    #[test]
    fn a_badge_is_made_again_only_when_what_it_says_changes() {
        let mut snapshot = crate::snapshot::example();
        let kept = Kept::default();
        let first: Vec<_> = kept.due(&snapshot, Path::new("/out")).collect();
        assert_eq!(first.len(), snapshot.services.len());
        for (s, k, _) in &first {
            kept.written(&s.slug, *k);
        }
        // A new check: new latency and time, the same figures.
        for s in &mut snapshot.services {
            s.latency_ms = Some(99.9);
            s.checked_at = s.checked_at.map(|t| t + chrono::Duration::seconds(5));
            s.uptime_coverage.week = 0.5;
        }
        assert_eq!(kept.due(&snapshot, Path::new("/out")).len(), 0);
        let changes: [&dyn Fn(&mut Service); 3] =
            [&|s| s.status = Status::Down, &|s| s.name.push('!'), &|s| {
                s.uptime.day = Some(s.uptime.day.unwrap_or(1.0) - 0.01)
            }];
        for change in changes {
            let before: Vec<_> = files(&snapshot).collect();
            change(&mut snapshot.services[0]);
            let due: Vec<_> = kept.due(&snapshot, Path::new("/out")).collect();
            assert_eq!(due.len(), 1);
            assert_eq!(due[0].0.slug, snapshot.services[0].slug);
            assert_ne!(due[0].2[0].1, before[0].1, "the svg changes");
            kept.written(&due[0].0.slug, due[0].1);
        }
        // Not written (a failure): due again next cycle.
        let s1 = &mut snapshot.services[1];
        s1.status = if s1.status == Status::Maintenance {
            Status::Up
        } else {
            Status::Maintenance
        };
        assert_eq!(kept.due(&snapshot, Path::new("/out")).len(), 1);
        assert_eq!(kept.due(&snapshot, Path::new("/out")).len(), 1);
        // Another out_dir (a reload): every badge is made for it.
        let n = snapshot.services.len();
        assert_eq!(kept.due(&snapshot, Path::new("/elsewhere")).len(), n);
    }

    fn badge_files() -> Vec<(String, String)> {
        files(&crate::snapshot::example())
            .map(|(n, b)| (n, String::from_utf8(b).unwrap()))
            .collect()
    }

    #[test]
    fn the_json_is_a_shields_endpoint() {
        let files = badge_files();
        let (_, json) = files
            .iter()
            .find(|(n, _)| n == "badges/database.json")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"schemaVersion": 1, "label": "Database", "message": "down · 100%", "color": "#cf222e"})
        );
        assert_eq!(files.len(), 2 * crate::snapshot::example().services.len());
    }

    #[test]
    fn without_24h_figures_the_message_is_the_status_word() {
        let mut s = crate::snapshot::example();
        s.services[0].uptime.day = None;
        let b = Badge::of(&s.services[0]);
        assert_eq!(b.message, "up");
        assert_eq!(b.title, "Symbiont API: up");
    }

    #[test]
    fn a_day_not_watched_in_full_says_since_when() {
        let mut s = crate::snapshot::example();
        let svc = &mut s.services[0];
        svc.observed_since = Some(svc.checked_at.unwrap() - chrono::Duration::minutes(5));
        svc.uptime_coverage.day = 0.0034;
        let b = Badge::of(svc);
        assert_eq!(b.message, "up · 100% since 09:55");
        assert_eq!(
            b.title,
            "Symbiont API: up, 100% available since 2026-11-24 09:55 UTC (watched for less than 24 hours)"
        );
        assert!(b.json().contains("\"message\":\"up · 100% since 09:55\""));
    }

    #[test]
    fn the_svg_is_escaped_titled_and_sized() {
        let files = badge_files();
        let (_, svg) = files
            .iter()
            .find(|(n, _)| n == "badges/web-shop.svg")
            .unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains(
            "<title>Web &lt;shop&gt;: degraded, 100% available in the last 24 hours</title>"
        ));
        assert!(svg.contains("aria-label=\"Web &lt;shop&gt;: degraded"));
        assert!(!svg.contains("<shop>"));
        assert!(svg.contains("fill=\"#9a6700\""));
        // Each text appears twice (shadow and text), and the badge is as wide as its parts.
        assert_eq!(svg.matches(">degraded · 100%</text>").count(), 2);
        let width: f64 = svg
            .split("width=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let expected = (text_width("Web <shop>") + 10.0).round()
            + (text_width("degraded · 100%") + 10.0).round();
        assert_eq!(width, expected);
        assert!((100.0..200.0).contains(&width), "{width}");
    }

    #[test]
    fn wider_text_makes_a_wider_badge() {
        assert!(text_width("WWW") > text_width("iii") * 2.0);
        assert!(text_width("监控") > text_width("ab"));
        assert_eq!(text_width(""), 0.0);
    }

    #[test]
    fn percentages_round_down() {
        assert_eq!(percent_down(1.0), "100%");
        assert_eq!(percent_down(0.99996), "99.99%");
        assert_eq!(percent_down(0.9995), "99.95%");
        assert_eq!(percent_down(0.999), "99.9%");
        assert_eq!(percent_down(0.5), "50%");
        assert_eq!(percent_down(0.0), "0%");
    }

    #[test]
    fn badges_of_removed_services_are_pruned_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let badges = dir.path().join("badges");
        std::fs::create_dir_all(&badges).unwrap();
        for name in [
            "database.svg",
            "database.svg.gz",
            "gone.svg",
            "gone.json",
            "gone.svg.gz",
            "gone.json.gz",
            "README.txt",
            ".publish-x.svg",
        ] {
            std::fs::write(badges.join(name), "x").unwrap();
        }
        assert_eq!(prune(dir.path(), &crate::snapshot::example()).unwrap(), 4);
        let mut left: Vec<String> = std::fs::read_dir(&badges)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".publish-x.svg",
                "README.txt",
                "database.svg",
                "database.svg.gz"
            ]
        );
        assert_eq!(
            prune(&dir.path().join("nothing"), &crate::snapshot::example()).unwrap(),
            0
        );
    }
}
