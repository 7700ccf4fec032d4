//! `ovh-cti migrate`: moves an installation from its SQLite file to PostgreSQL without losing
//! history (issue 12). Every table of the schema is copied, column by column by name, from one
//! read transaction on the file (a consistent snapshot, even with a service writing to it) into
//! one transaction on PostgreSQL (all or nothing); identity sequences are moved past the copied
//! ids; then the row counts of both sides are compared.
//!
//! Both sides are opened as the service opens them (`store::open`), so the file is first
//! brought to the current schema and PostgreSQL's tables are built from the same version: the
//! two schemas then differ only in types, which the boundary's values bridge.

use super::db::{params, Conn, DbError, OptionalExtension, Value};
use super::{describe, Location, StoreError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Rows per INSERT: large enough that PostgreSQL's round trips do not dominate, small enough
/// that a chunk of the widest table stays far under its 65,535 parameters and a few MB.
const CHUNK_ROWS: usize = 500;
const MAX_PARAMS: usize = 30_000;

/// Tables the PostgreSQL schema fills itself when it is built (one row that a trigger keeps
/// up to date): their rows are replaced by the file's rather than added to, and they do not
/// make the target count as already in use.
const SEEDED: &[&str] = &["token_changes"];

/// Tables PostgreSQL may have that the file never will, and that need no copy: `store_meta`
/// holds what SQLite keeps in its header (the schema version, set when the schema was built,
/// and the purpose, carried over below).
const TARGET_ONLY: &[&str] = &["store_meta"];

/// Tables both sides have that say only what the instances running now do (which one follows
/// which token, which are alive: `store::leases`): never copied, and rows there (left by
/// instances that ran on the target and were killed) do not make the target count as in use.
const RUNTIME: &[&str] = &["token_leases", "instances"];

/// What a migration did.
#[derive(Debug)]
pub struct Summary {
    /// Each copied table and its rows (equal on both sides), in the order they were copied.
    pub tables: Vec<(String, u64)>,
    /// What was not copied, and why (a table or column only one side has).
    pub notes: Vec<String>,
}

impl Summary {
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "{0} does not exist: give the path of the installation's SQLite file (--from sqlite:PATH)"
    )]
    NoSource(PathBuf),
    #[error("--from must be the SQLite file (sqlite:PATH or a path), not a PostgreSQL address")]
    SourceIsPostgres,
    #[error("--to must be a PostgreSQL address (postgres://HOST:PORT/DB?user=…), not {0}")]
    TargetNotPostgres(String),
    #[error("the target {db} already holds data ({tables}): migrate only into an empty database (a new one, or a new schema with options=-csearch_path%3DNAME); nothing was written")]
    NotEmpty { db: String, tables: String },
    /// The SQLite file cannot be opened or read (`StoreError::Open` names it).
    #[error("{0}")]
    Source(StoreError),
    /// PostgreSQL cannot be opened or written (`StoreError::Open` names it, never with its
    /// password).
    #[error("{0}; nothing was written")]
    Target(StoreError),
    #[error("table {table}: {reason}; nothing was written")]
    Copy { table: String, reason: String },
    #[error("the copy was committed to {db} but does not check: {detail}")]
    Verify { db: String, detail: String },
}

/// What `--from` names: `sqlite:PATH`, `sqlite://PATH` or a bare path.
pub fn source_path(from: &str) -> Result<PathBuf, MigrateError> {
    let path = from
        .strip_prefix("sqlite://")
        .or_else(|| from.strip_prefix("sqlite:"))
        .unwrap_or(from);
    if Location::is_postgres(Path::new(path)) {
        return Err(MigrateError::SourceIsPostgres);
    }
    Ok(PathBuf::from(path))
}

