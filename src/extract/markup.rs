//! Byte-level passes over markup, before a parser sees it.
//!
//! They work on raw bytes in any ASCII-compatible encoding (UTF-8,
//! Shift_JIS, EUC-JP: a `<`, `>`, `&` or quote byte is always that
//! character in them), run in one linear scan with bounded state, and never
//! fail: at worst they change nothing.
//!
//! - [`nests_deeper`]: whether a page's elements nest deeper than a limit.
//!   html5ever has no depth limit and checks scopes by walking the stack of
//!   open elements, so a page of 100 000 nested `<div>`s costs O(n²)
//!   (minutes) to parse. Browsers cap the tree at 512 levels; the page
//!   extractor refuses such a page instead.
//! - [`cap_entries`]: a feed cut after its first N items and closed, so that
//!   10⁵ items never become 10⁵ feed-rs entries in memory.
//! - [`rdf_about_links`]: RSS 1.0 items that have only `rdf:about` get it as
//!   a `<link>` (feed-rs drops items without one).
//! - [`escape_bare_ampersands`] and [`cut_after_last_entry`]: the two
//!   repairs the feed extractor tries on a feed that is not well-formed.
//! - [`declaration_trouble`] and [`strip_declarations`]: quick-xml 0.42
//!   (under feed-rs) panics when it meets an XML declaration naming another
//!   encoding after the first 64 bytes it sniffs (seen: a UTF-16 feed whose
//!   declaration says UTF-8, a second declaration mid-document). Such a feed,
//!   or one whose declaration is not at the very start, is decoded by kisha
//!   and handed on without declarations.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::bytes::Regex;

/// Open elements kept while closing a cut document; a deeper one is not
/// repaired (feed-rs refuses it anyway).
const MAX_OPEN: usize = 1024;

/// One tag found by [`next_tag`].
#[derive(Debug, PartialEq)]
enum Tag<'a> {
    Start { name: &'a [u8], self_closing: bool },
    End { name: &'a [u8] },
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|i| from + i)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-' | b'.') || b >= 0x80
}

/// The next start or end tag at or after `from`, and the position after it.
/// Comments, CDATA sections, processing instructions and declarations
/// (a DOCTYPE with its internal subset) are skipped; a `<` that starts no
/// tag is text. `None` at the end of the input or inside an unfinished tag.
fn next_tag(b: &[u8], mut from: usize) -> Option<(Tag<'_>, usize)> {
    loop {
        let lt = from + memchr::memchr(b'<', b.get(from..)?)?;
        let rest = &b[lt..];
        if rest.starts_with(b"<!--") {
            from = find(b, lt + 4, b"-->")? + 3;
        } else if rest.starts_with(b"<![CDATA[") {
            from = find(b, lt + 9, b"]]>")? + 3;
        } else if rest.starts_with(b"<?") {
            from = find(b, lt + 2, b"?>")? + 2;
        } else if rest.starts_with(b"<!") {
            let gt = find(b, lt, b">")?;
            from = match b[lt..gt].iter().position(|&c| c == b'[') {
                Some(open) => {
                    find(b, lt + open, b"]").and_then(|close| find(b, close, b">")).map_or(gt + 1, |end| end + 1)
                }
                None => gt + 1,
            };
        } else {
            let end_tag = rest.get(1) == Some(&b'/');
            let name_at = lt + 1 + usize::from(end_tag);
            let name_len = b[name_at..].iter().take_while(|&&c| is_name_byte(c)).count();
            if name_len == 0 || !b[name_at].is_ascii_alphabetic() && b[name_at] < 0x80 && b[name_at] != b'_' {
                from = lt + 1;
                continue;
            }
            // The end of the tag: the first `>` outside a quoted value.
            let mut quote = None;
            let mut i = name_at + name_len;
            let gt = loop {
                let rest = b.get(i..)?;
                i += match quote {
                    Some(q) => memchr::memchr(q, rest)?,
                    None => memchr::memchr3(b'"', b'\'', b'>', rest)?,
                };
                match (quote, b[i]) {
                    (Some(_), _) => quote = None,
                    (None, b'>') => break i,
                    (None, q) => quote = Some(q),
                }
                i += 1;
            };
            let name = &b[name_at..name_at + name_len];
            let tag = if end_tag {
                Tag::End { name }
            } else {
                Tag::Start { name, self_closing: gt > lt && b[gt - 1] == b'/' }
            };
            return Some((tag, gt + 1));
        }
    }
}

