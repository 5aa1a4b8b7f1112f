//! The file `history.json` on disk, version 2, and the reading of version 1 (migrated: the next
//! save writes version 2).
//!
//! Version 2 is columns of integers, one line per service:
//! `{"version":2,"generation":N,"services":{` then per service
//! `"slug":{"last_status":"up","last_checked":"…","first_checked":"…","day":"2025-11-24",
//! "ok":[…],"down":[…],"bucket":1795000000,"fine_ok":[…],"fine_down":[…],"lat_n":[…],
//! "lat_us":[…]}` (`day` is the date of the first entry of `ok` and `down`, one entry per day
//! from it to the newest; `bucket` the start in seconds of the first entry of the four `fine`
//! columns, one per five minutes), then `},"incidents":[…]}` as in version 1. A year of a
//! service is about 6 KB, against 72 KB in version 1 (a JSON object per day and per bucket).
//!
//! It is written as a stream from the records ([`write`]): no copy of the history is made.
//! It is read one service at a time into its rings ([`parse`]), trimmed to the bounds while
//! read, and what was trimmed is counted for the load to report.

use super::records::{Bucket, Day, Ring, date_key, day_date};
use super::*;
use serde::Serializer;

/// What reading a file trimmed or mended, to be reported.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Trimmed {
    pub days: usize,
    pub buckets: usize,
    pub latencies: usize,
}

impl Trimmed {
    fn plus(self, o: Trimmed) -> Trimmed {
        Trimmed {
            days: self.days + o.days,
            buckets: self.buckets + o.buckets,
            latencies: self.latencies + o.latencies,
        }
    }
}

/// A file read.
pub(super) struct Parsed {
    pub version: u32,
    pub generation: u64,
    pub services: BTreeMap<String, ServiceHistory>,
    pub incidents: VecDeque<Incident>,
    pub trimmed: Trimmed,
}

pub(super) enum Problem {
    /// Valid JSON with a version this build does not read.
    Version(u32),
    Invalid(serde_json::Error),
    Io(std::io::Error),
    /// Grew past the limit while it was read.
    TooBig(u64),
}

/// Reads a history file of either version from `reader` (bounded to `limit` and one byte more).
/// What this build writes is parsed as it streams in, without holding the file's bytes: they
/// would add the file's size to the peak at start (43 MB at 5,000 services). Anything else is
/// read whole.
pub(super) fn read(mut reader: impl std::io::BufRead, limit: u64) -> Result<Parsed, Problem> {
    if reader.fill_buf().map_err(Problem::Io)?.starts_with(V2) {
        let file = serde_json::from_reader::<_, File<Loaded>>(reader);
        return from_file(file.map_err(|e| match e.io_error_kind() {
            Some(_) => Problem::Io(e.into()),
            None => Problem::Invalid(e),
        }));
    }
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(Problem::Io)?;
    if bytes.len() as u64 > limit {
        return Err(Problem::TooBig(bytes.len() as u64));
    }
    parse(&bytes)
}

/// How a file this build wrote starts.
const V2: &[u8] = b"{\"version\":2,";

/// Reads a history file of either version.
pub(super) fn parse(bytes: &[u8]) -> Result<Parsed, Problem> {
    #[derive(Deserialize)]
    struct Head {
        version: u32,
    }
    // What this build writes starts so; anything else (by hand, by version 1) is looked at
    // whole first, to tell another version from a file that is not one.
    let version = if bytes.starts_with(V2) {
        2
    } else {
        serde_json::from_slice::<Head>(bytes)
            .map_err(Problem::Invalid)?
            .version
    };
    match version {
        2 => from_file(serde_json::from_slice::<File<Loaded>>(bytes).map_err(Problem::Invalid)),
        1 => from_file(serde_json::from_slice::<File<v1::Loaded>>(bytes).map_err(Problem::Invalid)),
        other => Err(Problem::Version(other)),
    }
}

