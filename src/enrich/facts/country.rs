//! Countries as the releases name them: ISO 3166 alpha-2 codes for Japanese
//! names (アメリカ合衆国, 米国), the one-kanji abbreviations of 日米, 日豪
//! and 米国防長官, and English names and adjectives (U.S., Australian).
//!
//! The table holds the countries Japan's defense and foreign ministers meet;
//! a country missing here leaves `counterpart_country` empty, it is never
//! guessed.

/// One country: its code, its one-kanji abbreviation (if Japanese uses one),
/// its Japanese names and its English names and adjectives.
struct Country {
    code: &'static str,
    kanji: Option<char>,
    ja: &'static [&'static str],
    en: &'static [&'static str],
}

const fn c(
    code: &'static str,
    kanji: Option<char>,
    ja: &'static [&'static str],
    en: &'static [&'static str],
) -> Country {
    Country { code, kanji, ja, en }
}

static COUNTRIES: &[Country] = &[
    c("JP", Some('日'), &["日本国", "日本"], &["Japan", "Japanese"]),
    c(
        "US",
        Some('米'),
        &["アメリカ合衆国", "アメリカ", "米国", "合衆国"],
        &["United States of America", "United States", "U.S.A.", "U.S.", "USA", "US", "American"],
    ),
    c("AU", Some('豪'), &["オーストラリア連邦", "オーストラリア", "豪州"], &["Australia", "Australian"]),
    c(
        "GB",
        Some('英'),
        &["グレートブリテン及び北アイルランド連合王国", "英国", "イギリス", "連合王国"],
        &["United Kingdom", "U.K.", "UK", "Britain", "British"],
    ),
    c("DE", Some('独'), &["ドイツ連邦共和国", "ドイツ"], &["Germany", "German"]),
    c("FR", Some('仏'), &["フランス共和国", "フランス"], &["France", "French"]),
    c("IT", Some('伊'), &["イタリア共和国", "イタリア"], &["Italy", "Italian"]),
    c("CA", Some('加'), &["カナダ"], &["Canada", "Canadian"]),
    c("IN", Some('印'), &["インド共和国", "インド"], &["India", "Indian"]),
    c("KR", Some('韓'), &["大韓民国", "韓国"], &["Republic of Korea", "South Korea", "ROK", "Korea", "Korean"]),
    c("CN", Some('中'), &["中華人民共和国", "中国"], &["People's Republic of China", "China", "Chinese"]),
    c("RU", Some('露'), &["ロシア連邦", "ロシア"], &["Russian Federation", "Russia", "Russian"]),
    c("ID", None, &["インドネシア共和国", "インドネシア"], &["Indonesia", "Indonesian"]),
    c("VN", Some('越'), &["ベトナム社会主義共和国", "ベトナム"], &["Viet Nam", "Vietnam", "Vietnamese"]),
    c("PH", Some('比'), &["フィリピン共和国", "フィリピン"], &["Philippines", "Philippine", "Filipino"]),
    c("TH", Some('泰'), &["タイ王国", "タイ"], &["Thailand", "Thai"]),
    c("SG", Some('星'), &["シンガポール共和国", "シンガポール"], &["Singapore", "Singaporean"]),
    c("MY", None, &["マレーシア"], &["Malaysia", "Malaysian"]),
    c("BN", None, &["ブルネイ・ダルサラーム国", "ブルネイ"], &["Brunei Darussalam", "Brunei"]),
    c("KH", None, &["カンボジア王国", "カンボジア"], &["Cambodia", "Cambodian"]),
    c("LA", None, &["ラオス人民民主共和国", "ラオス"], &["Lao PDR", "Laos", "Lao"]),
    c("MM", None, &["ミャンマー連邦共和国", "ミャンマー"], &["Myanmar"]),
    c("TL", None, &["東ティモール民主共和国", "東ティモール"], &["Timor-Leste"]),
    c("NZ", None, &["ニュージーランド"], &["New Zealand"]),
    c("MN", None, &["モンゴル国", "モンゴル"], &["Mongolia", "Mongolian"]),
    c("LK", None, &["スリランカ"], &["Sri Lanka", "Sri Lankan"]),
    c("BD", None, &["バングラデシュ"], &["Bangladesh"]),
    c("PK", None, &["パキスタン"], &["Pakistan", "Pakistani"]),
    c("NL", Some('蘭'), &["オランダ王国", "オランダ"], &["Netherlands", "Dutch"]),
    c("ES", Some('西'), &["スペイン王国", "スペイン"], &["Spain", "Spanish"]),
    c("PT", Some('葡'), &["ポルトガル"], &["Portugal", "Portuguese"]),
    c("BE", None, &["ベルギー王国", "ベルギー"], &["Belgium", "Belgian"]),
    c("PL", None, &["ポーランド共和国", "ポーランド"], &["Poland", "Polish"]),
    c("SE", None, &["スウェーデン王国", "スウェーデン"], &["Sweden", "Swedish"]),
    c("FI", None, &["フィンランド共和国", "フィンランド"], &["Finland", "Finnish"]),
    c("NO", None, &["ノルウェー王国", "ノルウェー"], &["Norway", "Norwegian"]),
    c("DK", None, &["デンマーク王国", "デンマーク"], &["Denmark", "Danish"]),
    c("EE", None, &["エストニア共和国", "エストニア"], &["Estonia", "Estonian"]),
    c("LV", None, &["ラトビア共和国", "ラトビア"], &["Latvia", "Latvian"]),
    c("LT", None, &["リトアニア共和国", "リトアニア"], &["Lithuania", "Lithuanian"]),
    c("CZ", None, &["チェコ共和国", "チェコ"], &["Czech Republic", "Czechia", "Czech"]),
    c("SK", None, &["スロバキア共和国", "スロバキア"], &["Slovakia", "Slovak"]),
    c("HU", None, &["ハンガリー"], &["Hungary", "Hungarian"]),
    c("RO", None, &["ルーマニア"], &["Romania", "Romanian"]),
    c("BG", None, &["ブルガリア共和国", "ブルガリア"], &["Bulgaria", "Bulgarian"]),
    c("GR", None, &["ギリシャ共和国", "ギリシャ"], &["Greece", "Greek"]),
    c("AT", None, &["オーストリア共和国", "オーストリア"], &["Austria", "Austrian"]),
    c("CH", None, &["スイス連邦", "スイス"], &["Switzerland", "Swiss"]),
    c("IE", None, &["アイルランド"], &["Ireland", "Irish"]),
    c("UA", None, &["ウクライナ"], &["Ukraine", "Ukrainian"]),
    c("TR", None, &["トルコ共和国", "トルコ", "トルキエ"], &["Türkiye", "Turkey", "Turkish"]),
    c("IL", None, &["イスラエル国", "イスラエル"], &["Israel", "Israeli"]),
    c("AE", None, &["アラブ首長国連邦"], &["United Arab Emirates", "UAE"]),
    c("SA", None, &["サウジアラビア王国", "サウジアラビア"], &["Saudi Arabia", "Saudi"]),
    c("QA", None, &["カタール国", "カタール"], &["Qatar"]),
    c("JO", None, &["ヨルダン・ハシェミット王国", "ヨルダン"], &["Jordan", "Jordanian"]),
    c("EG", None, &["エジプト・アラブ共和国", "エジプト"], &["Egypt", "Egyptian"]),
    c("DJ", None, &["ジブチ共和国", "ジブチ"], &["Djibouti"]),
    c("BR", Some('伯'), &["ブラジル連邦共和国", "ブラジル"], &["Brazil", "Brazilian"]),
    c("MX", Some('墨'), &["メキシコ合衆国", "メキシコ"], &["Mexico", "Mexican"]),
    c("CL", None, &["チリ共和国", "チリ"], &["Chile", "Chilean"]),
    c("PE", None, &["ペルー共和国", "ペルー"], &["Peru", "Peruvian"]),
];

