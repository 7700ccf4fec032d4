//! The fan-out bench: many dashboards open on one service while the feed runs fast. It starts
//! `ovh-cti serve` (the optimised build `cargo bench` makes) following TOKENS tokens of a fake
//! OVH, opens CLIENTS live streams (`GET /api/stream`, spread over the tokens, each its own
//! connection, all in this process), then has the fake release RATE events a second in all
//! for SECONDS, and measures:
//!
//! - the latency from the moment the fake answers a poll with an event to the moment each
//!   client reads that event's frame: p50, p99 and max over every (client, event) pair;
//! - frames lost: events a client never read (a client that fell behind is sent the whole
//!   state again, `event: resync`, instead of what it missed: counted apart);
//! - the service's CPU (% of one core) over the window, and its resident memory at the end.
//!
//! The reference, in the same run: a "minimal fan-out" — this binary re-executed as a child:
//! one long-poll loop per token, each answer rendered once as SSE frames and broadcast to the
//! streams of that token over the same HTTP stack (axum, hyper), with no store, no engine, no
//! authentication beyond naming the token — measured by the same clients against a fresh
//! fake. The ratio ovh-cti / minimal is what the service's own work costs.
//!
//! Events are calls on 50 lines per token (ringing, end of ringing, answered, hung up); each
//! names its token, line and call in its call id, so a client knows which event a frame is.
//!
//! Run with `cargo bench --bench fanout -- CLIENTS RATE SECONDS [RUNS] [TOKENS]` (default
//! 1000 100 10 3 1). Linux only (`/proc`). Prints figures; asserts nothing about time. The
//! clients share the machine with the service: on 2 cores their own work is part of what
//! both subjects are measured under.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

mod support;
use support::{
    clock_ticks_per_second, cpu_ticks, free_port, generate_tokens, min_median, query_value,
    raise_open_files_limit, reply, rss_kb, serve_http, spawn, spawn_service, Child,
};

/// How long the fake holds a poll with nothing to send.
const HOLD: Duration = Duration::from_secs(25);
/// Lines per token; each has at most one call at a time.
const LINES: u64 = 50;
/// The generator's step: RATE events a second are released in slices this long.
const TICK: Duration = Duration::from_millis(10);
/// After the last event, the time left for its frames to arrive before clients stop.
const DRAIN: Duration = Duration::from_secs(3);
/// Set in the environment of the re-executed bench: the fake's URL (it is the minimal fan-out).
const MINIMAL_ENV: &str = "FANOUT_MINIMAL";
/// Where the minimal fan-out listens, and the tokens it follows (comma-separated).
const LISTEN_ENV: &str = "FANOUT_LISTEN";
const TOKENS_ENV: &str = "FANOUT_TOKENS";
/// The call-state events of one call, in order; a frame's event name gives its phase.
const PHASES: [&str; 4] = [
    "start_ringing",
    "end_ringing",
    "start_calling",
    "end_calling",
];

#[derive(Clone, Copy)]
struct Load {
    clients: usize,
    rate: u64,
    seconds: u64,
    tokens: usize,
}

impl Load {
    /// An upper bound of the events' identifiers (see `event_index`).
    fn index_bound(&self) -> usize {
        let per_token = self.rate * self.seconds / self.tokens as u64 + 1;
        let rounds = per_token / LINES + 2;
        (rounds * self.tokens as u64 * LINES) as usize
    }
}

