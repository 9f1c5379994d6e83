//! The Outbox: matches waiting to be mailed, durable in the store.
//!
//! A match enters the outbox in the same transaction that marks its item seen
//! ([`crate::store::Store::write_poll`]), and leaves it only after the mail
//! server accepted a digest holding it. Delivery is a small state machine kept
//! in the store's `meta` tree:
//!
//! 1. [`Store::begin_delivery`] records the composed message (its bytes and
//!    the keys it covers) as *in flight*, and is flushed before SMTP starts.
//! 2. On acceptance, [`Store::finish_delivery`] removes those keys and the
//!    in-flight record in one transaction.
//! 3. On a refusal (the server said no, or was unreachable), the in-flight
//!    record is dropped and the entries wait for the next attempt, with
//!    exponential backoff kept in [`MailState`].
//!
//! A crash between 1 and 2 leaves the in-flight record: the next run sends the
//! very same bytes, with the same Message-ID, so a receiver sees at worst one
//! duplicate it can recognise.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::Transactional;

use crate::enrich::Release;
use crate::extract::{Item, hex};
use crate::matcher::Match;
use crate::store::{Result, Store, decode, encode, tx_error};

const INFLIGHT_KEY: &[u8] = b"inflight";
const MAIL_STATE_KEY: &[u8] = b"mail_state";

/// A record in the outbox.
// Records live for one cycle, a few at a time; boxing the big variant would
// buy nothing but indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Queued {
    /// A matched item, with its facts.
    Item(Entry),
    /// A change in a source's health, for the digest's footer.
    Notice(Notice),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub source_id: String,
    pub source_name: String,
    pub item: Item,
    #[serde(rename = "match")]
    pub matched: Match,
    pub release: Option<Release>,
    pub queued_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub source_id: String,
    pub source_name: String,
    /// True when the source turned unhealthy, false when it recovered.
    pub unhealthy: bool,
    pub detail: String,
    pub at: DateTime<Utc>,
    /// Something that happened once (the site moved its pages, a listing
    /// was recorded again), not a state that a recovery will end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub once: bool,
}

/// A composed digest the mail server has not yet confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inflight {
    pub message_id: String,
    /// Outbox keys the digest covers.
    pub keys: Vec<u64>,
    /// The whole message as sent (7-bit, so a string).
    pub eml: String,
    /// Its text part, for logs, `status` and the demo.
    #[serde(default)]
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// Matched items it holds (for logs and status).
    pub items: usize,
    /// The events it reports, recorded once it is accepted.
    #[serde(default)]
    pub events: Vec<crate::digest::Event>,
}

/// Delivery health, kept across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailState {
    #[serde(default)]
    pub consecutive_failures: u32,
    /// No attempt before this (exponential backoff after failures).
    pub next_attempt: Option<DateTime<Utc>>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Set by a permanent refusal (5xx): delivery waits for the operator
    /// (`kisha outbox retry`) or a change of the mail settings.
    pub suspended: Option<Suspension>,
    pub last_delivery: Option<DateTime<Utc>>,
    pub last_message_id: Option<String>,
    #[serde(default)]
    pub digests_sent: u64,
    /// When the last scheduled digest went out (or would have, if empty).
    pub last_digest_slot: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub since: DateTime<Utc>,
    pub error: String,
    /// The mail settings in force when it happened; new settings lift it.
    pub settings: String,
}

/// The Message-ID of a digest covering `keys`: the same entries always give
/// the same id.
pub fn message_id(keys: &[u64], domain: &str) -> String {
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    let mut h = Sha256::new();
    for k in &sorted {
        h.update(k.to_be_bytes());
    }
    format!("<digest.{}@{}>", hex(&h.finalize()[..12]), domain)
}

