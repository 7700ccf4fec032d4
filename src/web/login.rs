//! `POST /api/login`: who may sign in, and how a new token gets followed.
//!
//! In order:
//!
//! 1. **Our own pages only.** The same `Origin` rule as every other write (a browser always
//!    names the site a cross-site request comes from: `403`), and a JSON body (`415`
//!    otherwise): a form on another site can send neither, so it cannot sign a visitor's
//!    browser in to the attacker's token ("login CSRF").
//! 2. **A token the service knows** (followed or paused) signs in at once: it is not a guess,
//!    so no limit ever applies to it — however many failures others made from the same
//!    address (a shared office, a proxy). A paused one is also checked with OVH in the
//!    background, and followed again if OVH accepts it.
//! 3. **A new token is checked with OVH** (`feed::check`) and followed only if OVH accepts it:
//!    `401` "OVH does not know this token" for a refusal, `502` "OVH cannot be reached" when it
//!    could not be asked. Checks are capped per client address (`429`) and in all (`503`),
//!    and checks of the same token at once share one.
//! 4. **Failures are counted per client address** — malformed logins and tokens OVH refused,
//!    never successes nor OVH being unreachable — in a bucket that refills over time. An
//!    address whose bucket is empty gets `429` for malformed logins; its new tokens are still
//!    checked, but all such addresses together share one check per refill period (6 s by
//!    default), so a right token typed behind a busy address still gets in, while guessing
//!    cannot make the service hammer OVH (which could get its address blocked for every token).
//!    The client address is the peer's, or what a `--trusted-proxy` says (`client_ip`).

use super::auth::{self, COOKIE};
use super::client_ip::ClientAddr;
use super::error::ApiError;
use super::extract::Body;
use super::AppState;
use crate::clock::UnixTime;
use crate::config::Config;
use crate::feed::Verdict;
use crate::service::{AdoptError, Service};
use crate::store::queries::LoginSession;
use crate::store::users::{Role, User};
use crate::telemetry;
use crate::token::{Token, TokenId};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use ipnet::IpNet;
use parking_lot::Mutex;
use rand::RngCore;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::watch;

const REMEMBER_S: f64 = 30.0 * 86400.0;
const SESSION_S: f64 = 12.0 * 3600.0;

/// Failed logins allowed per client address (or per account name): a burst of `burst`,
/// refilled at `per_minute`.
pub struct LoginLimiter<K = IpAddr> {
    burst: f64,
    per_minute: f64,
    buckets: Mutex<HashMap<K, (f64, UnixTime)>>,
    /// When the last check for an address over its budget ran.
    slow_lane: Mutex<Option<UnixTime>>,
}

impl<K: std::hash::Hash + Eq> LoginLimiter<K> {
    pub fn new(burst: u32, per_minute: u32) -> LoginLimiter<K> {
        LoginLimiter {
            burst: f64::from(burst),
            per_minute: f64::from(per_minute),
            buckets: Mutex::new(HashMap::new()),
            slow_lane: Mutex::new(None),
        }
    }

    /// Runs `f` on `ip`'s bucket, refilled up to now.
    fn bucket<R>(&self, ip: K, now: UnixTime, f: impl FnOnce(&mut f64) -> R) -> R {
        let mut buckets = self.buckets.lock();
        if buckets.len() > 10_000 {
            buckets.retain(|_, (_, at)| now - *at < 3600.0);
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + (now - *at).max(0.0) * self.per_minute / 60.0).min(self.burst);
        *at = now;
        f(tokens)
    }

    /// Whether `ip` has used up its failures.
    pub fn over(&self, ip: K, now: UnixTime) -> bool {
        self.bucket(ip, now, |tokens| *tokens < 1.0)
    }

    /// Counts a failure from `ip`.
    pub fn failed(&self, ip: K, now: UnixTime) {
        self.bucket(ip, now, |tokens| *tokens = (*tokens - 1.0).max(0.0));
    }