fn main() {
    if let Ok(upstream) = std::env::var(MINIMAL_ENV) {
        minimal_fanout(&upstream);
        return;
    }
    // `cargo bench` passes `--bench`: only the numbers are ours.
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let arg = |i: usize, default: u64| args.get(i).copied().unwrap_or(default).max(1);
    let load = Load {
        clients: arg(0, 1000) as usize,
        rate: arg(1, 100),
        seconds: arg(2, 10),
        tokens: arg(4, 1) as usize,
    };
    let runs = arg(3, 3) as usize;
    let instances = arg(5, 1) as usize;
    let (soft, _) = raise_open_files_limit();
    println!(
        "fan-out bench: {} clients over {} token(s), {} events/s for {} s, {runs} run(s); \
         open files {soft}",
        load.clients, load.tokens, load.rate, load.seconds
    );
    if soft < 2 * load.clients as libc::rlim_t + 200 {
        println!(
            "warning: the open-files limit is low for {} clients",
            load.clients
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if instances > 1 {
        for run in 1..=runs {
            println!("\nrun {run}/{runs}: {instances} instances on one PostgreSQL");
            let dir = tempfile::tempdir().expect("a temporary directory");
            let tokens = generate_tokens(load.tokens);
            runtime
                .block_on(measure_cluster(load, &tokens, dir.path(), instances, run))
                .print();
            // FANOUT_KEEP=1 keeps the instances' logs.
            if std::env::var_os("FANOUT_KEEP").is_some() {
                println!("  logs kept in {}", dir.keep().display());
            }
        }
        return;
    }
    let mut results = Vec::new();
    for run in 1..=runs {
        println!("\nrun {run}/{runs}");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let tokens = generate_tokens(load.tokens);
        let service = runtime.block_on(measure(Subject::OvhCti, load, &tokens, dir.path()));
        service.print(Subject::OvhCti);
        let minimal = runtime.block_on(measure(Subject::Minimal, load, &tokens, dir.path()));
        minimal.print(Subject::Minimal);
        results.push((service, minimal));
    }
    print_summary(&results, load);
}

// ---------------------------------------------------------------------------------------------
// One measurement.

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

struct Figures {
    connected: usize,
    /// Latencies in ms: p50, p99, max.
    p50: f64,
    p99: f64,
    max: f64,
    /// (client, event) pairs expected, and read.
    expected: u64,
    read: u64,
    resyncs: u64,
    /// Bytes each client read a second, on average over the window.
    client_kb_s: f64,
    /// This process's CPU over the window: the clients' work, which shares the machine.
    clients_cpu_percent: f64,
    cpu_percent: f64,
    rss_mb: f64,
    released: u64,
}

impl Figures {
    fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.read)
    }

    fn print(&self, subject: Subject) {
        println!(
            "  {:<8} latency p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  \
             frames lost {} of {} ({} resyncs)  {:.0} kB/s a client  CPU {:>5.1} %  RSS {:>6.1} MB  \
             (clients' CPU {:.0} %) \
             ({} clients connected, {} events released)",
            subject.name(),
            self.p50,
            self.p99,
            self.max,
            self.lost(),
            self.expected,
            self.resyncs,
            self.client_kb_s,
            self.cpu_percent,
            self.rss_mb,
            self.clients_cpu_percent,
            self.connected,
            self.released,
        );
    }
}

async fn measure(subject: Subject, load: Load, tokens: &[String], dir: &Path) -> Figures {
    let fake = Fake::start(tokens, load).await;
    let (mut child, web) = match subject {
        Subject::OvhCti => {
            // Room for every stream under the service's caps: streams are half the connections.
            let settings = format!(
                "[server]\nmax_connections = {}\nmax_streams_per_session = {}\n\
                 max_streams_per_address = {}\n",
                2 * load.clients + 200,
                load.clients,
                load.clients
            );
            let child = spawn_service(&fake.url, tokens, dir, &settings);
            let web = child.web.clone().expect("the service's address");
            (child, web)
        }
        Subject::Minimal => spawn_minimal(&fake.url, tokens, dir),
    };
    let ready = match subject {
        Subject::OvhCti => "/readyz",
        Subject::Minimal => "/healthz",
    };
    let ready = format!("{web}{ready}");
    tokio::select! {
        _ = wait_ok(&ready) => {}
        status = child.exited() => child.died(status),
    }

    let clients = Clients::connect(load, &fake.state, &[web], subject.name()).await;
    let pid = child.pid();
    let own = std::process::id() as i32;
    let (ticks_before, own_before, window) = (cpu_ticks(pid), cpu_ticks(own), Instant::now());
    tokio::select! {
        _ = generate(fake.state.clone(), load) => {}
        status = child.exited() => child.died(status),
    }
    tokio::time::sleep(DRAIN).await;
    let cpu_s = (cpu_ticks(pid) - ticks_before) as f64 / clock_ticks_per_second();
    let seconds = window.elapsed().as_secs_f64();
    let cpu_percent = 100.0 * cpu_s / seconds;
    let clients_cpu_percent =
        100.0 * (cpu_ticks(own) - own_before) as f64 / clock_ticks_per_second() / seconds;
    let rss_mb = rss_kb(pid) as f64 / 1024.0;

    let got = clients.collect(&fake.state).await;
    let _ = child.stop().await;
    let released = fake.released();
    fake.stop();
    let (p50, p99, max) = percentiles(got.latencies_us);
    Figures {
        connected: got.connected,
        p50,
        p99,
        max,
        expected: got.expected,
        read: got.read,
        resyncs: got.resyncs,
        client_kb_s: got.bytes as f64 / 1024.0 / load.clients as f64 / seconds,
        clients_cpu_percent,
        cpu_percent,
        rss_mb,
        released,
    }
}

