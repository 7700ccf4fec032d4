//! The simulator's HTTP face: OVH's event API v1 (long polling with a session) and v2 (sessions
//! subscribed to tokens), fed in real time by the traffic generator.
//!
//! Events are queued per session from the moment the session exists, and a poll takes what is
//! queued — so a client that passes its session back misses nothing between two polls, and one
//! that drops it misses what came in between, as with OVH. A poll that fails (fault injection)
//! leaves its events queued for the next one.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use tokio::sync::{watch, Notify};

use super::account::{mask_token, normalize_token, SimAccount};
use super::traffic::{SimEvent, TrafficGen};
use super::SimConfig;

/// At most this many events wait in one session; older ones are dropped (a client gone for long).
const MAX_QUEUED: usize = 10_000;
/// At most this many events in one poll answer.
const MAX_BATCH: usize = 1_000;

/// Which API a session belongs to, and which tokens it reads.
#[derive(Debug)]
enum Api {
    V1 { token: String },
    V2 { tokens: Vec<String> },
}

#[derive(Debug)]
struct Session {
    api: Api,
    /// v1-shaped events, each with the `Token` it came through.
    queue: VecDeque<Value>,
    notify: Arc<Notify>,
    last_seen: Instant,
    /// Polls in progress: a session being polled is never expired.
    polling: usize,
    creation: DateTime<Utc>,
    last_update: DateTime<Utc>,
    last_connection: DateTime<Utc>,
}

impl Session {
    fn new(api: Api) -> Self {
        let now = Utc::now();
        Session {
            api,
            queue: VecDeque::new(),
            notify: Arc::new(Notify::new()),
            last_seen: Instant::now(),
            polling: 0,
            creation: now,
            last_update: now,
            last_connection: now,
        }
    }

    fn tokens(&self) -> &[String] {
        match &self.api {
            Api::V1 { token } => std::slice::from_ref(token),
            Api::V2 { tokens } => tokens,
        }
    }
}

/// State shared by the handlers, the generator task and the janitor.
struct Hub {
    config: SimConfig,
    account: SimAccount,
    sessions: Mutex<HashMap<String, Session>>,
    /// For session ids and fault rolls: these need not be reproducible.
    rng: Mutex<StdRng>,
    shutdown: watch::Receiver<bool>,
}

/// What a poll ends with.
enum Taken {
    Events(Vec<Value>),
    BadGateway,
    Truncated(Vec<Value>),
    /// The session vanished while the poll waited (expired or deleted).
    Gone,
}

