//! Text helpers shared by every stage that reads what the sources wrote.
//!
//! Government sites mix full-width and half-width forms (`２＋２`, `ＮＡＴＯ`),
//! stray control characters and very long strings. Everything that is compared
//! or shown passes through here first, so the rest of kisha sees one form.

use std::borrow::Cow;

use icu_normalizer::ComposingNormalizerBorrowed;

/// The longest title kept, in characters. Real titles are under 200; the cap
/// keeps a hostile 1 MB title from reaching the store or a mail subject.
pub const MAX_TITLE_CHARS: usize = 500;

/// The longest summary kept, in characters.
pub const MAX_SUMMARY_CHARS: usize = 2_000;

/// NFKC-normalises `s`: full-width digits and letters become ASCII, half-width
/// katakana become full-width, `㈱` becomes `(株)`.
pub fn nfkc(s: &str) -> Cow<'_, str> {
    ComposingNormalizerBorrowed::new_nfkc().normalize(s)
}

/// The form used for matching: NFKC, lower case, and the wave dashes and
/// tildes that NFKC leaves apart (`〜`, `～`, `~`) folded into `~`.
pub fn fold(s: &str) -> String {
    let normal = nfkc(s);
    let mut out = String::with_capacity(normal.len());
    for c in normal.chars() {
        match c {
            '〜' | '～' | '∼' => out.push('~'),
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            // Kana and CJK ideographs have no case: no table lookup for the
            // characters most titles are made of.
            CASELESS_CJK_START..=CASELESS_CJK_END => out.push(c),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Hiragana to the end of the CJK ideographs: no character here has case.
const CASELESS_CJK_START: char = '\u{3040}';
const CASELESS_CJK_END: char = '\u{9fff}';

/// Whether `c` breaks or pads a line: ASCII whitespace, control characters
/// (CR and LF included), Unicode line and paragraph separators, a BOM. The
/// ideographic space U+3000 is text in a Japanese title and is kept.
fn is_break(c: char) -> bool {
    c.is_ascii_whitespace()
        || c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{feff}' | '\u{200b}')
}

/// One line of display text: line breaks, control characters and runs of
/// ASCII whitespace become single spaces, the ends are trimmed, and the result
/// is cut to `max` characters with an ellipsis. The output can never break a
/// mail header or a text line; the title's own characters stay as written.
pub fn one_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut pending_space = false;
    let mut count = 0;
    for c in s.chars() {
        if is_break(c) {
            pending_space = !out.is_empty();
            continue;
        }
        // A space is only written with the character after it, and both fit.
        if count + 1 + usize::from(pending_space) > max {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Multi-line text: each line cleaned as by [`one_line`], blank runs collapsed
/// to one empty line, and the whole cut to `max` characters.
pub fn paragraphs(s: &str, max: usize) -> String {
    let mut out = String::new();
    // Characters in `out`, kept as it grows: counting `out` again for every
    // line would cost O(max²) on a page of many short lines.
    let mut count = 0;
    let mut blank = false;
    for line in s.lines() {
        let line = one_line(line, max);
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            count += 1;
            blank = false;
        }
        if !out.is_empty() {
            out.push('\n');
            count += 1;
        }
        out.push_str(&line);
        count += line.chars().count();
        if count >= max {
            return out.chars().take(max).collect();
        }
    }
    out
}

/// The share of U+FFFD replacement characters in `texts`, taken together; a
/// high share means the text was decoded with the wrong charset.
pub fn replacement_ratio<'a>(texts: impl IntoIterator<Item = &'a str>) -> f64 {
    let (mut total, mut bad) = (0usize, 0usize);
    for c in texts.into_iter().flat_map(str::chars) {
        if !c.is_whitespace() {
            total += 1;
            if c == '\u{fffd}' {
                bad += 1;
            }
        }
    }
    if total == 0 { 0.0 } else { bad as f64 / total as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caseless_range_has_no_character_with_case() {
        let cased: Vec<char> = (CASELESS_CJK_START..=CASELESS_CJK_END).filter(|c| c.to_lowercase().ne([*c])).collect();
        assert!(cased.is_empty(), "characters with a lower case: {cased:?}");
    }

    #[test]
    fn nfkc_folds_full_width_forms() {
        assert_eq!(nfkc("令和８年　ＮＡＴＯ"), "令和8年 NATO");
        assert_eq!(fold("１３時〜１５時"), "13時~15時");
        assert_eq!(fold("Secretary Of DEFENSE"), "secretary of defense");
    }

    #[test]
    fn one_line_removes_header_breaking_characters() {
        assert_eq!(one_line("  a\r\nBcc: x@y\t b  ", 100), "a Bcc: x@y b");
        assert_eq!(one_line("\u{feff}題名", 100), "題名");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("", 3), "");
        assert_eq!(one_line("第２回　気候", 100), "第２回　気候", "U+3000 is kept");
        assert_eq!(one_line("a\u{2028}b\u{85}c", 100), "a b c");
    }

    #[test]
    fn one_line_never_passes_its_cap_after_a_space() {
        // Found by the feed_extract fuzzer: a space and the character after it
        // were both written at max - 1, giving max + 1 characters and the ellipsis.
        assert_eq!(one_line("ab cd", 3), "ab…");
        assert_eq!(one_line("ab c", 4), "ab c");
        let long = "防衛 ".repeat(400);
        assert_eq!(one_line(&long, 500).chars().count(), 501);
    }

    #[test]
    fn paragraphs_keep_one_blank_line() {
        assert_eq!(paragraphs("a\n\n\n b \nc", 100), "a\n\nb\nc");
        assert_eq!(paragraphs("ab\ncd\nef", 5), "ab\ncd");
        assert_eq!(paragraphs(&"x\n".repeat(1_000_000), 50_000).chars().count(), 50_000);
    }

    #[test]
    fn replacement_ratio_counts_mojibake() {
        assert!(replacement_ratio(["\u{fffd}", "\u{fffd}a"]) > 0.6);
        assert_eq!(replacement_ratio(["日本"]), 0.0);
    }
}
