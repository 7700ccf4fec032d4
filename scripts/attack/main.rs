//! The attack script of issue 8 (`scripts/attack.sh` builds and runs it): replays, against a
//! release build of ovh-cti started with a low open-files limit, what once exhausted it —
//! junk tokens at the login page (item 1), huge webhook and screen-pop URLs (item 2),
//! connections that trickle their headers and floods of live streams (item 3), and a hostile
//! upstream (item 7) — and prints, after each, the service's memory (RSS and its peak), its
//! open files, the database's size, whether `/healthz` answers (and how fast) and whether the
//! feed of a real token is still polled. Figures only: machines are shared and noisy, and
//! `docs/security.md` quotes a run.
//!
//! The upstream is a fake OVH of this program's own (v1): it serves two "real" tokens, holds
//! their polls as OVH does, refuses every other token with a 403, and can be told to answer
//! a 200 MB body, an endless one, or a 4 MiB value packed with the token.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use parking_lot::Mutex;
use rand::Rng;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Followed from the start (`--token`): its feed must keep working through every attack.
const FOLLOWED: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";
/// A real token typed at the login page after the junk: it must still get in.
const NEWCOMER: &str = "9B2D5A10-1C3E-4F5A-8B7C-0D1E2F3A4B5C";

#[derive(Default)]
struct Fake {
    polls: Mutex<HashMap<String, u64>>,
    /// Hostile answers waiting to be served to the followed token, in order.
    hostile: Mutex<VecDeque<Hostile>>,
    pushed: Notify,
    served: AtomicU64,
}

#[derive(Clone, Copy, Debug)]
enum Hostile {
    Huge,
    Endless,
    Packed,
}