impl Hub {
    fn new_id(&self) -> String {
        let b: [u8; 16] = self.rng.lock().gen();
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Queues a generated event in every session whose tokens see it, once per token.
    fn dispatch(&self, ev: &SimEvent) {
        let mut sessions = self.sessions.lock();
        for s in sessions.values_mut() {
            let matched: Vec<String> = s
                .tokens()
                .iter()
                .filter(|t| ev.tokens.contains(t))
                .cloned()
                .collect();
            let added = !matched.is_empty();
            for t in matched {
                let mut e = ev.event.clone();
                e["Token"] = Value::String(t);
                s.queue.push_back(e);
            }
            if added {
                while s.queue.len() > MAX_QUEUED {
                    s.queue.pop_front();
                }
                s.last_update = Utc::now();
                s.notify.notify_one();
            }
        }
    }

    /// Drops the sessions nobody polled for `session_ttl`.
    fn expire(&self) {
        let ttl = self.config.session_ttl;
        self.sessions
            .lock()
            .retain(|_, s| s.polling > 0 || s.last_seen.elapsed() < ttl);
    }

    /// Long poll: waits for events in session `id` (at most `hold`), gathers a little more once
    /// the first one is there, then takes them — or fails on purpose, leaving them queued.
    async fn poll(&self, id: &str) -> Taken {
        let deadline = tokio::time::Instant::now() + self.config.hold;
        let mut shutdown = self.shutdown.clone();
        self.touch(id, 1);
        let taken = loop {
            let notify = {
                let sessions = self.sessions.lock();
                match sessions.get(id) {
                    None => break Taken::Gone,
                    Some(s) if !s.queue.is_empty() => None,
                    Some(s) => Some(s.notify.clone()),
                }
            };
            match notify {
                None => {
                    if !*shutdown.borrow() {
                        tokio::select! {
                            _ = tokio::time::sleep(self.config.gather) => {}
                            _ = shutdown.wait_for(|v| *v) => {}
                        }
                    }
                    break self.take(id);
                }
                Some(n) => {
                    tokio::select! {
                        _ = n.notified() => {}
                        _ = tokio::time::sleep_until(deadline) => break Taken::Events(Vec::new()),
                        _ = shutdown.wait_for(|v| *v) => break Taken::Events(Vec::new()),
                    }
                }
            }
        };
        self.touch(id, -1);
        taken
    }

    fn touch(&self, id: &str, polling: isize) {
        if let Some(s) = self.sessions.lock().get_mut(id) {
            s.polling = s.polling.saturating_add_signed(polling);
            s.last_seen = Instant::now();
            s.last_connection = Utc::now();
        }
    }

    fn take(&self, id: &str) -> Taken {
        let roll: f64 = self.rng.lock().gen_range(0.0..1.0);
        let fault = roll < self.config.fault_rate;
        let mut sessions = self.sessions.lock();
        let Some(s) = sessions.get_mut(id) else {
            return Taken::Gone;
        };
        let n = s.queue.len().min(MAX_BATCH);
        if !fault {
            return Taken::Events(s.queue.drain(..n).collect());
        }
        // A failed answer: the events stay queued for the next poll of this session.
        if roll < self.config.fault_rate / 2.0 {
            Taken::BadGateway
        } else {
            Taken::Truncated(s.queue.iter().take(n).cloned().collect())
        }
    }
}

/// Runs the simulator: generator, janitor and HTTP server, until `shutdown`.
pub(crate) async fn serve(
    config: SimConfig,
    account: SimAccount,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (tx, rx) = watch::channel(false);
    let hub = Arc::new(Hub {
        config: config.clone(),
        account: account.clone(),
        sessions: Mutex::new(HashMap::new()),
        rng: Mutex::new(StdRng::from_entropy()),
        shutdown: rx.clone(),
    });

    let start_ns = unix_now_ns();
    let start = tokio::time::Instant::now();
    let gen = TrafficGen::with_account(account, &config, start_ns);
    let generator = tokio::spawn(run_generator(hub.clone(), gen, start, start_ns));
    let janitor = {
        let hub = hub.clone();
        tokio::spawn(async move {
            let period = (hub.config.session_ttl / 4).max(Duration::from_millis(100));
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                hub.expire();
            }
        })
    };
    let trigger = tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });

    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "OVH event API simulator listening");
    }
    let mut rx2 = rx;
    let result = axum::serve(listener, router(hub))
        .with_graceful_shutdown(async move {
            let _ = rx2.wait_for(|v| *v).await;
        })
        .await;
    generator.abort();
    janitor.abort();
    trigger.abort();
    result
}

/// Emits the generated events on the wall clock: each one when its `Timestamp` comes.
async fn run_generator(
    hub: Arc<Hub>,
    mut gen: TrafficGen,
    start: tokio::time::Instant,
    start_ns: i64,
) {
    loop {
        let at = gen.peek_time();
        let offset = Duration::from_nanos(at.saturating_sub(start_ns).max(0) as u64);
        tokio::time::sleep_until(start + offset).await;
        let ev = gen.next_event();
        hub.dispatch(&ev);
    }
}

fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/", get(v1_poll))
        .route("/v2/session", post(v2_create))
        .route("/v2/session/{id}", get(v2_info).delete(v2_delete))
        .route("/v2/session/{id}/subscribe/{token}", post(v2_subscribe))
        .route("/v2/session/{id}/events/poll", get(v2_poll))
        .with_state(hub)
}

