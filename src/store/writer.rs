//! The single writer. The ingest thread owns it; everything that changes the database goes
//! through it, so there is never a second writer to wait for.

use super::StoreError;
use crate::clock::UnixTime;
use crate::engine::{Board, Change};
use crate::normalise::Event;
use crate::store::db::{params, Conn, OptionalExtension, Transaction};
use crate::token::{Token, TokenId};

pub struct Writer {
    conn: Conn,
}

impl Writer {
    /// The connection itself, for the command-line tools that work on the store directly.
    pub fn into_conn(self) -> Conn {
        self.conn
    }
}

/// A followed token as stored.
pub struct StoredToken {
    pub token: Token,
    /// `config` (from flags, environment or file) or `login` (typed at the login page).
    pub source: String,
    /// The feed session to resume with.
    pub session: Option<String>,
    /// `Active` or `Paused` (removed tokens are not listed).
    pub state: super::tokens::State,
    /// When OVH started refusing it, if it still does.
    pub refused_since: Option<UnixTime>,
    /// When and why it was paused.
    pub paused: Option<(UnixTime, String)>,
}

/// One transaction: the events of a poll, what they changed, and the session to resume from.
pub struct Batch<'a> {
    tx: Transaction<'a>,
}

/// A token remembered once: one already known keeps its source and session.
const INSERT_TOKEN: &str = "INSERT INTO tokens (id, secret, source, added_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING";

impl Writer {
    pub(super) fn new(conn: Conn) -> Writer {
        Writer { conn }
    }

