//! Error kinds of the CLI and their exit codes.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | Duo said no (a FAIL envelope; its code and message are printed) |
//! | 2 | usage error: bad flags, bad input, missing or unreadable configuration |
//! | 3 | transport error: unreachable, TLS, timeout, or an answer that is not Duo's |
//!
//! A broken pipe on stdout (`duogate users list --all | head`) is not an error: exit 0.

use std::process::ExitCode;

use duo_client::ClientError;
use duo_client::actions::ActionInputError;

/// Exit code: Duo refused.
pub const EXIT_DUO: u8 = 1;
/// Exit code: usage error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: transport error.
pub const EXIT_TRANSPORT: u8 = 3;

/// A usage error with a message for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Shorthand to fail with a usage error.
pub fn usage<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(UsageError(message.into()).into())
}

/// The exit code for an error chain.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(e) = cause.downcast_ref::<ClientError>() {
            return u8::try_from(e.exit_code()).unwrap_or(EXIT_TRANSPORT);
        }
        if cause.downcast_ref::<UsageError>().is_some()
            || cause.downcast_ref::<ActionInputError>().is_some()
        {
            return EXIT_USAGE;
        }
    }
    EXIT_TRANSPORT
}

/// Whether the error is a closed stdout (`| head`).
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io = cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe);
        let json = cause
            .downcast_ref::<serde_json::Error>()
            .and_then(serde_json::Error::io_error_kind)
            == Some(std::io::ErrorKind::BrokenPipe);
        io || json
    })
}

/// Prints the error to stderr and returns its exit code.
pub fn report(error: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(error) {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {error:#}");
    ExitCode::from(exit_code(error))
}
