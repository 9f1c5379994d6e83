//! Measures the detector on the labelled corpus and asserts the targets.
//! Run with `cargo test --lib matcher::jp_defense -- --nocapture` to see the
//! confusion matrices and every miss with its reasons.

use std::fmt;

use serde::Deserialize;

use super::{judge_release, judge_title};

const RELEASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/releases.jsonl");
const FEED_TITLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/feed_titles.jsonl");

#[derive(Deserialize)]
struct Release {
    id: String,
    title: Option<String>,
    body: String,
    label: String,
}

#[derive(Deserialize)]
struct FeedTitle {
    source: String,
    title: String,
    label: String,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &str) -> Vec<T> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("unable to read {path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}:{}: {e}", n + 1)))
        .collect()
}

#[derive(Default)]
struct Confusion {
    tp: usize,
    fp: usize,
    fn_: usize,
    tn: usize,
}

impl Confusion {
    fn add(&mut self, positive: bool, predicted: bool) {
        match (positive, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.fp) as f64 }
    }

    fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.fn_) as f64 }
    }
}

impl fmt::Display for Confusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "                 predicted +   predicted -")?;
        writeln!(f, "  labelled +     {:>11}   {:>11}", self.tp, self.fn_)?;
        writeln!(f, "  labelled -     {:>11}   {:>11}", self.fp, self.tn)?;
        write!(f, "  precision {:.3}  recall {:.3}", self.precision(), self.recall())
    }
}

#[test]
fn releases_meet_precision_and_recall_targets() {
    let releases: Vec<Release> = read_jsonl(RELEASES);
    assert!(releases.len() >= 30, "corpus shrank: {}", releases.len());
    let mut m = Confusion::default();
    for r in &releases {
        let positive = r.label == "positive";
        let v = judge_release(r.title.as_deref().unwrap_or(""), &r.body);
        assert!(!v.why.is_empty(), "{}: a verdict without reasons", r.id);
        m.add(positive, v.matched);
        let mark = if positive == v.matched { "ok  " } else { "MISS" };
        println!("{mark} {:<42} {:<8} -> {:<5} {}", r.id, r.label, v.matched, v.why.join("; "));
    }
    println!("releases.jsonl (title + body):\n{m}");
    assert!(m.precision() >= 0.95, "precision {:.3} < 0.95", m.precision());
    assert!(m.recall() >= 0.95, "recall {:.3} < 0.95", m.recall());
}

#[test]
fn mod_feed_titles_meet_targets() {
    let titles: Vec<FeedTitle> = read_jsonl(FEED_TITLES);
    let mut m = Confusion::default();
    let mut borderline = Vec::new();
    for t in titles.iter().filter(|t| t.source == "mod_news_xml") {
        let v = judge_title(&t.title, None);
        assert!(!v.why.is_empty(), "{}: a verdict without reasons", t.title);
        if t.label == "borderline" {
            borderline.push(format!("  {:<5} {} ({})", v.matched, t.title, v.why.join("; ")));
            continue;
        }
        let positive = t.label == "positive";
        if positive != v.matched {
            println!("MISS {:<8} -> {:<5} {} ({})", t.label, v.matched, t.title, v.why.join("; "));
        }
        m.add(positive, v.matched);
    }
    println!("mod_news_xml titles (judge_title().matched):\n{m}");
    println!("borderline (not scored), as classified:\n{}", borderline.join("\n"));
    assert!(m.tp + m.fn_ >= 20, "MOD positives shrank: {}", m.tp + m.fn_);
    assert!(m.tp >= 19, "only {} of {} MOD positives found", m.tp, m.tp + m.fn_);
    assert!(m.fp <= 1, "{} false positives among MOD negatives", m.fp);
}

#[test]
fn kantei_and_mofa_titles_have_no_false_positives() {
    let titles: Vec<FeedTitle> = read_jsonl(FEED_TITLES);
    for source in ["kantei_index_jnews", "mofa_press_release_index"] {
        let mut m = Confusion::default();
        let mut unsure = 0;
        for t in titles.iter().filter(|t| t.source == source && t.label != "borderline") {
            let v = judge_title(&t.title, None);
            if v.matched {
                println!("FALSE POSITIVE {source}: {} ({})", t.title, v.why.join("; "));
            }
            unsure += usize::from(!v.confident);
            m.add(t.label == "positive", v.matched);
        }
        println!("{source} titles:\n{m}\n  pages the title left to the release text: {unsure}");
        assert!(m.tp + m.fn_ + m.fp + m.tn > 20, "{source}: corpus shrank");
        assert_eq!(m.fp, 0, "{source}: false positives");
    }
}
