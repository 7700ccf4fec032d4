//! `/api/ovh` (issue 11): an organisation's access to OVH's REST API, for its admins —
//! connecting an account (the application key and secret typed once; the service asks OVH
//! for a consumer key with the rules it needs and shows OVH's validation link, then notices
//! the validation by itself), its state, forgetting it, discovering again, and the event
//! token made (or rotated) through the API and followed at once. Secrets are never shown
//! again: the answers carry the application key only.

use super::auth::Caller;
use super::error::ApiError;
use super::extract::Body;
use super::people::{audited, json_object, org, record};
use super::AppState;
use crate::store::users::{self, Role};
use crate::supervise::{access_rules, OrgSupervisor};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// The organisation's supervisor, or `409` when it connected no account.
pub(super) async fn supervisor(
    state: &AppState,
    caller: &Caller,
) -> Result<Arc<OrgSupervisor>, ApiError> {
    let org = org(state, caller).await?;
    state.supervision.get(org).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "no OVH account is connected: an admin connects one (POST /api/ovh)",
        )
    })
}

/// The longest a person waits for OVH's answer to what they asked: their action or list is
/// refused, said so, rather than left hanging (each request also waits for its place in the
/// budget).
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(9);

/// `work` (one or more requests to OVH), or `429` when it takes longer than `ANSWER_WITHIN`.
pub(super) async fn in_time<T, E: Into<ApiError>>(
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(ANSWER_WITHIN, work).await {
        Ok(done) => done.map_err(Into::into),
        // Most often the budget, spent by other requests: the caller is asked to slow down.
        Err(_) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "OVH's API did not answer in time, or the service's budget of requests to it is spent: try again in a moment",
        )),
    }
}

fn status(sup: Option<&OrgSupervisor>) -> Value {
    let Some(sup) = sup else {
        return json!({"state": "off", "source": null, "application_key": null,
            "validation_url": null, "last_error": null, "discovered_at": null,
            "expiration": null, "problems": [], "rules": access_rules()});
    };
    let state = sup.state();
    let k = sup.known.read();
    json!({
        "state": state,
        "source": sup.source,
        "application_key": sup.client.keys().application_key,
        "validation_url": k.validation_url,
        "last_error": k.last_error,
        "discovered_at": k.discovered_at.map(crate::clock::rfc3339),
        "expiration": k.credential.as_ref().and_then(|c| c.expiration.clone()),
        "problems": k.directory.as_ref().map(|d| d.problems.clone()).unwrap_or_default(),
        "rules": access_rules(),
    })
}

/// `GET /api/ovh` (admins).
pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let org = org(&state, &caller).await?;
    Ok(Json(status(state.supervision.get(org).as_deref())))
}

/// A key as typed: 1 to 128 visible ASCII characters.
fn key(v: &Value, field: &'static str) -> Result<String, ApiError> {
    v.get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 128 && k.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::field(
                field,
                "expected the key as OVH shows it (1 to 128 characters)",
            )
        })
}

fn configured() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "this organisation's OVH keys come from the service's configuration: change them there",
    )
}

/// `POST /api/ovh` `{application_key, application_secret}` (admins): `201` with OVH's
/// validation link; the account is used once its owner validated the key there.
pub async fn connect(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let v = json_object(&body, "ovh")?;
    let (ak, secret) = (key(&v, "application_key")?, key(&v, "application_secret")?);
    let org = org(&state, &caller).await?;
    if state.supervision.configured(org) {
        return Err(configured());
    }
    // Back to the dashboard once validated, when it knows its own address.
    let redirection = headers
        .get("origin")
        .and_then(|o| o.to_str().ok())
        .and_then(dashboard_after_validation);
    let url = state
        .supervision
        .connect(org, ak.clone(), secret, redirection)
        .await
        .map_err(|e| ApiError::from(crate::supervise::actions::ActionError::Ovh(e)))?;
    record(
        &state,
        &caller,
        "ovh.connect",
        format!("application key {ak}"),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"state": "pending", "validation_url": url})),
    )
        .into_response())
}

