//! The many-tokens bench: what an integrator running one instance with thousands of event
//! tokens sees. It starts `ovh-cti serve` (the optimised build `cargo bench` makes) with TOKENS
//! tokens in its config file and measures, from the spawn:
//!
//! - the time until `GET /healthz` first answers 200 (the process serves);
//! - the time until `GET /readyz` first answers 200 (every token has its follower; "n/a" while
//!   the endpoint does not exist);
//! - the time until the fake OVH has received at least one poll from every token;
//! - then, over IDLE_SECONDS of a quiet feed, the service's CPU (% of one core) and at the end
//!   its resident memory.
//!
//! The reference, in the same run: a "minimal follower" — this binary re-executed as a child,
//! one tokio task per token doing the same long poll as the service with one shared HTTP
//! client and nothing else (no store, no parsing beyond the session) — measured the same way
//! against a fresh fake. The ratio ovh-cti / minimal is what the service's own work costs.
//!
//! The fake OVH runs in this process and speaks API v1 (the service's default): it holds each
//! poll open 25 s and then answers "no events" with the session, and about once a second it
//! answers one held poll, picked at random, with one event. The idle window opens once the
//! first round of held polls has been answered (25 s after they were sent, plus 3 s: one store
//! write per token in the service, as each token gets its session), so that it measures the
//! steady state, not the tail of the start.
//! Each run's lines also say how many polls the fake received (in all, and the most from one
//! token: a follower polling too often shows there), how many events it sent, and how long the
//! child took to stop on SIGTERM.
//!
//! Run with `cargo bench --bench many_tokens -- TOKENS [RUNS] [IDLE_SECONDS]` (default
//! 1000 3 20). Linux only (`/proc`). Prints figures; asserts nothing about time (machines are
//! shared and noisy).

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

mod support;
use support::{
    clock_ticks_per_second, cpu_ticks, duration, generate_tokens, min_median, query_value,
    raise_open_files_limit, reply, rss_kb, serve_http, spawn, spawn_service, Child,
};

/// How long the fake OVH holds a poll before answering "no events".
const HOLD: Duration = Duration::from_secs(25);
/// After the first round of held polls is answered, before the idle window opens.
const SETTLE: Duration = Duration::from_secs(3);
/// One event in all, to a random held poll, this often.
const TRICKLE_EVERY: Duration = Duration::from_secs(1);
/// How often the start-up figures are looked at.
const PROBE_EVERY: Duration = Duration::from_millis(5);
/// The client time-out of a long poll, as the service's default (`feed::POLL_TIMEOUT`).
const POLL_TIMEOUT: Duration = Duration::from_secs(65);
/// Set in the environment of the re-executed bench: the fake's URL (it is the minimal follower).
const MINIMAL_ENV: &str = "MANY_TOKENS_MINIMAL";
/// The file of tokens the minimal follower follows, one a line.
const LIST_ENV: &str = "MANY_TOKENS_LIST";

fn main() {
    if let Ok(base) = std::env::var(MINIMAL_ENV) {
        let list = std::env::var(LIST_ENV).expect("MANY_TOKENS_LIST names the tokens' file");
        minimal_follower(&base, Path::new(&list));
        return;
    }
    // `cargo bench` passes `--bench`: only the numbers are ours.
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let tokens = args.first().copied().unwrap_or(1000) as usize;
    let runs = args.get(1).copied().unwrap_or(3).max(1) as usize;
    let idle = Duration::from_secs(args.get(2).copied().unwrap_or(20));

    // Each token is a socket on either side: 10,000 tokens need far more than a common 1,024.
    // The children inherit the raised limit.
    let (soft, hard) = raise_open_files_limit();
    println!(
        "many-tokens bench: {tokens} tokens, {runs} run(s), {} s idle window; \
         open files {soft} (hard {hard})",
        idle.as_secs()
    );
    // This process holds the fake's side, each child its own: one socket a token each.
    if soft < tokens as libc::rlim_t + 100 {
        println!("warning: the open-files limit is low for {tokens} tokens; expect failures");
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut results = Vec::new();
    for run in 1..=runs {
        let pair = runtime.block_on(one_run(run, runs, tokens, idle));
        results.push(pair);
    }
    print_summary(&results, tokens);
}

// ---------------------------------------------------------------------------------------------
// One run: the service, then the minimal follower, each against a fresh fake.

#[derive(Clone, Copy, PartialEq)]
enum Subject {
    OvhCti,
    Minimal,
}

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Subject::OvhCti => "ovh-cti",
            Subject::Minimal => "minimal",
        }
    }
}

