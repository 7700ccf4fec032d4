//! Authentication: bearer tokens and login cookies, refusals, rate limiting (per client
//! address, behind trusted proxies too), cross-site protection of the login itself, and
//! tokens added at the login page.

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
    // A body that is not declared as JSON is not read at all: a form on another site can
    // send `text/plain` or a form encoding, never `application/json` without CORS.
    for (content_type, body) in [
        (None, "token=abc".to_string()),
        (Some("text/plain"), json!({"token": TOKEN_A}).to_string()),
        (
            Some("application/x-www-form-urlencoded"),
            format!("token={TOKEN_A}"),
        ),
    ] {
        let mut req = app.http.post(app.url("/api/login")).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 415, "{content_type:?}");
        assert!(res.headers().get("set-cookie").is_none());
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["reason"], "not_json");
    }
    app.stop().await;
}

#[tokio::test]
async fn login_csrf_a_login_from_another_origin_is_refused() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    let login = |origin: Option<&str>, fetch_site: Option<&str>| {
        let mut req = app
            .http
            .post(app.url("/api/login"))
            .json(&json!({"token": TOKEN_A}));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(s) = fetch_site {
            req = req.header("sec-fetch-site", s);
        }
        req.send()
    };
    for (origin, site) in [
        (Some("http://127.0.0.1:1"), None),
        (Some("https://evil.example"), Some("cross-site")),
        (None, Some("cross-site")),
        (Some(app.base.as_str()), Some("same-site")),
        (Some("null"), None),
    ] {
        let res = login(origin, site).await.unwrap();
        assert_eq!(res.status(), 403, "{origin:?} {site:?}");
        assert!(res.headers().get("set-cookie").is_none());
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["reason"], "cross_site");
    }
    // The dashboard's own page, and clients that are not browsers (no Origin), sign in.
    let own = login(Some(app.base.as_str()), Some("same-origin"))
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(login(None, None).await.unwrap().status(), 200);
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

const TOKEN_C: &str = "C0FFEE00-1C3E-4F5A-8B7C-0D1E2F3A4B5C";

#[tokio::test]
async fn the_login_rate_limit_locked_out_the_right_token_too() {
    let up = FakeUpstream::start().await;
    up.refuse_unknown_tokens();
    up.accept(TOKEN_B);
    let app = spawn_app(
        &up,
        Options {
            login_burst: 3,
            ..Options::default()
        },
    )
    .await;
    // Someone else at this address fails three times: its failures are used up.
    for _ in 0..3 {
        assert_eq!(app.login("nope").await.status(), 400);
    }
    let res = app.login("nope").await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("too many"));
    assert_eq!(body["reason"], "rate_limited");
    // A token the service follows is not a guess: never throttled.
    assert_eq!(app.login(TOKEN_A).await.status(), 200);
    // A new token OVH accepts gets in too, through the one check that addresses over their
    // budget share per refill period (six seconds at ten a minute)...
    assert_eq!(app.login(TOKEN_B).await.status(), 200);
    // ... which it has just used: a guess right after waits.
    assert_eq!(app.login(TOKEN_C).await.status(), 429);
    assert_eq!(up.polls(TOKEN_C), 0, "OVH was not asked");
    app.clock.advance(10.0);
    let res = app.login(TOKEN_C).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["reason"], "ovh_refused");
    app.stop().await;
}

/// A login from the client at `addr` as a proxy on 127.0.0.1 forwards it.
async fn login_via_proxy(app: &TestApp, addr: &str, token: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/login"))
        .header("x-forwarded-for", format!("198.51.100.1, {addr}"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_limit() {
    let up = FakeUpstream::start().await;
    let trusting = spawn_app(
        &up,
        Options {
            login_burst: 2,
            trusted_proxies: vec!["127.0.0.1/32"],
            ..Options::default()
        },
    )
    .await;
    for _ in 0..2 {
        assert_eq!(
            login_via_proxy(&trusting, "203.0.113.5", "nope")
                .await
                .status(),
            400
        );
    }
    assert_eq!(
        login_via_proxy(&trusting, "203.0.113.5", "nope")
            .await
            .status(),
        429
    );
    assert_eq!(
        login_via_proxy(&trusting, "203.0.113.6", "nope")
            .await
            .status(),
        400,
        "another client behind the same proxy"
    );
    trusting.stop().await;

    // Without --trusted-proxy the header is the client's word: ignored.
    let plain = spawn_app(
        &up,
        Options {
            login_burst: 2,
            ..Options::default()
        },
    )
    .await;
    for addr in ["203.0.113.5", "203.0.113.6"] {
        assert_eq!(login_via_proxy(&plain, addr, "nope").await.status(), 400);
    }
    assert_eq!(
        login_via_proxy(&plain, "203.0.113.7", "nope")
            .await
            .status(),
        429,
        "a forged X-Forwarded-For does not buy new attempts"
    );
    plain.stop().await;
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
    // Served over HTTPS: browsers are told to keep to it.
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookie = session_cookie(&res);
    let page = app.http.get(app.url("/login")).send().await.unwrap();
    assert!(page.headers().contains_key("strict-transport-security"));
    // The cookie that signs out is as Secure as the one that signed in.
    let out = app
        .http
        .post(app.url("/api/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let clear = out.headers()["set-cookie"].to_str().unwrap();
    assert!(
        clear.contains("Max-Age=0") && clear.contains("; Secure"),
        "{clear}"
    );
    app.stop().await;
}

#[tokio::test]
async fn without_secure_cookies_there_is_no_hsts() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    let res = app.login(TOKEN_A).await;
    assert!(!res.headers().contains_key("strict-transport-security"));
    assert!(!res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Secure"));
    app.stop().await;
}
