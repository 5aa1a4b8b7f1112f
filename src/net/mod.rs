//! A leaf: the small HTTP/1.1 client shared by the probes (`sense::probe`) and the task relay
//! to Symbiont (`serve::tasks`).
//!
//! It takes a URL and a request and hands back a response head and a capped body, keeping the
//! connection for next time. It knows no stage: no config, no snapshot, no status; what a
//! response means is its caller's business.

pub mod client;
