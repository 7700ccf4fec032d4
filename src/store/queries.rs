//! Reading history back: finished calls, the queue journal and the raw event log, newest
//! first, filtered and paged with an opaque cursor (keyset pagination, so that a page never
//! repeats or skips a row while new ones arrive).

use super::StoreError;
use crate::clock::{as_rfc3339, UnixTime};
use crate::engine::{CallOutcome, CallRecord, Direction, JournalEntry, JournalOutcome};
use crate::store::db::Value as Sql;
use crate::store::db::{params, params_from_iter, Conn, Row};
use crate::token::TokenId;
use serde::Serialize;

/// Where the previous page stopped: the sort key and row id of its last row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cursor {
    key: f64,
    id: i64,
}

impl Cursor {
    pub fn parse(s: &str) -> Option<Cursor> {
        let (key, id) = s.split_once('_')?;
        Some(Cursor {
            key: key.parse().ok().filter(|k: &f64| k.is_finite())?,
            id: id.parse().ok()?,
        })
    }
    fn encode(key: f64, id: i64) -> String {
        format!("{key}_{id}")
    }
}

#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct CallFilter {
    /// The OVH line.
    pub number: Option<String>,
    /// Any of the call's numbers contains one of these (the search box, read by
    /// `web::params::search`).
    pub search: Vec<String>,
    pub from: Option<UnixTime>,
    pub to: Option<UnixTime>,
    pub direction: Option<Direction>,
    pub outcome: Option<CallOutcome>,
    pub limit: usize,
    pub cursor: Option<Cursor>,
    /// Only these numbers (an agent's lines and queues); `None`: all of the token's.
    pub scope: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct JournalFilter {
    pub queue: Option<String>,
    pub search: Vec<String>,
    pub from: Option<UnixTime>,
    pub to: Option<UnixTime>,
    /// Queue callers always call in: `incoming` keeps them all, anything else none.
    pub direction: Option<Direction>,
    pub outcome: Option<JournalOutcome>,
    pub limit: usize,
    pub cursor: Option<Cursor>,
    /// Only these numbers (an agent's lines and queues); `None`: all of the token's.
    pub scope: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Only the events of calls that ended with this outcome.
    pub outcome: Option<CallOutcome>,
    pub number: Option<String>,
    pub event: Option<String>,
    pub from: Option<UnixTime>,
    pub to: Option<UnixTime>,
    pub direction: Option<Direction>,
    pub limit: usize,
    pub cursor: Option<Cursor>,
    /// Only these numbers (an agent's lines and queues); `None`: all of the token's.
    pub scope: Option<Vec<String>>,
}

/// One row of the raw event log, as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventRow {
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub at: UnixTime,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub received_at: UnixTime,
    pub event: String,
    pub number: String,
    pub service: String,
    pub calling: Option<String>,
    pub called: Option<String>,
    pub dialed: Option<String>,
    pub call_id: Option<String>,
    pub latency_ms: Option<f64>,
    pub description: Option<String>,
}

impl EventRow {
    /// The row an event becomes, for the live stream (the same shape as the stored log).
    pub fn of(e: &crate::normalise::Event, received_at: UnixTime) -> EventRow {
        EventRow {
            at: e.at,
            received_at,
            event: e.name.clone(),
            number: e.number.clone(),
            service: e.service.clone(),
            calling: e.calling.clone(),
            called: e.called.clone(),
            dialed: e.dialed.clone(),
            call_id: e.call_id.clone(),
            latency_ms: e.latency_ms,
            description: e.details.description.clone(),
        }
    }
}

/// Builds `WHERE` clauses and their parameters side by side.
struct Conditions {
    sql: Vec<String>,
    params: Vec<Sql>,
    /// The index the rows must be read through, when a filter settles it (`INDEXED BY`).
    index: Option<&'static str>,
}

