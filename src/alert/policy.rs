//! When to speak: the state machine of one service under one alert, pure and clock-free (the
//! time is an argument), so every rule is a unit test.
//!
//! A check is bad (down, or degraded when the alert sends on `degraded`), good, or silent
//! (maintenance, unknown: it neither opens nor closes anything, so the recovery at the end of
//! a maintenance window is news only when the outage was open before it). `failure_threshold`
//! bad checks in a row open an outage and send `down`; `success_threshold` good ones close it
//! and send `recovered`. While open, `remind_every` sends a reminder. At most one message per
//! `min_gap`: a change inside the gap is held back, counted, and summarised in the message that
//! goes when the gap is over. Counts saturate at their threshold, so a service that stays up
//! (or down) changes nothing here from cycle to cycle: nothing to save, nothing to send.

use crate::config::{AlertConfig, SendOn};
use chrono::{DateTime, Duration as Delta, Utc};
use serde::{Deserialize, Serialize};

/// How many held-back changes a summary lists one by one; beyond, it only counts them.
pub const MAX_HELD: usize = 10;
/// The longest error text kept (a peer's answer can be long; the state file stays bounded).
pub const MAX_ERROR: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Down,
    Degraded,
    Recovered,
    Reminder,
    Test,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Down => "down",
            Change::Degraded => "degraded",
            Change::Recovered => "recovered",
            Change::Reminder => "reminder",
            Change::Test => "test",
        }
    }
}

/// One check as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Down,
    Degraded,
    Up,
    /// Maintenance or unknown: counts neither way.
    Silent,
}

/// An outage that opened (its `down` or `degraded` is due or sent) and has not recovered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Open {
    pub level: Change,
    /// The first bad check of the run that opened it.
    pub since: DateTime<Utc>,
    pub error: Option<String>,
}

/// A change held back by `min_gap`, for the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub change: Change,
    pub at: DateTime<Utc>,
}

/// What one alert remembers of one service; saved in the state file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Track {
    #[serde(default)]
    pub bad: u32,
    #[serde(default)]
    pub good: u32,
    /// The first check of the current bad run.
    #[serde(default)]
    pub bad_since: Option<DateTime<Utc>>,
    #[serde(default)]
    pub open: Option<Open>,
    #[serde(default)]
    pub last_sent: Option<DateTime<Utc>>,
    #[serde(default)]
    pub next_reminder: Option<DateTime<Utc>>,
    /// The change to send when the gap is over (the latest one held back).
    #[serde(default)]
    pub pending: Option<Change>,
    /// The changes held back since the last message (the first [`MAX_HELD`]), and how many.
    #[serde(default)]
    pub held: Vec<Held>,
    #[serde(default)]
    pub held_count: u32,
    /// The time of the last check taken, so a result shown again (a probe slower than the
    /// interval) is not counted twice. Not saved: it changes every cycle.
    #[serde(skip)]
    pub seen_at: Option<DateTime<Utc>>,
}

/// A message to send: the change, the outage it is about, and what was held back before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub change: Change,
    pub since: DateTime<Utc>,
    pub error: Option<String>,
    pub held: Vec<Held>,
    pub held_count: u32,
}

/// The policy of one alert, copied out of its config.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub remind_every: Option<Delta>,
    pub send_on: SendOn,
    pub min_gap: Delta,
}

impl Policy {
    pub fn of(a: &AlertConfig) -> Policy {
        let delta = |d: std::time::Duration| Delta::from_std(d).unwrap_or(Delta::days(36500));
        Policy {
            failure_threshold: a.failure_threshold.max(1),
            success_threshold: a.success_threshold.max(1),
            remind_every: a.remind_every.map(delta),
            send_on: a.send_on,
            min_gap: delta(a.min_gap),
        }
    }

    /// Classifies a status for this policy: degraded is bad only when it is to be sent.
    pub fn seen(&self, status: crate::snapshot::Status) -> Seen {
        use crate::snapshot::Status;
        match status {
            Status::Down => Seen::Down,
            Status::Degraded if self.send_on.degraded => Seen::Degraded,
            Status::Degraded | Status::Up => Seen::Up,
            Status::Maintenance | Status::Unknown => Seen::Silent,
        }
    }

    fn wants(&self, change: Change) -> bool {
        match change {
            Change::Down => self.send_on.down,
            Change::Degraded => self.send_on.degraded,
            Change::Recovered => self.send_on.recovered,
            Change::Reminder | Change::Test => true,
        }
    }
}

