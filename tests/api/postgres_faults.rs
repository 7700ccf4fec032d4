//! PostgreSQL going away under a running service (issue 12): every connection to it cut and
//! new ones refused for a while, then back — as when PostgreSQL restarts, fails over, or the
//! network between them splits. The service keeps what OVH handed it while it cannot store
//! (the follower retries the commit, OVH keeps the session), opens new connections once
//! PostgreSQL answers again, and stores everything once.
//!
//! PostgreSQL is reached through a TCP proxy in the test, which can cut every connection.
//! Skipped without PostgreSQL (failing under CI).

use crate::helpers::*;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A TCP proxy to PostgreSQL that can cut every connection and refuse new ones.
struct Proxy {
    addr: std::net::SocketAddr,
    down: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (d, l) = (down.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                // Looked at under the links' lock, which `cut` holds: a link is never added
                // after a cut closed the others.
                let mut links = l.lock();
                if d.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let target = target.clone();
                links.push(tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Proxy { addr, down, links }
    }

    /// PostgreSQL gone: every connection closed, new ones refused.
    fn cut(&self) {
        let mut links = self.links.lock();
        self.down.store(true, Ordering::SeqCst);
        for link in links.drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_gone_for_a_while_loses_nothing() {
    let Some(db) = postgres_or_skip("postgres_faults") else {
        return;
    };
    let direct = "127.0.0.1:5432";
    if !db.contains(direct) {
        eprintln!("postgres_faults: skipped, the proxy stands in for {direct} only");
        return;
    }
    let proxy = Proxy::start(direct.to_string()).await;
    let db = db.replace(direct, &proxy.addr.to_string());

    let up = FakeUpstream::start().await;
    let script = answers("lines.v1.jsonl");
    let (first, rest) = script.split_at(script.len() / 2);
    up.push(TOKEN_A, first.to_vec());
    let app = spawn_app(
        &up,
        Options {
            db: Some(db.into()),
            ..Options::default()
        },
    )
    .await;
    up.idle(TOKEN_A).await;

    // PostgreSQL goes away; OVH answers meanwhile. The follower takes the answer and tries to
    // store it, with back-off, failing: its health says so.
    proxy.cut();
    up.push(TOKEN_A, rest.to_vec());
    let id = ovh_cti::token::Token::parse(TOKEN_A).unwrap().id();
    let start = std::time::Instant::now();
    loop {
        let health = app
            .service
            .health
            .get(&id, app.service.clock.now())
            .unwrap();
        if health.consecutive_failures >= 3
            && health
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("could not store"))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no commit was tried"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Back: the poll in hand is stored, and the follower comes back for more.
    proxy.restore();
    up.idle(TOKEN_A).await;
    let expected = events_in(&script);
    let stored = app.json("/api/events?limit=1000", TOKEN_A).await["events"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(stored, expected, "events lost or stored twice");
    let history = app.json("/api/history?limit=100", TOKEN_A).await;
    let calls = history["calls"].as_array().unwrap();
    let ids: std::collections::HashSet<(&str, &str)> = calls
        .iter()
        .map(|c| {
            (
                c["number"].as_str().unwrap(),
                c["call_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(ids.len(), calls.len(), "a call recorded twice");
    assert!(!calls.is_empty());
    app.stop().await;
}
