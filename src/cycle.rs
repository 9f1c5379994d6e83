//! One cycle: poll the due sources, then deliver what is due.
//!
//! This is the only place that calls the stages in order, for one source:
//! Fetcher → Extractor → Store (what is new) → Matcher → Enricher → Store
//! (seen + outbox + source state, one transaction). After the sources,
//! [`deliver`] takes the outbox through Digest → Mailer. A failing source is
//! recorded and logged with its URL; the others go on.

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
use crate::digest;
use crate::enrich::Enricher;
use crate::extract::{self, Extracted, Item};
use crate::fetch::{Fetched, Fetcher};
use crate::mail;
use crate::matcher::Matcher;
use crate::outbox::{Entry, Inflight, MailState, Notice, Queued, Suspension, message_id};
use crate::schedule;
use crate::store::{Problem, SourceState, Store, encode, hash64};

/// A source is called failing after this many errors in a row.
pub const FAILING_AFTER: u32 = 3;

/// Release pages read at once for one source's new matches.
const ENRICH_CONCURRENCY: usize = 4;

/// Release pages read in one poll of one source. A burst beyond this (a
/// redesigned site whose URLs all changed) is judged on titles alone, so a
/// poll stays bounded in time and in requests.
const MAX_PAGES_PER_POLL: usize = 24;

/// A share of U+FFFD in titles above this is taken for a wrong charset.
const MOJIBAKE_RATIO: f64 = 0.05;

/// Crash injection for the kill tests: with `KISHA_CRASH_AT=<point>` in the
/// environment the process aborts at that point, as abruptly as a SIGKILL
/// (no destructor runs, nothing is flushed). The points are the boundaries
/// the invariants are about: `fetched`, `committed`, `in-flight`, `sent`,
/// `acked`.
fn crash_point(point: &str) {
    if std::env::var_os("KISHA_CRASH_AT").is_some_and(|p| p == point) {
        eprintln!("kisha: KISHA_CRASH_AT={point}: aborting");
        std::process::abort();
    }
}

/// A listing as [`SourceState::last_listing`] keeps it: (title hash, id hash)
/// per item.
fn listing(items: &[Item]) -> Vec<(u64, u64)> {
    items.iter().map(|i| (hash64(&crate::text::fold(&i.title)), hash64(&i.id))).collect()
}

/// The new items that are old items under new URLs: their title was listed
/// last time under a URL that has now left the listing. Titles recur (every
/// 「日仏防衛相会談について」), so this counts only as a mass move: at least
/// three such items, and at least half of what is new.
fn moved_items<'a>(last: &[(u64, u64)], listing: &[(u64, u64)], new: &[&'a Item]) -> Vec<&'a Item> {
    if new.is_empty() {
        return Vec::new();
    }
    let current: std::collections::HashSet<u64> = listing.iter().map(|(_, id)| *id).collect();
    let gone: std::collections::HashSet<u64> =
        last.iter().filter(|(_, id)| !current.contains(id)).map(|(t, _)| *t).collect();
    // A first poll, or one where nothing left the listing: no title to fold.
    if gone.is_empty() {
        return Vec::new();
    }
    let moved: Vec<&Item> =
        new.iter().copied().filter(|i| gone.contains(&hash64(&crate::text::fold(&i.title)))).collect();
    if moved.len() >= 3 && moved.len() * 2 >= new.len() { moved } else { Vec::new() }
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
}

#[derive(Debug, Clone)]
pub enum Delivery {
    /// No matched item is waiting.
    Nothing,
    /// Waiting for the next digest time.
    NotDue {
        next: Option<DateTime<Utc>>,
    },
    /// Waiting out the backoff after a failure.
    Backoff {
        until: DateTime<Utc>,
    },
    /// Stopped after a permanent refusal, until the operator acts.
    Suspended {
        error: String,
    },
    Sent {
        message_id: String,
        items: usize,
        events: usize,
        delivered: String,
        resent: bool,
        text: String,
    },
    Failed {
        error: String,
        permanent: bool,
    },
}

