//! Duo's logs: what the emulator records, and the log endpoints that read it.
//!
//! | route | answer |
//! |---|---|
//! | `GET /admin/v2/logs/authentication` | `{"authlogs": […], "metadata": {"next_offset": [ts_ms, txid] or null, "total_objects": N}}` |
//! | `GET /admin/v1/logs/administrator` | up to 1000 entries with `timestamp` ≥ `mintime` (seconds), oldest first |
//! | `GET /admin/v2/logs/telephony`, `GET /admin/v2/logs/activity` | `{"items": […], "metadata": {"next_offset": "ts_ms,id" or null, "total_objects": {"relation": "eq", "value": N}}}` |
//!
//! **What is recorded.** Every Auth API decision is an authentication log entry with Duo's
//! fields (`txid`, `timestamp` in seconds, `isotimestamp`, `user {key, name, groups}`,
//! `application {key, name}`, `event_type`, `factor`, `result`, `reason`, `access_device`,
//! `auth_device`, `email`, `alias`): a preauth that decides (`allow`, `deny`, `enroll`), and
//! every auth (a synchronous one when it is decided, an asynchronous one with the outcome its
//! script decides when it arrives; SMS sending is not a decision and is not logged there).
//! Phone calls and SMS are also telephony entries. Every Admin API change that succeeds is an
//! administrator log entry (`action` such as `user_create`, `user_update`, `user_delete`,
//! `admin_update`, `bypass_create`, `bypass_delete`; `object`; `description` a JSON text of the
//! changed fields, never a code; `username` `API`) and an activity entry. The names of
//! actions and reasons follow Duo's documented vocabularies where they exist; the exact names
//! Duo uses for phone associations and bypass codes are not public (ours are inferences).
//!
//! **Hold-back.** Like Duo, the emulator does not show the last two minutes
//! ([`HOLD_BACK_MS`]) of any log: an entry appears once the (injectable) clock is two minutes
//! past its timestamp. A reader that asks for windows ending two minutes ago therefore never
//! misses an entry that arrives late.
//!
//! **Validation** (40002 naming the parameter): v2 logs need `mintime` and `maxtime` (Unix ms,
//! `maxtime` ≥ `mintime`); `mintime` older than 180 days is refused with `mintime must be within
//! the past 180 days` (Duo's text); `limit` is 1 to 1000 (default 100); `sort` is `ts:asc` or
//! `ts:desc` (default); `next_offset` is the previous page's (for authentication logs two
//! values, the timestamp and the txid, as repeated keys or one comma-separated value). The
//! administrator log's `mintime` (seconds) is optional and is raised to 180 days ago when
//! older (`duo_client` sends 0 by default). Filters of the authentication log (`users`,
//! `applications`, `results`, `event_types`, `factors`, `reasons`; repeated keys) keep the
//! entries matching any of the given values.
//!
//! **Order and paging.** Entries are kept in timestamp order (ties in arrival order). A page
//! continues after the entry its `next_offset` names; the total counts the whole window.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use duo_proto::Params;
use duo_proto::envelope::DuoFail;

use crate::pipeline::{Answer, ApiResult};
use crate::request_params::invalid;
use crate::shared::Shared;

/// How long the newest entries are held back: two minutes.
pub const HOLD_BACK_MS: i64 = 120_000;
/// How far back `mintime` may reach: 180 days.
pub const MAX_AGE_MS: i64 = 180 * 86_400_000;
/// Entries kept per log (the oldest are forgotten first).
pub const LOG_CAPACITY: usize = 100_000;
/// The most entries one page or one administrator-log answer holds.
pub const MAX_LIMIT: usize = 1000;

/// One log entry: when, an id (txid, telephony or activity id), and Duo's object.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Unix milliseconds.
    pub ts_ms: i64,
    /// The entry's id (for paging).
    pub id: String,
    /// The entry as the endpoint returns it.
    pub body: Value,
}

