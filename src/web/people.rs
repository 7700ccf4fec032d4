//! The admins' routes for people (issue 10): the organisation's users (list, create, change
//! role or numbers, disable, set a password, delete), their live sessions (list, end), a
//! user's own password, and the audit log of who changed what (`GET /api/audit`, `.csv`).
//! Every change here, and every other change of the organisation's settings, webhooks,
//! tokens, resets and callbacks, is written to the audit log (`audit`).

use super::api::read;
use super::auth::Caller;
use super::client_ip::ClientAddr;
use super::error::ApiError;
use super::export::{csv_response, CsvFile, Dialect};
use super::extract::{Body, Id};
use super::AppState;
use crate::normalise::phone;
use crate::store::users::{self, AddError, Change, LoginName, Numbers, Role, User};
use crate::store::{audit, Page, StoreError};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The caller's organisation (created for a token that has none yet) and how the audit log
/// names them.
fn org_and_actor(
    conn: &crate::store::db::Conn,
    caller_user: Option<i64>,
    token: &crate::token::TokenId,
    hint: &str,
    now: f64,
) -> Result<(i64, String), StoreError> {
    if let Some(user) = caller_user.and_then(|id| users::by_id(conn, id).transpose()) {
        let user = user?;
        return Ok((user.org_id, format!("user {}", user.login)));
    }
    Ok((users::org_for(conn, token, now)?, format!("token {hint}")))
}

/// Runs `f` on the writer with the caller's organisation, then writes `action` and the detail
/// `f` returned to the audit log, in one transaction (no detail: nothing changed, nothing is
/// recorded).
pub(super) async fn audited<R: Send + 'static>(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    f: impl FnOnce(&crate::store::db::Conn, i64) -> Result<(R, Option<String>), StoreError>
        + Send
        + 'static,
) -> Result<R, ApiError> {
    let now = state.service.clock.now();
    let (user, token) = (caller.user, caller.token.clone());
    let hint = state.service.hint(&caller.token).unwrap_or_default();
    Ok(state
        .service
        .ingest
        .write(move |w| {
            let tx = w.connection_mut().transaction()?;
            let (org, actor) = org_and_actor(&tx, user, &token, &hint, now)?;
            let (result, detail) = f(&tx, org)?;
            if let Some(detail) = detail {
                audit::record(&tx, org, now, &actor, action, &detail)?;
            }
            tx.commit()?;
            Ok(result)
        })
        .await?)
}

/// Records a change made elsewhere (settings, webhooks, tokens, resets, callbacks) once it is
/// stored.
pub(super) async fn record(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    detail: String,
) -> Result<(), ApiError> {
    audited(state, caller, action, move |_, _| Ok(((), Some(detail)))).await
}

/// The caller's organisation (created, for a token that has none yet: hence the writer).
pub(super) async fn org(state: &AppState, caller: &Caller) -> Result<i64, ApiError> {
    // Read first: only a token that has no organisation yet needs the writer.
    let (user, token) = (caller.user, caller.token.clone());
    let known = read(state, move |c| match user {
        Some(id) => Ok(users::by_id(c, id)?.map(|u| u.org_id)),
        None => users::org_of_token(c, &token),
    })
    .await?;
    if let Some(org) = known {
        return Ok(org);
    }
    let now = state.service.clock.now();
    let (user, token) = (caller.user, caller.token.clone());
    let hint = state.service.hint(&caller.token).unwrap_or_default();
    Ok(state
        .service
        .ingest
        .write(move |w| Ok(org_and_actor(w.connection(), user, &token, &hint, now)?.0))
        .await?)
}

/// Ends these login sessions' live streams and forgets them at once.
pub(super) fn close(state: &AppState, keys: Vec<String>) {
    for key in keys {
        state.sessions.forget(&key);
        state.service.close_session(key);
    }
}

