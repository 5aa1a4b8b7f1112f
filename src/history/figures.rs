//! What the page shows of one service's past, computed from its records: when watching began,
//! the uptime windows with their coverage, the 90-day strip and the 24-hour latency slots.
//! Apart from `mod.rs`, which keeps the records and what changes them (observe, load, save).
//!
//! **Incremental.** The days before today change once a day, so what the windows and the strip
//! take from them is computed once per day ([`ServiceHistory::past`]) and kept; a cycle adds
//! today's record (and any dated after today, while the clock is behind the history) and folds
//! the 24 hours of buckets. The kept part is dropped, and computed again, when a record of a
//! day other than the one it was computed on changes (a check after midnight, a clock step, a
//! load): the figures are the same as computing everything from the records every cycle, which
//! a property test checks.

use super::records::{Bucket, NO_DAY, NO_SLOT, Past, Recent, Sum, WINDOWS, day_key};
use super::*;
use crate::snapshot::series;

impl ServiceHistory {
    /// When this service was first checked: the recorded time, or for a file written before it
    /// was recorded, the start of the oldest data kept (the oldest five minutes if they fall on
    /// the oldest day, else that day's midnight).
    pub fn since(&self) -> Option<DateTime<Utc>> {
        if self.first_checked.is_some() {
            return self.first_checked;
        }
        let fine = self
            .fine
            .records()
            .next()
            .and_then(|(k, _)| DateTime::from_timestamp(k.checked_mul(BUCKET_SECONDS)?, 0));
        let day = self
            .days
            .records()
            .next()
            .and_then(|(k, _)| records::day_date(k));
        match (day, fine) {
            (Some(d), Some(f)) if f.date_naive() == d => Some(f),
            (Some(d), _) => Some(d.and_time(chrono::NaiveTime::MIN).and_utc()),
            (None, f) => f,
        }
    }

    /// The figures of the days before `today` (a day's number), from the cache when it is for
    /// that day.
    pub(super) fn past(&mut self, today: i64) -> &Past {
        match self.past.take() {
            Some(past) if past.today == today => self.past.insert(past),
            _ => {
                let past = self.compute_past(today);
                self.past.insert(past)
            }
        }
    }

    /// The windows' sums and the strip over the days before `today`: a walk of up to 364
    /// records, once per day.
    fn compute_past(&self, today: i64) -> Past {
        let mut past = Past {
            today,
            windows: [Sum::default(); 4],
            strip: [NO_DAY; DAYS - 1],
        };
        let strip_first = today - (DAYS as i64 - 1);
        let days = self.days.from(today - (WINDOWS[3] - 1));
        for (key, d) in days.take_while(|(key, _)| *key < today) {
            if d.is_empty() {
                continue;
            }
            for (sum, n) in past.windows.iter_mut().zip(WINDOWS) {
                if key >= today - (n - 1) {
                    sum.add(d.ok(), d.down());
                }
            }
            if let Ok(i) = usize::try_from(key - strip_first)
                && let Some(r) = d.availability()
            {
                past.strip[i] = strip_code(r);
            }
        }
        past
    }

    /// Each window's availability, and how much of it was watched.
    pub(super) fn uptime(&mut self, now: DateTime<Utc>) -> (Uptime, Coverage) {
        let fine = match self.recent(now) {
            Some((recent, newest)) => {
                let mut day = recent.day;
                if recent.newest >= recent.window_from {
                    day.add(newest.ok.into(), newest.down.into());
                }
                day
            }
            None => Sum::default(),
        };
        let today = day_key(now);
        // Today, and the days after it while the clock is behind the history: they count in
        // every window, as they did when the windows were summed from the newest day back.
        let mut recent = Sum::default();
        for (_, d) in self.days.from(today) {
            recent.add(d.ok(), d.down());
        }
        let windows = self.past(today).windows;
        let window = |i: usize| windows[i].plus(recent).availability().map(ratio);
        let uptime = Uptime {
            day: fine.availability().map(ratio),
            week: window(0),
            month: window(1),
            quarter: window(2),
            year: window(3),
        };
        let since = self.since();
        let today = now.date_naive();
        // The share of [start, now] after `since`, to six decimals like the ratios, rounded down so that only a window watched
        // from its start reads 1.
        let covered = |start: DateTime<Utc>| match since {
            None => 0.0,
            Some(since) if since <= start => 1.0,
            Some(since) => {
                let span = (now - start).num_milliseconds().max(1) as f64;
                let seen = (now - since).num_milliseconds().max(0) as f64;
                ((seen / span).min(1.0) * 1e6).floor() / 1e6
            }
        };
        let day_window = |days: i64| {
            covered(
                (today - Duration::days(days - 1))
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc(),
            )
        };
        let coverage = Coverage {
            day: covered(now - Duration::hours(24)),
            week: day_window(7),
            month: day_window(30),
            quarter: day_window(90),
            year: day_window(365),
        };
        (uptime, coverage)
    }