impl Conditions {
    fn new(token: &TokenId) -> Self {
        Conditions {
            sql: vec!["token_id = ?".into()],
            params: vec![Sql::Text(token.as_str().into())],
            index: None,
        }
    }
    fn add(&mut self, clause: &str, values: impl IntoIterator<Item = Sql>) {
        self.sql.push(clause.into());
        self.params.extend(values);
    }
    fn text(&mut self, clause: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.add(clause, [Sql::Text(v.clone())]);
        }
    }
    /// A line or a queue: `column = v`, the rows read through `index` (the token, `column`, then
    /// the listing's sort key). SQLite has no statistics here (the service never runs `ANALYZE`), so it takes
    /// an equality on an index's second column for hardly narrowing at all: given a time range
    /// too, it read a line's calls through the token's index by start time — every line's
    /// calls of the range for one line's (`store::query_plans` checks the plans).
    fn number(&mut self, column: &str, v: &Option<String>, index: &'static str) {
        if v.is_some() {
            self.text(&format!("{column} = ?"), v);
            self.index = Some(index);
        }
    }
    /// "Any of `columns` contains any of `texts`", literally: `%` and `_` in what was typed
    /// are escaped rather than taken as LIKE's wildcards, and so is the escape character `\`.
    fn search(&mut self, columns: &[&str], texts: &[String]) {
        if texts.is_empty() {
            return;
        }
        let mut clauses = Vec::new();
        let mut values = Vec::new();
        for v in texts {
            let escaped = v
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            for c in columns {
                clauses.push(format!("{c} LIKE ? ESCAPE '\\'"));
                values.push(Sql::Text(format!("%{escaped}%")));
            }
        }
        self.add(&format!("({})", clauses.join(" OR ")), values);
    }
    /// `column` is one of `numbers` (one JSON parameter, however many there are).
    fn within(&mut self, column: &str, numbers: &Option<Vec<String>>) {
        if let Some(n) = numbers {
            let list = serde_json::to_string(n).unwrap_or_else(|_| "[]".into());
            self.add(
                &format!("{column} IN (SELECT value FROM json_each(?))"),
                [Sql::Text(list)],
            );
        }
    }
    fn range(&mut self, column: &str, from: Option<f64>, to: Option<f64>) {
        if let Some(f) = from {
            self.add(&format!("{column} >= ?"), [Sql::Real(f)]);
        }
        if let Some(t) = to {
            self.add(&format!("{column} < ?"), [Sql::Real(t)]);
        }
    }
    fn after(&mut self, key: &str, cursor: Option<Cursor>) {
        if let Some(c) = cursor {
            self.add(
                &format!("({key}, id) < (?, ?)"),
                [Sql::Real(c.key), Sql::Integer(c.id)],
            );
        }
    }
    /// The listing's query: its rows newest first by `key` then `id`, one more than `limit`
    /// (to know whether a next page exists).
    fn statement(self, select: &str, key: &str, limit: usize) -> Statement {
        let through = self.index.map(|i| format!(" INDEXED BY {i}"));
        Statement {
            sql: format!(
                "{select}{} WHERE {} ORDER BY {key} DESC, id DESC LIMIT {}",
                through.unwrap_or_default(),
                self.sql.join(" AND "),
                limit + 1
            ),
            params: self.params,
        }
    }
}

/// A listing's query as it runs: its text and its parameters. Public so that a test can ask
/// SQLite how it runs it (`EXPLAIN QUERY PLAN`: `store::query_plans`) and a bench can run the
/// very same query without the service (`benches/history.rs`).
#[derive(Clone, Debug)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Sql>,
}

