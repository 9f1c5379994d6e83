//! The release text inside a ministry page.
//!
//! Release pages wrap a few paragraphs in a header, menus, breadcrumbs, a
//! sidebar and a footer. The text is taken from the page's main container
//! when it has one (`main`, `#main`, `#contents`, `article`, …), else from the
//! body with navigation, header, footer and asides left out. A container
//! that holds a single `article` (beside share bars and "related stories"
//! lists, as on DoD pages) is narrowed to it. Block elements
//! become line breaks, so numbered headings (「1 北朝鮮」) stay on their own
//! lines.

use chrono::NaiveDate;
use scraper::{ElementRef, Html, Node, Selector};
use serde::{Deserialize, Serialize};

use crate::dates::find_date;
use crate::extract::markup::nests_deeper;
use crate::extract::{MAX_HTML_DEPTH, MAX_PAGE_BYTES};
use crate::text::{MAX_TITLE_CHARS, one_line, paragraphs};

/// The longest release text kept, in characters.
pub const MAX_TEXT_CHARS: usize = 50_000;

/// A release as read from its page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePage {
    pub title: Option<String>,
    /// The release date printed on the page.
    pub date: Option<NaiveDate>,
    /// The release text, one paragraph or heading per line.
    pub text: String,
}

/// Containers that hold the release on government sites, best first.
const MAIN_SELECTORS: &[&str] = &[
    "main",
    "[role=main]",
    "#main",
    "#maincontents",
    "#main-contents",
    ".main-contents",
    "#contents",
    "#content",
    "article",
    ".contents",
    "#wrapper",
];

const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "button", "select", "svg",
    "iframe",
];

const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "dt",
    "dd",
    "dl",
    "tr",
    "table",
    "section",
    "article",
    "blockquote",
    "pre",
    "hr",
    "td",
    "th",
];

fn skipped_by_role(e: &scraper::node::Element) -> bool {
    let class_or_id = |needle: &str| {
        e.id().is_some_and(|id| id.to_ascii_lowercase().contains(needle))
            || e.classes().any(|c| c.to_ascii_lowercase().contains(needle))
    };
    [
        "breadcrumb",
        "topicpath",
        "pankuzu",
        "globalnav",
        "gnav",
        "sidebar",
        "side-nav",
        "sns",
        "share",
        "pagetop",
        "page-top",
        "skip",
        // "Related stories" lists inside the main container carry other
        // releases' dates and titles (DoD article pages).
        "related",
    ]
    .iter()
    .any(|n| class_or_id(n))
}

/// The text under `element`, block elements as line breaks. Depth first with
/// an explicit stack: a page nested 10^5 deep must not overflow ours.
fn collect_text(element: ElementRef<'_>, out: &mut String) {
    enum Step<N> {
        Enter(N),
        /// Leaving an element; true for a block element.
        Leave(bool),
    }
    let mut stack: Vec<Step<_>> = element.children().rev().map(Step::Enter).collect();
    while let Some(step) = stack.pop() {
        match step {
            Step::Leave(block) => {
                if block {
                    out.push('\n');
                }
            }
            Step::Enter(node) => match node.value() {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => {
                    let name = e.name();
                    if SKIPPED.contains(&name) || skipped_by_role(e) || name == "img" {
                        continue;
                    }
                    let block = BLOCKS.contains(&name);
                    if block {
                        out.push('\n');
                    }
                    stack.push(Step::Leave(block));
                    stack.extend(node.children().rev().map(Step::Enter));
                }
                _ => {}
            },
        }
    }
}

fn text_of(e: ElementRef<'_>) -> String {
    let mut s = String::new();
    collect_text(e, &mut s);
    paragraphs(&s, MAX_TEXT_CHARS)
}

/// Finds the release in a page; an unreadable page gives an empty release.
pub fn read_release(html: &str) -> ReleasePage {
    read_release_checked(html).unwrap_or_default()
}

/// Finds the release in a page, or says why the page cannot be read safely:
/// past [`MAX_PAGE_BYTES`] it is cut (the release is at the top), and a page
/// nested deeper than [`MAX_HTML_DEPTH`] is refused, since html5ever's parse
/// time grows with the square of the depth.
pub fn read_release_checked(html: &str) -> Result<ReleasePage, String> {
    let mut end = html.len().min(MAX_PAGE_BYTES);
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    let html = &html[..end];
    if nests_deeper(html.as_bytes(), MAX_HTML_DEPTH) {
        return Err(format!("the page nests elements deeper than {MAX_HTML_DEPTH} levels"));
    }
    Ok(read(html))
}

