//! The CSV downloads (`/api/history.csv`, `/api/queue-journal.csv`, and any later one: they
//! all go through `csv_response`). A CSV is opened in a spreadsheet, and a spreadsheet runs a
//! cell that begins with `=`, `+`, `-` or `@` as a formula — and caller ids, agent names and
//! OVH's own words are not ours to trust (issue 8: `=HYPERLINK(…)` as a caller went out raw).
//! So, as OWASP recommends, such a cell is written with a `'` in front, which spreadsheets
//! show as text and do not display. The one exception is a plain phone number, `+` then
//! digits and spaces (`+33 9 72 10 10 10`): it is common, it cannot call anything, and a `'`
//! in front would spoil it for every other use of the file. The rule is in `docs/api.md`.

use super::error::ApiError;
use crate::store::Page;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;

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

/// Writes rows as CSV under a header line (written even when no row matches). Each row is
/// the item as the JSON API shows it, cut to `columns` in that order, so a CSV and its JSON
/// form never disagree; every text cell goes through `neutralise`.
pub fn csv_response<T: Serialize>(
    name: &str,
    columns: &[&str],
    page: Page<T>,
) -> Result<Response, ApiError> {
    let mut out = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    out.write_record(columns).map_err(ApiError::internal)?;
    for item in &page.items {
        let row = serde_json::to_value(item).map_err(ApiError::internal)?;
        out.write_record(columns.iter().map(|c| cell(row.get(c)).into_owned()))
            .map_err(ApiError::internal)?;
    }
    let body = out.into_inner().map_err(ApiError::internal)?;
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
