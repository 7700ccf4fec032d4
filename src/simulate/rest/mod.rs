//! A fake of OVH's REST API v1 (`/1.0`, also `/v1`), the telephony part a call-centre
//! dashboard needs: the account's lines, numbers and hunting services; agents, their statuses
//! and queues; live statistics and live calls with the supervisor's actions; click-to-call and
//! event tokens — shaped as OVH's schema says (`shared/ovh-rest.md`), signed requests checked
//! with OVH's signature.
//!
//! It is not a set of canned answers: agents' statuses and memberships steer which agents the
//! traffic generator offers callers to, click-to-call and live-call actions place or change
//! calls on the feed, and live figures are counted from the very events the feed emits.
//!
//! - `auth`: keys, consumer keys and their validation page, signature, rate limit, rules;
//! - `telephony`: the billing account, its lines and numbers, event tokens, click-to-call;
//! - `hunting`: the `…/hunting` subtree (agents, queues, statuses, live figures);
//! - `calls`: live calls and the actions on them;
//! - `state` and `live`: what is kept between requests, and what the traffic did.

mod auth;
mod calls;
mod hunting;
mod live;
mod state;
mod telephony;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{TimeZone, Utc};
use chrono_tz::Europe::Paris;
use serde_json::{json, Map, Value};

pub use auth::SimApiKeys;
pub(crate) use state::{billing_account_name, RestState};

use super::server::Hub;
use super::traffic::TrafficGen;

/// The longest text the fake stores (descriptions, paths of rules).
pub(crate) const MAX_TEXT: usize = 256;
/// The longest phone number it accepts.
pub(crate) const MAX_NUMBER: usize = 32;
/// The largest request body it reads.
const MAX_BODY: usize = 64 * 1024;

/// A failure the REST fake can be told to answer with (see
/// [`Faults::inject_rest`](crate::simulate::Faults::inject_rest)), with OVH-like bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestFault {
    /// `403` `INVALID_CREDENTIAL` "This credential is not valid": as when a key expires.
    Forbidden,
    /// `404` "The requested object (…) does not exist".
    NotFound,
    /// `429` with a `Retry-After` header when given (seconds).
    TooManyRequests { retry_after: Option<u64> },
    /// `500` `Server::InternalServerError`.
    Internal,
    /// `502` `Server::BadGateway`.
    BadGateway,
    /// `503` "Service is temporarily unavailable".
    Unavailable,
}

impl RestFault {
    /// The fault answering with `status` (403, 404, 429, 500, 502 or 503).
    pub fn from_status(status: u16) -> Option<RestFault> {
        Some(match status {
            403 => RestFault::Forbidden,
            404 => RestFault::NotFound,
            429 => RestFault::TooManyRequests { retry_after: None },
            500 => RestFault::Internal,
            502 => RestFault::BadGateway,
            503 => RestFault::Unavailable,
            _ => return None,
        })
    }

    fn error(self) -> ApiError {
        match self {
            RestFault::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "Client::Forbidden",
                "INVALID_CREDENTIAL",
                "This credential is not valid",
            ),
            RestFault::NotFound => ApiError::not_found("object"),
            RestFault::TooManyRequests { retry_after } => {
                let e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Client::TooManyRequests",
                    "TOO_MANY_REQUESTS",
                    "Too many requests, please slow down",
                );
                match retry_after {
                    Some(s) => e.retry_after(s),
                    None => e,
                }
            }
            RestFault::Internal => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Server::InternalServerError",
                "INTERNAL_SERVER_ERROR",
                "Internal server error",
            ),
            RestFault::BadGateway => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "Server::BadGateway",
                "BAD_GATEWAY",
                "Bad gateway",
            ),
            RestFault::Unavailable => ApiError::unavailable(),
        }
    }
}

/// An OVH-style refusal: `{"class", "errorCode", "httpCode", "message"}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    status: StatusCode,
    class: &'static str,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, class: &'static str, code: &'static str, message: &str) -> Self {
        ApiError {
            status,
            class,
            code,
            message: message.to_string(),
            retry_after: None,
        }
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// `404` "The requested object (`object`) does not exist".
    pub(crate) fn not_found(object: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Client::NotFound",
            "NOT_FOUND",
            &format!("The requested object ({object}) does not exist"),
        )
    }

    /// `404` for a billing account or service the account does not have.
    fn no_service() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Client::NotFound",
            "NOT_FOUND",
            "This service does not exist",
        )
    }

    /// `404` for a path (or method) the API does not have.
    fn no_route() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Client::NotFound",
            "NOT_FOUND",
            "Got an invalid (or empty) URL",
        )
    }

    pub(crate) fn bad_request(message: &str) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Client::BadRequest",
            "INVALID_PARAMETER",
            message,
        )
    }

    fn conflict(message: &str) -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            "Client::Conflict",
            "CONFLICT",
            message,
        )
    }

    fn unavailable() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Server::ServiceUnavailable",
            "SERVICE_UNAVAILABLE",
            "Service is temporarily unavailable",
        )
    }

    pub(crate) fn into_response(self) -> Response {
        let body = json!({
            "class": self.class,
            "errorCode": self.code,
            "httpCode": format!(
                "{} {}",
                self.status.as_u16(),
                self.status.canonical_reason().unwrap_or_default()
            ),
            "message": self.message,
        });
        let mut response = json_response(self.status, &body);
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// A signed request on its way to a route.
pub(super) struct Ctx<'a> {
    hub: &'a Hub,
    method: &'a Method,
    body: &'a [u8],
    consumer_key: String,
}

