//! `duo-proto`: the Duo Security wire protocol, with no I/O.
//!
//! Both halves of a conversation with Duo live here so that they agree byte for byte: the
//! client (`duo-client`) signs with the same code the emulator (`duo-emulator`) verifies with.
//!
//! # Layout
//!
//! - [`params`]: [`Params`], the ordered multimap of request parameters, and Python-compatible
//!   normalisation of typed values into strings.
//! - [`canon`]: canonical forms: RFC 5849 parameter strings, Python-style JSON (`canon_json`,
//!   and the `sort_keys=True` default-separator form Duo answers with), SHA-512 body and X-Duo
//!   header hashes, and the `quote_plus` wire encoding of queries and form bodies.
//! - [`sign`]: signature versions 1, 2, 4 and 5, HMAC-SHA1/SHA512, the `Authorization` header, and
//!   [`sign::prepare_request`], which lays a request out on the wire exactly as `duo_client` does.
//! - [`date`]: the `Date` / `X-Duo-Date` header: formatting and lenient parsing.
//! - [`verify`]: what a server does with a signed request (Duo's checks, in Duo's order, with
//!   Duo's error codes).
//! - [`envelope`]: Duo's `{"stat": …}` envelopes, [`DuoFail`] and the known error codes.
//! - [`models`]: typed Admin API objects (User, Phone, Admin, BypassCode, …) and Auth API answers.
//! - [`paging`]: offset-paging metadata and each endpoint's default and maximum `limit`.
//!
//! Every one of the 59 signing vectors in `tests/data/duo-sign-vectors.json` is a test of this
//! crate (`tests/vectors.rs`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod canon;
pub mod date;
pub mod envelope;
pub mod models;
pub mod paging;
pub mod params;
pub mod sign;
pub mod verify;

pub use envelope::{DuoFail, Envelope, FailCode};
pub use params::Params;
pub use sign::{Digest, PreparedRequest, SigVersion, SignRequest};
pub use verify::{Verified, VerifyError, VerifyRequest};
