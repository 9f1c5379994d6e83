//! The words the detector reads, and what one piece of text says with them.
//!
//! A piece of text is a title, a summary, or one clause of a release body
//! (a line, or a Japanese sentence ended by `。`). [`Scan::of`] finds who is
//! named (by role, never by name) and what happens (a meeting, a visit, a
//! "2+2"); [`Scan::assess`] turns that into a finding with a reason an analyst
//! can read. All text here is already folded by `crate::text::fold` (NFKC,
//! lower case), so patterns are written in that form: ASCII digits and
//! letters, lower-case English.

use std::sync::LazyLock;

use regex::Regex;

/// Compiles one of the constant patterns below. `\b` is made ASCII-only: the
/// English words it guards are ASCII, and a Unicode boundary would push the
/// regex engine off its fast path on Japanese text.
fn pattern(p: &str) -> Regex {
    let p = p.replace(r"\b", r"(?-u:\b)");
    // The patterns are constants of this file and are all compiled by the unit
    // tests (`every_pattern_compiles`), so a failure here is a bug caught
    // before release, never an input-dependent panic.
    Regex::new(&p).unwrap_or_else(|e| panic!("jp_defense: invalid built-in pattern: {e}"))
}

macro_rules! patterns {
    ($($name:ident = $re:expr;)*) => {
        $(static $name: LazyLock<Regex> = LazyLock::new(|| pattern($re));)*
        /// Forces every pattern, so the unit tests prove they compile.
        #[cfg(test)]
        pub(super) fn compile_all() -> usize {
            let all: &[&Regex] = &[$(&*$name),*];
            all.len()
        }
    };
}

