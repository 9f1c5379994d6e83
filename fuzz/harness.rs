//! The bodies of the fuzz targets, shared by `fuzz/fuzz_targets/*.rs` (run by
//! `cargo fuzz`, nightly) and by `tests/it/fuzz_corpus.rs`, which replays
//! every input kept in `tests/fixtures/fuzz/<target>/` on stable. Each body
//! runs one stage on arbitrary bytes and asserts what the stage promises its
//! caller, so a fuzzer finds broken promises as well as panics.

// Each fuzz target binary uses one of these functions; the replay test uses all.
#![allow(dead_code)]

use chrono::NaiveDate;
use url::Url;

use kisha::config::{Css, PageSelectors};
use kisha::extract::{Depth, ExtractError, Extracted, Item};
use kisha::text::{MAX_SUMMARY_CHARS, MAX_TITLE_CHARS};

/// The item cap the extractors are fuzzed with.
const MAX_ITEMS: usize = 20;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 8, 20).expect("a valid date")
}

/// What every extracted item promises the later stages: a one-line title of
/// bounded length, an absolute http(s) URL or none, an identity.
fn check_items(out: &Extracted) {
    assert!(out.items.len() <= MAX_ITEMS, "{} items over the cap of {MAX_ITEMS}", out.items.len());
    for item in &out.items {
        check_item(item);
    }
    assert!((0.0..=1.0).contains(&out.mojibake), "mojibake ratio {}", out.mojibake);
}

fn check_item(item: &Item) {
    assert!(!item.id.is_empty());
    assert!(item.title.chars().count() <= MAX_TITLE_CHARS + 1, "title of {} chars", item.title.chars().count());
    assert!(!item.title.chars().any(|c| c.is_control()), "control character in title {:?}", item.title);
    assert_eq!(item.title.trim_matches(|c: char| c.is_ascii_whitespace()), item.title, "title not trimmed");
    if let Some(summary) = &item.summary {
        assert!(summary.chars().count() <= MAX_SUMMARY_CHARS + 1);
        assert!(!summary.chars().any(|c| c.is_control()), "control character in summary {summary:?}");
    }
    if let Some(u) = &item.url {
        let parsed = Url::parse(u).expect("item URLs are absolute");
        assert!(matches!(parsed.scheme(), "http" | "https"), "non-http URL {u}");
        assert!(parsed.fragment().is_none(), "fragment kept in {u}");
        assert!(!u.chars().any(|c| c.is_control() || c == ' '), "URL with control characters {u:?}");
        assert_eq!(&item.id, u, "an item with a link is keyed by it");
    } else {
        assert!(item.id.starts_with("nolink:"), "{}", item.id);
    }
}

/// feed-rs plus kisha's pre-passes and repairs. The first byte picks the
/// Content-Type the server claimed.
pub fn feed_extract(data: &[u8]) {
    let (content_type, body) = match data.split_first() {
        Some((b, rest)) => (
            match b % 5 {
                0 => None,
                1 => Some("application/rss+xml"),
                2 => Some("application/xml; charset=Shift_JIS"),
                3 => Some("text/xml; charset=EUC-JP"),
                _ => Some("application/atom+xml; charset=utf-8"),
            },
            rest,
        ),
        None => (None, data),
    };
    let base = Url::parse("https://www.mod.go.jp/j/rss/news.xml").expect("static URL");
    let read = |depth| kisha::extract::feed::extract("fuzz", body, content_type, &base, MAX_ITEMS, depth);
    if let Ok(out) = read(Depth::Full) {
        check_items(&out);
        same_identities(&out, read(Depth::Listing));
    }
}

/// A baseline's read (only what a listing keeps) finds the items of a full
/// read, with the same ids and titles.
fn same_identities(full: &Extracted, listing: Result<Extracted, ExtractError>) {
    let listing = listing.expect("a listing read failed where a full read did not");
    let identities = |x: &Extracted| x.items.iter().map(|i| (i.id.clone(), i.title.clone())).collect::<Vec<_>>();
    assert_eq!(identities(&listing), identities(full), "a listing read changed what identifies an item");
}

fn css(s: &str) -> Css {
    Css { text: s.into(), selector: std::sync::Arc::new(scraper::Selector::parse(s).expect("static selector")) }
}

/// A listing page: decoded, then read with MOFA-like selectors (items under a
/// dated heading, an own date, a summary).
pub fn page_extract(data: &[u8]) {
    let decoded = kisha::fetch::decode::decode(data, Some("text/html"));
    let sel = PageSelectors {
        item: css("li"),
        title: css("a"),
        link: css("a"),
        date: Some(css(".date")),
        date_heading: Some(css("dt")),
        summary: Some(css("p")),
    };
    let base = Url::parse("https://www.mofa.go.jp/mofaj/press/release/index.html").expect("static URL");
    let read = |depth| kisha::extract::page::extract("fuzz", &decoded.text, &base, &sel, MAX_ITEMS, day(), depth);
    if let Ok(out) = read(Depth::Full) {
        check_items(&out);
        same_identities(&out, read(Depth::Listing));
    }
    let text = kisha::extract::html_text(&decoded.text);
    assert!(text.len() <= decoded.text.len() * 3 + 16, "html_text grew the text");
}

/// The date and time parsers, and the text helpers they rely on.
pub fn dates(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let reference = day();
    if let Some(d) = kisha::dates::find_date(&s, Some(reference)) {
        let _ = kisha::dates::jst_midnight(d);
    }
    let _ = kisha::dates::find_date(&s, None);
    let _ = kisha::dates::date_in_url(&s);
    if let Some(t) = kisha::dates::parse_feed_timestamp(&s) {
        let _ = kisha::dates::jst_date(t);
    }
    let line = kisha::text::one_line(&s, 40);
    assert!(line.chars().count() <= 41 && !line.contains(['\r', '\n']));
    let _ = kisha::text::fold(&s);
    let para = kisha::text::paragraphs(&s, 100);
    assert!(para.chars().count() <= 100);
}

/// A release page read for its facts, as the Enricher does. The first byte
/// picks the publisher (its URL), which changes the rules used.
pub fn facts(data: &[u8]) {
    let (url, body) = match data.split_first() {
        Some((b, rest)) => (
            match b % 4 {
                0 => "https://www.mod.go.jp/j/approach/exchange/area/2018/20180629_usa-j.html",
                1 => "https://www.mofa.go.jp/mofaj/na/na1/us/page4_004174.html",
                2 => "https://www.kantei.go.jp/jp/98_abe/actions/201806/29hyoukei.html",
                _ => "https://www.defense.gov/News/Releases/Release/Article/1564227/",
            },
            rest,
        ),
        None => ("https://www.mod.go.jp/j/press/news/2026/08/19a.html", data),
    };
    let decoded = kisha::fetch::decode::decode(body, Some("text/html"));
    let page = kisha::enrich::page::read_release(&decoded.text);
    let mut item = Item::new("fuzz", Url::parse(url).ok(), page.title.clone().unwrap_or_default(), page.date);
    item.date = page.date;
    let _ = kisha::enrich::facts::extract(&item, Some(&page));
    let _ = kisha::enrich::facts::extract(&item, None);
}
