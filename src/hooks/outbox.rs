//! The outbox, the endpoints and the delivery log in SQLite. Rows enter the outbox in the
//! transaction that stores their event (see `enqueue`), so a delivery exists exactly when its
//! event does; the worker then reads what is due and writes each attempt's result back through
//! the one writer. A restart finds pending rows where it left them. What the log stores is
//! bounded: the URL (masked, then clipped) and the error text (`crate::limits`), whatever an
//! answer or a failing request said.

use super::mask_url;
use crate::clock::{as_rfc3339, UnixTime};
use crate::limits;
use crate::store::db::{params, Conn, Dialect, OptionalExtension, Row};
use crate::store::StoreError;
use crate::token::TokenId;
use serde::Serialize;

/// Waits after each failed attempt: 5 s, 30 s, 2 min, 10 min, 1 h; then the delivery is given up.
pub const RETRY_AFTER_S: &[f64] = &[5.0, 30.0, 120.0, 600.0, 3600.0];
/// An endpoint that has failed without a single success for this long is disabled.
pub const DISABLE_AFTER_S: f64 = 86400.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Pop,
    Webhook,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pop => "pop",
            Kind::Webhook => "webhook",
        }
    }
    fn parse(s: &str) -> Kind {
        if s == "webhook" {
            Kind::Webhook
        } else {
            Kind::Pop
        }
    }
}

/// A delivery to enqueue.
pub struct NewDelivery<'a> {
    pub token: &'a TokenId,
    pub kind: Kind,
    pub endpoint: Option<i64>,
    pub url: &'a str,
    pub body: Option<&'a str>,
    pub event: &'a str,
    /// Two rows with the same key are one delivery (the same event through two tokens, to
    /// the same screen-pop URL, is requested once).
    pub dedupe: &'a str,
}

/// Adds a pending delivery, due now; false when the same one is already there.
pub fn enqueue(conn: &Conn, d: &NewDelivery, now: UnixTime) -> Result<bool, StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO outbox (token_id, kind, endpoint_id, url, body, webhook_id, event, dedupe, next_attempt_at, state, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?9, ?9)
         ON CONFLICT (dedupe) DO NOTHING",
    )?;
    let n = stmt.execute(params![
        d.token.as_str(),
        d.kind.as_str(),
        d.endpoint,
        d.url,
        d.body,
        super::sign::new_message_id(),
        d.event,
        d.dedupe,
        now,
    ])?;
    Ok(n == 1)
}

/// Removes an endpoint's test deliveries and their log lines, before a new test is queued.
pub fn forget_tests(conn: &Conn, endpoint: i64) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM deliveries WHERE endpoint_id = ?1 AND kind = 'webhook' AND event = 'test'",
        [endpoint],
    )?;
    conn.execute(
        "DELETE FROM outbox WHERE endpoint_id = ?1 AND kind = 'webhook' AND event = 'test'",
        [endpoint],
    )?;
    Ok(())
}

/// A webhook endpoint as stored (the secret only leaves through `Due`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    /// `enabled` or `disabled`.
    pub state: &'static str,
    pub disabled_reason: Option<String>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub disabled_at: Option<UnixTime>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub failing_since: Option<UnixTime>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub last_success_at: Option<UnixTime>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub created_at: UnixTime,
}

const ENDPOINT_COLUMNS: &str = "id, url, description, events, enabled, disabled_reason, disabled_at, failing_since, last_success_at, created_at";

fn endpoint(r: &Row) -> crate::store::db::Result<Endpoint> {
    let events: String = r.get(3)?;
    Ok(Endpoint {
        id: r.get(0)?,
        url: r.get(1)?,
        description: r.get(2)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        state: if r.get::<_, bool>(4)? {
            "enabled"
        } else {
            "disabled"
        },
        disabled_reason: r.get(5)?,
        disabled_at: r.get(6)?,
        failing_since: r.get(7)?,
        last_success_at: r.get(8)?,
        created_at: r.get(9)?,
    })
}