fn text(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// Checks a token: `400` malformed, `403` unknown to the account (the simulator's choice; what
/// OVH answers is unknown). Returns the normalised token, or the refusal to send.
fn check_token(hub: &Hub, raw: Option<&str>) -> Result<String, (StatusCode, &'static str)> {
    let Some(raw) = raw else {
        return Err((StatusCode::BAD_REQUEST, "missing token"));
    };
    let Some(token) = normalize_token(raw) else {
        return Err((StatusCode::BAD_REQUEST, "invalid token"));
    };
    if !hub.account.knows_token(&token) {
        tracing::info!(token = %mask_token(&token), "refused unknown token");
        return Err((StatusCode::FORBIDDEN, "unknown token"));
    }
    Ok(token)
}

/// A failed or successful poll answer, given the body the success would have.
fn poll_response(taken: Taken, ok: impl Fn(Vec<Value>) -> Value) -> Response {
    match taken {
        Taken::Events(events) => Json(ok(events)).into_response(),
        Taken::BadGateway => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response(),
        Taken::Truncated(events) => {
            let body = ok(events).to_string();
            let mut cut = body.len() / 2;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body[..cut].to_string(),
            )
                .into_response()
        }
        Taken::Gone => text(StatusCode::NOT_FOUND, "Timeout, please reconnect"),
    }
}

/// `GET /?token=T[&session=S]`: v1 long poll.
async fn v1_poll(
    State(hub): State<Arc<Hub>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = match check_token(&hub, q.get("token").map(String::as_str)) {
        Ok(t) => t,
        Err((status, why)) => return text(status, why),
    };
    let wanted = q.get("session").map(|s| s.trim()).filter(|s| !s.is_empty());
    let existing = wanted.filter(|id| {
        matches!(hub.sessions.lock().get(*id), Some(Session { api: Api::V1 { token: t }, .. }) if *t == token)
    });
    let id = match existing {
        Some(id) => id.to_string(),
        None => {
            let id = hub.new_id();
            tracing::info!(token = %mask_token(&token), "new v1 session");
            hub.sessions
                .lock()
                .insert(id.clone(), Session::new(Api::V1 { token }));
            id
        }
    };
    let taken = hub.poll(&id).await;
    poll_response(
        taken,
        |events| json!({"Session": id, "Message": "", "Events": events}),
    )
}

fn session_info(id: &str, s: &Session) -> Value {
    let t = |d: &DateTime<Utc>| d.to_rfc3339_opts(SecondsFormat::Millis, true);
    json!({
        "id": id,
        "creation": t(&s.creation),
        "lastUpdate": t(&s.last_update),
        "lastConnection": t(&s.last_connection),
    })
}

/// `POST /v2/session`: a new session, subscribed to nothing yet.
async fn v2_create(State(hub): State<Arc<Hub>>) -> Response {
    let id = hub.new_id();
    let s = Session::new(Api::V2 { tokens: Vec::new() });
    let info = session_info(&id, &s);
    hub.sessions.lock().insert(id, s);
    Json(info).into_response()
}

/// `GET /v2/session/{id}`: the session's times.
async fn v2_info(State(hub): State<Arc<Hub>>, Path(id): Path<String>) -> Response {
    match hub.sessions.lock().get(&id) {
        Some(s) => Json(session_info(&id, s)).into_response(),
        None => text(StatusCode::NOT_FOUND, "session not found"),
    }
}

/// `DELETE /v2/session/{id}`.
async fn v2_delete(State(hub): State<Arc<Hub>>, Path(id): Path<String>) -> Response {
    match hub.sessions.lock().remove(&id) {
        Some(_) => text(StatusCode::OK, "Session deleted"),
        None => text(StatusCode::NOT_FOUND, "session not found"),
    }
}

/// `POST /v2/session/{id}/subscribe/{token}`.
async fn v2_subscribe(
    State(hub): State<Arc<Hub>>,
    Path((id, raw)): Path<(String, String)>,
) -> Response {
    if !hub.sessions.lock().contains_key(&id) {
        return text(StatusCode::NOT_FOUND, "session not found");
    }
    let token = match check_token(&hub, Some(&raw)) {
        Ok(t) => t,
        Err((status, why)) => return text(status, why),
    };
    let mut sessions = hub.sessions.lock();
    let Some(s) = sessions.get_mut(&id) else {
        return text(StatusCode::NOT_FOUND, "session not found");
    };
    if let Api::V2 { tokens } = &mut s.api {
        if !tokens.contains(&token) {
            tokens.push(token.clone());
        }
    }
    s.last_update = Utc::now();
    tracing::info!(token = %mask_token(&token), "v2 session subscribed");
    text(
        StatusCode::OK,
        &format!("Successfully subscribed on token {token}"),
    )
}