fn from_file<L: Into<Loaded>>(file: Result<File<L>, Problem>) -> Result<Parsed, Problem> {
    let file = file?;
    let mut trimmed = Trimmed::default();
    let services = file
        .services
        .into_iter()
        .map(|(slug, l)| {
            let l: Loaded = l.into();
            trimmed = trimmed.plus(l.trimmed);
            (slug, l.history)
        })
        .collect();
    Ok(Parsed {
        version: file.version,
        generation: file.generation,
        services,
        incidents: file.incidents,
        trimmed,
    })
}

/// The whole file, generic over how a service is read.
#[derive(Deserialize)]
struct File<S> {
    version: u32,
    /// Which journal (`history.journal-<generation>`) continues this file; 0 in files written
    /// before the journal, which have none.
    #[serde(default)]
    generation: u64,
    services: BTreeMap<String, S>,
    /// Newest first.
    incidents: VecDeque<Incident>,
}

/// One service as read, and what reading it trimmed.
struct Loaded {
    history: ServiceHistory,
    trimmed: Trimmed,
}

/// One service in version 2, as on disk.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ServiceV2 {
    last_status: Option<Status>,
    #[serde(with = "time_opt")]
    last_checked: Option<DateTime<Utc>>,
    #[serde(with = "time_opt")]
    first_checked: Option<DateTime<Utc>>,
    day: Option<NaiveDate>,
    ok: Vec<u32>,
    down: Vec<u32>,
    bucket: Option<i64>,
    fine_ok: Vec<u32>,
    fine_down: Vec<u32>,
    lat_n: Vec<u32>,
    lat_us: Vec<u64>,
}

impl<'de> Deserialize<'de> for Loaded {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Converted as soon as read: the columns of one service at a time, never of all.
        ServiceV2::deserialize(d).map(Loaded::from)
    }
}

impl From<ServiceV2> for Loaded {
    fn from(s: ServiceV2) -> Loaded {
        let mut h = ServiceHistory {
            last_status: s.last_status,
            last_checked: s.last_checked,
            first_checked: s.first_checked,
            ..ServiceHistory::default()
        };
        let mut trimmed = Trimmed::default();
        // Columns of unequal length: only the entries all of them have are whole.
        let n = s.ok.len().min(s.down.len());
        trimmed.days += s.ok.len().max(s.down.len()) - n;
        match s.day.map(date_key) {
            Some(first) => {
                let from = n.saturating_sub(KEEP_DAYS);
                trimmed.days += from;
                for i in from..n {
                    let day = Day::new(s.ok[i], s.down[i]);
                    put(&mut h.days, first + i as i64, day);
                }
            }
            None => trimmed.days += n,
        }
        let n = [
            s.fine_ok.len(),
            s.fine_down.len(),
            s.lat_n.len(),
            s.lat_us.len(),
        ];
        let (shortest, longest) = (n.iter().min().copied(), n.iter().max().copied());
        let (n, longest) = (shortest.unwrap_or(0), longest.unwrap_or(0));
        trimmed.buckets += longest - n;
        // Only buckets a check could have made: times chrono can name.
        let first = s
            .bucket
            .filter(|&start| bucket_in_range(start, n))
            .map(|start| start.div_euclid(BUCKET_SECONDS));
        match first {
            Some(first) => {
                let from = n.saturating_sub(FINE_BUCKETS);
                trimmed.buckets += from;
                for i in from..n {
                    if s.lat_n[i] == 0 && s.lat_us[i] != 0 {
                        trimmed.latencies += 1;
                    }
                    let bucket = Bucket::new(
                        records::count16(s.fine_ok[i]),
                        records::count16(s.fine_down[i]),
                        records::count16(s.lat_n[i]),
                        if s.lat_n[i] == 0 { 0 } else { s.lat_us[i] },
                    );
                    put(&mut h.fine, first + i as i64, bucket);
                }
            }
            None => trimmed.buckets += n,
        }
        Loaded {
            history: h,
            trimmed,
        }
    }
}

