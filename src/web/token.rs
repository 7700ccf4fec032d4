//! `DELETE /api/token`: the signed-in token's own user makes the service forget it. Its
//! follower stops, its board, login sessions and live streams go and its secret is wiped at
//! once; the stored history stays (under the token's one-way id, back if the token is typed
//! again) unless `?purge=true` asks to delete it too. A token the operator configured
//! (`--token`, the config file) would come back at the next start, so it is refused here with
//! `409`: it is removed where it is configured.

use super::auth::{clear_cookie, Caller};
use super::error::ApiError;
use super::AppState;
use crate::store::users::Role;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::collections::HashMap;

pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let purge = purge_param(&q)?;
    let service = &state.service;
    if service.source(&caller.token).as_deref() == Some("config") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "this token is set in the service's configuration (--token, OVH_CTI_TOKENS or the \
             config file): ask the administrator to remove it there",
        ));
    }
    // Recorded first: once removed, the token no longer names its caller.
    let detail = if purge {
        "with its history"
    } else {
        "history kept"
    };
    super::people::record(&state, &caller, "token.remove", detail.into()).await?;
    if !service.remove(&caller.token, purge).await? {
        return Err(ApiError::unauthorized());
    }
    Ok((
        [(header::SET_COOKIE, clear_cookie(&state))],
        Json(json!({"ok": true, "purged": purge})),
    )
        .into_response())
}

/// `?purge=`: whether a removal also deletes the token's history. (A map, not a struct: a
/// repeated or odd parameter is ours to refuse, in JSON.)
pub(super) fn purge_param(q: &HashMap<String, String>) -> Result<bool, ApiError> {
    match q.get("purge").map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(ApiError::field("purge", "expected true or false")),
    }
}
