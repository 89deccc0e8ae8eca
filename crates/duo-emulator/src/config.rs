//! What an emulator starts with: keys, seed, state file, timings, rate limits and the clock.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::error::EmulatorError;
use crate::rate_limits::RateLimits;

/// The integrations' keys: the Admin API's, the Auth API's, and a Universal Prompt (Web SDK v4)
/// application's client id and secret. `Debug` redacts the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySet {
    /// Admin API integration key.
    pub admin_ikey: String,
    /// Admin API secret key.
    pub admin_skey: String,
    /// Auth API integration key.
    pub auth_ikey: String,
    /// Auth API secret key.
    pub auth_skey: String,
    /// Universal Prompt application client id (`DI…`, 20 characters).
    pub oidc_client_id: String,
    /// Universal Prompt application client secret (40 characters).
    pub oidc_client_secret: String,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("admin_ikey", &self.admin_ikey)
            .field("admin_skey", &"[REDACTED]")
            .field("auth_ikey", &self.auth_ikey)
            .field("auth_skey", &"[REDACTED]")
            .field("oidc_client_id", &self.oidc_client_id)
            .field("oidc_client_secret", &"[REDACTED]")
            .finish()
    }
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SKEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `prefix` + random characters of `alphabet`, `len` characters in all.
pub(crate) fn random_token(
    rng: &mut impl rand::Rng,
    prefix: &str,
    len: usize,
    alphabet: &[u8],
) -> String {
    let mut out = String::from(prefix);
    while out.len() < len {
        out.push(alphabet[rng.random_range(0..alphabet.len())] as char);
    }
    out
}

/// A Duo-style id: a two-letter prefix and 18 upper-case alphanumerics.
pub(crate) fn duo_id(rng: &mut impl rand::Rng, prefix: &str) -> String {
    random_token(rng, prefix, 20, ID_ALPHABET)
}

/// A fresh secret key: 40 alphanumerics.
pub(crate) fn new_skey(rng: &mut impl rand::Rng) -> String {
    random_token(rng, "", 40, SKEY_ALPHABET)
}

impl KeySet {
    /// Random keys: `DI…` ikeys and client id, 40-character skeys and client secret.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        Self {
            admin_ikey: duo_id(&mut rng, "DI"),
            admin_skey: new_skey(&mut rng),
            auth_ikey: duo_id(&mut rng, "DI"),
            auth_skey: new_skey(&mut rng),
            oidc_client_id: duo_id(&mut rng, "DI"),
            oidc_client_secret: new_skey(&mut rng),
        }
    }
}

/// The `--print-keys` line: `{"url", "admin_ikey", "admin_skey", "auth_ikey", "auth_skey",
/// "oidc_client_id", "oidc_client_secret"}`.
pub fn keys_json(url: &str, keys: &KeySet) -> Value {
    json!({
        "url": url,
        "admin_ikey": keys.admin_ikey,
        "admin_skey": keys.admin_skey,
        "auth_ikey": keys.auth_ikey,
        "auth_skey": keys.auth_skey,
        "oidc_client_id": keys.oidc_client_id,
        "oidc_client_secret": keys.oidc_client_secret,
    })
}

/// How many objects to generate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedSpec {
    /// Users.
    pub users: usize,
    /// Phones (attached to users round-robin).
    pub phones: usize,
    /// Administrators.
    pub admins: usize,
    /// Bypass codes (attached to users round-robin).
    pub bypass_codes: usize,
}

impl std::str::FromStr for SeedSpec {
    type Err = EmulatorError;

    /// `users=N,phones=N,admins=N,bypass_codes=N`, any subset, any order.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut spec = SeedSpec::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| EmulatorError::Seed(format!("{part:?} is not KEY=N")))?;
            let n: usize = value.trim().parse().map_err(|_| {
                EmulatorError::Seed(format!("{key}={value:?}: not a non-negative integer"))
            })?;
            match key.trim() {
                "users" => spec.users = n,
                "phones" => spec.phones = n,
                "admins" => spec.admins = n,
                "bypass_codes" => spec.bypass_codes = n,
                other => {
                    return Err(EmulatorError::Seed(format!(
                        "unknown key {other:?}; use users, phones, admins, bypass_codes"
                    )));
                }
            }
        }
        Ok(spec)
    }
}

/// The wall clock: signature skew checks and timestamps.
pub type WallClock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Everything an [`crate::Emulator`] starts with.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The signed host line; `None` accepts the request's `Host` with or without its port.
    pub hostname: Option<String>,
    /// Largest accepted date skew, in seconds.
    pub max_skew_secs: i64,
    /// Fixed keys; `None` generates them.
    pub keys: Option<KeySet>,
    /// Generated data.
    pub seed: SeedSpec,
    /// Initial state (the shape of `GET /_emulator/state`), loaded after seeding.
    pub state_file: Option<PathBuf>,
    /// How long an unanswered push waits before it is decided deny/timeout.
    pub push_timeout: Duration,
    /// The longest `auth_status` waits for a change.
    pub long_poll: Duration,
    /// How long a scripted approve/deny/fraud takes to be decided.
    pub answer_delay: Duration,
    /// Per-endpoint request budgets ([`crate::rate_limits`]); empty (the default) is off.
    pub rate_limits: RateLimits,
    /// The wall clock: signature skew, Universal Prompt token times, timestamps.
    pub clock: WallClock,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            hostname: None,
            max_skew_secs: 300,
            keys: None,
            seed: SeedSpec::default(),
            state_file: None,
            push_timeout: Duration::from_secs(60),
            long_poll: Duration::from_secs(5),
            answer_delay: Duration::ZERO,
            rate_limits: RateLimits::default(),
            clock: Arc::new(Timestamp::now),
        }
    }
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("hostname", &self.hostname)
            .field("max_skew_secs", &self.max_skew_secs)
            .field("keys", &self.keys)
            .field("seed", &self.seed)
            .field("state_file", &self.state_file)
            .field("push_timeout", &self.push_timeout)
            .field("long_poll", &self.long_poll)
            .field("answer_delay", &self.answer_delay)
            .field("rate_limits", &self.rate_limits)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_specs_parse_any_subset_and_name_bad_keys() {
        let spec: SeedSpec = "users=10, bypass_codes=2".parse().unwrap();
        assert_eq!(
            spec,
            SeedSpec {
                users: 10,
                bypass_codes: 2,
                ..SeedSpec::default()
            }
        );
        assert!(
            "users=x"
                .parse::<SeedSpec>()
                .unwrap_err()
                .to_string()
                .contains("users")
        );
        assert!(
            "groups=1"
                .parse::<SeedSpec>()
                .unwrap_err()
                .to_string()
                .contains("groups")
        );
        assert!("users".parse::<SeedSpec>().is_err());
    }

    #[test]
    fn generated_keys_look_like_duos_and_debug_hides_skeys() {
        let keys = KeySet::generate();
        assert!(keys.admin_ikey.starts_with("DI") && keys.admin_ikey.len() == 20);
        assert_eq!(keys.admin_skey.len(), 40);
        let debug = format!("{keys:?}");
        assert!(!debug.contains(&keys.admin_skey) && !debug.contains(&keys.auth_skey));
        assert!(keys.oidc_client_id.starts_with("DI") && keys.oidc_client_id.len() == 20);
        assert_eq!(keys.oidc_client_secret.len(), 40);
        assert!(!debug.contains(&keys.oidc_client_secret));
    }
}
