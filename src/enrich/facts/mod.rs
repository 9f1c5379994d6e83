//! Facts from a release: kind, meeting date, start time, duration, place,
//! participants, the other country and the topic headings.
//!
//! The facts come from the release's *lead*: the first sentence that carries
//! a date, a time or a titled person (「平成30年6月29日、9時15分から約65分間、
//! 小野寺防衛大臣とマティス米国防長官は、防衛省において会談を行った…」, "On
//! April 28, Defense Minister Hamada and … held a telephone conference."),
//! plus the next one or two lines while fewer than two people are named (MOD
//! names the 2+2 ministers in a second paragraph). Photo captions (no sentence
//! end), the title line and later paragraphs are not read for facts, so a
//! person merely mentioned (「昨年モディ首相との間で」) is not a participant.
//!
//! - `kind`: from the title, else from the lead. Announcement (a visit
//!   announced ahead, 「…の当省訪問について」) > courtesy call > 2+2 >
//!   telephone > video > meeting.
//! - `date`: the first date of the lead (和暦, 令和元年, full-width digits,
//!   `10月3日` and "On Mar 16" with the year nearest the release date, `本8日`
//!   in the release's month or the month before, "today"), else the release
//!   date printed on the page, the date in the URL, the listing's date.
//! - `start_time`, `duration_minutes`, `local_time`, `place`: the phrases
//!   listed in the `jp` and `en` submodules. Telephone and video talks have
//!   the place "telephone" / "video".
//! - `participants`: the titled people of the lead (of the title when the
//!   lead names none), name and title as written, the fuller form kept when
//!   one person is named twice (小野寺 / 小野寺五典). Japanese ministers are
//!   JP; a foreign person whose country the text leaves open gets the
//!   counterpart's; a bare 国防長官 / 国務長官 is the U.S. secretary.
//! - `counterpart_country`: 日X / Japan-X in the title, else the first foreign
//!   participant's country, else 日X / a country name in the lead. A U.S.
//!   (defense.gov) release's other side is Japan.
//! - `topics`: the numbered headings. A heading is a line of its own that
//!   starts with a number (1, 2, … in sequence from 1) followed by a space or
//!   a dot, and is short (at most 30 characters of Japanese, 60 of English)
//!   and not a sentence (no final 。 or .). MOFA's numbered paragraphs
//!   (「1 冒頭、河野大臣から…」) are therefore not headings; unnumbered
//!   subheadings ("Close Cooperation") are not read either.
//!
//! Without a page (MOD answers 403 to servers) the facts are what the title
//! and the link give: kind, people and country from the title, the date from
//! the title or the URL (`/2026/08/19a.html`, `/20260818_aus-j.html`), else
//! the listing's date.
//!
//! Limits: one event per release (a readout of several meetings gives one
//! kind, one place and everyone met); times are as written, not converted to
//! JST; relative weekdays (「先週の金曜日」) are not resolved; people without
//! a title word (「エスパー長官」, "Secretary Austin") and vice-ministers are
//! not participants; a country missing from the `country` table is left
//! empty, never guessed.

mod country;
mod en;
#[cfg(test)]
mod eval;
mod jp;

use std::sync::LazyLock;

use chrono::{Datelike, Days, NaiveDate};
use regex::Regex;

use super::{Kind, Participant, Release, ReleasePage};
use crate::dates::{date_in_url, find_date};
use crate::extract::Item;
use crate::text::{fold, nfkc};

/// How many lines after the lead sentence may still name participants.
const MAX_LEAD_EXTRA_LINES: usize = 2;

/// The longest line read for facts, in characters. Real leads are under
/// 1,000; the cap bounds the people scan, which looks back from every title.
const MAX_LEAD_CHARS: usize = 3_000;

/// A titled person as found, before the counterpart is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    pub name: String,
    pub title: String,
    pub country: Option<&'static str>,
    /// Not the publisher's side; a missing country is the counterpart's.
    pub foreign: bool,
}

/// Whose release it is: the side the counterpart is the other of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Publisher {
    Japan,
    UnitedStates,
}

