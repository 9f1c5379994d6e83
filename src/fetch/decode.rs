//! Bytes to text, for HTML pages (feeds go to feed-rs as raw bytes).
//!
//! The order is the one browsers use: a byte-order mark, then the HTTP
//! `charset`, then `<meta charset>` / `http-equiv` (or an XML declaration) in
//! the first bytes, then detection with the `.jp` hint. Shift_JIS and EUC-JP
//! come out exact; a label encoding_rs does not know (`cp932`) is aliased.
//!
//! One exception to the browsers' order: bytes that are plainly UTF-8 (valid,
//! with enough non-ASCII text that chance is ruled out) are read as UTF-8
//! whatever the header or `<meta>` claims. Read as declared, UTF-8 bytes give
//! Shift_JIS mojibake without a single U+FFFD, which no health check sees;
//! Shift_JIS or EUC-JP Japanese text is practically never valid UTF-8.

use encoding_rs::{EUC_JP, Encoding, SHIFT_JIS, UTF_8};
use std::sync::LazyLock;

use regex::bytes::Regex;

/// How far into a document a `<meta>` charset is looked for.
const PRESCAN_BYTES: usize = 4096;

/// Decoded text and how it was decoded.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    /// Where the encoding came from: "bom", "http", "meta", "detected".
    pub by: &'static str,
    /// Bytes that were not valid in the encoding (now U+FFFD).
    pub had_errors: bool,
}

/// The encoding for a charset label, with the aliases Japanese sites use.
pub fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().trim_matches(['"', '\'']).to_ascii_lowercase();
    match label.as_str() {
        "cp932" | "ms932" | "windows-31j" | "sjis" | "x-sjis" | "shift-jis" | "ms_kanji" => Some(SHIFT_JIS),
        "eucjp" | "euc_jp" | "x-euc-jp" => Some(EUC_JP),
        _ => Encoding::for_label(label.as_bytes()),
    }
}

/// The `charset` parameter of a Content-Type header.
pub fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| v.trim())
    })
}

static META_CHARSET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)"#).unwrap());
static XML_ENCODING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_:.\-]+)["']"#).unwrap());

/// The charset a document declares in its first bytes.
pub fn declared_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(PRESCAN_BYTES)];
    let label = XML_ENCODING.captures(head).or_else(|| META_CHARSET.captures(head))?;
    encoding_for_label(std::str::from_utf8(&label[1]).ok()?)
}

/// Non-ASCII characters a text needs before its being valid UTF-8 counts
/// as proof that it is UTF-8.
const UTF8_PROOF_CHARS: usize = 8;

/// Whether `bytes` are valid UTF-8 holding at least [`UTF8_PROOF_CHARS`]
/// non-ASCII characters.
pub fn is_plainly_utf8(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|s| s.chars().filter(|c| !c.is_ascii()).nth(UTF8_PROOF_CHARS - 1).is_some())
}

/// Decodes a document, reporting which rule chose the encoding.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> Decoded {
    let (encoding, by) = if let Some((enc, _)) = Encoding::for_bom(bytes) {
        (enc, "bom")
    } else if let Some(enc) = content_type.and_then(charset_param).and_then(encoding_for_label) {
        (enc, "http")
    } else if let Some(enc) = declared_charset(bytes) {
        (enc, "meta")
    } else if std::str::from_utf8(bytes).is_ok() {
        (UTF_8, "detected")
    } else {
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
        detector.feed(bytes, true);
        (detector.guess(Some(b"jp"), chardetng::Utf8Detection::Allow), "detected")
    };
    // UTF-16 labels in a <meta> are wrong by definition (the meta was readable
    // as ASCII); browsers treat them as UTF-8.
    let encoding = if by == "meta" && encoding.output_encoding() != encoding { UTF_8 } else { encoding };
    let (encoding, by) = if encoding != UTF_8 && matches!(by, "http" | "meta") && is_plainly_utf8(bytes) {
        (UTF_8, "detected")
    } else {
        (encoding, by)
    };
    let (text, actual, had_errors) = encoding.decode(bytes);
    Decoded { text: text.into_owned(), encoding: actual, by, had_errors }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SJIS_TITLE: &[u8] = b"\x96\x68\x89\x71\x8f\xc8"; // 防衛省

    #[test]
    fn shift_jis_by_http_header_meta_and_detection() {
        let mut page = b"<html><head><meta charset=\"Shift_JIS\"></head><body>".to_vec();
        page.extend_from_slice(SJIS_TITLE);
        assert!(decode(&page, Some("text/html; charset=Shift_JIS")).text.contains("防衛省"));
        let by_meta = decode(&page, Some("text/html"));
        assert_eq!((by_meta.by, by_meta.text.contains("防衛省")), ("meta", true));
        let mut bare = b"<p>".to_vec();
        for _ in 0..20 {
            bare.extend_from_slice("防衛省の報道発表です。".as_bytes().iter().as_slice());
        }
        let sjis = SHIFT_JIS.encode(std::str::from_utf8(&bare).unwrap()).0.into_owned();
        let detected = decode(&sjis, None);
        assert_eq!(detected.encoding, SHIFT_JIS);
        assert!(detected.text.contains("防衛省の報道発表"));
    }

    #[test]
    fn cp932_is_an_alias_of_shift_jis() {
        let d = decode(SJIS_TITLE, Some("text/html; charset=cp932"));
        assert_eq!(d.text, "防衛省");
        assert_eq!(d.by, "http");
    }

    #[test]
    fn the_bom_beats_a_contradicting_header() {
        let mut bytes = b"\xef\xbb\xbf".to_vec();
        bytes.extend_from_slice("防衛省".as_bytes());
        let d = decode(&bytes, Some("text/html; charset=Shift_JIS"));
        assert_eq!((d.text.as_str(), d.by), ("防衛省", "bom"));
    }

    #[test]
    fn euc_jp_from_the_xml_declaration() {
        let body = EUC_JP.encode("<?xml version=\"1.0\" encoding=\"EUC-JP\"?><p>外務省</p>").0.into_owned();
        assert!(decode(&body, None).text.contains("外務省"));
    }

    #[test]
    fn utf8_bytes_under_a_shift_jis_label_are_read_as_utf8() {
        let page = "<meta charset=\"Shift_JIS\"><p>防衛省の報道発表です。</p>";
        let d = decode(page.as_bytes(), Some("text/html"));
        assert_eq!((d.text.as_str(), d.by), (page, "detected"));
        let d = decode(page.as_bytes(), Some("text/html; charset=EUC-JP"));
        assert_eq!(d.text, page);
        // Too little non-ASCII text to tell: the label is believed.
        assert_eq!(decode("<p>省</p>".as_bytes(), Some("text/html; charset=Shift_JIS")).encoding, SHIFT_JIS);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let d = decode(b"ab\xffcd", Some("text/html; charset=utf-8"));
        assert!(d.had_errors);
        assert_eq!(d.text, "ab\u{fffd}cd");
    }
}
