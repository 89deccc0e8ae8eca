//! Basic-auth accounts, cheaply: argon2 off the async workers, a short-lived cache of
//! successful verifications, and a throttle on failures.
//!
//! - **Off the workers.** argon2 costs tens of milliseconds of CPU by design; it runs on
//!   tokio's blocking pool (`spawn_blocking`), so token requests are never queued behind it.
//! - **Cache of successes** ([`CACHE_TTL`], at most [`CACHE_CAPACITY`] entries, the oldest
//!   evicted first): a client sending the same credentials on every request pays one argon2 per
//!   account per minute. The key is an HMAC-SHA-256, under a random key made at start and
//!   never stored, of the account's name, the [stamp](duogate_store::accounts::AccountLogin::stamp)
//!   of its stored password hash and the presented password; the password itself is never
//!   kept. The account's row is read on every request (one indexed lookup), so: a password
//!   set again (on any instance: each hash has a fresh salt) changes the stamp and misses the
//!   cache; a deleted account is refused at once; a role or tenant change applies at once (the
//!   caller is built from the row, not from the cache).
//! - **Throttled failures** ([`LoginLimits`], counted by the [attempt
//!   limiter](crate::engine::limiter), so in the database with PostgreSQL): after
//!   `failures_per_account` failed logins of one name (existing or not) or
//!   `failures_per_source` from one client address within a window, further logins that the
//!   cache cannot answer are refused (401) without running argon2 until the window passes,
//!   even with the right password. Unknown names run the store's decoy verification and are
//!   counted exactly like known ones, so neither the time taken nor the throttle tells them
//!   apart. A client whose credentials are in the cache keeps working while someone else
//!   fails logins on its account: the throttle exists to bound argon2 work and guessing, and a
//!   cache hit does neither.
//!
//!   The throttle reads the counts before verifying and counts a failure after, so logins
//!   already verifying when the limit is reached may still finish: the overshoot is bounded
//!   by the concurrent logins of that name or address, never by time.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hmac::{Hmac, KeyInit as _, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;
use tokio::time::Instant;

use duogate_store::StoreError;
use duogate_store::accounts::{Account, AccountLogin, verify_password_off_workers};

use crate::engine::limiter::{AttemptLimiter, Budget, Scope};

/// How long a successful verification is remembered.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// Most remembered verifications.
pub const CACHE_CAPACITY: usize = 4_096;

/// Failed logins allowed per window (the attempt limiter's window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Per account name (existing or not).
    pub failures_per_account: u32,
    /// Per client address.
    pub failures_per_source: u32,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            failures_per_account: 5,
            failures_per_source: 20,
        }
    }
}

/// Verifies Basic-auth credentials (see the module documentation).
pub struct BasicAuth {
    cache_key: [u8; 32],
    cache: Mutex<VerifiedCache>,
    limits: LoginLimits,
    verifications: AtomicU64,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Default for BasicAuth {
    fn default() -> Self {
        Self::new(LoginLimits::default())
    }
}

impl BasicAuth {
    /// A verifier with an empty cache and a fresh cache key.
    pub fn new(limits: LoginLimits) -> Self {
        use rand::RngCore as _;
        let mut cache_key = [0u8; 32];
        rand::rng().fill_bytes(&mut cache_key);
        Self {
            cache_key,
            cache: Mutex::new(VerifiedCache::default()),
            limits,
            verifications: AtomicU64::new(0),
        }
    }

    /// How many argon2 verifications this verifier has run (decoys included).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// How many verifications the cache holds now.
    pub fn cached(&self) -> usize {
        self.lock().entries.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VerifiedCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account named `name` if `password` is its password; `None` for a wrong password,
    /// an unknown name, or a throttled name or source. Database trouble is an error.
    pub async fn verify(
        &self,
        store: &duogate_store::Store,
        limiter: &AttemptLimiter,
        name: &str,
        password: &SecretString,
        source: Option<IpAddr>,
    ) -> Result<Option<Account>, StoreError> {
        // Longer names cannot exist (the store allows 64 bytes): refuse without any work.
        if name.len() > crate::engine::limiter::MAX_USERNAME_BYTES {
            return Ok(None);
        }
        let login = store.account_login(name).await?;
        let cache_key = login.as_ref().map(|l| self.cache_key_of(l, password));
        if let Some(key) = &cache_key
            && self.lock().holds(key, Instant::now())
        {
            return Ok(login.map(|l| l.account));
        }
        let source_text = source.map(|s| s.to_string());
        let mut budgets = vec![Budget {
            scope: Scope::LoginAccount,
            key: name.as_bytes(),
            limit: self.limits.failures_per_account,
        }];
        if let Some(source) = &source_text {
            budgets.push(Budget {
                scope: Scope::LoginSource,
                key: source.as_bytes(),
                limit: self.limits.failures_per_source,
            });
        }
        if limiter.exhausted(&budgets).await? {
            return Ok(None);
        }
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let matches = verify_password_off_workers(login.clone(), password.clone()).await?;
        match (login, cache_key) {
            (Some(login), Some(key)) if matches => {
                self.lock().insert(key, Instant::now() + CACHE_TTL);
                Ok(Some(login.account))
            }
            _ => {
                limiter.record(&budgets).await?;
                Ok(None)
            }
        }
    }

    fn cache_key_of(&self, login: &AccountLogin, password: &SecretString) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256>>::new_from_slice(&self.cache_key).expect("HMAC accepts any key length");
        mac.update(login.account.name.as_bytes());
        mac.update(&[0]);
        mac.update(&login.stamp());
        mac.update(password.expose_secret().as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Remembered verifications: key → expiry, with insertion order for eviction.
#[derive(Default)]
struct VerifiedCache {
    entries: HashMap<[u8; 32], Instant>,
    order: VecDeque<([u8; 32], Instant)>,
}

impl VerifiedCache {
    fn holds(&mut self, key: &[u8; 32], now: Instant) -> bool {
        self.expire(now);
        self.entries.get(key).is_some_and(|expires| *expires > now)
    }

    fn insert(&mut self, key: [u8; 32], expires: Instant) {
        self.entries.insert(key, expires);
        self.order.push_back((key, expires));
        while self.entries.len() > CACHE_CAPACITY || self.order.len() > 2 * CACHE_CAPACITY {
            self.pop_oldest();
        }
    }

    fn expire(&mut self, now: Instant) {
        while self
            .order
            .front()
            .is_some_and(|(_, expires)| *expires <= now)
        {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((key, expires)) = self.order.pop_front()
            && self.entries.get(&key) == Some(&expires)
        {
            self.entries.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_forgets_after_its_ttl_and_stays_bounded() {
        let mut cache = VerifiedCache::default();
        let now = Instant::now();
        cache.insert([1; 32], now + CACHE_TTL);
        assert!(cache.holds(&[1; 32], now));
        assert!(!cache.holds(&[1; 32], now + CACHE_TTL));
        assert!(cache.entries.is_empty());
        for i in 0..(CACHE_CAPACITY as u32 + 100) {
            let mut key = [0; 32];
            key[..4].copy_from_slice(&i.to_be_bytes());
            cache.insert(key, now + CACHE_TTL);
        }
        assert_eq!(cache.entries.len(), CACHE_CAPACITY);
        assert!(!cache.holds(&[0; 32], now), "the oldest was evicted");
    }
}