impl Publisher {
    fn of(url: Option<&str>) -> Publisher {
        let host = url.and_then(|u| url::Url::parse(u).ok()).and_then(|u| u.host_str().map(str::to_owned));
        match host {
            Some(h) if h.ends_with("defense.gov") || h.ends_with(".mil") || h.ends_with("state.gov") => {
                Publisher::UnitedStates
            }
            _ => Publisher::Japan,
        }
    }

    pub(crate) fn country(self) -> &'static str {
        match self {
            Publisher::Japan => "JP",
            Publisher::UnitedStates => "US",
        }
    }
}

/// The text the phrase patterns expect: NFKC (half-width digits, `(`, `+`),
/// wave dashes and tildes as `~`, and MOFA's pre-2020 `,` as `、` where it
/// touches Japanese text (`4,856名` and English keep theirs).
pub(crate) fn normalize(s: &str) -> String {
    let s: Vec<char> = nfkc(s)
        .chars()
        .map(|c| match c {
            '〜' | '～' | '∼' => '~',
            c => c,
        })
        .collect();
    let mut out = String::with_capacity(s.len() * 3);
    for (i, &c) in s.iter().enumerate() {
        let japanese = |c: Option<&char>| c.is_some_and(|c| !c.is_ascii());
        if c == ',' && (japanese(i.checked_sub(1).and_then(|j| s.get(j))) || japanese(s.get(i + 1))) {
            out.push('、');
        } else {
            out.push(c);
        }
    }
    out.trim().to_owned()
}

/// Adds `p` unless it is someone already found (小野寺 / 小野寺五典, Austin /
/// Lloyd Austin with compatible titles); the fuller name and title are kept.
pub(crate) fn add_person(out: &mut Vec<Person>, p: Person) {
    let same = |a: &Person, b: &Person| {
        let (short, long) = if a.name.chars().count() <= b.name.chars().count() { (a, b) } else { (b, a) };
        let names = if short.name.chars().all(|c| !c.is_ascii() && c != '・' && !is_kana(c)) {
            long.name.starts_with(&short.name)
        } else {
            let words = |s: &str| s.split([' ', '・']).filter(|w| !w.is_empty()).map(fold).collect::<Vec<_>>();
            let long_words = words(&long.name);
            words(&short.name).iter().all(|w| long_words.contains(w))
        };
        let tail = |t: &str| t.chars().rev().take(4).collect::<String>();
        let titles = a.title.ends_with(&b.title)
            || b.title.ends_with(&a.title)
            || tail(&a.title) == tail(&b.title)
            || a.title.contains(&b.title)
            || b.title.contains(&a.title);
        let countries = a.country.is_none() || b.country.is_none() || a.country == b.country;
        names && titles && countries
    };
    if let Some(known) = out.iter_mut().find(|k| same(k, &p)) {
        if p.name.chars().count() > known.name.chars().count() {
            known.name = p.name;
        }
        if p.title.chars().count() > known.title.chars().count() {
            known.title = p.title;
        }
        if known.country.is_none() {
            known.country = p.country;
            known.foreign = p.foreign;
        }
    } else {
        out.push(p);
    }
}

fn is_kana(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}')
}

/// Whether the text is Japanese: kana or kanji in more than a tenth of it.
pub(crate) fn is_japanese(s: &str) -> bool {
    let (mut all, mut cjk) = (0usize, 0usize);
    for c in s.chars().filter(|c| !c.is_whitespace()) {
        all += 1;
        if is_kana(c) || matches!(c, '\u{4E00}'..='\u{9FFF}') {
            cjk += 1;
        }
    }
    cjk * 10 > all
}

/// Titles that name the site, not the release (a page whose `<h1>` was not
/// found falls back to `<title>`).
const SITE_NAMES: &[&str] = &[
    "防衛省・自衛隊",
    "防衛省",
    "外務省",
    "首相官邸",
    "首相官邸ホームページ",
    "ministry of defense",
    "japan ministry of defense",
    "ministry of foreign affairs of japan",
    "prime minister's office of japan",
    "u.s. department of defense",
    "department of defense",
];

fn informative(title: &str) -> Option<&str> {
    let t = title.trim();
    (!t.is_empty() && !SITE_NAMES.contains(&fold(t).as_str())).then_some(t)
}

static ANNOUNCED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:訪問|来日|訪日|来訪|来省|開催|出席|参加)(?:予定)?について$|予定について$|(?i:\bwill\s+(?:visit|hold)\b)",
    )
    .unwrap()
});

