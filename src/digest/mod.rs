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

    // Show whole events until the cap; sum up the rest.
    let mut shown = Vec::new();
    let mut budget = max_entries;
    let mut more = 0;
    for d in &drafts {
        let new = d.event.releases.iter().filter(|r| r.is_new).count();
        if new <= budget || shown.is_empty() {
            budget = budget.saturating_sub(new);
            shown.push(d.clone());
        } else {
            more += new;
        }
    }
    let in_reply_to: Vec<String> =
        shown.iter().filter(|d| d.update).filter_map(|d| d.event.message_id.clone()).collect();
    let subject = render::subject(subject_prefix, &shown, more);
    let view = render::view(&shown, &notices, more, now);
    Some(Composed {
        subject,
        text: render::text(&view),
        html: render::html(&view),
        drafts,
        in_reply_to,
        items: entries.len(),
    })
}
