//! Who is calling: a bearer token, or the session cookie that `POST /api/login` (`login`)
//! sets.
//!
//! Sessions are random 256-bit ids; only their SHA-256 is stored (so a copy of the database
//! does not hold live cookies), and they survive restarts. State-changing requests
//! authenticated by cookie — and the login itself — must come from our own origin. Logging
//! out ends the session's live streams at once.

use super::client_ip::ClientAddr;
use super::error::ApiError;
use super::scope::Scope;
use super::AppState;
use crate::clock::UnixTime;
use crate::store::queries::LoginSession;
use crate::store::users::Role;
use crate::token::{Token, TokenId};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parking_lot::Mutex;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub const COOKIE: &str = "ovh_cti_session";

/// The authenticated caller: the token whose numbers it may see, the login session it came
/// with (none with a bearer token), and who it is: a user with a role, or the token itself
/// (a bearer token, or a login with the token), which is its organisation's admin.
pub struct Caller {
    pub token: TokenId,
    pub session: Option<Session>,
    /// The signed-in user's id, when a user signed in with a login and password.
    pub user: Option<i64>,
    pub role: Role,
    /// What an agent may see; `None`: every number of the token.
    pub scope: Option<Scope>,
    /// A wall screen signed in by a link: read-only, the wall view only.
    pub wall: bool,
}

impl Caller {
    /// The numbers an agent may see, for a store filter; `None`: every number.
    pub fn numbers(&self) -> Option<Vec<String>> {
        self.scope.as_ref().map(Scope::numbers)
    }

    /// Whether the caller may see `number`.
    pub fn sees(&self, number: &str) -> bool {
        self.scope.as_ref().map_or(true, |s| s.sees(number))
    }

    /// Refuses (`403`) a caller whose role is below `least`.
    pub fn require(&self, least: Role) -> Result<(), ApiError> {
        if self.role >= least {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "your role ({}) may not do this: it needs {} or above",
                    self.role.as_str(),
                    least.as_str()
                ),
            ))
        }
    }
}

/// A login session, as the store names it (the SHA-256 of its id) and when it expires.
#[derive(Clone)]
pub struct Session {
    pub key: String,
    pub expires: UnixTime,
}

struct Cached {
    session: LoginSession,
    /// Checked again against the store after this.
    until: UnixTime,
    /// The service's `sessions_epoch` when checked: sessions deleted in bulk since (a token
    /// removed) are checked again at once.
    epoch: u64,
}

/// Session ids already checked, so that most requests do not touch the database.
#[derive(Default)]
pub struct SessionCache(Mutex<HashMap<String, Cached>>);

impl SessionCache {
    /// Caches a checked session; it is re-checked against the database after a minute (so a
    /// logout elsewhere takes effect), at its expiry, or when sessions were deleted in bulk,
    /// and old entries are dropped.
    pub(super) fn remember(&self, key: String, session: LoginSession, now: UnixTime, epoch: u64) {
        let mut map = self.0.lock();
        if map.len() >= 10_000 {
            map.retain(|_, c| c.until > now);
        }
        let until = (now + 60.0).min(session.expires);
        map.insert(
            key,
            Cached {
                session,
                until,
                epoch,
            },
        );
    }

    /// A session checked recently enough.
    fn get(&self, key: &str, now: UnixTime, epoch: u64) -> Option<LoginSession> {
        self.0
            .lock()
            .get(key)
            .filter(|c| c.until > now && c.epoch == epoch)
            .map(|c| c.session.clone())
    }

    pub(super) fn forget(&self, key: &str) {
        self.0.lock().remove(key);
    }

    /// Whether the session is still cached: logging out removes it before anything else.
    pub(super) fn contains(&self, key: &str) -> bool {
        self.0.lock().contains_key(key)
    }
}

pub(super) fn hash(session: &str) -> String {
    crate::token::hex(&Sha256::digest(session.as_bytes()))
}

