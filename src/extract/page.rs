//! Items from an HTML listing page, by CSS selectors.
//!
//! The item's date may be inside the item (`date`), in the nearest heading
//! before it (`date_heading`, as MOFA's `dt.list-title` "8月19日付", which has
//! no year: it is taken from the fetch date, minding December and January),
//! in its URL, or nowhere.
//!
//! Only the first [`MAX_PAGE_BYTES`] of a page are parsed, and a page that
//! nests elements deeper than [`MAX_HTML_DEPTH`] is refused before parsing
//! (html5ever would take minutes over it); items past twice the cap are
//! counted, not read. The text of `<script>` and `<style>` is never part of a
//! title.

use std::sync::LazyLock;

use chrono::NaiveDate;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::{
    Depth, ExtractError, Extracted, Item, MAX_HTML_DEPTH, MAX_PAGE_BYTES, canonical_url, cut, markup, visible_text,
};
use crate::config::PageSelectors;
use crate::dates::{date_in_url, find_date};
use crate::text::{MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, one_line_owned};

/// A page's `<base href>`, which changes what its relative links mean.
static BASE_HREF: LazyLock<Selector> = LazyLock::new(|| Selector::parse("base[href]").expect("static selector"));

/// Extracts the items of a listing page, to `depth`. `today` (JST) gives the
/// year to dates written without one.
pub fn extract(
    source_id: &str,
    html: &str,
    base: &Url,
    sel: &PageSelectors,
    max_items: usize,
    today: NaiveDate,
    depth: Depth,
) -> Result<Extracted, ExtractError> {
    if html.trim().is_empty() {
        return Err(ExtractError::Page("empty body".into()));
    }
    let note = (html.len() > MAX_PAGE_BYTES)
        .then(|| format!("read only the first {} MiB of a {} MiB page", MAX_PAGE_BYTES >> 20, html.len() >> 20));
    if let Some(note) = &note {
        tracing::warn!(source = source_id, url = %base, "{note}");
    }
    let html = cut(html, MAX_PAGE_BYTES);
    if markup::nests_deeper(html.as_bytes(), MAX_HTML_DEPTH) {
        return Err(ExtractError::Page(format!(
            "elements nest deeper than {MAX_HTML_DEPTH} levels: not a listing page kisha will parse"
        )));
    }
    let doc = Html::parse_document(html);
    let base = doc
        .select(&BASE_HREF)
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| canonical_url(h, base))
        .unwrap_or_else(|| base.clone());

    let mut out = Extracted { note, ..Extracted::default() };
    let mut heading_date: Option<NaiveDate> = None;
    for node in doc.root_element().descendants() {
        let Some(element) = ElementRef::wrap(node) else { continue };
        if let Some(h) = &sel.date_heading
            && h.selector.matches(&element)
        {
            heading_date = find_date(&visible_text(element), Some(today));
            continue;
        }
        if !sel.item.selector.matches(&element) {
            continue;
        }
        // Stop reading once well past the cap: a hostile page may hold 10^5 items.
        if out.items.len() > max_items.saturating_mul(2) {
            out.over_cap += 1;
            continue;
        }
        let title_el = element.select(&sel.title.selector).next();
        let title = one_line_owned(title_el.map(visible_text).unwrap_or_default(), MAX_TITLE_CHARS);
        // The link is the first element the link selector finds with an
        // `href`. Under the title's selector (`a` for both, most often) that
        // is the title's element when it has one: not looked for again.
        let href = title_el
            .filter(|_| sel.link.text == sel.title.text)
            .and_then(|a| a.value().attr("href"))
            .or_else(|| element.select(&sel.link.selector).find_map(|a| a.value().attr("href")))
            .or_else(|| sel.link.selector.matches(&element).then(|| element.value().attr("href")).flatten());
        let url = href.and_then(|h| canonical_url(h, &base));
        if url.is_none() && href.is_some_and(|h| !h.trim().is_empty()) {
            out.refused_links += 1;
        }
        if title.is_empty() && url.is_none() {
            continue;
        }
        let date = depth.reads_date(url.is_some()).then(|| {
            let own_date = sel
                .date
                .as_ref()
                .and_then(|d| element.select(&d.selector).next())
                .and_then(|d| find_date(&visible_text(d), Some(today)));
            own_date.or(heading_date).or_else(|| url.as_ref().and_then(|u| date_in_url(u.as_str())))
        });
        let mut item = Item::new(source_id, url, title, date.flatten());
        if depth == Depth::Full {
            item.summary = sel
                .summary
                .as_ref()
                .and_then(|s| element.select(&s.selector).next())
                .map(|s| one_line_owned(visible_text(s), MAX_SUMMARY_CHARS))
                .filter(|s| !s.is_empty());
        }
        out.items.push(item);
    }
    Ok(out.finish(max_items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Css;

    fn css(s: &str) -> Css {
        Css { text: s.into(), selector: std::sync::Arc::new(scraper::Selector::parse(s).unwrap()) }
    }

    fn selectors(item: &str, date: Option<&str>, heading: Option<&str>) -> PageSelectors {
        PageSelectors {
            item: css(item),
            title: css("a"),
            link: css("a"),
            date: date.map(css),
            date_heading: heading.map(css),
            summary: None,
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A listing read keeps the items, ids and titles of a full read, on the
    /// MOFA capture and on items without a link, whose date (their own or
    /// their heading's) is part of their id; no other date, no summary.
    #[test]
    fn a_listing_read_keeps_every_identity() {
        let mofa = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captures/mofa.html"),
        )
        .unwrap();
        let nolink = r#"<h3>8月19日付</h3><ul>
            <li><span class="d">2026年8月18日</span><a>Own date</a><p>s</p></li>
            <li><a>Heading date</a><p>s</p></li>
            <li><span class="d">2026年8月17日</span><a href="/c.html">Linked</a><p>s</p></li></ul>"#;
        let with_summary = PageSelectors { summary: Some(css("p")), ..selectors("ul li", Some("span.d"), Some("h3")) };
        let pages =
            [(mofa.as_str(), selectors("#pressrelease dd li", None, Some("dt.list-title"))), (nolink, with_summary)];
        for (html, sel) in &pages {
            let base = Url::parse("https://www.mofa.go.jp/mofaj/press/release/index.html").unwrap();
            let read = |depth| extract("s", html, &base, sel, 1000, day("2026-08-20"), depth).unwrap();
            let (full, listing) = (read(Depth::Full), read(Depth::Listing));
            let identity = |x: &Extracted| x.items.iter().map(|i| (i.id.clone(), i.title.clone())).collect::<Vec<_>>();
            assert!(full.items.len() >= 3);
            assert_eq!(identity(&listing), identity(&full));
            assert!(full.items.iter().all(|i| i.date.is_some()));
            for i in &listing.items {
                assert_eq!((i.summary.is_some(), i.date.is_some()), (false, i.url.is_none()), "{}", i.title);
            }
        }
    }

    #[test]
    fn the_link_is_the_first_match_with_an_href() {
        let html =
            r#"<ul><li><a name="top">Title</a> <a href="/r.html">more</a></li><li><a href="/s.html">S</a></li></ul>"#;
        let base = Url::parse("https://e.go.jp/list.html").unwrap();
        let out = extract("s", html, &base, &selectors("li", None, None), 10, day("2026-08-20"), Depth::Full).unwrap();
        let got: Vec<_> = out.items.iter().map(|i| (i.title.as_str(), i.url.as_deref())).collect();
        assert_eq!(got, [("Title", Some("https://e.go.jp/r.html")), ("S", Some("https://e.go.jp/s.html"))]);
        // Under selectors of their own, the title's element is not the link's.
        let html = r#"<ul><li><a href="/first.html">icon</a><a class="t" href="/t.html">Title</a></li></ul>"#;
        let sel = PageSelectors { title: css("a.t"), ..selectors("li", None, None) };
        let out = extract("s", html, &base, &sel, 10, day("2026-08-20"), Depth::Full).unwrap();
        assert_eq!(out.items[0].url.as_deref(), Some("https://e.go.jp/first.html"));
    }

    #[test]
    fn dates_from_a_heading_before_the_group() {
        let html = r#"<div id="pressrelease"><dl>
            <dt class="list-title">1月5日付</dt><dd><ul><li><a href="/a.html">A</a></li><li><a href="b.html">B</a></li></ul></dd>
            <dt class="list-title">12月28日付</dt><dd><ul><li><a href="/c.html">C</a></li></ul></dd></dl></div>
            <ul class="nav"><li><a href="/x">nav</a></li></ul>"#;
        let base = Url::parse("https://www.mofa.go.jp/mofaj/press/release/index.html").unwrap();
        let out = extract(
            "mofa",
            html,
            &base,
            &selectors("#pressrelease dd li", None, Some("dt.list-title")),
            100,
            day("2027-01-06"),
            Depth::Full,
        )
        .unwrap();
        let got: Vec<_> =
            out.items.iter().map(|i| (i.title.as_str(), i.date.unwrap().to_string(), i.id.as_str())).collect();
        assert_eq!(
            got,
            [
                ("A", "2027-01-05".to_string(), "https://www.mofa.go.jp/a.html"),
                ("B", "2027-01-05".to_string(), "https://www.mofa.go.jp/mofaj/press/release/b.html"),
                ("C", "2026-12-28".to_string(), "https://www.mofa.go.jp/c.html"),
            ]
        );
    }

    #[test]
    fn dates_inside_the_item_or_the_url_or_none() {
        let html = r#"<ul class="news"><li><span class="date">2024年6月30日</span><a href="/p/1.html">One</a></li>
            <li><a href="/j/press/news/2026/08/19a.html">Two</a></li><li><a href="/p/3.html">Three</a></li></ul>"#;
        let base = Url::parse("https://e.go.jp/").unwrap();
        let out = extract(
            "s",
            html,
            &base,
            &selectors("ul.news > li", Some("span.date"), None),
            100,
            day("2026-08-20"),
            Depth::Full,
        )
        .unwrap();
        let dates: Vec<_> = out.items.iter().map(|i| i.date.map(|d| d.to_string())).collect();
        assert_eq!(dates, [Some("2024-06-30".into()), Some("2026-08-19".into()), None]);
    }

    #[test]
    fn a_page_nested_too_deep_is_refused_before_parsing() {
        let html =
            format!("<html><body>{}<ul><li><a href=\"/a\">A</a></li></ul></body></html>", "<div>".repeat(100_000));
        let base = Url::parse("https://e.go.jp/").unwrap();
        let e =
            extract("s", &html, &base, &selectors("li", None, None), 100, day("2026-08-20"), Depth::Full).unwrap_err();
        assert!(e.to_string().contains("deeper than 512"), "{e}");
    }

    #[test]
    fn only_the_first_mebibytes_of_a_page_are_parsed() {
        let html = format!(
            "<ul><li><a href=\"/a\">A</a></li></ul><!--{}--><ul><li><a href=\"/b\">B</a></li></ul>",
            "x".repeat(MAX_PAGE_BYTES)
        );
        let base = Url::parse("https://e.go.jp/").unwrap();
        let out =
            extract("s", &html, &base, &selectors("li", None, None), 100, day("2026-08-20"), Depth::Full).unwrap();
        let titles: Vec<_> = out.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, ["A"]);
        assert!(out.note.as_deref().unwrap().contains("first 4 MiB"), "{:?}", out.note);
    }

    #[test]
    fn script_links_are_refused_and_markup_never_reaches_the_title() {
        let html = r#"<ul class="news"><li><a href="javascript:void(0)">A<script>x()</script></a></li></ul>"#;
        let base = Url::parse("https://e.go.jp/").unwrap();
        let out = extract("s", html, &base, &selectors("ul.news li", None, None), 100, day("2026-08-20"), Depth::Full)
            .unwrap();
        assert_eq!(out.refused_links, 1);
        assert_eq!(out.items[0].url, None);
        assert_eq!(out.items[0].title, "A", "the script's text is not part of the title");
    }
}