patterns! {
    // Genres that are never a meeting release, whatever meeting they mention.
    PRESS_CONFERENCE = r"記者会見|会見概要|会見録|臨時会見|共同会見|閣議後会見|大臣会見|についての会見|会見を行|press conference|news conference|press briefing|transcript";
    WHITE_PAPER = r"白書|white paper|defen[cs]e of japan \d{4}";
    SCHEDULE = r"(?:出張|視察)(?:等)?の?予定|travel schedule|itinerary";
    DISASTER = r"災害派遣|緊急援助|災害救援|disaster relief|disaster response|\bjdr\b";
    NEWS_REPORT = r"報道について|報道に関して|報道を受け|media reports?";
    ORDER = r"命令|発令|action order|minister's order|\border (?:for|concerning|to)\b";

    // A meeting of defense ministers named as such: 日米防衛相会談,
    // 日英伊防衛相会合, 拡大ASEAN国防相会議, "Defence Ministerial Telephone Conference".
    DM_MEETING = r"(?:防衛|国防)(?:担当)?(?:相|大臣)等?(?:電話|テレビ|ビデオ|オンライン)?(?:会談|会合|会議|共同声明|共同プレスステートメント|共同ステートメント|共同発表|共同コミュニケ|立ち話|懇談)|defen[cs]e ministerial|defen[cs]e ministers'? (?:meeting|talks?|telephone|video|teleconference|conference|call|dialogue|joint statement|forum)|\badmm\b";
    // A meeting of foreign and defense ministers ("2+2") named as such.
    TWO_PLUS_TWO = r"2\s*\+\s*2|2プラス2|two[- ]plus[- ]two|安全保障協議委員会|外務・防衛(?:担当)?閣僚|外務防衛閣僚|security consultative committee|foreign and defen[cs]e ministers|defen[cs]e and foreign ministers";
    // A meeting of foreign ministers named as such: 日米外相会談, 外相電話会談.
    FM_MEETING = r"外相(?:電話|テレビ|ビデオ)?(?:会談|会合|会議|立ち話|懇談|協議|戦略対話)|外相級|外務大臣(?:電話)?会談|foreign ministers'? (?:telephone )?(?:meeting|talks?|call|dialogue)|foreign minister(?:'s|ial) (?:meeting|talks?)";

    // Defense ministers. Group 1: Japan's (group 2, a junior post whose title
    // contains the minister's: 防衛大臣政務官); group 3: Japan's before 2007;
    // group 4: a foreign one; group 5: an English title that does not say whose.
    DEFENSE_MINISTER = r"(防衛(?:大臣|相))(政務官|補佐官)?|(防衛庁長官)|(国防(?:産業|担当)?(?:大臣|相|長官)|国防部長官?|軍事大臣|軍隊大臣|防衛担当大臣|secretary of (?:national )?defen[cs]e|defen[cs]e secretary|secretary of state for defen[cs]e|\bsecdef\b)|(\bminister (?:of|for) (?:national )?defen[cs]e|\bdefen[cs]e minister)";
    // Vice-minister and working level.
    JUNIOR = r"副大臣|次官|政務官|補佐官|副長官|審議官|局長|次長|参事官|当局間|事務レベル|実務者|実務レベル|政策対話|政策協議|戦略対話|作業部会|ワーキング・?グループ|\(pm\)|\(mm\)|vice[- ]minist|deputy secretary|deputy minister|under secretary|assistant secretary|state minister|parliamentary vice|working[- ]group|working[- ]level|director[- ]general|senior officials?|policy dialogue|staff talks";
    // Heads of state or government, and other cabinet-rank people a defense
    // minister meets as a counterpart.
    HEAD = r"総理|首相|大統領|国王|女王|皇太子|首脳|国家主席|官房長官|prime minister|\bpresident\b|\bking\b|\bqueen\b|crown prince|chief cabinet secretary";
    // Foreign ministers. Group 1 marks a junior post (外務大臣政務官).
    FOREIGN_MINISTER = r"外務大臣(政務官|補佐官)?|外相|国務長官|外務・英連邦大臣|foreign minister|minister (?:of|for) foreign affairs|secretary of state\b";
    // Words that say the other side holds the same rank.
    // Bare 閣僚 is left out: 閣僚懇談会 is a domestic cabinet meeting.
    COUNTERPART = r"両閣僚|両大臣|カウンターパート|counterparts?\b|\b(?:both|the|two|three|four) ministers\b";
    // People who are not a minister's counterpart: legislators, envoys,
    // officials of international bodies, officers, agency heads, business.
    // Group 1 marks 防衛庁長官, Japan's defense minister before 2007.
    OUTSIDER = r"議員|上院|下院|議長|大使|事務総長|(防衛)?庁長官|司令官|幕僚長|参謀|知事|市長|社長|会長|記者|代表団|\bsenator\b|congress(?:man|woman|ional)|lawmaker|legislator|member of parliament|ambassador|secretary[- ]general|commander|chief of staff|joint chiefs|governor|mayor|\bceo\b|chairman|delegation|journalist";

    // Something happening between people.
    MEETING = r"会談|会合|表敬|懇談|会食|面会|面談|意見交換|立ち話|電話|テレビ会議|ビデオ会議|オンライン会議|共同声明|共同発表|プレスステートメント|\bmeet(?:s|ing|ings)?\b|\bmet\b|courtesy call|telephone|\bphone\b|teleconference|\btelecon\b|video ?conference|video call|\btalks?\b|\bcall\b|\bcalls? (?:with|on)\b|\bcalled on\b|\bwelcome[sd]?\b|\bhost(?:s|ed)?\b|readout|joint statement|joint press statement|dialogue";
    // A visit; counts as a meeting only for a foreign defense minister (one
    // visiting the ministry or Japan meets the minister).
    VISIT = r"訪問|来日|訪日|来訪|来省|出席|参加|\bvisit(?:s|ed|ing)?\b|\battend(?:s|ed|ing)?\b";
    // A visit to Japan or the ministry, which makes an English "Minister of
    // Defence" a foreign one.
    VISIT_JAPAN = r"visit(?:s|ed|ing)? (?:to )?(?:japan|tokyo|the ministry of defen[cs]e|mod\b)|visit to japan";
    // A "2+2" mentioned in a body is the subject when it is held...
    HELD = r"開催|行われ|行った|行いました|を行|convened|\bheld\b|took place|was attended";
    // ...and only context when it is why someone came.
    PURPOSE = r"ため|際し|機会|向け|控え|\bmargins?\b|\bsidelines?\b|ahead of|prior to|in preparation|toward";
}

