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
///
/// Most of what the sources write (ASCII, kana, CJK ideographs, the
/// ideographic space, full-width ASCII) is normalised here character by
/// character ([`nfkc_char`]); only text with anything else goes through the
/// normalizer, which costs a table lookup per character.
pub fn nfkc(s: &str) -> Cow<'_, str> {
    let mut out = String::new();
    if nfkc_to(s, &mut out) { Cow::Owned(out) } else { Cow::Borrowed(s) }
}

/// Appends the NFKC form of `s` to `out` if it differs from `s`, and says
/// whether it did; `out` is left as it was otherwise.
fn nfkc_to(s: &str, out: &mut String) -> bool {
    if s.is_ascii() {
        return false;
    }
    // The characters that change are written as they come; the runs between
    // them are copied whole.
    let mark = out.len();
    let mut changed = false;
    let mut copied = 0;
    for (at, c) in s.char_indices() {
        let Some(n) = nfkc_char(c) else {
            out.truncate(mark);
            return match ComposingNormalizerBorrowed::new_nfkc().normalize(s) {
                Cow::Owned(normal) => {
                    out.push_str(&normal);
                    true
                }
                Cow::Borrowed(_) => false,
            };
        };
        if n != c {
            if !changed {
                out.reserve(s.len());
                changed = true;
            }
            out.push_str(&s[copied..at]);
            out.push(n);
            copied = at + c.len_utf8();
        }
    }
    if changed {
        out.push_str(&s[copied..]);
    }
    changed
}

/// The NFKC form of `c` where it is one character known without the
/// normalizer: `c` itself for ASCII, kana, CJK ideographs and CJK
/// punctuation (not the tone marks U+302A to U+302F, which are combining),
/// ASCII for the ideographic space and the full-width forms of ASCII. These
/// are all starters that NFKC leaves alone whatever their neighbours are
/// (quick check "yes", combining class 0), so a text made of them is
/// normalised one character at a time. `None` for anything else (combining
/// marks, half-width katakana, `㈱`, Latin letters with accents).
fn nfkc_char(c: char) -> Option<char> {
    match c {
        '\0'..='\u{7f}'
        | '\u{3001}'..='\u{3029}'
        | '\u{3030}'..='\u{3035}'
        | '\u{3041}'..='\u{3096}'
        | '\u{309d}'..='\u{309e}'
        | '\u{30a0}'..='\u{30fe}'
        | '\u{3400}'..='\u{4dbf}'
        | '\u{4e00}'..='\u{9fff}' => Some(c),
        '\u{3000}' => Some(' '),
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(u32::from(c) - 0xfee0),
        _ => None,
    }
}

/// The form used for matching: NFKC, lower case, and the wave dashes and
/// tildes that NFKC leaves apart (`〜`, `～`, `~`) folded into `~`.
pub fn fold(s: &str) -> String {
    let mut out = String::new();
    fold_into(s, &mut out);
    out
}

/// [`fold`] written into `out`, which is cleared first: one buffer can serve
/// every title of a listing.
pub fn fold_into(s: &str, out: &mut String) {
    out.clear();
    if !nfkc_to(s, out) {
        out.push_str(s);
    }
    // ASCII is lowered in place. Only text with a character that may have
    // case or is a wave dash (rare in a Japanese title) is written again,
    // from that character on.
    let Some(at) = out.find(|c: char| !(c.is_ascii() || (is_caseless_cjk(c) && c != '〜'))) else {
        out.make_ascii_lowercase();
        return;
    };
    let rest = out.split_off(at);
    out.make_ascii_lowercase();
    for c in rest.chars() {
        match c {
            '〜' | '～' | '∼' => out.push('~'),
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            c if is_caseless_cjk(c) => out.push(c),
            c => out.extend(c.to_lowercase()),
        }
    }
}

/// Kana, CJK ideographs and the CJK symbols and punctuation before them
/// (U+3000 to U+9FFF) have no case: no table lookup for the characters most
/// titles are made of.
fn is_caseless_cjk(c: char) -> bool {
    (CASELESS_CJK_START..=CASELESS_CJK_END).contains(&c)
}