/// The clients of a measurement: one live stream each, spread over the instances' addresses.
struct Clients {
    set: tokio::task::JoinSet<Reader>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// What the clients read, gathered.
#[derive(Default)]
struct Got {
    latencies_us: Vec<u32>,
    /// The same, split by whether the client's instance followed the token itself (see
    /// `measure_cluster`): `local` and `mirrored`.
    local_us: Vec<u32>,
    mirrored_us: Vec<u32>,
    expected: u64,
    read: u64,
    resyncs: u64,
    connected: usize,
    bytes: u64,
}

impl Clients {
    /// Opens `load.clients` streams, client `i` on `webs[i % webs.len()]` for token
    /// `i % load.tokens`, and waits until each holds its first frame (or a minute passed).
    async fn connect(
        load: Load,
        state: &Arc<FakeState>,
        webs: &[String],
        subject: &str,
    ) -> Clients {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let opened = Arc::new(AtomicUsize::new(0));
        let http = reqwest::Client::builder()
            .no_proxy()
            .http1_only()
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client");
        let mut set = tokio::task::JoinSet::new();
        for i in 0..load.clients {
            let mut reader = Reader::new(i % load.tokens, load.index_bound(), state.clone());
            reader.instance = i % webs.len();
            // FANOUT_DUMP=PREFIX keeps what the first client read (in PREFIX.ovh-cti and
            // PREFIX.minimal), to see what a stream carries.
            if i == 0 {
                reader.dump = std::env::var("FANOUT_DUMP")
                    .ok()
                    .map(|prefix| format!("{prefix}.{subject}"));
            }
            set.spawn(reader.run(
                http.clone(),
                format!("{}/api/stream", webs[i % webs.len()]),
                state.tokens[i % load.tokens].clone(),
                opened.clone(),
                stopped.clone(),
            ));
        }
        let connecting = Instant::now();
        while opened.load(Ordering::SeqCst) < load.clients
            && connecting.elapsed() < Duration::from_secs(60)
            && set.len() == load.clients
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Clients { set, stop }
    }

    /// Stops the clients and gathers what they read. `local(instance, token)` says whether
    /// the instance followed the token itself.
    async fn collect_split(
        mut self,
        state: &FakeState,
        local: impl Fn(usize, usize) -> bool,
    ) -> Got {
        let _ = self.stop.send(true);
        let mut got = Got::default();
        while let Some(done) = self.set.join_next().await {
            let Ok(reader) = done else { continue };
            if reader.connected {
                got.connected += 1;
            }
            got.expected += state.released_per_token[reader.token].load(Ordering::SeqCst);
            got.read += reader.read;
            got.resyncs += reader.resyncs;
            got.bytes += reader.bytes;
            if local(reader.instance, reader.token) {
                got.local_us.extend(&reader.latencies_us);
            } else {
                got.mirrored_us.extend(&reader.latencies_us);
            }
            got.latencies_us.extend(reader.latencies_us);
        }
        got
    }

    async fn collect(self, state: &FakeState) -> Got {
        self.collect_split(state, |_, _| true).await
    }
}

/// p50, p99 and max of latencies in µs, in ms (NaN when there are none).
fn percentiles(mut latencies: Vec<u32>) -> (f64, f64, f64) {
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |us| *us as f64 / 1e3)
    };
    (
        at(0.50),
        at(0.99),
        latencies.last().map_or(f64::NAN, |us| *us as f64 / 1e3),
    )
}

// ---------------------------------------------------------------------------------------------
// Several instances on one PostgreSQL (issue 12).

/// What a cluster run measured.
struct ClusterFigures {
    instances: Vec<InstanceFigures>,
    /// From the first instance started to every token leased.
    divided_s: f64,
    /// Transactions PostgreSQL committed a second over the window (every instance's, and the
    /// rest of the database's), and events stored a second.
    commits_per_s: f64,
    stored_per_s: f64,
    all: (f64, f64, f64),
    local: (f64, f64, f64),
    mirrored: (f64, f64, f64),
    expected: u64,
    read: u64,
    resyncs: u64,
    released: u64,
    stored: i64,
}

struct InstanceFigures {
    leases: usize,
    cpu_percent: f64,
    rss_mb: f64,
}

