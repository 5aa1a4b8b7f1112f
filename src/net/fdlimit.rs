//! The process's open-files budget: the one place that raises `RLIMIT_NOFILE` and says how the
//! descriptors are shared between the listener and the probes.
//!
//! systemd and most shells start a process with a soft limit of 1024 and a much higher hard
//! limit; servers raise the soft one to the hard one at start, and so do we ([`raise`], once,
//! before anything opens a socket). Whatever the limit, the probes use at most
//! [`Budget::probes_in_flight`] + [`Budget::probe_pool`] descriptors and the listener at most
//! its connection cap, so the number of services never decides how many descriptors are open:
//! with a limit of 1024 and 10,000 services the cycle still has descriptors left to publish.

use std::sync::OnceLock;

/// Descriptors the listener leaves for everything else: the probes' share below, publishing,
/// the history, the log, the lock and the watches.
pub const RESERVE: u64 = 128;

/// Connections the listener serves at once, at most (`serve::MAX_CONNECTIONS`); here so the
/// probes' share can be reckoned beside it.
pub const LISTENER_CONNECTIONS: u64 = 1024;

/// Kept-alive probe connections at most, however high the limit: a bound on the descriptors
/// that no number of services moves. Past it each probe of a service without a slot opens a
/// connection and closes it again; measured at 5,000 services (`scripts/bench-cycle --services
/// 5000 --peers 100`), that churn was most of the probing thread's CPU at a bound of 1,024.
pub const POOL_MAX: u64 = 8192;

/// How the descriptors are shared, from the soft limit in force after [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The soft limit (`None`: unlimited).
    pub soft: Option<u64>,
    /// The hard limit (`None`: unlimited).
    pub hard: Option<u64>,
    /// Probes that may hold a socket at once; the others wait their turn.
    pub probes_in_flight: usize,
    /// Kept-alive probe connections between cycles, at most.
    pub probe_pool: usize,
}

impl Budget {
    /// The shares for a soft limit. At the common low limits (200, 1024) the probes fit in
    /// [`RESERVE`] with room to spare for publishing: 32 in flight and 64 kept. Above what the
    /// listener can take ([`LISTENER_CONNECTIONS`] + [`RESERVE`]) the pool grows with
    /// the limit, so up to [`POOL_MAX`] services keep their connections. In flight stays small: on one
    /// thread, every probe in flight adds its few microseconds to the latency the others measure
    /// (64 × ~15 µs is under the 1 ms a loopback answer may take).
    pub fn for_soft(soft: Option<u64>, hard: Option<u64>) -> Budget {
        let spare = soft.map_or(u64::MAX, |s| {
            s.saturating_sub(LISTENER_CONNECTIONS + RESERVE)
        });
        let probes_in_flight = if spare >= 256 { 64 } else { 32 };
        let probe_pool = (spare / 2).clamp(64, POOL_MAX) as usize;
        Budget {
            soft,
            hard,
            probes_in_flight,
            probe_pool,
        }
    }
}

static BUDGET: OnceLock<Budget> = OnceLock::new();

/// Raises the soft limit to the hard one (once per process) and returns the shares. A refusal
/// (a sandbox) is not an error: the shares then follow the limit we have.
pub fn raise() -> Budget {
    *BUDGET.get_or_init(|| {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        let mut soft = limit.current;
        if soft.is_some() && soft != limit.maximum {
            let wanted = Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            match setrlimit(Resource::Nofile, wanted) {
                Ok(()) => soft = limit.maximum,
                Err(e) => tracing::warn!("cannot raise the open-files limit to the hard one: {e}"),
            }
        }
        let budget = Budget::for_soft(soft, limit.maximum);
        let shown = |l: Option<u64>| l.map_or("unlimited".to_string(), |n| n.to_string());
        tracing::info!(
            "open files: soft limit {}, hard limit {}; probes: {} at once, {} kept alive",
            shown(budget.soft),
            shown(budget.hard),
            budget.probes_in_flight,
            budget.probe_pool
        );
        budget
    })
}

/// The shares without raising or logging, for code that runs where [`raise`] may not have
/// (unit tests, `check`).
pub fn current() -> Budget {
    if let Some(b) = BUDGET.get() {
        return *b;
    }
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    Budget::for_soft(limit.current, limit.maximum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probes_fit_the_reserve_at_low_limits_and_grow_with_high_ones() {
        for soft in [200, 1024] {
            let b = Budget::for_soft(Some(soft), Some(soft));
            // Publishing, the history and the log keep at least 32 of the reserve.
            assert!(
                (b.probes_in_flight + b.probe_pool) as u64 <= RESERVE - 32,
                "{b:?}"
            );
        }
        // Half of what is past the listener's share, up to the bound.
        let b = Budget::for_soft(Some(4096), Some(4096));
        assert_eq!((b.probes_in_flight, b.probe_pool), (64, 1472));
        let b = Budget::for_soft(Some(524_288), Some(524_288));
        assert_eq!((b.probes_in_flight, b.probe_pool), (64, POOL_MAX as usize));
        let b = Budget::for_soft(None, None);
        assert_eq!((b.probes_in_flight, b.probe_pool), (64, POOL_MAX as usize));
    }
}