    /// The last [`DAYS`] days' availability, oldest first, today last.
    /// Kept as the codes (ten-thousandths) they are computed in ([`Series::coded`]).
    pub(super) fn day_strip(&mut self, now: DateTime<Utc>) -> Series {
        let today = day_key(now);
        let d = self.days.get(today);
        let past = self.past(today);
        let day = |code: u16| match code {
            NO_DAY => series::NONE,
            code => u32::from(code),
        };
        let codes = past.strip.iter().map(|&code| day(code));
        let today = d.availability().map_or(NO_DAY, strip_code);
        Series::coded(STRIP_UNIT, codes.chain([day(today)]))
    }

    /// Average latency per [`LATENCY_SLOTS`]th of the last 24 hours, oldest first.
    /// Kept as the codes (tenths of a ms) they are computed in ([`Series::coded`]).
    pub(super) fn latency_slots(&mut self, now: DateTime<Utc>) -> Series {
        let Some((recent, newest)) = self.recent(now) else {
            return Series::coded(SLOT_UNIT, [series::NONE; LATENCY_SLOTS]);
        };
        let filling = slot_of(recent.newest, recent.first_slot);
        let codes = recent.slots.iter().enumerate().map(|(i, &code)| {
            if Some(i) == filling {
                let (n, us) = recent.filling;
                let n = n.saturating_add(newest.lat_n.into());
                let us = us.saturating_add(newest.lat_us());
                if n > 0 { slot_code(n, us) } else { NO_SLOT }
            } else {
                code
            }
        });
        Series::coded(SLOT_UNIT, codes)
    }

    /// The figures of the 24 hours but the newest bucket, from the cache when it is for this
    /// newest bucket and this window, and the newest bucket.
    fn recent(&mut self, now: DateTime<Utc>) -> Option<(&Recent, Bucket)> {
        let (_, newest) = self.fine.range()?;
        let window_from = bucket_key_of(now.timestamp() - 86_400);
        let first_slot = now.timestamp().div_euclid(SLOT_SECONDS) - (LATENCY_SLOTS as i64 - 1);
        let fresh = self.recent.as_ref().is_some_and(|r| {
            (r.newest, r.window_from, r.first_slot) == (newest, window_from, first_slot)
        });
        if !fresh {
            let mut recent = Box::new(Recent {
                newest,
                window_from,
                first_slot,
                day: Sum::default(),
                slots: [NO_SLOT; LATENCY_SLOTS],
                filling: (0, 0),
            });
            let filling = slot_of(newest, first_slot);
            let mut sums = [(0u32, 0u64); LATENCY_SLOTS];
            let first_bucket = first_slot * BUCKETS_PER_SLOT;
            for (key, b) in self.fine.from(window_from.min(first_bucket)) {
                if key >= newest {
                    break;
                }
                if key >= window_from {
                    recent.day.add(b.ok.into(), b.down.into());
                }
                if b.lat_n > 0
                    && let Some(i) = slot_of(key, first_slot)
                {
                    let (n, us) = &mut sums[i];
                    *n = n.saturating_add(b.lat_n.into());
                    *us = us.saturating_add(b.lat_us());
                }
            }
            for (i, (n, us)) in sums.into_iter().enumerate() {
                if Some(i) == filling {
                    recent.filling = (n, us);
                } else if n > 0 {
                    recent.slots[i] = slot_code(n, us);
                }
            }
            self.recent = Some(recent);
        }
        let newest = self.fine.get(newest);
        self.recent.as_deref().map(|r| (r, newest))
    }
}

/// Seconds per latency slot.
const SLOT_SECONDS: i64 = 86_400 / LATENCY_SLOTS as i64;
const BUCKETS_PER_SLOT: i64 = SLOT_SECONDS / BUCKET_SECONDS;

/// The slot of bucket `key` among those from `first_slot` on, if it is one of them.
fn slot_of(key: i64, first_slot: i64) -> Option<usize> {
    let i = (key - first_slot * BUCKETS_PER_SLOT).div_euclid(BUCKETS_PER_SLOT);
    usize::try_from(i).ok().filter(|&i| i < LATENCY_SLOTS)
}

/// An average latency as the sparkline shows it: in tenths of a ms, rounded (below [`NO_SLOT`]).
fn slot_code(n: u32, us: u64) -> u32 {
    let tenths = (us as f64 / f64::from(n) / 1000.0 * 10.0).round();
    // `as` saturates; the largest code is a latency of 12 years.
    (tenths as u32).min(NO_SLOT - 1)
}

// A latency slot is a whole number of buckets.
const _: () = assert!((86_400 / LATENCY_SLOTS as i64) % BUCKET_SECONDS == 0);

/// The first bucket whose five minutes end after `since` (seconds).
fn bucket_key_of(since: i64) -> i64 {
    since.div_euclid(BUCKET_SECONDS)
}

/// What a strip code and a slot code count: ten-thousandths, tenths of a ms.
const STRIP_UNIT: f64 = 10_000.0;
const SLOT_UNIT: f64 = 10.0;
// A slot without a latency is a series' missing value as it is.
const _: () = assert!(NO_SLOT == series::NONE);

/// A day's availability as the strip shows it: in ten-thousandths, rounded.
fn strip_code(r: f64) -> u16 {
    (r * 10_000.0).round() as u16
}