    /// Whether a check for an address over its budget may run now: one per refill period,
    /// shared by all such addresses.
    fn slow_lane(&self, now: UnixTime) -> bool {
        let mut last = self.slow_lane.lock();
        let period = 60.0 / self.per_minute;
        if last.is_some_and(|at| now - at < period && now >= at) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// What became of a check of a new token with OVH (shared by the logins waiting for it).
#[derive(Clone, Debug)]
enum Outcome {
    Followed,
    Refused(u16),
    Unreachable(String),
    TooMany,
    Failed(String),
}

#[derive(Default)]
struct Checks {
    total: usize,
    per_address: crate::tally::Tally<IpAddr>,
    /// The checks running, by token: a login with the same token waits for the same answer.
    running: HashMap<TokenId, watch::Receiver<Option<Outcome>>>,
}

/// The login's limits and the checks of new tokens in progress.
pub struct LoginGuard {
    pub limiter: LoginLimiter,
    /// Failed password logins per account name (lower-cased, existing or not: the answer
    /// never tells which names exist).
    pub accounts: LoginLimiter<String>,
    pub trusted_proxies: Vec<IpNet>,
    max_checks: usize,
    max_checks_per_address: usize,
    checks: Mutex<Checks>,
}

/// A running check's place in the caps, given back (and its entry removed) when it ends,
/// however it ends.
struct Running {
    guard: Arc<LoginGuard>,
    ip: IpAddr,
    id: TokenId,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut checks = self.guard.checks.lock();
        checks.total -= 1;
        checks.per_address.remove_one(&self.ip);
        checks.running.remove(&self.id);
    }
}

impl LoginGuard {
    pub fn new(config: &Config) -> LoginGuard {
        LoginGuard {
            limiter: LoginLimiter::new(config.login_burst, config.login_per_minute),
            accounts: LoginLimiter::new(config.login_burst, config.login_per_minute),
            trusted_proxies: config.trusted_proxies.clone(),
            max_checks: config.login_checks,
            max_checks_per_address: config.login_checks_per_address,
            checks: Mutex::new(Checks::default()),
        }
    }

    /// Checks `token` with OVH and follows it if OVH accepts it; a check of the same token
    /// already running is waited for instead. `Err` is the answer when the caps are reached.
    async fn check(
        self: &Arc<Self>,
        service: &Arc<Service>,
        token: Token,
        ip: IpAddr,
        max_tokens: usize,
    ) -> Result<Outcome, Response> {
        let id = token.id();
        let mut rx = {
            let mut checks = self.checks.lock();
            match checks.running.get(&id) {
                Some(rx) => rx.clone(),
                None => {
                    if checks.per_address.get(&ip) >= self.max_checks_per_address {
                        return Err(refusal(
                            StatusCode::TOO_MANY_REQUESTS,
                            "checks_busy",
                            "another token from your address is being checked with OVH; wait \
                             for it, then try again",
                        ));
                    }
                    if checks.total >= self.max_checks {
                        return Err(refusal(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "busy",
                            "too many tokens are being checked with OVH right now; try again \
                             in a few seconds",
                        ));
                    }
                    checks.total += 1;
                    checks.per_address.add(ip);
                    let (tx, rx) = watch::channel(None);
                    checks.running.insert(id.clone(), rx.clone());
                    let running = Running {
                        guard: self.clone(),
                        ip,
                        id,
                    };
                    // Its own task: a client that gives up waiting does not cut a check (or
                    // the following of a token OVH accepted) in half.
                    let service = service.clone();
                    tokio::spawn(async move {
                        let outcome = match service.check(&token).await {
                            Verdict::Accepted(handover) => {
                                match service.adopt(token, handover, max_tokens).await {
                                    Ok(()) => Outcome::Followed,
                                    Err(AdoptError::TooMany) => Outcome::TooMany,
                                    Err(e) => Outcome::Failed(e.to_string()),
                                }
                            }
                            Verdict::Refused(status) => Outcome::Refused(status),
                            Verdict::Unreachable(why) => Outcome::Unreachable(why),
                        };
                        tx.send_replace(Some(outcome));
                        drop(running);
                    });
                    rx
                }
            }
        };
        let outcome = rx
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|o| o.clone());
        Ok(outcome.unwrap_or_else(|| Outcome::Unreachable("the check was interrupted".into())))
    }
}