async fn poll(State(fake): State<Arc<Fake>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let token = q.get("token").cloned().unwrap_or_default();
    if token != FOLLOWED && token != NEWCOMER {
        return (axum::http::StatusCode::FORBIDDEN, "unknown token").into_response();
    }
    let n = {
        let mut polls = fake.polls.lock();
        let n = polls.entry(token.clone()).or_default();
        *n += 1;
        *n
    };
    if token == FOLLOWED {
        let pushed = fake.pushed.notified();
        let next = fake.hostile.lock().pop_front();
        let next = match next {
            Some(h) => Some(h),
            None => {
                // Held, as OVH holds a poll with nothing to say (shortened to keep runs short).
                let _ = tokio::time::timeout(Duration::from_millis(500), pushed).await;
                fake.hostile.lock().pop_front()
            }
        };
        if let Some(h) = next {
            fake.served.fetch_add(1, Ordering::SeqCst);
            return hostile(h);
        }
    } else {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let event = registered(n, "0033972101010", serde_json::json!("ok"));
    axum::Json(serde_json::json!({"Session": "S1", "Message": "", "Events": [event]}))
        .into_response()
}

/// A `registered` event, new each time (`n` is in its times).
fn registered(n: u64, line: &str, note: serde_json::Value) -> serde_json::Value {
    let ts = 1_732_612_800.0 + n as f64;
    serde_json::json!({
        "Event": "registered", "Ressource": line, "Service": line, "Token": FOLLOWED,
        "Data": {"CallId": format!("attack-{n}"), "Calling": line, "Called": line,
                 "Event": "registered", "Ts": ts, "Note": note},
        "Details": {"Description": "Accueil", "Type": "sipCirpack"},
    })
}

fn hostile(h: Hostile) -> Response {
    let blank = || bytes::Bytes::from(vec![b' '; 64 << 10]);
    match h {
        Hostile::Huge => {
            let n: u64 = 200_000_000;
            let pieces = (0..n.div_ceil(64 << 10)).map(move |i| {
                let left = (n - i * (64 << 10)).min(64 << 10) as usize;
                Ok::<_, std::io::Error>(blank().slice(..left))
            });
            (
                [("content-length", n.to_string())],
                axum::body::Body::from_stream(futures::stream::iter(pieces)),
            )
                .into_response()
        }
        Hostile::Endless => {
            axum::body::Body::from_stream(futures::stream::repeat_with(move || {
                Ok::<_, std::io::Error>(blank())
            }))
            .into_response()
        }
        Hostile::Packed => {
            let packed = format!("{FOLLOWED} ").repeat(4 << 20 >> 6);
            let event = registered(1_000_000_000, "0033972101012", packed.into());
            axum::Json(serde_json::json!({"Session": "S1", "Message": "", "Events": [event]}))
                .into_response()
        }
    }
}

/// The service under attack, as a child process.
struct Target {
    child: Child,
    pid: u32,
    base: String,
    addr: String,
    db: PathBuf,
    http: reqwest::Client,
    fake: Arc<Fake>,
}

#[derive(Debug)]
struct Figures {
    rss_mb: f64,
    peak_mb: f64,
    fds: usize,
    db_mb: f64,
    healthz: String,
    feed_polls: u64,
}

impl Target {
    async fn start(binary: &Path, fd_limit: u64, fake: Arc<Fake>, upstream: &str) -> Target {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap().keep();
        let db = dir.join("attack.db");
        let addr = format!("127.0.0.1:{port}");
        // `ulimit -n` sets the soft and the hard limit: the service cannot raise it.
        let script = format!(
            "ulimit -n {fd_limit} && exec {} serve --listen {addr} --db {} --upstream {upstream} \
             --trusted-proxy 127.0.0.1",
            binary.display(),
            db.display()
        );
        let child = Command::new("bash")
            .arg("-c")
            .arg(script)
            .env("OVH_CTI_TOKENS", FOLLOWED)
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("bash starts the service");
        let pid = child.id();
        let target = Target {
            child,
            pid,
            base: format!("http://{addr}"),
            addr,
            db,
            // No idle connections kept: the attacker's own pool must not be what fills the
            // service's connection cap.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            fake,
        };
        for _ in 0..200 {
            if target.healthz().await.starts_with("ok") {
                return target;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the service did not start");
    }

    /// `/healthz` on a connection of its own: `ok` and how long it took, or what went wrong.
    async fn healthz(&self) -> String {
        let start = Instant::now();
        let ask = async {
            let mut s = TcpStream::connect(&self.addr)
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .map_err(|e| format!("cannot send: {e}"))?;
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out).await;
            let status = String::from_utf8_lossy(&out[..out.len().min(12)]).into_owned();
            if status == "HTTP/1.1 200" {
                Ok(())
            } else if status.is_empty() {
                Err("closed unanswered".to_string())
            } else {
                Err(format!("answered {status}"))
            }
        };
        match tokio::time::timeout(Duration::from_secs(5), ask).await {
            Ok(Ok(())) => format!("ok {:.1} ms", start.elapsed().as_secs_f64() * 1e3),
            Ok(Err(e)) => format!("FAILED ({e})"),
            Err(_) => "NO ANSWER in 5 s".into(),
        }
    }

    fn status_kb(&self, key: &str) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0)
    }

    async fn figures(&self) -> Figures {
        let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.db.clone().into_os_string();
        wal.push("-wal");
        Figures {
            rss_mb: self.status_kb("VmRSS:") / 1024.0,
            peak_mb: self.status_kb("VmHWM:") / 1024.0,
            fds: self.open_files(),
            db_mb: (size(self.db.clone()) + size(wal.into())) as f64 / 1048576.0,
            healthz: self.healthz().await,
            feed_polls: *self.fake.polls.lock().get(FOLLOWED).unwrap_or(&0),
        }
    }

    fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid)).map_or(0, |d| d.count())
    }

    /// One value read from the service's database (read-only, beside the running service).
    fn query(&self, sql: &str) -> Option<String> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let conn = rusqlite::Connection::open_with_flags(&self.db, flags).ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
            .ok()
            .map(|v| match v {
                rusqlite::types::Value::Integer(n) => n.to_string(),
                rusqlite::types::Value::Text(s) => s,
                other => format!("{other:?}"),
            })
    }

    fn stop(mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        let _ = self.child.wait();
    }
}

/// Prints a phase's outcome and the service's state after it; checks the feed moved on.
async fn report(target: &Target, phase: &str, outcome: String, polls_before: u64) -> u64 {
    // Give the feed a second to show it is alive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let f = target.figures().await;
    let healthz = &f.healthz;
    let feed = if f.feed_polls > polls_before {
        "polling"
    } else {
        "STOPPED"
    };
    println!("{phase}\n  {outcome}");
    println!(
        "  RSS {:.0} MB (peak {:.0} MB), {} open files, database {:.1} MB, /healthz {healthz}, feed {feed} ({} polls)",
        f.rss_mb, f.peak_mb, f.fds, f.db_mb, f.feed_polls
    );
    f.feed_polls
}

