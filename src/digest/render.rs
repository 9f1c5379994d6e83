//! The digest as people read it: a subject, a text part and an HTML part.
//!
//! Templates are minijinja, compiled into the binary (`templates/`). The HTML
//! template is auto-escaped, holds no script, no event handler and no remote
//! image, and its links are http(s) only (the Extractor drops the rest).

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use minijinja::Environment;
use serde::Serialize;

use super::event::{Draft, EventRelease};
use crate::dates::jst;
use crate::enrich::{Kind, Participant, Release};
use crate::outbox::Notice;
use crate::text::one_line;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("static syntax config"),
    );
    env.add_template("digest.txt", include_str!("../../templates/digest.txt")).expect("digest.txt is valid");
    env.add_template("digest.html", include_str!("../../templates/digest.html")).expect("digest.html is valid");
    env
});

#[derive(Debug, Serialize)]
pub struct View {
    pub heading: String,
    pub generated: String,
    pub version: &'static str,
    pub events: Vec<EventView>,
    /// Matches past `digest.max_entries`, one line each.
    pub listed: Vec<SourceView>,
    pub more: usize,
    pub more_since: String,
    pub notices: Vec<NoticeView>,
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub headline: String,
    /// One release without facts (a plain keyword match): shown in one block.
    pub compact: bool,
    pub update: bool,
    pub first_sent: Option<String>,
    pub when: Option<String>,
    pub place: Option<String>,
    pub who: Vec<String>,
    pub points: Vec<String>,
    pub sources: Vec<SourceView>,
}

#[derive(Debug, Serialize)]
pub struct SourceView {
    pub name: String,
    pub title: String,
    pub date: Option<String>,
    pub url: Option<String>,
    pub facts: Option<String>,
    pub topics: Vec<String>,
    pub unread: Option<String>,
    pub why: String,
    pub new: bool,
}

#[derive(Debug, Serialize)]
pub struct NoticeView {
    pub unhealthy: bool,
    pub text: String,
}

fn weekday(d: NaiveDate) -> &'static str {
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][d.weekday().num_days_from_monday() as usize]
}

fn day(d: NaiveDate) -> String {
    format!("{d} ({})", weekday(d))
}

