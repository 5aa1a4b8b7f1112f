//! One service's past in a fixed number of integers: a ring of [`KEEP_DAYS`] day records and one
//! of [`FINE_BUCKETS`] five-minute records, each a few `u32` (and the latency sum in whole
//! microseconds), so a year costs the same few KB as a day and nothing is allocated per check.
//!
//! A record keeps only what a figure reads: checks that found the service available (`up` or
//! `degraded`) and `down` (the uptime windows, the strip), and per bucket the latencies measured
//! (the sparkline). Maintenance and unknown checks count toward nothing, so they are not kept.
//! Apart from `mod.rs` (when a check is counted, incidents, load, save) and `figures.rs` (what
//! is computed from the records).

use super::*;

/// A UTC day's number: days since 1970-01-01.
pub(super) fn day_key(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(86_400)
}

/// The date of a day's number, when it is one chrono can name.
pub(super) fn day_date(key: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(key.checked_add(UNIX_EPOCH_CE)?).ok()?)
}

/// The number of a date.
pub(super) fn date_key(date: NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&date)) - UNIX_EPOCH_CE
}

/// 1970-01-01 counted from 0001-01-01 (chrono's day 1).
const UNIX_EPOCH_CE: i64 = 719_163;

/// A five-minute bucket's number: its start in seconds over [`BUCKET_SECONDS`].
pub(super) fn bucket_key(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(BUCKET_SECONDS)
}

/// A latency in ms as whole microseconds, if a check could have measured it.
pub(super) fn micros(ms: f64) -> Option<u64> {
    // `as` saturates: a latency of years is kept as the largest count, not wrapped.
    (ms.is_finite() && ms >= 0.0).then(|| (ms * 1000.0).round() as u64)
}

/// One day of one service: 6 bytes, so the 400 days kept are 2.3 KB.
///
/// Each count is 24 bits: at the shortest interval the config allows (10 ms) a day holds
/// 8,640,000 checks, under 2^24; they saturate rather than wrap past it, and a file's larger
/// counts load saturated. As two `u32` a day was 8 bytes, a third of them never used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Day {
    ok: [u8; 3],
    down: [u8; 3],
}

/// The largest count a day holds.
pub const MAX_DAY_COUNT: u32 = (1 << 24) - 1;

/// A 24-bit count, little-endian.
fn get24(b: [u8; 3]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], 0])
}

fn put24(n: u32) -> [u8; 3] {
    let [a, b, c, _] = n.min(MAX_DAY_COUNT).to_le_bytes();
    [a, b, c]
}

impl Day {
    /// A day of these counts, each saturated at [`MAX_DAY_COUNT`].
    pub fn new(ok: u32, down: u32) -> Day {
        Day {
            ok: put24(ok),
            down: put24(down),
        }
    }

    /// Checks that found it `up` or `degraded`: it answered.
    pub fn ok(&self) -> u32 {
        get24(self.ok)
    }

    pub fn down(&self) -> u32 {
        get24(self.down)
    }

    pub(super) fn add(&mut self, status: Status) {
        match status {
            Status::Up | Status::Degraded => self.ok = put24(self.ok().saturating_add(1)),
            Status::Down => self.down = put24(self.down().saturating_add(1)),
            Status::Maintenance | Status::Unknown => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Day::default()
    }

    /// Availability as [`Uptime`] defines it: available among available and down.
    pub fn availability(&self) -> Option<f64> {
        Sum::from(*self).availability()
    }
}

/// Five minutes of one service: 12 bytes, so a day of them is 3.5 KB.
///
/// The counts are `u16`: at the shortest interval the config allows (10 ms) five minutes hold
/// 30,000 checks, under `u16::MAX`; they saturate rather than wrap past it, and a file's larger
/// counts load saturated. The latency sum is 48 bits ([`Bucket::lat_us`]), saturating at 2^48
/// µs (nine years of latency in five minutes). With `u32` counts and a `u64` sum a bucket was
/// 24 bytes, two thirds of a service's resident history, for nothing a check can reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    pub ok: u16,
    pub down: u16,
    /// Checks that measured a latency.
    pub lat_n: u16,
    /// The sum of those latencies in µs: its high 16 bits, then its low 32.
    lat_hi: u16,
    lat_lo: u32,
}

