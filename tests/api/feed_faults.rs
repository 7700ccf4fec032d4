//! The feed survives what OVH does wrong: 502s, bodies cut in the middle, odd payloads,
//! session changes, expired v2 sessions — and never lets the token out.

use crate::helpers::*;
use ovh_cti::feed::Api;
use serde_json::Value;

#[tokio::test]
async fn oddities_are_survived_and_nothing_is_lost() {
    let up = FakeUpstream::start().await;
    let mut script = answers("oddities.v1.jsonl");
    // A 502 whose body echoes the token: it must not reach the health report.
    script.insert(
        0,
        format!(r#"{{"__status__": 502, "__body__": "bad gateway for token {FIXTURE_TOKEN}"}}"#),
    );
    up.push(TOKEN_A, script);
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;

    // Every good event was kept, the unknown type included, in arrival order.
    let events = app.json("/api/events?limit=100", TOKEN_A).await;
    let names: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["registered", "start_ringing", "hold_start", "end_ringing"]
    );
    let odd = &events["events"][2];
    assert!(odd["calling"].is_null());
    assert_eq!(
        odd["description"].as_str().unwrap(),
        "<img src=x onerror=alert(1)> Accueil – Société ☎ \"quoted\""
    );

    // The line is known with its description as text, and free again.
    let lines = app.json("/api/lines", TOKEN_A).await;
    assert_eq!(lines["lines"][0]["status"], "free");
    assert_eq!(
        lines["lines"][0]["simultaneous_lines"], 2,
        "a number given as a JSON number"
    );

    // The session change was followed: the next poll passed S2.
    let sessions = up.sessions(TOKEN_A);
    assert_eq!(sessions.first(), Some(&None));
    assert_eq!(
        sessions.last(),
        Some(&Some("S2".to_string())),
        "{sessions:?}"
    );

    // Health saw the failures, without the token.
    let health = app.json("/api/health", TOKEN_A).await;
    let feed = &health["feeds"][0];
    assert_eq!(feed["state"], "connected");
    assert!(feed["reconnects"].as_u64().unwrap() >= 3, "{feed}");
    let error = feed["last_error"].as_str().unwrap();
    assert!(
        !error.to_ascii_uppercase().contains(FIXTURE_TOKEN),
        "{error}"
    );
    let everything = format!("{health}{events}{lines}");
    assert!(!everything.to_ascii_uppercase().contains(TOKEN_A));
    app.stop().await;
}

#[tokio::test]
async fn errors_are_reported_in_health_without_the_token() {
    let up = FakeUpstream::start().await;
    up.push(
        TOKEN_A,
        [format!(
            r#"{{"__status__": 500, "__body__": "no such token {TOKEN_A}"}}"#
        )],
    );
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;
    let feed = app.json("/api/health", TOKEN_A).await["feeds"][0].clone();
    assert_eq!(
        feed["last_error"],
        "OVH answered HTTP 500: no such token [token]"
    );
    assert_eq!(feed["token_hint"], "3F25…");
    app.stop().await;
}

#[tokio::test]
async fn a_dead_upstream_is_retried_and_reported_as_failing() {
    // Nothing listens on this port: connection refused, again and again.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let up = FakeUpstream::start().await.at(dead);
    let app = spawn_app(&up, Options::default()).await;
    let mut health: Value;
    loop {
        health = app.json("/api/health", TOKEN_A).await;
        if health["feeds"][0]["reconnects"].as_u64().unwrap_or(0) >= 3 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(health["status"], "failing");
    let error = health["feeds"][0]["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("network error: could not connect"),
        "{error}"
    );
    assert!(!error.contains("token="), "no URL in errors: {error}");
    app.stop().await;
}

#[tokio::test]
async fn api_v2_polls_and_resubscribes_when_its_session_expires() {
    let up = FakeUpstream::start().await;
    let v2: Vec<Value> = serde_json::from_str(&fixture("queue.v2.poll.json")).unwrap();
    let (first, rest) = v2.split_at(2);
    up.push(TOKEN_A, [serde_json::to_string(first).unwrap()]);
    let app = spawn_app(
        &up,
        Options {
            api: Api::V2,
            ..Options::default()
        },
    )
    .await;
    up.idle(TOKEN_A).await;
    assert_eq!(up.v2_sessions_created(), 1);
    up.expire_v2_sessions(1);
    up.push(TOKEN_A, [serde_json::to_string(rest).unwrap()]);
    up.idle(TOKEN_A).await;
    assert_eq!(
        up.v2_sessions_created(),
        2,
        "a new session after 'Timeout, please reconnect'"
    );
    let events = app.json("/api/events?limit=100", TOKEN_A).await;
    assert_eq!(events["events"].as_array().unwrap().len(), v2.len());
    let queues = app.json("/api/queues", TOKEN_A).await;
    assert_eq!(queues["queues"][0]["entered"], 2);
    assert_eq!(
        app.json("/api/health", TOKEN_A).await["feeds"][0]["api"],
        "v2"
    );
    app.stop().await;
}
