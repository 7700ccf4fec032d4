//! Backups while the service runs: `ovh-cti backup` copies the database with SQLite's
//! `VACUUM INTO`, which reads one consistent snapshot of it (WAL lets it read beside the
//! running writer, which it never blocks) and writes it, compacted, to a new file.
//!
//! The copy is made from a read-only connection, so a mistyped path never creates an empty
//! database, and into a file that must not exist yet, so a backup never overwrites anything.
//! The copy is checked (`PRAGMA quick_check`) before it is reported as written.

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// Why a backup could not be made: each a one-line reason naming the path concerned.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists: a backup never overwrites a file, give a new name")]
    Exists(PathBuf),
    #[error("cannot open the database {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("cannot write the backup {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("the backup {path} does not pass its check: {reason}")]
    Check { path: PathBuf, reason: String },
}

/// What a backup wrote.
#[derive(Debug)]
pub struct Copy {
    pub bytes: u64,
    /// The number of raw events in the copy, to show that it holds what it should.
    pub events: i64,
}

/// Writes a consistent copy of the database `db` to `out`, a file that must not exist.
pub fn backup(db: &Path, out: &Path) -> Result<Copy, BackupError> {
    // symlink_metadata: a dangling link counts as existing too.
    if out.symlink_metadata().is_ok() {
        return Err(BackupError::Exists(out.to_path_buf()));
    }
    let open_err = |reason: String| BackupError::Open {
        path: db.to_path_buf(),
        reason,
    };
    let write_err = |reason: String| BackupError::Write {
        path: out.to_path_buf(),
        reason,
    };
    // SQLite's own message for a missing file does not say that it is missing.
    std::fs::metadata(db).map_err(|e| open_err(e.to_string()))?;
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| open_err(e.to_string()))?;
    // A file that is not an ovh-cti database (or not a database at all) is refused here, by
    // name, rather than copied.
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('events', 'tokens')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| open_err(e.to_string()))?;
    if tables != 2 {
        return Err(open_err("not an ovh-cti database".into()));
    }
    let target = out
        .to_str()
        .ok_or_else(|| write_err("the path is not valid UTF-8".into()))?;
    conn.execute("VACUUM INTO ?1", [target])
        .map_err(|e| write_err(e.to_string()))?;
    drop(conn);

    let check_err = |reason: String| BackupError::Check {
        path: out.to_path_buf(),
        reason,
    };
    let copy = Connection::open_with_flags(out, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| check_err(e.to_string()))?;
    let verdict: String = copy
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| check_err(e.to_string()))?;
    if verdict != "ok" {
        return Err(check_err(verdict));
    }
    let events = copy
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .map_err(|e| check_err(e.to_string()))?;
    let bytes = std::fs::metadata(out)
        .map_err(|e| check_err(e.to_string()))?
        .len();
    Ok(Copy { bytes, events })
}
