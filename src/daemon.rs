//! `kisha run`: the long-running service.
//!
//! One loop: poll the sources that are due (each on its own interval, with
//! jitter, backoff and `Retry-After` from [`crate::schedule`]), deliver what
//! is due, write the status snapshot, sleep until the next thing is due.
//!
//! Under systemd (`Type=notify`) it sends READY=1 once the store is open and
//! the config valid, and WATCHDOG=1 only while the loop shows signs of life
//! (a heartbeat after every poll and every wake-up). SIGTERM and SIGINT stop
//! it at a safe point: polls in progress are dropped (a poll commits in one
//! transaction at its end, so nothing half-done stays), a digest being sent
//! is finished, the store is flushed. SIGHUP reloads the config; a bad new
//! config is logged and the old one stays in force.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::clock::Clock;
use crate::config::Config;
use crate::cycle::{self, Context};
use crate::schedule;

/// The longest sleep of the loop: it wakes at least this often (or four
/// times per watchdog period, if shorter) to beat the heartbeat, so the
/// watchdog sees an idle daemon as alive.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// Sources due within this much of a wake-up are polled in it. Jitter spreads
/// the due times of many sources over seconds; without this window every one
/// of them was a wake-up of its own, each scanning every source.
const DUE_WINDOW: chrono::Duration = chrono::Duration::seconds(1);

/// How often seen items that left their listing longer ago than
/// `store.retention` are pruned. The time of the last pruning is kept in the
/// store, so a daemon restarted more often than this still prunes.
const PRUNE_EVERY: chrono::Duration = chrono::Duration::hours(24);

/// The status snapshot is rewritten after any work, and at least this often.
const SNAPSHOT_EVERY: chrono::Duration = chrono::Duration::minutes(5);

/// ...but not more often than this. Writing it reads every source's state,
/// and jittered due times wake the loop many times an interval: with a
/// snapshot after every wake-up with work, the real daemon spent 1.4 s of CPU
/// every 30 s on 1,000 unchanged loopback sources polled every 30 s (82 % of
/// it in the snapshot, by `perf`).
const SNAPSHOT_MIN_GAP: chrono::Duration = chrono::Duration::seconds(5);

/// What signals asked of the loop: stop, and how many reloads so far (a
/// counter, so that no reload is lost between two looks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Control {
    pub stop: bool,
    pub reloads: u64,
}

/// Starts the daemon with the config at `path`. Returns after a stop signal.
pub async fn run(path: PathBuf, clock: Clock, signals: watch::Receiver<Control>) -> anyhow::Result<()> {
    let config = Config::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = Context::open(config, clock)?;
    notify(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status("polling")]);
    info!(sources = ctx.config.sources.len(), rules = ctx.config.rules.len(), state = %ctx.config.state_dir.display(), "kisha started");
    let watchdog_period = sd_notify::watchdog_enabled();
    let max_sleep = watchdog_period.map_or(MAX_SLEEP, |p| (p / 4).min(MAX_SLEEP));
    let watchdog = tokio::spawn(watchdog(ctx.heartbeat.clone(), ctx.clock.clone()));
    let result = work(ctx, &path, signals, max_sleep).await;
    watchdog.abort();
    notify(&[sd_notify::NotifyState::Stopping]);
    result
}

fn notify(states: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!("unable to notify systemd: {e}");
    }
}

/// Sends WATCHDOG=1 at half the configured period, but only while the loop
/// beats: a stuck loop stops the pings and systemd restarts the service.
async fn watchdog(heartbeat: cycle::Heartbeat, clock: Clock) {
    let Some(period) = sd_notify::watchdog_enabled() else { return };
    let mut tick = tokio::time::interval(period / 2);
    loop {
        tick.tick().await;
        let alive = heartbeat.last().is_some_and(|t| (clock.now() - t).to_std().unwrap_or_default() < period);
        if alive {
            notify(&[sd_notify::NotifyState::Watchdog]);
        } else {
            error!(last_beat = ?heartbeat.last(), "the main loop shows no sign of life: not pinging the watchdog");
        }
    }
}

