//! Leases: how instances that share one PostgreSQL database divide the tokens between them,
//! so that each token has one follower (`cluster` runs the loop that keeps them).
//!
//! A lease row names the instance that follows a token, until when, and an epoch that moves
//! each time the token changes hands. An instance commits a token's events only inside a
//! transaction that first finds its own epoch still on the row (`fence`, which holds the row
//! until the commit): an instance that paused past its lease, and whose token another took,
//! can never commit for it again. Times are the database's clock, so that instances on
//! machines whose clocks disagree still agree on when a lease ran out.
//!
//! PostgreSQL only: one process owns an SQLite file, and there are no leases to take.

use super::db::{params, Conn, OptionalExtension};
use super::StoreError;
use crate::token::TokenId;

/// The database's time, in seconds since 1970.
const NOW: &str = "extract(epoch from clock_timestamp())::double precision";

/// A lease this instance holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub token: TokenId,
    pub epoch: i64,
}

fn sql(template: &str) -> String {
    template.replace("NOW", NOW)
}

/// Says the instance is alive, forgets instances not heard of for three lease times (they
/// died), and counts those alive: the tokens are divided between them.
pub fn heartbeat(conn: &Conn, instance: &str, ttl_s: f64) -> Result<usize, StoreError> {
    conn.prepare_cached(&sql(
        "INSERT INTO instances (id, started_at, seen_at) VALUES (?1, NOW, NOW) \
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
    ))?
    .execute(params![instance])?;
    conn.prepare_cached(&sql("DELETE FROM instances WHERE seen_at < NOW - ?1"))?
        .execute(params![3.0 * ttl_s])?;
    let alive: i64 = conn
        .prepare_cached(&sql(
            "SELECT COUNT(*) FROM instances WHERE seen_at >= NOW - ?1",
        ))?
        .query_row(params![ttl_s], |r| r.get(0))?;
    Ok(alive.max(1) as usize)
}

