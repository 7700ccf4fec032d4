//! An integrator's instance (issue 15): thousands of tokens followed in the background while
//! `/healthz` answers at once and `/readyz` says when all are followed; tokens added, disabled
//! and removed at run time — command line, admin API, SIGHUP — with nothing lost for the
//! others; the operator's paginated list of feeds, and `/metrics` by state.

use crate::binary;
use crate::helpers::*;
use crate::users::{add_user, cookie_of};
use ovh_cti::token::Token;
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

const TOKEN_C: &str = "C0FFEE00-1C3E-4F5A-8B7C-0D1E2F3A4B5C";

fn id(token: &str) -> String {
    Token::parse(token).unwrap().id().to_string()
}

/// `n` distinct tokens, leaked: the test options take `&'static str`.
fn many_tokens(n: usize) -> Vec<&'static str> {
    (0..n)
        .map(|i| &*format!("{i:08X}-0000-4000-8000-{i:012X}").leak())
        .collect()
}

/// A fake OVH that accepts no connection until `open` (so that nothing can have polled it),
/// then records which tokens polled and holds every poll, as OVH holds an empty one.
struct GatedUpstream {
    url: String,
    gate: tokio::sync::watch::Sender<bool>,
    polled: Arc<Mutex<HashSet<String>>>,
}

impl GatedUpstream {
    async fn start() -> GatedUpstream {
        let polled: Arc<Mutex<HashSet<String>>> = Arc::default();
        let seen = polled.clone();
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(
                move |axum::extract::Query(q): axum::extract::Query<
                    std::collections::HashMap<String, String>,
                >| {
                    let seen = seen.clone();
                    async move {
                        seen.lock()
                            .insert(q.get("token").cloned().unwrap_or_default());
                        // Held for longer than the test: OVH holds an empty poll 25 s.
                        tokio::time::sleep(Duration::from_secs(600)).await;
                        axum::Json(json!({"Session": "S1", "Message": "", "Events": []}))
                    }
                },
            ),
        );
        // Room for every follower's connection in the queue while the gate is shut.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(4096).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let gate = tokio::sync::watch::channel(false).0;
        let mut open = gate.subscribe();
        tokio::spawn(async move {
            let _ = open.wait_for(|o| *o).await;
            axum::serve(listener, app).await.unwrap();
        });
        GatedUpstream { url, gate, polled }
    }

    fn polled(&self) -> usize {
        self.polled.lock().len()
    }
}

/// Polls `probe` until it returns `Some`, giving up after a minute.
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_tokens_healthz_answers_before_any_poll_and_readyz_once_all_are_followed() {
    let up = GatedUpstream::start().await;
    let fake = FakeUpstream::start().await;
    let tokens = many_tokens(2000);
    let app = spawn_app(
        &fake,
        Options {
            tokens: tokens.clone(),
            upstream: Some(up.url.clone()),
            wait_until_ready: false,
            ..Options::default()
        },
    )
    .await;
    // Liveness does not wait for the followers: OVH has not been reached at all yet.
    let healthz = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(healthz.status(), 200);
    assert_eq!(up.polled(), 0);
    // A login with the last of them waits for it to be followed, rather than failing.
    let login = app.login(tokens[1999]).await;
    assert_eq!(login.status(), 200);
    // Readiness says how many are still to be followed, then 200 once none is.
    let ready = until("/readyz says 200", || async {
        let res = app.http.get(app.url("/readyz")).send().await.unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        if status == 503 {
            let pending = body["pending"].as_u64().unwrap();
            assert!((1..=2000).contains(&pending), "{body}");
            assert_eq!(body["ready"], false);
            return None;
        }
        assert_eq!(status, 200, "{body}");
        Some(body)
    })
    .await;
    assert_eq!(
        ready,
        json!({"ready": true, "pending": 0, "stopping": false, "tokens": 2000})
    );
    up.gate.send_replace(true);
    until("every token polled OVH", || async {
        (up.polled() == 2000).then_some(())
    })
    .await;
    let metrics = app.metrics().await;
    assert!(metrics.contains("ovh_cti_tokens_pending 0"), "{metrics}");
    let by_state: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("ovh_cti_feeds{state="))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(by_state, 2000, "every feed counted once");
    assert!(
        !metrics.contains("token_id="),
        "no series per token by default"
    );
    app.stop().await;
}

