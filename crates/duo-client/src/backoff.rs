//! Duo's 429 retry schedule, exactly as `duo_client` 5.7 does it (`docs/duo-wire.md` §3): after
//! each 429, sleep `wait + uniform(0, 1 s)` with `wait` starting at 1 s and doubling; give up once
//! `wait` would exceed 32 s. That is at most 6 sleeps (1, 2, 4, 8, 16, 32 s plus jitter) and 7
//! attempts. `Retry-After` is ignored, and only 429 is retried.

use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

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
