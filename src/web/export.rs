//! The CSV downloads (`/api/history.csv`, `/api/queue-journal.csv`, and any later one: they
//! all go through `csv_response`). A CSV is opened in a spreadsheet, and a spreadsheet runs a
//! cell that begins with `=`, `+`, `-` or `@` as a formula — and caller ids, agent names and
//! OVH's own words are not ours to trust (issue 8: `=HYPERLINK(…)` as a caller went out raw).
//! So, as OWASP recommends, such a cell is written with a `'` in front, which spreadsheets
//! show as text and do not display. The one exception is a plain phone number, `+` then
//! digits and spaces (`+33 9 72 10 10 10`): it is common, it cannot call anything, and a `'`
//! in front would spoil it for every other use of the file. The rule is in `docs/api.md`.
//!
//! Two dialects (`?dialect=`): `standard`, the API's own forms (comma, UTC RFC 3339 times,
//! decimal point), and `excel-fr`, what a French spreadsheet opens right with a double click:
//! `;` between cells, a UTF-8 byte-order mark (or accents come out garbled), times in the
//! token's time zone to the second, decimal commas, phone numbers kept as text (`="0033…"`,
//! or the spreadsheet drops their leading zeros and writes them as 3.39E+10), and the names of
//! the lines and queues beside their numbers.
//!
//! A listing's CSV with every row (`all=1`, up to 100,000) is read and sent a thousand rows at
//! a time (`csv_download`): the service's memory stays the same whatever the file's size, and
//! a slow download holds no database connection between its reads. It was built whole in
//! memory first — about 50 MB at the peak for 100,000 calls (`benches/history.rs`).

use super::error::ApiError;
use super::AppState;
use crate::store::{Cursor, Page, StoreError};
use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// How a CSV is written.
pub enum Dialect {
    /// RFC 4180 with the API's own forms.
    Standard,
    /// For a French spreadsheet: see the module's comment.
    ExcelFr {
        tz: chrono_tz::Tz,
        /// Line and queue names by number (their descriptions).
        names: HashMap<String, String>,
    },
}

/// A number column and the column of its name that `excel-fr` adds after the others.
pub type Named<'a> = &'a [(&'a str, &'a str)];

/// A cell as it may go into a CSV: one that a spreadsheet would run as a formula gets a `'`
/// in front, unless it is a plain phone number.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula && !plain_phone_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// `^\+?[0-9 ]+$` with at least one digit.
fn plain_phone_number(cell: &str) -> bool {
    let rest = cell.strip_prefix('+').unwrap_or(cell);
    rest.bytes().any(|b| b.is_ascii_digit())
        && rest.bytes().all(|b| b.is_ascii_digit() || b == b' ')
}

/// One CSV cell from a row's JSON value: text neutralised, numbers as JSON writes them,
/// null as an empty cell.
fn cell(v: Option<&Value>) -> Cow<'_, str> {
    match v {
        None | Some(Value::Null) => Cow::Borrowed(""),
        Some(Value::String(s)) => neutralise(s),
        Some(Value::Bool(b)) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Some(Value::Number(n)) => Cow::Owned(n.to_string()),
        Some(other) => neutralise(&other.to_string()).into_owned().into(),
    }
}

/// `^\+?[0-9]+$`: an OVH or phone number as OVH writes it.
fn bare_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// One `excel-fr` cell: local times to the second, decimal commas, numbers kept as text.
fn excel_fr_cell(column: &str, v: Option<&Value>, tz: chrono_tz::Tz) -> String {
    match v {
        Some(Value::String(s)) if column.ends_with("_at") => {
            match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(t) => t.with_timezone(&tz).format("%d/%m/%Y %H:%M:%S").to_string(),
                Err(_) => neutralise(s).into_owned(),
            }
        }
        // Ours, digits only: a formula that can only ever be that text.
        Some(Value::String(s)) if bare_number(s) => format!("=\"{s}\""),
        Some(Value::Number(n)) => n.to_string().replace('.', ","),
        other => cell(other).into_owned(),
    }
}

