//! Live calls — the callers in a queue, waiting or talking to an agent (`…/queue/{q}/liveCalls`,
//! `…/agent/{a}/calls`) — and the supervisor's actions on them, each answered with a
//! `telephony.Task`.
//!
//! Actions change the traffic, so the feed shows them: `eavesdrop` and `whisper` ring the
//! supervisor's line (when it is one of the account's) until the call ends; `hangup` ends the
//! call; `transfer` (an answered call) and `intercept` (a waiting one) send it to another
//! number, whose phone rings when it is a line of the account; `hold` toggles `onHold`. An
//! action that cannot be done (a call already answered, a line with no free channel) gives a
//! task in `error` with the reason in `message`, as OVH's tasks do.

use serde_json::{json, Value};

use super::hunting::long;
use super::live::LiveCall;
use super::state::RestState;
use super::{json_object, only_keys, optional_object, phone, steer, ApiError, Ctx};
use crate::simulate::account::SimAccount;

/// `OvhPabxWhisperingModeEnum`.
const WHISPERING_MODES: [&str; 2] = ["Whisper to agent only", "Whisper to all participants"];

fn call_model(account: &SimAccount, rest: &RestState, c: &LiveCall) -> Value {
    let queue = &account.queues[c.q];
    let agent = c
        .agent
        .map(|a| account.lines[rest.agents[a].line].number.clone());
    json!({
        "id": c.id,
        "state": if c.answered_ns.is_some() { "Answered" } else { "Waiting" },
        "begin": super::iso(c.begin_ns),
        "answered": c.answered_ns.map(super::iso),
        "end": null,
        "callerIdNumber": c.caller,
        "callerIdName": c.caller,
        "destinationNumber": queue.number,
        "agent": agent,
        "queue": queue.description,
        "onHold": c.on_hold,
    })
}

/// The live calls of queue `q` — only those answered by agent `agent`, when given.
fn of<'a>(
    rest: &'a RestState,
    q: usize,
    agent: Option<usize>,
) -> impl Iterator<Item = &'a LiveCall> + 'a {
    rest.live
        .calls
        .iter()
        .filter(move |c| c.q == q && (agent.is_none() || c.agent == agent))
}

pub(super) fn list(ctx: &Ctx, q: usize, agent: Option<usize>) -> Value {
    let state = ctx.hub.state.lock();
    json!(of(&state.rest, q, agent).map(|c| c.id).collect::<Vec<_>>())
}

pub(super) fn get(ctx: &Ctx, q: usize, agent: Option<usize>, id: &str) -> Result<Value, ApiError> {
    let id = long(id, "id")?;
    let state = ctx.hub.state.lock();
    let rest = &state.rest;
    let found = of(rest, q, agent)
        .find(|c| c.id == id)
        .map(|c| call_model(&ctx.hub.account, rest, c));
    found.ok_or_else(|| ApiError::not_found("liveCalls"))
}

/// `POST …/{id}/{action}`.
pub(super) fn act(
    ctx: &Ctx,
    q: usize,
    agent: Option<usize>,
    id: &str,
    action: &str,
) -> Result<Value, ApiError> {
    let id = long(id, "id")?;
    let (body, keys): (_, &[&str]) = match action {
        "hold" | "hangup" => (optional_object(ctx.body)?, &[]),
        "whisper" => (json_object(ctx.body)?, &["number", "whisperingMode"]),
        "eavesdrop" | "intercept" | "transfer" => (json_object(ctx.body)?, &["number"]),
        _ => return Err(ApiError::no_route()),
    };
    only_keys(&body, keys)?;
    let number = if keys.contains(&"number") {
        Some(phone(&body, "number")?.ok_or_else(|| ApiError::bad_request("[number] is required"))?)
    } else {
        None
    };
    if action == "whisper" {
        let mode = body.get("whisperingMode").and_then(Value::as_str);
        if !mode.is_some_and(|m| WHISPERING_MODES.contains(&m)) {
            return Err(ApiError::bad_request(
                "[whisperingMode] must be \"Whisper to agent only\" or \"Whisper to all participants\"",
            ));
        }
    }
    let account = &ctx.hub.account;
    // The account's line with that number: the one the feed shows ringing.
    let line = number
        .as_ref()
        .and_then(|n| account.lines.iter().position(|l| &l.number == n));
    steer(ctx.hub, |gen, rest, now| {
        let call = rest
            .live
            .calls
            .iter()
            .position(|c| c.id == id && c.q == q && (agent.is_none() || c.agent == agent))
            .ok_or_else(|| ApiError::not_found("liveCalls"))?;
        let member = rest.live.calls[call].member.clone();
        let outcome = match action {
            "eavesdrop" | "whisper" => gen.supervise(&member, line, now),
            "intercept" => gen.intercept(&member, line, now),
            "transfer" => gen.transfer(&member, line, now),
            "hangup" => gen.hang_up(&member, now),
            _ => {
                let c = &mut rest.live.calls[call];
                c.on_hold = !c.on_hold;
                Ok(())
            }
        };
        Ok(rest
            .add_task(action, outcome.err().map(|e| e.message()))
            .to_json())
    })
}
