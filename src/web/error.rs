//! The API's one error type: every refusal is JSON `{"error": …}`, with `"field"` naming the
//! offending input when there is one.

use crate::limits::{clip, API_MESSAGE_BYTES};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field.into()),
        }
    }
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "sign in first: send 'Authorization: Bearer TOKEN' or log in with POST /api/login",
        )
    }
    /// A token the service is still starting to follow (see `startup`): not a reason to sign
    /// the caller out, a moment to wait.
    pub fn starting() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is starting and does not follow this token yet: try again in a moment",
        )
    }
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; the service keeps running, see its log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Some messages quote what they refuse, and a field may be a key the caller made up:
        // an answer never grows with the request.
        let message = clip(&self.message, API_MESSAGE_BYTES);
        let body = match self.field {
            Some(f) => json!({"error": message, "field": clip(&f, API_MESSAGE_BYTES)}),
            None => json!({"error": message}),
        };
        let mut res = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        res
    }
}

impl From<crate::supervise::actions::ActionError> for ApiError {
    fn from(e: crate::supervise::actions::ActionError) -> ApiError {
        use crate::supervise::actions::ActionError;
        match e {
            ActionError::NotReady => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            ActionError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, m),
            ActionError::Invalid { field, message } => ApiError::field(field, message),
            // Slow down: the service's own budget of requests to OVH is spent, or OVH asked.
            ActionError::Ovh(e)
                if matches!(e, crate::ovh_api::OvhError::Busy(_))
                    || e.kind() == Some(crate::ovh_api::error::Kind::RateLimited) =>
            {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string())
            }
            // OVH refused or could not be reached: the gateway's answer, in words.
            ActionError::Ovh(e) => ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()),
        }
    }
}

impl From<crate::settings::SettingsError> for ApiError {
    fn from(e: crate::settings::SettingsError) -> Self {
        ApiError::field(e.field, e.message)
    }
}

impl From<crate::ingest::IngestError> for ApiError {
    fn from(e: crate::ingest::IngestError) -> Self {
        match e {
            crate::ingest::IngestError::Closed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is shutting down",
            ),
            crate::ingest::IngestError::Store(e) => e.into(),
            crate::ingest::IngestError::Commit(e) => store_unavailable(e),
            e @ crate::ingest::IngestError::LeaseLost => {
                ApiError::new(StatusCode::CONFLICT, e.to_string())
            }
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            store_unavailable(e)
        } else {
            ApiError::internal(e)
        }
    }
}

/// A write refused while the disk is full or the file read-only: the caller may try again,
/// and nothing already stored is at risk.
fn store_unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "a request could not be written");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database cannot be written at the moment (disk full, read-only or failing); \
         nothing already stored is lost: try again shortly",
    )
}