/// HTML elements that hold no children.
const VOID: [&[u8]; 14] = [
    b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta", b"param", b"source",
    b"track", b"wbr",
];

/// HTML elements whose end tag may be left out (`<li>` after `<li>`): an
/// unclosed one is closed by its next sibling, so it does not nest.
const OPTIONAL_END: [&[u8]; 16] = [
    b"li",
    b"p",
    b"dt",
    b"dd",
    b"tr",
    b"td",
    b"th",
    b"option",
    b"optgroup",
    b"rb",
    b"rt",
    b"rp",
    b"rtc",
    b"tbody",
    b"thead",
    b"tfoot",
];

/// HTML elements whose content is text up to their end tag.
const RAW_TEXT: [&[u8]; 8] = [b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed", b"noframes"];

/// Where `</name` (any case) starts, at or after `from`.
fn find_end_tag(b: &[u8], mut from: usize, name: &[u8]) -> Option<usize> {
    loop {
        let i = find(b, from, b"</")?;
        if b.get(i + 2..i + 2 + name.len()).is_some_and(|n| n.eq_ignore_ascii_case(name)) {
            return Some(i);
        }
        from = i + 2;
    }
}

fn is_one_of(name: &[u8], list: &[&[u8]]) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Whether the elements of `html` nest deeper than `limit` ([`html_depth`]).
/// Markup with no more than `limit` `<` cannot: it is counted, not scanned
/// tag by tag (the bench's 500 listing pages: 58 → 7 M instructions, by
/// callgrind).
pub fn nests_deeper(html: &[u8], limit: usize) -> bool {
    memchr::memchr_iter(b'<', html).nth(limit).is_some() && html_depth(html, limit) > limit
}

/// How deep the elements of an HTML document nest, as an estimate that
/// errs low: void elements, self-closed tags and elements whose end tag is
/// optional do not count, and a stray end tag closes one level. The scan
/// stops as soon as the depth passes `limit`.
fn html_depth(html: &[u8], limit: usize) -> usize {
    let (mut depth, mut max, mut at) = (0usize, 0usize, 0usize);
    while let Some((tag, next)) = next_tag(html, at) {
        at = next;
        match tag {
            Tag::Start { name, self_closing } => {
                if is_one_of(name, &RAW_TEXT) && !self_closing {
                    // Skip to `</name`; without one the rest is text.
                    match find_end_tag(html, at, name) {
                        Some(i) => at = i,
                        None => break,
                    }
                    continue;
                }
                if self_closing || is_one_of(name, &VOID) || is_one_of(name, &OPTIONAL_END) {
                    continue;
                }
                depth += 1;
                max = max.max(depth);
                if max > limit {
                    break;
                }
            }
            Tag::End { name } => {
                if !is_one_of(name, &OPTIONAL_END) {
                    depth = depth.saturating_sub(1);
                }
            }
        }
    }
    max
}

/// The end tags that close what is open at the end of `prefix`, innermost
/// first; `None` when it nests deeper than [`MAX_OPEN`].
fn closing_tags(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut open: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    while let Some((tag, next)) = next_tag(prefix, at) {
        at = next;
        match tag {
            Tag::Start { self_closing: true, .. } => {}
            Tag::Start { name, .. } => {
                open.push(name);
                if open.len() > MAX_OPEN {
                    return None;
                }
            }
            Tag::End { name } => {
                if let Some(i) = open.iter().rposition(|n| *n == name) {
                    open.truncate(i);
                }
            }
        }
    }
    let mut out = Vec::new();
    for name in open.iter().rev() {
        out.extend_from_slice(b"</");
        out.extend_from_slice(name);
        out.push(b'>');
    }
    Some(out)
}

/// `</item>`, `</entry>`, with or without a namespace prefix.
static ENTRY_END: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"</(?:[A-Za-z_][A-Za-z0-9_.-]*:)?(?:item|entry)\s*>").expect("static regex"));

