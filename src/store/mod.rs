//! The Store: everything kisha keeps, in one sled database.
//!
//! It owns sled and the state directory's lock. Six trees, each with one
//! purpose:
//!
//! - `seen`: item id → when and from which source it was recorded, for the
//!   items that have left their source's listing.
//! - `sources`: source id → [`SourceState`] (validators, health, counters).
//! - `listings`: source id → its last listing ([`listing`]), written only
//!   when it changes, so a poll answered 304 stays a small write. An item is
//!   seen if a listing holds it or a `seen` record does.
//! - `outbox`: sequence number → a queued entry (see [`crate::outbox`]).
//! - `events`: event id → an event already mailed (see [`crate::digest`]).
//! - `meta`: the schema version, the mail state and the digest in flight.
//!
//! Invariants: a poll that queued matches marks its new items seen (in its
//! listing), queues the matches and saves the source state (with its new
//! validators) in ONE transaction, so a crash leaves either all of it or
//! none of it, and a lost commit is simply fetched again. A poll that queued
//! nothing writes plain inserts in an order whose every prefix is safe
//! ([`Store::write_poll`]), without the two log writes a sled 0.34
//! transaction costs. A second process on the same state directory gets a
//! clear error, never a shared database.

mod check;
pub mod listing;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sled::Transactional;
use sled::transaction::TransactionError;

pub use self::check::CheckReport;
use self::listing::{Index, Listed};
use crate::extract::Item;
use crate::fetch::Validators;

/// The layout version of the trees. Bump it when a stored record changes
/// shape, and teach [`Store::migrate`] the step.
///
/// - 1: the first layout.
/// - 2: a source's last listing moved out of its state into the `listings`
///   tree (binary, rewritten only when it changes), so a poll answered 304
///   writes a few hundred bytes, not the whole listing.
/// - 3: a listed item is seen through its listing, which keeps its id until
///   it leaves and gets a `seen` record ([`listing`]).
pub const SCHEMA_VERSION: u32 = 3;

const SCHEMA_KEY: &[u8] = b"schema";
const LAST_PRUNE_KEY: &[u8] = b"last_prune";

/// How many times (10 ms apart) opening waits for sled's file lock, held by a
/// background writer of a store this process has just closed.
const SLED_LOCK_RETRIES: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: state directory {dir} is in use by another kisha process{}; stop it first (kisha status reads its snapshot meanwhile)", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked { dir: PathBuf, pid: Option<u32> },
    #[error("store: unable to open {path}: {detail}")]
    Open { path: PathBuf, detail: String },
    #[error(
        "store: {path} was written by a newer kisha (schema {found}, this one knows {SCHEMA_VERSION}); upgrade kisha"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: unable to decode {what}: {detail}")]
    Decode { what: String, detail: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What kisha remembers about one source between polls.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceState {
    #[serde(default)]
    pub validators: Validators,
    /// The URL the validators belong to; a changed URL starts over.
    #[serde(default)]
    pub url: String,
    /// False until the first successful poll has been recorded.
    #[serde(default)]
    pub baseline_done: bool,
    pub last_poll: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub next_poll: Option<DateTime<Utc>>,
    #[serde(default)]
    pub consecutive_errors: u32,
    pub last_error: Option<String>,
    /// Items recorded as seen from this source, in all.
    #[serde(default)]
    pub items_seen: u64,
    /// Items in the last full answer.
    pub last_item_count: Option<usize>,
    /// Problems now in force ("failing", "empty", "mojibake"), each with a detail.
    #[serde(default)]
    pub problems: Vec<Problem>,
    /// Read only by the migration from schema 1, which kept the last listing
    /// here. It lives in the `listings` tree now ([`Store::listing`]).
    #[serde(default, skip_serializing)]
    pub last_listing: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Problem {
    pub kind: String,
    pub detail: String,
    pub since: DateTime<Utc>,
}

/// One seen-item record: from which source, and when it was written (when
/// the item left that source's listing, or, for a new item a poll could not
/// list, when it was first seen). Retention counts from then.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seen {
    #[serde(rename = "s")]
    pub source: String,
    #[serde(rename = "t")]
    pub recorded: i64,
}

/// One poll, encoded and ready to write ([`Store::prepare_poll`]).
#[derive(Debug, Clone)]
pub struct PollRecord {
    source_id: String,
    state: Vec<u8>,
    /// The new listing, when it changed.
    listing: Option<NewListing>,
    /// Ids to record in `seen` (items that left the listing), and their
    /// shared record.
    seen_ids: Vec<String>,
    seen: Vec<u8>,
    /// Outbox entries: key and encoded [`crate::outbox::Queued`].
    queued: Vec<(u64, Vec<u8>)>,
}

/// A listing a poll read, and the one it replaces ([`Store::listing`], read
/// by the poll to tell what is new).
#[derive(Debug, Clone, Copy)]
pub struct Relisting<'a> {
    pub last: &'a [Listed],
    pub read: &'a [Listed],
    /// The stored record could not be read (`last` is what was left of it):
    /// write the listing even where it equals `last`.
    pub rewrite: bool,
}

