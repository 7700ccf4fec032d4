//! Test harness: `spawn_app()` starts the real service (real HTTP server on 127.0.0.1:0, real
//! SQLite file in a temporary directory) with an injected clock, against `FakeUpstream`, a fake
//! of OVH's event API that serves scripted poll answers (the fixtures) per token.
//!
//! Waiting without sleeping: a follower polls again only once the previous answer is
//! committed, so `FakeUpstream::idle(token)` — "everything pushed was served and the follower is
//! back asking for more" — means every served event is in the store and on the board.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use ovh_cti::app::{Application, Service};
use ovh_cti::clock::ManualClock;
use ovh_cti::config::Config;
use ovh_cti::feed::{Api, Backoff};
use ovh_cti::token::Token;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub const TOKEN_A: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";
pub const TOKEN_B: &str = "9B2D5A10-1C3E-4F5A-8B7C-0D1E2F3A4B5C";
pub const FIXTURE_TOKEN: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";
/// A fixed "now" for the injected clock: 26 Nov 2024, 10:20 Paris, like the fixtures.
pub const T0: f64 = 1732612800.0;

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The poll answers of a `.jsonl` fixture, one per line.
pub fn answers(name: &str) -> Vec<String> {
    fixture(name)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

pub fn expected() -> Value {
    serde_json::from_str(&fixture("expected.json")).unwrap()
}

#[derive(Default)]
struct Feed {
    queue: VecDeque<String>,
    /// A follower is waiting in a poll with nothing left to serve.
    waiting: bool,
    /// The `session` parameter of every poll, in order.
    sessions: Vec<Option<String>>,
    polls: usize,
    /// Polls held open before the last `forget_held_polls` must not take new answers: their
    /// client is gone (a stopped or killed service).
    epoch: u64,
}

#[derive(Default)]
struct Upstream {
    feeds: Mutex<HashMap<String, Feed>>,
    changed: Notify,
    /// v2: sessions created, and how many polls to answer "Timeout, please reconnect".
    v2_sessions: Mutex<Vec<(String, Option<String>)>>,
    v2_created: std::sync::atomic::AtomicUsize,
    v2_expire_next: Mutex<usize>,
    /// Signalled when a trickled answer has started to go out.
    trickling: Notify,
    /// `Some`: only these tokens are served, any other is refused with 403 (as OVH and the
    /// simulator do); `None`: every token is served.
    known: Mutex<Option<std::collections::HashSet<String>>>,
}

/// A fake `events.voip.ovh.net`: answers polls from per-token scripts.
#[derive(Clone)]
pub struct FakeUpstream {
    inner: Arc<Upstream>,
    pub url: String,
}

impl FakeUpstream {
    pub async fn start() -> FakeUpstream {
        let inner = Arc::new(Upstream::default());
        let app = Router::new()
            .route("/", get(v1_poll))
            .route("/v2/session", post(v2_create))
            .route("/v2/session/{id}/subscribe/{token}", post(v2_subscribe))
            .route("/v2/session/{id}/events/poll", get(v2_poll))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeUpstream { inner, url }
    }

    /// The same fake, but announced at another address (e.g. one where nothing listens).
    pub fn at(self, url: String) -> FakeUpstream {
        FakeUpstream { url, ..self }
    }

    /// From now on, refuse (403) every token not pushed to or accepted.
    pub fn refuse_unknown_tokens(&self) {
        let feeds: std::collections::HashSet<String> =
            self.inner.feeds.lock().keys().cloned().collect();
        self.inner.known.lock().get_or_insert(feeds);
    }

    /// Serves `token` (when unknown tokens are refused).
    pub fn accept(&self, token: &str) {
        if let Some(known) = self.inner.known.lock().as_mut() {
            known.insert(token.to_string());
        }
    }

    /// Refuses `token` from now on (403), as OVH does a token that expired or was deleted.
    pub fn refuse(&self, token: &str) {
        self.inner
            .known
            .lock()
            .get_or_insert_with(|| self.inner.feeds.lock().keys().cloned().collect())
            .remove(token);
        self.inner.changed.notify_waiters();
    }

    /// Queues poll answers for `token` (fixture lines; the fixture's token is replaced).
    pub fn push(&self, token: &str, answers: impl IntoIterator<Item = String>) {
        self.accept(token);
        let mut feeds = self.inner.feeds.lock();
        let feed = feeds.entry(token.to_string()).or_default();
        feed.queue
            .extend(answers.into_iter().map(|a| a.replace(FIXTURE_TOKEN, token)));
        feed.waiting = false;
        drop(feeds);
        self.inner.changed.notify_waiters();
    }

    /// Resolves once everything pushed for `token` was served and committed.
    pub async fn idle(&self, token: &str) {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let notified = self.inner.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                {
                    let feeds = self.inner.feeds.lock();
                    if feeds
                        .get(token)
                        .is_some_and(|f| f.queue.is_empty() && f.waiting)
                    {
                        return;
                    }
                }
                notified.await;
            }
        })
        .await
        .expect("the follower never came back for more");
    }

    /// The service that held polls open was stopped or killed: its polls must not swallow
    /// the answers meant for the next one.
    pub fn forget_held_polls(&self, token: &str) {
        let mut feeds = self.inner.feeds.lock();
        let feed = feeds.entry(token.to_string()).or_default();
        feed.epoch += 1;
        feed.waiting = false;
        drop(feeds);
        self.inner.changed.notify_waiters();
    }

    pub fn sessions(&self, token: &str) -> Vec<Option<String>> {
        self.inner
            .feeds
            .lock()
            .get(token)
            .map(|f| f.sessions.clone())
            .unwrap_or_default()
    }

    pub fn polls(&self, token: &str) -> usize {
        self.inner.feeds.lock().get(token).map_or(0, |f| f.polls)
    }

    /// How many polls of `token` passed no session: first polls of a session.
    pub fn first_polls(&self, token: &str) -> usize {
        self.sessions(token).iter().filter(|s| s.is_none()).count()
    }

    /// v2: the next `n` polls answer "Timeout, please reconnect".
    pub fn expire_v2_sessions(&self, n: usize) {
        *self.inner.v2_expire_next.lock() = n;
    }

    /// Resolves once a trickled answer (`__trickle_ms__`) has started to go out.
    pub fn trickling(&self) -> impl std::future::Future<Output = ()> + '_ {
        self.inner.trickling.notified()
    }

    pub fn v2_sessions_created(&self) -> usize {
        self.inner
            .v2_created
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The number of events `answers` (poll bodies) carry.
pub fn events_in(answers: &[String]) -> usize {
    answers
        .iter()
        .map(|a| {
            serde_json::from_str::<Value>(a).unwrap()["Events"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum()
}

/// Keeps, from each poll answer, only the events about `number` (what a token covering
/// just that line would receive), dropping answers left empty.
pub fn only_number(answers: &[String], number: &str) -> Vec<String> {
    answers
        .iter()
        .filter_map(|a| {
            let mut v: Value = serde_json::from_str(a).ok()?;
            let events = v.get_mut("Events")?.as_array_mut()?;
            events.retain(|e| e["Ressource"] == number);
            (!events.is_empty()).then(|| v.to_string())
        })
        .collect()
}

/// Serves the next scripted answer, or holds the poll until one is pushed (or a while passes,
/// then answers "nothing new", like OVH).
async fn next_answer(up: &Upstream, token: &str) -> Option<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let epoch = up.feeds.lock().get(token).map_or(0, |f| f.epoch);
    loop {
        let notified = up.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut feeds = up.feeds.lock();
            let feed = feeds.entry(token.to_string()).or_default();
            if feed.epoch != epoch {
                return None;
            }
            if let Some(a) = feed.queue.pop_front() {
                return Some(a);
            }
            if !feed.waiting {
                feed.waiting = true;
                up.changed.notify_waiters();
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return None;
        }
    }
}

/// Answers a poll. A scripted answer may be a plain poll body, or a directive:
/// `{"__status__": N, "__body__": "…"}` answers that status and body;
/// `{"__trickle_ms__": N, "__body__": "…"}` answers 200 and sends the body in ten pieces, N ms
/// apart (an answer already on the wire while the service stops; `trickling()` resolves once
/// the client has been reading it for two pieces);
/// `{"__huge__": N}` answers 200 announcing N bytes (and sends them, if still read);
/// `{"__endless__": true}` answers 200 with a chunked body that never ends.
fn respond(up: &Arc<Upstream>, answer: Option<String>, session: &str) -> Response {
    let Some(answer) = answer else {
        return axum::Json(serde_json::json!({"Session": session, "Message": "", "Events": []}))
            .into_response();
    };
    let v: Value = serde_json::from_str(&answer).unwrap();
    let blank = || bytes::Bytes::from(vec![b' '; 64 << 10]);
    if let Some(n) = v.get("__huge__").and_then(Value::as_u64) {
        let pieces = (0..n.div_ceil(64 << 10)).map(move |i| {
            let left = (n - i * (64 << 10)).min(64 << 10) as usize;
            Ok::<_, std::io::Error>(blank().slice(..left))
        });
        return (
            [("content-length", n.to_string())],
            axum::body::Body::from_stream(futures::stream::iter(pieces)),
        )
            .into_response();
    }
    if v.get("__endless__").is_some() {
        let pieces = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(blank()));
        return axum::body::Body::from_stream(pieces).into_response();
    }
    if let Some(ms) = v.get("__trickle_ms__").and_then(Value::as_u64) {
        let body = v["__body__"].as_str().unwrap().as_bytes().to_vec();
        let pieces: Vec<Vec<u8>> = body
            .chunks(body.len().div_ceil(10))
            .map(<[u8]>::to_vec)
            .collect();
        // The first piece goes at once (with the headers); the signal comes with the third,
        // by which time the client has been reading the answer for a while.
        let up = up.clone();
        let stream =
            futures::stream::iter(pieces.into_iter().enumerate()).then(move |(i, piece)| {
                let up = up.clone();
                async move {
                    if i > 0 {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    if i == 2 {
                        up.trickling.notify_waiters();
                    }
                    Ok::<_, std::io::Error>(piece)
                }
            });
        return (
            [("content-type", "application/json")],
            axum::body::Body::from_stream(stream),
        )
            .into_response();
    }
    if let Some(status) = v.get("__status__") {
        let status = StatusCode::from_u16(status.as_u64().unwrap() as u16).unwrap();
        let body = v["__body__"].as_str().unwrap_or_default().to_string();
        return (status, body).into_response();
    }
    ([("content-type", "application/json")], answer).into_response()
}

/// Whether the fake serves `token`.
fn serves(up: &Upstream, token: &str) -> bool {
    up.known
        .lock()
        .as_ref()
        .map_or(true, |known| known.contains(token))
}

async fn v1_poll(
    State(up): State<Arc<Upstream>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = q.get("token").cloned().unwrap_or_default();
    {
        let mut feeds = up.feeds.lock();
        let feed = feeds.entry(token.clone()).or_default();
        feed.sessions.push(q.get("session").cloned());
        feed.polls += 1;
    }
    if !serves(&up, &token) {
        up.changed.notify_waiters();
        return (StatusCode::FORBIDDEN, "unknown token").into_response();
    }
    let answer = next_answer(&up, &token).await;
    respond(&up, answer, q.get("session").map_or("S1", String::as_str))
}

async fn v2_create(State(up): State<Arc<Upstream>>) -> Response {
    let mut sessions = up.v2_sessions.lock();
    let n = up
        .v2_created
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        + 1;
    let id = format!("v2-session-{n}");
    sessions.push((id.clone(), None));
    axum::Json(
        serde_json::json!({"id": id, "creation": "", "lastUpdate": "", "lastConnection": ""}),
    )
    .into_response()
}

async fn v2_subscribe(
    State(up): State<Arc<Upstream>>,
    Path((id, token)): Path<(String, String)>,
) -> Response {
    if !serves(&up, &token) {
        return (StatusCode::FORBIDDEN, "unknown token").into_response();
    }
    let mut sessions = up.v2_sessions.lock();
    match sessions.iter_mut().find(|(s, _)| *s == id) {
        Some(s) => {
            s.1 = Some(token.clone());
            format!("Successfully subscribed on token {}", &token[..4]).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn v2_poll(State(up): State<Arc<Upstream>>, Path(id): Path<String>) -> Response {
    let token = up
        .v2_sessions
        .lock()
        .iter()
        .find(|(s, _)| *s == id)
        .and_then(|(_, t)| t.clone());
    let Some(token) = token else {
        return StatusCode::NOT_FOUND.into_response();
    };
    {
        let mut expire = up.v2_expire_next.lock();
        if *expire > 0 {
            *expire -= 1;
            up.v2_sessions.lock().retain(|(s, _)| *s != id);
            return "Timeout, please reconnect".into_response();
        }
    }
    {
        let mut feeds = up.feeds.lock();
        let feed = feeds.entry(token.clone()).or_default();
        feed.sessions.push(Some(id.clone()));
        feed.polls += 1;
    }
    match next_answer(&up, &token).await {
        Some(a) => ([("content-type", "application/json")], a).into_response(),
        None => axum::Json(serde_json::json!([])).into_response(),
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub service: Arc<Service>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub struct Options {
    pub tokens: Vec<&'static str>,
    pub api: Api,
    pub no_new_tokens: bool,
    pub db: Option<PathBuf>,
    pub login_burst: u32,
    pub max_tokens: usize,
    pub secure_cookies: bool,
    /// How long a login's check waits for OVH before a held poll counts as accepted.
    pub check_hold: Duration,
    pub pause_after: Duration,
    pub trusted_proxies: Vec<&'static str>,
    pub login_checks: usize,
    pub login_checks_per_address: usize,
    /// Connection limits, header time-out, stream caps.
    pub server: ovh_cti::net::Limits,
    /// Another feed than the fake upstream's (the simulator's).
    pub upstream: Option<String>,
    /// OVH's REST API: its address, configured keys, and the requests a minute allowed.
    pub ovh_api: Option<String>,
    pub ovh_keys: Option<ovh_cti::ovh_api::Keys>,
    pub ovh_api_rate: u32,
    /// Whether `spawn_app` waits until every token known at start is followed.
    pub wait_until_ready: bool,
    /// Series per token at `/metrics`.
    pub metrics_per_token: bool,
    /// Publishing to NATS, to MQTT.
    pub nats: Option<ovh_cti::publish::nats::NatsConfig>,
    pub mqtt: Option<ovh_cti::publish::mqtt::MqttConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tokens: vec![TOKEN_A],
            api: Api::V1,
            no_new_tokens: false,
            db: None,
            login_burst: 10,
            max_tokens: 100,
            secure_cookies: false,
            check_hold: Duration::from_millis(300),
            pause_after: ovh_cti::feed::PAUSE_AFTER,
            trusted_proxies: Vec::new(),
            login_checks: 32,
            login_checks_per_address: 2,
            server: ovh_cti::net::Limits::default(),
            upstream: None,
            ovh_api: None,
            ovh_keys: None,
            // Discovery at once, within the simulator's 60 a minute.
            ovh_api_rate: 600,
            wait_until_ready: true,
            metrics_per_token: false,
            nats: None,
            mqtt: None,
        }
    }
}

/// A new, empty database: an SQLite file in a temporary folder, or, when the suite runs on
/// PostgreSQL (`OVH_CTI_TEST_STORE=postgres`), a new schema of the test PostgreSQL
/// (`OVH_CTI_TEST_POSTGRES`, by default the machine's service).
pub fn temp_db() -> PathBuf {
    if on_postgres() {
        return PathBuf::from(postgres_schema());
    }
    let dir = tempfile::tempdir().unwrap().keep();
    dir.join("ovh-cti.db")
}

/// Whether this run of the suite stores on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("OVH_CTI_TEST_STORE").as_deref() == Ok("postgres")
}

/// A connection to the database a test's service stores in (`temp_db()`): the SQLite file,
/// or the PostgreSQL schema. For a test that reads what was stored, on either database.
pub fn open_db(db: &std::path::Path) -> ovh_cti::store::db::Conn {
    use ovh_cti::store::db::{Conn, PostgresUrl};
    match db
        .to_str()
        .filter(|s| ovh_cti::store::db::is_postgres_url(s))
    {
        Some(url) => Conn::postgres(&PostgresUrl::parse(url).unwrap()).unwrap(),
        None => Conn::open_sqlite(db).unwrap(),
    }
}

/// A new schema on the test PostgreSQL for a test that needs PostgreSQL whatever the suite
/// stores on (several instances, `migrate`): `None`, said on stderr, when none answers —
/// but under CI, where the service runs, that fails the test.
pub fn postgres_or_skip(test: &str) -> Option<String> {
    let base = std::env::var("OVH_CTI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test?user=postgres".into());
    let url = ovh_cti::store::db::PostgresUrl::parse(&base).unwrap();
    if let Err(e) = ovh_cti::store::db::Conn::postgres(&url) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: PostgreSQL does not answer under CI: {e}"
        );
        eprintln!("{test}: skipped, no PostgreSQL at {url}: {e}");
        return None;
    }
    Some(postgres_schema())
}

/// The address of a new schema on the test PostgreSQL, `ovhcti_api_RUN_N`. Several runs may
/// share that PostgreSQL (other worktrees, other containers, where process ids say nothing):
/// each holds an advisory lock on its run number for as long as it lives, and a run drops,
/// at its first schema, only the schemas of runs whose lock is free — runs that ended. (It
/// dropped every other run's schemas, under the feet of a run going on beside it.)
fn postgres_schema() -> String {
    use ovh_cti::store::db::{Conn, PostgresUrl};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Mutex, OnceLock};
    /// This run's number, and the connection holding its lock until the process ends.
    static RUN: OnceLock<(i64, Mutex<Conn>)> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = std::env::var("OVH_CTI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test?user=postgres".into());
    let url = PostgresUrl::parse(&base).unwrap();
    let (run, admin) = RUN.get_or_init(|| {
        let admin = Conn::postgres(&url).expect("the test PostgreSQL answers");
        let run = i64::from(rand::random::<u32>());
        admin
            .query_row("SELECT pg_advisory_lock(?1)::text", [run], |_| Ok(()))
            .unwrap();
        let others: Vec<(String, i64)> = admin
            .prepare(
                "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, 'ovhcti_api_')",
            )
            .unwrap()
            .query_map((), |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .filter_map(|s| {
                let other = s.split('_').nth(2)?.parse().ok()?;
                (other != run).then_some((s, other))
            })
            .collect();
        for (schema, other) in others {
            let ended: bool = admin
                .query_row("SELECT pg_try_advisory_lock(?1)", [other], |r| r.get(0))
                .unwrap();
            if ended {
                admin
                    .execute_batch(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .unwrap();
                admin
                    .query_row("SELECT pg_advisory_unlock(?1)", [other], |_| Ok(()))
                    .unwrap();
            }
        }
        (run, Mutex::new(admin))
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let schema = format!("ovhcti_api_{run}_{n}");
    admin
        .lock()
        .unwrap()
        .execute_batch(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

pub async fn spawn_app(upstream: &FakeUpstream, opts: Options) -> TestApp {
    let clock = ManualClock::new(T0);
    let db = opts.db.unwrap_or_else(temp_db);
    let leased = ovh_cti::store::Location::is_postgres(&db);
    let config = Config {
        listen: "127.0.0.1:0".into(),
        db,
        upstream: opts.upstream.unwrap_or_else(|| upstream.url.clone()),
        api: opts.api,
        tokens: opts
            .tokens
            .iter()
            .map(|t| Token::parse(t).unwrap())
            .collect(),
        no_new_tokens: opts.no_new_tokens,
        backoff: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(20),
            outage_cap: Duration::from_millis(20),
        },
        poll_timeout: Duration::from_secs(10),
        // Ticks are driven by the tests, with the injected clock.
        tick: Duration::from_secs(3600),
        login_burst: opts.login_burst,
        max_tokens: opts.max_tokens,
        secure_cookies: opts.secure_cookies,
        metrics_per_token: opts.metrics_per_token,
        nats: opts.nats,
        mqtt: opts.mqtt,
        login_check_hold: opts.check_hold,
        pause_after: opts.pause_after,
        trusted_proxies: opts
            .trusted_proxies
            .iter()
            .map(|p| ovh_cti::web::parse_trusted_proxy(p).unwrap())
            .collect(),
        login_checks: opts.login_checks,
        login_checks_per_address: opts.login_checks_per_address,
        server: opts.server,
        ovh_api: opts
            .ovh_api
            .unwrap_or_else(|| ovh_cti::ovh_api::client::DEFAULT_BASE.into()),
        ovh_keys: opts.ovh_keys,
        ovh_api_rate: opts.ovh_api_rate,
        ..Config::default()
    };
    let app = Application::build(config, Arc::new(clock.clone()))
        .await
        .expect("the app starts");
    let address = app.address();
    let service = app.service();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    // The tokens known at start are followed in the background: wait for them.
    if opts.wait_until_ready {
        service.ready().await;
        if leased {
            leases_taken(&service).await;
        }
    }
    TestApp {
        base: format!("http://{address}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        clock,
        service,
        stop: Some(stop),
        task: Some(task),
    }
}

/// On PostgreSQL a token is followed once its lease is taken, by the lease keeper's look just
/// after start: waits until every active token's follower has started (it has a feed
/// health). That also keeps a login from meeting that look, which can deadlock: `adopt` holds
/// the lifecycle lock and waits for the look's, the look waits for the lifecycle's in
/// `take_over`. (To be mended in the service; then this is only the wait.)
async fn leases_taken(service: &Arc<Service>) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while !service
            .active_tokens()
            .iter()
            .all(|t| service.health.get(t, T0).is_some())
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the tokens known at start are followed");
}

/// The service with the default options on a new database file, and that file's path (for
/// a test that also opens it, or runs a command on it).
pub async fn spawn_app_with_db(upstream: &FakeUpstream) -> (TestApp, PathBuf) {
    let db = temp_db();
    (spawn_app_on(upstream, &db).await, db)
}

/// The service with the default options on the database file `db` (to stop and start again).
pub async fn spawn_app_on(upstream: &FakeUpstream, db: &std::path::Path) -> TestApp {
    spawn_app(
        upstream,
        Options {
            db: Some(db.to_path_buf()),
            ..Options::default()
        },
    )
    .await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn json(&self, path: &str, token: &str) -> Value {
        let res = self.get(path, token).await;
        assert_eq!(res.status(), 200, "{path}");
        res.json().await.unwrap()
    }

    /// `method path` as `token` (bearer), with a JSON body when there is one.
    pub async fn send(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// `GET path` with a login cookie.
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/logout` with a login cookie.
    pub async fn logout(&self, cookie: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/logout"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, token: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/login"))
            .json(&serde_json::json!({"token": token}))
            .send()
            .await
            .unwrap()
    }

    /// `GET /metrics` (no login needed).
    pub async fn metrics(&self) -> String {
        let res = self.http.get(self.url("/metrics")).send().await.unwrap();
        res.text().await.unwrap()
    }

    /// The value of one counter of `/metrics` (process-wide: other tests may add to it).
    pub async fn counter(&self, name: &str) -> u64 {
        let metrics = self.metrics().await;
        let line = format!("ovh_cti_{name} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no counter {name} in:\n{metrics}"))
    }

    /// Stops the service cleanly and waits for it.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

/// Reads a live stream until the service ends it; what it sent until then.
pub async fn read_to_end(stream: &mut reqwest::Response) -> String {
    let mut seen = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the stream was not closed; it sent:\n{seen}"));
    seen
}

/// The standard error of a command that failed, checked to be one line.
pub fn one_line_error(out: &std::process::Output) -> String {
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

/// The session cookie a login answer sets, ready for a `Cookie` header.
pub fn session_cookie(res: &reqwest::Response) -> String {
    let set = res
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap();
    set.split(';').next().unwrap().to_string()
}

/// Compares JSON numbers by value (6 == 6.0) and times as RFC 3339 or Unix seconds.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-6
        }
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => {
            ovh_cti::clock::parse_rfc3339(s).is_some_and(|t| (t - n.as_f64().unwrap()).abs() < 1e-6)
        }
        (Value::Object(x), Value::Object(y)) => {
            x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}
