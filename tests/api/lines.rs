//! The lines fixture through the whole service: live state, history, filters, CSV, scoping.

use crate::helpers::*;
use serde_json::Value;

fn key(c: &Value) -> String {
    format!(
        "{}{}",
        c["number"].as_str().unwrap(),
        c["call_id"].as_str().unwrap()
    )
}

#[tokio::test]
async fn lines_fixture_reports_the_truth() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;

    let lines = app.json("/api/lines", TOKEN_A).await;
    let lines = lines["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    for l in lines {
        assert_eq!(l["status"], "free", "{l}");
        assert_eq!(l["active_calls"], 0);
    }
    let accueil = lines
        .iter()
        .find(|l| l["number"] == "0033972101010")
        .unwrap();
    assert_eq!(accueil["description"], "Accueil");
    assert_eq!(accueil["type"], "sipCirpack");
    assert_eq!(accueil["simultaneous_lines"], 2);
    assert_eq!(accueil["last_registered_at"], "2024-11-26T09:20:00Z");
    assert_eq!(
        app.json("/api/calls", TOKEN_A).await["calls"],
        serde_json::json!([])
    );
    assert_eq!(
        app.json("/api/queues", TOKEN_A).await["queues"],
        serde_json::json!([]),
        "lines are not queues"
    );

    let history = app.json("/api/history", TOKEN_A).await;
    assert!(history["next"].is_null());
    let mut got: Vec<Value> = history["calls"].as_array().unwrap().clone();
    let mut want: Vec<Value> = expected()["lines.v1.jsonl"]["calls"]
        .as_array()
        .unwrap()
        .clone();
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got.len(), want.len());
    for (w, g) in want.iter().zip(&got) {
        assert!(same(w, g), "\nwant {w}\n got {g}");
    }
    // Who the caller is, without the secret; and the counters, which name no token.
    let me = app.json("/api/me", TOKEN_A).await;
    assert_eq!(me["token_hint"], "3F25…");
    assert_eq!(me["lines"].as_array().unwrap().len(), 3);
    let metrics = app.metrics().await;
    for counter in [
        "ovh_cti_events_ingested_total ",
        "ovh_cti_pruned_outbox_total ",
        "ovh_cti_pruned_deliveries_total ",
        "ovh_cti_pruned_events_total ",
    ] {
        assert!(
            metrics.lines().any(|l| l.starts_with(counter)),
            "{counter}: {metrics}"
        );
    }
    assert!(!metrics.to_ascii_uppercase().contains(TOKEN_A) && !metrics.contains("0033972101010"));
    // Newest first, by the start time the dashboard shows.
    let starts: Vec<&str> = history["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["started_at"].as_str().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "{starts:?}");
    app.stop().await;
}