impl Ctx<'_> {
    fn is(&self, method: &str) -> bool {
        self.method.as_str() == method
    }
}

/// Runs `change` with the traffic generator and the REST state locked (in that order, the
/// hub's), at the traffic's time now; then wakes the generator for the events it planned.
pub(crate) fn steer<T>(
    hub: &Hub,
    change: impl FnOnce(&mut TrafficGen, &mut RestState, i64) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut traffic = hub.traffic.lock();
    let gen = traffic.as_mut().ok_or_else(ApiError::unavailable)?;
    let now = hub.pace.lock().traffic_ns();
    let mut state = hub.state.lock();
    let result = change(gen, &mut state.rest, now);
    drop(state);
    drop(traffic);
    hub.changed.notify_waiters();
    result
}

/// An OVH datetime: ISO 8601 with the offset, Paris time (`2026-12-02T10:20:00+01:00`).
pub(crate) fn iso(ns: i64) -> String {
    Utc.timestamp_nanos(ns)
        .with_timezone(&Paris)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The first bytes of a client's text, for an error message.
pub(crate) fn capped(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A request body that must be a JSON object.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request("The body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(&format!(
            "The body is not valid JSON: {e}"
        ))),
    }
}

/// A body that may be empty or `null` (actions without parameters), else an object.
fn optional_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) || body == b"null" {
        return Ok(Map::new());
    }
    json_object(body)
}

/// Refuses any key of `body` not in `allowed`.
fn only_keys(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::bad_request(&format!(
            "Invalid parameter: {}",
            capped(k)
        ))),
        None => Ok(()),
    }
}

/// A phone number as OVH takes them: digits, `+` first allowed, at most [`MAX_NUMBER`]
/// characters. `+33…` is put in OVH's `0033…` form.
fn phone(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    let s = match body.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim(),
        Some(_) => return Err(ApiError::bad_request(&format!("[{key}] is not a string"))),
    };
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.len() < 2 || s.len() > MAX_NUMBER || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(&format!(
            "[{key}] is not a valid phone number"
        )));
    }
    Ok(Some(match s.strip_prefix('+') {
        Some(d) => format!("00{d}"),
        None => s.to_string(),
    }))
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// `/1.0/…` and `/v1/…`: every REST request. Answers carry `X-Ovh-Queryid`.
pub(crate) async fn handle(
    State(hub): State<Arc<Hub>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut response = answer(&hub, &method, &uri, &headers, &body);
    let id = hub.state.lock().rest.query_id();
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-ovh-queryid", v);
    }
    response
}

fn answer(hub: &Hub, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
    let full = uri.path();
    let path = full
        .strip_prefix("/1.0")
        .or_else(|| full.strip_prefix("/v1"))
        .unwrap_or(full);
    if path == "/auth/" || path == "/auth" {
        if let Some(token) = query_param(uri, "credentialToken") {
            return auth::validation_page(hub, method, &token, body);
        }
    }
    if let Some(fault) = hub.state.lock().rest.take_fault() {
        return fault.error().into_response();
    }
    if body.len() > MAX_BODY {
        return ApiError::bad_request("The body is too large").into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".into());
    let result = match (method.as_str(), path) {
        ("GET", "/auth/time") => Ok(json!(hub.pace.lock().api_ns().div_euclid(1_000_000_000))),
        ("POST", "/auth/credential") => auth::request_credential(hub, headers, body, &host),
        _ => signed(hub, method, uri, path, &host, headers, body),
    };
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

fn signed(
    hub: &Hub,
    method: &Method,
    uri: &Uri,
    path: &str,
    host: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, ApiError> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(ApiError::bad_request("The body is not UTF-8"));
    };
    let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = format!("http://{host}{target}");
    let consumer_key = auth::authenticate(hub, method, &url, path, headers, text)?;
    let ctx = Ctx {
        hub,
        method,
        body,
        consumer_key,
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["auth", "currentCredential"] if ctx.is("GET") => auth::current_credential(&ctx),
        ["telephony", rest @ ..] => telephony::route(&ctx, rest),
        _ => Err(ApiError::no_route()),
    }
}
