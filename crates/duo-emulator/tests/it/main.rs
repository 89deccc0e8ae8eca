//! Integration tests of the emulator: in-process through the router, and over a socket where
//! the connection matters (the `down` fault, the Universal Prompt flow over plain HTTP).

mod admin;
mod auth;
mod control;
mod prompt;
mod rate_limits;
mod signatures;
mod support;
mod tls;
mod universal_prompt;