/// How long a login waits for the tokens known at start to be followed.
const START_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A refusal with a machine-readable `reason` beside the message, for the login page.
fn refusal(status: StatusCode, reason: &'static str, message: &str) -> Response {
    telemetry::LoginAttempt {
        token: None,
        outcome: reason,
    }
    .emit();
    let body = Json(json!({"error": message, "reason": reason}));
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        (status, [(header::RETRY_AFTER, "10")], body).into_response()
    } else {
        (status, body).into_response()
    }
}

/// Whether the body is declared as JSON (`application/json`, parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// What a login body offers: an OVH token, or a user's login and password.
enum Credentials {
    Token(Token),
    Password {
        login: String,
        password: String,
        /// The code of an authenticator app, for an account with a second factor.
        code: Option<String>,
    },
}

/// The credentials and the "remember me" of a login body.
fn parse_body(body: &[u8]) -> Result<(Credentials, bool), ApiError> {
    let body: Value = serde_json::from_slice(body).map_err(|_| {
        ApiError::field(
            "token",
            "expected a JSON body {\"token\": \"…\"} or {\"login\": \"…\", \"password\": \"…\"}",
        )
    })?;
    let remember = body
        .get("remember")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(login) = body.get("login") {
        let login = login
            .as_str()
            .filter(|l| !l.trim().is_empty() && l.len() <= 256)
            .ok_or_else(|| ApiError::field("login", "expected a login name"))?;
        let password = body
            .get("password")
            .and_then(Value::as_str)
            .filter(|p| p.len() <= crate::password::MAX_BYTES)
            .ok_or_else(|| ApiError::field("password", "expected a password"))?;
        let code = body
            .get("code")
            .and_then(Value::as_str)
            .filter(|c| c.len() <= 16)
            .map(str::to_string);
        let credentials = Credentials::Password {
            login: login.to_string(),
            password: password.to_string(),
            code,
        };
        return Ok((credentials, remember));
    }
    let raw = body
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::field("token", "missing token"))?;
    let token = Token::parse(raw).map_err(|e| ApiError::field("token", e.to_string()))?;
    Ok((Credentials::Token(token), remember))
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    if !auth::same_origin(&Method::POST, &headers) {
        return Ok(refusal(
            StatusCode::FORBIDDEN,
            "cross_site",
            "sign in from the dashboard's own page: a login from another site is refused",
        ));
    }
    if !is_json(&headers) {
        return Ok(refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_json",
            "send the login as JSON (Content-Type: application/json): {\"token\": \"…\"}",
        ));
    }
    let service = &state.service;
    let guard = &state.login;
    let now = service.clock.now();
    let (credentials, remember) = match parse_body(&body) {
        Ok(parsed) => parsed,
        Err(e) => {
            if guard.limiter.over(ip, now) {
                return Ok(too_many_failures());
            }
            guard.limiter.failed(ip, now);
            telemetry::LoginAttempt {
                token: None,
                outcome: "malformed",
            }
            .emit();
            return Err(e);
        }
    };
    let token = match credentials {
        Credentials::Token(token) => token,
        Credentials::Password {
            login,
            password,
            code,
        } => {
            return password_login(&state, ip, login, password, code, remember, now).await;
        }
    };
    let id = token.id();
    // Just after a start, the tokens known then are still being followed: the login waits for
    // them (10,000 take about two seconds) rather than failing.
    if !service.follows(&id) && service.pending() > 0 {
        let _ = tokio::time::timeout(START_WAIT, service.ready()).await;
    }
    if service.follows(&id) && !auth::token_login_allowed(&state, &id).await? {
        return Ok(refusal(
            StatusCode::UNAUTHORIZED,
            "token_login_off",
            "signing in with the token is turned off for this organisation: sign in with an account",
        ));
    }
    if service.follows(&id) {
        if service.is_paused(&id) {
            // Perhaps OVH serves it again: ask, without making its user wait.
            let (guard, service) = (guard.clone(), service.clone());
            let max = state.max_tokens;
            tokio::spawn(async move {
                let _ = guard.check(&service, token, ip, max).await;
            });
        }
        return start_session(&state, &id, None, remember, now).await;
    }
    // While the tokens known at start are being followed, this one may be one of them: it is
    // not a new token to check with OVH (and to count against the cap), only a moment early.
    if service.pending() > 0 {
        let mut res = refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "the service is starting and does not follow this token yet: try again in a moment",
        );
        res.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        return Ok(res);
    }
    match follow_new(&state, token, ip, now).await? {
        Ok(()) => start_session(&state, &id, None, remember, now).await,
        Err(refused) => Ok(refused),
    }
}

