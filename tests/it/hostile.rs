//! Hostile input: one `kisha once` cycle over 64 misbehaving sources and one
//! healthy control source, served by the test HTTP server (and three raw TCP
//! listeners) on 127.0.0.1.
//!
//! For the cycle as a whole the test asserts that the process exits 0 and
//! nothing panicked, that the control's new matching item arrives in the one
//! digest of that same cycle (`first_run = "mail"`), that the peak resident
//! memory of the process stays under [`MEMORY_BOUND_MIB`], and that the mail
//! is safe: exactly one `Subject`/`From`/`To`, no header that is not one of
//! ours (no `Bcc:` smuggled in by a title), one envelope recipient, and an
//! HTML part with no tag kisha did not write, no `<script`, no `on…=` event
//! handler and no `href` that is not http(s). For each case it asserts the
//! outcome in the table below; a failure must be in `kisha status --json`
//! (`last_error`) and logged on one line with the source's URL.
//!
//! The memory bound, [`MEMORY_BOUND_MIB`] = 200 MiB of peak RSS for the whole
//! debug-built process, is a correctness limit: the test config caps bodies
//! at 16 MiB (`fetch.max_body_bytes`) and items at 1 000 per source
//! (`fetch.max_items`), 64 sources are fetched at once, so about 64 × 16 MiB
//! could be in flight only if the caps failed. It is measured with
//! `/usr/bin/time -v` or, without it, Python's `getrusage(RUSAGE_CHILDREN)`.
//!
//! Timeouts are short (`timeout = "10s"`, `read_timeout = "6s"`), so the
//! cycle takes about ten seconds: the slow cases run side by side. They are
//! not shorter because the cycle parses on its async workers: while the big
//! documents parse (seconds, in a debug build on a loaded machine), no
//! response is read, and a 2 s read timeout fired on requests that were
//! answered in time (reported against `src/cycle.rs`). For the same reason
//! the 10⁵-item case is a feed and the listing page has 2·10⁴ items.
//!
//! | case | served | expected outcome |
//! |---|---|---|
//! | `xml-bare-ampersand` | RSS, `A & B` in a title | repaired: 2 items |
//! | `xml-truncated` | RSS cut inside its third item | repaired: the 2 whole items |
//! | `xml-mismatched-tags` | `<title>…</link>` | fails: unable to parse feed |
//! | `xml-html-error-page` | an HTML page as `application/rss+xml` | fails: no RSS, RDF or Atom root |
//! | `xml-empty-body` | `200`, zero bytes | fails: no RSS, RDF or Atom root |
//! | `xml-billion-laughs` | nine levels of `&lol;` entities | 1 item, not expanded |
//! | `xml-external-entity` | `<!ENTITY xxe SYSTEM "file:///etc/passwd">` | 1 item, nothing read |
//! | `xml-deep-nesting` | 100 000 nested elements in a description | fails: nests too deep |
//! | `xml-1mb-title` | a 1 MB title | 1 item, title cut to 500 characters |
//! | `xml-100k-items` | 100 000 items | 1 000 items (the cap) |
//! | `xml-control-chars` | `&#0;` and raw C0 bytes in titles | survives (error or items) |
//! | `rss1-no-link` | RDF items with `rdf:about` and no `<link>` | 2 items, linked |
//! | `rss1-wrong-namespace` | RDF with `http://purl.org/rss/1.0` (no slash) | 0 items |
//! | `atom-javascript-link` | Atom `href="javascript:…"` | 1 item, no link |
//! | `rss-script-scheme-links` | `data:`, `vbscript:`, ` JavaScript:` links | 3 items, no links |
//! | `rss-crlf-title` | `&#13;&#10;Bcc: …` in a title | 1 item |
//! | `rss-crlf-link` | `&#13;&#10;Bcc: …` in a link | 1 item |
//! | `rss-header-like-title` | `Subject: …` / `To: …` lines in a title | 1 item |
//! | `rss-escaped-script-title` | `&lt;script&gt;`, `&lt;img onerror&gt;` in a title | 1 item, markup dropped |
//! | `rss-cdata-markup-title` | CDATA `<a href="javascript:" onclick>`, `<svg onload>` | 1 item, markup dropped |
//! | `rss-literal-lt-title` | a title whose text is `a <b> c < d` | 1 item, escaped in the mail |
//! | `rss-script-summary` | `<script>` and `onload` in a description | 1 item |
//! | `charset-sjis-as-utf8-header` | Shift_JIS bytes, `charset=utf-8` header | 1 item, flagged mojibake |
//! | `charset-sjis-undeclared` | Shift_JIS, nothing declared | 1 item, exact title |
//! | `charset-unknown-label` | `encoding="x-klingon"`, UTF-8 bytes | 1 item, exact title |
//! | `charset-cp932-declared` | Shift_JIS, `encoding="cp932"` | 1 item, exact title |
//! | `bom-utf8-header-sjis` | UTF-8 BOM, header says Shift_JIS | 1 item, exact title |
//! | `bom-utf16-declared-utf8` | UTF-16LE with BOM, declaration says UTF-8 | survives |
//! | `utf8-declared-sjis` | UTF-8 bytes, `encoding="Shift_JIS"` | 1 item, exact title |
//! | `utf8-invalid-bytes` | stray `0xFF 0xFE` in UTF-8 titles | 2 items |
//! | `http-1gib-body` | 1 GiB, streamed, no Content-Length | fails: larger than the cap |
//! | `http-gzip-bomb` | 1 MiB of gzip that inflates to 1 GiB | fails: larger than the cap |
//! | `http-gzip-corrupt` | `Content-Encoding: gzip`, not gzip | fails: error decoding |
//! | `http-trickle` | one byte a second | fails: timed out |
//! | `http-never-answers` | no status line for an hour | fails: timed out |
//! | `http-slow-headers` | a `200` after 30 s | fails: timed out |
//! | `http-headers-then-silence` | headers, then no body | fails: timed out |
//! | `tcp-never-reads` | a listener that never accepts | fails: timed out |
//! | `tcp-refused` | a closed port | fails: connection refused |
//! | `tcp-garbage` | bytes that are not HTTP | fails: invalid HTTP |
//! | `http-redirect-loop` | `/a` → `/b` → `/a` … | fails: more than 5 redirects |
//! | `http-redirect-self` | a page redirecting to itself | fails: more than 5 redirects |
//! | `http-redirect-file` | `Location: file:///etc/passwd` | fails: not an http(s) URL |
//! | `http-redirect-ftp` | `Location: ftp://…` | fails: non-http redirect |
//! | `http-redirect-javascript` | `Location: javascript:alert(1)` | fails: non-http redirect |
//! | `http-redirect-no-location` | `302` without `Location` | fails: HTTP 302 |
//! | `http-500` | `500` | fails: HTTP 500 |
//! | `http-429-huge-retry-after` | `429`, `Retry-After: 99999999999999999999` | fails: HTTP 429 |
//! | `http-binary-content-type` | `Content-Type` of raw `0xFF` bytes | 1 item |
//! | `http-304-first-poll` | `304` to an unconditional GET | not modified |
//! | `html-truncated` | a listing cut inside its second item | 2 items |
//! | `html-deep-nesting` | 100 000 nested `<div>`s | fails: nests too deep |
//! | `html-script-scheme-links` | `javascript:`, `JaVaScRiPt:`, `java&#9;script:`, `vbscript:`, `data:` | 5 items, no links |
//! | `html-script-in-title` | `<script>`, `<img onerror>`, `<b onclick>` in the link text | 1 item |
//! | `html-entity-markup-title` | `&lt;script&gt;…` as the link text | 1 item, escaped in the mail |
//! | `html-crlf-title-link` | CR/LF and `Bcc:` in the text and the `href` | 1 item |
//! | `html-20k-items` | 20 000 `<li>` | 1 000 items (the cap) |
//! | `html-1mb-title` | a 1 MB link text | 1 item |
//! | `html-1mb-link` | a 1 MB `href` | 1 item, no link |
//! | `html-meta-sjis-body-utf8` | `<meta charset=Shift_JIS>`, UTF-8 bytes | 1 item, exact title |
//! | `html-invalid-utf8` | stray `0xFF` bytes | 1 item |
//! | `html-bad-char-refs` | `&#0;`, `&#xD800;`, `&#x110000;` | 1 item |
//! | `html-binary-garbage` | 64 KiB of pseudo-random bytes | survives |
//! | `html-empty-body` | `200`, zero bytes | fails: empty body |