/// The code of a Japanese country name, whole (`オーストラリア連邦`, `米国`)
/// or as its one-kanji abbreviation (`豪`).
pub fn from_ja(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    if let (Some(k), None) = (chars.next(), chars.next())
        && let Some(c) = COUNTRIES.iter().find(|c| c.kanji == Some(k))
    {
        return Some(c.code);
    }
    COUNTRIES.iter().find(|c| c.ja.contains(&name)).map(|c| c.code)
}

/// The code of a one-kanji abbreviation (`米` in 日米, `豪` in 豪国防大臣).
pub fn from_kanji(k: char) -> Option<&'static str> {
    COUNTRIES.iter().find(|c| c.kanji == Some(k)).map(|c| c.code)
}

/// The code of an English country name or adjective (`U.S.`, `Australian`).
pub fn from_en(name: &str) -> Option<&'static str> {
    let name = name.trim().trim_start_matches("the ").trim_start_matches("The ");
    COUNTRIES.iter().find(|c| c.en.iter().any(|n| n.eq_ignore_ascii_case(name))).map(|c| c.code)
}

/// The longest Japanese country name (not an abbreviation) that `s` ends with,
/// with its length in bytes.
pub fn ja_suffix(s: &str) -> Option<(&'static str, usize)> {
    COUNTRIES
        .iter()
        .flat_map(|c| c.ja.iter().map(move |n| (c.code, *n)))
        .filter(|(_, n)| s.ends_with(n))
        .max_by_key(|(_, n)| n.len())
        .map(|(code, n)| (code, n.len()))
}

