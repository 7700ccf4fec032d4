//! The PostgreSQL backend: for several instances sharing one database (`--db postgres://…`).
//!
//! The store's SQL is written once, with SQLite's `?N` placeholders; `translate` numbers them
//! `$N` and renames the few functions spelt differently. Values are exchanged as SQLite's
//! storage classes: a parameter is encoded as whatever type PostgreSQL inferred for its place
//! (`Param`), a column of any type the schema uses is read back as one of them (`Cell`).

use super::{Backend, DbError, Dialect, Result, Row, RowInner, ToValue, ValueRef};
use bytes::{BufMut, BytesMut};
use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type};

/// A PostgreSQL address, checked: `postgres://HOST:PORT/DB?user=…` (or `postgresql://`, or
/// key=value settings). Its password never shows in `Display` or `Debug`.
#[derive(Clone)]
pub struct PostgresUrl {
    text: String,
    config: std::sync::Arc<tokio_postgres::Config>,
}

/// Whether `--db` names a PostgreSQL database rather than an SQLite file.
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

impl PostgresUrl {
    pub fn parse(s: &str) -> std::result::Result<PostgresUrl, String> {
        if !is_postgres_url(s) {
            return Err("a PostgreSQL address starts with postgres:// or postgresql://".into());
        }
        let mut config: tokio_postgres::Config = s
            .parse()
            .map_err(|e| format!("not a PostgreSQL address: {e}"))?;
        // A PostgreSQL that hangs instead of refusing must not hold the writer for ever: a
        // connection attempt gives up after 10 s unless the address says otherwise, and a
        // silent peer is found by TCP keepalives.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        config.keepalives(true);
        config.keepalives_idle(std::time::Duration::from_secs(30));
        #[cfg(target_os = "linux")]
        config.tcp_user_timeout(std::time::Duration::from_secs(30));
        if config.get_hosts().is_empty() {
            return Err("the PostgreSQL address names no host".into());
        }
        Ok(PostgresUrl {
            text: s.to_owned(),
            config: config.into(),
        })
    }

    /// The address as given (with its password, if any): for connecting, never for showing.
    pub fn as_secret_str(&self) -> &str {
        &self.text
    }

    /// Host, port and database, for messages.
    pub fn describe(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => String::new(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let db = self.config.get_dbname().unwrap_or("");
        format!("postgres://{host}:{port}/{db}")
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({})", self.describe())
    }
}

pub struct PostgresBackend {
    url: PostgresUrl,
    /// One connection; `RefCell` because the store's connections are used through shared
    /// references (as rusqlite's are), one thread at a time.
    client: RefCell<tokio_postgres::Client>,
    /// Inside `BEGIN … COMMIT`: a connection lost then is not replaced until the
    /// transaction ends, so that its remaining statements fail instead of committing alone.
    in_transaction: std::cell::Cell<bool>,
    /// Prepared statements by their SQLite-dialect text.
    prepared: RefCell<HashMap<String, tokio_postgres::Statement>>,
}

impl PostgresBackend {
    pub fn connect(url: &PostgresUrl) -> Result<PostgresBackend> {
        Ok(PostgresBackend {
            url: url.clone(),
            client: RefCell::new(open(url)?),
            in_transaction: std::cell::Cell::new(false),
            prepared: RefCell::new(HashMap::new()),
        })
    }

    /// The connection, opened again if PostgreSQL closed it (a restart, a failover, the
    /// network) — outside a transaction only.
    fn client(&self) -> Result<std::cell::RefMut<'_, tokio_postgres::Client>> {
        let mut client = self.client.borrow_mut();
        if client.is_closed() {
            if self.in_transaction.get() {
                return Err(DbError::Unavailable(
                    "the connection to PostgreSQL was lost during a transaction".into(),
                ));
            }
            *client = open(&self.url)?;
            self.prepared.borrow_mut().clear();
        }
        Ok(client)
    }

    fn statement(&self, sql: &str) -> Result<tokio_postgres::Statement> {
        if let Some(s) = self.prepared.borrow().get(sql) {
            return Ok(s.clone());
        }
        let translated = translate(sql);
        let stmt = wait(self.client()?.prepare(&translated)).map_err(|e| error(e, &translated))?;
        self.prepared
            .borrow_mut()
            .insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }
}

