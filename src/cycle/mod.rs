//! One cycle: poll the due sources, then deliver what is due.
//!
//! This is the only place that calls the stages in order, for one source:
//! Fetcher → Extractor → Store (what is new) → Matcher → Enricher → Store
//! (seen + outbox + source state: one transaction when something is queued,
//! see [`Store::write_poll`]). After the sources,
//! [`deliver`] takes the outbox through Digest → Mailer. A failing source is
//! recorded and logged with its URL; the others go on.
//!
//! - [`health`]: a source's problems (failing, empty, mojibake, repaired)
//!   and the notices when they start and end; moved-site detection.
//! - [`deliver`](mod@deliver): the delivery state machine (in flight, sent,
//!   acknowledged, backoff, suspension).

mod deliver;
mod health;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use crate::clock::Clock;
use crate::config::{Config, FirstRun, Source, SourceKind};
use crate::dates::jst_date;
use crate::enrich::Enricher;
use crate::extract::{self, Depth, Extracted, Item};
use crate::fetch::{Fetched, Fetcher};
use crate::matcher::Matcher;
use crate::outbox::{Entry, Queued};
use crate::schedule;
use crate::store::listing::Listed;
use crate::store::{Relisting, SourceState, Store, encode};

pub use deliver::{Delivery, deliver, mail_backoff};
use health::{health_notices, moved_items, one_off, problem_set, set_problem};

/// A source is called failing after this many errors in a row.
pub const FAILING_AFTER: u32 = 3;

/// Release pages read at once for one source's new matches.
const ENRICH_CONCURRENCY: usize = 4;

/// Release pages read in one poll of one source. A burst beyond this (a
/// redesigned site whose URLs all changed) is judged on titles alone, so a
/// poll stays bounded in time and in requests.
const MAX_PAGES_PER_POLL: usize = 24;

/// Bodies up to this size are parsed on the cycle's own thread, bigger ones
/// on the blocking pool (see `poll_source_inner`).
const PARSE_INLINE_BYTES: usize = 64 * 1024;

/// A `304` on a healthy source changes nothing but its poll times; they are
/// written at most this often, so a store polled every few minutes for months
/// does not grow with rewrites of the same record (sled 0.34 reclaims old
/// versions slowly). The daemon's status snapshot shows the exact times.
const QUIET_WRITE_EVERY: chrono::Duration = chrono::Duration::hours(1);

/// A share of U+FFFD in titles above this is taken for a wrong charset.
const MOJIBAKE_RATIO: f64 = 0.05;

/// Crash injection for the kill tests: with `KISHA_CRASH_AT=<point>` in the
/// environment the process aborts at that point, as abruptly as a SIGKILL
/// (no destructor runs, nothing is flushed). The points are the boundaries
/// the invariants are about: `fetched`, `half-written` (inside the write of
/// a poll that queued nothing, its first part made durable), `committed`,
/// `in-flight`, `sent`, `acked`.
pub(crate) fn crash_point(point: &str) {
    if crash_wanted(point) {
        eprintln!("kisha: KISHA_CRASH_AT={point}: aborting");
        std::process::abort();
    }
}

/// Whether `KISHA_CRASH_AT` names `point`.
pub(crate) fn crash_wanted(point: &str) -> bool {
    std::env::var_os("KISHA_CRASH_AT").is_some_and(|p| p == point)
}

/// Proof of life from the work loop, for the systemd watchdog: the time of the
/// last finished step, in milliseconds since the epoch.
#[derive(Clone, Default)]
pub struct Heartbeat(Arc<std::sync::atomic::AtomicI64>);

impl Heartbeat {
    pub fn beat(&self, now: DateTime<Utc>) {
        self.0.store(now.timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
    }

    pub fn last(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.0.load(std::sync::atomic::Ordering::Relaxed)).filter(|t| t.timestamp() > 0)
    }
}

/// Everything a cycle needs, shared by the tasks of one cycle.
#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub store: Arc<Store>,
    pub fetcher: Fetcher,
    pub enricher: Enricher,
    pub matcher: Arc<Matcher>,
    pub clock: Clock,
    pub heartbeat: Heartbeat,
}

impl Context {
    /// Opens the store and builds the stages for `config`.
    pub fn open(config: Config, clock: Clock) -> anyhow::Result<Context> {
        let store = Store::open(&config.state_dir, config.store.cache_bytes)?;
        Context::with_store(config, Arc::new(store), clock)
    }