use std::collections::HashMap;
use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::util::*;

/// The bound on the cycle's peak resident memory (see the module docs).
const MEMORY_BOUND_MIB: u64 = 200;
const MAX_ITEMS: usize = 1_000;
const MAX_BODY_BYTES: u64 = 16 << 20;
const GIB: u64 = 1 << 30;

/// The one matching word: hostile titles carry it so that, when they parse,
/// they reach the digest and its escaping is tested.
const WORD: &str = "防衛";
const CONTROL_TITLE: &str = "統制用の新着：日米防衛相会談について（control）";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Feed,
    Page,
}

#[derive(Debug)]
enum Expect {
    /// The poll fails with an error containing this (or one of these,
    /// separated by `|`), in the report, the status and the log.
    Fails(&'static str),
    /// The poll succeeds with this many items.
    Items(usize),
    NotModified,
    /// Either: only the cycle-wide guarantees are asserted.
    Survives,
}

struct Case {
    name: &'static str,
    kind: Kind,
    expect: Expect,
    /// The source's URL; `None`: `/h/<name>` on the HTTP server.
    url: Option<String>,
    /// What the HTTP server answers: the source's path first.
    routes: Vec<(String, Reply)>,
    /// Text the digest must (or must not) hold.
    mail_has: Vec<String>,
    mail_lacks: Vec<String>,
    /// A health problem the source must show afterwards.
    problem: Option<&'static str>,
}

impl Case {
    fn new(name: &'static str, kind: Kind, reply: Reply, expect: Expect) -> Case {
        Case {
            name,
            kind,
            expect,
            url: None,
            routes: vec![(format!("/h/{name}"), reply)],
            mail_has: Vec::new(),
            mail_lacks: Vec::new(),
            problem: None,
        }
    }

    fn feed(name: &'static str, body: impl Into<Vec<u8>>, expect: Expect) -> Case {
        Case::new(name, Kind::Feed, Reply::file("application/rss+xml", body), expect)
    }

