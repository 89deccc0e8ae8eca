//! Extractors whose rejections answer in the native envelope (`{"error": {"code",
//! "message"}}`) instead of axum's plain text: a query string or path segment that does not
//! parse (`limit=-1`, `%FF`) is 400 `invalid`, a body over the limit (axum's default, 2 MB)
//! 413 `too_large`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::ApiError;

/// A query string, like axum's [`Query`].
#[derive(Debug)]
pub(crate) struct NativeQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for NativeQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid(format!(
                "query string: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// The raw body, like axum's [`Bytes`].
#[derive(Debug)]
pub(crate) struct NativeBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for NativeBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "too_large",
                    message: "the request body is too large".into(),
                })
            }
            Err(rejection) => Err(ApiError::invalid(format!(
                "body: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// Path parameters, like axum's [`Path`].
#[derive(Debug)]
pub(crate) struct NativePath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for NativePath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid(format!(
                "path: {}",
                rejection.body_text()
            ))),
        }
    }
}
