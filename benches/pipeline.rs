//! The hot paths of one poll, on the real captures in `tests/fixtures/captures/`:
//! feed parsing, listing-page extraction, Shift_JIS decoding, matching, and
//! rendering a digest.
//!
//! ```sh
//! cargo bench --bench pipeline                 # all of them
//! cargo bench --bench pipeline -- feed         # one group
//! ```
//!
//! Times are reported, never asserted. A whole cycle (HTTP, store, mail) is
//! measured by `scripts/bench-cycle`; the store's growth by `benches/store.rs`.

use std::hint::black_box;
use std::path::Path;

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kisha::config::{Config, SourceKind};
use kisha::extract::{self, Item};
use kisha::matcher::Matcher;
use kisha::outbox::{Entry, Queued};

/// The captured feeds: (source id, file, Content-Type the site sends).
const FEEDS: [(&str, &str, &str); 5] = [
    ("kantei", "kantei.xml", "application/rss+xml"),
    ("mod", "mod.xml", "application/rss+xml"),
    ("mlit", "mlit.xml", "application/rdf+xml"),
    ("mhlw", "mhlw.xml", "application/rdf+xml"),
    ("digital", "digital.xml", "application/rss+xml"),
];

/// The sources and rules, as a user would write them (see config/kisha.toml).
const CONFIG: &str = r##"
state_dir = "/nonexistent/kisha-bench"
[mail]
from = "kisha@bench.invalid"
to = ["desk@bench.invalid"]
transport = "file"
[[source]]
id = "mofa"
kind = "page"
url = "https://www.mofa.go.jp/mofaj/press/release/index.html"
item = "#pressrelease dd li"
title = "a"
link = "a"
date_heading = "dt.list-title"
[[rule]]
id = "defense-meeting"
preset = "jp-defense-meeting"
[[rule]]
id = "words"
any = ["防衛相会談", "国防長官", "日米"]
none = ["記者会見"]
"##;

fn capture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn config() -> Config {
    Config::parse(Path::new("bench.toml"), CONFIG).expect("the bench config is valid")
}

fn feed_url(id: &str) -> url::Url {
    url::Url::parse(&format!("https://www.{id}.go.jp/feed.xml")).expect("a valid URL")
}

/// Every item of every capture, as the extractor gives them.
fn all_items(config: &Config) -> Vec<(String, Item)> {
    let mut out = Vec::new();
    for (id, file, ctype) in FEEDS {
        let got = extract::feed::extract(id, &capture(file), Some(ctype), &feed_url(id), 1000, extract::Depth::Full)
            .expect("a capture parses");
        out.extend(got.items.into_iter().map(|i| (id.to_owned(), i)));
    }
    let (source, html, today) = mofa(config);
    let SourceKind::Page(sel) = &source.kind else { unreachable!("mofa is a page") };
    let got = extract::page::extract("mofa", &html, &source.url, sel, 1000, today, extract::Depth::Full)
        .expect("the capture parses");
    out.extend(got.items.into_iter().map(|i| ("mofa".to_owned(), i)));
    out
}

fn mofa(config: &Config) -> (&kisha::config::Source, String, chrono::NaiveDate) {
    let source = config.source("mofa").expect("mofa is configured");
    let html = String::from_utf8(capture("mofa.html")).expect("the capture is UTF-8");
    (source, html, chrono::NaiveDate::from_ymd_opt(2026, 8, 20).expect("a date"))
}

fn feeds(c: &mut Criterion) {
    let mut group = c.benchmark_group("feed");
    for (id, file, ctype) in FEEDS {
        let bytes = capture(file);
        let url = feed_url(id);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(file), &bytes, |b, bytes| {
            b.iter(|| {
                extract::feed::extract(id, black_box(bytes), Some(ctype), &url, 1000, extract::Depth::Full)
                    .expect("parses")
            })
        });
    }
    group.finish();
}

fn page(c: &mut Criterion) {
    let config = config();
    let (source, html, today) = mofa(&config);
    let SourceKind::Page(sel) = &source.kind else { unreachable!("mofa is a page") };
    let mut group = c.benchmark_group("page");
    group.throughput(Throughput::Bytes(html.len() as u64));
    group.bench_function("mofa.html", |b| {
        b.iter(|| {
            extract::page::extract("mofa", black_box(&html), &source.url, sel, 1000, today, extract::Depth::Full)
                .expect("parses")
        })
    });
    group.finish();
}

fn shift_jis(c: &mut Criterion) {
    // The MOFA listing as a Shift_JIS site would send it, charset declared
    // only in <meta>: the decoder has to find it, then convert.
    let html = String::from_utf8(capture("mofa.html")).expect("UTF-8").replacen(
        "<meta charset=\"UTF-8\">",
        "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\">",
        1,
    );
    // The few characters Shift_JIS lacks become numeric references, as a
    // Shift_JIS site writes them.
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&html);
    let decoded = kisha::fetch::decode::decode(&sjis, Some("text/html"));
    assert_eq!((decoded.encoding, decoded.by, decoded.had_errors), (encoding_rs::SHIFT_JIS, "meta", false));
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(sjis.len() as u64));
    group.bench_function("shift_jis_page_meta", |b| {
        b.iter(|| kisha::fetch::decode::decode(black_box(&sjis), Some("text/html")))
    });
    group.bench_function("shift_jis_page_http", |b| {
        b.iter(|| kisha::fetch::decode::decode(black_box(&sjis), Some("text/html; charset=Shift_JIS")))
    });
    group.finish();
}

fn matching(c: &mut Criterion) {
    let config = config();
    let matcher = Matcher::new(&config.rules);
    let items = all_items(&config);
    let mut group = c.benchmark_group("match");
    group.throughput(Throughput::Elements(items.len() as u64));
    group.bench_function(format!("{}_captured_items", items.len()), |b| {
        b.iter(|| items.iter().filter(|(source, item)| matcher.judge(source, black_box(item)).is_some()).count())
    });
    group.finish();
}

fn digest(c: &mut Criterion) {
    let config = config();
    let now = Utc.with_ymd_and_hms(2026, 8, 20, 9, 0, 0).single().expect("a time");
    // Every captured item queued as a match, with the facts its title gives:
    // a large digest (its entries beyond max_entries are listed, then counted).
    let queued: Vec<(u64, Queued)> = all_items(&config)
        .into_iter()
        .enumerate()
        .map(|(n, (source, item))| {
            let release = Some(kisha::enrich::facts::extract(&item, None));
            let matched = kisha::matcher::Match { rule: "words".into(), why: vec!["bench".into()], urgent: false };
            let entry =
                Entry { source_name: source.clone(), source_id: source, item, matched, release, queued_at: now };
            (n as u64, Queued::Item(entry))
        })
        .collect();
    let mut group = c.benchmark_group("digest");
    for n in [10, queued.len()] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("compose_and_render", n), &queued[..n], |b, queued| {
            b.iter(|| kisha::digest::compose(black_box(queued), &[], 50, "[kisha]", now).expect("a digest"))
        });
    }
    group.finish();
}

criterion_group!(benches, feeds, page, shift_jis, matching, digest);
criterion_main!(benches);
