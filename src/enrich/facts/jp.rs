//! Japanese phrases of a release's lead: the start time (「9時15分から」,
//! 「午後16時25分から」, 「13時~15時(英国時間)」), the duration (「約65分間」,
//! 「約1時間30分」, a range), the day (「本8日」), the place (「防衛省において」,
//! 「総理大臣官邸で」, 「英国を訪問中の」), the people (「小野寺防衛大臣」,
//! 「ラージナート・シン・インド国防大臣(Hon. ...)」) and the other country
//! (日米, 日・インドネシア).
//!
//! Every function takes text already normalised by `super::normalize`: NFKC
//! (half-width digits and parentheses), wave dashes as `~`, and MOFA's old
//! `,` as `、`.

use std::sync::LazyLock;

use regex::Regex;

use super::Person;
use super::country;

static START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:(午前|午後)\s*)?(\d{1,2})\s*時\s*(?:(\d{1,2})\s*分|(半))?\s*(?:頃|ごろ)?\s*(?:\([^()]{0,12}\)\s*)?(?:から|より|~)",
    )
    .unwrap()
});
static START_COLON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^\d:])(\d{1,2}):(\d{2})\s*(?:頃|ごろ)?\s*(?:から|より|~)").unwrap());
static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:(午前|午後)\s*)?(\d{1,2})\s*時\s*(?:(\d{1,2})\s*分)?\s*~\s*(?:(午前|午後)\s*)?(\d{1,2})\s*時(?:\s*(\d{1,2})\s*分)?",
    )
    .unwrap()
});
static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(約)?\s*(\d{1,2})\s*時間(?:\s*(\d{1,2})\s*分)?|約\s*(\d{1,3})\s*分|(\d{1,3})\s*分間").unwrap()
});
static RELATIVE_DAY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?:本|同|今)\s*(\d{1,2})\s*日").unwrap());
static LOCAL_TIME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"現地時間|\(([^()]{1,10}?)時間\)").unwrap());
static AT_PLACE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([\p{Han}\p{Katakana}ー・A-Za-z0-9.]+)(?:において|にて)").unwrap());
static VENUE_DE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([\p{Han}\p{Katakana}ー・]*(?:官邸|公館|会館|ホテル|基地|駐屯地|本部|省|庁舎))で").unwrap()
});
static HELD_IN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([\p{Han}\p{Katakana}ー・]+?)で(?:開催|行われ|行った|行い|実施|会談)").unwrap());
static VISITING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([\p{Han}\p{Katakana}ー・]+?)を?(?:訪問中|出張中|滞在中)").unwrap());
static SIDE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"([\p{Han}\p{Katakana}ー]+)側から(?:は)?$").unwrap());

/// Titles of people, longest first where one begins another.
static ROLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:内閣)?総理大臣|総理|(?:内閣)?官房長官",
        r"|副首相兼(?:国防|外務|防衛)(?:大臣|相)",
        r"|国防部長官|国防部長|国防長官代行|国防長官|国務長官|国防大臣|国防相",
        r"|防衛大臣|防衛相|外務・英連邦(?:・開発)?大臣|外務大臣|外相|首相|大統領",
    ))
    .unwrap()
});

/// What follows a role word when it is not a person's title (日米防衛相会談,
/// 防衛大臣政務官, 防衛大臣官房).
const NOT_A_TITLE_AFTER: &[&str] = &[
    "会談",
    "会合",
    "会議",
    "協議",
    "電話",
    "テレビ",
    "ビデオ",
    "懇談",
    "共同",
    "声明",
    "級",
    "政務官",
    "補佐官",
    "秘書官",
    "官房",
    "経験",
    "間",
    "室",
    "談話",
    "命令",
];

/// Characters before 日 that make it the end of a word (本日, 訪日, 在日) or
/// of a date (29日, 月日), not the 日 of 日米.
const NOT_PAIR_BEFORE: &str = "本同今昨明翌毎当前後先即土曜祝休期連在対離駐親反知滞訪来帰終半元平月";

/// A kanji "name" that is a word, not a person (両国防大臣, 同外務大臣).
const NOT_A_NAME: &[&str] =
    &["本", "同", "両", "各", "前", "元", "新", "現", "歴代", "当時", "日本", "我が国", "副", "代理", "臨時"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum RoleSide {
    /// Only Japan has it: 防衛大臣, 総理.
    Japan,
    /// Only other countries have it: 国防長官, 大統領.
    Foreign,
    /// Both: 外務大臣, 首相.
    Either,
}

fn role_side(role: &str) -> RoleSide {
    if role.contains("総理") || role.contains("官房長官") || role.starts_with("防衛") {
        RoleSide::Japan
    } else if role == "外務大臣" || role == "外相" || role == "首相" {
        RoleSide::Either
    } else {
        RoleSide::Foreign
    }
}

fn is_katakana(c: char) -> bool {
    matches!(c, '\u{30A0}'..='\u{30FF}' | '=')
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '々' | '\u{3400}'..='\u{4DBF}')
}

