//! The storage boundary: one connection type, `Conn`, that the store and its callers use
//! whichever database holds the data, over a `Backend` trait with one implementation per
//! database — SQLite (`sqlite.rs`, the embedded default) and PostgreSQL (`postgres.rs`, for
//! several instances sharing one database).
//!
//! The surface is shaped like rusqlite's (`execute`, `query_row`, `prepare`, `query_map`,
//! transactions, `params!`) because the store was written against it: the SQL is written once,
//! in the subset both databases understand, with `?N` placeholders; the PostgreSQL backend
//! numbers them `$N` and renames the few functions spelt differently (`postgres::translate`).
//! Values cross the boundary as SQLite's five storage classes (`ValueRef`), which every
//! PostgreSQL column type the schema uses maps onto.
//!
//! It is synchronous on purpose: the store has one writer thread and blocking readers
//! (`Readers::read` runs them off the async threads), whichever the database.

mod postgres;
mod sqlite;
mod value;

pub use self::postgres::{is_postgres_url, PostgresUrl};
pub use sqlite::error as from_sqlite;
pub use value::{FromValue, ToValue, Value, ValueRef};

use std::fmt;

/// Which SQL a connection speaks, for the few statements that cannot be written once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// What went wrong in the database, sorted by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// `query_row` found nothing (see `OptionalExtension`).
    #[error("query returned no rows")]
    NoRows,
    /// A uniqueness, check or foreign-key rule refused the write.
    #[error("constraint failed: {0}")]
    Constraint(String),
    /// The database cannot serve at the moment (disk full, read-only file, locked, the
    /// server unreachable or restarting): retrying later may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// A column did not hold the type asked for.
    #[error("column {column}: {reason}")]
    Conversion { column: String, reason: String },
    /// Anything else: a bad statement, a bug.
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// One implementation per database. Object-safe: `Conn` holds a `Box<dyn Backend>`.
pub trait Backend: Send {
    fn dialect(&self) -> Dialect;
    /// Runs one statement, returning how many rows it changed.
    fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize>;
    /// Runs one query, handing each row to `each` until it answers `false`.
    fn query(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        each: &mut dyn FnMut(&Row<'_>) -> Result<bool>,
    ) -> Result<()>;
    /// Runs several statements without parameters (schema, `BEGIN`, `COMMIT`).
    fn execute_batch(&self, sql: &str) -> Result<()>;
    /// The SQLite connection underneath, for what only SQLite has (backups, query plans,
    /// page cache settings).
    fn sqlite(&self) -> Option<&rusqlite::Connection>;
}

/// A connection to the store's database, SQLite or PostgreSQL.
pub struct Conn {
    backend: Box<dyn Backend>,
}

impl Conn {
    pub fn new(backend: Box<dyn Backend>) -> Conn {
        Conn { backend }
    }

    /// Wraps an open SQLite connection.
    pub fn sqlite(conn: rusqlite::Connection) -> Conn {
        Conn::new(Box::new(sqlite::SqliteBackend::new(conn)))
    }

    /// Opens an SQLite file (tests and command-line tools; the service goes through
    /// `store::open`).
    pub fn open_sqlite(path: impl AsRef<std::path::Path>) -> Result<Conn> {
        let conn = rusqlite::Connection::open(path).map_err(sqlite::error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite::error)?;
        Ok(Conn::sqlite(conn))
    }

    /// A new, empty SQLite database in memory (tests).
    pub fn open_in_memory() -> Result<Conn> {
        rusqlite::Connection::open_in_memory()
            .map(Conn::sqlite)
            .map_err(sqlite::error)
    }

    /// Connects to PostgreSQL.
    pub fn postgres(url: &PostgresUrl) -> Result<Conn> {
        Ok(Conn::new(Box::new(postgres::PostgresBackend::connect(
            url,
        )?)))
    }

    pub fn dialect(&self) -> Dialect {
        self.backend.dialect()
    }

    /// The SQLite connection underneath, or `None` on PostgreSQL.
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        self.backend.sqlite()
    }

    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize> {
        params.bind(&mut |p| self.backend.execute(sql, p))
    }

    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.backend.execute_batch(sql)
    }

    /// The first row's `f`, or `DbError::NoRows`.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut f = Some(f);
        let mut out = None;
        params.bind(&mut |p| {
            self.backend.query(sql, p, &mut |row| {
                if let Some(f) = f.take() {
                    out = Some(f(row));
                }
                Ok(false)
            })
        })?;
        out.unwrap_or(Err(DbError::NoRows))
    }

    /// A statement to run once or many times (each backend caches what it prepares).
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            conn: self,
            sql: sql.to_owned(),
        })
    }

    /// The same as `prepare`: every statement is cached.
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare(sql)
    }

    /// Starts a transaction; it rolls back when dropped without `commit`.
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.unchecked_transaction()
    }

    /// `transaction` through a shared reference: the caller makes sure no other transaction
    /// is open on this connection.
    pub fn unchecked_transaction(&self) -> Result<Transaction<'_>> {
        self.backend.execute_batch("BEGIN")?;
        Ok(Transaction {
            conn: self,
            open: true,
        })
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Conn({:?})", self.dialect())
    }
}

