//! Retention: deleting what is old enough to go, a little at a time.
//!
//! The database grows with every event and every screen-pop or webhook attempt. These
//! functions delete, oldest first, the finished outbox rows, the delivery-log lines and
//! (only when asked) the raw events that are older than the policy allows. They run on the one
//! writer, so each call deletes at most `limit` rows, in statements of at most `BATCH` rows:
//! the ingest thread is never kept from the feed for long, and a call that stops at its limit
//! leaves the rest to the next call, which continues where it stopped.
//!
//! Two things are never deleted: a delivery still `pending` (it has an attempt to come), and
//! an event that a board still needs to be rebuilt after a restart — one stored after its
//! token's last snapshot, or any event of a token that has no snapshot at all.

use super::StoreError;
use crate::clock::UnixTime;
use crate::store::db::{params, Conn, Statement};

/// The most rows one statement deletes.
pub const BATCH: usize = 500;

const DAY_S: f64 = 86400.0;

/// How long rows are kept, in days (fractions allowed, never 0: see `config`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// Finished outbox rows (`delivered`, `failed`, `gave_up`), counted from when they
    /// finished. Pending rows are never deleted.
    pub outbox_days: f64,
    /// Lines of the delivery log, counted from their attempt.
    pub deliveries_days: f64,
    /// Raw events, counted from when they were received; `None` keeps every event.
    pub events_days: Option<f64>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            outbox_days: 30.0,
            deliveries_days: 30.0,
            events_days: None,
        }
    }
}

/// How many rows a call deleted, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub outbox: usize,
    pub deliveries: usize,
    pub events: usize,
}

impl Pruned {
    pub fn total(&self) -> usize {
        self.outbox + self.deliveries + self.events
    }
}

impl std::ops::AddAssign for Pruned {
    fn add_assign(&mut self, other: Pruned) {
        self.outbox += other.outbox;
        self.deliveries += other.deliveries;
        self.events += other.events;
    }
}

/// Deletes at most `limit` rows that `policy` says are too old at `now`: finished outbox rows
/// first, then delivery-log lines, then events. A call that returns `limit` rows may have left
/// more; the next call continues.
pub fn prune(
    conn: &Conn,
    policy: &Policy,
    now: UnixTime,
    limit: usize,
) -> Result<Pruned, StoreError> {
    let mut pruned = Pruned {
        outbox: outbox(conn, now - policy.outbox_days * DAY_S, limit)?,
        ..Pruned::default()
    };
    pruned.deliveries = deliveries(
        conn,
        now - policy.deliveries_days * DAY_S,
        limit - pruned.total(),
    )?;
    if let Some(days) = policy.events_days {
        pruned.events = events(conn, now - days * DAY_S, limit - pruned.total())?;
    }
    Ok(pruned)
}

/// Runs `batch(n)` (which deletes at most `n` rows and says how many it did) until `limit` rows
/// are gone or a batch finds fewer than it was allowed.
fn in_batches(
    limit: usize,
    mut batch: impl FnMut(usize) -> Result<usize, StoreError>,
) -> Result<usize, StoreError> {
    let mut done = 0;
    while done < limit {
        let allowed = (limit - done).min(BATCH);
        let n = batch(allowed)?;
        done += n;
        if n < allowed {
            break;
        }
    }
    Ok(done)
}

/// Finished deliveries that finished before `cutoff`. `next_attempt_at` is there for the
/// `outbox_due (state, next_attempt_at)` index: a finished row's is its last attempt, or — for
/// one abandoned while it waited (its endpoint deleted or disabled) — the retry it was waiting
/// for, at most an hour later; such a row simply goes that much later.
fn outbox(conn: &Conn, cutoff: UnixTime, limit: usize) -> Result<usize, StoreError> {
    let mut stmt = conn.prepare_cached(
        "DELETE FROM outbox WHERE id IN (
             SELECT id FROM outbox
             WHERE state IN ('delivered', 'failed', 'gave_up') AND next_attempt_at < ?1 AND updated_at < ?1
             LIMIT ?2)",
    )?;
    in_batches(limit, |n| Ok(stmt.execute(params![cutoff, n as i64])?))
}

/// Delivery-log lines written before `cutoff`.
fn deliveries(conn: &Conn, cutoff: UnixTime, limit: usize) -> Result<usize, StoreError> {
    let mut oldest = conn.prepare_cached("SELECT id, at FROM deliveries ORDER BY id LIMIT ?1")?;
    let mut delete = conn.prepare_cached("DELETE FROM deliveries WHERE id <= ?1")?;
    in_batches(limit, |n| {
        match oldest_before(&mut oldest, params![n as i64], cutoff)? {
            Some(last) => Ok(delete.execute(params![last])?),
            None => Ok(0),
        }
    })
}