/// The ideographic space to the end of the CJK ideographs: no character here
/// has case.
const CASELESS_CJK_START: char = '\u{3000}';
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
    let mut count = 0;
    // Runs between breaks are copied whole: a title is one or a few runs.
    for run in runs(s) {
        // A space is only written with the character after it, and both fit.
        let space = usize::from(!out.is_empty());
        let room = max.saturating_sub(count + space);
        if room == 0 {
            out.push('…');
            return out;
        }
        if space == 1 {
            out.push(' ');
        }
        let chars = run.chars().count();
        if chars > room {
            let end = run.char_indices().nth(room).map_or(run.len(), |(i, _)| i);
            out.push_str(&run[..end]);
            out.push('…');
            return out;
        }
        out.push_str(run);
        count += space + chars;
    }
    out
}

/// [`one_line`] of a text the caller owns: the text itself when it is one
/// line already (most titles are), without a copy.
pub fn one_line_owned(s: String, max: usize) -> String {
    if is_one_line(&s, max) { s } else { one_line(&s, max) }
}

/// Whether `s` is one line already, which [`one_line`] gives back as it is:
/// runs parted by single spaces, nothing before the first or after the last,
/// at most `max` characters. (`false` may still be a text that `one_line`
/// rebuilds the same, such as `a…` at a cap of 1: it is then copied.)
fn is_one_line(s: &str, max: usize) -> bool {
    let mut end = 0;
    let mut chars = 0;
    for (i, (start, stop)) in run_spans(s).enumerate() {
        let parted = if i == 0 { start == 0 } else { start == end + 1 && s.as_bytes()[end] == b' ' };
        chars += s[start..stop].chars().count() + usize::from(i > 0);
        if !parted || chars > max {
            return false;
        }
        end = stop;
    }
    end == s.len()
}

/// The runs of `s` between breaks ([`is_break`]), none empty.
fn runs(s: &str) -> impl Iterator<Item = &str> {
    run_spans(s).map(|(start, end)| &s[start..end])
}

/// Where the runs of `s` start and end.
fn run_spans(s: &str) -> impl Iterator<Item = (usize, usize)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < s.len() {
            let start = at;
            let (end, len) = next_break(s, start).unwrap_or((s.len(), 0));
            at = end + len;
            if end > start {
                return Some((start, end));
            }
        }
        None
    })
}