/// Whether `n` buckets from `start` (seconds) are all times chrono can name.
fn bucket_in_range(start: i64, n: usize) -> bool {
    let end = i64::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(BUCKET_SECONDS))
        .and_then(|len| start.checked_add(len));
    DateTime::from_timestamp(start, 0).is_some()
        && end.is_some_and(|end| DateTime::from_timestamp(end, 0).is_some())
}

/// Adds a record read from a file to its ring: merged with one of the same key, dropped when
/// older than the ring keeps.
fn put<T: Copy + Default + PartialEq + Merge, const N: usize>(
    ring: &mut Ring<T, N>,
    key: i64,
    record: T,
) {
    if record != T::default()
        && let Some(slot) = ring.entry(key)
    {
        slot.merge(record);
    }
}

trait Merge {
    fn merge(&mut self, other: Self);
}

impl Merge for Day {
    fn merge(&mut self, o: Day) {
        *self = Day::new(
            self.ok().saturating_add(o.ok()),
            self.down().saturating_add(o.down()),
        );
    }
}

impl Merge for Bucket {
    fn merge(&mut self, o: Bucket) {
        self.ok = self.ok.saturating_add(o.ok);
        self.down = self.down.saturating_add(o.down);
        self.lat_n = self.lat_n.saturating_add(o.lat_n);
        self.set_lat_us(self.lat_us().saturating_add(o.lat_us()));
    }
}

/// Writes the whole history as version 2 to `out`, a service per line, straight from the
/// records.
pub(super) fn write(
    out: &mut impl std::io::Write,
    generation: u64,
    services: &BTreeMap<String, ServiceHistory>,
    incidents: &VecDeque<Incident>,
) -> std::io::Result<()> {
    write!(
        out,
        "{{\"version\":2,\"generation\":{generation},\"services\":{{"
    )?;
    for (i, (slug, h)) in services.iter().enumerate() {
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut *out, slug)?;
        out.write_all(b":")?;
        serde_json::to_writer(&mut *out, &Columns(h))?;
    }
    out.write_all(b"\n},\"incidents\":")?;
    serde_json::to_writer(&mut *out, incidents)?;
    out.write_all(b"}\n")?;
    Ok(())
}

/// A service as version 2 writes it, serialised from its rings as it goes.
struct Columns<'a>(&'a ServiceHistory);

impl Serialize for Columns<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let h = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(status) = h.last_status {
            m.serialize_entry("last_status", &status)?;
        }
        for (key, t) in [
            ("last_checked", h.last_checked),
            ("first_checked", h.first_checked),
        ] {
            if let Some(t) = t {
                m.serialize_entry(key, &t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))?;
            }
        }
        // From the oldest day with a check to the newest kept.
        if let Some((first, _)) = h.days.records().next()
            && let Some((_, last)) = h.days.range()
            && let Some(date) = day_date(first)
        {
            let column =
                |f: fn(Day) -> u32| Column(move || (first..=last).map(move |k| f(h.days.get(k))));
            m.serialize_entry("day", &date)?;
            m.serialize_entry("ok", &column(|d| d.ok()))?;
            m.serialize_entry("down", &column(|d| d.down()))?;
        }
        if let Some((first, _)) = h.fine.records().next()
            && let Some((_, last)) = h.fine.range()
        {
            let column = |f: fn(Bucket) -> u64| {
                Column(move || (first..=last).map(move |k| f(h.fine.get(k))))
            };
            m.serialize_entry("bucket", &(first * BUCKET_SECONDS))?;
            m.serialize_entry("fine_ok", &column(|b| u64::from(b.ok)))?;
            m.serialize_entry("fine_down", &column(|b| u64::from(b.down)))?;
            m.serialize_entry("lat_n", &column(|b| u64::from(b.lat_n)))?;
            m.serialize_entry("lat_us", &column(|b| b.lat_us()))?;
        }
        m.end()
    }
}

/// A column serialised from an iterator, without collecting it.
struct Column<F>(F);

impl<F, I> Serialize for Column<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