    pub fn begin(&mut self) -> Result<Batch<'_>, StoreError> {
        Ok(Batch {
            tx: self.conn.transaction()?,
        })
    }

    pub fn connection(&self) -> &Conn {
        &self.conn
    }

    /// For the few writes that need their own transaction (see `store::tokens`).
    pub fn connection_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }

    /// Remembers a token to follow (again after a restart). A token already known keeps its
    /// source and session.
    pub fn add_token(&self, token: &Token, source: &str, now: UnixTime) -> Result<(), StoreError> {
        self.conn.prepare_cached(INSERT_TOKEN)?.execute(params![
            token.id().as_str(),
            token.expose(),
            source,
            now
        ])?;
        Ok(())
    }

    /// `add_token` for many, in one transaction: a start with thousands of configured tokens
    /// writes them in a few commits, not one each.
    pub fn add_tokens(
        &mut self,
        tokens: &[(Token, &str)],
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(INSERT_TOKEN)?;
            for (token, source) in tokens {
                insert.execute(params![token.id().as_str(), token.expose(), source, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks the database for a real feed or the demo's, or refuses it (see `purpose`).
    pub fn claim(
        &self,
        path: &std::path::Path,
        purpose: super::Purpose,
        demo_tokens: &std::collections::HashSet<String>,
    ) -> Result<(), StoreError> {
        super::purpose::claim(&self.conn, path, purpose, demo_tokens)
    }

    /// Every token not removed, in the order they were added.
    pub fn tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        self.select_tokens("WHERE state != 'removed' ORDER BY added_at, id", &[])
    }

    /// One token not removed, by its id: what following it needs (its OVH session, its state).
    /// A single indexed row — reading every token here made starting with n tokens cost n².
    pub fn token(&self, id: &TokenId) -> Result<Option<StoredToken>, StoreError> {
        Ok(self
            .select_tokens("WHERE id = ?1 AND state != 'removed'", &[&id.as_str()])?
            .pop())
    }

    fn select_tokens(
        &self,
        filter: &str,
        args: &[&dyn crate::store::db::ToValue],
    ) -> Result<Vec<StoredToken>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT secret, source, session, state, refused_since, state_at, state_reason FROM tokens {filter}"
        ))?;
        let rows = stmt.query_map(args, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, String>(3)?,
                r.get(4)?,
                (
                    r.get::<_, Option<UnixTime>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (secret, source, session, state, refused_since, (state_at, reason)) = row?;
            let state = super::tokens::State::parse(&state);
            // A row that no longer parses is skipped rather than stopping the service.
            if let Ok(token) = Token::parse(&secret) {
                out.push(StoredToken {
                    token,
                    source,
                    session,
                    paused: (state == super::tokens::State::Paused)
                        .then(|| (state_at.unwrap_or_default(), reason.unwrap_or_default())),
                    state,
                    refused_since,
                });
            }
        }
        Ok(out)
    }

    /// Stores a token's settings, and moves its settings version: instances showing the token
    /// read them again (see `ingest::leading`). Returns the new version.
    pub fn save_settings(&mut self, token: &TokenId, json: &str) -> Result<i64, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO settings (token_id, json) VALUES (?1, ?2) ON CONFLICT (token_id) DO UPDATE SET json = excluded.json",
            params![token.as_str(), json],
        )?;
        let version = tx
            .query_row(
                "UPDATE tokens SET settings_version = settings_version + 1 WHERE id = ?1 RETURNING settings_version",
                params![token.as_str()],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        tx.commit()?;
        Ok(version)
    }

    /// A login session of `token`: a user's (`user`), or the token's own login.
    pub fn save_login_session(
        &self,
        id_hash: &str,
        token: &TokenId,
        user: Option<i64>,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO sessions (id_hash, token_id, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id_hash) DO UPDATE SET token_id = excluded.token_id, user_id = excluded.user_id, link_id = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at",
            params![id_hash, token.as_str(), user, now, expires_at],
        )?;
        self.conn
            .execute("DELETE FROM sessions WHERE expires_at < ?1", params![now])?;
        Ok(())
    }

    /// A wall screen's session, opened by the wall link `link`.
    pub fn save_wall_session(
        &self,
        id_hash: &str,
        token: &TokenId,
        link: i64,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO sessions (id_hash, token_id, link_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id_hash) DO UPDATE SET token_id = excluded.token_id, user_id = NULL, link_id = excluded.link_id, created_at = excluded.created_at, expires_at = excluded.expires_at",
            params![id_hash, token.as_str(), link, now, expires_at],
        )?;
        Ok(())
    }

    pub fn delete_login_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM sessions WHERE id_hash = ?1", params![id_hash])?;
        Ok(())
    }

    /// The last snapshot of a token's board, and the sequence number of the last event in it.
    pub fn snapshot(&self, token: &TokenId) -> Result<Option<(i64, Board)>, StoreError> {
        let row: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT seq, board FROM snapshots WHERE token_id = ?1",
                params![token.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((seq, json)) => match serde_json::from_str(&json) {
                Ok(board) => Ok(Some((seq, board))),
                Err(e) => {
                    // E.g. written by another version: rebuild from every stored event instead.
                    tracing::warn!(token = %token, error = %e, "a board snapshot could not be read; replaying every stored event");
                    Ok(None)
                }
            },
            None => Ok(None),
        }
    }

    /// Calls `f` with every stored event of a token after `after_seq`, in arrival order, as
    /// `(seq, event, received_at)`.
    pub fn replay(
        &self,
        token: &TokenId,
        after_seq: i64,
        mut f: impl FnMut(i64, Event, UnixTime),
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("SELECT seq, raw, received_at FROM events WHERE token_id = ?1 AND seq > ?2 ORDER BY seq")?;
        stmt.for_each(params![token.as_str(), after_seq], |row| {
            let seq: i64 = row.get(0)?;
            let raw: String = row.get(1)?;
            let received_at: f64 = row.get(2)?;
            // A row that no longer reads is skipped, not allowed to stop the rebuild.
            match serde_json::from_str::<serde_json::Value>(&raw)
                .map_err(|e| e.to_string())
                .and_then(|v| Event::from_json(v, "", received_at).map_err(|e| e.to_string()))
            {
                Ok(event) => f(seq, event, received_at),
                Err(e) => {
                    tracing::warn!(seq, error = %e, "a stored event could not be read back; skipped")
                }
            }
            Ok(true)
        })?;
        Ok(())
    }

    pub fn last_seq(&self, token: &TokenId) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE token_id = ?1",
            params![token.as_str()],
            |r| r.get(0),
        )?)
    }
}

