//! What kisha is doing: per source, the outbox, the store.
//!
//! [`collect`] reads it from the store. sled allows one process per database,
//! so while the daemon runs it writes the same report, with the queued entries
//! and recent events, to `STATE_DIR/snapshot.json` after every step
//! ([`write_snapshot`]); `kisha status`, `kisha events` and `kisha digest
//! --preview` read that snapshot when the store is locked.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::dates::jst;
use crate::digest::Event;
use crate::outbox::Queued;
use crate::store::{Problem, Store};

/// Entries and events kept in a snapshot; enough for a preview and a listing.
const SNAPSHOT_ENTRIES: usize = 1_000;
const SNAPSHOT_EVENTS: usize = 200;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub generated_at: DateTime<Utc>,
    /// Set when this report is the running daemon's snapshot.
    pub daemon_pid: Option<u32>,
    pub sources: Vec<SourceStatus>,
    pub outbox: OutboxStatus,
    pub store: StoreStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceStatus {
    pub id: String,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub last_poll: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub items_seen: u64,
    pub last_item_count: Option<usize>,
    pub consecutive_errors: u32,
    pub last_error: Option<String>,
    pub next_poll: Option<DateTime<Utc>>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxStatus {
    pub queued_items: usize,
    pub queued_notices: usize,
    pub oldest: Option<DateTime<Utc>>,
    pub in_flight: Option<String>,
    pub last_delivery: Option<DateTime<Utc>>,
    pub last_message_id: Option<String>,
    pub digests_sent: u64,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub next_attempt: Option<DateTime<Utc>>,
    pub suspended: Option<String>,
    pub schedule: Option<String>,
    pub next_digest: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreStatus {
    pub path: PathBuf,
    pub schema: Option<u32>,
    /// Items first seen, over the store's life: the sum of the sources'
    /// counters (counting the records would read them all), so an item two
    /// sources listed at their baselines counts twice.
    pub items_seen: u64,
    pub events: usize,
    pub size_bytes: u64,
}

/// The daemon's snapshot: the status plus what `events` and `digest
/// --preview` need.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub status: Status,
    pub queued: Vec<(u64, Queued)>,
    pub events: Vec<Event>,
}

pub fn snapshot_path(state_dir: &Path) -> PathBuf {
    state_dir.join("snapshot.json")
}

/// Reads the status from the store.
pub fn collect(config: &Config, store: &Store, now: DateTime<Utc>) -> anyhow::Result<Status> {
    collect_with(config, store, now, &store.pending()?, store.event_count())
}

/// The status, given the outbox and the number of events already read.
fn collect_with(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
    queued: &[(u64, Queued)],
    events: usize,
) -> anyhow::Result<Status> {
    let states: std::collections::HashMap<String, crate::store::SourceState> =
        store.source_states()?.into_iter().collect();
    let items_seen = states.values().map(|s| s.items_seen).sum();
    let sources = config
        .sources
        .iter()
        .map(|s| {
            let st = states.get(&s.id).cloned().unwrap_or_default();
            SourceStatus {
                id: s.id.clone(),
                name: s.name.clone(),
                url: s.url.to_string(),
                enabled: s.enabled,
                last_poll: st.last_poll,
                last_success: st.last_success,
                items_seen: st.items_seen,
                last_item_count: st.last_item_count,
                consecutive_errors: st.consecutive_errors,
                last_error: st.last_error,
                next_poll: st.next_poll,
                problems: st.problems,
            }
        })
        .collect();
    let mail = store.mail_state()?;
    let schedule = config.digest.schedule.as_ref();
    let outbox = OutboxStatus {
        queued_items: queued.iter().filter(|(_, q)| matches!(q, Queued::Item(_))).count(),
        queued_notices: queued.iter().filter(|(_, q)| matches!(q, Queued::Notice(_))).count(),
        oldest: queued.iter().find_map(|(_, q)| match q {
            Queued::Item(e) => Some(e.queued_at),
            Queued::Notice(_) => None,
        }),
        in_flight: store.inflight()?.map(|i| i.message_id),
        last_delivery: mail.last_delivery,
        last_message_id: mail.last_message_id,
        digests_sent: mail.digests_sent,
        consecutive_failures: mail.consecutive_failures,
        last_error: mail.last_error,
        next_attempt: mail.next_attempt,
        suspended: mail.suspended.map(|s| s.error),
        schedule: schedule.map(|s| s.text.clone()),
        next_digest: schedule.and_then(|s| s.next_after(mail.last_digest_slot.unwrap_or(now).max(now))),
    };
    let store_status = StoreStatus {
        path: store.dir().to_path_buf(),
        schema: store.schema_version()?,
        items_seen,
        events,
        size_bytes: store.size_on_disk().unwrap_or(0),
    };
    Ok(Status { generated_at: now, daemon_pid: None, sources, outbox, store: store_status })
}

/// A poll the daemon made, as it knows it.
#[derive(Debug, Clone, Copy)]
pub struct LivePoll {
    pub at: DateTime<Utc>,
    pub ok: bool,
}

/// What the running daemon knows better than its store: the next poll of
/// each source (a source not yet polled has it nowhere else), and the last
/// poll (a quiet 304 is written to the store only once an hour).
pub struct Live<'a> {
    pub next: &'a std::collections::HashMap<String, DateTime<Utc>>,
    pub polled: &'a std::collections::HashMap<String, LivePoll>,
}

