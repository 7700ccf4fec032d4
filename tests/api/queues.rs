//! The queue fixture through the whole service: figures, callers, the journal, reset and the
//! midnight reset in the token's time zone.

use crate::helpers::*;
use serde_json::{json, Value};

fn support(v: &Value) -> Value {
    v["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["number"] == "0033972100100")
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn queue_fixture_reports_the_truth() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("queue.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;

    let truth = &expected()["queue.v1.jsonl"];
    let queues = app.json("/api/queues", TOKEN_A).await;
    assert_eq!(queues["queues"].as_array().unwrap().len(), 1);
    let q = support(&queues);
    assert!(
        same(&truth["queues"]["0033972100100"], &q),
        "\nwant {}\n got {q}",
        truth["queues"]["0033972100100"]
    );
    assert_eq!(q["kind"], "easy");
    assert_eq!(q["description"], "Support");
    assert_eq!(q["service_level_s"], 20.0);
    assert_eq!(q["callers"], json!([]));

    // The agents' lines are lines; the queue is not among them.
    let lines = app.json("/api/lines", TOKEN_A).await;
    let numbers: Vec<&str> = lines["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["0033972101010", "0033972101011"]);

    let journal = app.json("/api/queue-journal", TOKEN_A).await;
    let entries = journal["entries"].as_array().unwrap();
    let want = truth["journal"].as_array().unwrap();
    assert_eq!(entries.len(), want.len());
    for w in want {
        let got = entries.iter().find(|e| e["member"] == w["member"]).unwrap();
        assert!(same(w, got), "\nwant {w}\n got {got}");
    }
    assert_eq!(entries[0]["caller"], "0033688888888", "newest first");
    assert_eq!(entries[0]["reason"], "timeout");
    let abandoned = app
        .json("/api/queue-journal?outcome=abandoned", TOKEN_A)
        .await;
    assert_eq!(abandoned["entries"].as_array().unwrap().len(), 2);
    // Queue callers call in: the direction filter keeps them all, or none.
    let incoming = app
        .json("/api/queue-journal?direction=incoming", TOKEN_A)
        .await;
    assert_eq!(incoming["entries"].as_array().unwrap().len(), 4);
    let outgoing = app
        .json("/api/queue-journal?direction=outgoing", TOKEN_A)
        .await;
    assert_eq!(outgoing["entries"], json!([]));
    let csv = app
        .get("/api/queue-journal.csv?queue=0033972100100", TOKEN_A)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv.lines().next().unwrap(),
        "queue,caller,agent,joined_at,answered_at,left_at,wait_s,talk_s,outcome,reason"
    );
    assert_eq!(csv.lines().count(), 5);

    // The agents' own lines saw their calls too.
    let agent_calls = app.json("/api/history", TOKEN_A).await;
    assert_eq!(agent_calls["calls"].as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn waiting_offered_and_talking_callers_are_shown_live() {
    let up = FakeUpstream::start().await;
    let all = answers("queue.v1.jsonl");
    let first_answer = all
        .iter()
        .position(|a| a.contains("bridge-agent-start"))
        .unwrap();
    up.push(TOKEN_A, all[..=first_answer].to_vec());
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;
    let q = support(&app.json("/api/queues", TOKEN_A).await);
    assert_eq!(
        (
            q["waiting"].as_u64(),
            q["entered"].as_u64(),
            q["answered"].as_u64()
        ),
        (Some(1), Some(2), Some(1))
    );
    let callers = q["callers"].as_array().unwrap();
    let talking = callers.iter().find(|c| c["state"] == "in_call").unwrap();
    assert_eq!(talking["caller"], "0033655555555");
    assert_eq!(talking["agent"], "0033972101010");
    assert_eq!(talking["joined_at"], "2024-11-26T09:36:40Z");
    assert_eq!(talking["answered_at"], "2024-11-26T09:36:52Z");
    let offered = callers.iter().find(|c| c["state"] == "offered").unwrap();
    assert_eq!(offered["caller"], "0033666666666");
    assert!(offered["answered_at"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn reset_clears_the_live_board_but_keeps_history() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("queue.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;
    let res = app
        .http
        .post(app.url("/api/reset"))
        .bearer_auth(TOKEN_A)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["since"].is_string());
    assert_eq!(app.json("/api/queues", TOKEN_A).await["queues"], json!([]));
    assert_eq!(app.json("/api/lines", TOKEN_A).await["lines"], json!([]));
    assert_eq!(
        app.json("/api/queue-journal", TOKEN_A).await["entries"]
            .as_array()
            .unwrap()
            .len(),
        4,
        "history stays"
    );
    assert_eq!(
        app.json("/api/history", TOKEN_A).await["calls"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.stop().await;
}

/// Turns the midnight reset on, in `tz`: the answer's status.
async fn reset_at_midnight(app: &TestApp, tz: &str) -> u16 {
    app.http
        .put(app.url("/api/settings"))
        .bearer_auth(TOKEN_A)
        .json(&json!({"display": {"reset_at_midnight": true}, "timezone": tz}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The queue fixture's board, reset at midnight in Paris, ticked at 23:50 there (22:50 UTC):
/// still the same day, nothing reset.
async fn midnight_board(up: &FakeUpstream) -> TestApp {
    let app = spawn_app(up, Options::default()).await;
    assert_eq!(reset_at_midnight(&app, "Europe/Paris").await, 200);
    up.push(TOKEN_A, answers("queue.v1.jsonl"));
    up.idle(TOKEN_A).await;
    app.clock.set(1732661400.0);
    app.service.ingest.tick().await.unwrap();
    assert_eq!(
        support(&app.json("/api/queues", TOKEN_A).await)["entered"],
        4
    );
    app
}

#[tokio::test]
async fn the_board_resets_at_midnight_in_the_tokens_time_zone() {
    let up = FakeUpstream::start().await;
    let app = midnight_board(&up).await;
    // 00:10 in Paris.
    app.clock.set(1732662600.0);
    app.service.ingest.tick().await.unwrap();
    assert_eq!(app.json("/api/queues", TOKEN_A).await["queues"], json!([]));
    assert_eq!(
        app.json("/api/queue-journal", TOKEN_A).await["entries"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    app.stop().await;
}

/// Boards are looked at for midnight once per quarter hour of UTC (when a local date can
/// change); a new time zone can put the day behind at once, and must not wait for the next.
#[tokio::test]
async fn a_time_zone_change_resets_at_the_next_tick_not_the_next_quarter_hour() {
    let up = FakeUpstream::start().await;
    let app = midnight_board(&up).await;
    // The same instant is 07:50 the next day in Tokyo.
    assert_eq!(reset_at_midnight(&app, "Asia/Tokyo").await, 200);
    app.service.ingest.tick().await.unwrap();
    assert_eq!(app.json("/api/queues", TOKEN_A).await["queues"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn the_service_level_threshold_is_a_per_token_setting() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("queue.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;
    let put = app
        .http
        .put(app.url("/api/settings"))
        .bearer_auth(TOKEN_A)
        .json(&json!({"service_level_s": 40}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let q = support(&app.json("/api/queues", TOKEN_A).await);
    assert_eq!(q["service_level_pct"], 50.0);
    assert_eq!(q["service_level_s"], 40.0);
    app.stop().await;
}
