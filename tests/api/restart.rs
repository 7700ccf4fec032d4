//! Restarts lose nothing: after a clean stop or a `kill -9`, the live state (calls in
//! progress, waiting callers, figures since the last reset) is rebuilt from the store, and the
//! feed resumes from the session stored with the last committed events.

use crate::binary::serve;
use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn a_clean_restart_rebuilds_the_live_state_and_resumes_the_session() {
    let up = FakeUpstream::start().await;
    let queue = answers("queue.v1.jsonl");
    let lines = answers("lines.v1.jsonl");
    let half = queue
        .iter()
        .position(|a| a.contains("\"bridge-agent-end\""))
        .unwrap();
    let ringing = lines
        .iter()
        .position(|a| a.contains("start_ringing"))
        .unwrap();
    up.push(TOKEN_A, queue[..half].to_vec());
    up.push(TOKEN_A, lines[..=ringing].to_vec());
    let db = temp_db();
    let app = spawn_app_on(&up, &db).await;
    up.idle(TOKEN_A).await;
    let before = (
        app.json("/api/queues", TOKEN_A).await,
        app.json("/api/calls", TOKEN_A).await,
        app.json("/api/lines", TOKEN_A).await,
    );
    assert_eq!(before.0["queues"][0]["in_call"], 2);
    // The queue's two conversations ring through to the agents' lines, plus the ringing call.
    assert_eq!(before.1["calls"].as_array().unwrap().len(), 3);
    app.stop().await;
    up.forget_held_polls(TOKEN_A);

    let polls_before = up.sessions(TOKEN_A).len();
    let app = spawn_app_on(&up, &db).await;
    up.push(TOKEN_A, queue[half..].to_vec());
    up.idle(TOKEN_A).await;
    let resumed = &up.sessions(TOKEN_A)[polls_before];
    assert_eq!(
        resumed.as_deref(),
        Some("S1"),
        "the stored session is passed on the first poll"
    );
    let q = app.json("/api/queues", TOKEN_A).await["queues"][0].clone();
    assert!(
        same(&expected()["queue.v1.jsonl"]["queues"]["0033972100100"], &q),
        "{q}"
    );
    let calls = app.json("/api/calls", TOKEN_A).await;
    assert_eq!(
        calls["calls"].as_array().unwrap().len(),
        1,
        "the agents hung up; the ringing call still rings"
    );
    assert_eq!(calls["calls"][0]["call_id"], "36f675cc81e74ef5a8e25d94.");
    app.stop().await;
}

async fn get(base: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(TOKEN_A)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn kill_9_loses_nothing_committed() {
    let up = FakeUpstream::start().await;
    let queue = answers("queue.v1.jsonl");
    let half = queue
        .iter()
        .position(|a| a.contains("\"bridge-agent-end\""))
        .unwrap();
    up.push(TOKEN_A, queue[..half].to_vec());
    let db = temp_db();
    let mut first = serve(&up.url, TOKEN_A, &db, &[]);
    up.idle(TOKEN_A).await;
    let before = get(&first.base, "/api/queues").await;
    let history_before = get(&first.base, "/api/history").await;
    first.child.kill().unwrap(); // SIGKILL: no shutdown, no final snapshot.
    first.child.wait().unwrap();
    up.forget_held_polls(TOKEN_A);

    let mut second = serve(&up.url, TOKEN_A, &db, &[]);
    let after = get(&second.base, "/api/queues").await;
    assert_eq!(
        after["queues"], before["queues"],
        "waiting and talking callers and the figures survive"
    );
    assert_eq!(get(&second.base, "/api/history").await, history_before);
    up.push(TOKEN_A, queue[half..].to_vec());
    up.idle(TOKEN_A).await;
    let q = get(&second.base, "/api/queues").await["queues"][0].clone();
    assert!(
        same(&expected()["queue.v1.jsonl"]["queues"]["0033972100100"], &q),
        "{q}"
    );
    assert_eq!(
        get(&second.base, "/api/queue-journal").await["entries"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}