/// The 24-hour "HH:MM" of an hour, minute and 午前/午後. 午後 before an hour
/// of 12 or more is redundant (午後16時25分 is 16:25).
fn hhmm(ampm: Option<&str>, h: u32, m: u32) -> Option<String> {
    let h = match ampm {
        Some("午後") if h < 12 => h + 12,
        _ => h,
    };
    (h < 24 && m < 60).then(|| format!("{h:02}:{m:02}"))
}

/// The start time and where its phrase ends.
pub fn start_time(s: &str) -> Option<(String, usize)> {
    let kanji = START.captures(s).and_then(|c| {
        let h = c[2].parse().ok()?;
        let m = match (c.get(3), c.get(4)) {
            (Some(m), _) => m.as_str().parse().ok()?,
            (None, Some(_)) => 30,
            _ => 0,
        };
        Some((c.get(0)?.start(), hhmm(c.get(1).map(|m| m.as_str()), h, m)?, c.get(0)?.end()))
    });
    let colon = START_COLON.captures(s).and_then(|c| {
        let t = hhmm(None, c[1].parse().ok()?, c[2].parse().ok()?)?;
        Some((c.get(1)?.start(), t, c.get(0)?.end()))
    });
    [kanji, colon].into_iter().flatten().min_by_key(|(start, _, _)| *start).map(|(_, t, end)| (t, end))
}

/// Minutes from 「約65分間」「約1時間30分」「約2時間」, or from a range
/// 「13時~15時」; the first one at or after byte `from`.
pub fn duration(s: &str, from: usize) -> Option<u32> {
    let from = if s.is_char_boundary(from) { from } else { 0 };
    let range = RANGE.captures(s).and_then(|c| {
        let start = hhmm(
            c.get(1).map(|m| m.as_str()),
            c[2].parse().ok()?,
            c.get(3).map_or(Some(0), |m| m.as_str().parse().ok())?,
        )?;
        let end_ampm = c.get(4).or(c.get(1)).map(|m| m.as_str());
        let end = hhmm(end_ampm, c[5].parse().ok()?, c.get(6).map_or(Some(0), |m| m.as_str().parse().ok())?)?;
        let minutes = |t: &str| -> Option<i64> {
            let (h, m) = t.split_once(':')?;
            Some(h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?)
        };
        let d = minutes(&end)? - minutes(&start)?;
        (d > 0).then_some((c.get(0)?.start(), d as u32))
    });
    let phrase = DURATION.captures_iter(&s[from..]).find_map(|c| {
        let minutes = if let Some(h) = c.get(2) {
            let h: u32 = h.as_str().parse().ok()?;
            let m: u32 = c.get(3).map_or(Some(0), |m| m.as_str().parse().ok())?;
            // 「24時間体制」 is no meeting's length.
            if h > 12 {
                return None;
            }
            h * 60 + m
        } else {
            c.get(4).or(c.get(5))?.as_str().parse().ok()?
        };
        (minutes > 0).then_some((from + c.get(0)?.start(), minutes))
    });
    [range, phrase].into_iter().flatten().min_by_key(|(at, _)| *at).map(|(_, m)| m)
}

/// The day of 「本8日」「同8日」 and where it is.
pub fn relative_day(s: &str) -> Option<(usize, u32)> {
    let c = RELATIVE_DAY.captures(s)?;
    Some((c.get(0)?.start(), c[1].parse().ok()?))
}

/// Whether the time is stated as local (現地時間, (英国時間)), not JST.
pub fn local_time(s: &str) -> bool {
    LOCAL_TIME.captures_iter(s).any(|c| c.get(1).is_none_or(|zone| !matches!(zone.as_str(), "日本" | "東京")))
}

/// The place: 「Xにおいて」「Xにて」, else a venue 「総理大臣官邸で」, else
/// 「シドニーで開催」, else the country or city visited 「英国を訪問中の」.
pub fn place(s: &str) -> Option<String> {
    let good = |p: &str| {
        let p = p.trim_matches('・');
        let event = ["会談", "会合", "会議", "協議", "機会", "際", "場"].iter().any(|e| p.ends_with(e));
        (!p.is_empty() && !event && !p.chars().all(|c| c.is_ascii_digit() || c == '.')).then(|| p.to_owned())
    };
    AT_PLACE
        .captures_iter(s)
        .find_map(|c| good(&c[1]))
        .or_else(|| VENUE_DE.captures_iter(s).find_map(|c| good(&c[1])))
        .or_else(|| HELD_IN.captures_iter(s).find_map(|c| good(&c[1])))
        .or_else(|| VISITING.captures_iter(s).find_map(|c| good(&c[1])))
}

