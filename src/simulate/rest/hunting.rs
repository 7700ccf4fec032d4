//! The `HUNT/hunting/…` subtree, the same for `easyHunting/{sn}` and `ovhPabx/{sn}`: the
//! hunting settings, break statuses, the service's queue, its agents (status, settings,
//! queues, live status) and the queue's live figures.
//!
//! Each hunting service of the simulated account has exactly one queue, whose `queueId` is
//! the queue's OVH id. The agents are the account's lines that answer queue calls, shared by
//! both services (see `crate::simulate`): an agent's status applies to every queue it is in.
//! Changing an agent's status or its queues tells the traffic generator at once.

use serde_json::{json, Map, Value};

use super::state::{AgentStatus, Member, RestState, CUSTOM_STATUSES};
use super::{calls, iso, json_object, only_keys, steer, ApiError, Ctx, MAX_TEXT};
use crate::simulate::account::{SimAccount, SimQueue};

/// The `queueId` of a queue: its OVH id, a number.
pub(super) fn queue_id(queue: &SimQueue) -> i64 {
    queue.id.parse().unwrap_or(0)
}

/// A path id that must be a long.
pub(super) fn long(s: &str, name: &str) -> Result<i64, ApiError> {
    s.parse()
        .map_err(|_| ApiError::bad_request(&format!("[{name}] is not a long")))
}

fn agent_model(account: &SimAccount, rest: &RestState, a: usize) -> Value {
    let agent = &rest.agents[a];
    json!({
        "agentId": agent.id,
        "number": account.lines[agent.line].number,
        "description": agent.description,
        "status": agent.status.as_str(),
        "breakStatus": agent.break_status,
        "simultaneousLines": agent.simultaneous,
        "timeout": agent.timeout,
        "wrapUpTime": agent.wrap_up,
        "type": "internal",
    })
}

fn queue_model(queue: &SimQueue) -> Value {
    json!({
        "queueId": queue_id(queue),
        "description": queue.description,
        "strategy": "ringAll",
        "maxMember": 10,
        "maxWaitTime": queue.max_wait_s,
        "actionOnClosure": null,
        "actionOnClosureParam": null,
        "actionOnOverflow": null,
        "actionOnOverflowParam": null,
        "followCallForwards": false,
        "record": false,
        "askForRecordDisabling": false,
        "recordDisablingDigit": null,
        "recordDisablingLanguage": null,
        "confirmKey": null,
        "soundOnHold": null,
    })
}

fn membership(rest: &RestState, account: &SimAccount, q: usize, m: &Member) -> Value {
    json!({
        "agentId": rest.agents[m.agent].id,
        "queueId": queue_id(&account.queues[q]),
        "position": m.position,
    })
}

/// `HUNT/hunting…` for the service of queue `q`.
pub(super) fn route(ctx: &Ctx, q: usize, path: &[&str]) -> Result<Value, ApiError> {
    let account = &ctx.hub.account;
    let queue = &account.queues[q];
    match (ctx.method.as_str(), path) {
        ("GET", []) => Ok(json!({
            "name": queue.description,
            "statusIvrEnabled": false,
            "crmUrlTemplate": null,
            "g729": false,
        })),
        ("GET", ["customStatus"]) => Ok(json!(CUSTOM_STATUSES
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>())),
        ("GET", ["customStatus", id]) => {
            let id = long(id, "id")?;
            let s = CUSTOM_STATUSES
                .iter()
                .find(|s| s.id == id)
                .ok_or_else(|| ApiError::not_found("customStatus"))?;
            Ok(json!({
                "id": s.id,
                "name": s.name,
                "description": s.description,
                "color": s.color,
            }))
        }
        ("GET", ["queue"]) => Ok(json!([queue_id(queue)])),
        (_, ["queue", id, rest @ ..]) => {
            if long(id, "queueId")? != queue_id(queue) {
                return Err(ApiError::not_found("queue"));
            }
            queue_route(ctx, q, rest)
        }
        ("GET", ["agent"]) => {
            let state = ctx.hub.state.lock();
            Ok(json!(state
                .rest
                .agents
                .iter()
                .map(|a| a.id)
                .collect::<Vec<_>>()))
        }
        (_, ["agent", id, rest @ ..]) => {
            let id = long(id, "agentId")?;
            let agent = ctx
                .hub
                .state
                .lock()
                .rest
                .agents
                .iter()
                .position(|a| a.id == id)
                .ok_or_else(|| ApiError::not_found("agent"))?;
            agent_route(ctx, q, agent, rest)
        }
        _ => Err(ApiError::no_route()),
    }
}

