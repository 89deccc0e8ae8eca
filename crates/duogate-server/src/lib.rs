//! `duogate-server`: duogate's service (not built yet).
//!
//! It will hold the enforcement engine (Duo's Auth API with Vault and duo_unix semantics),
//! `AppState`, and the dialect routers `vault/`, `ontap/` and `native/`: thin adapters between
//! HTTP and the engine and store. See issues 3 and 4 and `shared/spec/PRODUCT.md`.
//!
//! # Layout
//!
//! Empty for now: the crate exists so the workspace has its final shape.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
