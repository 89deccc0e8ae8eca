//! Duo's server-side rate limits: per-endpoint request budgets, off unless configured.
//!
//! A [`RateLimits`] is a list of rules, each a budget of `limit` requests per `window` for one
//! class of request. A request that would exceed a rule's budget is answered like Duo answers
//! it: HTTP 429 with `{"code": 42901, "message": "Too Many Requests", "stat": "FAIL"}`, and a
//! `Retry-After` header (whole seconds until the oldest counted request leaves the window) on
//! the Auth API only. The Admin API sends no `Retry-After`, as Duo's does not.
//!
//! Budgets apply to Admin and Auth API requests (Universal Prompt requests are not counted; use
//! a `rate_limit` fault on `/oauth/v1/` paths to see a 429 there). They are counted after the
//! signature and the integration type are checked, so a
//! refused signature never spends one, and a request answered 429 does not count either.
//! Windows slide (the last `window` before each request) and run on `tokio::time`, so tests can
//! drive them with a paused clock. The whole emulator is one Duo account: a rule's budget is
//! shared by both integrations.
//!
//! # The specification (`duogate emulate --rate-limits SPEC`)
//!
//! Comma-separated rules, `KEY=N` or `KEY=N/WINDOW` (`WINDOW` is `s`, `min` or `h`, default
//! `min`). `KEY` is a class or a path:
//!
//! | key | requests | `duo` default |
//! |---|---|---|
//! | `modify` | Admin API `POST` and `DELETE` | 300/min |
//! | `single` | Admin API `GET` of one object (`/admin/v1/users/{id}`, …) | 300/min |
//! | `page` | Admin API `GET` of a list with `limit` or `offset` | 200/min |
//! | `all` | Admin API `GET` of a list without paging parameters | 40/min |
//! | `logs` | Admin API log endpoints (`/admin/v1/logs/…`, `/admin/v2/logs/…`) | 2/min |
//! | `/a/path` | exactly that path (any method) | |
//! | `/a/prefix/` | every path under the prefix | |
//!
//! `duo` stands for the five defaults Duo staff published (`modify=300,single=300,page=200,
//! all=40,logs=2`, per minute); it combines with other rules, e.g. `duo,/auth/v2/auth=10/min`.
//! Duo published no Auth API numbers, so `duo` limits no Auth API endpoint. Every rule that
//! matches a request counts it; the first exhausted one refuses it.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// What a rule counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateClass {
    /// Admin API `POST` and `DELETE`.
    Modify,
    /// Admin API `GET` of one object.
    Single,
    /// Admin API `GET` of a list with paging parameters.
    Page,
    /// Admin API `GET` of a list without paging parameters.
    All,
    /// Admin API log endpoints.
    Logs,
    /// A path, exact or (ending in `/`) a prefix.
    Path(String),
}

impl RateClass {
    fn name(&self) -> &str {
        match self {
            Self::Modify => "modify",
            Self::Single => "single",
            Self::Page => "page",
            Self::All => "all",
            Self::Logs => "logs",
            Self::Path(path) => path,
        }
    }

    fn matches(&self, request: &RateRequest<'_>) -> bool {
        let admin = request.path.starts_with("/admin/");
        let logs = request.path.starts_with("/admin/v1/logs/")
            || request.path.starts_with("/admin/v2/logs/");
        let reads = request.method == "GET";
        match self {
            Self::Modify => admin && matches!(request.method, "POST" | "DELETE"),
            Self::Logs => logs,
            Self::Single => admin && !logs && reads && !is_list(request.path),
            Self::Page => admin && !logs && reads && is_list(request.path) && request.paged,
            Self::All => admin && !logs && reads && is_list(request.path) && !request.paged,
            Self::Path(path) => {
                path == request.path
                    || (path.ends_with('/') && request.path.starts_with(path.as_str()))
            }
        }
    }
}

/// Whether an Admin API path names a list: its last segment is a collection, not an id.
fn is_list(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // /admin/v1/users, /admin/v1/users/{id}/phones: an odd number of segments after /admin/vN.
    segments.len() >= 3 && (segments.len() - 2) % 2 == 1
}

/// One budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateRule {
    /// What it counts.
    pub class: RateClass,
    /// Requests allowed per window (0 refuses every request it matches).
    pub limit: u32,
    /// The window.
    pub window: Duration,
}

/// The configured budgets; empty (the default) limits nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// The rules, in order.
    pub rules: Vec<RateRule>,
}

const MINUTE: Duration = Duration::from_secs(60);

impl RateLimits {
    /// Duo's published defaults (see the module documentation).
    pub fn duo_defaults() -> Self {
        let rule = |class, limit| RateRule {
            class,
            limit,
            window: MINUTE,
        };
        Self {
            rules: vec![
                rule(RateClass::Modify, 300),
                rule(RateClass::Single, 300),
                rule(RateClass::Page, 200),
                rule(RateClass::All, 40),
                rule(RateClass::Logs, 2),
            ],
        }
    }

    /// Whether no rule is configured.
    pub fn is_off(&self) -> bool {
        self.rules.is_empty()
    }
}

impl std::str::FromStr for RateLimits {
    type Err = String;