/// The first poll time of each source: its stored next poll, or soon with a
/// random spread, so sources don't all fire at once after a restart.
fn initial_schedule(ctx: &Context, now: DateTime<Utc>) -> HashMap<String, DateTime<Utc>> {
    let states: HashMap<_, _> = ctx.store.source_states().unwrap_or_default().into_iter().collect();
    ctx.config
        .sources
        .iter()
        .filter(|s| s.enabled)
        .map(|s| {
            let spread = schedule::jitter(s.interval.min(Duration::from_secs(300)));
            let soon = now + chrono::Duration::from_std(spread).unwrap_or_default();
            let stored = states.get(&s.id).filter(|st| st.url == s.url.as_str()).and_then(|st| st.next_poll);
            (s.id.clone(), stored.map_or(soon, |t| t.max(soon)))
        })
        .collect()
}

async fn work(
    mut ctx: Context,
    path: &Path,
    mut signals: watch::Receiver<Control>,
    max_sleep: Duration,
) -> anyhow::Result<()> {
    let mut next = initial_schedule(&ctx, ctx.clock.now());
    let mut last_prune = ctx.store.last_prune().unwrap_or(None);
    let mut last_snapshot: Option<DateTime<Utc>> = None;
    // Work done since the last snapshot: polls, or a mail attempt.
    let mut unsaved = false;
    // The last poll of each source, which a quiet 304 does not write to the store.
    let mut polled: HashMap<String, crate::status::LivePoll> = HashMap::new();
    let mut reloads_seen = signals.borrow().reloads;
    loop {
        if signals.borrow().stop {
            break;
        }
        let now = ctx.clock.now();
        ctx.heartbeat.beat(now);
        let due: Vec<_> = ctx
            .config
            .sources
            .iter()
            .filter(|s| s.enabled && next.get(&s.id).is_some_and(|t| *t <= now + DUE_WINDOW))
            .collect();
        unsaved |= !due.is_empty();
        if !due.is_empty() {
            let polls = cycle::poll_sources(&ctx, &due);
            let reports = tokio::select! {
                reports = polls => reports?,
                _ = stopped(&mut signals) => break,
            };
            let intervals: HashMap<&str, Duration> = due.iter().map(|s| (s.id.as_str(), s.interval)).collect();
            for r in reports {
                let interval = intervals.get(r.id.as_str()).copied().unwrap_or(Duration::from_secs(600));
                let fallback = r.polled_at + chrono::Duration::from_std(interval).unwrap_or_default();
                next.insert(r.id.clone(), r.next_poll.unwrap_or(fallback));
                let ok = !matches!(r.outcome, cycle::Outcome::Failed { .. });
                polled.insert(r.id, crate::status::LivePoll { at: r.polled_at, ok });
            }
        }
        // A delivery runs to its end, even when a stop signal came meanwhile.
        match cycle::deliver(&ctx, false).await {
            // Only a mail attempt changes what the snapshot shows; a suspended
            // delivery answers the same on every wake-up.
            Ok(cycle::Delivery::Sent { .. } | cycle::Delivery::Failed { .. }) => unsaved = true,
            Ok(_) => {}
            Err(e) => error!("unable to deliver: {e:#}"),
        }
        let now = ctx.clock.now();
        if last_prune.is_none_or(|t| now - t >= PRUNE_EVERY) {
            let retention =
                chrono::Duration::from_std(ctx.config.store.retention).unwrap_or(chrono::Duration::days(400));
            // A full scan of the seen items (3 s at 10^6): off the async threads.
            let store = ctx.store.clone();
            let pruned = tokio::task::spawn_blocking(move || {
                let n = store.prune_seen(now - retention)?;
                store.set_last_prune(now)?;
                Ok::<_, crate::store::StoreError>(n)
            })
            .await;
            match pruned {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => info!(removed = n, "pruned seen items that left their listing before store.retention"),
                Ok(Err(e)) => warn!("unable to prune the store: {e}"),
                Err(e) => warn!("unable to prune the store: {e}"),
            }
            last_prune = Some(now);
        }
        let since_snapshot = last_snapshot.map(|t| now - t);
        if since_snapshot.is_none_or(|d| d >= SNAPSHOT_EVERY || (unsaved && d >= SNAPSHOT_MIN_GAP)) {
            let live = crate::status::Live { next: &next, polled: &polled };
            if let Err(e) = crate::status::write_snapshot(&ctx.config, &ctx.store, now, &live) {
                warn!("unable to write the status snapshot: {e:#}");
            }
            last_snapshot = Some(now);
            unsaved = false;
        }
        ctx.heartbeat.beat(now);

        let mut wake = next_wake(&ctx, &next, now, max_sleep);
        if unsaved && let Some(t) = last_snapshot {
            wake = wake.min(t + SNAPSHOT_MIN_GAP);
        }
        tokio::select! {
            _ = ctx.clock.sleep_until(wake) => {}
            control = next_control(&mut signals) => {
                if control.stop {
                    break;
                }
                if control.reloads != reloads_seen {
                    reloads_seen = control.reloads;
                    notify(&[sd_notify::NotifyState::Reloading]);
                    match Config::load(path) {
                        Ok(config) => match Context::with_store(config, ctx.store.clone(), ctx.clock.clone()) {
                            Ok(mut fresh) => {
                                fresh.heartbeat = ctx.heartbeat.clone();
                                let now = fresh.clock.now();
                                for s in &fresh.config.sources {
                                    next.entry(s.id.clone()).or_insert(now);
                                }
                                next.retain(|id, _| fresh.config.source(id).is_some_and(|s| s.enabled));
                                ctx = fresh;
                                info!(sources = ctx.config.sources.len(), rules = ctx.config.rules.len(), "config reloaded");
                            }
                            Err(e) => error!("config reload failed, keeping the old one: {e:#}"),
                        },
                        Err(e) => error!("config reload failed, keeping the old one:\n{e}"),
                    }
                    notify(&[sd_notify::NotifyState::Ready]);
                }
            }
        }
    }
    info!("stopping: flushing the store");
    ctx.store.flush().await?;
    let live = crate::status::Live { next: &next, polled: &polled };
    if let Err(e) = crate::status::write_snapshot(&ctx.config, &ctx.store, ctx.clock.now(), &live) {
        warn!("unable to write the status snapshot: {e:#}");
    }
    info!("stopped");
    Ok(())
}