/// `prefix` with what is open at its end closed.
fn closed(prefix: &[u8]) -> Option<Vec<u8>> {
    let closing = closing_tags(prefix)?;
    let mut out = Vec::with_capacity(prefix.len() + closing.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(&closing);
    Some(out)
}

/// A feed with at most `keep` items: cut after the `keep`-th `</item>` or
/// `</entry>` and closed, with how many item ends were cut off. Unchanged
/// when it has no more than `keep`.
pub fn cap_entries(xml: &[u8], keep: usize) -> (Cow<'_, [u8]>, usize) {
    // Every item end holds an `item` or an `entry` of its own: a feed with
    // no more of those than `keep` is not searched item end by item end.
    let words = memchr::memmem::find_iter(xml, b"item").chain(memchr::memmem::find_iter(xml, b"entry"));
    if words.take(keep.saturating_add(1)).count() <= keep {
        return (Cow::Borrowed(xml), 0);
    }
    let mut ends = ENTRY_END.find_iter(xml);
    let Some(cut) = ends.nth(keep.saturating_sub(1)).map(|m| m.end()).filter(|_| keep > 0) else {
        return (Cow::Borrowed(xml), 0);
    };
    let dropped = ends.count();
    if dropped == 0 {
        return (Cow::Borrowed(xml), 0);
    }
    match closed(&xml[..cut]) {
        Some(out) => (Cow::Owned(out), dropped),
        None => (Cow::Borrowed(xml), 0),
    }
}

/// A truncated feed cut after its last whole item and closed; `None` when it
/// has no item end, or when that changes nothing.
pub fn cut_after_last_entry(xml: &[u8]) -> Option<Vec<u8>> {
    let cut = ENTRY_END.find_iter(xml).last()?.end();
    let out = closed(&xml[..cut])?;
    (out != xml).then_some(out)
}

/// `&` that starts no entity or character reference, written `&amp;`
/// (outside CDATA sections and comments); `None` when there is none.
pub fn escape_bare_ampersands(xml: &[u8]) -> Option<Vec<u8>> {
    static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^&(?:#[0-9]{1,8}|#x[0-9A-Fa-f]{1,8}|[A-Za-z_][A-Za-z0-9_.-]{0,63});").expect("static regex")
    });
    let mut out = Vec::with_capacity(xml.len() + 64);
    let mut changed = false;
    let mut i = 0;
    while i < xml.len() {
        let rest = &xml[i..];
        let skip = if rest.starts_with(b"<![CDATA[") {
            Some(find(xml, i, b"]]>").map_or(xml.len(), |e| e + 3))
        } else if rest.starts_with(b"<!--") {
            Some(find(xml, i, b"-->").map_or(xml.len(), |e| e + 3))
        } else {
            None
        };
        if let Some(end) = skip {
            out.extend_from_slice(&xml[i..end]);
            i = end;
            continue;
        }
        if xml[i] == b'&' && !REFERENCE.is_match(&rest[..rest.len().min(80)]) {
            out.extend_from_slice(b"&amp;");
            changed = true;
        } else {
            out.push(xml[i]);
        }
        i += 1;
    }
    changed.then_some(out)
}