    /// Parses the specification described in the module documentation.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut limits = RateLimits::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "duo" {
                limits.rules.extend(Self::duo_defaults().rules);
                continue;
            }
            let (key, budget) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not KEY=N[/WINDOW] or duo"))?;
            let class = match key.trim() {
                "modify" => RateClass::Modify,
                "single" => RateClass::Single,
                "page" => RateClass::Page,
                "all" => RateClass::All,
                "logs" => RateClass::Logs,
                path if path.starts_with('/') => RateClass::Path(path.to_string()),
                other => {
                    return Err(format!(
                        "unknown key {other:?}; use modify, single, page, all, logs, or a path"
                    ));
                }
            };
            let (count, window) = match budget.split_once('/') {
                Some((count, window)) => (count, window.trim()),
                None => (budget, "min"),
            };
            let limit: u32 = count
                .trim()
                .parse()
                .map_err(|_| format!("{key}={budget:?}: {count:?} is not a whole number"))?;
            let window = match window {
                "s" | "sec" => Duration::from_secs(1),
                "min" | "m" => MINUTE,
                "h" => Duration::from_secs(3600),
                other => return Err(format!("{key}: window {other:?} is not s, min or h")),
            };
            limits.rules.push(RateRule {
                class,
                limit,
                window,
            });
        }
        if limits.is_off() {
            return Err("no rule given; use duo or KEY=N[/WINDOW],…".into());
        }
        Ok(limits)
    }
}

/// What the limiter needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub struct RateRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path without query.
    pub path: &'a str,
    /// Whether it carries `limit` or `offset`.
    pub paged: bool,
}

/// A refused request: which rule, and when a slot frees up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The exhausted rule's key.
    pub rule: String,
    /// Whole seconds until the rule admits a request again (at least 1).
    pub retry_after_secs: u64,
}

/// The sliding-window counters of [`RateLimits`].
#[derive(Debug, Default)]
pub struct RateLimiter {
    limits: RateLimits,
    seen: Vec<VecDeque<Instant>>,
}

impl RateLimiter {
    /// Counters for `limits`, all empty.
    pub fn new(limits: RateLimits) -> Self {
        let seen = vec![VecDeque::new(); limits.rules.len()];
        Self { limits, seen }
    }

    /// Counts `request` against every matching rule at `now`, or refuses it (counting nothing).
    pub fn admit(&mut self, request: &RateRequest<'_>, now: Instant) -> Result<(), Refusal> {
        if self.limits.is_off() {
            return Ok(());
        }
        let matching: Vec<usize> = (0..self.limits.rules.len())
            .filter(|&i| self.limits.rules[i].class.matches(request))
            .collect();
        for &i in &matching {
            let rule = &self.limits.rules[i];
            let seen = &mut self.seen[i];
            while seen
                .front()
                .is_some_and(|&at| now.duration_since(at) >= rule.window)
            {
                seen.pop_front();
            }
            if seen.len() >= rule.limit as usize {
                let frees_at = seen
                    .front()
                    .map_or(now + rule.window, |&at| at + rule.window);
                let wait = frees_at.saturating_duration_since(now);
                return Err(Refusal {
                    rule: rule.class.name().to_string(),
                    retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                });
            }
        }
        for i in matching {
            self.seen[i].push_back(now);
        }
        Ok(())
    }

    /// Forgets every counted request.
    pub fn clear(&mut self) {
        self.seen.iter_mut().for_each(VecDeque::clear);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(path: &'a str, paged: bool) -> RateRequest<'a> {
        RateRequest {
            method: "GET",
            path,
            paged,
        }
    }

    #[test]
    fn the_duo_preset_and_custom_rules_parse_and_bad_ones_are_named() {
        let limits: RateLimits = "duo, /auth/v2/auth=10/s".parse().unwrap();
        assert_eq!(limits.rules.len(), 6);
        assert_eq!(limits.rules[2].limit, 200);
        assert_eq!(
            limits.rules[5],
            RateRule {
                class: RateClass::Path("/auth/v2/auth".into()),
                limit: 10,
                window: Duration::from_secs(1),
            }
        );
        assert!(
            "groups=1"
                .parse::<RateLimits>()
                .unwrap_err()
                .contains("groups")
        );
        assert!("page=x".parse::<RateLimits>().unwrap_err().contains("page"));
        assert!(
            "page=1/day"
                .parse::<RateLimits>()
                .unwrap_err()
                .contains("day")
        );
        assert!("".parse::<RateLimits>().is_err());
    }

    #[test]
    fn admin_requests_fall_into_duos_classes() {
        let class_of = |method: &str, path: &str, paged: bool| {
            let request = RateRequest {
                method,
                path,
                paged,
            };
            RateLimits::duo_defaults()
                .rules
                .iter()
                .filter(|r| r.class.matches(&request))
                .map(|r| r.class.name().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(class_of("GET", "/admin/v1/users", true), ["page"]);
        assert_eq!(class_of("GET", "/admin/v1/users", false), ["all"]);
        assert_eq!(class_of("GET", "/admin/v1/users/DU1", false), ["single"]);
        assert_eq!(
            class_of("GET", "/admin/v1/users/DU1/phones", true),
            ["page"]
        );
        assert_eq!(class_of("POST", "/admin/v1/users/DU1", false), ["modify"]);
        assert_eq!(
            class_of("GET", "/admin/v2/logs/authentication", true),
            ["logs"]
        );
        assert!(class_of("POST", "/auth/v2/auth", false).is_empty());
    }

    #[test]
    fn a_full_window_refuses_until_its_oldest_request_leaves() {
        let mut limiter = RateLimiter::new("/admin/v1/users=2/min".parse().unwrap());
        let start = Instant::now();
        let users = get("/admin/v1/users", true);
        assert!(limiter.admit(&users, start).is_ok());
        assert!(
            limiter
                .admit(&users, start + Duration::from_secs(10))
                .is_ok()
        );
        let refusal = limiter
            .admit(&users, start + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(refusal.retry_after_secs, 40);
        assert_eq!(refusal.rule, "/admin/v1/users");
        assert!(limiter.admit(&get("/admin/v1/phones", true), start).is_ok());
        assert!(
            limiter
                .admit(&users, start + Duration::from_secs(60))
                .is_ok()
        );
    }
}
