//! English phrases of a release's lead, as MOD, MOFA and Kantei write them in
//! their English editions and as the U.S. Department of Defense writes its
//! readouts: "commencing at 5:30 pm", "for approximately 25 minutes", "in
//! New York City", "at the Pentagon", "Defense Minister Hamada", "the
//! Honorable Lloyd Austin, Secretary of Defense of the U.S.", "Japan-U.S.".

use std::sync::LazyLock;

use regex::Regex;

use super::country;
use super::{Person, Publisher};

/// Titles, longest first where one begins another.
const TITLE: &str = concat!(
    r"(?:Acting\s+)?Secretary\s+of\s+Defense",
    r"|Secretary\s+of\s+State\s+for\s+Defence",
    r"|Secretary\s+of\s+State\s+for\s+Foreign,?\s+(?:and\s+)?Commonwealth(?:\s+and\s+Development)?\s+Affairs",
    r"|Secretary\s+of\s+State",
    r"|Deputy\s+Prime\s+Minister\s+and\s+Minister\s+(?:for|of)\s+Defen[cs]e",
    r"|Minister\s+(?:for|of)\s+(?:National\s+)?Defen[cs]e",
    r"|Minister\s+(?:for|of)\s+Foreign\s+Affairs|Minister\s+of\s+External\s+Affairs",
    r"|Defen[cs]e\s+(?:Minister|Secretary)|Foreign\s+(?:Minister|Secretary)|Chief\s+Cabinet\s+Secretary",
    r"|Deputy\s+Prime\s+Minister|Prime\s+Minister|Vice\s+President|President",
);
const HONORIFIC: &str =
    r"(?:(?:the|The)\s+)?(?:Honorable|Honourable|Hon\.|Rt\.?\s?Hon\.?|H\.E\.|Mr\.|Ms\.|Mrs\.|Dr\.|Senator)";
/// A name: capitalised words and initials ("Patrick M. Shanahan", "ISHIBA Shigeru").
const NAME: &str = r"(?:[A-Z]\.|[A-Z][A-Za-z'’\-]+)(?:\s+(?:[A-Z]\.|[A-Z][A-Za-z'’\-]+))*";

fn countries() -> String {
    country::en_names().iter().map(|n| regex::escape(n)).collect::<Vec<_>>().join("|")
}

static TITLE_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    let c = countries();
    Regex::new(&format!(
        r"(?:\b(?P<pre>{c})\s+)?(?P<title>{TITLE})(?:,\s+(?:{HONORIFIC}\s+)+|\s+(?:{HONORIFIC}\s+)*)(?P<name>{NAME})(?:\s+MP)?(?:\s+of\s+(?:the\s+)?(?P<suf>{c}))?"
    ))
    .unwrap()
});
static NAME_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    let c = countries();
    Regex::new(&format!(
        r"(?:{HONORIFIC}\s+)+(?P<name>{NAME})(?:\s+MP)?,\s+(?:(?P<pre>{c})\s+)?(?P<title>{TITLE})(?:\s+of\s+(?:the\s+)?(?P<suf>{c}))?"
    ))
    .unwrap()
});
static TIME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s?m\b\.?").unwrap());
static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\bfor\s+(?:approximately\s+|about\s+|around\s+|roughly\s+|nearly\s+|some\s+|over\s+)?(\d{1,3}|an|one|two|half\s+an)\s+(minutes?|hours?)(?:\s+and\s+(\d{1,2})\s+minutes?)?",
    )
    .unwrap()
});
static LOCAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i:\blocal\s+time\b)|\b(?:EST|EDT|CST|CDT|MST|MDT|PST|PDT|GMT|BST|CET|CEST|AEST|AEDT|IST|SGT|HST)\b")
        .unwrap()
});
static PLACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:in|at)\s+(the\s+Pentagon|the\s+White\s+House|the\s+Prime\s+Minister['’]s\s+(?:Office|Residence)",
        r"|the\s+Ministry\s+of\s+Defen[cs]e|[A-Z][A-Za-z.'’\-]*(?: +[A-Z][A-Za-z.'’\-]*)*)",
    ))
    .unwrap()
});
static PAIR_AFTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bJapan\s?[-–‐]\s?([A-Z][A-Za-z.]*(?:\s+(?:of\s+)?[A-Z][A-Za-z.]*){0,3})").unwrap());
static PAIR_BEFORE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"((?:[A-Z][A-Za-z.]*\s+){0,2}[A-Z][A-Za-z.]*)\s?[-–‐]\s?Japan\b").unwrap());

