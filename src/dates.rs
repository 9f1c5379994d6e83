//! Dates as the sources write them.
//!
//! Japanese government pages write dates as 令和6年7月28日, 平成30年6月29日,
//! 令和元年, 2024年7月28日, 2024.07.28, R6.7.28, `8月19日付` (no year), with
//! full-width digits; English pages as "June 29, 2018" or "29 June 2018";
//! feeds as RFC 822 with or without weekday, seconds and zone, `JST`, or ISO
//! 8601 with no offset. Japan has kept +09:00 without DST since 1951, so a
//! fixed offset is exact and no time-zone database is needed.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use regex::{Captures, Regex};

use crate::text::nfkc;

/// Japan Standard Time, +09:00.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset")
}

/// The JST calendar day of an instant.
pub fn jst_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&jst()).date_naive()
}

/// Midnight JST of `d`, as an instant.
pub fn jst_midnight(d: NaiveDate) -> DateTime<Utc> {
    jst()
        .from_local_datetime(&d.and_time(NaiveTime::MIN))
        .single()
        .expect("a fixed offset has exactly one local midnight")
        .with_timezone(&Utc)
}

/// The Gregorian year of year `n` of a Japanese era.
fn era_year(era: &str, n: i32) -> Option<i32> {
    let base = match era {
        "令和" | "R" | "r" => 2018,
        "平成" | "H" | "h" => 1988,
        "昭和" | "S" | "s" => 1925,
        _ => return None,
    };
    (n >= 1).then_some(base + n)
}

fn month_number(name: &str) -> Option<u32> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    if name.len() < 3 {
        return None;
    }
    if name == "sept" {
        return Some(9);
    }
    MONTHS.iter().position(|m| m.starts_with(&name) && (name.len() == 3 || *m == name)).map(|i| i as u32 + 1)
}

/// The date `month`/`day` in the year that puts it closest to `reference`:
/// a listing read on 2 January that says `12月28日付` means last December.
pub fn infer_year(month: u32, day: u32, reference: NaiveDate) -> Option<NaiveDate> {
    (reference.year() - 1..=reference.year() + 1)
        .filter_map(|y| NaiveDate::from_ymd_opt(y, month, day))
        .min_by_key(|d| (*d - reference).num_days().abs())
}

const EN_MONTH: &str = r"(January|February|March|April|May|June|July|August|September|October|November|December|Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept?\.?|Oct\.?|Nov\.?|Dec\.?)";

static ERA: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(令和|平成|昭和)\s*(元|\d{1,2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日").unwrap());
static ERA_SHORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^A-Za-z0-9])([RHSrhs])\s?(\d{1,2})[./](\d{1,2})[./](\d{1,2})(?:$|[^0-9])").unwrap()
});
static YMD_KANJI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日").unwrap());
static YMD_SEP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^0-9])(\d{4})([./-])(\d{1,2})([./-])(\d{1,2})(?:$|[^0-9])").unwrap());
static MD_KANJI: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d{1,2})\s*月\s*(\d{1,2})\s*日").unwrap());
static EN_MDY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"\b{EN_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,\s*|\s+)(\d{{4}})\b")).unwrap()
});
static EN_DMY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{EN_MONTH}\s*,?\s+(\d{{4}})\b")).unwrap());
static EN_MD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"\b{EN_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b")).unwrap());

fn num(s: &str) -> Option<i64> {
    if s == "元" { Some(1) } else { s.parse().ok() }
}

/// How one form reads its captures: where the date starts, and the date
/// (none when the numbers make no date). The reference date is for the forms
/// with no year; without one they read nothing.
type Read = fn(&Captures, Option<NaiveDate>) -> Option<(usize, NaiveDate)>;

fn ymd(y: i64, m: i64, d: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, u32::try_from(m).ok()?, u32::try_from(d).ok()?)
}

fn start(c: &Captures, group: usize) -> usize {
    c.get(group).map_or(0, |m| m.start())
}