/// A listing to write, with the id hashes it lists (for [`Index::set`]).
#[derive(Debug, Clone)]
struct NewListing {
    bytes: Vec<u8>,
    ids: Vec<u64>,
}

impl PollRecord {
    /// Whether writing it waits on the disk: a transaction (it queued
    /// something) writes the log with `sync_file_range`. Plain inserts only
    /// fill sled's log buffer in memory, and sled writes full buffers from
    /// its own threads. Callers on the async threads move a transaction off
    /// them.
    pub fn waits_on_disk(&self) -> bool {
        !self.queued.is_empty()
    }
}

pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    pub(crate) meta: sled::Tree,
    pub(crate) sources: sled::Tree,
    pub(crate) seen: sled::Tree,
    pub(crate) outbox: sled::Tree,
    pub(crate) events: sled::Tree,
    pub(crate) listings: sled::Tree,
    /// What every listing holds, built at the first item its own listing
    /// does not hold (a baseline's aside), and set again after each listing
    /// is written. The lock is held for the index alone, never across a
    /// write to sled. `None` again after a failed write, to be rebuilt.
    listed: Mutex<Option<Index>>,
    // Held for the life of the store: the flock on `kisha.lock`.
    _lock: File,
}

/// A short, stable hash of a text, for the listings kept per source.
pub fn hash64(text: &str) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 8 bytes"))
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records are plain data and always serialise")
}

/// A stored record; `what` names it in the error, and is formatted only then.
pub(crate) fn decode<T: DeserializeOwned>(what: impl std::fmt::Display, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode { what: what.to_string(), detail: e.to_string() })
}

fn decode_listing(source_id: &str, bytes: &[u8]) -> Result<Vec<Listed>> {
    listing::decode(bytes).ok_or_else(|| StoreError::Decode {
        what: format!("listing of source `{source_id}`"),
        detail: undecodable(bytes),
    })
}

/// What is wrong with listing bytes that do not decode.
fn undecodable(bytes: &[u8]) -> String {
    format!("{} bytes that end inside an entry", bytes.len())
}

