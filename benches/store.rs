//! How the store grows with what it has seen: size on disk, the cost of one
//! poll's lookups and commit, opening, pruning and memory, at 10^4, 10^5 and
//! 10^6 seen items.
//!
//! ```sh
//! cargo bench --bench store                          # 10^4, 10^5, 10^6 (a few minutes)
//! cargo bench --bench store -- 10000 100000          # chosen sizes
//! cargo bench --bench store -- --cache-mib 8         # another [store] cache_mib
//! cargo bench --bench store -- fill DIR M            # put M seen items in the store in DIR
//! ```
//!
//! The items come 30 to a poll, as a listing gives them, from 1,000 sources
//! (fewer below 10^5 items: 100 items each at least), each source's under its
//! own site, and were first seen evenly over the 800 days before now, oldest
//! first; so the default `store.retention` (400 days) prunes half. A timed
//! poll reads a listing of one source: its 27 newest items and 3 new ones, or
//! 30 it has seen. Each size is filled by one child
//! process and measured by another, which opens the store as `kisha once`
//! would: its peak RSS is its own. Times are reported, never asserted.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{Duration, Utc};
use kisha::extract::Item;
use kisha::store::listing::Listed;
use kisha::store::{SourceState, Store};

const PER_POLL: usize = 30;
const SPAN_DAYS: i64 = 800;
const RETENTION_DAYS: i64 = 400;
/// Polls timed per kind in a measurement.
const POLLS: usize = 1_000;

/// The number of sources `total` items come from.
fn sources(total: usize) -> usize {
    (total / 100).clamp(1, 1_000)
}

/// Item `k` of source `s`.
fn item(s: usize, k: usize) -> Item {
    let url = format!("https://www.ministry{s:04}.go.jp/press/release/{k:07}.html");
    Item::new(&source_id(s), url::Url::parse(&url).ok(), format!("報道発表 {s}-{k}"), None)
}

fn source_id(s: usize) -> String {
    format!("fill{s:04}")
}

/// Poll `p` of a fill of `total`: its source and its first item's number.
fn poll(p: usize, total: usize) -> (usize, usize) {
    let n = sources(total);
    (p % n, p / n * PER_POLL)
}

fn fill(dir: &Path, total: usize, cache_mib: u64) {
    let store = Store::open(dir, cache_mib << 20).expect("open the store");
    let now = Utc::now();
    let state = SourceState { baseline_done: true, ..Default::default() };
    let polls = total.div_ceil(PER_POLL);
    for p in 0..polls {
        let (s, k) = poll(p, total);
        let count = PER_POLL.min(total - p * PER_POLL);
        let items: Vec<Item> = (k..k + count).map(|k| item(s, k)).collect();
        let refs: Vec<&Item> = items.iter().collect();
        // Evenly over the last 800 days, oldest first.
        let seen = now - Duration::seconds(SPAN_DAYS * 86_400 * (polls - p) as i64 / polls as i64);
        store.commit_poll(&source_id(s), &state, Some(&Listed::all(&items)), &refs, &[], seen).expect("commit");
    }
    store.flush_blocking().expect("flush");
}