/// `GET /v2/session/{id}/events/poll`: v2 long poll, events with lower-case top-level keys.
async fn v2_poll(State(hub): State<Arc<Hub>>, Path(id): Path<String>) -> Response {
    let is_v2 = matches!(
        hub.sessions.lock().get(&id),
        Some(Session {
            api: Api::V2 { .. },
            ..
        })
    );
    if !is_v2 {
        return text(StatusCode::NOT_FOUND, "session not found");
    }
    let taken = hub.poll(&id).await;
    poll_response(taken, |events| {
        Value::Array(events.into_iter().map(to_v2).collect())
    })
}

/// A v1 event in v2 form: top-level keys in lower case, `Data`/`Details` untouched.
pub fn to_v2(event: Value) -> Value {
    match event {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

fn unix_now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(fault_rate: f64, ttl: Duration) -> Hub {
        let config = SimConfig {
            fault_rate,
            session_ttl: ttl,
            ..SimConfig::default()
        };
        let (_tx, rx) = watch::channel(false);
        Hub {
            account: SimAccount::from_seed(config.seed),
            config,
            sessions: Mutex::new(HashMap::new()),
            rng: Mutex::new(StdRng::seed_from_u64(9)),
            shutdown: rx,
        }
    }

    fn event(hub: &Hub, n: i64) -> SimEvent {
        SimEvent {
            at_unix_ns: n,
            tokens: hub.account.tokens_for(&hub.account.lines[0].number),
            event: json!({"Event": "registered", "Timestamp": n}),
        }
    }

    #[test]
    fn failed_polls_keep_their_events() {
        let hub = hub(0.5, Duration::from_secs(60));
        let token = hub.account.account_token.clone();
        hub.sessions
            .lock()
            .insert("s".into(), Session::new(Api::V1 { token }));
        let (mut failed, mut ok) = (0, 0);
        for n in 0..40 {
            hub.dispatch(&event(&hub, n));
            let queued = hub.sessions.lock()["s"].queue.len();
            match hub.take("s") {
                Taken::Events(evs) => {
                    ok += 1;
                    assert_eq!(evs.len(), queued);
                    assert_eq!(evs.last().unwrap()["Timestamp"], n);
                    assert!(hub.sessions.lock()["s"].queue.is_empty());
                }
                Taken::BadGateway | Taken::Truncated(_) => {
                    failed += 1;
                    assert_eq!(hub.sessions.lock()["s"].queue.len(), queued);
                }
                Taken::Gone => unreachable!(),
            }
        }
        assert!(failed > 0 && ok > 0);
    }

    #[test]
    fn events_reach_each_token_of_a_session_and_stale_sessions_go() {
        let hub = hub(0.0, Duration::from_millis(50));
        let a = hub.account.account_token.clone();
        let l = hub.account.line_token.clone();
        hub.sessions.lock().insert(
            "v2".into(),
            Session::new(Api::V2 {
                tokens: vec![a.clone(), l.clone()],
            }),
        );
        hub.sessions
            .lock()
            .insert("v1".into(), Session::new(Api::V1 { token: l.clone() }));
        hub.dispatch(&event(&hub, 1));
        let Taken::Events(evs) = hub.take("v2") else {
            panic!()
        };
        let tokens: Vec<&str> = evs.iter().map(|e| e["Token"].as_str().unwrap()).collect();
        assert_eq!(tokens, vec![a.as_str(), l.as_str()]);
        let v2 = to_v2(evs[0].clone());
        assert_eq!(v2["token"], a.as_str());
        assert!(v2.get("Token").is_none());

        hub.expire();
        assert_eq!(hub.sessions.lock().len(), 2);
        hub.sessions.lock().get_mut("v1").unwrap().last_seen -= Duration::from_secs(1);
        hub.expire();
        assert!(!hub.sessions.lock().contains_key("v1"));
        assert!(hub.sessions.lock().contains_key("v2"));
    }
}
