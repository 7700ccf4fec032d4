//! The OpenAPI 3.1 document of the HTTP API, served at `GET /api/openapi.json` (no login: it
//! describes the API and holds nothing of anyone's). It is written here, beside the router,
//! rather than derived from the handlers: the handlers build their answers from several
//! structs and `json!` objects, and one readable document is easier to keep true. Two tests
//! keep it so: its routes must be the router's, and real answers must match its schemas
//! (`tests/api/openapi.rs`); CI also runs schemathesis against a live demo with it.
//!
//! Objects are closed (`additionalProperties: false`) and list every field as required: a
//! field added to an answer without being documented here fails those tests.

mod ovh;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

static DOCUMENT: LazyLock<String> = LazyLock::new(|| document().to_string());

/// `GET /api/openapi.json`.
pub async fn serve() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
        .into_response()
}

/// The document, as a JSON value (the tests read it too).
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "ovh-cti",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Live state, history, figures, screen pops and webhooks of OVHcloud telephony lines and call queues.",
            "description": "Every route, field and error is described in prose in docs/api.md. Times are RFC 3339 in UTC; durations are seconds; phone numbers are strings as OVH writes them (`0033…`). A caller sees only the numbers whose events came through its token.",
            "license": {"name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0"}
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An OVH event token the service follows."},
                "session": {"type": "apiKey", "in": "cookie", "name": "ovh_cti_session", "description": "The cookie set by POST /api/login. A POST, PUT or DELETE with it must come from the dashboard's own origin."}
            },
            "parameters": parameters(),
            "responses": responses(),
            "schemas": schemas(),
        }
    })
}

// ---- building blocks ----

fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn param(name: &str) -> Value {
    json!({"$ref": format!("#/components/parameters/{name}")})
}

fn params(names: &[&str]) -> Vec<Value> {
    names.iter().map(|n| param(n)).collect()
}

fn string() -> Value {
    json!({"type": "string"})
}

fn string_or_null() -> Value {
    json!({"type": ["string", "null"]})
}

fn time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn time_or_null() -> Value {
    json!({"type": ["string", "null"], "format": "date-time"})
}

fn count() -> Value {
    json!({"type": "integer", "minimum": 0})
}

fn seconds() -> Value {
    json!({"type": "number", "minimum": 0})
}

fn number_or_null() -> Value {
    json!({"type": ["number", "null"]})
}

fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

fn role() -> Value {
    one_of(&["admin", "supervisor", "agent", "viewer"])
}

fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

/// The names of an object's fields, every one of them required.
fn names(fields: &Value) -> Vec<&String> {
    fields
        .as_object()
        .map(Map::keys)
        .into_iter()
        .flatten()
        .collect()
}

/// A closed object whose every field is always present (`null` where it has no value).
fn object(fields: Value) -> Value {
    json!({"type": "object", "additionalProperties": false, "required": names(&fields), "properties": fields})
}