/// RSS 1.0 items without a `<link>` given their `rdf:about` as one; `None`
/// when the document is not RDF or every item has a link.
pub fn rdf_about_links(xml: &[u8]) -> Option<Vec<u8>> {
    static ITEM: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"<item\s[^>]*?\brdf:about\s*=\s*(?:"([^"<]*)"|'([^'<]*)')[^>]*>"#).expect("static regex")
    });
    static LINK: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<(?:[A-Za-z_][A-Za-z0-9_.-]*:)?link[\s>/]").expect("static regex"));
    find(xml, 0, b"rdf:RDF")?;
    // Found first, and read for their `rdf:about` only when they lack a link:
    // a search for the captures costs several times one for the match.
    let items: Vec<_> = ITEM.find_iter(xml).collect();
    let mut out = Vec::new();
    let mut copied = 0;
    for (n, start) in items.iter().enumerate() {
        if xml[..start.end()].ends_with(b"/>") {
            continue;
        }
        // The item's body: up to its end tag, and never past the next item.
        let next = items.get(n + 1).map_or(xml.len(), |m| m.start());
        let body = &xml[start.end()..next];
        let body = find(body, 0, b"</item").map_or(body, |e| &body[..e]);
        if LINK.is_match(body) {
            continue;
        }
        let about = ITEM.captures(start.as_bytes()).and_then(|c| c.get(1).or_else(|| c.get(2)));
        let about = about.map_or(&b""[..], |m| m.as_bytes());
        if about.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.extend_from_slice(&xml[copied..start.end()]);
        out.extend_from_slice(b"<link>");
        out.extend_from_slice(about);
        out.extend_from_slice(b"</link>");
        copied = start.end();
    }
    if copied == 0 {
        return None;
    }
    out.extend_from_slice(&xml[copied..]);
    Some(out)
}

/// How many bytes after a UTF-8 BOM quick-xml reads before it has committed
/// to an encoding (`PREFIX_CAP` in quick-xml 0.42's `encoding.rs`).
const XML_SNIFF_BYTES: usize = 64;

/// Where the next `<?xml` declaration (`<?xml` then a space or `?`) starts.
fn find_declaration(b: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let i = find(b, at, b"<?xml")?;
        match b.get(i + 5) {
            Some(c) if c.is_ascii_whitespace() || *c == b'?' => return Some(i),
            _ => at = i + 5,
        }
    }
}

/// Whether feed-rs must not get these bytes as they are: they start with a
/// UTF-16 byte-order mark or look like BOM-less UTF-16, their declaration
/// is not at the very start or ends past the bytes quick-xml sniffs, or a
/// second declaration follows. (Any of these makes quick-xml 0.42 panic
/// when the declaration names an encoding other than the one in use.)
pub fn declaration_trouble(xml: &[u8]) -> bool {
    if xml.starts_with(b"\xff\xfe")
        || xml.starts_with(b"\xfe\xff")
        || xml.starts_with(b"<\0")
        || xml.starts_with(b"\0<")
    {
        return true;
    }
    let body = xml.strip_prefix(b"\xef\xbb\xbf").unwrap_or(xml);
    let Some(first) = find_declaration(body, 0) else { return false };
    if first != 0 {
        return true;
    }
    match find(body, 0, b"?>") {
        Some(end) if end + 2 <= XML_SNIFF_BYTES => find_declaration(body, end).is_some(),
        _ => true,
    }
}

