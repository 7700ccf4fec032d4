//! CSV formula injection (issue 8): caller ids are not ours to trust, and a cell beginning
//! with `=`, `+`, `-` or `@` is run as a formula by the spreadsheet that opens the download.
//! Every CSV route is checked on the real service: such a cell goes out with a `'` in front,
//! a plain phone number (`+33…`) stays readable, and the JSON forms keep the value as it came.

use crate::helpers::*;
use serde_json::Value;

const FORMULA: &str = "=1+cmd|' /C calc'!A0";
const AT: &str = "@SUM(1+1)*cmd|' /C calc'!A0";
const MINUS: &str = "-2+3+cmd|' /C calc'!A0";
const PLUS_NUMBER: &str = "+33 6 22 22 22 22";

/// The fixture's answers with some callers replaced (the values hold no `"` or `\`, so the
/// JSON stays valid).
fn hostile(fixture: &str, replace: &[(&str, &str)]) -> Vec<String> {
    answers(fixture)
        .into_iter()
        .map(|a| {
            replace
                .iter()
                .fold(a, |a, (number, with)| a.replace(number, with))
        })
        .collect()
}

/// Every cell of a CSV, header line excluded.
async fn cells(app: &TestApp, path: &str) -> Vec<String> {
    let res = app.get(path, TOKEN_A).await;
    assert_eq!(res.status(), 200, "{path}");
    let text = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .flat_map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// No cell a spreadsheet would run: each begins otherwise, or is a plain phone number.
fn assert_inert(cells: &[String]) {
    for c in cells {
        let phone = c
            .strip_prefix('+')
            .is_some_and(|r| r.bytes().all(|b| b.is_ascii_digit() || b == b' '));
        assert!(
            phone || !c.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{c:?} would be run as a formula"
        );
    }
}

#[tokio::test]
async fn history_csv_neutralises_formula_callers_and_keeps_phone_numbers() {
    let up = FakeUpstream::start().await;
    up.push(
        TOKEN_A,
        hostile(
            "lines.v1.jsonl",
            &[
                ("0033612345678", FORMULA),
                ("0033611111111", AT),
                ("0033698765432", MINUS),
                ("0033622222222", PLUS_NUMBER),
            ],
        ),
    );
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;

    let cells = cells(&app, "/api/history.csv?all=1").await;
    assert_inert(&cells);
    for raw in [FORMULA, AT, MINUS] {
        let quoted = format!("'{raw}");
        assert!(cells.contains(&quoted), "{quoted} in {cells:?}");
    }
    assert!(cells.iter().any(|c| c == PLUS_NUMBER), "{cells:?}");
    // The JSON form and the store keep the value as OVH sent it.
    let json = app.json("/api/history?limit=1000", TOKEN_A).await;
    let callers: Vec<&Value> = json["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["calling"])
        .collect();
    assert!(callers.contains(&&Value::from(FORMULA)), "{callers:?}");
    app.stop().await;
}

#[tokio::test]
async fn queue_journal_csv_neutralises_formula_callers() {
    let up = FakeUpstream::start().await;
    up.push(
        TOKEN_A,
        hostile(
            "queue.v1.jsonl",
            &[("0033655555555", FORMULA), ("0033666666666", AT)],
        ),
    );
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;

    let cells = cells(&app, "/api/queue-journal.csv?all=1").await;
    assert!(!cells.is_empty());
    assert_inert(&cells);
    for raw in [FORMULA, AT] {
        let quoted = format!("'{raw}");
        assert!(cells.contains(&quoted), "{quoted} in {cells:?}");
    }
    app.stop().await;
}

/// A CSV opened in a French spreadsheet came out as one column, accents garbled, times in UTC
/// with nanoseconds, durations as dates and numbers without their leading zeros.
#[tokio::test]
async fn the_excel_fr_dialect_opens_right_in_a_french_spreadsheet() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    let hostile_caller = hostile("queue.v1.jsonl", &[("0033666666666", FORMULA)]);
    up.push(TOKEN_A, hostile_caller);
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;

    let res = app
        .get(
            "/api/history.csv?dialect=excel-fr&all=1&number=0033972101010",
            TOKEN_A,
        )
        .await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    assert!(
        bytes.starts_with("\u{feff}".as_bytes()),
        "a byte-order mark"
    );
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header.first().map(String::as_str), Some("number"));
    assert_eq!(&header[header.len() - 2..], ["line_name", "queue_name"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(!rows.is_empty());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for r in &rows {
        assert_eq!(&r[col("number")], "=\"0033972101010\"", "kept as text");
        assert_eq!(&r[col("line_name")], "Accueil");
        // Local time (Europe/Paris, the default zone), to the second.
        let started = &r[col("started_at")];
        assert!(
            started.len() == 19 && started.starts_with("26/11/2024 1"),
            "{started}"
        );
        assert!(!r[col("ring_s")].contains('.'), "decimal comma");
    }
    // The queue's agent calls name the queue they came through.
    assert!(rows.iter().any(|r| &r[col("queue_name")] == "Support"));

    let res = app
        .get("/api/queue-journal.csv?dialect=excel-fr&all=1", TOKEN_A)
        .await;
    let text = res.text().await.unwrap();
    let text = text.trim_start_matches('\u{feff}');
    assert!(text.starts_with("queue;caller;agent;"), "{text}");
    assert!(text.contains(";Support;"), "{text}");
    let cells: Vec<String> = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes())
        .records()
        .flat_map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
        .collect();
    // Our own `="…"` for numbers; a hostile caller still goes out inert.
    let ours: Vec<String> = cells
        .into_iter()
        .filter(|c| {
            !(c.starts_with("=\"") && c[2..c.len() - 1].bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    assert_inert(&ours);

    let bad = app.get("/api/history.csv?dialect=excel", TOKEN_A).await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["field"], "dialect");
    app.stop().await;
}