fn queue_route(ctx: &Ctx, q: usize, path: &[&str]) -> Result<Value, ApiError> {
    let hub = ctx.hub;
    match (ctx.method.as_str(), path) {
        ("GET", []) => Ok(queue_model(&hub.account.queues[q])),
        ("GET", ["agent"]) => {
            let state = hub.state.lock();
            let rest = &state.rest;
            Ok(json!(rest.members[q]
                .iter()
                .map(|m| rest.agents[m.agent].id)
                .collect::<Vec<_>>()))
        }
        ("GET", ["liveStatistics"]) => {
            let now = hub.pace.lock().traffic_ns();
            let mut state = hub.state.lock();
            let rest = &mut state.rest;
            rest.roll_day(now);
            let f = &rest.live.figures[q];
            Ok(json!({
                "callsTotal": f.total,
                "callsAnswered": f.answered,
                "callsLost": f.lost,
                "totalCallDuration": f.talk_s,
                "totalWaitingDuration": f.wait_s,
                "lastReset": iso(rest.live.last_reset_ns),
            }))
        }
        ("GET", ["liveCalls"]) => Ok(calls::list(ctx, q, None)),
        ("GET", ["liveCalls", id]) => calls::get(ctx, q, None, id),
        ("POST", ["liveCalls", id, action]) => calls::act(ctx, q, None, id, action),
        _ => Err(ApiError::no_route()),
    }
}

fn agent_route(ctx: &Ctx, q: usize, a: usize, path: &[&str]) -> Result<Value, ApiError> {
    let hub = ctx.hub;
    let account = &hub.account;
    let qid = queue_id(&account.queues[q]);
    match (ctx.method.as_str(), path) {
        ("GET", []) => Ok(agent_model(account, &hub.state.lock().rest, a)),
        ("PUT", []) => update_agent(ctx, a),
        ("GET", ["liveStatus"]) => {
            let now = hub.pace.lock().traffic_ns();
            let mut state = hub.state.lock();
            state.rest.roll_day(now);
            let agent = &state.rest.agents[a];
            Ok(json!({
                "status": agent.live,
                "lastStatusChange": iso(agent.changed_ns),
                "answeredCalls": agent.answered,
                "totalCallDuration": agent.talk_s,
            }))
        }
        ("GET", ["queue"]) => {
            let state = hub.state.lock();
            let member = state.rest.members[q].iter().any(|m| m.agent == a);
            Ok(json!(if member { vec![qid] } else { Vec::new() }))
        }
        ("POST", ["queue"]) => join_queue(ctx, q, a),
        (method @ ("GET" | "DELETE"), ["queue", id]) => {
            if long(id, "queueId")? != qid {
                return Err(ApiError::not_found("queue"));
            }
            if method == "GET" {
                let state = hub.state.lock();
                let rest = &state.rest;
                let m = rest.members[q]
                    .iter()
                    .find(|m| m.agent == a)
                    .ok_or_else(|| ApiError::not_found("queue"))?;
                return Ok(membership(rest, account, q, m));
            }
            steer(hub, |gen, rest, now| {
                let before = rest.members[q].len();
                rest.members[q].retain(|m| m.agent != a);
                if rest.members[q].len() == before {
                    return Err(ApiError::not_found("queue"));
                }
                gen.set_members(q, rest.member_lines(q), now);
                Ok(Value::Null)
            })
        }
        ("GET", ["calls"]) => Ok(calls::list(ctx, q, Some(a))),
        ("GET", ["calls", id]) => calls::get(ctx, q, Some(a), id),
        ("POST", ["calls", id, action]) => calls::act(ctx, q, Some(a), id, action),
        _ => Err(ApiError::no_route()),
    }
}

