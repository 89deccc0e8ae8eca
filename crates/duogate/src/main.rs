//! `duogate`: one binary for Duo Security.
//!
//! It runs the Duo Admin API connector actions (`users`, `phones`, `groups`, `admins`,
//! `bypass-codes`, `logs`, `request-approval`, and the Swimlane-shaped `action`), the offline Duo emulator (`emulate`), and the
//! configuration service (`serve`: the Vault, ONTAP and native dialects and the enforcement
//! engine).
//!
//! # Layout
//!
//! - `admin_commands`: `token`, `tenant`, `account` (over the service's native API) and
//!   `seal rotate`.
//! - `cli`: the clap command tree; help text lives there.
//! - `connection`: where the Duo connection comes from (flags, environment, config profiles).
//! - `connector`: the connector commands, built on `duo_client::actions` and paging streams.
//! - `logs`: `duogate logs`, Duo's logs as JSON lines, followed and resumable from a checkpoint.
//! - `output`: table / JSON / CSV writers that stream, and the progress bar.
//! - `resources`: which columns each Duo object shows in tables and CSV.
//! - `emulate`: `duogate emulate`, the offline Duo.
//! - `serve`: `duogate serve`, the configuration service; `serve::dev` is `--dev` (everything
//!   embedded, like `vault server -dev`).
//! - `private_files`: files and folders created for their owner only (0600 / 0700).
//! - `serve_listener`: how `serve` listens: TLS flags, plain HTTP only on loopback, SIGHUP reload.
//! - `dev_tls`: the generated dev CA and server certificate (`serve --dev-tls`, `emulate --tls`).
//! - `logging`: the subscriber: stderr, text or JSON lines, colours only on a terminal.
//! - `failure`: the error kinds and their exit codes (0 ok, 1 Duo said no, 2 usage, 3 transport).
#![forbid(unsafe_code)]

mod admin_commands;
mod cli;
mod connection;
mod connector;
mod dev_tls;
mod emulate;
mod failure;
mod logging;
mod logs;
mod output;
mod private_files;
mod resources;
mod serve;
mod serve_listener;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Read before the runtime exists: `serve`'s worker threads and log format.
    let process = match serve::ProcessSettings::of(&cli.command) {
        Ok(process) => process,
        Err(error) => return failure::report(&error.into()),
    };
    logging::init(cli.verbose, process.log_format, process.service);
    let runtime = match process.runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(failure::EXIT_TRANSPORT);
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(error) => failure::report(&error),
    }
}
