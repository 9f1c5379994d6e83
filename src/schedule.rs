//! When things happen: the next poll of each source, and digest times.
//!
//! A source is polled every `interval`, spread by a random jitter so that
//! sources don't all fire together after a restart. A failing source backs
//! off exponentially up to a cap, and never stops for good; a `Retry-After`
//! from the server pushes the next poll further still. Digests go out at set
//! times (`07:30`, or a 5-field cron expression) in a time zone.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// A time zone for digest times; `Asia/Tokyo` unless configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(Tz);

impl Zone {
    pub fn tokyo() -> Zone {
        Zone(Tz::Asia__Tokyo)
    }

    pub fn parse(name: &str) -> Result<Zone, String> {
        Tz::from_str(name.trim())
            .map(Zone)
            .map_err(|_| format!("unknown time zone `{name}`: use an IANA name such as \"Asia/Tokyo\" or \"UTC\""))
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

#[derive(Debug, Clone)]
enum Times {
    Daily(Vec<NaiveTime>),
    Cron(Box<Cron>),
}

/// The times at which scheduled digests are sent.
#[derive(Debug, Clone)]
pub struct DigestSchedule {
    times: Times,
    zone: Zone,
    /// As written in the config, for `status` and logs.
    pub text: String,
}

impl DigestSchedule {
    /// Daily times written as `HH:MM`.
    pub fn times(times: &[String], zone: Zone) -> Result<DigestSchedule, String> {
        if times.is_empty() {
            return Err("an empty schedule never sends: remove the key to mail in every cycle".into());
        }
        let mut parsed = Vec::new();
        for t in times {
            let nt = NaiveTime::parse_from_str(t.trim(), "%H:%M")
                .map_err(|_| format!("invalid time `{t}`: write 24-hour \"HH:MM\", e.g. \"07:30\""))?;
            parsed.push(nt);
        }
        parsed.sort();
        parsed.dedup();
        Ok(DigestSchedule { times: Times::Daily(parsed), zone, text: format!("{} {}", times.join(", "), zone.name()) })
    }

    /// A 5-field cron expression (minute hour day-of-month month day-of-week).
    pub fn cron(expr: &str, zone: Zone) -> Result<DigestSchedule, String> {
        if expr.split_whitespace().count() != 5 {
            return Err(format!(
                "invalid cron expression `{expr}`: write 5 fields (minute hour day month weekday), e.g. \"30 7 * * 1-5\", or a list of times [\"07:30\"]"
            ));
        }
        let cron = Cron::from_str(expr).map_err(|e| format!("invalid cron expression `{expr}`: {e}"))?;
        Ok(DigestSchedule { times: Times::Cron(Box::new(cron)), zone, text: format!("{expr} ({})", zone.name()) })
    }

    /// The first digest time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.zone.0);
        match &self.times {
            Times::Daily(times) => {
                let today = local.date_naive();
                (0..=2)
                    .flat_map(|d| times.iter().map(move |time| (today + chrono::Days::new(d)).and_time(*time)))
                    .filter_map(|naive| self.zone.0.from_local_datetime(&naive).earliest())
                    .map(|z| z.with_timezone(&Utc))
                    .find(|z| *z > t)
            }
            Times::Cron(cron) => cron.find_next_occurrence(&local, false).ok().map(|z| z.with_timezone(&Utc)),
        }
    }

    /// Whether a digest time fell in `(since, now]`.
    pub fn due(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.next_after(since).is_some_and(|t| t <= now)
    }
}

/// The wait before the next poll of a source after `consecutive_errors`
/// failures in a row (0 after a success).
pub fn backoff(interval: Duration, consecutive_errors: u32, cap: Duration) -> Duration {
    if consecutive_errors == 0 {
        return interval;
    }
    // interval × 2^(errors-1), saturating well before overflow.
    let factor = 1u32 << (consecutive_errors - 1).min(16);
    interval.saturating_mul(factor).min(cap.max(interval))
}

/// A random spread of up to a tenth of `interval` (at most five minutes), so
/// sources that share an interval drift apart.
pub fn jitter(interval: Duration) -> Duration {
    let max = (interval / 10).min(Duration::from_secs(300));
    if max.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_millis(fastrand::u64(0..=max.as_millis() as u64))
}

/// When to poll a source next, from the end of its last poll.
pub fn next_poll(
    polled_at: DateTime<Utc>,
    interval: Duration,
    consecutive_errors: u32,
    retry_after: Option<Duration>,
    cap: Duration,
) -> DateTime<Utc> {
    let wait = backoff(interval, consecutive_errors, cap).max(retry_after.unwrap_or_default()) + jitter(interval);
    polled_at + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(24))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn daily_times_are_in_tokyo_time() {
        let s = DigestSchedule::times(&["18:00".into(), "07:30".into()], Zone::tokyo()).unwrap();
        // 2026-11-29 06:00 JST = 2026-11-28 21:00 UTC
        assert_eq!(s.next_after(utc("2026-11-28T21:00:00Z")), Some(utc("2026-11-28T22:30:00Z")));
        assert_eq!(s.next_after(utc("2026-11-28T22:30:00Z")), Some(utc("2026-11-29T09:00:00Z")));
        assert_eq!(s.next_after(utc("2026-11-29T09:00:00Z")), Some(utc("2026-11-29T22:30:00Z")));
        assert!(s.due(utc("2026-11-28T22:00:00Z"), utc("2026-11-28T22:30:00Z")));
        assert!(!s.due(utc("2026-11-28T22:30:00Z"), utc("2026-11-29T08:59:59Z")));
    }

    #[test]
    fn cron_expressions_use_the_zone() {
        let s = DigestSchedule::cron("30 7 * * 1-5", Zone::tokyo()).unwrap();
        // Saturday 2026-11-28 → next is Monday 2026-11-30 07:30 JST.
        assert_eq!(s.next_after(utc("2026-11-28T00:00:00Z")), Some(utc("2026-11-29T22:30:00Z")));
        assert!(DigestSchedule::cron("0 0 7 * * *", Zone::tokyo()).is_err());
        assert!(DigestSchedule::cron("61 7 * * *", Zone::tokyo()).is_err());
    }

    #[test]
    fn bad_times_and_zones_are_named() {
        let e = DigestSchedule::times(&["7.30".into()], Zone::tokyo()).unwrap_err();
        assert!(e.contains("7.30"), "{e}");
        assert!(Zone::parse("Mars/Olympus").unwrap_err().contains("Mars/Olympus"));
        assert!(DigestSchedule::times(&[], Zone::tokyo()).is_err());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_never_stops() {
        let i = Duration::from_secs(600);
        let cap = Duration::from_secs(6 * 3600);
        assert_eq!(backoff(i, 0, cap), i);
        assert_eq!(backoff(i, 1, cap), i);
        assert_eq!(backoff(i, 2, cap), i * 2);
        assert_eq!(backoff(i, 4, cap), i * 8);
        assert_eq!(backoff(i, 10, cap), cap);
        assert_eq!(backoff(i, u32::MAX, cap), cap);
    }

    #[test]
    fn retry_after_pushes_the_next_poll() {
        let t = utc("2026-11-29T00:00:00Z");
        let next = next_poll(t, Duration::from_secs(60), 1, Some(Duration::from_secs(3600)), Duration::from_secs(7200));
        assert!(next >= t + chrono::Duration::hours(1) && next <= t + chrono::Duration::seconds(3606));
    }
}