/// A long field of a body, within `range`.
fn long_field(
    body: &Map<String, Value>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, ApiError> {
    match body.get(key) {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad_request(&format!(
                "[{key}] must be a whole number from {} to {}",
                range.start(),
                range.end()
            ))),
        },
    }
}

/// `PUT HUNT/hunting/agent/{id}`: a partial `OvhPabxHuntingAgent`. Checked whole before any
/// of it is applied; read-only fields are refused.
fn update_agent(ctx: &Ctx, a: usize) -> Result<Value, ApiError> {
    let body = json_object(ctx.body)?;
    for read_only in ["agentId", "number", "type"] {
        if body.contains_key(read_only) {
            return Err(ApiError::bad_request(&format!(
                "[{read_only}] is read-only"
            )));
        }
    }
    only_keys(
        &body,
        &[
            "status",
            "breakStatus",
            "description",
            "timeout",
            "wrapUpTime",
            "simultaneousLines",
        ],
    )?;
    let status = match body.get("status") {
        None => None,
        Some(v) => Some(v.as_str().and_then(AgentStatus::parse).ok_or_else(|| {
            ApiError::bad_request("[status] must be one of available, loggedOut, onBreak")
        })?),
    };
    let break_status = match body.get("breakStatus") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => match v.as_i64() {
            Some(id) if CUSTOM_STATUSES.iter().any(|s| s.id == id) => Some(Some(id)),
            _ => {
                return Err(ApiError::bad_request(
                    "[breakStatus] is not a custom status of this service",
                ))
            }
        },
    };
    let description = match body.get("description") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.len() <= MAX_TEXT => Some(Some(s.clone())),
        Some(_) => {
            return Err(ApiError::bad_request(&format!(
                "[description] must be a string of at most {MAX_TEXT} bytes"
            )))
        }
    };
    let timeout = long_field(&body, "timeout", 1..=600)?;
    let wrap_up = long_field(&body, "wrapUpTime", 0..=3_600)?;
    let simultaneous = long_field(&body, "simultaneousLines", 1..=10)?;
    steer(ctx.hub, |gen, rest, now| {
        let agent = &mut rest.agents[a];
        if let Some(s) = status {
            agent.status = s;
            // A break status belongs to a break: leaving it (with none given) clears it.
            if s != AgentStatus::OnBreak && break_status.is_none() {
                agent.break_status = None;
            }
        }
        if let Some(b) = break_status {
            agent.break_status = b;
        }
        if let Some(d) = description {
            agent.description = d;
        }
        agent.timeout = timeout.unwrap_or(agent.timeout);
        agent.wrap_up = wrap_up.unwrap_or(agent.wrap_up);
        agent.simultaneous = simultaneous.unwrap_or(agent.simultaneous);
        agent.refresh(now);
        gen.set_away(agent.line, agent.away(), now);
        Ok(Value::Null)
    })
}

/// `POST HUNT/hunting/agent/{id}/queue`: `{queueId, position}` adds the agent to the queue.
fn join_queue(ctx: &Ctx, q: usize, a: usize) -> Result<Value, ApiError> {
    let body = json_object(ctx.body)?;
    only_keys(&body, &["queueId", "position"])?;
    let qid = queue_id(&ctx.hub.account.queues[q]);
    match body.get("queueId").and_then(Value::as_i64) {
        Some(id) if id == qid => {}
        Some(_) => return Err(ApiError::not_found("queue")),
        None => return Err(ApiError::bad_request("[queueId] is required")),
    }
    let Some(position) = long_field(&body, "position", 0..=1_000)? else {
        return Err(ApiError::bad_request("[position] is required"));
    };
    steer(ctx.hub, |gen, rest, now| {
        if rest.members[q].iter().any(|m| m.agent == a) {
            return Err(ApiError::conflict("The agent is already in this queue"));
        }
        let member = Member { agent: a, position };
        rest.members[q].push(member);
        // Stable: agents at the same position keep the order they joined in.
        rest.members[q].sort_by_key(|m| m.position);
        gen.set_members(q, rest.member_lines(q), now);
        Ok(membership(rest, &ctx.hub.account, q, &member))
    })
}
