//! The reference the ingest benches measure the service against: "plain SQLite inserts" of
//! the very rows the service wrote, into a fresh database with the same schema, indexes and
//! settings — what storing those events costs with nothing else done.

use ovh_cti::store;
use std::path::Path;
use std::time::{Duration, Instant};

/// The rows the service wrote in `source`, inserted again into a fresh
/// database `target` with plain prepared statements, `per_transaction` events a transaction
/// with their share of the other rows and one session update per poll. Returns the events
/// inserted and the time it took (the reading before is not timed).
pub fn plain_inserts(source: &Path, target: &Path, per_transaction: usize) -> (usize, Duration) {
    use rusqlite::types::Value;
    // The same schema and indexes, the same settings as the store's connections.
    drop(store::open(target).unwrap());
    let mut db = rusqlite::Connection::open(target).unwrap();
    db.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;",
    )
    .unwrap();
    let src = rusqlite::Connection::open(source).unwrap();
    let read = |table: &str| -> (String, Vec<Vec<Value>>) {
        let mut stmt = src
            .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
            .unwrap();
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let n = columns.len();
        let rows = stmt
            .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
            .unwrap()
            .collect::<Result<Vec<Vec<Value>>, _>>()
            .unwrap();
        let marks = vec!["?"; n].join(", ");
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({marks})",
            columns.join(", ")
        );
        (insert, rows)
    };
    // The tokens first, untimed: the ingest had them before it started too.
    let (insert_token, tokens) = read("tokens");
    for t in &tokens {
        db.execute(&insert_token, rusqlite::params_from_iter(t))
            .unwrap();
    }
    let token_ids: Vec<Value> = tokens.iter().map(|t| t[0].clone()).collect();
    let events = read("events");
    let others: Vec<_> = ["calls", "queue_journal", "snapshots"]
        .iter()
        .map(|t| read(t))
        .collect();

    let chunks = events.1.len().div_ceil(per_transaction.max(1));
    let start = Instant::now();
    for chunk in 0..chunks {
        let tx = db.transaction().unwrap();
        let span = |len: usize| len * chunk / chunks..len * (chunk + 1) / chunks;
        {
            let mut insert = tx.prepare_cached(&events.0).unwrap();
            for row in &events.1[span(events.1.len())] {
                insert.execute(rusqlite::params_from_iter(row)).unwrap();
            }
            for (sql, rows) in &others {
                let mut insert = tx.prepare_cached(sql).unwrap();
                for row in &rows[span(rows.len())] {
                    insert.execute(rusqlite::params_from_iter(row)).unwrap();
                }
            }
            let mut session = tx
                .prepare_cached("UPDATE tokens SET session = ?2 WHERE id = ?1")
                .unwrap();
            for id in &token_ids {
                session
                    .execute(rusqlite::params![id, format!("v1:S{chunk}")])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    (events.1.len(), start.elapsed())
}