/// When something was first seen, from the spawn.
#[derive(Clone, Copy)]
enum Seen {
    After(Duration),
    /// Does not apply (the minimal follower has no `/healthz`; no `/readyz` yet).
    NotApplicable,
    TimedOut,
}

impl Seen {
    fn secs(self) -> Option<f64> {
        match self {
            Seen::After(d) => Some(d.as_secs_f64()),
            _ => None,
        }
    }

    fn show(self) -> String {
        match self {
            Seen::After(d) => duration(d.as_secs_f64()),
            Seen::NotApplicable => "n/a".into(),
            Seen::TimedOut => "timed out".into(),
        }
    }
}

struct Figures {
    healthz: Seen,
    readyz: Seen,
    all_polled: Seen,
    tokens: usize,
    /// Tokens polled at least once (all of them unless `all_polled` timed out).
    polled: usize,
    idle_cpu_percent: f64,
    rss_mb: f64,
    /// Connections a full listen queue dropped during start-up, system-wide (see `listen`).
    listen_overflows: u64,
    polls: u64,
    most_polls_per_token: u64,
    events: u64,
    stopped_in: Duration,
}

async fn one_run(run: usize, runs: usize, n: usize, idle: Duration) -> (Figures, Figures) {
    println!("\nrun {run}/{runs}");
    let tokens = generate_tokens(n);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let service = measure(Subject::OvhCti, &tokens, idle, dir.path()).await;
    print_run_line(Subject::OvhCti, &service, idle);
    let minimal = measure(Subject::Minimal, &tokens, idle, dir.path()).await;
    print_run_line(Subject::Minimal, &minimal, idle);
    (service, minimal)
}

/// How long start-up may take before a figure is given up on: generous, as the point is to
/// see how long it takes.
fn startup_limit(tokens: usize) -> Duration {
    Duration::from_secs(60) + Duration::from_millis(20) * tokens as u32
}