#[derive(Debug, Clone)]
pub struct CycleReport {
    pub sources: Vec<SourceReport>,
    pub delivery: Delivery,
}

fn problem_set(state: &SourceState) -> Vec<String> {
    state.problems.iter().map(|p| p.kind.clone()).collect()
}

/// Sets or clears one problem on a state.
fn set_problem(state: &mut SourceState, kind: &str, detail: Option<String>, now: DateTime<Utc>) {
    match detail {
        Some(detail) => match state.problems.iter_mut().find(|p| p.kind == kind) {
            Some(p) => p.detail = detail,
            None => state.problems.push(Problem { kind: kind.into(), detail, since: now }),
        },
        None => state.problems.retain(|p| p.kind != kind),
    }
}

/// Notices for problems that started or ended between two states.
fn health_notices(source: &Source, before: &[String], after: &SourceState, now: DateTime<Utc>) -> Vec<Notice> {
    let mut out = Vec::new();
    for p in &after.problems {
        if !before.contains(&p.kind) {
            out.push(Notice {
                source_id: source.id.clone(),
                source_name: source.name.clone(),
                unhealthy: true,
                detail: p.detail.clone(),
                at: now,
            });
        }
    }
    let now_kinds = problem_set(after);
    if !before.is_empty() && now_kinds.is_empty() {
        out.push(Notice {
            source_id: source.id.clone(),
            source_name: source.name.clone(),
            unhealthy: false,
            detail: String::new(),
            at: now,
        });
    }
    out
}