/// Copies the SQLite file `from` into the empty PostgreSQL database `to` and checks the copy.
pub fn migrate(from: &Path, to: &Path) -> Result<Summary, MigrateError> {
    if Location::is_postgres(from) {
        return Err(MigrateError::SourceIsPostgres);
    }
    match Location::of(to) {
        Ok(Location::Postgres(_)) => {}
        Ok(Location::Sqlite(p)) => {
            return Err(MigrateError::TargetNotPostgres(p.display().to_string()))
        }
        Err(e) => return Err(MigrateError::Target(e)),
    }
    // `store::open` creates a missing file: a mistyped path must not migrate an empty store.
    if !from.is_file() {
        return Err(MigrateError::NoSource(from.to_path_buf()));
    }
    let source_err = |e: StoreError| MigrateError::Source(naming(from.display().to_string(), e));
    let target_err = |e: StoreError| MigrateError::Target(naming(describe(to), e));
    let src = super::open(from).map_err(source_err)?.0.into_conn();
    let mut dst = super::open(to).map_err(target_err)?.0.into_conn();

    // One read transaction: every SELECT below sees the file as it was at the first one,
    // whatever a running service commits meanwhile (WAL keeps that snapshot for us).
    let snapshot = src
        .unchecked_transaction()
        .map_err(|e| source_err(e.into()))?;
    let plan = plan(&snapshot, &dst).map_err(|e| source_err(e.into()))?;

    let tx = dst.transaction().map_err(|e| target_err(e.into()))?;
    refuse_if_used(&tx, &plan.tables, to)?;
    let mut streamed = Vec::new();
    for table in &plan.tables {
        streamed.push(copy_table(&snapshot, &tx, table)?);
    }
    let copy_err = |table: &str| {
        let table = table.to_owned();
        move |e: DbError| MigrateError::Copy {
            table,
            reason: e.to_string(),
        }
    };
    // What the file keeps in its header: whether it is a real installation's or the demo's
    // (`store::purpose`), which the service checks at every start.
    let purpose: i64 = snapshot
        .query_row("PRAGMA application_id", (), |r| r.get(0))
        .map_err(copy_err("store_meta"))?;
    if purpose != 0 {
        tx.execute(
            "INSERT INTO store_meta (key, value) VALUES ('purpose', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![purpose],
        )
        .map_err(copy_err("store_meta"))?;
    }
    for table in &plan.tables {
        move_sequences(&snapshot, &tx, &table.name).map_err(copy_err(&table.name))?;
    }
    // The source's counts come from the same snapshot as the rows copied: they must be the
    // rows streamed, or the snapshot did not hold, and nothing is committed.
    let mut expected = Vec::new();
    for (table, streamed) in plan.tables.iter().zip(streamed) {
        let rows = count(&snapshot, &table.name).map_err(copy_err(&table.name))?;
        if rows != streamed {
            return Err(MigrateError::Copy {
                table: table.name.clone(),
                reason: format!("{rows} rows counted but {streamed} read"),
            });
        }
        expected.push((table.name.clone(), rows));
    }
    tx.commit().map_err(|e| target_err(e.into()))?;
    // Only read: nothing to keep, nothing to undo.
    let _ = snapshot.rollback();

    // Counted again on PostgreSQL after the commit, by fresh statements: what a service
    // started on it will find.
    let mut mismatches = Vec::new();
    for (table, rows) in &expected {
        let found = count(&dst, table).map_err(|e| MigrateError::Verify {
            db: describe(to),
            detail: format!("{table}: {e}"),
        })?;
        if found != *rows {
            mismatches.push(format!(
                "{table}: {rows} rows in the file, {found} in PostgreSQL"
            ));
        }
    }
    if !mismatches.is_empty() {
        return Err(MigrateError::Verify {
            db: describe(to),
            detail: mismatches.join(", "),
        });
    }
    Ok(Summary {
        tables: expected,
        notes: plan.notes,
    })
}

/// `e`, saying which database it is about (the errors of `store::open` already do).
fn naming(db: String, e: StoreError) -> StoreError {
    match e {
        StoreError::Open { .. } => e,
        other => StoreError::Open {
            db,
            reason: other.to_string(),
        },
    }
}

/// A table to copy and the columns both sides have.
struct Table {
    name: String,
    columns: Vec<String>,
    /// PostgreSQL refuses values for `GENERATED ALWAYS AS IDENTITY` columns unless told to
    /// take them: the copy keeps every id, since other tables and cursors refer to them.
    overriding: bool,
}

struct Plan {
    /// In an order where a table comes after every table it refers to.
    tables: Vec<Table>,
    notes: Vec<String>,
}

