//! `kisha inspect`: what a source or a release page yields, and why it
//! matches or not. It changes no state and sends no mail (compare urlwatch's
//! `--test-filter`).
//!
//! The target is a source id from the config, a URL or a file. A feed, or a
//! URL or id of a configured source, is shown as its items; any other HTML is
//! taken as a release page and shown with its facts.

use std::path::Path;

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use url::Url;

use crate::config::{Config, Preset, Rule, RuleKind, Source, SourceKind};
use crate::dates::jst_date;
use crate::enrich::{Enricher, Kind, Participant, Release, ReleasePage, page::read_release_checked};
use crate::extract::{self, Item};
use crate::fetch::{Fetched, Fetcher, Validators, decode};
use crate::matcher::{Judged, Matcher, Verdict};

/// One item or page, in the shape `--json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Inspected {
    pub url: Option<String>,
    pub title: String,
    pub date: Option<NaiveDate>,
    pub matched: bool,
    pub rule: Option<String>,
    pub why: Vec<String>,
    pub facts: Option<Facts>,
    #[serde(skip)]
    pub id: String,
    /// Why the page could not be read, when `--follow` tried.
    #[serde(skip)]
    pub unread: Option<String>,
}

/// The facts as `inspect --json` prints them.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub kind: Kind,
    pub date: Option<NaiveDate>,
    pub start_time: Option<String>,
    pub local_time: bool,
    pub duration_minutes: Option<u32>,
    pub place: Option<String>,
    pub participants: Vec<Participant>,
    pub counterpart_country: Option<String>,
    pub topics: Vec<String>,
}

impl From<&Release> for Facts {
    fn from(r: &Release) -> Facts {
        Facts {
            kind: r.kind,
            date: r.date,
            start_time: r.start_time.clone(),
            local_time: r.local_time,
            duration_minutes: r.duration_minutes,
            place: r.place.clone(),
            participants: r.participants.clone(),
            counterpart_country: r.counterpart_country.clone(),
            topics: r.topics.clone(),
        }
    }
}

/// What was inspected.
pub enum Report {
    /// A source: its items.
    Items { source: String, url: String, items: Vec<Inspected> },
    /// A release page.
    Release(Box<Inspected>),
}

/// The rules `inspect` judges with: the config's, or the flagship preset.
pub fn rules_for(config: Option<&Config>) -> Vec<Rule> {
    match config {
        Some(c) if !c.rules.is_empty() => c.rules.clone(),
        _ => vec![Rule {
            id: "defense-meeting".into(),
            kind: RuleKind::Preset(Preset::JpDefenseMeeting),
            none: Vec::new(),
            sources: Vec::new(),
            urgent: false,
            follow: true,
        }],
    }
}

/// The verdict of the first rule that matches, or of the first rule.
fn judge(rules: &[Rule], source_id: &str, item: &Item, page: Option<&ReleasePage>) -> (Option<String>, Verdict) {
    let mut first = None;
    for rule in rules.iter().filter(|r| r.applies_to(source_id)) {
        let judged = Judged { rule: rule.clone(), verdict: Matcher::verdict(rule, item) };
        let verdict = match page {
            Some(_) => Matcher::decide(&judged, item, page),
            None => {
                let mut v = judged.verdict.clone();
                if !v.confident {
                    v.why.push("decided on the title alone; --follow reads the release page".into());
                }
                v
            }
        };
        if verdict.matched {
            return (Some(rule.id.clone()), verdict);
        }
        first.get_or_insert((rule.id.clone(), verdict));
    }
    match first {
        Some((id, v)) => (Some(id), v),
        None => (None, Verdict::no("no rule applies to this source")),
    }
}

