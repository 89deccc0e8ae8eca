//! `duogate-store`: duogate's storage (in progress: only secret sealing exists so far).
//!
//! It will hold tenants, integrations (Vault login-MFA methods, step-up methods, ONTAP profiles
//! and groups), login enforcements, tokens, accounts, pending MFA requests and the audit log, on
//! SQLite or PostgreSQL through one sqlx code path, with secret keys sealed by AES-256-GCM before
//! they reach a row. See issue 3 ("Configuration service") and `shared/spec/PRODUCT.md`.
//!
//! # Layout
//!
//! - [`seal`]: AES-256-GCM sealing of secrets, bound to their row; key ids; rotation;
//!   fingerprints. The rest of the store (sqlx on SQLite and PostgreSQL, migrations, the
//!   contract suite) is still to be built.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod seal;