/// The four logs, each in timestamp order.
#[derive(Debug, Clone, Default)]
pub struct LogBook {
    /// Authentication log (v2 shape).
    pub authentication: VecDeque<LogEntry>,
    /// Administrator log (v1 shape).
    pub administrator: VecDeque<LogEntry>,
    /// Telephony log (v2 shape).
    pub telephony: VecDeque<LogEntry>,
    /// Activity log (v2 shape).
    pub activity: VecDeque<LogEntry>,
}

/// Adds `entry` in timestamp order (after entries with the same timestamp).
fn insert(log: &mut VecDeque<LogEntry>, entry: LogEntry) {
    if log.len() >= LOG_CAPACITY {
        log.pop_front();
    }
    let at = log
        .iter()
        .rposition(|e| e.ts_ms <= entry.ts_ms)
        .map_or(0, |i| i + 1);
    log.insert(at, entry);
}

/// RFC 3339 with microseconds and `+00:00`, as Duo writes `isotimestamp`.
pub fn iso(ts_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ts_ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string())
        .unwrap_or_default()
}

/// What an authentication log entry says, before it gets Duo's shape.
#[derive(Debug, Clone, Default)]
pub struct AuthEvent {
    /// Unix milliseconds.
    pub ts_ms: i64,
    /// Transaction id.
    pub txid: String,
    /// The user's id (empty for an unknown user).
    pub user_id: String,
    /// The username as given.
    pub username: String,
    /// The user's e-mail.
    pub email: String,
    /// The Auth API integration key.
    pub application: String,
    /// `authentication` or `enrollment`.
    pub event_type: String,
    /// `duo_push`, `phone_call`, `passcode`, `sms_passcode`, `not_available`, …
    pub factor: String,
    /// `success`, `denied`, `fraud`, …
    pub result: String,
    /// `user_approved`, `user_denied`, `no_response`, …
    pub reason: String,
    /// The client's IP as sent (`ipaddr`).
    pub ip: Option<String>,
    /// The client's hostname as sent.
    pub hostname: Option<String>,
    /// The device used, if any (its number).
    pub device: Option<String>,
}

impl LogBook {
    /// Records an Auth API decision.
    pub fn record_auth(&mut self, event: AuthEvent) {
        let location = json!({"city": null, "country": null, "state": null});
        let body = json!({
            "access_device": {
                "browser": null, "browser_version": null, "epkey": null, "flash_version": null,
                "hostname": event.hostname, "ip": event.ip, "is_encryption_enabled": "unknown",
                "is_firewall_enabled": "unknown", "is_password_set": "unknown",
                "java_version": null, "location": location, "os": null, "os_version": null,
            },
            "alias": "",
            "application": {"key": event.application, "name": "Auth API"},
            "auth_device": {"ip": null, "location": location, "name": event.device},
            "email": event.email,
            "event_type": event.event_type,
            "factor": event.factor,
            "isotimestamp": iso(event.ts_ms),
            "ood_software": null,
            "reason": event.reason,
            "result": event.result,
            "timestamp": event.ts_ms.div_euclid(1000),
            "trusted_endpoint_status": "not trusted",
            "txid": event.txid,
            "user": {"groups": [], "key": event.user_id, "name": event.username},
        });
        insert(
            &mut self.authentication,
            LogEntry {
                ts_ms: event.ts_ms,
                id: event.txid,
                body,
            },
        );
    }

    /// Records a phone call or SMS (`kind` `phone` or `sms`) to `phone`.
    pub fn record_telephony(&mut self, ts_ms: i64, txid: &str, kind: &str, phone: &str) {
        let id = uuid::Uuid::new_v4().to_string();
        let body = json!({
            "context": "authentication", "credits": 1, "phone": phone, "telephony_id": id,
            "ts": iso(ts_ms), "txid": txid, "type": kind,
        });
        insert(&mut self.telephony, LogEntry { ts_ms, id, body });
    }

