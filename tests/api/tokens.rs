//! Followed tokens: a new token typed at login is checked with OVH first and followed only if
//! OVH accepts it (without losing what that first request brought); checks are capped; a
//! token OVH refuses for days is paused; operators list, pause, resume and remove tokens from
//! the command line, and a token's own user removes it from the dashboard.

use crate::helpers::*;
use ovh_cti::feed::Api;
use ovh_cti::token::Token;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

const TOKEN_C: &str = "C0FFEE00-1C3E-4F5A-8B7C-0D1E2F3A4B5C";

fn id(token: &str) -> String {
    Token::parse(token).unwrap().id().to_string()
}

/// The tokens stored in the database file, without their secrets.
fn stored(db: &std::path::Path) -> Vec<ovh_cti::store::tokens::TokenRow> {
    let conn = open_db(db);
    ovh_cti::store::tokens::list(&conn).unwrap()
}

pub(crate) fn tokens_cmd(db: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ovh-cti"))
        .arg("tokens")
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("OVH_CTI_DB")
        .output()
        .unwrap()
}

async fn error_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn any_uuid_logged_in_and_was_followed_for_ever() {
    let up = FakeUpstream::start().await;
    up.refuse_unknown_tokens();
    up.accept(TOKEN_A);
    let db = temp_db();
    let app = spawn_app_on(&up, &db).await;
    for _ in 0..3 {
        let (status, body) = error_of(app.login(TOKEN_B).await).await;
        assert_eq!(status, 401);
        assert_eq!(body["reason"], "ovh_refused");
        let message = body["error"].as_str().unwrap();
        assert!(
            message.starts_with("OVH does not know this token"),
            "{message}"
        );
        assert!(!message.to_ascii_uppercase().contains(TOKEN_B));
    }
    assert!(!app.service.follows(&Token::parse(TOKEN_B).unwrap().id()));
    assert_eq!(app.get("/api/lines", TOKEN_B).await.status(), 401);
    app.stop().await;
    let ids: Vec<String> = stored(&db).iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, [id(TOKEN_A)], "the refused token was never stored");
}

#[tokio::test]
async fn an_unreachable_ovh_is_told_apart_and_nothing_is_stored() {
    let up = FakeUpstream::start().await;
    up.push(
        TOKEN_B,
        [r#"{"__status__": 503, "__body__": "maintenance"}"#.to_string()],
    );
    let db = temp_db();
    let app = spawn_app_on(&up, &db).await;
    let (status, body) = error_of(app.login(TOKEN_B).await).await;
    assert_eq!(status, 502);
    assert_eq!(body["reason"], "ovh_unreachable");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .starts_with("OVH cannot be reached"));
    assert!(!app.service.follows(&Token::parse(TOKEN_B).unwrap().id()));
    // Nothing listens here at all.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = FakeUpstream::start()
        .await
        .at(format!("http://{}", listener.local_addr().unwrap()));
    drop(listener);
    let offline = spawn_app(&dead, Options::default()).await;
    let (status, body) = error_of(offline.login(TOKEN_B).await).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (502, Some("ovh_unreachable"))
    );
    offline.stop().await;
    app.stop().await;
    assert_eq!(stored(&db).len(), 1);
}

#[tokio::test]
async fn a_poll_ovh_holds_open_is_accepted_and_its_answer_reaches_the_follower() {
    let up = FakeUpstream::start().await;
    up.refuse_unknown_tokens();
    up.accept(TOKEN_B);
    let app = spawn_app(&up, Options::default()).await;
    // Nothing to say: the fake holds the check's poll; after the short wait it is accepted.
    let res = app.login(TOKEN_B).await;
    assert_eq!(res.status(), 200);
    let cookie = session_cookie(&res);
    // The held poll is the follower's first: what it brings is kept.
    up.push(TOKEN_B, answers("lines.v1.jsonl"));
    up.idle(TOKEN_B).await;
    let history: Value = app
        .get_with_cookie("/api/history", &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["calls"].as_array().unwrap().len(), 8);
    let first_polls = up.first_polls(TOKEN_B);
    assert_eq!(first_polls, 1, "one first poll: the check's, carried on");
    app.stop().await;
}

#[tokio::test]
async fn v2_checks_by_subscribing_and_hands_the_session_to_the_follower() {
    let up = FakeUpstream::start().await;
    up.refuse_unknown_tokens();
    up.accept(TOKEN_A);
    let app = spawn_app(
        &up,
        Options {
            api: Api::V2,
            ..Options::default()
        },
    )
    .await;
    // The configured token's follower has its session: only logins create sessions now.
    up.idle(TOKEN_A).await;
    let (status, body) = error_of(app.login(TOKEN_C).await).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("ovh_refused"))
    );
    let v2: Vec<Value> = serde_json::from_str(&fixture("queue.v2.poll.json")).unwrap();
    up.push(TOKEN_B, [serde_json::to_string(&v2).unwrap()]);
    let sessions_before = up.v2_sessions_created();
    assert_eq!(app.login(TOKEN_B).await.status(), 200);
    up.idle(TOKEN_B).await;
    assert_eq!(
        up.v2_sessions_created(),
        sessions_before + 1,
        "the check's session is the follower's"
    );
    let events = app.json("/api/events?limit=100", TOKEN_B).await;
    assert_eq!(events["events"].as_array().unwrap().len(), v2.len());
    app.stop().await;
}