/// Turns an error raised inside a transaction closure back into a store error.
pub(crate) fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, taking its lock.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open { path: dir.into(), detail: e.to_string() })?;
        let lock = lock_dir(dir)?;
        let path = dir.join("db");
        remove_unfinished_snapshots(&path);
        let config = sled::Config::new()
            .path(&path)
            .cache_capacity(cache_bytes)
            // Explicit flushes guard the invariants; this only bounds what a
            // crash between them can cost.
            .flush_every_ms(Some(1000));
        // sled 0.34 allocates about 20 MiB of zeroed metric histograms when a
        // process first opens a database, and never writes them without its
        // metrics feature. Allocated on a fresh thread they come from fresh
        // pages that glibc knows are zero: address space, not memory. On a
        // thread that already freed memory (the config parser's) glibc hands
        // that back and must clear it, which made 5–6 MiB of the resident
        // set (scripts/bench-cycle: a warm cycle of 1,000 sources peaked at
        // 35 MiB, 30 MiB this way).
        let open = || {
            std::thread::scope(|s| s.spawn(|| config.open()).join()).unwrap_or_else(|p| std::panic::resume_unwind(p))
        };
        let mut opened = open();
        // kisha.lock proves no other process has this store. sled's own lock
        // on its file can still be held for a moment by a background writer
        // of the same store, closed by this process just before (a test, a
        // command that reopens): wait for it, a bounded while.
        for _ in 0..SLED_LOCK_RETRIES {
            match &opened {
                Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    opened = open();
                }
                _ => break,
            }
        }
        let db = opened.map_err(|e| StoreError::Open {
            path: path.clone(),
            detail: format!(
                "{e} (if the store is corrupt, move {} aside; kisha starts over with a baseline)",
                path.display()
            ),
        })?;
        let store = Store {
            dir: dir.into(),
            meta: db.open_tree("meta")?,
            sources: db.open_tree("sources")?,
            seen: db.open_tree("seen")?,
            outbox: db.open_tree("outbox")?,
            events: db.open_tree("events")?,
            listings: db.open_tree("listings")?,
            listed: Mutex::new(None),
            db,
            _lock: lock,
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Brings an older layout up to [`SCHEMA_VERSION`].
    fn migrate(&self) -> Result<()> {
        let found = self.schema_version()?;
        match found {
            None => {
                self.meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            }
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::TooNew { path: self.dir.clone(), found: v });
            }
            Some(v) if v < SCHEMA_VERSION => {
                // Each step from v to v+1, in one transaction with its version.
                for step in v..SCHEMA_VERSION {
                    match step {
                        1 => self.migrate_1_to_2()?,
                        2 => self.migrate_2_to_3()?,
                        _ => unreachable!("a migration exists for every version below SCHEMA_VERSION"),
                    }
                }
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Schema 2: listings leave the state records for their own tree.
    fn migrate_1_to_2(&self) -> Result<()> {
        let mut moved = Vec::new();
        for kv in self.sources.iter() {
            let (id, bytes) = kv?;
            let state: SourceState = decode("state of a source (schema 1)", &bytes)?;
            let listing: Vec<u8> =
                state.last_listing.iter().flat_map(|(t, i)| [t.to_be_bytes(), i.to_be_bytes()]).flatten().collect();
            moved.push((id, encode(&state), listing));
        }
        (&self.sources, &self.listings, &self.meta)
            .transaction(|(sources, listings, meta)| {
                for (id, state, listing) in &moved {
                    sources.insert(id, state.as_slice())?;
                    listings.insert(id, listing.as_slice())?;
                }
                meta.insert(SCHEMA_KEY, &2u32.to_be_bytes())?;
                Ok(())
            })
            .map_err(tx_error)?;
        tracing::info!(sources = moved.len(), "store: migrated schema 1 to 2 (listings in their own tree)");
        Ok(())
    }

    /// Schema 3: listings keep their items' ids. Every item of a schema-2
    /// listing has a `seen` record, under its id: the ids come from there
    /// (one pass over the `seen` records). A listing that is not one is
    /// dropped, with a warning: its items keep their `seen` records.
    fn migrate_2_to_3(&self) -> Result<()> {
        let mut listings = Vec::new();
        for kv in self.listings.iter() {
            let (source, bytes) = kv?;
            let decoded = listing::decode_schema_2(&bytes);
            if decoded.is_none() {
                tracing::warn!(source = %String::from_utf8_lossy(&source), bytes = bytes.len(), "store: a listing of schema 2 that is not one, dropped");
            }
            listings.push((source, decoded));
        }
        let wanted: HashSet<u64> = listings.iter().flat_map(|(_, l)| l.iter().flatten().map(|e| e.id)).collect();
        let mut ids: HashMap<u64, String> = HashMap::new();
        for key in self.seen.iter().keys() {
            let key = String::from_utf8_lossy(&key?).into_owned();
            let hash = hash64(&key);
            if wanted.contains(&hash) {
                ids.insert(hash, key);
            }
        }
        let rewritten: Vec<(sled::IVec, Option<Vec<u8>>)> = listings
            .into_iter()
            .map(|(source, decoded)| {
                let entries = decoded
                    .map(|l| l.into_iter().map(|e| Listed { key: ids.get(&e.id).cloned(), ..e }).collect::<Vec<_>>());
                (source, entries.map(|l| listing::encode(&l)))
            })
            .collect();
        (&self.listings, &self.meta)
            .transaction(|(listings, meta)| {
                for (source, bytes) in &rewritten {
                    match bytes {
                        Some(bytes) => listings.insert(source, bytes.as_slice())?,
                        None => listings.remove(source)?,
                    };
                }
                meta.insert(SCHEMA_KEY, &3u32.to_be_bytes())?;
                Ok(())
            })
            .map_err(tx_error)?;
        tracing::info!(
            sources = rewritten.len(),
            "store: migrated schema 2 to 3 (listed items seen through their listing)"
        );
        Ok(())
    }

    pub fn schema_version(&self) -> Result<Option<u32>> {
        Ok(self.meta.get(SCHEMA_KEY)?.and_then(|v| v.as_ref().try_into().ok()).map(u32::from_be_bytes))
    }

    /// Makes everything written so far durable. sled's own flush blocks, so
    /// it runs off the async threads (its `flush_async` can deadlock on 0.34).
    pub async fn flush(&self) -> Result<()> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Open { path: PathBuf::new(), detail: format!("flush task failed: {e}") })??;
        Ok(())
    }

    pub fn flush_blocking(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    pub fn next_key(&self) -> Result<u64> {
        Ok(self.db.generate_id()?)
    }

    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    /// A source's state.
    pub fn source_state(&self, id: &str) -> Result<Option<SourceState>> {
        let Some(bytes) = self.sources.get(id)? else { return Ok(None) };
        decode(format_args!("state of source `{id}`"), &bytes).map(Some)
    }

    /// A source's last full answer ([`listing`]): what it has seen, and the
    /// titles that tell a site that moved its pages from one that published
    /// new ones. Read only when a poll got a full answer: a `304` does not
    /// need it.
    pub fn listing(&self, id: &str) -> Result<Vec<Listed>> {
        self.listings.get(id)?.map_or(Ok(Vec::new()), |bytes| decode_listing(id, &bytes))
    }

    /// A source's last listing, for a poll to tell what is new. A record
    /// that cannot be decoded (cut by a disk fault) gives its entries up to
    /// the cut, and what is wrong with it.
    pub fn last_listing(&self, id: &str) -> Result<(Vec<Listed>, Option<String>)> {
        let Some(bytes) = self.listings.get(id)? else { return Ok((Vec::new(), None)) };
        Ok(match listing::decode(&bytes) {
            Some(listed) => (listed, None),
            None => (listing::readable(&bytes), Some(undecodable(&bytes))),
        })
    }

    pub fn source_states(&self) -> Result<Vec<(String, SourceState)>> {
        self.sources
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let id = String::from_utf8_lossy(&k).into_owned();
                let state = decode(format_args!("state of source `{id}`"), &v)?;
                Ok((id, state))
            })
            .collect()
    }

    /// Whether the item `id` was seen: a listing or a `seen` record holds it.
    #[cfg(test)]
    fn is_seen(&self, id: &str) -> Result<bool> {
        Ok(self.seen.contains_key(id)? || self.listed_anywhere(&[hash64(id)])?[0])
    }

    /// How many `seen` records there are (items that left their listing).
    pub fn seen_records(&self) -> usize {
        self.seen.len()
    }

    /// The items of `read` never seen before, in order. Each item comes with
    /// the hash of its id, as its listing entry holds it ([`Listed::all`]), so
    /// that a poll hashes an id once; `last` is the source's own last listing
    /// ([`Store::listing`]). An item no listing and no `seen` record holds is
    /// new.
    ///
    /// The other sources' listings are looked at before the `seen` records:
    /// an item leaving a listing gets its `seen` record before the index
    /// forgets it ([`Store::write_poll`]), so in this order no moment finds
    /// it in neither. Without `other_sources` they are not looked at: a
    /// baseline mails nothing, and needs no index of every listing (at
    /// 10,000 sources 12 MiB).
    pub fn unseen<'a>(
        &self,
        read: impl IntoIterator<Item = (&'a Item, u64)>,
        last: &[Listed],
        other_sources: bool,
    ) -> Result<Vec<&'a Item>> {
        let own: HashSet<u64> = last.iter().map(|l| l.id).collect();
        let mut candidates: Vec<(&Item, u64)> = read.into_iter().filter(|(_, h)| !own.contains(h)).collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        if other_sources {
            let listed = self.listed_anywhere(&candidates.iter().map(|(_, h)| *h).collect::<Vec<_>>())?;
            let mut listed = listed.into_iter();
            candidates.retain(|_| !listed.next().unwrap_or(false));
        }
        // A store's first cycle has no `seen` record to look up.
        if self.seen.is_empty() {
            return Ok(candidates.into_iter().map(|(item, _)| item).collect());
        }
        let mut new = Vec::new();
        for (item, _) in candidates {
            if !self.seen.contains_key(&item.id)? {
                new.push(item);
            }
        }
        Ok(new)
    }

    /// For each id hash, whether any source's listing holds it.
    fn listed_anywhere(&self, hashes: &[u64]) -> Result<Vec<bool>> {
        let mut listed = self.listed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if listed.is_none() {
            let mut index = Index::default();
            for kv in self.listings.iter() {
                let (source, bytes) = kv?;
                index.set(&String::from_utf8_lossy(&source), listing::ids(&bytes).collect());
            }
            *listed = Some(index);
        }
        let index = listed.as_ref().expect("built above");
        Ok(hashes.iter().map(|h| index.contains(*h)).collect())
    }

    /// Records one poll of a source: the new items as seen, the queued
    /// records in the outbox (under keys from [`Store::next_key`]), the
    /// listing it read (none after a `304` or a failure) in place of the
    /// stored one, and the source's new state ([`Store::prepare_poll`], then
    /// [`Store::write_poll`]).
    pub fn commit_poll(
        &self,
        source_id: &str,
        state: &SourceState,
        read: Option<&[Listed]>,
        new_items: &[&Item],
        queued: &[(u64, Vec<u8>)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let last = if read.is_some() { self.listing(source_id)? } else { Vec::new() };
        let listing = read.map(|read| Relisting { last: &last, read, rewrite: false });
        self.write_poll(&self.prepare_poll(source_id, state, listing, new_items, queued.to_vec(), now)?)
    }

    /// Encodes one poll's records for [`Store::write_poll`].
    ///
    /// `listing` is what the poll read ([`Listed::all`] of its items, in order)
    /// and the stored listing it replaces. The items that left the last
    /// listing get a `seen` record, under the id it kept; so does a new item
    /// when the poll read no listing. The listing is written only when it
    /// differs from the stored one.
    pub fn prepare_poll(
        &self,
        source_id: &str,
        state: &SourceState,
        listing: Option<Relisting<'_>>,
        new_items: &[&Item],
        queued: Vec<(u64, Vec<u8>)>,
        now: DateTime<Utc>,
    ) -> Result<PollRecord> {
        let (listing, seen_ids) = match listing {
            None => (None, new_items.iter().map(|i| i.id.clone()).collect()),
            Some(Relisting { last, read, rewrite }) => {
                let ids: HashSet<u64> = read.iter().map(|l| l.id).collect();
                let left = last.iter().filter(|l| !ids.contains(&l.id)).filter_map(|l| l.key.clone());
                // A new item the listing does not hold: none from a cycle,
                // which lists every item it read, and whose new items are
                // listed in the same order. So the two are walked together,
                // comparing ids instead of hashing each new one again; an
                // item out of that order counts as unlisted, and gets a
                // `seen` record it did not need (harmless: seen twice over).
                let mut rest = read.iter();
                let unlisted = new_items
                    .iter()
                    .filter(move |i| !rest.any(|l| l.key.as_deref() == Some(i.id.as_str())))
                    .map(|i| i.id.clone());
                let new = (rewrite || last != read)
                    .then(|| NewListing { bytes: listing::encode(read), ids: read.iter().map(|l| l.id).collect() });
                (new, left.chain(unlisted).collect())
            }
        };
        Ok(PollRecord {
            source_id: source_id.into(),
            state: encode(state),
            listing,
            seen_ids,
            seen: encode(&Seen { source: source_id.into(), recorded: now.timestamp() }),
            queued,
        })
    }

    /// Writes one poll so that a crash at any point loses nothing.
    ///
    /// A poll that queued something writes it all in one transaction: its
    /// queued items must never be seen without being queued. A poll that
    /// queued nothing (a baseline, a poll of unmatched items, a `304`, a
    /// failure) writes plain inserts in this order: the `seen` records of
    /// the items that left the listing, the listing (which records the new
    /// items), the state. sled recovers a prefix of its log, so a crash can
    /// lose only a tail of that order, and every tail is harmless: an item
    /// recorded in `seen` and still in the old listing is seen twice over;
    /// items seen without the state are fetched again with the old
    /// validators and, already seen, not mailed; nothing in them was going
    /// to be mailed. This matters for speed: a sled 0.34 transaction also
    /// seals and writes (with `sync_file_range`) the log buffer before and
    /// after itself, and one per source made up a third of a cold cycle's CPU
    /// time (scripts/bench-cycle).
    /// Either way the write is durable at the next [`Store::flush`].
    ///
    /// The index of what every source lists is set after the write, so an
    /// item leaving the listing has its `seen` record before the index
    /// forgets it ([`Store::unseen`] looks in that order too).
    pub fn write_poll(&self, poll: &PollRecord) -> Result<()> {
        let written = self.write_poll_records(poll);
        let mut listed = self.listed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match (&written, &poll.listing, listed.as_mut()) {
            (Err(_), _, _) => *listed = None,
            (Ok(()), Some(listing), Some(index)) => index.set(&poll.source_id, listing.ids.clone()),
            _ => {}
        }
        written
    }

    fn write_poll_records(&self, poll: &PollRecord) -> Result<()> {
        if poll.queued.is_empty() {
            for id in &poll.seen_ids {
                self.seen.insert(id.as_bytes(), poll.seen.as_slice())?;
            }
            if let Some(listing) = &poll.listing {
                self.listings.insert(poll.source_id.as_bytes(), listing.bytes.as_slice())?;
            }
            self.crash_point_durable("half-written");
            self.sources.insert(poll.source_id.as_bytes(), poll.state.as_slice())?;
        } else {
            (&self.seen, &self.sources, &self.outbox, &self.listings)
                .transaction(|(seen, sources, outbox, listings)| {
                    for id in &poll.seen_ids {
                        seen.insert(id.as_bytes(), poll.seen.as_slice())?;
                    }
                    for (key, value) in &poll.queued {
                        outbox.insert(&key.to_be_bytes(), value.as_slice())?;
                    }
                    sources.insert(poll.source_id.as_bytes(), poll.state.as_slice())?;
                    if let Some(listing) = &poll.listing {
                        listings.insert(poll.source_id.as_bytes(), listing.bytes.as_slice())?;
                    }
                    Ok(())
                })
                .map_err(tx_error)?;
        }
        Ok(())
    }

    /// A crash point of the kill tests ([`crate::cycle::crash_point`]) that
    /// first makes everything written so far durable: the worst moment for a
    /// crash is when some writes reached the disk and the rest did not.
    fn crash_point_durable(&self, point: &str) {
        if crate::cycle::crash_wanted(point) {
            let _ = self.db.flush();
            crate::cycle::crash_point(point);
        }
    }

    /// Removes `seen` records written before `before` (when their item left
    /// its listing); returns how many went.
    ///
    /// An item a source still lists is kept however old: forgetting it would
    /// make an archive page that lists releases for years announce them again.
    pub fn prune_seen(&self, before: DateTime<Utc>) -> Result<usize> {
        let cutoff = before.timestamp();
        let mut still_listed = HashSet::new();
        for bytes in self.listings.iter().values() {
            still_listed.extend(listing::ids(&bytes?));
        }
        let mut removed = 0;
        for kv in self.seen.iter() {
            let (k, v) = kv?;
            let record: Seen = match decode("seen record", &v) {
                Ok(r) => r,
                Err(_) => continue,
            };
            if record.recorded < cutoff && !still_listed.contains(&hash64(&String::from_utf8_lossy(&k))) {
                self.seen.remove(k)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// When seen items were last pruned.
    pub fn last_prune(&self) -> Result<Option<DateTime<Utc>>> {
        self.meta.get(LAST_PRUNE_KEY)?.map(|v| decode("last prune time", &v)).transpose()
    }

    pub fn set_last_prune(&self, at: DateTime<Utc>) -> Result<()> {
        self.meta.insert(LAST_PRUNE_KEY, encode(&at))?;
        Ok(())
    }

    /// Notes that the mail server accepted the digest `message_id`, with one
    /// append to `STATE_DIR/acked`. A single write(2) reaches the kernel at
    /// once and survives a kill of the process, unlike a sled write waiting
    /// for its flush; so a kill right after the server's 250 does not make
    /// the next run send the digest again.
    pub fn journal_ack(&self, message_id: &str) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("acked"))?;
        f.write_all(format!("{message_id}\n").as_bytes())
    }

    /// Whether `message_id` was noted by [`Store::journal_ack`].
    pub fn ack_journaled(&self, message_id: &str) -> bool {
        std::fs::read_to_string(self.dir.join("acked")).is_ok_and(|s| s.lines().any(|l| l == message_id))
    }

    /// Empties the ack journal once the acks it holds are durable in sled.
    pub fn clear_ack_journal(&self) {
        let _ = std::fs::remove_file(self.dir.join("acked"));
    }
}

/// Removes the snapshots a killed process left half-written in sled's
/// directory. sled 0.34 writes a snapshot to `snap.<lsn>.generating` and
/// renames it only once it is complete and synced, but at opening it also
/// reads the `.generating` ones, and one newer than the last complete
/// snapshot makes the store unopenable ("Read corrupted data", sled issues
/// #1527 and #1533). Without it sled recovers from the last complete
/// snapshot and its log. Called under the state directory's lock: no other
/// process is writing one.
fn remove_unfinished_snapshots(db: &Path) {
    let Ok(entries) = std::fs::read_dir(db) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::warn!(file = %entry.path().display(), "store: removed a snapshot a crash left unfinished")
                }
                Err(e) => {
                    tracing::warn!(file = %entry.path().display(), "store: unable to remove an unfinished snapshot: {e}")
                }
            }
        }
    }
}