fn numbers(v: &Value, field: &str) -> Result<Option<Vec<String>>, ApiError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) if items.len() <= crate::limits::NUMBERS => items
            .iter()
            .map(|n| {
                n.as_str()
                    .filter(|n| !n.trim().is_empty() && n.len() <= crate::limits::NUMBER_BYTES)
                    .map(phone::ovh_form)
                    .ok_or_else(|| ApiError::field(field, "expected phone numbers"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::field(field, "expected a list of phone numbers")),
    }
}

fn role(v: &Value) -> Result<Option<Role>, ApiError> {
    match v.get("role") {
        None | Some(Value::Null) => Ok(None),
        Some(r) => {
            r.as_str().and_then(Role::parse).map(Some).ok_or_else(|| {
                ApiError::field("role", "expected admin, supervisor, agent or viewer")
            })
        }
    }
}

fn object(body: &[u8]) -> Result<Value, ApiError> {
    json_object(body, "user")
}

/// A request body that must be a JSON object; `field` names it when it is not.
pub(super) fn json_object(body: &[u8], field: &str) -> Result<Value, ApiError> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::field(field, "expected a JSON object"))
}

/// The most users an organisation may have: each is stored, hashed and listed.
pub const USERS_PER_ORG: i64 = 1000;

fn too_many_users() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        format!("this organisation already has {USERS_PER_ORG} users, the most it may have: delete one first"),
    )
}

fn code_mismatch() -> ApiError {
    ApiError::field("code", "this code does not match: check the app's clock")
}

fn password(v: &Value, field: &str) -> Result<String, ApiError> {
    let p = v
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::field(field, "expected a password"))?;
    crate::password::check(p).map_err(|m| ApiError::field(field, m))?;
    Ok(p.to_string())
}

/// A hash off the async threads (argon2 takes tens of milliseconds and 19 MiB).
async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || crate::password::hash(&password))
        .await
        .map_err(ApiError::internal)
}

fn no_such_user() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such user")
}

/// `GET /api/users` (admins): the organisation's users.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let org = org(&state, &caller).await?;
    let users = read(&state, move |c| users::list(c, Some(org))).await?;
    Ok(Json(json!({ "users": users })))
}

/// `POST /api/users` `{login, password, role, lines?, queues?}` (admins): 201 with the user.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let v = object(&body)?;
    let login = v
        .get("login")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::field("login", "expected a login name"))
        .and_then(|l| LoginName::parse(l).map_err(|m| ApiError::field("login", m)))?;
    let role = role(&v)?.ok_or_else(|| ApiError::field("role", "choose a role"))?;
    let numbers = Numbers {
        lines: numbers(&v, "lines")?.unwrap_or_default(),
        queues: numbers(&v, "queues")?.unwrap_or_default(),
    };
    if role == Role::Agent && numbers.lines.is_empty() {
        return Err(ApiError::field("lines", "an agent needs at least one line"));
    }
    let password = password(&v, "password")?;
    // Counted before the (costly) hash, and again where the user is added.
    let org = org(&state, &caller).await?;
    if read(&state, move |c| users::count(c, org)).await? >= USERS_PER_ORG {
        return Err(too_many_users());
    }
    let hash = hash(password).await?;
    let now = state.service.clock.now();
    let user = audited(&state, &caller, "user.create", move |c, org| {
        if users::count(c, org)? >= USERS_PER_ORG {
            return Ok((Err(too_many_users()), None));
        }
        match users::add(c, org, &login, &hash, role, &numbers, now) {
            Ok(u) => {
                let detail = format!("{} ({})", u.login, u.role.as_str());
                Ok((Ok(u), Some(detail)))
            }
            Err(AddError::Taken(_)) => Ok((
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "this login name is taken",
                )),
                None,
            )),
            Err(AddError::Store(e)) => Err(e),
        }
    })
    .await??;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