/// `text` without any `<?xml …?>` declaration, wherever it stands.
pub fn strip_declarations(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    let Some(mut start) = find_declaration(b, 0) else { return Cow::Borrowed(text) };
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    loop {
        // Both ends are ASCII bytes, so both are character boundaries.
        let end = find(b, start, b"?>").map_or(b.len(), |e| e + 2);
        out.push_str(&text[copied..start]);
        copied = end;
        match find_declaration(b, end) {
            Some(next) => start = next,
            None => break,
        }
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_skip_comments_cdata_and_doctype_subsets() {
        let doc = br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "<b>">]><!-- <c> --><r a='>'><![CDATA[<d>]]></r>"#;
        let mut tags = Vec::new();
        let mut at = 0;
        while let Some((t, next)) = next_tag(doc, at) {
            tags.push(t);
            at = next;
        }
        assert_eq!(tags, [Tag::Start { name: b"r", self_closing: false }, Tag::End { name: b"r" }]);
    }

    #[test]
    fn html_depth_ignores_void_and_unclosed_list_items() {
        let flat = "<ul>".to_string() + &"<li><a href=x>a</a><br>".repeat(5000) + "</ul>";
        assert_eq!(html_depth(flat.as_bytes(), 512), 2);
        let deep = "<div>".repeat(600);
        assert_eq!(html_depth(deep.as_bytes(), 512), 513, "stops just past the limit");
        assert_eq!(html_depth(b"<script><div><div><div></script><p>x", 512), 0);
        assert_eq!(html_depth(b"<div a='<div>'><span>x</span></div>", 512), 2);
    }

    #[test]
    fn only_markup_with_more_tags_than_the_limit_can_nest_deeper() {
        assert!(nests_deeper("<div>".repeat(600).as_bytes(), 512));
        assert!(!nests_deeper("<div>".repeat(512).as_bytes(), 512), "512 tags nest 512 deep at most");
        assert!(!nests_deeper(("<ul>".to_string() + &"<li><a href=x>a</a>".repeat(5000)).as_bytes(), 512));
        assert!(!nests_deeper(b"", 512));
    }

    #[test]
    fn cap_entries_cuts_and_closes() {
        let xml = b"<rss><channel><title>t</title><item>1</item><item>2</item><item>3</item></channel></rss>";
        let (out, dropped) = cap_entries(xml, 2);
        assert_eq!(&*out, b"<rss><channel><title>t</title><item>1</item><item>2</item></channel></rss>");
        assert_eq!(dropped, 1);
        assert!(matches!(cap_entries(xml, 3), (Cow::Borrowed(_), 0)));
        let atom = b"<feed><atom:entry>1</atom:entry><atom:entry>2</atom:entry></feed>";
        assert_eq!(&*cap_entries(atom, 1).0, b"<feed><atom:entry>1</atom:entry></feed>");
    }

    #[test]
    fn a_truncated_feed_is_cut_after_its_last_item() {
        let xml = b"<rss><channel><item><title>a</title></item><item><title>b</ti";
        assert_eq!(
            cut_after_last_entry(xml).as_deref(),
            Some(&b"<rss><channel><item><title>a</title></item></channel></rss>"[..])
        );
        assert_eq!(cut_after_last_entry(b"<rss><channel><item>"), None);
    }

    #[test]
    fn bare_ampersands_are_escaped_and_references_kept() {
        let xml = b"<t>A & B &amp; &#38; &#x26; &nbsp; <![CDATA[C & D]]> &</t>";
        assert_eq!(
            escape_bare_ampersands(xml).as_deref(),
            Some(&b"<t>A &amp; B &amp; &#38; &#x26; &nbsp; <![CDATA[C & D]]> &amp;</t>"[..])
        );
        assert_eq!(escape_bare_ampersands(b"<t>&amp;</t>"), None);
    }

    #[test]
    fn declarations_that_trip_quick_xml_are_noticed_and_stripped() {
        assert!(!declaration_trouble(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><rss/>"));
        assert!(!declaration_trouble(b"\xef\xbb\xbf<?xml version=\"1.0\"?><rss/>"));
        assert!(!declaration_trouble(b"<rss/>"));
        assert!(declaration_trouble(b"\n\n<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><rss/>"));
        assert!(declaration_trouble(
            b"<?xml version=\"1.0\"                                        encoding=\"Shift_JIS\"?><rss/>"
        ));
        assert!(declaration_trouble(b"<?xml version=\"1.0\"?><rss><?xml version=\"1.0\" encoding=\"EUC-JP\"?></rss>"));
        assert!(declaration_trouble(b"\xff\xfe<\0?\0"));
        assert_eq!(
            strip_declarations("<?xml version='1.0'?>\n<rss><?xml encoding='x'?></rss><?xmlfoo?>"),
            "\n<rss></rss><?xmlfoo?>"
        );
        assert_eq!(strip_declarations("a<?xml "), "a", "an unfinished declaration runs to the end");
    }

    #[test]
    fn rdf_items_get_their_about_as_a_link() {
        let xml = br#"<rdf:RDF><item rdf:about="https://e.go.jp/1"><title>a</title></item><item rdf:about='https://e.go.jp/2'><title>b</title><link>https://e.go.jp/2b</link></item></rdf:RDF>"#;
        let out = rdf_about_links(xml).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"<rdf:RDF><item rdf:about="https://e.go.jp/1"><link>https://e.go.jp/1</link><title>a</title></item><item rdf:about='https://e.go.jp/2'><title>b</title><link>https://e.go.jp/2b</link></item></rdf:RDF>"#
        );
        assert_eq!(rdf_about_links(b"<rss><item rdf:about=\"x\"></item></rss>"), None);
    }
}