/// Events received before `cutoff` that every token's board already holds: those up to the
/// sequence number of the token's snapshot. A token without a snapshot keeps all its events.
fn events(conn: &Conn, cutoff: UnixTime, limit: usize) -> Result<usize, StoreError> {
    let snapshots: Vec<(String, i64)> = conn
        .prepare_cached("SELECT token_id, seq FROM snapshots ORDER BY token_id")?
        .query_map((), |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut oldest = conn.prepare_cached(
        "SELECT seq, received_at FROM events WHERE token_id = ?2 AND seq <= ?3 ORDER BY seq LIMIT ?1",
    )?;
    let mut delete = conn.prepare_cached("DELETE FROM events WHERE token_id = ?1 AND seq <= ?2")?;
    let mut done = 0;
    for (token, snapshot_seq) in snapshots {
        done += in_batches(limit - done, |n| {
            match oldest_before(&mut oldest, params![n as i64, token, snapshot_seq], cutoff)? {
                Some(last) => Ok(delete.execute(params![token, last])?),
                None => Ok(0),
            }
        })?;
        if done == limit {
            break;
        }
    }
    Ok(done)
}

/// Reads `(key, time)` rows, oldest first, and returns the key of the last one before the
/// first that is not older than `cutoff`: the rows up to it can all go. Stopping at the first
/// young row (rather than skipping it) keeps each batch to the rows it read, even in a long
/// table; a row written out of order, after the clock was set back, only waits for those
/// before it.
fn oldest_before(
    stmt: &mut Statement,
    params: impl crate::store::db::Params,
    cutoff: UnixTime,
) -> Result<Option<i64>, StoreError> {
    let mut last = None;
    stmt.for_each(params, |row| {
        let at: f64 = row.get(1)?;
        if at >= cutoff {
            return Ok(false);
        }
        last = Some(row.get(0)?);
        Ok(true)
    })?;
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Board;
    use crate::store::{open, Writer};
    use crate::test_support::{add_outbox, fixture_events, FIXTURE_TOKEN};
    use crate::token::{Token, TokenId};

    /// "Now" in these tests, and a time comfortably older than the 30-day default.
    const NOW: f64 = 1_732_612_800.0;
    const OLD: f64 = NOW - 40.0 * DAY_S;

    fn writer() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let (writer, _) = open(&dir.path().join("t.db")).unwrap();
        (dir, writer)
    }

    fn add_deliveries(conn: &Conn, n: usize, at: f64) {
        let tx = conn.unchecked_transaction().unwrap();
        for _ in 0..n {
            tx.execute(
                "INSERT INTO deliveries (outbox_id, token_id, kind, event, at, url, attempt, outcome)
                 VALUES (1, 't', 'pop', 'start_ringing', ?1, 'https://crm.example/', 1, 'delivered')",
                [at],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }

    fn count(conn: &Conn, sql: &str) -> i64 {
        conn.query_row(sql, (), |r| r.get(0)).unwrap()
    }

    fn everything(limit: usize) -> impl Fn(&Conn, &Policy) -> Pruned {
        move |conn, policy| prune(conn, policy, NOW, limit).unwrap()
    }

    #[test]
    fn finished_deliveries_go_when_old_and_pending_ones_never() {
        let (_dir, w) = writer();
        let conn = w.connection();
        for state in ["delivered", "failed", "gave_up", "pending"] {
            add_outbox(conn, 1, state, OLD);
            add_outbox(conn, 1, state, NOW - DAY_S);
        }
        add_deliveries(conn, 3, OLD);
        add_deliveries(conn, 2, NOW - DAY_S);

        let pruned = everything(10_000)(conn, &Policy::default());
        assert_eq!(
            pruned,
            Pruned {
                outbox: 3,
                deliveries: 3,
                events: 0
            }
        );
        assert_eq!(
            count(conn, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'"),
            2,
            "a pending delivery is kept however old"
        );
        assert_eq!(count(conn, "SELECT COUNT(*) FROM outbox"), 5);
        assert_eq!(count(conn, "SELECT COUNT(*) FROM deliveries"), 2);
        // A shorter policy takes the young ones too (pending still stays).
        let short = Policy {
            outbox_days: 0.5,
            deliveries_days: 0.5,
            events_days: None,
        };
        let pruned = everything(10_000)(conn, &short);
        assert_eq!((pruned.outbox, pruned.deliveries), (3, 2));
        assert_eq!(count(conn, "SELECT COUNT(*) FROM outbox"), 2);
    }

    #[test]
    fn a_call_deletes_at_most_its_limit_and_the_next_continues_oldest_first() {
        let (_dir, w) = writer();
        let conn = w.connection();
        add_deliveries(conn, 1200, OLD);
        add_deliveries(conn, 10, NOW);
        add_outbox(conn, 700, "delivered", OLD);
        let policy = Policy::default();

        // The outbox comes first; its 700 rows take the first call's whole allowance.
        assert_eq!(everything(BATCH)(conn, &policy).outbox, BATCH);
        let second = everything(BATCH)(conn, &policy);
        assert_eq!((second.outbox, second.deliveries), (200, 300));
        assert_eq!(
            count(conn, "SELECT MIN(id) FROM deliveries"),
            301,
            "the oldest lines went first"
        );
        // One call may run several statements of at most BATCH rows, never more than its limit.
        assert_eq!(everything(800)(conn, &policy).deliveries, 800);
        assert_eq!(everything(800)(conn, &policy).deliveries, 100);
        assert_eq!(everything(800)(conn, &policy), Pruned::default());
        assert_eq!(count(conn, "SELECT COUNT(*) FROM deliveries"), 10);
    }

    fn token() -> TokenId {
        Token::parse(FIXTURE_TOKEN).unwrap().id()
    }

    /// Stores the events as received at `received_at` and applies them to `board`.
    fn ingest(
        w: &mut Writer,
        board: &mut Board,
        events: &[crate::normalise::Event],
        received_at: f64,
    ) {
        let batch = w.begin().unwrap();
        for e in events {
            if batch
                .insert_event(&token(), e, received_at)
                .unwrap()
                .is_some()
            {
                board.apply(e, e.at);
            }
        }
        batch.commit().unwrap();
    }

    fn snapshot(w: &mut Writer, board: &Board) -> i64 {
        let seq = w.last_seq(&token()).unwrap();
        let batch = w.begin().unwrap();
        batch.save_snapshot(&token(), seq, board, NOW).unwrap();
        batch.commit().unwrap();
        seq
    }

    #[test]
    fn events_are_kept_unless_asked_and_never_those_a_board_needs() {
        let (_dir, mut w) = writer();
        let events = fixture_events("queue.v1.jsonl");
        let half = events.len() / 2;
        let mut board = Board::default();
        ingest(&mut w, &mut board, &events[..half], OLD);
        let stored = events.len() as i64;
        let ask = Policy {
            events_days: Some(30.0),
            ..Policy::default()
        };

        // No snapshot yet: the board would be rebuilt from every event, so none may go.
        assert_eq!(everything(10_000)(w.connection(), &ask).events, 0);

        let seq = snapshot(&mut w, &board);
        ingest(&mut w, &mut board, &events[half..], OLD);
        assert_eq!(
            everything(10_000)(w.connection(), &Policy::default()).events,
            0,
            "events are kept by default"
        );
        assert_eq!(
            everything(10_000)(w.connection(), &ask).events,
            seq as usize
        );
        let left = count(w.connection(), "SELECT COUNT(*) FROM events");
        assert_eq!(left, stored - seq, "every event after the snapshot stays");

        // The board rebuilt from its snapshot and the events left is the board itself.
        let (from, mut rebuilt) = w.snapshot(&token()).unwrap().unwrap();
        w.replay(&token(), from, |_, e, _| {
            rebuilt.apply(&e, e.at);
        })
        .unwrap();
        assert_eq!(rebuilt.queues(), board.queues());
        assert_eq!(rebuilt.lines(), board.lines());
    }

    #[test]
    fn young_events_stay_and_events_go_in_bounded_batches() {
        let (_dir, mut w) = writer();
        let events = fixture_events("lines.v1.jsonl");
        let mut board = Board::default();
        ingest(&mut w, &mut board, &events[..20], OLD);
        ingest(&mut w, &mut board, &events[20..], NOW - DAY_S);
        snapshot(&mut w, &board);
        let ask = Policy {
            events_days: Some(7.0),
            ..Policy::default()
        };
        assert_eq!(everything(8)(w.connection(), &ask).events, 8);
        assert_eq!(everything(8)(w.connection(), &ask).events, 8);
        assert_eq!(everything(8)(w.connection(), &ask).events, 4);
        assert_eq!(everything(8)(w.connection(), &ask).events, 0);
        assert_eq!(
            count(w.connection(), "SELECT COUNT(*) FROM events"),
            (events.len() - 20) as i64,
            "the events received a day ago are younger than 7 days"
        );
    }
}