fn looks_like_feed(bytes: &[u8], content_type: Option<&str>) -> bool {
    if content_type.is_some_and(|ct| ct.contains("rss") || ct.contains("atom") || ct.contains("rdf")) {
        return true;
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    ["<rss", "<feed", "<rdf:rdf"].iter().any(|m| head.contains(m)) && !head.contains("<html")
}

async fn get(fetcher: &Fetcher, url: &Url) -> anyhow::Result<crate::fetch::Body> {
    match fetcher.get(url, &Validators::default()).await {
        Ok(Fetched::Body(b)) => Ok(b),
        Ok(Fetched::NotModified) => anyhow::bail!("inspect: {url} answered 304 to an unconditional GET"),
        Err(e) => anyhow::bail!("inspect: unable to fetch {url}: {e}"),
    }
}

async fn items_of(
    source: &Source,
    body: &crate::fetch::Body,
    rules: &[Rule],
    follow: bool,
    enricher: &Enricher,
    max_items: usize,
) -> anyhow::Result<Vec<Inspected>> {
    let today = jst_date(Utc::now());
    let extracted = match &source.kind {
        SourceKind::Feed => extract::feed::extract(
            &source.id,
            &body.bytes,
            body.content_type.as_deref(),
            &body.url,
            max_items,
            extract::Depth::Full,
        )?,
        SourceKind::Page(sel) => {
            let text = decode::decode(&body.bytes, body.content_type.as_deref()).text;
            extract::page::extract(&source.id, &text, &body.url, sel, max_items, today, extract::Depth::Full)?
        }
    };
    let mut out = Vec::new();
    for item in extracted.items {
        let (title_rule, title_verdict) = judge(rules, &source.id, &item, None);
        let wants = follow && (title_verdict.matched || !title_verdict.confident);
        let (rule, verdict, facts, unread) = if wants {
            let (release, page) = enricher.enrich(&item).await;
            let (rule, verdict) = judge(rules, &source.id, &item, page.as_ref());
            (rule, verdict, Some(Facts::from(&release)), release.unread)
        } else {
            (title_rule, title_verdict, None, None)
        };
        out.push(Inspected::new(&item, rule, verdict, facts, unread));
    }
    Ok(out)
}

impl Inspected {
    fn new(item: &Item, rule: Option<String>, verdict: Verdict, facts: Option<Facts>, unread: Option<String>) -> Self {
        Inspected {
            url: item.url.clone(),
            title: item.title.clone(),
            date: item.date,
            matched: verdict.matched,
            rule: rule.filter(|_| verdict.matched),
            why: verdict.why,
            facts,
            id: item.id.clone(),
            unread,
        }
    }
}

fn release_report(
    url: Option<Url>,
    bytes: &[u8],
    content_type: Option<&str>,
    rules: &[Rule],
) -> anyhow::Result<Inspected> {
    let text = decode::decode(bytes, content_type).text;
    let page =
        read_release_checked(&text).map_err(|reason| anyhow::anyhow!("inspect: unable to read the page: {reason}"))?;
    let title = page.title.clone().unwrap_or_default();
    let mut item = Item::new("inspect", url, title, page.date);
    item.date = page.date.or_else(|| item.url.as_deref().and_then(crate::dates::date_in_url));
    let release = crate::enrich::facts::extract(&item, Some(&page));
    let (rule, verdict) = judge(rules, "inspect", &item, Some(&page));
    Ok(Inspected::new(&item, rule, verdict, Some(Facts::from(&release)), None))
}

/// Inspects `target` (a source id, a URL or a file). `base` is the URL a
/// file's relative links resolve against (it was saved from there).
pub async fn inspect(
    target: &str,
    config: Option<&Config>,
    follow: bool,
    base: Option<&Url>,
) -> anyhow::Result<Report> {
    let rules = rules_for(config);
    let settings = config.map(|c| c.fetch.clone()).unwrap_or_default();
    let fetcher = Fetcher::new(&settings)?;
    let enricher = Enricher::new(fetcher.clone());

    let configured =
        config.and_then(|c| c.source(target).or_else(|| c.sources.iter().find(|s| s.url.as_str() == target)));
    if let Some(source) = configured {
        let body = get(&fetcher, &source.url).await?;
        let items = items_of(source, &body, &rules, follow, &enricher, settings.max_items).await?;
        return Ok(Report::Items {
            source: format!("{} ({})", source.id, source.name),
            url: source.url.to_string(),
            items,
        });
    }

    let (url, bytes, content_type) = match Url::parse(target) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            let body = get(&fetcher, &url).await?;
            (body.url.clone(), body.bytes, body.content_type)
        }
        _ => {
            let path = Path::new(target);
            if !path.exists() {
                let hint = if config.is_some() {
                    "not a source id of the config, a URL or a file"
                } else {
                    "not a URL or a file (pass --config to inspect a source by id)"
                };
                anyhow::bail!("inspect: `{target}` is {hint}");
            }
            let bytes =
                std::fs::read(path).map_err(|e| anyhow::anyhow!("inspect: unable to read {}: {e}", path.display()))?;
            let url = match base {
                Some(b) => b.clone(),
                None => {
                    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
                    Url::from_file_path(&abs)
                        .map_err(|_| anyhow::anyhow!("inspect: unusable path {}", abs.display()))?
                }
            };
            (url, bytes, None)
        }
    };
    if looks_like_feed(&bytes, content_type.as_deref()) {
        let source = Source {
            id: "inspect".into(),
            name: url.to_string(),
            url: url.clone(),
            interval: std::time::Duration::from_secs(600),
            enabled: true,
            kind: SourceKind::Feed,
        };
        let body = crate::fetch::Body { url: url.clone(), bytes, content_type, validators: Validators::default() };
        let items = items_of(&source, &body, &rules, follow, &enricher, settings.max_items).await?;
        return Ok(Report::Items { source: "feed".into(), url: url.to_string(), items });
    }
    let page_url = matches!(url.scheme(), "http" | "https").then_some(url);
    Ok(Report::Release(Box::new(release_report(page_url, &bytes, content_type.as_deref(), &rules)?)))
}

