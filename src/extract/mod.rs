//! The Extractor: a source's answer turned into [`Item`]s.
//!
//! Feeds (RSS 2.0, RSS 1.0/RDF, Atom) go through feed-rs; HTML listings
//! through CSS selectors. Either way an item leaves here with a canonical
//! absolute http(s) URL as its identity (never a positional guid such as
//! Kantei's `item_N`, never the title), a one-line title, and the JST day it
//! was published when the source says so. Links that are not http(s)
//! (`javascript:`, `mailto:`) are dropped; an item without a usable link is
//! keyed by source, title and date.

pub mod feed;
pub mod page;

use chrono::{DateTime, NaiveDate, Utc};
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
            Some(u) => u.to_string(),
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
}

impl Extracted {
    fn finish(mut self, max_items: usize) -> Extracted {
        // A listing may repeat an item (a "new" box and the list): keep the first.
        let mut seen = std::collections::HashSet::new();
        self.items.retain(|i| seen.insert(i.id.clone()));
        if self.items.len() > max_items {
            self.over_cap = self.items.len() - max_items;
            self.items.truncate(max_items);
        }
        let titles: String = self.items.iter().map(|i| i.title.as_str()).collect();
        self.mojibake = crate::text::replacement_ratio(&titles);
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

/// The canonical form of a link found at `base`: resolved, http(s) only,
/// without a fragment. `None` for anything else.
pub fn canonical_url(href: &str, base: &Url) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let mut url = base.join(href).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_fragment(None);
    Some(url)
}

/// Visible text of an HTML fragment (a title or summary that carries markup).
pub fn html_text(fragment: &str) -> String {
    if !fragment.contains('<') && !fragment.contains('&') {
        return fragment.to_owned();
    }
    let doc = scraper::Html::parse_fragment(fragment);
    let mut out = String::new();
    for node in doc.root_element().descendants() {
        if let Some(text) = node.value().as_text() {
            let inside_script = node
                .ancestors()
                .any(|a| a.value().as_element().is_some_and(|e| matches!(e.name(), "script" | "style")));
            if !inside_script {
                out.push_str(text);
            }
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
}