/// The largest latency sum a bucket holds.
pub const MAX_LAT_US: u64 = (1 << 48) - 1;

impl Bucket {
    /// A bucket of these counts and latency sum (saturated at [`MAX_LAT_US`]).
    pub fn new(ok: u16, down: u16, lat_n: u16, lat_us: u64) -> Bucket {
        let mut b = Bucket {
            ok,
            down,
            lat_n,
            ..Bucket::default()
        };
        b.set_lat_us(lat_us);
        b
    }

    /// The sum of the latencies measured, in µs.
    pub fn lat_us(&self) -> u64 {
        (u64::from(self.lat_hi) << 32) | u64::from(self.lat_lo)
    }

    pub(super) fn set_lat_us(&mut self, us: u64) {
        let us = us.min(MAX_LAT_US);
        self.lat_hi = (us >> 32) as u16;
        self.lat_lo = us as u32;
    }
}

/// A count read from a file or summed wider, as a bucket keeps it.
pub(super) fn count16(n: impl TryInto<u16>) -> u16 {
    n.try_into().unwrap_or(u16::MAX)
}

impl Bucket {
    pub(super) fn add(&mut self, status: Status, latency_us: Option<u64>) {
        match status {
            Status::Up | Status::Degraded => self.ok = self.ok.saturating_add(1),
            Status::Down => self.down = self.down.saturating_add(1),
            Status::Maintenance | Status::Unknown => {}
        }
        if let Some(us) = latency_us {
            self.lat_n = self.lat_n.saturating_add(1);
            self.set_lat_us(self.lat_us().saturating_add(us));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ok == 0 && self.down == 0 && self.lat_n == 0
    }
}

/// Availability counts summed over many records (a window), wide enough never to saturate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Sum {
    pub ok: u64,
    pub down: u64,
}

impl Sum {
    pub fn add(&mut self, ok: u32, down: u32) {
        self.ok += u64::from(ok);
        self.down += u64::from(down);
    }

    pub fn plus(self, other: Sum) -> Sum {
        Sum {
            ok: self.ok.saturating_add(other.ok),
            down: self.down.saturating_add(other.down),
        }
    }

    pub fn availability(&self) -> Option<f64> {
        let counted = self.ok.saturating_add(self.down);
        (counted > 0).then(|| self.ok as f64 / counted as f64)
    }
}

impl From<Day> for Sum {
    fn from(d: Day) -> Sum {
        Sum {
            ok: u64::from(d.ok()),
            down: u64::from(d.down()),
        }
    }
}

/// The newest `N` records by key (a day's or a bucket's number), one slot per key: the slot of
/// key `k` is `k mod N`. Every slot holds the record of the one key in range that maps to it
/// (zero when that key had no check), so moving on clears the slots it passes and nothing else
/// is ever searched, sorted or allocated. Allocated at the first record.
#[derive(Debug, Clone)]
pub struct Ring<T, const N: usize> {
    /// The key of the newest slot; `None` while nothing was recorded.
    last: Option<i64>,
    slots: Box<[T]>,
}

