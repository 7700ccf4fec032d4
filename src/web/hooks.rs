//! The webhook and delivery-log routes: endpoints are created (the secret is in that answer
//! only), listed with their state, deleted, re-enabled and sent a test event; the delivery
//! log shows every attempt with its URL masked. Every write goes through the one writer.
//! What an endpoint stores is capped (`crate::limits`) and its address is checked when it is
//! created, so that nothing unsendable or oversized is queued, retried and logged.

use super::api::read;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{Body, Id};
use super::AppState;
use crate::hooks::outbox::{self, DeliveryFilter, Endpoint, Kind};
use crate::hooks::{sign, WEBHOOK_EVENTS};
use crate::limits;
use crate::store::users::Role;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEndpoint {
    url: String,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    description: String,
}

async fn parse_new(body: &[u8], state: &AppState) -> Result<NewEndpoint, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::field("webhook", "expected a JSON object {\"url\": …}"))?;
    let new: NewEndpoint = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // The path names a bad or unknown key; a missing one is only named in the message.
        let field = match message.strip_prefix("missing field `") {
            Some(rest) if path == "." => rest.split('`').next().unwrap_or("webhook").to_string(),
            _ if path == "." => "webhook".to_string(),
            _ => path,
        };
        ApiError::field(field, message)
    })?;
    crate::hooks::check_destination_now(state.service.hooks.guard(), &new.url)
        .await
        .map_err(|m| ApiError::field("url", m))?;
    if let Some(events) = &new.events {
        if events.is_empty() {
            return Err(ApiError::field(
                "events",
                "choose at least one event, or \"*\"",
            ));
        }
        crate::settings::check_names("events", events, WEBHOOK_EVENTS)?;
    }
    if new.description.chars().count() > limits::DESCRIPTION_CHARS {
        return Err(ApiError::field(
            "description",
            format!("at most {} characters", limits::DESCRIPTION_CHARS),
        ));
    }
    Ok(new)
}

fn too_many_endpoints() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "this token already has {} webhook endpoints, the most it may have: delete one first",
            limits::ENDPOINTS_PER_TOKEN
        ),
    )
}

/// `POST /api/webhooks` `{url, events?, description?}`: 201 with the endpoint and its secret.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let new = parse_new(&body, &state).await?;
    let events = new.events.unwrap_or_else(|| vec!["*".into()]);
    let secret = sign::new_secret();
    let now = state.service.clock.now();
    let token = caller.token.clone();
    let key = secret.clone();
    let created = state
        .service
        .ingest
        .write(move |w| {
            let conn = w.connection();
            if outbox::endpoints(conn, &token, false)?.len() >= limits::ENDPOINTS_PER_TOKEN {
                return Ok(None);
            }
            let ep = outbox::create_endpoint(
                conn,
                &token,
                &new.url,
                &new.description,
                &events,
                &key,
                now,
            )?;
            Ok(Some(ep))
        })
        .await?
        .ok_or_else(too_many_endpoints)?;
    let detail = format!("{} {}", created.id, crate::hooks::mask_url(&created.url));
    super::people::record(&state, &caller, "webhook.create", detail).await?;
    let mut v = serde_json::to_value(created).map_err(ApiError::internal)?;
    v["secret"] = Value::String(secret);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `GET /api/webhooks`: the endpoints, without their secrets.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let token = caller.token.clone();
    let endpoints: Vec<Endpoint> =
        read(&state, move |c| outbox::endpoints(c, &token, false)).await?;
    Ok(Json(json!({ "webhooks": endpoints })))
}

fn no_such_endpoint() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such webhook endpoint")
}

/// `DELETE /api/webhooks/{id}`: 204; its pending deliveries are dropped.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let now = state.service.clock.now();
    let token = caller.token.clone();
    let deleted = state
        .service
        .ingest
        .write(move |w| outbox::delete_endpoint(w.connection(), &token, id, now))
        .await?;
    if deleted {
        super::people::record(&state, &caller, "webhook.delete", id.to_string()).await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_such_endpoint())
    }
}

/// `POST /api/webhooks/{id}/enable`: turns a disabled endpoint back on.
pub async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<Endpoint>, ApiError> {
    caller.require(Role::Admin)?;
    let token = caller.token.clone();
    let ep = state
        .service
        .ingest
        .write(move |w| {
            outbox::enable_endpoint(w.connection(), &token, id)?;
            outbox::endpoint_by_id(w.connection(), &token, id)
        })
        .await?
        .ok_or_else(no_such_endpoint)?;
    super::people::record(&state, &caller, "webhook.enable", id.to_string()).await?;
    Ok(Json(ep))
}

/// `POST /api/webhooks/{id}/test`: queues a signed test event (202); its result shows in
/// the delivery log under the `webhook_id` answered.
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let now = state.service.clock.now();
    let token = caller.token.clone();
    let webhook_id = state
        .service
        .ingest
        .write(move |w| crate::hooks::enqueue_test(w.connection(), &token, id, now))
        .await?
        .ok_or_else(no_such_endpoint)?;
    state.service.hooks.nudge();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"queued": true, "webhook_id": webhook_id})),
    )
        .into_response())
}

/// `GET /api/deliveries?kind=pop|webhook&endpoint=ID&limit=N&cursor=C`: newest first.
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let kind = match q.get("kind").map(String::as_str) {
        None | Some("") => None,
        Some("pop") => Some(Kind::Pop),
        Some("webhook") => Some(Kind::Webhook),
        Some(_) => return Err(ApiError::field("kind", "expected pop or webhook")),
    };
    let int = |name: &str| -> Result<Option<i64>, ApiError> {
        q.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::field(name, "expected a whole number"))
            })
            .transpose()
    };
    let limit = int("limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("limit", "expected 1 to 1000"));
    }
    let filter = DeliveryFilter {
        kind,
        endpoint: int("endpoint")?,
        before_id: int("cursor")?,
        limit: limit as usize,
    };
    let token = caller.token.clone();
    let (rows, next) = read(&state, move |c| outbox::deliveries(c, &token, &filter)).await?;
    Ok(Json(
        json!({"deliveries": rows, "next": next.map(|n| n.to_string())}),
    ))
}
