//! The OpenAPI document (`GET /api/openapi.json`, issue 9) kept true: its routes are exactly the
//! router's, and real answers of the service — every operation at least once with success, and
//! the usual refusals — match the schemas it gives for their status.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const METHODS: &[&str] = &["get", "post", "put", "delete", "patch"];

/// `METHOD path` of every route `src/web/mod.rs` gives the router, read from its source: the
/// routes before the API's `.fallback(` are nested under `/api`.
fn router_routes() -> BTreeSet<String> {
    let source =
        std::fs::read_to_string(format!("{}/src/web/mod.rs", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let body = &source[source.find("pub fn router(").expect("the router")..];
    let api_end = body.find(".fallback(").expect("the API's fallback");
    let mut routes = BTreeSet::new();
    let mut rest = body;
    let mut offset = 0;
    while let Some(at) = rest.find(".route(") {
        let start = at + ".route(".len();
        // The call's arguments, up to its closing parenthesis.
        let mut depth = 1;
        let end = rest[start..]
            .char_indices()
            .find_map(|(i, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(start + i)
            })
            .unwrap();
        let args = &rest[start..end];
        let path = args.split('"').nth(1).expect("a path literal");
        let prefix = if offset + at < api_end { "/api" } else { "" };
        for method in METHODS {
            let called = args.match_indices(&format!("{method}(")).any(|(i, _)| {
                !args[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if called {
                routes.insert(format!("{} {prefix}{path}", method.to_uppercase()));
            }
        }
        offset += end;
        rest = &rest[end..];
    }
    routes
}

fn document_routes(doc: &Value) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if METHODS.contains(&method.as_str()) {
                routes.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    routes
}

#[test]
fn the_document_lists_exactly_the_routes_of_the_router() {
    let router = router_routes();
    assert!(router.len() > 25, "the source was not read: {router:?}");
    assert!(router.contains("PUT /api/callbacks/{number}/done"));
    assert!(router.contains("GET /healthz"));
    let documented = document_routes(&ovh_cti::web::openapi_document());
    let missing: Vec<_> = router.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&router).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not documented: {missing:?}; documented but not routed: {extra:?}"
    );
}

/// Follows a local `$ref` (`#/components/…`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(r.strip_prefix('#').unwrap()).unwrap(),
        None => v,
    }
}

/// One request and its answer, checked against the document.
struct Checker {
    doc: Value,
    /// `METHOD path` of the operations answered with a 2xx.
    succeeded: BTreeSet<String>,
}

impl Checker {
    /// Checks an answer of operation `method template`: its status is documented, its content
    /// type is the documented one, and a JSON body matches the schema.
    fn check(&mut self, method: &str, template: &str, status: u16, kind: &str, body: &str) {
        let op = &self.doc["paths"][template][method.to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not documented");
        let response = op["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| panic!("{method} {template} answered {status}: not documented"));
        let response = resolve(&self.doc, response);
        let kind = kind.split(';').next().unwrap().trim();
        let Some(content) = response.get("content") else {
            assert!(body.is_empty(), "{method} {template} {status}: a body");
            self.record(method, template, status);
            return;
        };
        let media = content
            .get(kind)
            .unwrap_or_else(|| panic!("{method} {template} {status}: {kind} not documented"));
        if kind == "application/json" {
            let value: Value = serde_json::from_str(body).unwrap();
            let wrapper = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": self.doc["components"],
                "allOf": [media["schema"]],
            });
            let validator = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&wrapper)
                .unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| format!("{} at {}", e, e.instance_path))
                .collect();
            assert!(
                errors.is_empty(),
                "{method} {template} {status} does not match its schema:\n{}\n{value:#}",
                errors.join("\n")
            );
        }
        self.record(method, template, status);
    }

    fn record(&mut self, method: &str, template: &str, status: u16) {
        if (200..400).contains(&status) {
            self.succeeded.insert(format!("{method} {template}"));
        }
    }
}

struct Call<'a> {
    method: Method,
    template: &'a str,
    path: String,
    body: Option<Value>,
    token: Option<&'a str>,
    cookie: Option<String>,
    expect: u16,
}

fn call<'a>(method: Method, template: &'a str, expect: u16) -> Call<'a> {
    Call {
        method,
        template,
        path: template.to_string(),
        body: None,
        token: Some(TOKEN_A),
        cookie: None,
        expect,
    }
}

