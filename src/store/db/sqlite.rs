//! The SQLite backend: the embedded default, one file in WAL mode. Statements go through
//! rusqlite's statement cache, parameters are bound without copying.

use super::{Backend, DbError, Dialect, Result, Row, RowInner, ToValue, ValueRef};
use rusqlite::types::ToSqlOutput;

pub struct SqliteBackend {
    conn: rusqlite::Connection,
}

impl SqliteBackend {
    pub fn new(conn: rusqlite::Connection) -> SqliteBackend {
        // The writer cycles through a few dozen statements per poll; rusqlite keeps 16.
        conn.set_prepared_statement_cache_capacity(128);
        SqliteBackend { conn }
    }
}

/// A parameter as rusqlite takes it.
struct Bound<'a>(ValueRef<'a>);

impl rusqlite::ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(self.0.into()))
    }
}

fn bind<'a>(params: &'a [&'a dyn ToValue]) -> Result<Vec<Bound<'a>>> {
    params.iter().map(|p| p.to_value().map(Bound)).collect()
}

/// rusqlite's error, sorted (`DbError`) and with its message kept.
pub fn error(e: rusqlite::Error) -> DbError {
    use rusqlite::ErrorCode::*;
    match &e {
        rusqlite::Error::QueryReturnedNoRows => DbError::NoRows,
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ConstraintViolation => DbError::Constraint(e.to_string()),
            DiskFull | ReadOnly | SystemIoFailure | CannotOpen | DatabaseBusy | DatabaseLocked => {
                DbError::Unavailable(e.to_string())
            }
            _ => DbError::Other(e.to_string()),
        },
        rusqlite::Error::InvalidColumnType(i, _, _)
        | rusqlite::Error::FromSqlConversionFailure(i, _, _) => DbError::Conversion {
            column: i.to_string(),
            reason: e.to_string(),
        },
        _ => DbError::Other(e.to_string()),
    }
}

impl Backend for SqliteBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize> {
        let bound = bind(params)?;
        let mut stmt = self.conn.prepare_cached(sql).map_err(error)?;
        stmt.execute(rusqlite::params_from_iter(bound.iter()))
            .map_err(error)
    }

    fn query(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        each: &mut dyn FnMut(&Row<'_>) -> Result<bool>,
    ) -> Result<()> {
        let bound = bind(params)?;
        let mut stmt = self.conn.prepare_cached(sql).map_err(error)?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(bound.iter()))
            .map_err(error)?;
        while let Some(row) = rows.next().map_err(error)? {
            let row = Row {
                inner: RowInner::Sqlite(row),
            };
            if !each(&row)? {
                break;
            }
        }
        Ok(())
    }

    fn execute_batch(&self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(error)
    }

    fn sqlite(&self) -> Option<&rusqlite::Connection> {
        Some(&self.conn)
    }
}