/// Which tables and columns to copy, and in which order, from both sides' catalogues.
fn plan(src: &Conn, dst: &Conn) -> Result<Plan, DbError> {
    let source_tables = strings(
        src,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        &[],
    )?;
    let target_tables: BTreeSet<String> = strings(
        dst,
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        &[],
    )?
    .into_iter()
    .collect();
    let mut notes = Vec::new();
    for t in &target_tables {
        if !source_tables.contains(t)
            && !TARGET_ONLY.contains(&t.as_str())
            && !RUNTIME.contains(&t.as_str())
        {
            notes.push(format!("table {t} exists only in PostgreSQL: left empty"));
        }
    }

    let mut tables = BTreeMap::new();
    let mut refers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in source_tables {
        if RUNTIME.contains(&name.as_str()) {
            continue;
        }
        if !target_tables.contains(&name) {
            notes.push(format!(
                "table {name} exists only in the SQLite file: not copied"
            ));
            continue;
        }
        // `table_info` lists stored columns only: a generated column is computed again on
        // the other side.
        let columns = strings(
            src,
            &format!("SELECT name FROM pragma_table_info('{name}')"),
            &[],
        )?;
        let target = target_columns(dst, &name)?;
        let mut copied = Vec::new();
        for c in &columns {
            match target.get(c) {
                Some(TargetColumn::Plain | TargetColumn::AlwaysIdentity) => copied.push(c.clone()),
                Some(TargetColumn::Generated) => notes.push(format!(
                    "column {name}.{c} is computed by PostgreSQL: not copied"
                )),
                None => notes.push(format!(
                    "column {name}.{c} exists only in the SQLite file: not copied"
                )),
            }
        }
        for (c, kind) in &target {
            if !columns.contains(c) && !matches!(kind, TargetColumn::Generated) {
                notes.push(format!(
                    "column {name}.{c} exists only in PostgreSQL: left to its default"
                ));
            }
        }
        let overriding = copied
            .iter()
            .any(|c| matches!(target.get(c), Some(TargetColumn::AlwaysIdentity)));
        let parents = strings(
            src,
            &format!("SELECT \"table\" FROM pragma_foreign_key_list('{name}')"),
            &[],
        )?;
        refers.insert(
            name.clone(),
            parents.into_iter().filter(|p| *p != name).collect(),
        );
        tables.insert(
            name.clone(),
            Table {
                name,
                columns: copied,
                overriding,
            },
        );
    }

    // Parents first (foreign keys), then the seeded tables, so that the rows the tokens'
    // trigger counted while they were copied give way to the file's own.
    let mut order: Vec<Table> = Vec::new();
    let mut done = BTreeSet::new();
    while !tables.is_empty() {
        let ready: Vec<String> = tables
            .keys()
            .filter(|t| {
                refers[*t]
                    .iter()
                    .all(|p| done.contains(p) || !tables.contains_key(p) || *p == **t)
            })
            .filter(|t| {
                !SEEDED.contains(&t.as_str()) || tables.keys().all(|o| SEEDED.contains(&o.as_str()))
            })
            .cloned()
            .collect();
        // A cycle of references would leave nothing ready: take the rest as they come (the
        // copy then fails on the first row that refers ahead, naming its table).
        let ready = if ready.is_empty() {
            tables.keys().cloned().collect()
        } else {
            ready
        };
        for t in ready {
            done.insert(t.clone());
            order.extend(tables.remove(&t));
        }
    }
    Ok(Plan {
        tables: order,
        notes,
    })
}

enum TargetColumn {
    Plain,
    /// `GENERATED ALWAYS AS IDENTITY`.
    AlwaysIdentity,
    /// `GENERATED ALWAYS AS (…) STORED`: PostgreSQL computes it and takes no value for it.
    Generated,
}

fn target_columns(dst: &Conn, table: &str) -> Result<BTreeMap<String, TargetColumn>, DbError> {
    let mut out = BTreeMap::new();
    dst.prepare(
        "SELECT column_name::text, COALESCE(is_generated::text, 'NEVER'), COALESCE(identity_generation::text, '') FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?1",
    )?
    .for_each(params![table], |r| {
        let name: String = r.get(0)?;
        let generated: String = r.get(1)?;
        let identity: String = r.get(2)?;
        let kind = if generated == "ALWAYS" {
            TargetColumn::Generated
        } else if identity == "ALWAYS" {
            TargetColumn::AlwaysIdentity
        } else {
            TargetColumn::Plain
        };
        out.insert(name, kind);
        Ok(true)
    })?;
    Ok(out)
}

/// Refuses a target that already holds rows: copying beside them would mix two
/// installations' histories, or fail halfway on their ids.
fn refuse_if_used(tx: &Conn, tables: &[Table], to: &Path) -> Result<(), MigrateError> {
    let mut used = Vec::new();
    for table in tables {
        if SEEDED.contains(&table.name.as_str()) {
            continue;
        }
        let rows = count(tx, &table.name).map_err(|e| MigrateError::Copy {
            table: table.name.clone(),
            reason: e.to_string(),
        })?;
        if rows > 0 {
            used.push(format!("{}: {rows}", table.name));
        }
    }
    if used.is_empty() {
        return Ok(());
    }
    Err(MigrateError::NotEmpty {
        db: describe(to),
        tables: used.join(", "),
    })
}

fn count(conn: &Conn, table: &str) -> Result<u64, DbError> {
    conn.query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), (), |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as u64)
}

