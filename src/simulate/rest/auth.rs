//! OVH's application keys, consumer keys and signed requests, as the REST fake plays them.
//!
//! The simulator knows one application and, from the start, one validated consumer key, both
//! derived from the seed ([`SimApiKeys`]). More consumer keys are asked for with
//! `POST /auth/credential`; each is validated on a small page of the simulator (the
//! `validationUrl`) or by a test ([`Faults::validate_credential`](crate::simulate::Faults)).
//!
//! A signed request is checked in OVH's order — application key, consumer key, validation,
//! timestamp, signature — then against the rate limit and the key's access rules. Where OVH's
//! behaviour is unknown the choices are documented in `crate::simulate`.

use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::state::RestState;
use super::{iso, ApiError, Ctx, MAX_TEXT};
use crate::ovh_api::sign::{verify, Signed};
use crate::simulate::account::SimAccount;
use crate::simulate::server::Hub;

/// How far a request's `X-Ovh-Timestamp` may be from the API clock, seconds.
const TIME_TOLERANCE_S: i64 = 60;
/// Signed requests one consumer key may make in a rolling minute (OVH: "not over 60 req/min
/// by consumer key, you should be ok").
pub(crate) const RATE_LIMIT: usize = 60;
const MINUTE_NS: i64 = 60_000_000_000;
/// At most this many consumer keys; the oldest pending one makes room for a new one.
const MAX_CREDENTIALS: usize = 256;
const MAX_RULES: usize = 64;
const MAX_ALLOWED_IPS: usize = 16;
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The application and the pre-validated consumer key of a simulated account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimApiKeys {
    /// `X-Ovh-Application` (16 characters, like OVH's).
    pub application_key: String,
    /// The secret the signature is made with (32 characters).
    pub application_secret: String,
    /// A consumer key validated from the start, with the rules `GET/PUT/POST/DELETE` on
    /// `/telephony` and `/telephony/*`, and `GET /auth/currentCredential`.
    pub consumer_key: String,
}

impl SimAccount {
    /// The REST API keys of this account: same seed, same keys.
    pub fn api_keys(&self) -> SimApiKeys {
        SimApiKeys {
            application_key: derived(self, "application key", 16),
            application_secret: derived(self, "application secret", 32),
            consumer_key: derived(self, "consumer key", 32),
        }
    }
}

/// `len` letters and digits drawn from the account's seed-derived token, by `label`.
fn derived(account: &SimAccount, label: &str, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut round = 0u32;
    while out.len() < len {
        let digest = Sha256::digest(format!("{label}/{round}/{}", account.account_token));
        for b in digest.iter().take(len - out.len()) {
            out.push(ALNUM[*b as usize % ALNUM.len()] as char);
        }
        round += 1;
    }
    out
}

fn random_alnum(rng: &mut impl Rng, len: usize) -> String {
    (0..len)
        .map(|_| ALNUM[rng.gen_range(0..ALNUM.len())] as char)
        .collect()
}

/// `auth.CredentialStateEnum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialState {
    Pending,
    Validated,
    Refused,
    Expired,
}

impl CredentialState {
    fn as_str(self) -> &'static str {
        match self {
            CredentialState::Pending => "pendingValidation",
            CredentialState::Validated => "validated",
            CredentialState::Refused => "refused",
            CredentialState::Expired => "expired",
        }
    }
}

/// An access rule: a method and a path pattern where `*` stands for any run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rule {
    pub(super) method: String,
    pub(super) path: String,
}

impl Rule {
    fn new(method: &str, path: &str) -> Rule {
        Rule {
            method: method.to_string(),
            path: path.to_string(),
        }
    }

    fn grants(&self, method: &str, path: &str) -> bool {
        self.method == method && glob(&self.path, path)
    }
}

