//! `/api/admin/tokens`: the installation operator's hand on every followed token, at run time —
//! the same as `ovh-cti tokens` on the command line. List them with their feed's health (worst
//! first, filtered by state, a page at a time: an integrator's instance holds thousands), add
//! one, disable (pause) and enable it, remove it (its history kept unless `?purge=true`).
//!
//! Only an administrator of the installation's organisation signed in with a login and
//! password may: a token's own bearer is its organisation's admin, and on an integrator's
//! instance that organisation is a customer's. No answer carries a token: tokens are named by
//! their one-way id and the first characters (`hint`).

use super::auth::Caller;
use super::error::ApiError;
use super::extract::Body;
use super::AppState;
use crate::feed::health::STATES;
use crate::store::users::{self, Role};
use crate::token::{Token, TokenId};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The most tokens one page lists.
pub const MAX_PAGE: usize = 500;

/// Refuses anyone but an administrator of the installation signed in as a person.
async fn operator(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    let refused = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "managing the service's tokens needs an administrator of the installation signed in \
             with a login and password (ovh-cti users add NAME --role admin)",
        )
    };
    let Some(user) = caller.user else {
        return Err(refused());
    };
    let ours = state
        .service
        .readers
        .read(move |c| {
            let org = users::by_id(c, user)?.map(|u| u.org_id);
            Ok(org.is_some() && org == users::installation_org_id(c)?)
        })
        .await
        .map_err(ApiError::internal)?;
    if ours {
        Ok(())
    } else {
        Err(refused())
    }
}

/// `GET /api/admin/tokens?state=&limit=&offset=`: every known token's feed health, worst
/// first (failing, stalled, paused, starting, silent, connected), then by id; `counts` by state.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    operator(&state, &caller).await?;
    let wanted = match q.get("state").map(String::as_str) {
        None | Some("") => None,
        Some(s) => Some(*STATES.iter().find(|k| **k == s).ok_or_else(|| {
            ApiError::field("state", format!("expected one of {}", STATES.join(", ")))
        })?),
    };
    let number = |name: &str, default: usize, max: usize| -> Result<usize, ApiError> {
        match q.get(name).map(String::as_str) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| ApiError::field(name, format!("expected a number up to {max}"))),
        }
    };
    let limit = number("limit", 100, MAX_PAGE)?.max(1);
    let offset = number("offset", 0, usize::MAX)?;
    let service = &state.service;
    let now = service.clock.now();
    let mut all = service.health.all(now);
    let mut counts: HashMap<&str, usize> = STATES.iter().map(|s| (*s, 0)).collect();
    for (_, h) in &all {
        *counts.entry(h.state).or_default() += 1;
    }
    let rank = |s: &str| STATES.iter().position(|k| *k == s).unwrap_or(STATES.len());
    all.retain(|(_, h)| wanted.map_or(true, |w| h.state == w));
    all.sort_by(|(a, ha), (b, hb)| (rank(ha.state), a.as_str()).cmp(&(rank(hb.state), b.as_str())));
    let total = all.len();
    let tokens: Vec<Value> = all
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(id, health)| {
            json!({
                "id": id.as_str(),
                "source": service.source(&id),
                "configured": service.is_configured(&id),
                "health": health,
            })
        })
        .collect();
    let next = (offset + tokens.len() < total).then_some(offset + tokens.len());
    Ok(Json(json!({
        "tokens": tokens, "total": total, "next_offset": next,
        "counts": counts, "pending": service.pending(),
    })))
}

/// `POST /api/admin/tokens` `{"token"}`: follows a token at once (not checked with OVH first:
/// a token OVH refuses shows as failing, and is paused after the configured days). `201` when
/// new, `200` when it was followed already.
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Response, ApiError> {
    operator(&state, &caller).await?;
    let body = super::people::json_object(&body, "token")?;
    let token = body
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::field("token", "expected an OVH event token"))
        .and_then(|t| Token::parse(t).map_err(|e| ApiError::field("token", e.to_string())))?;
    let (id, hint) = (token.id(), token.hint());
    let added = state.service.add_by_operator(token).await?;
    super::people::record(&state, &caller, "token.add", hint.clone()).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = json!({"id": id.as_str(), "hint": hint, "added": added});
    Ok((status, Json(body)).into_response())
}

/// `POST /api/admin/tokens/{id}/disable` (optional `{"reason"}`): no more polling; its users
/// may still sign in and read what is stored.
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    operator(&state, &caller).await?;
    let id = known(&state, &id)?;
    // No body at all is as good as `{}`.
    let body = if body.is_empty() {
        json!({})
    } else {
        super::people::json_object(&body, "reason")?
    };
    let reason = match body.get("reason") {
        None | Some(Value::Null) => "disabled by an operator".to_string(),
        Some(Value::String(r)) if r.len() <= 200 => r.clone(),
        Some(_) => {
            return Err(ApiError::field(
                "reason",
                "expected a text of 200 bytes at most",
            ))
        }
    };
    state.service.pause(&id, &reason).await?;
    super::people::record(&state, &caller, "token.disable", id.to_string()).await?;
    Ok(Json(json!({"id": id.as_str(), "state": "paused"})))
}

/// `POST /api/admin/tokens/{id}/enable`: polls a disabled token again.
pub async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    operator(&state, &caller).await?;
    let id = known(&state, &id)?;
    state.service.resume(&id).await?;
    super::people::record(&state, &caller, "token.enable", id.to_string()).await?;
    Ok(Json(json!({"id": id.as_str(), "state": "active"})))
}

/// `DELETE /api/admin/tokens/{id}?purge=`: forgets a token (its follower stops at once, its
/// secret, sessions and board go); its history stays unless `purge=true`. A configured token
/// is refused (`409`): it is removed from the configuration (then SIGHUP).
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    operator(&state, &caller).await?;
    let purge = super::token::purge_param(&q)?;
    let id = known(&state, &id)?;
    if state.service.is_configured(&id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "this token is in the service's configuration: remove it there (the config file, \
             then SIGHUP; or --token / OVH_CTI_TOKENS and a restart)",
        ));
    }
    let detail = format!("{id}{}", if purge { ", with its history" } else { "" });
    super::people::record(&state, &caller, "token.remove", detail).await?;
    state.service.remove(&id, purge).await?;
    Ok(Json(
        json!({"id": id.as_str(), "removed": true, "purged": purge}),
    ))
}

/// The id in a path, of a token the service knows (`404` otherwise).
fn known(state: &AppState, id: &str) -> Result<TokenId, ApiError> {
    let id = TokenId::from_stored(id.trim().to_ascii_lowercase());
    if id.as_str().len() <= 128 && state.service.follows(&id) {
        Ok(id)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no such token: see GET /api/admin/tokens",
        ))
    }
}
