//! The Extractor: a source's answer turned into [`Item`]s.
//!
//! Feeds (RSS 2.0, RSS 1.0/RDF, Atom) go through feed-rs; HTML listings
//! through CSS selectors. Either way an item leaves here with a canonical
//! absolute http(s) URL as its identity (never a positional guid such as
//! Kantei's `item_N`, never the title), a one-line title, and the JST day it
//! was published when the source says so. Links that are not http(s)
//! (`javascript:`, `mailto:`) or longer than [`MAX_URL_BYTES`] are dropped;
//! an item without a usable link is keyed by source, title and date.
//!
//! Hostile input is bounded before a parser sees it ([`markup`]): a feed is
//! cut after twice `fetch.max_items` items, a page is read from its first
//! [`MAX_PAGE_BYTES`] and refused if it nests elements deeper than
//! [`MAX_HTML_DEPTH`], and markup in a title or summary is read from its
//! first [`MAX_FRAGMENT_BYTES`] only.

pub mod feed;
pub mod markup;
pub mod page;

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};
use foldhash::HashSetExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

/// One entry of a feed or listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The identity: the canonical URL, or `nolink:` + a hash for items
    /// without a link.
    pub id: String,
    /// The absolute http(s) link, if the source gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub title: String,
    /// The day it was published, in JST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// When it was published, if the source gives a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl Item {
    /// Builds an item, deriving its identity from the link (or, without one,
    /// from the source, title and date).
    pub fn new(source_id: &str, url: Option<Url>, title: String, date: Option<NaiveDate>) -> Item {
        let id = match &url {
            Some(u) => u.as_str().to_owned(),
            None => {
                let mut h = Sha256::new();
                h.update(source_id.as_bytes());
                h.update([0]);
                h.update(title.as_bytes());
                h.update([0]);
                h.update(date.map(|d| d.to_string()).unwrap_or_default().as_bytes());
                format!("nolink:{source_id}:{}", hex(&h.finalize()[..12]))
            }
        };
        Item { id, url: url.map(String::from), title, date, published: None, summary: None }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How much of each item to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// What a listing keeps: the identity and the title. A baseline poll
    /// records its items and mails none of them, and its items are never
    /// news later (they are in the listing), so nothing else of theirs is
    /// ever shown: it reads no summaries, and a date only where it is part
    /// of an item's identity (an item without a link). A feed's timestamps
    /// are still parsed (by feed-rs, with the entry) and kept.
    Listing,
    /// Everything a digest shows: the date, the time and the summary too.
    Full,
}

impl Depth {
    /// Whether an item's date is read: always in full, and in a listing
    /// read only for an item without a link, whose identity includes its
    /// date ([`Item::new`]).
    pub fn reads_date(self, linked: bool) -> bool {
        self == Depth::Full || !linked
    }
}

/// The items of one answer, plus what was noticed on the way.
#[derive(Debug, Default)]
pub struct Extracted {
    pub items: Vec<Item>,
    /// Items beyond `fetch.max_items`, not kept.
    pub over_cap: usize,
    /// Links refused (not http(s)); their items are keyed without a link.
    pub refused_links: usize,
    /// The share of U+FFFD in the titles: high means a wrong charset.
    pub mojibake: f64,
    /// What was done to the document to read it: a repair of XML that was
    /// not well-formed, or a cut of a page over [`MAX_PAGE_BYTES`].
    pub note: Option<String>,
}

impl Extracted {
    fn finish(mut self, max_items: usize) -> Extracted {
        // A listing may repeat an item (a "new" box and the list): keep the first.
        let first: Vec<bool> = {
            let mut seen = foldhash::HashSet::with_capacity(self.items.len());
            self.items.iter().map(|i| seen.insert(i.id.as_str())).collect()
        };
        let mut first = first.into_iter();
        self.items.retain(|_| first.next().unwrap_or(true));
        if self.items.len() > max_items {
            self.over_cap += self.items.len() - max_items;
            self.items.truncate(max_items);
        }
        self.mojibake = crate::text::replacement_ratio(self.items.iter().map(|i| i.title.as_str()));
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("unable to parse feed: {0}")]
    Feed(String),
    #[error("unable to parse page: {0}")]
    Page(String),
}