impl Batch<'_> {
    /// Stores an event; `None` when this token already delivered the very same event (a
    /// retried poll), which must then not be counted again.
    pub fn insert_event(
        &self,
        token: &TokenId,
        e: &Event,
        received_at: UnixTime,
    ) -> Result<Option<i64>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO events (token_id, fingerprint, received_at, at, event, number, service, calling, called, dialed, call_id, latency_ms, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (token_id, fingerprint) DO NOTHING RETURNING seq",
        )?;
        let seq = stmt
            .query_row(
                params![
                    token.as_str(),
                    e.fingerprint,
                    received_at,
                    e.at,
                    e.name,
                    e.number,
                    e.service,
                    e.calling,
                    e.called,
                    e.dialed,
                    e.call_id,
                    e.latency_ms,
                    e.raw,
                ],
                |r| r.get(0),
            )
            .optional()?;
        Ok(seq)
    }

    /// Keeps what a change asks to keep: history records, their withdrawal, journal entries.
    pub fn record(&self, token: &TokenId, change: &Change) -> Result<(), StoreError> {
        match change {
            Change::CallFinished(c) => {
                // Keyed by identity, updated in place: a replay after a crash writes the same
                // row again (same id), never a second one.
                let mut stmt = self.tx.prepare_cached(
                    "INSERT INTO calls (token_id, number, call_id, started_us, direction, calling, called, dialed, started_at, answered_at, ended_at, ring_s, talk_s, outcome, queue, queue_caller)
                     VALUES (?1, ?2, ?3, ?14, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?15, ?16)
                     ON CONFLICT (token_id, number, call_id, started_us) DO UPDATE SET
                        direction = excluded.direction, calling = excluded.calling, called = excluded.called,
                        dialed = excluded.dialed, started_at = excluded.started_at, answered_at = excluded.answered_at,
                        ended_at = excluded.ended_at, ring_s = excluded.ring_s, talk_s = excluded.talk_s,
                        outcome = excluded.outcome, queue = excluded.queue, queue_caller = excluded.queue_caller",
                )?;
                stmt.execute(params![
                    token.as_str(),
                    c.number,
                    c.call_id,
                    c.direction.as_str(),
                    c.calling,
                    c.called,
                    c.dialed,
                    c.started_at,
                    c.answered_at,
                    c.ended_at,
                    c.ring_s,
                    c.talk_s,
                    c.outcome.as_str(),
                    micros(c.started_at),
                    c.queue,
                    c.queue_caller,
                ])?;
            }
            Change::CallReopened {
                number,
                call_id,
                started_at,
            } => {
                self.tx.execute(
                    "DELETE FROM calls WHERE token_id = ?1 AND number = ?2 AND call_id = ?3 AND started_us = ?4",
                    params![token.as_str(), number, call_id, micros(*started_at)],
                )?;
            }
            Change::CallerLeft(j) => {
                let mut stmt = self.tx.prepare_cached(
                    "INSERT INTO queue_journal (token_id, queue, member, caller, agent, joined_at, answered_at, left_at, wait_s, talk_s, outcome, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                     ON CONFLICT (token_id, queue, member) DO UPDATE SET
                        caller = excluded.caller, agent = excluded.agent, joined_at = excluded.joined_at,
                        answered_at = excluded.answered_at, left_at = excluded.left_at, wait_s = excluded.wait_s,
                        talk_s = excluded.talk_s, outcome = excluded.outcome, reason = excluded.reason",
                )?;
                stmt.execute(params![
                    token.as_str(),
                    j.queue,
                    j.member,
                    j.caller,
                    j.agent,
                    j.joined_at,
                    j.answered_at,
                    j.left_at,
                    j.wait_s,
                    j.talk_s,
                    j.outcome.as_str(),
                    j.reason,
                ])?;
            }
            Change::Line(_) | Change::Queue(_) => {}
        }
        Ok(())
    }

    /// The feed session to resume from: written with the events it delivered, so that a
    /// restart neither skips nor loses them.
    /// The session to resume from, and the token's last stored event when the poll brought
    /// new ones (instances showing a token another one follows look for it moving).
    pub fn save_session(
        &self,
        token: &TokenId,
        session: Option<&str>,
        last_seq: Option<i64>,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "UPDATE tokens SET session = ?2, last_seq = COALESCE(?3, last_seq) WHERE id = ?1",
            )?
            .execute(params![token.as_str(), session, last_seq])?;
        Ok(())
    }

    pub fn save_snapshot(
        &self,
        token: &TokenId,
        seq: i64,
        board: &Board,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO snapshots (token_id, seq, board, saved_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (token_id) DO UPDATE SET seq = excluded.seq, board = excluded.board, saved_at = excluded.saved_at",
            params![token.as_str(), seq, serde_json::to_string(board)?, now],
        )?;
        Ok(())
    }

    /// The transaction itself, for writes that must commit with the events (the outbox).
    pub fn connection(&self) -> &Conn {
        &self.tx
    }

    pub fn commit(self) -> Result<(), StoreError> {
        self.tx.commit()?;
        Ok(())
    }
}

/// A call's start as whole microseconds: the integer half of its identity in `calls`. The
/// engine's times come from OVH's nanosecond timestamps and survive snapshots bit for bit
/// (serde_json's `float_roundtrip`), so the same call always maps to the same key.
pub fn micros(t: UnixTime) -> i64 {
    (t * 1_000_000.0).round() as i64
}
