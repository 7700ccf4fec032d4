//! The JSON routes of the contract: live state from the caller's board, history from the
//! store, settings, reset and feed health.

use super::auth::Caller;
use super::error::ApiError;
use super::export::{csv_download, CsvFile, Dialect, Extent};
use super::extract::Body;
use super::params::{self, Query, CSV_LIMIT};
use super::AppState;
use crate::clock::rfc3339;
use crate::engine::Board;
use crate::settings::{PopMode, Settings};
use crate::store::users::Role;
use crate::store::{queries, Page, StoreError};
use axum::extract::{Query as Q, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

pub(super) fn with_board<R>(
    state: &AppState,
    caller: &Caller,
    f: impl FnOnce(&Board) -> R,
) -> Result<R, ApiError> {
    let board = state
        .service
        .boards
        .get(&caller.token)
        .ok_or_else(ApiError::unauthorized)?;
    let board = board.lock();
    Ok(f(&board))
}

/// Runs a store read off the async threads.
pub(super) async fn read<R: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&crate::store::db::Conn) -> Result<R, StoreError> + Send + 'static,
) -> Result<R, ApiError> {
    Ok(state.service.readers.read(f).await?)
}

pub async fn lines(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    with_board(&state, &caller, |b| {
        let lines: Vec<_> = b
            .lines()
            .into_iter()
            .filter(|l| caller.sees(&l.number))
            .collect();
        Json(json!({ "lines": lines }))
    })
}

pub async fn calls(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    with_board(&state, &caller, |b| {
        let calls: Vec<_> = b
            .calls()
            .into_iter()
            .filter(|c| caller.sees(&c.number))
            .collect();
        Json(json!({ "calls": calls }))
    })
}

pub async fn queues(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    with_board(&state, &caller, |b| {
        let queues: Vec<_> = b
            .queues()
            .into_iter()
            .filter(|q| caller.sees(&q.number))
            .collect();
        Json(json!({"queues": queues, "since": b.since().map(rfc3339)}))
    })
}

/// A page as the JSON routes answer it, `{KEY: [ITEM…], "next": CURSOR|null}`, written
/// straight from the items: through a `serde_json::Value` first, a page of 100 calls cost 1,500
/// map insertions and as many allocations (`benches/history.rs`).
pub(super) struct PageJson<T> {
    key: &'static str,
    page: Page<T>,
}

impl<T: Serialize> Serialize for PageJson<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry(self.key, &self.page.items)?;
        map.serialize_entry("next", &self.page.next)?;
        map.end()
    }
}

fn page_json<T: Serialize>(key: &'static str, page: Page<T>) -> Json<PageJson<T>> {
    Json(PageJson { key, page })
}

pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Q(q): Q<Query>,
) -> Result<Json<PageJson<crate::engine::CallRecord>>, ApiError> {
    let mut filter = params::call_filter(&q, &names(&state, &caller)?)?;
    filter.scope = caller.numbers();
    let page = read(&state, move |c| queries::history(c, &caller.token, &filter)).await?;
    Ok(page_json("calls", page))
}

pub async fn journal(
    State(state): State<AppState>,
    caller: Caller,
    Q(q): Q<Query>,
) -> Result<Json<PageJson<crate::engine::JournalEntry>>, ApiError> {
    let mut filter = params::journal_filter(&q, &names(&state, &caller)?)?;
    filter.scope = caller.numbers();
    let page = read(&state, move |c| queries::journal(c, &caller.token, &filter)).await?;
    Ok(page_json("entries", page))
}

pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Q(q): Q<Query>,
) -> Result<Json<PageJson<crate::store::EventRow>>, ApiError> {
    let mut filter = params::event_filter(&q)?;
    filter.scope = caller.numbers();
    let page = read(&state, move |c| queries::events(c, &caller.token, &filter)).await?;
    Ok(page_json("events", page))
}

/// The columns of the CSV forms: the contract's fields, in its order, then ours.
const CALL_COLUMNS: &[&str] = &[
    "number",
    "call_id",
    "direction",
    "calling",
    "called",
    "dialed",
    "started_at",
    "answered_at",
    "ended_at",
    "ring_s",
    "talk_s",
    "outcome",
    "queue",
    "queue_caller",
];
const JOURNAL_COLUMNS: &[&str] = &[
    "queue",
    "caller",
    "agent",
    "joined_at",
    "answered_at",
    "left_at",
    "wait_s",
    "talk_s",
    "outcome",
    "reason",
];