fn with_description(mut v: Value, description: &str) -> Value {
    v["description"] = json!(description);
    v
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

/// A `200` (or other) answer with a JSON body.
fn answer(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": json_content(schema)})
}

/// A page of `key` items with the cursor of the next page.
fn page(key: &str, item: &str) -> Value {
    let mut fields = Map::new();
    fields.insert(key.to_string(), array(schema(item)));
    fields.insert(
        "next".into(),
        with_description(
            string_or_null(),
            "The cursor of the next page (`cursor=`), or null on the last one.",
        ),
    );
    object(Value::Object(fields))
}

/// An operation: its id, summary, parameters and answers; the shared refusals named in
/// `errors` (by status) are added from `components/responses`.
fn op(id: &str, summary: &str, parameters: Vec<Value>, ok: Value, errors: &[u16]) -> Value {
    let mut responses = ok;
    for status in errors {
        let name = match status {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            409 => "Conflict",
            413 => "TooLarge",
            429 => "SlowDown",
            502 => "OvhRefused",
            503 => "StoreUnavailable",
            _ => unreachable!("no shared answer for {status}"),
        };
        responses[status.to_string()] = json!({"$ref": format!("#/components/responses/{name}")});
    }
    let mut o = json!({"operationId": id, "summary": summary, "responses": responses});
    if !parameters.is_empty() {
        o["parameters"] = Value::Array(parameters);
    }
    o
}

/// The same operation, open to anyone (no login).
fn public(mut o: Value) -> Value {
    o["security"] = json!([]);
    o
}

fn with_body(mut o: Value, required: bool, schema: Value) -> Value {
    o["requestBody"] = json!({"required": required, "content": json_content(schema)});
    o
}

/// Refusals an authenticated read may answer.
/// (503: the service is still starting to follow the caller's token, after a restart.)
const READ: &[u16] = &[401, 503];
/// Refusals an authenticated read with filters may answer.
const FILTERED: &[u16] = &[400, 401, 503];
/// Refusals an authenticated write may answer.
const WRITE: &[u16] = &[401, 403, 503];

fn csv(description: &str) -> Value {
    json!({"200": {
        "description": description,
        "headers": {
            "X-Next-Cursor": {"description": "The cursor of the rows that follow this page, when there are more (not with all=1).", "schema": string()},
            "Content-Disposition": {"description": "attachment, with a file name.", "schema": string()}
        },
        "content": {"text/csv": {"schema": string()}}
    }})
}

// ---- the routes ----

fn paths() -> Value {
    let call_filters = [
        "number",
        "from",
        "to",
        "direction",
        "call_outcome",
        "q",
        "limit",
        "cursor",
    ];
    let journal_filters = [
        "queue",
        "from",
        "to",
        "direction",
        "journal_outcome",
        "q",
        "limit",
        "cursor",
    ];
    let callback_filters = ["from", "to", "done", "limit", "callback_cursor"];
    let mut paths = json!({
        "/api/login": {"post": with_body(public(op(
            "login",
            "Sign in with an OVH event token: sets the session cookie",
            vec![],
            json!({
                "200": {
                    "description": "Signed in; the cookie `ovh_cti_session` is set (HttpOnly, SameSite=Strict).",
                    "headers": {"Set-Cookie": {"schema": string()}},
                    "content": json_content(json!({
                        "type": "object", "additionalProperties": false, "required": ["ok", "token_hint"],
                        "properties": {
                            "ok": {"const": true},
                            "token_hint": with_description(string(), "The token's first four characters and an ellipsis."),
                            "user": with_description(object(json!({"login": string(), "role": role()})), "With a login and password: who signed in.")
                        }
                    }))
                },
                "400": {"$ref": "#/components/responses/BadRequest"},
                "413": {"$ref": "#/components/responses/TooLarge"},
                "401": refusal("The token is refused (reason ovh_refused, not_followed or too_many_tokens); a wrong login or password, or a disabled account, all alike (bad_credentials); the user's organisation has no followed token (no_token)."),
                "403": refusal("A login from another site (reason cross_site)."),
                "415": refusal("The body is not declared application/json (reason not_json)."),
                "429": refusal("Too many failed logins from this address, or another new token from it is being checked (reason rate_limited, checks_busy); see Retry-After."),
                "502": refusal("OVH could not be asked about a new token (reason ovh_unreachable): try again."),
                "503": refusal("Too many new tokens are being checked at once (reason busy), or the service is still starting to follow the tokens it knew (reason starting); see Retry-After.")
            }),
            &[],
        )), true, schema("Login"))},
        "/api/logout": {"post": op(
            "logout", "End the session (the cookie is cleared; its live streams end)", vec![],
            json!({"200": answer("Signed out.", schema("Ok"))}), WRITE)},
        "/api/me": {"get": op(
            "me", "Who the caller is: the token's hint and the numbers it sees", vec![],
            json!({"200": answer("The caller.", schema("Me"))}), READ)},
        "/api/token": {"delete": op(
            "forgetToken", "Make the service forget the caller's token (and, with purge, its history)",
            params(&["purge"]),
            json!({"200": answer("Forgotten; the cookie is cleared.", object(json!({"ok": {"const": true}, "purged": {"type": "boolean"}})))}),
            &[400, 401, 403, 409, 503])},
        "/api/lines": {"get": op(
            "lines", "The lines (sip, mgcp…) and their state", vec![],
            json!({"200": answer("The lines.", object(json!({"lines": array(schema("Line"))})))}), READ)},
        "/api/calls": {"get": op(
            "calls", "The calls in progress, oldest first", vec![],
            json!({"200": answer("The calls in progress.", object(json!({"calls": array(schema("ActiveCall"))})))}), READ)},
        "/api/queues": {"get": op(
            "queues", "The call queues, their callers and their figures since the last reset", vec![],
            json!({"200": answer("The queues.", object(json!({
                "queues": array(schema("Queue")),
                "since": with_description(time_or_null(), "The last reset: the figures count from there.")
            })))}), READ)},
        "/api/callbacks/{number}/done": {
            "parameters": [{"name": "number", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 32}}],
            "put": op("markCalledBack", "Mark a caller called back, for every user of the token", vec![],
                json!({"200": answer("Marked.", schema("CallbackMark"))}), &[400, 401, 403, 503]),
            "delete": op("unmarkCalledBack", "Take the mark back", vec![],
                json!({"200": answer("Unmarked.", schema("CallbackMark"))}), &[400, 401, 403, 503])
        },
        "/api/events": {"get": op(
            "events", "The raw event log, newest (by arrival) first",
            params(&["number", "from", "to", "direction", "call_outcome", "event", "limit", "cursor"]),
            json!({"200": answer("A page of events.", page("events", "Event"))}), FILTERED)},
        "/api/stream": {"get": op(
            "stream", "Live updates as Server-Sent Events (state, event, call, journal, health, store, pop, resync)", vec![],
            json!({
                "200": {"description": "An endless `text/event-stream`; see docs/api.md#live-stream for its messages.", "content": {"text/event-stream": {"schema": string()}}},
                "429": refusal("Too many streams for this session or address (reason streams_per_session, streams_per_address); Retry-After: 5."),
                "503": refusal("The service's streams are all taken (reason streams_full); Retry-After: 5.")
            }), READ)},
        "/api/settings": {
            "get": op("settings", "The token's settings", vec![],
                json!({"200": answer("The settings.", schema("Settings"))}), READ),
            "put": with_body(op("putSettings", "Change the settings: any part is merged, then the whole is checked", vec![],
                json!({"200": answer("The settings now in force.", schema("Settings"))}), &[400, 401, 403, 413, 503]),
                true, schema("SettingsPatch"))
        },
        "/api/reset": {"post": op(
            "reset", "Reset the live board's figures (stored history stays)", vec![],
            json!({"200": answer("Reset.", object(json!({"ok": {"const": true}, "since": time_or_null()})))}), WRITE)},
        "/api/health": {"get": op(
            "health", "The state of the caller's feed and of the store", vec![],
            json!({"200": answer("Health.", schema("Health"))}), READ)},
        "/api/webhooks": {
            "get": op("webhooks", "The webhook endpoints (without their secrets)", vec![],
                json!({"200": answer("The endpoints.", object(json!({"webhooks": array(schema("Webhook"))})))}), &[401, 403]),
            "post": with_body(op("createWebhook", "Create an endpoint: its secret is in this answer only", vec![],
                json!({"201": created_webhook()}), &[400, 401, 403, 409, 413, 503]),
                true, schema("NewWebhook"))
        },
        "/api/webhooks/{id}": {
            "parameters": [param("webhook_id")],
            "delete": op("deleteWebhook", "Delete an endpoint and its pending deliveries", vec![],
                json!({"204": {"description": "Deleted."}}), &[400, 401, 403, 404, 503])
        },
        "/api/webhooks/{id}/test": {
            "parameters": [param("webhook_id")],
            "post": op("testWebhook", "Queue a signed test event (it replaces the previous one)", vec![],
                json!({"202": answer("Queued; its attempts show in the delivery log under webhook_id.", object(json!({
                    "queued": {"const": true},
                    "webhook_id": with_description(string(), "The delivery's webhook-id header.")
                })))}), &[400, 401, 403, 404, 503])
        },
        "/api/webhooks/{id}/enable": {
            "parameters": [param("webhook_id")],
            "post": op("enableWebhook", "Turn a disabled endpoint back on", vec![],
                json!({"200": answer("The endpoint.", schema("Webhook"))}), &[400, 401, 403, 404, 503])
        },
        "/api/deliveries": {"get": op(
            "deliveries", "The log of every screen-pop and webhook request, newest first (URLs masked)",
            params(&["kind", "endpoint", "delivery_limit", "delivery_cursor"]),
            json!({"200": answer("A page of the log.", page("deliveries", "Delivery"))}), &[400, 401, 403])},
        "/api/reports/calls": {"get": op(
            "callReport", "Line calls per hour of the token's time zone", params(&["report_from", "report_to", "report_number"]),
            json!({"200": answer("The report.", schema("CallReport"))}), FILTERED)},
        "/api/reports/queues": {"get": op(
            "queueReport", "Queue figures per hour of the token's time zone, per queue", params(&["report_from", "report_to"]),
            json!({"200": answer("The report.", schema("QueueReport"))}), FILTERED)},
        "/api/openapi.json": {"get": public(op(
            "openapi", "This document", vec![],
            json!({"200": answer("The OpenAPI 3.1 document.", json!({"type": "object"}))}), &[]))},
        "/healthz": {"get": public(op(
            "healthz", "Liveness: 200 while the service runs", vec![],
            json!({"200": {"description": "Running.", "content": {"text/plain": {"schema": {"const": "ok"}}}}}), &[]))},
        "/readyz": {"get": public(op(
            "readyz", "Readiness: 200 once every token known at start has its follower, 503 before and while stopping", vec![],
            json!({
                "200": answer("Ready.", schema("Readiness")),
                "503": answer("Not ready yet (tokens pending), or stopping.", schema("Readiness")),
            }), &[]))},
        "/metrics": {"get": public(op(
            "metrics", "The internal counters in Prometheus' text format (no token or number in them)", vec![],
            json!({"200": {"description": "The counters.", "content": {"text/plain": {"schema": string()}}}}), &[]))},
    });
    let listings = [
        (
            "/api/history",
            "history",
            "Finished line calls, newest first by start time",
            &call_filters[..],
            "calls",
            "Call",
        ),
        (
            "/api/queue-journal",
            "queueJournal",
            "Callers who left a queue, newest (by departure) first",
            &journal_filters[..],
            "entries",
            "JournalEntry",
        ),
        (
            "/api/callbacks",
            "callbacks",
            "Outside callers missed or abandoned and not reached since, most recent attempt first",
            &callback_filters[..],
            "callbacks",
            "Callback",
        ),
    ];
    for (path, id, summary, filters, key, item) in listings {
        paths[path] = json!({"get": op(id, summary, params(filters),
            json!({"200": answer("A page.", page(key, item))}), FILTERED)});
        let csv_params = params(&[filters, &["all", "dialect"][..]].concat());
        paths[format!("{path}.csv")] = json!({"get": op(&format!("{id}Csv"), "The same rows as CSV", csv_params,
            csv("The same rows as CSV, under a header line written even when nothing matches."), FILTERED)});
    }
    let paths = with_fields(with_fields(paths, people_paths()), ovh::paths());
    with_fields(paths, operator_paths())
}

