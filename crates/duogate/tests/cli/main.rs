//! End-to-end tests of the `duogate` binary against `duogate emulate`.
//!
//! Each test starts its own emulator process on a free loopback port and drives the real binary
//! with `assert_cmd`. The emulator's request log (`GET /_emulator/requests`) proves what was,
//! and was not, sent to Duo.

mod actions;
mod connector;
mod dev_mode;
mod emulator;
mod errors;
mod logs;
mod observability;
mod seal;
mod serve;
mod startup;
mod tls;

pub use emulator::TestEmulator;
