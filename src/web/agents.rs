//! The agent board and what people do through OVH's REST API (issue 11): `GET /api/agents`
//! (everyone; an agent sees the rows of their own lines), an agent's status and queues
//! (`PUT /api/agents/{service}/{id}` — supervisors for anyone, agents for themselves —, and
//! `PUT|DELETE …/queues/{queue}` for supervisors), click-to-call (`POST /api/click2call`, from
//! the caller's own line for an agent), and a live queue call's list and actions
//! (`/api/live-calls…`, supervisors). Each action is written to the audit log.

use super::auth::Caller;
use super::error::ApiError;
use super::extract::Body;
use super::ovh::{in_time, supervisor};
use super::people::{json_object, record};
use super::AppState;
use crate::store::users::Role;
use crate::supervise::actions::{number, CallAction};
use crate::supervise::OrgSupervisor;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// `GET /api/agents`: the board, or `{"state": "off"}` without an OVH account.
pub async fn board(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let org = super::people::org(&state, &caller).await?;
    let Some(sup) = state.supervision.get(org) else {
        return Ok(Json(
            json!({"state": "off", "board": null, "discovered_at": null, "last_error": null, "cross_check": null}),
        ));
    };
    Ok(Json(scoped_view(&sup, &caller)))
}

/// The board as `caller` may see it: an agent (or a wall limited to some numbers) sees only
/// their own rows and queues, in every answer as on the stream.
fn scoped_view(sup: &OrgSupervisor, caller: &Caller) -> Value {
    let mut view = sup.view(&caller.token);
    if let Some(scope) = &caller.scope {
        scope.agents(&mut view);
    }
    view
}

/// Supervisors act on anyone; an agent on their own rows (their line is the agent's number).
fn may_act_on(caller: &Caller, agent_number: &str) -> Result<(), ApiError> {
    if caller.role >= Role::Supervisor {
        return Ok(());
    }
    caller.require(Role::Agent)?;
    if caller.sees(agent_number) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "an agent changes their own status only",
        ))
    }
}

fn id(raw: &str, field: &'static str) -> Result<i64, ApiError> {
    raw.parse()
        .ok()
        .filter(|n: &i64| *n >= 0)
        .ok_or_else(|| ApiError::field(field, "expected OVH's id, a whole number"))
}

/// `PUT /api/agents/{service}/{id}` `{status, reason}`: log in (`available`), out
/// (`loggedOut`), or put on a break (`onBreak`, with a break reason's id).
pub async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path((service, agent)): Path<(String, String)>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Agent)?;
    let agent = id(&agent, "id")?;
    let v = json_object(&body, "agent")?;
    let status = v
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::field("status", "expected available, onBreak or loggedOut"))?
        .to_string();
    let reason = match v.get("reason") {
        None | Some(Value::Null) => None,
        Some(r) => Some(
            r.as_i64()
                .ok_or_else(|| ApiError::field("reason", "expected a break reason's id"))?,
        ),
    };
    let sup = supervisor(&state, &caller).await?;
    let found = sup.agent(&service, agent).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no agent {agent} in {}", crate::limits::quoted(&service)),
        )
    })?;
    may_act_on(&caller, &found.number)?;
    in_time(sup.set_agent_status(&service, agent, &status, reason)).await?;
    record(
        &state,
        &caller,
        "agent.status",
        format!(
            "{} ({service}/{agent}): {status}{}",
            found.number,
            reason.map(|r| format!(", reason {r}")).unwrap_or_default()
        ),
    )
    .await?;
    state.supervision.published(&sup).await;
    Ok(Json(scoped_view(&sup, &caller)))
}

