//! The `jp-defense-meeting` preset: releases that report or announce a
//! meeting, a telephone or video talk, a "2+2", or a courtesy call in which a
//! defense minister takes part (Japan's 防衛大臣, a foreign 国防大臣 /
//! 国防長官 / Secretary of Defense), in Japanese or English. The definition,
//! with its positives and hard negatives, is the corpus README
//! (`../shared/corpus/README.md` from the repository).
//!
//! How it decides, first rule that applies:
//!
//! 1. A genre that is never a meeting release vetoes: press-conference
//!    transcripts, white papers, trip and inspection schedules, disaster
//!    dispatches, orders, responses to press reports. A 防衛相会談 mentioned
//!    inside them does not count. The title is read first (記者会見, 白書,
//!    出張の予定); unless it names a meeting, the body's layout is read too
//!    (日時/場所 with 備考, 質疑応答, 発表事項, Q:/A: lines, a 第…部 part
//!    heading, and for an untitled body its first line and a spoken style).
//! 2. A meeting named as one of defense ministers (日米防衛相会談, 防衛相会合,
//!    防衛相共同声明, "Defence Ministerial Telephone Conference").
//! 3. A foreign defense minister in a meeting or visit (国防大臣の当省訪問,
//!    米国防長官による表敬, "Secretary of Defense ... met with").
//! 4. A meeting of foreign ministers only (外相会談) is negative.
//! 5. Japan's defense minister (or an English "Defense Minister") in a
//!    meeting: positive with a head of government, a foreign minister or a
//!    counterpart; negative with a legislator, envoy or official, or with
//!    vice-minister or working level; otherwise a guess that the release
//!    text should settle.
//! 6. A "2+2" (安全保障協議委員会, 外務・防衛閣僚会合, two-plus-two), unless
//!    it is only why foreign ministers met.
//! 7. Vice-minister and working level (副大臣, 次官, 当局間, 政策対話, PM/MM
//!    協議, working group) without a minister is negative.
//!
//! [`judge_title`] applies these to the title; a defense minister meeting an
//! unnamed counterpart (rule 5) or a title that names no one but a meeting
//! is left to the release text (`confident: false`). [`judge_release`]
//! decides on the title when it can, else clause by clause on the head of
//! the body (the lead sentence of a release says who met whom): the first
//! decisive clause wins, and a "no" drawn only from who is named needs a
//! lead-length clause, since photo captions name people too.
//!
//! Limits: roles are recognised by their titles, never by names, so a body
//! that says only "Mattis met Onodera" decides nothing. Only the first
//! [`HEAD_CHARS`] characters of a body are read (plus a whole-body search for
//! 質疑応答), so a meeting mentioned only further down is missed. A foreign
//! defense minister written 防衛大臣 (rather than 国防大臣) is read as Japan's
//! and needs a counterpart to be named. A listing title that names no one
//! ("パラオ大統領への表敬について", "大臣共同声明") does not match on its own.

mod cues;
#[cfg(test)]
mod eval;
#[cfg(test)]
mod tests;

use super::Verdict;
use crate::text::{MAX_TITLE_CHARS, fold};
use cues::{Call, Finding, Scan, Unit};

/// How much of a body is read, in characters: the lead paragraphs, where a
/// release says who met whom. Bodies can be long transcripts; reading a
/// bounded head keeps the detector linear and fast on every new item.
pub const HEAD_CHARS: usize = 1_500;

/// A body clause at most this long reads like a heading or photo caption.
const SHORT_CLAUSE_CHARS: usize = 60;

/// A body clause at least this long reads like a lead sentence, which alone
/// may say "no" from who is named (captions name people without saying who
/// met whom).
const LEAD_CLAUSE_CHARS: usize = 40;

/// A first body line at most this long reads like the page heading.
const HEADING_CHARS: usize = 100;

/// Spoken forms of a minister's press-conference remarks.
const SPOKEN: &[&str] = &["ございます", "思います", "まいります", "申し上げ", "いたします"];

/// How many body lines are searched for a transcript or white-paper layout.
const LAYOUT_LINES: usize = 30;

/// The first `max` characters of `s`, cut on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn yes(confident: bool, why: Vec<String>) -> Verdict {
    Verdict { matched: true, confident, why }
}

fn no(confident: bool, why: Vec<String>) -> Verdict {
    Verdict { matched: false, confident, why }
}

/// The verdict from a listing's title (and summary, when it has one).
///
/// `confident: false` means the release text could change the answer; its
/// `matched` is then the best guess from the title alone.
pub fn judge_title(title: &str, summary: Option<&str>) -> Verdict {
    let t = fold(prefix(title, MAX_TITLE_CHARS));
    if let Some(g) = cues::genre(&t) {
        return Verdict::no(format!("negative: {} (title contains \"{}\")", g.what, g.word));
    }
    let scan = Scan::of(&t);
    let found = scan.assess("title", &t, Unit::Title);
    match found {
        Some(Finding { call: Call::Yes, why, .. }) => return yes(true, vec![why]),
        Some(Finding { call: Call::No, why, .. }) => return no(true, vec![why]),
        _ => {}
    }
    if let Some(summary) = summary {
        let s = fold(prefix(summary, crate::text::MAX_SUMMARY_CHARS));
        if cues::genre(&s).is_none()
            && let Some(Finding { call: Call::Yes, why, .. }) = Scan::of(&s).assess("summary", &s, Unit::Title)
        {
            return yes(false, vec![why]);
        }
    }
    match found {
        Some(Finding { call: Call::Maybe, why, .. }) => {
            yes(false, vec![why, "likely a defense minister's meeting; the release text decides".into()])
        }
        _ if scan.suggestive() => {
            no(false, vec!["title names no defense-minister meeting; the release text decides".into()])
        }
        _ => Verdict::no("title names no defense-minister meeting"),
    }
}

