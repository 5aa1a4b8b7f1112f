//! What the page shows of one service's past, computed from its records: when watching began,
//! the uptime windows with their coverage, the 90-day strip and the 24-hour latency slots.
//! Apart from `mod.rs`, which keeps the records and what changes them (observe, load, save).

use super::*;

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
            .front()
            .and_then(|b| DateTime::from_timestamp(b.start, 0));
        match (self.days.front(), fine) {
            (Some(d), Some(f)) if f.date_naive() == d.date => Some(f),
            (Some(d), _) => Some(d.date.and_time(chrono::NaiveTime::MIN).and_utc()),
            (None, f) => f,
        }
    }

    /// Each window's availability, and how much of it was watched.
    pub(super) fn uptime(&self, now: DateTime<Utc>) -> (Uptime, Coverage) {
        let since = now.timestamp() - 86_400;
        let mut fine = Counts::default();
        for b in self
            .fine
            .iter()
            .filter(|b| b.start.saturating_add(BUCKET_SECONDS) > since)
        {
            fine.merge(&b.counts);
        }
        let today = now.date_naive();
        let window = |days: i64| {
            let first = today - Duration::days(days - 1);
            let mut c = Counts::default();
            for d in self.days.iter().rev().take_while(|d| d.date >= first) {
                c.merge(&d.counts);
            }
            c.availability().map(ratio)
        };
        let uptime = Uptime {
            day: fine.availability().map(ratio),
            week: window(7),
            month: window(30),
            quarter: window(90),
            year: window(365),
        };
        let since = self.since();
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
    pub(super) fn day_strip(&self, today: NaiveDate) -> Vec<Option<f64>> {
        let mut strip = vec![None; DAYS];
        let first = today - Duration::days(DAYS as i64 - 1);
        for d in self.days.iter().rev().take_while(|d| d.date >= first) {
            if let Ok(i) = usize::try_from((d.date - first).num_days())
                && i < DAYS
            {
                strip[i] = d
                    .counts
                    .availability()
                    .map(|r| (r * 10_000.0).round() / 10_000.0);
            }
        }
        strip
    }

    /// Average latency per [`LATENCY_SLOTS`]th of the last 24 hours, oldest first.
    pub(super) fn latency_slots(&self, now: DateTime<Utc>) -> Vec<Option<f64>> {
        let slot = 86_400 / LATENCY_SLOTS as i64;
        let last = now.timestamp().div_euclid(slot);
        let first = last - (LATENCY_SLOTS as i64 - 1);
        let mut slots = vec![Counts::default(); LATENCY_SLOTS];
        for b in &self.fine {
            let i = b.start.div_euclid(slot) - first;
            if let Ok(i) = usize::try_from(i)
                && i < LATENCY_SLOTS
            {
                slots[i].merge(&b.counts);
            }
        }
        slots
            .iter()
            .map(|c| c.latency_avg().map(|ms| (ms * 10.0).round() / 10.0))
            .collect()
    }
}
