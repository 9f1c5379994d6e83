//! Events: the releases that describe one real-world meeting or visit.
//!
//! The Kantei, MOD and MOFA releases about one visit come hours apart, in
//! different words and languages. They are one event when they name the same
//! counterpart (country, or a person on the other side) within two days. An
//! event is stored once mailed, so a release that arrives a day later joins
//! it and goes out as an update that refers to the first digest.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::enrich::{Kind, Release};
use crate::extract::hex;
use crate::outbox::Entry;
use crate::store::{Result, Store, decode, encode};

/// Releases more than this many days apart are never one event.
pub const MAX_DAYS_APART: i64 = 2;

/// Events mailed longer ago than this are not joined by new releases.
pub const JOIN_WINDOW_DAYS: i64 = 14;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub headline: String,
    pub date: Option<NaiveDate>,
    pub country: Option<String>,
    /// Names of the people on the other side, for matching.
    #[serde(default)]
    pub people: Vec<String>,
    pub releases: Vec<EventRelease>,
    /// When the first digest reporting it was accepted.
    pub first_sent: Option<DateTime<Utc>>,
    pub message_id: Option<String>,
}

/// One source's release within an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRelease {
    pub item_id: String,
    pub url: Option<String>,
    pub title: String,
    pub source_id: String,
    pub source_name: String,
    pub date: Option<NaiveDate>,
    pub rule: String,
    pub why: Vec<String>,
    pub release: Option<Release>,
    /// Part of the digest being composed (not yet mailed).
    #[serde(default, skip_serializing)]
    pub is_new: bool,
}

/// An event as a digest reports it.
#[derive(Debug, Clone)]
pub struct Draft {
    pub event: Event,
    /// The event was mailed before; this digest adds releases to it.
    pub update: bool,
}

impl EventRelease {
    fn from_entry(e: &Entry) -> EventRelease {
        let date = e.release.as_ref().and_then(|r| r.date).or(e.item.date);
        EventRelease {
            item_id: e.item.id.clone(),
            url: e.item.url.clone(),
            title: e.item.title.clone(),
            source_id: e.source_id.clone(),
            source_name: e.source_name.clone(),
            date,
            rule: e.matched.rule.clone(),
            why: e.matched.why.clone(),
            release: e.release.clone(),
            is_new: true,
        }
    }

    fn country(&self) -> Option<&str> {
        self.release.as_ref()?.counterpart_country.as_deref().filter(|c| *c != "JP")
    }

    fn people(&self) -> Vec<String> {
        self.release
            .iter()
            .flat_map(|r| &r.participants)
            .filter(|p| p.country.as_deref() != Some("JP"))
            .map(|p| person_key(&p.name))
            .filter(|n| n.chars().count() >= 2)
            .collect()
    }
}

/// A name reduced for comparison: katakana names lose their middle dots, and
/// only the family name (the last part) is kept, so マティス and
/// ジェームズ・マティス meet.
fn person_key(name: &str) -> String {
    let folded = crate::text::fold(name);
    let last = folded.rsplit(['・', ' ', '･']).next().unwrap_or(&folded);
    last.to_owned()
}