impl<T, const N: usize> Default for Ring<T, N> {
    fn default() -> Self {
        Ring {
            last: None,
            slots: Box::new([]),
        }
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> Ring<T, N> {
    fn slot(key: i64) -> usize {
        // N is a few hundred; the remainder fits.
        key.rem_euclid(N as i64) as usize
    }

    /// The keys the ring holds, oldest and newest.
    pub fn range(&self) -> Option<(i64, i64)> {
        let last = self.last?;
        Some((last.saturating_sub(N as i64 - 1), last))
    }

    /// The record of `key`, zero when it had none or is out of range.
    pub fn get(&self, key: i64) -> T {
        match self.range() {
            Some((first, last)) if (first..=last).contains(&key) => self.slots[Self::slot(key)],
            _ => T::default(),
        }
    }

    /// The record of `key` to add to, moving the ring on to it if it is newer than the newest
    /// (clearing the slots it passes); `None` when it is older than the oldest kept.
    pub fn entry(&mut self, key: i64) -> Option<&mut T> {
        if self.slots.is_empty() {
            self.slots = vec![T::default(); N].into_boxed_slice();
        }
        match self.last {
            Some(last) if key > last => {
                let passed = key.saturating_sub(last).min(N as i64);
                for k in 0..passed {
                    self.slots[Self::slot(key - k)] = T::default();
                }
                self.last = Some(key);
            }
            Some(_) if self.range().is_some_and(|(first, _)| key < first) => return None,
            Some(_) => {}
            None => self.last = Some(key),
        }
        Some(&mut self.slots[Self::slot(key)])
    }

    /// Drops the records after `key` (the clock stepped back to it).
    pub fn truncate_after(&mut self, key: i64) {
        let Some(last) = self.last.filter(|&last| last > key) else {
            return;
        };
        let dropped = last.saturating_sub(key).min(N as i64);
        for k in 0..dropped {
            self.slots[Self::slot(last - k)] = T::default();
        }
        self.last = Some(key);
    }

    /// Every record from key `from` (or the oldest kept) to the newest, zero or not, with its
    /// key: walked slot by slot, as a cycle does over a day of buckets.
    pub fn from(&self, from: i64) -> impl Iterator<Item = (i64, T)> + '_ {
        let (first, last) = self.range().unwrap_or((1, 0));
        let start = from.max(first);
        let mut slot = if start <= last { Self::slot(start) } else { 0 };
        (start..=last).map(move |k| {
            let record = self.slots[slot];
            slot = if slot + 1 == N { 0 } else { slot + 1 };
            (k, record)
        })
    }

    /// The records that are not zero, oldest first, with their keys.
    pub fn records(&self) -> impl Iterator<Item = (i64, T)> + '_ {
        self.from(i64::MIN).filter(|(_, r)| *r != T::default())
    }

    /// Integers this ring keeps resident, `per` for each record.
    pub fn stored_values(&self, per: usize) -> usize {
        self.slots.len() * per + 1
    }

    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.slots)
    }
}

/// The strip of past days and the sums of the windows before today, computed once per day
/// ([`ServiceHistory::past`]) and kept until the day changes or a past record does.
#[derive(Debug, Clone)]
pub(super) struct Past {
    /// The day (its number) these are for: the past is everything before it.
    pub today: i64,
    /// [`WINDOWS`] without today: days `today - (n - 1)` to `today - 1`.
    pub windows: [Sum; 4],
    /// Availability of days `today - (DAYS - 1)` to `today - 1` in ten-thousandths, as the strip
    /// rounds it; [`NO_DAY`] for a day without a countable check.
    pub strip: [u16; DAYS - 1],
}

/// The 24-hour figures of the buckets before the newest, kept until a new bucket starts or the
/// window moves on (every five minutes at most), so a cycle adds only the newest bucket.
#[derive(Debug, Clone)]
pub(super) struct Recent {
    /// The newest bucket these leave out, the window's first bucket, the first latency slot.
    pub newest: i64,
    pub window_from: i64,
    pub first_slot: i64,
    /// Availability over the window's buckets before the newest.
    pub day: Sum,
    /// Each slot's average latency in tenths of a ms as the sparkline rounds it ([`NO_SLOT`]
    /// when none was measured), but for the newest bucket's slot, which is still filling:
    /// for it, the checks and µs of its other buckets.
    pub slots: [u32; LATENCY_SLOTS],
    pub filling: (u32, u64),
}

pub(super) const NO_SLOT: u32 = u32::MAX;

/// The uptime windows in days: week, month, quarter, year.
pub(super) const WINDOWS: [i64; 4] = [7, 30, 90, 365];
pub(super) const NO_DAY: u16 = u16::MAX;

