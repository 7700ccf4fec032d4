//! The store: one SQLite file in WAL mode holding the raw events, the call history, the queue
//! journal, per-token settings, board snapshots, followed tokens and login sessions.
//!
//! There is one writer — the ingest thread owns a `Writer` and groups each poll's events, the
//! records they produce and the feed session into one transaction — and any number of readers
//! (`Readers`, a small pool) for the API. WAL lets them read while it writes.

pub mod backup;
pub mod queries;
pub mod reports;
pub mod retention;
mod schema;
mod writer;

pub use queries::{CallFilter, Cursor, EventFilter, EventRow, JournalFilter, Page};
pub use writer::Writer;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is not valid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a database read was interrupted: {0}")]
    Interrupted(String),
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let open_err = |e: rusqlite::Error| StoreError::Open {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    // WAL: readers never block the writer. synchronous=NORMAL in WAL mode survives a killed
    // process (kill -9) without losing a commit; only a power cut can take the last ones.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536;",
    )
    .map_err(open_err)?;
    Ok(conn)
}

/// Opens (creating if needed) and migrates the database, returning its one writer and a
/// pool of readers.
pub fn open(path: &Path) -> Result<(Writer, Readers), StoreError> {
    let mut conn = connect(path)?;
    schema::migrate(&mut conn).map_err(|e| StoreError::Open {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok((
        Writer::new(conn),
        Readers {
            path: path.to_path_buf(),
            pool: Mutex::new(Vec::new()),
        },
    ))
}

/// Read-only access for the API, from a few reusable connections.
pub struct Readers {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Runs `f` on a pooled connection, off the async threads.
    pub async fn read<R: Send + 'static>(
        self: &std::sync::Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let readers = self.clone();
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|e| StoreError::Interrupted(e.to_string()))?
    }

    /// Runs `f` on a pooled connection. Blocking: from async code, use `read`.
    pub fn with<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let conn = match self.pool.lock().pop() {
            Some(c) => c,
            None => connect(&self.path)?,
        };
        let result = f(&conn);
        let mut pool = self.pool.lock();
        if pool.len() < 8 {
            pool.push(conn);
        }
        result
    }
}

#[cfg(test)]
mod tests;