/// Where the rows go: RFC 4180 through the `csv` crate, or `excel-fr` by hand — its number
/// cells (`="0033…"`) must go out unquoted, or the spreadsheet reads them as text with quotes
/// in it, and the `csv` crate quotes any cell holding a `"`.
enum Out {
    Standard(Box<csv::Writer<Vec<u8>>>),
    ExcelFr(Vec<u8>),
}

impl Out {
    fn new(dialect: &Dialect) -> Out {
        match dialect {
            Dialect::Standard => Out::Standard(Box::new(
                csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(Vec::new()),
            )),
            Dialect::ExcelFr { .. } => Out::ExcelFr(Vec::new()),
        }
    }

    fn write_record<S: AsRef<str>>(&mut self, record: &[S]) -> Result<(), csv::Error> {
        match self {
            Out::Standard(w) => w.write_record(record.iter().map(AsRef::as_ref)),
            Out::ExcelFr(out) => {
                for (i, field) in record.iter().enumerate() {
                    if i > 0 {
                        out.push(b';');
                    }
                    out.extend_from_slice(excel_fr_field(field.as_ref()).as_bytes());
                }
                out.extend_from_slice(b"\r\n");
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<Vec<u8>, csv::Error> {
        match self {
            Out::Standard(w) => w.into_inner().map_err(|e| e.into_error().into()),
            Out::ExcelFr(out) => Ok(out),
        }
    }
}

/// An `excel-fr` field as written: our number formulas as they are (no text cell can begin
/// with `=`: `neutralise` puts a `'` in front), anything holding `;`, `"` or a line break
/// quoted, quotes doubled.
fn excel_fr_field(field: &str) -> Cow<'_, str> {
    let ours = field
        .strip_prefix("=\"")
        .and_then(|f| f.strip_suffix('"'))
        .is_some_and(bare_number);
    if !ours && field.contains([';', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

/// What a CSV holds and how it is written: `columns` of each item as the JSON API shows it, in
/// that order, so a CSV and its JSON form never disagree; every text cell through
/// `neutralise`; for `excel-fr`, after them, the name of each number column in `named`.
pub struct CsvFile<'a> {
    /// The file's name, without `.csv`.
    pub name: &'a str,
    pub columns: &'a [&'a str],
    pub named: Named<'a>,
    pub dialect: Dialect,
}

impl CsvFile<'_> {
    /// The header line (written even when no row matches), after `excel-fr`'s byte-order mark.
    fn header(&self) -> Result<Vec<u8>, ApiError> {
        let mut header: Vec<&str> = self.columns.to_vec();
        let mut bytes = Vec::new();
        if let Dialect::ExcelFr { .. } = self.dialect {
            header.extend(self.named.iter().map(|(_, name)| *name));
            bytes.extend_from_slice("\u{feff}".as_bytes());
        }
        bytes.extend(self.rows(&[header])?);
        Ok(bytes)
    }

    /// Records, written as they are.
    fn rows<S: AsRef<str>>(&self, records: &[Vec<S>]) -> Result<Vec<u8>, ApiError> {
        let mut out = Out::new(&self.dialect);
        for record in records {
            out.write_record(record).map_err(ApiError::internal)?;
        }
        out.finish().map_err(ApiError::internal)
    }

    /// Items, each cut to the file's columns.
    fn items<T: Serialize>(&self, items: &[T]) -> Result<Vec<u8>, ApiError> {
        let records = items
            .iter()
            .map(|item| self.record(item))
            .collect::<Result<Vec<_>, _>>()?;
        self.rows(&records)
    }

    fn record<T: Serialize>(&self, item: &T) -> Result<Vec<String>, ApiError> {
        let row = serde_json::to_value(item).map_err(ApiError::internal)?;
        Ok(match &self.dialect {
            Dialect::Standard => self
                .columns
                .iter()
                .map(|c| cell(row.get(c)).into_owned())
                .collect(),
            Dialect::ExcelFr { tz, names } => self
                .columns
                .iter()
                .map(|c| excel_fr_cell(c, row.get(c), *tz))
                .chain(self.named.iter().map(|(number, _)| {
                    let name = row
                        .get(*number)
                        .and_then(Value::as_str)
                        .and_then(|n| names.get(n));
                    name.map_or(String::new(), |n| neutralise(n).into_owned())
                }))
                .collect(),
        })
    }

    /// The answer's headers around `body`; `next`, the cursor of the rows that follow.
    fn response(&self, body: Body, next: Option<String>) -> Response {
        let mut res = (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}.csv\"", self.name),
                ),
            ],
            body,
        )
            .into_response();
        if let Some(next) = next.and_then(|n| n.parse().ok()) {
            res.headers_mut().insert("x-next-cursor", next);
        }
        res
    }
}

