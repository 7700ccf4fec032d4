//! Callers to call back, worked out by the store (`GET /api/callbacks`): the outside numbers
//! that were missed on a line or left a queue unanswered in a date range, and were not
//! reached afterwards by an answered call either way (a line call from or to them, a call a
//! queue put through, or a queue call answered) — with how many attempts, the last one, and
//! where. Each can be marked done by any user of the token; the mark holds until the caller
//! tries again. The page once computed this in the browser from at most 1,000 rows.

use super::StoreError;
use crate::clock::{as_rfc3339, UnixTime};
use crate::store::db::{params, Conn};
use crate::token::TokenId;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Callback {
    pub number: String,
    pub attempts: u64,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub first_attempt_at: UnixTime,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub last_attempt_at: UnixTime,
    /// The lines and queues they tried, by number.
    pub places: Vec<String>,
    /// When a user marked it done (after the last attempt), if one did.
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub done_at: Option<UnixTime>,
}

/// Where the previous page stopped: the last attempt and the number of its last row.
#[derive(Clone, Debug, PartialEq)]
pub struct CallbackCursor {
    last: f64,
    number: String,
}

impl CallbackCursor {
    pub fn parse(s: &str) -> Option<CallbackCursor> {
        let (last, number) = s.split_once('_')?;
        Some(CallbackCursor {
            last: last.parse().ok().filter(|k: &f64| k.is_finite())?,
            number: number.to_string(),
        })
    }
    fn encode(c: &Callback) -> String {
        format!("{}_{}", c.last_attempt_at, c.number)
    }
}

#[derive(Clone, Debug, Default)]
pub struct CallbackFilter {
    pub from: Option<UnixTime>,
    pub to: Option<UnixTime>,
    /// Also those marked done.
    pub with_done: bool,
    pub limit: usize,
    pub cursor: Option<CallbackCursor>,
}

/// The callers to call back, most recent attempt first.
pub fn callbacks(
    conn: &Conn,
    token: &TokenId,
    f: &CallbackFilter,
) -> Result<super::Page<Callback>, StoreError> {
    let (cursor_last, cursor_number) = f
        .cursor
        .as_ref()
        .map_or((None, None), |c| (Some(c.last), Some(c.number.clone())));
    let mut stmt = conn.prepare_cached(
        "WITH attempts (number, at, place) AS (
             SELECT calling, started_at, number FROM calls
              WHERE token_id = ?1 AND outcome = 'missed' AND calling IS NOT NULL
                AND started_at >= ?2 AND started_at < ?3
             UNION ALL
             SELECT caller, joined_at, queue FROM queue_journal
              WHERE token_id = ?1 AND outcome = 'abandoned' AND caller IS NOT NULL
                AND joined_at >= ?2 AND joined_at < ?3
         ),
         per AS (
             SELECT number, COUNT(*) AS n, MIN(at) AS first, MAX(at) AS last,
                    group_concat(DISTINCT place) AS places
               FROM attempts GROUP BY number
         )
         SELECT per.number, per.n, per.first, per.last, per.places, d.done_at
           FROM per LEFT JOIN callback_done d
             ON d.token_id = ?1 AND d.number = per.number AND d.done_at >= per.last
          WHERE per.number NOT IN (SELECT number FROM calls WHERE token_id = ?1)
            AND per.number NOT IN (SELECT queue FROM queue_journal WHERE token_id = ?1)
            AND NOT EXISTS (SELECT 1 FROM calls c
                  WHERE c.token_id = ?1 AND c.outcome = 'answered' AND c.started_at > per.last
                    AND per.number IN (c.calling, c.called, c.dialed, c.queue_caller))
            AND NOT EXISTS (SELECT 1 FROM queue_journal j
                  WHERE j.token_id = ?1 AND j.outcome = 'answered' AND j.joined_at > per.last
                    AND j.caller = per.number)
            AND (?4 OR d.done_at IS NULL)
            AND ((per.last, per.number) < (?5, ?6) OR ?5 IS NULL)
          ORDER BY per.last DESC, per.number DESC
          LIMIT ?7",
    )?;
    let mut items: Vec<Callback> = stmt
        .query_map(
            params![
                token.as_str(),
                f.from.unwrap_or(f64::MIN),
                f.to.unwrap_or(f64::MAX),
                f.with_done,
                cursor_last,
                cursor_number,
                (f.limit + 1) as i64,
            ],
            |r| {
                let places: String = r.get(4)?;
                Ok(Callback {
                    number: r.get(0)?,
                    attempts: r.get::<_, i64>(1)? as u64,
                    first_attempt_at: r.get(2)?,
                    last_attempt_at: r.get(3)?,
                    places: places.split(',').map(String::from).collect(),
                    done_at: r.get(5)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    let next = if items.len() > f.limit {
        items.truncate(f.limit);
        items.last().map(CallbackCursor::encode)
    } else {
        None
    };
    Ok(super::Page { items, next })
}

/// Marks `number` done (or not) for every user of `token`. A later attempt opens it again.
pub fn mark_done(
    conn: &Conn,
    token: &TokenId,
    number: &str,
    done: bool,
    now: UnixTime,
) -> Result<(), StoreError> {
    if done {
        conn.execute(
            "INSERT INTO callback_done (token_id, number, done_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (token_id, number) DO UPDATE SET done_at = excluded.done_at",
            params![token.as_str(), number, now],
        )?;
    } else {
        conn.execute(
            "DELETE FROM callback_done WHERE token_id = ?1 AND number = ?2",
            params![token.as_str(), number],
        )?;
    }
    Ok(())
}