fn when(r: &Release) -> Option<String> {
    let date = r.date.map(day);
    let time = r.start_time.as_ref().map(|t| format!("{t} {}", if r.local_time { "local time" } else { "JST" }));
    let duration = r.duration_minutes.map(|m| format!("about {m} min"));
    let parts: Vec<String> = [date, time, duration].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn facts_line(r: &Release) -> Option<String> {
    let mut parts = vec![r.kind.label().to_owned()];
    parts.extend(r.start_time.as_ref().map(|t| if r.local_time { format!("{t} local time") } else { t.clone() }));
    parts.extend(r.duration_minutes.map(|m| format!("about {m} min")));
    parts.extend(r.place.clone());
    (r.kind != Kind::Other || parts.len() > 1).then(|| parts.join(" · "))
}

fn person(p: &Participant) -> String {
    let mut detail: Vec<&str> = Vec::new();
    if !p.title.is_empty() {
        detail.push(&p.title);
    }
    if let Some(c) = &p.country {
        detail.push(c);
    }
    if detail.is_empty() { p.name.clone() } else { format!("{} ({})", p.name, detail.join(", ")) }
}

fn source_view(r: &EventRelease) -> SourceView {
    let release = r.release.as_ref();
    SourceView {
        name: r.source_name.clone(),
        title: r.title.clone(),
        date: r.date.map(day),
        url: r.url.clone(),
        facts: release.and_then(facts_line),
        topics: release.map(|x| x.topics.clone()).unwrap_or_default(),
        unread: release.and_then(|x| x.unread.as_deref()).map(|u| one_line(u, 120)),
        why: r.why.join("; "),
        new: r.is_new,
    }
}

fn event_view(d: &Draft) -> EventView {
    let e = &d.event;
    let releases: Vec<&Release> = e.releases.iter().filter_map(|r| r.release.as_ref()).collect();
    // The lead release (the one the headline comes from) speaks first.
    let lead = e.releases.iter().find(|r| r.title == e.headline).and_then(|r| r.release.as_ref());
    let ordered: Vec<&Release> = lead.into_iter().chain(releases.iter().copied()).collect();
    let when = ordered
        .iter()
        .find(|r| r.start_time.is_some())
        .or(ordered.first())
        .and_then(|r| when(r))
        .or_else(|| e.date.map(day));
    let place = ordered.iter().find_map(|r| r.place.clone());
    // One line per person, the fullest form of the name any release gives
    // (MOD writes マティス, MOFA ジェームズ・マティス); Japan's side first.
    let mut people: Vec<&Participant> = Vec::new();
    for p in ordered.iter().flat_map(|r| &r.participants) {
        let key = crate::text::fold(&p.name);
        match people.iter_mut().find(|q| {
            let k = crate::text::fold(&q.name);
            k.contains(&key) || key.contains(&k)
        }) {
            Some(q) if p.name.chars().count() > q.name.chars().count() => *q = p,
            Some(_) => {}
            None => people.push(p),
        }
    }
    people.sort_by_key(|p| p.country.as_deref() != Some("JP"));
    let who: Vec<String> = people.into_iter().map(person).collect();
    let points = ordered.iter().map(|r| &r.topics).find(|t| !t.is_empty()).cloned().unwrap_or_default();
    let single = e.releases.len() == 1 && releases.is_empty();
    // The lead release first, then by source, so the order does not depend
    // on which poll finished first.
    let mut releases_in_order: Vec<&EventRelease> = e.releases.iter().collect();
    releases_in_order.sort_by_key(|r| (r.title != e.headline, r.date, r.source_id.clone()));
    let sources = releases_in_order
        .into_iter()
        .map(source_view)
        .map(|mut s| {
            // The lead's topics are the event's points; don't say them twice.
            if s.topics == points {
                s.topics.clear();
            }
            s
        })
        .collect();
    EventView {
        compact: single,
        headline: e.headline.clone(),
        update: d.update,
        first_sent: e.first_sent.map(|t| t.with_timezone(&jst()).format("%Y-%m-%d %H:%M JST").to_string()),
        when: if single { None } else { when },
        place,
        who,
        points,
        sources,
    }
}

pub fn view(drafts: &[Draft], listed: &[EventRelease], notices: &[&Notice], more: usize, now: DateTime<Utc>) -> View {
    let local = now.with_timezone(&jst());
    let releases: usize = drafts.iter().map(|d| d.event.releases.iter().filter(|r| r.is_new).count()).sum();
    let total = releases + listed.len() + more;
    let heading = format!(
        "kisha digest, {} · {} event{}, {total} new release{}{}",
        local.format("%Y-%m-%d %H:%M JST"),
        drafts.len(),
        if drafts.len() == 1 { "" } else { "s" },
        if total == 1 { "" } else { "s" },
        if listed.len() + more > 0 {
            format!(
                " ({} in brief{})",
                listed.len() + more,
                if more > 0 { format!(", {more} only counted") } else { String::new() }
            )
        } else {
            String::new()
        },
    );
    let notices = notices
        .iter()
        .map(|n| NoticeView {
            unhealthy: n.unhealthy,
            text: one_line(
                &{
                    let (name, id) = (&n.source_name, &n.source_id);
                    let at = n.at.with_timezone(&jst()).format("%Y-%m-%d %H:%M");
                    match (n.once, n.unhealthy) {
                        (true, _) => format!("{name} ({id}) at {at}: {}", n.detail),
                        (false, true) => format!("{name} ({id}) is unhealthy since {at}: {}", n.detail),
                        (false, false) => format!("{name} ({id}) recovered at {at}"),
                    }
                },
                300,
            ),
        })
        .collect();
    View {
        heading,
        generated: local.format("%Y-%m-%d %H:%M:%S JST").to_string(),
        version: env!("CARGO_PKG_VERSION"),
        events: drafts.iter().map(event_view).collect(),
        listed: listed.iter().map(source_view).collect(),
        more,
        more_since: (local.date_naive() - chrono::Days::new(7)).to_string(),
        notices,
    }
}

pub fn subject(prefix: &str, drafts: &[Draft], more: usize) -> String {
    let first = drafts.first().map(|d| d.event.headline.as_str()).unwrap_or("");
    let update = drafts.first().is_some_and(|d| d.update);
    let mut s = String::new();
    if !prefix.is_empty() {
        s.push_str(prefix);
        s.push(' ');
    }
    if update {
        s.push_str("Update: ");
    }
    s.push_str(&one_line(first, 80));
    if let Some(date) = drafts.first().and_then(|d| d.event.date) {
        s.push_str(&format!(" ({date})"));
    }
    let others = drafts.len().saturating_sub(1) + more;
    if others > 0 {
        s.push_str(&format!(" +{others} more"));
    }
    one_line(&s, 200)
}

pub fn text(view: &View) -> String {
    TEMPLATES
        .get_template("digest.txt")
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(view))))
        .unwrap_or_else(|e| format!("(digest text could not be rendered: {e})"))
}

pub fn html(view: &View) -> String {
    TEMPLATES
        .get_template("digest.html")
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(view))))
        .unwrap_or_else(|e| format!("<p>digest could not be rendered: {}</p>", minijinja::HtmlEscape(&e.to_string())))
}