/// The country of 日X / 日・X (日米 → US, 日・インドネシア → ID), when 日 is
/// not the end of a word (本日, 訪日) or of a date (29日).
pub fn pair_country(s: &str) -> Option<&'static str> {
    for (i, _) in s.match_indices('日') {
        let before = s[..i].chars().next_back();
        if before.is_some_and(|b| b.is_ascii_digit() || NOT_PAIR_BEFORE.contains(b)) {
            continue;
        }
        let rest = s[i + '日'.len_utf8()..].trim_start_matches('・');
        let mut chars = rest.chars();
        match chars.next() {
            Some(k) if is_han(k) => {
                if let Some(code) = country::from_kanji(k) {
                    return Some(code);
                }
            }
            Some(k) if is_katakana(k) => {
                let run: String = rest.chars().take_while(|c| is_katakana(*c) || *c == '・').collect();
                // The longest country name the run starts with.
                let mut best = None;
                for (end, _) in run.char_indices().skip(1).chain([(run.len(), ' ')]) {
                    if let Some(code) = country::from_ja(&run[..end]) {
                        best = Some(code);
                    }
                }
                if best.is_some() {
                    return best;
                }
            }
            _ => {}
        }
    }
    None
}

/// Strips a balanced `(...)` that `s` ends with.
fn strip_trailing_parenthetical(s: &str) -> &str {
    if !s.ends_with(')') {
        return s;
    }
    let mut depth = 0usize;
    for (i, c) in s.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    s
}