/// `PUT /api/users/{id}` `{role?, lines?, queues?, disabled?}` (admins): the user as changed.
/// A change of role or numbers, or a disabling, ends their sessions: they sign in again with
/// what they may now see.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(body): Body,
) -> Result<Json<User>, ApiError> {
    caller.require(Role::Admin)?;
    if caller.user == Some(id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "change your own account from another admin's: you could lock yourself out",
        ));
    }
    let v = object(&body)?;
    let lines = numbers(&v, "lines")?;
    let queues = numbers(&v, "queues")?;
    let change = Change {
        role: role(&v)?,
        numbers: (lines.is_some() || queues.is_some()).then(|| Numbers {
            lines: lines.unwrap_or_default(),
            queues: queues.unwrap_or_default(),
        }),
        clear_totp: match v.get("totp") {
            None | Some(Value::Null) | Some(Value::Bool(true)) => false,
            Some(Value::Bool(false)) => true,
            Some(_) => return Err(ApiError::field("totp", "expected false (turn it off)")),
        },
        disabled: match v.get("disabled") {
            None | Some(Value::Null) => None,
            Some(d) => Some(
                d.as_bool()
                    .ok_or_else(|| ApiError::field("disabled", "expected true or false"))?,
            ),
        },
    };
    let now = state.service.clock.now();
    let (user, ended) = audited(&state, &caller, "user.change", move |c, org| {
        let Some(user) = users::update(c, org, id, &change, now)? else {
            return Ok((None, None));
        };
        let ended = users::end_sessions(c, org, Some(id), None)?;
        let detail = format!(
            "{}: role {}, lines {:?}, queues {:?}, {}",
            user.login,
            user.role.as_str(),
            user.lines,
            user.queues,
            if user.disabled_at.is_some() {
                "disabled"
            } else {
                "enabled"
            }
        );
        Ok((Some((user, ended)), Some(detail)))
    })
    .await?
    .ok_or_else(no_such_user)?;
    close(&state, ended);
    // A disabled user's own screen pop is no longer made; an enabled one's is again.
    state.service.ingest.reload_own_pops().await?;
    Ok(Json(user))
}