    fn page(name: &'static str, body: impl Into<Vec<u8>>, expect: Expect) -> Case {
        Case::new(name, Kind::Page, Reply::file("text/html", body), expect)
    }

    fn at(mut self, url: String) -> Case {
        self.url = Some(url);
        self.routes.clear();
        self
    }

    fn route(mut self, path: &str, reply: Reply) -> Case {
        self.routes.push((path.into(), reply));
        self
    }

    fn has(mut self, text: &str) -> Case {
        self.mail_has.push(text.into());
        self
    }

    fn lacks(mut self, text: &str) -> Case {
        self.mail_lacks.push(text.into());
        self
    }

    fn problem(mut self, kind: &'static str) -> Case {
        self.problem = Some(kind);
        self
    }
}

/// An RSS 2.0 document without an XML declaration.
fn rss_body(items: &str) -> String {
    format!("<rss version=\"2.0\"><channel><title>t</title>\n{items}</channel></rss>\n")
}

fn rss(items: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", rss_body(items))
}

fn item(title: &str, link: &str) -> String {
    format!("<item><title>{title}</title><link>{link}</link></item>\n")
}

fn listing(items: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>一覧</title></head><body><ul>{items}</ul></body></html>"
    )
}

fn li(title: &str, href: &str) -> String {
    format!("<li><a href=\"{href}\">{title}</a></li>")
}

fn sjis(s: &str) -> Vec<u8> {
    encoding_rs::SHIFT_JIS.encode(s).0.into_owned()
}

/// A gzip body that inflates to `len` zero bytes, built without holding
/// them: one fully flushed deflate block of 1 MiB of zeros (which refers to
/// nothing before it) repeated, then an empty final block. The trailer's CRC
/// is left zero: the reader stops at its size cap long before it.
fn gzip_bomb(len: u64) -> Vec<u8> {
    const MIB: usize = 1 << 20;
    let mut deflate = flate2::Compress::new(flate2::Compression::best(), false);
    let mut block = Vec::with_capacity(4096);
    deflate.compress_vec(&vec![0u8; MIB], &mut block, flate2::FlushCompress::Full).unwrap();
    assert_eq!(deflate.total_in(), MIB as u64, "the block holds the whole MiB");
    let mut last = Vec::with_capacity(64);
    deflate.compress_vec(&[], &mut last, flate2::FlushCompress::Finish).unwrap();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for _ in 0..len / MIB as u64 {
        out.extend_from_slice(&block);
    }
    out.extend_from_slice(&last);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out
}

/// Pseudo-random bytes (xorshift), the same every run.
fn garbage(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The listeners that are not HTTP servers.
struct Tcp {
    /// Bound, never accepted: the kernel completes the handshake, nobody reads.
    _silent: std::net::TcpListener,
    silent: String,
    refused: String,
    garbage: String,
}

impl Tcp {
    async fn start() -> Tcp {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let silent_url = format!("http://{}/feed.xml", silent.local_addr().unwrap());
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = format!("http://{}/feed.xml", closed.local_addr().unwrap());
        drop(closed);
        let garbage_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let garbage_url = format!("http://{}/feed.xml", garbage_listener.local_addr().unwrap());
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            // Bounded: the test makes one request here (a retry at most).
            for _ in 0..8 {
                let Ok((mut socket, _)) = garbage_listener.accept().await else { return };
                let _ = socket.write_all(b"\x00\x01\x02 SMTP ready\r\nBcc: x@evil.example\r\n\r\n\xff\xfe").await;
            }
        });
        Tcp { _silent: silent, silent: silent_url, refused, garbage: garbage_url }
    }
}