async fn measure(subject: Subject, tokens: &[String], idle: Duration, dir: &Path) -> Figures {
    let fake = Fake::start(tokens).await;
    let overflows_before = listen_overflows();
    let spawned = Instant::now();
    let mut child = match subject {
        Subject::OvhCti => spawn_service(&fake.url, tokens, dir, ""),
        Subject::Minimal => spawn_minimal(&fake.url, tokens, dir),
    };
    let limit = startup_limit(tokens.len());

    let web = child.web.clone();
    let startup = async {
        match web {
            Some(web) => {
                let client = probe_client();
                tokio::join!(
                    first_ok(&client, format!("{web}/healthz"), spawned, limit),
                    first_ok(&client, format!("{web}/readyz"), spawned, limit),
                    fake.all_polled(spawned, limit),
                )
            }
            None => {
                let polled = fake.all_polled(spawned, limit).await;
                (Seen::NotApplicable, Seen::NotApplicable, polled)
            }
        }
    };
    let (healthz, readyz, all_polled) = tokio::select! {
        seen = startup => seen,
        status = child.exited() => child.died(status),
    };
    let listen_overflows = listen_overflows().saturating_sub(overflows_before);

    // The quiet feed, once steady: every token's first held poll has been answered (with its
    // session, written once per token) and polls again, held; an event a second.
    tokio::select! {
        _ = tokio::time::sleep(HOLD + SETTLE) => {}
        status = child.exited() => child.died(status),
    }
    let pid = child.pid();
    let (ticks_before, window) = (cpu_ticks(pid), Instant::now());
    tokio::select! {
        _ = tokio::time::sleep(idle) => {}
        status = child.exited() => child.died(status),
    }
    let cpu_s = (cpu_ticks(pid) - ticks_before) as f64 / clock_ticks_per_second();
    let idle_cpu_percent = 100.0 * cpu_s / window.elapsed().as_secs_f64();
    let rss_mb = rss_kb(pid) as f64 / 1024.0;

    let stopping = Instant::now();
    let status = child.stop().await;
    let stopped_in = stopping.elapsed();
    if !status.success() && subject == Subject::OvhCti {
        println!("  note: ovh-cti ended with {status} after SIGTERM");
    }
    let (polls, most_polls_per_token) = fake.polls();
    let figures = Figures {
        healthz,
        readyz,
        all_polled,
        tokens: tokens.len(),
        polled: fake.state.polled.load(Ordering::SeqCst),
        listen_overflows,
        idle_cpu_percent,
        rss_mb,
        polls,
        most_polls_per_token,
        events: fake.state.events.load(Ordering::SeqCst),
        stopped_in,
    };
    fake.stop().await;
    figures
}

/// A client for `/healthz` and `/readyz`: a refused or slow connection is tried again soon.
fn probe_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client")
}

/// When `url` first answers 200; "n/a" if it answers 404 (the endpoint does not exist).
async fn first_ok(client: &reqwest::Client, url: String, from: Instant, limit: Duration) -> Seen {
    loop {
        match client.get(&url).send().await.map(|r| r.status()) {
            Ok(StatusCode::OK) => return Seen::After(from.elapsed()),
            Ok(StatusCode::NOT_FOUND) => return Seen::NotApplicable,
            // Not listening yet, or 503 while it starts.
            _ => {}
        }
        if from.elapsed() > limit {
            return Seen::TimedOut;
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The fake OVH: API v1 long polling, one slot per token.

struct Fake {
    url: String,
    state: Arc<FakeState>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

struct FakeState {
    tokens: Vec<String>,
    slot_of: HashMap<String, usize>,
    slots: Mutex<Vec<Slot>>,
    /// Tokens polled at least once.
    polled: AtomicUsize,
    /// Events sent.
    events: AtomicU64,
    /// Numbers held polls, so that a poll ending does not release its successor's hold.
    next_hold: AtomicU64,
}

#[derive(Default)]
struct Slot {
    polls: u64,
    first_poll: Option<Instant>,
    /// The poll held now, and how to answer it with an event at once.
    held: Option<(u64, tokio::sync::oneshot::Sender<Value>)>,
}

impl Fake {
    async fn start(tokens: &[String]) -> Fake {
        let state = Arc::new(FakeState {
            tokens: tokens.to_vec(),
            slot_of: tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), i))
                .collect(),
            slots: Mutex::new((0..tokens.len()).map(|_| Slot::default()).collect()),
            polled: AtomicUsize::new(0),
            events: AtomicU64::new(0),
            next_hold: AtomicU64::new(0),
        });
        let listener = listen().expect("the fake OVH binds");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let tasks = vec![
            tokio::spawn(serve_http(listener, state.clone(), answer)),
            tokio::spawn(trickle(state.clone())),
        ];
        Fake { url, state, tasks }
    }

    /// When every token had been polled at least once, from `from`.
    async fn all_polled(&self, from: Instant, limit: Duration) -> Seen {
        let all = self.state.tokens.len();
        while self.state.polled.load(Ordering::SeqCst) < all {
            if from.elapsed() > limit {
                return Seen::TimedOut;
            }
            tokio::time::sleep(PROBE_EVERY).await;
        }
        let slots = self.state.slots.lock().unwrap();
        let last = slots.iter().filter_map(|s| s.first_poll).max();
        Seen::After(last.map_or(Duration::ZERO, |t| t.saturating_duration_since(from)))
    }

    /// Polls received in all, and the most from one token.
    fn polls(&self) -> (u64, u64) {
        let slots = self.state.slots.lock().unwrap();
        let total = slots.iter().map(|s| s.polls).sum();
        let most = slots.iter().map(|s| s.polls).max().unwrap_or(0);
        (total, most)
    }

    /// Stops serving and closes every connection (10,000 of them must not linger into the
    /// next measurement).
    async fn stop(self) {
        for task in self.tasks {
            task.abort();
            let _ = task.await;
        }
    }
}

/// A listener on 127.0.0.1 with a long accept queue: thousands of first polls arrive at once,
/// and a connection dropped from a full queue is retried by the client's kernel only a second
/// later — the fake's delay, not the follower's. (The system caps it at `net.core.somaxconn`.)
fn listen() -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(([127, 0, 0, 1], 0).into())?;
    socket.listen(65_535)
}