    pub fn with_store(config: Config, store: Arc<Store>, clock: Clock) -> anyhow::Result<Context> {
        let fetcher = Fetcher::new(&config.fetch)?;
        Ok(Context {
            matcher: Arc::new(Matcher::new(&config.rules)),
            enricher: Enricher::new(fetcher.clone()),
            fetcher,
            store,
            config: Arc::new(config),
            clock,
            heartbeat: Heartbeat::default(),
        })
    }

    /// The longest one poll of one source may take: the listing, then its
    /// release pages four at a time. Past it the poll is abandoned (nothing
    /// of it was committed) and recorded as a failure.
    pub fn poll_deadline(&self) -> Duration {
        let rounds = MAX_PAGES_PER_POLL.div_ceil(ENRICH_CONCURRENCY) as u32;
        self.config.fetch.timeout * (1 + rounds) + Duration::from_secs(5)
    }
}

/// What one poll of one source came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    NotModified,
    /// First successful poll: recorded, nothing mailed.
    Baseline {
        items: usize,
    },
    Polled {
        items: usize,
        new: usize,
        matched: usize,
    },
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone)]
pub struct SourceReport {
    pub id: String,
    pub outcome: Outcome,
    /// When the poll finished.
    pub polled_at: DateTime<Utc>,
    /// When the source is due again (interval, jitter, backoff, Retry-After).
    pub next_poll: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct CycleReport {
    pub sources: Vec<SourceReport>,
    pub delivery: Delivery,
}

fn extract_items(
    source: &Source,
    body: &crate::fetch::Body,
    now: DateTime<Utc>,
    max_items: usize,
    depth: Depth,
) -> Result<Extracted, extract::ExtractError> {
    match &source.kind {
        SourceKind::Feed => {
            extract::feed::extract(&source.id, &body.bytes, body.content_type.as_deref(), &body.url, max_items, depth)
        }
        SourceKind::Page(sel) => {
            let decoded = crate::fetch::decode::decode(&body.bytes, body.content_type.as_deref());
            extract::page::extract(&source.id, &decoded.text, &body.url, sel, max_items, jst_date(now), depth)
        }
    }
}

/// Judges the new items, reading release pages where a rule wants them.
async fn match_items(ctx: &Context, source: &Source, new: &[&Item], now: DateTime<Utc>) -> Vec<Entry> {
    let judged: Vec<_> =
        new.iter().filter_map(|item| ctx.matcher.judge(&source.id, item).map(|j| ((*item).clone(), j))).collect();
    let permits = Arc::new(Semaphore::new(ENRICH_CONCURRENCY));
    let mut tasks = JoinSet::new();
    let mut pages = 0;
    for (index, (item, judged)) in judged.into_iter().enumerate() {
        let ctx = ctx.clone();
        let permits = permits.clone();
        let source = source.clone();
        let read_page = judged.wants_page() && pages < MAX_PAGES_PER_POLL;
        pages += usize::from(read_page);
        let capped = judged.wants_page() && !read_page;
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let (release, page) = if capped {
                let mut release = crate::enrich::facts::extract(&item, None);
                release.unread = Some(format!("more than {MAX_PAGES_PER_POLL} new matches in one poll: pages not read"));
                (Some(release), None)
            } else if read_page {
                let (release, page) = ctx.enricher.enrich(&item).await;
                if let Some(reason) = &release.unread {
                    debug!(source = %source.id, url = item.url.as_deref().unwrap_or(""), reason = %reason, "release page not read");
                }
                (Some(release), page)
            } else {
                (None, None)
            };
            let matched = Matcher::confirm(&judged, &item, page.as_ref())?;
            let release = release.filter(|_| judged.rule.follow);
            Some((index, Entry { source_id: source.id.clone(), source_name: source.name.clone(), item, matched, release, queued_at: now }))
        });
    }
    let mut entries: Vec<(usize, Entry)> = tasks.join_all().await.into_iter().flatten().collect();
    entries.sort_by_key(|(i, _)| *i);
    entries.into_iter().map(|(_, e)| e).collect()
}

/// Polls one source and records the result. Errors are recorded in the
/// source's state, never returned: one bad source does not stop a cycle.
pub async fn poll_source(ctx: &Context, source: &Source) -> SourceReport {
    let deadline = ctx.poll_deadline();
    let result = match tokio::time::timeout(deadline, poll_source_inner(ctx, source)).await {
        Ok(result) => result,
        Err(_) => {
            let error = format!("the poll took longer than {}s and was abandoned", deadline.as_secs());
            match ctx.store.source_state(&source.id) {
                Ok(state) => {
                    let state = state.unwrap_or_default();
                    let before = problem_set(&state);
                    record_failure(ctx, source, state, &before, error, None, ctx.clock.now()).await
                }
                Err(e) => Err(e.into()),
            }
        }
    };
    let polled_at = ctx.clock.now();
    ctx.heartbeat.beat(polled_at);
    match result {
        Ok((outcome, next)) => SourceReport { id: source.id.clone(), outcome, polled_at, next_poll: Some(next) },
        Err(e) => {
            error!(source = %source.id, url = %source.url, "unable to record the poll: {e:#}");
            let outcome = Outcome::Failed { error: format!("{e:#}") };
            SourceReport { id: source.id.clone(), outcome, polled_at, next_poll: None }
        }
    }
}