/// The first break in `s` at or after `from`, and its length in bytes. A
/// break is an ASCII byte up to the space, DEL, or a character whose first
/// byte is one of the three that start the others; the bytes are searched
/// 16 at a time for any of those.
fn next_break(s: &str, from: usize) -> Option<(usize, usize)> {
    let may_break = |b: u8| b <= b' ' || matches!(b, 0x7f | 0xc2 | 0xe2 | 0xef);
    let bytes = s.as_bytes();
    let mut at = from;
    while at < bytes.len() {
        let chunk = &bytes[at..bytes.len().min(at + 16)];
        if !chunk.iter().fold(false, |any, &b| any | may_break(b)) {
            at += chunk.len();
            continue;
        }
        for (i, &b) in chunk.iter().enumerate() {
            match b {
                0..=b' ' | 0x7f => return Some((at + i, 1)),
                // U+0080 to U+009F, U+200B, U+2028, U+2029, U+FEFF.
                0xc2 | 0xe2 | 0xef => {
                    if let Some(c) = s[at + i..].chars().next().filter(|c| is_break(*c)) {
                        return Some((at + i, c.len_utf8()));
                    }
                }
                _ => {}
            }
        }
        at += chunk.len();
    }
    None
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
pub fn replacement_ratio<'a, I>(texts: I) -> f64
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: Clone,
{
    let texts = texts.into_iter();
    // Most listings have no U+FFFD at all, found faster than counted.
    if !texts.clone().any(|t| t.contains('\u{fffd}')) {
        return 0.0;
    }
    let (mut total, mut bad) = (0usize, 0usize);
    for c in texts.flat_map(str::chars) {
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

    fn normalizer(s: &str) -> String {
        ComposingNormalizerBorrowed::new_nfkc().normalize(s).into_owned()
    }

    #[test]
    fn characters_normalised_without_the_normalizer_agree_with_it() {
        let known: Vec<char> = (0..=0x10ffff).filter_map(char::from_u32).filter(|c| nfkc_char(*c).is_some()).collect();
        for c in &known {
            assert_eq!(nfkc_char(*c).map(String::from), Some(normalizer(&c.to_string())), "U+{:04X}", u32::from(*c));
        }
        // Neighbours never change each other: every pair of the characters
        // that are not ideographs, and the ideographs at the ends of their
        // blocks, normalise as the two apart.
        let sample: Vec<char> =
            known.iter().copied().filter(|c| !matches!(c, '\u{3401}'..='\u{4dbe}' | '\u{4e01}'..='\u{9ffe}')).collect();
        for a in &sample {
            for b in &sample {
                let pair: String = [*a, *b].into_iter().collect();
                assert_eq!(nfkc(&pair), normalizer(&pair), "U+{:04X} U+{:04X}", u32::from(*a), u32::from(*b));
            }
        }
    }

    #[test]
    fn text_with_other_characters_goes_through_the_normalizer() {
        for s in ["ｶﾞｲﾑ省", "㈱防衛", "か\u{3099}", "Café\u{301}", "ＮＡＴＯ…", "第２回　日米「２＋２」"]
        {
            assert_eq!(nfkc(s), normalizer(s), "{s}");
            let folded: String =
                normalizer(s).chars().flat_map(char::to_lowercase).collect::<String>().replace('〜', "~");
            assert_eq!(fold(s), folded, "{s}");
        }
        assert!(matches!(nfkc("2024年6月30日 防衛省"), Cow::Borrowed(_)), "nothing to change, nothing copied");
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
    fn runs_split_at_every_break() {
        let text =
            "a\u{80}b\u{9f}c\u{a0}d\u{200b}e\u{2028}f\u{2029}g\u{feff}h\u{85}i\u{7f}j\u{3000}k\u{200c}l \t\r\n\u{1}m";
        let by_chars: Vec<&str> = text.split(is_break).filter(|r| !r.is_empty()).collect();
        assert_eq!(runs(text).collect::<Vec<_>>(), by_chars);
        assert_eq!(by_chars, ["a", "b", "c\u{a0}d", "e", "f", "g", "h", "i", "j\u{3000}k\u{200c}l", "m"]);
        assert_eq!(runs("  ").count(), 0);
        // Breaks on either side of the 16-byte blocks the search reads.
        for pad in 0..40 {
            let text = format!("{}日\u{2028}本\u{feff}ｘ\u{85}y z\u{7f}", "a".repeat(pad));
            let by_chars: Vec<&str> = text.split(is_break).filter(|r| !r.is_empty()).collect();
            assert_eq!(runs(&text).collect::<Vec<_>>(), by_chars, "{pad}");
        }
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            let by_chars: Vec<&str> = text.split(is_break).filter(|r| !r.is_empty()).collect();
            assert_eq!(runs(&text).collect::<Vec<_>>(), by_chars, "U+{:04X}", u32::from(c));
        }
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
    fn a_text_on_one_line_is_given_back_as_it_is() {
        for (s, max) in [
            ("日米防衛相会談", 100),
            ("A B c", 100),
            ("A B c", 5),
            ("A B c", 4),
            ("abc", 3),
            ("abcd", 3),
            ("", 3),
            (" a", 100),
            ("a ", 100),
            ("a  b", 100),
            ("a\tb", 100),
            ("a\u{3000}b", 100),
            ("a\u{2028}b", 100),
            ("\u{feff}a", 100),
            ("a\u{a0}b", 100),
            ("防衛 ", 2),
            ("a…", 1),
            ("a b…", 3),
        ] {
            assert_eq!(one_line_owned(s.to_owned(), max), one_line(s, max), "{s:?} at {max}");
            if is_one_line(s, max) {
                assert_eq!(one_line(s, max), s, "{s:?} at {max}");
            }
        }
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            for s in [format!("a{c}b"), format!("{c}a"), format!("a {c}")] {
                assert_eq!(is_one_line(&s, 100), one_line(&s, 100) == s, "{s:?}");
            }
        }
    }

    #[test]
    fn fold_is_the_lower_case_of_the_normal_form() {
        let mut buffer = String::from("a text folded before");
        for s in [
            "日米「２＋２」ＡＢＣ",
            "ABC 日米",
            "〜ABC",
            "ＡＢＣ〜ＸＹＺ",
            "防衛大臣、Ｍｒ．ＳＭＩＴＨと会談",
            "Ärzte ΣΟΦΙΑ 日本",
            "İstanbul",
            "∼ ~ ～",
            "日本〜Ä",
            "防衛İ",
            "、「Ｘ」∼ＹÉ",
            "ｶﾞｲﾑ省",
            "",
        ] {
            let folded: String =
                normalizer(s).chars().flat_map(char::to_lowercase).collect::<String>().replace(['〜', '∼'], "~");
            assert_eq!(fold(s), folded, "{s}");
            // One buffer for every text, as a listing's titles share one:
            // nothing of the text before it is left.
            fold_into(s, &mut buffer);
            assert_eq!(buffer, folded, "{s} in a used buffer");
        }
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