/// `GET /?token=T[&session=S]`: held `HOLD`, then `{"Session": S, "Events": []}` — unless an
/// event comes for it meanwhile.
async fn answer(
    state: Arc<FakeState>,
    req: Request<Incoming>,
) -> Result<Response<String>, Infallible> {
    if req.uri().path() != "/" {
        return Ok(reply(StatusCode::NOT_FOUND, "no such path".into()));
    }
    let query = req.uri().query().unwrap_or_default();
    let slot = query_value(query, "token").and_then(|t| state.slot_of.get(t).copied());
    let Some(slot) = slot else {
        // As OVH refuses a token it does not know (a 404 would mean "session gone").
        return Ok(reply(StatusCode::FORBIDDEN, "unknown token".into()));
    };
    // A first poll starts a session; later ones pass it back and keep it.
    let session = query_value(query, "session")
        .map(str::to_string)
        .unwrap_or_else(|| format!("S{slot:X}"));
    let (hold, event) = state.hold(slot);
    let events = tokio::select! {
        event = event => event.map(|e| vec![e]).unwrap_or_default(),
        _ = tokio::time::sleep(HOLD) => Vec::new(),
    };
    drop(hold);
    let body = json!({"Session": session, "Message": "", "Events": events});
    Ok(reply(StatusCode::OK, body.to_string()))
}

/// A held poll; dropping it (answered, or its client gone) frees the slot.
struct Hold {
    state: Arc<FakeState>,
    slot: usize,
    id: u64,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut slots = self.state.slots.lock().unwrap();
        let slot = &mut slots[self.slot];
        if slot.held.as_ref().is_some_and(|(id, _)| *id == self.id) {
            slot.held = None;
        }
    }
}

impl FakeState {
    /// Counts a poll of `slot` and holds it: the receiver yields an event if one is sent to it.
    fn hold(self: &Arc<Self>, slot: usize) -> (Hold, tokio::sync::oneshot::Receiver<Value>) {
        let id = self.next_hold.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut slots = self.slots.lock().unwrap();
        let s = &mut slots[slot];
        s.polls += 1;
        if s.first_poll.is_none() {
            s.first_poll = Some(Instant::now());
            self.polled.fetch_add(1, Ordering::SeqCst);
        }
        s.held = Some((id, tx));
        let hold = Hold {
            state: self.clone(),
            slot,
            id,
        };
        (hold, rx)
    }
}