/// Users, sessions, the audit log and wall-screen links (issue 10).
fn people_paths() -> Value {
    json!({
        "/api/users": {
            "get": op("users", "The organisation's users (admins)", vec![],
                json!({"200": answer("The users.", object(json!({"users": array(schema("User"))})))}), &[401, 403]),
            "post": with_body(op("createUser", "Add a user to the organisation (admins)", vec![],
                json!({"201": answer("Created.", schema("User"))}), &[400, 401, 403, 409, 413, 503]),
                true, schema("NewUser"))
        },
        "/api/users/{id}": {
            "parameters": [param("user_id")],
            "put": with_body(op("changeUser", "Change a user's role, numbers or state; their sessions end (admins)", vec![],
                json!({"200": answer("The user as changed.", schema("User"))}), &[400, 401, 403, 404, 409, 413, 503]),
                true, schema("UserChange")),
            "delete": op("deleteUser", "Delete a user; their sessions end (admins)", vec![],
                json!({"204": {"description": "Deleted."}}), &[400, 401, 403, 404, 409, 503])
        },
        "/api/users/{id}/password": {
            "parameters": [param("user_id")],
            "put": with_body(op("setUserPassword", "Set a user's password; their sessions end (admins)", vec![],
                json!({"200": answer("Set.", schema("Ok"))}), &[400, 401, 403, 404, 413, 503]),
                true, request(json!({"password": {"type": "string", "minLength": 10, "maxLength": 1024}})))
        },
        "/api/me/password": {"put": with_body(op(
            "ownPassword", "Change one's own password; one's other sessions end", vec![],
            json!({"200": answer("Changed.", schema("Ok"))}), &[400, 401, 403, 409, 413, 503]),
            true, request(json!({"current": string(), "password": {"type": "string", "minLength": 10, "maxLength": 1024}})))},
        "/api/me/screen-pop": {
            "get": op("ownScreenPop", "One's own screen pop, if one chose it (agents and above, signed in with an account)", vec![],
                json!({"200": answer("One's own screen pop, or null: one follows the organisation's.", schema("OwnScreenPop"))}), &[401, 403, 409]),
            "put": with_body(op("putOwnScreenPop", "Choose one's own screen pop, in place of the organisation's: any part is merged onto one's own (or the defaults), then the whole is checked; modal or popup only", vec![],
                json!({"200": answer("One's own screen pop now in force.", schema("OwnScreenPop"))}), &[400, 401, 403, 409, 413, 503]),
                true, with_description(partial(screen_pop_fields()), "Any part of ScreenPop; mode silent is refused.")),
            "delete": op("deleteOwnScreenPop", "Follow the organisation's screen pop again", vec![],
                json!({"200": answer("Back to the organisation's.", schema("OwnScreenPop"))}), &[401, 403, 409, 503])
        },
        "/api/org": {
            "get": op("org", "The caller's organisation (admins)", vec![],
                json!({"200": answer("The organisation.", schema("Org"))}), &[401, 403, 404]),
            "put": with_body(op("putOrg", "Rename the organisation, or turn its token login off or on (admins)", vec![],
                json!({"200": answer("The organisation as changed.", schema("Org"))}), &[400, 401, 403, 404, 409, 413, 503]),
                true, json!({"type": "object", "properties": {
                    "name": {"type": ["string", "null"], "minLength": 1, "maxLength": 100},
                    "token_login": {"type": ["boolean", "null"]},
                    "publish_nats": {"type": ["boolean", "null"]},
                    "publish_mqtt": {"type": ["boolean", "null"]}
                }}))
        },
        "/api/me/totp": {
            "post": op("totpBegin", "Start setting up a second factor: the secret for an authenticator app", vec![],
                json!({"200": answer("The secret and its otpauth:// address.", object(json!({"secret": string(), "url": string()})))}), &[401, 403, 409, 503]),
            "put": with_body(op("totpConfirm", "Confirm the second factor with a first code", vec![],
                json!({"200": answer("On.", schema("Ok"))}), &[400, 401, 403, 409, 413, 503]), true, request(json!({"code": string()}))),
            "delete": with_body(op("totpOff", "Turn the second factor off with a current code", vec![],
                json!({"200": answer("Off.", schema("Ok"))}), &[400, 401, 403, 409, 413, 503]), true, request(json!({"code": string()})))
        },
        "/api/org/tokens": {
            "get": op("orgTokens", "The organisation's OVH tokens (admins)", vec![],
                json!({"200": answer("The tokens.", object(json!({"tokens": array(schema("OrgToken"))})))}), &[401, 403]),
            "post": with_body(op("attachToken", "Attach another OVH token to the organisation, checked with OVH first (admins)", vec![],
                json!({
                    "201": answer("Attached.", object(json!({"tokens": array(schema("OrgToken"))}))),
                    "401": answer("Not signed in; or the token is refused (reason ovh_refused, not_followed, too_many_tokens).",
                        json!({"anyOf": [schema("Error"), schema("Refusal")]})),
                    "502": refusal("OVH could not be asked (reason ovh_unreachable)."),
                    "429": refusal("Too many failed attempts from this address (reason rate_limited, checks_busy)."),
                    "503": answer("Too many tokens being checked (reason busy), or the database cannot be written now.",
                        json!({"anyOf": [schema("Error"), schema("Refusal")]})),
                }), &[400, 403, 409, 413]),
                true, request(json!({"token": string()})))
        },
        "/api/me/token": {"put": with_body(op(
            "switchToken", "Show another token of the organisation in this session", vec![],
            json!({"200": answer("Switched.", object(json!({"token_hint": string_or_null()})))}), &[400, 401, 403, 409, 413, 503]),
            true, request(json!({"id": string()})))},
        "/api/sessions": {"get": op(
            "sessions", "The live sessions of the organisation's users (admins)",
            vec![query("user", json!({"type": "integer"}), "Only this user's.")],
            json!({"200": answer("The sessions.", object(json!({"sessions": array(schema("Session"))})))}), &[400, 401, 403])},
        "/api/sessions/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}, "description": "The session's id as GET /api/sessions gives it."}],
            "delete": op("endSession", "End a session at once, its live streams too (admins)", vec![],
                json!({"204": {"description": "Ended."}}), &[400, 401, 403, 404, 503])
        },
        "/api/audit": {"get": op(
            "audit", "Who changed what and when, newest first (admins)",
            params(&["limit", "delivery_cursor"]),
            json!({"200": answer("A page of the log.", page("entries", "AuditEntry"))}), &[400, 401, 403])},
        "/api/audit.csv": {"get": op(
            "auditCsv", "The same as CSV", params(&["limit", "delivery_cursor", "all"]),
            csv("The entries as CSV, under a header line."), &[400, 401, 403])},
        "/api/wall-links": {
            "get": op("wallLinks", "The organisation's wall-screen links, never their keys (admins)", vec![],
                json!({"200": answer("The links.", object(json!({"links": array(schema("WallLink"))})))}), &[401, 403]),
            "post": with_body(op("createWallLink", "Make a wall-screen link: its path is in this answer only (admins)", vec![],
                json!({"201": answer("Created.", schema("NewWallLinkAnswer"))}), &[400, 401, 403, 409, 413, 503]),
                true, json!({"type": "object", "required": ["label"], "properties": {
                    "label": {"type": "string", "minLength": 1, "maxLength": 100},
                    "allow": {"type": ["string", "null"], "description": "An address range (CIDR) or one address it may be used from."}
                }, "examples": [{"label": "TV, first floor", "allow": "192.168.1.0/24"}]}))
        },
        "/api/wall-links/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
            "delete": op("revokeWallLink", "Revoke a link: its screens are signed out at once (admins)", vec![],
                json!({"204": {"description": "Revoked."}}), &[400, 401, 403, 404, 503])
        },
        "/wall/{key}": {"get": public(op(
            "openWallLink", "A wall screen opens its link: signed in read-only, sent to /wall",
            vec![json!({"name": "key", "in": "path", "required": true, "schema": string()})],
            json!({
                "303": {"description": "Signed in; to /wall.", "headers": {"Set-Cookie": {"schema": string()}, "Location": {"schema": string()}}},
                "403": {"description": "Not from the link's address range.", "content": {"text/html": {"schema": string()}}},
                "404": {"description": "Revoked, or never existed.", "content": {"text/html": {"schema": string()}}},
                "429": {"description": "Too many wrong links from this address (counted as failed logins).", "content": {"text/html": {"schema": string()}}},
                "503": {"description": "Try again in a moment.", "content": {"text/html": {"schema": string()}}}
            }), &[]))},
    })
}

