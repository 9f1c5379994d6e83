//! The Matcher: which new items matter, and why.
//!
//! A rule is either words (`any`, `all`, `none`, NFKC-folded, matched in the
//! title and summary) or a built-in detector (`preset`). Matching happens in
//! two steps. [`Matcher::judge`] looks at what the listing gave (title and
//! summary); a detector that cannot be sure from the title alone says so.
//! [`Matcher::confirm`] then decides with the release text when the Enricher
//! could read it, and falls back to the title's best guess when it could not
//! (MOD answers 403 to servers). Every verdict carries its reasons: which
//! words, in which field, and which decision.

pub mod jp_defense;

use serde::{Deserialize, Serialize};

use crate::config::{Preset, Rule, RuleKind};
use crate::enrich::ReleasePage;
use crate::extract::Item;
use crate::text::fold;

/// A decided match: the rule, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    pub rule: String,
    pub why: Vec<String>,
    #[serde(default)]
    pub urgent: bool,
}

/// One rule's view of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The best answer from what was read.
    pub matched: bool,
    /// False when the release text could change the answer.
    pub confident: bool,
    pub why: Vec<String>,
}

impl Verdict {
    pub fn no(why: impl Into<String>) -> Verdict {
        Verdict { matched: false, confident: true, why: vec![why.into()] }
    }
}

/// A rule that matched an item, or may once its page is read.
#[derive(Debug, Clone)]
pub struct Judged {
    pub rule: Rule,
    pub verdict: Verdict,
}

impl Judged {
    /// Whether reading the release page is worth it: for facts, or to decide.
    pub fn wants_page(&self) -> bool {
        self.rule.follow || !self.verdict.confident
    }
}

#[derive(Debug, Clone, Default)]
pub struct Matcher {
    rules: Vec<Rule>,
}

fn contains_word(field: &str, text: &str, word: &str, why: &mut Vec<String>) -> bool {
    if text.contains(word) {
        why.push(format!("{field} contains \"{word}\""));
        true
    } else {
        false
    }
}

impl Matcher {
    pub fn new(rules: &[Rule]) -> Matcher {
        Matcher { rules: rules.to_vec() }
    }

    /// One rule's verdict on an item, from its title and summary.
    pub fn verdict(rule: &Rule, item: &Item) -> Verdict {
        let title = fold(&item.title);
        let summary = item.summary.as_deref().map(fold).unwrap_or_default();
        for word in &rule.none {
            let mut why = Vec::new();
            if contains_word("title", &title, word, &mut why) || contains_word("summary", &summary, word, &mut why) {
                why.push(format!("excluded by `none` of rule {}", rule.id));
                return Verdict { matched: false, confident: true, why };
            }
        }
        match &rule.kind {
            RuleKind::Keywords { any, all } => {
                let mut why = Vec::new();
                let any_hit = any.is_empty()
                    || any.iter().any(|w| {
                        contains_word("title", &title, w, &mut why) || contains_word("summary", &summary, w, &mut why)
                    });
                let all_hit = all.iter().all(|w| {
                    contains_word("title", &title, w, &mut why) || contains_word("summary", &summary, w, &mut why)
                });
                if any_hit && all_hit {
                    why.push(format!("rule {}: keywords matched", rule.id));
                    Verdict { matched: true, confident: true, why }
                } else {
                    Verdict::no(format!("rule {}: no keyword", rule.id))
                }
            }
            RuleKind::Preset(Preset::JpDefenseMeeting) => jp_defense::judge_title(&item.title, item.summary.as_deref()),
        }
    }

    /// The first rule that matches `item`, or that may match once its page
    /// is read. Rules limited to other sources are skipped.
    pub fn judge(&self, source_id: &str, item: &Item) -> Option<Judged> {
        let applicable = self.rules.iter().filter(|r| r.applies_to(source_id));
        let mut maybe = None;
        for rule in applicable {
            let verdict = Self::verdict(rule, item);
            if verdict.matched {
                return Some(Judged { rule: rule.clone(), verdict });
            }
            if !verdict.confident && maybe.is_none() {
                maybe = Some(Judged { rule: rule.clone(), verdict });
            }
        }
        maybe
    }

    /// The final decision, with the release page when it could be read.
    pub fn confirm(judged: &Judged, item: &Item, page: Option<&ReleasePage>) -> Option<Match> {
        let verdict = Self::decide(judged, item, page);
        verdict.matched.then(|| Match { rule: judged.rule.id.clone(), why: verdict.why, urgent: judged.rule.urgent })
    }

    /// The final verdict, with its reasons whether it matched or not.
    pub fn decide(judged: &Judged, item: &Item, page: Option<&ReleasePage>) -> Verdict {
        let rule = &judged.rule;
        match (&rule.kind, page) {
            (RuleKind::Preset(Preset::JpDefenseMeeting), Some(page)) => {
                // The listing's title is what the ministry chose to announce; a
                // page's <h1> may be a site banner. The page title fills in only
                // when the listing gave none.
                let title = if item.title.is_empty() { page.title.as_deref().unwrap_or("") } else { &item.title };
                let mut v = jp_defense::judge_release(title, &page.text);
                if !v.matched && judged.verdict.matched && judged.verdict.confident && page.text.trim().is_empty() {
                    // An empty page says nothing against a clear title.
                    v = judged.verdict.clone();
                }
                v
            }
            (_, None) if !judged.verdict.confident => {
                let mut v = judged.verdict.clone();
                v.why.push(format!(
                    "release page unreadable: decided on the title ({})",
                    if v.matched { "match" } else { "no match" }
                ));
                v
            }
            _ => judged.verdict.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(any: &[&str], none: &[&str]) -> Rule {
        Rule {
            id: "r".into(),
            kind: RuleKind::Keywords { any: any.iter().map(|w| fold(w)).collect(), all: vec![] },
            none: none.iter().map(|w| fold(w)).collect(),
            sources: vec![],
            urgent: false,
            follow: false,
        }
    }

    fn item(title: &str) -> Item {
        Item::new("s", None, title.into(), None)
    }

    #[test]
    fn keywords_match_after_nfkc_and_say_where() {
        let m = Matcher::new(&[rule(&["防衛相会談", "NATO"], &[])]);
        let j = m.judge("s", &item("日ＮＡＴＯ協議")).unwrap();
        assert_eq!(j.verdict.why[0], "title contains \"nato\"");
        assert!(m.judge("s", &item("防衛相の会談")).is_none(), "near misses must not match");
    }

    #[test]
    fn none_words_veto() {
        let m = Matcher::new(&[rule(&["防衛相会談"], &["記者会見"])]);
        assert!(m.judge("s", &item("日米防衛相会談後の記者会見")).is_none());
        assert!(m.judge("s", &item("日米防衛相会談")).is_some());
    }

    #[test]
    fn rules_limited_to_sources() {
        let mut r = rule(&["会談"], &[]);
        r.sources = vec!["mod".into()];
        let m = Matcher::new(&[r]);
        assert!(m.judge("mofa", &item("会談")).is_none());
        assert!(m.judge("mod", &item("会談")).is_some());
    }
}
