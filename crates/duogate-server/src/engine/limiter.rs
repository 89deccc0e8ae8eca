//! Attempt rate limits: a sliding window per user (per integration) and per source address,
//! on tokio's clock so tests drive it with a paused clock. In memory: each instance limits
//! what it serves.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How many attempts are allowed within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Attempts per user of one integration.
    pub per_user: usize,
    /// Attempts per source address.
    pub per_source: usize,
    /// The sliding window.
    pub window: Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_user: 10,
            per_source: 30,
            window: Duration::from_secs(60),
        }
    }
}

/// The limiter.
#[derive(Debug, Default)]
pub struct AttemptLimiter {
    limits: RateLimits,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl AttemptLimiter {
    /// A limiter with these limits.
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            seen: Mutex::default(),
        }
    }

    /// Records an attempt by `user` of `integration` from `source`; `false` when either limit
    /// is already reached (then nothing is recorded).
    pub fn admit(&self, integration: &str, user: &str, source: Option<&str>) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys = vec![(
            format!("user\u{0}{integration}\u{0}{user}"),
            self.limits.per_user,
        )];
        if let Some(source) = source {
            keys.push((format!("source\u{0}{source}"), self.limits.per_source));
        }
        let window = self.limits.window;
        let full = keys.iter().any(|(key, limit)| {
            let times = seen.entry(key.clone()).or_default();
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                times.pop_front();
            }
            times.len() >= *limit
        });
        if full {
            return false;
        }
        for (key, _) in keys {
            seen.entry(key).or_default().push_back(now);
        }
        seen.retain(|_, times| !times.is_empty());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn users_and_sources_are_limited_within_the_window_only() {
        let limiter = AttemptLimiter::new(RateLimits {
            per_user: 2,
            per_source: 3,
            window: Duration::from_secs(60),
        });
        assert!(limiter.admit("m", "alice", Some("10.0.0.1")));
        assert!(limiter.admit("m", "alice", Some("10.0.0.1")));
        assert!(!limiter.admit("m", "alice", Some("10.0.0.2")), "per user");
        assert!(
            limiter.admit("other", "alice", Some("10.0.0.1")),
            "another integration"
        );
        assert!(!limiter.admit("m", "bob", Some("10.0.0.1")), "per source");
        assert!(limiter.admit("m", "bob", Some("10.0.0.9")));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(limiter.admit("m", "alice", Some("10.0.0.1")));
    }
}