/// `201` of `POST /api/webhooks`, with links to what can be done with the endpoint (so that a
/// client, or schemathesis, can follow them).
fn created_webhook() -> Value {
    let mut created = answer("Created.", schema("NewWebhookAnswer"));
    let link = |op: &str| json!({"operationId": op, "parameters": {"id": "$response.body#/id"}});
    created["links"] = json!({
        "TestWebhook": link("testWebhook"),
        "EnableWebhook": link("enableWebhook"),
        "DeleteWebhook": link("deleteWebhook"),
    });
    created
}

/// A refusal with a machine-readable `reason`.
fn refusal(description: &str) -> Value {
    json!({
        "description": description,
        "headers": {"Retry-After": {"description": "With 429 and 503: seconds to wait.", "schema": string()}},
        "content": json_content(schema("Refusal"))
    })
}

/// An optional query parameter; an empty value (`to=`, as a form sends an empty field) is
/// read as no value.
fn query(name: &str, schema: Value, description: &str) -> Value {
    let schema = json!({"anyOf": [schema, {"type": "string", "maxLength": 0}]});
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn parameters() -> Value {
    let limit = |max: Option<u32>, description: &str| {
        let mut s = json!({"type": "integer", "minimum": 1, "default": 100});
        if let Some(max) = max {
            s["maximum"] = json!(max);
        }
        query("limit", s, description)
    };
    let flag = |name: &str, description: &str| {
        query(
            name,
            one_of(&["0", "1", "false", "true", "no", "yes"]),
            description,
        )
    };
    json!({
        "number": query("number", string(), "An OVH line (events: any OVH number), in any usual form: +33 9 72 10 10 10, 09 72 10 10 10, 0033972101010."),
        "queue": query("queue", string(), "A queue's number, in any usual form."),
        "from": query("from", time(), "Inclusive: start time for calls, join time for queue callers, event time for events, attempt time for callbacks."),
        "to": query("to", time(), "Exclusive; not before from."),
        "direction": query("direction", one_of(&["incoming", "outgoing", "unknown"]), "The calls' direction (queue callers always call in)."),
        "call_outcome": query("outcome", one_of(&["answered", "missed", "unanswered", "unknown", "queue_offer"]), "How the call ended (events: the events of the calls that ended so)."),
        "journal_outcome": query("outcome", one_of(&["answered", "abandoned", "unknown"]), "How the caller left the queue."),
        "q": query("q", string(), "Search: a number (whole, in any usual form, or a part of one) or a line's or queue's name."),
        "event": query("event", string(), "One event type, as OVH names it (start_ringing, member-queue-start…)."),
        "limit": limit(None, "Rows per page; over 1000 is read as 1000."),
        "cursor": query("cursor", string(), "The next of the previous page."),
        "callback_cursor": query("cursor", string(), "The next of the previous page."),
        "done": flag("done", "0 leaves out the callers marked done (default 1: listed with their done_at)."),
        "all": flag("all", "1: every matching row (up to 100 000) in one file, whatever limit says."),
        "dialect": query("dialect", one_of(&["standard", "excel-fr"]), "excel-fr: UTF-8 BOM, ';', local times, decimal commas, numbers kept as text, names."),
        "purge": query("purge", one_of(&["0", "1", "false", "true"]), "true also deletes the token's stored history."),
        "kind": query("kind", one_of(&["pop", "webhook"]), "Only screen pops or only webhooks."),
        "endpoint": query("endpoint", json!({"type": "integer"}), "Only this webhook endpoint's deliveries."),
        "delivery_limit": limit(Some(1000), "Rows per page."),
        "delivery_cursor": query("cursor", json!({"type": "integer"}), "The next of the previous page."),
        "report_from": query("from", time(), "Default: 24 hours before to. A report covers at most 93 days."),
        "report_to": query("to", time(), "Default: now; after from."),
        "report_number": query("number", string(), "Only this line's calls."),
        "webhook_id": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}, "description": "The endpoint's id."},
        "user_id": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}, "description": "The user's id."},
    })
}