fn days_apart(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<i64> {
    Some((a? - b?).num_days().abs())
}

impl Event {
    fn from_release(r: EventRelease) -> Event {
        let mut h = Sha256::new();
        h.update(r.item_id.as_bytes());
        let mut event = Event {
            id: hex(&h.finalize()[..10]),
            headline: String::new(),
            date: r.date,
            country: r.country().map(str::to_owned),
            people: r.people(),
            releases: vec![r],
            first_sent: None,
            message_id: None,
        };
        event.refresh();
        event
    }

    /// Whether `r` reports this event.
    fn admits(&self, r: &EventRelease) -> bool {
        if r.release.is_none() || self.releases.iter().all(|x| x.release.is_none()) {
            return false;
        }
        if self.releases.iter().any(|x| x.item_id == r.item_id) {
            return true;
        }
        if days_apart(self.date, r.date).is_none_or(|d| d > MAX_DAYS_APART) {
            return false;
        }
        let same_country = self.country.is_some() && self.country.as_deref() == r.country();
        let shared_person = r.people().iter().any(|p| self.people.contains(p));
        same_country || shared_person
    }

    fn add(&mut self, r: EventRelease) {
        if let Some(existing) = self.releases.iter_mut().find(|x| x.item_id == r.item_id) {
            *existing = r;
        } else {
            self.releases.push(r);
        }
        self.refresh();
    }

    /// Recomputes the headline, date, country and people from the releases.
    fn refresh(&mut self) {
        let rank = |r: &EventRelease| match r.release.as_ref().map(|x| x.kind) {
            Some(Kind::TwoPlusTwo) => 0,
            Some(Kind::Meeting) if r.title.contains("防衛相") || r.title.to_lowercase().contains("defense minist") => {
                1
            }
            Some(Kind::Meeting | Kind::Telephone | Kind::Video) => 2,
            Some(Kind::CourtesyCall) => 3,
            _ => 4,
        };
        // Ties go to a Japanese title (the readers' language), then the earliest.
        let foreign = |r: &EventRelease| !crate::enrich::facts::is_japanese(&r.title);
        if let Some(lead) = self.releases.iter().min_by_key(|r| (rank(r), foreign(r))) {
            self.headline = lead.title.clone();
            self.date = lead.date.or(self.date);
        }
        if self.country.is_none() {
            self.country = self.releases.iter().find_map(|r| r.country().map(str::to_owned));
        }
        let mut people: BTreeSet<String> = self.people.iter().cloned().collect();
        people.extend(self.releases.iter().flat_map(EventRelease::people));
        self.people = people.into_iter().collect();
    }
}

/// Groups entries into events, joining events already mailed (`known`)
/// where a new release belongs to one. Entries without facts (plain keyword
/// matches) each stand alone.
pub fn group(entries: &[&Entry], known: &[Event]) -> Vec<Draft> {
    let mut drafts: Vec<Draft> = Vec::new();
    // One item queued by two sources (a site's feed and its listing page,
    // polled in the same cycle) is one release: the copy with facts, else
    // the first.
    let mut releases: Vec<EventRelease> = Vec::with_capacity(entries.len());
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    for e in entries {
        match by_id.get(e.item.id.as_str()) {
            Some(&i) if releases[i].release.is_none() && e.release.is_some() => {
                releases[i] = EventRelease::from_entry(e);
            }
            Some(_) => {}
            None => {
                by_id.insert(&e.item.id, releases.len());
                releases.push(EventRelease::from_entry(e));
            }
        }
    }
    // Oldest meeting first, so an event's headline and date settle early.
    releases.sort_by_key(|r| r.date);
    for r in releases {
        if let Some(d) = drafts.iter_mut().find(|d| d.event.admits(&r)) {
            d.event.add(r);
        } else if let Some(old) = known.iter().find(|k| k.admits(&r)) {
            let mut event = old.clone();
            event.add(r);
            drafts.push(Draft { event, update: true });
        } else {
            drafts.push(Draft { event: Event::from_release(r), update: false });
        }
    }
    // Newest first, as a reader scans.
    drafts.sort_by_key(|d| std::cmp::Reverse(d.event.date));
    drafts
}

impl Store {
    /// Events mailed since `since`, newest first.
    pub fn events_since(&self, since: Option<NaiveDate>) -> Result<Vec<Event>> {
        let mut events: Vec<Event> = self
            .events
            .iter()
            .values()
            .map(|v| decode("event", &v?))
            .filter(|e: &Result<Event>| match (e, since) {
                (Ok(e), Some(since)) => e.date.is_none_or(|d| d >= since),
                _ => true,
            })
            .collect::<Result<_>>()?;
        events.sort_by(|a, b| b.date.cmp(&a.date).then(b.first_sent.cmp(&a.first_sent)));
        Ok(events)
    }

    /// How many events are stored (without decoding them).
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// Events mailed recently enough to be joined by a new release. The
    /// window counts from the mailing, not from the meeting: a release about
    /// an old meeting can still be late news.
    pub fn joinable_events(&self, now: DateTime<Utc>) -> Result<Vec<Event>> {
        let since = now - chrono::Duration::days(JOIN_WINDOW_DAYS);
        let mut events = self.events_since(None)?;
        events.retain(|e| e.first_sent.is_some_and(|t| t >= since));
        Ok(events)
    }
}

/// Events as stored after a delivery: marked sent, `is_new` cleared.
pub fn sent(events: &[Event], message_id: &str, at: DateTime<Utc>) -> Vec<(String, Vec<u8>)> {
    events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if e.first_sent.is_none() {
                e.first_sent = Some(at);
                e.message_id = Some(message_id.to_owned());
            }
            (e.id.clone(), encode(&e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Item;
    use crate::matcher::Match;

    fn entry(source: &str, item: &Item) -> Entry {
        Entry {
            source_id: source.into(),
            source_name: source.into(),
            item: item.clone(),
            matched: Match { rule: "keyword".into(), why: vec!["防衛相会談".into()], urgent: false },
            release: None,
            queued_at: Utc::now(),
        }
    }

    #[test]
    fn one_item_queued_by_two_sources_is_one_release() {
        let url = url::Url::parse("https://www.mod.go.jp/j/press/news/2026/11/29a.html").unwrap();
        let item = Item::new("mod", Some(url), "日豪防衛相会談について".into(), None);
        let other = Item::new("mod", None, "防衛相会談の予定".into(), None);
        let (feed, page, third) = (entry("mod-rss", &item), entry("mod-page", &item), entry("mod-rss", &other));
        let drafts = group(&[&feed, &page, &third], &[]);
        let releases: Vec<&str> =
            drafts.iter().flat_map(|d| d.event.releases.iter().map(|r| r.item_id.as_str())).collect();
        assert_eq!(releases.len(), 2, "{releases:?}");
        assert!(releases.contains(&item.id.as_str()) && releases.contains(&other.id.as_str()), "{releases:?}");
        // The delivery report counts releases as the digest shows them.
        let queued: Vec<(u64, crate::outbox::Queued)> =
            [feed, page, third].into_iter().zip(1..).map(|(e, k)| (k, crate::outbox::Queued::Item(e))).collect();
        let composed = crate::digest::compose(&queued, &[], 20, "", Utc::now()).expect("a digest");
        assert_eq!(composed.items, 2);
    }

    fn meeting(country: &str, date: NaiveDate) -> Release {
        Release {
            kind: Kind::Meeting,
            date: Some(date),
            start_time: None,
            local_time: false,
            duration_minutes: None,
            place: None,
            participants: vec![],
            counterpart_country: Some(country.into()),
            topics: vec![],
            unread: None,
        }
    }

    /// An event as mailed in an earlier digest.
    fn mailed(entries: &[&Entry]) -> Event {
        let mut event = group(entries, &[]).remove(0).event;
        event.first_sent = Some(Utc::now());
        event.message_id = Some("<digest.old@kisha>".into());
        event.releases.iter_mut().for_each(|r| r.is_new = false);
        event
    }

    #[test]
    fn the_copy_with_facts_of_an_item_two_sources_queued_joins_the_event_mailed_before() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let link = |u: &str| Some(url::Url::parse(u).unwrap());
        let mut mofa = entry(
            "mofa",
            &Item::new("mofa", link("https://www.mofa.go.jp/x.html"), "日米防衛相会談".into(), Some(day)),
        );
        mofa.release = Some(meeting("US", day));
        let known = mailed(&[&mofa]);
        // The listing page gives no date and no facts; the feed gives both.
        let url = "https://www.mod.go.jp/j/press/news/2026/11/29a.html";
        let page = entry("mod-page", &Item::new("mod", link(url), "日米防衛相会談について".into(), None));
        let mut feed = entry("mod-rss", &Item::new("mod", link(url), "日米防衛相会談について".into(), Some(day)));
        feed.release = Some(meeting("US", day));
        let drafts = group(&[&page, &feed], std::slice::from_ref(&known));
        assert_eq!(drafts.len(), 1);
        assert!(drafts[0].update, "an update of the event mailed before");
        let new: Vec<_> = drafts[0].event.releases.iter().filter(|r| r.is_new).collect();
        assert_eq!(new.len(), 1);
        assert!(new[0].release.is_some() && new[0].source_id == "mod-rss", "{new:?}");
    }

    #[test]
    fn an_item_without_facts_is_no_update_of_the_event_that_mailed_it() {
        let url = url::Url::parse("https://www.mod.go.jp/j/press/news/2026/11/29a.html").unwrap();
        let item = Item::new("mod", Some(url), "日豪防衛相会談について".into(), None);
        let known = mailed(&[&entry("mod-rss", &item)]);
        let drafts = group(&[&entry("mod-page", &item)], std::slice::from_ref(&known));
        assert!(!drafts[0].update);
    }
}
