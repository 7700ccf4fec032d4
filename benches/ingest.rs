//! Ingest throughput: how many events per second the service stores and applies, with
//! persistence (a real SQLite file in WAL mode, one transaction per group of polls), fed
//! through the same `IngestHandle` the feed followers use.
//!
//! Run with `cargo bench --bench ingest` (optionally `-- EVENTS POLL_SIZE FOLLOWERS`).
//! Prints figures; asserts nothing about time (machines are shared and noisy).

use ovh_cti::clock::{SharedClock, SystemClock};
use ovh_cti::engine::{Board, Expiry};
use ovh_cti::hub::Hub;
use ovh_cti::ingest::{self, Boards};
use ovh_cti::normalise::Event;
use ovh_cti::simulate::{generate, SimConfig};
use ovh_cti::store;
use ovh_cti::token::Token;
use std::sync::Arc;
use std::time::Instant;

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
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
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

    // The whole ingest path with persistence, `followers` tokens polling concurrently.
    let dir = tempfile::tempdir().unwrap();
    let (writer, _readers) = store::open(&dir.path().join("bench.db")).unwrap();
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
    let elapsed = runtime.block_on(async {
        for t in &tokens {
            handle.add_token(t.clone(), "config").await.unwrap();
        }
        let share = all.len() / followers;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            let mine: Vec<Event> = all[i * share..(i + 1) * share].to_vec();
            let handle = handle.clone();
            let id = t.id();
            tasks.push(tokio::spawn(async move {
                let mut stored = 0;
                for (n, poll) in mine.chunks(poll_size).enumerate() {
                    stored += handle
                        .batch(id.clone(), poll.to_vec().into(), Some(format!("v1:S{n}")))
                        .await
                        .unwrap();
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
        handle.shutdown().await;
        elapsed
    });
    thread.join().unwrap();
    let n = (total / followers) * followers;
    println!(
        "ingest with SQLite:     {:>9.0} events/s  ({} events, {} followers, {} events per poll, {:.0} ms)",
        n as f64 / elapsed.as_secs_f64(),
        n,
        followers,
        poll_size,
        elapsed.as_secs_f64() * 1e3
    );
    println!(
        "database size:          {:>9.1} MiB",
        std::fs::metadata(dir.path().join("bench.db"))
            .map(|m| m.len())
            .unwrap_or(0) as f64
            / 1048576.0
    );
}