#[tokio::test]
async fn history_filters_pages_and_csv() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;

    let count = |v: Value| v["calls"].as_array().unwrap().len();
    assert_eq!(
        count(app.json("/api/history?number=0033972101010", TOKEN_A).await),
        4
    );
    assert_eq!(
        count(
            app.json("/api/history?number=0033972101011&outcome=missed", TOKEN_A)
                .await
        ),
        1
    );
    assert_eq!(
        count(app.json("/api/history?direction=outgoing", TOKEN_A).await),
        3
    );
    assert_eq!(
        count(app.json("/api/history?outcome=unanswered", TOKEN_A).await),
        1
    );
    assert_eq!(
        count(
            app.json(
                "/api/history?from=2024-11-26T09:20:30Z&to=2024-11-26T09:20:50Z",
                TOKEN_A
            )
            .await
        ),
        2
    );
    assert_eq!(
        count(
            app.json(
                "/api/history?from=2024-11-26T10:20:30%2B01:00&to=2024-11-26T10:20:50%2B01:00",
                TOKEN_A
            )
            .await
        ),
        2
    );

    // Pages of three, following `next`, see every call once.
    let mut seen = Vec::new();
    let mut path = "/api/history?limit=3".to_string();
    loop {
        let page = app.json(&path, TOKEN_A).await;
        seen.extend(page["calls"].as_array().unwrap().iter().map(key));
        match page["next"].as_str() {
            Some(next) => path = format!("/api/history?limit=3&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 8);

    // CSV: a header line and exactly the filtered rows.
    let res = app
        .get(
            "/api/history.csv?number=0033972101010&outcome=answered",
            TOKEN_A,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = res.text().await.unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let headers = rows.headers().unwrap().clone();
    assert_eq!(&headers[0], "number");
    // The contract's columns, then the queue a call came through.
    assert_eq!(&headers[11], "outcome");
    assert_eq!(
        headers.iter().skip(12).collect::<Vec<_>>(),
        ["queue", "queue_caller"]
    );
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 3);
    assert!(records
        .iter()
        .all(|r| &r[0] == "0033972101010" && &r[11] == "answered"));
    // The CSV pages like the JSON (the contract's limit), unless asked for every row.
    let page = app.get("/api/history.csv?limit=2", TOKEN_A).await;
    assert!(page.headers().contains_key("x-next-cursor"));
    assert_eq!(page.text().await.unwrap().lines().count(), 3);
    let all = app
        .get("/api/history.csv?limit=2&all=1", TOKEN_A)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(all.lines().count(), 9);
    let empty = app
        .get("/api/history.csv?number=0000", TOKEN_A)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        empty.lines().count(),
        1,
        "a header line even when nothing matches"
    );

    // Events, newest first, with the feed's latency.
    let events = app.json("/api/events?limit=5", TOKEN_A).await;
    assert_eq!(events["events"].as_array().unwrap().len(), 5);
    assert_eq!(events["events"][0]["event"], "end_calling");
    assert_eq!(events["events"][0]["latency_ms"], 40.0);
    assert!(events["next"].is_string());
    let registered = app.json("/api/events?event=registered", TOKEN_A).await;
    assert_eq!(registered["events"].as_array().unwrap().len(), 3);
    // The events of the calls that ended missed: the two missed calls' ring and give-up.
    let missed = app.json("/api/events?outcome=missed", TOKEN_A).await;
    let missed: Vec<&Value> = missed["events"].as_array().unwrap().iter().collect();
    assert_eq!(missed.len(), 4, "{missed:?}");
    let missed_calls = ["6b0d549b6f03475a9600a35a.", "a170b33839264059b28c105d."];
    assert!(missed
        .iter()
        .all(|e| missed_calls.contains(&e["call_id"].as_str().unwrap())));
    app.stop().await;
}

#[tokio::test]
async fn bad_filters_are_refused_naming_the_field() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    for (path, field) in [
        ("/api/history?direction=sideways", "direction"),
        ("/api/history?outcome=won", "outcome"),
        ("/api/history?from=yesterday", "from"),
        (
            "/api/history?from=2024-11-27T00:00:00Z&to=2024-11-26T00:00:00Z",
            "to",
        ),
        ("/api/history?limit=0", "limit"),
        ("/api/history?limit=lots", "limit"),
        ("/api/history?cursor=abc", "cursor"),
        ("/api/history.csv?outcome=won", "outcome"),
        ("/api/queue-journal?outcome=missed", "outcome"),
        ("/api/queue-journal?direction=sideways", "direction"),
        ("/api/events?to=now", "to"),
        ("/api/events?outcome=won", "outcome"),
        ("/api/history.csv?all=maybe", "all"),
    ] {
        let res = app.get(path, TOKEN_A).await;
        assert_eq!(res.status(), 400, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["field"], field, "{path}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // The limit is capped rather than refused.
    assert_eq!(
        app.get("/api/history?limit=5000", TOKEN_A).await.status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn each_token_sees_only_the_numbers_its_events_concern_and_counts_once() {
    let up = FakeUpstream::start().await;
    let all = answers("lines.v1.jsonl");
    // Token A covers the billing account; token B only the line Accueil, so it receives only
    // Accueil's events — the same events A receives too.
    let accueil_only = only_number(&all, "0033972101010");
    up.push(TOKEN_A, all.clone());
    up.push(TOKEN_B, accueil_only);
    let app = spawn_app(
        &up,
        Options {
            tokens: vec![TOKEN_A, TOKEN_B],
            ..Options::default()
        },
    )
    .await;
    up.idle(TOKEN_A).await;
    up.idle(TOKEN_B).await;

    let b_lines = app.json("/api/lines", TOKEN_B).await;
    let numbers: Vec<&str> = b_lines["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["0033972101010"]);
    let b_history = app.json("/api/history", TOKEN_B).await;
    assert_eq!(b_history["calls"].as_array().unwrap().len(), 4);
    assert!(b_history["calls"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["number"] == "0033972101010"));
    let a_history = app.json("/api/history", TOKEN_A).await;
    assert_eq!(
        a_history["calls"].as_array().unwrap().len(),
        8,
        "counted once, not once per token"
    );
    let b_events = app.json("/api/events?limit=1000", TOKEN_B).await;
    assert!(b_events["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["number"] == "0033972101010"));

    // The same poll delivered again (a retry) is not counted again.
    up.push(TOKEN_A, all[3..6].to_vec());
    up.idle(TOKEN_A).await;
    assert_eq!(
        app.json("/api/history", TOKEN_A).await["calls"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert_eq!(
        app.json("/api/events?limit=1000", TOKEN_A).await["events"]
            .as_array()
            .unwrap()
            .len(),
        29
    );
    app.stop().await;
}

#[tokio::test]
async fn a_call_whose_end_never_comes_expires_as_unknown() {
    let up = FakeUpstream::start().await;
    let all = answers("lines.v1.jsonl");
    let first_ring = all
        .iter()
        .position(|a| a.contains("start_ringing"))
        .unwrap();
    up.push(TOKEN_A, all[..=first_ring].to_vec());
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;
    let calls = app.json("/api/calls", TOKEN_A).await;
    assert_eq!(calls["calls"][0]["state"], "ringing");
    assert_eq!(calls["calls"][0]["direction"], "incoming");

    app.clock.advance(599.0);
    app.service.ingest.tick().await.unwrap();
    assert_eq!(
        app.json("/api/calls", TOKEN_A).await["calls"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "not yet"
    );
    app.clock.advance(2.0);
    app.service.ingest.tick().await.unwrap();
    assert_eq!(
        app.json("/api/calls", TOKEN_A).await["calls"],
        serde_json::json!([])
    );
    let history = app.json("/api/history?outcome=unknown", TOKEN_A).await;
    assert_eq!(history["calls"].as_array().unwrap().len(), 1);
    let lines = app.json("/api/lines", TOKEN_A).await;
    let accueil = lines["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["number"] == "0033972101010")
        .unwrap()
        .clone();
    assert_eq!(accueil["status"], "unknown");
    app.stop().await;
}
