//! Stage 1, sense: what the machine and its services look like right now.
//!
//! It owns the incidents people write ([`incidents`]: markdown files in `incidents_dir`), the
//! host sampler ([`host`]: CPU, memory, disks, load) and the service probes
//! ([`probe`]: http, tcp, systemd, and a peer's `status.json` feed). It takes the validated
//! config and hands on raw observations: a `snapshot::Host` and one `probe::Outcome` per
//! service. It knows nothing of history, outputs or files: turning observations into the
//! snapshot is the cycle's job (`daemon::cycle`). It must not fail a cycle: a service that is
//! down or answers garbage is an outcome, not an error, and every text that came from outside
//! passes `redact` before it leaves.

pub mod host;
pub mod incidents;
pub mod probe;
pub mod thresholds;