impl Store {
    /// Everything waiting in the outbox, oldest first.
    pub fn pending(&self) -> Result<Vec<(u64, Queued)>> {
        self.outbox
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let key = u64::from_be_bytes(k.as_ref().try_into().unwrap_or_default());
                Ok((key, decode(format_args!("outbox entry {key}"), &v)?))
            })
            .collect()
    }

    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    pub fn inflight(&self) -> Result<Option<Inflight>> {
        self.meta.get(INFLIGHT_KEY)?.map(|v| decode("digest in flight", &v)).transpose()
    }

    pub fn mail_state(&self) -> Result<MailState> {
        Ok(self.meta.get(MAIL_STATE_KEY)?.map(|v| decode("mail state", &v)).transpose()?.unwrap_or_default())
    }

    pub fn save_mail_state(&self, state: &MailState) -> Result<()> {
        self.meta.insert(MAIL_STATE_KEY, encode(state))?;
        Ok(())
    }

    /// Records a digest as in flight. Flush before sending it.
    pub fn begin_delivery(&self, inflight: &Inflight) -> Result<()> {
        self.meta.insert(INFLIGHT_KEY, encode(inflight))?;
        Ok(())
    }

    /// The server accepted the digest: its entries leave the outbox, and the
    /// events it reported are recorded, in one transaction.
    pub fn finish_delivery(&self, inflight: &Inflight, state: &MailState, events: &[(String, Vec<u8>)]) -> Result<()> {
        let state = encode(state);
        let events = events.to_vec();
        (&self.outbox, &self.meta, &self.events)
            .transaction(|(outbox, meta, event_tree)| {
                for key in &inflight.keys {
                    outbox.remove(&key.to_be_bytes())?;
                }
                meta.remove(INFLIGHT_KEY)?;
                meta.insert(MAIL_STATE_KEY, state.as_slice())?;
                for (id, event) in &events {
                    event_tree.insert(id.as_bytes(), event.as_slice())?;
                }
                Ok(())
            })
            .map_err(tx_error)
    }

    /// The server refused the digest: it is no longer in flight, its entries
    /// stay queued, and the new mail state (backoff) is saved.
    pub fn abandon_delivery(&self, state: &MailState) -> Result<()> {
        let state = encode(state);
        self.meta
            .transaction(|meta| {
                meta.remove(INFLIGHT_KEY)?;
                meta.insert(MAIL_STATE_KEY, state.as_slice())?;
                Ok(())
            })
            .map_err(tx_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_entries_give_the_same_message_id() {
        assert_eq!(message_id(&[3, 1, 2], "example.org"), message_id(&[1, 2, 3], "example.org"));
        assert_ne!(message_id(&[1, 2], "example.org"), message_id(&[1, 2, 3], "example.org"));
        assert!(message_id(&[1], "example.org").ends_with("@example.org>"));
    }

    #[test]
    fn a_delivery_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let key = store.next_key().unwrap();
        let notice = Queued::Notice(Notice {
            source_id: "s".into(),
            source_name: "S".into(),
            unhealthy: true,
            detail: "x".into(),
            at: Utc::now(),
            once: false,
        });
        store.commit_poll("s", &Default::default(), None, &[], &[(key, encode(&notice))], Utc::now()).unwrap();
        assert_eq!(store.pending().unwrap(), vec![(key, notice)]);

        let inflight = Inflight {
            message_id: message_id(&[key], "e.org"),
            keys: vec![key],
            eml: "x".into(),
            text: String::new(),
            created_at: Utc::now(),
            items: 0,
            events: vec![],
        };
        store.begin_delivery(&inflight).unwrap();
        store.abandon_delivery(&MailState { consecutive_failures: 1, ..Default::default() }).unwrap();
        assert_eq!(store.inflight().unwrap(), None);
        assert_eq!(store.outbox_len(), 1, "a refused digest keeps its entries");
        assert_eq!(store.mail_state().unwrap().consecutive_failures, 1);

        store.begin_delivery(&inflight).unwrap();
        store.finish_delivery(&inflight, &MailState::default(), &[]).unwrap();
        assert_eq!(store.outbox_len(), 0);
        assert_eq!(store.inflight().unwrap(), None);
    }
}