/// The first Japanese country name (not an abbreviation, not Japan) in `s`,
/// as (byte position, code).
pub fn first_ja_name(s: &str) -> Option<(usize, &'static str)> {
    COUNTRIES
        .iter()
        .filter(|c| c.code != "JP")
        .flat_map(|c| c.ja.iter().map(move |n| (c.code, *n)))
        .filter_map(|(code, n)| {
            // インド太平洋 is a region, not India.
            s.match_indices(n).find(|(i, _)| !s[i + n.len()..].starts_with("太平洋")).map(|(i, _)| (i, code, n.len()))
        })
        // The earliest; at one position the longest (インドネシア, not インド).
        .min_by_key(|(i, _, len)| (*i, usize::MAX - len))
        .map(|(i, code, _)| (i, code))
}

/// All English names and adjectives, longest first, for building patterns.
pub fn en_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = COUNTRIES.iter().flat_map(|c| c.en.iter().copied()).collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_abbreviations_and_english() {
        assert_eq!(from_ja("米"), Some("US"));
        assert_eq!(from_ja("豪州"), Some("AU"));
        assert_eq!(from_ja("オーストラリア連邦"), Some("AU"));
        assert_eq!(from_ja("インドネシア"), Some("ID"));
        assert_eq!(from_ja("英国"), Some("GB"));
        assert_eq!(from_ja("火星"), None);
        assert_eq!(from_kanji('独'), Some("DE"));
        assert_eq!(from_en("U.S."), Some("US"));
        assert_eq!(from_en("the United States"), Some("US"));
        assert_eq!(from_en("Australian"), Some("AU"));
        assert_eq!(from_en("Atlantis"), None);
        assert_eq!(ja_suffix("ラージナート・シン・インド"), Some(("IN", "インド".len())));
        assert_eq!(ja_suffix("訪日中のインドネシア"), Some(("ID", "インドネシア".len())));
        assert_eq!(first_ja_name("訪日中のインドネシア国防大臣"), Some(("訪日中の".len(), "ID")));
        assert_eq!(first_ja_name("インド太平洋地域の情勢"), None);
    }
}