    /// Records an Admin API change: an administrator entry and an activity entry.
    pub fn record_admin_change(
        &mut self,
        ts_ms: i64,
        action: &str,
        object: &str,
        target_kind: &str,
        description: &Value,
    ) {
        let body = json!({
            "action": action,
            "description": description.to_string(),
            "isotimestamp": iso(ts_ms),
            "object": object,
            "timestamp": ts_ms.div_euclid(1000),
            "username": "API",
        });
        insert(
            &mut self.administrator,
            LogEntry {
                ts_ms,
                id: uuid::Uuid::new_v4().to_string(),
                body,
            },
        );
        let id = uuid::Uuid::new_v4().to_string();
        let body = json!({
            "access_device": null,
            "action": action,
            "activity_id": id,
            "actor": {"details": null, "key": null, "name": "Admin API", "type": "integration"},
            "akey": null,
            "application": null,
            "target": {"details": description.to_string(), "key": null, "name": object, "type": target_kind},
            "ts": iso(ts_ms),
        });
        insert(&mut self.activity, LogEntry { ts_ms, id, body });
    }
}

/// A required millisecond time.
fn millis(params: &Params, name: &str) -> Result<i64, DuoFail> {
    params
        .get(name)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v >= 0)
        .ok_or_else(|| invalid(name))
}

/// The common parameters of a v2 log: window, limit, order and cursor.
struct Query {
    min: i64,
    max: i64,
    limit: usize,
    descending: bool,
    after: Option<(i64, String)>,
}

fn query(params: &Params, now_ms: i64) -> Result<Query, DuoFail> {
    let min = millis(params, "mintime")?;
    let max = millis(params, "maxtime")?;
    if min < now_ms - MAX_AGE_MS {
        return Err(invalid("mintime must be within the past 180 days"));
    }
    if max < min {
        return Err(invalid("maxtime"));
    }
    let limit = match params.get("limit") {
        None => 100,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| invalid("limit"))?,
    };
    let descending = match params.get("sort") {
        None | Some("ts:desc") => true,
        Some("ts:asc") => false,
        Some(_) => return Err(invalid("sort")),
    };
    let parts: Vec<&str> = params
        .get_all("next_offset")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    let after = match parts.as_slice() {
        [] => None,
        [a, b] => {
            let (ts, id) = if a.chars().all(|c| c.is_ascii_digit()) {
                (a, b)
            } else {
                (b, a)
            };
            let ts = ts.parse::<i64>().map_err(|_| invalid("next_offset"))?;
            Some((ts, id.to_string()))
        }
        _ => return Err(invalid("next_offset")),
    };
    Ok(Query {
        min,
        max,
        limit,
        descending,
        after,
    })
}

/// One page of `log` for `q`: the entries, the window's total, and the last entry shown when
/// more follow.
fn page<'a>(
    log: &'a VecDeque<LogEntry>,
    q: &Query,
    now_ms: i64,
    keep: impl Fn(&LogEntry) -> bool,
) -> (Vec<&'a LogEntry>, usize, Option<&'a LogEntry>) {
    let visible = now_ms - HOLD_BACK_MS;
    let mut matching: Vec<&LogEntry> = log
        .iter()
        .filter(|e| e.ts_ms >= q.min && e.ts_ms <= q.max && e.ts_ms <= visible && keep(e))
        .collect();
    if q.descending {
        matching.reverse();
    }
    let start = match &q.after {
        None => 0,
        Some((ts, id)) => match matching.iter().position(|e| e.id == *id && e.ts_ms == *ts) {
            Some(i) => i + 1,
            None if q.descending => matching.iter().take_while(|e| e.ts_ms >= *ts).count(),
            None => matching.iter().take_while(|e| e.ts_ms <= *ts).count(),
        },
    };
    let total = matching.len();
    let end = (start + q.limit).min(total);
    let shown: Vec<&LogEntry> = matching[start.min(end)..end].to_vec();
    let next = (end < total).then(|| shown.last().copied()).flatten();
    (shown, total, next)
}

