//! `GET/PUT/DELETE /api/me/screen-pop` (issue 10): a user's own screen pop. An agent (or a
//! supervisor, or an admin) may choose how their own calls pop — a dialog or a new window,
//! their CRM's address, which events, directions and numbers — in place of the
//! organisation's, or turn pops off for themselves; `DELETE` goes back to the organisation's.
//! Only their own dashboards get these pops (`hooks::own_pops`), and an agent's only for
//! their own numbers, as every stream message. A `silent` pop stays the organisation's:
//! it is a request the service sends, set up by its admins.

use super::api::read;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::Body;
use super::people::{audited, json_object};
use super::AppState;
use crate::settings::{PopMode, ScreenPop};
use crate::store::own_pops;
use crate::store::users::Role;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// The signed-in user allowed a screen pop of their own: agents and above, signed in with an
/// account (a token's or a wall screen's pop is the organisation's).
fn user(caller: &Caller) -> Result<i64, ApiError> {
    caller.require(Role::Agent)?;
    caller.user.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "a token has no screen pop of its own: it sets the organisation's (PUT /api/settings)",
        )
    })
}

/// The answer: whether the user chose their own, and what it is.
fn answer(pop: Option<ScreenPop>) -> Json<Value> {
    Json(json!({"own": pop.is_some(), "screen_pop": pop}))
}

async fn current(state: &AppState, id: i64) -> Result<Option<ScreenPop>, ApiError> {
    let stored = read(state, move |c| own_pops::get(c, id)).await?;
    // One that no longer reads (written by a later version) is as good as none.
    Ok(stored.and_then(|json| serde_json::from_str(&json).ok()))
}

pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let id = user(&caller)?;
    Ok(answer(current(&state, id).await?))
}

/// `PUT` any part of a screen pop: merged onto the user's own (or the defaults, the first
/// time), checked as a whole, stored, in force for the next event.
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let id = user(&caller)?;
    let patch = json_object(&body, "screen_pop")?;
    let base = current(&state, id).await?.unwrap_or_default();
    let pop = base.merged(&patch, "screen_pop")?;
    if pop.mode == PopMode::Silent {
        return Err(ApiError::field(
            "screen_pop.mode",
            "a silent pop is the organisation's, set up by its admins: choose modal or popup",
        ));
    }
    let stored = serde_json::to_string(&pop).map_err(ApiError::internal)?;
    let detail = json!({
        "enabled": pop.enabled, "mode": pop.mode, "url": crate::hooks::mask_url(&pop.url),
    })
    .to_string();
    save(&state, &caller, id, Some(stored), detail).await?;
    Ok(answer(Some(pop)))
}

/// `DELETE`: back to the organisation's screen pop.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let id = user(&caller)?;
    save(&state, &caller, id, None, "the organisation's".into()).await?;
    Ok(answer(None))
}

async fn save(
    state: &AppState,
    caller: &Caller,
    id: i64,
    stored: Option<String>,
    detail: String,
) -> Result<(), ApiError> {
    audited(state, caller, "user.screen_pop", move |c, _| {
        own_pops::set(c, id, stored.as_deref())?;
        Ok(((), Some(detail)))
    })
    .await?;
    Ok(state.service.ingest.reload_own_pops().await?)
}
