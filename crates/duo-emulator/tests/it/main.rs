//! Integration tests of the emulator: in-process through the router, and over a socket where
//! the connection matters (the `down` fault).

mod admin;
mod auth;
mod control;
mod logs;
mod prompt;
mod signatures;
mod support;
mod tls;