/// `DELETE /api/users/{id}` (admins): 204; their sessions end.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    if caller.user == Some(id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "an admin cannot delete their own account",
        ));
    }
    let ended = audited(&state, &caller, "user.delete", move |c, org| {
        let Some(user) = users::by_id(c, id)?.filter(|u| u.org_id == org) else {
            return Ok((None, None));
        };
        let ended = users::end_sessions(c, org, Some(id), None)?;
        users::delete(c, org, id)?;
        Ok((Some(ended), Some(user.login)))
    })
    .await?
    .ok_or_else(no_such_user)?;
    close(&state, ended);
    state.service.ingest.reload_own_pops().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/users/{id}/password` `{password}` (admins): their sessions end.
pub async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let hash = hash(password(&object(&body)?, "password")?).await?;
    let ended = audited(&state, &caller, "user.password", move |c, org| {
        let Some(user) = users::by_id(c, id)?.filter(|u| u.org_id == org) else {
            return Ok((None, None));
        };
        users::set_password(c, id, &hash)?;
        let ended = users::end_sessions(c, org, Some(id), None)?;
        Ok((Some(ended), Some(user.login)))
    })
    .await?
    .ok_or_else(no_such_user)?;
    close(&state, ended);
    Ok(Json(json!({"ok": true})))
}

/// `PUT /api/me/password` `{current, password}`: a user changes their own password (their
/// other sessions end; this one stays).
pub async fn own_password(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let id = caller.user.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "a token has no password: sign in as a user",
        )
    })?;
    let v = object(&body)?;
    let new = password(&v, "password")?;
    let current = v
        .get("current")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::field("current", "expected the current password"))?
        .to_string();
    let stored = read(&state, move |c| {
        Ok(users::by_id(c, id)?
            .map(|u| u.login)
            .map(|login| users::by_login(c, &login))
            .transpose()?
            .flatten())
    })
    .await?
    .ok_or_else(no_such_user)?;
    let matches = tokio::task::spawn_blocking(move || crate::password::verify(&current, &stored.1))
        .await
        .map_err(ApiError::internal)?;
    if !matches {
        return Err(ApiError::field(
            "current",
            "the current password is not this",
        ));
    }
    let hash = hash(new).await?;
    // Their other sessions end; this one stays.
    let keep = caller.session.as_ref().map(|s| s.key.clone());
    let ended = audited(&state, &caller, "user.password", move |c, _| {
        users::set_password(c, id, &hash)?;
        let mut stmt = c.prepare(
            "DELETE FROM sessions WHERE user_id = ?1 AND id_hash IS DISTINCT FROM ?2 RETURNING id_hash",
        )?;
        let ended = stmt
            .query_map(crate::store::db::params![id, keep], |r| {
                r.get::<_, String>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((ended, Some("own password".to_string())))
    })
    .await?;
    close(&state, ended);
    Ok(Json(json!({"ok": true})))
}

/// `GET /api/sessions[?user=ID]` (admins): the live sessions of the organisation's users.
pub async fn sessions(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let user = match q.get("user").filter(|u| !u.is_empty()) {
        Some(u) => Some(
            u.parse::<i64>()
                .map_err(|_| ApiError::field("user", "expected a user id"))?,
        ),
        None => None,
    };
    let org = org(&state, &caller).await?;
    let now = state.service.clock.now();
    let rows = read(&state, move |c| users::sessions(c, org, user, now)).await?;
    Ok(Json(json!({ "sessions": rows })))
}

/// `DELETE /api/sessions/{id}` (admins): ends one session at once (its streams too).
pub async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::field(
            "id",
            "expected a session id as GET /api/sessions gives it",
        ));
    }
    let ended = audited(&state, &caller, "session.end", move |c, org| {
        let ended = users::end_sessions(c, org, None, Some(&key))?;
        let detail = (!ended.is_empty()).then(|| format!("{}…", &key[..8]));
        Ok((ended, detail))
    })
    .await?;
    if ended.is_empty() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no such session"));
    }
    close(&state, ended);
    Ok(StatusCode::NO_CONTENT)
}

/// A whole-number parameter, if given.
fn whole(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    q.get(name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::field(name, "expected a whole number"))
        })
        .transpose()
}

/// The `limit` asked for (default 100), at least 1.
fn audit_page_size(q: &HashMap<String, String>) -> Result<usize, ApiError> {
    let limit = whole(q, "limit")?.unwrap_or(100);
    if limit < 1 {
        return Err(ApiError::field("limit", "expected a whole number from 1"));
    }
    Ok(limit as usize)
}

/// The audit log's page: `limit` (default 100, at most `max`) entries before `cursor`.
async fn audit_page(
    state: &AppState,
    caller: &Caller,
    q: &HashMap<String, String>,
    max: usize,
) -> Result<Page<audit::Entry>, ApiError> {
    caller.require(Role::Admin)?;
    let limit = audit_page_size(q)?.min(max);
    let before = whole(q, "cursor")?;
    let org = org(state, caller).await?;
    let (items, next) = read(state, move |c| audit::list(c, org, before, limit)).await?;
    Ok(Page {
        items,
        next: next.map(|n| n.to_string()),
    })
}

/// `GET /api/audit`: newest first.
pub async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page = audit_page(&state, &caller, &q, 1000).await?;
    Ok(Json(json!({"entries": page.items, "next": page.next})))
}

/// `GET /api/audit.csv`: the same, `all=1` for every entry (up to 100 000).
pub async fn audit_csv(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if super::params::csv_all(&q)? {
        // A bad limit is refused even when `all` makes it moot.
        audit_page_size(&q)?;
        q.insert("limit".into(), super::params::CSV_LIMIT.to_string());
    }
    let page = audit_page(&state, &caller, &q, super::params::CSV_LIMIT).await?;
    let file = CsvFile {
        name: "audit",
        columns: &["id", "at", "actor", "action", "detail"],
        named: &[],
        dialect: Dialect::Standard,
    };
    csv_response(&file, page)
}

/// `GET /api/org` (admins): the organisation's name and whether its token may sign in.
pub async fn get_org(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<users::Org>, ApiError> {
    caller.require(Role::Admin)?;
    let id = org(&state, &caller).await?;
    read(&state, move |c| users::org(c, id))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no organisation"))
}

/// `PUT /api/org` `{name?, token_login?}` (admins). Turning token login off needs an admin
/// account that can sign in (or no one could manage the organisation any more); the sessions
/// the token opened itself end at once.
pub async fn put_org(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<users::Org>, ApiError> {
    caller.require(Role::Admin)?;
    let v = object(&body)?;
    let name = match v.get("name") {
        None | Some(Value::Null) => None,
        Some(n) => Some(
            n.as_str()
                .map(str::trim)
                .filter(|n| !n.is_empty() && n.chars().count() <= 100)
                .ok_or_else(|| ApiError::field("name", "a name of 1 to 100 characters"))?
                .to_string(),
        ),
    };
    let token_login = match v.get("token_login") {
        None | Some(Value::Null) => None,
        Some(b) => Some(
            b.as_bool()
                .ok_or_else(|| ApiError::field("token_login", "expected true or false"))?,
        ),
    };
    let switch = |field: &str| match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(b) => b
            .as_bool()
            .map(Some)
            .ok_or_else(|| ApiError::field(field, "expected true or false")),
    };
    let publish_nats = switch("publish_nats")?;
    let publish_mqtt = switch("publish_mqtt")?;
    let done = audited(&state, &caller, "org.change", move |c, org| {
        if token_login == Some(false) && !users::has_active_admin(c, org)? {
            return Ok((None, None));
        }
        let ended = users::set_org(c, org, name.as_deref(), token_login)?;
        use crate::publish::Target;
        for (target, on) in [(Target::Nats, publish_nats), (Target::Mqtt, publish_mqtt)] {
            if let Some(on) = on {
                users::set_publish(c, org, target, on)?;
            }
        }
        let on_off = |on: bool| if on { "on" } else { "off" };
        let detail = format!(
            "{}{}{}{}",
            name.as_deref()
                .map(|n| format!("name {n} "))
                .unwrap_or_default(),
            token_login
                .map(|on| format!("token login {} ", on_off(on)))
                .unwrap_or_default(),
            publish_nats
                .map(|on| format!("publish to NATS {} ", on_off(on)))
                .unwrap_or_default(),
            publish_mqtt
                .map(|on| format!("publish to MQTT {}", on_off(on)))
                .unwrap_or_default()
        );
        Ok((Some((org, ended)), Some(detail)))
    })
    .await?;
    let Some((id, ended)) = done else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "add an admin account first (People): with token login off, only accounts can sign in",
        ));
    };
    close(&state, ended);
    read(&state, move |c| users::org(c, id))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no organisation"))
}

/// The signed-in user's id: these routes are a user's own (a token or a wall has no account).
fn own_account(caller: &Caller) -> Result<i64, ApiError> {
    caller.user.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "sign in with an account to set this up",
        )
    })
}

fn code(v: &Value) -> Result<String, ApiError> {
    v.get("code")
        .and_then(Value::as_str)
        .filter(|c| c.len() <= 16)
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::field(
                "code",
                "expected the 6-digit code of your authenticator app",
            )
        })
}

/// `POST /api/me/totp`: starts setting up a second factor; the secret and its `otpauth://`
/// address, to give an authenticator app. Nothing changes at sign-in until a code confirms it.
pub async fn totp_begin(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let id = own_account(&caller)?;
    let secret = crate::second_factor::new_secret();
    let pending = secret.clone();
    let login = state
        .service
        .ingest
        .write(move |w| {
            users::set_totp(w.connection(), id, None, Some(Some(&pending)), None)?;
            Ok(users::by_id(w.connection(), id)?.map(|u| u.login))
        })
        .await?
        .ok_or_else(no_such_user)?;
    let url =
        crate::second_factor::url(&secret, &login).ok_or_else(|| ApiError::internal("totp"))?;
    Ok(Json(json!({"secret": secret, "url": url})))
}