fn now_ms(shared: &Shared) -> i64 {
    (shared.config.clock)().as_millisecond()
}

/// `GET /admin/v2/logs/authentication`.
pub fn authentication(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let now = now_ms(shared);
    let q = query(params, now)?;
    let filters: Vec<(&str, Vec<&str>)> = [
        ("users", &["user", "key"][..]),
        ("applications", &["application", "key"][..]),
        ("results", &["result"][..]),
        ("event_types", &["event_type"][..]),
        ("factors", &["factor"][..]),
        ("reasons", &["reason"][..]),
    ]
    .into_iter()
    .filter(|(name, _)| params.contains_key(name))
    .map(|(name, path)| (name, path.to_vec()))
    .collect();
    let wanted: Vec<(Vec<&str>, Vec<&str>)> = filters
        .iter()
        .map(|(name, path)| (path.clone(), params.get_all(name).collect()))
        .collect();
    let data = shared.data();
    let (shown, total, next) = page(&data.logs.authentication, &q, now, |entry| {
        wanted.iter().all(|(path, values)| {
            let field = path.iter().fold(&entry.body, |v, key| &v[*key]);
            values.iter().any(|v| field.as_str() == Some(*v))
        })
    });
    let next_offset = next.map(|e| json!([e.ts_ms.to_string(), e.id]));
    let authlogs: Vec<&Value> = shown.iter().map(|e| &e.body).collect();
    Ok(Answer::Ok(
        json!({"authlogs": authlogs, "metadata": {"next_offset": next_offset, "total_objects": total}}),
        None,
    ))
}

/// `GET /admin/v2/logs/telephony` and `/admin/v2/logs/activity`.
pub fn items(shared: &Arc<Shared>, params: &Params, telephony: bool) -> ApiResult {
    let now = now_ms(shared);
    let q = query(params, now)?;
    let data = shared.data();
    let log = if telephony {
        &data.logs.telephony
    } else {
        &data.logs.activity
    };
    let (shown, total, next) = page(log, &q, now, |_| true);
    let next_offset = next.map(|e| format!("{},{}", e.ts_ms, e.id));
    let items: Vec<&Value> = shown.iter().map(|e| &e.body).collect();
    Ok(Answer::Ok(
        json!({"items": items, "metadata": {"next_offset": next_offset,
               "total_objects": {"relation": "eq", "value": total}}}),
        None,
    ))
}

/// `GET /admin/v1/logs/administrator`.
pub fn administrator(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let now = now_ms(shared);
    let oldest = (now - MAX_AGE_MS).div_euclid(1000);
    let mintime = match params.get("mintime") {
        None | Some("") => oldest,
        Some(text) => text
            .trim()
            .parse::<i64>()
            .map_err(|_| invalid("mintime"))?
            .max(oldest),
    };
    let visible = now - HOLD_BACK_MS;
    let data = shared.data();
    let entries: Vec<&Value> = data
        .logs
        .administrator
        .iter()
        .filter(|e| e.ts_ms.div_euclid(1000) >= mintime && e.ts_ms <= visible)
        .take(MAX_LIMIT)
        .map(|e| &e.body)
        .collect();
    Ok(Answer::Ok(json!(entries), None))
}