fn tally(statuses: impl IntoIterator<Item = String>) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for s in statuses {
        *counts.entry(s).or_default() += 1;
    }
    counts
        .iter()
        .map(|(s, n)| format!("{n}× {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Item 1: 200 random UUIDs from 20 addresses, then the real newcomer.
async fn junk_tokens(t: &Target) -> String {
    let mut rng = rand::thread_rng();
    let logins = (0..200).map(|i| {
        let uuid = format!(
            "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
            rng.gen::<u32>(),
            rng.gen::<u16>(),
            rng.gen::<u16>(),
            rng.gen::<u16>(),
            rng.gen::<u64>() & 0xFFFF_FFFF_FFFF
        );
        t.http
            .post(format!("{}/api/login", t.base))
            .header("x-forwarded-for", format!("203.0.113.{}", i % 20))
            .json(&serde_json::json!({"token": uuid}))
            .send()
    });
    let statuses = futures::future::join_all(logins)
        .await
        .into_iter()
        .map(|r| r.map_or("no answer".into(), |r| r.status().as_u16().to_string()));
    let junk = tally(statuses);
    let newcomer = t
        .http
        .post(format!("{}/api/login", t.base))
        .header("x-forwarded-for", "203.0.113.200")
        .json(&serde_json::json!({"token": NEWCOMER}))
        .send()
        .await
        .map_or("no answer".into(), |r| r.status().as_u16().to_string());
    let followed = t
        .query("SELECT count(*) FROM tokens")
        .unwrap_or_else(|| "?".into());
    format!("junk logins: {junk}; then the real new token: {newcomer}; tokens stored: {followed}")
}

/// Item 2: 100 webhooks and 100 screen-pop settings with 1.9 MB URLs, and test sends.
async fn huge_urls(t: &Target) -> String {
    let url = format!("https://crm.example.com/?q={}", "a".repeat(1_900_000));
    let mut statuses = Vec::new();
    for _ in 0..100 {
        let hook = t
            .http
            .post(format!("{}/api/webhooks", t.base))
            .bearer_auth(FOLLOWED)
            .json(&serde_json::json!({"url": url, "description": "x".repeat(10_000)}))
            .send()
            .await;
        statuses.push(hook.map_or("no answer".into(), |r| {
            format!("webhook {}", r.status().as_u16())
        }));
        let pop = t
            .http
            .put(format!("{}/api/settings", t.base))
            .bearer_auth(FOLLOWED)
            .json(&serde_json::json!({"screen_pop": {"url": url, "mode": "silent"}}))
            .send()
            .await;
        statuses.push(pop.map_or("no answer".into(), |r| {
            format!("screen pop {}", r.status().as_u16())
        }));
    }
    let hooks = t
        .http
        .get(format!("{}/api/webhooks", t.base))
        .bearer_auth(FOLLOWED)
        .send()
        .await
        .ok();
    let stored = match hooks {
        Some(r) => r
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["webhooks"].as_array().map(Vec::len))
            .map_or("?".into(), |n| n.to_string()),
        None => "?".into(),
    };
    format!("{}; webhooks stored: {stored}", tally(statuses))
}

/// Item 3a: connections that send their headers a byte a second. How many are still open
/// after `wait`?
async fn trickle(t: &Target, n: usize, wait: Duration) -> String {
    let mut tasks = Vec::new();
    let opened = Arc::new(AtomicU64::new(0));
    for _ in 0..n {
        let addr = t.addr.clone();
        let opened = opened.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(&addr).await else {
                return false;
            };
            opened.fetch_add(1, Ordering::SeqCst);
            let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
            let deadline = tokio::time::Instant::now() + wait;
            let mut buf = [0u8; 256];
            for byte in request.iter().cycle() {
                if tokio::time::Instant::now() >= deadline {
                    return true;
                }
                if s.write_all(&[*byte]).await.is_err() {
                    return false;
                }
                // Closed by the service (EOF, or an error answer then EOF)?
                match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return false,
                    _ => {}
                }
            }
            true
        }));
    }
    // /healthz while the trickle goes on.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = t.healthz().await;
    let files = t.open_files();
    let mut held = 0;
    for task in tasks {
        held += usize::from(task.await.unwrap_or(false));
    }
    format!(
        "{n} trickling connections ({} connected): {held} still open after {} s; during the attack: {files} open files, /healthz {}",
        opened.load(Ordering::SeqCst),
        wait.as_secs(),
        during
    )
}

