//! Extractors whose refusals are the API's own JSON errors. axum's `Path<i64>` answers a bad
//! id (`/api/webhooks/abc`) with a plain-text 400 that the dashboard cannot show and scripts
//! cannot parse; every API refusal is `{"error", "field"}` instead.

use super::error::ApiError;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

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
