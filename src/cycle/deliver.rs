//! Delivery: the outbox through Digest → Mailer, as a state machine kept in
//! the store (see [`crate::outbox`]): a composed digest is recorded in flight
//! and flushed before SMTP starts; the server's 250 is journaled with one
//! write(2), then acknowledged in one transaction; a refusal leaves the
//! entries queued with exponential backoff, and a permanent one suspends
//! delivery until the settings change or the operator retries.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use super::{Context, crash_point};
use crate::digest;
use crate::mail;
use crate::outbox::{Inflight, MailState, Queued, Suspension, message_id};

/// What one delivery attempt came to.
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

/// One line for people: what the delivery came to.
impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let line: String = match self {
            Delivery::Nothing => "nothing to send".into(),
            Delivery::NotDue { next } => {
                format!("queued until the next digest time{}", next.map(|t| format!(" ({t})")).unwrap_or_default())
            }
            Delivery::Backoff { until } => format!("waiting until {until} after a failed attempt"),
            Delivery::Suspended { error } => format!("suspended after a permanent refusal: {error}"),
            Delivery::Sent { items, events, delivered, resent, .. } => format!(
                "1 digest{}, {events} event{}, {items} release{}, {delivered}",
                if *resent { " (resent)" } else { "" },
                if *events == 1 { "" } else { "s" },
                if *items == 1 { "" } else { "s" }
            ),
            Delivery::Failed { error, permanent } => {
                format!("failed ({}): {error}", if *permanent { "permanent" } else { "will retry" })
            }
        };
        f.write_str(&line)
    }
}
