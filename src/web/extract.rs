//! Extractors whose refusals are the API's own JSON errors. axum's `Path<i64>` answers a bad
//! id (`/api/webhooks/abc`) with a plain-text 400 that the dashboard cannot show and scripts
//! cannot parse; every API refusal is `{"error", "field"}` instead. The same for a path
//! segment that is not text and a body over the size limit.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;

/// A numeric id in the path (`/api/webhooks/{id}`); anything else is a 400 naming `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let bad = || ApiError::field("id", "expected a whole number, such as /api/webhooks/12");
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| bad())?;
        raw.parse().map(Id).map_err(|_| bad())
    }
}

/// A phone number in the path (`/api/callbacks/{number}/done`); a segment that is not text
/// (bad percent-encoding) is a 400 naming `number`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Number {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::field("number", "expected a phone number"))?;
        Ok(Number(raw))
    }
}

/// A request body, read whole up to axum's limit (2 MiB): over it, a JSON `413` rather than
/// axum's plain-text one.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(e.status(), "the request body is over 2 MiB")
                } else {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "the request body could not be read",
                    )
                }
            })
    }
}