/// The kind a title or lead states, most specific first.
fn kind_of(s: &str, title: bool) -> Option<Kind> {
    let t = fold(s);
    let any = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if title && ANNOUNCED.is_match(s.trim()) {
        return Some(Kind::Announcement);
    }
    if any(&["表敬", "courtesy call", "courtesy visit"]) {
        Some(Kind::CourtesyCall)
    } else if any(&["2+2", "安全保障協議委員会", "外務・防衛閣僚", "two-plus-two", "security consultative committee"])
    {
        Some(Kind::TwoPlusTwo)
    } else if let Some(format) = format_of(s) {
        Some(format)
    } else if any(&[
        "会談",
        "会合",
        "会議",
        "協議",
        "懇談",
        "立ち話",
        "meeting",
        "met with",
        "meets",
        "talks",
        "readout",
    ]) {
        Some(Kind::Meeting)
    } else {
        None
    }
}

/// Telephone or video, when the text says so.
fn format_of(s: &str) -> Option<Kind> {
    let t = fold(s);
    let any = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if any(&["電話", "telephone", "telecon", "phone call", "phone talk"]) {
        Some(Kind::Telephone)
    } else if any(&[
        "テレビ会談",
        "テレビ会議",
        "ビデオ会談",
        "ビデオ会議",
        "オンライン会談",
        "オンライン会議",
        "ウェブ会議",
        "video",
        "virtual meeting",
        "online meeting",
    ]) {
        Some(Kind::Video)
    } else {
        None
    }
}

static HEADING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d{1,2})(?:\s+|\s*[.、]\s*)(\S.*)$").unwrap());

/// The numbered headings, as the module docs define them.
fn topics(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let Some(c) = HEADING.captures(line) else { continue };
        let Ok(n) = c[1].parse::<usize>() else { continue };
        let text = c[2].trim();
        let max = if is_japanese(text) { 30 } else { 60 };
        let sentence = text.ends_with('。') || text.ends_with('.') || text.contains("。");
        if n == out.len() + 1 && text.chars().count() <= max && !sentence {
            out.push(text.to_owned());
        }
    }
    out
}

/// Whether a line is a sentence (not a caption, a date line or a link).
fn is_sentence(line: &str) -> bool {
    line.contains('。') || (line.ends_with('.') && line.split_whitespace().count() >= 6)
}

static TODAY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b[Tt]oday\b|本日").unwrap());

/// The meeting day written in `s`: the first date, or 本8日 / 同8日 read in
/// the month of `reference` (the month before when the day is later than
/// the reference's), or "today".
fn meeting_date(s: &str, reference: Option<NaiveDate>) -> Option<NaiveDate> {
    if let Some((at, day)) = jp::relative_day(s)
        && find_date(&s[..at], reference).is_none()
        && let Some(r) = reference
    {
        let month = if day <= r.day() { r } else { r.with_day(1)?.checked_sub_days(Days::new(1))? };
        return NaiveDate::from_ymd_opt(month.year(), month.month(), day);
    }
    find_date(s, reference).or_else(|| TODAY.find(s).and(reference))
}

fn has_date_or_time(line: &str, reference: Option<NaiveDate>) -> bool {
    let any_reference = reference.or(NaiveDate::from_ymd_opt(2000, 1, 1));
    find_date(line, any_reference).is_some()
        || jp::relative_day(line).is_some()
        || TODAY.is_match(line)
        || jp::start_time(line).is_some()
        || en::start_time(line).is_some()
}

fn people_in(s: &str, publisher: Publisher) -> Vec<Person> {
    if is_japanese(s) { jp::people(s) } else { en::people(s, publisher) }
}

fn pair_country(s: &str) -> Option<&'static str> {
    jp::pair_country(s).or_else(|| en::pair_country(s))
}