fn read(html: &str) -> ReleasePage {
    let doc = Html::parse_document(html);
    let select = |s: &str| Selector::parse(s).expect("static selector");
    // Each candidate's text is walked once and kept with it.
    let substantial = |e: ElementRef<'_>| {
        let text = text_of(e);
        (text.chars().count() >= 80).then_some(text)
    };
    let main = MAIN_SELECTORS
        .iter()
        .flat_map(|s| doc.select(&select(s)).next())
        .find_map(|e| substantial(e).map(|text| (e, text)));
    // A `main` that holds one `article` (and asides, related lists, share
    // bars beside it) is narrowed to the article.
    let article = select("article");
    let main = main.map(|(m, text)| {
        let mut articles = m.select(&article);
        match (articles.next(), articles.next()) {
            (Some(a), None) if a.id() != m.id() => substantial(a).map_or((m, text), |t| (a, t)),
            _ => (m, text),
        }
    });
    let (root, text) = main.unwrap_or_else(|| {
        let root = doc.select(&select("body")).next().unwrap_or_else(|| doc.root_element());
        (root, text_of(root))
    });

    let h1 = root
        .select(&select("h1"))
        .chain(doc.select(&select("h1")))
        .map(|h| one_line(&h.text().collect::<String>(), MAX_TITLE_CHARS))
        .find(|t| !t.is_empty());
    let title = h1.or_else(|| {
        doc.select(&select("title")).next().map(|t| {
            let t = one_line(&t.text().collect::<String>(), MAX_TITLE_CHARS);
            // "日米防衛相会談｜防衛省" → "日米防衛相会談"
            t.split(['｜', '|']).next().unwrap_or(&t).trim().to_owned()
        })
    });
    let title = title.filter(|t| !t.is_empty());
    let head: String = text.lines().take(12).collect::<Vec<_>>().join("\n");
    let date = find_date(&head, None);
    ReleasePage { title, date, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_is_found_inside_the_navigation() {
        let html = r#"<html><head><title>日米防衛相会談｜防衛省</title></head><body>
            <header><nav><ul><li>ホーム</li><li>防衛省について</li></ul></nav></header>
            <div class="breadcrumb">ホーム &gt; 報道資料</div>
            <div id="contents"><h1>日米防衛相会談</h1><p>平成30年6月29日</p>
            <p>平成30年6月29日、9時15分から約65分間、小野寺防衛大臣とマティス米国防長官は、防衛省において会談を行ったところ、概要は次のとおり。</p>
            <h2>1 北朝鮮</h2><p>両閣僚は…</p><h2>2 地域情勢等</h2><p>…</p></div>
            <footer>Copyright</footer></body></html>"#;
        let page = read_release(html);
        assert_eq!(page.title.as_deref(), Some("日米防衛相会談"));
        assert_eq!(page.date.unwrap().to_string(), "2018-06-29");
        assert!(page.text.contains("\n1 北朝鮮\n"), "{}", page.text);
        assert!(!page.text.contains("ホーム"), "{}", page.text);
        assert!(!page.text.contains("Copyright"));
    }

    #[test]
    fn a_main_with_one_article_is_narrowed_to_it() {
        let html = r#"<html><body><main><div class="container"><article><header><h1>Mattis Welcomes Japanese Counterpart</h1></header>
            <div class="body"><p>Defense Secretary James N. Mattis met with Defense Minister Itsunori Onodera of Japan at the Pentagon today.</p></div></article>
            <div class="related-stories"><h3>Related Stories</h3><p>Austin, Japanese Defense Minister Meet, Oct. 4, 2021</p></div>
            <div class="promo"><p>Spotlight: Indo-Pacific, November 2, 2023</p></div></div></main></body></html>"#;
        let page = read_release(html);
        assert_eq!(page.title.as_deref(), Some("Mattis Welcomes Japanese Counterpart"));
        assert!(page.text.starts_with("Defense Secretary James N. Mattis"), "{}", page.text);
        assert!(!page.text.contains("2021") && !page.text.contains("Spotlight"), "{}", page.text);
        assert_eq!(page.date, None);
    }

    // Regression: a release page of 10^5 nested divs overflowed the stack in
    // the recursive text walk and aborted the process (found by the hostile suite).
    #[test]
    fn pathologically_deep_pages_are_refused_and_deep_ones_read() {
        let deep = format!("<body>{}本文{}</body>", "<div>".repeat(100_000), "</div>".repeat(100_000));
        let err = read_release_checked(&deep).unwrap_err();
        assert!(err.contains("deeper than 512"), "{err}");
        assert_eq!(read_release(&deep), ReleasePage::default());
        let fine = format!(
            "<body>{}令和6年7月28日 防衛省において会談を行った。{}</body>",
            "<div>".repeat(400),
            "</div>".repeat(400)
        );
        let page = read_release(&fine);
        assert!(page.text.contains("防衛省において"), "{page:?}");
    }

    #[test]
    fn a_page_without_containers_falls_back_to_the_body() {
        let page = read_release("<body><p>本文です。</p><script>var x=1;</script></body>");
        assert_eq!(page.text, "本文です。");
        assert_eq!(page.title, None);
    }
}
