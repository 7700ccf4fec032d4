//! Wall-screen links (issue 10), the web side: admins make, list and revoke them
//! (`/api/wall-links`), and a TV opens one (`GET /wall/{key}`): the key is checked, a
//! read-only session cookie is set — a viewer's, marked as a wall, for the wall view only —
//! and the TV is sent to `/wall`. The link never carries the OVH token, only its own random
//! key, which the store keeps as a SHA-256. Revoking it ends its sessions and their live
//! streams at once.

use super::api::read;
use super::auth::{self, Caller, COOKIE};
use super::client_ip::ClientAddr;
use super::error::ApiError;
use super::extract::{Body, Id};
use super::AppState;
use crate::store::users::Role;
use crate::store::walls::{self, WallLink};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use ipnet::IpNet;
use rand::RngCore;
use serde_json::{json, Value};
use std::net::IpAddr;

/// How long a wall screen stays signed in: a year (until the link is revoked, in practice).
const WALL_SESSION_S: f64 = 365.0 * 86400.0;
const LABEL_CHARS: usize = 100;
/// The most wall links an organisation may have (each is stored and listed).
pub const LINKS_PER_ORG: usize = 50;

/// Whether `ip` is in the range `allow` (a CIDR, or one address).
pub fn allows(allow: &str, ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    match allow.parse::<IpNet>() {
        Ok(net) => net.contains(&ip),
        Err(_) => allow.parse::<IpAddr>().is_ok_and(|a| a == ip),
    }
}

/// `POST /api/wall-links` `{label, allow?}` (admins): 201 with the link's address, shown once.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let v = super::people::json_object(&body, "label")?;
    let label = v
        .get("label")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|l| !l.is_empty() && l.chars().count() <= LABEL_CHARS)
        .ok_or_else(|| {
            ApiError::field("label", format!("a name of 1 to {LABEL_CHARS} characters"))
        })?
        .to_string();
    let allow = match v.get("allow") {
        None | Some(Value::Null) => None,
        Some(a) => {
            let a = a.as_str().map(str::trim).unwrap_or_default();
            let ok = a.parse::<IpNet>().is_ok() || a.parse::<IpAddr>().is_ok();
            if !ok {
                return Err(ApiError::field(
                    "allow",
                    "expected an address range such as 192.168.1.0/24, or one address",
                ));
            }
            Some(a.to_string())
        }
    };
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let key_hash = auth::hash(&key);
    let now = state.service.clock.now();
    let token = caller.token.clone();
    let link = super::people::audited(&state, &caller, "wall.create", move |c, org| {
        if walls::list(c, org)?.len() >= LINKS_PER_ORG {
            return Ok((None, None));
        }
        let link = walls::create(c, org, &token, &key_hash, &label, allow.as_deref(), now)?;
        let detail = format!("{} {}", link.id, link.label);
        Ok((Some(link), Some(detail)))
    })
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            format!("this organisation already has {LINKS_PER_ORG} wall links, the most it may have: revoke one first"),
        )
    })?;
    let mut v = serde_json::to_value(link).map_err(ApiError::internal)?;
    v["path"] = json!(format!("/wall/{key}"));
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `GET /api/wall-links` (admins): the links, never their keys.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let org = super::people::org(&state, &caller).await?;
    let links: Vec<WallLink> = read(&state, move |c| walls::list(c, org)).await?;
    Ok(Json(json!({ "links": links })))
}

/// `DELETE /api/wall-links/{id}` (admins): 204; the screens it signed in are signed out, their
/// live streams ended at once.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let ended = super::people::audited(&state, &caller, "wall.revoke", move |c, org| {
        let ended = walls::revoke(c, org, id)?;
        let detail = ended.as_ref().map(|_| id.to_string());
        Ok((ended, detail))
    })
    .await?
    .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such wall link"))?;
    super::people::close(&state, ended);
    Ok(StatusCode::NO_CONTENT)
}

/// A short page for a TV that cannot be signed in (it has no one to read an error to).
fn refusal(status: StatusCode, message: &str) -> Response {
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>ovh-cti</title></head>\
         <body style=\"font:2rem sans-serif;padding:2rem\"><p>{message}</p></body></html>"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// `GET /wall/{key}`: a TV opens its link.
pub async fn open(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    Path(key): Path<String>,
) -> Response {
    match sign_in(&state, ip, &key).await {
        Ok(response) => response,
        Err(e) => e,
    }
}

async fn sign_in(state: &AppState, ip: IpAddr, key: &str) -> Result<Response, Response> {
    let unknown = || {
        refusal(
            StatusCode::NOT_FOUND,
            "This wall link was revoked, or never existed. Ask the administrator for a new one.",
        )
    };
    // Keys are guessed like passwords: wrong ones count against the address as failed logins
    // do, and only a right one is written anything.
    let now = state.service.clock.now();
    let limiter = &state.login.limiter;
    if limiter.over(ip, now) {
        return Err(refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong wall links from this address: wait a minute.",
        ));
    }
    if key.len() > 64 {
        limiter.failed(ip, now);
        return Err(unknown());
    }
    let key_hash = auth::hash(key);
    let found = state
        .service
        .readers
        .read(move |c| walls::find(c, &key_hash))
        .await
        .map_err(|_| refusal(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment."))?;
    let Some(found) = found else {
        limiter.failed(ip, now);
        return Err(unknown());
    };
    if found.allow.as_deref().is_some_and(|a| !allows(a, ip)) {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "This wall link may not be used from this address.",
        ));
    }
    if !state.service.follows(&found.token) {
        return Err(refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "The OVH token of this wall is no longer followed.",
        ));
    }
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let session = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let session_hash = auth::hash(&session);
    let expires = now + WALL_SESSION_S;
    let (token, link) = (found.token.clone(), found.id);
    state
        .service
        .ingest
        .write(move |w| {
            walls::used(w.connection(), link, now)?;
            w.save_wall_session(&session_hash, &token, link, now, expires)
        })
        .await
        .map_err(|_| refusal(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment."))?;
    let cookie = auth::cookie(
        state,
        &format!("{COOKIE}={session}"),
        Some(WALL_SESSION_S as u64),
    );
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/wall".to_string()),
        ],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_or_one_address() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(allows("192.168.1.0/24", ip("192.168.1.40")));
        assert!(!allows("192.168.1.0/24", ip("192.168.2.40")));
        assert!(allows("10.0.0.5", ip("10.0.0.5")));
        assert!(allows("10.0.0.5", ip("::ffff:10.0.0.5")));
        assert!(!allows("nonsense", ip("10.0.0.5")));
    }
}