async fn poll_source_inner(ctx: &Context, source: &Source) -> anyhow::Result<(Outcome, DateTime<Utc>)> {
    let store = &ctx.store;
    let settings = &ctx.config.fetch;
    let mut state = store.source_state(&source.id)?.unwrap_or_default();
    if state.url != source.url.as_str() {
        // A new URL is a new listing: forget the old validators and baseline again.
        state.validators = Default::default();
        state.baseline_done = state.url.is_empty() && state.baseline_done;
        state.url = source.url.to_string();
    }
    let before = problem_set(&state);
    let started = ctx.clock.now();
    let fetched = ctx.fetcher.get(&source.url, &state.validators).await;
    let now = ctx.clock.now();
    state.last_poll = Some(now);

    crash_point("fetched");
    let body = match fetched {
        Ok(Fetched::NotModified) => {
            debug!(source = %source.id, url = %source.url, "not modified");
            return record_success(ctx, source, state, &before, None, &[], Vec::new(), now, true)
                .await
                .map(|next| (Outcome::NotModified, next));
        }
        Ok(Fetched::Body(body)) => body,
        Err(e) => {
            let retry_after = e.retry_after();
            return record_failure(ctx, source, state, &before, e.to_string(), retry_after, now).await;
        }
    };
    // A stored listing that cannot be read (a record cut by a disk fault)
    // would fail every poll of its source. This poll records the listing
    // afresh instead, as a baseline: what the lost part held cannot be told
    // from what is new, and mailing all of it would flood the inbox. The
    // part still readable stands for the last listing, so what left it
    // keeps its record. It is read before parsing, which a baseline does
    // to less depth; a store that cannot be read fails the poll only once
    // the body parsed, as a body that does not parse is recorded first.
    let last_listing = store.last_listing(&source.id);
    let unreadable_listing = matches!(&last_listing, Ok((_, Some(_))));
    let baseline = unreadable_listing || (!state.baseline_done && ctx.config.first_run == FirstRun::Baseline);
    // A baseline mails nothing: it reads only what its listing keeps.
    let depth = if baseline { Depth::Listing } else { Depth::Full };
    // Parsing is CPU work. A big document is parsed off the async thread, so
    // it never stalls the other sources' requests (or their timeouts); a
    // small one here (about a millisecond at most: `cargo bench`, a 64 KiB
    // listing page), which spares a thread handoff and a second malloc arena.
    let validators = body.validators.clone();
    let parsed = if body.bytes.len() <= PARSE_INLINE_BYTES {
        let parse = || extract_items(source, &body, now, settings.max_items, depth);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).map_err(|_| "panicked".to_owned())
    } else {
        let (source, max_items) = (source.clone(), settings.max_items);
        tokio::task::spawn_blocking(move || extract_items(&source, &body, now, max_items, depth))
            .await
            .map_err(|e| e.to_string())
    };
    let extracted = match parsed {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => {
            return record_failure(ctx, source, state, &before, e.to_string(), None, now).await;
        }
        Err(e) => {
            let error = format!("unable to parse: the parser stopped ({e})");
            return record_failure(ctx, source, state, &before, error, None, now).await;
        }
    };
    debug!(source = %source.id, items = extracted.items.len(), ms = (now - started).num_milliseconds(), "extracted");

    // Health: a listing that suddenly yields nothing was probably redesigned;
    // titles full of U+FFFD were decoded with the wrong charset.
    let empty = extracted.items.is_empty() && state.last_item_count.is_some_and(|n| n > 0);
    let selector_hint = match &source.kind {
        SourceKind::Page(sel) => format!(" (selector `{}`)", sel.item.text),
        SourceKind::Feed => String::new(),
    };
    let empty_detail = (empty || (extracted.items.is_empty() && state.problems.iter().any(|p| p.kind == "empty")))
        .then(|| {
            format!(
                "the listing yielded no items{selector_hint}, after {} last time: redesigned?",
                state.last_item_count.unwrap_or(0)
            )
        });
    set_problem(&mut state, "empty", empty_detail, now);
    let mojibake = (extracted.mojibake > MOJIBAKE_RATIO)
        .then(|| format!("{:.0}% of the title characters are U+FFFD: wrong charset?", extracted.mojibake * 100.0));
    set_problem(&mut state, "mojibake", mojibake, now);
    // A feed kisha had to repair (a bare `&`, a truncated body) or a page it
    // had to cut still delivers, but the site should hear about it.
    set_problem(&mut state, "repaired", extracted.note.clone(), now);
    if extracted.over_cap > 0 {
        warn!(source = %source.id, url = %source.url, kept = extracted.items.len(), dropped = extracted.over_cap, "more items than fetch.max_items");
    }
    if extracted.refused_links > 0 {
        debug!(source = %source.id, refused = extracted.refused_links, "links that are not http(s) were dropped");
    }

    let (last, unreadable) = last_listing?;
    if let Some(detail) = &unreadable {
        warn!(source = %source.id, url = %source.url, "store: unable to decode the listing of source `{}`: {detail}; recording the listing again, mailing nothing from this poll", source.id);
    }
    let listing = Listed::all(&extracted.items);
    let new = store.unseen(extracted.items.iter().zip(listing.iter().map(|l| l.id)), &last, !baseline)?;
    // A site that moves its pages lists the same titles under new URLs: those
    // items are recorded, not mailed, and the move is reported once. Not
    // against a listing cut short: the items of its lost part that are still
    // listed look new, and would pass for moved ones under a repeated title.
    let moved = if unreadable.is_some() { Vec::new() } else { moved_items(&last, &listing, &new) };
    let fresh: Vec<&Item> = new.iter().copied().filter(|i| !moved.iter().any(|m| m.id == i.id)).collect();
    let moved_detail = (!moved.is_empty())
        .then(|| format!("{} items reappeared under new URLs (site moved?); recorded, not mailed", moved.len()));
    if let Some(detail) = &moved_detail {
        warn!(source = %source.id, url = %source.url, moved = moved.len(), "{detail}");
    }
    let entries = if baseline { Vec::new() } else { match_items(ctx, source, &fresh, now).await };
    state.validators = validators;
    state.last_item_count = Some(extracted.items.len());
    // After a listing cut short, the items of its lost part look new but
    // were counted when first seen; the count leaves out this poll's items.
    if unreadable.is_none() {
        state.items_seen += new.len() as u64;
    }
    state.baseline_done = true;
    let outcome = if baseline {
        Outcome::Baseline { items: extracted.items.len() }
    } else {
        Outcome::Polled { items: extracted.items.len(), new: new.len(), matched: entries.len() }
    };
    for e in &entries {
        info!(source = %source.id, rule = %e.matched.rule, url = e.item.url.as_deref().unwrap_or(""), title = %e.item.title, "matched");
    }
    let mut queued: Vec<Queued> = entries.into_iter().map(Queued::Item).collect();
    if let Some(detail) = &unreadable {
        let detail = format!(
            "its stored listing could not be read ({detail}); the listing was recorded again from this poll, and nothing from it was mailed"
        );
        queued.push(Queued::Notice(one_off(source, detail, now)));
    }
    if let Some(detail) = moved_detail {
        queued.push(Queued::Notice(one_off(source, detail, now)));
    }
    let relisting = Relisting { last: &last, read: &listing, rewrite: unreadable.is_some() };
    let next = record_success(ctx, source, state, &before, Some(relisting), &new, queued, now, false).await?;
    match &outcome {
        Outcome::Baseline { items } => {
            info!(source = %source.id, url = %source.url, items, "baseline recorded, nothing mailed")
        }
        Outcome::Polled { items, new, matched } => {
            info!(source = %source.id, url = %source.url, items, new, matched, "polled")
        }
        _ => {}
    }
    Ok((outcome, next))
}

