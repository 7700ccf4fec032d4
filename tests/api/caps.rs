//! Issue 8's input checks on the real service: settings of the wrong type or size are refused
//! naming the field and change nothing, a bad id in a path is a JSON 400 like every other
//! refusal, and the search box's `%` and `_` are plain characters.

use crate::helpers::*;
use serde_json::{json, Value};

async fn put_settings(app: &TestApp, body: String) -> (u16, Value) {
    let res = app
        .http
        .put(app.url("/api/settings"))
        .bearer_auth(TOKEN_A)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert!(
        text.len() < 1024,
        "the answer stays short: {} bytes",
        text.len()
    );
    (status, serde_json::from_str(&text).unwrap())
}

#[tokio::test]
async fn settings_of_the_wrong_type_or_size_are_refused_and_change_nothing() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    let (status, saved) = put_settings(
        &app,
        json!({"screen_pop": {"enabled": true, "mode": "popup", "url": "https://crm.example/?n=*CALLING*"}})
            .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{saved}");

    let huge = "x".repeat(1_900_000);
    let many: Vec<String> = (0..501).map(|i| format!("00339721{i:05}")).collect();
    for (patch, field) in [
        // Read as a screen pop with every field defaulted, it used to reset the screen pop.
        (json!({"screen_pop": []}), "screen_pop"),
        (json!({"display": [true, true]}), "display"),
        (
            json!({"screen_pop": {"url": format!("https://crm.example/?n={huge}")}}),
            "screen_pop.url",
        ),
        (json!({"screen_pop": {"mode": huge}}), "screen_pop.mode"),
        (
            json!({"screen_pop": {"numbers": many}}),
            "screen_pop.numbers",
        ),
        (
            json!({"screen_pop": {"events": [huge]}}),
            "screen_pop.events",
        ),
        (json!({"timezone": huge}), "timezone"),
        // A silent pop is requested by the service: an address it will never send to is
        // refused now, not queued on every call.
        (
            json!({"screen_pop": {"mode": "silent", "url": "http://127.0.0.1:8080/crm"}}),
            "screen_pop.url",
        ),
        (
            json!({"screen_pop": {"mode": "silent", "url": "http://[::ffff:0:7f00:1]/crm"}}),
            "screen_pop.url",
        ),
        (
            json!({"screen_pop": {"mode": "silent", "url": "http://localhost/crm"}}),
            "screen_pop.url",
        ),
    ] {
        let (status, err) = put_settings(&app, patch.to_string()).await;
        assert_eq!((status, err["field"].as_str()), (400, Some(field)), "{err}");
    }
    // An unknown key of two megabytes is named, but not quoted back in full.
    let (status, err) = put_settings(&app, format!("{{\"{huge}\": 1}}")).await;
    assert_eq!(status, 400);
    assert!(err["field"].as_str().unwrap().starts_with("xxx"));
    assert_eq!(
        app.json("/api/settings", TOKEN_A).await,
        saved,
        "nothing changed by refused updates"
    );
    // A popup opens in the browser, which may reach an office CRM: a private address is fine.
    let (status, _) = put_settings(
        &app,
        json!({"screen_pop": {"url": "http://192.168.1.10/crm?n=*CALLING*"}}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    app.stop().await;
}

/// Issue 8: `/api/webhooks/abc` answered axum's plain-text 400.
#[tokio::test]
async fn a_bad_id_in_a_path_is_a_json_400_naming_it() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    for (method, path) in [
        (reqwest::Method::DELETE, "/api/webhooks/abc"),
        (reqwest::Method::POST, "/api/webhooks/abc/test"),
        (reqwest::Method::POST, "/api/webhooks/1e3/enable"),
        (
            reqwest::Method::DELETE,
            "/api/webhooks/99999999999999999999",
        ),
        (reqwest::Method::DELETE, "/api/webhooks/%20"),
    ] {
        let res = app
            .http
            .request(method, app.url(path))
            .bearer_auth(TOKEN_A)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["field"], "id", "{path}: {err}");
    }
    // A well-formed id that is not there is still a 404.
    let res = app
        .http
        .delete(app.url("/api/webhooks/12"))
        .bearer_auth(TOKEN_A)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    app.stop().await;
}

/// Issue 8: `%` and `_` typed in `q` acted as LIKE's wildcards (`q=%` matched every call).
#[tokio::test]
async fn the_search_box_takes_percent_and_underscore_literally() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    up.push(TOKEN_A, answers("queue.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;
    let rows = |v: Value, key: &str| v[key].as_array().unwrap().len();
    assert_eq!(
        rows(app.json("/api/history?q=45678", TOKEN_A).await, "calls"),
        2
    );
    assert!(
        rows(
            app.json("/api/queue-journal?q=0033", TOKEN_A).await,
            "entries"
        ) > 0
    );
    for q in ["%25", "_", "0033_72", "0033%2572", "%5C"] {
        let calls = app.json(&format!("/api/history?q={q}"), TOKEN_A).await;
        assert_eq!(rows(calls, "calls"), 0, "q={q}");
        let journal = app
            .json(&format!("/api/queue-journal?q={q}"), TOKEN_A)
            .await;
        assert_eq!(rows(journal, "entries"), 0, "q={q}");
    }
    app.stop().await;
}
