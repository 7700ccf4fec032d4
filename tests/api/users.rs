//! People, not tokens (issue 10): accounts made with `ovh-cti users add` sign in with a login
//! and a password, get their role, and every route checks it on the server (allowed, or 403).

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

pub const PASSWORD: &str = "correct horse battery";

/// `ovh-cti users add NAME --role ROLE [EXTRA…] --db DB`, the password on standard input.
pub fn add_user(db: &Path, name: &str, role: &str, extra: &[&str]) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ovh-cti"));
    cmd.args(["users", "add", name, "--role", role, "--db"])
        .arg(db)
        .env_remove("OVH_CTI_DB")
        .env_remove("OVH_CTI_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.args(extra);
    let mut child = cmd.spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", one_line_error(&out));
}

/// The service following Token A with the lines fixture served, on a database file the
/// `ovh-cti users` command can reach.
async fn with_lines() -> (FakeUpstream, TestApp, std::path::PathBuf) {
    with_fixtures(&["lines.v1.jsonl"]).await
}

async fn with_fixtures(names: &[&str]) -> (FakeUpstream, TestApp, std::path::PathBuf) {
    let up = FakeUpstream::start().await;
    for name in names {
        up.push(TOKEN_A, answers(name));
    }
    let (app, db) = spawn_app_with_db(&up).await;
    up.idle(TOKEN_A).await;
    (up, app, db)
}

/// Signs in with a login and password; the session cookie.
pub async fn sign_in(app: &TestApp, login: &str, password: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/login"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap()
}

pub async fn cookie_of(app: &TestApp, login: &str) -> String {
    let res = sign_in(app, login, PASSWORD).await;
    assert_eq!(res.status(), 200, "{login} signs in");
    session_cookie(&res)
}