#[tokio::test]
async fn pending_checks_are_capped_per_address_and_in_all() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(
        &up,
        Options {
            // Long enough that a held check is still pending while the others arrive.
            check_hold: Duration::from_secs(30),
            login_checks: 2,
            login_checks_per_address: 1,
            trusted_proxies: vec!["127.0.0.1"],
            ..Options::default()
        },
    )
    .await;
    let from = |addr: &'static str, token: &'static str| {
        app.http
            .post(app.url("/api/login"))
            .header("x-forwarded-for", addr)
            .json(&json!({ "token": token }))
            .send()
    };
    let first = tokio::spawn(from("203.0.113.1", TOKEN_B));
    up.idle(TOKEN_B).await;
    // The same address checks one token at a time.
    let (status, body) = error_of(from("203.0.113.1", TOKEN_C).await.unwrap()).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (429, Some("checks_busy"))
    );
    // The same token is not checked twice: a second login waits for the first check.
    let again = tokio::spawn(from("203.0.113.9", TOKEN_B));
    let second = tokio::spawn(from("203.0.113.2", TOKEN_C));
    up.idle(TOKEN_C).await;
    // Two checks run: the service as a whole takes no more.
    let third = "D0D0CACA-1C3E-4F5A-8B7C-0D1E2F3A4B5C";
    let (status, body) = error_of(from("203.0.113.3", third).await.unwrap()).await;
    assert_eq!((status, body["reason"].as_str()), (503, Some("busy")));
    assert_eq!(up.polls(third), 0);
    // OVH answers: the checks end, every waiting login gets in.
    up.push(TOKEN_B, answers("lines.v1.jsonl")[..1].to_vec());
    up.push(TOKEN_C, answers("lines.v1.jsonl")[..1].to_vec());
    for login in [first, again, second] {
        assert_eq!(login.await.unwrap().unwrap().status(), 200);
    }
    assert_eq!(up.first_polls(TOKEN_B), 1, "two logins, one check");
    app.stop().await;
}