/// A page of rows as a CSV file, its `next` cursor in `X-Next-Cursor`.
pub fn csv_response<T: Serialize>(file: &CsvFile, page: Page<T>) -> Result<Response, ApiError> {
    let mut body = file.header()?;
    body.extend(file.items(&page.items)?);
    Ok(file.response(body.into(), page.next))
}

/// How much of a listing a CSV download holds.
pub enum Extent {
    /// One page of this many rows, the cursor of what follows in `X-Next-Cursor`.
    Page(usize),
    /// Every matching row, up to this many (no `X-Next-Cursor`: it is not known before the
    /// last row is sent).
    All(usize),
}

/// Rows read from the store at a time for an `Extent::All` download: about what the service
/// holds of it at once, whatever the file's size.
pub const ROWS_PER_READ: usize = 1000;

/// A listing as a CSV file. `read(conn, after, rows)` gives up to `rows` of its rows following
/// the cursor `after` (from the listing's own start when `None`). The first read is made
/// before answering, so that a failure is still an error status; with `Extent::All`, the
/// rest follows a read at a time, each when the client has taken the one before. A read that
/// fails then cuts the answer short (the client sees an incomplete transfer, not a short file).
pub async fn csv_download<T, R>(
    state: &AppState,
    file: CsvFile<'static>,
    extent: Extent,
    read: R,
) -> Result<Response, ApiError>
where
    T: Serialize + Send + 'static,
    R: Fn(&crate::store::db::Conn, Option<Cursor>, usize) -> Result<Page<T>, StoreError>
        + Send
        + Sync
        + 'static,
{
    let (file, read) = (Arc::new(file), Arc::new(read));
    let (first_rows, most) = match extent {
        Extent::Page(limit) => (limit, limit),
        Extent::All(most) => (most.min(ROWS_PER_READ), most),
    };
    let mut first = file.header()?;
    let part = read_part(state, &file, &read, None, first_rows).await?;
    first.extend(part.csv);
    let left = most.saturating_sub(part.rows);
    let rest_from = match (&extent, part.next.as_deref().and_then(Cursor::parse)) {
        (Extent::All(_), Some(cursor)) if left > 0 => cursor,
        (Extent::Page(_), _) => return Ok(file.response(first.into(), part.next)),
        // Everything in the first read.
        (Extent::All(_), _) => return Ok(file.response(first.into(), None)),
    };
    let rest = futures::stream::unfold(
        (state.clone(), file.clone(), Some((rest_from, left))),
        move |(state, file, position)| {
            let read = read.clone();
            async move {
                let (after, left) = position?;
                let rows = left.min(ROWS_PER_READ);
                match read_part(&state, &file, &read, Some(after), rows).await {
                    Ok(part) => {
                        let left = left - part.rows;
                        let next = part.next.as_deref().and_then(Cursor::parse);
                        let position = next.filter(|_| left > 0).map(|c| (c, left));
                        Some((Ok(part.csv), (state, file, position)))
                    }
                    Err(e) => {
                        tracing::warn!(file = file.name, error = %e.message, "a CSV download was cut short");
                        let cut = std::io::Error::other(e.message);
                        Some((Err(cut), (state, file, None)))
                    }
                }
            }
        },
    );
    let body = futures::stream::once(async { Ok(first) }).chain(rest);
    Ok(file.response(Body::from_stream(body), None))
}