/// `ovh-cti tokens …` on `db`, which must succeed: what it printed.
fn tokens_cmd(db: &std::path::Path, args: &[&str]) -> String {
    let out = crate::tokens::tokens_cmd(db, args);
    assert!(out.status.success(), "{}", one_line_error(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn operators_add_disable_enable_and_remove_tokens_at_run_time_by_api_and_command_line() {
    let up = FakeUpstream::start().await;
    let db = temp_db();
    let app = spawn_app(
        &up,
        Options {
            db: Some(db.clone()),
            ..Options::default()
        },
    )
    .await;
    add_user(&db, "ops", "admin", &[]);
    let cookie = cookie_of(&app, "ops").await;
    let call = |method: Method, path: &str, body: Option<Value>| {
        let mut req = app
            .http
            .request(method, app.url(path))
            .header("cookie", cookie.clone());
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
                text,
            )
        }
    };
    // A token's own bearer is its organisation's admin, not the installation's operator.
    let res = app.get("/api/admin/tokens", TOKEN_A).await;
    assert_eq!(res.status(), 403);

    // Added over the API: followed at once, without a restart.
    let (status, body, text) = call(
        Method::POST,
        "/api/admin/tokens",
        Some(json!({"token": TOKEN_B})),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(body["id"], id(TOKEN_B));
    assert!(
        !text.to_ascii_uppercase().contains(TOKEN_B),
        "never the token: {text}"
    );
    let b = Token::parse(TOKEN_B).unwrap().id();
    assert!(app.service.follows(&b));
    let (status, _, _) = call(
        Method::POST,
        "/api/admin/tokens",
        Some(json!({"token": TOKEN_B})),
    )
    .await;
    assert_eq!(status, 200, "known already");
    let (status, body, _) = call(
        Method::POST,
        "/api/admin/tokens",
        Some(json!({"token": "nope"})),
    )
    .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("token")));

    // The others lose nothing meanwhile: Token A's feed goes on through every change below.
    let lines = answers("lines.v1.jsonl");
    up.push(TOKEN_A, lines.clone());

    let (status, _, _) = call(
        Method::POST,
        &format!("/api/admin/tokens/{b}/disable"),
        Some(json!({"reason": "customer left"})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(app.service.is_paused(&b));
    let (_, list, text) = call(Method::GET, "/api/admin/tokens?state=paused", None).await;
    assert_eq!(list["total"], 1, "{text}");
    assert_eq!(
        list["tokens"][0]["health"]["paused_reason"],
        "customer left"
    );
    let (status, _, _) = call(Method::POST, &format!("/api/admin/tokens/{b}/enable"), None).await;
    assert_eq!(status, 200);
    assert!(!app.service.is_paused(&b));

    // On the command line, with the running service following suit by itself.
    let said = tokens_cmd(&db, &["add", TOKEN_C]);
    assert!(said.starts_with("added C0FF…"), "{said}");
    assert!(
        !said.to_ascii_uppercase().contains(TOKEN_C),
        "never the token: {said}"
    );
    let c = Token::parse(TOKEN_C).unwrap().id();
    until("the CLI's token is followed", || async {
        app.service.follows(&c).then_some(())
    })
    .await;
    until("it polls OVH", || async {
        (up.polls(TOKEN_C) > 0).then_some(())
    })
    .await;
    tokens_cmd(&db, &["disable", &c.to_string()]);
    until("the CLI's token is disabled", || async {
        app.service.is_paused(&c).then_some(())
    })
    .await;
    tokens_cmd(&db, &["remove", &c.to_string()]);
    until("the CLI's token is removed", || async {
        (!app.service.follows(&c)).then_some(())
    })
    .await;

    // The list: worst first, a page at a time, filtered; never a token.
    let (_, page, text) = call(Method::GET, "/api/admin/tokens?limit=1", None).await;
    assert_eq!(
        (page["total"].as_u64(), page["next_offset"].as_u64()),
        (Some(2), Some(1)),
        "{text}"
    );
    let (_, rest, _) = call(Method::GET, "/api/admin/tokens?limit=1&offset=1", None).await;
    assert_eq!(rest["next_offset"], Value::Null);
    let mut ids = vec![
        page["tokens"][0]["id"].clone(),
        rest["tokens"][0]["id"].clone(),
    ];
    ids.sort_by_key(|v| v.to_string());
    let mut want = vec![json!(id(TOKEN_A)), json!(id(TOKEN_B))];
    want.sort_by_key(|v| v.to_string());
    assert_eq!(ids, want);
    let (status, body, _) = call(Method::GET, "/api/admin/tokens?state=asleep", None).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("state")));
    for t in [TOKEN_A, TOKEN_B] {
        assert!(
            !text.to_ascii_uppercase().contains(t),
            "never the token: {text}"
        );
    }

    // A configured token is removed where it is configured; the others over the API.
    let (status, _, _) = call(
        Method::DELETE,
        &format!("/api/admin/tokens/{}", id(TOKEN_A)),
        None,
    )
    .await;
    assert_eq!(status, 409);
    let (status, body, _) = call(Method::DELETE, &format!("/api/admin/tokens/{b}"), None).await;
    assert_eq!((status, body["purged"].as_bool()), (200, Some(false)));
    assert!(!app.service.follows(&b));
    let (status, _, _) = call(Method::DELETE, &format!("/api/admin/tokens/{b}"), None).await;
    assert_eq!(status, 404);

    up.idle(TOKEN_A).await;
    let events = app.json("/api/events?limit=1000", TOKEN_A).await;
    assert_eq!(
        events["events"].as_array().unwrap().len(),
        events_in(&lines)
    );
    app.stop().await;
}