/// A `Set-Cookie` value: `value` with our attributes, `Secure` with `--secure-cookies`.
pub(super) fn cookie(state: &AppState, value: &str, max_age: Option<u64>) -> String {
    let mut cookie = format!("{value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if state.secure_cookies {
        cookie.push_str("; Secure");
    }
    cookie
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether `token` may act as its organisation's admin (its admins may turn that off).
pub(super) async fn token_login_allowed(state: &AppState, id: &TokenId) -> Result<bool, ApiError> {
    let id = id.clone();
    Ok(state
        .service
        .readers
        .read(move |c| crate::store::users::token_login_allowed(c, &id))
        .await?)
}

pub(super) fn token_login_off() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "signing in with the token is turned off for this organisation: sign in with an account",
    )
}

/// A cookie-authenticated request that changes something, and a login, must come from a page
/// of ours: a browser always says where a cross-site request comes from.
pub(super) fn same_origin(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site == "cross-site" || site == "same-site" {
            return false;
        }
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, h)| h) == Some(host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Why a token the service does not follow is refused: not signed in (`401`) — unless the
/// service is still starting to follow the tokens it knew (`503`, try again in a moment), so
/// that dashboards reconnecting after a restart are not signed out.
fn not_followed(service: &crate::service::Service) -> ApiError {
    if service.pending() > 0 {
        ApiError::starting()
    } else {
        ApiError::unauthorized()
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let service = &state.service;
        if let Some(auth) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let token = auth
                .strip_prefix("Bearer ")
                .or_else(|| auth.strip_prefix("bearer "))
                .and_then(|t| Token::parse(t).ok())
                .ok_or_else(ApiError::unauthorized)?;
            let id = token.id();
            if service.follows(&id) && !token_login_allowed(state, &id).await? {
                return Err(token_login_off());
            }
            return if service.follows(&id) {
                Ok(Caller {
                    token: id,
                    session: None,
                    user: None,
                    role: Role::Admin,
                    scope: None,
                    wall: false,
                })
            } else {
                Err(not_followed(service))
            };
        }
        let session = cookie_value(&parts.headers, COOKIE).ok_or_else(ApiError::unauthorized)?;
        let key = hash(session);
        let now = service.clock.now();
        let epoch = service.sessions_epoch();
        let found = match state.sessions.get(&key, now, epoch) {
            Some(found) => found,
            None => {
                let k = key.clone();
                let found = service
                    .readers
                    .read(move |c| crate::store::queries::login_session(c, &k, now))
                    .await?
                    .ok_or_else(ApiError::unauthorized)?;
                state
                    .sessions
                    .remember(key.clone(), found.clone(), now, epoch);
                found
            }
        };
        let LoginSession {
            token,
            expires,
            user,
            scope,
            link,
        } = found;
        // A wall link restricted to an address range works from there only.
        if let Some(allow) = link.as_ref().and_then(|l| l.allow.as_deref()) {
            let ClientAddr(ip) = ClientAddr::from_request_parts(parts, state)
                .await
                .unwrap_or_else(|never| match never {});
            if !super::walls::allows(allow, ip) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "this wall link may not be used from this address",
                ));
            }
        }
        if !service.follows(&token) {
            state.sessions.forget(&key);
            return Err(not_followed(service));
        }
        if !same_origin(&parts.method, &parts.headers) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "cross-site request refused",
            ));
        }
        Ok(Caller {
            token,
            session: Some(Session { key, expires }),
            user: user.map(|(id, _)| id),
            // A wall screen reads; the token itself is its organisation's admin.
            role: match (user, &link) {
                (Some((_, role)), _) => role,
                (None, Some(_)) => Role::Viewer,
                (None, None) => Role::Admin,
            },
            scope: scope.map(Scope::new),
            wall: link.is_some(),
        })
    }
}

pub async fn logout(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(session) = cookie_value(&headers, COOKIE) {
        // Forgotten here first: a live stream opening meanwhile sees it gone (`stream`).
        let key = hash(session);
        state.sessions.forget(&key);
        {
            let key = key.clone();
            state
                .service
                .ingest
                .write(move |w| w.delete_login_session(&key))
                .await?;
        }
        state.service.close_session(key);
    }
    Ok((
        [(header::SET_COOKIE, clear_cookie(&state))],
        Json(json!({"ok": true})),
    )
        .into_response())
}

/// The `Set-Cookie` value that signs a browser out.
pub(super) fn clear_cookie(state: &AppState) -> String {
    cookie(state, &format!("{COOKIE}="), Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; ovh_cti_session=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h, COOKIE), Some("xyz"));
    }
}
