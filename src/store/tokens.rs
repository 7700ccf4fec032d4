//! Followed tokens as rows: their state (`active`, `paused`, `removed`), the streak of OVH
//! refusals that pauses them, their last successful poll, and their removal.
//!
//! Plain functions on a `Conn`, so that the running service (through its one writer)
//! and the `ovh-cti tokens` command (on the database file, the service running or not) share
//! them. The command changes rows only; a running service reads the table every few seconds
//! and catches up (`service::Service::reconcile`): it stops the follower of a token paused or
//! removed, follows again one resumed, and finishes a removal — deleting, once its follower
//! is stopped, whatever that follower committed meanwhile when a purge was asked.
//!
//! Removing keeps the token's stored history (events, calls, queue journal, settings,
//! webhooks) unless a purge is asked: it is filed under the token's one-way id, readable by no
//! one without the token, and comes back if the same token is followed again. The secret and
//! the login sessions go at once, always.

use super::StoreError;
use crate::clock::UnixTime;
use crate::store::db::{params, Conn, OptionalExtension};
use crate::token::{Token, TokenId};
use serde::Serialize;

/// A token's state, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Active,
    Paused,
    Removed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Paused => "paused",
            State::Removed => "removed",
        }
    }
    pub fn parse(s: &str) -> State {
        match s {
            "paused" => State::Paused,
            "removed" => State::Removed,
            _ => State::Active,
        }
    }
}

/// One row, without the secret: what `ovh-cti tokens list` shows.
#[derive(Clone, Debug, Serialize)]
pub struct TokenRow {
    pub id: TokenId,
    /// The first characters of the token (`3F25…`), or `—` once its secret is wiped.
    pub hint: String,
    pub source: String,
    pub state: State,
    pub added_at: UnixTime,
    /// When it was paused or removed.
    pub state_at: Option<UnixTime>,
    pub state_reason: Option<String>,
    pub refused_since: Option<UnixTime>,
    pub last_success_at: Option<UnixTime>,
    /// A removal that also deletes the stored history.
    pub purge: bool,
}

pub fn list(conn: &Conn) -> Result<Vec<TokenRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, secret, source, state, added_at, state_at, state_reason, refused_since, last_success_at, purge
         FROM tokens ORDER BY added_at, id",
    )?;
    let rows = stmt.query_map((), |r| {
        let secret: String = r.get(1)?;
        Ok(TokenRow {
            id: TokenId::from_stored(r.get(0)?),
            hint: Token::parse(&secret).map_or_else(|_| "—".into(), |t| t.hint()),
            source: r.get(2)?,
            state: State::parse(&r.get::<_, String>(3)?),
            added_at: r.get(4)?,
            state_at: r.get(5)?,
            state_reason: r.get(6)?,
            refused_since: r.get(7)?,
            last_success_at: r.get(8)?,
            purge: r.get::<_, i64>(9)? != 0,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Moves whenever a token is added, deleted, paused, resumed or removed (a trigger keeps it):
/// the running service reads the whole table only when it moved.
pub fn version(conn: &Conn) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT version FROM token_changes WHERE id = 1")?
        .query_row((), |r| r.get(0))?)
}

/// A token to follow, with its secret: one an operator added, or resumed, while the service
/// ran. None when it is not there, removed, or its secret is wiped.
pub fn followable(conn: &Conn, id: &TokenId) -> Result<Option<Token>, StoreError> {
    let secret: Option<String> = conn
        .query_row(
            "SELECT secret FROM tokens WHERE id = ?1 AND state != 'removed'",
            params![id.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(secret.and_then(|s| Token::parse(&s).ok()))
}

/// What `add` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    New,
    /// Known already, in this state.
    Known(State),
}

/// Adds a token an operator asked to follow (`ovh-cti tokens add`); one known already is left
/// as it is.
pub fn add(conn: &Conn, token: &Token, source: &str, now: UnixTime) -> Result<Added, StoreError> {
    let state: Option<String> = conn
        .query_row(
            "SELECT state FROM tokens WHERE id = ?1",
            params![token.id().as_str()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(state) = state {
        return Ok(Added::Known(State::parse(&state)));
    }
    conn.execute(
        "INSERT INTO tokens (id, secret, source, added_at) VALUES (?1, ?2, ?3, ?4)",
        params![token.id().as_str(), token.expose(), source, now],
    )?;
    Ok(Added::New)
}

/// The id of the token an operator named: its id as `list` shows it, or the token itself.
pub fn resolve(conn: &Conn, named: &str) -> Result<Option<TokenId>, StoreError> {
    let id = match Token::parse(named) {
        Ok(token) => token.id().as_str().to_string(),
        Err(_) => named.trim().to_ascii_lowercase(),
    };
    Ok(conn
        .query_row("SELECT id FROM tokens WHERE id = ?1", params![id], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .map(TokenId::from_stored))
}

/// Pauses a token that is not removed; false when there is no such token.
pub fn pause(conn: &Conn, id: &TokenId, now: UnixTime, reason: &str) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE tokens SET state = 'paused', state_at = ?2, state_reason = ?3 WHERE id = ?1 AND state != 'removed'",
        params![id.as_str(), now, reason],
    )? > 0)
}

/// Makes a paused token active again, its refusal streak forgotten; false when there is no
/// such token (or it is removed).
pub fn resume(conn: &Conn, id: &TokenId) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE tokens SET state = 'active', state_at = NULL, state_reason = NULL, refused_since = NULL
         WHERE id = ?1 AND state != 'removed'",
        params![id.as_str()],
    )? > 0)
}

