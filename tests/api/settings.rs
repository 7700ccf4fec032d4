//! Settings over HTTP: defaults, partial updates that persist, and refusals that name the
//! field and change nothing.

use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn settings_round_trip_and_refusals() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(
        &up,
        Options {
            tokens: vec![TOKEN_A, TOKEN_B],
            ..Options::default()
        },
    )
    .await;
    let defaults = app.json("/api/settings", TOKEN_A).await;
    assert_eq!(defaults["service_level_s"], 20);
    assert_eq!(defaults["timezone"], "Europe/Paris");
    assert_eq!(defaults["screen_pop"]["mode"], "modal");
    assert_eq!(
        defaults["screen_pop"]["events"],
        json!(["start_ringing", "member-queue-start"])
    );

    let change = json!({"screen_pop": {"enabled": true, "mode": "popup", "url": "https://crm.example/lookup?n=*CALLING*"}, "display": {"only_active": true}});
    let res = app
        .http
        .put(app.url("/api/settings"))
        .bearer_auth(TOKEN_A)
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let saved = app.json("/api/settings", TOKEN_A).await;
    assert_eq!(
        saved["screen_pop"]["url"],
        "https://crm.example/lookup?n=*CALLING*"
    );
    assert_eq!(saved["screen_pop"]["mode"], "popup");
    assert_eq!(saved["display"]["only_active"], true);
    assert_eq!(
        saved["display"]["reset_at_midnight"], false,
        "untouched keys keep their value"
    );
    // Another token's settings are its own.
    assert_eq!(app.json("/api/settings", TOKEN_B).await, defaults);

    for (patch, field) in [
        (
            json!({"screen_pop": {"url": "ftp://x.example/"}}),
            "screen_pop.url",
        ),
        (json!({"screen_pop": {"mode": "loud"}}), "screen_pop.mode"),
        (json!({"service_level_s": -3}), "service_level_s"),
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"colour": "blue"}), "colour"),
    ] {
        let res = app
            .http
            .put(app.url("/api/settings"))
            .bearer_auth(TOKEN_A)
            .json(&patch)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{patch}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["field"], field, "{patch}: {err}");
    }
    let garbage = app
        .http
        .put(app.url("/api/settings"))
        .bearer_auth(TOKEN_A)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    assert_eq!(
        app.json("/api/settings", TOKEN_A).await,
        saved,
        "nothing changed by refused updates"
    );
    app.stop().await;
}
