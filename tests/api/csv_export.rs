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
