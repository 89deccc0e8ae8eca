//! `duogate logs auth|admin|telephony|activity`: Duo's logs as JSON lines on stdout, once or
//! followed, resumable from a checkpoint file.
//!
//! **Windows.** Duo holds back the last two minutes of its logs (an entry can appear up to two
//! minutes after its timestamp), so every read asks for a window ending that long ago plus a
//! minute's margin for the difference between this machine's clock and Duo's (three minutes in
//! all; `--hold-back-ms`, hidden, for tests), or at `--until`/`--maxtime`, oldest first, and the
//! next window starts just after it: no entry is read twice and none arriving late is skipped.
//!
//! **Rate.** Duo allows two log requests a minute per log type; requests are spaced by
//! `--poll-interval-ms` (hidden; default 30 000) whether following or paging through a backlog.
//! A 429 is still ridden out by the client's backoff.
//!
//! **Checkpoint.** With `--checkpoint FILE`, where to resume is saved after every line written
//! (a JSON object, replaced atomically by rename): for the v2 logs the window start and the
//! cursor of the last entry written (`[ts_ms, id]`, what Duo's `next_offset` names); for the
//! administrator log, which pages by `mintime` in seconds only, that second and how many of its
//! entries were written. A restart with the same file continues after the last line written,
//! whatever `--since` says. Only a kill between writing a line and saving the checkpoint (a few
//! microseconds) can repeat that one line.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use duo_client::DuoClient;
use duo_client::admin::LogQuery;

use crate::connection::ConnectionArgs;
use crate::failure::{UsageError, usage};

/// How long Duo holds back its newest log entries.
pub const HOLD_BACK_MS: i64 = 120_000;
/// What a window's end stays behind this machine's clock by default: Duo's hold-back and a
/// minute for clock skew.
pub const SETTLED_AFTER_MS: i64 = HOLD_BACK_MS + 60_000;

/// Which log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    /// Authentication log (v2; times in ms).
    Auth,
    /// Administrator log (v1; times in seconds).
    Admin,
    /// Telephony log (v2; times in ms).
    Telephony,
    /// Activity log (v2; times in ms).
    Activity,
}

/// `duogate logs …`
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Which log.
    #[arg(value_enum)]
    pub log: LogKind,
    /// Start this long ago: 90s, 30m, 2h, 7d (default 1h).
    #[arg(long, conflicts_with = "mintime", value_name = "DURATION")]
    pub since: Option<String>,
    /// Start at this Unix time (ms; seconds for the administrator log).
    #[arg(long, value_name = "TIME")]
    pub mintime: Option<i64>,
    /// End this long ago (default: two minutes ago, what Duo has settled).
    #[arg(long, conflicts_with_all = ["maxtime", "follow"], value_name = "DURATION")]
    pub until: Option<String>,
    /// End at this Unix time (ms; seconds for the administrator log).
    #[arg(long, conflicts_with = "follow", value_name = "TIME")]
    pub maxtime: Option<i64>,
    /// Keep reading new entries as Duo settles them (every 30 s, Duo's rate), until stopped.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Save where to resume in FILE after every line, and resume from it.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Authentication log: only these user ids (repeatable).
    #[arg(long = "user", value_name = "USER_ID")]
    pub users: Vec<String>,
    /// Authentication log: only these results (success, denied, fraud, …; repeatable).
    #[arg(long = "result", value_name = "RESULT")]
    pub results: Vec<String>,
    /// Only these fields of each entry (dotted paths reach inside: user.name).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "FIELD,…",
        value_parser = clap::builder::NonEmptyStringValueParser::new()
    )]
    pub fields: Vec<String>,
    /// Milliseconds between two requests (Duo allows 2 a minute per log).
    #[arg(long, hide = true, default_value_t = 30_000)]
    pub poll_interval_ms: u64,
    /// How far behind this machine's clock a window ends, in ms (at least Duo's 120 000).
    #[arg(long, hide = true, default_value_t = SETTLED_AFTER_MS)]
    pub hold_back_ms: i64,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Where to resume, as saved in the checkpoint file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "log", rename_all = "lowercase")]
pub enum Checkpoint {
    /// A v2 log: the window start (ms) and the last entry written in it.
    #[serde(rename = "v2")]
    Window {
        /// Which v2 log.
        kind: LogKind,
        /// Start of the current window, Unix ms.
        mintime: i64,
        /// `[ts_ms, id]` of the last entry written in it.
        next_offset: Option<Value>,
    },
    /// The administrator log: the second of the last entry written, and how many entries of
    /// that second were written.
    Admin {
        /// Unix seconds.
        mintime: i64,
        /// Entries of `mintime` already written.
        skip: usize,
    },
}