/// `PUT /api/me/totp` `{code}`: a first code confirms the secret; from then on, signing in
/// asks for a code as well.
pub async fn totp_confirm(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let id = own_account(&caller)?;
    let code = code(&object(&body)?)?;
    let now = state.service.clock.now();
    let on = audited(&state, &caller, "user.totp_on", move |c, _| {
        let t = users::totp(c, id)?;
        let Some(pending) = t.pending else {
            return Ok((None, None));
        };
        let Some(step) = crate::second_factor::verify(&pending, &code, now, None) else {
            return Ok((Some(false), None));
        };
        users::set_totp(c, id, Some(Some(&pending)), Some(None), Some(step))?;
        Ok((Some(true), Some(String::new())))
    })
    .await?;
    match on {
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "start with POST /api/me/totp",
        )),
        Some(false) => Err(code_mismatch()),
        Some(true) => Ok(Json(json!({"ok": true}))),
    }
}

/// `DELETE /api/me/totp` `{code}`: turns the second factor off (a current code proves the app
/// is at hand; an admin can also turn it off for someone who lost theirs).
pub async fn totp_off(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let id = own_account(&caller)?;
    let code = code(&object(&body)?)?;
    let now = state.service.clock.now();
    let off = audited(&state, &caller, "user.totp_off", move |c, _| {
        let t = users::totp(c, id)?;
        let Some(secret) = t.secret else {
            return Ok((true, None));
        };
        if crate::second_factor::verify(&secret, &code, now, t.step).is_none() {
            return Ok((false, None));
        }
        users::set_totp(c, id, Some(None), Some(None), None)?;
        Ok((true, Some(String::new())))
    })
    .await?;
    if off {
        Ok(Json(json!({"ok": true})))
    } else {
        Err(code_mismatch())
    }
}