/// Records a successful poll; returns when the source is due again.
/// `listing`: the listing read and the one it replaces (none after a 304);
/// `not_modified`: the server answered 304.
#[allow(clippy::too_many_arguments)] // the parts of one poll, each a different kind
async fn record_success(
    ctx: &Context,
    source: &Source,
    mut state: SourceState,
    before: &[String],
    listing: Option<Relisting<'_>>,
    new: &[&Item],
    mut queued: Vec<Queued>,
    now: DateTime<Utc>,
    not_modified: bool,
) -> anyhow::Result<DateTime<Utc>> {
    let quiet = not_modified
        && before.is_empty()
        && state.consecutive_errors == 0
        && state.last_success.is_some_and(|t| now - t < QUIET_WRITE_EVERY);
    let next = schedule::next_poll(now, source.interval, 0, None, ctx.config.fetch.backoff_cap);
    if quiet {
        return Ok(next);
    }
    state.last_success = Some(now);
    state.consecutive_errors = 0;
    state.last_error = None;
    set_problem(&mut state, "failing", None, now);
    state.next_poll = Some(next);
    queued.extend(health_notices(source, before, &state, now).into_iter().map(Queued::Notice));
    commit(ctx, source, &state, listing, new, &queued, now).await?;
    Ok(next)
}

