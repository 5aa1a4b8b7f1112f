//! `status.json` written from per-service pieces kept from cycle to cycle: each service's 90 days
//! and its 24-hour latency points are most of the file's numbers (186 of about 200 a service),
//! and all but the running day and the running quarter hour are the same as a cycle ago.
//!
//! This module owns that cache. The bytes are exactly those of `serde_json::to_vec(snapshot)`
//! (a test holds it to that): the snapshot is serialised by serde with its services left out,
//! each service with its two long arrays left out, and the arrays' text is put back in their
//! place, the settled part from the cache and the running element formatted afresh. A cached
//! part is keyed by a hash of its numbers' bits that tells apart any two lists differing in one
//! element (each step of [`mix`] is a bijection of the state), and by its length.
//!
//! A settled text is shared between the services whose text is the same (services up every
//! day have the same strip): each text is kept once, in [`Texts`], and a service's entry holds
//! it. At 1,000 services the texts kept one each were 1 MB.

use crate::snapshot::{Series, Service, Snapshot};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The settled parts of each service's arrays, by slug, and the texts they hold.
#[derive(Default)]
pub struct StatusJson {
    cache: Mutex<(HashMap<String, Settled>, Texts)>,
}

/// Every settled text held, once each.
type Texts = HashSet<Arc<str>>;

/// The text of `days` and of `latency_24h` but their last element, each with its key.
#[derive(Default)]
struct Settled {
    days: (u64, Arc<str>),
    latency: (u64, Arc<str>),
}

impl StatusJson {
    /// `status.json`'s bytes, as `serde_json::to_vec(snapshot)` plus a newline. The snapshot is
    /// borrowed mutably only to take its services' arrays out for a moment; it is left as it
    /// was.
    pub fn render(&self, snapshot: &mut Snapshot) -> Vec<u8> {
        let mut guard = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let (cache, texts) = &mut *guard;
        let slugs: std::collections::HashSet<&str> =
            snapshot.services.iter().map(|s| s.slug.as_str()).collect();
        cache.retain(|slug, _| slugs.contains(slug.as_str()));
        let services = std::mem::take(&mut snapshot.services);
        let outer = serde_json::to_vec(&*snapshot).expect("a snapshot always serialises");
        snapshot.services = services;
        // The first `"services":[]` is the snapshot's own: the fields before it (schema, time,
        // interval, overall, host) hold no such key, and a string's quotes are escaped.
        const EMPTY: &[u8] = b"\"services\":[]";
        let at = outer
            .windows(EMPTY.len())
            .position(|w| w == EMPTY)
            .expect("the snapshot has a services field")
            + EMPTY.len()
            - 1;
        let mut out = Vec::with_capacity(outer.len() + snapshot.services.len() * 1800 + 1);
        out.extend_from_slice(&outer[..at]);
        for (i, s) in snapshot.services.iter_mut().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let settled = cache.entry(s.slug.clone()).or_default();
            service(&mut out, s, settled, texts);
        }
        // The texts no service holds any more.
        texts.retain(|t| Arc::strong_count(t) > 1);
        out.extend_from_slice(&outer[at..]);
        out.push(b'\n');
        out
    }
}

/// One service: serde's text without the two arrays, which end it, then the arrays.
fn service(out: &mut Vec<u8>, s: &mut Service, settled: &mut Settled, texts: &mut Texts) {
    let days = std::mem::take(&mut s.days);
    let latency = std::mem::take(&mut s.latency_24h);
    let start = out.len();
    serde_json::to_writer(&mut *out, &*s).expect("a service always serialises");
    s.days = days;
    s.latency_24h = latency;
    const TAIL: &[u8] = b"\"days\":[],\"latency_24h\":[]}";
    assert!(
        out[start..].ends_with(TAIL),
        "Service's last fields are days and latency_24h"
    );
    out.truncate(out.len() - TAIL.len());
    out.extend_from_slice(b"\"days\":[");
    array(out, &s.days, &mut settled.days, texts);
    out.extend_from_slice(b"],\"latency_24h\":[");
    array(out, &s.latency_24h, &mut settled.latency, texts);
    out.extend_from_slice(b"]}");
}

/// The elements of `values`, comma-separated: all but the last from `settled` when its key
/// still matches (written and kept otherwise, as the same text another service holds if one
/// does), the last formatted now.
fn array(out: &mut Vec<u8>, values: &Series, settled: &mut (u64, Arc<str>), texts: &mut Texts) {
    let Some(n) = values.len().checked_sub(1) else {
        return;
    };
    let head = || values.iter().take(n);
    let key = head().fold(mix(0, n as u64), |h, v| mix(h, bits(v)));
    if settled.0 != key || (settled.1.is_empty() && n > 0) {
        // serde_json's compact text of the list without its brackets.
        let mut text = Vec::new();
        for (i, v) in head().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            serde_json::to_writer(&mut text, &v).expect("a number always serialises");
        }
        let text = std::str::from_utf8(&text).expect("serde_json writes UTF-8");
        let text = match texts.get(text) {
            Some(held) => Arc::clone(held),
            None => {
                let text: Arc<str> = Arc::from(text);
                texts.insert(Arc::clone(&text));
                text
            }
        };
        *settled = (key, text);
    }
    out.extend_from_slice(settled.1.as_bytes());
    if n > 0 {
        out.push(b',');
    }
    serde_json::to_writer(&mut *out, &values.last()).expect("a number always serialises");
}