fn cases(tcp: &Tcp, base: &str) -> Vec<Case> {
    use Expect::*;
    let w = WORD;
    let nested_xml = format!(
        "<item><title>{w} deep</title><link>/r/xml-deep</link><description>{}{}</description></item>",
        "<x>".repeat(100_000),
        "</x>".repeat(100_000)
    );
    let many_items: String =
        (0..100_000).map(|i| format!("<item><title>item {i}</title><link>/r/many/{i}</link></item>")).collect();
    let many_li: String = (0..20_000).map(|i| li(&format!("item {i}"), &format!("/r/many-li/{i}"))).collect();
    let big_title = w.repeat((1 << 20) / w.len());
    let lol = {
        let mut dtd = String::from("<!DOCTYPE rss [<!ENTITY lol \"lol\">");
        for i in 1..10 {
            let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
            dtd.push_str(&format!("<!ENTITY lol{i} \"{}\">", format!("&{prev};").repeat(10)));
        }
        dtd.push_str("]>");
        dtd
    };
    let truncated = rss(&(item(&format!("{w} one"), "/r/trunc/1") + &item(&format!("{w} two"), "/r/trunc/2")))
        .replace("</channel></rss>", "<item><title>three, cut here</ti");
    let mut invalid_utf8 =
        rss(&(item(&format!("{w} bad \u{1} one"), "/r/bad/1") + &item(&format!("{w} two"), "/r/bad/2"))).into_bytes();
    let at = invalid_utf8.windows(2).position(|p| p == b"\x01 ").unwrap();
    invalid_utf8.splice(at..at + 1, *b"\xff\xfe");
    let mut bom_utf8 = b"\xef\xbb\xbf".to_vec();
    bom_utf8.extend_from_slice(rss(&item("防衛省 BOM の見出し", "/r/bom")).as_bytes());
    let mut utf16 = vec![0xff, 0xfe];
    for unit in rss(&item("防衛 UTF-16", "/r/utf16")).encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let sjis_feed = |decl: &str, title: &str, link: &str| {
        sjis(&format!(
            "{decl}<rss version=\"2.0\"><channel><title>t</title><item><title>{title}</title><link>{link}</link></item></channel></rss>"
        ))
    };
    let mut html_invalid = listing(&li("防衛 無効な@バイト", "/r/html-invalid")).into_bytes();
    let at = html_invalid.iter().position(|b| *b == b'@').unwrap();
    html_invalid[at] = 0xff;

    vec![
        // Malformed XML.
        Case::feed("xml-bare-ampersand", rss(&(item(&format!("{w} A & B"), "/r/amp/1") + &item(&format!("{w} C"), "/r/amp/2"))), Items(2))
            .has("防衛 A & B"),
        Case::feed("xml-truncated", truncated, Items(2)).has("防衛 two"),
        Case::feed("xml-mismatched-tags", rss(&format!("<item><title>{w} mismatched</link></item>")), Fails("unable to parse feed")),
        Case::feed("xml-html-error-page", "<html><body><h1>503 Service Unavailable</h1></body></html>", Fails("no RSS, RDF or Atom root")),
        Case::feed("xml-empty-body", "", Fails("no RSS, RDF or Atom root")),
        Case::feed("xml-billion-laughs", format!("<?xml version=\"1.0\"?>{lol}{}", rss_body(&item(&format!("&lol9;{w} laughs"), "/r/lol"))), Items(1))
            .lacks("lollollollol"),
        Case::feed(
            "xml-external-entity",
            format!("<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}", rss_body(&item(&format!("&xxe;{w} xxe"), "/r/xxe"))),
            Items(1),
        )
        .lacks("root:"),
        Case::feed("xml-deep-nesting", rss(&nested_xml), Fails("deeper")),
        Case::feed("xml-1mb-title", rss(&item(&big_title, "/r/big-title")), Items(1)),
        Case::feed("xml-100k-items", rss(&many_items), Items(MAX_ITEMS)),
        Case::feed(
            "xml-control-chars",
            rss(&(item(&format!("{w} nul &#0; ref"), "/r/ctl/1") + &item(&format!("{w} raw \u{1}\u{8}\u{1b}[31m"), "/r/ctl/2"))),
            Survives,
        ),
        Case::feed(
            "rss1-no-link",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\
                 <channel rdf:about=\"{base}/h/rss1-no-link\"><title>t</title><link>{base}/</link><description>d</description></channel>\
                 <item rdf:about=\"{base}/r/rdf/1\"><title>{w} RDF one</title><dc:date>2026-08-20T10:00:00+09:00</dc:date></item>\
                 <item rdf:about=\"{base}/r/rdf/2\"><title>{w} RDF two</title></item></rdf:RDF>"
            ),
            Items(2),
        )
        .has(&format!("{base}/r/rdf/1")),
        Case::feed(
            "rss1-wrong-namespace",
            format!(
                "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0\"><channel><title>t</title></channel>\
                 <item rdf:about=\"{base}/r/ns\"><title>{w} ns</title><link>{base}/r/ns</link></item></rdf:RDF>"
            ),
            Items(0),
        ),
        Case::new(
            "atom-javascript-link",
            Kind::Feed,
            Reply::file(
                "application/atom+xml",
                format!("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><id>x</id><updated>2026-08-20T00:00:00Z</updated>\
                 <entry><title>{w} atom js</title><id>e1</id><updated>2026-08-20T00:00:00Z</updated><link href=\"javascript:alert(1)\"/></entry></feed>"),
            ),
            Items(1),
        ),
        Case::feed(
            "rss-script-scheme-links",
            rss(&(item(&format!("{w} data"), "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;")
                + &item(&format!("{w} vbscript"), "vbscript:msgbox(1)")
                + &item(&format!("{w} js"), " JavaScript:alert(1)"))),
            Items(3),
        ),
        Case::feed("rss-crlf-title", rss(&item(&format!("{w} crlf&#13;&#10;Bcc: victim@evil.example&#13;&#10;X-Injected: 1"), "/r/crlf-title")), Items(1)),
        Case::feed("rss-crlf-link", rss(&item(&format!("{w} crlf link"), "/r/crlf-link&#13;&#10;Bcc: victim@evil.example")), Items(1)),
        Case::feed("rss-header-like-title", rss(&item(&format!("Subject: {w} forged\nTo: evil@evil.example\n\n<b>body</b>"), "/r/header-like")), Items(1)),
        Case::feed(
            "rss-escaped-script-title",
            rss(&item(&format!("&lt;script&gt;alert(11)&lt;/script&gt;&lt;img src=x onerror=alert(12)&gt;{w} escaped"), "/r/escaped")),
            Items(1),
        )
        .lacks("alert(11)")
        .lacks("alert(12)"),
        Case::feed(
            "rss-cdata-markup-title",
            rss(&item(&format!("<![CDATA[<a href=\"javascript:alert(3)\" onclick=\"x()\">{w} cdata</a><svg onload=alert(4)>]]>"), "/r/cdata")),
            Items(1),
        ),
        Case::feed("rss-literal-lt-title", rss(&item(&format!("{w} a &amp;lt;b&amp;gt; c &lt; d"), "/r/lt")), Items(1))
            .has("防衛 a <b> c < d"),
        Case::feed(
            "rss-script-summary",
            rss(&format!("<item><title>{w} summary</title><link>/r/summary</link><description><![CDATA[<script>alert(5)</script><body onload=alert(6)>s]]></description></item>")),
            Items(1),
        ),
        // Charsets.
        Case::new(
            "charset-sjis-as-utf8-header",
            Kind::Feed,
            Reply::file("application/rss+xml; charset=utf-8", sjis_feed("", "防衛省の見出し、文字化け", "/r/sjis-utf8")),
            Items(1),
        )
        .problem("mojibake"),
        Case::feed("charset-sjis-undeclared", sjis_feed("", "防衛省 宣言なし", "/r/sjis-none"), Items(1)).has("防衛省 宣言なし"),
        Case::feed("charset-unknown-label", format!("<?xml version=\"1.0\" encoding=\"x-klingon\"?>{}", rss_body(&item("防衛省 不明なラベル", "/r/klingon"))), Items(1))
            .has("防衛省 不明なラベル"),
        Case::feed("charset-cp932-declared", sjis_feed("<?xml version=\"1.0\" encoding=\"cp932\"?>", "防衛省 cp932 ①㈱", "/r/cp932"), Items(1))
            .has("防衛省 cp932 ①㈱"),
        Case::new("bom-utf8-header-sjis", Kind::Feed, Reply::file("application/rss+xml; charset=Shift_JIS", bom_utf8), Items(1)).has("防衛省 BOM の見出し"),
        Case::feed("bom-utf16-declared-utf8", utf16, Survives),
        Case::feed("utf8-declared-sjis", format!("<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>{}", rss_body(&item("防衛省 宣言は誤り", "/r/utf8-sjis"))), Items(1))
            .has("防衛省 宣言は誤り"),
        Case::feed("utf8-invalid-bytes", invalid_utf8, Items(2)),
        // HTTP.
        Case::new("http-1gib-body", Kind::Feed, Reply::Endless { len: GIB }, Fails("larger than the cap")),
        Case::new(
            "http-gzip-bomb",
            Kind::Feed,
            Reply::Raw {
                headers: vec![("content-type", "application/rss+xml".into()), ("content-encoding", "gzip".into())],
                body: gzip_bomb(GIB),
            },
            Fails("larger than the cap"),
        ),
        Case::new(
            "http-gzip-corrupt",
            Kind::Feed,
            Reply::Raw {
                headers: vec![("content-type", "application/rss+xml".into()), ("content-encoding", "gzip".into())],
                body: b"this is not gzip at all".to_vec(),
            },
            Fails("decoding"),
        ),
        Case::new("http-trickle", Kind::Feed, Reply::Trickle { every: Duration::from_secs(1), count: 100 }, Fails("timed out")),
        Case::new("http-never-answers", Kind::Feed, Reply::Stall, Fails("timed out")),
        Case::new("http-slow-headers", Kind::Feed, Reply::Slow(Duration::from_secs(30), Box::new(Reply::status(200))), Fails("timed out")),
        Case::new("http-headers-then-silence", Kind::Feed, Reply::Trickle { every: Duration::from_secs(3600), count: 1 }, Fails("timed out")),
        Case::new("tcp-never-reads", Kind::Feed, Reply::status(500), Fails("timed out")).at(tcp.silent.clone()),
        Case::new("tcp-refused", Kind::Feed, Reply::status(500), Fails("onnect")).at(tcp.refused.clone()),
        Case::new("tcp-garbage", Kind::Feed, Reply::status(500), Fails("error")).at(tcp.garbage.clone()),
        Case::new("http-redirect-loop", Kind::Feed, Reply::Redirect("/h/http-redirect-loop-b".into()), Fails("more than 5 redirects"))
            .route("/h/http-redirect-loop-b", Reply::Redirect("/h/http-redirect-loop".into())),
        Case::new("http-redirect-self", Kind::Feed, Reply::Redirect("/h/http-redirect-self".into()), Fails("more than 5 redirects")),
        Case::new("http-redirect-file", Kind::Feed, Reply::Redirect("file:///etc/passwd".into()), Fails("not an http(s) URL")).lacks("root:"),
        Case::new("http-redirect-ftp", Kind::Feed, Reply::Redirect("ftp://127.0.0.1/pub/feed.xml".into()), Fails("non-http")),
        Case::new("http-redirect-javascript", Kind::Feed, Reply::Redirect("javascript:alert(1)".into()), Fails("redirect")),
        Case::new("http-redirect-no-location", Kind::Feed, Reply::status(302), Fails("HTTP 302")),
        Case::new("http-500", Kind::Feed, Reply::status(500), Fails("HTTP 500")),
        Case::new(
            "http-429-huge-retry-after",
            Kind::Feed,
            Reply::Status { code: 429, headers: vec![("retry-after", "99999999999999999999".into())] },
            Fails("HTTP 429"),
        ),
        Case::new(
            "http-binary-content-type",
            Kind::Feed,
            Reply::Bytes { code: 200, headers: vec![("content-type", b"\xff\xfe; charset=\xff".to_vec())], body: rss(&item(&format!("{w} binary header"), "/r/bin-ct")).into_bytes() },
            Items(1),
        ),
        Case::new("http-304-first-poll", Kind::Feed, Reply::status(304), NotModified),
        // HTML listings.
        Case::page("html-truncated", listing(&(li(&format!("{w} page one"), "/r/ht/1") + &li(&format!("{w} page two"), "/r/ht/2"))).replace("</a></li></ul></body></html>", ""), Items(2)),
        Case::page("html-deep-nesting", format!("<html><body>{}<ul>{}</ul>{}</body></html>", "<div>".repeat(100_000), li(&format!("{w} deep"), "/r/deep"), "</div>".repeat(100_000)), Fails("deeper")),
        Case::page(
            "html-script-scheme-links",
            listing(&[
                li(&format!("{w} js1"), "javascript:alert(1)"),
                li(&format!("{w} js2"), " JaVaScRiPt:alert(1)"),
                li(&format!("{w} js3"), "java&#9;script:alert(1)"),
                li(&format!("{w} vb"), "vbscript:msgbox(1)"),
                li(&format!("{w} data"), "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
            ]
            .concat()),
            Items(5),
        ),
        Case::page(
            "html-script-in-title",
            listing(&li(&format!("<script>alert(7)</script><img src=x onerror=alert(8)>{w} handlers<b onclick=alert(9)>!</b>"), "/r/handlers")),
            Items(1),
        )
        .lacks("alert(7)")
        .lacks("alert(8)")
        .has("防衛 handlers!"),
        Case::page("html-entity-markup-title", listing(&li(&format!("&lt;script&gt;alert(10)&lt;/script&gt; {w} entity"), "/r/entity")), Items(1))
            .has("<script>alert(10)</script> 防衛 entity"),
        Case::page("html-crlf-title-link", listing(&li(&format!("{w} crlf&#13;&#10;Bcc: victim@evil.example\r\nX-Injected: 1"), "/r/hcrlf&#13;&#10;Bcc: victim@evil.example")), Items(1)),
        Case::page("html-20k-items", listing(&many_li), Items(MAX_ITEMS)),
        Case::page("html-1mb-title", listing(&li(&big_title, "/r/html-big-title")), Items(1)),
        Case::page("html-1mb-link", listing(&li(&format!("{w} long link"), &format!("/r/{}", "a".repeat(1 << 20)))), Items(1)),
        Case::page(
            "html-meta-sjis-body-utf8",
            "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\"></head><body><ul><li><a href=\"/r/meta-lies\">防衛省 メタは誤り</a></li></ul></body></html>",
            Items(1),
        )
        .has("防衛省 メタは誤り"),
        Case::page("html-invalid-utf8", html_invalid, Items(1)),
        Case::page("html-bad-char-refs", listing(&li(&format!("{w} refs &#0; &#xD800; &#x110000; &#99999999999;"), "/r/refs")), Items(1)),
        Case::page("html-binary-garbage", garbage(64 * 1024), Survives),
        Case::page("html-empty-body", "", Fails("empty body")),
    ]
}

