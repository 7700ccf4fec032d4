//! The store: one SQLite file in WAL mode (or, for several instances, one PostgreSQL
//! database: `db`) holding the raw events, the call history, the queue
//! journal, per-token settings, board snapshots, followed tokens (and their state: `tokens`)
//! and login sessions.
//!
//! There is one writer — the ingest thread owns a `Writer` and groups each poll's events, the
//! records they produce and the feed session into one transaction — and any number of readers
//! (`Readers`, a small pool) for the API. WAL lets them read while it writes.

pub mod audit;
pub mod backup;
pub mod callbacks;
pub mod db;
pub mod leases;
pub mod migrate;
pub mod ovh_access;
pub mod own_pops;
pub mod purpose;
pub mod queries;
pub mod reports;
pub mod retention;
mod schema;
pub mod status;
pub mod tokens;
pub mod users;
pub mod walls;
mod writer;

pub use purpose::Purpose;
pub use queries::{CallFilter, Cursor, EventFilter, EventRow, JournalFilter, Page};
pub use status::{StoreHealth, StoreStatus};
pub use writer::{Batch, StoredToken, Writer};

use db::{Conn, DbError};
use parking_lot::Mutex;
use rusqlite::OpenFlags;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {db}: {reason}")]
    Open { db: String, reason: String },
    #[error("database error: {0}")]
    Db(#[from] DbError),
    #[error("stored data is not valid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a database read was interrupted: {0}")]
    Interrupted(String),
    #[error("the store cannot write at the moment: {0}")]
    Failing(String),
}

impl StoreError {
    /// A failure of the storage itself (disk full, read-only file, I/O error, locked), as
    /// opposed to a bad query or bad data: retrying later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Failing(_) | StoreError::Db(DbError::Unavailable(_))
        )
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Db(db::from_sqlite(e))
    }
}

/// The database `--db` names, for messages: the file's path, or PostgreSQL's host, port and
/// database without the password.
pub fn describe(db: &Path) -> String {
    match Location::of(db) {
        Ok(Location::Postgres(url)) => url.to_string(),
        Ok(Location::Sqlite(path)) => path.display().to_string(),
        Err(_) => "(a PostgreSQL address that does not parse)".into(),
    }
}

/// Where the store lives: what `--db` (OVH_CTI_DB) names.
#[derive(Clone, Debug)]
pub enum Location {
    /// An SQLite file, created if missing: the default.
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://…`), shared by several instances.
    Postgres(db::PostgresUrl),
}

impl Location {
    pub fn of(db: &Path) -> Result<Location, StoreError> {
        match db.to_str().filter(|s| db::is_postgres_url(s)) {
            Some(url) => db::PostgresUrl::parse(url)
                .map(Location::Postgres)
                .map_err(|reason| StoreError::Open {
                    db: "given by --db".into(),
                    reason,
                }),
            None => Ok(Location::Sqlite(db.to_path_buf())),
        }
    }

    pub fn is_postgres(db: &Path) -> bool {
        db.to_str().is_some_and(db::is_postgres_url)
    }
}

/// Why a database cannot be opened (or written at start), in words that say what to do.
pub fn open_error(path: &Path, e: impl std::fmt::Display) -> StoreError {
    if Location::is_postgres(path) {
        return StoreError::Open {
            db: describe(path),
            reason: format!("{e}; check that PostgreSQL runs there and that the address's user may create tables"),
        };
    }
    let reason = e.to_string();
    let hint = if reason.contains("not a database") || reason.contains("malformed") {
        "; it is not an SQLite database or it is damaged: point --db (OVH_CTI_DB) at another \
         file, or put back a backup (docs/operations.md)"
    } else if reason.contains("readonly") || reason.contains("read-only") {
        "; give the service's user write access to the file and to its folder (SQLite writes \
         its -wal and -shm files beside it)"
    } else if reason.contains("disk is full") {
        "; free some space on its disk"
    } else if reason.contains("unable to open") {
        "; check that the folder exists and that the service's user may write in it"
    } else {
        ""
    };
    StoreError::Open {
        db: path.display().to_string(),
        reason: format!("{reason}{hint}"),
    }
}

/// How much memory the database's page caches may take in all: two thirds for the writer
/// (inserts slow down once the indexes they touch outgrow its cache), the rest shared by the
/// pooled readers. Each connection once took 64 MiB, up to nine of them: memory grew with
/// the database, not with the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheBudget {
    total_mib: u64,
}

impl CacheBudget {
    pub const MIN_MIB: u64 = 4;
    pub const MAX_MIB: u64 = 65536;

    /// `None` outside `MIN_MIB..=MAX_MIB`.
    pub fn mib(total_mib: u64) -> Option<CacheBudget> {
        (Self::MIN_MIB..=Self::MAX_MIB)
            .contains(&total_mib)
            .then_some(CacheBudget { total_mib })
    }

    pub fn total_mib(self) -> u64 {
        self.total_mib
    }

    fn writer_kib(self) -> u64 {
        self.total_mib * 1024 * 2 / 3
    }

    fn reader_kib(self) -> u64 {
        (self.total_mib * 1024 / 3 / READERS_KEPT as u64).max(256)
    }
}

impl Default for CacheBudget {
    /// 64 MiB for the writer, as before, and 4 MiB for each of the 8 readers.
    fn default() -> CacheBudget {
        CacheBudget { total_mib: 96 }
    }
}

/// Reader connections kept in the pool (more may be open for a moment, at a burst).
const READERS_KEPT: usize = 8;

