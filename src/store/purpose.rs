//! Which feed a database holds: OVH's real one, or the demo's simulated traffic. `demo` and
//! `serve` both default to `ovh-cti.db` (the contract pins it), so without a mark a demo run
//! in the folder of a real installation would write its simulated calls beside the real ones
//! and poll the real tokens against its simulator (issue 9). The mark is SQLite's own
//! `application_id` in the file's header: set when a database is first used, checked at
//! every start, with an error that says which `--db` to give instead.

use super::StoreError;
use crate::store::db::{params, Conn, Dialect, OptionalExtension};
use std::collections::HashSet;
use std::path::Path;

/// `ovhc` and `ovhd` in ASCII: a real installation's database, and a demo's.
const REAL: i64 = 0x6f76_6863;
const DEMO: i64 = 0x6f76_6864;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// OVH's feed (`serve`).
    Real,
    /// The built-in simulator (`demo`).
    Demo,
}

impl Purpose {
    fn id(self) -> i64 {
        match self {
            Purpose::Real => REAL,
            Purpose::Demo => DEMO,
        }
    }
}

/// Marks a database for `purpose`, or refuses one marked for the other. A database from before
/// the mark is taken as real, unless every token it knows is one of `demo_tokens` (the ids of
/// the tokens the demo follows), which only a demo wrote.
pub fn claim(
    conn: &Conn,
    path: &Path,
    purpose: Purpose,
    demo_tokens: &HashSet<String>,
) -> Result<(), StoreError> {
    let id = stored_id(conn)?;
    let found = match id {
        REAL => Some(Purpose::Real),
        DEMO => Some(Purpose::Demo),
        _ => None,
    };
    let found = match found {
        Some(p) => p,
        None => {
            let mut stmt = conn.prepare("SELECT id FROM tokens")?;
            let known: Vec<String> = stmt
                .query_map((), |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let only_demo = known.iter().all(|t| demo_tokens.contains(t));
            let p = if !known.is_empty() && !only_demo {
                Purpose::Real
            } else {
                purpose
            };
            store_id(conn, p.id())?;
            p
        }
    };
    if found == purpose {
        return Ok(());
    }
    let reason = match purpose {
        Purpose::Real => "it holds the simulated calls of `ovh-cti demo`: give the service \
             another database with --db (OVH_CTI_DB), or delete this one if the demo's data is \
             not wanted"
            .to_string(),
        Purpose::Demo => "it holds the calls of real OVH tokens, and the demo does not write \
             simulated calls into it: run the demo with another database, e.g. \
             `ovh-cti demo --db ovh-cti-demo.db`"
            .to_string(),
    };
    Err(StoreError::Open {
        db: super::describe(path),
        reason,
    })
}

/// The purpose recorded in the database: SQLite's `application_id` header field, or the
/// `store_meta` row on PostgreSQL (0: none yet).
fn stored_id(conn: &Conn) -> Result<i64, StoreError> {
    Ok(match conn.dialect() {
        Dialect::Sqlite => conn.query_row("PRAGMA application_id", (), |r| r.get(0))?,
        Dialect::Postgres => conn
            .query_row(
                "SELECT value FROM store_meta WHERE key = 'purpose'",
                (),
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0),
    })
}

fn store_id(conn: &Conn, id: i64) -> Result<(), StoreError> {
    match conn.dialect() {
        Dialect::Sqlite => conn.execute_batch(&format!("PRAGMA application_id = {id}"))?,
        Dialect::Postgres => {
            conn.execute(
                "INSERT INTO store_meta (key, value) VALUES ('purpose', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![id],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{open, Writer};
    use crate::token::Token;

    const REAL_TOKEN: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";
    const DEMO_TOKEN: &str = "DE305D54-75B4-431B-ADB2-EB6B9E546014";

    fn claim_with(w: &Writer, path: &Path, p: Purpose, demo: &[&str]) -> Result<(), StoreError> {
        let ids = demo
            .iter()
            .map(|t| Token::parse(t).unwrap().id().as_str().to_string())
            .collect();
        w.claim(path, p, &ids)
    }

    #[test]
    fn a_demo_would_write_into_a_real_database_and_serve_into_a_demo_one() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.db");
        let (w, _) = open(&real).unwrap();
        claim_with(&w, &real, Purpose::Real, &[]).unwrap();
        let err = claim_with(&w, &real, Purpose::Demo, &[DEMO_TOKEN]).unwrap_err();
        assert!(err.to_string().contains("--db ovh-cti-demo.db"), "{err}");
        claim_with(&w, &real, Purpose::Real, &[]).unwrap();

        let demo = dir.path().join("demo.db");
        let (w, _) = open(&demo).unwrap();
        claim_with(&w, &demo, Purpose::Demo, &[DEMO_TOKEN]).unwrap();
        let err = claim_with(&w, &demo, Purpose::Real, &[]).unwrap_err();
        assert!(err.to_string().contains("simulated calls"), "{err}");
        assert!(err.to_string().contains("--db"), "{err}");
    }

    #[test]
    fn a_database_from_before_the_mark_is_real_unless_only_the_demo_wrote_it() {
        let dir = tempfile::tempdir().unwrap();
        // An installation's database: a real token in it.
        let old_real = dir.path().join("old-real.db");
        let (w, _) = open(&old_real).unwrap();
        w.add_token(&Token::parse(REAL_TOKEN).unwrap(), "config", 0.0)
            .unwrap();
        assert!(claim_with(&w, &old_real, Purpose::Demo, &[DEMO_TOKEN]).is_err());
        claim_with(&w, &old_real, Purpose::Real, &[]).unwrap();
        // An older demo's database: only the demo's tokens.
        let old_demo = dir.path().join("old-demo.db");
        let (w, _) = open(&old_demo).unwrap();
        w.add_token(&Token::parse(DEMO_TOKEN).unwrap(), "config", 0.0)
            .unwrap();
        claim_with(&w, &old_demo, Purpose::Demo, &[DEMO_TOKEN]).unwrap();
        assert!(claim_with(&w, &old_demo, Purpose::Real, &[]).is_err());
    }
}
