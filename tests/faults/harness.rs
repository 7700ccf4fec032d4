//! What every fault test stands on: the project's simulated OVH with its fault handle, the
//! service (in-process on 127.0.0.1:0, or the real binary) on a real SQLite file, waits that
//! end on an observable condition or fail with a clear message, and the one report line each
//! fault prints.
//!
//! A test runs a steady, seeded feed for both of the simulated account's tokens (the billing
//! account's and one line's), so that every fault hits a token that sees everything and one
//! that sees a part. The traffic starts only once both tokens have a session — so the fake's
//! record of what it emitted is everything the service could have received — and is paused
//! before the store is compared with that record.

use crate::audit::audit;
use crate::truth::Truth;
use ovh_cti::app::Application;
use ovh_cti::clock::ManualClock;
use ovh_cti::config::Config;
use ovh_cti::feed::Api;
use ovh_cti::service::Service;
use ovh_cti::simulate::{Faults, SimConfig, Simulator};
use ovh_cti::token::Token;
use serde_json::Value;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Calls started per minute: the billing account's token then gets a few dozen events a
/// second (the line's token far fewer: its line is busy with long calls).
const RATE_PER_MIN: f64 = 3000.0;
/// How long the fake holds a poll with nothing to say (OVH: about 25 s). Short, so that a
/// token with little traffic still gets through soon after a fault.
const HOLD: Duration = Duration::from_secs(1);
/// How long a caught-up feed may take to drain once the traffic stops, and the longest any
/// other wait here may take before the test fails with what it was waiting for.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// `FAULTS_QUICK=1` shortens the long faults (an outage of 60 s, a store failing for 30 s)
/// for local iteration; the suite runs them at full length otherwise.
pub fn quick() -> bool {
    std::env::var("FAULTS_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A fault's length: `full` normally, `short` with `FAULTS_QUICK=1`.
pub fn length(full: u64, short: u64) -> Duration {
    Duration::from_secs(if quick() { short } else { full })
}

/// Fails with `what` unless `f` completes within `PATIENCE`.
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    within_for(PATIENCE, what, f).await
}

/// Fails with `what` unless `f` completes within `limit`.
pub async fn within_for<T>(limit: Duration, what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("gave up after {limit:?} waiting for {what}"))
}