/// The forms with a year, each with its reader, the commonest on Japanese
/// listings first: no two can match at the same place, so the order changes
/// only how soon a date at the start of a text ends the search.
static DATED: LazyLock<[(&'static Regex, Read); 6]> = LazyLock::new(|| {
    [
        (&*YMD_KANJI, |c, _| Some((start(c, 0), ymd(num(&c[1])?, num(&c[2])?, num(&c[3])?)?))),
        (&*ERA, |c, _| {
            let y = era_year(&c[1], num(&c[2])? as i32)?;
            Some((start(c, 0), ymd(y as i64, num(&c[3])?, num(&c[4])?)?))
        }),
        // 2024.07.28 and 2024-07-28, but not 2024.07-28.
        (&*YMD_SEP, |c, _| {
            (c[2] == c[4]).then_some(())?;
            Some((start(c, 1), ymd(num(&c[1])?, num(&c[3])?, num(&c[5])?)?))
        }),
        (&*ERA_SHORT, |c, _| {
            let y = era_year(&c[1], num(&c[2])? as i32)?;
            Some((start(c, 1), ymd(y as i64, num(&c[3])?, num(&c[4])?)?))
        }),
        (&*EN_MDY, |c, _| Some((start(c, 0), ymd(num(&c[3])?, month_number(&c[1])? as i64, num(&c[2])?)?))),
        (&*EN_DMY, |c, _| Some((start(c, 0), ymd(num(&c[3])?, month_number(&c[2])? as i64, num(&c[1])?)?))),
    ]
});

/// The forms with no year, tried after [`DATED`] and only with a reference
/// date.
static YEARLESS: LazyLock<[(&'static Regex, Read); 2]> = LazyLock::new(|| {
    [
        (&*MD_KANJI, |c, reference| {
            Some((start(c, 0), infer_year(num(&c[1])? as u32, num(&c[2])? as u32, reference?)?))
        }),
        (&*EN_MD, |c, reference| {
            Some((start(c, 0), infer_year(month_number(&c[1])?, num(&c[2])? as u32, reference?)?))
        }),
    ]
});

/// The first date written in `text`, in any of the forms above. A date with
/// no year (`8月19日付`, "On March 16") takes its year from `reference`; with
/// no reference it is skipped.
///
/// Each form's first date counts, and the earliest of them wins. A date at
/// the very start cannot be beaten, so the forms after it are not tried: a
/// listing's date cell (`2026年11月29日`) is read without a regex at all
/// ([`leading_ymd_kanji`]).
pub fn find_date(text: &str, reference: Option<NaiveDate>) -> Option<NaiveDate> {
    let text = nfkc(text);
    leading_ymd_kanji(&text).or_else(|| first_of_forms(&text, reference))
}

/// A date in the form of [`YMD_KANJI`] at the very start of `text` (after
/// NFKC), read by hand: what that regex would read there, for a fraction of
/// its cost (`find_date` on a cold cycle's date cells: about 1,000
/// instructions a call, against 6,200 by regex; callgrind). `None` for
/// anything else, which the regexes then read; a date at the start beats any
/// other.
fn leading_ymd_kanji(text: &str) -> Option<NaiveDate> {
    // Digits, spaces, a unit, spaces.
    fn field(s: &str, digits: std::ops::RangeInclusive<usize>, unit: char) -> Option<(i64, &str)> {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        if !digits.contains(&n) {
            return None;
        }
        let rest = s[n..].trim_start_matches(|c: char| c.is_ascii_whitespace()).strip_prefix(unit)?;
        Some((s[..n].parse().ok()?, rest.trim_start_matches(|c: char| c.is_ascii_whitespace())))
    }
    let (y, rest) = field(text, 4..=4, '年')?;
    let (m, rest) = field(rest, 1..=2, '月')?;
    let (d, _) = field(rest, 1..=2, '日')?;
    ymd(y, m, d)
}

/// The earliest date of any form in `text`, already in NFKC.
fn first_of_forms(text: &str, reference: Option<NaiveDate>) -> Option<NaiveDate> {
    let mut best: Option<(usize, NaiveDate)> = None;
    let yearless = if reference.is_some() { &YEARLESS[..] } else { &[] };
    for (form, read) in DATED.iter().chain(yearless) {
        let first = form.captures_iter(text).find_map(|c| read(&c, reference));
        if let Some((pos, date)) = first
            && best.is_none_or(|(p, _)| pos < p)
        {
            best = Some((pos, date));
        }
        if best.is_some_and(|(p, _)| p == 0) {
            break;
        }
    }
    best.map(|(_, d)| d)
}

static URL_YYYYMMDD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^0-9])((?:19|20)\d{2})(\d{2})(\d{2})(?:$|[^0-9])").unwrap());
static URL_Y_M_D: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"/((?:19|20)\d{2})/(\d{2})/(\d{2})(?:[a-z_./-]|$)").unwrap());
static URL_Y_MD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"/((?:19|20)\d{2})/(\d{2})(\d{2})(?:[a-z_./-]|$)").unwrap());
static URL_YM_D: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"/((?:19|20)\d{2})(\d{2})/(\d{2})(?:[a-z_./-]|$)").unwrap());

