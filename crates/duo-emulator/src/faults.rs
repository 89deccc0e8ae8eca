//! Injected faults (`POST /_emulator/faults`).
//!
//! A fault applies to Admin, Auth and Universal Prompt (`/oauth/v1/`) paths, never to
//! `/_emulator/`: to every path when it names none, else to the paths it names exactly or, for
//! entries ending in `/`, by prefix. `count` bounds how many requests it affects.
//!
//! | kind | effect |
//! |---|---|
//! | `down` | the connection is closed without an answer (in-process routers answer 503) |
//! | `delay` | waits `ms`, then the request proceeds (other faults may still apply) |
//! | `status` | answers HTTP `status` with a FAIL envelope whose code is `status`·100 + 1 |
//! | `rate_limit` | answers 429 / 42901 to every `every`-th matching request (1: all); on the Auth API with `Retry-After: retry_after` (default 1 s), elsewhere without, as Duo does |
//! | `malformed` | answers 200 with a body that is not JSON |
//! | `bad_stat` | answers 200 with JSON whose `stat` is neither `OK` nor `FAIL` |

use serde::{Deserialize, Serialize};

/// Kinds of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Close the connection without answering.
    Down,
    /// Wait, then proceed.
    Delay,
    /// Answer a given HTTP status.
    Status,
    /// Answer 429 on every `every`-th request.
    RateLimit,
    /// Answer 200 with a body that is not JSON.
    Malformed,
    /// Answer 200 with a JSON body of unknown `stat`.
    BadStat,
}

/// A fault as the control API takes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What happens.
    pub kind: FaultKind,
    /// Paths it applies to (exact, or prefix when ending in `/`); empty: all.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Delay in milliseconds (`delay`).
    #[serde(default)]
    pub ms: Option<u64>,
    /// HTTP status (`status`).
    #[serde(default)]
    pub status: Option<u16>,
    /// Period (`rate_limit`): every N-th matching request.
    #[serde(default)]
    pub every: Option<u64>,
    /// Seconds in the `Retry-After` of a `rate_limit` on the Auth API (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// How many requests it affects at most.
    #[serde(default)]
    pub count: Option<u64>,
}

impl FaultSpec {
    /// Checks the fields the kind needs; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        match self.kind {
            FaultKind::Delay if self.ms.is_none() => Err("delay needs \"ms\"".into()),
            FaultKind::Status => match self.status {
                Some(s) if (400..600).contains(&s) => Ok(()),
                Some(s) => Err(format!("\"status\" must be 400..599, got {s}")),
                None => Err("status needs \"status\"".into()),
            },
            FaultKind::RateLimit if self.every == Some(0) => {
                Err("\"every\" must be at least 1".into())
            }
            _ => Ok(()),
        }
    }

    fn matches(&self, path: &str) -> bool {
        self.paths.is_empty()
            || self
                .paths
                .iter()
                .any(|p| p == path || (p.ends_with('/') && path.starts_with(p.as_str())))
    }
}

/// An installed fault with its counters.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    /// The specification.
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Matching requests seen.
    pub seen: u64,
    /// Requests it affected.
    pub applied: u64,
}

/// What the faults decide for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Milliseconds to wait first.
    pub delay_ms: u64,
    /// The fault that answers instead of the API, if any.
    pub answer: Option<FaultAnswer>,
}

/// A fault's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAnswer {
    /// Close the connection.
    Down,
    /// HTTP status with a FAIL envelope.
    Status(u16),
    /// 429; `Retry-After` seconds where the API sends one.
    RateLimit {
        /// Seconds for `Retry-After`.
        retry_after_secs: u64,
    },
    /// Non-JSON 200.
    Malformed,
    /// Unknown-stat 200.
    BadStat,
}

impl FaultAnswer {
    /// The request log's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Down => "down",
            Self::Status(_) => "status",
            Self::RateLimit { .. } => "rate_limit",
            Self::Malformed => "malformed",
            Self::BadStat => "bad_stat",
        }
    }
}

/// Runs every fault's counters for a request to `path` and decides what happens.
pub fn plan(faults: &mut [Fault], path: &str) -> FaultPlan {
    let mut plan = FaultPlan::default();
    for fault in faults.iter_mut() {
        if !fault.spec.matches(path) {
            continue;
        }
        if fault.spec.count.is_some_and(|count| fault.applied >= count) {
            continue;
        }
        fault.seen += 1;
        let answer = match fault.spec.kind {
            FaultKind::Delay => {
                plan.delay_ms = plan.delay_ms.saturating_add(fault.spec.ms.unwrap_or(0));
                fault.applied += 1;
                continue;
            }
            FaultKind::Down => FaultAnswer::Down,
            FaultKind::Status => FaultAnswer::Status(fault.spec.status.unwrap_or(500)),
            FaultKind::RateLimit => {
                if fault.seen % fault.spec.every.unwrap_or(1).max(1) != 0 {
                    continue;
                }
                FaultAnswer::RateLimit {
                    retry_after_secs: fault.spec.retry_after.unwrap_or(1),
                }
            }
            FaultKind::Malformed => FaultAnswer::Malformed,
            FaultKind::BadStat => FaultAnswer::BadStat,
        };
        if plan.answer.is_none() {
            fault.applied += 1;
            plan.answer = Some(answer);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(kind: FaultKind) -> Fault {
        Fault {
            spec: FaultSpec {
                kind,
                paths: vec![],
                ms: None,
                status: None,
                every: None,
                retry_after: None,
                count: None,
            },
            seen: 0,
            applied: 0,
        }
    }

    #[test]
    fn rate_limit_hits_every_nth_matching_request() {
        let mut f = fault(FaultKind::RateLimit);
        f.spec.every = Some(2);
        f.spec.paths = vec!["/admin/".into()];
        let mut faults = vec![f];
        let answers: Vec<bool> = (0..4)
            .map(|_| plan(&mut faults, "/admin/v1/users").answer.is_some())
            .collect();
        assert_eq!(answers, [false, true, false, true]);
        assert_eq!(plan(&mut faults, "/auth/v2/check"), FaultPlan::default());
    }

    #[test]
    fn count_bounds_a_fault_and_delays_add_up() {
        let mut down = fault(FaultKind::Down);
        down.spec.count = Some(1);
        let mut delay = fault(FaultKind::Delay);
        delay.spec.ms = Some(50);
        let mut faults = vec![delay, down];
        let first = plan(&mut faults, "/auth/v2/preauth");
        assert_eq!(
            first,
            FaultPlan {
                delay_ms: 50,
                answer: Some(FaultAnswer::Down)
            }
        );
        assert_eq!(plan(&mut faults, "/auth/v2/preauth").answer, None);
    }

    #[test]
    fn specs_are_validated_naming_the_field() {
        let mut spec = fault(FaultKind::Status).spec;
        assert!(spec.validate().unwrap_err().contains("status"));
        spec.status = Some(200);
        assert!(spec.validate().is_err());
        spec.status = Some(503);
        assert!(spec.validate().is_ok());
    }
}
