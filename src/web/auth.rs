//! Who is calling: a bearer token, or the session cookie that `POST /api/login` sets.
//!
//! Sessions are random 256-bit ids; only their SHA-256 is stored (so a copy of the database
//! does not hold live cookies), and they survive restarts. Logins are rate-limited per client
//! address. State-changing requests authenticated by cookie must come from our own origin.

use super::error::ApiError;
use super::AppState;
use crate::clock::UnixTime;
use crate::telemetry;
use crate::token::{Token, TokenId};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use parking_lot::Mutex;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

pub const COOKIE: &str = "ovh_cti_session";
const REMEMBER_S: f64 = 30.0 * 86400.0;
const SESSION_S: f64 = 12.0 * 3600.0;

/// The authenticated caller: the token whose numbers it may see.
pub struct Caller {
    pub token: TokenId,
}

/// Login attempts allowed per client address: a burst of `burst`, refilled at `per_minute`.
pub struct LoginLimiter {
    burst: f64,
    per_minute: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, UnixTime)>>,
}

impl LoginLimiter {
    pub fn new(burst: u32, per_minute: u32) -> LoginLimiter {
        LoginLimiter {
            burst: f64::from(burst),
            per_minute: f64::from(per_minute),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Gives back an attempt: a login with a token the service already follows is not a
    /// guess, so it must not lock the user out.
    pub fn refund(&self, ip: IpAddr) {
        if let Some((tokens, _)) = self.buckets.lock().get_mut(&ip) {
            *tokens = (*tokens + 1.0).min(self.burst);
        }
    }

    /// Takes one attempt from `ip`'s bucket; false when it is empty.
    pub fn allow(&self, ip: IpAddr, now: UnixTime) -> bool {
        let mut buckets = self.buckets.lock();
        if buckets.len() > 10_000 {
            buckets.retain(|_, (_, at)| now - *at < 3600.0);
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + (now - *at).max(0.0) * self.per_minute / 60.0).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Session ids already checked, so that most requests do not touch the database.
#[derive(Default)]
pub struct SessionCache(Mutex<HashMap<String, (TokenId, UnixTime)>>);

impl SessionCache {
    /// Caches a checked session; it is re-checked against the database after a minute (so a
    /// logout elsewhere or an expiry takes effect), and old entries are dropped.
    fn remember(&self, key: String, token: TokenId, now: UnixTime) {
        let mut map = self.0.lock();
        if map.len() >= 10_000 {
            map.retain(|_, (_, until)| *until > now);
        }
        map.insert(key, (token, now + 60.0));
    }
}

fn hash(session: &str) -> String {
    crate::token::hex(&Sha256::digest(session.as_bytes()))
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

/// A cookie-authenticated request that changes something must come from a page of ours: a
/// browser always says where a cross-site request comes from.
fn same_origin(parts: &Parts) -> bool {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let headers = &parts.headers;
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
            return if service.follows(&id) {
                Ok(Caller { token: id })
            } else {
                Err(ApiError::unauthorized())
            };
        }
        let session = cookie_value(&parts.headers, COOKIE).ok_or_else(ApiError::unauthorized)?;
        let key = hash(session);
        let now = service.clock.now();
        let cached = state
            .sessions
            .0
            .lock()
            .get(&key)
            .filter(|(_, exp)| *exp > now)
            .map(|(t, _)| t.clone());
        let token = match cached {
            Some(t) => t,
            None => {
                let k = key.clone();
                let found = service
                    .readers
                    .read(move |c| crate::store::queries::login_session(c, &k, now))
                    .await?;
                let t = found.ok_or_else(ApiError::unauthorized)?;
                state.sessions.remember(key, t.clone(), now);
                t
            }
        };
        if !service.follows(&token) {
            return Err(ApiError::unauthorized());
        }
        if !same_origin(parts) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "cross-site request refused",
            ));
        }
        Ok(Caller { token })
    }
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let service = &state.service;
    let now = service.clock.now();
    if !state.limiter.allow(peer.ip(), now) {
        telemetry::LoginAttempt {
            token: None,
            outcome: "rate-limited",
        }
        .emit();
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many login attempts; wait a minute and try again",
        ));
    }
    let body: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::field("token", "expected a JSON body {\"token\": \"…\"}"))?;
    let raw = body
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::field("token", "missing token"))?;
    let token = Token::parse(raw).map_err(|e| {
        telemetry::LoginAttempt {
            token: None,
            outcome: "malformed",
        }
        .emit();
        ApiError::field("token", e.to_string())
    })?;
    let remember = body
        .get("remember")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let id = token.id();
    if !service.follows(&id) {
        if !service.allow_new_tokens {
            telemetry::LoginAttempt {
                token: None,
                outcome: "unknown token",
            }
            .emit();
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this token is not followed by this service",
            ));
        }
        if service.followed_count() >= state.max_tokens {
            telemetry::LoginAttempt {
                token: None,
                outcome: "too many tokens",
            }
            .emit();
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this service already follows as many tokens as it is allowed to",
            ));
        }
        service.follow(token.clone(), "login").await?;
    } else {
        state.limiter.refund(peer.ip());
    }
    let mut raw_id = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw_id);
    let session = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw_id);
    let key = hash(&session);
    let expires = now + if remember { REMEMBER_S } else { SESSION_S };
    {
        let (key, id) = (key.clone(), id.clone());
        service
            .ingest
            .write(move |w| w.save_login_session(&key, &id, now, expires))
            .await?;
    }
    state.sessions.remember(key, id.clone(), now);
    telemetry::LoginAttempt {
        token: Some(&id),
        outcome: "ok",
    }
    .emit();
    let mut cookie = format!("{COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict");
    if remember {
        cookie.push_str(&format!("; Max-Age={}", REMEMBER_S as u64));
    }
    if state.secure_cookies {
        cookie.push_str("; Secure");
    }
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({"ok": true, "token_hint": token.hint()})),
    )
        .into_response())
}

pub async fn logout(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(session) = cookie_value(&headers, COOKIE) {
        let key = hash(session);
        state.sessions.0.lock().remove(&key);
        state
            .service
            .ingest
            .write(move |w| w.delete_login_session(&key))
            .await?;
    }
    let clear = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, clear)], Json(json!({"ok": true}))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_allows_a_burst_then_refills() {
        let l = LoginLimiter::new(3, 6);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!((0..3).all(|_| l.allow(ip, 0.0)));
        assert!(!l.allow(ip, 0.0));
        assert!(l.allow("127.0.0.2".parse().unwrap(), 0.0), "per address");
        assert!(
            l.allow(ip, 10.0),
            "one more after ten seconds at six a minute"
        );
        assert!(!l.allow(ip, 10.0));
    }

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