/// The date a release URL carries in its path, as MOD and Kantei write them:
/// `/2026/08/19a.html`, `/20260818_aus-j.html`, `/2025/0330b_usa-j.html`,
/// `/202608/19tel_kaidan.html`.
pub fn date_in_url(url: &str) -> Option<NaiveDate> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let path = path.find("://").map_or(path, |i| {
        let rest = &path[i + 3..];
        rest.find('/').map_or("", |j| &rest[j..])
    });
    let ymd = |c: regex::Captures| NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?);
    [&*URL_Y_M_D, &*URL_YM_D, &*URL_Y_MD, &*URL_YYYYMMDD].iter().find_map(|re| re.captures_iter(path).find_map(ymd))
}

/// Timestamps as feeds write them, for feed-rs's `timestamp_parser`. Beyond
/// strict RFC 822 and RFC 3339 it reads: no weekday, no seconds, `JST`, no
/// zone (taken as JST, since these are Japanese sites), and a bare date
/// (midnight JST, not midnight UTC).
pub fn parse_feed_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = nfkc(s.trim());
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(&s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
        return Some(t.with_timezone(&Utc));
    }
    // RFC 822 variants: drop the weekday, name the zone as an offset.
    let mut r = s.to_string();
    if let Some(i) = r.find(',')
        && i <= 10
    {
        r = r[i + 1..].trim().to_owned();
    }
    for (name, offset) in
        [(" JST", " +0900"), (" GMT", " +0000"), (" UTC", " +0000"), (" UT", " +0000"), ("Z", " +0000")]
    {
        if let Some(stripped) = r.strip_suffix(name) {
            r = format!("{stripped}{offset}");
            break;
        }
    }
    for f in ["%d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M %z", "%Y-%m-%dT%H:%M:%S%.f %z", "%Y-%m-%d %H:%M:%S %z"] {
        if let Ok(t) = DateTime::parse_from_str(&r, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in [
        "%d %b %Y %H:%M:%S",
        "%d %b %Y %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&r, f) {
            return jst().from_local_datetime(&t).single().map(|t| t.with_timezone(&Utc));
        }
    }
    find_date(&s, None).map(jst_midnight)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn japanese_eras_and_full_width_digits() {
        assert_eq!(find_date("令和6年7月28日", None), Some(d(2024, 7, 28)));
        assert_eq!(find_date("平成30年6月29日", None), Some(d(2018, 6, 29)));
        assert_eq!(find_date("令和元年9月2日", None), Some(d(2019, 9, 2)));
        assert_eq!(find_date("令和７年３月３０日９時５０分", None), Some(d(2025, 3, 30)));
        assert_eq!(find_date("昭和64年1月7日", None), Some(d(1989, 1, 7)));
        assert_eq!(find_date("R6.7.28", None), Some(d(2024, 7, 28)));
        assert_eq!(find_date("（H30.6.29）", None), Some(d(2018, 6, 29)));
    }

    #[test]
    fn gregorian_forms() {
        assert_eq!(find_date("2024年7月28日", None), Some(d(2024, 7, 28)));
        assert_eq!(find_date("更新 2024.07.28", None), Some(d(2024, 7, 28)));
        assert_eq!(find_date("2024-07-28", None), Some(d(2024, 7, 28)));
        assert_eq!(find_date("2024/7/8", None), Some(d(2024, 7, 8)));
        assert_eq!(find_date("２０２４年７月２８日", None), Some(d(2024, 7, 28)));
        assert_eq!(find_date("2024年13月1日", None), None);
    }

    #[test]
    fn english_forms() {
        assert_eq!(find_date("April 28, 2023", None), Some(d(2023, 4, 28)));
        assert_eq!(find_date("Tuesday, March 12, 2013", None), Some(d(2013, 3, 12)));
        assert_eq!(find_date("On December 10, 2024, commencing", None), Some(d(2024, 12, 10)));
        assert_eq!(find_date("29 June 2018", None), Some(d(2018, 6, 29)));
        assert_eq!(find_date("Sept. 3, 2019", None), Some(d(2019, 9, 3)));
        assert_eq!(find_date("On Mar 16, Minister", Some(d(2021, 3, 17))), Some(d(2021, 3, 16)));
        assert_eq!(find_date("Mayor", None), None);
    }

    #[test]
    fn a_leading_kanji_date_is_read_as_the_regexes_read_it() {
        let cells = [
            "2024年6月30日",
            "2024年06月3日 防衛省",
            "2024 年 6 月 30 日",
            "2024年\t6月30日付",
            "2024年2月30日、2024年3月1日",
            "2024年13月1日",
            "2024年6月300日",
            "20245年6月30日",
            "12024年6月30日",
            "2024年6月",
            "2024年6月30",
            "2024年6月30日(月)",
            "2024年6月 2024年7月1日",
            " 2024年6月30日",
            "2024年\u{3000}6月30日",
        ];
        for cell in cells {
            let text = nfkc(cell);
            let by_hand = leading_ymd_kanji(&text);
            if by_hand.is_some() {
                assert_eq!(by_hand, first_of_forms(&text, None), "{cell}");
            }
            assert_eq!(find_date(cell, None), first_of_forms(&text, None), "{cell}");
        }
        assert_eq!(leading_ymd_kanji("2024 年 6 月 30 日"), Some(d(2024, 6, 30)));
        assert_eq!(leading_ymd_kanji("2024年2月30日、2024年3月1日"), None, "not a date: left to the regexes");
    }

    #[test]
    fn the_first_date_wins() {
        assert_eq!(find_date("平成29年9月21日、本年2月7日の", None), Some(d(2017, 9, 21)));
        assert_eq!(find_date("報道 2024年7月28日 (7月1日更新)", Some(d(2024, 8, 1))), Some(d(2024, 7, 28)));
        // Whatever form is tried first: the earliest in the text.
        assert_eq!(find_date("2024.07.02 更新（2024年7月1日）", None), Some(d(2024, 7, 2)));
        assert_eq!(find_date("令和6年7月1日（2024年7月2日）", None), Some(d(2024, 7, 1)));
        assert_eq!(find_date("July 3, 2024 (2024年7月1日)", None), Some(d(2024, 7, 3)));
    }

    #[test]
    fn a_date_without_year_takes_the_nearest_year() {
        let aug = d(2026, 8, 20);
        assert_eq!(find_date("8月19日付", Some(aug)), Some(d(2026, 8, 19)));
        assert_eq!(find_date("8月19日付", None), None);
        // Read on 2 January, "12月28日付" is last December; read on 28 December, "1月2日" is next year.
        assert_eq!(find_date("12月28日付", Some(d(2027, 1, 2))), Some(d(2026, 12, 28)));
        assert_eq!(find_date("1月2日", Some(d(2026, 12, 28))), Some(d(2027, 1, 2)));
        assert_eq!(find_date("2月29日", Some(d(2023, 3, 1))), Some(d(2024, 2, 29)));
    }

    #[test]
    fn dates_in_release_urls() {
        assert_eq!(date_in_url("https://www.mod.go.jp/j/press/news/2026/08/19a.html"), Some(d(2026, 8, 19)));
        assert_eq!(date_in_url("/j/approach/exchange/area/2026/20260818_aus-j.html"), Some(d(2026, 8, 18)));
        assert_eq!(date_in_url("https://www.mod.go.jp/j/approach/anpo/2025/0330b_usa-j.html"), Some(d(2025, 3, 30)));
        assert_eq!(
            date_in_url("https://www.kantei.go.jp/jp/105/actions/202608/19tel_kaidan.html"),
            Some(d(2026, 8, 19))
        );
        assert_eq!(date_in_url("https://www.mod.go.jp/j/press/kisha/2020/0519a.html"), Some(d(2020, 5, 19)));
        assert_eq!(date_in_url("https://www.mofa.go.jp/mofaj/press/release/pressit_000001_04063.html"), None);
        assert_eq!(date_in_url("https://www.mod.go.jp/j/approach/chouwa/hojokin/index.html"), None);
    }

    #[test]
    fn feed_timestamps() {
        let t = |s: &str| parse_feed_timestamp(s).map(|t| t.to_rfc3339());
        assert_eq!(t("Wed, 19 Aug 2026 18:02:36 +0900").as_deref(), Some("2026-08-19T09:02:36+00:00"));
        assert_eq!(t("20 Aug 2026 03:13:00 +0900").as_deref(), Some("2026-08-19T18:13:00+00:00"));
        assert_eq!(t("Mon, 28 Sep 2026 09:00:00 JST").as_deref(), Some("2026-09-28T00:00:00+00:00"));
        assert_eq!(t("Mon, 28 Sep 2026 09:00 +0900").as_deref(), Some("2026-09-28T00:00:00+00:00"));
        assert_eq!(t("2026-09-27T10:00:00").as_deref(), Some("2026-09-27T01:00:00+00:00"));
        assert_eq!(t("2026-09-28T18:30:00+09:00").as_deref(), Some("2026-09-28T09:30:00+00:00"));
        assert_eq!(t("2026-09-27").as_deref(), Some("2026-09-26T15:00:00+00:00"));
        assert_eq!(t("2026年9月28日").as_deref(), Some("2026-09-27T15:00:00+00:00"));
        assert_eq!(t("not a date"), None);
        assert_eq!(t(""), None);
    }
}
