//! The ONTAP dialect under `/api/` (in progress): Duo profiles and groups, SVMs.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;

/// The ONTAP routes, to be nested under `/api`.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new().fallback(|| async {
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": {"message": "API not found", "code": "3"}})),
        )
            .into_response()
    })
}

/// Starts the background task that re-checks every profile's Duo for its `status`, when
/// `state.settings.status_refresh` is set. Returns at once.
pub fn spawn_status_refresher(_state: &AppState) {}
