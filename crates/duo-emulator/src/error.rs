//! The emulator's error type (start-up and serving; request errors are Duo FAIL envelopes).

/// Why the emulator could not start or serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// A bad `--seed` specification.
    #[error("seed: {0}")]
    Seed(String),
    /// The state file cannot be read or is not valid.
    #[error("state file: {0}")]
    State(String),
    /// Socket trouble while serving.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}
