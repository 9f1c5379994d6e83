//! The clock, injected so that schedules and backoff are tested without
//! sleeping.
//!
//! Production uses the system clock. Tests use [`Clock::tokio`], whose wall
//! time is anchored to tokio's clock: under `tokio::time::pause()` every
//! sleep returns at once and the wall time jumps with it, so a test can run
//! 24 hours of a daemon's life in milliseconds.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Clone)]
pub struct Clock(Arc<Inner>);

enum Inner {
    System,
    Tokio { base: DateTime<Utc>, start: tokio::time::Instant },
}

impl Clock {
    pub fn system() -> Clock {
        Clock(Arc::new(Inner::System))
    }

    /// A clock that reads `base` now and advances with tokio's clock.
    pub fn tokio(base: DateTime<Utc>) -> Clock {
        Clock(Arc::new(Inner::Tokio { base, start: tokio::time::Instant::now() }))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &*self.0 {
            Inner::System => Utc::now(),
            Inner::Tokio { base, start } => {
                *base + chrono::Duration::from_std(start.elapsed()).unwrap_or(chrono::Duration::zero())
            }
        }
    }

    /// Sleeps until `t`, or returns at once if `t` has passed.
    pub async fn sleep_until(&self, t: DateTime<Utc>) {
        let wait = (t - self.now()).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(wait).await;
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            Inner::System => f.write_str("Clock::system"),
            Inner::Tokio { base, .. } => write!(f, "Clock::tokio({base})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_jumps_with_paused_time() {
        let base = DateTime::parse_from_rfc3339("2026-11-29T00:00:00Z").unwrap().with_timezone(&Utc);
        let clock = Clock::tokio(base);
        clock.sleep_until(base + chrono::Duration::hours(24)).await;
        assert_eq!(clock.now() - base, chrono::Duration::hours(24));
    }
}