impl Checkpoint {
    fn load(path: &Path) -> anyhow::Result<Option<Self>> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                UsageError(format!(
                    "--checkpoint {}: not a checkpoint: {e}",
                    path.display()
                ))
                .into()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => usage(format!("--checkpoint {}: {e}", path.display())),
        }
    }

    fn save(&self, path: &Path) -> anyhow::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, serde_json::to_vec(self)?)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

/// Parses `90s`, `30m`, `2h`, `7d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number.parse().ok()?;
    let secs = match unit {
        "s" => number,
        "m" => number.checked_mul(60)?,
        "h" => number.checked_mul(3600)?,
        "d" => number.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// An entry's `[ts_ms, id]` cursor: what Duo's `next_offset` names.
fn cursor(kind: LogKind, entry: &Value) -> Option<Value> {
    let (time, id) = match kind {
        LogKind::Auth => (entry.get("isotimestamp"), entry.get("txid")),
        LogKind::Telephony => (entry.get("ts"), entry.get("telephony_id")),
        LogKind::Activity => (entry.get("ts"), entry.get("activity_id")),
        LogKind::Admin => return None,
    };
    let ts: jiff::Timestamp = time?.as_str()?.parse().ok()?;
    let id = id?.as_str()?;
    Some(match kind {
        LogKind::Auth => json!([ts.as_millisecond().to_string(), id]),
        _ => json!(format!("{},{id}", ts.as_millisecond())),
    })
}

/// Spaces requests by the poll interval.
struct Pacer {
    interval: Duration,
    last: Option<tokio::time::Instant>,
}

impl Pacer {
    async fn wait(&mut self) {
        if let Some(last) = self.last {
            tokio::time::sleep_until(last + self.interval).await;
        }
        self.last = Some(tokio::time::Instant::now());
    }
}

fn write_line(entry: &Value, fields: &[String]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if fields.is_empty() {
        serde_json::to_writer(&mut out, entry)?;
    } else {
        serde_json::to_writer(&mut out, &crate::output::project(entry, fields))?;
    }
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// `duogate logs …`
pub async fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let ago = |text: &str, flag: &str| -> anyhow::Result<i64> {
        let duration = parse_duration(text).ok_or_else(|| {
            UsageError(format!(
                "{flag} {text:?}: give a duration such as 90s, 30m, 2h or 7d"
            ))
        })?;
        Ok(now_ms() - duration.as_millis() as i64)
    };
    let in_ms = args.log != LogKind::Admin;
    let scale = |ms: i64| if in_ms { ms } else { ms.div_euclid(1000) };
    let start = match (&args.since, args.mintime) {
        (_, Some(time)) => time,
        (Some(since), None) => scale(ago(since, "--since")?),
        (None, None) => scale(now_ms() - 3_600_000),
    };
    let end = match (&args.until, args.maxtime) {
        (_, Some(time)) => Some(time),
        (Some(until), None) => Some(scale(ago(until, "--until")?)),
        (None, None) => None,
    };
    if args.log != LogKind::Auth && !(args.users.is_empty() && args.results.is_empty()) {
        return usage("--user and --result filter the authentication log only");
    }
    if args.poll_interval_ms == 0 {
        return usage("--poll-interval-ms must be at least 1");
    }
    if args.hold_back_ms < HOLD_BACK_MS {
        return usage("--hold-back-ms must be at least 120000 (Duo's hold-back)");
    }
    let saved = match &args.checkpoint {
        Some(path) => Checkpoint::load(path)?,
        None => None,
    };
    let client = args.connection.client()?;
    let mut pacer = Pacer {
        interval: Duration::from_millis(args.poll_interval_ms),
        last: None,
    };
    let checkpoint = args.checkpoint.as_deref();
    match args.log {
        LogKind::Admin => {
            let state = match saved {
                Some(Checkpoint::Admin { mintime, skip }) => (mintime, skip),
                Some(_) => return usage("--checkpoint holds another log's position"),
                None => (start, 0),
            };
            follow_admin(&client, &args, state, end, checkpoint, &mut pacer).await?;
        }
        kind => {
            let state = match saved {
                Some(Checkpoint::Window {
                    kind: saved_kind,
                    mintime,
                    next_offset,
                }) if saved_kind == kind => (mintime, next_offset),
                Some(_) => return usage("--checkpoint holds another log's position"),
                None => (start, None),
            };
            follow_v2(&client, &args, kind, state, end, checkpoint, &mut pacer).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn follow_v2(
    client: &DuoClient,
    args: &LogsArgs,
    kind: LogKind,
    (mut mintime, mut next_offset): (i64, Option<Value>),
    end: Option<i64>,
    checkpoint: Option<&Path>,
    pacer: &mut Pacer,
) -> anyhow::Result<()> {
    let admin = client.admin();
    loop {
        let settled = now_ms() - args.hold_back_ms;
        let maxtime = end.map_or(settled, |end| end.min(settled));
        if maxtime >= mintime {
            loop {
                let query = LogQuery {
                    mintime_ms: mintime,
                    maxtime_ms: maxtime,
                    limit: Some(1000),
                    ascending: true,
                    next_offset: next_offset.clone(),
                    users: args.users.clone(),
                    applications: Vec::new(),
                    results: args.results.clone(),
                };
                pacer.wait().await;
                let page = match kind {
                    LogKind::Auth => admin.authentication_log(&query).await?,
                    LogKind::Telephony => admin.telephony_log(&query).await?,
                    _ => admin.activity_log(&query).await?,
                };
                for entry in &page.entries {
                    write_line(entry, &args.fields)?;
                    if let Some(at) = cursor(kind, entry) {
                        next_offset = Some(at);
                    }
                    if let Some(path) = checkpoint {
                        Checkpoint::Window {
                            kind,
                            mintime,
                            next_offset: next_offset.clone(),
                        }
                        .save(path)?;
                    }
                }
                if page.next_offset.is_none() || page.entries.is_empty() {
                    break;
                }
                next_offset = page.next_offset;
            }
            mintime = maxtime + 1;
            next_offset = None;
            if let Some(path) = checkpoint {
                Checkpoint::Window {
                    kind,
                    mintime,
                    next_offset: None,
                }
                .save(path)?;
            }
        }
        if !args.follow || end.is_some_and(|end| mintime > end) {
            return Ok(());
        }
        tokio::time::sleep(pacer.interval).await;
    }
}

async fn follow_admin(
    client: &DuoClient,
    args: &LogsArgs,
    (mut mintime, mut skip): (i64, usize),
    end: Option<i64>,
    checkpoint: Option<&Path>,
    pacer: &mut Pacer,
) -> anyhow::Result<()> {
    let admin = client.admin();
    loop {
        let settled = (now_ms() - args.hold_back_ms).div_euclid(1000);
        let last_second = end.map_or(settled, |end| end.min(settled));
        loop {
            pacer.wait().await;
            let entries = admin.administrator_log(mintime).await?;
            let count = entries.len();
            let mut wrote = 0;
            for entry in entries.into_iter().skip(skip) {
                let ts = entry
                    .get("timestamp")
                    .and_then(Value::as_i64)
                    .unwrap_or(mintime);
                if ts > last_second {
                    break;
                }
                write_line(&entry, &args.fields)?;
                wrote += 1;
                if ts == mintime {
                    skip += 1;
                } else {
                    mintime = ts;
                    skip = 1;
                }
                if let Some(path) = checkpoint {
                    Checkpoint::Admin { mintime, skip }.save(path)?;
                }
            }
            // Duo answers at most 1000 entries: ask again from the last second written.
            if count < 1000 || wrote == 0 {
                break;
            }
        }
        if !args.follow {
            return Ok(());
        }
        tokio::time::sleep(pacer.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_seconds_minutes_hours_and_days() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("15"), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration("2 weeks"), None);
        assert_eq!(parse_duration("h"), None);
    }

    #[test]
    fn cursors_are_what_duo_names_in_next_offset() {
        let auth = json!({"isotimestamp": "2020-02-13T18:56:20.351000+00:00", "txid": "t1"});
        assert_eq!(
            cursor(LogKind::Auth, &auth),
            Some(json!(["1581620180351", "t1"]))
        );
        let call = json!({"ts": "2020-02-13T18:56:20.351000+00:00", "telephony_id": "p1"});
        assert_eq!(
            cursor(LogKind::Telephony, &call),
            Some(json!("1581620180351,p1"))
        );
    }

    #[test]
    fn checkpoints_round_trip_through_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.checkpoint");
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let saved = Checkpoint::Window {
            kind: LogKind::Auth,
            mintime: 5,
            next_offset: Some(json!(["7", "t"])),
        };
        saved.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(saved));
    }
}