impl<'a> Call<'a> {
    fn at(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn token(mut self, token: Option<&'a str>) -> Self {
        self.token = token;
        self
    }
    fn cookie(mut self, cookie: &str) -> Self {
        self.token = None;
        self.cookie = Some(cookie.to_string());
        self
    }
}

async fn run(app: &TestApp, checker: &mut Checker, c: Call<'_>) -> Value {
    let mut req = app.http.request(c.method.clone(), app.url(&c.path));
    if let Some(t) = c.token {
        req = req.bearer_auth(t);
    }
    if let Some(cookie) = &c.cookie {
        req = req.header("cookie", cookie);
    }
    if let Some(b) = &c.body {
        req = req.json(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    // The live stream never ends: its headers are its answer here.
    let text = if kind.starts_with("text/event-stream") {
        String::new()
    } else {
        res.text().await.unwrap()
    };
    assert_eq!(status, c.expect, "{} {}: {text}", c.method, c.path);
    let kind = if text.is_empty() && status == 204 {
        String::new()
    } else {
        kind
    };
    checker.check(c.method.as_str(), c.template, status, &kind, &text);
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_service_s_answers_match_the_document() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    up.push(TOKEN_A, answers("queue.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;

    // The served document is the one the tests read, and needs no login.
    let served = app.http.get(app.url("/api/openapi.json")).send().await;
    let served: Value = served.unwrap().json().await.unwrap();
    assert_eq!(served, ovh_cti::web::openapi_document());
    let mut checker = Checker {
        doc: served,
        succeeded: BTreeSet::new(),
    };
    let c = &mut checker;
    let day = "from=2024-11-26T00:00:00Z&to=2024-11-27T00:00:00Z";

    for (template, query) in [
        ("/api/openapi.json", ""),
        ("/healthz", ""),
        ("/readyz", ""),
        ("/metrics", ""),
        ("/api/me", ""),
        ("/api/lines", ""),
        ("/api/calls", ""),
        ("/api/queues", ""),
        ("/api/history", "?limit=3"),
        ("/api/history.csv", "?dialect=excel-fr"),
        ("/api/queue-journal", "?limit=3"),
        ("/api/queue-journal.csv", "?all=1"),
        ("/api/callbacks", ""),
        ("/api/callbacks.csv", ""),
        ("/api/events", "?limit=3"),
        ("/api/settings", ""),
        ("/api/health", ""),
        ("/api/stream", ""),
        ("/api/reports/calls", &format!("?{day}")),
        ("/api/reports/queues", &format!("?{day}")),
    ] {
        let v = run(
            &app,
            c,
            call(Method::GET, template, 200).at(format!("{template}{query}")),
        )
        .await;
        if template == "/api/history" {
            assert!(v["next"].is_string(), "a full page has a next: {v}");
            assert_eq!(v["calls"].as_array().unwrap().len(), 3);
        }
    }

    // Writes.
    let done = "/api/callbacks/{number}/done";
    let caller = "/api/callbacks/0033688888888/done";
    run(&app, c, call(Method::PUT, done, 200).at(caller)).await;
    run(&app, c, call(Method::DELETE, done, 200).at(caller)).await;
    let long = format!("/api/callbacks/{}/done", "1".repeat(40));
    run(&app, c, call(Method::PUT, done, 400).at(long)).await;
    let settings = json!({"service_level_s": 30, "display": {"only_active": true}});
    run(
        &app,
        c,
        call(Method::PUT, "/api/settings", 200).body(settings),
    )
    .await;
    let bad = json!({"timezone": "Mars/Olympus"});
    run(&app, c, call(Method::PUT, "/api/settings", 400).body(bad)).await;
    run(&app, c, call(Method::POST, "/api/reset", 200)).await;

    let hook = json!({"url": "https://crm.example/hook", "description": "CRM", "events": ["start_ringing"]});
    let created = run(&app, c, call(Method::POST, "/api/webhooks", 201).body(hook)).await;
    let id = created["id"].as_i64().unwrap();
    run(&app, c, call(Method::GET, "/api/webhooks", 200)).await;
    let one = |action: &str| format!("/api/webhooks/{id}{action}");
    run(
        &app,
        c,
        call(Method::POST, "/api/webhooks/{id}/test", 202).at(one("/test")),
    )
    .await;
    // The test event is attempted (crm.example does not resolve: logged, to be retried).
    app.service.hooks.run_due().await.unwrap();
    let log = run(&app, c, call(Method::GET, "/api/deliveries", 200)).await;
    assert!(!log["deliveries"].as_array().unwrap().is_empty(), "{log}");
    run(
        &app,
        c,
        call(Method::POST, "/api/webhooks/{id}/enable", 200).at(one("/enable")),
    )
    .await;
    run(
        &app,
        c,
        call(Method::DELETE, "/api/webhooks/{id}", 204).at(one("")),
    )
    .await;
    run(
        &app,
        c,
        call(Method::DELETE, "/api/webhooks/{id}", 404).at(one("")),
    )
    .await;
    run(
        &app,
        c,
        call(Method::DELETE, "/api/webhooks/{id}", 400).at("/api/webhooks/abc"),
    )
    .await;

    // People: a user made, signed in, changing their password; their session listed and
    // ended; changed, given a password, deleted; the audit log of it all.
    let new_user =
        json!({"login": "sam", "password": crate::users::PASSWORD, "role": "supervisor"});
    let sam = run(
        &app,
        c,
        call(Method::POST, "/api/users", 201).body(new_user),
    )
    .await;
    let sam_id = sam["id"].as_i64().unwrap();
    let res = crate::users::sign_in(&app, "sam", crate::users::PASSWORD).await;
    assert_eq!(res.status(), 200);
    let cookie = session_cookie(&res);
    let change = json!({"current": crate::users::PASSWORD, "password": "another long one"});
    run(
        &app,
        c,
        call(Method::PUT, "/api/me/password", 200)
            .cookie(&cookie)
            .body(change),
    )
    .await;
    // A second factor, set up and turned off again (a code of a later step).
    let totp = "/api/me/totp";
    let setup = run(&app, c, call(Method::POST, totp, 200).cookie(&cookie)).await;
    let secret = setup["secret"].as_str().unwrap().to_string();
    let code = |app: &TestApp| {
        use ovh_cti::clock::Clock;
        json!({"code": ovh_cti::second_factor::code_at(&secret, app.clock.now()).unwrap()})
    };
    run(
        &app,
        c,
        call(Method::PUT, totp, 200)
            .cookie(&cookie)
            .body(code(&app)),
    )
    .await;
    app.clock.advance(30.0);
    run(
        &app,
        c,
        call(Method::DELETE, totp, 200)
            .cookie(&cookie)
            .body(code(&app)),
    )
    .await;
    run(&app, c, call(Method::DELETE, totp, 409).body(code(&app))).await;
    // One's own screen pop: none, chosen, refused silent, back to the organisation's; a
    // token has none.
    let own = "/api/me/screen-pop";
    run(&app, c, call(Method::GET, own, 200).cookie(&cookie)).await;
    let choice =
        json!({"enabled": true, "mode": "popup", "url": "https://crm.example/?n=*CALLING*"});
    run(
        &app,
        c,
        call(Method::PUT, own, 200).cookie(&cookie).body(choice),
    )
    .await;
    run(&app, c, call(Method::GET, own, 200).cookie(&cookie)).await;
    let silent = json!({"mode": "silent"});
    run(
        &app,
        c,
        call(Method::PUT, own, 400).cookie(&cookie).body(silent),
    )
    .await;
    run(&app, c, call(Method::DELETE, own, 200).cookie(&cookie)).await;
    run(&app, c, call(Method::GET, own, 409)).await;
    let sessions = run(&app, c, call(Method::GET, "/api/sessions", 200)).await;
    let session = sessions["sessions"][0]["id"].as_str().unwrap().to_string();
    let end = format!("/api/sessions/{session}");
    run(
        &app,
        c,
        call(Method::DELETE, "/api/sessions/{id}", 204).at(end.clone()),
    )
    .await;
    run(
        &app,
        c,
        call(Method::DELETE, "/api/sessions/{id}", 404).at(end),
    )
    .await;
    let user = |rest: &str| format!("/api/users/{sam_id}{rest}");
    let demote = json!({"role": "viewer"});
    run(
        &app,
        c,
        call(Method::PUT, "/api/users/{id}", 200)
            .at(user(""))
            .body(demote),
    )
    .await;
    let pw = json!({"password": "a third long one"});
    run(
        &app,
        c,
        call(Method::PUT, "/api/users/{id}/password", 200)
            .at(user("/password"))
            .body(pw),
    )
    .await;
    let short = json!({"password": "short"});
    run(
        &app,
        c,
        call(Method::PUT, "/api/users/{id}/password", 400)
            .at(user("/password"))
            .body(short),
    )
    .await;
    run(&app, c, call(Method::GET, "/api/users", 200)).await;
    run(
        &app,
        c,
        call(Method::DELETE, "/api/users/{id}", 204).at(user("")),
    )
    .await;
    run(
        &app,
        c,
        call(Method::DELETE, "/api/users/{id}", 404).at(user("")),
    )
    .await;
    let log = run(&app, c, call(Method::GET, "/api/audit", 200)).await;
    assert!(log["entries"].as_array().unwrap().len() > 5, "{log}");
    run(
        &app,
        c,
        call(Method::GET, "/api/audit.csv", 200).at("/api/audit.csv?all=1"),
    )
    .await;

    run(&app, c, call(Method::GET, "/api/org", 200)).await;
    let name = json!({"name": "Acme"});
    run(&app, c, call(Method::PUT, "/api/org", 200).body(name)).await;
    let off = json!({"token_login": false});
    run(&app, c, call(Method::PUT, "/api/org", 409).body(off)).await;

    // A second token attached to the organisation; a user's session shows it.
    let attach = json!({"token": TOKEN_B});
    run(
        &app,
        c,
        call(Method::POST, "/api/org/tokens", 201).body(attach),
    )
    .await;
    let tokens = run(&app, c, call(Method::GET, "/api/org/tokens", 200)).await;
    let new_user = json!({"login": "tom", "password": crate::users::PASSWORD, "role": "viewer"});
    run(
        &app,
        c,
        call(Method::POST, "/api/users", 201).body(new_user),
    )
    .await;
    let tom = crate::users::cookie_of(&app, "tom").await;
    let b = tokens["tokens"][1]["id"].clone();
    let switch = json!({ "id": b });
    run(
        &app,
        c,
        call(Method::PUT, "/api/me/token", 200)
            .cookie(&tom)
            .body(switch),
    )
    .await;

    // A wall-screen link: made, listed, opened by a screen, revoked.
    let wall = run(
        &app,
        c,
        call(Method::POST, "/api/wall-links", 201).body(json!({"label": "TV"})),
    )
    .await;
    run(&app, c, call(Method::GET, "/api/wall-links", 200)).await;
    let open = wall["path"].as_str().unwrap().to_string();
    run(
        &app,
        c,
        call(Method::GET, "/wall/{key}", 303)
            .at(open.clone())
            .token(None),
    )
    .await;
    let revoke = format!("/api/wall-links/{}", wall["id"]);
    run(
        &app,
        c,
        call(Method::DELETE, "/api/wall-links/{id}", 204).at(revoke),
    )
    .await;
    run(
        &app,
        c,
        call(Method::GET, "/wall/{key}", 404).at(open).token(None),
    )
    .await;

    // Sessions and tokens: a configured token is removed where it is configured (409); one
    // typed at the login page can be forgotten.
    let login = json!({"token": TOKEN_B});
    run(
        &app,
        c,
        call(Method::POST, "/api/login", 200)
            .body(login)
            .token(None),
    )
    .await;
    run(
        &app,
        c,
        call(Method::POST, "/api/login", 400)
            .body(json!({"token": "x"}))
            .token(None),
    )
    .await;
    run(&app, c, call(Method::POST, "/api/logout", 200)).await;
    run(&app, c, call(Method::DELETE, "/api/token", 409)).await;
    run(
        &app,
        c,
        call(Method::DELETE, "/api/token", 200).token(Some(TOKEN_B)),
    )
    .await;

    // The installation operator's token management, by an admin signed in as a person.
    let ops = json!({"login": "ops", "password": crate::users::PASSWORD, "role": "admin"});
    run(&app, c, call(Method::POST, "/api/users", 201).body(ops)).await;
    let res = crate::users::sign_in(&app, "ops", crate::users::PASSWORD).await;
    let ops = session_cookie(&res);
    let admin = "/api/admin/tokens";
    run(
        &app,
        c,
        call(Method::GET, admin, 200)
            .cookie(&ops)
            .at(format!("{admin}?limit=1")),
    )
    .await;
    let added = run(
        &app,
        c,
        call(Method::POST, admin, 201)
            .cookie(&ops)
            .body(json!({"token": "C0FFEE00-1C3E-4F5A-8B7C-0D1E2F3A4B5C"})),
    )
    .await;
    let one = |rest: &str| format!("{admin}/{}{rest}", added["id"].as_str().unwrap());
    for (template, rest) in [
        ("/api/admin/tokens/{id}/disable", "/disable"),
        ("/api/admin/tokens/{id}/enable", "/enable"),
    ] {
        run(
            &app,
            c,
            call(Method::POST, template, 200).cookie(&ops).at(one(rest)),
        )
        .await;
    }
    run(
        &app,
        c,
        call(Method::DELETE, "/api/admin/tokens/{id}", 200)
            .cookie(&ops)
            .at(one("")),
    )
    .await;
    run(&app, c, call(Method::GET, admin, 403)).await;

    // Refusals of reads.
    run(&app, c, call(Method::GET, "/api/lines", 401).token(None)).await;
    run(
        &app,
        c,
        call(Method::GET, "/api/history", 400).at("/api/history?limit=0"),
    )
    .await;
    run(
        &app,
        c,
        call(Method::GET, "/api/reports/calls", 400).at("/api/reports/calls?from=yesterday"),
    )
    .await;

    // OVH's REST API routes are tried against the simulator, below.
    let every: BTreeSet<String> = document_routes(&checker.doc)
        .into_iter()
        .filter(|r| !is_ovh_route(r))
        .collect();
    let untried: Vec<_> = every.difference(&checker.succeeded).collect();
    assert!(
        untried.is_empty(),
        "never answered with success: {untried:?}"
    );
}

fn is_ovh_route(route: &str) -> bool {
    [
        "/api/ovh",
        "/api/agents",
        "/api/click2call",
        "/api/live-calls",
    ]
    .iter()
    .any(|p| {
        route
            .split_once(' ')
            .is_some_and(|(_, path)| path.starts_with(p))
    })
}

/// The routes of OVH's REST API (issue 11), against the simulator: each answers with success
/// at least once, and every answer matches the document.
#[tokio::test]
async fn the_ovh_routes_answers_match_the_document() {
    use crate::ovh::{board_until, connected, start_sim_with};
    // Traffic, so that a queue has a live call to act on.
    let sim = start_sim_with(20.0).await;
    let up = FakeUpstream::start().await;
    let token: &'static str = Box::leak(sim.account_token().into_boxed_str());
    let app = spawn_app(
        &up,
        Options {
            tokens: vec![token],
            upstream: Some(sim.base.clone()),
            ovh_api: Some(format!("{}/1.0", sim.base)),
            ..Options::default()
        },
    )
    .await;
    let mut checker = Checker {
        doc: ovh_cti::web::openapi_document(),
        succeeded: BTreeSet::new(),
    };
    let c = &mut checker;
    let t = Some(token);
    run(&app, c, call(Method::GET, "/api/ovh", 200).token(t)).await;
    run(&app, c, call(Method::GET, "/api/agents", 200).token(t)).await;
    run(
        &app,
        c,
        call(Method::POST, "/api/ovh/refresh", 409).token(t),
    )
    .await;
    let keys = sim.keys();
    let bad = json!({"application_key": ""});
    run(
        &app,
        c,
        call(Method::POST, "/api/ovh", 400).token(t).body(bad),
    )
    .await;
    let connect = json!({"application_key": keys.application_key, "application_secret": keys.application_secret});
    let pending = run(
        &app,
        c,
        call(Method::POST, "/api/ovh", 201).token(t).body(connect),
    )
    .await;
    let url = pending["validation_url"].as_str().unwrap();
    let page = reqwest::Client::new();
    page.post(url)
        .form(&[("action", "validate")])
        .send()
        .await
        .unwrap();
    run(
        &app,
        c,
        call(Method::POST, "/api/ovh/refresh", 202).token(t),
    )
    .await;
    let board = board_until(&app, token, connected).await;
    run(&app, c, call(Method::GET, "/api/ovh", 200).token(t)).await;
    run(&app, c, call(Method::GET, "/api/agents", 200).token(t)).await;

    let agent = &board["board"]["agents"][0];
    let (service, id) = (
        agent["service"].as_str().unwrap(),
        agent["id"].as_i64().unwrap(),
    );
    let reason = board["board"]["breaks"][service][0]["id"].as_i64().unwrap();
    let status = format!("/api/agents/{service}/{id}");
    let template = "/api/agents/{service}/{id}";
    let pause = json!({"status": "onBreak", "reason": reason});
    run(
        &app,
        c,
        call(Method::PUT, template, 200)
            .token(t)
            .at(status.clone())
            .body(pause),
    )
    .await;
    let back = json!({"status": "available"});
    run(
        &app,
        c,
        call(Method::PUT, template, 200)
            .token(t)
            .at(status.clone())
            .body(back),
    )
    .await;
    let wrong = json!({"status": "asleep"});
    run(
        &app,
        c,
        call(Method::PUT, template, 400)
            .token(t)
            .at(status.clone())
            .body(wrong),
    )
    .await;
    let queue = agent["queues"][0].as_i64().unwrap();
    let membership = format!("{status}/queues/{queue}");
    let template = "/api/agents/{service}/{id}/queues/{queue}";
    run(
        &app,
        c,
        call(Method::DELETE, template, 200)
            .token(t)
            .at(membership.clone()),
    )
    .await;
    run(
        &app,
        c,
        call(Method::PUT, template, 200).token(t).at(membership),
    )
    .await;
    let line = board["board"]["lines"][0]["number"].as_str().unwrap();
    // A line with a free channel now (the traffic keeps them busy): OVH refuses the others.
    let mut called = false;
    let mut refusals = Vec::new();
    for l in board["board"]["lines"].as_array().unwrap() {
        let dial = json!({"number": "0033612345678", "line": l["number"]});
        let res = app
            .send(token, Method::POST, "/api/click2call", Some(dial))
            .await;
        let (status, text) = (res.status().as_u16(), res.text().await.unwrap());
        c.check("POST", "/api/click2call", status, "application/json", &text);
        if status == 200 {
            called = true;
            break;
        }
        assert_eq!(status, 502, "{text}");
        refusals.push(text);
    }
    assert!(called, "no line could call: {refusals:?}");
    let no_line = json!({"number": "0033612345678"});
    run(
        &app,
        c,
        call(Method::POST, "/api/click2call", 400)
            .token(t)
            .body(no_line),
    )
    .await;

    // A live queue call to listen to.
    let mut rx = app.service.hub.subscribe();
    let calls = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            let v = run(&app, c, call(Method::GET, "/api/live-calls", 200).token(t)).await;
            if let Some(first) = v["calls"].as_array().and_then(|a| a.first()).cloned() {
                return first;
            }
            let _ = rx.recv().await;
        }
    })
    .await
    .expect("a queue call comes within a minute");
    let action = format!(
        "/api/live-calls/{}/{}/{}/eavesdrop",
        calls["service"].as_str().unwrap(),
        calls["queue_id"],
        calls["id"]
    );
    let template = "/api/live-calls/{service}/{queue}/{call}/{action}";
    let from = json!({"number": line});
    run(
        &app,
        c,
        call(Method::POST, template, 200)
            .token(t)
            .at(action)
            .body(from),
    )
    .await;
    run(
        &app,
        c,
        call(Method::POST, "/api/ovh/event-token", 200).token(t),
    )
    .await;
    run(&app, c, call(Method::DELETE, "/api/ovh", 200).token(t)).await;
    run(&app, c, call(Method::DELETE, "/api/ovh", 404).token(t)).await;

    let every: BTreeSet<String> = document_routes(&checker.doc)
        .into_iter()
        .filter(|r| is_ovh_route(r))
        .collect();
    let untried: Vec<_> = every.difference(&checker.succeeded).collect();
    assert!(
        untried.is_empty(),
        "never answered with success: {untried:?}"
    );
}

/// schemathesis found axum's own plain-text refusals behind three inputs: a repeated
/// parameter of `DELETE /api/token`, a path segment that is not UTF-8, a body over 2 MiB.
/// Every refusal is the API's JSON, as documented.
#[tokio::test]
async fn refusals_that_were_axum_s_plain_text_are_json() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    let mut checker = Checker {
        doc: ovh_cti::web::openapi_document(),
        succeeded: BTreeSet::new(),
    };
    let c = &mut checker;
    let v = run(
        &app,
        c,
        call(Method::DELETE, "/api/token", 400).at("/api/token?purge=null&purge=null"),
    )
    .await;
    assert_eq!(v["field"], "purge");
    let done = "/api/callbacks/{number}/done";
    let v = run(
        &app,
        c,
        call(Method::PUT, done, 400).at("/api/callbacks/%FF/done"),
    )
    .await;
    assert_eq!(v["field"], "number");
    let huge = json!({"timezone": "x".repeat(3 << 20)});
    let v = run(&app, c, call(Method::PUT, "/api/settings", 413).body(huge)).await;
    assert!(v["error"].as_str().unwrap().contains("2 MiB"), "{v}");
}
