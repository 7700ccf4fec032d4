//! Ingest throughput: how many events per second the service stores and applies, with
//! persistence (a real SQLite file in WAL mode, one transaction per group of polls), fed
//! through the same `IngestHandle` the feed followers use.
//!
//! The reference, in the same run: "plain SQLite inserts" — the very rows the ingest wrote
//! (events with their raw JSON and fingerprints, calls, journal entries, board snapshots, and
//! each poll's session), read back, then inserted with prepared statements into a fresh
//! database with the same schema, indexes and settings, as many events a transaction as the
//! ingest's polls carry together. What is left between the two is the service's own work
//! (decoding, the engine, grouping), as the ratio printed says.
//!
//! Run with `cargo bench --bench ingest` (optionally `-- EVENTS POLL_SIZE FOLLOWERS [RUNS]`).
//! Prints figures; asserts nothing about time (machines are shared and noisy).

use ovh_cti::clock::{SharedClock, SystemClock};
use ovh_cti::engine::{Board, Expiry};
use ovh_cti::hub::Hub;
use ovh_cti::ingest::{self, Boards};
use ovh_cti::normalise::Event;
use ovh_cti::simulate::{generate, SimConfig};
use ovh_cti::store;
use ovh_cti::token::Token;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::reference::plain_inserts;
use support::{clock_ticks_per_second, cpu_ticks_of, min_median};

const TOKEN: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

fn events(n: usize) -> Vec<Event> {
    let config = SimConfig {
        seed: 7,
        rate_per_min: 600.0,
        ..SimConfig::default()
    };
    generate(&config, 1_732_612_800_000_000_000, n)
        .into_iter()
        .map(|e| Event::from_json(e.event, TOKEN, 0.0).expect("generated events decode"))
        .collect()
}

fn main() {
    let args = support::numeric_args();
    let total = args.first().copied().unwrap_or(200_000);
    let poll_size = args.get(1).copied().unwrap_or(20);
    let followers = args.get(2).copied().unwrap_or(4);
    let all = events(total);

    // The engine alone: no I/O.
    let start = Instant::now();
    let mut board = Board::default();
    let mut changes = 0;
    for (i, e) in all.iter().enumerate() {
        changes += board.apply(e, i as f64 * 0.01).len();
    }
    let engine = start.elapsed();
    println!(
        "engine only:            {:>9.0} events/s  ({} events, {} changes, {:.1} ms)",
        total as f64 / engine.as_secs_f64(),
        total,
        changes,
        engine.as_secs_f64() * 1e3
    );

    // Scrubbing the token out of a hostile 4 MiB value packed with copies of it (it once
    // took 25 s of CPU: the search started over after each copy).
    let packed = format!("{TOKEN} ").repeat(4 << 20 >> 6);
    let start = Instant::now();
    let scrubbed = Event::from_json(
        serde_json::json!({"Event": "x", "Data": {"Note": packed}}),
        TOKEN,
        0.0,
    )
    .expect("decodes");
    let scrub = start.elapsed();
    assert!(!scrubbed.raw.to_string().contains(TOKEN));
    println!(
        "scrub a 4 MiB value:    {:>9.1} ms  ({} copies of the token)",
        scrub.as_secs_f64() * 1e3,
        4 << 20 >> 6
    );

    let runs = args.get(3).copied().unwrap_or(3).max(1);
    let mut results = Vec::new();
    for run in 1..=runs {
        let dir = tempfile::tempdir().unwrap();
        let (n, elapsed, busy) =
            run_ingest(&dir.path().join("bench.db"), &all, poll_size, followers);
        let ingest_eps = n as f64 / elapsed.as_secs_f64();
        let (rows, plain) = plain_inserts(
            &dir.path().join("bench.db"),
            &dir.path().join("reference.db"),
            poll_size * followers,
        );
        assert_eq!(
            rows, n,
            "the reference inserts the events the ingest stored"
        );
        let plain_eps = rows as f64 / plain.as_secs_f64();
        println!(
            "run {run}/{runs}: ingest with SQLite {:>7.0} events/s  plain SQLite inserts {:>7.0} events/s  \
             ratio {:.2}; the ingest thread busy {:.0} % of the time, {:.0} events per busy second  \
             ({} events, {} followers, {} events per poll; database {:.1} MiB)",
            ingest_eps,
            plain_eps,
            ingest_eps / plain_eps,
            100.0 * busy,
            ingest_eps / busy.max(1e-9),
            n,
            followers,
            poll_size,
            std::fs::metadata(dir.path().join("bench.db"))
                .map(|m| m.len())
                .unwrap_or(0) as f64
                / 1048576.0
        );
        results.push((ingest_eps, plain_eps));
    }
    let ingest = min_median(results.iter().map(|r| r.0).collect()).unwrap();
    let plain = min_median(results.iter().map(|r| r.1).collect()).unwrap();
    println!(
        "summary ({runs} runs, min / median): ingest with SQLite {:.0} / {:.0} events/s, \
         plain SQLite inserts {:.0} / {:.0} events/s, ratio of medians {:.2}",
        ingest.0,
        ingest.1,
        plain.0,
        plain.1,
        ingest.1 / plain.1
    );
}