fn connect(path: &Path, cache_kib: u64) -> Result<rusqlite::Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn =
        rusqlite::Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    // WAL: readers never block the writer. synchronous=NORMAL in WAL mode survives a killed
    // process (kill -9) without losing a commit; only a power cut can take the last ones.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -{cache_kib};",
    ))
    .map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// Opens (creating if needed) and migrates the database, returning its one writer and a
/// pool of readers. A file the service could only read is refused here, naming it, rather
/// than at the first write.
pub fn open(path: &Path) -> Result<(Writer, Readers), StoreError> {
    open_with(path, CacheBudget::default())
}

/// `open`, the page caches within `cache` (SQLite's; PostgreSQL keeps its own).
pub fn open_with(path: &Path, cache: CacheBudget) -> Result<(Writer, Readers), StoreError> {
    if let Location::Postgres(url) = Location::of(path)? {
        let mut conn = Conn::postgres(&url).map_err(|e| open_error(path, e))?;
        schema::migrate(&mut conn).map_err(|e| open_error(path, e))?;
        return Ok((
            Writer::new(conn),
            Readers {
                source: Source::Postgres(url),
                pool: Mutex::new(Vec::new()),
                open: Mutex::new(0),
                freed: parking_lot::Condvar::new(),
            },
        ));
    }
    let conn = connect(path, cache.writer_kib())?;
    if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
        return Err(open_error(path, "the file is read-only"));
    }
    let mut conn = Conn::sqlite(conn);
    schema::migrate(&mut conn).map_err(|e| open_error(path, e))?;
    Ok((
        Writer::new(conn),
        Readers {
            source: Source::Sqlite {
                path: path.to_path_buf(),
                cache_kib: cache.reader_kib(),
            },
            pool: Mutex::new(Vec::new()),
            open: Mutex::new(0),
            freed: parking_lot::Condvar::new(),
        },
    ))
}

/// Read-only access for the API, from a few reusable connections.
pub struct Readers {
    source: Source,
    pool: Mutex<Vec<Conn>>,
    /// PostgreSQL: connections open (pooled or in use); a read waits for one to be free
    /// rather than open more than `POSTGRES_READERS` (see there).
    open: Mutex<usize>,
    freed: parking_lot::Condvar,
}

/// A connection lent by `Readers::with`, given back when dropped (see there).
struct Lent<'a> {
    readers: &'a Readers,
    conn: Option<Conn>,
    keep: bool,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.readers.give_back(conn, self.keep);
        }
    }
}

/// The most connections an instance's readers hold on PostgreSQL at once. Each is a server
/// process there, and the server refuses clients past its `max_connections` (100 by default):
/// three hundred dashboards connecting at once used to open a connection each, and most were
/// refused. With the writer and the leases, an instance holds at most this plus two.
pub const POSTGRES_READERS: usize = 12;

enum Source {
    Sqlite {
        path: PathBuf,
        /// Each reader's page cache.
        cache_kib: u64,
    },
    Postgres(db::PostgresUrl),
}

impl Readers {
    /// Runs `f` on a pooled connection, off the async threads.
    pub async fn read<R: Send + 'static>(
        self: &std::sync::Arc<Self>,
        f: impl FnOnce(&Conn) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let readers = self.clone();
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|e| StoreError::Interrupted(e.to_string()))?
    }

    /// Runs `f` on a pooled connection. Blocking: from async code, use `read`.
    pub fn with<R>(&self, f: impl FnOnce(&Conn) -> Result<R, StoreError>) -> Result<R, StoreError> {
        let conn = match &self.source {
            Source::Sqlite { path, cache_kib } => match self.pool.lock().pop() {
                Some(c) => c,
                None => Conn::sqlite(connect(path, *cache_kib)?),
            },
            Source::Postgres(url) => self.postgres(url)?,
        };
        // Given back when `f` returns — or panics: a PostgreSQL connection lent and never
        // given back would count as open for ever, and reads would wait for it.
        let mut lent = Lent {
            readers: self,
            conn: Some(conn),
            keep: false,
        };
        let result = f(lent.conn.as_ref().expect("lent until dropped"));
        // A connection that failed for want of its database is not kept: the next read
        // opens a new one.
        lent.keep = !matches!(&result, Err(e) if e.is_unavailable());
        drop(lent);
        result
    }

    /// Takes back a connection `with` lent: pooled when `keep`, else closed (and, on
    /// PostgreSQL, no longer counted as open).
    fn give_back(&self, conn: Conn, keep: bool) {
        match self.source {
            Source::Sqlite { .. } => {
                let mut pool = self.pool.lock();
                if pool.len() < READERS_KEPT && keep {
                    pool.push(conn);
                }
            }
            Source::Postgres(_) => {
                // Under `open`'s lock, which a waiter holds from looking at the pool to
                // waiting: it cannot miss this.
                let mut open = self.open.lock();
                if keep {
                    self.pool.lock().push(conn);
                } else {
                    drop(conn);
                    *open -= 1;
                }
                self.freed.notify_one();
            }
        }
    }

    /// A pooled PostgreSQL connection, a new one while fewer than `POSTGRES_READERS` are
    /// open, or else the next one freed.
    fn postgres(&self, url: &db::PostgresUrl) -> Result<Conn, StoreError> {
        let mut open = self.open.lock();
        loop {
            if let Some(c) = self.pool.lock().pop() {
                return Ok(c);
            }
            if *open < POSTGRES_READERS {
                *open += 1;
                break;
            }
            self.freed.wait(&mut open);
        }
        drop(open);
        Conn::postgres(url).map_err(|e| {
            *self.open.lock() -= 1;
            self.freed.notify_one();
            StoreError::from(e)
        })
    }
}

#[cfg(test)]
mod query_plans;
#[cfg(test)]
mod tests;
