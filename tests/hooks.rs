//! Screen pops and webhooks end to end: the real `Application` on 127.0.0.1:0 with a real
//! SQLite file, a fake OVH upstream serving the fixtures' poll bodies, and a receiver on
//! 127.0.0.1 (allowed explicitly with `webhook_allow`) that answers from a script. Time is a
//! `ManualClock`: the tests advance it and run the worker's pass, so the back-off schedule is
//! checked to the second without sleeping through it.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ovh_cti::app::{Application, Service};
use ovh_cti::clock::{Clock, ManualClock, SystemClock};
use ovh_cti::config::Config;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[path = "support/binary.rs"]
mod binary;

const TOKEN: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

fn fixture(name: &str) -> Vec<String> {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .lines()
    .filter(|l| !l.trim().is_empty() && !l.contains("__status__"))
    .map(str::to_string)
    .collect()
}

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A fake OVH event API (v1): each poll takes the next queued body, or holds briefly and
/// answers with no event.
#[derive(Clone, Default)]
struct Upstream(Arc<Mutex<VecDeque<String>>>, Arc<tokio::sync::Notify>);

impl Upstream {
    async fn start() -> (Upstream, String) {
        let up = Upstream::default();
        let router = axum::Router::new()
            .route("/", axum::routing::get(Upstream::poll))
            .with_state(up.clone());
        let addr = serve(router).await;
        (up, format!("http://{addr}"))
    }

    fn push(&self, bodies: impl IntoIterator<Item = String>) {
        self.0.lock().extend(bodies);
        self.1.notify_waiters();
    }

    /// Answers with the next queued body as soon as there is one, or with no event after a
    /// second, as OVH does after its hold time.
    async fn poll(State(up): State<Upstream>, Query(q): Query<HashMap<String, String>>) -> String {
        assert_eq!(q.get("token").map(String::as_str), Some(TOKEN));
        let waited = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                let pushed = up.1.notified();
                tokio::pin!(pushed);
                pushed.as_mut().enable();
                if let Some(body) = up.0.lock().pop_front() {
                    return body;
                }
                pushed.await;
            }
        });
        waited
            .await
            .unwrap_or_else(|_| r#"{"Session":"S1","Message":"","Events":[]}"#.into())
    }
}

#[derive(Clone, Debug)]
enum Reply {
    Status(u16),
    Hang,
    Redirect(&'static str),
}

#[derive(Clone, Debug)]
struct Received {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// The CRM / webhook receiver: records every request and answers from its script (200 once
/// the script is used up).
#[derive(Clone, Default)]
struct Receiver {
    script: Arc<Mutex<VecDeque<Reply>>>,
    got: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl Receiver {
    async fn start(script: impl IntoIterator<Item = Reply>) -> (Receiver, String) {
        let r = Receiver::default();
        r.script.lock().extend(script);
        let router = axum::Router::new()
            .fallback(Receiver::handle)
            .with_state(r.clone());
        let addr = serve(router).await;
        (r, format!("http://{addr}"))
    }

    async fn handle(
        State(r): State<Receiver>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        r.got.lock().push(Received {
            method,
            uri,
            headers,
            body,
        });
        r.arrived.notify_waiters();
        let reply = r.script.lock().pop_front();
        match reply {
            None => StatusCode::OK.into_response(),
            Some(Reply::Status(s)) => StatusCode::from_u16(s).unwrap().into_response(),
            Some(Reply::Hang) => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                StatusCode::OK.into_response()
            }
            Some(Reply::Redirect(to)) => {
                (StatusCode::FOUND, [("location", to)], "moved").into_response()
            }
        }
    }

    /// Resolves once `n` requests have arrived (or fails after ten seconds).
    async fn wait_for(&self, n: usize) {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let arrived = self.arrived.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                if self.got.lock().len() >= n {
                    return;
                }
                arrived.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the receiver never got {n} requests"));
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().clone()
    }
}

struct Running {
    service: Arc<Service>,
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

impl Running {
    async fn start(db: &std::path::Path, upstream: &str, clock: &ManualClock) -> Running {
        Running::start_allowing(db, upstream, clock, &["127.0.0.1/32"]).await
    }