/// A release genre that is never a meeting release.
pub(super) struct Genre {
    pub what: &'static str,
    pub word: String,
}

/// The first never-a-meeting genre named in `text`, if any.
pub(super) fn genre(text: &str) -> Option<Genre> {
    let kinds: [(&'static str, &Regex); 6] = [
        ("press-conference transcript", &PRESS_CONFERENCE),
        ("white paper", &WHITE_PAPER),
        ("trip or inspection schedule", &SCHEDULE),
        ("disaster dispatch", &DISASTER),
        ("order", &ORDER),
        ("response to press reports", &NEWS_REPORT),
    ];
    kinds.into_iter().find_map(|(what, re)| re.find(text).map(|m| Genre { what, word: m.as_str().to_owned() }))
}

/// Whether a "2+2" is held in `text` rather than being why someone came.
fn two_plus_two_held(text: &str) -> bool {
    HELD.is_match(text) && !PURPOSE.is_match(text)
}

/// Whether `text` names a "2+2" only as the reason for a visit.
fn names_purpose(text: &str) -> bool {
    PURPOSE.is_match(text)
}

/// Titles that come before a role and make it junior: "Deputy Secretary of
/// Defense", "State Minister of Defense", 副国防長官.
const JUNIOR_PREFIXES: &[&str] =
    &["deputy ", "under ", "assistant ", "vice ", "vice-", "state ", "parliamentary ", "副"];

fn junior_prefix(text: &str, start: usize) -> bool {
    let before = text.get(..start).unwrap_or("");
    JUNIOR_PREFIXES.iter().any(|p| before.ends_with(p))
}

/// 防衛相 followed by 互 or 当 is 防衛 + 相互 / 相当 ("mutual", "equivalent").
fn not_a_title(text: &str, end: usize) -> bool {
    text.get(end..).is_some_and(|rest| rest.starts_with('互') || rest.starts_with('当'))
}

fn first(re: &Regex, text: &str) -> Option<String> {
    re.find(text).map(|m| m.as_str().to_owned())
}

/// The meeting word to report: the last Japanese one (a Japanese sentence
/// ends with its main verb, 「…会合のため来日中の…の表敬を受けた」), else the first
/// English one (an English sentence starts with it).
fn meeting_word(text: &str) -> Option<String> {
    let mut first = None;
    let mut last_japanese = None;
    for m in MEETING.find_iter(text) {
        first.get_or_insert(m);
        if !m.as_str().is_ascii() {
            last_japanese = Some(m);
        }
    }
    last_japanese.or(first).map(|m| m.as_str().to_owned())
}

/// "a 会談", or "a meeting ("met")" for English words that are not nouns.
fn a_meeting(word: &str) -> String {
    if word.is_ascii() { format!("a meeting (\"{word}\")") } else { format!("a {word}") }
}

/// Who is named in a piece of text, and what happens in it. Each field holds
/// the first word found, for the reason shown to the analyst.
#[derive(Debug, Default)]
pub(super) struct Scan {
    japan_dm: Option<String>,
    foreign_dm: Option<String>,
    /// An English "Defense Minister" / "Minister of Defence" that does not
    /// say whose; `generic_count` counts them, as two such titles in one
    /// clause are two ministers ("Defense Minister Hamada and ... Minister for
    /// Defence Marles").
    generic_dm: Option<String>,
    generic_count: usize,
    junior: Option<String>,
    head: Option<String>,
    foreign_minister: Option<String>,
    counterpart: Option<String>,
    outsider: Option<String>,
    dm_meeting: Option<String>,
    two_plus_two: Option<String>,
    fm_meeting: Option<String>,
    meeting: Option<String>,
    visit: Option<String>,
}

/// What a piece of text says about the release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    /// A defense minister takes part in a meeting.
    Yes,
    /// A meeting without a defense minister, or with one but not a counterpart.
    No,
    /// A defense minister in a meeting with someone the text does not name.
    Maybe,
}

