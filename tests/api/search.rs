//! The search box and the number filters find a number however it is typed — as the page
//! prints it (`+33 6 12 34 56 78`), as a French caller writes it (`06 12 34 56 78`), in one
//! block, in OVH's form, or a part of it — and a line or queue by its name (issue 9: only
//! OVH's own `0033…` form was found).

use crate::helpers::*;
use serde_json::Value;

fn involve(calls: &Value, number: &str) -> bool {
    calls.as_array().unwrap().iter().all(|c| {
        ["number", "calling", "called", "dialed"]
            .iter()
            .any(|k| c[*k] == number)
    })
}

#[tokio::test]
async fn numbers_are_found_as_printed_typed_or_in_part_and_lines_by_name() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    up.push(TOKEN_A, answers("queue.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;
    let calls = |q: &str| {
        let path = format!(
            "/api/history?q={}",
            percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC)
        );
        let app = &app;
        async move { app.json(&path, TOKEN_A).await["calls"].clone() }
    };

    for typed in [
        "+33 6 12 34 56 78",
        "06 12 34 56 78",
        "0612345678",
        "0033612345678",
        "12 34 56",
    ] {
        let found = calls(typed).await;
        assert_eq!(found.as_array().unwrap().len(), 1, "{typed}: {found}");
        assert!(involve(&found, "0033612345678"), "{typed}");
    }
    // A line by its name: every call on Compta or to it.
    let compta = calls("compta").await;
    assert!(compta.as_array().unwrap().len() >= 3, "{compta}");
    assert!(involve(&compta, "0033972101011"), "{compta}");
    // Text that is neither a number nor a name finds nothing, and nothing breaks.
    assert_eq!(calls("nobody").await.as_array().unwrap().len(), 0);

    // The line filter, as printed on the page.
    let accueil = app
        .json("/api/history?number=%2B33%209%2072%2010%2010%2010", TOKEN_A)
        .await;
    let rows = accueil["calls"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|c| c["number"] == "0033972101010"));

    // The journal: a queue by its name and by its printed number, a caller as typed.
    let support = app.json("/api/queue-journal?q=Support", TOKEN_A).await;
    assert_eq!(support["entries"].as_array().unwrap().len(), 4);
    let by_number = app
        .json("/api/queue-journal?queue=09%2072%2010%2001%2000", TOKEN_A)
        .await;
    assert_eq!(by_number["entries"].as_array().unwrap().len(), 4);
    let caller = app
        .json("/api/queue-journal?q=06%2077%2077%2077%2077", TOKEN_A)
        .await;
    assert_eq!(caller["entries"].as_array().unwrap().len(), 1);
    app.stop().await;
}