/// The longest link kept. Real release URLs are under 300 bytes; a
/// megabyte-long `href` would otherwise become an item's identity in the
/// store and a line of the digest.
pub const MAX_URL_BYTES: usize = 4096;

/// The deepest element nesting read. Browsers cap the DOM at 512 levels;
/// real listing pages nest under 50. Past it html5ever's parse time grows
/// with the square of the depth (see [`markup::nests_deeper`]).
pub const MAX_HTML_DEPTH: usize = 512;

/// How much of a listing page is parsed. html5ever's tree takes about 15
/// times the page's size in memory; real listings are under 1 MiB and put
/// the newest items first.
pub const MAX_PAGE_BYTES: usize = 4 << 20;

/// How much of a title's or summary's markup is parsed: the text kept is cut
/// to a few hundred characters anyway.
pub const MAX_FRAGMENT_BYTES: usize = 64 * 1024;

/// The canonical form of a link found at `base`: resolved, http(s) only,
/// without a fragment, at most [`MAX_URL_BYTES`]. `None` for anything else.
pub fn canonical_url(href: &str, base: &Url) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() || href.len() > MAX_URL_BYTES {
        return None;
    }
    let mut url = base.join(same_origin_path(href, base).unwrap_or(href)).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_fragment(None);
    (url.as_str().len() <= MAX_URL_BYTES).then_some(url)
}

/// The path, query and fragment of `href` when it is an absolute link to
/// `base`'s own origin, written as the base serialises it: joined to the
/// base, they give the same URL without parsing its host again (IDNA
/// processing, the most costly part of a parse). feed-rs hands every link
/// over absolute. `None` where the rest could start an authority of its own
/// (`//`, `/\`, with the tabs and line breaks a URL parser skips).
fn same_origin_path<'a>(href: &'a str, base: &Url) -> Option<&'a str> {
    let rest = href.strip_prefix(&base[..url::Position::BeforePath])?;
    let mut bytes = rest.bytes().filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'));
    (bytes.next() == Some(b'/') && !matches!(bytes.next(), Some(b'/' | b'\\'))).then_some(rest)
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Visible text of an HTML fragment (a title or summary that carries markup).
/// Only its first [`MAX_FRAGMENT_BYTES`] are read; markup nested deeper than
/// [`MAX_HTML_DEPTH`] is not parsed but stripped of its tags.
pub fn html_text(fragment: &str) -> Cow<'_, str> {
    if memchr::memchr2(b'<', b'&', fragment.as_bytes()).is_none() {
        return Cow::Borrowed(fragment);
    }
    let fragment = cut(fragment, MAX_FRAGMENT_BYTES);
    if markup::nests_deeper(fragment.as_bytes(), MAX_HTML_DEPTH) {
        return Cow::Owned(strip_tags(fragment));
    }
    Cow::Owned(visible_text(scraper::Html::parse_fragment(fragment).root_element()))
}

/// The text under `e`, without what a browser does not show (scripts,
/// styles, `<noscript>`, templates).
pub(crate) fn visible_text(e: scraper::ElementRef<'_>) -> String {
    let hidden = |node: &scraper::Node| {
        node.as_element().is_some_and(|el| matches!(el.name(), "script" | "style" | "noscript" | "template"))
    };
    let mut out = String::new();
    for node in e.descendants() {
        if let Some(text) = node.value().as_text() {
            // Parsed markup nests MAX_HTML_DEPTH deep at most: the walk is bounded.
            let inside_hidden = node.ancestors().take_while(|a| a.id() != e.id()).any(|a| hidden(a.value()));
            if !inside_hidden {
                out.push_str(text);
            }
        }
    }
    out
}