/// The people named with a title: 「小野寺五典防衛大臣」, 「マティス米国防長官」,
/// 「ラージナート・シン・インド国防大臣(Hon. Mr. Rajnath Singh, ...)」,
/// 「アメリカ合衆国のジェームズ・マティス国防長官」. A person whose country the
/// text leaves open (「米側からはチャック・ヘーゲル国防長官」 gives it; a bare
/// 「国防長官」 does not) has `country: None` and `foreign: true`.
pub fn people(s: &str) -> Vec<Person> {
    let mut out: Vec<Person> = Vec::new();
    for m in ROLE.find_iter(s) {
        let after = &s[m.end()..];
        if NOT_A_TITLE_AFTER.iter().any(|w| after.starts_with(w)) {
            continue;
        }
        let role = m.as_str();
        let side = role_side(role);
        let mut before = s[..m.start()].trim_end();
        // The country written before the role: インド, 豪州, 米国, 米.
        let mut country_code = None;
        let mut prefix = "";
        if side != RoleSide::Japan {
            if let Some((code, len)) = country::ja_suffix(before) {
                let start = before.len() - len;
                // A katakana country name must not be the tail of a longer word.
                let joined = before[start..].chars().next().is_some_and(is_katakana)
                    && before[..start].chars().next_back().is_some_and(|c| is_katakana(c) && c != '・');
                if !joined && code != "JP" {
                    country_code = Some(code);
                    prefix = &before[start..];
                    before = &before[..start];
                }
            }
            if country_code.is_none()
                && let Some(k) = before.chars().next_back()
                && let Some(code) = country::from_kanji(k).filter(|c| *c != "JP")
            {
                // 「田中外務大臣」: 中 ends a Japanese name, it is not China.
                let ends_name = before[..before.len() - k.len_utf8()].chars().next_back().is_some_and(is_han);
                if side == RoleSide::Foreign || !ends_name {
                    country_code = Some(code);
                    prefix = &before[before.len() - k.len_utf8()..];
                    before = &before[..before.len() - k.len_utf8()];
                }
            }
        }
        let before_name = strip_trailing_parenthetical(before.trim_end_matches('・').trim_end()).trim_end_matches('・');
        let Some(last) = before_name.chars().next_back() else { continue };
        let katakana = is_katakana(last);
        let name_start = before_name
            .char_indices()
            .rev()
            .take_while(|(_, c)| if katakana { is_katakana(*c) || *c == '・' } else { is_han(*c) })
            .last()
            .map(|(i, _)| i);
        let Some(name_start) = name_start else { continue };
        let name = before_name[name_start..].trim_start_matches('・');
        let chars = name.chars().count();
        // 「日豪防衛相」: a pair of countries, not a name.
        let countries_only = !katakana && name.chars().all(|c| c == '日' || country::from_kanji(c).is_some());
        if name.is_empty()
            || NOT_A_NAME.contains(&name)
            || countries_only
            || (katakana && chars < 2)
            || (!katakana && chars > 6)
        {
            continue;
        }
        // 「アメリカ合衆国の」 or 「米側からは」 just before the name.
        let lead_in = before_name[..name_start].trim_end();
        if country_code.is_none() {
            country_code = lead_in
                .strip_suffix('の')
                .and_then(|s| country::ja_suffix(s).map(|(code, _)| code))
                .filter(|c| *c != "JP")
                .or_else(|| SIDE.captures(lead_in).and_then(|c| country::from_ja(&c[1])));
        }
        // In Japanese releases 国防長官 and 国務長官 are the U.S. secretaries
        // (Korea's is 国防部長官).
        if country_code.is_none() && matches!(role, "国防長官" | "国防長官代行" | "国務長官") {
            country_code = Some("US");
        }
        let japanese = match side {
            RoleSide::Japan => true,
            RoleSide::Either => country_code.is_none() && !katakana,
            RoleSide::Foreign => false,
        };
        let person = Person {
            name: name.to_owned(),
            title: format!("{prefix}{role}"),
            country: if japanese { Some("JP") } else { country_code },
            foreign: !japanese,
        };
        super::add_person(&mut out, person);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(s: &str) -> Vec<(String, String, Option<&'static str>)> {
        people(s).into_iter().map(|p| (p.name, p.title, p.country)).collect()
    }

    #[test]
    fn start_times() {
        let t = |s: &str| start_time(s).map(|(t, _)| t);
        assert_eq!(t("9時15分から約65分間").as_deref(), Some("09:15"));
        assert_eq!(t("本2日午後16時25分から約20分間").as_deref(), Some("16:25"));
        assert_eq!(t("本8日、午後6時10分から約25分間").as_deref(), Some("18:10"));
        assert_eq!(t("本29日午後0時35分から約40分間").as_deref(), Some("12:35"));
        assert_eq!(t("午前9時から約30分間").as_deref(), Some("09:00"));
        assert_eq!(t("午前11時15分(現地時間)から約30分間").as_deref(), Some("11:15"));
        assert_eq!(t("1月21日(水曜日)13時~15時(英国時間)、").as_deref(), Some("13:00"));
        assert_eq!(t("午後8時55分頃から約20分間").as_deref(), Some("20:55"));
        assert_eq!(t("10時半から").as_deref(), Some("10:30"));
        assert_eq!(t("約1時間、会談").as_deref(), None);
        assert_eq!(t("25時から").as_deref(), None);
    }

    #[test]
    fn durations() {
        assert_eq!(duration("9時15分から約65分間", 0), Some(65));
        assert_eq!(duration("約1時間", 0), Some(60));
        assert_eq!(duration("約1時間30分、会談", 0), Some(90));
        assert_eq!(duration("グアムで約2時間、会談", 0), Some(120));
        assert_eq!(duration("13時~15時(英国時間)", 0), Some(120));
        assert_eq!(duration("16時55分~17時38分", 0), Some(43));
        assert_eq!(duration("午後1時~午後3時", 0), Some(120));
        assert_eq!(duration("8時45分から40分間", 0), Some(40));
        assert_eq!(duration("24時間体制で", 0), None);
        assert_eq!(duration("本日", 0), None);
    }

    #[test]
    fn local_times() {
        assert!(local_time("午前11時15分(現地時間)から"));
        assert!(local_time("13時~15時(英国時間)"));
        assert!(!local_time("(12時45分~13時30分)(日本時間)"));
        assert!(!local_time("9時15分から"));
    }

    #[test]
    fn places() {
        assert_eq!(place("小野寺防衛大臣とマティス米国防長官は、防衛省において会談").as_deref(), Some("防衛省"));
        assert_eq!(place("10月3日、東京において、日米安全保障協議委員会").as_deref(), Some("東京"));
        assert_eq!(place("安倍総理は、総理大臣官邸でアメリカ合衆国の").as_deref(), Some("総理大臣官邸"));
        assert_eq!(place("英国を訪問中の岸田文雄外務大臣").as_deref(), Some("英国"));
        assert_eq!(place("出席するためにインド訪問中の茂木敏充外務大臣").as_deref(), Some("インド"));
        assert_eq!(place("シドニーにて").as_deref(), Some("シドニー"));
        assert_eq!(place("日豪「2+2」がシドニーで開催された").as_deref(), Some("シドニー"));
        assert_eq!(place("(写真は、首相官邸HPから出典)"), None);
        assert_eq!(place("訪日中のマティス長官と会談").as_deref(), None);
        assert_eq!(place("日米首脳会談において確認").as_deref(), None);
    }

    #[test]
    fn pairs_of_countries() {
        assert_eq!(pair_country("日米防衛相会談"), Some("US"));
        assert_eq!(pair_country("日独防衛相電話会談(概要)"), Some("DE"));
        assert_eq!(pair_country("第2回日英外務・防衛閣僚会合"), Some("GB"));
        assert_eq!(pair_country("日・インドネシア防衛相会談"), Some("ID"));
        assert_eq!(pair_country("日インド防衛相会談"), Some("IN"));
        assert_eq!(pair_country("日ベトナム防衛相会談"), Some("VN"));
        assert_eq!(pair_country("日加防衛相電話会談"), Some("CA"));
        assert_eq!(pair_country("本日米国防長官と"), None);
        assert_eq!(pair_country("6月29日米国"), None);
        assert_eq!(pair_country("訪日中の"), None);
    }

    #[test]
    fn people_with_titles() {
        assert_eq!(
            who("小野寺防衛大臣とマティス米国防長官は、防衛省において"),
            vec![
                ("小野寺".into(), "防衛大臣".into(), Some("JP")),
                ("マティス".into(), "米国防長官".into(), Some("US"))
            ]
        );
        assert_eq!(
            who(
                "河野太郎外務大臣は、訪日中のジェームズ・マティス米国国防長官(The Honorable James Mattis, Secretary)と会談"
            ),
            vec![
                ("河野太郎".into(), "外務大臣".into(), Some("JP")),
                ("ジェームズ・マティス".into(), "米国国防長官".into(), Some("US"))
            ]
        );
        assert_eq!(
            who(
                "安倍晋三内閣総理大臣は、訪日中のラージナート・シン・インド国防大臣(Hon. Mr. Rajnath Singh, Minister for Defence)の表敬"
            ),
            vec![
                ("安倍晋三".into(), "内閣総理大臣".into(), Some("JP")),
                ("ラージナート・シン".into(), "インド国防大臣".into(), Some("IN"))
            ]
        );
        assert_eq!(
            who("安倍総理は、総理大臣官邸でアメリカ合衆国のジェームズ・マティス国防長官による表敬"),
            vec![
                ("安倍".into(), "総理".into(), Some("JP")),
                ("ジェームズ・マティス".into(), "国防長官".into(), Some("US"))
            ]
        );
        assert_eq!(
            who(
                "リチャード・マールズ・オーストラリア連邦副首相兼国防大臣(The Hon.)及びペニー・ウォン・オーストラリア連邦外務大臣"
            ),
            vec![
                ("リチャード・マールズ".into(), "オーストラリア連邦副首相兼国防大臣".into(), Some("AU")),
                ("ペニー・ウォン".into(), "オーストラリア連邦外務大臣".into(), Some("AU"))
            ]
        );
        assert_eq!(
            who("フィリップ・ハモンド(Philip Hammond)外務・英連邦大臣及びマイケル・ファロン(Michael Fallon)国防大臣"),
            vec![
                ("フィリップ・ハモンド".into(), "外務・英連邦大臣".into(), None),
                ("マイケル・ファロン".into(), "国防大臣".into(), None)
            ]
        );
        assert_eq!(
            who("日本側からは小野寺五典防衛大臣及び岸田文雄外務大臣が、米側からはチャック・ヘーゲル国防長官"),
            vec![
                ("小野寺五典".into(), "防衛大臣".into(), Some("JP")),
                ("岸田文雄".into(), "外務大臣".into(), Some("JP")),
                ("チャック・ヘーゲル".into(), "国防長官".into(), Some("US"))
            ]
        );
        assert_eq!(
            who("フォン・デア・ライエン独国防大臣との電話会談"),
            vec![("フォン・デア・ライエン".into(), "独国防大臣".into(), Some("DE"))]
        );
        assert_eq!(
            who("李鐘燮(イ・ジョンソプ)韓国国防部長官"),
            vec![("李鐘燮".into(), "韓国国防部長官".into(), Some("KR"))]
        );
        assert_eq!(who("田中外務大臣"), vec![("田中".into(), "外務大臣".into(), Some("JP"))]);
        assert_eq!(who("エスパー国防長官と電話会談"), vec![("エスパー".into(), "国防長官".into(), Some("US"))]);
        // Not people: a meeting's name, a staff title, 両/同.
        assert!(who("日米防衛相会談について").is_empty());
        assert!(who("防衛大臣政務官").is_empty());
        assert!(who("両国防大臣は").is_empty());
    }
}