/// Starts or ends (None) a streak of OVH refusals.
pub fn set_refused_since(
    conn: &Conn,
    id: &TokenId,
    since: Option<UnixTime>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE tokens SET refused_since = ?2 WHERE id = ?1",
        params![id.as_str(), since],
    )?;
    Ok(())
}

/// A poll succeeded: the refusal streak, if any, is over.
pub fn succeeded(conn: &Conn, id: &TokenId, now: UnixTime) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE tokens SET last_success_at = ?2, refused_since = NULL WHERE id = ?1",
        params![id.as_str(), now],
    )?;
    Ok(())
}

/// Starts a removal: the secret, the feed session and the login sessions go now (and the
/// history too when `purge`); the row stays, marked `removed`, until the service has stopped
/// the token's follower and calls [`finish_removal`]. False when there is no such token.
pub fn mark_removed(
    conn: &mut Conn,
    id: &TokenId,
    purge: bool,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let found = tx.execute(
        "UPDATE tokens SET secret = '', session = NULL, state = 'removed', state_at = ?2, purge = CASE WHEN purge > ?3 THEN purge ELSE ?3 END
         WHERE id = ?1",
        params![id.as_str(), now, purge],
    )? > 0;
    if found {
        forget(&tx, id, purge)?;
    }
    tx.commit()?;
    Ok(found)
}

/// Ends a removal: deletes what its follower may still have written (the history too when
/// the removal asked for a purge), then the row itself.
pub fn finish_removal(conn: &mut Conn, id: &TokenId) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let purge: bool = tx
        .query_row(
            "SELECT purge FROM tokens WHERE id = ?1",
            params![id.as_str()],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .is_some_and(|p| p != 0);
    forget(&tx, id, purge)?;
    tx.execute("DELETE FROM tokens WHERE id = ?1", params![id.as_str()])?;
    tx.commit()?;
    Ok(())
}

/// What a token recorded and was set up with: kept when it is removed (unless purged), and
/// carried over to the token that replaces it.
const KEPT: [&str; 8] = [
    "events",
    "calls",
    "queue_journal",
    "callback_done",
    "settings",
    "webhooks",
    "outbox",
    "deliveries",
];

/// Files everything stored under `from` under `to` instead — history (events, calls, the queue
/// journal, callbacks done), settings, webhooks and their deliveries, wall links and login
/// sessions — for an event token rotated at OVH: the new token carries on where the old one
/// stopped. A row `to` already has the same of (an event both received while both were
/// followed) stays under `from` and goes with it; `to`'s own settings give way to `from`'s.
pub fn carry_over(conn: &mut Conn, from: &TokenId, to: &TokenId) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let ids = params![from.as_str(), to.as_str()];
    if tx.query_row(
        "SELECT count(*) FROM settings WHERE token_id = ?1",
        [from.as_str()],
        |r| r.get::<_, i64>(0),
    )? > 0
    {
        tx.execute("DELETE FROM settings WHERE token_id = ?1", [to.as_str()])?;
    }
    for table in KEPT.iter().chain(&["wall_links", "sessions"]) {
        // The rows `to` already has the same of stay (SQLite's UPDATE OR IGNORE, written so
        // that PostgreSQL reads it too).
        let same = match *table {
            "events" => "o.fingerprint = t.fingerprint",
            "calls" => {
                "o.number = t.number AND o.call_id = t.call_id AND o.started_us = t.started_us"
            }
            "queue_journal" => "o.queue = t.queue AND o.member = t.member",
            "callback_done" => "o.number = t.number",
            "settings" => "1 = 1",
            // No uniqueness involves the token in the others.
            _ => "1 = 0",
        };
        let sql = format!(
            "UPDATE {table} AS t SET token_id = ?2 WHERE token_id = ?1 AND NOT EXISTS (SELECT 1 FROM {table} AS o WHERE o.token_id = ?2 AND {same})"
        );
        tx.execute(&sql, ids)?;
    }
    tx.commit()?;
    Ok(())
}