/// Text outside `<…>`, for markup too deep to parse. Entities stay as
/// written: the text is escaped again wherever it is shown.
fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_urls_keep_only_http() {
        let base = Url::parse("https://www.mod.go.jp/j/rss/news.xml").unwrap();
        let c = |h: &str| canonical_url(h, &base).map(String::from);
        assert_eq!(
            c("/j/press/news/2026/08/19a.html#top").as_deref(),
            Some("https://www.mod.go.jp/j/press/news/2026/08/19a.html")
        );
        assert_eq!(c(" ../x.html ").as_deref(), Some("https://www.mod.go.jp/j/x.html"));
        assert_eq!(c("javascript:alert(1)"), None);
        assert_eq!(c("mailto:a@b"), None);
        assert_eq!(c("file:///etc/passwd"), None);
        assert_eq!(c(""), None);
    }

    #[test]
    fn links_to_the_base_origin_resolve_as_a_full_parse_does() {
        let base = Url::parse("https://www.mod.go.jp/j/rss/news.xml").unwrap();
        for href in [
            "https://www.mod.go.jp/j/press/2026/0819a.html#top",
            "https://www.mod.go.jp/a/../b/./c.html?x=1&y=防衛",
            "https://www.mod.go.jp/a b/%7e/",
            "https://www.mod.go.jp//evil.example/x",
            "https://www.mod.go.jp/\\evil.example/x",
            "https://www.mod.go.jp/\t/evil.example/x",
            "https://www.mod.go.jp/\n\\evil.example/x",
            "https://www.mod.go.jp:443/x",
            "https://www.mod.go.jp.evil.example/x",
            "https://www.mod.go.jp@evil.example/x",
            "https://www.mod.go.jp?q",
            "https://www.mod.go.jp",
            "https://WWW.MOD.GO.JP/x",
        ] {
            let full = Url::parse(href).ok().map(|mut u| {
                u.set_fragment(None);
                u
            });
            assert_eq!(canonical_url(href, &base), full, "{href:?}");
        }
        assert_eq!(same_origin_path("https://www.mod.go.jp/j/a.html", &base), Some("/j/a.html"));
        assert_eq!(same_origin_path("https://www.mod.go.jp//evil.example/", &base), None);
    }

    #[test]
    fn items_without_links_are_keyed_by_source_title_and_date() {
        let a = Item::new("kantei", None, "北朝鮮".into(), None);
        let b = Item::new("kantei", None, "北朝鮮".into(), None);
        let c = Item::new("mod", None, "北朝鮮".into(), None);
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert!(a.id.starts_with("nolink:kantei:"));
    }

    #[test]
    fn html_text_drops_tags_and_scripts() {
        assert_eq!(html_text("<b>日米</b>防衛相会談<script>alert(1)</script>"), "日米防衛相会談");
        assert_eq!(html_text("A &amp; B"), "A & B");
    }

    #[test]
    fn hostile_titles_are_bounded() {
        // 20 000 nested elements: stripped, not parsed (parsing takes O(n²)).
        let deep = format!("{}防衛{}", "<b>".repeat(20_000), "</b>".repeat(20_000));
        assert_eq!(html_text(&deep), "防衛");
        let long = format!("<i>{}</i>", "長".repeat(1 << 20));
        assert!(html_text(&long).len() <= MAX_FRAGMENT_BYTES);
    }

    #[test]
    fn overlong_links_are_refused() {
        let base = Url::parse("https://www.mod.go.jp/").unwrap();
        assert!(canonical_url(&format!("/{}", "a".repeat(MAX_URL_BYTES)), &base).is_none());
        // Percent-encoding may triple a path: the result is measured too.
        assert!(canonical_url(&format!("/{}", "防".repeat(MAX_URL_BYTES / 4)), &base).is_none());
        assert!(canonical_url(&format!("/{}", "a".repeat(200)), &base).is_some());
    }
}