fn extract_items(
    source: &Source,
    body: &crate::fetch::Body,
    now: DateTime<Utc>,
    max_items: usize,
) -> Result<Extracted, extract::ExtractError> {
    match &source.kind {
        SourceKind::Feed => {
            extract::feed::extract(&source.id, &body.bytes, body.content_type.as_deref(), &body.url, max_items)
        }
        SourceKind::Page(sel) => {
            let decoded = crate::fetch::decode::decode(&body.bytes, body.content_type.as_deref());
            extract::page::extract(&source.id, &decoded.text, &body.url, sel, max_items, jst_date(now))
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
    ctx.heartbeat.beat(ctx.clock.now());
    match result {
        Ok(outcome) => SourceReport { id: source.id.clone(), outcome },
        Err(e) => {
            error!(source = %source.id, url = %source.url, "unable to record the poll: {e:#}");
            SourceReport { id: source.id.clone(), outcome: Outcome::Failed { error: format!("{e:#}") } }
        }
    }
}

async fn poll_source_inner(ctx: &Context, source: &Source) -> anyhow::Result<Outcome> {
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
            return record_success(ctx, source, state, &before, &[], Vec::new(), now)
                .await
                .map(|_| Outcome::NotModified);
        }
        Ok(Fetched::Body(body)) => body,
        Err(e) => {
            let retry_after = e.retry_after();
            return record_failure(ctx, source, state, &before, e.to_string(), retry_after, now).await;
        }
    };
    // Parsing is CPU work: it runs off the async threads, so a big document
    // never stalls the other sources' requests (or their timeouts).
    let validators = body.validators.clone();
    let parsed = {
        let (source, max_items) = (source.clone(), settings.max_items);
        tokio::task::spawn_blocking(move || extract_items(&source, &body, now, max_items)).await
    };
    let extracted = match parsed {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return record_failure(ctx, source, state, &before, e.to_string(), None, now).await,
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

    let new = store.unseen(&extracted.items)?;
    let baseline = !state.baseline_done && ctx.config.first_run == FirstRun::Baseline;
    // A site that moves its pages lists the same titles under new URLs: those
    // items are recorded, not mailed, and the move is reported once.
    let listing = listing(&extracted.items);
    let moved = moved_items(&state.last_listing, &listing, &new);
    let fresh: Vec<&Item> = new.iter().copied().filter(|i| !moved.iter().any(|m| m.id == i.id)).collect();
    let moved_detail = (moved.len() >= 3)
        .then(|| format!("{} items reappeared under new URLs (site moved?); recorded, not mailed", moved.len()));
    if let Some(detail) = &moved_detail {
        warn!(source = %source.id, url = %source.url, moved = moved.len(), "{detail}");
    }
    let entries = if baseline { Vec::new() } else { match_items(ctx, source, &fresh, now).await };
    state.last_listing = listing;
    state.validators = validators;
    state.last_item_count = Some(extracted.items.len());
    state.items_seen += new.len() as u64;
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
    if let Some(detail) = moved_detail {
        queued.push(Queued::Notice(Notice {
            source_id: source.id.clone(),
            source_name: source.name.clone(),
            unhealthy: true,
            detail,
            at: now,
        }));
    }
    record_success(ctx, source, state, &before, &new, queued, now).await?;
    match &outcome {
        Outcome::Baseline { items } => {
            info!(source = %source.id, url = %source.url, items, "baseline recorded, nothing mailed")
        }
        Outcome::Polled { items, new, matched } => {
            info!(source = %source.id, url = %source.url, items, new, matched, "polled")
        }
        _ => {}
    }
    Ok(outcome)
}

async fn record_success(
    ctx: &Context,
    source: &Source,
    mut state: SourceState,
    before: &[String],
    new: &[&Item],
    mut queued: Vec<Queued>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    state.last_success = Some(now);
    state.consecutive_errors = 0;
    state.last_error = None;
    set_problem(&mut state, "failing", None, now);
    state.next_poll = Some(schedule::next_poll(now, source.interval, 0, None, ctx.config.fetch.backoff_cap));
    queued.extend(health_notices(source, before, &state, now).into_iter().map(Queued::Notice));
    commit(ctx, source, &state, new, &queued, now).await
}

async fn record_failure(
    ctx: &Context,
    source: &Source,
    mut state: SourceState,
    before: &[String],
    error: String,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
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
    commit(ctx, source, &state, &[], &queued, now).await?;
    Ok(Outcome::Failed { error })
}

/// Records a poll ([`Store::commit_poll`]). A poll with something new commits
/// a sled transaction, which waits on the disk (it writes the log buffer with
/// `sync_file_range`): that runs on the blocking pool, so a slow disk delays
/// this source's record, never the other sources' requests.
async fn commit(
    ctx: &Context,
    source: &Source,
    state: &SourceState,
    new: &[&Item],
    queued: &[Queued],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let records = queued
        .iter()
        .map(|q| Ok((ctx.store.next_key()?, encode(q))))
        .collect::<Result<Vec<_>, crate::store::StoreError>>()?;
    let committed = if new.is_empty() && records.is_empty() {
        ctx.store.commit_poll(&source.id, state, &[], &[], now)
    } else {
        let (store, id, state) = (ctx.store.clone(), source.id.clone(), state.clone());
        let new: Vec<Item> = new.iter().map(|i| (*i).clone()).collect();
        tokio::task::spawn_blocking(move || {
            let new: Vec<&Item> = new.iter().collect();
            store.commit_poll(&id, &state, &new, &records, now)
        })
        .await
        .map_err(|e| anyhow::anyhow!("store: the commit of source `{}` stopped: {e}", source.id))?
    };
    committed.with_context(|| format!("store: unable to record the poll of source `{}`", source.id))?;
    crash_point("committed");
    Ok(())
}

/// Polls `sources` (at most `fetch.concurrency` at once), then delivers.
pub async fn run_cycle(ctx: &Context, sources: &[Source], force_send: bool) -> anyhow::Result<CycleReport> {
    let sources = poll_sources(ctx, sources).await?;
    let delivery = deliver(ctx, force_send).await?;
    Ok(CycleReport { sources, delivery })
}

/// Polls `sources`, at most `fetch.concurrency` at once, and flushes the
/// store. Dropping the future stops the polls at once: a poll commits in one
/// transaction at its end, so a stopped poll left nothing behind, or (its
/// commit already running on the blocking pool) all of its record.
pub async fn poll_sources(ctx: &Context, sources: &[Source]) -> anyhow::Result<Vec<SourceReport>> {
    let permits = Arc::new(Semaphore::new(ctx.config.fetch.concurrency));
    let mut tasks = JoinSet::new();
    for (index, source) in sources.iter().enumerate() {
        let permit = permits.clone().acquire_owned().await?;
        let ctx = ctx.clone();
        let source = source.clone();
        tasks.spawn(async move {
            let _permit = permit;
            (index, poll_source(&ctx, &source).await)
        });
    }
    let mut reports: Vec<(usize, SourceReport)> = Vec::with_capacity(sources.len());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => reports.push(r),
            Err(e) => error!("a source task failed: {e}"),
        }
    }
    reports.sort_by_key(|(i, _)| *i);
    ctx.store.flush().await?;
    Ok(reports.into_iter().map(|(_, r)| r).collect())
}