fn responses() -> Value {
    let error = |description: &str| answer(description, schema("Error"));
    json!({
        "BadRequest": error("A bad input: field names it (a parameter, a body field, a path part)."),
        "Unauthorized": error("No valid bearer token or session cookie."),
        "Forbidden": error("The caller's role may not do this, or a cookie-authenticated write came from another site."),
        "NotFound": error("No such item (or API route)."),
        "Conflict": error("The change is not possible as things are (the message says why)."),
        "TooLarge": error("The request body is over 2 MiB."),
        "StoreUnavailable": error("The database cannot be written at the moment (nothing stored is lost), or the service is still starting to follow the caller's token after a restart: try again shortly (Retry-After)."),
        "SlowDown": error("The service's budget of requests to OVH's API is spent for now, or OVH asked to slow down: try again in a moment."),
        "OvhRefused": error("OVH's REST API refused the request or could not be reached: the message says what to do, with OVH's own words and query id."),
    })
}

// ---- the objects ----

fn schemas() -> Value {
    let number = || with_description(string(), "A phone number as OVH writes it (0033…).");
    let phone_or_null = || {
        with_description(
            string_or_null(),
            "A phone number as OVH writes it, or null when OVH did not send it.",
        )
    };
    let name = || {
        with_description(
            string_or_null(),
            "The line's or queue's description in OVH, or null.",
        )
    };
    let objects = json!({
        "Error": {
            "type": "object", "additionalProperties": false, "required": ["error"],
            "properties": {
                "error": {"type": "string", "maxLength": 400, "description": "What went wrong, for a person."},
                "field": {"type": "string", "description": "The input at fault, when there is one."}
            }
        },
        "Refusal": {
            "type": "object", "additionalProperties": false, "required": ["error", "reason"],
            "properties": {
                "error": {"type": "string", "maxLength": 400},
                "reason": one_of(&["bad_credentials", "totp_required", "no_token", "token_login_off", "ovh_refused", "not_followed", "too_many_tokens", "cross_site", "not_json", "rate_limited", "checks_busy", "ovh_unreachable", "busy", "streams_per_session", "streams_per_address", "streams_full"])
            }
        },
        "Ok": object(json!({"ok": {"const": true}})),
        "Login": {
            "description": "An OVH event token, or a user's login and password.",
            "oneOf": [
                {"type": "object", "required": ["token"], "properties": {
                    "token": {"type": "string", "description": "An OVH event token (a UUID)."},
                    "remember": {"type": "boolean", "default": false, "description": "A 30-day cookie rather than a browser-session one."}
                }},
                {"type": "object", "required": ["login", "password"], "properties": {
                    "login": {"type": "string", "minLength": 1, "maxLength": 256},
                    "password": {"type": "string", "maxLength": 1024},
                    "code": {"type": "string", "maxLength": 16, "description": "The authenticator app's code, for an account with a second factor."},
                    "remember": {"type": "boolean", "default": false}
                }}
            ]
        },
        "Me": object(json!({
            "token_hint": string(),
            "source": with_description(one_of(&["config", "login", "operator"]), "config: in the service's configuration; login: typed at the login page; operator: added with ovh-cti tokens add or the admin API."),
            "lines": array(number()),
            "queues": array(number()),
            "user": with_description(json!({"type": ["object", "null"], "additionalProperties": false, "required": ["login", "role"], "properties": {"login": string(), "role": role()}}), "The signed-in user, or null when the caller is the token itself (bearer, or a login with the token)."),
            "role": with_description(role(), "What the caller may do; the token itself is its organisation's admin."),
            "wall": with_description(json!({"type": "boolean"}), "A wall screen signed in by a wall link: read-only, the wall view only."),
            "token_id": with_description(string(), "The one-way id of the token shown (never the token)."),
            "tokens": with_description(array(schema("OrgToken")), "For a user: the organisation's tokens, to choose from (PUT /api/me/token).")
        })),
        "Line": object(json!({
            "number": number(),
            "description": name(),
            "type": with_description(string_or_null(), "OVH's type: sipCirpack, mgcpCirpack…"),
            "service": with_description(string(), "sip, mgcp…"),
            "status": with_description(one_of(&["free", "ringing", "in_call", "unknown"]), "unknown after a call on the line expired, until the line is heard of again."),
            "active_calls": count(),
            "simultaneous_lines": {"type": ["integer", "null"], "minimum": 0},
            "last_registered_at": time_or_null()
        })),
        "ActiveCall": object(with_fields(call_fields(), json!({
            "state": one_of(&["ringing", "in_call"]),
            "started_at": time(),
            "answered_at": time_or_null()
        }))),
        "QueueCaller": object(json!({
            "member": with_description(string(), "OVH's QueueMemberUUID."),
            "caller": phone_or_null(),
            "state": one_of(&["waiting", "offered", "in_call"]),
            "agent": with_description(string_or_null(), "The agent's number, while offered or in call."),
            "joined_at": time(),
            "answered_at": time_or_null()
        })),
        "Queue": object(json!({
            "number": number(),
            "description": name(),
            "kind": {"type": ["string", "null"], "enum": ["easy", "expert", null]},
            "type": with_description(string_or_null(), "OVH's easyHunting or cloudHunting."),
            "waiting": with_description(count(), "Callers waiting now."),
            "in_call": with_description(count(), "Callers talking to an agent now."),
            "entered": count(),
            "answered": count(),
            "abandoned": count(),
            "expired": with_description(count(), "Callers whose end never came."),
            "answered_pct": with_description(number_or_null(), "null while no caller has left."),
            "avg_wait_s": number_or_null(),
            "max_wait_s": number_or_null(),
            "avg_talk_s": number_or_null(),
            "service_level_pct": with_description(number_or_null(), "Share of callers answered within service_level_s."),
            "service_level_s": seconds(),
            "reported_waiting": with_description(json!({"type": ["integer", "null"], "minimum": 0}), "The Count OVH last sent."),
            "callers": array(schema("QueueCaller"))
        })),
        "Call": object(with_fields(call_fields(), json!({
            "started_at": time(),
            "answered_at": time_or_null(),
            "ended_at": time(),
            "ring_s": seconds(),
            "talk_s": seconds(),
            "outcome": with_description(one_of(&["answered", "missed", "unanswered", "unknown", "queue_offer"]), "missed: incoming, never answered; unanswered: outgoing, never answered; unknown: its end never came; queue_offer: a queue's ring another agent took or the caller left."),
            "queue": with_description(string_or_null(), "The queue that put the call through, or null."),
            "queue_caller": with_description(string_or_null(), "The real caller a queue put through, or null.")
        }))),
        "JournalEntry": object(json!({
            "queue": number(),
            "member": with_description(string(), "OVH's QueueMemberUUID."),
            "caller": phone_or_null(),
            "agent": with_description(string_or_null(), "The agent who answered, or null."),
            "joined_at": time(),
            "answered_at": time_or_null(),
            "left_at": time(),
            "wait_s": seconds(),
            "talk_s": seconds(),
            "outcome": one_of(&["answered", "abandoned", "unknown"]),
            "reason": with_description(string(), "terminated, hangup, timeout, no_agent, exit_with_key, expired, or OVH's own word.")
        })),
        "Event": object(json!({
            "at": with_description(time(), "When it happened, by OVH's clock."),
            "received_at": with_description(time(), "When ovh-cti received it."),
            "event": with_description(string(), "OVH's event type."),
            "number": with_description(string(), "The OVH number (line or queue)."),
            "service": with_description(string(), "sip, mgcp, queues…"),
            "calling": phone_or_null(),
            "called": phone_or_null(),
            "dialed": phone_or_null(),
            "call_id": string_or_null(),
            "latency_ms": with_description(number_or_null(), "The feed's own delay, Timestamp − TsGet."),
            "description": name()
        })),
        "Callback": object(json!({
            "number": number(),
            "attempts": count(),
            "first_attempt_at": time(),
            "last_attempt_at": time(),
            "places": array(object(json!({"number": number(), "name": name()}))),
            "done_at": with_description(time_or_null(), "When a user marked it done after its last attempt, or null.")
        })),
        "CallbackMark": object(json!({"number": string(), "done": {"type": "boolean"}})),
        "Settings": object(settings_fields(schema("ScreenPop"), schema("Display"))),
        "ScreenPop": object(screen_pop_fields()),
        "Display": object(display_fields()),
        "SettingsPatch": with_description(
            json!({
                "examples": [{"service_level_s": 30, "timezone": "Europe/Paris", "screen_pop": {"enabled": true, "mode": "popup", "url": "https://crm.example/lookup?n=*CALLING*"}}],
                "type": "object", "additionalProperties": false,
                "properties": settings_fields(partial(screen_pop_fields()), partial(display_fields()))
            }),
            "Any part of Settings; merged onto the current settings, then the whole is checked."
        ),
        "Health": object(json!({
            "status": with_description(one_of(&["starting", "connected", "silent", "stalled", "failing", "paused", "unknown"]), "The caller's feed's state."),
            "feeds": array(schema("Feed")),
            "store": schema("Store"),
            "ovh_cross_check": with_description(json!({"oneOf": [{"type": "null"}, schema("CrossCheck")]}),
                "OVH's queue counters against ours since OVH's last reset; null without an OVH account or before its first reading."),
            "now": time()
        })),
        "Feed": object(with_fields(feed_fields(), json!({"store": schema("Store")}))),
        "Store": object(json!({
            "state": one_of(&["ok", "failing"]),
            "last_error": string_or_null(),
            "failing_since": time_or_null(),
            "failed_commits": count()
        })),
        "NewWebhook": {
            "type": "object", "additionalProperties": false, "required": ["url"],
            "examples": [{"url": "https://crm.example/ovh-cti", "events": ["start_ringing", "member-queue-start"], "description": "CRM"}],
            "properties": {
                "url": {"type": "string", "maxLength": 2048, "description": "http(s), an address the service may reach."},
                "events": {"type": ["array", "null"], "minItems": 1, "maxItems": 32, "items": string(), "description": "Event types, or [\"*\"] for all (also what null or no events means)."},
                "description": {"type": "string", "maxLength": 200}
            }
        },
        "Webhook": object(webhook_fields()),
        "NewWebhookAnswer": object({
            let mut fields = webhook_fields();
            fields["secret"] = with_description(string(), "The signing secret (whsec_…), shown this once.");
            fields
        }),
        "Delivery": object(json!({
            "id": {"type": "integer"},
            "at": time(),
            "kind": one_of(&["pop", "webhook"]),
            "endpoint_id": {"type": ["integer", "null"]},
            "event": string(),
            "url": with_description(string(), "Query values and any password masked."),
            "status": {"type": ["integer", "null"], "description": "The HTTP status answered, if any."},
            "latency_ms": number_or_null(),
            "error": with_description(string_or_null(), "At most 512 bytes."),
            "attempt": {"type": "integer", "minimum": 1},
            "outcome": one_of(&["delivered", "retry", "failed", "gave_up"]),
            "webhook_id": with_description(string(), "The delivery's webhook-id, the same on each attempt.")
        })),
        "CallCounts": object(call_counts()),
        "CallReport": object(json!({
            "from": time(),
            "to": time(),
            "timezone": string(),
            "hours": per_hour(call_counts()),
            "total": schema("CallCounts")
        })),
        "QueueFigures": object(queue_figures()),
        "QueueReport": object(json!({
            "from": time(),
            "to": time(),
            "timezone": string(),
            "service_level_s": {"type": "integer", "minimum": 0},
            "service_level_target_pct": {"type": "integer", "minimum": 0, "maximum": 100},
            "queues": array(object(json!({
                "queue": number(),
                "name": name(),
                "hours": per_hour(queue_figures()),
                "total": schema("QueueFigures")
            })))
        })),
    });
    let objects = with_fields(with_fields(objects, people_schemas()), ovh::schemas());
    with_fields(objects, operator_schemas())
}