/// `PUT /api/agents/{service}/{id}/queues/{queue}` (join) and `DELETE` (leave): supervisors.
pub async fn join_queue(
    State(state): State<AppState>,
    caller: Caller,
    Path((service, agent, queue)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    membership(state, caller, service, agent, queue, true).await
}

pub async fn leave_queue(
    State(state): State<AppState>,
    caller: Caller,
    Path((service, agent, queue)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    membership(state, caller, service, agent, queue, false).await
}

async fn membership(
    state: AppState,
    caller: Caller,
    service: String,
    agent: String,
    queue: String,
    join: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Supervisor)?;
    let (agent, queue) = (id(&agent, "id")?, id(&queue, "queue")?);
    let sup = supervisor(&state, &caller).await?;
    in_time(sup.set_agent_queue(&service, agent, queue, join)).await?;
    let action = if join {
        "agent.queue_join"
    } else {
        "agent.queue_leave"
    };
    record(
        &state,
        &caller,
        action,
        format!("{service}/{agent}: queue {queue}"),
    )
    .await?;
    state.supervision.published(&sup).await;
    Ok(Json(scoped_view(&sup, &caller)))
}

/// `POST /api/click2call` `{number, line}`: OVH rings `line` (for an agent: their own, the
/// first by default), then dials `number`.
pub async fn click2call(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Agent)?;
    let v = json_object(&body, "click2call")?;
    let called = number(
        "number",
        v.get("number").and_then(Value::as_str).unwrap_or_default(),
    )?;
    let line = match v.get("line").and_then(Value::as_str) {
        Some(l) => number("line", l)?,
        None => match &caller.scope {
            Some(_) => own_lines(&state, &caller)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    ApiError::field("line", "you have no line to call from: ask an admin")
                })?,
            None => return Err(ApiError::field("line", "expected the line to call from")),
        },
    };
    if caller.role == Role::Agent && !own_lines(&state, &caller).await?.contains(&line) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "an agent calls from their own line only",
        ));
    }
    let sup = supervisor(&state, &caller).await?;
    in_time(sup.click2call(&line, &called)).await?;
    record(
        &state,
        &caller,
        "call.click2call",
        format!("{line} → {called}"),
    )
    .await?;
    Ok(Json(json!({"ok": true, "line": line, "number": called})))
}

/// An agent's own lines (not their queues).
async fn own_lines(state: &AppState, caller: &Caller) -> Result<Vec<String>, ApiError> {
    let Some(id) = caller.user else {
        return Ok(Vec::new());
    };
    let user = super::api::read(state, move |c| crate::store::users::by_id(c, id)).await?;
    Ok(user.map(|u| u.lines).unwrap_or_default())
}

/// `GET /api/live-calls` (supervisors): the calls in the queues, as OVH lists them.
pub async fn live_calls(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Supervisor)?;
    let sup = supervisor(&state, &caller).await?;
    Ok(Json(json!({"calls": in_time(sup.live_calls()).await?})))
}

/// `POST /api/live-calls/{service}/{queue}/{call}/{action}` (supervisors): `eavesdrop`
/// `{number}` and `whisper` `{number, all}` from a line of the account, `transfer`
/// `{number}`, `hangup`; OVH's task.
pub async fn call_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((service, queue, call, action)): Path<(String, String, String, String)>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Supervisor)?;
    let (queue, call) = (id(&queue, "queue")?, id(&call, "call")?);
    let v = if body.is_empty() {
        json!({})
    } else {
        json_object(&body, "action")?
    };
    let n = || -> Result<String, ApiError> {
        v.get("number")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::field("number", "expected a phone number"))
    };
    let act = match action.as_str() {
        "eavesdrop" => CallAction::Eavesdrop { number: n()? },
        "whisper" => CallAction::Whisper {
            number: n()?,
            all: v.get("all").and_then(Value::as_bool).unwrap_or(false),
        },
        "transfer" => CallAction::Transfer { number: n()? },
        "hangup" => CallAction::Hangup,
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no such action: eavesdrop, whisper, transfer or hangup",
            ))
        }
    };
    let sup = supervisor(&state, &caller).await?;
    let task = in_time(sup.call_action(&service, queue, call, &act)).await?;
    record(
        &state,
        &caller,
        match act {
            CallAction::Eavesdrop { .. } => "call.eavesdrop",
            CallAction::Whisper { .. } => "call.whisper",
            CallAction::Transfer { .. } => "call.transfer",
            CallAction::Hangup => "call.hangup",
        },
        format!(
            "{service} queue {queue} call {call}: task {} {}",
            task.task_id, task.status
        ),
    )
    .await?;
    Ok(Json(json!({"task": task})))
}
