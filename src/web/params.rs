//! Query-string filters of the history, journal and event routes, checked one by one so that
//! a bad value is refused naming its parameter.

use super::error::ApiError;
use crate::clock::parse_rfc3339;
use crate::engine::{CallOutcome, Direction, JournalOutcome};
use crate::normalise::phone;
use crate::store::callbacks::{CallbackCursor, CallbackFilter};
use crate::store::{CallFilter, Cursor, EventFilter, JournalFilter};
use std::collections::HashMap;

pub type Query = HashMap<String, String>;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// A CSV download with `all=1` takes every matching row, up to this many.
pub const CSV_LIMIT: usize = 100_000;

fn text(q: &Query, key: &str) -> Option<String> {
    q.get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn time(q: &Query, key: &str) -> Result<Option<f64>, ApiError> {
    match text(q, key) {
        None => Ok(None),
        Some(v) => parse_rfc3339(&v).map(Some).ok_or_else(|| {
            ApiError::field(
                key,
                format!("expected an RFC 3339 time such as 2024-11-26T09:36:40Z, got {v:?}"),
            )
        }),
    }
}

fn limit(q: &Query, default: usize, max: usize) -> Result<usize, ApiError> {
    match text(q, "limit") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(ApiError::field(
                "limit",
                format!("expected a whole number from 1 to {max}"),
            )),
        },
    }
}

fn cursor(q: &Query) -> Result<Option<Cursor>, ApiError> {
    match text(q, "cursor") {
        None => Ok(None),
        Some(v) => Cursor::parse(&v).map(Some).ok_or_else(|| {
            ApiError::field(
                "cursor",
                "not a cursor: pass the 'next' of the previous page",
            )
        }),
    }
}

fn direction(q: &Query) -> Result<Option<Direction>, ApiError> {
    match text(q, "direction").as_deref() {
        None => Ok(None),
        Some("incoming") => Ok(Some(Direction::Incoming)),
        Some("outgoing") => Ok(Some(Direction::Outgoing)),
        Some("unknown") => Ok(Some(Direction::Unknown)),
        Some(_) => Err(ApiError::field(
            "direction",
            "expected incoming, outgoing or unknown",
        )),
    }
}

pub(super) fn range(q: &Query) -> Result<(Option<f64>, Option<f64>), ApiError> {
    let (from, to) = (time(q, "from")?, time(q, "to")?);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(ApiError::field("to", "'to' is before 'from'"));
        }
    }
    Ok((from, to))
}

fn call_outcome(q: &Query) -> Result<Option<CallOutcome>, ApiError> {
    match text(q, "outcome").as_deref() {
        None => Ok(None),
        Some(o) => CallOutcome::parse(o).map(Some).ok_or_else(|| {
            ApiError::field(
                "outcome",
                "expected answered, missed, unanswered, unknown or queue_offer",
            )
        }),
    }
}

/// Whether a CSV download asks for every matching row (`all=1`) rather than one page; then
/// it takes up to `CSV_LIMIT` rows, whatever `limit` says.
/// Whether a CSV is asked for in the `excel-fr` dialect (`?dialect=excel-fr`; default
/// `standard`).
pub fn excel_fr(q: &Query) -> Result<bool, ApiError> {
    match text(q, "dialect").as_deref() {
        None | Some("standard") => Ok(false),
        Some("excel-fr") => Ok(true),
        Some(_) => Err(ApiError::field("dialect", "expected standard or excel-fr")),
    }
}

pub fn csv_all(q: &Query) -> Result<bool, ApiError> {
    match text(q, "all").as_deref() {
        None | Some("0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some(_) => Err(ApiError::field(
            "all",
            "expected 1 (every matching row) or 0",
        )),
    }
}

/// A number filter (`number`, `queue`): in OVH's form when a whole number was typed
/// (`+33 9 72 10 10 10` → `0033972101010`), as typed otherwise.
fn number(q: &Query, key: &str) -> Option<String> {
    text(q, key).map(|v| phone::ovh_form(&v))
}

/// What the search box (`q`) looks for in the numbers: the number typed, in OVH's form (whole)
/// or as the digits to find (a part: `09 72 10` → `97210`), or the text as typed; and the
/// numbers of the lines and queues whose name (`names`, by number) contains what was typed.
pub fn search(q: &Query, names: &HashMap<String, String>) -> Vec<String> {
    let Some(typed) = text(q, "q") else {
        return Vec::new();
    };
    let mut texts = vec![match phone::read(&typed) {
        phone::Typed::Full(n) | phone::Typed::Partial(n) => n,
        phone::Typed::Text => typed.clone(),
    }];
    let lower = typed.to_lowercase();
    let mut named: Vec<String> = names
        .iter()
        .filter(|(_, name)| name.to_lowercase().contains(&lower))
        .map(|(n, _)| n.clone())
        .collect();
    named.sort();
    texts.extend(named);
    texts
}

pub fn call_filter(q: &Query, names: &HashMap<String, String>) -> Result<CallFilter, ApiError> {
    let (from, to) = range(q)?;
    let outcome = call_outcome(q)?;
    Ok(CallFilter {
        number: number(q, "number"),
        search: search(q, names),
        from,
        to,
        direction: direction(q)?,
        outcome,
        limit: limit(q, DEFAULT_LIMIT, MAX_LIMIT)?,
        cursor: cursor(q)?,
        scope: None,
    })
}

pub fn journal_filter(
    q: &Query,
    names: &HashMap<String, String>,
) -> Result<JournalFilter, ApiError> {
    let (from, to) = range(q)?;
    let outcome = match text(q, "outcome").as_deref() {
        None => None,
        Some("answered") => Some(JournalOutcome::Answered),
        Some("abandoned") => Some(JournalOutcome::Abandoned),
        Some("unknown") => Some(JournalOutcome::Unknown),
        Some(_) => {
            return Err(ApiError::field(
                "outcome",
                "expected answered, abandoned or unknown",
            ))
        }
    };
    Ok(JournalFilter {
        queue: number(q, "queue"),
        search: search(q, names),
        from,
        to,
        direction: direction(q)?,
        outcome,
        limit: limit(q, DEFAULT_LIMIT, MAX_LIMIT)?,
        cursor: cursor(q)?,
        scope: None,
    })
}

pub fn callback_filter(q: &Query) -> Result<CallbackFilter, ApiError> {
    let (from, to) = range(q)?;
    let with_done = match text(q, "done").as_deref() {
        None | Some("1" | "true" | "yes") => true,
        Some("0" | "false" | "no") => false,
        Some(_) => {
            return Err(ApiError::field(
                "done",
                "expected 1 (with those marked done, the default) or 0",
            ))
        }
    };
    let cursor = match text(q, "cursor") {
        None => None,
        Some(v) => Some(CallbackCursor::parse(&v).ok_or_else(|| {
            ApiError::field(
                "cursor",
                "not a cursor: pass the 'next' of the previous page",
            )
        })?),
    };
    Ok(CallbackFilter {
        from,
        to,
        with_done,
        limit: limit(q, DEFAULT_LIMIT, MAX_LIMIT)?,
        cursor,
    })
}

pub fn event_filter(q: &Query) -> Result<EventFilter, ApiError> {
    let (from, to) = range(q)?;
    Ok(EventFilter {
        outcome: call_outcome(q)?,
        number: number(q, "number"),
        event: text(q, "event"),
        from,
        to,
        direction: direction(q)?,
        limit: limit(q, DEFAULT_LIMIT, MAX_LIMIT)?,
        cursor: cursor(q)?,
        scope: None,
    })
}
