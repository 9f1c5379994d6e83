//! Items from RSS 2.0, RSS 1.0/RDF and Atom, through feed-rs.
//!
//! feed-rs gets the raw bytes: it reads the XML declaration and decodes
//! Shift_JIS and EUC-JP itself. Only when that fails (no declaration, a label
//! it does not know such as `cp932`, a charset given only by HTTP), or when
//! the declaration names a legacy charset over bytes that are plainly UTF-8,
//! are the bytes decoded here and the declaration rewritten to UTF-8.
//!
//! Before parsing, the feed is cut after twice `fetch.max_items` items (10⁵
//! items would otherwise become 10⁵ feed-rs entries, some 200 MB), and RSS
//! 1.0 items that have an `rdf:about` but no `<link>` get one (feed-rs drops
//! an item without a link).
//!
//! A feed that is not well-formed XML loses all its items in feed-rs. Two
//! repairs are tried before giving up, because the two faults are common on
//! hand-written feeds and the repair cannot invent an item: a bare `&` is
//! escaped, and a truncated feed is cut after its last whole item and closed.
//! Anything else (mismatched tags, garbage) stays an error: guessing there
//! could turn an error page into items. A repaired feed is logged and noted
//! in [`Extracted::note`].

use std::borrow::Cow;

use feed_rs::parser::{self, ParseErrorKind, ParseFeedError};
use tracing::warn;
use url::Url;

use super::{Depth, ExtractError, Extracted, Item, canonical_url, html_text, markup};
use crate::dates::{date_in_url, jst_date, parse_feed_timestamp};
use crate::text::{MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, one_line_owned};

/// feed-rs over `bytes`; the error described. feed-rs and quick-xml have
/// panicked on input before (see [`markup::declaration_trouble`]): a panic
/// is caught and becomes this source's error, not a lost poll.
fn parse(bytes: &[u8], base: &Url) -> Result<feed_rs::model::Feed, String> {
    // feed-rs copies its base URL into every element it hands over (90,409
    // copies in a cold cycle of the bench's 500 feeds, by callgrind), only to
    // resolve `xml:base` attributes against it. Relative links are joined to the feed's URL here anyway
    // ([`canonical_url`]), so the base is given only to a feed that has an
    // `xml:base`. (UTF-16, which a byte search cannot read, reaches feed-rs
    // only transcoded to UTF-8: [`markup::declaration_trouble`].)
    let xml_base = memchr::memmem::find(bytes, b"xml:base").is_some();
    let run = || {
        parser::Builder::new()
            .base_uri(xml_base.then_some(base.as_str()))
            .timestamp_parser(parse_feed_timestamp)
            .sanitize_content(false)
            // An item's identity is its canonical link (`Item::new`); feed-rs
            // would otherwise hash one for every entry without a guid, or
            // draw a random UUID for one without a link either.
            .id_generator(|_, _, _| String::new())
            .build()
            .parse(bytes)
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(parsed) => parsed.map_err(|e| describe(&e)),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(format!("the feed parser failed on this input (a bug in feed-rs): {message}"))
        }
    }
}

/// The bytes as UTF-8 with a UTF-8 XML declaration, for a second attempt.
fn transcoded(bytes: &[u8], content_type: Option<&str>) -> Vec<u8> {
    let decoded = crate::fetch::decode::decode(bytes, content_type);
    let text = decoded.text.trim_start_matches('\u{feff}');
    let body = markup::strip_declarations(text);
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{}", body.trim_start()).into_bytes()
}

fn describe(e: &ParseFeedError) -> String {
    match e {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
            "no RSS, RDF or Atom root element (is this an HTML page? then use kind = \"page\")".into()
        }
        other => crate::fetch::error_chain(other),
    }
}