/// The run's wrapper that reports peak RSS, as "Maximum resident set size
/// (kbytes): N" on stderr: GNU time, else Python's getrusage.
fn measured(args: &[&str]) -> tokio::process::Command {
    let bin = env!("CARGO_BIN_EXE_kisha");
    let mut cmd = if std::path::Path::new("/usr/bin/time").exists() {
        let mut c = tokio::process::Command::new("/usr/bin/time");
        c.arg("-v").arg(bin);
        c
    } else {
        let python = std::env::var_os("KISHA_TEST_PYTHON").unwrap_or_else(|| "python3".into());
        let mut c = tokio::process::Command::new(python);
        c.args([
            "-c",
            "import resource, subprocess, sys\nr = subprocess.run(sys.argv[1:])\nprint('Maximum resident set size (kbytes): %d' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\nsys.exit(r.returncode if r.returncode >= 0 else 128 - r.returncode)",
            bin,
        ]);
        c
    };
    cmd.args(args).env("RUST_LOG", "info");
    cmd
}

fn peak_rss_kib(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in:\n{stderr}"))
}

/// The header block of a message or MIME part: (name, unfolded value).
fn headers(block: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let last = out.last_mut().expect("a continuation line follows a header");
            last.1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').unwrap_or_else(|| panic!("not a header line: {line:?}"));
            out.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    out
}