/// Runs a listing's `statement` (built for `limit` rows) into a page; `map` gives each row's
/// sort key and id (the cursor) beside the item.
fn page<T>(
    conn: &Conn,
    statement: Statement,
    limit: usize,
    map: impl Fn(&Row) -> crate::store::db::Result<(f64, i64, T)>,
) -> Result<Page<T>, StoreError> {
    let mut stmt = conn.prepare_cached(&statement.sql)?;
    let mut rows: Vec<(f64, i64, T)> = stmt
        .query_map(params_from_iter(statement.params), map)?
        .collect::<Result<_, _>>()?;
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|(k, id, _)| Cursor::encode(*k, *id))
    } else {
        None
    };
    Ok(Page {
        items: rows.into_iter().map(|(_, _, t)| t).collect(),
        next,
    })
}

fn direction(s: &str) -> Direction {
    match s {
        "incoming" => Direction::Incoming,
        "outgoing" => Direction::Outgoing,
        _ => Direction::Unknown,
    }
}

/// The query `history` runs for `f`.
pub fn history_statement(token: &TokenId, f: &CallFilter) -> Statement {
    let mut c = Conditions::new(token);
    c.number("number", &f.number, "calls_by_number");
    c.within("number", &f.scope);
    c.search(&["number", "calling", "called", "dialed"], &f.search);
    c.range("started_at", f.from, f.to);
    if let Some(d) = f.direction {
        c.add("direction = ?", [Sql::Text(d.as_str().into())]);
    }
    if let Some(o) = f.outcome {
        c.add("outcome = ?", [Sql::Text(o.as_str().into())]);
    }
    // Newest first by the time the page shows (when the call started): sorting by its end
    // put a long call below shorter ones that started after it (issue 9).
    c.after("started_at", f.cursor);
    c.statement(
        "SELECT id, number, call_id, direction, calling, called, dialed, started_at, answered_at, ended_at, ring_s, talk_s, outcome, queue, queue_caller FROM calls",
        "started_at",
        f.limit,
    )
}

pub fn history(
    conn: &Conn,
    token: &TokenId,
    f: &CallFilter,
) -> Result<Page<CallRecord>, StoreError> {
    page(conn, history_statement(token, f), f.limit, |r| {
        let outcome: String = r.get(12)?;
        let record = CallRecord {
            number: r.get(1)?,
            call_id: r.get(2)?,
            direction: direction(&r.get::<_, String>(3)?),
            calling: r.get(4)?,
            called: r.get(5)?,
            dialed: r.get(6)?,
            started_at: r.get(7)?,
            answered_at: r.get(8)?,
            ended_at: r.get(9)?,
            ring_s: r.get(10)?,
            talk_s: r.get(11)?,
            outcome: CallOutcome::parse(&outcome).unwrap_or(CallOutcome::Unknown),
            queue: r.get(13)?,
            queue_caller: r.get(14)?,
        };
        Ok((record.started_at, r.get(0)?, record))
    })
}

/// The query `journal` runs for `f`.
pub fn journal_statement(token: &TokenId, f: &JournalFilter) -> Statement {
    let mut c = Conditions::new(token);
    c.number("queue", &f.queue, "journal_by_queue");
    c.within("queue", &f.scope);
    c.search(&["queue", "caller", "agent"], &f.search);
    c.range("joined_at", f.from, f.to);
    // The journal is filtered by when callers joined but listed by when they left. A caller
    // never leaves before joining (the engine clamps it, `Queue::leave`), so those who joined
    // at `from` or later also left then or later: said outright, the walk down the index by
    // departure stops at `from` instead of reading every older entry.
    if let Some(from) = f.from {
        c.add("left_at >= ?", [Sql::Real(from)]);
    }
    if f.direction.is_some_and(|d| d != Direction::Incoming) {
        // FALSE, not 0: PostgreSQL takes no integer for a condition.
        c.add("FALSE", []);
    }
    if let Some(o) = f.outcome {
        c.add("outcome = ?", [Sql::Text(o.as_str().into())]);
    }
    c.after("left_at", f.cursor);
    c.statement(
        "SELECT id, queue, member, caller, agent, joined_at, answered_at, left_at, wait_s, talk_s, outcome, reason FROM queue_journal",
        "left_at",
        f.limit,
    )
}