fn facts_lines(f: &Facts, out: &mut String) {
    let people: Vec<String> = f
        .participants
        .iter()
        .map(|p| {
            format!("{} ({}{})", p.name, p.title, p.country.as_deref().map(|c| format!(", {c}")).unwrap_or_default())
        })
        .collect();
    let rows = [
        ("kind", Some(f.kind.label().to_owned())),
        ("date", f.date.map(|d| d.to_string())),
        (
            "start",
            f.start_time.as_ref().map(|t| if f.local_time { format!("{t} local time") } else { format!("{t} JST") }),
        ),
        ("duration", f.duration_minutes.map(|m| format!("{m} min"))),
        ("place", f.place.clone()),
        ("who", (!people.is_empty()).then(|| people.join("; "))),
        ("counterpart", f.counterpart_country.clone()),
        ("topics", (!f.topics.is_empty()).then(|| f.topics.join(" · "))),
    ];
    for (k, v) in rows {
        out.push_str(&format!("           {k:<12}{}\n", v.as_deref().unwrap_or("-")));
    }
}

/// The report as text.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    match report {
        Report::Items { source, url, items } => {
            let matched = items.iter().filter(|i| i.matched).count();
            out.push_str(&format!("{source}  {url}\n{} items, {matched} matched\n\n", items.len()));
            for i in items {
                let date = i.date.map(|d| d.to_string()).unwrap_or_else(|| "----------".into());
                out.push_str(&format!("{}  {date}  {}\n", if i.matched { "MATCH" } else { "  -  " }, i.title));
                out.push_str(&format!("           id   {}\n", i.id));
                if let Some(u) = i.url.as_ref().filter(|u| **u != i.id) {
                    out.push_str(&format!("           link {u}\n"));
                }
                out.push_str(&format!("           why  {}\n", i.why.join("; ")));
                if let Some(f) = &i.facts {
                    if let Some(reason) = &i.unread {
                        out.push_str(&format!("           page not read: {reason}\n"));
                    }
                    facts_lines(f, &mut out);
                }
            }
        }
        Report::Release(i) => {
            out.push_str(&format!("{}\n", i.title));
            if let Some(u) = &i.url {
                out.push_str(&format!("{u}\n"));
            }
            out.push_str(&format!(
                "\n{}  {}\n           why  {}\n",
                if i.matched { "MATCH" } else { "no match" },
                i.rule.as_deref().unwrap_or(""),
                i.why.join("; ")
            ));
            if let Some(f) = &i.facts {
                facts_lines(f, &mut out);
            }
        }
    }
    out
}

/// The report as JSON: an array for a source, an object for a page.
pub fn to_json(report: &Report) -> String {
    // Serialised straight from the structs, so keys keep their documented order.
    let json = match report {
        Report::Items { items, .. } => serde_json::to_string_pretty(items),
        Report::Release(i) => serde_json::to_string_pretty(i),
    };
    json.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