/// Whether `text` matches `pattern`, `*` matching any run of characters (`/` included): so
/// `/telephony/*` covers every path below `/telephony/` but not `/telephony` itself.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A consumer key and what it may do.
#[derive(Debug, Clone)]
pub(crate) struct Credential {
    pub(super) id: i64,
    pub(super) consumer_key: String,
    /// The `credentialToken` of its validation page.
    pub(super) page_token: String,
    pub(super) state: CredentialState,
    pub(super) rules: Vec<Rule>,
    pub(super) redirection: Option<String>,
    pub(super) allowed_ips: Option<Vec<String>>,
    pub(super) creation_ns: i64,
    pub(super) last_use_ns: Option<i64>,
    /// The key made at the start: never evicted.
    prevalidated: bool,
}

impl Credential {
    fn to_json(&self, application_id: i64) -> Value {
        json!({
            "credentialId": self.id,
            "applicationId": application_id,
            "creation": iso(self.creation_ns),
            "expiration": null,
            "lastUse": self.last_use_ns.map(iso),
            "status": self.state.as_str(),
            "rules": self.rules.iter().map(|r| json!({"method": r.method, "path": r.path})).collect::<Vec<_>>(),
            "allowedIPs": self.allowed_ips,
            "ovhSupport": false,
        })
    }
}

impl RestState {
    pub(super) fn add_prevalidated(&mut self, now_ns: i64) {
        let mut rules = Vec::new();
        for method in ["GET", "PUT", "POST", "DELETE"] {
            rules.push(Rule::new(method, "/telephony"));
            rules.push(Rule::new(method, "/telephony/*"));
        }
        rules.push(Rule::new("GET", "/auth/currentCredential"));
        let id = self.next_credential;
        self.next_credential += 1;
        self.credentials.push(Credential {
            id,
            consumer_key: self.keys.consumer_key.clone(),
            page_token: String::new(),
            state: CredentialState::Validated,
            rules,
            redirection: None,
            allowed_ips: None,
            creation_ns: now_ns,
            last_use_ns: None,
            prevalidated: true,
        });
    }

    /// Validates a pending consumer key (the test and demo hook). False if there is none.
    pub(crate) fn validate(&mut self, consumer_key: &str) -> bool {
        match self
            .credentials
            .iter_mut()
            .find(|c| c.consumer_key == consumer_key)
        {
            Some(c) if c.state == CredentialState::Pending => {
                c.state = CredentialState::Validated;
                true
            }
            _ => false,
        }
    }

    /// Expires a consumer key, as when its validity runs out or its owner revokes it.
    pub(crate) fn expire(&mut self, consumer_key: &str) -> bool {
        match self
            .credentials
            .iter_mut()
            .find(|c| c.consumer_key == consumer_key)
        {
            Some(c) => {
                c.state = CredentialState::Expired;
                true
            }
            None => false,
        }
    }
}

fn forbidden(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "Client::Forbidden", code, message)
}

