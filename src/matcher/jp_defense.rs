//! The `jp-defense-meeting` preset: releases that report or announce a
//! meeting, a telephone or video talk, a "2+2", or a courtesy call in which a
//! defense minister takes part (Japan's 防衛大臣, a foreign 国防大臣 /
//! 国防長官 / Secretary of Defense).
//!
//! First cut: title phrases only. See `../shared/corpus/README.md` for the
//! definition this implements.

use super::Verdict;
use crate::text::fold;

const MEETING_PHRASES: &[&str] = &[
    "防衛相会談",
    "防衛相電話会談",
    "防衛相テレビ会談",
    "防衛相会合",
    "防衛相共同",
    "2+2",
    "安全保障協議委員会",
    "外務・防衛閣僚",
    "defense ministerial",
    "defence ministerial",
    "security consultative committee",
];

const NEGATIVE_PHRASES: &[&str] = &["記者会見", "会見", "白書", "出張予定", "出張の予定", "次官", "政務官", "副大臣", "当局間"];

/// The verdict from a listing's title (and summary, when it has one).
pub fn judge_title(title: &str, summary: Option<&str>) -> Verdict {
    let t = fold(title);
    let _ = summary;
    if let Some(neg) = NEGATIVE_PHRASES.iter().find(|p| t.contains(*p)) {
        return Verdict::no(format!("title contains \"{neg}\": not a meeting release"));
    }
    if let Some(p) = MEETING_PHRASES.iter().find(|p| t.contains(*p)) {
        return Verdict { matched: true, confident: true, why: vec![format!("title contains \"{p}\""), "meeting of defense ministers".into()] };
    }
    if (t.contains("国防長官") || t.contains("国防大臣") || t.contains("secretary of defense")) && !t.contains("次官") {
        return Verdict { matched: true, confident: false, why: vec!["title names a foreign defense minister".into()] };
    }
    Verdict::no("title names no defense-minister meeting")
}

/// The verdict with the release text.
pub fn judge_release(title: &str, body: &str) -> Verdict {
    let v = judge_title(title, None);
    if v.matched || !v.confident {
        return v;
    }
    let head: String = fold(body).chars().take(600).collect();
    if let Some(p) = MEETING_PHRASES.iter().find(|p| head.contains(*p)) {
        return Verdict { matched: true, confident: true, why: vec![format!("body contains \"{p}\"")] };
    }
    v
}