/// An open transaction; derefs to its connection.
pub struct Transaction<'c> {
    conn: &'c Conn,
    open: bool,
}

impl Transaction<'_> {
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        self.conn.backend.execute_batch("COMMIT")
    }

    pub fn rollback(mut self) -> Result<()> {
        self.open = false;
        self.conn.backend.execute_batch("ROLLBACK")
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing more can be done about a failed rollback: the connection's next
            // statement reports the trouble.
            let _ = self.conn.backend.execute_batch("ROLLBACK");
        }
    }
}

/// A statement bound to its connection.
pub struct Statement<'c> {
    conn: &'c Conn,
    sql: String,
}

impl Statement<'_> {
    pub fn execute(&mut self, params: impl Params) -> Result<usize> {
        self.conn.execute(&self.sql, params)
    }

    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.conn.query_row(&self.sql, params, f)
    }

    /// Every row's `f`, in order.
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let mut out = Vec::new();
        params.bind(&mut |p| {
            self.conn.backend.query(&self.sql, p, &mut |row| {
                out.push(f(row));
                Ok(true)
            })
        })?;
        Ok(out.into_iter())
    }

    /// Hands each row to `each` until it answers `false`, without keeping them.
    pub fn for_each(
        &mut self,
        params: impl Params,
        mut each: impl FnMut(&Row<'_>) -> Result<bool>,
    ) -> Result<()> {
        params.bind(&mut |p| self.conn.backend.query(&self.sql, p, &mut each))
    }

    pub fn exists(&mut self, params: impl Params) -> Result<bool> {
        self.query_row(params, |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
    }
}

/// One row of a result, from either database.
pub struct Row<'a> {
    inner: RowInner<'a>,
}

enum RowInner<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a tokio_postgres::Row),
}

/// A column by position (from 0) or by name.
pub trait RowIndex:
    rusqlite::RowIndex + tokio_postgres::row::RowIndex + fmt::Display + Copy
{
}
impl RowIndex for usize {}
impl RowIndex for &str {}

impl Row<'_> {
    pub fn get<I: RowIndex, T: FromValue>(&self, idx: I) -> Result<T> {
        let conversion = |reason: String| DbError::Conversion {
            column: idx.to_string(),
            reason,
        };
        let value = match &self.inner {
            RowInner::Sqlite(r) => r.get_ref(idx).map(ValueRef::from).map_err(sqlite::error)?,
            RowInner::Postgres(r) => {
                r.try_get::<_, postgres::Cell<'_>>(idx)
                    .map_err(|e| conversion(e.to_string()))?
                    .0
            }
        };
        T::from_value(value).map_err(conversion)
    }
}

/// Parameters for a statement: `params![a, b]`, `()`, an array of one type, a slice of
/// `&dyn ToValue`, or `params_from_iter(…)`.
pub trait Params {
    fn bind<R>(self, f: &mut dyn FnMut(&[&dyn ToValue]) -> R) -> R;
}

impl Params for () {
    fn bind<R>(self, f: &mut dyn FnMut(&[&dyn ToValue]) -> R) -> R {
        f(&[])
    }
}

impl Params for &[&dyn ToValue] {
    fn bind<R>(self, f: &mut dyn FnMut(&[&dyn ToValue]) -> R) -> R {
        f(self)
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn bind<R>(self, f: &mut dyn FnMut(&[&dyn ToValue]) -> R) -> R {
        let refs: Vec<&dyn ToValue> = self.iter().map(|v| v as &dyn ToValue).collect();
        f(&refs)
    }
}

impl<T: ToValue, const N: usize> Params for &[T; N] {
    fn bind<R>(self, f: &mut dyn FnMut(&[&dyn ToValue]) -> R) -> R {
        let refs: Vec<&dyn ToValue> = self.iter().map(|v| v as &dyn ToValue).collect();
        f(&refs)
    }
}

/// Parameters from an iterator (`params_from_iter`).
pub struct ParamsFromIter<I>(I);

pub fn params_from_iter<I>(iter: I) -> ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToValue,
{
    ParamsFromIter(iter)
}

impl<I> Params for ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToValue,
{
    fn bind<R>(self, f: &mut dyn FnMut(&[&dyn ToValue]) -> R) -> R {
        let values: Vec<I::Item> = self.0.into_iter().collect();
        let refs: Vec<&dyn ToValue> = values.iter().map(|v| v as &dyn ToValue).collect();
        f(&refs)
    }
}

/// `params![a, b, …]`: a statement's parameters, each anything that is `ToValue`.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::store::db::ToValue]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::store::db::ToValue),+] as &[&dyn $crate::store::db::ToValue]
    };
}
pub(crate) use params;

/// `.optional()` on a `query_row`: no row becomes `None` instead of an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