impl Track {
    /// Takes one check (seen at `now`, with its error) and returns the message due, if any.
    /// Returns whether the track changed (and so wants saving) through `changed`.
    pub fn observe(
        &mut self,
        p: &Policy,
        seen: Seen,
        error: Option<&str>,
        now: DateTime<Utc>,
        changed: &mut bool,
    ) -> Option<Due> {
        // The common case, decided before anything is touched: up, nothing open, nothing held.
        if seen == Seen::Up
            && self.bad == 0
            && self.good >= p.success_threshold
            && self.open.is_none()
            && self.pending.is_none()
        {
            return None;
        }
        let before = (self.bad, self.good, self.open.is_some(), self.bad_since);
        let mut change = None;
        match seen {
            Seen::Silent => {}
            Seen::Down | Seen::Degraded => {
                let level = if seen == Seen::Down {
                    Change::Down
                } else {
                    Change::Degraded
                };
                self.good = 0;
                if self.bad == 0 {
                    self.bad_since = Some(now);
                }
                self.bad = (self.bad + 1).min(p.failure_threshold);
                if self.bad >= p.failure_threshold {
                    let since = self.bad_since.unwrap_or(now);
                    if self.open.is_none() {
                        self.open = Some(Open {
                            level,
                            since,
                            error: error.map(clip),
                        });
                        change = Some(level);
                    } else if let Some(open) = self.open.as_mut()
                        // Degraded, then down: that is news.
                        && open.level == Change::Degraded
                        && level == Change::Down
                    {
                        open.level = Change::Down;
                        change = Some(Change::Down);
                    }
                }
                // The latest error, for reminders; written only when it differs.
                // (Clipped only when it differs: a steady outage allocates nothing.)
                if let Some(open) = &mut self.open
                    && open.error.as_deref() != error
                    && open.error.as_deref() != error.map(clip).as_deref()
                {
                    open.error = error.map(clip);
                    *changed = true;
                }
            }
            Seen::Up => {
                self.bad = 0;
                self.bad_since = None;
                self.good = (self.good + 1).min(p.success_threshold);
                if self.good >= p.success_threshold && self.open.is_some() {
                    change = Some(Change::Recovered);
                }
            }
        }
        if (self.bad, self.good, self.open.is_some(), self.bad_since) != before {
            *changed = true;
        }
        match change {
            Some(c) => {
                *changed = true;
                self.next_reminder = match (c, p.remind_every) {
                    (Change::Recovered, _) | (_, None) => None,
                    (_, Some(every)) => Some(now + every),
                };
                let since = self.open.as_ref().map_or(now, |o| o.since);
                let error = self.open.as_ref().and_then(|o| o.error.clone());
                if c == Change::Recovered {
                    self.open = None;
                }
                if p.wants(c) {
                    self.send(p, c, since, error, now)
                } else {
                    None
                }
            }
            None => self.tick(p, now, changed),
        }
    }

