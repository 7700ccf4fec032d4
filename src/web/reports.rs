//! `GET /api/reports/calls` and `GET /api/reports/queues`: figures per hour of the account's
//! time zone over a range (`from`, `to`, RFC 3339; the last 24 hours by default), for the
//! reports view's charts and tables. They add to the contract's API; they change none of it.

use super::api::{current_settings, names, read};
use super::auth::Caller;
use super::error::ApiError;
use super::params::{self, Query};
use super::AppState;
use crate::clock::rfc3339;
use crate::settings::Settings;
use crate::store::reports;
use axum::extract::{Query as Q, State};
use axum::Json;
use serde_json::{json, Value};

/// The range asked for, checked: `to` after `from`, at most `MAX_SPAN_S` long.
fn range(q: &Query, now: f64) -> Result<(f64, f64), ApiError> {
    let (from, to) = params::range(q)?;
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - 86400.0);
    if from >= to {
        return Err(ApiError::field("to", "'to' must come after 'from'"));
    }
    if to - from > reports::MAX_SPAN_S {
        return Err(ApiError::field("from", "a report covers at most 93 days"));
    }
    Ok((from, to))
}

/// What both reports start from: the range, and the caller's settings (time zone, threshold).
async fn context(
    state: &AppState,
    caller: &Caller,
    q: &Query,
) -> Result<(f64, f64, Settings), ApiError> {
    let (from, to) = range(q, state.service.clock.now())?;
    Ok((from, to, current_settings(state, caller).await?))
}

pub async fn calls(
    State(state): State<AppState>,
    caller: Caller,
    Q(q): Q<Query>,
) -> Result<Json<Value>, ApiError> {
    let (from, to, settings) = context(&state, &caller, &q).await?;
    let tz = settings.tz();
    let number = q
        .get("number")
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    // The lines asked for (one, or all), within what the caller may see.
    let numbers: Option<Vec<String>> = match (number, caller.numbers()) {
        (Some(n), _) => Some(vec![n].into_iter().filter(|n| caller.sees(n)).collect()),
        (None, scope) => scope,
    };
    let token = caller.token;
    let report = read(&state, move |c| {
        reports::calls_per_hour(c, &token, from, to, tz, numbers.as_deref())
    })
    .await?;
    Ok(Json(json!({
        "from": rfc3339(from), "to": rfc3339(to), "timezone": settings.timezone,
        "hours": report.hours, "total": report.total,
    })))
}

pub async fn queues(
    State(state): State<AppState>,
    caller: Caller,
    Q(q): Q<Query>,
) -> Result<Json<Value>, ApiError> {
    let (from, to, settings) = context(&state, &caller, &q).await?;
    let tz = settings.tz();
    let threshold = f64::from(settings.service_level_s);
    // Each queue with its name (description), so the report's headings read as the page's.
    let names = names(&state, &caller)?;
    let token = caller.token.clone();
    let mut queues = read(&state, move |c| {
        reports::queues_per_hour(c, &token, from, to, tz, threshold)
    })
    .await?;
    queues.retain(|q| caller.sees(&q.queue));
    let mut queues = serde_json::to_value(queues).map_err(|e| ApiError::internal(&e))?;
    for q in queues.as_array_mut().into_iter().flatten() {
        let name = q["queue"].as_str().and_then(|n| names.get(n)).cloned();
        q["name"] = json!(name);
    }
    Ok(Json(json!({
        "from": rfc3339(from), "to": rfc3339(to), "timezone": settings.timezone,
        "service_level_s": settings.service_level_s,
        "service_level_target_pct": settings.service_level_target_pct,
        "queues": queues,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_range_defaults_to_the_last_day_and_is_bounded() {
        assert_eq!(range(&q(&[]), 100_000.0).unwrap(), (13_600.0, 100_000.0));
        let too_long = q(&[
            ("from", "2024-01-01T00:00:00Z"),
            ("to", "2024-06-01T00:00:00Z"),
        ]);
        assert!(range(&too_long, 0.0).is_err());
        let empty = q(&[
            ("from", "2024-01-01T00:00:00Z"),
            ("to", "2024-01-01T00:00:00Z"),
        ]);
        assert!(range(&empty, 0.0).is_err());
        assert!(range(&q(&[("from", "yesterday")]), 0.0).is_err());
    }
}