async fn record_failure(
    ctx: &Context,
    source: &Source,
    mut state: SourceState,
    before: &[String],
    error: String,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
) -> anyhow::Result<(Outcome, DateTime<Utc>)> {
    state.consecutive_errors = state.consecutive_errors.saturating_add(1);
    state.last_error = Some(error.clone());
    if state.consecutive_errors >= FAILING_AFTER {
        let detail = format!("{} errors in a row, last: {error}", state.consecutive_errors);
        set_problem(&mut state, "failing", Some(detail), now);
    }
    state.next_poll = Some(schedule::next_poll(
        now,
        source.interval,
        state.consecutive_errors,
        retry_after,
        ctx.config.fetch.backoff_cap,
    ));
    warn!(source = %source.id, url = %source.url, errors = state.consecutive_errors, next_poll = ?state.next_poll, "unable to poll: {error}");
    let queued: Vec<Queued> = health_notices(source, before, &state, now).into_iter().map(Queued::Notice).collect();
    commit(ctx, source, &state, None, &[], &queued, now).await?;
    Ok((Outcome::Failed { error }, state.next_poll.unwrap_or(now)))
}

/// Records a poll ([`Store::write_poll`]). A write that waits on the disk
/// (a transaction) runs on the blocking pool, so a slow disk delays this
/// source's record, never the other sources' requests.
async fn commit(
    ctx: &Context,
    source: &Source,
    state: &SourceState,
    listing: Option<Relisting<'_>>,
    new: &[&Item],
    queued: &[Queued],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let context = || format!("store: unable to record the poll of source `{}`", source.id);
    let records = queued
        .iter()
        .map(|q| Ok((ctx.store.next_key()?, encode(q))))
        .collect::<Result<Vec<_>, crate::store::StoreError>>()
        .with_context(context)?;
    let poll = ctx.store.prepare_poll(&source.id, state, listing, new, records, now).with_context(context)?;
    if poll.waits_on_disk() {
        let store = ctx.store.clone();
        tokio::task::spawn_blocking(move || store.write_poll(&poll))
            .await
            .map_err(|e| anyhow::anyhow!("store: the commit of source `{}` stopped: {e}", source.id))?
    } else {
        ctx.store.write_poll(&poll)
    }
    .with_context(context)?;
    crash_point("committed");
    Ok(())
}

/// Polls `sources` (at most `fetch.concurrency` at once), then delivers.
pub async fn run_cycle(ctx: &Context, sources: &[&Source], force_send: bool) -> anyhow::Result<CycleReport> {
    let sources = poll_sources(ctx, sources).await?;
    let delivery = deliver(ctx, force_send).await?;
    Ok(CycleReport { sources, delivery })
}

/// Polls `sources`, at most `fetch.concurrency` at once, and flushes the
/// store. Dropping the future stops the polls at once: a poll commits in one
/// transaction at its end, so a stopped poll left nothing behind, or (its
/// commit already running on the blocking pool) all of its record.
pub async fn poll_sources(ctx: &Context, sources: &[&Source]) -> anyhow::Result<Vec<SourceReport>> {
    let permits = Arc::new(Semaphore::new(ctx.config.fetch.concurrency));
    let mut tasks = JoinSet::new();
    let mut reports: Vec<(usize, SourceReport)> = Vec::with_capacity(sources.len());
    let mut collect = |joined: Result<(usize, SourceReport), tokio::task::JoinError>| match joined {
        Ok(r) => reports.push(r),
        Err(e) => error!("a source task failed: {e}"),
    };
    for (index, source) in sources.iter().enumerate() {
        let permit = permits.clone().acquire_owned().await?;
        // A finished task keeps its whole future's memory until it is
        // joined: join as we go, so memory follows the concurrency, not N.
        while let Some(joined) = tasks.try_join_next() {
            collect(joined);
        }
        // Each task owns a copy of its source only while it runs.
        let ctx = ctx.clone();
        let source = (*source).clone();
        tasks.spawn(async move {
            let _permit = permit;
            (index, poll_source(&ctx, &source).await)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        collect(joined);
    }
    reports.sort_by_key(|(i, _)| *i);
    ctx.store.flush().await?;
    Ok(reports.into_iter().map(|(_, r)| r).collect())
}
