//! Ingest end to end over HTTP: the release service (`ovh-cti serve`) following TOKENS tokens
//! of a fake OVH in the bench's process that answers each long poll at once with the next
//! POLL_SIZE events of the token — as OVH does after an outage, when a session's backlog comes
//! back in big answers. Everything the service does with a poll is in the figure: the HTTP
//! request, reading and decoding the JSON, fingerprints, the engine, storing in SQLite, and
//! the next poll sent only once the last one is committed.
//!
//! Measured: from the first poll the fake receives to the poll of each token that carries the
//! session after its last answer (the service acknowledges an answer by polling with its
//! session only once the answer is stored), so "events/s" is events stored per second. The
//! service's CPU over that window. Then the service is stopped and its database checked (every
//! event stored once).
//!
//! The reference in the same run: plain SQLite inserts of the very rows the service wrote
//! (`support::reference`, as in the ingest bench), POLL_SIZE × TOKENS events a transaction.
//!
//! Run with `cargo bench --bench over_http -- [EVENTS] [POLL_SIZE] [TOKENS] [RUNS]`
//! (defaults 200000 1000 4 3). Prints figures; asserts nothing about time.

use ovh_cti::simulate::{generate, SimConfig};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

mod support;
use support::reference::plain_inserts;
use support::{
    clock_ticks_per_second, cpu_ticks, cpu_ticks_of, generate_tokens, min_median, query_value,
    reply, rss_kb, serve_http, spawn_service,
};

/// How long the fake holds a poll that finds nothing more to send (OVH's own hold).
const HOLD: Duration = Duration::from_secs(25);

fn main() {
    let args = support::numeric_args();
    let total = args.first().copied().unwrap_or(200_000);
    let poll_size = args.get(1).copied().unwrap_or(1_000).max(1);
    let tokens = args.get(2).copied().unwrap_or(4).max(1);
    let runs = args.get(3).copied().unwrap_or(3).max(1);
    let per_token = total / tokens;

    // Each token gets its own stretch of the simulator's traffic (600 calls a minute over
    // five lines and two queues), rendered once into its answers.
    let tokens_list = generate_tokens(tokens);
    let events = generate(
        &SimConfig {
            seed: 7,
            rate_per_min: 600.0,
            ..SimConfig::default()
        },
        1_732_612_800_000_000_000,
        per_token * tokens,
    );
    let answers: Vec<Vec<String>> = events
        .chunks(per_token)
        .zip(&tokens_list)
        .map(|(mine, token)| {
            mine.chunks(poll_size)
                .enumerate()
                .map(|(n, poll)| {
                    let events: Vec<Value> = poll
                        .iter()
                        .map(|e| {
                            let mut event = e.event.clone();
                            event["Token"] = json!(token);
                            event
                        })
                        .collect();
                    json!({"Session": format!("S{}", n + 1), "Message": "", "Events": events})
                        .to_string()
                })
                .collect()
        })
        .collect();
    let bytes: usize = answers.iter().flatten().map(String::len).sum();
    println!(
        "{} events over {tokens} tokens, {poll_size} a poll: {} answers, {:.1} MB of JSON",
        per_token * tokens,
        answers.iter().map(Vec::len).sum::<usize>(),
        bytes as f64 / 1e6
    );

    // The fake and the bench's waiting run on one thread: OVH is not on this machine, and the
    // service should have the cores.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let answers = Arc::new(answers);
    let mut results = Vec::new();
    for run in 1..=runs {
        let dir = tempfile::tempdir().unwrap();
        let figures = runtime.block_on(one_run(&tokens_list, answers.clone(), dir.path()));
        let db = dir.path().join("ovh-cti.db");
        let stored: usize = rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            stored,
            per_token * tokens,
            "every event the fake sent is stored, once"
        );
        let (rows, plain) =
            plain_inserts(&db, &dir.path().join("reference.db"), poll_size * tokens);
        let service_eps = stored as f64 / figures.elapsed.as_secs_f64();
        let plain_eps = rows as f64 / plain.as_secs_f64();
        println!(
            "run {run}/{runs}: over HTTP {service_eps:>7.0} events/s  plain SQLite inserts \
             {plain_eps:>7.0} events/s  ratio {:.2}; service CPU {:.0} % of a core, its ingest \
             thread busy {:.0} % of the time; RSS at the end {:.1} MB ({} events in {:.2} s)",
            service_eps / plain_eps,
            figures.cpu * 100.0,
            figures.ingest * 100.0,
            figures.rss_kb as f64 / 1024.0,
            stored,
            figures.elapsed.as_secs_f64(),
        );
        results.push((service_eps, plain_eps));
    }
    let service = min_median(results.iter().map(|r| r.0).collect()).unwrap();
    let plain = min_median(results.iter().map(|r| r.1).collect()).unwrap();
    println!(
        "summary ({runs} runs, min / median): over HTTP {:.0} / {:.0} events/s, plain SQLite \
         inserts {:.0} / {:.0} events/s, ratio of medians {:.2}",
        service.0,
        service.1,
        plain.0,
        plain.1,
        service.1 / plain.1
    );
}

