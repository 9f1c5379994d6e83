//! `kisha store check`: every record read back, and the trees checked
//! against each other.

use serde::Serialize;

use super::{Result, SCHEMA_VERSION, Seen, SourceState, Store, decode, listing};

/// What `kisha store check` found.
#[derive(Debug, Default, Serialize)]
pub struct CheckReport {
    pub schema: Option<u32>,
    /// Items in the sources' listings (an item two sources list counts twice).
    pub listed: usize,
    /// `seen` records: items that left their listing.
    pub seen: usize,
    pub sources: usize,
    pub queued: usize,
    pub events: usize,
    pub in_flight: Option<String>,
    pub problems: Vec<String>,
}

impl Store {
    /// Reads every record and checks that the trees agree with each other.
    pub fn check(&self) -> Result<CheckReport> {
        let mut r = CheckReport { schema: self.schema_version()?, ..Default::default() };
        if r.schema != Some(SCHEMA_VERSION) {
            r.problems.push(format!("schema version {:?}, expected {SCHEMA_VERSION}", r.schema));
        }
        for kv in self.seen.iter() {
            let (k, v) = kv?;
            r.seen += 1;
            if decode::<Seen>("seen record", &v).is_err() {
                r.problems.push(format!("undecodable seen record for {}", String::from_utf8_lossy(&k)));
            }
        }
        for kv in self.sources.iter() {
            let (k, v) = kv?;
            r.sources += 1;
            if let Err(e) = decode::<SourceState>("source state", &v) {
                r.problems.push(format!("source `{}`: {e}", String::from_utf8_lossy(&k)));
            }
        }
        let mut keys = std::collections::HashSet::new();
        for kv in self.outbox.iter() {
            let (k, v) = kv?;
            r.queued += 1;
            match <[u8; 8]>::try_from(k.as_ref()) {
                Ok(b) => {
                    keys.insert(u64::from_be_bytes(b));
                }
                Err(_) => r.problems.push(format!("outbox key of {} bytes, expected 8", k.len())),
            }
            if let Err(e) = decode::<crate::outbox::Queued>("outbox entry", &v) {
                r.problems.push(e.to_string());
            }
        }
        for kv in self.listings.iter() {
            let (k, v) = kv?;
            match listing::decode(&v) {
                Some(listed) => r.listed += listed.len(),
                None => {
                    r.problems.push(format!("listing of `{}`: {}", String::from_utf8_lossy(&k), super::undecodable(&v)))
                }
            }
        }
        for kv in self.events.iter() {
            let (_, v) = kv?;
            r.events += 1;
            if let Err(e) = decode::<crate::digest::Event>("event", &v) {
                r.problems.push(e.to_string());
            }
        }
        if let Err(e) = self.mail_state() {
            r.problems.push(e.to_string());
        }
        match self.inflight() {
            Ok(Some(inflight)) => {
                let missing = inflight.keys.iter().filter(|k| !keys.contains(k)).count();
                if missing > 0 {
                    r.problems.push(format!(
                        "the digest in flight ({}) covers {missing} entries no longer queued",
                        inflight.message_id
                    ));
                }
                r.in_flight = Some(inflight.message_id);
            }
            Ok(None) => {}
            Err(e) => r.problems.push(e.to_string()),
        }
        Ok(r)
    }
}