/// The installation operator's token management (`/api/admin/tokens`).
fn operator_paths() -> Value {
    let id = json!({"name": "id", "in": "path", "required": true,
        "schema": {"type": "string", "maxLength": 128}, "description": "The token's id, as the list shows it."});
    let done = |what: &str| json!({"200": answer(what, object(json!({"id": string(), "state": one_of(&["active", "paused"])})))});
    const ADMIN: &[u16] = &[400, 401, 403, 404, 503];
    json!({
        "/api/admin/tokens": {
            "get": op("adminTokens", "Every followed token's feed health, worst first, a page at a time (installation admins)",
                vec![
                    query("state", one_of(&crate::feed::health::STATES), "Only the feeds in this state."),
                    query("limit", json!({"type": "integer", "minimum": 1, "maximum": crate::web::admin::MAX_PAGE, "default": 100}), "Tokens per page."),
                    query("offset", json!({"type": "integer", "minimum": 0, "default": 0}), "Where the page starts (`next_offset` of the previous one)."),
                ],
                json!({"200": answer("A page of tokens.", schema("AdminTokens"))}), &[400, 401, 403]),
            "post": with_body(op("adminAddToken", "Follow a token from now on, without a restart (installation admins)", vec![],
                json!({
                    "200": answer("Followed already.", schema("AddedToken")),
                    "201": answer("Followed from now on.", schema("AddedToken")),
                }), &[400, 401, 403, 413, 503]),
                true, request(json!({"token": with_description(string(), "An OVH event token.")})))
        },
        "/api/admin/tokens/{id}": {
            "parameters": [id.clone()],
            "delete": op("adminRemoveToken", "Forget a token: its follower stops at once; its history stays unless purge (installation admins)",
                params(&["purge"]),
                json!({"200": answer("Removed.", object(json!({"id": string(), "removed": {"type": "boolean"}, "purged": {"type": "boolean"}})))}),
                &[400, 401, 403, 404, 409, 503])
        },
        "/api/admin/tokens/{id}/disable": {
            "parameters": [id.clone()],
            "post": with_body(op("adminDisableToken", "Stop polling a token; its users may still read what is stored (installation admins)", vec![],
                done("Disabled."), ADMIN), false, request(json!({"reason": {"type": "string", "maxLength": 200}})))
        },
        "/api/admin/tokens/{id}/enable": {
            "parameters": [id],
            "post": op("adminEnableToken", "Poll a disabled token again (installation admins)", vec![], done("Enabled."), ADMIN)
        },
    })
}