    /// Sends `change` now, or holds it back when the last message was less than `min_gap` ago.
    fn send(
        &mut self,
        p: &Policy,
        change: Change,
        since: DateTime<Utc>,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> Option<Due> {
        if let Some(last) = self.last_sent
            && now < last + p.min_gap
        {
            if self.held.len() < MAX_HELD {
                self.held.push(Held { change, at: now });
            }
            self.held_count = self.held_count.saturating_add(1);
            self.pending = Some(change);
            return None;
        }
        self.last_sent = Some(now);
        self.pending = None;
        Some(Due {
            change,
            since,
            error,
            held: std::mem::take(&mut self.held),
            held_count: std::mem::take(&mut self.held_count),
        })
    }

    /// What is due with no new change: a held-back message whose gap is over, or a reminder.
    fn tick(&mut self, p: &Policy, now: DateTime<Utc>, changed: &mut bool) -> Option<Due> {
        if self.pending.is_some() && self.last_sent.is_none_or(|last| now >= last + p.min_gap) {
            *changed = true;
            // The summary says what happened; the message says where things stand now.
            let change = self.open.as_ref().map_or(Change::Recovered, |o| o.level);
            let since = self.open.as_ref().map_or(now, |o| o.since);
            let error = self.open.as_ref().and_then(|o| o.error.clone());
            let due = self.send(p, change, since, error, now);
            if change != Change::Recovered
                && let Some(every) = p.remind_every
            {
                self.next_reminder = Some(now + every);
            }
            return due;
        }
        if let (Some(every), Some(open), Some(at)) =
            (p.remind_every, &self.open, self.next_reminder)
            && now >= at
            && self.pending.is_none()
        {
            *changed = true;
            let (since, error) = (open.since, open.error.clone());
            // From now, not from `at`: after a long stop one reminder, not a burst.
            self.next_reminder = Some(now + every);
            self.last_sent = Some(now);
            return Some(Due {
                change: Change::Reminder,
                since,
                error,
                held: std::mem::take(&mut self.held),
                held_count: std::mem::take(&mut self.held_count),
            });
        }
        None
    }
}

fn clip(e: &str) -> String {
    crate::redact::clip(e, MAX_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(fail: u32, ok: u32) -> Policy {
        Policy {
            failure_threshold: fail,
            success_threshold: ok,
            remind_every: None,
            send_on: SendOn {
                down: true,
                degraded: false,
                recovered: true,
            },
            min_gap: Delta::zero(),
        }
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn run(t: &mut Track, p: &Policy, seq: &[(Seen, i64)]) -> Vec<Change> {
        let mut out = Vec::new();
        for (seen, s) in seq {
            let mut changed = false;
            if let Some(d) = t.observe(p, *seen, Some("refused"), at(*s), &mut changed) {
                out.push(d.change);
            }
        }
        out
    }

    #[test]
    fn down_after_the_threshold_and_recovered_after_good_checks() {
        let p = policy(3, 2);
        let mut t = Track::default();
        assert!(run(&mut t, &p, &[(Seen::Down, 0), (Seen::Down, 1)]).is_empty());
        assert_eq!(run(&mut t, &p, &[(Seen::Down, 2)]), [Change::Down]);
        assert_eq!(t.open.as_ref().unwrap().since, at(0));
        assert!(run(&mut t, &p, &[(Seen::Down, 3), (Seen::Up, 4)]).is_empty());
        assert_eq!(run(&mut t, &p, &[(Seen::Up, 5)]), [Change::Recovered]);
        assert!(t.open.is_none());
    }

    #[test]
    fn steady_state_changes_nothing() {
        let p = policy(3, 2);
        let mut t = Track::default();
        run(&mut t, &p, &[(Seen::Up, 0), (Seen::Up, 1)]);
        let mut changed = false;
        assert!(t.observe(&p, Seen::Up, None, at(2), &mut changed).is_none());
        assert!(!changed);
        run(
            &mut t,
            &p,
            &[(Seen::Down, 3), (Seen::Down, 4), (Seen::Down, 5)],
        );
        let mut changed = false;
        assert!(
            t.observe(&p, Seen::Down, Some("refused"), at(6), &mut changed)
                .is_none()
        );
        assert!(!changed);
    }

    #[test]
    fn maintenance_neither_opens_nor_closes() {
        let p = policy(1, 1);
        let mut t = Track::default();
        // Down during the window, up after it: no message at all.
        assert!(
            run(
                &mut t,
                &p,
                &[(Seen::Silent, 0), (Seen::Silent, 1), (Seen::Up, 2)]
            )
            .is_empty()
        );
        // Down before the window: the recovery after it is news.
        assert_eq!(run(&mut t, &p, &[(Seen::Down, 3)]), [Change::Down]);
        assert_eq!(
            run(&mut t, &p, &[(Seen::Silent, 4), (Seen::Up, 5)]),
            [Change::Recovered]
        );
    }

    #[test]
    fn reminders_while_down() {
        let mut p = policy(1, 1);
        p.remind_every = Some(Delta::seconds(10));
        let mut t = Track::default();
        assert_eq!(run(&mut t, &p, &[(Seen::Down, 0)]), [Change::Down]);
        assert!(run(&mut t, &p, &[(Seen::Down, 5)]).is_empty());
        assert_eq!(run(&mut t, &p, &[(Seen::Down, 10)]), [Change::Reminder]);
        assert!(run(&mut t, &p, &[(Seen::Down, 15)]).is_empty());
        assert_eq!(run(&mut t, &p, &[(Seen::Down, 21)]), [Change::Reminder]);
        assert_eq!(run(&mut t, &p, &[(Seen::Up, 22)]), [Change::Recovered]);
        assert!(run(&mut t, &p, &[(Seen::Up, 40)]).is_empty());
    }

    #[test]
    fn flapping_is_held_back_and_summarised() {
        let mut p = policy(1, 1);
        p.min_gap = Delta::seconds(60);
        let mut t = Track::default();
        let seq: Vec<(Seen, i64)> = (0..20)
            .map(|i| (if i % 2 == 0 { Seen::Down } else { Seen::Up }, i))
            .collect();
        let sent = run(&mut t, &p, &seq);
        assert_eq!(sent, [Change::Down]);
        assert_eq!(t.held_count, 19);
        // The gap ends while it is up: one message, the recovery, with the summary.
        let mut changed = false;
        let due = t.observe(&p, Seen::Up, None, at(61), &mut changed).unwrap();
        assert_eq!(due.change, Change::Recovered);
        assert_eq!(due.held.len(), MAX_HELD);
        assert!(due.held_count >= 18);
        assert_eq!(t.held_count, 0);
    }

    #[test]
    fn degraded_only_when_asked() {
        let mut p = policy(1, 1);
        let mut t = Track::default();
        let s = p.seen(crate::snapshot::Status::Degraded);
        assert!(run(&mut t, &p, &[(s, 0)]).is_empty());
        p.send_on.degraded = true;
        let s = p.seen(crate::snapshot::Status::Degraded);
        assert_eq!(run(&mut t, &p, &[(s, 1)]), [Change::Degraded]);
        assert_eq!(run(&mut t, &p, &[(Seen::Down, 2)]), [Change::Down]);
    }
}