/// Rows of a listing as CSV lines: how many, and the cursor after them when more follow.
struct Part {
    csv: Vec<u8>,
    rows: usize,
    next: Option<String>,
}

/// One read of a download and its CSV lines, both off the async threads.
async fn read_part<T, R>(
    state: &AppState,
    file: &Arc<CsvFile<'static>>,
    read: &Arc<R>,
    after: Option<Cursor>,
    rows: usize,
) -> Result<Part, ApiError>
where
    T: Serialize + Send + 'static,
    R: Fn(&crate::store::db::Conn, Option<Cursor>, usize) -> Result<Page<T>, StoreError>
        + Send
        + Sync
        + 'static,
{
    let (readers, file, read) = (state.service.readers.clone(), file.clone(), read.clone());
    tokio::task::spawn_blocking(move || {
        let page = readers.with(|conn| read(conn, after, rows))?;
        Ok(Part {
            csv: file.items(&page.items)?,
            rows: page.items.len(),
            next: page.next,
        })
    })
    .await
    .map_err(ApiError::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_get_a_quote_in_front() {
        for (cell, written) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("+", "'+"),
            ("+ ", "'+ "),
            ("-33612345678", "'-33612345678"),
        ] {
            assert_eq!(neutralise(cell), written, "{cell:?}");
        }
    }

    #[test]
    fn excel_fr_cells_are_local_times_decimal_commas_and_numbers_as_text() {
        let tz = chrono_tz::Europe::Paris;
        let s = |v: &str| Value::String(v.into());
        assert_eq!(
            excel_fr_cell("started_at", Some(&s("2024-11-26T09:20:10.123456Z")), tz),
            "26/11/2024 10:20:10"
        );
        assert_eq!(
            excel_fr_cell("ring_s", Some(&serde_json::json!(11.5)), tz),
            "11,5"
        );
        assert_eq!(
            excel_fr_cell("talk_s", Some(&serde_json::json!(120)), tz),
            "120"
        );
        assert_eq!(
            excel_fr_cell("calling", Some(&s("0033612345678")), tz),
            "=\"0033612345678\""
        );
        assert_eq!(
            excel_fr_cell("calling", Some(&s("+33612345678")), tz),
            "=\"+33612345678\""
        );
        // Anything else is text as usual: neutralised when it looks like a formula.
        assert_eq!(excel_fr_cell("reason", Some(&s("=1+1")), tz), "'=1+1");
        assert_eq!(
            excel_fr_cell("call_id", Some(&s("6513270e.")), tz),
            "6513270e."
        );
        assert_eq!(excel_fr_cell("answered_at", None, tz), "");
    }

    #[test]
    fn excel_fr_fields_are_quoted_when_they_must_be_and_numbers_never() {
        assert_eq!(excel_fr_field("=\"0033612345678\""), "=\"0033612345678\"");
        assert_eq!(excel_fr_field("Accueil; standard"), "\"Accueil; standard\"");
        assert_eq!(excel_fr_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(excel_fr_field("'=\"x\""), "\"'=\"\"x\"\"\"");
        assert_eq!(excel_fr_field("plain"), "plain");
    }

    #[test]
    fn phone_numbers_and_ordinary_text_stay_as_they_are() {
        for cell in [
            "0033612345678",
            "+33612345678",
            "+33 6 12 34 56 78",
            "anonymous",
            "Accueil = standard",
            "2024-11-26T09:36:40Z",
            "",
        ] {
            assert_eq!(neutralise(cell), cell);
        }
    }
}