/// When the loop should wake: the next poll, the next digest time or mail
/// retry, at most `max_sleep` away.
fn next_wake(
    ctx: &Context,
    next: &HashMap<String, DateTime<Utc>>,
    now: DateTime<Utc>,
    max_sleep: Duration,
) -> DateTime<Utc> {
    let mut wake = now + chrono::Duration::from_std(max_sleep).unwrap_or_default();
    if let Some(t) = next.values().min() {
        wake = wake.min(*t);
    }
    if let Ok(mail) = ctx.store.mail_state() {
        if let Some(t) = mail.next_attempt {
            wake = wake.min(t);
        }
        if let Some(s) = &ctx.config.digest.schedule
            && let Some(t) = s.next_after(mail.last_digest_slot.unwrap_or(now))
        {
            wake = wake.min(t);
        }
    }
    wake.max(now)
}

/// The next change of the controls. A vanished sender means nobody can stop
/// the loop any more, so it stops.
async fn next_control(signals: &mut watch::Receiver<Control>) -> Control {
    match signals.changed().await {
        Ok(()) => *signals.borrow_and_update(),
        Err(_) => Control { stop: true, ..*signals.borrow() },
    }
}

async fn stopped(signals: &mut watch::Receiver<Control>) {
    loop {
        if signals.borrow().stop || signals.changed().await.is_err() {
            return;
        }
    }
}

/// Turns SIGTERM and SIGINT into a stop, SIGHUP into a reload.
pub fn unix_signals() -> anyhow::Result<watch::Receiver<Control>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = watch::channel(Control::default());
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { info!("SIGTERM: stopping"); tx.send_modify(|c| c.stop = true); }
                _ = int.recv() => { info!("SIGINT: stopping"); tx.send_modify(|c| c.stop = true); }
                _ = hup.recv() => { info!("SIGHUP: reloading the config"); tx.send_modify(|c| c.reloads += 1); }
            }
        }
    });
    Ok(rx)
}