#[derive(Debug, Clone)]
pub(super) struct Finding {
    pub call: Call,
    pub why: String,
    /// A "no" drawn only from who is named, which a short body line (a photo
    /// caption: 表敬を受ける安倍総理大臣) cannot be trusted with.
    pub weak: bool,
}

fn finding(call: Call, why: String) -> Option<Finding> {
    Some(Finding { call, why, weak: false })
}

fn weak_no(why: String) -> Option<Finding> {
    Some(Finding { call: Call::No, why, weak: true })
}

/// Where a piece of text comes from, which decides how much it can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    /// A title or summary: it names what the release is about.
    Title,
    /// A clause of the body; `short` when it reads like a heading or caption.
    Clause { short: bool },
}

impl Scan {
    pub(super) fn of(text: &str) -> Scan {
        let mut s = Scan::default();
        for c in DEFENSE_MINISTER.captures_iter(text) {
            let Some(all) = c.get(0) else { continue };
            let word = all.as_str().to_owned();
            if c.get(1).is_some_and(|g| g.as_str() == "防衛相") && not_a_title(text, all.end()) {
                continue;
            }
            if c.get(2).is_some() || junior_prefix(text, all.start()) {
                s.junior.get_or_insert(word);
            } else if c.get(1).is_some() || c.get(3).is_some() {
                s.japan_dm.get_or_insert(word);
            } else if c.get(4).is_some() {
                s.foreign_dm.get_or_insert(word);
            } else {
                s.generic_count += 1;
                s.generic_dm.get_or_insert(word);
            }
        }
        for c in FOREIGN_MINISTER.captures_iter(text) {
            let Some(all) = c.get(0) else { continue };
            if c.get(1).is_some() || junior_prefix(text, all.start()) {
                s.junior.get_or_insert_with(|| all.as_str().to_owned());
            } else {
                s.foreign_minister.get_or_insert_with(|| all.as_str().to_owned());
            }
        }
        for c in OUTSIDER.captures_iter(text) {
            if c.get(1).is_none()
                && let Some(all) = c.get(0)
            {
                s.outsider = Some(all.as_str().to_owned());
                break;
            }
        }
        if s.junior.is_none() {
            s.junior = first(&JUNIOR, text);
        }
        s.head = first(&HEAD, text);
        s.counterpart = first(&COUNTERPART, text);
        s.dm_meeting = first(&DM_MEETING, text);
        s.two_plus_two = first(&TWO_PLUS_TWO, text);
        s.fm_meeting = first(&FM_MEETING, text);
        s.meeting = meeting_word(text);
        s.visit = first(&VISIT, text);
        s
    }

    fn any_dm(&self) -> bool {
        self.japan_dm.is_some() || self.foreign_dm.is_some() || self.generic_dm.is_some()
    }

    /// Whether the text has anything a release text could turn into a match:
    /// a defense minister, a meeting, a visit or a "2+2".
    pub(super) fn suggestive(&self) -> bool {
        self.any_dm() || self.meeting.is_some() || self.visit.is_some() || self.two_plus_two.is_some()
    }