fn bad_signature(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "Client::BadRequest",
        "INVALID_SIGNATURE",
        message,
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Checks a signed request and returns its consumer key. `url` is the full URL as received,
/// `path` the part after the API's prefix, without the query.
pub(super) fn authenticate(
    hub: &Hub,
    method: &Method,
    url: &str,
    path: &str,
    headers: &HeaderMap,
    body: &str,
) -> Result<String, ApiError> {
    let now_ns = hub.pace.lock().api_ns();
    let mut state = hub.state.lock();
    let rest = &mut state.rest;
    if header(headers, "x-ovh-application") != Some(rest.keys.application_key.as_str()) {
        return Err(forbidden("INVALID_KEY", "Invalid application key"));
    }
    let ck = header(headers, "x-ovh-consumer").unwrap_or_default();
    let Some(i) = rest.credentials.iter().position(|c| c.consumer_key == ck) else {
        return Err(forbidden(
            "NOT_CREDENTIAL",
            "This credential does not exist",
        ));
    };
    if rest.credentials[i].state != CredentialState::Validated {
        return Err(forbidden(
            "INVALID_CREDENTIAL",
            "This credential is not valid",
        ));
    }
    let Some(timestamp) = header(headers, "x-ovh-timestamp").and_then(|t| t.parse::<i64>().ok())
    else {
        return Err(bad_signature("Invalid signature"));
    };
    if (timestamp - now_ns.div_euclid(1_000_000_000)).abs() > TIME_TOLERANCE_S {
        return Err(bad_signature("Query out of time"));
    }
    let signed = Signed {
        application_secret: &rest.keys.application_secret,
        consumer_key: ck,
        method: method.as_str(),
        url,
        body,
        timestamp,
    };
    let given = header(headers, "x-ovh-signature").unwrap_or_default();
    if rest.refuse_signatures || !verify(&signed, given) {
        return Err(bad_signature("Invalid signature"));
    }
    let recent = rest.recent.entry(ck.to_string()).or_default();
    while recent.front().is_some_and(|&t| t <= now_ns - MINUTE_NS) {
        recent.pop_front();
    }
    if recent.len() >= rest.rate_limit.max(1) {
        let oldest = recent.front().copied().unwrap_or(now_ns);
        let wait_s = (oldest + MINUTE_NS - now_ns).div_euclid(1_000_000_000) + 1;
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Client::TooManyRequests",
            "TOO_MANY_REQUESTS",
            "Too many requests, please slow down",
        )
        .retry_after(wait_s.max(1) as u64));
    }
    recent.push_back(now_ns);
    let credential = &mut rest.credentials[i];
    credential.last_use_ns = Some(now_ns);
    if !credential
        .rules
        .iter()
        .any(|r| r.grants(method.as_str(), path))
    {
        return Err(forbidden(
            "NOT_GRANTED_CALL",
            "This call has not been granted",
        ));
    }
    Ok(ck.to_string())
}

/// `GET /auth/currentCredential`.
pub(super) fn current_credential(ctx: &Ctx) -> Result<Value, ApiError> {
    let state = ctx.hub.state.lock();
    let rest = &state.rest;
    let c = rest
        .credentials
        .iter()
        .find(|c| c.consumer_key == ctx.consumer_key)
        .ok_or_else(|| forbidden("NOT_CREDENTIAL", "This credential does not exist"))?;
    Ok(c.to_json(rest.application_id))
}

fn text_field(
    body: &Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(ApiError::bad_request(&format!(
            "[{key}] is longer than {max} bytes"
        ))),
        Some(_) => Err(ApiError::bad_request(&format!("[{key}] is not a string"))),
    }
}

fn parse_rules(body: &Map<String, Value>) -> Result<Vec<Rule>, ApiError> {
    let Some(Value::Array(items)) = body.get("accessRules") else {
        return Err(ApiError::bad_request(
            "[accessRules] is required: a list of {method, path}",
        ));
    };
    if items.is_empty() || items.len() > MAX_RULES {
        return Err(ApiError::bad_request(&format!(
            "[accessRules] must hold 1 to {MAX_RULES} rules"
        )));
    }
    items
        .iter()
        .map(|item| {
            let Some(rule) = item.as_object() else {
                return Err(ApiError::bad_request("[accessRules] holds a non-object"));
            };
            let method = text_field(rule, "method", 8)?.unwrap_or_default();
            if !["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method.as_str()) {
                return Err(ApiError::bad_request(
                    "[accessRules.method] must be one of GET, POST, PUT, DELETE, PATCH",
                ));
            }
            let path = text_field(rule, "path", MAX_TEXT)?.unwrap_or_default();
            if !path.starts_with('/') {
                return Err(ApiError::bad_request(
                    "[accessRules.path] must start with /",
                ));
            }
            Ok(Rule { method, path })
        })
        .collect()
}