/// The wait before the next delivery attempt after `failures` in a row:
/// one minute, doubling, at most an hour.
pub fn mail_backoff(failures: u32) -> Duration {
    let secs = 60u64.saturating_mul(1u64 << failures.saturating_sub(1).min(6));
    Duration::from_secs(secs.min(3600))
}

/// Sends what is due in the outbox as one digest. `force` ignores the digest
/// schedule and the backoff (but not a suspension).
pub async fn deliver(ctx: &Context, force: bool) -> anyhow::Result<Delivery> {
    let store = &ctx.store;
    let settings = &ctx.config.mail;
    let now = ctx.clock.now();
    let mut state = store.mail_state()?;

    // A digest a crash left in flight goes first, byte for byte, unless the
    // server's acceptance made it to the ack journal before the crash.
    if let Some(inflight) = store.inflight()? {
        if store.ack_journaled(&inflight.message_id) {
            info!(message_id = %inflight.message_id, "the digest in flight was accepted before a crash: recording it");
            return acknowledge(ctx, inflight, state, "accepted before a crash".into(), true).await;
        }
        warn!(message_id = %inflight.message_id, "resending the digest a crash left in flight");
        return send(ctx, inflight, state, true).await;
    }

    let fingerprint = mail::settings_fingerprint(settings);
    if let Some(s) = &state.suspended {
        if s.settings == fingerprint {
            return Ok(Delivery::Suspended { error: s.error.clone() });
        }
        info!("mail settings changed since the permanent failure: delivery resumes");
        state.suspended = None;
        state.consecutive_failures = 0;
        state.next_attempt = None;
    }
    if let Some(until) = state.next_attempt
        && until > now
        && !force
    {
        return Ok(Delivery::Backoff { until });
    }

    let mut queued = store.pending()?;
    if let Some(schedule) = &ctx.config.digest.schedule
        && !force
    {
        // A digest time passes whether or not anything is queued, so a match
        // found after 07:30 waits for 18:00. A scheduled digest that failed is
        // retried on its backoff, not at the next digest time.
        let since = match state.last_digest_slot {
            Some(t) => t,
            None => {
                state.last_digest_slot = Some(now);
                store.save_mail_state(&state)?;
                now
            }
        };
        let due = schedule.due(since, now);
        if due {
            state.last_digest_slot = Some(now);
            store.save_mail_state(&state)?;
        }
        if !due && state.consecutive_failures == 0 {
            // Urgent matches go out now, alone; the rest wait for the digest time.
            let urgent: Vec<(u64, Queued)> =
                queued.iter().filter(|(_, q)| matches!(q, Queued::Item(e) if e.matched.urgent)).cloned().collect();
            if urgent.is_empty() {
                let waiting = queued.iter().any(|(_, q)| matches!(q, Queued::Item(_)));
                return Ok(if waiting {
                    Delivery::NotDue { next: schedule.next_after(since) }
                } else {
                    Delivery::Nothing
                });
            }
            queued = urgent;
        }
    }
    if !queued.iter().any(|(_, q)| matches!(q, Queued::Item(_))) {
        return Ok(Delivery::Nothing);
    }

    let known = store.joinable_events(now)?;
    let Some(composed) = digest::compose(&queued, &known, ctx.config.digest.max_entries, &settings.subject_prefix, now)
    else {
        return Ok(Delivery::Nothing);
    };
    let keys: Vec<u64> = queued.iter().map(|(k, _)| *k).collect();
    let id = message_id(&keys, &mail::id_domain(settings));
    let text = composed.text.clone();
    let eml = match mail::compose(
        settings,
        &composed.subject,
        composed.text,
        composed.html,
        &id,
        &composed.in_reply_to,
        now.into(),
    ) {
        Ok(eml) => eml,
        Err(e) => return Ok(Delivery::Failed { error: e.to_string(), permanent: true }),
    };
    let events = composed.drafts.into_iter().map(|d| d.event).collect();
    let inflight = Inflight { message_id: id, keys, eml, text, created_at: now, items: composed.items, events };
    store.begin_delivery(&inflight)?;
    store.flush().await?;
    crash_point("in-flight");
    send(ctx, inflight, state, false).await
}