async fn status(
    app: &TestApp,
    cookie: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> u16 {
    let mut req = app
        .http
        .request(method, app.url(path))
        .header("cookie", cookie);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn users_sign_in_with_a_password_and_wrong_ones_all_get_the_same_answer() {
    let (_up, app, db) = with_lines().await;
    add_user(&db, "alice", "supervisor", &[]);
    add_user(&db, "gone", "viewer", &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_ovh-cti"))
        .args(["users", "disable", "gone", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success());

    let res = sign_in(&app, "Alice", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let cookie = session_cookie(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["user"],
        json!({"login": "alice", "role": "supervisor"})
    );
    let me: Value = app
        .get_with_cookie("/api/me", &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "supervisor");
    assert_eq!(me["user"]["login"], "alice");
    assert_eq!(
        me["lines"].as_array().unwrap().len(),
        3,
        "the organisation's token"
    );
    // The token itself is its organisation's admin.
    let as_token = app.json("/api/me", TOKEN_A).await;
    assert_eq!(
        (as_token["role"].as_str(), &as_token["user"]),
        (Some("admin"), &Value::Null)
    );

    // A wrong password, an unknown name and a disabled account: one answer, which tells nothing.
    let mut answers = Vec::new();
    for (login, password) in [
        ("alice", "wrong password!"),
        ("nobody", PASSWORD),
        ("gone", PASSWORD),
    ] {
        let res = sign_in(&app, login, password).await;
        answers.push((res.status().as_u16(), res.json::<Value>().await.unwrap()));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, 401);
    assert_eq!(answers[0].1["reason"], "bad_credentials");
}

#[tokio::test]
async fn failed_passwords_are_throttled_per_account_as_well_as_per_address() {
    let up = FakeUpstream::start().await;
    let db = temp_db();
    let app = spawn_app(
        &up,
        Options {
            db: Some(db.clone()),
            login_burst: 3,
            trusted_proxies: vec!["127.0.0.1/32"],
            ..Options::default()
        },
    )
    .await;
    add_user(&db, "alice", "viewer", &[]);
    // Three wrong passwords for alice, each from another address (behind the trusted proxy).
    let from = |i: u8, body: Value| {
        app.http
            .post(app.url("/api/login"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .json(&body)
            .send()
    };
    for i in 1..=3 {
        let res = from(i, json!({"login": "alice", "password": "not the one!"}))
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    // The account is throttled from a fresh address, even with the right password…
    let res = from(9, json!({"login": "alice", "password": PASSWORD}))
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // …and another account from that address is not.
    add_user(&db, "bob", "viewer", &[]);
    let res = from(9, json!({"login": "bob", "password": PASSWORD}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// What each role may do: every route, signed in as each role; `true` when allowed.
#[tokio::test]
async fn every_route_checks_the_role_on_the_server() {
    let (_up, app, db) = with_fixtures(&["lines.v1.jsonl", "queue.v1.jsonl"]).await;
    for (name, role) in [("ada", "admin"), ("sam", "supervisor"), ("vic", "viewer")] {
        add_user(&db, name, role, &[]);
    }
    add_user(&db, "amy", "agent", &["--line", "0033972101011"]);
    let hook = json!({"url": "https://crm.example/hook"});
    // (method, path, body, least role allowed)
    let end_session = format!("/api/sessions/{}", "0".repeat(64));
    let routes: Vec<(Method, &str, Option<Value>, &str)> = vec![
        (Method::GET, "/api/me", None, "viewer"),
        (Method::GET, "/api/lines", None, "viewer"),
        (Method::GET, "/api/calls", None, "viewer"),
        (Method::GET, "/api/queues", None, "viewer"),
        (Method::GET, "/api/history", None, "viewer"),
        (Method::GET, "/api/history.csv", None, "viewer"),
        (Method::GET, "/api/queue-journal", None, "viewer"),
        (Method::GET, "/api/queue-journal.csv", None, "viewer"),
        (Method::GET, "/api/callbacks", None, "viewer"),
        (Method::GET, "/api/callbacks.csv", None, "viewer"),
        (Method::GET, "/api/events", None, "viewer"),
        (Method::GET, "/api/settings", None, "viewer"),
        (Method::GET, "/api/health", None, "viewer"),
        (Method::GET, "/api/reports/calls", None, "viewer"),
        (Method::GET, "/api/reports/queues", None, "viewer"),
        (
            Method::PUT,
            "/api/callbacks/0033688888888/done",
            None,
            "supervisor",
        ),
        (
            Method::DELETE,
            "/api/callbacks/0033688888888/done",
            None,
            "supervisor",
        ),
        (Method::POST, "/api/reset", None, "supervisor"),
        (
            Method::PUT,
            "/api/settings",
            Some(json!({"service_level_s": 25})),
            "admin",
        ),
        (Method::GET, "/api/webhooks", None, "admin"),
        (Method::POST, "/api/webhooks", Some(hook), "admin"),
        (Method::POST, "/api/webhooks/1/test", None, "admin"),
        (Method::POST, "/api/webhooks/1/enable", None, "admin"),
        (Method::DELETE, "/api/webhooks/1", None, "admin"),
        (Method::GET, "/api/deliveries", None, "admin"),
        // A configured token is removed where it is configured: 409 for an admin.
        (Method::DELETE, "/api/token", None, "admin"),
        (Method::GET, "/api/users", None, "admin"),
        (
            Method::POST,
            "/api/users",
            Some(json!({"login": "x", "role": "viewer", "password": "p"})),
            "admin",
        ),
        (
            Method::PUT,
            "/api/users/999",
            Some(json!({"role": "viewer"})),
            "admin",
        ),
        (
            Method::PUT,
            "/api/users/999/password",
            Some(json!({"password": "p"})),
            "admin",
        ),
        (Method::DELETE, "/api/users/999", None, "admin"),
        (Method::GET, "/api/sessions", None, "admin"),
        (Method::DELETE, &end_session, None, "admin"),
        (Method::GET, "/api/audit", None, "admin"),
        (Method::GET, "/api/audit.csv", None, "admin"),
        (Method::GET, "/api/wall-links", None, "admin"),
        (Method::GET, "/api/org", None, "admin"),
        (Method::POST, "/api/me/totp", None, "viewer"),
        (Method::GET, "/api/org/tokens", None, "admin"),
        (
            Method::POST,
            "/api/org/tokens",
            Some(json!({"token": "not a token"})),
            "admin",
        ),
        (
            Method::PUT,
            "/api/me/token",
            Some(json!({"id": "x"})),
            "viewer",
        ),
        (
            Method::PUT,
            "/api/org",
            Some(json!({"name": "Acme"})),
            "admin",
        ),
        (
            Method::POST,
            "/api/wall-links",
            Some(json!({"label": "TV"})),
            "admin",
        ),
        (Method::DELETE, "/api/wall-links/999", None, "admin"),
        // Anyone signed in may change their own password (here: a wrong current one, 400).
        (
            Method::PUT,
            "/api/me/password",
            Some(json!({"current": "x", "password": "long enough now"})),
            "viewer",
        ),
        // One's own screen pop: agents and above.
        (Method::GET, "/api/me/screen-pop", None, "agent"),
        (
            Method::PUT,
            "/api/me/screen-pop",
            Some(json!({"enabled": false})),
            "agent",
        ),
        (Method::DELETE, "/api/me/screen-pop", None, "agent"),
        // OVH's REST API (no account connected here: 409 for those allowed).
        (Method::GET, "/api/ovh", None, "admin"),
        (Method::POST, "/api/ovh", Some(json!({})), "admin"),
        (Method::DELETE, "/api/ovh", None, "admin"),
        (Method::POST, "/api/ovh/refresh", None, "supervisor"),
        (Method::POST, "/api/ovh/event-token", None, "admin"),
        (Method::GET, "/api/agents", None, "viewer"),
        (
            Method::PUT,
            "/api/agents/0033972100100/1",
            Some(json!({"status": "available"})),
            "agent",
        ),
        (
            Method::PUT,
            "/api/agents/0033972100100/1/queues/2",
            None,
            "supervisor",
        ),
        (
            Method::POST,
            "/api/click2call",
            Some(json!({"number": "0033612345678", "line": "0033972101011"})),
            "agent",
        ),
        (Method::GET, "/api/live-calls", None, "supervisor"),
        (
            Method::POST,
            "/api/live-calls/0033972100100/1/2/hangup",
            None,
            "supervisor",
        ),
    ];
    let rank = |r: &str| {
        ["viewer", "agent", "supervisor", "admin"]
            .iter()
            .position(|x| *x == r)
            .unwrap()
    };
    let mut wrong = Vec::new();
    // Viewers first: a refused write must change nothing the others then find.
    for (login, role) in [
        ("vic", "viewer"),
        ("amy", "agent"),
        ("sam", "supervisor"),
        ("ada", "admin"),
    ] {
        let cookie = cookie_of(&app, login).await;
        for (method, path, body, least) in &routes {
            let got = status(&app, &cookie, method.clone(), path, body.clone()).await;
            let allowed = rank(role) >= rank(least);
            let ok = if allowed {
                got != 403 && got < 500
            } else {
                got == 403
            };
            if !ok {
                wrong.push(format!("{role} {method} {path}: {got}"));
            }
        }
        // Anyone may sign out.
        assert_eq!(
            status(&app, &cookie, Method::POST, "/api/logout", None).await,
            200
        );
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Every `number` (and journal `queue`) an answer or stream message names, by where it is.
fn named_numbers(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for key in ["number", "queue"] {
                if let Some(Value::String(n)) = m.get(key) {
                    out.push(n.clone());
                }
            }
            m.values().for_each(|v| named_numbers(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| named_numbers(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn an_agent_sees_only_their_line_and_queue_and_their_stream_carries_nothing_else() {
    const LINE: &str = "0033972101011";
    const QUEUE: &str = "0033972100100";
    let (up, app, db) = with_lines().await;
    // The queue typed as people write it: stored in OVH's form.
    add_user(
        &db,
        "ann",
        "agent",
        &["--line", LINE, "--queue", "+33 9 72 10 01 00"],
    );
    let cookie = cookie_of(&app, "ann").await;

    // Her live stream, open while the queue's traffic comes in.
    let mut stream = app.get_with_cookie("/api/stream", &cookie).await;
    assert_eq!(stream.status(), 200);
    up.push(TOKEN_A, answers("queue.v1.jsonl"));
    up.idle(TOKEN_A).await;

    let get = |path: &'static str| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let res = app.get_with_cookie(path, &cookie).await;
            assert_eq!(res.status(), 200, "{path}");
            res.json::<Value>().await.unwrap()
        }
    };
    let lines = get("/api/lines").await;
    assert_eq!(lines["lines"].as_array().unwrap().len(), 1, "{lines}");
    assert_eq!(lines["lines"][0]["number"], LINE);
    let queues = get("/api/queues").await;
    assert_eq!(queues["queues"][0]["number"], QUEUE);
    let me = get("/api/me").await;
    assert_eq!(me["lines"], json!([LINE]));
    assert_eq!(me["queues"], json!([QUEUE]));
    let mut seen = Vec::new();
    for path in [
        "/api/lines",
        "/api/calls",
        "/api/queues",
        "/api/history?limit=1000",
        "/api/queue-journal?limit=1000",
        "/api/events?limit=1000",
        "/api/callbacks",
        "/api/reports/queues?from=2024-11-26T00:00:00Z&to=2024-11-27T00:00:00Z",
    ] {
        let v = get(path).await;
        let mut numbers = Vec::new();
        if path == "/api/callbacks" {
            // A callback's `number` is the outside caller's; where they called is `places`.
            let places: Vec<&Value> = v["callbacks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| &c["places"])
                .collect();
            assert!(!places.is_empty(), "her missed callers: {v}");
            named_numbers(&json!(places), &mut numbers);
        } else {
            named_numbers(&v, &mut numbers);
        }
        assert!(
            numbers.iter().all(|n| n == LINE || n == QUEUE),
            "{path} shows another number: {numbers:?}"
        );
        seen.extend(numbers);
    }
    assert!(seen.iter().any(|n| n == LINE) && seen.iter().any(|n| n == QUEUE));
    // The supervisor's view of the same token has the others.
    let events = app.json("/api/events?limit=1000", TOKEN_A).await;
    let mut all = Vec::new();
    named_numbers(&events, &mut all);
    assert!(all.iter().any(|n| n == "0033972101010"));

    // Signing out ends her stream: what it carried.
    assert_eq!(app.logout(&cookie).await.status(), 200);
    let text = read_to_end(&mut stream).await;
    let mut messages = 0;
    for message in text.split("\n\n") {
        let Some((kind, data)) = message
            .strip_prefix("event: ")
            .and_then(|m| m.split_once("\ndata: "))
        else {
            continue;
        };
        messages += 1;
        let v: Value = serde_json::from_str(data).unwrap();
        let mut numbers = Vec::new();
        named_numbers(&v, &mut numbers);
        assert!(
            numbers.iter().all(|n| n == LINE || n == QUEUE),
            "a {kind} message shows another number: {numbers:?}"
        );
    }
    assert!(
        messages > 5,
        "the stream carried her queue's events: {text}"
    );
}

/// The dashboard's way: an admin (here the token itself) adds people; what they change is in
/// the audit log; disabling someone ends their open stream at once.
#[tokio::test]
async fn an_admin_adds_people_and_disabling_one_ends_their_stream_at_once() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;
    let post = |body: Value| app.send(TOKEN_A, Method::POST, "/api/users", Some(body));
    let res = post(json!({"login": "sam", "password": PASSWORD, "role": "supervisor"})).await;
    assert_eq!(res.status(), 201);
    let sam: Value = res.json().await.unwrap();
    let res = post(
        json!({"login": "ann", "password": PASSWORD, "role": "agent", "lines": ["09 72 10 10 11"]}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let ann: Value = res.json().await.unwrap();
    assert_eq!(
        ann["lines"],
        json!(["0033972101011"]),
        "stored in OVH's form"
    );
    // Refusals name the field; a taken name is a conflict.
    let res = post(json!({"login": "bad name", "password": PASSWORD, "role": "viewer"})).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "login");
    let res = post(json!({"login": "ann2", "password": PASSWORD, "role": "agent"})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "lines");
    let res = post(json!({"login": "SAM", "password": PASSWORD, "role": "viewer"})).await;
    assert_eq!(res.status(), 409);

    // Sam, signed in, changes a setting he may not and resets the figures, which he may.
    let cookie = cookie_of(&app, "sam").await;
    let put = status(
        &app,
        &cookie,
        Method::PUT,
        "/api/settings",
        Some(json!({"service_level_s": 5})),
    )
    .await;
    assert_eq!(put, 403);
    assert_eq!(
        status(&app, &cookie, Method::POST, "/api/reset", None).await,
        200
    );
    let mut stream = app.get_with_cookie("/api/stream", &cookie).await;
    assert_eq!(stream.status(), 200);

    // Disabled: his open stream ends at once (read_to_end waits for the end) and he is out.
    let id = sam["id"].as_i64().unwrap();
    let res = app
        .send(
            TOKEN_A,
            Method::PUT,
            &format!("/api/users/{id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(res.status(), 200);
    read_to_end(&mut stream).await;
    assert_eq!(app.get_with_cookie("/api/me", &cookie).await.status(), 401);
    assert_eq!(sign_in(&app, "sam", PASSWORD).await.status(), 401);

    let log = app.json("/api/audit", TOKEN_A).await;
    let done: Vec<(String, String)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        done[0],
        ("token 3F25…".to_string(), "user.change".to_string())
    );
    assert!(
        done.contains(&("user sam".to_string(), "reset".to_string())),
        "{done:?}"
    );
    assert_eq!(done.iter().filter(|(_, a)| a == "user.create").count(), 2);
    let csv = app
        .get("/api/audit.csv", TOKEN_A)
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("id,at,actor,action,detail"), "{csv}");
    assert!(!csv.contains(TOKEN_A) && !log.to_string().contains(TOKEN_A));
}

#[tokio::test]
async fn a_wall_link_signs_a_screen_in_read_only_and_revoking_it_ends_its_stream_at_once() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("queue.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;
    let make = |body: Value| app.send(TOKEN_A, Method::POST, "/api/wall-links", Some(body));
    let res = make(json!({"label": "TV, first floor"})).await;
    assert_eq!(res.status(), 201);
    let link: Value = res.json().await.unwrap();
    let path = link["path"].as_str().unwrap().to_string();
    assert!(path.starts_with("/wall/") && path.len() > 40, "{path}");
    assert!(!path.contains(TOKEN_A));

    // The TV opens it: signed in, sent to the wall.
    let res = app.http.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/wall");
    let cookie = session_cookie(&res);
    let me: Value = app
        .get_with_cookie("/api/me", &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["wall"].as_bool(), me["role"].as_str()),
        (Some(true), Some("viewer"))
    );
    assert_eq!(
        app.get_with_cookie("/api/queues", &cookie).await.status(),
        200
    );
    // Nothing can be changed from it.
    for (method, path, body) in [
        (
            Method::PUT,
            "/api/settings",
            Some(json!({"service_level_s": 5})),
        ),
        (Method::POST, "/api/reset", None),
        (
            Method::POST,
            "/api/webhooks",
            Some(json!({"url": "https://crm.example/"})),
        ),
        (Method::PUT, "/api/callbacks/0033688888888/done", None),
    ] {
        assert_eq!(
            status(&app, &cookie, method, path, body).await,
            403,
            "{path}"
        );
    }
    // The admin's list never shows the key.
    let list = app.json("/api/wall-links", TOKEN_A).await;
    assert_eq!(list["links"][0]["label"], "TV, first floor");
    assert!(list["links"][0]["last_used_at"].is_string());
    assert!(!list.to_string().contains(&path[6..]));

    // Revoked: the open stream ends at once, the cookie and the link stop working.
    let mut stream = app.get_with_cookie("/api/stream", &cookie).await;
    assert_eq!(stream.status(), 200);
    let id = link["id"].as_i64().unwrap();
    let res = app
        .send(
            TOKEN_A,
            Method::DELETE,
            &format!("/api/wall-links/{id}"),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    read_to_end(&mut stream).await;
    assert_eq!(app.get_with_cookie("/api/me", &cookie).await.status(), 401);
    assert_eq!(
        app.http.get(app.url(&path)).send().await.unwrap().status(),
        404
    );

    // A link for another address range does not open here (127.0.0.1).
    let res = make(json!({"label": "TV", "allow": "198.51.100.0/24"})).await;
    let other: Value = res.json().await.unwrap();
    let res = app
        .http
        .get(app.url(other["path"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = make(json!({"label": "TV", "allow": "the office"})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "allow");

    let log = app.json("/api/audit", TOKEN_A).await.to_string();
    assert!(log.contains("wall.create") && log.contains("wall.revoke"));

    // Keys are guessed like passwords: wrong ones are counted with failed logins (10 at once;
    // the revoked link above was one, the 403 a right key), then refused before any lookup.
    let mut answers = Vec::new();
    for i in 0..10 {
        let res = app
            .http
            .get(app.url(&format!("/wall/guess{i}")))
            .send()
            .await
            .unwrap();
        answers.push(res.status().as_u16());
    }
    assert_eq!(answers[..9], [404; 9]);
    assert_eq!(answers[9], 429);
}

#[tokio::test]
async fn an_admin_turns_token_login_off_once_an_admin_account_exists() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;
    let put_org = |auth: Option<&str>, cookie: Option<&str>, body: Value| {
        let mut req = app.http.put(app.url("/api/org")).json(&body);
        if let Some(t) = auth {
            req = req.bearer_auth(t);
        }
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    let token_cookie = session_cookie(&app.login(TOKEN_A).await);
    // Not without an admin account: no one could sign in to manage the organisation.
    let res = put_org(Some(TOKEN_A), None, json!({"token_login": false}))
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let res = app
        .send(
            TOKEN_A,
            Method::POST,
            "/api/users",
            Some(json!({"login": "ada", "password": PASSWORD, "role": "admin"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = put_org(Some(TOKEN_A), None, json!({"token_login": false}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["token_login"], false);

    // The token no longer signs in: not as bearer, not at the login page, and the session it
    // had is over.
    assert_eq!(app.get("/api/lines", TOKEN_A).await.status(), 401);
    let res = app.login(TOKEN_A).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["reason"],
        "token_login_off"
    );
    assert_eq!(
        app.get_with_cookie("/api/me", &token_cookie).await.status(),
        401
    );

    // Ada's account works, and she turns it back on.
    let ada = cookie_of(&app, "ada").await;
    assert_eq!(app.get_with_cookie("/api/lines", &ada).await.status(), 200);
    let res = put_org(None, Some(&ada), json!({"token_login": true}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/api/lines", TOKEN_A).await.status(), 200);
    let log = app.json("/api/audit", TOKEN_A).await.to_string();
    assert!(
        log.contains("token login off") && log.contains("token login on"),
        "{log}"
    );
}

#[tokio::test]
async fn a_second_factor_is_asked_for_once_set_up_and_a_code_works_only_once() {
    use ovh_cti::clock::Clock;
    use ovh_cti::second_factor::code_at;
    let (_up, app, db) = with_lines().await;
    add_user(&db, "ada", "admin", &[]);
    let cookie = cookie_of(&app, "ada").await;
    let totp = |method: Method, body: Option<Value>| {
        let mut req = app
            .http
            .request(method, app.url("/api/me/totp"))
            .header("cookie", &cookie);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };
    let res = totp(Method::POST, None).await.unwrap();
    assert_eq!(res.status(), 200);
    let setup: Value = res.json().await.unwrap();
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(setup["url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/ovh-cti:ada?"));
    // Not on until a code confirms it; a wrong one does not.
    assert_eq!(sign_in(&app, "ada", PASSWORD).await.status(), 200);
    let res = totp(Method::PUT, Some(json!({"code": "000000"})))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let now = app.clock.now();
    let first = code_at(&secret, now).unwrap();
    let res = totp(Method::PUT, Some(json!({"code": first})))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Signing in now asks for a code, after the password; the confirming code is spent.
    let res = sign_in(&app, "ada", PASSWORD).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["reason"],
        "totp_required"
    );
    let with_code = |code: String| {
        app.http
            .post(app.url("/api/login"))
            .json(&json!({"login": "ada", "password": PASSWORD, "code": code}))
            .send()
    };
    let res = with_code(first.clone()).await.unwrap();
    assert_eq!(res.status(), 401, "a code is accepted once");
    assert_eq!(
        res.json::<Value>().await.unwrap()["reason"],
        "bad_credentials"
    );
    app.clock.advance(30.0);
    let next = code_at(&secret, app.clock.now()).unwrap();
    assert_eq!(with_code(next.clone()).await.unwrap().status(), 200);
    assert_eq!(with_code(next).await.unwrap().status(), 401, "nor twice");

    // Lost phone: another admin (here the token) turns it off.
    let me: Value = app
        .get_with_cookie("/api/me", &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["login"], "ada");
    let users = app.json("/api/users", TOKEN_A).await;
    let ada = &users["users"][0];
    assert_eq!(ada["totp"], true);
    let res = app
        .send(
            TOKEN_A,
            Method::PUT,
            &format!("/api/users/{}", ada["id"]),
            Some(json!({"totp": false})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["totp"], false);
    assert_eq!(sign_in(&app, "ada", PASSWORD).await.status(), 200);
    let log = app.json("/api/audit", TOKEN_A).await.to_string();
    assert!(log.contains("user.totp_on"), "{log}");
}

#[tokio::test]
async fn an_organisation_holds_several_tokens_and_a_user_switches_between_them() {
    const TOKEN_C: &str = "7C9E6679-7425-40DE-944B-E07FC1F90AE7";
    let (up, app, db) = with_lines().await;
    add_user(&db, "ada", "admin", &[]);
    let ada = cookie_of(&app, "ada").await;
    let send = |method: Method, path: &str, body: Value| {
        app.http
            .request(method, app.url(path))
            .header("cookie", &ada)
            .json(&body)
            .send()
    };

    // Another billing account's token, attached (checked with OVH, then followed).
    let res = send(Method::POST, "/api/org/tokens", json!({"token": TOKEN_B}))
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.json::<Value>().await.unwrap()["tokens"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    up.push(TOKEN_B, answers("queue.v1.jsonl"));
    up.idle(TOKEN_B).await;

    let me: Value = app
        .get_with_cookie("/api/me", &ada)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["tokens"].as_array().unwrap().len(), 2);
    assert_eq!(
        me["lines"].as_array().unwrap().len(),
        3,
        "the first token's"
    );
    let other = me["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] != me["token_id"])
        .unwrap()["id"]
        .clone();
    assert!(
        !me.to_string().contains(TOKEN_B),
        "ids and hints, never tokens"
    );
    let res = send(Method::PUT, "/api/me/token", json!({"id": other}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: Value = app
        .get_with_cookie("/api/me", &ada)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["token_id"], other);
    let queues: Value = app
        .get_with_cookie("/api/queues", &ada)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        queues["queues"][0]["number"], "0033972100100",
        "the second token's queue"
    );
    let res = send(Method::PUT, "/api/me/token", json!({"id": "0".repeat(64)}))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // A token with an organisation of its own (people in it) stays there.
    let res = app.login(TOKEN_C).await;
    assert_eq!(res.status(), 200);
    let res = app
        .send(
            TOKEN_C,
            Method::POST,
            "/api/users",
            Some(json!({"login": "cy", "password": PASSWORD, "role": "admin"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = send(Method::POST, "/api/org/tokens", json!({"token": TOKEN_C}))
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    // Cy's organisation is Token C's alone: he does not see Ada's tokens.
    let cy = cookie_of(&app, "cy").await;
    let me: Value = app
        .get_with_cookie("/api/me", &cy)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["tokens"].as_array().unwrap().len(), 1);
    let log = app.json("/api/audit", TOKEN_A).await.to_string();
    assert!(log.contains("org.token_attach"), "{log}");
}

/// Whatever an admin may add is capped: 1,000 users and 50 wall links per organisation
/// (409 beyond), the users counted before a password is hashed.
#[tokio::test]
async fn people_and_wall_links_are_capped_per_organisation() {
    use ovh_cti::store::users::{self, LoginName, Numbers, Role};
    let (_up, app, db) = with_lines().await;
    let org = app.json("/api/org", TOKEN_A).await["id"].as_i64().unwrap();
    {
        // The organisation filled straight in the database file (hashing 1,000 passwords
        // through the API would only slow the test).
        let conn = open_db(&db);
        for i in 0..1000 {
            let login = LoginName::parse(&format!("u{i}")).unwrap();
            users::add(
                &conn,
                org,
                &login,
                "x",
                Role::Viewer,
                &Numbers::default(),
                0.0,
            )
            .unwrap();
        }
    }
    let res = app
        .send(
            TOKEN_A,
            Method::POST,
            "/api/users",
            Some(json!({"login": "one.more", "password": PASSWORD, "role": "viewer"})),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("1000 users"));

    for i in 0..50 {
        let body = Some(json!({ "label": format!("TV {i}") }));
        let res = app
            .send(TOKEN_A, Method::POST, "/api/wall-links", body)
            .await;
        assert_eq!(res.status(), 201);
    }
    let body = Some(json!({"label": "one more"}));
    let res = app
        .send(TOKEN_A, Method::POST, "/api/wall-links", body)
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        app.json("/api/wall-links", TOKEN_A).await["links"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
}