pub fn journal(
    conn: &Conn,
    token: &TokenId,
    f: &JournalFilter,
) -> Result<Page<JournalEntry>, StoreError> {
    page(conn, journal_statement(token, f), f.limit, |r| {
        let outcome: String = r.get(10)?;
        let entry = JournalEntry {
            queue: r.get(1)?,
            member: r.get(2)?,
            caller: r.get(3)?,
            agent: r.get(4)?,
            joined_at: r.get(5)?,
            answered_at: r.get(6)?,
            left_at: r.get(7)?,
            wait_s: r.get(8)?,
            talk_s: r.get(9)?,
            outcome: match outcome.as_str() {
                "answered" => JournalOutcome::Answered,
                "abandoned" => JournalOutcome::Abandoned,
                _ => JournalOutcome::Unknown,
            },
            reason: r.get(11)?,
        };
        Ok((entry.left_at, r.get(0)?, entry))
    })
}

/// The query `events` runs for `f`.
pub fn events_statement(token: &TokenId, f: &EventFilter) -> Statement {
    let mut c = Conditions::new(token);
    c.number("number", &f.number, "events_by_number");
    c.within("number", &f.scope);
    c.text("event = ?", &f.event);
    c.range("at", f.from, f.to);
    // IS DISTINCT FROM, SQLite's `IS NOT` between two values: PostgreSQL's `IS NOT` takes
    // only NULL, TRUE or FALSE.
    match f.direction {
        Some(Direction::Outgoing) => c.add("calling = number", []),
        Some(Direction::Incoming) => c.add(
            "calling IS DISTINCT FROM number AND (called = number OR dialed = number)",
            [],
        ),
        Some(Direction::Unknown) => c.add(
            "calling IS DISTINCT FROM number AND called IS DISTINCT FROM number AND dialed IS DISTINCT FROM number",
            [],
        ),
        None => {}
    }
    if let Some(o) = f.outcome {
        // One lookup of the event's own call by its identity's index: `call_id IN (SELECT
        // call_id …)` read, for every event, all the line's calls with that outcome.
        c.add(
            "EXISTS (SELECT 1 FROM calls k WHERE k.token_id = events.token_id AND k.number = events.number AND k.call_id = events.call_id AND k.outcome = ?)",
            [Sql::Text(o.as_str().into())],
        );
    }
    // Events are paged in arrival order: `seq` is both key and id.
    if let Some(cur) = f.cursor {
        c.add("seq < ?", [Sql::Integer(cur.id)]);
    }
    c.statement(
        "SELECT seq AS id, at, received_at, event, number, service, calling, called, dialed, call_id, latency_ms, COALESCE(json_extract(raw, '$.Details.Description'), json_extract(raw, '$.details.Description')) FROM events",
        "seq",
        f.limit,
    )
}

pub fn events(conn: &Conn, token: &TokenId, f: &EventFilter) -> Result<Page<EventRow>, StoreError> {
    page(conn, events_statement(token, f), f.limit, |r| {
        let id: i64 = r.get(0)?;
        let row = EventRow {
            at: r.get(1)?,
            received_at: r.get(2)?,
            event: r.get(3)?,
            number: r.get(4)?,
            service: r.get(5)?,
            calling: r.get(6)?,
            called: r.get(7)?,
            dialed: r.get(8)?,
            call_id: r.get(9)?,
            latency_ms: r.get(10)?,
            description: r.get(11).ok().flatten(),
        };
        Ok((id as f64, id, row))
    })
}

pub fn settings_json(conn: &Conn, token: &TokenId) -> Result<Option<String>, StoreError> {
    use crate::store::db::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT json FROM settings WHERE token_id = ?1",
            [token.as_str()],
            |r| r.get(0),
        )
        .optional()?)
}