pub fn endpoints(
    conn: &Conn,
    token: &TokenId,
    enabled_only: bool,
) -> Result<Vec<Endpoint>, StoreError> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE token_id = ?1 {} ORDER BY id",
        if enabled_only { "AND enabled = 1" } else { "" }
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([token.as_str()], endpoint)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn endpoint_by_id(
    conn: &Conn,
    token: &TokenId,
    id: i64,
) -> Result<Option<Endpoint>, StoreError> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE token_id = ?1 AND id = ?2");
    Ok(conn
        .query_row(&sql, params![token.as_str(), id], endpoint)
        .optional()?)
}

pub fn create_endpoint(
    conn: &Conn,
    token: &TokenId,
    url: &str,
    description: &str,
    events: &[String],
    secret: &str,
    now: UnixTime,
) -> Result<Endpoint, StoreError> {
    let id: i64 = conn.query_row(
        "INSERT INTO webhooks (token_id, url, description, events, secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![token.as_str(), url, description, serde_json::to_string(events)?, secret, now],
        |r| r.get(0),
    )?;
    endpoint_by_id(conn, token, id)?.ok_or(StoreError::Db(crate::store::db::DbError::NoRows))
}

/// Deletes an endpoint; its pending deliveries fail. False when there was none.
pub fn delete_endpoint(
    conn: &Conn,
    token: &TokenId,
    id: i64,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let n = tx.execute(
        "DELETE FROM webhooks WHERE token_id = ?1 AND id = ?2",
        params![token.as_str(), id],
    )?;
    abandon_pending(&tx, id, "the endpoint was deleted", now)?;
    tx.commit()?;
    Ok(n == 1)
}

/// Turns an endpoint back on after it was disabled.
pub fn enable_endpoint(conn: &Conn, token: &TokenId, id: i64) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE webhooks SET enabled = 1, disabled_reason = NULL, disabled_at = NULL, failing_since = NULL WHERE token_id = ?1 AND id = ?2",
        params![token.as_str(), id],
    )?;
    Ok(n == 1)
}

fn disable_endpoint(conn: &Conn, id: i64, reason: &str, now: UnixTime) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE webhooks SET enabled = 0, disabled_reason = ?2, disabled_at = ?3 WHERE id = ?1",
        params![id, reason, now],
    )?;
    abandon_pending(conn, id, reason, now)
}

fn abandon_pending(
    conn: &Conn,
    endpoint: i64,
    reason: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE outbox SET state = 'failed', last_error = ?2, updated_at = ?3 WHERE endpoint_id = ?1 AND state = 'pending'",
        params![endpoint, reason, now],
    )?;
    Ok(())
}

