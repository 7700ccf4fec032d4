//! The part of the OpenAPI document about OVH's REST API (issue 11): the account's
//! connection, the agent board, agents' status and queues, click-to-call and live-call
//! actions.

use super::*;

fn int_or_null() -> Value {
    json!({"type": ["integer", "null"]})
}

pub(super) fn paths() -> Value {
    let agent_params = json!([
        {"name": "service", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 32}, "description": "The queue service's number."},
        {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}, "description": "OVH's id of the agent in that service."}
    ]);
    let mut queue_params = agent_params.clone();
    queue_params.as_array_mut().unwrap().push(json!({"name": "queue", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}, "description": "OVH's id of the queue in that service."}));
    json!({
        "/api/ovh": {
            "get": op("ovhAccess", "The organisation's access to OVH's REST API (admins)", vec![],
                json!({"200": answer("Its state; never a secret.", schema("OvhAccess"))}), &[401, 403]),
            "post": with_body(op("connectOvh", "Connect an OVH account: the service asks OVH for a consumer key and answers OVH's validation link (admins)", vec![],
                json!({"201": answer("Waiting for validation at OVH.", object(json!({"state": {"const": "pending"}, "validation_url": string()})))}), &[400, 401, 403, 409, 413, 429, 502, 503]),
                true, request(json!({"application_key": {"type": "string", "minLength": 1, "maxLength": 128}, "application_secret": {"type": "string", "minLength": 1, "maxLength": 128}}))),
            "delete": op("disconnectOvh", "Forget the organisation's OVH keys (admins)", vec![],
                json!({"200": answer("Forgotten.", schema("Ok"))}), &[401, 403, 404, 409, 503])
        },
        "/api/ovh/refresh": {"post": op("refreshOvh", "Discover the OVH account again now (supervisors)", vec![],
            json!({"202": answer("Asked.", schema("Ok"))}), &[401, 403, 409])},
        "/api/ovh/event-token": {"post": with_body(op("ovhEventToken", "Each billing account's event token, made (or rotated) through OVH's API and followed (admins)", vec![],
            json!({"200": answer("The tokens followed (never the tokens themselves).", object(json!({"tokens": array(object(json!({"id": string(), "hint": string_or_null()})))})))}), &[400, 401, 403, 409, 413, 429, 502, 503]),
            false, partial(json!({"rotate": {"type": ["boolean", "null"]}})))},
        "/api/agents": {"get": op("agents", "The agent board: each agent's status and OVH's live status, the queues' own counters (an agent sees their own rows)", vec![],
            json!({"200": answer("The board, or state off without an OVH account.", schema("AgentView"))}), READ)},
        "/api/agents/{service}/{id}": {
            "parameters": agent_params,
            "put": with_body(op("setAgentStatus", "Log an agent in or out, or put them on a break (supervisors; an agent for themselves)", vec![],
                json!({"200": answer("The board as now.", schema("AgentView"))}), &[400, 401, 403, 404, 409, 413, 429, 502, 503]),
                true, request(json!({"status": one_of(&["available", "onBreak", "loggedOut"]), "reason": int_or_null()})))
        },
        "/api/agents/{service}/{id}/queues/{queue}": {
            "parameters": queue_params,
            "put": op("joinQueue", "Add an agent to a queue (supervisors)", vec![],
                json!({"200": answer("The board as now.", schema("AgentView"))}), &[400, 401, 403, 404, 409, 429, 502, 503]),
            "delete": op("leaveQueue", "Take an agent out of a queue (supervisors)", vec![],
                json!({"200": answer("The board as now.", schema("AgentView"))}), &[400, 401, 403, 404, 409, 429, 502, 503])
        },
        "/api/click2call": {"post": with_body(op("click2call", "Call a number from a line of the account: OVH rings the line, then dials (agents from their own line)", vec![],
            json!({"200": answer("OVH is calling.", object(json!({"ok": {"const": true}, "line": string(), "number": string()})))}), &[400, 401, 403, 404, 409, 413, 429, 502, 503]),
            true, request(json!({"number": string(), "line": string()})))},
        "/api/live-calls": {"get": op("liveCalls", "The calls in the queues, as OVH lists them (supervisors)", vec![],
            json!({"200": answer("The calls.", object(json!({"calls": array(schema("QueueCall"))})))}), &[401, 403, 409, 429, 502])},
        "/api/live-calls/{service}/{queue}/{call}/{action}": {
            "parameters": [
                {"name": "service", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 32}},
                {"name": "queue", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}},
                {"name": "call", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}},
                {"name": "action", "in": "path", "required": true, "schema": one_of(&["eavesdrop", "whisper", "transfer", "hangup"])}
            ],
            "post": with_body(op("callAction", "Listen in, whisper, transfer or hang up a live queue call (supervisors)", vec![],
                json!({"200": answer("OVH's task.", object(json!({"task": schema("OvhTask")})))}), &[400, 401, 403, 404, 409, 413, 429, 502, 503]),
                false, partial(json!({"number": string(), "all": {"type": "boolean"}})))
        }
    })
}

