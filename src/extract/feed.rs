//! Items from RSS 2.0, RSS 1.0/RDF and Atom, through feed-rs.
//!
//! feed-rs gets the raw bytes: it reads the XML declaration and decodes
//! Shift_JIS and EUC-JP itself. Only when that fails (no declaration, a label
//! it does not know such as `cp932`, a charset given only by HTTP) are the
//! bytes decoded here and the declaration rewritten to UTF-8.

use feed_rs::parser::{self, ParseErrorKind, ParseFeedError};
use url::Url;

use super::{ExtractError, Extracted, Item, canonical_url, html_text};
use crate::dates::{date_in_url, jst_date, parse_feed_timestamp};
use crate::text::{MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, one_line};

fn parse(bytes: &[u8], base: &Url) -> Result<feed_rs::model::Feed, ParseFeedError> {
    parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .timestamp_parser(parse_feed_timestamp)
        .sanitize_content(false)
        .build()
        .parse(bytes)
}

/// The bytes as UTF-8 with a UTF-8 XML declaration, for a second attempt.
fn transcoded(bytes: &[u8], content_type: Option<&str>) -> Vec<u8> {
    let decoded = crate::fetch::decode::decode(bytes, content_type);
    let text = decoded.text.trim_start_matches('\u{feff}');
    let body = match text.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(text, |(_, after)| after),
        None => text,
    };
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{body}").into_bytes()
}

fn describe(e: &ParseFeedError) -> String {
    match e {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
            "no RSS, RDF or Atom root element (is this an HTML page? then use kind = \"page\")".into()
        }
        other => crate::fetch::error_chain(other),
    }
}

/// Extracts the items of a feed.
pub fn extract(
    source_id: &str,
    bytes: &[u8],
    content_type: Option<&str>,
    base: &Url,
    max_items: usize,
) -> Result<Extracted, ExtractError> {
    let feed = match parse(bytes, base) {
        Ok(feed) => feed,
        Err(first) => {
            let retry = transcoded(bytes, content_type);
            if retry.as_slice() == bytes {
                return Err(ExtractError::Feed(describe(&first)));
            }
            parse(&retry, base).map_err(|_| ExtractError::Feed(describe(&first)))?
        }
    };
    let mut out = Extracted::default();
    for entry in feed.entries {
        let title = entry.title.as_ref().map(|t| html_text(&t.content)).unwrap_or_default();
        let title = one_line(&title, MAX_TITLE_CHARS);
        let hrefs: Vec<&str> = entry
            .links
            .iter()
            .filter(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
            .map(|l| l.href.as_str())
            .collect();
        let url = hrefs.iter().find_map(|h| canonical_url(h, base)).filter(|u| u != base);
        if url.is_none() && hrefs.iter().any(|h| !h.trim().is_empty()) {
            out.refused_links += 1;
        }
        if title.is_empty() && url.is_none() {
            continue;
        }
        let published = entry.published.or(entry.updated);
        let date = published.map(jst_date).or_else(|| url.as_ref().and_then(|u| date_in_url(u.as_str())));
        let mut item = Item::new(source_id, url, title, date);
        item.published = published;
        item.summary = entry
            .summary
            .as_ref()
            .map(|s| one_line(&html_text(&s.content), MAX_SUMMARY_CHARS))
            .filter(|s| !s.is_empty());
        out.items.push(item);
    }
    Ok(out.finish(max_items))
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
        let out = extract("mod", xml.as_bytes(), None, &base("https://www.mod.go.jp/j/rss/news.xml"), 100).unwrap();
        let item = &out.items[0];
        assert_eq!(item.title, "日米防衛相会談 について");
        assert_eq!(item.id, "https://www.mod.go.jp/j/approach/2026/0722_fra-j.html");
        assert_eq!(item.date.unwrap().to_string(), "2026-07-22");
    }

    #[test]
    fn an_empty_link_is_no_link_and_a_positional_guid_is_ignored() {
        let xml = br#"<rss version="2.0"><channel><title>t</title>
            <item><title>A</title><link/><guid isPermaLink="false">item_1</guid></item>
            <item><title>B</title><link>https://www.kantei.go.jp/b.html</link><guid isPermaLink="false">item_2</guid></item>
            </channel></rss>"#;
        let out = extract("kantei", xml, None, &base("https://www.kantei.go.jp/index-jnews.rdf"), 100).unwrap();
        assert_eq!(out.items.len(), 2);
        assert!(out.items[0].id.starts_with("nolink:kantei:"), "{}", out.items[0].id);
        assert_eq!(out.items[0].url, None);
        assert_eq!(out.items[1].id, "https://www.kantei.go.jp/b.html");
    }

    #[test]
    fn javascript_links_are_refused() {
        let xml = br#"<rss version="2.0"><channel><title>t</title>
            <item><title>A</title><link>javascript:alert(1)</link></item></channel></rss>"#;
        let out = extract("s", xml, None, &base("https://example.go.jp/feed"), 100).unwrap();
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
        )
        .unwrap();
        assert_eq!(out.items[0].title, "国土交通省");
    }

    #[test]
    fn broken_xml_is_a_clear_error() {
        let e = extract("s", b"<html><body>Not found</body></html>", None, &base("https://e.go.jp/f"), 10).unwrap_err();
        assert!(e.to_string().contains("kind = \"page\""), "{e}");
        let e = extract(
            "s",
            b"<rss version=\"2.0\"><channel><item><title>A & B</title>",
            None,
            &base("https://e.go.jp/f"),
            10,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("unable to parse feed"), "{e}");
    }

    #[test]
    fn the_item_cap_holds() {
        let mut xml = String::from("<rss version=\"2.0\"><channel><title>t</title>");
        for i in 0..50 {
            xml.push_str(&format!("<item><title>T{i}</title><link>https://e.go.jp/{i}</link></item>"));
        }
        xml.push_str("</channel></rss>");
        let out = extract("s", xml.as_bytes(), None, &base("https://e.go.jp/f"), 10).unwrap();
        assert_eq!((out.items.len(), out.over_cap), (10, 40));
    }
}