/// Resolves once `check` holds, asking again every 20 ms — for what can only be seen from
/// outside (the service's HTTP answers); fails with `what` after `PATIENCE`.
pub async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    within(what, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// The simulated OVH, its fault handle, and the tokens of its account.
pub struct Fake {
    pub url: String,
    pub faults: Faults,
    /// The billing account's token, then the line's.
    pub tokens: Vec<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Fake {
    /// Starts the fake with its traffic paused (see [`Fake::flowing`]).
    pub async fn start(seed: u64) -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let sim = Simulator::new(SimConfig {
            seed,
            rate_per_min: RATE_PER_MIN,
            hold: HOLD,
            ..SimConfig::default()
        });
        let tokens = sim.tokens().into_iter().map(|t| t.token).collect();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (faults, server) = sim.serve_with_faults(listener, async {
            let _ = stopped.await;
        });
        faults.pause_traffic();
        tokio::spawn(server);
        Fake {
            url,
            faults,
            tokens,
            stop: Some(stop),
        }
    }

    pub fn token_refs(&self) -> Vec<&str> {
        self.tokens.iter().map(String::as_str).collect()
    }

    /// Starts the traffic once every token has a session, and lets it run until the billing
    /// account's token has been sent `events` events — the steady feed a fault then hits.
    pub async fn flowing(&self, events: usize) {
        let tokens = self.token_refs();
        within("a session for every token", async {
            self.faults
                .wait_until(|f| tokens.iter().all(|t| f.sessions_created(t) > 0))
                .await
        })
        .await;
        self.faults.resume_traffic();
        within("the feed to flow", async {
            self.faults
                .wait_until(|f| f.emitted_count(tokens[0]) >= events)
                .await
        })
        .await;
    }

    /// Waits for a fault injected for `length` to end.
    pub async fn fault_over(&self, length: Duration) {
        within_for(length + PATIENCE, "the fault to end", async {
            self.faults.wait_until(|f| f.active().is_none()).await
        })
        .await;
    }

    /// The time from the end of the last fault until every token had a good answer again.
    pub async fn recovered(&self) -> Duration {
        let tokens = self.token_refs();
        let mut took = None;
        within("a good answer for every token after the fault", async {
            self.faults
                .wait_until(|f| {
                    took = f.recovery(&tokens);
                    took.is_some()
                })
                .await
        })
        .await;
        took.unwrap()
    }

    /// Stops the traffic and waits until the client has stored everything emitted.
    pub async fn settle(&self) {
        self.faults.pause_traffic();
        let tokens = self.token_refs();
        within("the client to catch up with the feed", async {
            self.faults.wait_until(|f| f.drained(&tokens)).await
        })
        .await;
        assert_eq!(
            self.faults.overflowed(),
            0,
            "the fake itself dropped events"
        );
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A fresh database path in its own temporary directory (kept: a failing test's file can be
/// looked at).
pub fn temp_db() -> PathBuf {
    tempfile::tempdir().unwrap().keep().join("ovh-cti.db")
}

/// How the in-process service is set up.
pub struct Setup {
    pub api: Api,
    pub poll_timeout: Duration,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            api: Api::V1,
            poll_timeout: Config::default().poll_timeout,
        }
    }
}

/// The service in this process, following both tokens of the fake.
pub struct InProcess {
    pub base: String,
    pub db: PathBuf,
    pub service: Arc<Service>,
    /// The service's clock: only the stalled-poll test moves it.
    pub clock: ManualClock,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl InProcess {
    pub async fn start(fake: &Fake, setup: Setup) -> InProcess {
        let db = temp_db();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let clock = ManualClock::new(now);
        let config = Config {
            listen: "127.0.0.1:0".into(),
            db: db.clone(),
            upstream: fake.url.clone(),
            api: setup.api,
            tokens: fake
                .tokens
                .iter()
                .map(|t| Token::parse(t).unwrap())
                .collect(),
            poll_timeout: setup.poll_timeout,
            ..Config::default()
        };
        let app = Application::build(config, Arc::new(clock.clone()))
            .await
            .expect("the service starts");
        let base = format!("http://{}", app.address());
        let service = app.service();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        // The tokens known at start are followed in the background: wait for them.
        service.ready().await;
        InProcess {
            base,
            db,
            service,
            clock,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn api(&self) -> Http<'_> {
        Http {
            base: &self.base,
            http: &self.http,
        }
    }

    /// Runs SQL on the service's one writer: how a test makes the store fail and mends it.
    pub async fn on_writer(&self, sql: String) {
        self.service
            .ingest
            .write(move |w| {
                w.connection().execute_batch(&sql)?;
                Ok(())
            })
            .await
            .unwrap();
    }

    /// Stops the service cleanly and waits for it.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        within("the service to stop", self.task.take().unwrap())
            .await
            .unwrap()
            .unwrap();
    }
}

/// The service's HTTP API, whichever process serves it.
pub struct Http<'a> {
    pub base: &'a str,
    pub http: &'a reqwest::Client,
}

impl Http<'_> {
    /// `GET path` as `token`, which must answer 200 with JSON.
    pub async fn json(&self, path: &str, token: &str) -> Value {
        let url = format!("{}{path}", self.base);
        let res = self.http.get(url).bearer_auth(token).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        res.json().await.unwrap()
    }

    /// Every item of a paged list (`key` of each page), following `next` to the end.
    pub async fn all(&self, path: &str, key: &str, token: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = match &cursor {
                Some(c) => format!("{path}?limit=1000&cursor={c}"),
                None => format!("{path}?limit=1000"),
            };
            let mut v = self.json(&page, token).await;
            items.append(v[key].as_array_mut().unwrap());
            match v["next"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return items,
            }
        }
    }
}

/// What a fault did, as the suite reports it: one line per fault, the same shape every
/// time, printed and appended to `target/tmp/faults-report.txt` so docs/reliability.md can
/// quote a run.
pub fn report(name: &str, recovered: Duration, lost: usize, duplicated: usize, extra: &str) {
    let mut line = format!(
        "fault: {name} recovered_in_ms={} lost={lost} duplicated={duplicated}",
        recovered.as_millis()
    );
    if !extra.is_empty() {
        line = format!("{line} {extra}");
    }
    println!("{line}");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults-report.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// The end of every fault test: the traffic stops, the service catches up, and then the store
/// is held against everything the fake emitted (0 lost, 0 duplicated, a sound file) and the
/// live figures against the truth counted from the raw events. The report line is printed
/// first, so that a failing run still shows its figures.
pub async fn conclude(
    fault: &str,
    fake: &Fake,
    db: &Path,
    api: &Http<'_>,
    recovered: Duration,
    extra: &str,
) {
    fake.settle().await;
    let tokens = fake.token_refs();
    let audit = audit(db, &fake.faults, &tokens);
    report(fault, recovered, audit.lost, audit.duplicated, extra);
    audit.assert_clean(fault);
    for token in tokens {
        Truth::of(&fake.faults.emitted(token))
            .check(api, db, token, fault)
            .await;
    }
}
