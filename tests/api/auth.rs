//! Authentication: bearer tokens and login cookies, refusals, rate limiting, cross-site
//! protection, and tokens added at the login page.

use crate::helpers::*;
use serde_json::{json, Value};

const ROUTES: &[&str] = &[
    "/api/lines",
    "/api/calls",
    "/api/queues",
    "/api/history",
    "/api/history.csv",
    "/api/queue-journal",
    "/api/queue-journal.csv",
    "/api/events",
    "/api/settings",
    "/api/health",
    "/api/stream",
];

#[tokio::test]
async fn every_api_route_needs_credentials() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    for route in ROUTES {
        let res = app.http.get(app.url(route)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{route}");
        let body: Value = res.json().await.unwrap();
        assert!(body["error"].is_string(), "{route}");
        // A well-formed token that is not followed is refused too.
        assert_eq!(app.get(route, TOKEN_B).await.status(), 401, "{route}");
    }
    for (method, route) in [
        ("POST", "/api/reset"),
        ("PUT", "/api/settings"),
        ("POST", "/api/logout"),
    ] {
        let res = app
            .http
            .request(method.parse().unwrap(), app.url(route))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{route}");
    }
    let garbled = app
        .http
        .get(app.url("/api/lines"))
        .header("authorization", "Bearer nope")
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status(), 401);
    // Health needs nothing.
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Security headers on every answer.
    let res = app.get("/api/lines", TOKEN_A).await;
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["cache-control"], "no-store");
    app.stop().await;
}

#[tokio::test]
async fn login_sets_a_cookie_that_works_until_logout() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    let res = app.login(&format!("  {}  ", TOKEN_A.to_lowercase())).await;
    assert_eq!(res.status(), 200);
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = session_cookie(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_hint"], "3F25…");
    assert!(!body.to_string().contains(TOKEN_A));

    let lines = app
        .http
        .get(app.url("/api/lines"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(lines.status(), 200);
    // A state change from another site is refused; from our own origin it passes.
    let cross = app
        .http
        .post(app.url("/api/reset"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let same = app
        .http
        .post(app.url("/api/reset"))
        .header("cookie", &cookie)
        .header("origin", &app.base)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);

    let out = app
        .http
        .post(app.url("/api/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = app
        .http
        .get(app.url("/api/lines"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    let forged = app
        .http
        .get(app.url("/api/lines"))
        .header("cookie", "ovh_cti_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn malformed_logins_are_400_naming_the_field() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    for body in [
        json!({"token": "not-a-token"}),
        json!({"token": 42}),
        json!({}),
        json!("x"),
    ] {
        let res = app
            .http
            .post(app.url("/api/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["field"], "token");
    }
    let not_json = app
        .http
        .post(app.url("/api/login"))
        .body("token=abc")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn a_new_token_typed_at_login_is_followed() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_B, answers("lines.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    assert_eq!(up.polls(TOKEN_B), 0);
    let res = app.login(TOKEN_B).await;
    assert_eq!(res.status(), 200);
    let cookie = session_cookie(&res);
    up.idle(TOKEN_B).await;
    let history: Value = app
        .http
        .get(app.url("/api/history"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["calls"].as_array().unwrap().len(), 8);
    // Token A's account sees none of B's numbers.
    assert_eq!(app.json("/api/lines", TOKEN_A).await["lines"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn with_no_new_tokens_an_unknown_token_is_refused() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(
        &up,
        Options {
            no_new_tokens: true,
            ..Options::default()
        },
    )
    .await;
    let res = app.login(TOKEN_B).await;
    assert_eq!(res.status(), 401);
    assert_eq!(up.polls(TOKEN_B), 0);
    assert_eq!(app.login(TOKEN_A).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn too_many_login_attempts_get_429() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(
        &up,
        Options {
            login_burst: 3,
            ..Options::default()
        },
    )
    .await;
    for _ in 0..3 {
        assert_eq!(app.login("nope").await.status(), 400);
    }
    let res = app.login(TOKEN_A).await;
    assert_eq!(res.status(), 429, "even a good token waits its turn");
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("too many"));
    app.stop().await;
}

#[tokio::test]
async fn logging_in_again_with_a_followed_token_is_never_rate_limited() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(
        &up,
        Options {
            login_burst: 3,
            ..Options::default()
        },
    )
    .await;
    for _ in 0..10 {
        assert_eq!(app.login(TOKEN_A).await.status(), 200);
    }
    app.stop().await;
}

#[tokio::test]
async fn new_tokens_are_refused_once_the_service_follows_as_many_as_allowed() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(
        &up,
        Options {
            max_tokens: 1,
            ..Options::default()
        },
    )
    .await;
    let res = app.login(TOKEN_B).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("as many tokens"));
    assert_eq!(up.polls(TOKEN_B), 0);
    assert_eq!(
        app.login(TOKEN_A).await.status(),
        200,
        "a followed token still logs in"
    );
    app.stop().await;
}

#[tokio::test]
async fn secure_cookies_are_marked_secure() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(
        &up,
        Options {
            secure_cookies: true,
            ..Options::default()
        },
    )
    .await;
    let res = app.login(TOKEN_A).await;
    let set = res.headers()["set-cookie"].to_str().unwrap();
    assert!(set.contains("; Secure"), "{set}");
    app.stop().await;
}