/// The whole ingest path with persistence, `followers` tokens polling concurrently: the
/// events stored, the time it took, and the share of it the ingest thread was busy.
fn run_ingest(
    db: &Path,
    all: &[Event],
    poll_size: usize,
    followers: usize,
) -> (usize, Duration, f64) {
    let (writer, _readers) = store::open(db).unwrap();
    let clock: SharedClock = Arc::new(SystemClock);
    let (handle, thread) = ingest::start(
        writer,
        Arc::new(Boards::default()),
        Hub::new(1024),
        clock,
        Expiry::default(),
        Default::default(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let tokens: Vec<Token> = (0..followers)
        .map(|i| Token::parse(&format!("3F2504E0-4F89-11D3-9A0C-{:012X}", i)).unwrap())
        .collect();
    let (elapsed, busy) = runtime.block_on(async {
        for t in &tokens {
            handle.add_token(t.clone(), "config").await.unwrap();
        }
        let share = all.len() / followers;
        let busy_before = ingest_thread_ticks();
        let start = Instant::now();
        let mut tasks = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            let mine: Vec<Event> = all[i * share..(i + 1) * share].to_vec();
            let handle = handle.clone();
            let id = t.id();
            tasks.push(tokio::spawn(async move {
                let mut stored = 0;
                for (n, poll) in mine.chunks(poll_size).enumerate() {
                    // Held until stored, as a follower holds its poll's events (to retry).
                    let events: Arc<[Event]> = poll.to_vec().into();
                    stored += handle
                        .batch(id.clone(), events.clone(), Some(format!("v1:S{n}")))
                        .await
                        .unwrap();
                    drop(events);
                }
                stored
            }));
        }
        let mut stored = 0;
        for t in tasks {
            stored += t.await.unwrap();
        }
        assert_eq!(stored, share * followers, "every event is new and stored");
        let elapsed = start.elapsed();
        let busy = (ingest_thread_ticks() - busy_before) as f64 / clock_ticks_per_second();
        handle.shutdown().await;
        (elapsed, busy / elapsed.as_secs_f64())
    });
    thread.join().unwrap();
    ((all.len() / followers) * followers, elapsed, busy)
}

/// The CPU time of the thread named `ingest`, in clock ticks: whether the ingest waits for
/// work or works all the time.
fn ingest_thread_ticks() -> u64 {
    let tasks = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten();
    tasks
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "ingest")
        })
        .map(|t| {
            let pid = t.file_name().to_string_lossy().parse().unwrap_or(0);
            cpu_ticks_of(&format!("/proc/self/task/{pid}/stat"))
        })
        .sum()
}
