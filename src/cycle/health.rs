//! A source's health: the problems in force (failing, empty, mojibake,
//! repaired), the notices when one starts or ends (each goes to a digest's
//! footer once), and telling a site that moved its pages from one that
//! published new ones.

use chrono::{DateTime, Utc};

use crate::config::Source;
use crate::extract::Item;
use crate::outbox::Notice;
use crate::store::listing::Listed;
use crate::store::{Problem, SourceState};

/// The new items that are old items under new URLs: their title was listed
/// last time under a URL that has now left the listing. Titles recur (every
/// 「日仏防衛相会談について」), so this counts only as a mass move: at least
/// three such items, and at least half of what is new.
pub(super) fn moved_items<'a>(last: &[Listed], listing: &[Listed], new: &[&'a Item]) -> Vec<&'a Item> {
    // A first poll has no last listing: nothing can have left it.
    if new.is_empty() || last.is_empty() {
        return Vec::new();
    }
    let current: foldhash::HashSet<u64> = listing.iter().map(|l| l.id).collect();
    let gone: foldhash::HashSet<u64> = last.iter().filter(|l| !current.contains(&l.id)).map(|l| l.title).collect();
    // Nothing left the listing: nothing can have moved.
    if gone.is_empty() {
        return Vec::new();
    }
    // The listing read already holds each item's folded-title hash.
    let retitled: foldhash::HashSet<&str> =
        listing.iter().filter(|l| gone.contains(&l.title)).filter_map(|l| l.key.as_deref()).collect();
    let moved: Vec<&Item> = new.iter().copied().filter(|i| retitled.contains(i.id.as_str())).collect();
    if moved.len() >= 3 && moved.len() * 2 >= new.len() { moved } else { Vec::new() }
}

pub(super) fn problem_set(state: &SourceState) -> Vec<String> {
    state.problems.iter().map(|p| p.kind.clone()).collect()
}

/// Sets or clears one problem on a state.
pub(super) fn set_problem(state: &mut SourceState, kind: &str, detail: Option<String>, now: DateTime<Utc>) {
    match detail {
        Some(detail) => match state.problems.iter_mut().find(|p| p.kind == kind) {
            Some(p) => p.detail = detail,
            None => state.problems.push(Problem { kind: kind.into(), detail, since: now }),
        },
        None => state.problems.retain(|p| p.kind != kind),
    }
}

/// A notice about `source`.
fn notice(source: &Source, unhealthy: bool, detail: String, at: DateTime<Utc>) -> Notice {
    Notice { source_id: source.id.clone(), source_name: source.name.clone(), unhealthy, detail, at, once: false }
}

/// A notice of something that happened once to `source` (its site moved,
/// its listing was recorded again), not a state that a recovery will end.
pub(super) fn one_off(source: &Source, detail: String, at: DateTime<Utc>) -> Notice {
    Notice { once: true, ..notice(source, true, detail, at) }
}

/// Notices for problems that started or ended between two states.
pub(super) fn health_notices(
    source: &Source,
    before: &[String],
    after: &SourceState,
    now: DateTime<Utc>,
) -> Vec<Notice> {
    let mut out: Vec<Notice> = after
        .problems
        .iter()
        .filter(|p| !before.contains(&p.kind))
        .map(|p| notice(source, true, p.detail.clone(), now))
        .collect();
    let now_kinds = problem_set(after);
    if !before.is_empty() && now_kinds.is_empty() {
        out.push(notice(source, false, String::new(), now));
    }
    out
}
