//! Steps of the wall clock between cycles: the monotonic boot clock against the wall clock,
//! reported to the history (which says so in `errors` for an hour).

use super::*;

/// Watches the wall clock against the monotonic one (CLOCK_BOOTTIME, which goes on counting
/// through a suspend, so a laptop's sleep is not a step) from cycle to cycle. A difference of
/// [`CLOCK_STEP_MIN`] or more between the two is a step of the wall clock.
#[derive(Debug, Default)]
pub struct ClockWatch {
    last: Option<(DateTime<Utc>, std::time::Duration)>,
}

impl ClockWatch {
    /// The step since the last call, if there was one: positive forward, negative back.
    pub fn step(&mut self, now: DateTime<Utc>) -> Option<Duration> {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        let mono = std::time::Duration::new(
            u64::try_from(ts.tv_sec).unwrap_or(0),
            u32::try_from(ts.tv_nsec).unwrap_or(0),
        );
        self.step_at(now, mono)
    }

    pub(super) fn step_at(
        &mut self,
        now: DateTime<Utc>,
        mono: std::time::Duration,
    ) -> Option<Duration> {
        let (last_wall, last_mono) = self.last.replace((now, mono))?;
        let mono_delta = Duration::from_std(mono.saturating_sub(last_mono)).ok()?;
        let step = (now - last_wall) - mono_delta;
        (step.abs() >= CLOCK_STEP_MIN).then_some(step)
    }

    /// [`ClockWatch::step`], reported to `history` when there was one.
    pub fn check(&mut self, history: &mut History, now: DateTime<Utc>) {
        if let Some(step) = self.step(now) {
            let way = if step < Duration::zero() {
                "back"
            } else {
                "forward"
            };
            history.clock_stepped(
                format!("the clock stepped {way} by {}", describe(step)),
                now,
            );
        }
    }
}

/// A clock step as a person reads it, to the precision that matters: "365 days", "3 h 12 min",
/// "4 min 10 s", "12 s".
pub(super) fn describe(step: Duration) -> String {
    let s = step.num_seconds().unsigned_abs();
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match s {
        172_800.. => format!("{days} days"),
        86_400.. => format!("1 day {hours} h"),
        3_600.. => format!("{} h {minutes} min", s / 3_600),
        60.. => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{s} s"),
    }
}
