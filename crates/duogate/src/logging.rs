//! Where and how the process logs: always to stderr, as text or as JSON lines.
//!
//! - **Level**: `RUST_LOG` wins when set. Otherwise the connector commands log warnings (`-v`
//!   info, `-vv` debug) and `serve` logs info, so its access lines, start, ready and shutdown
//!   show (`-v` debug, `-vv` trace). The HTTP/2, HTTP and TLS libraries stay at info unless
//!   `RUST_LOG` names them: their debug output can quote frames and headers.
//! - **Format**: `--log-format text` (the default) or `json` (`log_format` in `serve`'s
//!   `--config`): one JSON object per line with `timestamp`, `level`, `target`, the event's
//!   fields at the top level (`message`, `status`, `latency_ms`, …) and the current span's
//!   fields under `span` (for an access line: `method`, `route`, `dialect`, `request_id`,
//!   `caller`, `tenant`).
//! - **Colours**: only when stderr is a terminal and `NO_COLOR` is unset or empty; a log file
//!   or pipe never receives ANSI escape codes.

use std::io::IsTerminal as _;

use serde::Deserialize;

/// `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Libraries whose debug output is not for the service log.
const QUIET_LIBRARIES: &str = "h2=info,hyper=info,hyper_util=info,rustls=info,tokio_rustls=info";

/// The filter without `RUST_LOG`.
fn default_filter(verbose: u8, service: bool) -> String {
    let level = match (service, verbose) {
        (false, 0) => "warn",
        (false, 1) | (true, 0) => "info",
        (false, _) | (true, 1) => "debug",
        (true, _) => "trace",
    };
    format!("{level},{QUIET_LIBRARIES}")
}

/// Whether to colour the log: stderr is a terminal and `NO_COLOR` is unset or empty.
fn use_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the process's subscriber. `service` is true for `serve`.
pub fn init(verbose: u8, format: LogFormat, service: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter(verbose, service)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(use_colour()).with_target(false).init(),
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_logs_info_by_default_and_connectors_warnings() {
        assert!(default_filter(0, true).starts_with("info,"));
        assert!(default_filter(0, false).starts_with("warn,"));
        assert!(default_filter(1, false).starts_with("info,"));
        assert!(default_filter(2, true).starts_with("trace,"));
    }
}