/// The decision with the release text. `title` may be empty when unknown;
/// `body` is the page text, one paragraph or heading per line, possibly cut.
pub fn judge_release(title: &str, body: &str) -> Verdict {
    let title = title.trim();
    let t = fold(prefix(title, MAX_TITLE_CHARS));
    if let Some(g) = cues::genre(&t) {
        return Verdict::no(format!("negative: {} (title contains \"{}\")", g.what, g.word));
    }
    let from_title = Scan::of(&t).assess("title", &t, Unit::Title);
    // A title that names the meeting is trusted before the body's layout: an
    // announcement may list 日時 and 場所 like a transcript does.
    if let Some(Finding { call: Call::Yes, why, .. }) = &from_title {
        return yes(true, vec![why.clone()]);
    }
    let head = fold(prefix(body, HEAD_CHARS));
    if let Some(why) = layout_veto(&head, body, title.is_empty()) {
        return Verdict::no(why);
    }
    if let Some(Finding { call: Call::No, why, .. }) = &from_title {
        return no(true, vec![why.clone()]);
    }
    let mut maybe = None;
    for clause in clauses(&head) {
        let chars = clause.chars().count();
        let unit = Unit::Clause { short: chars <= SHORT_CLAUSE_CHARS };
        let Some(f) = Scan::of(clause).assess("body", clause, unit) else { continue };
        match f.call {
            Call::Yes => return yes(true, vec![f.why]),
            Call::No if !f.weak || chars >= LEAD_CLAUSE_CHARS => return no(true, vec![f.why]),
            Call::No => {}
            Call::Maybe => {
                maybe.get_or_insert(f.why);
            }
        }
    }
    match (from_title, maybe) {
        (Some(Finding { why, .. }), _) => {
            yes(true, vec![why, "body names no counterpart either way; decided on the title".into()])
        }
        (None, Some(why)) => yes(true, vec![why]),
        (None, None) => Verdict::no("no meeting of a defense minister in the title or the head of the body"),
    }
}

/// Clauses of a folded body head: lines, and Japanese sentences within them.
fn clauses(head: &str) -> impl Iterator<Item = &str> {
    head.lines().flat_map(|l| l.split('。')).map(str::trim).filter(|c| !c.is_empty())
}

/// A body whose layout is never a meeting release: a press-conference
/// transcript, a white paper, or (when the title is unknown) a first line
/// naming such a genre.
fn layout_veto(head: &str, body: &str, untitled: bool) -> Option<String> {
    let lines: Vec<&str> = head.lines().map(str::trim).filter(|l| !l.is_empty()).take(LAYOUT_LINES).collect();
    let label = |name: &str| lines.iter().any(|l| *l == name || l.starts_with(&format!("{name}:")));
    // Announcements list 日時 and 場所 too; a transcript adds 備考 or says 会見.
    if label("日時") && label("場所") && (label("備考") || head.contains("会見")) {
        return Some("negative: press-conference transcript (body lists \"日時\" and \"場所\")".into());
    }
    for word in ["質疑応答", "発表事項"] {
        if head.contains(word) {
            return Some(format!("negative: press-conference transcript (body contains \"{word}\")"));
        }
    }
    // Transcripts run long and the Q&A may start past the head; one substring
    // search over the whole body stays linear.
    if body.contains("質疑応答") {
        return Some("negative: press-conference transcript (body contains \"質疑応答\")".into());
    }
    if lines.iter().any(|l| l.starts_with("q:")) && lines.iter().any(|l| l.starts_with("a:")) {
        return Some("negative: press-conference transcript (body has q:/a: lines)".into());
    }
    if lines.iter().take(10).any(|l| is_part_heading(l)) {
        return Some("negative: white paper (body has a 第…部 part heading)".into());
    }
    if !untitled {
        return None;
    }
    // Without a title, a short first line is usually the page heading.
    if let Some(first) = lines.first()
        && first.chars().count() <= HEADING_CHARS
        && let Some(g) = cues::genre(first)
    {
        return Some(format!("negative: {} (first body line contains \"{}\")", g.what, g.word));
    }
    // A transcript whose heading and layout were lost still reads as speech;
    // releases are written in report style (述べました, 一致した).
    let spoken: Vec<&str> = SPOKEN.iter().copied().filter(|w| head.contains(w)).collect();
    if spoken.len() >= 2 {
        return Some(format!("negative: press-conference transcript (body is speech: \"{}\")", spoken.join("\", \"")));
    }
    None
}

/// A white-paper part heading: 第II部, 第3部 (folded: 第ii部).
fn is_part_heading(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('第') else { return false };
    let Some(end) = rest.find('部') else { return false };
    let number = &rest[..end];
    !number.is_empty()
        && number.chars().count() <= 4
        && number.chars().all(|c| c.is_ascii_digit() || "ivx一二三四五六七八九十".contains(c))
}