/// The token a login session belongs to and when the session expires, if it exists and has
/// not expired.
/// A live login session: its token, its expiry, and its user (id and role) when a user
/// signed in (`None`: the token's own login). A disabled user's sessions are not live.
pub fn login_session(
    conn: &Conn,
    id_hash: &str,
    now: UnixTime,
) -> Result<Option<LoginSession>, StoreError> {
    use crate::store::db::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT s.token_id, s.expires_at, s.user_id, u.role, u.lines, u.queues, s.link_id, w.allow FROM sessions s
             LEFT JOIN users u ON u.id = s.user_id
             LEFT JOIN wall_links w ON w.id = s.link_id
             WHERE s.id_hash = ?1 AND s.expires_at > ?2
               AND (s.user_id IS NULL OR (u.id IS NOT NULL AND u.disabled_at IS NULL))
               AND (s.link_id IS NULL OR w.id IS NOT NULL)",
            crate::store::db::params![id_hash, now],
            |r| {
                let user = match (r.get::<_, Option<i64>>(2)?, r.get::<_, Option<String>>(3)?) {
                    (Some(id), Some(role)) => Some((
                        id,
                        super::users::Role::parse(&role).unwrap_or(super::users::Role::Viewer),
                    )),
                    _ => None,
                };
                // An agent sees their lines and queues only; the other roles every number.
                let agent = user.is_some_and(|(_, role)| role == super::users::Role::Agent);
                let mut scope: Option<Vec<String>> = None;
                if agent {
                    let mut numbers = Vec::new();
                    for i in [4, 5] {
                        let list: Option<String> = r.get(i)?;
                        let list: Vec<String> = list
                            .and_then(|l| serde_json::from_str(&l).ok())
                            .unwrap_or_default();
                        numbers.extend(list);
                    }
                    scope = Some(numbers);
                }
                let link = match r.get::<_, Option<i64>>(6)? {
                    Some(id) => Some(WallSession {
                        id,
                        allow: r.get(7)?,
                    }),
                    None => None,
                };
                Ok(LoginSession {
                    token: TokenId::from_stored(r.get::<_, String>(0)?),
                    expires: r.get(1)?,
                    user,
                    scope,
                    link,
                })
            },
        )
        .optional()?)
}

/// What a session cookie stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginSession {
    pub token: TokenId,
    pub expires: UnixTime,
    pub user: Option<(i64, super::users::Role)>,
    /// An agent's numbers (lines and queues): all they may see. `None`: every number.
    pub scope: Option<Vec<String>>,
    /// A wall screen signed in by a link: read-only, the wall view only.
    pub link: Option<WallSession>,
}

/// The wall link a session came from, and the address range it may be used from.
#[derive(Clone, Debug, PartialEq)]
pub struct WallSession {
    pub id: i64,
    pub allow: Option<String>,
}

/// The callers of `queue` the journal holds who joined at `since` or later, and of them those
/// answered: our side of the OVH cross-check (`supervise::cross_check`).
pub fn journal_counts_since(
    conn: &Conn,
    token: &TokenId,
    queue: &str,
    since: UnixTime,
) -> Result<(u64, u64), StoreError> {
    // A CASE, not sum(outcome = 'answered'): PostgreSQL does not sum booleans.
    let mut stmt = conn.prepare_cached(
        "SELECT count(*), coalesce(sum(CASE WHEN outcome = 'answered' THEN 1 ELSE 0 END), 0) FROM queue_journal
         WHERE token_id = ?1 AND queue = ?2 AND joined_at >= ?3",
    )?;
    Ok(stmt.query_row(params![token.as_str(), queue, since], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
    })?)
}

/// When the token's first stored event happened (OVH's time), if it has any.
pub fn first_event_at(conn: &Conn, token: &TokenId) -> Result<Option<UnixTime>, StoreError> {
    use crate::store::db::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT at FROM events WHERE token_id = ?1 ORDER BY seq LIMIT 1",
            [token.as_str()],
            |r| r.get(0),
        )
        .optional()?)
}