/// About one event a second in all, each answering a held poll picked at random.
async fn trickle(state: Arc<FakeState>) {
    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut every = tokio::time::interval(TRICKLE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let picked = {
            let mut slots = state.slots.lock().unwrap();
            let held: Vec<usize> = (0..slots.len())
                .filter(|&i| slots[i].held.is_some())
                .collect();
            if held.is_empty() {
                continue;
            }
            let slot = held[rng.gen_range(0..held.len())];
            (slot, slots[slot].held.take().map(|(_, tx)| tx))
        };
        if let (slot, Some(tx)) = picked {
            let n = state.events.load(Ordering::Relaxed);
            if tx.send(event(&state.tokens[slot], n)).is_ok() {
                state.events.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// A line registering again, shaped as in `tests/fixtures/lines.v1.jsonl`, stamped now.
fn event(token: &str, n: u64) -> Value {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let date = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f (UTC)")
        .to_string();
    let number = "0033972101010";
    json!({
        "Event": "registered",
        "Ressource": number,
        "Service": "sip",
        "Timestamp": now.as_nanos() as u64,
        "Date": date,
        "Token": token,
        "Details": {
            "Description": "Accueil", "Id": "101010", "IdBillingAccount": "12345",
            "SimultaneousLine": "2", "Type": "sipCirpack",
        },
        "Data": {
            "CallId": format!("bench{n:x}."), "Calling": number, "Called": number,
            "Dialed": number, "Billing": number, "Protocol": "sip", "Cseq": "181 REGISTER",
            "Body": "SIP/2.0 200 OK", "RelevantInfo": "", "Event": "registered",
            "Ts": now.as_secs_f64(), "TsGet": now.as_nanos() as u64,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// The children: the service, and this binary as the minimal follower.

fn spawn_minimal(upstream: &str, tokens: &[String], dir: &Path) -> Child {
    let list = dir.join("tokens.txt");
    std::fs::write(&list, tokens.join("\n")).expect("the token list is written");
    let mut command = Command::new(std::env::current_exe().expect("the bench's own path"));
    command.env(MINIMAL_ENV, upstream).env(LIST_ENV, &list);
    spawn(command, "minimal", dir)
}

// ---------------------------------------------------------------------------------------------
// The minimal follower: what following N tokens costs with nothing else done.

fn minimal_follower(base: &str, list: &Path) {
    let tokens: Vec<String> = std::fs::read_to_string(list)
        .expect("the token list is readable")
        .lines()
        .map(str::to_string)
        .collect();
    // As the service's `main`: a multi-thread runtime, one worker per core.
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        // As the service's transport: one client for every token, the same time-outs.
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(POLL_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        let url = format!("{}/", base.trim_end_matches('/'));
        for token in tokens {
            tokio::spawn(follow_minimally(client.clone(), url.clone(), token));
        }
        // Runs until the bench sends SIGTERM.
        std::future::pending::<()>().await
    });
}

/// The service's v1 poll, and nothing else: the session of each answer is passed back.
async fn follow_minimally(client: reqwest::Client, url: String, token: String) {
    let mut session: Option<String> = None;
    loop {
        let mut query = vec![("token", token.as_str())];
        if let Some(s) = &session {
            query.push(("session", s));
        }
        match poll_once(&client, &url, &query).await {
            Some(next) => session = next.or(session),
            // Not expected from the fake; do not hammer it if it happens.
            None => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

/// One poll: `Some(session it gave)` on a 200 that reads as JSON, `None` on any failure.
async fn poll_once(
    client: &reqwest::Client,
    url: &str,
    query: &[(&str, &str)],
) -> Option<Option<String>> {
    #[derive(serde::Deserialize)]
    struct SessionOnly {
        #[serde(rename = "Session")]
        session: Option<String>,
    }
    let answer = client.get(url).query(query).send().await.ok()?;
    if answer.status() != StatusCode::OK {
        return None;
    }
    let body = answer.bytes().await.ok()?;
    let poll: SessionOnly = serde_json::from_slice(&body).ok()?;
    Some(poll.session)
}

// ---------------------------------------------------------------------------------------------
// Reading a process from /proc, and the open-files limit.

/// `ListenOverflows` of `/proc/net/netstat`: connections dropped because a listen queue was
/// full, by every process of the system.
fn listen_overflows() -> u64 {
    let netstat = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    // Two lines per group: the names, then the values.
    let tcp_ext: Vec<&str> = netstat
        .lines()
        .filter(|l| l.starts_with("TcpExt:"))
        .collect();
    let [names, values] = tcp_ext[..] else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "ListenOverflows")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Printing.

fn print_run_line(subject: Subject, f: &Figures, idle: Duration) {
    let polled = match f.all_polled {
        Seen::TimedOut => format!(
            "{} ({} of {} polled)",
            f.all_polled.show(),
            f.polled,
            f.tokens
        ),
        seen => seen.show(),
    };
    println!(
        "  {:<8} /healthz {:>9}  /readyz {:>9}  all polled {:>9}  \
         idle CPU {:>5.2} % over {} s  RSS {:>6.1} MB  \
         ({} polls, at most {} per token; {} events; stopped in {})",
        subject.name(),
        f.healthz.show(),
        f.readyz.show(),
        polled,
        f.idle_cpu_percent,
        idle.as_secs(),
        f.rss_mb,
        f.polls,
        f.most_polls_per_token,
        f.events,
        duration(f.stopped_in.as_secs_f64()),
    );
    if f.listen_overflows > 0 {
        println!(
            "           note: {} connection(s) overflowed a listen queue during start-up \
             (system-wide): some first polls may have waited for a 1 s SYN retry",
            f.listen_overflows
        );
    }
}

struct Row {
    name: &'static str,
    value: fn(&Figures) -> Option<f64>,
    /// What to print when no run measured it.
    missing: fn(&Figures) -> String,
    show: fn(f64) -> String,
    ratio: bool,
}

fn print_summary(results: &[(Figures, Figures)], tokens: usize) {
    let rows = [
        Row {
            name: "time to /healthz",
            value: |f| f.healthz.secs(),
            missing: |f| f.healthz.show(),
            show: duration,
            ratio: false,
        },
        Row {
            name: "time to /readyz",
            value: |f| f.readyz.secs(),
            missing: |f| f.readyz.show(),
            show: duration,
            ratio: false,
        },
        Row {
            name: "time to all polled",
            value: |f| f.all_polled.secs(),
            missing: |f| f.all_polled.show(),
            show: duration,
            ratio: true,
        },
        Row {
            name: "RSS",
            value: |f| Some(f.rss_mb),
            missing: |_| "n/a".into(),
            show: |v| format!("{v:.1} MB"),
            ratio: true,
        },
        Row {
            name: "idle CPU",
            value: |f| Some(f.idle_cpu_percent),
            missing: |_| "n/a".into(),
            show: |v| format!("{v:.2} %"),
            ratio: true,
        },
    ];
    println!(
        "\nsummary: {tokens} tokens, {} run(s), min / median",
        results.len()
    );
    println!(
        "  {:<20} {:>24} {:>24} {:>18}",
        "", "ovh-cti", "minimal", "ovh-cti / minimal"
    );
    for row in rows {
        let stats = |pick: fn(&(Figures, Figures)) -> &Figures| {
            let values = results.iter().map(|r| (row.value)(pick(r)));
            let stat = min_median(values.flatten().collect());
            let shown = match stat {
                Some((min, median)) => format!("{} / {}", (row.show)(min), (row.show)(median)),
                None => (row.missing)(pick(&results[0])),
            };
            (stat.map(|(_, median)| median), shown)
        };
        let (service, service_shown) = stats(|r| &r.0);
        let (minimal, minimal_shown) = stats(|r| &r.1);
        let ratio = match (row.ratio, service, minimal) {
            (true, Some(s), Some(m)) if m > 0.0 => format!("{:.1}×", s / m),
            (true, ..) => "—".into(),
            (false, ..) => String::new(),
        };
        println!(
            "  {:<20} {:>24} {:>24} {:>18}",
            row.name, service_shown, minimal_shown, ratio
        );
    }
}
