//! The Vault dialect under `/v1/` (in progress).

use crate::state::AppState;

/// The Vault routes: the fallback of the whole app for `/v1/…` paths the native API does not
/// own.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
}