/// The feed, read as is, transcoded, then repaired; with how it was
/// repaired. The error is the first attempt's.
fn parse_leniently(
    bytes: &[u8],
    content_type: Option<&str>,
    base: &Url,
) -> Result<(feed_rs::model::Feed, Option<String>), ExtractError> {
    let declared_legacy = crate::fetch::decode::declared_charset(bytes).is_some_and(|e| e != encoding_rs::UTF_8);
    let mislabeled = declared_legacy && crate::fetch::decode::is_plainly_utf8(bytes);
    // Bytes that would make quick-xml panic are only ever read transcoded.
    let transcode_only = mislabeled || markup::declaration_trouble(bytes);
    let mut candidates: Vec<Cow<'_, [u8]>> = Vec::new();
    let mut first = None;
    if !transcode_only {
        match parse(bytes, base) {
            Ok(feed) => return Ok((feed, None)),
            Err(e) => first = Some(e),
        }
        candidates.push(Cow::Borrowed(bytes));
    }
    let retry = transcoded(bytes, content_type);
    if retry.as_slice() != bytes || transcode_only {
        match parse(&retry, base) {
            Ok(feed) => return Ok((feed, None)),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
        candidates.push(Cow::Owned(retry));
    }
    let first = first.unwrap_or_default();
    for c in &candidates {
        let escaped = markup::escape_bare_ampersands(c);
        if let Some(fixed) = &escaped
            && let Ok(feed) = parse(fixed, base)
        {
            return Ok((feed, Some(format!("read after escaping a bare `&` (it was: {first})"))));
        }
        if let Some(fixed) = markup::cut_after_last_entry(escaped.as_deref().unwrap_or(c))
            && let Ok(feed) = parse(&fixed, base)
        {
            return Ok((feed, Some(format!("read up to its last whole item (it was: {first})"))));
        }
    }
    Err(ExtractError::Feed(first))
}

/// Extracts the items of a feed, to `depth`.
pub fn extract(
    source_id: &str,
    bytes: &[u8],
    content_type: Option<&str>,
    base: &Url,
    max_items: usize,
    depth: Depth,
) -> Result<Extracted, ExtractError> {
    let (bytes, cut_off) = markup::cap_entries(bytes, max_items.saturating_mul(2));
    let bytes = match markup::rdf_about_links(&bytes) {
        Some(linked) => Cow::Owned(linked),
        None => bytes,
    };
    let (feed, repaired) = parse_leniently(&bytes, content_type, base)?;
    if let Some(how) = &repaired {
        warn!(source = source_id, url = %base, "the feed is not well-formed XML; {how}");
    }
    let mut out = Extracted { note: repaired, ..Extracted::default() };
    for entry in feed.entries {
        let title = entry.title.map_or_else(String::new, |t| text_line(t.content, MAX_TITLE_CHARS));
        let hrefs = || {
            entry.links.iter().filter(|l| l.rel.as_deref().is_none_or(|r| r == "alternate")).map(|l| l.href.as_str())
        };
        let url = hrefs().find_map(|h| canonical_url(h, base)).filter(|u| u != base);
        if url.is_none() && hrefs().any(|h| !h.trim().is_empty()) {
            out.refused_links += 1;
        }
        if title.is_empty() && url.is_none() {
            continue;
        }
        let published = entry.published.or(entry.updated);
        let date = depth
            .reads_date(url.is_some())
            .then(|| published.map(jst_date).or_else(|| url.as_ref().and_then(|u| date_in_url(u.as_str()))))
            .flatten();
        let mut item = Item::new(source_id, url, title, date);
        item.published = published;
        if depth == Depth::Full {
            item.summary = entry.summary.map(|s| text_line(s.content, MAX_SUMMARY_CHARS)).filter(|s| !s.is_empty());
        }
        out.items.push(item);
    }
    let mut out = out.finish(max_items);
    out.over_cap += cut_off;
    Ok(out)
}

/// The visible text of a title or summary, on one line: the feed's own
/// string when it has no markup and is one line already.
fn text_line(content: String, max: usize) -> String {
    let text = match html_text(&content) {
        Cow::Owned(visible) => Some(visible),
        Cow::Borrowed(_) => None,
    };
    one_line_owned(text.unwrap_or(content), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(u: &str) -> Url {
        Url::parse(u).unwrap()
    }

    #[test]
    fn rss2_with_relative_links_and_dates() {
        let xml = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
            <item><title>  日米防衛相会談
              について </title><link>/j/approach/2026/0722_fra-j.html</link><guid>x</guid>
            <pubDate>Wed, 22 Jul 2026 18:02:36 +0900</pubDate></item></channel></rss>"#;
        let out = extract("mod", xml.as_bytes(), None, &base("https://www.mod.go.jp/j/rss/news.xml"), 100, Depth::Full)
            .unwrap();
        let item = &out.items[0];
        assert_eq!(item.title, "日米防衛相会談 について");
        assert_eq!(item.id, "https://www.mod.go.jp/j/approach/2026/0722_fra-j.html");
        assert_eq!(item.date.unwrap().to_string(), "2026-07-22");
    }

    #[test]
    fn links_resolve_against_xml_base_and_else_the_feed_url() {
        let atom = br#"<?xml version="1.0" encoding="utf-8"?>
            <feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://www.mofa.go.jp/mofaj/"><title>t</title>
            <entry><title>A</title><link href="press/release/a.html"/><id>a</id></entry>
            <entry xml:base="fp/"><title>B</title><link href="b.html"/><id>b</id></entry></feed>"#;
        let base = base("https://www.mofa.go.jp/rss/feed.xml");
        let out = extract("mofa", atom, None, &base, 100, Depth::Full).unwrap();
        let ids: Vec<&str> = out.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(
            ids,
            ["https://www.mofa.go.jp/mofaj/press/release/a.html", "https://www.mofa.go.jp/mofaj/fp/b.html"]
        );
        // A relative xml:base is read against the feed's URL.
        let relative = br#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/mofaj/"><title>t</title>
            <entry><title>C</title><link href="c.html"/><id>c</id></entry></feed>"#;
        let out = extract("mofa", relative, None, &base, 100, Depth::Full).unwrap();
        assert_eq!(out.items[0].id, "https://www.mofa.go.jp/mofaj/c.html");
        // The same in UTF-16, which feed-rs gets transcoded to UTF-8.
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain(std::str::from_utf8(relative).unwrap().encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let out = extract("mofa", &utf16, None, &base, 100, Depth::Full).unwrap();
        assert_eq!(out.items[0].id, "https://www.mofa.go.jp/mofaj/c.html");
        // Without xml:base, relative links are joined to the feed's URL.
        let plain = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
            <entry><title>D</title><link href="d.html"/><id>d</id></entry></feed>"#;
        let out = extract("mofa", plain, None, &base, 100, Depth::Full).unwrap();
        assert_eq!(out.items[0].id, "https://www.mofa.go.jp/rss/d.html");
    }

    #[test]
    fn an_empty_link_is_no_link_and_a_positional_guid_is_ignored() {
        let xml = br#"<rss version="2.0"><channel><title>t</title>
            <item><title>A</title><link/><guid isPermaLink="false">item_1</guid></item>
            <item><title>B</title><link>https://www.kantei.go.jp/b.html</link><guid isPermaLink="false">item_2</guid></item>
            </channel></rss>"#;
        let out =
            extract("kantei", xml, None, &base("https://www.kantei.go.jp/index-jnews.rdf"), 100, Depth::Full).unwrap();
        assert_eq!(out.items.len(), 2);
        assert!(out.items[0].id.starts_with("nolink:kantei:"), "{}", out.items[0].id);
        assert_eq!(out.items[0].url, None);
        assert_eq!(out.items[1].id, "https://www.kantei.go.jp/b.html");
    }

    #[test]
    fn javascript_links_are_refused() {
        let xml = br#"<rss version="2.0"><channel><title>t</title>
            <item><title>A</title><link>javascript:alert(1)</link></item></channel></rss>"#;
        let out = extract("s", xml, None, &base("https://example.go.jp/feed"), 100, Depth::Full).unwrap();
        assert_eq!(out.items[0].url, None);
        assert_eq!(out.refused_links, 1);
    }

    #[test]
    fn shift_jis_declared_only_by_http_is_transcoded() {
        let body = "<rss version=\"2.0\"><channel><title>t</title><item><title>国土交通省</title><link>https://www.mlit.go.jp/a.html</link></item></channel></rss>";
        let sjis = encoding_rs::SHIFT_JIS.encode(body).0.into_owned();
        let out = extract(
            "mlit",
            &sjis,
            Some("application/xml; charset=Shift_JIS"),
            &base("https://www.mlit.go.jp/f.rdf"),
            100,
            Depth::Full,
        )
        .unwrap();
        assert_eq!(out.items[0].title, "国土交通省");
    }

    #[test]
    fn broken_xml_is_a_clear_error() {
        let e = extract("s", b"<html><body>Not found</body></html>", None, &base("https://e.go.jp/f"), 10, Depth::Full)
            .unwrap_err();
        assert!(e.to_string().contains("kind = \"page\""), "{e}");
        let e = extract(
            "s",
            b"<rss version=\"2.0\"><channel><item><title>A & B</title>",
            None,
            &base("https://e.go.jp/f"),
            10,
            Depth::Full,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("unable to parse feed"), "{e}");
    }

    #[test]
    fn rss1_items_with_only_rdf_about_are_kept() {
        let xml = br#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
            <channel rdf:about="https://www.kantei.go.jp/"><title>t</title><link>https://www.kantei.go.jp/</link><description>d</description></channel>
            <item rdf:about="https://www.kantei.go.jp/jp/a.html"><title>A</title></item>
            <item rdf:about="https://www.kantei.go.jp/jp/b.html"><title>B</title><link>https://www.kantei.go.jp/jp/b2.html</link></item>
            </rdf:RDF>"#;
        let out =
            extract("kantei", xml, None, &base("https://www.kantei.go.jp/index-jnews.rdf"), 100, Depth::Full).unwrap();
        let ids: Vec<_> = out.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["https://www.kantei.go.jp/jp/a.html", "https://www.kantei.go.jp/jp/b2.html"]);
    }

    #[test]
    fn a_bare_ampersand_and_a_truncated_feed_are_repaired() {
        let amp = b"<rss version=\"2.0\"><channel><title>t</title><item><title>A & B</title><link>https://e.go.jp/1</link></item></channel></rss>";
        let out = extract("s", amp, None, &base("https://e.go.jp/f"), 10, Depth::Full).unwrap();
        assert_eq!(out.items[0].title, "A & B");
        assert!(out.note.as_deref().unwrap().contains("bare `&`"));
        let cut = b"<rss version=\"2.0\"><channel><title>t</title><item><title>A</title><link>https://e.go.jp/1</link></item><item><title>B</ti";
        let out = extract("s", cut, None, &base("https://e.go.jp/f"), 10, Depth::Full).unwrap();
        assert_eq!(out.items.len(), 1);
        assert!(out.note.as_deref().unwrap().contains("last whole item"));
    }

    #[test]
    fn utf8_under_a_shift_jis_declaration_is_read_as_utf8() {
        let xml = "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><rss version=\"2.0\"><channel><title>t</title><item><title>防衛省の報道発表について</title><link>https://e.go.jp/1</link></item></channel></rss>";
        let out = extract("s", xml.as_bytes(), None, &base("https://e.go.jp/f"), 10, Depth::Full).unwrap();
        assert_eq!(out.items[0].title, "防衛省の報道発表について");
    }

    /// A listing read keeps what a listing keeps: the same items, ids and
    /// titles as a full read, on the real captures and on a feed whose item
    /// has no link (its date is part of its id); nothing else.
    #[test]
    fn a_listing_read_keeps_every_identity() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captures");
        let nolink = br#"<rss version="2.0"><channel><title>t</title>
            <item><title>A</title><pubDate>Wed, 22 Jul 2026 18:02:36 +0900</pubDate><description>d</description></item>
            <item><title>B</title><link>https://e.go.jp/b.html</link><pubDate>Wed, 22 Jul 2026 18:02:36 +0900</pubDate><description>d</description></item>
            </channel></rss>"#;
        let mut feeds = vec![("nolink".to_owned(), nolink.to_vec())];
        for file in ["digital.xml", "kantei.xml", "mhlw.xml", "mlit.xml", "mod.xml"] {
            feeds.push((file.to_owned(), std::fs::read(dir.join(file)).unwrap()));
        }
        for (name, bytes) in feeds {
            let base = base("https://www.e.go.jp/feed.xml");
            let full = extract("s", &bytes, None, &base, 1000, Depth::Full).unwrap();
            let listing = extract("s", &bytes, None, &base, 1000, Depth::Listing).unwrap();
            let identity = |x: &Extracted| x.items.iter().map(|i| (i.id.clone(), i.title.clone())).collect::<Vec<_>>();
            assert!(!full.items.is_empty(), "{name}");
            assert_eq!(identity(&listing), identity(&full), "{name}");
            assert!(full.items.iter().any(|i| i.summary.is_some() || i.date.is_some()), "{name}: a full read has more");
            for i in &listing.items {
                assert_eq!(i.summary, None, "{name}");
                assert_eq!(i.date.is_some(), i.url.is_none() && i.published.is_some(), "{name}: {}", i.id);
            }
        }
    }

    /// An RSS 2.0 feed of `n` items.
    fn rss_items(n: usize) -> String {
        let items: String =
            (0..n).map(|i| format!("<item><title>T{i}</title><link>https://e.go.jp/{i}</link></item>")).collect();
        format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>")
    }

    #[test]
    fn a_huge_feed_is_cut_before_parsing() {
        // Past item 20 (twice the cap) every title holds a bare `&`: parsed,
        // they would need the repair, and say so in the note.
        let xml = rss_items(10_000).replacen("<title>T20</title>", "<title>T20 & more</title>", 1);
        let out = extract("s", xml.as_bytes(), None, &base("https://e.go.jp/f"), 10, Depth::Full).unwrap();
        assert_eq!((out.items.len(), out.over_cap), (10, 9_990));
        assert_eq!(out.note, None, "the items past the cut were never parsed");
        let whole = extract("s", xml.as_bytes(), None, &base("https://e.go.jp/f"), 10_000, Depth::Full).unwrap();
        assert!(whole.note.is_some(), "the bare `&` needs a repair when parsed");
    }

    #[test]
    fn the_item_cap_holds() {
        let xml = rss_items(50);
        let out = extract("s", xml.as_bytes(), None, &base("https://e.go.jp/f"), 10, Depth::Full).unwrap();
        assert_eq!((out.items.len(), out.over_cap), (10, 40));
    }
}