/// The ids of tokens whose removal is to be finished.
pub fn removed(conn: &Conn) -> Result<Vec<TokenId>, StoreError> {
    let mut stmt = conn.prepare("SELECT id FROM tokens WHERE state = 'removed'")?;
    let rows = stmt.query_map((), |r| r.get::<_, String>(0))?;
    Ok(rows
        .map(|r| r.map(TokenId::from_stored))
        .collect::<Result<_, _>>()?)
}

/// Deletes a token's login sessions and board snapshot, and with `purge` everything stored
/// under it.
fn forget(conn: &Conn, id: &TokenId, purge: bool) -> Result<(), StoreError> {
    let mut tables = vec!["sessions", "snapshots"];
    if purge {
        tables.extend(KEPT);
    }
    for table in tables {
        conn.execute(
            &format!("DELETE FROM {table} WHERE token_id = ?1"),
            params![id.as_str()],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

    fn db() -> (tempfile::TempDir, Conn, TokenId) {
        let dir = tempfile::tempdir().unwrap();
        let (writer, _) = crate::store::open(&dir.path().join("t.db")).unwrap();
        let token = Token::parse(T).unwrap();
        writer.add_token(&token, "login", 10.0).unwrap();
        let conn = Conn::open_sqlite(dir.path().join("t.db")).unwrap();
        (dir, conn, token.id())
    }

    #[test]
    fn a_token_is_named_by_its_id_or_by_itself_and_listed_without_its_secret() {
        let (_dir, conn, id) = db();
        assert_eq!(resolve(&conn, id.as_str()).unwrap(), Some(id.clone()));
        assert_eq!(resolve(&conn, &T.to_lowercase()).unwrap(), Some(id.clone()));
        assert_eq!(resolve(&conn, "0000").unwrap(), None);
        let rows = list(&conn).unwrap();
        assert_eq!(
            (rows[0].hint.as_str(), rows[0].state),
            ("3F25…", State::Active)
        );
        assert!(!format!("{rows:?}").contains("4F89"));
    }

    #[test]
    fn pause_resume_and_a_purging_removal() {
        let (_dir, mut conn, id) = db();
        set_refused_since(&conn, &id, Some(20.0)).unwrap();
        assert!(pause(&conn, &id, 30.0, "by an operator").unwrap());
        assert_eq!(list(&conn).unwrap()[0].state, State::Paused);
        assert!(resume(&conn, &id).unwrap());
        let row = &list(&conn).unwrap()[0];
        assert_eq!((row.state, row.refused_since), (State::Active, None));

        conn.execute(
            "INSERT INTO calls (token_id, number, call_id, started_us, direction, started_at, ended_at, ring_s, talk_s, outcome)
             VALUES (?1, 'n', 'c', 1, 'incoming', 1, 2, 0, 0, 'missed')",
            params![id.as_str()],
        )
        .unwrap();
        assert!(mark_removed(&mut conn, &id, true, 40.0).unwrap());
        let row = &list(&conn).unwrap()[0];
        assert_eq!(
            (row.state, row.hint.as_str(), row.purge),
            (State::Removed, "—", true)
        );
        let secret: String = conn
            .query_row("SELECT secret FROM tokens", (), |r| r.get(0))
            .unwrap();
        assert_eq!(secret, "", "the secret goes at once");
        assert!(
            !pause(&conn, &id, 41.0, "x").unwrap(),
            "a removed token stays removed"
        );
        assert_eq!(removed(&conn).unwrap(), vec![id.clone()]);
        finish_removal(&mut conn, &id).unwrap();
        assert!(list(&conn).unwrap().is_empty());
        let calls: i64 = conn
            .query_row("SELECT COUNT(*) FROM calls", (), |r| r.get(0))
            .unwrap();
        assert_eq!(calls, 0);
    }
}