/// Records an accepted digest: its entries leave the outbox, its events are
/// stored, the mail state is reset.
async fn acknowledge(
    ctx: &Context,
    inflight: Inflight,
    mut state: MailState,
    delivered: String,
    resent: bool,
) -> anyhow::Result<Delivery> {
    let store = &ctx.store;
    let now = ctx.clock.now();
    state.consecutive_failures = 0;
    state.next_attempt = None;
    state.last_error = None;
    state.last_delivery = Some(now);
    state.last_message_id = Some(inflight.message_id.clone());
    state.digests_sent += 1;
    let events = digest::event::sent(&inflight.events, &inflight.message_id, now);
    store.finish_delivery(&inflight, &state, &events)?;
    crash_point("acked");
    store.flush().await?;
    store.clear_ack_journal();
    info!(message_id = %inflight.message_id, items = inflight.items, events = events.len(), resent, "digest delivered: {delivered}");
    Ok(Delivery::Sent {
        message_id: inflight.message_id,
        items: inflight.items,
        events: events.len(),
        delivered,
        resent,
        text: inflight.text,
    })
}

async fn send(ctx: &Context, inflight: Inflight, mut state: MailState, resent: bool) -> anyhow::Result<Delivery> {
    let store = &ctx.store;
    let settings = &ctx.config.mail;
    let now = ctx.clock.now();
    state.last_attempt = Some(now);
    match mail::send(settings, &inflight.message_id, &inflight.eml).await {
        Ok(delivered) => {
            // First of all, one write(2) that survives a kill of the process:
            // the server has the digest, so a restart must not send it again.
            if let Err(e) = store.journal_ack(&inflight.message_id) {
                warn!("unable to journal the acceptance (a crash now would resend the digest): {e}");
            }
            crash_point("sent");
            let delivered = match delivered {
                mail::Delivered::Smtp { response } => format!("accepted by SMTP: {response}"),
                mail::Delivered::File { path } => format!("written to {}", path.display()),
            };
            acknowledge(ctx, inflight, state, delivered, resent).await
        }
        Err(e) => {
            let permanent = e.is_permanent();
            state.consecutive_failures = state.consecutive_failures.saturating_add(1);
            state.last_error = Some(e.to_string());
            let wait = mail_backoff(state.consecutive_failures);
            state.next_attempt = Some(now + chrono::Duration::from_std(wait).unwrap_or_default());
            if permanent {
                state.suspended = Some(Suspension {
                    since: now,
                    error: e.to_string(),
                    settings: mail::settings_fingerprint(settings),
                });
                error!(message_id = %inflight.message_id, "delivery suspended after a permanent refusal; fix the mail settings or run `kisha outbox retry`: {e}");
            } else {
                warn!(message_id = %inflight.message_id, failures = state.consecutive_failures, retry_in = ?wait, "delivery failed, kept for the next attempt: {e}");
            }
            store.abandon_delivery(&state)?;
            store.flush().await?;
            Ok(Delivery::Failed { error: e.to_string(), permanent })
        }
    }
}
