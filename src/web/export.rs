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

use super::error::ApiError;
use crate::store::Page;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

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
            Dialect::ExcelFr { .. } => Out::ExcelFr("\u{feff}".as_bytes().to_vec()),
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

/// Writes rows as CSV under a header line (written even when no row matches). Each row is
/// the item as the JSON API shows it, cut to `columns` in that order, so a CSV and its JSON
/// form never disagree; every text cell goes through `neutralise`. `excel-fr` adds, after
/// them, the name of each number column in `named`.
pub fn csv_response<T: Serialize>(
    name: &str,
    columns: &[&str],
    named: Named,
    dialect: &Dialect,
    page: Page<T>,
) -> Result<Response, ApiError> {
    let mut header: Vec<&str> = columns.to_vec();
    if let Dialect::ExcelFr { .. } = dialect {
        header.extend(named.iter().map(|(_, name)| *name));
    }
    let mut out = Out::new(dialect);
    out.write_record(&header).map_err(ApiError::internal)?;
    for item in &page.items {
        let row = serde_json::to_value(item).map_err(ApiError::internal)?;
        let record: Vec<String> = match dialect {
            Dialect::Standard => columns
                .iter()
                .map(|c| cell(row.get(c)).into_owned())
                .collect(),
            Dialect::ExcelFr { tz, names } => columns
                .iter()
                .map(|c| excel_fr_cell(c, row.get(c), *tz))
                .chain(named.iter().map(|(number, _)| {
                    let name = row
                        .get(*number)
                        .and_then(Value::as_str)
                        .and_then(|n| names.get(n));
                    name.map_or(String::new(), |n| neutralise(n).into_owned())
                }))
                .collect(),
        };
        out.write_record(&record).map_err(ApiError::internal)?;
    }
    let body = out.finish().map_err(ApiError::internal)?;
    let mut res = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(next) = page.next.and_then(|n| n.parse().ok()) {
        res.headers_mut().insert("x-next-cursor", next);
    }
    Ok(res)
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