struct Figures {
    elapsed: Duration,
    /// The service's CPU over the window, in cores.
    cpu: f64,
    /// The share of the window its ingest thread (the one writer) was busy.
    ingest: f64,
    rss_kb: u64,
}

/// One service from a fresh database, fed every answer; stopped at the end.
async fn one_run(
    tokens: &[String],
    answers: Arc<Vec<Vec<String>>>,
    dir: &std::path::Path,
) -> Figures {
    let state = Arc::new(FakeState {
        slot_of: tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect(),
        answers,
        first: Mutex::new(None),
        first_seen: tokio::sync::Notify::new(),
        acknowledged: tokens.iter().map(|_| AtomicBool::new(false)).collect(),
        waiting: AtomicUsize::new(tokens.len()),
        all_done: tokio::sync::Notify::new(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the fake OVH binds");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let fake = tokio::spawn(serve_http(listener, state.clone(), poll));

    let mut child = spawn_service(&url, tokens, dir, "");
    tokio::select! {
        _ = state.first_seen.notified() => {}
        status = child.exited() => child.died(status),
    }
    let ticks_before = cpu_ticks(child.pid());
    let ingest_before = ingest_thread_ticks(child.pid());
    tokio::select! {
        _ = state.all_done.notified() => {}
        status = child.exited() => child.died(status),
    }
    let first = state.first.lock().unwrap().expect("a first poll");
    let elapsed = first.elapsed();
    let per_core = |ticks: u64| ticks as f64 / clock_ticks_per_second() / elapsed.as_secs_f64();
    let cpu = per_core(cpu_ticks(child.pid()) - ticks_before);
    let ingest = per_core(ingest_thread_ticks(child.pid()) - ingest_before);
    let rss_kb = rss_kb(child.pid());
    let status = child.stop().await;
    assert!(status.success(), "the service stops cleanly ({status})");
    fake.abort();
    Figures {
        elapsed,
        cpu,
        ingest,
        rss_kb,
    }
}

/// The CPU time of the service's thread named `ingest` (the one writer), in clock ticks.
fn ingest_thread_ticks(pid: i32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten();
    tasks
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "ingest")
        })
        .map(|t| cpu_ticks_of(&t.path().join("stat").to_string_lossy()))
        .sum()
}

struct FakeState {
    slot_of: HashMap<String, usize>,
    /// Each token's answers in order; answer n carries the session `S{n+1}`.
    answers: Arc<Vec<Vec<String>>>,
    first: Mutex<Option<Instant>>,
    first_seen: tokio::sync::Notify,
    /// Whether each token's last answer was acknowledged (counted once, were it polled again).
    acknowledged: Vec<AtomicBool>,
    /// Tokens whose last answer is not yet acknowledged.
    waiting: AtomicUsize,
    all_done: tokio::sync::Notify,
}

/// `GET /?token=T[&session=S{n}]`: answer n at once; after the last one, the poll that
/// acknowledges it is counted and held as OVH holds a poll with nothing to say.
async fn poll(
    state: Arc<FakeState>,
    req: Request<Incoming>,
) -> Result<Response<String>, Infallible> {
    let query = req.uri().query().unwrap_or_default();
    let Some(slot) = query_value(query, "token").and_then(|t| state.slot_of.get(t).copied()) else {
        return Ok(reply(StatusCode::FORBIDDEN, "unknown token".into()));
    };
    let next: usize = match query_value(query, "session") {
        None => 0,
        Some(s) => match s.strip_prefix('S').and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return Ok(reply(StatusCode::BAD_REQUEST, "unknown session".into())),
        },
    };
    let mine = &state.answers[slot];
    if let Some(answer) = mine.get(next) {
        let mut first = state.first.lock().unwrap();
        if first.is_none() {
            *first = Some(Instant::now());
            state.first_seen.notify_one();
        }
        return Ok(reply(StatusCode::OK, answer.clone()));
    }
    if next == mine.len()
        && !state.acknowledged[slot].swap(true, Ordering::SeqCst)
        && state.waiting.fetch_sub(1, Ordering::SeqCst) == 1
    {
        state.all_done.notify_one();
    }
    tokio::time::sleep(HOLD).await;
    let idle = json!({"Session": format!("S{next}"), "Message": "", "Events": []});
    Ok(reply(StatusCode::OK, idle.to_string()))
}