/// Extends every lease the instance holds, and says which those are (a lease another
/// instance took after it ran out is not among them). A lease row this instance's own commit
/// holds at the moment (`fence`) is left for the next renewal rather than waited for: waiting
/// for it while that commit waited for another row this renewal had locked was a deadlock.
pub fn renew(conn: &Conn, instance: &str, ttl_s: f64) -> Result<Vec<Held>, StoreError> {
    conn.prepare_cached(&sql(
        "UPDATE token_leases SET expires_at = NOW + ?2 WHERE token_id IN (
             SELECT token_id FROM token_leases WHERE holder = ?1 FOR NO KEY UPDATE SKIP LOCKED)",
    ))?
    .execute(params![instance, ttl_s])?;
    // A row skipped again and again (a busy token, whose commits keep holding it) would run
    // out: once past half its time, it is renewed alone, waiting for the commit — a statement
    // that holds no other row cannot deadlock.
    let aging: Vec<String> = conn
        .prepare_cached(&sql(
            "SELECT token_id FROM token_leases WHERE holder = ?1 AND expires_at < NOW + ?2",
        ))?
        .query_map(params![instance, ttl_s / 2.0], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for token in aging {
        conn.prepare_cached(&sql(
            "UPDATE token_leases SET expires_at = NOW + ?3 WHERE token_id = ?1 AND holder = ?2",
        ))?
        .execute(params![token, instance, ttl_s])?;
    }
    let mut stmt =
        conn.prepare_cached("SELECT token_id, epoch FROM token_leases WHERE holder = ?1")?;
    let held = stmt
        .query_map(params![instance], |r| {
            Ok(Held {
                token: TokenId::from_stored(r.get::<_, String>(0)?),
                epoch: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(held)
}

/// The active tokens no instance holds a live lease on.
pub fn free(conn: &Conn) -> Result<Vec<TokenId>, StoreError> {
    let mut stmt = conn.prepare_cached(&sql(
        "SELECT t.id FROM tokens t LEFT JOIN token_leases l ON l.token_id = t.id \
         WHERE t.state = 'active' AND (l.token_id IS NULL OR l.expires_at < NOW) ORDER BY t.id",
    ))?;
    let ids = stmt
        .query_map((), |r| Ok(TokenId::from_stored(r.get::<_, String>(0)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}

/// Takes a token whose lease is free (never taken, or run out), moving its epoch. `None`
/// when another instance holds it (or took it first: the row's lock orders the two).
pub fn acquire(
    conn: &Conn,
    instance: &str,
    token: &TokenId,
    ttl_s: f64,
) -> Result<Option<i64>, StoreError> {
    let epoch = conn
        .prepare_cached(&sql(
            "INSERT INTO token_leases (token_id, holder, epoch, expires_at) VALUES (?1, ?2, 1, NOW + ?3) \
             ON CONFLICT (token_id) DO UPDATE SET holder = excluded.holder, \
                 epoch = token_leases.epoch + 1, expires_at = excluded.expires_at \
             WHERE token_leases.expires_at < NOW \
             RETURNING epoch",
        ))?
        .query_row(params![token.as_str(), instance, ttl_s], |r| r.get(0))
        .optional()?;
    Ok(epoch)
}

/// Gives a lease back at once (the instance has too many, or stops): another takes it at its
/// next look rather than after the lease time.
pub fn release(conn: &Conn, instance: &str, token: &TokenId) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE token_leases SET expires_at = 0 WHERE holder = ?1 AND token_id = ?2",
    )?
    .execute(params![instance, token.as_str()])?;
    Ok(())
}

/// Gives every lease back and leaves the instances (a clean stop).
pub fn leave(conn: &Conn, instance: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE token_leases SET expires_at = 0 WHERE holder = ?1",
        params![instance],
    )?;
    conn.execute("DELETE FROM instances WHERE id = ?1", params![instance])?;
    Ok(())
}

/// Inside a commit's transaction: whether the instance still holds `token` at `epoch`. The
/// row stays locked until the transaction ends, so the lease cannot change hands between
/// this check and the commit: a takeover waits for it, then moves the epoch.
pub fn fence(conn: &Conn, instance: &str, token: &TokenId, epoch: i64) -> Result<bool, StoreError> {
    let found: Option<i64> = conn
        .prepare_cached(
            "SELECT epoch FROM token_leases WHERE token_id = ?1 AND holder = ?2 FOR SHARE",
        )?
        .query_row(params![token.as_str(), instance], |r| r.get(0))
        .optional()?;
    Ok(found == Some(epoch))
}

/// Every lease, for the status page and the tests: token, holder, epoch, seconds left.
pub fn list(conn: &Conn) -> Result<Vec<(TokenId, String, i64, f64)>, StoreError> {
    let mut stmt = conn.prepare(&sql(
        "SELECT token_id, holder, epoch, expires_at - NOW FROM token_leases ORDER BY token_id",
    ))?;
    let rows = stmt
        .query_map((), |r| {
            Ok((
                TokenId::from_stored(r.get::<_, String>(0)?),
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Where a token stands in the store, for the instances that show it: its last stored event,
/// its settings version, the resets asked of it and the last one done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marks {
    pub token: TokenId,
    pub last_seq: i64,
    pub settings_version: i64,
    pub reset_asked: i64,
    pub reset_done: i64,
}

/// Every active token's marks: a cheap read of the token table, every second or so (the
/// instances compare them with what they applied, when no message said sooner).
pub fn marks(conn: &Conn) -> Result<Vec<Marks>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, last_seq, settings_version, reset_asked, reset_done FROM tokens WHERE state = 'active'",
    )?;
    let rows = stmt
        .query_map((), |r| {
            Ok(Marks {
                token: TokenId::from_stored(r.get::<_, String>(0)?),
                last_seq: r.get(1)?,
                settings_version: r.get(2)?,
                reset_asked: r.get(3)?,
                reset_done: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// One token's marks (when its board is rebuilt: what it then reflects).
pub fn marks_of(conn: &Conn, token: &TokenId) -> Result<Option<Marks>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT last_seq, settings_version, reset_asked, reset_done FROM tokens WHERE id = ?1",
        )?
        .query_row(params![token.as_str()], |r| {
            Ok(Marks {
                token: token.clone(),
                last_seq: r.get(0)?,
                settings_version: r.get(1)?,
                reset_asked: r.get(2)?,
                reset_done: r.get(3)?,
            })
        })
        .optional()?)
}

/// A reset asked of `token` by any instance: the one following it does it. The new count.
pub fn ask_reset(conn: &Conn, token: &TokenId) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached(
            "UPDATE tokens SET reset_asked = reset_asked + 1 WHERE id = ?1 RETURNING reset_asked",
        )?
        .query_row(params![token.as_str()], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// The following instance did the resets asked up to `asked` (its snapshot is stored).
pub fn reset_done(conn: &Conn, token: &TokenId, asked: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE tokens SET reset_done = ?2 WHERE id = ?1 AND reset_done < ?2")?
        .execute(params![token.as_str(), asked])?;
    Ok(())
}