#[test]
fn sighup_applies_the_configuration_s_tokens_without_a_restart() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let up = runtime.block_on(FakeUpstream::start());
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = (
        dir.path().join("ovh-cti.db"),
        dir.path().join("ovh-cti.toml"),
    );
    std::fs::write(&config, format!("tokens = [\"{TOKEN_B}\"]\n")).unwrap();
    let mut served = binary::serve(
        &up.url,
        TOKEN_A,
        &db,
        &["--config", config.to_str().unwrap()],
    );
    let pid = served.child.id() as i32;
    let listed = |want: &[&str], not: &[&str]| {
        runtime.block_on(until(
            "the token table follows the configuration",
            || async {
                let list = tokens_cmd(&db, &["list"]);
                let rows: Vec<&str> = list.lines().filter(|l| l.contains("active")).collect();
                let has = |t: &str| rows.iter().any(|l| l.contains(&id(t)));
                (want.iter().all(|t| has(t)) && !not.iter().any(|t| has(t))).then_some(())
            },
        ))
    };
    listed(&[TOKEN_A, TOKEN_B], &[TOKEN_C]);

    // Token C replaces Token B in the file; Token A, given as a flag, stays.
    std::fs::write(&config, format!("tokens = [\"{TOKEN_C}\"]\n")).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    listed(&[TOKEN_A, TOKEN_C], &[TOKEN_B]);
    runtime.block_on(until("Token C polls OVH", || async {
        (up.polls(TOKEN_C) > 0).then_some(())
    }));

    // A file that does not parse changes nothing, and the service keeps running.
    std::fs::write(&config, "tokens = [\"not a token\"]\n").unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let health = runtime.block_on(async {
        reqwest::get(format!("{}/readyz", served.base))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(health, 200);
    // Signals are handled in order: once the next good file is applied, the bad one was read.
    std::fs::write(
        &config,
        format!("tokens = [\"{TOKEN_C}\", \"{TOKEN_B}\"]\n"),
    )
    .unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    listed(&[TOKEN_A, TOKEN_B, TOKEN_C], &[]);

    // Token A's feed went on through it all.
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    runtime.block_on(up.idle(TOKEN_A));
    let _ = served.child.kill();
    let _ = served.child.wait();
}

/// The rows of the token table, as `ovh-cti tokens list` reads them.
fn last_success(db: &std::path::Path, token: &str) -> Option<f64> {
    let conn = open_db(db);
    let rows = ovh_cti::store::tokens::list(&conn).unwrap();
    let id = Token::parse(token).unwrap().id();
    rows.into_iter()
        .find(|r| r.id == id)
        .unwrap()
        .last_success_at
}

#[tokio::test]
async fn last_successes_are_written_together_once_a_minute_and_at_shutdown_not_one_write_each() {
    let up = FakeUpstream::start().await;
    let db = temp_db();
    let app = spawn_app(
        &up,
        Options {
            db: Some(db.clone()),
            tokens: vec![TOKEN_A, TOKEN_B],
            ..Options::default()
        },
    )
    .await;
    let lines = answers("lines.v1.jsonl");
    // A follower's first success is written at once: the list shows it.
    for t in [TOKEN_A, TOKEN_B] {
        up.push(t, lines[..1].to_vec());
        up.idle(t).await;
    }
    let first = T0;
    until("the first successes are written", || async {
        (last_success(&db, TOKEN_A) == Some(first) && last_success(&db, TOKEN_B) == Some(first))
            .then_some(())
    })
    .await;
    // Later ones are noted, not written one by one...
    app.clock.advance(120.0);
    for t in [TOKEN_A, TOKEN_B] {
        up.push(t, lines[1..2].to_vec());
        up.idle(t).await;
    }
    assert_eq!(last_success(&db, TOKEN_A), Some(first));
    // ...and written together at shutdown, after the followers stopped.
    app.stop().await;
    for t in [TOKEN_A, TOKEN_B] {
        assert_eq!(last_success(&db, t), Some(first + 120.0), "{t}");
    }
}

#[tokio::test]
async fn metrics_count_feeds_by_state_and_give_series_per_token_only_when_asked() {
    let up = FakeUpstream::start().await;
    up.refuse_unknown_tokens();
    up.accept(TOKEN_A);
    let app = spawn_app(
        &up,
        Options {
            tokens: vec![TOKEN_A, TOKEN_B],
            metrics_per_token: true,
            ..Options::default()
        },
    )
    .await;
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    up.idle(TOKEN_A).await;
    // Token B is refused by OVH: failing (backing off), and counted as refused.
    let metrics = until("Token B is counted as refused", || async {
        let m = app.metrics().await;
        m.contains("ovh_cti_feeds_refused 1").then_some(m)
    })
    .await;
    assert!(
        metrics.contains("ovh_cti_feeds{state=\"failing\"} 1"),
        "{metrics}"
    );
    let (a, b) = (id(TOKEN_A), id(TOKEN_B));
    assert!(
        metrics.contains(&format!("ovh_cti_feed_up{{token_id=\"{a}\"}} 1")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("ovh_cti_feed_up{{token_id=\"{b}\"}} 0")),
        "{metrics}"
    );
    for t in [TOKEN_A, TOKEN_B] {
        assert!(!metrics.to_ascii_uppercase().contains(t), "never the token");
    }
    app.stop().await;
}