/// Words that end a name: the next title, or a sentence going on.
const NOT_NAME_WORDS: &[&str] = &[
    "Minister",
    "Secretary",
    "Defense",
    "Defence",
    "Prime",
    "President",
    "Foreign",
    "Chief",
    "Deputy",
    "Acting",
    "The",
];
const NOT_PLACES: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "Japanese",
    "English",
    "The",
];

/// The start time, "HH:MM" 24-hour, from "5:30 pm", "12:00 p.m.", "9 a.m.".
pub fn start_time(s: &str) -> Option<String> {
    let c = TIME.captures(s)?;
    let h: u32 = c[1].parse().ok()?;
    let m: u32 = c.get(2).map_or(Some(0), |m| m.as_str().parse().ok())?;
    let pm = c[3].eq_ignore_ascii_case("p");
    if !(1..=12).contains(&h) || m >= 60 {
        return None;
    }
    let h = match (pm, h) {
        (true, 12) => 12,
        (true, h) => h + 12,
        (false, 12) => 0,
        (false, h) => h,
    };
    Some(format!("{h:02}:{m:02}"))
}

/// Minutes from "for approximately 25 minutes", "for about an hour".
pub fn duration(s: &str) -> Option<u32> {
    let c = DURATION.captures(s)?;
    let n = match c[1].to_ascii_lowercase().as_str() {
        "an" | "one" => 1.0,
        "two" => 2.0,
        n if n.starts_with("half") => 0.5,
        n => n.parse::<f64>().ok()?,
    };
    let per = if c[2].to_ascii_lowercase().starts_with("hour") { 60.0 } else { 1.0 };
    let extra: u32 = c.get(3).map_or(Some(0), |m| m.as_str().parse().ok())?;
    let minutes = (n * per) as u32 + extra;
    (minutes > 0).then_some(minutes)
}

/// Whether the time is local ("local time", "EST"), not JST.
pub fn local_time(s: &str) -> bool {
    LOCAL.is_match(s)
}

/// The place of "in Tokyo", "in New York City", "at the Pentagon".
pub fn place(s: &str) -> Option<String> {
    PLACE.captures_iter(s).find_map(|c| {
        let p = c[1].trim_end_matches(['.', ',']);
        let first = p.split_whitespace().next().unwrap_or_default();
        (!p.is_empty() && !NOT_PLACES.contains(&first)).then(|| p.to_owned())
    })
}

/// The other country of "Japan-Australia", "Japan-U.S.", "U.S.-Japan".
pub fn pair_country(s: &str) -> Option<&'static str> {
    let longest_prefix = |words: &str| {
        let words: Vec<&str> = words.split_whitespace().collect();
        (1..=words.len()).rev().find_map(|n| country::from_en(&words[..n].join(" ")))
    };
    let longest_suffix = |words: &str| {
        let words: Vec<&str> = words.split_whitespace().collect();
        (0..words.len()).find_map(|i| country::from_en(&words[i..].join(" ")))
    };
    PAIR_AFTER
        .captures_iter(s)
        .find_map(|c| longest_prefix(&c[1]))
        .or_else(|| PAIR_BEFORE.captures_iter(s).find_map(|c| longest_suffix(&c[1])))
        .filter(|c| *c != "JP")
}