/// `POST /_emulator/logs/authentication` (control API): records an authentication entry as
/// given, for tests that need entries at chosen times. Body: `{"username", "timestamp_ms",
/// "result"?, "factor"?, "reason"?}`; the user's id and e-mail are filled in when the user
/// exists. Answers the entry.
pub async fn inject_authentication(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Response {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Injected {
        username: String,
        timestamp_ms: i64,
        #[serde(default)]
        result: Option<String>,
        #[serde(default)]
        factor: Option<String>,
        #[serde(default)]
        reason: Option<String>,
    }
    let input: Injected = match serde_json::from_slice(&body) {
        Ok(input) => input,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("invalid body: {e}")})),
            )
                .into_response();
        }
    };
    let application = shared.keys().auth_ikey;
    let mut data = shared.data();
    let (user_id, email) = data
        .user_by_name(&input.username)
        .map(|r| (r.user.user_id.clone(), r.user.email.clone()))
        .unwrap_or_default();
    let txid = uuid::Uuid::new_v4().to_string();
    data.logs.record_auth(AuthEvent {
        ts_ms: input.timestamp_ms,
        txid: txid.clone(),
        user_id,
        username: input.username,
        email,
        application,
        event_type: "authentication".into(),
        factor: input.factor.unwrap_or_else(|| "duo_push".into()),
        result: input.result.unwrap_or_else(|| "success".into()),
        reason: input.reason.unwrap_or_else(|| "user_approved".into()),
        ..AuthEvent::default()
    });
    let entry = data
        .logs
        .authentication
        .iter()
        .find(|e| e.id == txid)
        .map(|e| e.body.clone())
        .unwrap_or(Value::Null);
    (StatusCode::CREATED, Json(entry)).into_response()
}

/// `POST /_emulator/logs/administrator` (control API): records an administrator (and activity)
/// entry as given. Body: `{"action", "object", "timestamp_ms", "description"?}`.
pub async fn inject_administrator(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Response {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Injected {
        action: String,
        object: String,
        timestamp_ms: i64,
        #[serde(default)]
        description: Option<Value>,
    }
    let input: Injected = match serde_json::from_slice(&body) {
        Ok(input) => input,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("invalid body: {e}")})),
            )
                .into_response();
        }
    };
    let mut data = shared.data();
    data.logs.record_admin_change(
        input.timestamp_ms,
        &input.action,
        &input.object,
        "user",
        &input.description.unwrap_or_else(|| json!({})),
    );
    StatusCode::CREATED.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts_ms: i64, id: &str) -> LogEntry {
        LogEntry {
            ts_ms,
            id: id.into(),
            body: json!(id),
        }
    }

    #[test]
    fn entries_stay_in_timestamp_order_with_ties_in_arrival_order() {
        let mut log = VecDeque::new();
        for (ts, id) in [(5, "a"), (3, "b"), (5, "c"), (1, "d")] {
            insert(&mut log, entry(ts, id));
        }
        let ids: Vec<&str> = log.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["d", "b", "a", "c"]);
    }

    #[test]
    fn pages_continue_after_their_cursor_and_hold_back_two_minutes() {
        let now = 1_000_000_000;
        let log: VecDeque<LogEntry> = (0..5)
            .map(|i| entry(now - 200_000 + i * 30_000, &format!("e{i}")))
            .collect();
        // e0..e2 are older than two minutes; e3 (now - 110 s) and e4 are held back.
        let mut q = Query {
            min: 0,
            max: now,
            limit: 2,
            descending: false,
            after: None,
        };
        let (shown, total, next) = page(&log, &q, now, |_| true);
        assert_eq!(total, 3);
        assert_eq!(shown.len(), 2);
        let next = next.unwrap();
        q.after = Some((next.ts_ms, next.id.clone()));
        let (rest, _, more) = page(&log, &q, now, |_| true);
        assert_eq!(rest[0].id, "e2");
        assert!(more.is_none());
        q.descending = true;
        q.after = None;
        let (newest_first, _, _) = page(&log, &q, now, |_| true);
        assert_eq!(newest_first[0].id, "e2");
    }

    #[test]
    fn iso_timestamps_have_microseconds_and_an_offset() {
        assert_eq!(iso(1_581_620_180_351), "2020-02-13T18:56:20.351000+00:00");
    }
}
