//! Attempt limits: how many second-factor attempts a user of one integration, or one source
//! address, may make per window, and how many failed Basic-auth logins an account or a source
//! may have before argon2 stops being run for them ([`crate::basic_auth`]).
//!
//! # Design
//!
//! - **Fixed windows** (`RateLimits::window`, 60 s by default) on the wall clock, numbered
//!   `unix_seconds / window`: every instance computes the same window, so their counts can be
//!   shared. A burst across a window boundary can reach twice a limit within one window's
//!   length; never more.
//! - **Keys are hashed** (SHA-256 over a label, the scope and the key bytes) before they are
//!   kept: memory per key is constant however long the username, and no raw username of a
//!   failed attempt is ever stored. Usernames are also capped at [`MAX_USERNAME_BYTES`] by
//!   every dialect before they get here.
//! - **PostgreSQL: counters in the database** (`attempt_counters`, see
//!   `duogate_store::attempts`). An attempt is one transaction of conditional upserts, so N
//!   instances behind a load balancer share one budget: together they admit no more than one
//!   instance would. A refused attempt rolls back and counts nothing. Expired windows are
//!   deleted every [`PURGE_EVERY`] attempts on each instance. This costs a round trip per
//!   attempt, small beside the Duo calls an admitted attempt makes; sharing the counts through
//!   each instance's memory (gossip) or a sticky load balancer were rejected: the first needs a
//!   membership protocol, the second is not ours to enforce.
//! - **SQLite: counters in memory.** SQLite serves one instance (the file is not shared), so
//!   the process's memory is the whole truth, and no write per attempt is needed. The map is
//!   bounded: at most [`MEMORY_CAPACITY`] keys (about 100 bytes each, so under 7 MB), each
//!   attempt does O(1) work (one hash lookup, plus the amortised removal of records that
//!   expired or were evicted, each removed once), never a scan of the whole map. When the map
//!   is full the key whose window started first is evicted: an attacker able to fill it
//!   (65,536 admitted attempts within one window, i.e. over 2,000 sources at the default 30
//!   per source) can reset counts, but never grow memory.
//!
//! Which one a state uses follows its store ([`AttemptLimiter::for_store`]). Time comes from
//! a [`WindowClock`], which tests replace.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use duogate_store::attempts::AttemptKey;
use duogate_store::{Engine, Store, StoreError};

/// Longest username (in bytes) a check, a Vault login or a validation accepts.
pub const MAX_USERNAME_BYTES: usize = 256;

/// Most keys the in-memory counters hold.
pub const MEMORY_CAPACITY: usize = 65_536;

/// How many attempts an instance counts in the database between two purges of expired windows.
pub const PURGE_EVERY: u64 = 256;

/// The wall clock, in Unix seconds; replaceable for tests.
pub type WindowClock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system's clock.
pub fn system_clock() -> WindowClock {
    Arc::new(|| jiff::Timestamp::now().as_second().max(0).unsigned_abs())
}

/// How many attempts are allowed within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Attempts per user of one integration.
    pub per_user: usize,
    /// Attempts per source address.
    pub per_source: usize,
    /// The window.
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

/// What a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Second-factor attempts of one user of one integration.
    User,
    /// Second-factor attempts from one source address.
    Source,
    /// Failed Basic-auth logins of one account name (existing or not).
    LoginAccount,
    /// Failed Basic-auth logins from one source address.
    LoginSource,
}

impl Scope {
    /// The scope's name in the counters table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Source => "source",
            Self::LoginAccount => "login_account",
            Self::LoginSource => "login_source",
        }
    }
}

/// One counter and its limit.
#[derive(Debug, Clone, Copy)]
pub struct Budget<'a> {
    /// What is counted.
    pub scope: Scope,
    /// Whose attempts (hashed before it is kept).
    pub key: &'a [u8],
    /// Attempts allowed per window.
    pub limit: u32,
}

/// Where the counts live.
enum Counters {
    Memory(Mutex<WindowCounters>),
    Shared(Store),
}