/// The organisation's followed tokens, as `{id, hint}` (the one-way id, never the token).
pub(super) async fn org_tokens(state: &AppState, org: i64) -> Result<Vec<Value>, ApiError> {
    let ids = read(state, move |c| users::org_tokens(c, org)).await?;
    Ok(ids
        .into_iter()
        .filter(|id| state.service.follows(id))
        .map(|id| json!({"id": id.as_str(), "hint": state.service.hint(&id)}))
        .collect())
}

/// `GET /api/org/tokens` (admins): the organisation's tokens.
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let org = org(&state, &caller).await?;
    Ok(Json(json!({"tokens": org_tokens(&state, org).await?})))
}

/// `POST /api/org/tokens` `{token}` (admins): attaches another OVH token (another billing
/// account) to the organisation — checked with OVH and followed first, as at the login page.
/// A token that is already another organisation's, with people or links of its own, is
/// refused (409): its admins would lose it.
pub async fn attach_token(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddr(ip): ClientAddr,
    Body(body): Body,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let token = object(&body)?
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::field("token", "expected an OVH event token"))
        .and_then(|t| {
            crate::token::Token::parse(t).map_err(|e| ApiError::field("token", e.to_string()))
        })?;
    let id = token.id();
    let now = state.service.clock.now();
    if !state.service.follows(&id) {
        if let Err(refused) = super::login::follow_new(&state, token, ip, now).await? {
            return Ok(refused);
        }
    }
    let hint = state.service.hint(&id).unwrap_or_default();
    let attached = audited(&state, &caller, "org.token_attach", move |c, org| {
        match users::org_of_token(c, &id)? {
            Some(other) if other == org => {}
            Some(other) if !users::is_bare(c, other)? => return Ok((false, None)),
            _ => users::attach_token(c, org, &id)?,
        }
        Ok((true, Some(hint)))
    })
    .await?;
    if !attached {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "this token belongs to another organisation, with its own people: its admins keep it",
        ));
    }
    // The organisation's users who chose their own screen pop get it for this token too.
    state.service.ingest.reload_own_pops().await?;
    let org = org(&state, &caller).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"tokens": org_tokens(&state, org).await?})),
    )
        .into_response())
}

/// `PUT /api/me/token` `{id}`: a user with several tokens in the organisation chooses which
/// one the session shows (the page reloads its state: the live stream is per token).
pub async fn switch_token(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let key = match (&caller.session, caller.user) {
        (Some(s), Some(_)) => s.key.clone(),
        _ => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "only an account's session changes token; a token is its own",
            ))
        }
    };
    let wanted = object(&body)?
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiError::field("id", "expected a token id as /api/me lists them"))?;
    let org = org(&state, &caller).await?;
    let tokens = org_tokens(&state, org).await?;
    if !tokens.iter().any(|t| t["id"] == wanted.as_str()) {
        return Err(ApiError::field("id", "not a token of your organisation"));
    }
    let id = crate::token::TokenId::from_stored(wanted);
    let k = key.clone();
    let to = id.clone();
    state
        .service
        .ingest
        .write(move |w| users::switch_session(w.connection(), &k, &to))
        .await?;
    // Its streams follow the old token: end them, the page reconnects to the new one.
    close(&state, vec![key]);
    Ok(Json(json!({"token_hint": state.service.hint(&id)})))
}