/// Streams one table into PostgreSQL in chunks: SQLite hands the rows over one at a time,
/// so however large the events table is, only one chunk is held in memory.
fn copy_table(src: &Conn, dst: &Conn, table: &Table) -> Result<u64, MigrateError> {
    let err = |e: DbError| MigrateError::Copy {
        table: table.name.clone(),
        reason: e.to_string(),
    };
    if SEEDED.contains(&table.name.as_str()) {
        dst.execute(&format!("DELETE FROM \"{}\"", table.name), ())
            .map_err(err)?;
    }
    let width = table.columns.len();
    if width == 0 {
        return Ok(0);
    }
    let chunk_rows = CHUNK_ROWS.min(MAX_PARAMS / width).max(1);
    let list = table
        .columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let insert = |rows: usize| {
        let values = (0..rows)
            .map(|r| {
                let row = (1..=width)
                    .map(|c| format!("?{}", r * width + c))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("({row})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO \"{}\" ({list}){} VALUES {values}",
            table.name,
            if table.overriding {
                " OVERRIDING SYSTEM VALUE"
            } else {
                ""
            }
        )
    };
    let full = insert(chunk_rows);
    let mut chunk: Vec<Value> = Vec::with_capacity(chunk_rows * width);
    let mut copied = 0u64;
    let flush = |chunk: &mut Vec<Value>| -> Result<(), DbError> {
        let rows = chunk.len() / width;
        let sql = if rows == chunk_rows {
            full.clone()
        } else {
            insert(rows)
        };
        let values: Vec<&dyn super::db::ToValue> =
            chunk.iter().map(|v| v as &dyn super::db::ToValue).collect();
        dst.execute(&sql, values.as_slice())?;
        chunk.clear();
        Ok(())
    };
    // In rowid order where there is one: the ids go in ascending, as the service wrote them.
    let order = if has_rowid(src, &table.name).map_err(err)? {
        " ORDER BY rowid"
    } else {
        ""
    };
    src.prepare(&format!("SELECT {list} FROM \"{}\"{order}", table.name))
        .map_err(err)?
        .for_each((), |r| {
            for i in 0..width {
                chunk.push(r.get::<_, Value>(i)?);
            }
            copied += 1;
            if chunk.len() == chunk_rows * width {
                flush(&mut chunk)?;
            }
            Ok(true)
        })
        .map_err(err)?;
    if !chunk.is_empty() {
        flush(&mut chunk).map_err(err)?;
    }
    Ok(copied)
}

/// Whether the SQLite table has a rowid to order by (not a `WITHOUT ROWID` table).
fn has_rowid(src: &Conn, table: &str) -> Result<bool, DbError> {
    src.query_row(
        "SELECT COUNT(*) = 0 FROM sqlite_master WHERE type = 'table' AND name = ?1 AND sql LIKE '%WITHOUT ROWID%'",
        params![table],
        |r| r.get(0),
    )
}

/// Moves each identity (or serial) sequence of `table` past the ids now in it, and past the
/// highest id SQLite ever gave out for it (`sqlite_sequence`, for AUTOINCREMENT tables): a
/// deleted webhook endpoint's id must not come back (issue 8), on PostgreSQL either.
fn move_sequences(src: &Conn, dst: &Conn, table: &str) -> Result<(), DbError> {
    let columns = strings(
        dst,
        "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?1 AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
        &[&table],
    )?;
    if columns.is_empty() {
        return Ok(());
    }
    let has_sequence_table: bool = src.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = 'sqlite_sequence'",
        (),
        |r| r.get(0),
    )?;
    let given_out: i64 = if has_sequence_table {
        src.query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = ?1",
            params![table],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0)
    } else {
        0
    };
    for column in columns {
        let highest: Option<i64> = dst.query_row(
            &format!("SELECT MAX(\"{column}\") FROM \"{table}\""),
            (),
            |r| r.get(0),
        )?;
        let next_after = highest.unwrap_or(0).max(given_out);
        // A sequence starts at 1: nothing to move for an empty table SQLite never numbered.
        if next_after >= 1 {
            dst.query_row(
                "SELECT setval(pg_get_serial_sequence(?1, ?2), ?3)",
                params![table, column.as_str(), next_after],
                |r| r.get::<_, i64>(0),
            )?;
        }
    }
    Ok(())
}