/// The limiter.
pub struct AttemptLimiter {
    limits: RateLimits,
    clock: WindowClock,
    counters: Counters,
    counted: AtomicU64,
}

impl std::fmt::Debug for AttemptLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttemptLimiter")
            .field("limits", &self.limits)
            .field(
                "counters",
                &match self.counters {
                    Counters::Memory(_) => "memory",
                    Counters::Shared(_) => "database",
                },
            )
            .finish_non_exhaustive()
    }
}

impl AttemptLimiter {
    /// A limiter counting in this process's memory.
    pub fn in_memory(limits: RateLimits) -> Self {
        Self::with_counters(limits, Counters::Memory(Mutex::new(WindowCounters::new())))
    }

    /// A limiter counting in `store`'s database, shared with every instance on it.
    pub fn shared(limits: RateLimits, store: Store) -> Self {
        Self::with_counters(limits, Counters::Shared(store))
    }

    /// In the database for PostgreSQL (several instances), in memory for SQLite (one).
    pub fn for_store(limits: RateLimits, store: &Store) -> Self {
        match store.engine() {
            Engine::Postgres => Self::shared(limits, store.clone()),
            Engine::Sqlite => Self::in_memory(limits),
        }
    }

    fn with_counters(limits: RateLimits, counters: Counters) -> Self {
        Self {
            limits,
            clock: system_clock(),
            counters,
            counted: AtomicU64::new(0),
        }
    }