/// A token's feed health, as `/api/health` and the operator's list show it.
fn feed_fields() -> Value {
    json!({
        "token_hint": string(),
        "api": one_of(&["v1", "v2"]),
        "state": one_of(&["starting", "connected", "silent", "stalled", "failing", "paused"]),
        "silent_for_s": number_or_null(),
        "stalled_for_s": number_or_null(),
        "last_event_at": time_or_null(),
        "last_poll_at": time_or_null(),
        "last_error": string_or_null(),
        "last_error_at": time_or_null(),
        "consecutive_failures": count(),
        "reconnects": count(),
        "polls": count(),
        "events_received": count(),
        "refused_since": with_description(time_or_null(), "Since when OVH refuses the token, while it does."),
        "paused_at": time_or_null(),
        "paused_reason": string_or_null()
    })
}

/// What the operator's probes and token management answer, and what is published to NATS
/// for integrators (`docs/publish.md`): not an answer of this API, described here so that
/// one document holds every shape the service gives out.
fn operator_schemas() -> Value {
    let published = |kind: &str, field: &str, item: &str, scope: &str| {
        let mut properties = json!({
            "v": {"const": crate::publish::message::VERSION, "description": "The shape's version."},
            "kind": {"const": kind},
            "org": {"type": "integer", "description": "The organisation (also in the subject)."},
            "number": {"type": "string", "maxLength": 64, "description": format!("The {scope}'s number.")}
        });
        properties[field] = schema(item);
        json!({"type": "object", "additionalProperties": false,
            "required": ["v", "kind", "org", "number", field], "properties": properties})
    };
    json!({
        "PublishedMessage": {
            "description": "A message published to NATS JetStream under <prefix>.<org>.line.<number> or <prefix>.<org>.queue.<number>, and to MQTT under <prefix>/<org>/<line|queue>/<number>/<state|event|call|journal>.",
            "oneOf": [
                published("event", "event", "Event", "line's or queue's"),
                published("line", "line", "Line", "line"),
                published("queue", "queue", "Queue", "queue"),
                published("call", "call", "Call", "line"),
                published("journal", "entry", "JournalEntry", "queue"),
            ]
        },
        "Readiness": object(json!({
            "ready": {"type": "boolean"},
            "pending": with_description(count(), "Tokens known at start whose follower is not started yet."),
            "stopping": {"type": "boolean"},
            "tokens": with_description(count(), "Tokens followed or paused now.")
        })),
        "AdminTokens": object(json!({
            "tokens": array(object(json!({
                "id": with_description(string(), "The token's one-way id (never the token)."),
                "source": with_description(json!({"oneOf": [{"type": "null"}, one_of(&["config", "login", "operator"])]}), "Where it comes from."),
                "configured": {"type": "boolean"},
                "health": object(feed_fields())
            }))),
            "total": with_description(count(), "Tokens matching the filter."),
            "next_offset": with_description(json!({"oneOf": [{"type": "null"}, count()]}), "Where the next page starts; null on the last."),
            "counts": with_description(json!({"type": "object", "additionalProperties": count()}), "Tokens by feed state, whatever the filter."),
            "pending": with_description(count(), "Tokens known at start not followed yet.")
        })),
        "AddedToken": object(json!({
            "id": string(),
            "hint": with_description(string(), "The token's first characters."),
            "added": {"type": "boolean"}
        })),
    })
}

/// What a call in progress and a finished one have in common.
fn call_fields() -> Value {
    json!({
        "number": with_description(string(), "The OVH line."),
        "call_id": string(),
        "direction": one_of(&["incoming", "outgoing", "unknown"]),
        "calling": with_description(string_or_null(), "As OVH sent it, or null."),
        "called": with_description(string_or_null(), "As OVH sent it, or null."),
        "dialed": with_description(string_or_null(), "As OVH sent it, or null.")
    })
}

/// `fields` with `more` added.
fn with_fields(mut fields: Value, more: Value) -> Value {
    if let (Some(f), Value::Object(m)) = (fields.as_object_mut(), more) {
        f.extend(m);
    }
    fields
}

/// A request body: these fields required, others ignored.
fn request(fields: Value) -> Value {
    json!({"type": "object", "required": names(&fields), "properties": fields})
}

/// An object of which any part may be sent.
fn partial(fields: Value) -> Value {
    json!({"type": "object", "additionalProperties": false, "properties": fields})
}

fn settings_fields(screen_pop: Value, display: Value) -> Value {
    json!({
        "screen_pop": screen_pop,
        "display": display,
        "service_level_s": {"type": "integer", "minimum": 0},
        "service_level_target_pct": {"type": "integer", "minimum": 0, "maximum": 100},
        "timezone": with_description(string(), "A name from the tz database."),
        "language": one_of(&["auto", "fr", "en"])
    })
}