/// The history of one service.
#[derive(Debug, Clone, Default)]
pub struct ServiceHistory {
    /// The status of the last check recorded, to see a change across a restart.
    pub last_status: Option<Status>,
    /// When the last recorded check was taken: a probe result is counted once, however many
    /// cycles show it (a slow probe keeps its slot across cycles).
    pub last_checked: Option<DateTime<Utc>>,
    /// When the first check was recorded. Windows and quarter hours before it were not
    /// watched, and the page and feed say so rather than count them as up or down. Absent from
    /// files written before it existed: [`ServiceHistory::since`] infers it then.
    pub first_checked: Option<DateTime<Utc>>,
    pub(super) days: Ring<Day, KEEP_DAYS>,
    pub(super) fine: Ring<Bucket, FINE_BUCKETS>,
    /// Figures of the past days, kept between cycles; `None` when they must be computed again.
    pub(super) past: Option<Past>,
    /// Figures of the last 24 hours but the newest bucket, likewise.
    pub(super) recent: Option<Box<Recent>>,
    /// The day strip and latency slots last handed out ([`share`]); the snapshots hold them
    /// too, so keeping them here costs two pointers.
    pub(super) shown: (Series, Series),
}

/// `fresh` as the series handed out last (`kept`) when it holds the same values, bit for bit;
/// otherwise `fresh`, kept for next time. A strip of good days or a steady latency is then one
/// copy for every snapshot alive, not one each.
pub(super) fn share(kept: &mut Series, fresh: Series) -> Series {
    if !kept.same(&fresh) {
        *kept = fresh;
    }
    Series::clone(kept)
}

/// Equal when they hold the same records: where a record sits in a ring, and what is cached
/// from them, is no part of what the history says.
impl PartialEq for ServiceHistory {
    fn eq(&self, other: &Self) -> bool {
        (self.last_status, self.last_checked, self.first_checked)
            == (other.last_status, other.last_checked, other.first_checked)
            && self.days.records().eq(other.days.records())
            && self.fine.records().eq(other.fine.records())
    }
}

impl ServiceHistory {
    /// Counts one check at `at` (not older than the newest record: see [`Self::truncate_after`]).
    pub(super) fn add(&mut self, status: Status, latency_ms: Option<f64>, at: DateTime<Utc>) {
        let day = day_key(at);
        // A check on any day but the one the past was computed for may change a past day (a
        // first check after midnight, a clock ahead): computed again at the next figures.
        if self.past.as_ref().is_some_and(|p| p.today != day) {
            self.past = None;
        }
        if let Some(d) = self.days.entry(day) {
            d.add(status);
        }
        if let Some(b) = self.fine.entry(bucket_key(at)) {
            b.add(status, latency_ms.and_then(micros));
        }
    }

    /// Drops the records dated after `at`: the clock stepped back to it.
    pub(super) fn truncate_after(&mut self, at: DateTime<Utc>) {
        self.days.truncate_after(day_key(at));
        self.fine.truncate_after(bucket_key(at));
        self.past = None;
        self.recent = None;
    }

    /// The days that had a countable check, oldest first.
    pub fn days(&self) -> Vec<(NaiveDate, Day)> {
        self.days
            .records()
            .filter_map(|(k, d)| Some((day_date(k)?, d)))
            .collect()
    }

    /// The five-minute buckets that had a check, oldest first, with their start in seconds.
    pub fn buckets(&self) -> Vec<(i64, Bucket)> {
        self.fine
            .records()
            .map(|(k, b)| (k * BUCKET_SECONDS, b))
            .collect()
    }

    /// The integers this history keeps resident, whatever it has seen: two per day record, four
    /// per bucket, the cached past and a few scalars. Constant per service by design.
    pub fn stored_values(&self) -> usize {
        // last_status, last_checked, first_checked.
        const SCALARS: usize = 3;
        let past = self
            .past
            .as_ref()
            .map_or(0, |p| 1 + 2 * p.windows.len() + p.strip.len());
        let recent = self
            .recent
            .as_ref()
            .map_or(0, |r| 3 + 2 + r.slots.len() + 2);
        SCALARS + self.days.stored_values(2) + self.fine.stored_values(4) + past + recent
    }

    /// Bytes this history holds in memory (itself and its rings; not the map's node or slug).
    pub fn resident_bytes(&self) -> usize {
        let recent = self.recent.as_ref().map_or(0, |_| size_of::<Recent>());
        size_of::<Self>() + self.days.heap_bytes() + self.fine.heap_bytes() + recent
    }
}