/// The runtime that drives every PostgreSQL connection's socket, on its own thread. The
/// store calls PostgreSQL synchronously, from its writer thread, from blocking readers and,
/// at start, from async code: the calls only wait (`wait`) for the answer the connection
/// task delivers, so they never start a runtime inside another.
fn io() -> &'static tokio::runtime::Runtime {
    static IO: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    IO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("postgres-io")
            .enable_all()
            .build()
            .expect("a runtime for PostgreSQL's connections")
    })
}

/// Waits for a client future: it only talks to its connection's task over a channel.
fn wait<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

fn open(url: &PostgresUrl) -> Result<tokio_postgres::Client> {
    let config = (*url.config).clone();
    let connecting = io().spawn(async move {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %message(&e), "the connection to PostgreSQL ended");
            }
        });
        Ok::<_, tokio_postgres::Error>(client)
    });
    match wait(connecting) {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(DbError::Unavailable(format!(
            "cannot connect to {url}: {}",
            message(&e)
        ))),
        Err(e) => Err(DbError::Unavailable(format!(
            "cannot connect to {url}: {e}"
        ))),
    }
}

/// A parameter, encoded as the type PostgreSQL expects in its place.
#[derive(Debug)]
struct Param<'a>(ValueRef<'a>);

fn bind<'a>(params: &'a [&'a dyn ToValue]) -> Result<Vec<Param<'a>>> {
    params.iter().map(|p| p.to_value().map(Param)).collect()
}

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        let as_text = |s: &str, out: &mut BytesMut| {
            if *ty == Type::JSONB {
                out.put_u8(1);
            }
            out.put_slice(s.as_bytes());
        };
        match self.0 {
            ValueRef::Null => return Ok(IsNull::Yes),
            ValueRef::Integer(i) => match *ty {
                Type::BOOL => out.put_u8(u8::from(i != 0)),
                Type::INT2 => out.put_i16(i16::try_from(i)?),
                Type::INT4 => out.put_i32(i32::try_from(i)?),
                Type::INT8 => out.put_i64(i),
                Type::FLOAT4 => out.put_f32(i as f32),
                Type::FLOAT8 => out.put_f64(i as f64),
                _ if is_text(ty) => as_text(&i.to_string(), out),
                _ => return Err(format!("an integer cannot go where {ty} is expected").into()),
            },
            ValueRef::Real(f) => match *ty {
                Type::FLOAT4 => out.put_f32(f as f32),
                Type::FLOAT8 => out.put_f64(f),
                Type::INT8 if f.fract() == 0.0 => out.put_i64(f as i64),
                Type::INT4 if f.fract() == 0.0 => out.put_i32(f as i32),
                _ if is_text(ty) => as_text(&f.to_string(), out),
                _ => return Err(format!("a real cannot go where {ty} is expected").into()),
            },
            ValueRef::Text(s) => match *ty {
                Type::BYTEA => out.put_slice(s.as_bytes()),
                Type::INT8 => out.put_i64(s.trim().parse()?),
                Type::INT4 => out.put_i32(s.trim().parse()?),
                Type::FLOAT8 => out.put_f64(s.trim().parse()?),
                Type::BOOL => out.put_u8(u8::from(matches!(s, "1" | "true" | "t"))),
                _ => as_text(s, out),
            },
            ValueRef::Blob(b) => match *ty {
                Type::BYTEA => out.put_slice(b),
                _ if is_text(ty) => as_text(std::str::from_utf8(b)?, out),
                _ => return Err(format!("a blob cannot go where {ty} is expected").into()),
            },
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT
            | Type::VARCHAR
            | Type::BPCHAR
            | Type::NAME
            | Type::UNKNOWN
            | Type::JSON
            | Type::JSONB
    )
}

/// A column of any type the schema uses, read as one of SQLite's storage classes.
pub struct Cell<'a>(pub ValueRef<'a>);

