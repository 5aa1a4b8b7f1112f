//! A leaf: the network pieces the stages share. [`client`] is the small HTTP/1.1 client of the
//! probes (`sense::probe`) and the task relay to Symbiont (`serve::tasks`); [`trust`] is the
//! one set of TLS roots every TLS client of the process uses; [`fdlimit`] is the open-files
//! limit and how the listener and the probes share it.
//!
//! It takes a URL and a request and hands back a response head and a capped body, keeping the
//! connection for next time. It knows no stage: no config, no snapshot, no status; what a
//! response means is its caller's business.

pub mod cert;
pub mod client;
pub mod fdlimit;
pub mod trust;