    /// What this text says, with the reason; `None` when it says nothing
    /// either way. `field` ("title", "body") prefixes the reason; `text` is
    /// what was scanned.
    pub(super) fn assess(&self, field: &str, text: &str, unit: Unit) -> Option<Finding> {
        let any_dm = self.any_dm();
        if let Some(w) = &self.dm_meeting {
            return finding(Call::Yes, format!("{field} contains \"{w}\" (defense ministers' meeting)"));
        }
        if let Some(d) = &self.foreign_dm
            && let Some(m) = self.meeting.as_ref().or(self.visit.as_ref())
        {
            return finding(Call::Yes, format!("{field}: {d} takes part in {}", a_meeting(m)));
        }
        if let Some(d) = &self.generic_dm
            && VISIT_JAPAN.is_match(text)
        {
            return finding(Call::Yes, format!("{field}: {d} visits Japan"));
        }
        if !any_dm && let Some(w) = &self.fm_meeting {
            return finding(Call::No, format!("negative: foreign ministers only ({field} contains \"{w}\")"));
        }
        if let Some(d) = self.japan_dm.as_ref().or(self.generic_dm.as_ref())
            && let Some(m) = &self.meeting
        {
            if let Some(c) = self.head.as_ref().or(self.foreign_minister.as_ref()).or(self.counterpart.as_ref()) {
                return finding(Call::Yes, format!("{field}: {d} meets {c} ({m})"));
            }
            if self.generic_count >= 2 {
                return finding(Call::Yes, format!("{field}: two defense ministers ({d}) in {}", a_meeting(m)));
            }
            if let Some(o) = &self.outsider {
                return finding(Call::No, format!("negative: {d} meets a non-minister ({field} contains \"{o}\")"));
            }
            if let Some(j) = &self.junior {
                return finding(
                    Call::No,
                    format!("negative: {d} meets vice-minister or working level ({field} contains \"{j}\")"),
                );
            }
            return finding(Call::Maybe, format!("{field}: {d} in {}, counterpart not named", a_meeting(m)));
        }
        if let Some(w) = &self.two_plus_two {
            if !any_dm && let Some(f) = &self.foreign_minister {
                return finding(
                    Call::No,
                    format!("negative: foreign ministers only ({field} names {f}; \"{w}\" is context)"),
                );
            }
            if !any_dm && let Some(j) = &self.junior {
                return finding(
                    Call::No,
                    format!("negative: vice-minister or working level ({field} contains \"{j}\")"),
                );
            }
            let subject = match unit {
                Unit::Title => true,
                Unit::Clause { short } => (short && !names_purpose(text)) || two_plus_two_held(text),
            };
            if subject {
                return finding(
                    Call::Yes,
                    format!("{field} contains \"{w}\" (foreign and defense ministers' \"2+2\")"),
                );
            }
        }
        if !any_dm && let Some(j) = &self.junior {
            let why = format!("negative: vice-minister or working level ({field} contains \"{j}\")");
            return if unit == Unit::Title || self.meeting.is_some() || self.visit.is_some() {
                weak_no(why)
            } else {
                None
            };
        }
        if !any_dm
            && (self.meeting.is_some() || self.visit.is_some())
            && let Some(p) = self.head.as_ref().or(self.foreign_minister.as_ref()).or(self.outsider.as_ref())
        {
            return weak_no(format!("negative: {field} names {p}, no defense minister"));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert!(compile_all() > 10);
    }

    #[test]
    fn junior_titles_are_not_ministers() {
        let s = Scan::of("若林防衛大臣政務官とdeputy secretary of defense");
        assert!(!s.any_dm(), "{s:?}");
        assert!(s.junior.is_some());
        let s = Scan::of("state minister of defense and parliamentary vice-minister of defense");
        assert!(!s.any_dm(), "{s:?}");
    }

    #[test]
    fn old_agency_title_is_japans_defense_minister() {
        let s = Scan::of("防衛庁長官とラムズフェルド米国防長官の会談");
        assert_eq!(s.japan_dm.as_deref(), Some("防衛庁長官"));
        assert!(s.outsider.is_none(), "防衛庁長官 is no agency head: {s:?}");
    }
}
