//! The Digest: queued entries grouped into events and rendered for people.
//!
//! It takes what is due in the outbox, groups the releases into events
//! ([`event::group`]), caps the count (a burst of 500 matches makes one digest
//! with a "+N more" line, never hundreds of mails), and renders a text part
//! and an HTML part ([`render`]). It knows nothing of SMTP or sled beyond the
//! events it reads.

pub mod event;
pub mod render;

use chrono::{DateTime, Utc};

use crate::outbox::{Entry, Notice, Queued};
pub use event::{Draft, Event};

/// The most matches one digest names, in full or on one line each. A burst
/// beyond it is counted in a "+N more" line (`kisha events` lists them all).
pub const MAX_LISTED: usize = 500;

/// A digest ready to be mailed.
#[derive(Debug, Clone)]
pub struct Composed {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The events it reports (all of them, shown or summed up in "+N more").
    pub drafts: Vec<Draft>,
    /// The Message-ID of the digest this one updates, if any.
    pub in_reply_to: Vec<String>,
    /// Matched items it covers.
    pub items: usize,
}

/// Composes one digest from outbox records. `None` when there is nothing to
/// report (no items; health notices alone wait for the next digest).
pub fn compose(
    queued: &[(u64, Queued)],
    known: &[Event],
    max_entries: usize,
    subject_prefix: &str,
    now: DateTime<Utc>,
) -> Option<Composed> {
    let entries: Vec<&Entry> = queued
        .iter()
        .filter_map(|(_, q)| match q {
            Queued::Item(e) => Some(e),
            Queued::Notice(_) => None,
        })
        .collect();
    if entries.is_empty() {
        return None;
    }
    let notices: Vec<&Notice> = queued
        .iter()
        .filter_map(|(_, q)| match q {
            Queued::Notice(n) => Some(n),
            Queued::Item(_) => None,
        })
        .collect();
    let drafts = event::group(&entries, known);

    // Whole events in full until `max_entries`; then one line per release up
    // to MAX_LISTED in all; beyond that, a count. A burst or a backlog after
    // an outage still makes one mail, and every item in it up to the cap.
    let mut shown = Vec::new();
    let mut listed = Vec::new();
    let mut budget = max_entries;
    let mut lines_left = MAX_LISTED.saturating_sub(max_entries);
    let mut more = 0;
    for d in &drafts {
        let new: Vec<&event::EventRelease> = d.event.releases.iter().filter(|r| r.is_new).collect();
        if new.len() <= budget || shown.is_empty() {
            budget = budget.saturating_sub(new.len());
            shown.push(d.clone());
            continue;
        }
        for r in new {
            if lines_left > 0 {
                listed.push(r.clone());
                lines_left -= 1;
            } else {
                more += 1;
            }
        }
    }
    let in_reply_to: Vec<String> =
        shown.iter().filter(|d| d.update).filter_map(|d| d.event.message_id.clone()).collect();
    let subject = render::subject(subject_prefix, &shown, listed.len() + more);
    let view = render::view(&shown, &listed, &notices, more, now);
    // The new releases as the digest shows them: one for an item two
    // sources queued.
    let items = drafts.iter().flat_map(|d| &d.event.releases).filter(|r| r.is_new).count();
    Some(Composed { subject, text: render::text(&view), html: render::html(&view), drafts, in_reply_to, items })
}