/// The CSV dialect asked for; `excel-fr` with the token's time zone and its numbers' names.
pub(super) async fn dialect(
    state: &AppState,
    caller: &Caller,
    q: &Query,
) -> Result<Dialect, ApiError> {
    if !params::excel_fr(q)? {
        return Ok(Dialect::Standard);
    }
    let tz = current_settings(state, caller).await?.tz();
    let names = names(state, caller)?;
    Ok(Dialect::ExcelFr { tz, names })
}

/// The names (descriptions) of the caller's lines and queues, by number.
pub(super) fn names(
    state: &AppState,
    caller: &Caller,
) -> Result<std::collections::HashMap<String, String>, ApiError> {
    with_board(state, caller, |b| {
        let lines = b.lines().into_iter().map(|l| (l.number, l.description));
        let queues = b.queues().into_iter().map(|q| (q.number, q.description));
        lines
            .chain(queues)
            .filter_map(|(number, name)| Some((number, name?)))
            .collect()
    })
}

/// How much of a listing a CSV holds: one page, or every matching row (`all=1`).
fn extent(q: &Query, limit: usize) -> Result<Extent, ApiError> {
    Ok(match params::csv_all(q)? {
        true => Extent::All(CSV_LIMIT),
        false => Extent::Page(limit),
    })
}

pub async fn history_csv(
    State(state): State<AppState>,
    caller: Caller,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let mut filter = params::call_filter(&q, &names(&state, &caller)?)?;
    filter.scope = caller.numbers();
    let extent = extent(&q, filter.limit)?;
    let file = CsvFile {
        name: "history",
        columns: CALL_COLUMNS,
        named: &[("number", "line_name"), ("queue", "queue_name")],
        dialect: dialect(&state, &caller, &q).await?,
    };
    let token = caller.token;
    csv_download(&state, file, extent, move |c, after, rows| {
        let part = queries::CallFilter {
            cursor: after.or(filter.cursor),
            limit: rows,
            ..filter.clone()
        };
        queries::history(c, &token, &part)
    })
    .await
}

pub async fn journal_csv(
    State(state): State<AppState>,
    caller: Caller,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let mut filter = params::journal_filter(&q, &names(&state, &caller)?)?;
    filter.scope = caller.numbers();
    let extent = extent(&q, filter.limit)?;
    let file = CsvFile {
        name: "queue-journal",
        columns: JOURNAL_COLUMNS,
        named: &[("queue", "queue_name"), ("agent", "agent_name")],
        dialect: dialect(&state, &caller, &q).await?,
    };
    let token = caller.token;
    csv_download(&state, file, extent, move |c, after, rows| {
        let part = queries::JournalFilter {
            cursor: after.or(filter.cursor),
            limit: rows,
            ..filter.clone()
        };
        queries::journal(c, &token, &part)
    })
    .await
}

pub(super) async fn current_settings(
    state: &AppState,
    caller: &Caller,
) -> Result<Settings, ApiError> {
    let token = caller.token.clone();
    let json = read(state, move |c| queries::settings_json(c, &token)).await?;
    Ok(json
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default())
}

pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(current_settings(&state, &caller).await?))
}

pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<Settings>, ApiError> {
    caller.require(Role::Admin)?;
    let patch: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::field("settings", format!("not JSON: {e}")))?;
    let current = current_settings(&state, &caller).await?;
    let new = current.merged(&patch)?;
    // A silent pop is requested by the service itself: an address the guard refuses for good
    // is refused now rather than queued on every call. (Modal and popup pops are opened by
    // the browser, which may well reach an office CRM on a private address.)
    if new.screen_pop.mode == PopMode::Silent && !new.screen_pop.url.is_empty() {
        crate::hooks::check_destination_now(state.service.hooks.guard(), &new.screen_pop.url)
            .await
            .map_err(|m| ApiError::field("screen_pop.url", m))?;
    }
    state
        .service
        .ingest
        .save_settings(caller.token.clone(), new.clone())
        .await?;
    // The change as sent (its keys and values), masked where it holds an address.
    let mut sent = patch.clone();
    if let Some(url) = sent.pointer_mut("/screen_pop/url") {
        *url = json!(crate::hooks::mask_url(url.as_str().unwrap_or_default()));
    }
    super::people::record(&state, &caller, "settings.change", sent.to_string()).await?;
    Ok(Json(new))
}