impl<'a> FromSql<'a> for Cell<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Cell<'a>, BoxError> {
        let int = |n: usize| -> std::result::Result<[u8; 8], BoxError> {
            if raw.len() != n {
                return Err(format!("{ty} of {} bytes", raw.len()).into());
            }
            let mut b = [0u8; 8];
            b[8 - n..].copy_from_slice(raw);
            Ok(b)
        };
        Ok(Cell(match *ty {
            Type::BOOL => ValueRef::Integer(i64::from(raw.first().copied().unwrap_or(0) != 0)),
            Type::INT2 => ValueRef::Integer(i16::from_be_bytes(raw.try_into()?).into()),
            Type::INT4 => ValueRef::Integer(i32::from_be_bytes(raw.try_into()?).into()),
            Type::INT8 => ValueRef::Integer(i64::from_be_bytes(int(8)?)),
            Type::OID => ValueRef::Integer(u32::from_be_bytes(raw.try_into()?).into()),
            Type::FLOAT4 => ValueRef::Real(f32::from_be_bytes(raw.try_into()?).into()),
            Type::FLOAT8 => ValueRef::Real(f64::from_be_bytes(raw.try_into()?)),
            Type::NUMERIC => numeric(raw)?,
            Type::BYTEA => ValueRef::Blob(raw),
            Type::JSONB => ValueRef::Text(std::str::from_utf8(raw.get(1..).unwrap_or_default())?),
            _ if is_text(ty) => ValueRef::Text(std::str::from_utf8(raw)?),
            _ => return Err(format!("columns of type {ty} are not read by the store").into()),
        }))
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Cell<'a>, BoxError> {
        Ok(Cell(ValueRef::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// PostgreSQL's binary NUMERIC (what `SUM` and `AVG` of integers give): base-10000 digits,
/// a weight and a scale. A whole value reads as an integer, anything else as a real.
fn numeric(raw: &[u8]) -> std::result::Result<ValueRef<'static>, BoxError> {
    let word = |i: usize| -> std::result::Result<i16, BoxError> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a truncated NUMERIC".into())
    };
    let (ndigits, weight, sign, dscale) = (word(0)?, word(1)?, word(2)? as u16, word(3)?);
    if sign == 0xC000 {
        return Ok(ValueRef::Real(f64::NAN));
    }
    let mut value = 0f64;
    for i in 0..ndigits.max(0) as usize {
        value += f64::from(word(4 + i)?) * 10000f64.powi(i32::from(weight) - i as i32);
    }
    if sign == 0x4000 {
        value = -value;
    }
    Ok(if dscale == 0 && value.abs() < 9.0e15 {
        ValueRef::Integer(value as i64)
    } else {
        ValueRef::Real(value)
    })
}

/// The words of PostgreSQL's error (its message and detail, never the connection settings).
fn message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => match e.source() {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

/// PostgreSQL's error, sorted (`DbError`).
fn error(e: tokio_postgres::Error, sql: &str) -> DbError {
    use tokio_postgres::error::SqlState;
    let text = message(&e);
    let Some(code) = e.code() else {
        // No SQLSTATE: the connection itself failed.
        return DbError::Unavailable(format!("PostgreSQL: {text}"));
    };
    let class = &code.code()[..2];
    if [
        SqlState::UNIQUE_VIOLATION,
        SqlState::CHECK_VIOLATION,
        SqlState::FOREIGN_KEY_VIOLATION,
        SqlState::NOT_NULL_VIOLATION,
        SqlState::EXCLUSION_VIOLATION,
    ]
    .contains(code)
    {
        DbError::Constraint(text)
    } else if matches!(class, "08" | "53" | "57" | "58")
        || [
            SqlState::READ_ONLY_SQL_TRANSACTION,
            SqlState::LOCK_NOT_AVAILABLE,
        ]
        .contains(code)
    {
        DbError::Unavailable(format!("PostgreSQL: {text}"))
    } else {
        DbError::Other(format!("PostgreSQL: {text} in {}", first_words(sql)))
    }
}

fn first_words(sql: &str) -> String {
    let flat: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

impl Backend for PostgresBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize> {
        let stmt = self.statement(sql)?;
        let bound = bind(params)?;
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|p| p as _).collect();
        let n = wait(self.client()?.execute(&stmt, &refs)).map_err(|e| error(e, sql))?;
        Ok(n as usize)
    }

    fn query(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        each: &mut dyn FnMut(&Row<'_>) -> Result<bool>,
    ) -> Result<()> {
        let stmt = self.statement(sql)?;
        let bound = bind(params)?;
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|p| p as _).collect();
        // The rows are read whole before they are handed out, so that `each` may itself use
        // the connection (as it may on SQLite).
        let rows = wait(self.client()?.query(&stmt, &refs)).map_err(|e| error(e, sql))?;
        for row in &rows {
            let row = Row {
                inner: RowInner::Postgres(row),
            };
            if !each(&row)? {
                break;
            }
        }
        Ok(())
    }

    fn execute_batch(&self, sql: &str) -> Result<()> {
        match sql {
            "BEGIN" => {
                wait(self.client()?.batch_execute(sql)).map_err(|e| error(e, sql))?;
                self.in_transaction.set(true);
                Ok(())
            }
            "COMMIT" | "ROLLBACK" => {
                self.in_transaction.set(false);
                let client = self.client.borrow_mut();
                if client.is_closed() && sql == "ROLLBACK" {
                    // Nothing to roll back: PostgreSQL dropped the transaction with the
                    // connection.
                    return Ok(());
                }
                wait(client.batch_execute(sql)).map_err(|e| error(e, sql))
            }
            _ => wait(self.client()?.batch_execute(sql)).map_err(|e| error(e, sql)),
        }
    }

    fn sqlite(&self) -> Option<&rusqlite::Connection> {
        None
    }
}

