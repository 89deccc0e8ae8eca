//! `duogate-store`: duogate's storage (not built yet).
//!
//! It will hold tenants, integrations (Vault login-MFA methods, step-up methods, ONTAP profiles
//! and groups), login enforcements, tokens, accounts, pending MFA requests and the audit log, on
//! SQLite or PostgreSQL through one sqlx code path, with secret keys sealed by AES-256-GCM before
//! they reach a row. See issue 3 ("Configuration service") and `shared/spec/PRODUCT.md`.
//!
//! # Layout
//!
//! Empty for now: the crate exists so the workspace has its final shape.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