/// The largest a version 2 file can be for `services` configured services, in bytes: every
/// count at its widest, and the incident log full of the longest errors.
pub fn max_file_bytes(services: usize, longest_slug: usize) -> usize {
    // Two u32 columns per day, three u32 and one u64 per bucket, each with its comma.
    const DAY: usize = 2 * 11;
    const BUCKET: usize = 3 * 11 + 21;
    // Two slugs, two statuses, two times, an error of ERROR_CHARS characters (up to 4 bytes each
    // in UTF-8, up to 6 when JSON-escaped as \uXXXX), key names.
    const INCIDENT: usize = 250 + ERROR_CHARS * 6;
    // Key names, the status, two times, the first day and bucket.
    const SERVICE: usize = 300;
    services * (SERVICE + longest_slug + KEEP_DAYS * DAY + FINE_BUCKETS * BUCKET)
        + KEEP_INCIDENTS * (INCIDENT + longest_slug)
        + 100
}

/// The largest a version 1 file could be: what the load limit must still admit, so that the
/// file of the version before is read and migrated rather than set aside.
pub(super) fn max_file_bytes_v1(services: usize, longest_slug: usize) -> usize {
    // `{"date":"2026-11-24","up":4294967295,…,"lat_max":…}` with every field at its widest:
    // five u32 counts (10 digits) + lat_n, three f64 (up to 24 characters each), key names.
    const DAY: usize = 300;
    const BUCKET: usize = 300;
    const INCIDENT: usize = 250 + ERROR_CHARS * 6;
    const SERVICE: usize = 200;
    services * (SERVICE + longest_slug + KEEP_DAYS * DAY + FINE_BUCKETS * BUCKET)
        + KEEP_INCIDENTS * (INCIDENT + longest_slug)
        + 100
}

/// Version 1: a JSON object per day and per bucket, each with five counts and three latency
/// figures in f64 ms. Read, mended as it was, and turned into records.
pub(super) mod v1 {
    use super::*;

    /// What a set of checks found. Zero counts were left out of the file.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
    #[serde(default)]
    pub struct Counts {
        pub up: u32,
        pub degraded: u32,
        pub down: u32,
        pub maintenance: u32,
        pub unknown: u32,
        pub lat_n: u32,
        pub lat_min: f64,
        pub lat_sum: f64,
        pub lat_max: f64,
    }

    impl Counts {
        fn merge(&mut self, other: &Counts) {
            self.up = self.up.saturating_add(other.up);
            self.degraded = self.degraded.saturating_add(other.degraded);
            self.down = self.down.saturating_add(other.down);
            self.maintenance = self.maintenance.saturating_add(other.maintenance);
            self.unknown = self.unknown.saturating_add(other.unknown);
            if other.lat_n > 0 {
                self.lat_min = if self.lat_n == 0 {
                    other.lat_min
                } else {
                    self.lat_min.min(other.lat_min)
                };
                self.lat_max = self.lat_max.max(other.lat_max);
                self.lat_sum += other.lat_sum;
                self.lat_n = self.lat_n.saturating_add(other.lat_n);
            }
        }

        fn is_empty(&self) -> bool {
            self.up == 0
                && self.degraded == 0
                && self.down == 0
                && self.maintenance == 0
                && self.unknown == 0
                && self.lat_n == 0
        }
    }

    #[derive(Debug, Clone, Deserialize)]
    struct DayV1 {
        date: NaiveDate,
        #[serde(flatten)]
        counts: Counts,
    }

    #[derive(Debug, Clone, Deserialize)]
    struct BucketV1 {
        start: i64,
        #[serde(flatten)]
        counts: Counts,
    }

    #[derive(Debug, Default, Deserialize)]
    struct ServiceV1 {
        last_status: Option<Status>,
        #[serde(default, with = "time_opt")]
        last_checked: Option<DateTime<Utc>>,
        #[serde(default, with = "time_opt")]
        first_checked: Option<DateTime<Utc>>,
        days: VecDeque<DayV1>,
        fine: VecDeque<BucketV1>,
    }

    pub(in crate::history) struct Loaded(super::Loaded);