/// No header but ours, each once, in the message and in every MIME part.
fn assert_headers_are_ours(eml: &str) {
    let (head, body) = eml.split_once("\r\n\r\n").expect("a header block");
    assert!(head.is_ascii(), "a non-ASCII header line: {head}");
    let top = headers(head);
    const OURS: [&str; 9] =
        ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "In-Reply-To", "References"];
    for (name, _) in &top {
        assert!(OURS.iter().any(|o| o.eq_ignore_ascii_case(name)), "a header kisha does not write: {name}\n{head}");
    }
    for name in ["From", "To", "Subject", "Message-ID", "Content-Type"] {
        let n = top.iter().filter(|(h, _)| h.eq_ignore_ascii_case(name)).count();
        assert_eq!(n, 1, "{n} `{name}` headers:\n{head}");
    }
    let content_type = &top.iter().find(|(h, _)| h.eq_ignore_ascii_case("Content-Type")).unwrap().1;
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())
        .expect("a multipart boundary");
    let parts: Vec<&str> = body.split(&format!("--{boundary}")).skip(1).filter(|p| !p.starts_with("--")).collect();
    assert_eq!(parts.len(), 2, "text and HTML parts");
    for part in parts {
        let (block, _) = part.trim_start_matches("\r\n").split_once("\r\n\r\n").expect("a part header block");
        for (name, _) in headers(block) {
            assert!(
                name.eq_ignore_ascii_case("Content-Type") || name.eq_ignore_ascii_case("Content-Transfer-Encoding"),
                "a part header kisha does not write: {name}"
            );
        }
    }
}

