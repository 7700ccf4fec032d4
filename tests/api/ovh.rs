//! OVH's REST API (issue 11), against the simulator's fake of it: connecting an account and
//! noticing its validation, the agent board, an agent's status and queues, click-to-call and
//! live-call actions, event tokens made and rotated, and each of OVH's refusals said clearly.
//! The service follows the simulator's feed too, so that what the REST API does shows in the
//! events.

use crate::helpers::*;
use crate::users::{add_user, cookie_of};
use ovh_cti::ovh_api::Keys;
use ovh_cti::simulate::{Faults, RestFault, SimConfig, Simulator};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// The simulator (feed and REST API), with its faults handle.
pub struct Sim {
    pub base: String,
    pub faults: Faults,
    pub simulator: Simulator,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn start_sim() -> Sim {
    // No generated traffic: what happens is what the tests do.
    start_sim_with(0.0).await
}

/// The simulator with `rate` calls a minute.
pub async fn start_sim_with(rate: f64) -> Sim {
    let simulator = Simulator::new(SimConfig {
        rate_per_min: rate,
        hold: Duration::from_millis(300),
        // The service reads the account at once; OVH's 60 a minute is tested on its own.
        rest_rate: 10_000,
        ..SimConfig::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (faults, serve) = simulator.clone().serve_with_faults(listener, async move {
        let _ = stopped.await;
    });
    tokio::spawn(serve);
    Sim {
        base,
        faults,
        simulator,
        _stop: stop,
    }
}

impl Sim {
    pub fn keys(&self) -> Keys {
        let k = self.simulator.api_keys();
        Keys {
            application_key: k.application_key,
            application_secret: k.application_secret,
            consumer_key: k.consumer_key,
        }
    }

    pub fn account_token(&self) -> String {
        self.simulator.account().account_token.clone()
    }
}

/// The service following the simulator's account token, on its REST API (`keys`: configured,
/// or none for the dashboard's flow).
async fn app_on(sim: &Sim, keys: Option<Keys>) -> (TestApp, std::path::PathBuf, &'static str) {
    let up = FakeUpstream::start().await;
    let token: &'static str = Box::leak(sim.account_token().into_boxed_str());
    let db = temp_db();
    let app = spawn_app(
        &up,
        Options {
            tokens: vec![token],
            db: Some(db.clone()),
            upstream: Some(sim.base.clone()),
            ovh_api: Some(format!("{}/1.0", sim.base)),
            ovh_keys: keys,
            ..Options::default()
        },
    )
    .await;
    (app, db, token)
}

/// Waits until the agent board (as `GET /api/agents` shows it) satisfies `check`: it is
/// read again whenever the service publishes a new one.
pub async fn board_until(app: &TestApp, token: &str, check: impl Fn(&Value) -> bool) -> Value {
    let mut rx = app.service.hub.subscribe();
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let now = app.json("/api/agents", token).await;
            if check(&now) {
                return now;
            }
            // The next update of any kind; the board is read again then.
            let _ = rx.recv().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the agent board never got there"))
}

pub fn connected(v: &Value) -> bool {
    v["state"] == "connected"
        && v["board"]["agents"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
}

/// Connected, and every agent's live status read: the supervisor's first round is over, and
/// it reads again only 20 s later (so a fault injected now meets the test's own request).
fn settled(v: &Value) -> bool {
    connected(v)
        && v["board"]["agents"]
            .as_array()
            .is_some_and(|a| a.iter().all(|x| !x["live"].is_null()))
}

#[tokio::test]
async fn an_admin_connects_an_account_and_the_board_appears_once_ovh_validated_the_key() {
    let sim = start_sim().await;
    let (app, _db, token) = app_on(&sim, None).await;
    assert_eq!(app.json("/api/agents", token).await["state"], "off");
    let keys = sim.keys();
    let res = app
        .send(
            token,
            Method::POST,
            "/api/ovh",
            Some(json!({"application_key": keys.application_key, "application_secret": keys.application_secret})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let answer: Value = res.json().await.unwrap();
    let url = answer["validation_url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&sim.base), "{url}");
    let status = app.json("/api/ovh", token).await;
    assert_eq!(status["state"], "pending");
    assert_eq!(status["validation_url"], url.as_str());
    assert_eq!(status["application_key"], keys.application_key.as_str());

    // The owner accepts on OVH's page; the service notices by itself (asked to look now).
    let page = reqwest::Client::new();
    assert_eq!(page.get(&url).send().await.unwrap().status(), 200);
    let accepted = page
        .post(&url)
        .form(&[("action", "validate")])
        .send()
        .await
        .unwrap();
    assert!(accepted.status().is_success() || accepted.status().is_redirection());
    let res = app
        .send(token, Method::POST, "/api/ovh/refresh", None)
        .await;
    assert_eq!(res.status(), 202);
    let board = board_until(&app, token, connected).await;
    let agents = board["board"]["agents"].as_array().unwrap();
    assert!(agents.iter().all(|a| a["status"] == "available"), "{board}");
    // OVH's setting of each line's calls at once.
    assert!(!board["board"]["lines"].as_array().unwrap().is_empty());

    // No secret anywhere the API shows.
    let everything = format!(
        "{}{}{}",
        app.json("/api/ovh", token).await,
        board,
        app.json("/api/audit", token).await
    );
    assert!(!everything.contains(&keys.application_secret));
    assert!(everything.contains("ovh.connect"));
    // Forgotten on request.
    let res = app.send(token, Method::DELETE, "/api/ovh", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.json("/api/ovh", token).await["state"], "off");
}

#[tokio::test]
async fn agents_are_put_on_a_break_by_a_supervisor_or_by_themselves_and_the_board_follows() {
    let sim = start_sim().await;
    let (app, db, token) = app_on(&sim, Some(sim.keys())).await;
    let board = board_until(&app, token, connected).await;
    let agent = board["board"]["agents"][0].clone();
    let (service, id, number) = (
        agent["service"].as_str().unwrap().to_string(),
        agent["id"].as_i64().unwrap(),
        agent["number"].as_str().unwrap().to_string(),
    );
    let reason = board["board"]["breaks"][&service][0]["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/agents/{service}/{id}");

    add_user(&db, "sue", "supervisor", &[]);
    add_user(&db, "ann", "agent", &["--line", &number]);
    add_user(&db, "vic", "viewer", &[]);
    let sue = cookie_of(&app, "sue").await;
    let put = |cookie: String, body: Value| {
        let (app, path) = (&app, path.clone());
        async move {
            app.http
                .put(app.url(&path))
                .header("cookie", cookie)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let res = put(sue.clone(), json!({"status": "onBreak", "reason": reason})).await;
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    let row = |v: &Value| {
        v["board"]["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id && a["service"] == service.as_str())
            .cloned()
            .unwrap()
    };
    assert_eq!(row(&view)["status"], "onBreak");
    assert_eq!(row(&view)["break_reason"]["id"], reason);
    // A break reason the service does not have is refused, naming it.
    let res = put(sue.clone(), json!({"status": "onBreak", "reason": 999_999})).await;
    assert_eq!(res.status(), 400);

    // Ann, that agent, logs herself back in; a viewer may not, nor may another agent.
    let ann = cookie_of(&app, "ann").await;
    let res = put(ann.clone(), json!({"status": "available"})).await;
    assert_eq!(res.status(), 200);
    // The board in the answer to her action is hers alone too (regression: it was the whole
    // organisation's, every agent's status included).
    let answer: Value = res.json().await.unwrap();
    let rows = answer["board"]["agents"].as_array().unwrap();
    assert!(!rows.is_empty(), "{answer}");
    assert!(
        rows.iter().all(|a| a["number"] == number.as_str()),
        "{answer}"
    );
    let vic = cookie_of(&app, "vic").await;
    assert_eq!(put(vic, json!({"status": "loggedOut"})).await.status(), 403);
    let other = board["board"]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["number"] != number.as_str())
        .cloned()
        .unwrap();
    let res = app
        .http
        .put(app.url(&format!(
            "/api/agents/{}/{}",
            other["service"].as_str().unwrap(),
            other["id"]
        )))
        .header("cookie", &ann)
        .json(&json!({"status": "loggedOut"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Her board shows her own rows only.
    let mine = app
        .get_with_cookie("/api/agents", &ann)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(
        mine["board"]["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["number"] == number.as_str()),
        "{mine}"
    );

    // Out of the queue and back (supervisors).
    let queue = board["board"]["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["service"] == service.as_str())
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let membership = format!("{path}/queues/{queue}");
    let res = app
        .http
        .delete(app.url(&membership))
        .header("cookie", &sue)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    assert!(!row(&view)["queues"]
        .as_array()
        .unwrap()
        .contains(&json!(queue)));
    let res = app
        .http
        .put(app.url(&membership))
        .header("cookie", &sue)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    assert!(row(&view)["queues"]
        .as_array()
        .unwrap()
        .contains(&json!(queue)));
    let res = app
        .http
        .delete(app.url(&membership))
        .header("cookie", &ann)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "queues are the supervisors'");

    let audit = app.json("/api/audit", token).await.to_string();
    for action in ["agent.status", "agent.queue_leave", "agent.queue_join"] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
}

/// Waits for an `event` message on the stream of the service's hub about `number`.
async fn event_on(
    app: &TestApp,
    number: &str,
    rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<ovh_cti::hub::Update>>,
) -> String {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let u = rx.recv().await.unwrap();
            let text = String::from_utf8_lossy(&u.sse).to_string();
            if text.contains("event: event") && text.contains(number) {
                return text;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no event on {number} from {}", app.base))
}

#[tokio::test]
async fn click_to_call_rings_the_line_and_a_supervisor_listens_to_a_live_call() {
    let sim = start_sim().await;
    let (app, db, token) = app_on(&sim, Some(sim.keys())).await;
    let board = board_until(&app, token, connected).await;
    let lines = board["board"]["lines"].as_array().unwrap();
    let line = lines[0]["number"].as_str().unwrap().to_string();
    let mut rx = app.service.hub.subscribe();
    let res = app
        .send(
            token,
            Method::POST,
            "/api/click2call",
            Some(json!({"number": "+33 6 12 34 56 78", "line": line})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        answer["number"], "0033612345678",
        "typed as people do, sent as OVH writes it"
    );
    let text = event_on(&app, &line, &mut rx).await;
    assert!(text.contains("0033612345678"), "{text}");

    // An agent calls from her own line only, and need not name it.
    add_user(&db, "ann", "agent", &["--line", &line]);
    let ann = cookie_of(&app, "ann").await;
    let res = app
        .http
        .post(app.url("/api/click2call"))
        .header("cookie", &ann)
        .json(&json!({"number": "0033699999999"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let other = lines[1]["number"].as_str().unwrap();
    let res = app
        .http
        .post(app.url("/api/click2call"))
        .header("cookie", &ann)
        .json(&json!({"number": "0033699999999", "line": other}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // No live call yet: an empty list; an action on a call that does not exist is OVH's 404.
    let calls = app.json("/api/live-calls", token).await;
    assert!(calls["calls"].is_array());
    let service = board["board"]["queues"][0]["service"].as_str().unwrap();
    let queue = board["board"]["queues"][0]["id"].as_i64().unwrap();
    let res = app
        .send(
            token,
            Method::POST,
            &format!("/api/live-calls/{service}/{queue}/424242/eavesdrop"),
            Some(json!({"number": line})),
        )
        .await;
    assert!(
        res.status() == 502 || res.status() == 404,
        "{}",
        res.status()
    );
    // Listening from an outside number is refused before OVH is asked.
    let res = app
        .send(
            token,
            Method::POST,
            &format!("/api/live-calls/{service}/{queue}/1/eavesdrop"),
            Some(json!({"number": "0033612345678"})),
        )
        .await;
    assert_eq!(res.status(), 400);
    let audit = app.json("/api/audit", token).await.to_string();
    assert!(audit.contains("call.click2call"), "{audit}");
}

#[tokio::test]
async fn ovh_s_refusals_are_said_clearly_and_slow_downs_are_waited_out() {
    let sim = start_sim().await;
    let (app, _db, token) = app_on(&sim, Some(sim.keys())).await;
    let board = board_until(&app, token, settled).await;
    let agent = &board["board"]["agents"][0];
    let path = format!(
        "/api/agents/{}/{}",
        agent["service"].as_str().unwrap(),
        agent["id"]
    );
    let act = || {
        app.send(
            token,
            Method::PUT,
            &path,
            Some(json!({"status": "loggedOut"})),
        )
    };

    // A slow-down once: waited out, then done.
    sim.faults.inject_rest(
        RestFault::TooManyRequests {
            retry_after: Some(1),
        },
        1,
    );
    assert_eq!(act().await.status(), 200);

    for (fault, words) in [
        (RestFault::Forbidden, "connect the account again"),
        (RestFault::NotFound, "does not know this object"),
    ] {
        sim.faults.inject_rest(fault, 1);
        let res = act().await;
        assert_eq!(res.status(), 502);
        let error = res.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(error.contains(words), "{error}");
        assert!(!error.contains(&sim.keys().consumer_key));
    }
    // OVH down for longer than the retries: said, and the service goes on.
    sim.faults.inject_rest(RestFault::Unavailable, 10);
    let res = act().await;
    assert_eq!(res.status(), 502);
    let error = res.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("unavailable"), "{error}");
    sim.faults.clear_rest();
    // A refused signature (a wrong secret): said so.
    sim.faults.refuse_signatures(true);
    let res = act().await;
    assert_eq!(res.status(), 502);
    let error = res.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("signature"), "{error}");
    sim.faults.refuse_signatures(false);
    assert_eq!(act().await.status(), 200);
}

#[tokio::test]
async fn the_account_s_event_token_is_made_followed_and_rotated() {
    let sim = start_sim().await;
    let (app, db, token) = app_on(&sim, Some(sim.keys())).await;
    board_until(&app, token, connected).await;
    let res = app
        .send(token, Method::POST, "/api/ovh/event-token", Some(json!({})))
        .await;
    assert_eq!(res.status(), 200);
    let made: Value = res.json().await.unwrap();
    let first = made["tokens"][0]["id"].as_str().unwrap().to_string();
    assert!(app
        .service
        .follows(&ovh_cti::token::TokenId::from_stored(first.clone())));
    // Asked again: the same one.
    let again: Value = app
        .send(token, Method::POST, "/api/ovh/event-token", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["tokens"][0]["id"], first.as_str());
    // It records a queue caller.
    let placed = place_caller(&sim, json!({"queue": 0, "seconds": 2})).await;
    sim.faults.advance_clock(Duration::from_secs(10));
    let journal_of = |id: &str| -> Vec<String> {
        let conn = open_db(&db);
        let mut stmt = conn
            .prepare("SELECT caller FROM queue_journal WHERE token_id = ?1")
            .unwrap();
        stmt.query_map([id], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let caller = placed["caller"].as_str().unwrap().to_string();
    let mut rx = app.service.hub.subscribe();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !journal_of(&first).contains(&caller) {
            let _ = rx.recv().await;
        }
    })
    .await
    .expect("the made token records the caller");
    let rotated: Value = app
        .send(
            token,
            Method::POST,
            "/api/ovh/event-token",
            Some(json!({"rotate": true})),
        )
        .await
        .json()
        .await
        .unwrap();
    let second = rotated["tokens"][0]["id"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert!(app
        .service
        .follows(&ovh_cti::token::TokenId::from_stored(second.clone())));
    assert!(!app
        .service
        .follows(&ovh_cti::token::TokenId::from_stored(first.clone())));
    // The new token carries on with the old one's history (regression: it stayed filed under
    // the revoked token, out of every view).
    assert!(journal_of(&second).contains(&caller), "carried over");
    assert!(journal_of(&first).is_empty());
    // Never the token itself in the answers.
    assert!(!rotated.to_string().contains('-'), "{rotated}");
}

/// Places a caller in one of the simulator's queues (`POST /_sim/queue-call`).
async fn place_caller(sim: &Sim, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{}/_sim/queue-call", sim.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Asks the supervisor to read everything again now, then waits until `/api/health`'s
/// cross-check satisfies `check`.
async fn cross_check_until(app: &TestApp, token: &str, check: impl Fn(&Value) -> bool) -> Value {
    let mut rx = app.service.hub.subscribe();
    let r = app
        .send(token, Method::POST, "/api/ovh/refresh", None)
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let last = std::sync::Mutex::new(Value::Null);
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let health = app.json("/api/health", token).await;
            if check(&health["ovh_cross_check"]) {
                return health["ovh_cross_check"].clone();
            }
            *last.lock().unwrap() = health["ovh_cross_check"].clone();
            let _ = rx.recv().await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("the cross-check never got there: {}", last.lock().unwrap()))
}

#[tokio::test]
async fn health_flags_ovh_counts_beyond_ours_when_the_feed_lost_events() {
    let sim = start_sim().await;
    let (app, _db, token) = app_on(&sim, Some(sim.keys())).await;
    board_until(&app, token, settled).await;
    let queue = sim.simulator.account().queues[0].number.clone();
    let of = |c: &Value| -> Value {
        c["queues"]
            .as_array()
            .and_then(|qs| qs.iter().find(|q| q["queue"] == queue.as_str()))
            .cloned()
            .unwrap_or(Value::Null)
    };

    // A caller seen by both: OVH's counters and ours agree.
    let placed = place_caller(&sim, json!({"queue": 0, "seconds": 3})).await;
    sim.faults.advance_clock(Duration::from_secs(10));
    let caller = placed["caller"].as_str().unwrap().to_string();
    let mut rx = app.service.hub.subscribe();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !app.json("/api/queue-journal", token).await["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["caller"] == caller.as_str())
        {
            let _ = rx.recv().await;
        }
    })
    .await
    .expect("the caller reaches the journal");
    let check = cross_check_until(&app, token, |c| of(c)["ovh"]["total"] == 1).await;
    assert_eq!(
        of(&check)["ours"],
        json!({"total": 1, "answered": 0}),
        "{check}"
    );
    assert_eq!(of(&check)["verdict"], "agree", "{check}");
    assert_eq!(check["state"], "agree");
    assert_eq!(check["tolerance"], 2);

    // Three callers whose events OVH's feed loses (its REST API counts them): OVH counted
    // them, we could not.
    let differ_before = app.counter("ovh_counts_differ_total").await;
    sim.faults.lose_events(true);
    for _ in 0..3 {
        place_caller(&sim, json!({"queue": 0, "seconds": 2})).await;
    }
    sim.faults.advance_clock(Duration::from_secs(10));
    // Eight events at least for each (joins, a ring, leaves, counts).
    let lost = sim.faults.wait_until(|f| f.lost() >= 3 * 8);
    tokio::time::timeout(Duration::from_secs(20), lost)
        .await
        .expect("the simulator made the three callers' events");
    sim.faults.lose_events(false);
    let check = cross_check_until(&app, token, |c| of(c)["ovh"]["total"] == 4).await;
    assert_eq!(of(&check)["ours"]["total"], 1, "{check}");
    assert_eq!(of(&check)["verdict"], "differ", "{check}");
    assert_eq!(check["state"], "differ");
    // Logged and counted once, as it starts.
    assert!(app.counter("ovh_counts_differ_total").await > differ_before);
}