    impl From<Loaded> for super::Loaded {
        fn from(l: Loaded) -> super::Loaded {
            l.0
        }
    }

    impl<'de> Deserialize<'de> for Loaded {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            ServiceV1::deserialize(d).map(|s| Loaded(convert(s)))
        }
    }

    /// Mends a service as version 1 did at load, then keeps what the records keep.
    fn convert(mut s: ServiceV1) -> super::Loaded {
        let (days, c1) = mend_series(&mut s.days, |d| d.date, |d| &mut d.counts, KEEP_DAYS);
        let (buckets, c2) = mend_series(&mut s.fine, |b| b.start, |b| &mut b.counts, FINE_BUCKETS);
        let mut trimmed = Trimmed {
            days,
            buckets,
            latencies: c1 + c2,
        };
        // Version 1 inferred the first check from the oldest data when it had none: kept so.
        let first_checked = s.first_checked.or_else(|| {
            let fine = s
                .fine
                .iter()
                .find(|b| !b.counts.is_empty())
                .and_then(|b| DateTime::from_timestamp(b.start, 0));
            let day = s.days.iter().find(|d| !d.counts.is_empty()).map(|d| d.date);
            match (day, fine) {
                (Some(d), Some(f)) if f.date_naive() == d => Some(f),
                (Some(d), _) => Some(d.and_time(chrono::NaiveTime::MIN).and_utc()),
                (None, f) => f,
            }
        });
        let mut h = ServiceHistory {
            last_status: s.last_status,
            last_checked: s.last_checked,
            first_checked,
            ..ServiceHistory::default()
        };
        for d in &s.days {
            let c = d.counts;
            let day = Day::new(c.up.saturating_add(c.degraded), c.down);
            put(&mut h.days, date_key(d.date), day);
        }
        for b in &s.fine {
            if !bucket_in_range(b.start, 1) {
                trimmed.buckets += 1;
                continue;
            }
            let c = b.counts;
            let bucket = Bucket::new(
                records::count16(c.up.saturating_add(c.degraded)),
                records::count16(c.down),
                records::count16(c.lat_n),
                // Mended above: finite and not negative, or zero.
                if c.lat_n == 0 {
                    0
                } else {
                    records::micros(c.lat_sum).unwrap_or(0)
                },
            );
            put(&mut h.fine, b.start.div_euclid(BUCKET_SECONDS), bucket);
        }
        super::Loaded {
            history: h,
            trimmed,
        }
    }

    /// Sorts a series read from disk by its key, merges entries with the same key, keeps the
    /// newest `keep`, and clears latency figures no check could have measured. Returns how many
    /// entries went and how many latency figures were cleared.
    fn mend_series<T, K: Ord + Copy>(
        series: &mut VecDeque<T>,
        key: impl Fn(&T) -> K,
        counts: impl Fn(&mut T) -> &mut Counts,
        keep: usize,
    ) -> (usize, usize) {
        let before = series.len();
        let mut cleared = 0;
        for item in series.iter_mut() {
            let c = counts(item);
            let sane = [c.lat_min, c.lat_sum, c.lat_max]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0)
                && c.lat_min <= c.lat_max;
            if !sane || (c.lat_n == 0 && (c.lat_sum != 0.0 || c.lat_max != 0.0)) {
                (c.lat_n, c.lat_min, c.lat_sum, c.lat_max) = (0, 0.0, 0.0, 0.0);
                cleared += 1;
            }
        }
        if !series
            .iter()
            .zip(series.iter().skip(1))
            .all(|(a, b)| key(a) < key(b))
        {
            let mut sorted: Vec<T> = std::mem::take(series).into();
            sorted.sort_by_key(&key);
            for item in sorted {
                match series.back_mut() {
                    Some(last) if key(last) == key(&item) => {
                        let mut item = item;
                        let other = *counts(&mut item);
                        counts(last).merge(&other);
                    }
                    _ => series.push_back(item),
                }
            }
        }
        while series.len() > keep {
            series.pop_front();
        }
        (before - series.len(), cleared)
    }
}
