//! Measures gzip levels 1 to 9 on the files named on the command line, the way the publisher
//! compresses them (flate2's Rust backend, one reused compressor): bytes, and the median time
//! of one compression over 300 rounds. `cargo run --release --example gzip-levels -- FILE...`
//! (scripts/gzip-levels renders the files first). Nothing here asserts: the figures go where
//! the level is set (src/publish/mod.rs, GZ_LEVEL).

use flate2::{Compress, Compression, FlushCompress, Status};
use std::time::Instant;

fn deflate(c: &mut Compress, bytes: &[u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    c.reset();
    loop {
        let done = c.total_in() as usize;
        match c.compress_vec(&bytes[done..], out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return out.len() + 18,
            Ok(_) => out.reserve(out.capacity().max(1024)),
            Err(e) => panic!("deflate: {e}"),
        }
    }
}

fn main() {
    let files: Vec<(String, Vec<u8>)> = std::env::args()
        .skip(1)
        .map(|p| {
            let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
            (p, b)
        })
        .collect();
    println!(
        "| level | {} | all, bytes | all, µs |",
        files
            .iter()
            .map(|(p, b)| format!(
                "{} ({} B raw): bytes, µs",
                p.rsplit('/').next().unwrap(),
                b.len()
            ))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|{}---|---|", "---|".repeat(files.len()));
    for level in 1..=9 {
        let mut c = Compress::new(Compression::new(level), false);
        let mut out = Vec::with_capacity(1 << 20);
        let (mut all_b, mut all_us) = (0, 0.0);
        let mut cells = Vec::new();
        for (_, bytes) in &files {
            let mut times = Vec::new();
            let mut size = 0;
            for _ in 0..300 {
                let t = Instant::now();
                size = deflate(&mut c, bytes, &mut out);
                times.push(t.elapsed().as_secs_f64() * 1e6);
            }
            times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let us = times[times.len() / 2];
            all_b += size;
            all_us += us;
            cells.push(format!("{size}, {us:.0}"));
        }
        println!(
            "| {level} | {} | {all_b} | {all_us:.0} |",
            cells.join(" | ")
        );
    }
}
