//! Duo's 429 retry schedule, as `duo_client` 5.7 does it (`docs/duo-wire.md` §3): after each
//! 429, sleep `wait + uniform(0, 1 s)` with `wait` starting at 1 s and doubling; give up once
//! `wait` would exceed 32 s. That is at most 6 sleeps (1, 2, 4, 8, 16, 32 s plus jitter) and 7
//! attempts, and only 429 is retried.
//!
//! One difference from `duo_client`, which ignores `Retry-After`: when a 429 carries
//! `Retry-After` (or duo_unix's `X-Retry-After`), in seconds or as an HTTP date, that wait is
//! used instead of the schedule's, bounded by [`crate::ClientConfig::max_retry_after`] (see
//! [`retry_after`]). The Auth API sends it; the Admin API does not, so Admin calls keep the
//! schedule exactly. Each such wait still uses up one step of the schedule, so the number of
//! attempts is the same either way.

use std::time::Duration;

use jiff::Timestamp;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// First wait.
pub const INITIAL_WAIT: Duration = Duration::from_secs(1);
/// Largest wait.
pub const MAX_WAIT: Duration = Duration::from_secs(32);

/// The sleeps before each retry, with jitter from a seedable RNG.
#[derive(Debug)]
pub struct DuoBackoff {
    next_wait: Duration,
    rng: StdRng,
}

impl DuoBackoff {
    /// A schedule whose jitter comes from `rng_seed` (tests) or entropy (`None`).
    pub fn new(rng_seed: Option<u64>) -> Self {
        let rng = match rng_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Self {
            next_wait: INITIAL_WAIT,
            rng,
        }
    }
}

impl Iterator for DuoBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.next_wait > MAX_WAIT {
            return None;
        }
        let wait = self.next_wait;
        self.next_wait *= 2;
        let jitter = Duration::from_millis(self.rng.random_range(0..1000));
        Some(wait + jitter)
    }
}

/// The wait a 429 asks for: `Retry-After` or else `X-Retry-After`, as whole seconds or an HTTP
/// date (relative to `now`; a date in the past means no wait), capped at `max`. `None` when
/// neither header is there or readable.
pub fn retry_after(
    retry_after: Option<&str>,
    x_retry_after: Option<&str>,
    now: Timestamp,
    max: Duration,
) -> Option<Duration> {
    let read = |text: &str| -> Option<Duration> {
        let text = text.trim();
        if let Ok(secs) = text.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        let at = duo_proto::date::parse_date(text)?;
        let wait = at.duration_since(now);
        Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
    };
    retry_after
        .and_then(read)
        .or_else(|| x_retry_after.and_then(read))
        .map(|wait| wait.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_or_an_http_date_and_is_capped() {
        let now: Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
        let max = Duration::from_secs(60);
        assert_eq!(
            retry_after(Some("5"), None, now, max),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_after(None, Some(" 7 "), now, max),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(Some("Mon, 30 Nov 2026 10:00:30 GMT"), None, now, max),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(Some("Mon, 30 Nov 2026 09:00:00 GMT"), None, now, max),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(Some("600"), None, now, max), Some(max));
        assert_eq!(retry_after(Some("soon"), None, now, max), None);
        assert_eq!(retry_after(None, None, now, max), None);
    }

    #[test]
    fn six_sleeps_doubling_from_one_to_thirty_two_seconds_plus_jitter() {
        let sleeps: Vec<Duration> = DuoBackoff::new(Some(7)).collect();
        assert_eq!(sleeps.len(), 6);
        for (i, sleep) in sleeps.iter().enumerate() {
            let base = Duration::from_secs(1 << i);
            assert!(
                *sleep >= base && *sleep < base + Duration::from_secs(1),
                "{i}: {sleep:?}"
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_jitter() {
        let a: Vec<Duration> = DuoBackoff::new(Some(42)).collect();
        let b: Vec<Duration> = DuoBackoff::new(Some(42)).collect();
        assert_eq!(a, b);
    }
}