/// Follows a token the service does not follow yet, once OVH accepted it (the login's
/// limits and checks apply: a token typed at the login page, or attached by an admin). The
/// refusal to answer otherwise.
pub(super) async fn follow_new(
    state: &AppState,
    token: Token,
    ip: IpAddr,
    now: UnixTime,
) -> Result<Result<(), Response>, ApiError> {
    let (service, guard) = (&state.service, &state.login);
    if !service.allow_new_tokens {
        return Ok(Err(refusal(
            StatusCode::UNAUTHORIZED,
            "not_followed",
            "this token is not followed by this service",
        )));
    }
    if service.followed_count() >= state.max_tokens {
        return Ok(Err(too_many_tokens()));
    }
    if guard.limiter.over(ip, now) && !guard.limiter.slow_lane(now) {
        return Ok(Err(too_many_failures()));
    }
    let outcome = match guard.check(service, token, ip, state.max_tokens).await {
        Ok(outcome) => outcome,
        Err(refused) => return Ok(Err(refused)),
    };
    Ok(match outcome {
        Outcome::Followed => Ok(()),
        Outcome::Refused(status) => {
            guard.limiter.failed(ip, now);
            Err(refusal(
                StatusCode::UNAUTHORIZED,
                "ovh_refused",
                &format!(
                    "OVH does not know this token (it answered HTTP {status}): check that it \
                     was copied whole and has not expired"
                ),
            ))
        }
        Outcome::Unreachable(why) => Err(refusal(
            StatusCode::BAD_GATEWAY,
            "ovh_unreachable",
            &format!("OVH cannot be reached to check this token ({why}); try again in a moment"),
        )),
        Outcome::TooMany => Err(too_many_tokens()),
        Outcome::Failed(why) => return Err(ApiError::internal(why)),
    })
}

fn too_many_failures() -> Response {
    refusal(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many failed login attempts from your address; wait a minute and try again",
    )
}

fn too_many_tokens() -> Response {
    refusal(
        StatusCode::UNAUTHORIZED,
        "too_many_tokens",
        "this service already follows as many tokens as it is allowed to",
    )
}

