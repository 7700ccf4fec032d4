//! The feed survives what OVH does wrong: 502s, bodies cut in the middle, odd payloads,
//! session changes, expired v2 sessions — and never lets the token out.

use crate::helpers::*;
use ovh_cti::feed::Api;
use serde_json::Value;
use std::time::Duration;

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

/// The first answer, then `faults`, then the rest of the fixture: the session each poll passed.
async fn sessions_through(faults: &[&str]) -> (Vec<Option<String>>, Value) {
    let up = FakeUpstream::start().await;
    let script = answers("lines.v1.jsonl");
    let mut pushed = vec![script[0].clone()];
    pushed.extend(faults.iter().map(|f| f.to_string()));
    pushed.extend(script[1..].iter().cloned());
    up.push(TOKEN_A, pushed);
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;
    let events = app.json("/api/events?limit=100", TOKEN_A).await;
    let health = app.json("/api/health", TOKEN_A).await;
    assert_eq!(
        events["events"].as_array().unwrap().len(),
        script
            .iter()
            .map(|a| serde_json::from_str::<Value>(a).unwrap()["Events"]
                .as_array()
                .unwrap()
                .len())
            .sum::<usize>(),
        "every event kept"
    );
    app.stop().await;
    (up.sessions(TOKEN_A), health)
}

#[tokio::test]
async fn a_burst_of_502s_and_cut_answers_keeps_the_session() {
    // The session was dropped after three failures in a row: OVH's queued events went with it.
    let bad = r#"{"__status__": 502, "__body__": "<html>502 Bad Gateway</html>"}"#;
    let cut = r#"{"__status__": 200, "__body__": "{\"Session\": \"S1\", \"Events\": [{\"Ev"}"#;
    let (sessions, health) = sessions_through(&[bad, bad, cut, bad, bad, cut, bad]).await;
    assert_eq!(sessions[0], None);
    assert!(
        sessions[1..].iter().all(|s| s.as_deref() == Some("S1")),
        "never a new session for an outage: {sessions:?}"
    );
    assert_eq!(health["feeds"][0]["reconnects"], 7);
}

#[tokio::test]
async fn a_dead_v1_session_is_replaced_on_the_first_answer_in_either_form() {
    // It took three failed polls (and a "not JSON" warning for the text form) to give up.
    let not_found = r#"{"__status__": 404, "__body__": "Not Found"}"#;
    let reconnect = r#"{"__status__": 200, "__body__": "Timeout, please reconnect"}"#;
    let (sessions, health) = sessions_through(&[not_found]).await;
    assert_eq!(&sessions[..3], [None, Some("S1".into()), None]);
    assert_eq!(health["feeds"][0]["reconnects"], 1);
    let (sessions, _) = sessions_through(&[reconnect]).await;
    assert_eq!(&sessions[..3], [None, Some("S1".into()), None]);
}

