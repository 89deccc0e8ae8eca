//! The state every request shares: configuration, keys, data, faults, rate-limit counters,
//! Universal Prompt grants and the request log.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, RwLock};

use serde::Serialize;

use crate::config::{EmulatorConfig, KeySet};
use crate::faults::Fault;
use crate::rate_limits::RateLimiter;
use crate::state::Data;
use crate::universal_prompt::PromptState;

/// How many requests the log keeps.
pub const LOG_CAPACITY: usize = 10_000;

/// One request-log line.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Signature version that verified, if any.
    pub sig_version: Option<u8>,
    /// The ikey that signed, if the signature verified.
    pub ikey: Option<String>,
    /// HTTP status answered.
    pub status: u16,
    /// `ok`, `fail:CODE` or `fault:KIND`.
    pub outcome: String,
}

/// A request-log line as `GET /_emulator/requests` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    /// The line.
    #[serde(flatten)]
    pub entry: LogEntry,
    /// Auth API requests: the parameters worth seeing (`username`, `factor`, `device`,
    /// `failmode`, `hostname`, `ipaddr`, `pushinfo`, `text_prompt`, …); never a passcode or a
    /// `prompt` (which may be one). See [`crate::auth_api::logged_params`].
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

/// Shared state.
pub struct Shared {
    /// Start-up configuration.
    pub config: EmulatorConfig,
    keys: RwLock<KeySet>,
    public_url: RwLock<String>,
    data: Mutex<Data>,
    faults: Mutex<Vec<Fault>>,
    rate_limiter: Mutex<RateLimiter>,
    prompt: Mutex<PromptState>,
    log: Mutex<VecDeque<LoggedRequest>>,
    transactions_changed: tokio::sync::Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock must not take the emulator down with it.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// New shared state.
    pub fn new(config: EmulatorConfig, keys: KeySet, data: Data) -> Self {
        Self {
            rate_limiter: Mutex::new(RateLimiter::new(config.rate_limits.clone())),
            prompt: Mutex::new(PromptState::default()),
            config,
            keys: RwLock::new(keys),
            public_url: RwLock::new(String::new()),
            data: Mutex::new(data),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(VecDeque::new()),
            transactions_changed: tokio::sync::Notify::new(),
        }
    }

    /// The data, locked.
    pub fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }

    /// The current keys.
    pub fn keys(&self) -> KeySet {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the keys.
    pub fn set_keys(&self, keys: KeySet) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
    }

    /// The URL clients reach the emulator at.
    pub fn public_url(&self) -> String {
        self.public_url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets the URL clients reach the emulator at.
    pub fn set_public_url(&self, url: &str) {
        *self.public_url.write().unwrap_or_else(|e| e.into_inner()) = url.to_string();
    }

    /// Appends to the request log, dropping the oldest line when full.
    pub fn log(&self, entry: LogEntry) {
        self.log_with_params(entry, BTreeMap::new());
    }

    /// Appends to the request log with the request's loggable parameters.
    pub fn log_with_params(&self, entry: LogEntry, params: BTreeMap<String, String>) {
        let mut log = lock(&self.log);
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(LoggedRequest { entry, params });
    }

    /// The request log, oldest first.
    pub fn log_entries(&self) -> Vec<LogEntry> {
        lock(&self.log).iter().map(|l| l.entry.clone()).collect()
    }

    /// The request log with parameters, oldest first.
    pub fn logged_requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).iter().cloned().collect()
    }

    /// Empties the request log.
    pub fn clear_log(&self) {
        lock(&self.log).clear();
    }

    /// The installed faults, locked.
    pub fn faults(&self) -> MutexGuard<'_, Vec<Fault>> {
        lock(&self.faults)
    }

    /// The rate-limit counters, locked.
    pub fn rate_limiter(&self) -> MutexGuard<'_, RateLimiter> {
        lock(&self.rate_limiter)
    }

    /// Universal Prompt codes and spent assertion ids, locked.
    pub fn prompt(&self) -> MutexGuard<'_, PromptState> {
        lock(&self.prompt)
    }

    /// Wakes every request waiting on a transaction (the control API answered one).
    pub fn notify_transactions_changed(&self) {
        self.transactions_changed.notify_waiters();
    }

    /// A future that resolves at the next [`Shared::notify_transactions_changed`]; create it
    /// before looking at the data so no notification is missed.
    pub fn transactions_changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.transactions_changed.notified()
    }

    /// Unix seconds now, by the configured clock.
    pub fn now_secs(&self) -> i64 {
        (self.config.clock)().as_second()
    }
}