    /// The same limiter reading time from `clock`.
    pub fn with_clock(mut self, clock: WindowClock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock.
    pub fn clock(&self) -> WindowClock {
        self.clock.clone()
    }

    /// The limits.
    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// Whether counts are shared through the database.
    pub fn is_shared(&self) -> bool {
        matches!(self.counters, Counters::Shared(_))
    }

    /// How many keys the in-memory counters hold now (0 when they are in the database).
    pub fn len(&self) -> usize {
        match &self.counters {
            Counters::Memory(map) => lock(map).entries.len(),
            Counters::Shared(_) => 0,
        }
    }

    /// Whether the in-memory counters are empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys the in-memory counters ever hold.
    pub fn capacity(&self) -> usize {
        MEMORY_CAPACITY
    }

    fn window_secs(&self) -> u64 {
        self.limits.window.as_secs().max(1)
    }

    /// The current window's number.
    fn window(&self) -> u64 {
        (self.clock)() / self.window_secs()
    }

    /// Records an attempt by `user` of `integration` from `source`; `false` when either limit
    /// is already reached (then nothing is recorded).
    pub async fn admit(
        &self,
        integration: &str,
        user: &str,
        source: Option<&str>,
    ) -> Result<bool, StoreError> {
        let user_key = [integration.as_bytes(), b"\0", user.as_bytes()].concat();
        let mut budgets = vec![Budget {
            scope: Scope::User,
            key: &user_key,
            limit: limit_of(self.limits.per_user),
        }];
        if let Some(source) = source {
            budgets.push(Budget {
                scope: Scope::Source,
                key: source.as_bytes(),
                limit: limit_of(self.limits.per_source),
            });
        }
        self.take(&budgets).await
    }

    /// Counts one attempt under every budget if each is below its limit; otherwise counts
    /// nothing and answers `false`.
    pub async fn take(&self, budgets: &[Budget<'_>]) -> Result<bool, StoreError> {
        let window = self.window();
        match &self.counters {
            Counters::Memory(map) => {
                let ids: Vec<[u8; 32]> = budgets.iter().map(key_id).collect();
                let mut map = lock(map);
                let full = budgets
                    .iter()
                    .zip(&ids)
                    .any(|(budget, id)| map.count(id, window) >= budget.limit);
                if full {
                    return Ok(false);
                }
                for id in &ids {
                    map.bump(*id, window);
                }
                Ok(true)
            }
            Counters::Shared(store) => {
                let keys = store_keys(budgets);
                let admitted = store
                    .count_attempt(&keys, self.window_start(window))
                    .await?;
                self.purge_now_and_then(store, window).await;
                Ok(admitted)
            }
        }
    }

    /// Whether any budget has reached its limit in the current window (counts nothing).
    pub async fn exhausted(&self, budgets: &[Budget<'_>]) -> Result<bool, StoreError> {
        let window = self.window();
        match &self.counters {
            Counters::Memory(map) => {
                let mut map = lock(map);
                Ok(budgets
                    .iter()
                    .any(|budget| map.count(&key_id(budget), window) >= budget.limit))
            }
            Counters::Shared(store) => {
                store
                    .attempts_exhausted(&store_keys(budgets), self.window_start(window))
                    .await
            }
        }
    }

    /// Counts one attempt under every budget, whatever their limits (failures happen whether
    /// or not they were allowed).
    pub async fn record(&self, budgets: &[Budget<'_>]) -> Result<(), StoreError> {
        let window = self.window();
        match &self.counters {
            Counters::Memory(map) => {
                let mut map = lock(map);
                for budget in budgets {
                    map.bump(key_id(budget), window);
                }
                Ok(())
            }
            Counters::Shared(store) => {
                store
                    .add_attempt(&store_keys(budgets), self.window_start(window))
                    .await?;
                self.purge_now_and_then(store, window).await;
                Ok(())
            }
        }
    }

    fn window_start(&self, window: u64) -> i64 {
        i64::try_from(window.saturating_mul(self.window_secs())).unwrap_or(i64::MAX)
    }

    /// Every [`PURGE_EVERY`] counted attempts, deletes the windows before the current one. A
    /// failure is logged: the rows are deleted next time.
    async fn purge_now_and_then(&self, store: &Store, window: u64) {
        if !self
            .counted
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PURGE_EVERY)
        {
            return;
        }
        if let Err(error) = store.purge_attempt_windows(self.window_start(window)).await {
            tracing::warn!(%error, "could not delete expired attempt counters");
        }
    }
}

fn limit_of(limit: usize) -> u32 {
    u32::try_from(limit).unwrap_or(u32::MAX)
}

fn lock(map: &Mutex<WindowCounters>) -> std::sync::MutexGuard<'_, WindowCounters> {
    map.lock().unwrap_or_else(|e| e.into_inner())
}

fn store_keys<'a>(budgets: &'a [Budget<'a>]) -> Vec<AttemptKey<'a>> {
    budgets
        .iter()
        .map(|b| AttemptKey {
            scope: b.scope.as_str(),
            key: b.key,
            limit: b.limit,
        })
        .collect()
}

/// The in-memory identity of a budget's key.
fn key_id(budget: &Budget<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(budget.scope.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(budget.key);
    hasher.finalize().into()
}

/// One key's count in one window.
#[derive(Debug, Clone, Copy)]
struct WindowCount {
    window: u64,
    count: u32,
}

/// Counts per key in their latest window, at most [`MEMORY_CAPACITY`] keys. `order` lists
/// (key, window) as windows were opened, oldest first; a record whose key has since opened a
/// newer window is stale and skipped when it reaches the front.
struct WindowCounters {
    entries: HashMap<[u8; 32], WindowCount>,
    order: VecDeque<([u8; 32], u64)>,
    capacity: usize,
}

impl WindowCounters {
    fn new() -> Self {
        Self::with_capacity(MEMORY_CAPACITY)
    }

    fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// The key's count in `window` (0 when its count is from an older window).
    fn count(&mut self, id: &[u8; 32], window: u64) -> u32 {
        self.forget_before(window);
        match self.entries.get(id) {
            Some(entry) if entry.window == window => entry.count,
            _ => 0,
        }
    }

    /// Adds one to the key's count in `window`.
    fn bump(&mut self, id: [u8; 32], window: u64) {
        self.forget_before(window);
        match self.entries.get_mut(&id) {
            Some(entry) if entry.window == window => {
                entry.count = entry.count.saturating_add(1);
                return;
            }
            _ => {}
        }
        self.entries.insert(id, WindowCount { window, count: 1 });
        self.order.push_back((id, window));
        while self.entries.len() > self.capacity {
            self.pop_oldest();
        }
    }

    /// Drops every record of a window before `window` (they sit at the front of `order`).
    fn forget_before(&mut self, window: u64) {
        while self.order.front().is_some_and(|(_, w)| *w < window) {
            self.pop_oldest();
        }
    }

    /// Removes the oldest record, and its key when the record is the key's current window.
    fn pop_oldest(&mut self) {
        if let Some((id, window)) = self.order.pop_front()
            && self.entries.get(&id).is_some_and(|e| e.window == window)
        {
            self.entries.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock_at(seconds: &Arc<AtomicU64>) -> WindowClock {
        let seconds = seconds.clone();
        Arc::new(move || seconds.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn users_and_sources_are_limited_within_the_window_only() {
        let now = Arc::new(AtomicU64::new(6_000));
        let limiter = AttemptLimiter::in_memory(RateLimits {
            per_user: 2,
            per_source: 3,
            window: Duration::from_secs(60),
        })
        .with_clock(clock_at(&now));
        let admit = |i: &'static str, u: &'static str, s: &'static str| {
            let limiter = &limiter;
            async move { limiter.admit(i, u, Some(s)).await.unwrap() }
        };
        assert!(admit("m", "alice", "10.0.0.1").await);
        assert!(admit("m", "alice", "10.0.0.1").await);
        assert!(!admit("m", "alice", "10.0.0.2").await, "per user");
        assert!(
            admit("other", "alice", "10.0.0.1").await,
            "another integration"
        );
        assert!(!admit("m", "bob", "10.0.0.1").await, "per source");
        assert!(admit("m", "bob", "10.0.0.9").await);
        now.fetch_add(60, Ordering::SeqCst);
        assert!(admit("m", "alice", "10.0.0.1").await, "the next window");
    }

    #[tokio::test]
    async fn a_refused_attempt_counts_nothing() {
        let limiter = AttemptLimiter::in_memory(RateLimits {
            per_user: 1,
            per_source: 2,
            window: Duration::from_secs(60),
        })
        .with_clock(clock_at(&Arc::new(AtomicU64::new(0))));
        assert!(limiter.admit("m", "alice", Some("s")).await.unwrap());
        for _ in 0..5 {
            assert!(!limiter.admit("m", "alice", Some("s")).await.unwrap());
        }
        assert!(
            limiter.admit("m", "bob", Some("s")).await.unwrap(),
            "alice's refused attempts did not use the source's budget"
        );
    }

    #[tokio::test]
    async fn a_hundred_thousand_distinct_usernames_stay_within_the_bound() {
        let now = Arc::new(AtomicU64::new(0));
        let limiter = AttemptLimiter::in_memory(RateLimits::default()).with_clock(clock_at(&now));
        let long = "x".repeat(200);
        for i in 0..100_000u32 {
            if i == 50_000 {
                now.fetch_add(60, Ordering::SeqCst);
            }
            let user = format!("{long}{i}");
            assert!(limiter.admit("m", &user, None).await.unwrap());
            assert!(limiter.len() <= limiter.capacity());
        }
        assert!(limiter.len() <= MEMORY_CAPACITY);
        let Counters::Memory(map) = &limiter.counters else {
            unreachable!()
        };
        assert!(
            lock(map).order.len() <= MEMORY_CAPACITY,
            "the order queue is bounded too"
        );
    }

    #[test]
    fn a_full_map_evicts_the_oldest_key_and_a_new_window_forgets_the_old_one() {
        let mut map = WindowCounters::with_capacity(2);
        map.bump([1; 32], 7);
        map.bump([2; 32], 7);
        map.bump([2; 32], 7);
        map.bump([3; 32], 7);
        assert_eq!(map.entries.len(), 2);
        assert_eq!(map.count(&[1; 32], 7), 0, "the oldest key was evicted");
        assert_eq!(map.count(&[2; 32], 7), 2, "the others keep their counts");
        assert_eq!(map.count(&[3; 32], 7), 1);
        assert_eq!(map.count(&[2; 32], 8), 0, "window 7 is over");
        assert!(map.entries.is_empty() && map.order.is_empty());
    }
}