/// The store's SQL as PostgreSQL reads it: `?N` → `$N` (a bare `?` takes the next number),
/// `json_object` → `json_build_object`, `group_concat` → `string_agg`, `LIKE` → `ILIKE`
/// (SQLite's LIKE ignores case), `json_each` → `json_array_elements_text` (both give the
/// array's items in a column `value`), `json_extract(column, '$.a.b')` → `(column::json #>>
/// '{a,b}')`, and SQLite's index hints (`INDEXED BY name`) left out. Quoted text is copied
/// as it is.
pub fn translate(sql: &str) -> String {
    let sql = json_paths(sql);
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    let mut highest = 0u32;
    let mut skip_words = 0;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == c {
                        break;
                    }
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n = digits.parse().unwrap_or(highest + 1);
                highest = highest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut word = String::from(c);
                while let Some(d) = chars
                    .peek()
                    .filter(|d| d.is_ascii_alphanumeric() || **d == '_')
                {
                    word.push(*d);
                    chars.next();
                }
                if skip_words > 0 {
                    skip_words -= 1;
                    continue;
                }
                match word.to_ascii_lowercase().as_str() {
                    "json_object" => out.push_str("json_build_object"),
                    "group_concat" => out.push_str("string_agg"),
                    "like" => out.push_str("ILIKE"),
                    "json_each" => out.push_str("json_array_elements_text"),
                    // INDEXED BY name: the two words and the name after them.
                    "indexed" => skip_words = 2,
                    _ => out.push_str(&word),
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// `json_extract(column, '$.a.b')` → `(column::json #>> '{a,b}')`; anything else as it is.
fn json_paths(sql: &str) -> std::borrow::Cow<'_, str> {
    const CALL: &str = "json_extract(";
    // SQLite's group_concat(DISTINCT x) takes no separator (a comma); string_agg needs one.
    let sql: std::borrow::Cow<'_, str> = match sql.find("group_concat(DISTINCT ") {
        Some(at) => match sql[at..].find(')') {
            Some(end) => format!("{}, ','{}", &sql[..at + end], &sql[at + end..]).into(),
            None => sql.into(),
        },
        None => sql.into(),
    };
    if !sql.contains(CALL) {
        return sql;
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest: &str = &sql;
    while let Some(at) = rest.find(CALL) {
        out.push_str(&rest[..at]);
        let after = &rest[at + CALL.len()..];
        let parsed = after.split_once(',').and_then(|(column, tail)| {
            let tail = tail.trim_start().strip_prefix("'$.")?;
            let (path, tail) = tail.split_once("')")?;
            Some((column.trim(), path, tail))
        });
        match parsed {
            Some((column, path, tail)) => {
                out.push_str(&format!(
                    "({column}::json #>> '{{{}}}')",
                    path.replace('.', ",")
                ));
                rest = tail;
            }
            None => {
                out.push_str(CALL);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.into()
}