/// Writes the daemon's snapshot atomically (temporary file, then rename).
pub fn write_snapshot(config: &Config, store: &Store, now: DateTime<Utc>, live: &Live<'_>) -> anyhow::Result<()> {
    let mut queued = store.pending()?;
    let mut events = store.events_since(None)?;
    let mut status = collect_with(config, store, now, &queued, events.len())?;
    status.daemon_pid = Some(std::process::id());
    for s in &mut status.sources {
        if let Some(t) = live.next.get(&s.id) {
            s.next_poll = Some(*t);
        }
        if let Some(p) = live.polled.get(&s.id) {
            s.last_poll = s.last_poll.max(Some(p.at));
            if p.ok {
                s.last_success = s.last_success.max(Some(p.at));
            }
        }
    }
    queued.truncate(SNAPSHOT_ENTRIES);
    events.truncate(SNAPSHOT_EVENTS);
    let snapshot = Snapshot { status, queued, events };
    let path = snapshot_path(&config.state_dir);
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(&snapshot)?)?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

pub fn read_snapshot(state_dir: &Path) -> anyhow::Result<Snapshot> {
    let path = snapshot_path(state_dir);
    let bytes = std::fs::read(&path).map_err(|e| anyhow::anyhow!("unable to read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| anyhow::anyhow!("unable to decode {}: {e}", path.display()))
}

fn t(v: Option<DateTime<Utc>>) -> String {
    v.map(|t| t.with_timezone(&jst()).format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into())
}

/// The status as text for a terminal.
pub fn render(s: &Status) -> String {
    let mut out = String::new();
    let header = match s.daemon_pid {
        Some(pid) => {
            format!("kisha status (snapshot of the running daemon, pid {pid}, at {} JST)\n", t(Some(s.generated_at)))
        }
        None => format!("kisha status at {} JST\n", t(Some(s.generated_at))),
    };
    out.push_str(&header);
    out.push_str("\nSources (times JST)\n");
    for src in &s.sources {
        let health = if !src.enabled {
            "disabled".to_owned()
        } else if src.problems.is_empty() {
            if src.last_success.is_some() { "ok".into() } else { "never polled".into() }
        } else {
            src.problems.iter().map(|p| p.kind.clone()).collect::<Vec<_>>().join(", ")
        };
        out.push_str(&format!("  {} ({}) [{health}]\n", src.id, src.name));
        out.push_str(&format!("    url            {}\n", src.url));
        out.push_str(&format!("    last poll      {}   last success {}\n", t(src.last_poll), t(src.last_success)));
        out.push_str(&format!(
            "    items seen     {}{}   next poll {}\n",
            src.items_seen,
            src.last_item_count.map(|n| format!(" ({n} listed)")).unwrap_or_default(),
            t(src.next_poll)
        ));
        if src.consecutive_errors > 0 || src.last_error.is_some() {
            out.push_str(&format!(
                "    errors         {} in a row; last: {}\n",
                src.consecutive_errors,
                src.last_error.as_deref().unwrap_or("-")
            ));
        }
        for p in &src.problems {
            out.push_str(&format!("    problem        {} since {}: {}\n", p.kind, t(Some(p.since)), p.detail));
        }
    }
    if s.daemon_pid.is_none() {
        out.push_str("  (polls answered 304 are stored at most hourly; the daemon's status shows each one)\n");
    }
    let o = &s.outbox;
    out.push_str("\nOutbox\n");
    out.push_str(&format!(
        "  queued         {} match{} ({} health notice{}), oldest {}\n",
        o.queued_items,
        if o.queued_items == 1 { "" } else { "es" },
        o.queued_notices,
        if o.queued_notices == 1 { "" } else { "s" },
        t(o.oldest)
    ));
    if let Some(id) = &o.in_flight {
        out.push_str(&format!("  in flight      {id} (will be resent as is)\n"));
    }
    out.push_str(&format!(
        "  last delivery  {}{}   digests sent {}\n",
        t(o.last_delivery),
        o.last_message_id.as_deref().map(|m| format!(" {m}")).unwrap_or_default(),
        o.digests_sent
    ));
    if let Some(schedule) = &o.schedule {
        out.push_str(&format!("  schedule       {schedule}; next digest {}\n", t(o.next_digest)));
    } else {
        out.push_str("  schedule       none: every cycle with matches mails at once\n");
    }
    if let Some(e) = &o.last_error {
        out.push_str(&format!(
            "  last mail error {e} ({} failure{} in a row; next attempt {})\n",
            o.consecutive_failures,
            if o.consecutive_failures == 1 { "" } else { "s" },
            t(o.next_attempt)
        ));
    }
    if let Some(e) = &o.suspended {
        out.push_str(&format!(
            "  SUSPENDED      after a permanent refusal: {e}\n                 fix the mail settings (reload) or run `kisha outbox retry`\n"
        ));
    }
    let st = &s.store;
    out.push_str(&format!(
        "\nStore {} (schema {}): {} items seen, {} event{}, {:.1} MiB\n",
        st.path.display(),
        st.schema.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        st.items_seen,
        st.events,
        if st.events == 1 { "" } else { "s" },
        st.size_bytes as f64 / (1024.0 * 1024.0)
    ));
    out
}
