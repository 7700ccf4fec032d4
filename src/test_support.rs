//! Helpers shared by the unit tests: the fixture files (kept in `tests/fixtures/`) and the
//! token they were recorded with.

use crate::normalise::{decode_v1_poll, Event};

pub const FIXTURE_TOKEN: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Every event of a `.v1.jsonl` fixture, in order, skipping the fault lines.
pub fn fixture_events(name: &str) -> Vec<Event> {
    fixture(name)
        .lines()
        .filter(|l| !l.contains("__status__"))
        .flat_map(|l| {
            decode_v1_poll(l.as_bytes(), FIXTURE_TOKEN, 0.0)
                .unwrap()
                .events
        })
        .map(Result::unwrap)
        .collect()
}

/// Adds `n` screen-pop rows to the outbox in `state`, created, last due and last updated at
/// `at`: what retention looks at.
pub fn add_outbox(conn: &rusqlite::Connection, n: usize, state: &str, at: f64) {
    let tx = conn.unchecked_transaction().unwrap();
    for _ in 0..n {
        tx.execute(
            "INSERT INTO outbox (token_id, kind, url, webhook_id, event, dedupe, next_attempt_at, state, created_at, updated_at)
             VALUES ('t', 'pop', 'https://crm.example/', 'msg', 'start_ringing', hex(randomblob(16)), ?2, ?1, ?2, ?2)",
            rusqlite::params![state, at],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}