/// The facts of `item`, from its page when there is one.
pub fn extract(item: &Item, page: Option<&ReleasePage>) -> Release {
    let url = item.url.as_deref();
    let publisher = Publisher::of(url);
    let title = page.and_then(|p| p.title.as_deref()).and_then(informative).or_else(|| informative(&item.title));
    let title = title.map(normalize).unwrap_or_default();
    let url_date = url.and_then(date_in_url);
    let reference = page.and_then(|p| p.date).or(url_date).or(item.date);

    let lines: Vec<String> = page
        .map(|p| {
            p.text
                .lines()
                .map(|l| normalize(l).chars().take(MAX_LEAD_CHARS).collect())
                .filter(|l: &String| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let lead_at = lines.iter().position(|l| {
        *l != title && is_sentence(l) && (has_date_or_time(l, reference) || !people_in(l, publisher).is_empty())
    });
    let (lead, window) = match lead_at {
        Some(i) => {
            let mut window = lines[i].clone();
            for next in lines.iter().skip(i + 1).take(MAX_LEAD_EXTRA_LINES) {
                if people_in(&window, publisher).len() >= 2 || HEADING.is_match(next) {
                    break;
                }
                window.push('\n');
                window.push_str(next);
            }
            (lines[i].clone(), window)
        }
        None => (String::new(), String::new()),
    };

    let kind = kind_of(&title, true).or_else(|| kind_of(&window, false)).unwrap_or(Kind::Other);
    let format = format_of(&title).or_else(|| format_of(&window));

    let date = if page.is_some() {
        meeting_date(&lead, reference).or_else(|| meeting_date(&window, reference)).or(reference)
    } else {
        find_date(&title, item.date).or(url_date).or(item.date)
    };

    let (start_time, duration_minutes) = match jp::start_time(&window) {
        Some((t, end)) => (Some(t), jp::duration(&window, end)),
        None => (en::start_time(&window), jp::duration(&window, 0)),
    };
    let duration_minutes = duration_minutes.or_else(|| en::duration(&window));
    let local_time = jp::local_time(&window) || en::local_time(&window);

    let place = match (kind, format) {
        (Kind::Telephone, _) | (_, Some(Kind::Telephone)) => Some("telephone".to_owned()),
        (Kind::Video, _) | (_, Some(Kind::Video)) => Some("video".to_owned()),
        _ => jp::place(&window).or_else(|| en::place(&window)),
    };

    let mut people = people_in(&window, publisher);
    if people.is_empty() && !title.is_empty() {
        people = people_in(&title, publisher);
    }
    let japan_named = fold(&title).contains("japan") || fold(&window).contains("japan");
    let counterpart = pair_country(&title)
        .or_else(|| people.iter().find_map(|p| p.country.filter(|c| *c != publisher.country())))
        .or_else(|| pair_country(&window))
        .or_else(|| country::first_ja_name(&window).map(|(_, code)| code))
        .or_else(|| (publisher == Publisher::UnitedStates && japan_named).then_some("JP"))
        .filter(|c| *c != publisher.country());
    let participants = people
        .into_iter()
        .map(|p| Participant {
            name: p.name,
            title: p.title,
            country: p.country.or(if p.foreign { counterpart } else { Some(publisher.country()) }).map(str::to_owned),
        })
        .collect();

    Release {
        kind,
        date,
        start_time,
        local_time,
        duration_minutes,
        place,
        participants,
        counterpart_country: counterpart.map(str::to_owned),
        topics: topics(&lines),
        unread: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn item(url: &str, title: &str, date: Option<NaiveDate>) -> Item {
        Item::new("test", url::Url::parse(url).ok(), title.to_owned(), date)
    }

    fn page(title: Option<&str>, date: Option<NaiveDate>, text: &str) -> ReleasePage {
        ReleasePage { title: title.map(str::to_owned), date, text: text.to_owned() }
    }

    fn names(r: &Release) -> Vec<(&str, &str, Option<&str>)> {
        r.participants.iter().map(|p| (p.name.as_str(), p.title.as_str(), p.country.as_deref())).collect()
    }

    #[test]
    fn normalize_folds_width_dashes_and_old_mofa_commas() {
        assert_eq!(normalize("１３時～１５時（英国時間），英国を"), "13時~15時(英国時間)、英国を");
        assert_eq!(normalize("合計で4,856名"), "合計で4,856名");
        assert_eq!(normalize("(The Honorable James Mattis, Secretary)"), "(The Honorable James Mattis, Secretary)");
        assert_eq!(normalize("　1　北朝鮮 "), "1 北朝鮮");
    }

    #[test]
    fn ranges_with_any_wave_dash() {
        for range in ["13時~15時", "13時〜15時", "13時～15時", "１３時～１５時"] {
            let s = normalize(range);
            assert_eq!(jp::start_time(&s).map(|(t, _)| t).as_deref(), Some("13:00"), "{range}");
            assert_eq!(jp::duration(&s, 0), Some(120), "{range}");
        }
    }

    #[test]
    fn counterparts_from_pairs_and_names() {
        let pairs = [
            ("日米", "US"),
            ("日豪", "AU"),
            ("日英", "GB"),
            ("日独", "DE"),
            ("日仏", "FR"),
            ("日伊", "IT"),
            ("日加", "CA"),
            ("日印", "IN"),
            ("日韓", "KR"),
            ("日中", "CN"),
            ("日比", "PH"),
            ("日・インドネシア", "ID"),
            ("日ベトナム", "VN"),
            ("日ニュージーランド", "NZ"),
            ("日・フィンランド", "FI"),
        ];
        for (pair, code) in pairs {
            let title = format!("{pair}防衛相会談");
            assert_eq!(pair_country(&title).unwrap_or_default(), code, "{title}");
        }
        for (title, code) in [
            ("Japan-Australia Defence Ministerial Telephone Conference", "AU"),
            ("Japan-India Defense Ministerial Meeting", "IN"),
            ("Japan-Philippines Defense Ministerial Meeting", "PH"),
            ("Japan-UK Defence Ministers' Meeting", "GB"),
            ("U.S.-Japan Security Consultative Committee", "US"),
        ] {
            assert_eq!(pair_country(title), Some(code), "{title}");
        }
        assert_eq!(country::from_ja("インドネシア"), Some("ID"));
        assert_eq!(country::from_en("Viet Nam"), Some("VN"));
    }

    #[test]
    fn kinds_from_titles() {
        let k = |t: &str| kind_of(t, true);
        assert_eq!(k("日米防衛相会談"), Some(Kind::Meeting));
        assert_eq!(k("日独防衛相電話会談(概要)"), Some(Kind::Telephone));
        assert_eq!(k("日豪防衛相テレビ会談"), Some(Kind::Video));
        assert_eq!(k("日米安全保障協議委員会(「2+2」閣僚会合)等の開催"), Some(Kind::TwoPlusTwo));
        assert_eq!(k(&normalize("日英外務・防衛閣僚会合（「２＋２」）")), Some(Kind::TwoPlusTwo));
        assert_eq!(k("マティス米国防長官による表敬"), Some(Kind::CourtesyCall));
        assert_eq!(k("ウォレス英国防大臣の当省訪問について"), Some(Kind::Announcement));
        assert_eq!(k("日米「2+2」の開催について"), Some(Kind::Announcement));
        assert_eq!(k("Japan-U.S. Security Consultative Committee (two-plus-two)"), Some(Kind::TwoPlusTwo));
        assert_eq!(k("Japan-Australia Defence Ministerial Telephone Conference (Summary)"), Some(Kind::Telephone));
        assert_eq!(k("Readout of Secretary Mattis’ Meeting with Japanese Defense Minister"), Some(Kind::Meeting));
        assert_eq!(k("防衛白書"), None);
    }

    #[test]
    fn relative_and_written_days() {
        let r = Some(d(2016, 1, 8));
        assert_eq!(meeting_date("本8日、午後6時10分から", r), Some(d(2016, 1, 8)));
        // A day after the release day is last month's.
        assert_eq!(meeting_date("同30日、会談", Some(d(2016, 3, 2))), None, "no 30 February");
        assert_eq!(meeting_date("同28日、会談", Some(d(2016, 3, 2))), Some(d(2016, 2, 28)));
        assert_eq!(meeting_date("令和元年9月2日、本2日", None), Some(d(2019, 9, 2)));
        assert_eq!(meeting_date("1月21日(水曜日)13時~15時", Some(d(2015, 1, 23))), Some(d(2015, 1, 21)));
        assert_eq!(meeting_date("On Mar 16, Minister", Some(d(2021, 3, 20))), Some(d(2021, 3, 16)));
        assert_eq!(meeting_date("met at the Pentagon today.", Some(d(2018, 4, 20))), Some(d(2018, 4, 20)));
        assert_eq!(meeting_date("met at the Pentagon today.", None), None);
        assert_eq!(meeting_date(&normalize("令和７年３月３０日９時５０分から"), None), Some(d(2025, 3, 30)));
    }

    #[test]
    fn topics_are_short_numbered_lines_in_sequence() {
        let lines: Vec<String> =
            ["前文。", "1 北朝鮮", "本文。", "2 地域情勢等", "3 防衛装備分野における取組", "5 飛んだ番号"]
                .iter()
                .map(|s| normalize(s))
                .collect();
        assert_eq!(topics(&lines), vec!["北朝鮮", "地域情勢等", "防衛装備分野における取組"]);
        let mofa: Vec<String> =
            ["1 冒頭、河野大臣から、昨年2月以来となるマティス長官の訪日を歓迎するとともに、緊密に連携したい旨述べました。"]
                .iter()
                .map(|s| normalize(s))
                .collect();
        assert!(topics(&mofa).is_empty());
        assert_eq!(topics(&["1. Regional situation".to_owned()]), vec!["Regional situation"]);
        assert!(topics(&["2011年6月以来".to_owned(), "10月3日、東京".to_owned()]).is_empty());
    }

    #[test]
    fn an_unreadable_page_gives_what_the_title_and_url_give() {
        let it = item(
            "https://www.mod.go.jp/j/approach/exchange/area/2026/20260818_aus-j.html",
            "日豪防衛相電話会談",
            Some(d(2026, 8, 20)),
        );
        let r = extract(&it, None);
        assert_eq!(r.kind, Kind::Telephone);
        assert_eq!(r.date, Some(d(2026, 8, 18)));
        assert_eq!(r.counterpart_country.as_deref(), Some("AU"));
        assert_eq!(r.place.as_deref(), Some("telephone"));
        assert_eq!(r.start_time, None);
        assert!(r.participants.is_empty() && r.topics.is_empty() && r.unread.is_none());

        let it = item(
            "https://www.mod.go.jp/j/press/news/2026/08/19a.html",
            "ラージナート・シン・インド国防大臣による安倍総理大臣表敬",
            None,
        );
        let r = extract(&it, None);
        assert_eq!(r.kind, Kind::CourtesyCall);
        assert_eq!(r.date, Some(d(2026, 8, 19)));
        assert_eq!(r.counterpart_country.as_deref(), Some("IN"));
        assert_eq!(
            names(&r),
            vec![("ラージナート・シン", "インド国防大臣", Some("IN")), ("安倍", "総理大臣", Some("JP"))]
        );

        let it = item(
            "https://www.mod.go.jp/j/press/news/index.html",
            "マルレス国防大臣の当省訪問について",
            Some(d(2026, 8, 1)),
        );
        let r = extract(&it, None);
        assert_eq!((r.kind, r.date), (Kind::Announcement, Some(d(2026, 8, 1))));
        assert_eq!(r.counterpart_country, None, "no country is guessed");
    }

    #[test]
    fn no_link_no_page_no_title_does_not_panic() {
        let r = extract(&item("", "", None), None);
        assert_eq!((r.kind, r.date, r.participants.len()), (Kind::Other, None, 0));
        let r = extract(&item("not a url", "(", None), Some(&page(Some(""), None, "1\n(\n本99日から約999時間。\n)")));
        assert_eq!(r.kind, Kind::Other);
    }

    #[test]
    fn hostile_text_does_not_panic() {
        let long = "防衛大臣(".repeat(5_000) + "。";
        let texts = [
            "国防大臣。",
            "・・・国防大臣と)(防衛大臣)。",
            "日",
            "日・",
            "日米",
            "本0日、99時99分から約0分間、会談。",
            "0時~0時、24時~1時。",
            "On February 30, at 13:75 pm, for 0 minutes, Defense Minister . met.",
            "Prime Minister , Secretary of Defense the Honorable , Minister.",
            "(((((((((((((((((((((((((国防長官。",
            "ー国防長官ー。𠮷野防衛大臣。\u{FFFD}\u{0}",
            long.as_str(),
        ];
        for text in texts {
            for url in ["https://www.mod.go.jp/j/press/news/2026/02/30a.html", "https://dod.defense.gov/x", ""] {
                let _ =
                    extract(&item(url, text, Some(d(2026, 3, 1))), Some(&page(Some(text), Some(d(2026, 3, 1)), text)));
                let _ = extract(&item(url, text, None), None);
            }
        }
    }

    #[test]
    fn a_japanese_lead() {
        let text = "日米防衛相会談\n平成30年6月29日\n平成30年6月29日、9時15分から約65分間、小野寺防衛大臣とマティス米国防長官は、防衛省において会談を行ったところ、概要は次のとおり。\n1　北朝鮮\n両閣僚は、…確認した。\n2　地域情勢等\n…";
        let it = item("https://www.mod.go.jp/j/approach/anpo/2018/0629.html", "日米防衛相会談", None);
        let r = extract(&it, Some(&page(Some("日米防衛相会談"), Some(d(2018, 6, 29)), text)));
        assert_eq!(r.kind, Kind::Meeting);
        assert_eq!(r.date, Some(d(2018, 6, 29)));
        assert_eq!((r.start_time.as_deref(), r.duration_minutes), (Some("09:15"), Some(65)));
        assert_eq!(r.place.as_deref(), Some("防衛省"));
        assert_eq!(names(&r), vec![("小野寺", "防衛大臣", Some("JP")), ("マティス", "米国防長官", Some("US"))]);
        assert_eq!(r.counterpart_country.as_deref(), Some("US"));
        assert_eq!(r.topics, vec!["北朝鮮", "地域情勢等"]);
        assert!(!r.local_time);
    }

    #[test]
    fn a_range_in_local_time_with_old_mofa_commas() {
        let text = "日英外務・防衛閣僚会合\n平成27年1月23日\n1月21日（水曜日）13時～15時（英国時間），英国を訪問中の岸田文雄外務大臣及び中谷元防衛大臣は，フィリップ・ハモンド（Philip Hammond）外務・英連邦大臣及びマイケル・ファロン（Michael Fallon）国防大臣との間で日英外務・防衛閣僚会合を行いました。";
        let it = item("https://www.mofa.go.jp/mofaj/erp/we/gb/page22_001776.html", "日英外務・防衛閣僚会合", None);
        let r = extract(&it, Some(&page(Some("日英外務・防衛閣僚会合"), Some(d(2015, 1, 23)), text)));
        assert_eq!(r.kind, Kind::TwoPlusTwo);
        assert_eq!(r.date, Some(d(2015, 1, 21)));
        assert_eq!((r.start_time.as_deref(), r.duration_minutes, r.local_time), (Some("13:00"), Some(120), true));
        assert_eq!(r.place.as_deref(), Some("英国"));
        assert_eq!(r.counterpart_country.as_deref(), Some("GB"));
        assert_eq!(
            names(&r),
            vec![
                ("岸田文雄", "外務大臣", Some("JP")),
                ("中谷元", "防衛大臣", Some("JP")),
                ("フィリップ・ハモンド", "外務・英連邦大臣", Some("GB")),
                ("マイケル・ファロン", "国防大臣", Some("GB"))
            ]
        );
    }

    #[test]
    fn an_english_lead() {
        let text = "Courtesy Call on Prime Minister Ishiba by U.S. Secretary of Defense Lloyd Austin (Summary)\nOn December 10, 2024, commencing at 5:30 pm, for approximately 25 minutes, Prime Minister ISHIBA Shigeru, received a courtesy call from the Honorable Lloyd Austin, Secretary of Defense of the U.S. The overview of the courtesy call is as follows.";
        let url = "https://japan.kantei.go.jp/103/diplomatic/202412/10usa.html";
        let title = "Courtesy Call on Prime Minister Ishiba by U.S. Secretary of Defense Lloyd Austin (Summary)";
        let r = extract(&item(url, title, None), Some(&page(Some(title), None, text)));
        assert_eq!(r.kind, Kind::CourtesyCall);
        assert_eq!(r.date, Some(d(2024, 12, 10)));
        assert_eq!((r.start_time.as_deref(), r.duration_minutes), (Some("17:30"), Some(25)));
        assert_eq!(r.place, None);
        assert_eq!(r.counterpart_country.as_deref(), Some("US"));
        assert_eq!(
            names(&r),
            vec![
                ("ISHIBA Shigeru", "Prime Minister", Some("JP")),
                ("Lloyd Austin", "Secretary of Defense", Some("US"))
            ]
        );
    }

    #[test]
    fn a_us_readout_has_japan_as_the_other_side() {
        let text = "Mattis Welcomes Japanese Counterpart, Discusses Regional Security\nDefense Secretary James N. Mattis met with Defense Minister Itsunori Onodera of Japan at the Pentagon today.";
        let url = "https://www.defense.gov/News/Article/Article/1500068/mattis-welcomes-japanese-counterpart-discusses-regional-security/";
        let title = "Mattis Welcomes Japanese Counterpart, Discusses Regional Security";
        let r = extract(&item(url, title, Some(d(2018, 4, 20))), Some(&page(Some(title), None, text)));
        assert_eq!((r.kind, r.date), (Kind::Meeting, Some(d(2018, 4, 20))));
        assert_eq!(r.place.as_deref(), Some("the Pentagon"));
        assert_eq!(r.counterpart_country.as_deref(), Some("JP"));
        assert_eq!(
            names(&r),
            vec![
                ("James N. Mattis", "Defense Secretary", Some("US")),
                ("Itsunori Onodera", "Defense Minister", Some("JP"))
            ]
        );
    }
    #[test]
    fn leads_outside_the_corpus() {
        let run = |url: &str, title: &str, text: &str| {
            let it = item(url, title, None);
            extract(&it, Some(&page(Some(title), None, text)))
        };
        let r = run(
            "https://www.mod.go.jp/j/press/news/2026/08/19a.html",
            "日独防衛相会談",
            "本19日、15時30分から約1時間、中谷防衛大臣は、来日中のピストリウス独国防大臣と防衛省で会談を行ったところ、概要は以下のとおりです。",
        );
        assert_eq!((r.kind, r.date), (Kind::Meeting, Some(d(2026, 8, 19))));
        assert_eq!((r.start_time.as_deref(), r.duration_minutes), (Some("15:30"), Some(60)));
        assert_eq!((r.place.as_deref(), r.counterpart_country.as_deref()), (Some("防衛省"), Some("DE")));
        assert_eq!(names(&r), vec![("中谷", "防衛大臣", Some("JP")), ("ピストリウス", "独国防大臣", Some("DE"))]);

        let r = run(
            "https://www.mod.go.jp/j/press/news/2026/08/21a.html",
            "日韓防衛相テレビ会談",
            "8月21日、午後4時から約40分間、中谷防衛大臣は、安圭伯(アン・ギュベク)韓国国防部長官とテレビ会談を行いました。",
        );
        assert_eq!((r.kind, r.date, r.place.as_deref()), (Kind::Video, Some(d(2026, 8, 21)), Some("video")));
        assert_eq!((r.start_time.as_deref(), r.duration_minutes), (Some("16:00"), Some(40)));
        assert_eq!(names(&r), vec![("中谷", "防衛大臣", Some("JP")), ("安圭伯", "韓国国防部長官", Some("KR"))]);

        let r = run(
            "https://www.mod.go.jp/en/article/2026/08/0123abcd.html",
            "Japan-Philippines Defense Ministerial Meeting",
            "On August 19, 2026, from 10:00 a.m. for about 60 minutes, Defense Minister Nakatani held a meeting with Minister of National Defense Gilberto Teodoro of the Philippines in Manila.",
        );
        assert_eq!((r.kind, r.date), (Kind::Meeting, Some(d(2026, 8, 19))));
        assert_eq!(
            (r.start_time.as_deref(), r.duration_minutes, r.place.as_deref()),
            (Some("10:00"), Some(60), Some("Manila"))
        );
        assert_eq!(
            names(&r),
            vec![
                ("Nakatani", "Defense Minister", Some("JP")),
                ("Gilberto Teodoro", "Minister of National Defense", Some("PH"))
            ]
        );

        let r = run(
            "https://www.mod.go.jp/j/press/news/2026/08/22a.html",
            "ハンガリー国防大臣の当省訪問について",
            "8月25日(月)、クリストフ・サライ=ボブロブニツキー・ハンガリー国防大臣が防衛省を訪問し、中谷防衛大臣と会談を行う予定です。",
        );
        assert_eq!(
            (r.kind, r.date, r.counterpart_country.as_deref()),
            (Kind::Announcement, Some(d(2026, 8, 25)), Some("HU"))
        );
    }
}