impl ClusterFigures {
    fn print(&self) {
        let ms = |(p50, p99, max): (f64, f64, f64)| {
            format!("p50 {p50:.1} ms  p99 {p99:.1} ms  max {max:.1} ms")
        };
        println!(
            "  tokens divided in {:.1} s; {} events released, {} stored; commits {:.0}/s, events stored {:.0}/s",
            self.divided_s, self.released, self.stored, self.commits_per_s, self.stored_per_s
        );
        for (i, f) in self.instances.iter().enumerate() {
            println!(
                "  instance {i}: {} tokens led  CPU {:>5.1} %  RSS {:>6.1} MB",
                f.leases, f.cpu_percent, f.rss_mb
            );
        }
        println!(
            "  OVH's answer → dashboard frame, every client: {}",
            ms(self.all)
        );
        println!(
            "    clients on the instance following the token: {}",
            ms(self.local)
        );
        println!(
            "    clients on another instance (mirror):        {}",
            ms(self.mirrored)
        );
        println!(
            "  frames lost {} of {} ({} resyncs)",
            self.expected.saturating_sub(self.read),
            self.expected,
            self.resyncs
        );
    }
}

/// A new schema of the bench PostgreSQL (`OVH_CTI_BENCH_POSTGRES`, by default the machine's
/// `test` database), the bench's earlier ones dropped first; its address and a connection.
fn bench_schema(run: usize) -> (String, ovh_cti::store::db::Conn) {
    use ovh_cti::store::db::{Conn, PostgresUrl};
    let base = std::env::var("OVH_CTI_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test?user=postgres".into());
    let admin = Conn::postgres(&PostgresUrl::parse(&base).expect("a PostgreSQL address"))
        .expect("the bench's PostgreSQL answers (OVH_CTI_BENCH_POSTGRES)");
    let schema = format!("bench_fanout_{run}");
    admin
        .execute_batch(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .expect("a schema for the bench");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    let conn = Conn::postgres(&PostgresUrl::parse(&url).unwrap()).unwrap();
    (url, conn)
}

fn count(conn: &ovh_cti::store::db::Conn, sql: &str) -> i64 {
    conn.query_row(sql, (), |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// INSTANCES services on one PostgreSQL, sharing the tokens with leases and telling each
/// other of new events through NATS (`OVH_CTI_BENCH_NATS`, by default the machine's, if it
/// answers). Clients are spread over the instances: most read a token another instance
/// follows, so their frames went through the store and NATS.
async fn measure_cluster(
    load: Load,
    tokens: &[String],
    dir: &Path,
    instances: usize,
    run: usize,
) -> ClusterFigures {
    let (db, conn) = bench_schema(run);
    let nats =
        std::env::var("OVH_CTI_BENCH_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let fake = Fake::start(tokens, load).await;
    let per_instance = load.clients.div_ceil(instances);
    let settings = format!(
        "[server]\nmax_connections = {}\nmax_streams_per_session = {per_instance}\n\
         max_streams_per_address = {per_instance}\n\n[nats]\nurl = {}\n",
        2 * per_instance + 200,
        serde_json::to_string(&nats).unwrap()
    );
    let started = Instant::now();
    let mut children: Vec<Child> = (0..instances)
        .map(|i| {
            let sub = dir.join(format!("instance-{i}"));
            std::fs::create_dir_all(&sub).expect("a folder per instance");
            support::spawn_service_on(&fake.url, tokens, &sub, &db, &settings)
        })
        .collect();
    let webs: Vec<String> = children
        .iter()
        .map(|c| c.web.clone().expect("the service's address"))
        .collect();
    for (child, web) in children.iter_mut().zip(&webs) {
        let ready = format!("{web}/readyz");
        tokio::select! {
            _ = wait_ok(&ready) => {}
            status = child.exited() => child.died(status),
        }
    }
    // Every token followed by one instance, and the tokens divided evenly (instances started
    // at different moments give some back), before the clients connect: who follows which
    // token is read once, below.
    let live = "SELECT COUNT(*) FROM token_leases WHERE expires_at > extract(epoch from clock_timestamp())";
    let most = "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM token_leases \
                WHERE expires_at > extract(epoch from clock_timestamp()) GROUP BY holder) h";
    let share = tokens.len().div_ceil(instances) as i64;
    // (The tables appear with the first instance's schema.)
    while !(conn
        .query_row(live, (), |r| r.get::<_, i64>(0))
        .unwrap_or(0)
        == tokens.len() as i64
        && count(&conn, most) <= share)
    {
        for child in &mut children {
            if let Ok(Some(status)) = child.process.try_wait() {
                child.died(status);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the tokens were not divided within 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let divided_s = started.elapsed().as_secs_f64();
    // Which instance follows which token: holders are named host-pid-random.
    let holders: Vec<(String, String)> = conn
        .prepare("SELECT token_id, holder FROM token_leases")
        .unwrap()
        .query_map((), |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let instance_of_holder = |holder: &str| {
        children
            .iter()
            .position(|c| holder.contains(&format!("-{}-", c.pid())))
    };
    let id_slot: HashMap<String, usize> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                ovh_cti::token::Token::parse(t)
                    .unwrap()
                    .id()
                    .as_str()
                    .to_string(),
                i,
            )
        })
        .collect();
    let mut leader = vec![usize::MAX; tokens.len()];
    let mut led = vec![0usize; instances];
    for (id, holder) in &holders {
        if let (Some(&slot), Some(i)) = (id_slot.get(id), instance_of_holder(holder)) {
            leader[slot] = i;
            led[i] += 1;
        }
    }

    let clients = Clients::connect(load, &fake.state, &webs, "cluster").await;
    let pids: Vec<i32> = children.iter().map(Child::pid).collect();
    let ticks_before: Vec<u64> = pids.iter().map(|p| cpu_ticks(*p)).collect();
    let commits = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()";
    let (commits_before, stored_before) = (
        count(&conn, commits),
        count(&conn, "SELECT COUNT(*) FROM events"),
    );
    let window = Instant::now();
    generate(fake.state.clone(), load).await;
    tokio::time::sleep(DRAIN).await;
    let seconds = window.elapsed().as_secs_f64();
    let (commits_after, stored) = (
        count(&conn, commits),
        count(&conn, "SELECT COUNT(*) FROM events"),
    );
    let figures: Vec<InstanceFigures> = pids
        .iter()
        .zip(&ticks_before)
        .zip(&led)
        .map(|((pid, before), leases)| InstanceFigures {
            leases: *leases,
            cpu_percent: 100.0 * (cpu_ticks(*pid) - before) as f64
                / clock_ticks_per_second()
                / seconds,
            rss_mb: rss_kb(*pid) as f64 / 1024.0,
        })
        .collect();
    let got = clients
        .collect_split(&fake.state, |instance, token| leader[token] == instance)
        .await;
    for child in children {
        let _ = child.stop().await;
    }
    let released = fake.released();
    fake.stop();
    ClusterFigures {
        instances: figures,
        divided_s,
        commits_per_s: (commits_after - commits_before) as f64 / seconds,
        stored_per_s: (stored - stored_before) as f64 / seconds,
        all: percentiles(got.latencies_us),
        local: percentiles(got.local_us),
        mirrored: percentiles(got.mirrored_us),
        expected: got.expected,
        read: got.read,
        resyncs: got.resyncs,
        released,
        stored,
    }
}

/// Waits until `url` answers 200.
async fn wait_ok(url: &str) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status() == StatusCode::OK {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn spawn_minimal(upstream: &str, tokens: &[String], dir: &Path) -> (Child, String) {
    let listen = free_port();
    let mut command = Command::new(std::env::current_exe().expect("the bench's own path"));
    command
        .env(MINIMAL_ENV, upstream)
        .env(LISTEN_ENV, &listen)
        .env(TOKENS_ENV, tokens.join(","));
    (spawn(command, "minimal", dir), format!("http://{listen}"))
}

// ---------------------------------------------------------------------------------------------
// The clients: one live stream each, reading frames as they come.

struct Reader {
    token: usize,
    /// Which instance it reads from (cluster mode; 0 otherwise).
    instance: usize,
    state: Arc<FakeState>,
    /// Events read, by identifier: a frame read twice counts once.
    seen: Vec<u64>,
    latencies_us: Vec<u32>,
    read: u64,
    /// Bytes of stream read.
    bytes: u64,
    resyncs: u64,
    connected: bool,
    /// Where to keep what it read, if anywhere.
    dump: Option<String>,
    /// The message kind of the `event:` line last read.
    kind: String,
    /// The end of the last chunk when it cut a line.
    partial: Vec<u8>,
}

impl Reader {
    fn new(token: usize, bound: usize, state: Arc<FakeState>) -> Reader {
        Reader {
            token,
            instance: 0,
            state,
            seen: vec![0; bound / 64 + 1],
            latencies_us: Vec::new(),
            read: 0,
            bytes: 0,
            resyncs: 0,
            connected: false,
            dump: None,
            kind: String::new(),
            partial: Vec::new(),
        }
    }

    async fn run(
        mut self,
        http: reqwest::Client,
        url: String,
        token: String,
        opened: Arc<AtomicUsize>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Reader {
        let answer = http.get(&url).bearer_auth(&token).send().await;
        let mut answer = match answer {
            Ok(a) if a.status() == StatusCode::OK => a,
            Ok(a) => {
                let status = a.status();
                let why = a.text().await.unwrap_or_default();
                eprintln!("a stream was refused: {status} {why}");
                return self;
            }
            Err(e) => {
                eprintln!("a stream failed: {}", e.without_url());
                return self;
            }
        };
        self.connected = true;
        let mut first = true;
        let mut dump = self
            .dump
            .take()
            .and_then(|path| std::fs::File::create(path).ok());
        loop {
            let chunk = tokio::select! {
                chunk = answer.chunk() => chunk,
                _ = stop.changed() => break,
            };
            let Ok(Some(chunk)) = chunk else { break };
            // Read once per chunk: the time the frames reached the client.
            let now = self.state.since_base();
            if first {
                first = false;
                opened.fetch_add(1, Ordering::SeqCst);
            }
            self.bytes += chunk.len() as u64;
            if let Some(dump) = &mut dump {
                use std::io::Write;
                let _ = dump.write_all(&chunk);
            }
            self.take(&chunk, now);
        }
        self
    }

    /// Reads the complete lines of `chunk` (with what was left of the previous one).
    fn take(&mut self, chunk: &[u8], now: u64) {
        self.partial.extend_from_slice(chunk);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return;
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        for line in complete.split(|b| *b == b'\n') {
            let line = std::str::from_utf8(line).unwrap_or_default();
            if let Some(kind) = line.strip_prefix("event: ") {
                self.kind = kind.to_string();
                if kind == "resync" {
                    self.resyncs += 1;
                }
            } else if let Some(data) = line.strip_prefix("data: ") {
                if self.kind == "event" {
                    self.event(data, now);
                }
            }
        }
    }

    fn event(&mut self, data: &str, now: u64) {
        let Some(index) = event_index_of(data, self.state.tokens.len()) else {
            return;
        };
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        if index >= self.seen.len() * 64 || self.seen[word] & bit != 0 {
            return;
        }
        self.seen[word] |= bit;
        self.read += 1;
        let released = self.state.released[index].load(Ordering::SeqCst);
        if released > 0 {
            self.latencies_us
                .push((now.saturating_sub(released - 1) / 1000).min(u32::MAX as u64) as u32);
        }
    }
}

/// The identifier of the event a frame's data names, from its call id and event name.
fn event_index_of(data: &str, tokens: usize) -> Option<usize> {
    let after = |key: &str| data.split_once(key).map(|(_, rest)| rest);
    let call = after("\"call_id\":\"fan")?;
    let mut parts = call.split(['-', '.']);
    let mut hex = || u64::from_str_radix(parts.next()?, 16).ok();
    let (token, line, call) = (hex()? as usize, hex()?, hex()?);
    let name = after("\"event\":\"")?.split('"').next()?;
    let phase = PHASES.iter().position(|p| *p == name)? as u64;
    Some(event_index(token, tokens, line, call * 4 + phase))
}

/// Events are numbered by round (a call's phase on every line), token and line, so that a
/// number is found again from the frame alone.
fn event_index(token: usize, tokens: usize, line: u64, round: u64) -> usize {
    ((round * tokens as u64 + token as u64) * LINES + line) as usize
}

// ---------------------------------------------------------------------------------------------
// The fake OVH: API v1 long polling; a poll is answered as soon as its token has events.

struct Fake {
    url: String,
    state: Arc<FakeState>,
    task: tokio::task::JoinHandle<()>,
}

struct FakeState {
    tokens: Vec<String>,
    slot_of: HashMap<String, usize>,
    feeds: Vec<Feed>,
    base: Instant,
    /// When each event was handed to a poll: ns since `base`, plus one (0: not yet).
    released: Vec<AtomicU64>,
    released_per_token: Vec<AtomicU64>,
}

#[derive(Default)]
struct Feed {
    pending: Mutex<Vec<(usize, Value)>>,
    ready: tokio::sync::Notify,
}

impl FakeState {
    fn since_base(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

impl Fake {
    async fn start(tokens: &[String], load: Load) -> Fake {
        let state = Arc::new(FakeState {
            tokens: tokens.to_vec(),
            slot_of: tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), i))
                .collect(),
            feeds: tokens.iter().map(|_| Feed::default()).collect(),
            base: Instant::now(),
            released: (0..load.index_bound()).map(|_| AtomicU64::new(0)).collect(),
            released_per_token: tokens.iter().map(|_| AtomicU64::new(0)).collect(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the fake OVH binds");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(serve_http(listener, state.clone(), poll));
        Fake { url, state, task }
    }

    fn stop(self) {
        self.task.abort();
    }

    /// Events handed to polls so far.
    fn released(&self) -> u64 {
        self.state
            .released_per_token
            .iter()
            .map(|r| r.load(Ordering::SeqCst))
            .sum()
    }
}

/// `GET /?token=T[&session=S]`: answered at once with the token's waiting events, or as soon
/// as some come, or after `HOLD` with none.
async fn poll(
    state: Arc<FakeState>,
    req: Request<Incoming>,
) -> Result<Response<String>, Infallible> {
    let query = req.uri().query().unwrap_or_default();
    let value = |key: &str| query_value(query, key).map(str::to_string);
    let Some(slot) = value("token").and_then(|t| state.slot_of.get(&t).copied()) else {
        return Ok(reply(StatusCode::FORBIDDEN, "unknown token".into()));
    };
    let session = value("session").unwrap_or_else(|| format!("S{slot:X}"));
    let feed = &state.feeds[slot];
    let hold = tokio::time::sleep(HOLD);
    tokio::pin!(hold);
    let events = loop {
        let waiting = std::mem::take(&mut *feed.pending.lock().unwrap());
        if !waiting.is_empty() {
            break waiting;
        }
        tokio::select! {
            _ = feed.ready.notified() => {}
            _ = &mut hold => break Vec::new(),
        }
    };
    let now = state.since_base() + 1;
    for (index, _) in &events {
        state.released[*index].store(now, Ordering::SeqCst);
    }
    state.released_per_token[slot].fetch_add(events.len() as u64, Ordering::SeqCst);
    let events: Vec<Value> = events.into_iter().map(|(_, e)| e).collect();
    let body = json!({"Session": session, "Message": "", "Events": events});
    Ok(reply(StatusCode::OK, body.to_string()))
}

/// Releases `rate` events a second, in slices of `TICK`, round-robin over the tokens; each
/// token's steps go round its lines, each line's call through its four phases.
async fn generate(state: Arc<FakeState>, load: Load) {
    let total = load.rate * load.seconds;
    let per_tick = load.rate as f64 * TICK.as_secs_f64();
    let mut steps = vec![0u64; load.tokens];
    let mut every = tokio::time::interval(TICK);
    let (mut owed, mut sent, mut next_token) = (0.0, 0u64, 0usize);
    while sent < total {
        every.tick().await;
        owed += per_tick;
        let mut touched = vec![false; load.tokens];
        while owed >= 1.0 && sent < total {
            owed -= 1.0;
            sent += 1;
            let token = next_token;
            next_token = (next_token + 1) % load.tokens;
            let step = steps[token];
            steps[token] += 1;
            let (line, round) = (step % LINES, step / LINES);
            let index = event_index(token, load.tokens, line, round);
            let event = call_event(&state.tokens[token], token, line, round);
            state.feeds[token]
                .pending
                .lock()
                .unwrap()
                .push((index, event));
            touched[token] = true;
        }
        for (token, touched) in touched.into_iter().enumerate() {
            if touched {
                state.feeds[token].ready.notify_one();
            }
        }
    }
}

/// One event of a call on a line, shaped as in `tests/fixtures/lines.v1.jsonl`, stamped now.
fn call_event(token: &str, slot: usize, line: u64, round: u64) -> Value {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let date = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f (UTC)")
        .to_string();
    let number = format!("00339721{:05}", 10_000 + line);
    let caller = "0033612345678";
    let name = PHASES[(round % 4) as usize];
    json!({
        "Event": name,
        "Ressource": number,
        "Service": "sip",
        "Timestamp": now.as_nanos() as u64,
        "Date": date,
        "Token": token,
        "Details": {
            "Description": format!("Line {line}"), "Id": format!("{}", 100_000 + line),
            "IdBillingAccount": "12345", "SimultaneousLine": "2", "Type": "sipCirpack",
        },
        "Data": {
            "CallId": format!("fan{slot:x}-{line:x}-{:x}.", round / 4),
            "Calling": caller, "Called": number, "Dialed": number, "Billing": number,
            "Protocol": "sip", "Cseq": "102 INVITE", "Body": "", "RelevantInfo": "",
            "Event": name, "Ts": now.as_secs_f64(), "TsGet": now.as_nanos() as u64,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// The minimal fan-out: what following the tokens and copying each answer to every stream of
// its token costs with nothing else done.

fn minimal_fanout(upstream: &str) {
    let listen = std::env::var(LISTEN_ENV).expect("FANOUT_LISTEN names the address");
    let tokens: Vec<String> = std::env::var(TOKENS_ENV)
        .expect("FANOUT_TOKENS names the tokens")
        .split(',')
        .map(str::to_string)
        .collect();
    // As the service's `main`: a multi-thread runtime, one worker per core.
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        // As the service's hub: one channel, each update a token's frames rendered once.
        let (hub, _) = tokio::sync::broadcast::channel::<Arc<(usize, bytes::Bytes)>>(1024);
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(65))
            .build()
            .expect("an HTTP client");
        for (slot, token) in tokens.iter().enumerate() {
            tokio::spawn(follow(
                http.clone(),
                upstream.to_string(),
                token.clone(),
                slot,
                hub.clone(),
            ));
        }
        let tokens = Arc::new(tokens);
        let app = axum::Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .route(
                "/api/stream",
                axum::routing::get(move |headers: axum::http::HeaderMap| {
                    let (tokens, rx) = (tokens.clone(), hub.subscribe());
                    async move { minimal_stream(&tokens, &headers, rx) }
                }),
            );
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .expect("the minimal binds");
        use axum::serve::ListenerExt;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app.into_make_service())
            .await
            .expect("the minimal serves");
    });
}

/// One long-poll loop; each answer's events rendered as one update for the hub.
async fn follow(
    http: reqwest::Client,
    upstream: String,
    token: String,
    slot: usize,
    hub: tokio::sync::broadcast::Sender<Arc<(usize, bytes::Bytes)>>,
) {
    let mut session: Option<String> = None;
    loop {
        let mut query = vec![("token", token.clone())];
        if let Some(s) = &session {
            query.push(("session", s.clone()));
        }
        let answer = match http.get(format!("{upstream}/")).query(&query).send().await {
            Ok(a) => a.json::<Value>().await.ok(),
            Err(_) => None,
        };
        let Some(answer) = answer else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        session = answer["Session"].as_str().map(str::to_string).or(session);
        let mut sse = String::new();
        for e in answer["Events"].as_array().into_iter().flatten() {
            let data = json!({
                "event": e["Event"], "number": e["Ressource"], "call_id": e["Data"]["CallId"],
            });
            sse.push_str("event: event\ndata: ");
            sse.push_str(&data.to_string());
            sse.push_str("\n\n");
        }
        if !sse.is_empty() {
            let _ = hub.send(Arc::new((slot, sse.into())));
        }
    }
}

fn minimal_stream(
    tokens: &[String],
    headers: &axum::http::HeaderMap,
    rx: tokio::sync::broadcast::Receiver<Arc<(usize, bytes::Bytes)>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(slot) = bearer.and_then(|b| tokens.iter().position(|t| t == b)) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let hello =
        futures::stream::once(async { Ok::<_, Infallible>(bytes::Bytes::from(": hello\n\n")) });
    let updates = futures::stream::unfold(rx, move |mut rx| async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match rx.recv().await {
                Ok(update) if update.0 == slot => return Some((Ok(update.1.clone()), rx)),
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    return Some((Ok(bytes::Bytes::from("event: resync\ndata: {}\n\n")), rx))
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    use futures::StreamExt;
    (
        [(axum::http::header::CONTENT_TYPE, "text/event-stream")],
        axum::body::Body::from_stream(hello.chain(updates)),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Printing.

fn print_summary(results: &[(Figures, Figures)], load: Load) {
    type Pick = fn(&Figures) -> f64;
    let rows: [(&str, Pick); 7] = [
        ("latency p50 (ms)", |f| f.p50),
        ("latency p99 (ms)", |f| f.p99),
        ("latency max (ms)", |f| f.max),
        ("frames lost", |f| f.lost() as f64),
        ("resyncs", |f| f.resyncs as f64),
        ("CPU (% of a core)", |f| f.cpu_percent),
        ("RSS (MB)", |f| f.rss_mb),
    ];
    println!(
        "\nsummary: {} clients, {} token(s), {} events/s for {} s, {} run(s), min / median",
        load.clients,
        load.tokens,
        load.rate,
        load.seconds,
        results.len()
    );
    println!(
        "  {:<20} {:>20} {:>20} {:>10}",
        "", "ovh-cti", "minimal", "ratio"
    );
    for (name, pick) in rows {
        let stat = |side: fn(&(Figures, Figures)) -> &Figures| {
            min_median(
                results
                    .iter()
                    .map(|r| pick(side(r)))
                    .filter(|v| v.is_finite())
                    .collect(),
            )
        };
        let shown = |s: Option<(f64, f64)>| {
            s.map_or("n/a".into(), |(min, median)| {
                format!("{min:.1} / {median:.1}")
            })
        };
        let (service, minimal) = (stat(|r| &r.0), stat(|r| &r.1));
        let ratio = match (service, minimal) {
            (Some((_, s)), Some((_, m))) if m > 0.0 => format!("{:.1}×", s / m),
            _ => "—".into(),
        };
        println!(
            "  {:<20} {:>20} {:>20} {:>10}",
            name,
            shown(service),
            shown(minimal),
            ratio
        );
    }
}