/// Turns a real failure of the database on or off on the service's one writer.
async fn store_fault(app: &TestApp, sql: &'static str) {
    app.service
        .ingest
        .write(move |w| {
            w.connection().execute_batch(sql)?;
            Ok(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn while_the_store_cannot_write_the_board_stays_served_and_nothing_is_lost() {
    // The session was dropped after three failed commits (1,950 of 3,076 events lost), and
    // the board with it: every dashboard was sent back to the login page with a 401.
    let sqlite_faults = [
        ("PRAGMA query_only = 1", "PRAGMA query_only = 0", "readonly"),
        (
            "PRAGMA max_page_count = 1",
            "PRAGMA max_page_count = 1073741823",
            "full",
        ),
    ];
    // PostgreSQL's read-only session is its refusal to write; a full disk has no cheap
    // equivalent there (no per-session cap on the database's size).
    let postgres_faults = [(
        "SET default_transaction_read_only = on",
        "SET default_transaction_read_only = off",
        "read-only",
    )];
    let faults: &[_] = if on_postgres() {
        eprintln!(
            "while_the_store_cannot_write_the_board_stays_served_and_nothing_is_lost: the full \
             disk is skipped on PostgreSQL: it has no per-session cap on the database's size"
        );
        &postgres_faults
    } else {
        &sqlite_faults
    };
    for &(break_it, mend_it, error) in faults {
        let up = FakeUpstream::start().await;
        // Lines and a queue: a board that applied a retried batch twice would count wrong.
        let mut script = answers("lines.v1.jsonl");
        script.extend(answers("queue.v1.jsonl"));
        let (before, during) = script.split_at(6);
        up.push(TOKEN_A, before.to_vec());
        let app = spawn_app(&up, Options::default()).await;
        up.idle(TOKEN_A).await;
        let lines_before = app.json("/api/lines", TOKEN_A).await;

        store_fault(&app, break_it).await;
        up.push(TOKEN_A, during.to_vec());
        let health = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let h = app.json("/api/health", TOKEN_A).await;
                if h["store"]["state"] == "failing" {
                    return h;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the store is reported failing");
        assert!(
            health["store"]["last_error"]
                .as_str()
                .unwrap()
                .contains(error),
            "{health}"
        );
        assert_eq!(health["feeds"][0]["store"]["state"], "failing");
        // Still signed in, still served: the state as it was before the fault.
        for path in ["/api/me", "/api/queues", "/api/calls"] {
            assert_eq!(app.get(path, TOKEN_A).await.status(), 200, "{path}");
        }
        let lines_during = app.json("/api/lines", TOKEN_A).await;
        assert_eq!(
            lines_during["lines"].as_array().unwrap().len(),
            lines_before["lines"].as_array().unwrap().len()
        );
        // A write asked for meanwhile is refused as "try again", never as an internal error
        // (on a full disk it may also succeed: a reset rewrites pages the file already has).
        let reset = app
            .http
            .post(app.url("/api/reset"))
            .bearer_auth(TOKEN_A)
            .send()
            .await
            .unwrap();
        let allowed: &[u16] = if error != "full" { &[503] } else { &[200, 503] };
        assert!(
            allowed.contains(&reset.status().as_u16()),
            "{error}: {}",
            reset.status()
        );

        store_fault(&app, mend_it).await;
        up.idle(TOKEN_A).await;
        let health = app.json("/api/health", TOKEN_A).await;
        assert_eq!(health["store"]["state"], "ok");
        let events = app.json("/api/events?limit=100", TOKEN_A).await;
        let total: usize = script
            .iter()
            .map(|a| {
                serde_json::from_str::<Value>(a).unwrap()["Events"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .sum();
        assert_eq!(events["events"].as_array().unwrap().len(), total, "{error}");
        let truth = expected();
        let calls = truth["lines.v1.jsonl"]["calls"].as_array().unwrap().len()
            + truth["queue.v1.jsonl"]["agent_line_calls"]
                .as_array()
                .unwrap()
                .len();
        let history = app.json("/api/history?limit=100", TOKEN_A).await;
        assert_eq!(history["calls"].as_array().unwrap().len(), calls, "{error}");
        let journal = app.json("/api/queue-journal?limit=100", TOKEN_A).await;
        assert_eq!(
            journal["entries"].as_array().unwrap().len(),
            truth["queue.v1.jsonl"]["journal"].as_array().unwrap().len(),
            "{error}"
        );
        let q = app.json("/api/queues", TOKEN_A).await["queues"][0].clone();
        assert!(
            same(&truth["queue.v1.jsonl"]["queues"]["0033972100100"], &q),
            "{error}: {q}"
        );
        assert!(
            up.sessions(TOKEN_A)[1..]
                .iter()
                .all(|s| s.as_deref() == Some("S1")),
            "the session was kept"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn a_poll_hanging_past_ovhs_hold_shows_as_stalled() {
    // It showed "connected" for the whole 65 s of the client's time-out.
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;
    app.clock.advance(60.0);
    let health = app.json("/api/health", TOKEN_A).await;
    assert_eq!(health["status"], "stalled", "{health}");
    assert!(health["feeds"][0]["stalled_for_s"].as_f64().unwrap() >= 60.0);
    app.stop().await;
}

#[tokio::test]
async fn an_answer_on_the_wire_at_shutdown_is_committed_before_the_service_exits() {
    // 340 events were lost in 5 of 12 stops: the answer OVH had sent was dropped mid-flight.
    let up = FakeUpstream::start().await;
    let script = answers("lines.v1.jsonl");
    up.push(TOKEN_A, [script[0].clone()]);
    let (app, db) = spawn_app_with_db(&up).await;
    up.idle(TOKEN_A).await;
    let trickling = up.trickling();
    let last = serde_json::json!({"__trickle_ms__": 50, "__body__": script[1]}).to_string();
    up.push(TOKEN_A, [last]);
    trickling.await;
    app.stop().await;
    let stored: i64 = open_db(&db)
        .query_row("SELECT COUNT(*) FROM events", (), |r| r.get(0))
        .unwrap();
    let sent = |a: &String| {
        serde_json::from_str::<Value>(a).unwrap()["Events"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(stored as usize, sent(&script[0]) + sent(&script[1]));
}

/// A 200 MB answer once took 768 MB of memory, and an endless one grew at wire speed until
/// the poll's time-out: both are now dropped as soon as they pass the cap, the session is
/// kept, and the next answer is read as usual.
#[tokio::test]
async fn oversized_and_endless_answers_are_dropped_and_the_feed_goes_on() {
    let up = FakeUpstream::start().await;
    let mut script = answers("lines.v1.jsonl");
    script.insert(1, r#"{"__huge__": 200000000}"#.to_string());
    script.insert(2, r#"{"__endless__": true}"#.to_string());
    let all = script.len();
    up.push(TOKEN_A, script);
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;

    let health = app.json("/api/health", TOKEN_A).await;
    let feed = &health["feeds"][0];
    assert_eq!(feed["state"], "connected", "{feed}");
    assert!(feed["reconnects"].as_u64().unwrap() >= 2, "{feed}");
    // Every call of the answers that followed was kept.
    let history = app.json("/api/history", TOKEN_A).await;
    assert_eq!(
        history["calls"].as_array().unwrap().len(),
        expected()["lines.v1.jsonl"]["calls"]
            .as_array()
            .unwrap()
            .len()
    );
    // Neither dropped answer cost the session: every poll but the first passed one.
    let sessions = up.sessions(TOKEN_A);
    assert!(sessions.len() > all, "{sessions:?}");
    assert_eq!(up.first_polls(TOKEN_A), 1, "{sessions:?}");
    assert!(app.counter("answers_too_large_total").await >= 2);
    app.stop().await;
}