/// HTML character references decoded, as a browser reads an attribute.
fn unescape(s: &str) -> String {
    let reference = regex::Regex::new(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-z]+);").unwrap();
    reference
        .replace_all(s, |c: &regex::Captures| {
            let r = &c[1];
            let code = if let Some(hex) = r.strip_prefix("#x").or_else(|| r.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = r.strip_prefix('#') {
                dec.parse().ok()
            } else {
                match r {
                    "amp" => Some('&' as u32),
                    "lt" => Some('<' as u32),
                    "gt" => Some('>' as u32),
                    "quot" => Some('"' as u32),
                    "colon" => Some(':' as u32),
                    _ => None,
                }
            };
            code.and_then(char::from_u32).map_or_else(|| c[0].to_owned(), String::from)
        })
        .into_owned()
}

/// Every tag of the HTML part is one the template writes; no handler, no
/// script, and only http(s) links.
fn assert_html_is_ours(html: &str) {
    const TAGS: [&str; 19] = [
        "html", "head", "meta", "title", "style", "body", "div", "h1", "h2", "table", "tr", "th", "td", "span", "a",
        "br", "strong", "code", "!doctype",
    ];
    assert!(!html.to_ascii_lowercase().contains("<script"), "a script in the HTML part");
    let handler = regex::Regex::new(r"(?i)[\s/]on[a-z]+\s*=").unwrap();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let end = after.find('>').unwrap_or_else(|| panic!("an unclosed `<`: {:?}", &after[..after.len().min(80)]));
        let tag = &after[..end];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect::<String>()
            .to_ascii_lowercase();
        assert!(TAGS.contains(&name.as_str()), "a tag the template does not write (an unescaped `<`): <{tag}>");
        assert!(!handler.is_match(tag), "an event handler: <{tag}>");
        let decoded = unescape(tag);
        if let Some(h) = decoded.find("href=\"") {
            let href = &decoded[h + 6..];
            assert!(href.starts_with("http://") || href.starts_with("https://"), "a link that is not http(s): <{tag}>");
        }
        assert!(!decoded.to_ascii_lowercase().contains("javascript:"), "javascript: in a tag: <{tag}>");
        rest = &after[end + 1..];
    }
}

