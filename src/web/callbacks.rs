//! `GET /api/callbacks` (and `.csv`): the callers to call back, as the store works them out
//! (`store::callbacks`), with the names of the lines and queues they tried; and
//! `PUT`/`DELETE /api/callbacks/{number}/done`, the mark every user of the token sees.

use super::api::{dialect, names, read, with_board};
use super::auth::Caller;
use super::error::ApiError;
use super::export::{csv_response, CsvFile};
use super::extract::Number;
use super::params::{self, Query, CSV_LIMIT};
use super::AppState;
use crate::limits::NUMBER_BYTES;
use crate::store::callbacks::{self, Callback};
use crate::store::users::Role;
use crate::store::Page;
use axum::extract::{Query as Q, State};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

/// A callback as the API shows it: its places with their names.
fn shown(c: Callback, names: &HashMap<String, String>) -> Value {
    let places: Vec<Value> = c
        .places
        .iter()
        .map(|p| json!({"number": p, "name": names.get(p)}))
        .collect();
    let mut v = serde_json::to_value(&c).unwrap_or(Value::Null);
    v["places"] = Value::Array(places);
    v
}

/// An agent's part of a page: the callers who tried one of their numbers, with only those
/// places. (A page may then be shorter than asked; its `next` still follows on.)
fn visible(caller: &Caller, mut page: Page<Callback>) -> Page<Callback> {
    if caller.scope.is_some() {
        page.items.retain_mut(|c| {
            c.places.retain(|p| caller.sees(p));
            !c.places.is_empty()
        });
    }
    page
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Q(q): Q<Query>,
) -> Result<Json<Value>, ApiError> {
    let filter = params::callback_filter(&q)?;
    let names = names(&state, &caller)?;
    let token = caller.token.clone();
    let page = read(&state, move |c| callbacks::callbacks(c, &token, &filter)).await?;
    let page = visible(&caller, page);
    let items: Vec<Value> = page.items.into_iter().map(|c| shown(c, &names)).collect();
    Ok(Json(json!({"callbacks": items, "next": page.next})))
}

const COLUMNS: &[&str] = &[
    "number",
    "attempts",
    "first_attempt_at",
    "last_attempt_at",
    "places",
    "done_at",
];

pub async fn csv(
    State(state): State<AppState>,
    caller: Caller,
    Q(q): Q<Query>,
) -> Result<Response, ApiError> {
    let mut filter = params::callback_filter(&q)?;
    if params::csv_all(&q)? {
        filter.limit = CSV_LIMIT;
    }
    let dialect = dialect(&state, &caller, &q).await?;
    let names = names(&state, &caller)?;
    let token = caller.token.clone();
    let page = read(&state, move |c| callbacks::callbacks(c, &token, &filter)).await?;
    let page = visible(&caller, page);
    // One cell for the places: their numbers, each with its name when it has one.
    let items = page
        .items
        .into_iter()
        .map(|c| {
            let places = c
                .places
                .iter()
                .map(|p| match names.get(p) {
                    Some(name) => format!("{p} ({name})"),
                    None => p.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut v = serde_json::to_value(&c).unwrap_or(Value::Null);
            v["places"] = Value::String(places);
            v
        })
        .collect();
    let page = Page {
        items,
        next: page.next,
    };
    let file = CsvFile {
        name: "callbacks",
        columns: COLUMNS,
        named: &[],
        dialect,
    };
    csv_response(&file, page)
}

/// `number` as a path gives it: a caller's number, of sane length.
fn number(raw: String) -> Result<String, ApiError> {
    let n = raw.trim().to_string();
    if n.is_empty() || n.len() > NUMBER_BYTES {
        return Err(ApiError::field(
            "number",
            format!("expected a phone number of at most {NUMBER_BYTES} characters"),
        ));
    }
    Ok(n)
}

async fn mark(
    state: AppState,
    caller: Caller,
    raw: String,
    done: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Supervisor)?;
    let number = number(raw)?;
    // Only a token's own users, of a token the service follows.
    with_board(&state, &caller, |_| ())?;
    let now = state.service.clock.now();
    let (token, n) = (caller.token.clone(), number.clone());
    state
        .service
        .ingest
        .write(move |w| callbacks::mark_done(w.connection(), &token, &n, done, now))
        .await?;
    let action = if done {
        "callback.done"
    } else {
        "callback.undone"
    };
    super::people::record(&state, &caller, action, number.clone()).await?;
    Ok(Json(json!({"number": number, "done": done})))
}

pub async fn done(
    State(state): State<AppState>,
    caller: Caller,
    Number(raw): Number,
) -> Result<Json<Value>, ApiError> {
    mark(state, caller, raw, true).await
}

pub async fn undone(
    State(state): State<AppState>,
    caller: Caller,
    Number(raw): Number,
) -> Result<Json<Value>, ApiError> {
    mark(state, caller, raw, false).await
}