/// The number of items source `s` got in a fill of `total`.
fn filled(s: usize, total: usize) -> usize {
    let polls = total.div_ceil(PER_POLL);
    let n = sources(total);
    let own = polls / n + usize::from(s < polls % n);
    let short = if s == (polls - 1) % n { polls * PER_POLL - total } else { 0 };
    own * PER_POLL - short
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn du(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => du(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Opens a filled store and times what a cycle and the daemon do with it.
/// Prints one tab-separated line.
fn measure(dir: &Path, total: usize, cache_mib: u64) {
    let size_before = du(dir);
    let t = Instant::now();
    let store = Store::open(dir, cache_mib << 20).expect("open the store");
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let now = Utc::now();
    let state = SourceState { baseline_done: true, ..Default::default() };
    let mut next: Vec<usize> = (0..sources(total)).map(|s| filled(s, total)).collect();

    // A listing with 3 new items on top of the source's 27 newest: lookups,
    // then the transaction that records the new ones.
    let t = Instant::now();
    for p in 0..POLLS {
        let s = p % next.len();
        let top = next[s];
        let listing: Vec<Item> = (top.saturating_sub(PER_POLL - 3)..top + 3).rev().map(|k| item(s, k)).collect();
        let last = store.listing(&source_id(s)).expect("listing");
        let read = Listed::all(&listing);
        let new = store.unseen(listing.iter().zip(read.iter().map(|l| l.id)), &last, true).expect("lookup");
        assert_eq!(new.len(), 3, "the 3 new items, and only them, are unseen");
        store.commit_poll(&source_id(s), &state, Some(&read), &new, &[], now).expect("commit");
        next[s] += 3;
    }
    let changed_us = t.elapsed().as_secs_f64() * 1e6 / POLLS as f64;

    // The same listings again, nothing new (a server without conditional GET).
    let t = Instant::now();
    for p in 0..POLLS {
        let s = p % next.len();
        let top = next[s];
        let listing: Vec<Item> = (top.saturating_sub(PER_POLL)..top).rev().map(|k| item(s, k)).collect();
        let last = store.listing(&source_id(s)).expect("listing");
        let read = Listed::all(&listing);
        assert!(store.unseen(listing.iter().zip(read.iter().map(|l| l.id)), &last, true).expect("lookup").is_empty());
        store.commit_poll(&source_id(s), &state, Some(&read), &[], &[], now).expect("commit");
    }
    let unchanged_us = t.elapsed().as_secs_f64() * 1e6 / POLLS as f64;

    let t = Instant::now();
    store.flush_blocking().expect("flush");
    let flush_ms = t.elapsed().as_secs_f64() * 1e3;

    let polled_kib = status_kib("VmHWM:");
    let t = Instant::now();
    let removed = store.prune_seen(now - Duration::days(RETENTION_DAYS)).expect("prune");
    store.flush_blocking().expect("flush");
    let prune_s = t.elapsed().as_secs_f64();
    let left = store.seen_records();
    drop(store);
    println!(
        "{total}\t{size_before}\t{open_ms:.1}\t{changed_us:.0}\t{unchanged_us:.0}\t{flush_ms:.1}\t{prune_s:.2}\t{removed}\t{left}\t{}\t{polled_kib}\t{}",
        du(dir),
        status_kib("VmHWM:")
    );
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    // The default of `store.cache_mib`.
    let mut cache_mib = 8;
    if let Some(i) = args.iter().position(|a| a == "--cache-mib") {
        cache_mib = args.get(i + 1).and_then(|v| v.parse().ok()).expect("--cache-mib N");
        args.drain(i..i + 2);
    }
    match args.first().map(String::as_str) {
        Some("fill") => {
            let (Some(dir), Some(total)) = (args.get(1), args.get(2).and_then(|n| n.parse().ok())) else {
                panic!("usage: fill DIR M");
            };
            fill(Path::new(dir), total, cache_mib);
            return;
        }
        Some("measure") => {
            let total = args[2].parse().expect("a count");
            measure(Path::new(&args[1]), total, cache_mib);
            return;
        }
        _ => {}
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        args.iter().map(|a| a.parse().expect("sizes are item counts")).collect()
    };
    let me = std::env::current_exe().expect("own path");
    println!("store growth: [store] cache_mib = {cache_mib}, {PER_POLL} items a poll, {POLLS} polls timed per kind");
    println!(
        "| seen items | fill s | size on disk MiB | bytes/item | open ms | poll, 3 new of 30 µs | poll, 0 new of 30 µs | flush ms | prune s (removed) | size after prune MiB | peak RSS MiB: open + polls | peak RSS MiB: + prune |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for total in sizes {
        let dir: PathBuf = tempfile::tempdir().expect("a temporary directory").keep();
        // This bench again, as `fill` or `measure` of this size.
        let child = |mode: &str| {
            let mut command = Command::new(&me);
            command.args([
                mode,
                dir.to_str().expect("a UTF-8 path"),
                &total.to_string(),
                "--cache-mib",
                &cache_mib.to_string(),
            ]);
            command
        };
        let t = Instant::now();
        let ok = child("fill").status().expect("run the filler");
        assert!(ok.success(), "fill {total} failed");
        let fill_s = t.elapsed().as_secs_f64();
        let out = child("measure").output().expect("run the measurement");
        assert!(out.status.success(), "measure {total} failed: {}", String::from_utf8_lossy(&out.stderr));
        let line = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = line.trim().split('\t').collect();
        let mib = |s: &str| s.parse::<f64>().unwrap_or(0.0) / (1u64 << 20) as f64;
        let size: f64 = f[1].parse().unwrap_or(0.0);
        println!(
            "| {total} | {fill_s:.1} | {:.1} | {:.0} | {} | {} | {} | {} | {} ({}) | {:.1} | {:.1} | {:.1} |",
            mib(f[1]),
            size / total as f64,
            f[2],
            f[3],
            f[4],
            f[5],
            f[6],
            f[7],
            mib(f[9]),
            f[10].parse::<f64>().unwrap_or(0.0) / 1024.0,
            f[11].parse::<f64>().unwrap_or(0.0) / 1024.0
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
