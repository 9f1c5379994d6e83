//! The clock, injected so that schedules and backoff are tested without
//! sleeping.
//!
//! Production uses the system clock. Two test clocks exist:
//!
//! - [`Clock::tokio`]: wall time anchored to tokio's clock, for unit tests
//!   under `tokio::time::pause()` (every sleep returns at once and the wall
//!   time jumps with it). Not for code that waits on real sockets: a paused
//!   runtime would fire their timeouts early.
//! - [`Clock::manual`]: the test sets the wall time. A sleeper wakes when the
//!   time passes its deadline, and [`ManualClock::advance_to`] returns once
//!   the code under test is asleep again, so a test drives a daemon through
//!   24 hours one loop iteration at a time while real I/O keeps real timeouts.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

#[derive(Clone)]
pub struct Clock(Arc<Inner>);

enum Inner {
    System,
    Tokio { base: DateTime<Utc>, start: tokio::time::Instant },
    Manual(Arc<ManualClock>),
}

/// The test's side of a manual clock.
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
    /// The deadline of the current sleeper, if one sleeps.
    asleep: watch::Sender<Option<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    /// Sets the time to `t` and waits (up to `limit` of real time) until the
    /// code under test sleeps again with a deadline after `t`. Returns false
    /// if it did not within the limit.
    pub async fn advance_to(&self, t: DateTime<Utc>, limit: Duration) -> bool {
        self.now.send_replace(t);
        self.wait_idle(limit).await
    }

    /// Waits until the code under test sleeps with a deadline in the future.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let mut asleep = self.asleep.subscribe();
        let idle = async {
            loop {
                let now = self.now();
                if asleep.borrow_and_update().is_some_and(|d| d > now) {
                    return;
                }
                if asleep.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(limit, idle).await.is_ok()
    }

    /// The deadline the code under test sleeps until, if it sleeps.
    pub fn sleeping_until(&self) -> Option<DateTime<Utc>> {
        *self.asleep.borrow()
    }
}

impl Clock {
    pub fn system() -> Clock {
        Clock(Arc::new(Inner::System))
    }

    /// A clock that reads `base` now and advances with tokio's clock.
    pub fn tokio(base: DateTime<Utc>) -> Clock {
        Clock(Arc::new(Inner::Tokio { base, start: tokio::time::Instant::now() }))
    }

    /// A clock that shows `start` until the test moves it.
    pub fn manual(start: DateTime<Utc>) -> (Clock, Arc<ManualClock>) {
        let control = Arc::new(ManualClock { now: watch::Sender::new(start), asleep: watch::Sender::new(None) });
        (Clock(Arc::new(Inner::Manual(control.clone()))), control)
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &*self.0 {
            Inner::System => Utc::now(),
            Inner::Tokio { base, start } => {
                *base + chrono::Duration::from_std(start.elapsed()).unwrap_or(chrono::Duration::zero())
            }
            Inner::Manual(m) => m.now(),
        }
    }

    /// Sleeps until `t`, or returns at once if `t` has passed.
    pub async fn sleep_until(&self, t: DateTime<Utc>) {
        match &*self.0 {
            Inner::Manual(m) => {
                let mut now = m.now.subscribe();
                loop {
                    if *now.borrow_and_update() >= t {
                        m.asleep.send_replace(None);
                        return;
                    }
                    m.asleep.send_replace(Some(t));
                    if now.changed().await.is_err() {
                        return;
                    }
                }
            }
            _ => {
                let wait = (t - self.now()).to_std().unwrap_or(Duration::ZERO);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            Inner::System => f.write_str("Clock::system"),
            Inner::Tokio { base, .. } => write!(f, "Clock::tokio({base})"),
            Inner::Manual(m) => write!(f, "Clock::manual({})", m.now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_jumps_with_paused_time() {
        let base = t("2026-11-29T00:00:00Z");
        let clock = Clock::tokio(base);
        clock.sleep_until(base + chrono::Duration::hours(24)).await;
        assert_eq!(clock.now() - base, chrono::Duration::hours(24));
    }

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_and_reports_them_idle_again() {
        let (clock, control) = Clock::manual(t("2026-11-29T00:00:00Z"));
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move {
                let mut woke = Vec::new();
                for h in [1, 2, 3] {
                    clock.sleep_until(t("2026-11-29T00:00:00Z") + chrono::Duration::hours(h)).await;
                    woke.push(clock.now());
                }
                woke
            })
        };
        assert!(control.wait_idle(Duration::from_secs(5)).await);
        assert_eq!(control.sleeping_until(), Some(t("2026-11-29T01:00:00Z")));
        // Half-way: still asleep.
        assert!(control.advance_to(t("2026-11-29T00:30:00Z"), Duration::from_secs(5)).await);
        assert_eq!(control.sleeping_until(), Some(t("2026-11-29T01:00:00Z")));
        assert!(control.advance_to(t("2026-11-29T01:00:00Z"), Duration::from_secs(5)).await);
        assert_eq!(control.sleeping_until(), Some(t("2026-11-29T02:00:00Z")));
        control.now.send_replace(t("2026-11-29T05:00:00Z"));
        let woke = sleeper.await.unwrap();
        assert_eq!(woke[0], t("2026-11-29T01:00:00Z"));
        assert_eq!(woke[2], t("2026-11-29T05:00:00Z"));
    }
}