fn screen_pop_fields() -> Value {
    json!({
        "enabled": {"type": "boolean"},
        "mode": one_of(&["modal", "popup", "silent"]),
        "url": {"type": "string", "maxLength": 2048, "description": "http(s); *CALLING*, *CALLED*, *DIALED*, *EVENT* and the other variables of docs/screen-pop.md are replaced."},
        "events": {"type": "array", "maxItems": 32, "items": string()},
        "directions": {"type": "array", "items": one_of(&["incoming", "outgoing"])},
        "numbers": {"type": ["array", "null"], "maxItems": 500, "items": {"type": "string", "maxLength": 32}, "description": "null: every number pops."}
    })
}

fn display_fields() -> Value {
    json!({"only_active": {"type": "boolean"}, "reset_at_midnight": {"type": "boolean"}})
}

/// Figures per hour: each row is the figures and its `hour`.
fn per_hour(mut fields: Value) -> Value {
    fields["hour"] = time();
    array(object(fields))
}

fn wall_link_fields() -> Value {
    json!({
        "id": {"type": "integer"},
        "label": string(),
        "allow": string_or_null(),
        "created_at": time(),
        "last_used_at": time_or_null()
    })
}

/// Users, their sessions and the audit log (issue 10).
fn people_schemas() -> Value {
    json!({
        "OwnScreenPop": object(json!({
            "own": {"type": "boolean", "description": "Whether one chose one's own screen pop."},
            "screen_pop": {"oneOf": [schema("ScreenPop"), {"type": "null"}], "description": "null: one follows the organisation's."}
        })),
        "User": object(json!({
            "id": {"type": "integer"},
            "org_id": {"type": "integer"},
            "login": string(),
            "role": role(),
            "lines": with_description(array(string()), "An agent's lines; empty for the other roles."),
            "queues": with_description(array(string()), "The queues an agent answers for; empty for the other roles."),
            "disabled_at": time_or_null(),
            "created_at": time(),
            "totp": with_description(json!({"type": "boolean"}), "Whether signing in asks for an authenticator app's code too.")
        })),
        "NewUser": {
            "type": "object", "additionalProperties": true, "required": ["login", "password", "role"],
            "properties": {
                "login": {"type": "string", "minLength": 1, "maxLength": 64, "description": "Letters, digits, '.', '-', '_', '@'; unique whatever its case."},
                "password": {"type": "string", "minLength": 10, "maxLength": 1024},
                "role": role(),
                "lines": {"type": ["array", "null"], "maxItems": 500, "items": {"type": "string", "minLength": 1, "maxLength": 32}},
                "queues": {"type": ["array", "null"], "maxItems": 500, "items": {"type": "string", "minLength": 1, "maxLength": 32}}
            },
            "examples": [{"login": "sam", "password": "a long passphrase", "role": "supervisor"}]
        },
        "UserChange": {
            "type": "object", "additionalProperties": true,
            "properties": {
                "role": {"type": ["string", "null"], "enum": ["admin", "supervisor", "agent", "viewer", null]},
                "lines": {"type": ["array", "null"], "maxItems": 500, "items": {"type": "string", "minLength": 1, "maxLength": 32}},
                "queues": {"type": ["array", "null"], "maxItems": 500, "items": {"type": "string", "minLength": 1, "maxLength": 32}},
                "disabled": {"type": ["boolean", "null"]},
                "totp": {"type": ["boolean", "null"], "description": "false turns the user's second factor off (a lost phone)."}
            }
        },
        "OrgToken": object(json!({
            "id": with_description(string(), "The token's one-way id (as `ovh-cti tokens list` shows it)."),
            "hint": with_description(string_or_null(), "Its first four characters and an ellipsis.")
        })),
        "Org": object(json!({
            "id": {"type": "integer"},
            "name": string(),
            "token_login": with_description(json!({"type": "boolean"}), "Whether its tokens may sign in (the login page, and as bearer) as its admin."),
            "publish_nats": with_description(json!({"type": "boolean"}), "Whether its events and states are published to the service's NATS JetStream (--nats; docs/publish.md)."),
            "publish_mqtt": with_description(json!({"type": "boolean"}), "Whether they are published to the service's MQTT broker (--mqtt; docs/publish.md).")
        })),
        "Session": object(json!({
            "id": with_description(string(), "The SHA-256 of the session's cookie (never the cookie)."),
            "user": string(),
            "created_at": time(),
            "expires_at": time()
        })),
        "WallLink": object(wall_link_fields()),
        "NewWallLinkAnswer": object(with_fields(wall_link_fields(), json!({
            "path": with_description(string(), "/wall/KEY: the link, shown this once.")
        }))),
        "AuditEntry": object(json!({
            "id": {"type": "integer"},
            "at": time(),
            "actor": with_description(string(), "user NAME, or token XXXX… (the token itself)."),
            "action": with_description(string(), "settings.change, reset, webhook.create, webhook.delete, webhook.enable, token.remove, callback.done, callback.undone, user.create, user.change, user.delete, user.password, session.end, wall.create, wall.revoke, org.change, org.token_attach, user.totp_on, user.totp_off."),
            "detail": {"type": "string", "maxLength": 515}
        })),
    })
}

fn webhook_fields() -> Value {
    json!({
        "id": {"type": "integer"},
        "url": string(),
        "description": string(),
        "events": array(string()),
        "state": one_of(&["enabled", "disabled"]),
        "disabled_reason": string_or_null(),
        "disabled_at": time_or_null(),
        "failing_since": time_or_null(),
        "last_success_at": time_or_null(),
        "created_at": time()
    })
}

fn call_counts() -> Value {
    json!({
        "answered": count(),
        "missed": count(),
        "unanswered": count(),
        "unknown": count(),
        "total": with_description(count(), "answered + missed + unanswered + unknown."),
        "queue_offers": with_description(count(), "Queue rings on agents' lines not taken: outside total.")
    })
}

fn queue_figures() -> Value {
    json!({
        "entered": count(),
        "answered": count(),
        "abandoned": count(),
        "service_level_pct": number_or_null(),
        "avg_wait_s": number_or_null(),
        "max_wait_s": number_or_null()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` points at something the document defines.
    #[test]
    fn every_reference_resolves() {
        fn walk(v: &Value, doc: &Value, refs: &mut usize) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        let pointer = r.strip_prefix('#').expect("a local reference");
                        assert!(doc.pointer(pointer).is_some(), "{r} is not defined");
                        *refs += 1;
                    }
                    m.values().for_each(|v| walk(v, doc, refs));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, doc, refs)),
                _ => {}
            }
        }
        let doc = document();
        let mut refs = 0;
        walk(&doc, &doc, &mut refs);
        assert!(refs > 50, "{refs}");
    }

    #[test]
    fn every_operation_has_a_unique_id() {
        let doc = document();
        let mut ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|p| p.as_object().unwrap().iter())
            .filter(|(method, _)| *method != "parameters")
            .map(|(_, o)| o["operationId"].as_str().unwrap())
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
}