/// Item 3b: `n` live streams, each of its own login session and from its own address (through
/// the trusted proxy), held open while `/healthz` and the feed are checked.
async fn streams(t: &Target, n: usize) -> (String, Vec<TcpStream>) {
    let mut cookies: Vec<String> = Vec::new();
    for _ in 0..n / 50 {
        let logins = (0..50).map(|_| {
            t.http
                .post(format!("{}/api/login", t.base))
                .json(&serde_json::json!({"token": FOLLOWED}))
                .send()
        });
        cookies.extend(
            futures::future::join_all(logins)
                .await
                .into_iter()
                .filter_map(|r| {
                    let r = r.ok()?;
                    let cookie = r.headers().get("set-cookie")?.to_str().ok()?;
                    Some(cookie.split(';').next()?.to_string())
                }),
        );
    }
    let mut open = Vec::new();
    let mut statuses = Vec::new();
    let attempts = cookies.iter().enumerate().map(|(i, cookie)| {
        let addr = t.addr.clone();
        async move {
            let ask = async {
                let mut s = TcpStream::connect(&addr).await.ok()?;
                let req = format!(
                    "GET /api/stream HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nX-Forwarded-For: 10.{}.{}.{}\r\n\r\n",
                    i >> 16 & 255, i >> 8 & 255, i & 255
                );
                s.write_all(req.as_bytes()).await.ok()?;
                let mut head = [0u8; 12];
                s.read_exact(&mut head).await.ok()?;
                Some((String::from_utf8_lossy(&head[9..12]).to_string(), s))
            };
            match tokio::time::timeout(Duration::from_secs(5), ask).await {
                Ok(Some(answer)) => Ok(answer),
                Ok(None) => Err("closed unanswered".to_string()),
                Err(_) => Err("no answer in 5 s".to_string()),
            }
        }
    });
    for r in futures::future::join_all(attempts).await {
        match r {
            Ok((status, s)) => {
                if status == "200" {
                    open.push(s);
                }
                statuses.push(status);
            }
            Err(e) => statuses.push(e),
        }
    }
    let during = t.healthz().await;
    (
        format!(
            "{n} live streams ({} sessions): {}; with them open: {} open files, /healthz {}",
            cookies.len(),
            tally(statuses),
            t.open_files(),
            during
        ),
        open,
    )
}

/// Item 7: a 200 MB answer, an endless one, a 4 MiB value packed with the token; how long
/// until the feed is past them and the packed event is stored, scrubbed.
async fn hostile_upstream(t: &Target) -> String {
    let start = Instant::now();
    {
        let mut q = t.fake.hostile.lock();
        q.extend([Hostile::Huge, Hostile::Endless, Hostile::Packed]);
    }
    t.fake.pushed.notify_waiters();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let raw = t.query("SELECT raw FROM events WHERE number = '0033972101012' LIMIT 1");
        if let Some(text) = raw {
            {
                let leaked = text.contains(&FOLLOWED[..8]);
                return format!(
                    "200 MB answer, endless answer, 4 MiB value packed with the token: feed past them and the event stored in {:.1} s; token left in it: {}",
                    start.elapsed().as_secs_f64(),
                    if leaked { "YES" } else { "no" }
                );
            }
        }
        if Instant::now() > deadline {
            return format!(
                "the packed event was not stored within 120 s ({} hostile answers served)",
                t.fake.served.load(Ordering::SeqCst)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let binary = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "target/release/ovh-cti".into()),
    );
    let fd_limit: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let fake = Arc::new(Fake::default());
    let app = Router::new().route("/", get(poll)).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let t = Target::start(&binary, fd_limit, fake, &upstream).await;
    println!(
        "ovh-cti under attack: {} (open-files limit {fd_limit})\n",
        binary.display()
    );
    let mut polls = report(&t, "0. at rest", "nothing yet".into(), 0).await;
    let outcome = junk_tokens(&t).await;
    polls = report(&t, "1. junk tokens at the login page", outcome, polls).await;
    let outcome = huge_urls(&t).await;
    polls = report(&t, "2. huge webhook and screen-pop URLs", outcome, polls).await;
    let outcome = trickle(&t, 3000, Duration::from_secs(20)).await;
    polls = report(&t, "3a. trickling headers", outcome, polls).await;
    let (outcome, open) = streams(&t, 2000).await;
    polls = report(
        &t,
        "3b. a flood of live streams (held open)",
        outcome,
        polls,
    )
    .await;
    drop(open);
    let outcome = hostile_upstream(&t).await;
    report(&t, "7. hostile upstream", outcome, polls).await;
    t.stop();
}