/// A delivery whose next attempt is due.
#[derive(Clone, Debug)]
pub struct Due {
    pub id: i64,
    pub token: TokenId,
    pub kind: Kind,
    pub endpoint: Option<i64>,
    pub url: String,
    pub body: Option<String>,
    pub webhook_id: String,
    pub event: String,
    /// The endpoint's secret (webhooks).
    pub secret: Option<String>,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How long an instance's claim on a delivery keeps the others off it (PostgreSQL): longer
/// than any attempt takes; past it, an instance that died mid-attempt has its rows attempted
/// by another, with the same idempotency id.
pub const CLAIM_S: f64 = 300.0;

/// The deliveries due at `now`, at most `limit`. On PostgreSQL, where several instances may
/// share the outbox, they are first claimed for this instance (`FOR UPDATE SKIP LOCKED`: two
/// instances looking at once claim different rows), and only this instance's claims are
/// returned; a claim ends with the attempt's record.
pub fn due(
    conn: &Conn,
    now: UnixTime,
    limit: usize,
    instance: &str,
) -> Result<Vec<Due>, StoreError> {
    let claims = conn.dialect() == Dialect::Postgres;
    if claims {
        conn.prepare_cached(
            "UPDATE outbox SET claimed_by = ?1, claimed_until = ?4 WHERE id IN (
                 SELECT id FROM outbox
                 WHERE state = 'pending' AND next_attempt_at <= ?2
                   AND (claimed_until IS NULL OR claimed_until < ?2 OR claimed_by = ?1)
                 ORDER BY next_attempt_at, id LIMIT ?3 FOR UPDATE SKIP LOCKED)",
        )?
        .execute(params![instance, now, limit as i64, now + CLAIM_S])?;
    }
    const SELECT: &str = "SELECT o.id, o.token_id, o.kind, o.endpoint_id, o.url, o.body, o.webhook_id, o.event, w.secret, o.attempts
         FROM outbox o LEFT JOIN webhooks w ON w.id = o.endpoint_id
         WHERE o.state = 'pending' AND o.next_attempt_at <= ?1";
    let row = |r: &Row<'_>| -> crate::store::db::Result<Due> {
        Ok(Due {
            id: r.get(0)?,
            token: TokenId::from_stored(r.get::<_, String>(1)?),
            kind: Kind::parse(&r.get::<_, String>(2)?),
            endpoint: r.get(3)?,
            url: r.get(4)?,
            body: r.get(5)?,
            webhook_id: r.get(6)?,
            event: r.get(7)?,
            secret: r.get(8)?,
            attempts: r.get(9)?,
        })
    };
    let rows: Vec<_> = if claims {
        conn.prepare_cached(&format!(
            "{SELECT} AND o.claimed_by = ?3 ORDER BY o.next_attempt_at, o.id LIMIT ?2"
        ))?
        .query_map(params![now, limit as i64, instance], row)?
        .collect()
    } else {
        conn.prepare_cached(&format!(
            "{SELECT} ORDER BY o.next_attempt_at, o.id LIMIT ?2"
        ))?
        .query_map(params![now, limit as i64], row)?
        .collect()
    };
    Ok(rows.into_iter().collect::<Result<_, _>>()?)
}

/// Ends `instance`'s claims (a clean stop: what it had due is for the others at once).
pub fn release_claims(conn: &Conn, instance: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?1",
        params![instance],
    )?;
    Ok(())
}

/// The time of the next pending attempt, if any (the worker sleeps until then).
pub fn next_due(conn: &Conn) -> Result<Option<UnixTime>, StoreError> {
    Ok(conn.query_row(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'",
        (),
        |r| r.get(0),
    )?)
}

/// How one attempt went.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered { status: u16 },
    /// Worth another try later: a 5xx, a time-out, a refused connection, a redirect…
    Retry { status: Option<u16>, error: String },
    /// Never worth another try: an address the guard refuses, a 410 from a webhook.
    Permanent { status: Option<u16>, error: String },
}

