//! The store held against the fake's record, event by event: what the fake emitted for a
//! token and the store does not hold is lost; what the store holds more than once — or holds
//! and the fake never emitted — is duplicated. History rows are checked for a second row of
//! the same identity, and the file for `PRAGMA integrity_check`.
//!
//! The store is read straight from its SQLite file (WAL lets a reader in beside the running
//! service), so that nothing the service's API hides or pages can hide a row.

use ovh_cti::simulate::Faults;
use ovh_cti::token::Token;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// What one event is, whatever the API version that delivered it: its type, number, OVH's
/// two timestamps and the keys that tell calls, callers and agents apart.
pub fn identity(event: &Value) -> String {
    let top: BTreeMap<String, &Value> = match event {
        Value::Object(m) => m.iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect(),
        _ => BTreeMap::new(),
    };
    let field = |k: &str| top.get(k).map_or(String::new(), |v| v.to_string());
    let data = top.get("data").copied().unwrap_or(&Value::Null);
    let datum = |k: &str| data.get(k).map_or(String::new(), Value::to_string);
    [
        field("event"),
        field("ressource"),
        field("timestamp"),
        datum("TsGet"),
        datum("CallId"),
        datum("QueueMemberUUID"),
        datum("QueueAgent"),
    ]
    .join("|")
}

/// The outcome of an audit; `detail` says where the differences are.
#[derive(Debug, Default)]
pub struct Audit {
    pub emitted: usize,
    pub stored: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub detail: Vec<String>,
}

impl Audit {
    /// Fails the test unless nothing was lost or duplicated and the file is sound.
    pub fn assert_clean(&self, fault: &str) {
        assert!(
            self.lost == 0 && self.duplicated == 0 && self.detail.is_empty(),
            "{fault}: {} lost, {} duplicated of {} emitted ({} stored): {:#?}",
            self.lost,
            self.duplicated,
            self.emitted,
            self.stored,
            self.detail
        );
    }
}

fn open(db: &Path) -> Connection {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

fn count(conn: &Connection, sql: &str) -> usize {
    conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as usize
}

/// Compares the store at `db` with everything the fake emitted for `tokens`.
pub fn audit(db: &Path, faults: &Faults, tokens: &[&str]) -> Audit {
    let conn = open(db);
    let mut audit = Audit::default();
    for token in tokens {
        let id = Token::parse(token).unwrap().id();
        let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for e in faults.emitted(token) {
            tally.entry(identity(&e)).or_default().0 += 1;
            audit.emitted += 1;
        }
        let mut stmt = conn
            .prepare("SELECT raw FROM events WHERE token_id = ?1")
            .unwrap();
        let rows = stmt
            .query_map([id.as_str()], |r| r.get::<_, String>(0))
            .unwrap();
        for raw in rows {
            let raw: Value = serde_json::from_str(&raw.unwrap()).unwrap();
            tally.entry(identity(&raw)).or_default().1 += 1;
            audit.stored += 1;
        }
        let hint = &token[..4];
        for (key, (emitted, stored)) in tally {
            if stored < emitted {
                audit.lost += emitted - stored;
                if audit.detail.len() < 10 {
                    audit.detail.push(format!("{hint}… lost {key}"));
                }
            } else if stored > emitted {
                audit.duplicated += stored - emitted;
                if audit.detail.len() < 10 {
                    audit.detail.push(format!("{hint}… {stored}× {key}"));
                }
            }
        }
    }
    // History: one row per call (its start to the millisecond: a float that moved by one ulp
    // in a round trip is the same call) and per caller's passage through a queue.
    for (what, sql) in [
        (
            "calls",
            "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM calls
             GROUP BY token_id, number, call_id, CAST(round(started_at * 1000) AS INTEGER) HAVING n > 1)",
        ),
        (
            "queue_journal",
            "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM queue_journal
             GROUP BY token_id, queue, member HAVING n > 1)",
        ),
    ] {
        let extra = count(&conn, sql);
        if extra > 0 {
            audit.duplicated += extra;
            audit.detail.push(format!("{extra} duplicate rows in {what}"));
        }
    }
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    if integrity != "ok" {
        audit.detail.push(format!("integrity_check: {integrity}"));
    }
    audit
}

/// Rows of `table` for `token`, straight from the file.
pub fn rows(db: &Path, table: &str, token: &str) -> usize {
    let id = Token::parse(token).unwrap().id();
    open(db)
        .query_row(
            &format!("SELECT COUNT(*) FROM {table} WHERE token_id = ?1"),
            [id.as_str()],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as usize
}