/// The words of a matched name up to the next title word, without
/// social-media handles ("Antony Blinken SecBlinken").
fn clean_name(name: &str) -> String {
    let handle =
        |w: &str| w.chars().skip(1).any(|c| c.is_ascii_uppercase()) && w.chars().any(|c| c.is_ascii_lowercase());
    name.split_whitespace()
        .take_while(|w| !NOT_NAME_WORDS.contains(w))
        .filter(|w| !handle(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The country a title implies when the text gives none.
fn country_of_title(title: &str, publisher: Publisher) -> Option<&'static str> {
    let t = title.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.contains("Secretary of State for") || t == "Defence Secretary" || t == "Foreign Secretary" {
        return Some("GB");
    }
    if t.ends_with("Secretary of Defense") || t == "Secretary of State" || t == "Defense Secretary" {
        return Some("US");
    }
    let japanese_style = [
        "Defense Minister",
        "Minister of Defense",
        "Minister for Foreign Affairs",
        "Foreign Minister",
        "Prime Minister",
        "Chief Cabinet Secretary",
    ];
    (publisher == Publisher::Japan && japanese_style.contains(&t.as_str())).then_some("JP")
}

/// The people named with a title, in order.
pub fn people(s: &str, publisher: Publisher) -> Vec<Person> {
    let mut found: Vec<(usize, Person)> = Vec::new();
    for re in [&*NAME_FIRST, &*TITLE_FIRST] {
        for c in re.captures_iter(s) {
            let Some(name_match) = c.name("name") else { continue };
            if found.iter().any(|(at, _)| *at == name_match.start()) {
                continue;
            }
            let name = clean_name(name_match.as_str());
            if name.is_empty() || country::from_en(&name).is_some() {
                continue;
            }
            let title = c.name("title").map(|t| t.as_str().split_whitespace().collect::<Vec<_>>().join(" "));
            let Some(title) = title else { continue };
            let stated = c
                .name("pre")
                .or(c.name("suf"))
                .and_then(|m| country::from_en(m.as_str().trim_end_matches(" of America")));
            let country = stated.or_else(|| country_of_title(&title, publisher));
            let title = match c.name("pre") {
                Some(pre) => format!("{} {title}", pre.as_str()),
                None => title,
            };
            let foreign = match country {
                Some(code) => code != publisher.country(),
                None => true,
            };
            found.push((name_match.start(), Person { name, title, country, foreign }));
        }
    }
    found.sort_by_key(|(at, _)| *at);
    let mut out = Vec::new();
    for (_, p) in found {
        super::add_person(&mut out, p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(s: &str, publisher: Publisher) -> Vec<(String, String, Option<&'static str>)> {
        people(s, publisher).into_iter().map(|p| (p.name, p.title, p.country)).collect()
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(start_time("On December 10, 2024, commencing at 5:30 pm, for").as_deref(), Some("17:30"));
        assert_eq!(start_time("at 12:00 p.m. today").as_deref(), Some("12:00"));
        assert_eq!(start_time("at 9 a.m.").as_deref(), Some("09:00"));
        assert_eq!(start_time("at 12:15 am").as_deref(), Some("00:15"));
        assert_eq!(start_time("On April 28, 2023"), None);
        assert_eq!(duration("for approximately 25 minutes"), Some(25));
        assert_eq!(duration("for about an hour"), Some(60));
        assert_eq!(duration("for 1 hour and 30 minutes"), Some(90));
        assert_eq!(duration("for two hours"), Some(120));
        assert_eq!(duration("for the first time"), None);
        assert!(local_time("In the morning of April 27, 2015 EST, the"));
        assert!(local_time("at 10:00 a.m. local time"));
        assert!(!local_time("at 5:30 pm"));
    }

    #[test]
    fn places() {
        assert_eq!(
            place("held the U.S.-Japan Security Consultative Committee (SCC) in Tokyo.").as_deref(),
            Some("Tokyo")
        );
        assert_eq!(place("was convened in New York City.").as_deref(), Some("New York City"));
        assert_eq!(place("was convened in New York City.\nThe Meeting was").as_deref(), Some("New York City"));
        assert_eq!(place("of Japan at the Pentagon today.").as_deref(), Some("the Pentagon"));
        assert_eq!(place("commencing at 5:30 pm, for approximately 25 minutes"), None);
        assert_eq!(place("In the morning of April 27"), None);
    }

    #[test]
    fn pairs() {
        assert_eq!(pair_country("Japan-Australia Defence Ministerial Telephone Conference"), Some("AU"));
        assert_eq!(pair_country("Japan-U.S. Security Consultative Committee"), Some("US"));
        assert_eq!(pair_country("the U.S.-Japan Alliance"), Some("US"));
        assert_eq!(pair_country("Japan-United States of America Relations"), Some("US"));
        assert_eq!(pair_country("Japan-ASEAN Vice-Ministerial"), None);
    }

    #[test]
    fn people_with_titles() {
        let jp = Publisher::Japan;
        assert_eq!(
            who(
                "On April 28, Defense Minister Hamada and Deputy Prime Minister and Minister for Defence Marles held",
                jp
            ),
            vec![
                ("Hamada".into(), "Defense Minister".into(), Some("JP")),
                ("Marles".into(), "Deputy Prime Minister and Minister for Defence".into(), None)
            ]
        );
        assert_eq!(
            who(
                "Minister for Foreign Affairs Motegi, Minister of Defense Kishi, Secretary of State Antony Blinken SecBlinken, and Secretary of Defense Lloyd Austin SecDef, held",
                jp
            ),
            vec![
                ("Motegi".into(), "Minister for Foreign Affairs".into(), Some("JP")),
                ("Kishi".into(), "Minister of Defense".into(), Some("JP")),
                ("Antony Blinken".into(), "Secretary of State".into(), Some("US")),
                ("Lloyd Austin".into(), "Secretary of Defense".into(), Some("US"))
            ]
        );
        assert_eq!(
            who(
                "Prime Minister ISHIBA Shigeru, received a courtesy call from the Honorable Lloyd Austin, Secretary of Defense of the U.S. The",
                jp
            ),
            vec![
                ("ISHIBA Shigeru".into(), "Prime Minister".into(), Some("JP")),
                ("Lloyd Austin".into(), "Secretary of Defense".into(), Some("US"))
            ]
        );
        assert_eq!(
            who(
                "Minister for Foreign Affairs, Mr. Fumio Kishida and Minister of Defense, Mr. Gen Nakatani from the Japanese side and Secretary of State, Honorable John F. Kerry",
                jp
            ),
            vec![
                ("Fumio Kishida".into(), "Minister for Foreign Affairs".into(), Some("JP")),
                ("Gen Nakatani".into(), "Minister of Defense".into(), Some("JP")),
                ("John F. Kerry".into(), "Secretary of State".into(), Some("US"))
            ]
        );
        assert_eq!(
            who("with U.S. Defense Secretary Austin. In the conference", jp),
            vec![("Austin".into(), "U.S. Defense Secretary".into(), Some("US"))]
        );
        let us = Publisher::UnitedStates;
        assert_eq!(
            who(
                "Defense Secretary James N. Mattis met with Defense Minister Itsunori Onodera of Japan at the Pentagon today.",
                us
            ),
            vec![
                ("James N. Mattis".into(), "Defense Secretary".into(), Some("US")),
                ("Itsunori Onodera".into(), "Defense Minister".into(), Some("JP"))
            ]
        );
        assert_eq!(
            who(
                "Acting Secretary of Defense Patrick M. Shanahan met with Prime Minister Shinzo Abe, Defense Minister Takeshi Iwaya",
                us
            ),
            vec![
                ("Patrick M. Shanahan".into(), "Acting Secretary of Defense".into(), Some("US")),
                ("Shinzo Abe".into(), "Prime Minister".into(), None),
                ("Takeshi Iwaya".into(), "Defense Minister".into(), None)
            ]
        );
        assert!(who("The Prime Minister said in his address", jp).is_empty());
    }
}