/// Opens a login session for `id` — a user's or the token's own:
/// a random id in the cookie, its SHA-256 in the store.
async fn start_session(
    state: &AppState,
    id: &TokenId,
    user: Option<User>,
    remember: bool,
    now: UnixTime,
) -> Result<Response, ApiError> {
    let mut raw_id = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw_id);
    let session = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw_id);
    let key = auth::hash(&session);
    let expires = now + if remember { REMEMBER_S } else { SESSION_S };
    let user_id = user.as_ref().map(|u| u.id);
    {
        let (key, id) = (key.clone(), id.clone());
        state
            .service
            .ingest
            .write(move |w| w.save_login_session(&key, &id, user_id, now, expires))
            .await?;
    }
    let stored = LoginSession {
        token: id.clone(),
        expires,
        user: user.as_ref().map(|u| (u.id, u.role)),
        scope: user
            .as_ref()
            .filter(|u| u.role == Role::Agent)
            .map(|u| [u.lines.clone(), u.queues.clone()].concat()),
        link: None,
    };
    state
        .sessions
        .remember(key, stored, now, state.service.sessions_epoch());
    telemetry::LoginAttempt {
        token: Some(id),
        outcome: "ok",
    }
    .emit();
    let cookie = auth::cookie(
        state,
        &format!("{COOKIE}={session}"),
        remember.then_some(REMEMBER_S as u64),
    );
    let mut body = json!({"ok": true, "token_hint": state.service.hint(id)});
    if let Some(u) = user {
        body["user"] = json!({"login": u.login, "role": u.role});
    }
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// `POST /api/login` `{"login", "password"}`: a user account. One answer for an unknown
/// name, a wrong password and a disabled account, taking as long (argon2 runs either way);
/// failures count against the client address and against the name.
async fn password_login(
    state: &AppState,
    ip: IpAddr,
    login: String,
    password: String,
    code: Option<String>,
    remember: bool,
    now: UnixTime,
) -> Result<Response, ApiError> {
    let guard = &state.login;
    let name = login.trim().to_lowercase();
    if guard.limiter.over(ip, now) || guard.accounts.over(name.clone(), now) {
        return Ok(too_many_failures());
    }
    let found = {
        let login = login.clone();
        state
            .service
            .readers
            .read(move |c| crate::store::users::by_login(c, &login))
            .await?
    };
    let user = tokio::task::spawn_blocking(move || match found {
        Some((user, hash)) if crate::password::verify(&password, &hash) => {
            user.disabled_at.is_none().then_some(user)
        }
        Some(_) => None,
        None => {
            crate::password::verify_nothing(&password);
            None
        }
    })
    .await
    .map_err(ApiError::internal)?;
    let failed = |name: String| {
        guard.limiter.failed(ip, now);
        guard.accounts.failed(name, now);
        refusal(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "wrong login or password",
        )
    };
    let Some(user) = user else {
        return Ok(failed(name));
    };
    // The second factor, for an account that has one: asked for once the password is right.
    // Checked and its step recorded on the one writer, so a code is never accepted twice.
    if user.totp {
        let Some(code) = code else {
            return Ok(refusal(
                StatusCode::UNAUTHORIZED,
                "totp_required",
                "type the code of your authenticator app",
            ));
        };
        let id = user.id;
        let accepted = state
            .service
            .ingest
            .write(move |w| {
                use crate::store::users;
                let t = users::totp(w.connection(), id)?;
                let secret = t.secret.unwrap_or_default();
                let Some(step) = crate::second_factor::verify(&secret, &code, now, t.step) else {
                    return Ok(false);
                };
                users::set_totp(w.connection(), id, None, None, Some(step))?;
                Ok(true)
            })
            .await?;
        if !accepted {
            return Ok(failed(name));
        }
    }
    let org = user.org_id;
    let tokens = state
        .service
        .readers
        .read(move |c| crate::store::users::org_tokens(c, org))
        .await?;
    let Some(token) = tokens.into_iter().find(|t| state.service.follows(t)) else {
        return Ok(refusal(
            StatusCode::UNAUTHORIZED,
            "no_token",
            "your organisation has no OVH token followed yet: ask its administrator",
        ));
    };
    start_session(state, &token, Some(user), remember, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_per_address_and_refill() {
        let l = LoginLimiter::new(3, 6);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(!l.over(ip, 0.0));
            l.failed(ip, 0.0);
        }
        assert!(l.over(ip, 0.0));
        assert!(!l.over("127.0.0.2".parse().unwrap(), 0.0), "per address");
        assert!(
            !l.over(ip, 10.0),
            "one more after ten seconds at six a minute"
        );
        l.failed(ip, 10.0);
        assert!(l.over(ip, 10.0));
    }

    #[test]
    fn addresses_over_budget_share_one_check_per_refill_period() {
        let l: LoginLimiter = LoginLimiter::new(3, 6);
        assert!(l.slow_lane(0.0));
        assert!(!l.slow_lane(5.0));
        assert!(l.slow_lane(10.0));
    }

    #[test]
    fn only_json_bodies_are_read() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&h));
    }
}
