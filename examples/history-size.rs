//! What a year of history costs at N services (default 1000 and 5000): writes a `history.json`
//! of format version 1 as a year of running left it (the shape `scripts/bench-cycle
//! --history-days 365` wrote before version 2: 365 days of checks every second and 24 hours of
//! buckets per service), loads it (the migration), saves it whole (version 2), loads that, and
//! runs `observe` over every service as a cycle does. Prints bytes, load times, stored values
//! and bytes resident per service, and the CPU of `observe` per service.
//! `cargo run --release --example history-size -- 1000 5000`; `-- --load STATE_DIR` only times
//! loading the `history.json` in STATE_DIR (for instance one `scripts/bench-cycle` wrote).
//! Nothing here asserts: the bounds are asserted by the tests in `src/history/tests.rs`.

use chrono::{Duration, Utc};
use cortex_status::history::History;
use cortex_status::snapshot::{Kind, Service, Status};
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    if let Some(dir) = std::env::args().skip_while(|a| a != "--load").nth(1) {
        let t = Instant::now();
        let h = History::load(Path::new(&dir), Utc::now());
        let load_ms = ms(t);
        let rss = std::fs::read_to_string("/proc/self/status")?
            .lines()
            .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "{} services loaded in {load_ms:.0} ms, {} bytes resident per service; {rss}",
            h.len(),
            h.resident_bytes() / h.len().max(1)
        );
        return Ok(());
    }
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let counts = if counts.is_empty() {
        vec![1000, 5000]
    } else {
        counts
    };
    for n in counts {
        let dir = Path::new("target/history-size").join(n.to_string());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let v1 = write_v1(&dir, n)?;
        let now = Utc::now();

        let t = Instant::now();
        let mut h = History::load(&dir, now);
        let v1_ms = ms(t);
        assert_eq!(h.len(), n);

        let t = Instant::now();
        h.save_whole().map_err(anyhow::Error::msg)?;
        let save_ms = ms(t);
        let v2 = std::fs::metadata(dir.join("history.json"))?.len();
        drop(h);

        let t = Instant::now();
        let mut h = History::load(&dir, now);
        let v2_ms = ms(t);

        // Cycles a second apart: the first computes each service's past days, the others
        // reuse them and fold today's record and the 24 hours of buckets.
        let mut services: Vec<Service> = (0..n)
            .map(|i| {
                Service::new(
                    format!("svc-{i}"),
                    format!("svc-{i}"),
                    Kind::Http,
                    None,
                    Status::Up,
                )
            })
            .collect();
        // CPU time of this thread, not wall time: the machine may be shared.
        let mut per_cycle = Vec::new();
        let mut figures_only = Vec::new();
        for cycle in 0..41 {
            // Odd cycles show the same results again (a probe still running): nothing is
            // recorded, only the figures are computed.
            let at = now + Duration::seconds(cycle / 2 * 2);
            for s in &mut services {
                s.checked_at = Some(at);
                s.latency_ms = Some(0.21);
            }
            let t = cpu();
            h.observe(&mut services, at + Duration::milliseconds(cycle));
            let ns = (cpu() - t).as_nanos() as f64 / n as f64;
            if cycle % 2 == 0 {
                per_cycle.push(ns)
            } else {
                figures_only.push(ns)
            }
        }
        figures_only.sort_by(f64::total_cmp);
        let figures = figures_only[figures_only.len() / 2];
        let values = h.stored_values() / n;
        let bytes = h.resident_bytes() / n;
        let first = per_cycle.remove(0);
        per_cycle.sort_by(f64::total_cmp);
        let median = per_cycle[per_cycle.len() / 2];
        println!(
            "{n} services, a year: version 1 file {v1} bytes, loaded (migrated) in {v1_ms:.0} ms; \
             version 2 file {v2} bytes ({} per service), written in {save_ms:.0} ms, loaded in \
             {v2_ms:.0} ms; {values} stored values and {bytes} bytes resident per service; \
             observe {first:.0} ns per service in the first cycle (past days computed), \
             {median:.0} ns in the next (median of 20; of which figures {figures:.0} ns)",
            v2 / n as u64
        );
    }
    Ok(())
}

fn cpu() -> std::time::Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// A version 1 file as `scripts/bench-cycle --history-days 365` wrote it.
fn write_v1(dir: &Path, n: usize) -> anyhow::Result<u64> {
    let now = Utc::now();
    let today = now.date_naive();
    let path = dir.join("history.json");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
    write!(w, "{{\"version\":1,\"services\":{{")?;
    let start = now.timestamp() / 300 * 300;
    let first = (now - Duration::days(365)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for i in 0..n {
        if i > 0 {
            write!(w, ",")?;
        }
        write!(
            w,
            "\"svc-{i}\":{{\"last_status\":\"up\",\"last_checked\":null,\"first_checked\":\"{first}\",\"days\":["
        )?;
        for d in (1..=365).rev() {
            let date = today - Duration::days(d);
            let down = if (d as usize + i).is_multiple_of(37) {
                3
            } else {
                0
            };
            let up = 86_400 - down;
            if d != 365 {
                write!(w, ",")?;
            }
            write!(
                w,
                "{{\"date\":\"{date}\",\"up\":{up},\"down\":{down},\"lat_n\":{up},\"lat_min\":0.08,\"lat_sum\":{},\"lat_max\":4.5}}",
                f64::from(up) * 0.21
            )?;
        }
        write!(w, "],\"fine\":[")?;
        for k in (1..=287).rev() {
            if k != 287 {
                write!(w, ",")?;
            }
            write!(
                w,
                "{{\"start\":{},\"up\":3000,\"lat_n\":3000,\"lat_min\":0.08,\"lat_sum\":630.0,\"lat_max\":3.1}}",
                start - k * 300
            )?;
        }
        write!(w, "]}}")?;
    }
    write!(w, "}},\"incidents\":[")?;
    for k in 0..n.min(250).saturating_mul(4) {
        let at = (now - Duration::hours(k as i64 + 1))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        if k > 0 {
            write!(w, ",")?;
        }
        write!(
            w,
            "{{\"service\":\"svc-{}\",\"from\":\"up\",\"to\":\"down\",\"at\":\"{at}\",\"error\":\"connection refused\",\"end\":\"{at}\",\"duration_seconds\":30}}",
            k % n.max(1)
        )?;
    }
    write!(w, "]}}")?;
    w.flush()?;
    Ok(std::fs::metadata(&path)?.len())
}