/// Records an attempt: the log line, the row's new state, and the endpoint's health (a 410
/// or a day of failures disables it). Returns the row's new state (`replaced` when the row
/// is gone: a test that a newer one replaced, nothing recorded).
pub fn record(
    conn: &Conn,
    d: &Due,
    outcome: &Outcome,
    latency_ms: f64,
    now: UnixTime,
) -> Result<&'static str, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let attempt = d.attempts + 1;
    let bounded = |e: &'_ String| limits::clip(e, limits::ERROR_TEXT_BYTES).into_owned();
    let (state, status, error, next) = match outcome {
        Outcome::Delivered { status } => ("delivered", Some(*status), None, now),
        Outcome::Retry { status, error } => match RETRY_AFTER_S.get(d.attempts as usize) {
            Some(wait) => ("pending", *status, Some(bounded(error)), now + wait),
            None => ("gave_up", *status, Some(bounded(error)), now),
        },
        Outcome::Permanent { status, error } => ("failed", *status, Some(bounded(error)), now),
    };
    let url = limits::clip(&mask_url(&d.url), limits::LOGGED_URL_BYTES).into_owned();
    let updated = tx.execute(
        "UPDATE outbox SET attempts = ?2, state = ?3, next_attempt_at = ?4, updated_at = ?5, last_error = ?6, claimed_by = NULL, claimed_until = NULL WHERE id = ?1 AND state = 'pending'",
        params![d.id, attempt, state, next, now, error],
    )?;
    if updated == 0 && !exists(&tx, d.id)? {
        // A test replaced by a newer one while this attempt was in flight: its log lines
        // are gone with it, and this one goes too.
        return Ok("replaced");
    }
    let logged = if state == "pending" { "retry" } else { state };
    tx.execute(
        "INSERT INTO deliveries (outbox_id, token_id, kind, endpoint_id, event, at, url, status, latency_ms, error, attempt, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![d.id, d.token.as_str(), d.kind.as_str(), d.endpoint, d.event, now, url, status, latency_ms, error, attempt, logged],
    )?;
    if let (Kind::Webhook, Some(endpoint)) = (d.kind, d.endpoint) {
        match outcome {
            Outcome::Delivered { .. } => {
                tx.execute(
                    "UPDATE webhooks SET failing_since = NULL, last_success_at = ?2 WHERE id = ?1",
                    params![endpoint, now],
                )?;
            }
            Outcome::Permanent {
                status: Some(410), ..
            } => disable_endpoint(&tx, endpoint, "the endpoint answered 410 Gone", now)?,
            _ => {
                tx.execute(
                    "UPDATE webhooks SET failing_since = COALESCE(failing_since, ?2) WHERE id = ?1",
                    params![endpoint, now],
                )?;
                let since: Option<UnixTime> = tx
                    .query_row(
                        "SELECT failing_since FROM webhooks WHERE id = ?1 AND enabled = 1",
                        [endpoint],
                        |r| r.get(0),
                    )
                    .optional()?
                    .flatten();
                if since.is_some_and(|s| now - s >= DISABLE_AFTER_S) {
                    disable_endpoint(
                        &tx,
                        endpoint,
                        "every delivery failed for more than a day",
                        now,
                    )?;
                }
            }
        }
    }
    tx.commit()?;
    Ok(state)
}

fn exists(conn: &Conn, outbox_id: i64) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM outbox WHERE id = ?1",
            [outbox_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// One line of the delivery log, as `GET /api/deliveries` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliveryRow {
    pub id: i64,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub at: UnixTime,
    pub kind: Kind,
    pub endpoint_id: Option<i64>,
    pub event: String,
    /// The URL with its query values and any password masked.
    pub url: String,
    pub status: Option<u16>,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
    pub attempt: u32,
    /// `delivered`, `retry` (another attempt is scheduled), `failed` or `gave_up`.
    pub outcome: String,
    /// The delivery's `webhook-id`, the same on each of its attempts.
    pub webhook_id: String,
}

#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub kind: Option<Kind>,
    pub endpoint: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: usize,
}

/// The token's delivery log, newest first; the second value is the cursor of the next page.
pub fn deliveries(
    conn: &Conn,
    token: &TokenId,
    f: &DeliveryFilter,
) -> Result<(Vec<DeliveryRow>, Option<i64>), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.at, d.kind, d.endpoint_id, d.event, d.url, d.status, d.latency_ms, d.error, d.attempt, d.outcome, COALESCE(o.webhook_id, '')
         FROM deliveries d LEFT JOIN outbox o ON o.id = d.outbox_id
         WHERE d.token_id = ?1 AND (d.kind = ?2 OR ?2 IS NULL) AND (d.endpoint_id = ?3 OR ?3 IS NULL) AND (d.id < ?4 OR ?4 IS NULL)
         ORDER BY d.id DESC LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![
            token.as_str(),
            f.kind.map(Kind::as_str),
            f.endpoint,
            f.before_id,
            f.limit as i64 + 1
        ],
        |r| {
            Ok(DeliveryRow {
                id: r.get(0)?,
                at: r.get(1)?,
                kind: Kind::parse(&r.get::<_, String>(2)?),
                endpoint_id: r.get(3)?,
                event: r.get(4)?,
                url: r.get(5)?,
                status: r.get(6)?,
                latency_ms: r.get(7)?,
                error: r.get(8)?,
                attempt: r.get(9)?,
                outcome: r.get(10)?,
                webhook_id: r.get(11)?,
            })
        },
    )?;
    let mut rows: Vec<DeliveryRow> = rows.collect::<Result<_, _>>()?;
    let next = if rows.len() > f.limit {
        rows.truncate(f.limit);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok((rows, next))
}