pub async fn reset(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Supervisor)?;
    state.service.ingest.reset(caller.token.clone()).await?;
    super::people::record(&state, &caller, "reset", String::new()).await?;
    let since = with_board(&state, &caller, |b| b.since().map(rfc3339))?;
    Ok(Json(json!({"ok": true, "since": since})))
}

pub async fn health(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let now = state.service.clock.now();
    let store = state.service.ingest.store_status().get();
    let mut feed = feed_health(&state, &caller.token);
    // One reading of the store for the whole answer: it may change in between.
    if let Some(f) = feed.as_mut() {
        f["store"] = json!(store);
    }
    let status = feed
        .as_ref()
        .and_then(|f| f["state"].as_str())
        .unwrap_or("unknown")
        .to_string();
    let cross_check = ovh_cross_check(&state, &caller).await?;
    Ok(Json(json!({
        "status": status,
        "feeds": feed.into_iter().collect::<Vec<_>>(),
        "store": store,
        "ovh_cross_check": cross_check,
        "now": rfc3339(now),
    })))
}

/// OVH's queue counters against ours for the caller's token (`supervise::cross_check`):
/// `null` while no OVH account is connected or before the first reading, else the verdict
/// of each queue the token sees and `state`: `differ` when any queue does.
async fn ovh_cross_check(state: &AppState, caller: &Caller) -> Result<Value, ApiError> {
    let (user, token) = (caller.user, caller.token.clone());
    let org = read(state, move |c| match user {
        Some(id) => Ok(crate::store::users::by_id(c, id)?.map(|u| u.org_id)),
        None => crate::store::users::org_of_token(c, &token),
    })
    .await?;
    let Some(sup) = org.and_then(|o| state.supervision.get(o)) else {
        return Ok(Value::Null);
    };
    let known = sup.known.read();
    let Some(queues) = known.checks.get(&caller.token) else {
        return Ok(Value::Null);
    };
    Ok(crate::supervise::cross_check::summary(
        queues.iter().filter(|q| caller.sees(&q.queue)),
    ))
}

/// A token's feed health with the store's beside it (`store`): while the store cannot write,
/// the feed pauses, and the page says why nothing new appears.
pub(super) fn feed_health(state: &AppState, token: &crate::token::TokenId) -> Option<Value> {
    let feed = state.service.health.get(token, state.service.clock.now())?;
    let mut v = serde_json::to_value(feed).ok()?;
    v["store"] = json!(state.service.ingest.store_status().get());
    Some(v)
}

/// Who the caller is, without the secret: the token's hint and the numbers it sees, and the
/// signed-in user (`null` when the caller is the token itself) and role.
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let hint = state.service.hint(&caller.token);
    // `config` tokens are removed where they are configured, not from the dashboard.
    let source = state.service.source(&caller.token);
    let found = match caller.user {
        Some(id) => read(&state, move |c| crate::store::users::by_id(c, id)).await?,
        None => None,
    };
    let user = found
        .as_ref()
        .map(|u| json!({"login": u.login, "role": u.role}));
    // A user may choose among their organisation's tokens (`PUT /api/me/token`).
    let tokens = match &found {
        Some(u) => super::people::org_tokens(&state, u.org_id).await?,
        None => Vec::new(),
    };
    let (role, wall) = (caller.role, caller.wall);
    with_board(&state, &caller, |b| {
        let seen = |n: &String| caller.sees(n);
        let lines: Vec<String> = b
            .lines()
            .into_iter()
            .map(|l| l.number)
            .filter(seen)
            .collect();
        let queues: Vec<String> = b
            .queues()
            .into_iter()
            .map(|q| q.number)
            .filter(seen)
            .collect();
        Json(json!({
            "token_hint": hint, "source": source, "lines": lines, "queues": queues,
            "user": user, "role": role, "wall": wall,
            "token_id": caller.token.as_str(), "tokens": tokens,
        }))
    })
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such API route; see the README for the list",
    )
}