fn strings(
    conn: &Conn,
    sql: &str,
    args: &[&dyn super::db::ToValue],
) -> Result<Vec<String>, DbError> {
    conn.prepare(sql)?.query_map(args, |r| r.get(0))?.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_takes_sqlite_prefixes_or_a_bare_path_and_never_postgres() {
        assert_eq!(
            source_path("sqlite:/var/lib/ovh-cti.db").unwrap(),
            PathBuf::from("/var/lib/ovh-cti.db")
        );
        assert_eq!(
            source_path("sqlite:///var/lib/ovh-cti.db").unwrap(),
            PathBuf::from("/var/lib/ovh-cti.db")
        );
        assert_eq!(
            source_path("ovh-cti.db").unwrap(),
            PathBuf::from("ovh-cti.db")
        );
        assert!(matches!(
            source_path("postgres://h/db"),
            Err(MigrateError::SourceIsPostgres)
        ));
    }

    #[test]
    fn a_target_that_is_not_postgres_or_a_missing_file_is_refused_before_anything_opens() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.db");
        let err = migrate(&missing, Path::new("postgres://127.0.0.1:1/x")).unwrap_err();
        assert!(matches!(err, MigrateError::NoSource(_)), "{err}");
        assert!(!missing.exists(), "no file was created");
        let err = migrate(&missing, Path::new("other.db")).unwrap_err();
        assert!(
            err.to_string().contains("--to must be a PostgreSQL"),
            "{err}"
        );
    }

    /// The whole copy on a small store: counts, ids, the purpose and the sequences.
    #[test]
    fn copies_every_table_and_moves_the_sequences() {
        let Some(url) = crate::test_support::postgres_schema("store_migrate") else {
            eprintln!("store::migrate: skipped, no PostgreSQL");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ovh-cti.db");
        let (w, _) = super::super::open(&file).unwrap();
        let conn = w.into_conn();
        conn.execute_batch(&format!(
            "PRAGMA application_id = {};
             INSERT INTO tokens (id, secret, source, added_at) VALUES ('t1', 's', 'config', 1.0);
             INSERT INTO orgs (id, name, created_at) VALUES (3, 'o', 1.0);
             INSERT INTO users (id, org_id, login, password_hash, role, created_at) VALUES (5, 3, 'ada', 'h', 'admin', 2);
             INSERT INTO webhooks (id, token_id, url, events, secret, created_at) VALUES (7, 't1', 'https://x/', '[]', 's', 1.0);
             DELETE FROM webhooks WHERE id = 7;",
            0x6f76_6863
        ))
        .unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        for i in 0..1234 {
            tx.execute(
                "INSERT INTO events (token_id, fingerprint, received_at, at, event, number, service, raw) VALUES ('t1', ?1, 1, 1, 'start_ringing', 'n', 's', '{}')",
                params![format!("f{i}")],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        drop(conn);
        let to = PathBuf::from(url.as_secret_str());
        let summary = migrate(&file, &to).unwrap();
        let rows = |t: &str| summary.tables.iter().find(|(n, _)| n == t).unwrap().1;
        assert_eq!(rows("events"), 1234);
        assert_eq!(rows("users"), 1);
        assert_eq!(rows("token_changes"), 1);
        let names: Vec<&str> = summary.tables.iter().map(|(n, _)| n.as_str()).collect();
        let at = |t: &str| names.iter().position(|n| *n == t).unwrap();
        assert!(at("orgs") < at("users"), "{names:?}");
        assert!(at("tokens") < at("token_changes"), "{names:?}");
        assert!(summary.notes.is_empty(), "{:?}", summary.notes);

        let pg = Conn::postgres(&url).unwrap();
        let next = |t: &str, c: &str| -> i64 {
            pg.query_row(
                "SELECT nextval(pg_get_serial_sequence(?1, ?2))",
                params![t, c],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(next("events", "seq"), 1235);
        assert_eq!(next("users", "id"), 6);
        assert_eq!(
            next("webhooks", "id"),
            8,
            "a deleted endpoint's id is not given again"
        );
        let purpose: i64 = pg
            .query_row(
                "SELECT value FROM store_meta WHERE key = 'purpose'",
                (),
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(purpose, 0x6f76_6863);
        let version: i64 = pg
            .query_row("SELECT version FROM token_changes", (), |r| r.get(0))
            .unwrap();
        let file_version: i64 = Conn::open_sqlite(&file)
            .unwrap()
            .query_row("SELECT version FROM token_changes", (), |r| r.get(0))
            .unwrap();
        assert_eq!(version, file_version);

        // Into the same database again: refused, and nothing added.
        let err = migrate(&file, &to).unwrap_err();
        assert!(matches!(err, MigrateError::NotEmpty { .. }), "{err}");
        let events: i64 = pg
            .query_row("SELECT COUNT(*) FROM events", (), |r| r.get(0))
            .unwrap();
        assert_eq!(events, 1234);
    }
}
