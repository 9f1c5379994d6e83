//! The Enricher: a matched item's release page, read for its facts.
//!
//! It fetches the page (through the same polite [`Fetcher`]), finds the
//! release text inside the site's header, navigation and footer
//! ([`page::read_release`]), and extracts the facts into a typed [`Release`]
//! ([`facts::extract`]). When the page cannot be read (MOD answers 403 to
//! servers), the facts come from the title, the link and the date in the URL,
//! and the release says so; the item is never dropped.

pub mod facts;
pub mod page;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::extract::Item;
use crate::fetch::{Fetched, Fetcher, Validators, decode};

pub use page::ReleasePage;

/// What kind of encounter a release reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "meeting")]
    Meeting,
    #[serde(rename = "telephone")]
    Telephone,
    #[serde(rename = "video")]
    Video,
    #[serde(rename = "2+2")]
    TwoPlusTwo,
    #[serde(rename = "courtesy_call")]
    CourtesyCall,
    #[serde(rename = "announcement")]
    Announcement,
    #[serde(rename = "other")]
    Other,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Meeting => "meeting",
            Kind::Telephone => "telephone talk",
            Kind::Video => "video talk",
            Kind::TwoPlusTwo => "2+2",
            Kind::CourtesyCall => "courtesy call",
            Kind::Announcement => "announcement",
            Kind::Other => "other",
        }
    }
}

/// One person at the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub name: String,
    pub title: String,
    /// ISO 3166 alpha-2.
    pub country: Option<String>,
}

/// The facts of one release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub kind: Kind,
    /// The day of the meeting (not of the release).
    pub date: Option<NaiveDate>,
    /// "HH:MM", 24-hour.
    pub start_time: Option<String>,
    /// The time is local to where the meeting was (現地時間), not JST.
    pub local_time: bool,
    pub duration_minutes: Option<u32>,
    /// 防衛省, a city, or "telephone" / "video".
    pub place: Option<String>,
    pub participants: Vec<Participant>,
    /// ISO 3166 alpha-2 of the other side.
    pub counterpart_country: Option<String>,
    /// The numbered headings (1 北朝鮮, 2 地域情勢等 …).
    pub topics: Vec<String>,
    /// Why the page could not be read; `None` when the facts come from it.
    pub unread: Option<String>,
}

/// Fetches and reads release pages.
#[derive(Clone)]
pub struct Enricher {
    fetcher: Fetcher,
}

impl Enricher {
    pub fn new(fetcher: Fetcher) -> Enricher {
        Enricher { fetcher }
    }

    /// Fetches and reads the release at `url`.
    pub async fn read(&self, url: &str) -> Result<ReleasePage, String> {
        let url = Url::parse(url).map_err(|e| format!("invalid URL {url}: {e}"))?;
        match self.fetcher.get(&url, &Validators::default()).await {
            Ok(Fetched::Body(body)) => {
                let is_html =
                    body.content_type.as_deref().is_none_or(|ct| ct.contains("html") || ct.contains("text/plain"));
                if !is_html {
                    return Err(format!("not an HTML page ({})", body.content_type.unwrap_or_default()));
                }
                // Parsing is CPU work: off the async threads, so that a big
                // page never stalls the other sources' requests.
                let content_type = body.content_type;
                tokio::task::spawn_blocking(move || {
                    let text = decode::decode(&body.bytes, content_type.as_deref()).text;
                    page::read_release_checked(&text)
                })
                .await
                .map_err(|e| format!("reading the page failed: {e}"))?
            }
            Ok(Fetched::NotModified) => Err("server answered 304 to an unconditional GET".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The facts of a matched item: from its page when it can be read.
    pub async fn enrich(&self, item: &Item) -> (Release, Option<ReleasePage>) {
        let page = match &item.url {
            Some(url) => self.read(url).await,
            None => Err("the item has no link".into()),
        };
        match page {
            Ok(page) => (facts::extract(item, Some(&page)), Some(page)),
            Err(reason) => {
                let mut release = facts::extract(item, None);
                release.unread = Some(reason);
                (release, None)
            }
        }
    }
}