pub(super) fn schemas() -> Value {
    json!({
        "CrossCheck": object(json!({
            "state": with_description(one_of(&["agree", "differ", "incomplete", "unknown"]), "The worst of the queues' verdicts: differ means events were lost."),
            "tolerance": count(),
            "queues": array(object(json!({
                "queue": string(),
                "since": time_or_null(),
                "ovh": schema("CrossCounts"),
                "ours": schema("CrossCounts"),
                "verdict": one_of(&["agree", "differ", "incomplete", "unknown"])
            })))
        })),
        "CrossCounts": object(json!({"total": count(), "answered": count()})),
        "OvhAccess": object(json!({
            "state": with_description(one_of(&["off", "pending", "discovering", "connected", "failing"]), "off: no account; pending: the consumer key waits for its owner's validation at OVH."),
            "source": {"type": ["string", "null"], "enum": ["config", "dashboard", null]},
            "application_key": string_or_null(),
            "validation_url": with_description(string_or_null(), "Where the key's owner validates it, while pending."),
            "last_error": string_or_null(),
            "discovered_at": time_or_null(),
            "expiration": with_description(string_or_null(), "When OVH ends the consumer key, if it does."),
            "problems": array(string()),
            "rules": array(object(json!({"method": string(), "path": string()})))
        })),
        "AgentView": object(json!({
            "state": one_of(&["off", "pending", "discovering", "connected", "failing"]),
            "board": {"oneOf": [schema("AgentBoard"), {"type": "null"}]},
            "discovered_at": time_or_null(),
            "last_error": string_or_null(),
            "cross_check": with_description(json!({"oneOf": [{"type": "null"}, schema("CrossCheck")]}),
                "OVH's queue counters against ours, as GET /api/health gives them.")
        })),
        "AgentBoard": object(json!({
            "agents": array(schema("BoardAgent")),
            "queues": array(schema("BoardQueue")),
            "breaks": {"type": "object", "additionalProperties": array(schema("BreakReason")), "description": "Break reasons by queue service."},
            "lines": array(object(json!({"number": string(), "simultaneous": int_or_null()})))
        })),
        "BoardAgent": object(json!({
            "service": string(),
            "id": {"type": "integer"},
            "number": string(),
            "description": string_or_null(),
            "status": with_description(string(), "Configured: available, onBreak or loggedOut."),
            "break_reason": {"oneOf": [schema("BreakReason"), {"type": "null"}]},
            "live": with_description(string_or_null(), "OVH's live status: waiting, receiving, inAQueueCall, onBreak or loggedOut; null until read."),
            "since": string_or_null(),
            "answered_calls": int_or_null(),
            "talk_time_s": int_or_null(),
            "queues": array(json!({"type": "integer"}))
        })),
        "BreakReason": object(json!({"id": {"type": "integer"}, "name": string(), "color": string_or_null()})),
        "BoardQueue": object(json!({
            "service": string(),
            "id": {"type": "integer"},
            "description": string_or_null(),
            "ovh": {"oneOf": [schema("OvhQueueStats"), {"type": "null"}]}
        })),
        "OvhQueueStats": object(json!({
            "callsTotal": {"type": "integer"},
            "callsAnswered": {"type": "integer"},
            "callsLost": {"type": "integer"},
            "totalCallDuration": int_or_null(),
            "totalWaitingDuration": int_or_null(),
            "lastReset": string_or_null()
        })),
        "QueueCall": object(json!({
            "service": string(),
            "queue_id": {"type": "integer"},
            "id": {"type": "integer"},
            "state": string(),
            "begin": string_or_null(),
            "answered": string_or_null(),
            "callerIdNumber": string_or_null(),
            "callerIdName": string_or_null(),
            "agent": string_or_null(),
            "queue": string_or_null(),
            "onHold": {"type": ["boolean", "null"]}
        })),
        "OvhTask": object(json!({"taskId": {"type": "integer"}, "action": string_or_null(), "status": string(), "message": string_or_null()}))
    })
}