    /// The service with only these ranges allowed besides public addresses.
    async fn start_allowing(
        db: &std::path::Path,
        upstream: &str,
        clock: &ManualClock,
        allow: &[&str],
    ) -> Running {
        let config = Config {
            listen: "127.0.0.1:0".into(),
            db: db.to_path_buf(),
            upstream: upstream.into(),
            tokens: ovh_cti::config::parse_tokens(&[TOKEN.into()]).unwrap(),
            webhook_allow: allow.iter().map(|r| r.parse().unwrap()).collect(),
            webhook_timeout: Duration::from_secs(2),
            ..Config::default()
        };
        let app = Application::build(config, Arc::new(clock.clone()))
            .await
            .unwrap();
        let base = format!("http://{}", app.address());
        let service = app.service();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        // The tokens known at start are followed in the background: wait for them.
        service.ready().await;
        Running {
            service,
            base,
            stop: Some(stop),
            task,
            http: reqwest::Client::new(),
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }

    async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Waits until `n` events are stored: their deliveries are then in the outbox, committed
    /// with them. Woken by the hub after each commit rather than by polling.
    async fn wait_events(&self, n: usize) {
        let mut updates = self.service.hub.subscribe();
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let (_, v) = self.api(Method::GET, "/api/events?limit=1000", None).await;
                if v["events"].as_array().map_or(0, Vec::len) >= n {
                    return;
                }
                let _ = updates.recv().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the events never came in"));
    }

    /// One pass of the worker at the clock's present time; returns when its results are stored.
    async fn deliver(&self) -> usize {
        self.service.hooks.run_due().await.unwrap()
    }

    /// Creates a webhook endpoint, which must succeed; returns its id.
    async fn create_endpoint(&self, body: Value) -> i64 {
        let (status, v) = self.api(Method::POST, "/api/webhooks", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["id"].as_i64().unwrap()
    }

    async fn deliveries(&self, query: &str) -> Vec<Value> {
        let (status, v) = self
            .api(Method::GET, &format!("/api/deliveries?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v["deliveries"].as_array().unwrap().clone()
    }
}

fn now_clock() -> ManualClock {
    ManualClock::new(SystemClock.now().floor())
}

/// The poll body holding the fixture's first incoming `start_ringing` (0033612345678 calling
/// 0033972101010, "Accueil").
fn ringing_poll() -> String {
    fixture("lines.v1.jsonl")
        .into_iter()
        .find(|l| l.contains("\"Event\": \"start_ringing\""))
        .unwrap()
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers.get(name).unwrap().to_str().unwrap()
}

#[tokio::test]
async fn webhook_retries_follow_the_schedule_signed_with_one_id_and_never_follow_redirects() {
    let dir = tempfile::tempdir().unwrap();
    let (upstream, up_url) = Upstream::start().await;
    let (rx, rx_url) = Receiver::start([
        Reply::Status(500),
        Reply::Hang,
        Reply::Redirect("/elsewhere?secret=1"),
        Reply::Status(503),
    ])
    .await;
    let clock = now_clock();
    let app = Running::start(&dir.path().join("db"), &up_url, &clock).await;

    let (status, created) = app
        .api(
            Method::POST,
            "/api/webhooks",
            Some(json!({"url": format!("{rx_url}/hook?k=v"), "events": ["start_ringing"], "description": "CRM"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let (_, listed) = app.api(Method::GET, "/api/webhooks", None).await;
    assert_eq!(listed["webhooks"][0]["state"], "enabled");
    assert!(
        listed["webhooks"][0].get("secret").is_none(),
        "shown once only"
    );

    let t0 = clock.now();
    upstream.push([ringing_poll()]);
    app.wait_events(1).await;
    app.deliver().await;
    assert_eq!(rx.got().len(), 1, "attempted at once");

    // 5 s, 30 s, 2 min, 10 min after each failure: never a moment before.
    let mut at = t0;
    for (wait, attempts) in [(5.0, 2), (30.0, 3), (120.0, 4), (600.0, 5)] {
        at += wait;
        clock.set(at - 0.5);
        app.deliver().await;
        assert_eq!(rx.got().len(), attempts - 1, "not before {wait} s");
        clock.set(at);
        app.deliver().await;
        assert_eq!(rx.got().len(), attempts, "due after {wait} s");
    }

    let got = rx.got();
    assert!(got
        .iter()
        .all(|r| r.method == Method::POST && r.uri.path() == "/hook"));
    assert!(
        !got.iter().any(|r| r.uri.path() == "/elsewhere"),
        "the redirect was not followed"
    );
    let id = header(&got[0], "webhook-id");
    assert!(id.starts_with("msg_"));
    let wh = standardwebhooks::Webhook::new(&secret).unwrap();
    wh.verify(&got[0].body, &got[0].headers)
        .expect("the first attempt verifies");
    let expected_times = [t0, t0 + 5.0, t0 + 35.0, t0 + 155.0, t0 + 755.0];
    for (r, t) in got.iter().zip(expected_times) {
        assert_eq!(header(r, "webhook-id"), id, "the same id on every attempt");
        let ts: i64 = header(r, "webhook-timestamp").parse().unwrap();
        assert_eq!(ts, t as i64);
        let sig = wh.sign(id, ts, &r.body).unwrap();
        assert_eq!(header(r, "webhook-signature"), sig);
        assert_eq!(header(r, "content-type"), "application/json");
    }
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "start_ringing");
    assert_eq!(body["data"]["calling"], "0033612345678");
    assert_eq!(body["data"]["number"], "0033972101010");
    assert!(!String::from_utf8_lossy(&got[0].body).contains(TOKEN));
    assert!(!got.iter().any(|r| r.uri.to_string().contains(TOKEN)));

    let log = app.deliveries("kind=webhook").await;
    let outcomes: Vec<(&str, Value)> = log
        .iter()
        .rev()
        .map(|d| (d["outcome"].as_str().unwrap(), d["status"].clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("retry", json!(500)),
            ("retry", Value::Null),
            ("retry", json!(302)),
            ("retry", json!(503)),
            ("delivered", json!(200)),
        ]
    );
    assert!(log[3]["error"]
        .as_str()
        .unwrap()
        .contains("no answer within"));
    assert!(log[2]["error"].as_str().unwrap().contains("not followed"));
    assert!(log
        .iter()
        .all(|d| d["url"].as_str().unwrap().ends_with("/hook?k=***")));
    assert!(app.deliveries("kind=pop").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_410_disables_an_endpoint_and_endless_failures_are_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let (upstream, up_url) = Upstream::start().await;
    let (gone, gone_url) = Receiver::start([Reply::Status(410)]).await;
    let (broken, broken_url) = Receiver::start((0..10).map(|_| Reply::Status(500))).await;
    let clock = now_clock();
    let app = Running::start(&dir.path().join("db"), &up_url, &clock).await;
    for url in [&gone_url, &broken_url] {
        let (status, _) = app
            .api(
                Method::POST,
                "/api/webhooks",
                Some(json!({"url": url, "events": ["start_ringing"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    upstream.push([ringing_poll()]);
    app.wait_events(1).await;
    app.deliver().await;
    for wait in [5.0, 30.0, 120.0, 600.0, 3600.0] {
        clock.advance(wait);
        app.deliver().await;
    }
    clock.advance(86400.0);
    app.deliver().await;
    assert_eq!(gone.got().len(), 1, "nothing more after a 410");
    assert_eq!(broken.got().len(), 6, "the first attempt and five retries");

    let (_, listed) = app.api(Method::GET, "/api/webhooks", None).await;
    let states: Vec<&str> = listed["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["disabled", "enabled"]);
    assert!(listed["webhooks"][0]["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("410"));
    let log = app.deliveries("").await;
    assert_eq!(log[0]["outcome"], "gave_up");
    assert!(log
        .iter()
        .any(|d| d["outcome"] == "failed" && d["status"] == 410));

    // The disabled endpoint gets no more events; a test event still reaches the other one.
    let broken_id = listed["webhooks"][1]["id"].as_i64().unwrap();
    let (status, queued) = app
        .api(
            Method::POST,
            &format!("/api/webhooks/{broken_id}/test"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    app.deliver().await;
    let last = broken.got().pop().unwrap();
    assert_eq!(
        header(&last, "webhook-id"),
        queued["webhook_id"].as_str().unwrap()
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&last.body).unwrap()["type"],
        "test"
    );
    assert_eq!(gone.got().len(), 1);

    let (status, _) = app
        .api(Method::DELETE, &format!("/api/webhooks/{broken_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .api(Method::DELETE, &format!("/api/webhooks/{broken_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn a_delivery_interrupted_by_a_restart_happens_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let (upstream, up_url) = Upstream::start().await;
    let (rx, rx_url) = Receiver::start([Reply::Status(503)]).await;
    let clock = now_clock();
    let app = Running::start(&db, &up_url, &clock).await;
    app.api(
        Method::POST,
        "/api/webhooks",
        Some(json!({"url": rx_url, "events": ["start_ringing"]})),
    )
    .await;
    app.api(
        Method::PUT,
        "/api/settings",
        Some(json!({"screen_pop": {"enabled": true, "mode": "silent", "url": format!("{rx_url}/pop?n=*CALLING*")}})),
    )
    .await;
    // The receiver fails the first request; the service stops before any retry is due.
    rx.script.lock().push_back(Reply::Status(503));
    upstream.push([ringing_poll()]);
    app.wait_events(1).await;
    app.deliver().await;
    assert_eq!(rx.got().len(), 2, "one pop, one webhook, both refused");
    app.stop().await;

    let app = Running::start(&db, &up_url, &clock).await;
    upstream.push([ringing_poll()]); // delivered again by OVH: not a new event
    clock.advance(5.0);
    app.deliver().await;
    let got = rx.got();
    assert_eq!(
        got.len(),
        4,
        "each retried once after the restart, and only once"
    );
    let ids = |path: &str| -> Vec<String> {
        got.iter()
            .filter(|r| r.uri.path() == path)
            .map(|r| header(r, "webhook-id").to_string())
            .collect()
    };
    let hook_ids = ids("/");
    assert_eq!(hook_ids.len(), 2);
    assert_eq!(hook_ids[0], hook_ids[1], "the same id after the restart");
    assert_eq!(got.iter().filter(|r| r.uri.path() == "/pop").count(), 2);
    let log = app.deliveries("").await;
    assert_eq!(
        log.iter().filter(|d| d["outcome"] == "delivered").count(),
        2
    );
    clock.advance(3600.0 * 3.0);
    assert_eq!(app.deliver().await, 0, "nothing left to do");
    app.stop().await;
}

/// Which fixture events a default silent screen pop (start_ringing and member-queue-start,
/// incoming line calls) must request, worked out from the raw JSON. A queue's call pops once,
/// on its `member-queue-start`: the agents' lines ringing for it (the queue's number as the
/// caller) do not pop again — they once did, once per agent.
fn expected_pops(polls: &[String]) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let events: Vec<Value> = polls
        .iter()
        .flat_map(|p| {
            serde_json::from_str::<Value>(p).unwrap()["Events"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect();
    let queues: std::collections::HashSet<&str> = events
        .iter()
        .filter(|e| e["Service"] == "queues")
        .filter_map(|e| e["Ressource"].as_str())
        .collect();
    for poll in polls {
        let v: Value = serde_json::from_str(poll).unwrap();
        for e in v["Events"].as_array().unwrap() {
            let name = e["Event"].as_str().unwrap_or_default();
            let line = e["Ressource"].as_str().unwrap_or_default();
            let calling = e["Data"]["Calling"].as_str().unwrap_or_default();
            let wanted = match name {
                "member-queue-start" => true,
                "start_ringing" => calling != line && !queues.contains(calling),
                _ => false,
            };
            if wanted && seen.insert(e.to_string()) {
                out.push((name.to_string(), calling.to_string()));
            }
        }
    }
    out
}

#[tokio::test]
async fn a_silent_screen_pop_requests_once_per_matching_event() {
    let dir = tempfile::tempdir().unwrap();
    let (upstream, up_url) = Upstream::start().await;
    let (rx, rx_url) = Receiver::start([]).await;
    let clock = now_clock();
    let app = Running::start(&dir.path().join("db"), &up_url, &clock).await;
    let (status, settings) = app
        .api(
            Method::PUT,
            "/api/settings",
            Some(json!({"screen_pop": {"enabled": true, "mode": "silent",
                "url": format!("{rx_url}/crm?from=*CALLING*&e=*EVENT*&line=*NUMBER*&d=*DESCRIPTION*&a=*AGENT*")}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["screen_pop"]["numbers"], Value::Null);

    let mut polls = fixture("lines.v1.jsonl");
    polls.extend(fixture("queue.v1.jsonl"));
    let expected = expected_pops(&polls);
    assert!(expected.len() >= 4, "the fixtures ring several times");
    let total: usize = {
        let mut seen = std::collections::HashSet::new();
        for p in &polls {
            let v: Value = serde_json::from_str(p).unwrap();
            for e in v["Events"].as_array().unwrap() {
                seen.insert(e.to_string());
            }
        }
        seen.len()
    };
    upstream.push(polls.clone());
    upstream.push(polls.clone()); // every poll delivered twice
    app.wait_events(total).await;
    for _ in 0..3 {
        app.deliver().await;
    }
    let got = rx.got();
    let requested: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            assert_eq!(r.method, Method::GET);
            let q: HashMap<String, String> = url_pairs(r.uri.query().unwrap_or_default());
            (q["e"].clone(), q["from"].clone())
        })
        .collect();
    let mut a = requested.clone();
    let mut b = expected.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "exactly one request per matching event");
    let queue_pop = got
        .iter()
        .find(|r| r.uri.query().unwrap().contains("member-queue-start"))
        .unwrap();
    let q = url_pairs(queue_pop.uri.query().unwrap());
    assert_eq!(q["line"], "0033972100100");
    assert_eq!(q["d"], "Support");
    let log = app.deliveries("kind=pop").await;
    assert_eq!(log.len(), expected.len());
    assert!(log
        .iter()
        .all(|d| d["outcome"] == "delivered" && d["url"].as_str().unwrap().contains("from=***")));
    app.stop().await;
}

fn url_pairs(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .unwrap();
            (k.to_string(), v.into_owned())
        })
        .collect()
}

#[tokio::test]
async fn modal_and_popup_pops_reach_the_dashboard_stream() {
    let dir = tempfile::tempdir().unwrap();
    let (upstream, up_url) = Upstream::start().await;
    let (rx, _) = Receiver::start([]).await;
    let clock = now_clock();
    let app = Running::start(&dir.path().join("db"), &up_url, &clock).await;
    app.api(
        Method::PUT,
        "/api/settings",
        Some(json!({"screen_pop": {"enabled": true, "mode": "modal",
            "url": "https://crm.example/lookup?n=*CALLING*&d=*DESCRIPTION*"}})),
    )
    .await;
    let mut stream = app
        .http
        .get(format!("{}/api/stream", app.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    upstream.push([ringing_poll()]);
    let mut text = String::new();
    let pop = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let chunk = stream.chunk().await.unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
            if let Some(at) = text.find("event: pop\ndata: ") {
                let rest = &text[at + 17..];
                if let Some(end) = rest.find('\n') {
                    return serde_json::from_str::<Value>(&rest[..end]).unwrap();
                }
            }
        }
    })
    .await
    .expect("a pop message on the stream");
    assert_eq!(pop["mode"], "modal");
    assert_eq!(
        pop["url"],
        "https://crm.example/lookup?n=0033612345678&d=Accueil"
    );
    assert_eq!(pop["event"], "start_ringing");
    assert_eq!(pop["number"], "0033972101010");
    assert_eq!(pop["calling"], "0033612345678");
    assert_eq!(pop["description"], "Accueil");
    app.deliver().await;
    assert!(
        rx.got().is_empty() && app.deliveries("").await.is_empty(),
        "the browser's, not ours"
    );
    drop(stream);
    app.stop().await;
}

#[tokio::test]
async fn endpoints_are_checked_when_created() {
    let dir = tempfile::tempdir().unwrap();
    let (_upstream, up_url) = Upstream::start().await;
    let clock = now_clock();
    let app = Running::start(&dir.path().join("db"), &up_url, &clock).await;
    for (body, field) in [
        (json!({"url": "ftp://x.example/"}), "url"),
        (json!({"url": "http://169.254.169.254/latest"}), "url"),
        (json!({"url": "http://[::1]:8080/"}), "url"),
        (
            json!({"url": "https://x.example/", "events": ["ring"]}),
            "events",
        ),
        (json!({"url": "https://x.example/", "events": []}), "events"),
        (
            json!({"url": "https://x.example/", "colour": "red"}),
            "colour",
        ),
        (json!({"events": ["*"]}), "url"),
        (json!([1]), "webhook"),
    ] {
        let (status, v) = app
            .api(Method::POST, "/api/webhooks", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["field"], field, "{body}: {v}");
    }
    let (status, v) = app
        .api(Method::GET, "/api/deliveries?kind=email", None)
        .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("kind"))
    );
    let r = reqwest::Client::new()
        .get(format!("{}/api/webhooks", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// The real binary, killed with SIGKILL while a delivery is in flight: after the restart the
/// delivery is made, with the same `webhook-id`.
#[tokio::test]
async fn a_delivery_cut_by_kill_9_is_made_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let (upstream, up_url) = Upstream::start().await;
    let (rx, rx_url) = Receiver::start([Reply::Hang]).await;
    let start = || {
        let served = binary::serve(&up_url, TOKEN, &db, &["--webhook-allow", "127.0.0.1/32"]);
        (served.child, served.base)
    };
    let (mut first, base) = start();
    let created = reqwest::Client::new()
        .post(format!("{base}/api/webhooks"))
        .bearer_auth(TOKEN)
        .json(&json!({"url": format!("{rx_url}/hook"), "events": ["start_ringing"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    upstream.push([ringing_poll()]);
    rx.wait_for(1).await; // the delivery is in flight: the receiver holds it
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, _) = start();
    rx.wait_for(2).await;
    let got = rx.got();
    assert_eq!(header(&got[0], "webhook-id"), header(&got[1], "webhook-id"));
    second.kill().unwrap();
    second.wait().unwrap();
}

/// Counts rows of the service's database file, read-only, beside the running service.
fn count(db: &std::path::Path, sql: &str) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Issue 8, item 2, replayed on the real service: 100 endpoints with 1.9 MB URLs and test
/// sends grew the database to 1 GB in 20 s. Now every oversized field is refused naming it,
/// a token has at most 20 endpoints, a new test replaces the endpoint's previous one, and
/// what is stored stays within the caps.
#[tokio::test]
async fn huge_webhook_urls_and_a_storm_of_test_sends_are_refused_and_the_database_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let (_upstream, up_url) = Upstream::start().await;
    let (rx, rx_url) = Receiver::start([]).await;
    let clock = now_clock();
    let app = Running::start(&db, &up_url, &clock).await;

    let huge = format!("{rx_url}/hook?pad={}", "x".repeat(1_900_000));
    for _ in 0..100 {
        let (status, v) = app
            .api(Method::POST, "/api/webhooks", Some(json!({"url": huge})))
            .await;
        assert_eq!(
            (status, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("url"))
        );
        assert!(v["error"].as_str().unwrap().contains("2 KiB"), "{v}");
    }
    for (body, field) in [
        (
            json!({"url": rx_url, "description": "d".repeat(201)}),
            "description",
        ),
        (
            json!({"url": rx_url, "events": vec!["start_ringing"; 33]}),
            "events",
        ),
        (
            json!({"url": rx_url, "events": ["x".repeat(1_000_000)]}),
            "events",
        ),
        // Undeliverable for good: refused now rather than queued and retried.
        // (127.0.0.1 is allowed here: another IPv4 address in IPv6 dress.)
        (json!({"url": "http://[::ffff:0:a00:1]/"}), "url"),
        (json!({"url": "http://[::ffff:0:7f00:2]/"}), "url"),
        (json!({"url": "http://[64:ff9b:1::a00:1]/"}), "url"),
        (json!({"url": "http://[::1]/"}), "url"),
        (json!({"url": "http://exa mple.com/"}), "url"),
        (json!({"url": "https:///nohost"}), "url"),
        (json!({"url": "http://[::1/"}), "url"),
    ] {
        let (status, v) = app.api(Method::POST, "/api/webhooks", Some(body)).await;
        assert_eq!(
            (status, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{v}"
        );
        assert!(v.to_string().len() < 1024, "the refusal stays short");
    }

    // Exactly at the caps: 20 endpoints with 2 KiB addresses and 200-character descriptions.
    let mut ids = Vec::new();
    for i in 0..20 {
        let base = format!("{rx_url}/hook/{i}?pad=");
        let url = format!("{base}{}", "x".repeat(2048 - base.len()));
        let body = json!({"url": url, "description": "é".repeat(200)});
        ids.push(app.create_endpoint(body).await);
    }
    let (status, v) = app
        .api(Method::POST, "/api/webhooks", Some(json!({"url": rx_url})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("delete one first"),
        "{v}"
    );

    // Ten test sends to each endpoint: each replaces that endpoint's previous test.
    let mut last = HashMap::new();
    for _ in 0..10 {
        for id in &ids {
            let (status, v) = app
                .api(Method::POST, &format!("/api/webhooks/{id}/test"), None)
                .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{v}");
            last.insert(*id, v["webhook_id"].as_str().unwrap().to_string());
        }
    }
    app.deliver().await;
    assert!(rx.got().len() >= 20);
    let log = app.deliveries("limit=1000").await;
    assert_eq!(log.len(), 20, "one test per endpoint in the log");
    for d in &log {
        let id = d["endpoint_id"].as_i64().unwrap();
        assert_eq!(
            d["webhook_id"].as_str(),
            Some(last[&id].as_str()),
            "the latest test"
        );
        assert_eq!(d["outcome"], "delivered");
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM outbox"), 20);
    for (table, cap) in [
        ("webhooks", 2048),
        ("outbox", 2048),
        ("deliveries", 2048 + 256),
    ] {
        let longest = count(&db, &format!("SELECT MAX(length(url)) FROM {table}"));
        assert!(longest <= cap, "{table}: {longest}");
    }
    let size = count(
        &db,
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
    );
    assert!(size < 1 << 20, "the database holds {size} bytes");

    for id in &ids {
        let (status, _) = app
            .api(Method::DELETE, &format!("/api/webhooks/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    app.stop().await;
}

/// Issue 8: SQLite gave a deleted endpoint's id to the next one, whose log then showed the
/// old endpoint's deliveries.
#[tokio::test]
async fn a_deleted_endpoints_id_is_never_given_to_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_upstream, up_url) = Upstream::start().await;
    let (_rx, rx_url) = Receiver::start([]).await;
    let clock = now_clock();
    let app = Running::start(&dir.path().join("db"), &up_url, &clock).await;
    let _first = app.create_endpoint(json!({"url": rx_url})).await;
    let old = app.create_endpoint(json!({"url": rx_url})).await;
    app.api(Method::POST, &format!("/api/webhooks/{old}/test"), None)
        .await;
    app.deliver().await;
    assert_eq!(app.deliveries(&format!("endpoint={old}")).await.len(), 1);
    let (status, _) = app
        .api(Method::DELETE, &format!("/api/webhooks/{old}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let new = app.create_endpoint(json!({"url": rx_url})).await;
    assert!(new > old, "{new} after {old}");
    assert_eq!(
        app.deliveries(&format!("endpoint={new}")).await,
        Vec::<Value>::new()
    );
    app.stop().await;
}

/// Issue 8: the delivery log, which token holders read, said `refused to connect to
/// 127.0.0.1`, telling them what an internal name resolves to. The endpoint here was saved
/// while the operator allowed 127.0.0.1, and is used after that range was closed.
#[tokio::test]
async fn the_delivery_log_says_not_public_and_never_which_address() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let (upstream, up_url) = Upstream::start().await;
    let (rx, rx_url) = Receiver::start([]).await;
    let clock = now_clock();
    let app = Running::start(&db, &up_url, &clock).await;
    app.create_endpoint(json!({"url": rx_url})).await;
    app.stop().await;

    let app = Running::start_allowing(&db, &up_url, &clock, &[]).await;
    upstream.push([ringing_poll()]);
    app.wait_events(1).await;
    app.deliver().await;
    let log = app.deliveries("").await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["outcome"], "failed");
    assert_eq!(log[0]["error"], "refused: not a public address");
    assert!(rx.got().is_empty());
    app.stop().await;
}