/// Takes the state directory's lock, writing our pid into it. Errors name the
/// process that holds it.
fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join("kisha.lock");
    let open = || std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path);
    let mut file = open().map_err(|e| StoreError::Open { path: path.clone(), detail: e.to_string() })?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0).ok();
            let _ = writeln!(file, "{}", std::process::id());
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse().ok());
            Err(StoreError::Locked { dir: dir.into(), pid })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Open { path, detail: e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> Item {
        Item::new("s", url::Url::parse(id).ok(), "t".into(), None)
    }

    #[test]
    fn a_second_open_of_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path(), 1 << 20).unwrap();
        let err = Store::open(dir.path(), 1 << 20).err().expect("second open must fail");
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Locked { .. }), "{msg}");
        assert!(msg.contains(&format!("pid {}", std::process::id())), "{msg}");
    }

    #[test]
    fn commit_poll_records_items_queue_and_state_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let items = [item("https://e.go.jp/1"), item("https://e.go.jp/2")];
        assert_eq!(store.unseen(hashed(&items), &[], true).unwrap().len(), 2);
        let state = SourceState { baseline_done: true, ..Default::default() };
        let key = store.next_key().unwrap();
        store.commit_poll("s", &state, None, &[&items[0]], &[(key, b"{}".to_vec())], Utc::now()).unwrap();
        let unseen: Vec<_> = store.unseen(hashed(&items), &[], true).unwrap().iter().map(|i| i.id.clone()).collect();
        assert_eq!(unseen, ["https://e.go.jp/2"]);
        assert!(store.source_state("s").unwrap().unwrap().baseline_done);
        assert_eq!(store.outbox.len(), 1);
    }

    /// The items as a poll reads them.
    fn read(items: &[&Item]) -> Vec<Listed> {
        Listed::all(items.iter().copied())
    }

    /// `items` with the hashes of their ids, for [`Store::unseen`].
    fn hashed(items: &[Item]) -> impl Iterator<Item = (&Item, u64)> {
        items.iter().map(|i| (i, hash64(&i.id)))
    }

    #[test]
    fn a_listed_item_is_seen_through_its_listing_and_recorded_when_it_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let [a, b, c] = ["https://e.go.jp/a", "https://e.go.jp/b", "https://e.go.jp/c"].map(item);
        let now = Utc::now();
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            store.commit_poll("s", &SourceState::default(), Some(&read(&[&a, &b])), &[&a, &b], &[], now).unwrap();
            assert_eq!(store.seen_records(), 0, "a first poll writes one listing, no seen records");
            let last = store.listing("s").unwrap();
            assert!(last.iter().all(|l| l.key.is_some()), "{last:?}");
            // A baseline of another source looks only at its own listing and
            // at the seen records, and builds no index of every listing.
            assert_eq!(store.unseen(hashed(std::slice::from_ref(&a)), &[], false).unwrap().len(), 1);
            assert!(store.listed.lock().unwrap().is_none());
            let new = store.unseen(hashed(std::slice::from_ref(&c)), &last, true).unwrap();
            assert_eq!(new.len(), 1);
            // `a` leaves the listing, `c` comes in: `a` gets its seen record.
            store.commit_poll("s", &SourceState::default(), Some(&read(&[&b, &c])), &new, &[], now).unwrap();
            assert_eq!(store.seen_records(), 1);
            assert!(store.seen.contains_key(&a.id).unwrap());
            // The index of what is listed forgot `a`: it holds what is listed now.
            assert_eq!(store.listed.lock().unwrap().as_ref().map(Index::distinct), Some(2));
            let listed: Vec<_> = store.listing("s").unwrap().into_iter().map(|l| l.key.unwrap()).collect();
            assert_eq!(listed, [b.id.clone(), c.id.clone()]);
            store.flush_blocking().unwrap();
        }
        // Reopened, another source sees none of the three as new: `a` has a
        // seen record, `b` and `c` are in the listing of `s`.
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let d = item("https://e.go.jp/d");
        let items = [a.clone(), b.clone(), c.clone(), d.clone()];
        let new: Vec<_> = store.unseen(hashed(&items), &[], true).unwrap().iter().map(|i| i.id.clone()).collect();
        assert_eq!(new, [d.id.as_str()]);
        // Listed by `t` too, and then not: `b` gets its seen record.
        store.commit_poll("t", &SourceState::default(), Some(&read(&[&b, &d])), &[&d], &[], now).unwrap();
        store.commit_poll("t", &SourceState::default(), Some(&read(&[&d])), &[], &[], now).unwrap();
        assert_eq!(store.seen_records(), 2);
        assert!(store.seen.contains_key(&b.id).unwrap());
        for i in &items {
            assert!(store.is_seen(&i.id).unwrap(), "{}", i.id);
        }
        let check = store.check().unwrap();
        assert_eq!((check.listed, check.seen, check.problems.len()), (3, 2, 0), "{check:?}");
    }

    #[test]
    fn a_schema_2_store_keeps_its_seen_items_through_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let [a, b] = ["https://e.go.jp/a", "https://e.go.jp/b"].map(item);
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            // Schema 2: every item has a seen record; listings are hash pairs.
            let seen = encode(&Seen { source: "s".into(), recorded: 0 });
            store.seen.insert(a.id.as_bytes(), seen.as_slice()).unwrap();
            store.seen.insert(b.id.as_bytes(), seen.as_slice()).unwrap();
            let pairs: Vec<u8> =
                read(&[&a, &b]).iter().flat_map(|l| [l.title.to_be_bytes(), l.id.to_be_bytes()]).flatten().collect();
            store.listings.insert("s", pairs).unwrap();
            // And one cut short, which cannot be read.
            store.listings.insert("t", &[7u8; 17]).unwrap();
            store.meta.insert(SCHEMA_KEY, &2u32.to_be_bytes()).unwrap();
            store.flush_blocking().unwrap();
        }
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(store.schema_version().unwrap(), Some(SCHEMA_VERSION));
        // The ids come back from the seen records.
        let last = store.listing("s").unwrap();
        assert_eq!(last, read(&[&a, &b]));
        assert!(store.listings.get("t").unwrap().is_none(), "the listing cut short is dropped");
        assert!(store.unseen(hashed(&[a.clone(), b.clone()]), &last, true).unwrap().is_empty());
        // `a` leaves: its seen record is written again, so retention counts
        // from now, not from when it was first seen.
        store.commit_poll("s", &SourceState::default(), Some(&read(&[&b])), &[], &[], Utc::now()).unwrap();
        assert_eq!(store.seen_records(), 2);
        let record: Seen = decode("seen record", &store.seen.get(&a.id).unwrap().unwrap()).unwrap();
        assert!(record.recorded > 0, "{record:?}");
        assert!(store.check().unwrap().problems.is_empty());
    }

    #[test]
    fn a_cut_listing_is_an_error_naming_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        store.listings.insert("mofa", &[0u8; 21]).unwrap();
        let err = store.listing("mofa").unwrap_err().to_string();
        assert!(err.contains("listing of source `mofa`"), "{err}");
        assert!(store.commit_poll("mofa", &SourceState::default(), Some(&[]), &[], &[], Utc::now()).is_err());
        let problems = store.check().unwrap().problems;
        assert!(problems.iter().any(|p| p.contains("listing of `mofa`")), "{problems:?}");
    }

    #[test]
    fn a_poll_with_nothing_new_records_only_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let state = SourceState { items_seen: 7, ..Default::default() };
        store.commit_poll("s", &state, None, &[], &[], Utc::now()).unwrap();
        assert_eq!(store.source_state("s").unwrap(), Some(state));
        assert_eq!((store.seen.len(), store.outbox.len()), (0, 0));
    }

    #[test]
    fn a_snapshot_left_unfinished_by_a_kill_does_not_make_the_store_unopenable() {
        let dir = tempfile::tempdir().unwrap();
        let state = SourceState { items_seen: 3, ..Default::default() };
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            store.commit_poll("mod", &state, None, &[], &[], Utc::now()).unwrap();
            store.flush_blocking().unwrap();
        }
        // What a SIGKILL in the middle of writing a snapshot leaves: a newer
        // `.generating` file, cut short.
        std::fs::write(dir.path().join("db").join("snap.7FFFFFFFFFFFFFFF.generating"), b"cut short").unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(store.source_state("mod").unwrap(), Some(state));
        assert!(!dir.path().join("db").join("snap.7FFFFFFFFFFFFFFF.generating").exists());
    }

    #[test]
    fn the_schema_version_is_written_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            assert_eq!(store.schema_version().unwrap(), Some(SCHEMA_VERSION));
            store.meta.insert(SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes()).unwrap();
            store.flush_blocking().unwrap();
        }
        let err = Store::open(dir.path(), 1 << 20).err().unwrap();
        assert!(err.to_string().contains("newer kisha"), "{err}");
    }

    #[test]
    fn a_schema_1_store_is_migrated_and_a_304_does_not_rewrite_the_listing() {
        let dir = tempfile::tempdir().unwrap();
        let listing = vec![(1u64, 2u64), (3, 4)];
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            // A schema-1 record: the listing inside the state's JSON.
            let mut v = serde_json::to_value(SourceState { items_seen: 7, ..Default::default() }).unwrap();
            v["last_listing"] = serde_json::json!(listing);
            store.sources.insert("mod", serde_json::to_vec(&v).unwrap()).unwrap();
            store.listings.clear().unwrap();
            store.meta.insert(SCHEMA_KEY, &1u32.to_be_bytes()).unwrap();
            store.flush_blocking().unwrap();
        }
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(store.schema_version().unwrap(), Some(SCHEMA_VERSION));
        let state = store.source_state("mod").unwrap().unwrap();
        let pairs = |l: Vec<Listed>| l.into_iter().map(|l| (l.title, l.id)).collect::<Vec<_>>();
        assert_eq!((state.items_seen, pairs(store.listing("mod").unwrap())), (7, listing.clone()));
        assert!(!String::from_utf8_lossy(&store.sources.get("mod").unwrap().unwrap()).contains("last_listing"));
        // Rewriting the state with the same listing, or after a 304 (no
        // listing), leaves the listing record as it was.
        let before = store.listings.get("mod").unwrap();
        let unkeyed = |pairs: &[(u64, u64)]| pairs.iter().map(|&(title, id)| Listed { title, id, key: None }).collect();
        let same: Vec<Listed> = unkeyed(&listing);
        let last = store.listing("mod").unwrap();
        for read in [Some(same.as_slice()), None] {
            let listing = read.map(|read| Relisting { last: &last, read, rewrite: false });
            let poll = store.prepare_poll("mod", &state, listing, &[], Vec::new(), Utc::now()).unwrap();
            assert!(poll.listing.is_none(), "an unchanged listing is not written again");
            store.write_poll(&poll).unwrap();
            assert_eq!(store.listings.get("mod").unwrap(), before);
        }
        let moved = [(5, 6)];
        let read = unkeyed(&moved);
        let poll = store
            .prepare_poll(
                "mod",
                &state,
                Some(Relisting { last: &last, read: &read, rewrite: false }),
                &[],
                Vec::new(),
                Utc::now(),
            )
            .unwrap();
        assert!(poll.listing.is_some());
        store.write_poll(&poll).unwrap();
        assert_eq!(pairs(store.listing("mod").unwrap()), moved);
        assert!(store.check().unwrap().problems.is_empty());
    }

    #[test]
    fn pruning_keeps_old_items_a_source_still_lists() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let old = Utc::now() - chrono::Duration::days(500);
        let items = [item("https://e.go.jp/archive/1"), item("https://e.go.jp/archive/2")];
        // A poll that lists only the first: the second gets its seen record at once.
        store
            .commit_poll("s", &SourceState::default(), Some(&read(&[&items[0]])), &[&items[0], &items[1]], &[], old)
            .unwrap();
        assert_eq!(store.seen_records(), 1, "the listed item needs no seen record");
        assert_eq!(store.prune_seen(Utc::now() - chrono::Duration::days(400)).unwrap(), 1);
        assert!(store.is_seen("https://e.go.jp/archive/1").unwrap(), "still listed: kept");
        assert!(!store.is_seen("https://e.go.jp/archive/2").unwrap());
    }

    #[test]
    fn pruning_removes_only_old_seen_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let old = Utc::now() - chrono::Duration::days(500);
        let items = [item("https://e.go.jp/old"), item("https://e.go.jp/new")];
        store.commit_poll("s", &SourceState::default(), None, &[&items[0]], &[], old).unwrap();
        store.commit_poll("s", &SourceState::default(), None, &[&items[1]], &[], Utc::now()).unwrap();
        assert_eq!(store.prune_seen(Utc::now() - chrono::Duration::days(400)).unwrap(), 1);
        assert!(store.is_seen("https://e.go.jp/new").unwrap());
        assert!(!store.is_seen("https://e.go.jp/old").unwrap());
    }
}
