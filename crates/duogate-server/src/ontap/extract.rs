//! The body extractor of the ONTAP routes: its rejections answer in ONTAP's envelope
//! (`{"error": {"message", "code"}}`) instead of axum's plain text; a body over the limit
//! (axum's default, 2 MB) is 413 with code `2`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

use super::error::OntapError;

/// The raw body, like axum's [`Bytes`].
#[derive(Debug)]
pub(crate) struct OntapBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for OntapBody {
    type Rejection = OntapError;

    async fn from_request(request: Request, state: &S) -> Result<Self, OntapError> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(rejection) => Err(OntapError {
                status: rejection.status(),
                code: "2",
                message: if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    "The request body is too large.".into()
                } else {
                    format!(
                        "The request body could not be read: {}",
                        rejection.body_text()
                    )
                },
                target: None,
            }),
        }
    }
}