/// `DELETE /api/ovh` (admins): the keys are forgotten.
pub async fn disconnect(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let org = org(&state, &caller).await?;
    if state.supervision.configured(org) {
        return Err(configured());
    }
    if !state.supervision.disconnect(org).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no OVH account is connected",
        ));
    }
    record(&state, &caller, "ovh.disconnect", String::new()).await?;
    Ok(Json(json!({"ok": true})))
}

/// `POST /api/ovh/refresh` (supervisors): discover the account again now.
pub async fn refresh(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Supervisor)?;
    supervisor(&state, &caller).await?.rediscover();
    Ok((StatusCode::ACCEPTED, Json(json!({"ok": true}))).into_response())
}

/// `POST /api/ovh/event-token` `{rotate}` (admins): each billing account's event token — the
/// one OVH has, or a new one (`unlimited`), or with `rotate` a new one replacing it — followed
/// at once and attached to the organisation; a replaced one is no longer followed (its
/// history stays, under it).
pub async fn event_token(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let v = if body.is_empty() {
        json!({})
    } else {
        json_object(&body, "event_token")?
    };
    let rotate = match v.get("rotate") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::field("rotate", "expected true or false")),
    };
    let sup = supervisor(&state, &caller).await?;
    let made = in_time(sup.event_tokens(rotate)).await?;
    let mut answer = Vec::new();
    for (raw, old) in made {
        let token = crate::token::Token::parse(&raw).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "OVH answered an event token that is not one",
            )
        })?;
        let id = token.id();
        if !state.service.follows(&id) {
            if state.service.followed_count() >= state.max_tokens {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "this service already follows as many tokens as it is allowed to",
                ));
            }
            state.service.follow(token, "login").await?;
        }
        let attach = id.clone();
        audited(
            &state,
            &caller,
            if rotate {
                "ovh.event_token_rotate"
            } else {
                "ovh.event_token"
            },
            move |c, org| {
                users::attach_token(c, org, &attach)?;
                Ok(((), Some(format!("token {}", &attach.as_str()[..8]))))
            },
        )
        .await?;
        if let Some(old) = old.and_then(|o| crate::token::Token::parse(&o).ok()) {
            // OVH revoked it: the new one carries on with what it recorded, and it is no
            // longer followed.
            state.service.carry_over(&old.id(), &id).await?;
        }
        answer.push(json!({"id": id.as_str(), "hint": state.service.hint(&id)}));
    }
    Ok(Json(json!({"tokens": answer})))
}

/// Where OVH sends the account's owner back after validating: this dashboard's OVH view, from
/// the request's `Origin` — only a plain `http(s)://host[:port]` of reasonable length (it is
/// forwarded to OVH and shown on its page), else nowhere.
fn dashboard_after_validation(origin: &str) -> Option<String> {
    if origin.len() > 200 {
        return None;
    }
    let url = reqwest::Url::parse(origin).ok()?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && url.host_str().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    plain.then(|| format!("{}/ovh", url.origin().ascii_serialization()))
}

#[cfg(test)]
mod tests {
    use super::dashboard_after_validation as back;

    #[test]
    fn only_a_plain_origin_becomes_the_way_back_from_ovh_s_validation_page() {
        assert_eq!(
            back("https://cti.example.com").as_deref(),
            Some("https://cti.example.com/ovh")
        );
        assert_eq!(
            back("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080/ovh")
        );
        for bad in [
            "null",
            "javascript:alert(1)",
            "https://user:pw@cti.example.com",
            "https://cti.example.com/x?y",
            "ftp://cti.example.com",
            &format!("https://{}.com", "a".repeat(250)),
        ] {
            assert_eq!(back(bad), None, "{bad}");
        }
    }
}