/// A number's bits, with `null` apart from every number.
fn bits(v: Option<f64>) -> u64 {
    v.map_or(0x7ff8_dead_beef_0001, f64::to_bits)
}

/// One step of the key: for a fixed `word` it maps states one to one, so two lists of the same
/// length that differ in one element never share a key.
fn mix(state: u64, word: u64) -> u64 {
    (state.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(snapshot: &Snapshot) -> Vec<u8> {
        let mut out = serde_json::to_vec(snapshot).unwrap();
        out.push(b'\n');
        out
    }

    #[test]
    fn the_bytes_are_serdes_from_the_first_cycle_to_the_next() {
        let cache = StatusJson::default();
        let mut snapshot = crate::snapshot::example();
        assert_eq!(cache.render(&mut snapshot), plain(&snapshot));
        // The next cycle: the running day and quarter hour move, a settled day is rewritten (a
        // history loaded afresh), a service's arrays are empty or one long, one is gone.
        snapshot.services[0].days.set(89, Some(0.5));
        snapshot.services[0].latency_24h.set(95, None);
        snapshot.services[1].days.set(3, Some(0.25));
        snapshot.services[1].latency_24h.set(0, Some(f64::NAN));
        snapshot.services[2].days = Default::default();
        snapshot.services[2].latency_24h = vec![Some(1.5)].into();
        snapshot.services.remove(3);
        let again = cache.render(&mut snapshot);
        assert_eq!(
            String::from_utf8(again).unwrap(),
            String::from_utf8(plain(&snapshot)).unwrap()
        );
        // No services at all, and an incident that names no service.
        let mut empty = crate::snapshot::example();
        empty.services.clear();
        assert_eq!(cache.render(&mut empty), plain(&empty));
    }

    #[test]
    fn a_settled_part_is_written_once_and_kept_while_its_numbers_are() {
        let cache = StatusJson::default();
        let mut snapshot = crate::snapshot::example();
        cache.render(&mut snapshot);
        let slug = snapshot.services[0].slug.clone();
        let text = |cache: &StatusJson| {
            let c = cache.cache.lock().unwrap();
            let s = &c.0[&slug];
            (s.days.1.as_ptr(), s.latency.1.as_ptr())
        };
        let before = text(&cache);
        snapshot.services[0].days.set(89, Some(0.123));
        snapshot.services[0].latency_24h.set(95, Some(9.5));
        cache.render(&mut snapshot);
        assert_eq!(text(&cache), before, "the running elements are not cached");
        snapshot.services[0].days.set(88, Some(0.123));
        cache.render(&mut snapshot);
        assert_ne!(text(&cache).0, before.0);
        assert_eq!(text(&cache).1, before.1);
    }

    /// Services whose settled numbers are the same hold one text; a text no service holds is
    /// let go.
    #[test]
    fn a_settled_text_is_held_once_whatever_the_number_of_services_with_it() {
        let cache = StatusJson::default();
        let mut snapshot = crate::snapshot::example();
        let one = snapshot.services[0].clone();
        snapshot.services = (0..100)
            .map(|i| Service {
                slug: format!("s{i}"),
                ..one.clone()
            })
            .collect();
        let texts = |cache: &StatusJson| {
            let c = cache.cache.lock().unwrap();
            let ptrs: HashSet<*const u8> =
                c.0.values()
                    .flat_map(|s| [s.days.1.as_ptr(), s.latency.1.as_ptr()])
                    .collect();
            (ptrs.len(), c.1.len())
        };
        assert_eq!(cache.render(&mut snapshot), plain(&snapshot));
        assert_eq!(texts(&cache), (2, 2));
        snapshot.services[7].days.set(0, Some(0.5));
        assert_eq!(cache.render(&mut snapshot), plain(&snapshot));
        assert_eq!(texts(&cache), (3, 3));
        snapshot.services.truncate(5);
        assert_eq!(cache.render(&mut snapshot), plain(&snapshot));
        assert_eq!(texts(&cache), (2, 2), "the text of service 7 is let go");
    }

    #[test]
    fn one_changed_element_always_changes_the_key() {
        let base: Vec<u64> = (0..95).map(|i| (i as f64 * 0.37).to_bits()).collect();
        let key = |words: &[u64]| words.iter().fold(mix(0, 95), |h, w| mix(h, *w));
        let k = key(&base);
        for i in 0..base.len() {
            for w in [0, 1, u64::MAX, base[i] ^ 1, bits(None)] {
                if w != base[i] {
                    let mut other = base.clone();
                    other[i] = w;
                    assert_ne!(key(&other), k, "element {i}");
                }
            }
        }
    }
}