/// Waits until the token's feed health satisfies `ok`.
async fn health_until(app: &TestApp, token: &str, ok: impl Fn(&Value) -> bool) -> Value {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let health = app.json("/api/health", token).await;
            if ok(&health["feeds"][0]) {
                return health["feeds"][0].clone();
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the feed never got there")
}

#[tokio::test]
async fn a_token_ovh_refuses_for_days_is_paused_then_resumed_by_an_operator() {
    let up = FakeUpstream::start().await;
    up.refuse(TOKEN_A);
    let db = temp_db();
    let app = spawn_app(
        &up,
        Options {
            db: Some(db.clone()),
            pause_after: Duration::from_secs(2 * 86400),
            ..Options::default()
        },
    )
    .await;
    let refused = health_until(&app, TOKEN_A, |f| f["refused_since"].is_string()).await;
    assert_eq!(refused["state"], "failing");
    assert_eq!(stored(&db)[0].refused_since, Some(T0), "kept for restarts");
    // Two days and more of refusals: paused, polled no more.
    app.clock.advance(2.0 * 86400.0 + 1.0);
    let paused = health_until(&app, TOKEN_A, |f| f["state"] == "paused").await;
    assert!(
        paused["paused_reason"]
            .as_str()
            .unwrap()
            .starts_with("OVH has refused this token since 2024-11-26T09:20:00Z"),
        "{paused}"
    );
    let row = &stored(&db)[0];
    assert_eq!(row.state, ovh_cti::store::tokens::State::Paused);
    let polls = up.polls(TOKEN_A);
    app.service.reconcile().await.unwrap();
    assert!(app.service.is_paused(&Token::parse(TOKEN_A).unwrap().id()));
    assert_eq!(up.polls(TOKEN_A), polls, "no more polling");
    // Its users still sign in, and see why nothing moves.
    assert_eq!(app.login(TOKEN_A).await.status(), 200);
    let health = app.json("/api/health", TOKEN_A).await;
    assert_eq!(health["status"], "paused");

    // The operator fixed it at OVH, and resumes it.
    up.accept(TOKEN_A);
    let out = tokens_cmd(&db, &["resume", &id(TOKEN_A)]);
    assert!(out.status.success(), "{out:?}");
    app.service.reconcile().await.unwrap();
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    up.idle(TOKEN_A).await;
    let back = health_until(&app, TOKEN_A, |f| f["state"] == "connected").await;
    assert!(back["refused_since"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn operators_list_pause_resume_and_remove_tokens_on_the_database_file() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_B, answers("lines.v1.jsonl"));
    let db = temp_db();
    let app = spawn_app_on(&up, &db).await;
    assert_eq!(app.login(TOKEN_B).await.status(), 200);
    up.idle(TOKEN_B).await;
    let out = tokens_cmd(&db, &["list"]);
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(list.starts_with("ID"), "{list}");
    let line_b = list.lines().find(|l| l.contains(&id(TOKEN_B))).unwrap();
    for word in ["9B2D…", "login", "active", "2024-11-26T09:20:00Z"] {
        assert!(line_b.contains(word), "{word} in {line_b}");
    }
    assert!(list.contains("3F25…") && list.contains("config"), "{list}");
    assert!(
        !list.to_ascii_uppercase().contains("4F89") && !list.contains("1C3E"),
        "never the token: {list}"
    );

    let b = Token::parse(TOKEN_B).unwrap().id();
    assert!(tokens_cmd(&db, &["pause", &id(TOKEN_B)]).status.success());
    app.service.reconcile().await.unwrap();
    assert!(app.service.is_paused(&b));
    assert_eq!(app.json("/api/health", TOKEN_B).await["status"], "paused");
    // Named by the token itself works too.
    assert!(tokens_cmd(&db, &["resume", TOKEN_B]).status.success());
    app.service.reconcile().await.unwrap();
    assert!(!app.service.is_paused(&b));

    let mut stream = app.get("/api/stream", TOKEN_B).await;
    assert_eq!(stream.status(), 200);
    let out = tokens_cmd(&db, &["remove", &id(TOKEN_B)]);
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(said.contains("stored history is kept"), "{said}");
    app.service.reconcile().await.unwrap();
    assert!(!app.service.follows(&b));
    assert_eq!(app.get("/api/lines", TOKEN_B).await.status(), 401);
    read_to_end(&mut stream).await;
    let ids: Vec<String> = stored(&db).iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, [id(TOKEN_A)]);

    let out = tokens_cmd(&db, &["pause", "0123456789abcdef"]);
    assert!(one_line_error(&out).contains("no such token"));
    let out = Command::new(env!("CARGO_BIN_EXE_ovh-cti"))
        .args(["tokens", "list", "--db", "/nonexistent/ovh-cti.db"])
        .output()
        .unwrap();
    assert!(one_line_error(&out).contains("no database at"));
    app.stop().await;
}

#[tokio::test]
async fn a_user_removes_their_own_token_from_the_dashboard() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_B, answers("lines.v1.jsonl"));
    let db = temp_db();
    let app = spawn_app_on(&up, &db).await;
    let res = app.login(TOKEN_B).await;
    let cookie = session_cookie(&res);
    up.idle(TOKEN_B).await;
    let mut by_cookie = app.get_with_cookie("/api/stream", &cookie).await;
    let mut by_bearer = app.get("/api/stream", TOKEN_B).await;
    let remove = |query: &'static str, cookie: String| {
        app.http
            .delete(app.url(&format!("/api/token{query}")))
            .header("cookie", cookie)
            .header("origin", &app.base)
            .send()
    };
    // Not from another site.
    let cross = app
        .http
        .delete(app.url("/api/token"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let res = remove("", cookie.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    // Its streams end, its session and its bearer access are gone, its secret too.
    read_to_end(&mut by_cookie).await;
    read_to_end(&mut by_bearer).await;
    for res in [
        app.get_with_cookie("/api/lines", &cookie).await,
        app.get("/api/lines", TOKEN_B).await,
    ] {
        assert_eq!(res.status(), 401);
    }
    assert_eq!(stored(&db).len(), 1);
    let polls = up.polls(TOKEN_B);

    // The history stayed: typed again (and accepted by OVH), the token finds it.
    let again = session_cookie(&app.login(TOKEN_B).await);
    assert!(up.polls(TOKEN_B) > polls, "checked with OVH again");
    let history = app.json("/api/history", TOKEN_B).await;
    assert_eq!(history["calls"].as_array().unwrap().len(), 8);
    // Removed with its history this time.
    let res = remove("?purge=true", again).await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["purged"], true);
    app.login(TOKEN_B).await;
    let history = app.json("/api/history", TOKEN_B).await;
    assert_eq!(history["calls"], json!([]));

    // A token from the configuration is removed there, not here.
    let res = app
        .http
        .delete(app.url("/api/token"))
        .bearer_auth(TOKEN_A)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert!(app.service.follows(&Token::parse(TOKEN_A).unwrap().id()));
    app.stop().await;
}