fn parse_ips(body: &Map<String, Value>) -> Result<Option<Vec<String>>, ApiError> {
    let items = match body.get("allowedIPs") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) if items.len() <= MAX_ALLOWED_IPS => items,
        Some(_) => {
            return Err(ApiError::bad_request(&format!(
                "[allowedIPs] must be a list of at most {MAX_ALLOWED_IPS} IP blocks"
            )))
        }
    };
    items
        .iter()
        .map(|v| {
            let s = v.as_str().unwrap_or_default();
            let block = s
                .parse::<ipnet::IpNet>()
                .map(|n| n.to_string())
                .or_else(|_| {
                    s.parse::<std::net::IpAddr>()
                        .map(|a| ipnet::IpNet::from(a).to_string())
                });
            block.map_err(|_| ApiError::bad_request("[allowedIPs] holds an invalid IP block"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `POST /auth/credential`: a new consumer key, pending validation on the simulator's page.
pub(super) fn request_credential(
    hub: &Hub,
    headers: &HeaderMap,
    body: &[u8],
    host: &str,
) -> Result<Value, ApiError> {
    let known = hub.state.lock().rest.keys.application_key.clone();
    if header(headers, "x-ovh-application") != Some(known.as_str()) {
        return Err(forbidden("INVALID_KEY", "Invalid application key"));
    }
    let body = super::json_object(body)?;
    for key in body.keys() {
        if !["accessRules", "redirection", "allowedIPs"].contains(&key.as_str()) {
            return Err(ApiError::bad_request(&format!(
                "Invalid parameter: {}",
                super::capped(key)
            )));
        }
    }
    let rules = parse_rules(&body)?;
    let redirection = text_field(&body, "redirection", 1024)?.filter(|r| !r.is_empty());
    if let Some(r) = &redirection {
        if !(r.starts_with("http://") || r.starts_with("https://")) {
            return Err(ApiError::bad_request(
                "[redirection] must be an http or https URL",
            ));
        }
    }
    let allowed_ips = parse_ips(&body)?;
    let now_ns = hub.pace.lock().api_ns();
    let (consumer_key, page_token) = {
        let mut rng = hub.rng.lock();
        (random_alnum(&mut *rng, 32), random_alnum(&mut *rng, 48))
    };
    let mut state = hub.state.lock();
    let rest = &mut state.rest;
    if rest.credentials.len() >= MAX_CREDENTIALS {
        match rest
            .credentials
            .iter()
            .position(|c| !c.prevalidated && c.state != CredentialState::Validated)
        {
            Some(i) => {
                rest.credentials.remove(i);
            }
            None => {
                return Err(ApiError::bad_request(
                    "Too many consumer keys for this application",
                ))
            }
        }
    }
    let id = rest.next_credential;
    rest.next_credential += 1;
    rest.credentials.push(Credential {
        id,
        consumer_key: consumer_key.clone(),
        page_token: page_token.clone(),
        state: CredentialState::Pending,
        rules,
        redirection,
        allowed_ips,
        creation_ns: now_ns,
        last_use_ns: None,
        prevalidated: false,
    });
    Ok(json!({
        "consumerKey": consumer_key,
        "validationUrl": format!("http://{host}/1.0/auth/?credentialToken={page_token}"),
        "state": "pendingValidation",
    }))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html(status: StatusCode, title: &str, inner: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:40em;margin:3em auto}}\
         button{{font-size:1.1em;padding:.4em 1.2em;margin-right:1em}}</style></head>\
         <body><h1>{title}</h1>{inner}</body></html>"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// `GET|POST /1.0/auth/?credentialToken=…`: the page where the account's owner accepts (or
/// refuses) a consumer key's rules — OVH's login page, without the login. Accepting redirects
/// to the key's `redirection`, if it has one.
pub(super) fn validation_page(hub: &Hub, method: &Method, token: &str, body: &[u8]) -> Response {
    let mut state = hub.state.lock();
    let rest = &mut state.rest;
    let Some(c) = rest
        .credentials
        .iter_mut()
        .find(|c| !c.page_token.is_empty() && c.page_token == token)
    else {
        return html(
            StatusCode::NOT_FOUND,
            "Unknown request",
            "<p>This validation link is unknown or has been replaced.</p>",
        );
    };
    if *method == Method::POST {
        let refuse = String::from_utf8_lossy(body).contains("action=refuse");
        if c.state == CredentialState::Pending {
            c.state = if refuse {
                CredentialState::Refused
            } else {
                CredentialState::Validated
            };
        }
        if let (CredentialState::Validated, Some(to)) = (c.state, &c.redirection) {
            return (StatusCode::SEE_OTHER, [(header::LOCATION, to.clone())]).into_response();
        }
    } else if *method != Method::GET {
        return html(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "<p>Use the form.</p>",
        );
    }
    let rules: String = c
        .rules
        .iter()
        .map(|r| {
            format!(
                "<li><code>{} {}</code></li>",
                escape(&r.method),
                escape(&r.path)
            )
        })
        .collect();
    let inner = match c.state {
        CredentialState::Pending => format!(
            "<p>An application asks to act on the simulated OVH account with these rights:</p>\
             <ul>{rules}</ul><form method=\"post\">\
             <button name=\"action\" value=\"validate\">Validate</button>\
             <button name=\"action\" value=\"refuse\">Refuse</button></form>"
        ),
        state => format!(
            "<p>This request is <strong>{}</strong>.</p><ul>{rules}</ul>",
            state.as_str()
        ),
    };
    html(StatusCode::OK, "Authorise an application", &inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_like_ovh() {
        let r = Rule::new("GET", "/telephony/*");
        assert!(r.grants("GET", "/telephony/sm1-ovh-1"));
        assert!(r.grants("GET", "/telephony/a/b/c"));
        assert!(
            !r.grants("GET", "/telephony"),
            "/telephony/* is not /telephony"
        );
        assert!(!r.grants("PUT", "/telephony/a"));
        let mid = Rule::new("DELETE", "/telephony/*/eventToken");
        assert!(mid.grants("DELETE", "/telephony/ba/eventToken"));
        assert!(!mid.grants("DELETE", "/telephony/ba/eventToken/x"));
        assert!(Rule::new("GET", "/telephony").grants("GET", "/telephony"));
        assert!(!Rule::new("GET", "/telephony").grants("GET", "/telephony/x"));
        assert!(glob("*", ""));
        assert!(glob("/a*b*c", "/axxbyyc"));
        assert!(!glob("/a*b*c", "/axxbyy"));
    }

    #[test]
    fn keys_come_from_the_seed() {
        let a = SimAccount::from_seed(42).api_keys();
        assert_eq!(a, SimAccount::from_seed(42).api_keys());
        assert_ne!(a, SimAccount::from_seed(43).api_keys());
        assert_eq!(a.application_key.len(), 16);
        assert_eq!(a.application_secret.len(), 32);
        assert_eq!(a.consumer_key.len(), 32);
        assert!(a.consumer_key.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn the_prevalidated_key_has_the_documented_rules() {
        let account = SimAccount::from_seed(1);
        let state = RestState::new(&account, 0);
        let c = &state.credentials[0];
        assert_eq!(c.state, CredentialState::Validated);
        assert_eq!(c.consumer_key, account.api_keys().consumer_key);
        for m in ["GET", "PUT", "POST", "DELETE"] {
            assert!(c.rules.iter().any(|r| r.grants(m, "/telephony")));
            assert!(c.rules.iter().any(|r| r.grants(m, "/telephony/x/y")));
        }
        assert!(c
            .rules
            .iter()
            .any(|r| r.grants("GET", "/auth/currentCredential")));
        assert!(!c.rules.iter().any(|r| r.grants("POST", "/auth/logout")));
    }
}