/// The outcome column of `kisha once`, per source id.
fn outcomes(stdout: &str) -> HashMap<String, String> {
    stdout.lines().filter_map(|l| l.split_once(' ').map(|(id, rest)| (id.to_owned(), rest.trim().to_owned()))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_sources_neither_crash_nor_starve_nor_inject() {
    let http = HttpServer::start().await;
    let tcp = Tcp::start().await;
    let smtp = SmtpSink::start();
    let mut cases = cases(&tcp, &http.base);
    assert!(cases.len() >= 40, "{} cases", cases.len());
    // `KISHA_HOSTILE=name,name` runs only those cases (and the control), to debug one.
    if let Ok(only) = std::env::var("KISHA_HOSTILE") {
        cases.retain(|c| only.split(',').any(|n| n.trim() == c.name));
    }
    let mut names = std::collections::HashSet::new();
    eprintln!("{} hostile cases", cases.len());
    assert!(cases.iter().all(|c| names.insert(c.name)), "case names are unique");

    let control_feed = rss(&item(CONTROL_TITLE, "/r/control/20260820.html"));
    http.set("/control.xml", Reply::file("application/rss+xml", control_feed));
    let mut sources = feed_source("control", "統制", &http.url("/control.xml"));
    let mut urls = HashMap::new();
    for case in &cases {
        for (path, reply) in &case.routes {
            http.set(path, reply.clone());
        }
        let url = case.url.clone().unwrap_or_else(|| http.url(&case.routes[0].0));
        sources += &match case.kind {
            Kind::Feed => feed_source(case.name, case.name, &url),
            Kind::Page => format!(
                "[[source]]\nid = \"{0}\"\nname = \"{0}\"\nkind = \"page\"\nurl = \"{url}\"\nitem = \"li\"\ntitle = \"a\"\nlink = \"a\"\n\n",
                case.name
            ),
        };
        urls.insert(case.name, url);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kisha.toml");
    let mut f = std::fs::File::create(&config).unwrap();
    write!(
        f,
        "state_dir = \"{}\"\nfirst_run = \"mail\"\n\n[fetch]\nconcurrency = 64\nper_host = 64\ntimeout = \"10s\"\nconnect_timeout = \"2s\"\nread_timeout = \"6s\"\nmax_body_bytes = {MAX_BODY_BYTES}\nmax_redirects = 5\nmax_items = {MAX_ITEMS}\n\n[digest]\nmax_entries = 10000\n\n{}\n\n{sources}\n{}\n",
        dir.path().join("state").display(),
        smtp_mail(smtp.port),
        keyword_rule(&[WORD])
    )
    .unwrap();
    drop(f);
    let config = config.to_str().unwrap();

    let started = Instant::now();
    let out = measured(&["once", "--config", config]).output().await.expect("run kisha");
    let elapsed = started.elapsed();
    let log = stderr(&out);
    let report = stdout(&out);
    assert!(out.status.success(), "kisha once failed ({:?}):\n{log}", out.status);
    for fatal in ["panicked", "stack overflow", "fatal runtime error"] {
        assert!(!log.contains(fatal), "{fatal}:\n{log}");
    }
    let peak_kib = peak_rss_kib(&log);
    assert!(
        peak_kib < MEMORY_BOUND_MIB * 1024,
        "peak RSS {} MiB over the bound of {MEMORY_BOUND_MIB} MiB",
        peak_kib / 1024
    );

    // The control delivered in the same cycle, in the one digest.
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "one digest:\n{report}\n{log}");
    let mail = &mails[0];
    assert!(mail.text.contains(CONTROL_TITLE), "the control's item is missing:\n{}", mail.text);
    assert_eq!(mail.envelope_to, ["desk@test.invalid"], "the recipients are the configured ones");
    assert_eq!((mail.from.as_str(), mail.to.as_str()), ("kisha <kisha@test.invalid>", "desk@test.invalid"));
    assert!(mail.references.is_empty() && mail.in_reply_to.is_empty(), "a first digest answers nothing");
    assert!(!mail.subject.contains(['\r', '\n']), "{:?}", mail.subject);
    let raw = smtp.raw_messages();
    assert_headers_are_ours(&String::from_utf8(raw[0].clone()).expect("a 7-bit message"));
    assert_html_is_ours(&mail.html);

    let status = kisha(&["status", "--json", "--config", config]).await;
    assert!(status.status.success(), "{}", stderr(&status));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let state_of = |id: &str| {
        status["sources"].as_array().unwrap().iter().find(|s| s["id"] == id).cloned().unwrap_or_else(|| panic!("{id}"))
    };

    // Bounded requests: a redirect loop costs 1 + max_redirects requests, and
    // no more requests were in flight than sources.
    let loop_hits = http.hits_on("/h/http-redirect-loop").len() + http.hits_on("/h/http-redirect-loop-b").len();
    assert!(loop_hits <= 6, "{loop_hits} requests for a redirect loop");
    assert!(http.max_in_flight() <= cases.len() + 1, "{} requests in flight", http.max_in_flight());

    let outcomes = outcomes(&report);
    let mut table = String::from("| case | outcome |\n|---|---|\n");
    let mut wrong = Vec::new();
    for case in &cases {
        let outcome = outcomes.get(case.name).cloned().unwrap_or_else(|| format!("(no report line)\n{report}"));
        let state = state_of(case.name);
        let shown: String = outcome.chars().take(160).collect();
        let problems: Vec<&str> =
            state["problems"].as_array().unwrap().iter().filter_map(|p| p["kind"].as_str()).collect();
        table += &format!(
            "| `{}` | {}{} |\n",
            case.name,
            shown.replace('|', "\\|"),
            if problems.is_empty() { String::new() } else { format!(" (problems: {})", problems.join(", ")) }
        );
        let ok = match &case.expect {
            Expect::Fails(reasons) => reasons.split('|').any(|reason| {
                let recorded = state["last_error"].as_str().unwrap_or("");
                let logged = log.lines().any(|l| {
                    l.contains("unable to poll")
                        && l.contains(&format!("url={}", urls[case.name]))
                        && l.contains(reason)
                });
                outcome.starts_with("Failed:") && outcome.contains(reason) && recorded.contains(reason) && logged
            }),
            Expect::Items(n) => outcome.starts_with(&format!("items: {n},")),
            Expect::NotModified => outcome.starts_with("NotModified"),
            Expect::Survives => true,
        };
        if !ok {
            wrong.push(format!("{}: expected {:?}, got {outcome}", case.name, case.expect));
        }
        for text in &case.mail_has {
            if !mail.text.contains(text.as_str()) {
                wrong.push(format!("{}: the digest lacks {text:?}", case.name));
            }
        }
        for text in &case.mail_lacks {
            if mail.text.contains(text.as_str()) || mail.html.contains(text.as_str()) {
                wrong.push(format!("{}: the digest holds {text:?}", case.name));
            }
        }
        if let Some(kind) = case.problem
            && !problems.contains(&kind)
        {
            wrong.push(format!("{}: no `{kind}` problem recorded: {problems:?}", case.name));
        }
    }
    eprintln!("{table}\npeak RSS {} MiB, cycle {:.1} s", peak_kib / 1024, elapsed.as_secs_f64());
    assert!(wrong.is_empty(), "{}\n\n{table}\n{log}", wrong.join("\n"));
}
