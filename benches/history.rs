//! The history bench: the dashboard's history on a database of a million calls. It writes
//! CALLS finished calls (90 days, 50 lines, one token) through the store's own writer — the
//! very statement and indexes the ingest thread uses, all in one transaction — then starts
//! `ovh-cti serve` (the optimised build `cargo bench` makes) on that file, against a quiet fake
//! OVH in this process, and measures, RUNS times:
//!
//! - from the spawn, the first `200` of `/healthz` and of `/readyz`;
//! - `GET /api/history?number=LINE&limit=100` (a line's newest 100 calls), 1,000 times over
//!   the 50 lines in turn, p50 / p99 / max, and the page after each through its cursor;
//! - `GET /healthz` as often: the HTTP round trip alone, to read the figures above against;
//! - `GET /api/history.csv?all=1` for one day (about CALLS / 90 rows) and for the whole file
//!   (as many rows as the contract lets one CSV hold, 100,000): rows, bytes, time, and the
//!   service's resident memory before, at its peak while sending, and after.
//!
//! The reference, in the same run: the same SQL — the statement the service builds
//! (`queries::history_statement`), with the same filter and limit — run by this process with
//! rusqlite on the same file (a prepared statement, every column of every row read), and for
//! the CSVs the same rows read and written with the `csv` crate to nowhere. The ratio
//! service / direct is what HTTP, authentication, JSON and the pool cost on top of SQLite.
//!
//! Run with `cargo bench --bench history -- CALLS RUNS` (default 1000000 3). Linux only
//! (`/proc`). Prints figures; asserts nothing about time (machines are shared and noisy), only
//! that the answers hold what was asked for.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::StatusCode;
use ovh_cti::clock::rfc3339;
use ovh_cti::engine::{CallOutcome, CallRecord, Change, Direction};
use ovh_cti::store::queries::{history_statement, Statement};
use ovh_cti::store::{self, CallFilter, Cursor};
use ovh_cti::token::{Token, TokenId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OpenFlags};

mod support;
use support::{generate_tokens, min_median, reply, rss_kb, serve_http, spawn_service, Child};

const DAYS: f64 = 90.0;
const DAY: f64 = 86_400.0;
const LINES: usize = 50;
/// Outside numbers the lines call and are called by.
const CORRESPONDENTS: u64 = 30_000;
/// History requests timed per run (and as many next pages, and `/healthz` round trips).
const REQUESTS: usize = 1000;
const PAGE: usize = 100;
/// The most rows one CSV holds (`web::params::CSV_LIMIT`, the contract's cap with `all=1`).
const CSV_ROWS: usize = 100_000;
/// How long the fake OVH holds a poll before answering "no events", as OVH does.
const HOLD: Duration = Duration::from_secs(25);
/// How often the start-up probes ask, and how often the service's memory is read meanwhile
/// a CSV is sent.
const PROBE_EVERY: Duration = Duration::from_millis(5);
const RSS_EVERY: Duration = Duration::from_millis(2);

fn main() {
    // `cargo bench` passes `--bench`: only the numbers are ours.
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let calls = args.first().copied().unwrap_or(1_000_000) as usize;
    let runs = args.get(1).copied().unwrap_or(3).max(1) as usize;
    println!("history bench: {calls} calls over {DAYS} days on {LINES} lines, {runs} run(s)");

    let dir = tempfile::tempdir().expect("a temporary folder");
    let token = generate_tokens(1).remove(0);
    let data = generate(&dir.path().join("ovh-cti.db"), &token, calls);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let results: Vec<Figures> = (1..=runs)
        .map(|run| {
            let figures = runtime.block_on(one_run(&data, dir.path()));
            figures.print_run(run, runs);
            figures
        })
        .collect();
    print_summary(&results, calls);
}

// ---------------------------------------------------------------------------------------------
// The database.

/// What was generated, for the requests to ask about.
struct Dataset {
    path: PathBuf,
    token: String,
    token_id: TokenId,
    lines: Vec<String>,
    /// One whole UTC day in the middle of the history: `[from, to)`.
    day: (f64, f64),
    /// Rows of that day, and in all (for checking the CSVs).
    day_rows: usize,
    calls: usize,
}

/// Writes `calls` finished calls for `token` into a new database at `path`, through the
/// store's writer (`Batch::record`: the ingest's own upsert into `calls`, with every index the
/// migrations made), in one transaction. Calls start in time order over the last 90 days, as
/// they are recorded in life; lines, directions, outcomes and durations are drawn from a
/// seeded generator.
fn generate(path: &Path, token: &str, calls: usize) -> Dataset {
    let began = Instant::now();
    let parsed = Token::parse(token).expect("a token in OVH's format");
    let id = parsed.id();
    let (mut writer, _readers) = store::open(path).expect("the database opens");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    writer
        .add_token(&parsed, "config", now)
        .expect("the token is stored");
    let lines: Vec<String> = (0..LINES).map(|i| format!("00339721000{i:02}")).collect();
    let end = (now / 60.0).floor() * 60.0 - 3600.0;
    let start = end - DAYS * DAY;
    let day_from = ((start + end) / 2.0 / DAY).floor() * DAY;
    let day = (day_from, day_from + DAY);
    let spacing = (end - start) / calls.max(1) as f64;

    let mut rng = StdRng::seed_from_u64(13);
    let mut day_rows = 0;
    let batch = writer.begin().expect("a transaction");
    for i in 0..calls {
        let started_at = start + (i as f64 + rng.gen::<f64>()) * spacing;
        if (day.0..day.1).contains(&started_at) {
            day_rows += 1;
        }
        let record = call(&mut rng, i, &lines, started_at);
        batch
            .record(&id, &Change::CallFinished(record))
            .expect("the call is written");
    }
    batch.commit().expect("the calls are committed");
    drop(writer);
    let secs = began.elapsed().as_secs_f64();
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    println!(
        "generated {calls} calls in {secs:.1} s ({:.0} calls/s, one transaction); \
         database {:.0} MiB; the day measured holds {day_rows} calls",
        calls as f64 / secs,
        size as f64 / (1024.0 * 1024.0),
    );
    Dataset {
        path: path.to_path_buf(),
        token: token.to_string(),
        token_id: id,
        lines,
        day,
        day_rows,
        calls,
    }
}

/// One finished call: 60 % incoming (three in four answered, one in twenty a queue's offer
/// to this line), the rest outgoing (seven in ten answered); a few seconds of ringing, up to
/// ten minutes of talk.
fn call(rng: &mut StdRng, i: usize, lines: &[String], started_at: f64) -> CallRecord {
    let line = lines[rng.gen_range(0..lines.len())].clone();
    let outside = format!("00336{:08}", rng.gen_range(0..CORRESPONDENTS));
    let incoming = rng.gen_bool(0.6);
    let roll: f64 = rng.gen();
    let (outcome, queue) = match (incoming, roll) {
        (true, r) if r < 0.75 => (CallOutcome::Answered, None),
        (true, r) if r < 0.95 => (CallOutcome::Missed, None),
        (true, _) => (CallOutcome::QueueOffer, Some("0033972109999".to_string())),
        (false, r) if r < 0.7 => (CallOutcome::Answered, None),
        (false, _) => (CallOutcome::Unanswered, None),
    };
    let ring_s = rng.gen_range(2.0..25.0_f64).round();
    let talk_s = match outcome {
        CallOutcome::Answered => rng.gen_range(10.0..600.0_f64).round(),
        _ => 0.0,
    };
    let answered_at = (outcome == CallOutcome::Answered).then_some(started_at + ring_s);
    let (calling, called) = if incoming {
        (outside.clone(), line.clone())
    } else {
        (line.clone(), outside.clone())
    };
    CallRecord {
        number: line,
        call_id: format!("{:08x}.{i}", rng.gen::<u32>()),
        direction: if incoming {
            Direction::Incoming
        } else {
            Direction::Outgoing
        },
        calling: Some(calling),
        called: Some(called),
        dialed: None,
        started_at,
        answered_at,
        ended_at: started_at + ring_s + talk_s,
        ring_s,
        talk_s,
        outcome,
        queue_caller: queue.as_ref().map(|_| outside),
        queue,
    }
}

// ---------------------------------------------------------------------------------------------
// One run.

/// p50, p99 and the longest, in seconds.
#[derive(Clone, Copy, Default)]
struct Latencies {
    p50: f64,
    p99: f64,
    max: f64,
}

impl Latencies {
    fn of(mut samples: Vec<Duration>) -> Latencies {
        samples.sort();
        let at = |q: f64| {
            let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len());
            samples[i - 1].as_secs_f64()
        };
        Latencies {
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// One CSV download: what came, how long it took, and the service's memory around it (kB).
#[derive(Clone, Copy, Default)]
struct Download {
    rows: usize,
    bytes: usize,
    secs: f64,
    rss_before: u64,
    rss_peak: u64,
    rss_after: u64,
    /// The same rows read and written as CSV by this process, directly.
    direct_secs: f64,
}

#[derive(Default)]
struct Figures {
    healthz: f64,
    readyz: f64,
    first_page: Latencies,
    first_page_direct: Latencies,
    next_page: Latencies,
    next_page_direct: Latencies,
    round_trip: Latencies,
    /// The service's memory once started, before any request.
    rss_started: u64,
    csv_day: Download,
    csv_all: Download,
    /// How SQLite runs the history query on this database.
    plan: String,
}

async fn one_run(data: &Dataset, dir: &Path) -> Figures {
    let ovh = QuietOvh::start().await;
    let spawned = Instant::now();
    let mut child = spawn_service(&ovh.url, std::slice::from_ref(&data.token), dir, "");
    let web = child.web.clone().expect("the service's address");
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("an HTTP client");
    let healthz = first_ok(&client, &format!("{web}/healthz"), spawned, &mut child).await;
    let readyz = first_ok(&client, &format!("{web}/readyz"), spawned, &mut child).await;
    let pid = child.pid();
    let api = Api {
        client: &client,
        web: &web,
        data,
    };
    let mut f = Figures {
        healthz,
        readyz,
        rss_started: rss_kb(pid),
        ..Figures::default()
    };

    // One pass over the lines first, untimed, on either side: the figures are of a service
    // that has been asked before, not of its very first reads of the file.
    for line in &data.lines {
        api.history(line, None).await;
    }
    let mut first = Vec::with_capacity(REQUESTS);
    let mut next = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS {
        let line = &data.lines[i % data.lines.len()];
        let (took, cursor) = api.history(line, None).await;
        first.push(took);
        let cursor = cursor.expect("a line holds more than one page");
        next.push(api.history(line, Some(&cursor)).await.0);
    }
    f.first_page = Latencies::of(first);
    f.next_page = Latencies::of(next);
    let mut round_trips = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let began = Instant::now();
        let answer = client.get(format!("{web}/healthz")).send().await;
        answer.expect("/healthz answers").bytes().await.unwrap();
        round_trips.push(began.elapsed());
    }
    f.round_trip = Latencies::of(round_trips);

    let direct = Direct::open(data);
    let (first_direct, next_direct, plan) = tokio::task::spawn_blocking(move || direct.pages())
        .await
        .unwrap();
    f.first_page_direct = first_direct;
    f.next_page_direct = next_direct;
    f.plan = plan;

    let day = CallFilter {
        from: Some(data.day.0),
        to: Some(data.day.1),
        limit: CSV_ROWS,
        ..CallFilter::default()
    };
    let query = format!(
        "all=1&from={}&to={}",
        rfc3339(day.from.unwrap()),
        rfc3339(day.to.unwrap())
    );
    f.csv_day = api.csv(&query, day, pid).await;
    assert_eq!(
        f.csv_day.rows, data.day_rows,
        "the day's CSV holds its calls"
    );
    let everything = CallFilter {
        limit: CSV_ROWS,
        ..CallFilter::default()
    };
    f.csv_all = api.csv("all=1", everything, pid).await;
    assert_eq!(f.csv_all.rows, data.calls.min(CSV_ROWS), "the whole CSV");

    let status = child.stop().await;
    if !status.success() {
        eprintln!("note: the service stopped with {status}");
    }
    ovh.stop();
    f
}

/// Seconds from `from` to the first `200` of `url`.
async fn first_ok(client: &reqwest::Client, url: &str, from: Instant, child: &mut Child) -> f64 {
    loop {
        let answer = client.get(url).timeout(Duration::from_secs(2)).send().await;
        if answer.is_ok_and(|a| a.status() == reqwest::StatusCode::OK) {
            return from.elapsed().as_secs_f64();
        }
        if let Ok(Some(status)) = child.process.try_wait() {
            child.died(status);
        }
        assert!(
            from.elapsed() < Duration::from_secs(120),
            "{url} did not answer 200 within 120 s"
        );
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

/// The service's API, as the dashboard calls it (with a bearer token).
struct Api<'a> {
    client: &'a reqwest::Client,
    web: &'a str,
    data: &'a Dataset,
}

impl Api<'_> {
    /// A line's page of history: how long until its whole body came, and its `next` cursor.
    async fn history(&self, line: &str, cursor: Option<&str>) -> (Duration, Option<String>) {
        let mut url = format!("{}/api/history?number={line}&limit={PAGE}", self.web);
        if let Some(c) = cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let began = Instant::now();
        let answer = self
            .client
            .get(&url)
            .bearer_auth(&self.data.token)
            .send()
            .await
            .expect("the history answers");
        let status = answer.status();
        let body = answer.bytes().await.expect("the history's body");
        let took = began.elapsed();
        assert_eq!(status, reqwest::StatusCode::OK, "{url}: {body:?}");
        let page: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        let calls = page["calls"].as_array().expect("calls");
        assert_eq!(calls.len(), PAGE, "a full page");
        assert!(calls.iter().all(|c| c["number"] == line), "only the line");
        (took, page["next"].as_str().map(str::to_string))
    }

    /// A CSV download (`query`, the service's form of `filter`), the service's memory read
    /// every 2 ms meanwhile; then the same rows directly.
    async fn csv(&self, query: &str, filter: CallFilter, pid: i32) -> Download {
        let url = format!("{}/api/history.csv?{query}", self.web);
        let rss_before = rss_kb(pid);
        let peak = Arc::new(AtomicU64::new(rss_before));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = tokio::spawn({
            let (peak, done) = (peak.clone(), done.clone());
            async move {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
                    tokio::time::sleep(RSS_EVERY).await;
                }
            }
        });
        let began = Instant::now();
        let mut answer = self
            .client
            .get(&url)
            .bearer_auth(&self.data.token)
            .send()
            .await
            .expect("the CSV answers");
        assert_eq!(answer.status(), reqwest::StatusCode::OK, "{url}");
        let (mut bytes, mut lines) = (0, 0);
        while let Some(chunk) = answer.chunk().await.expect("the CSV's body") {
            bytes += chunk.len();
            lines += chunk.iter().filter(|&&b| b == b'\n').count();
        }
        let secs = began.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        sampler.await.unwrap();
        // What the allocator still holds once the answer is gone.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rss_after = rss_kb(pid);
        let direct = Direct::open(self.data);
        let (direct_rows, direct_secs) = tokio::task::spawn_blocking(move || direct.csv(&filter))
            .await
            .unwrap();
        let rows = lines.saturating_sub(1);
        assert_eq!(
            rows, direct_rows,
            "{url}: the same rows as the direct query"
        );
        Download {
            rows,
            bytes,
            secs,
            rss_before,
            rss_peak: peak.load(Ordering::Relaxed),
            rss_after,
            direct_secs,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The reference: the service's own statement, run by this process with rusqlite.

struct Direct {
    conn: Connection,
    token: TokenId,
    lines: Vec<String>,
}

impl Direct {
    fn open(data: &Dataset) -> Direct {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&data.path, flags).expect("the database opens");
        // As one of the service's pooled readers with the default budget (96 MiB in all, a
        // third of it shared by 8 readers): 4 MiB of page cache.
        conn.execute_batch("PRAGMA cache_size = -4096")
            .expect("the cache is sized");
        Direct {
            conn,
            token: data.token_id.clone(),
            lines: data.lines.clone(),
        }
    }

    /// The same requests as the service was sent, the same way (a warm-up pass, then
    /// `REQUESTS` first pages over the lines in turn, each followed by its next page); and
    /// SQLite's plan for the first page's query.
    fn pages(self) -> (Latencies, Latencies, String) {
        let filter = |line: &str, cursor: Option<Cursor>| CallFilter {
            number: Some(line.to_string()),
            limit: PAGE,
            cursor,
            ..CallFilter::default()
        };
        for line in &self.lines {
            self.run(&history_statement(&self.token, &filter(line, None)));
        }
        let mut first = Vec::with_capacity(REQUESTS);
        let mut next = Vec::with_capacity(REQUESTS);
        for i in 0..REQUESTS {
            let line = &self.lines[i % self.lines.len()];
            let began = Instant::now();
            let (rows, cursor) = self.run(&history_statement(&self.token, &filter(line, None)));
            first.push(began.elapsed());
            assert_eq!(rows, PAGE + 1, "a page and the row that says more follow");
            let began = Instant::now();
            self.run(&history_statement(&self.token, &filter(line, cursor)));
            next.push(began.elapsed());
        }
        let plan = self.plan(&history_statement(
            &self.token,
            &filter(&self.lines[0], None),
        ));
        (Latencies::of(first), Latencies::of(next), plan)
    }

    /// Runs a history statement as the service does (prepared once, every column of every
    /// row read): the rows, and the cursor after the `PAGE`th.
    fn run(&self, statement: &Statement) -> (usize, Option<Cursor>) {
        let mut stmt = self.conn.prepare_cached(&statement.sql).expect("prepared");
        let mut rows = stmt
            .query(params_from_iter(&statement.params))
            .expect("the query runs");
        let (mut n, mut cursor) = (0, None);
        while let Some(row) = rows.next().expect("a row") {
            let values: Vec<rusqlite::types::Value> = (0..row.as_ref().column_count())
                .map(|i| row.get(i).expect("a value"))
                .collect();
            n += 1;
            if n == PAGE {
                let (id, started_at) = (&values[0], &values[7]);
                if let (Value::Integer(id), Value::Real(at)) = (id, started_at) {
                    cursor = Cursor::parse(&format!("{at}_{id}"));
                }
            }
        }
        (n, cursor)
    }

    /// The rows of `filter` written as CSV with the `csv` crate, to nowhere: how many, and
    /// how long it took.
    fn csv(self, filter: &CallFilter) -> (usize, f64) {
        let began = Instant::now();
        let statement = history_statement(&self.token, filter);
        let mut stmt = self.conn.prepare(&statement.sql).expect("prepared");
        let mut rows = stmt
            .query(params_from_iter(&statement.params))
            .expect("the query runs");
        let mut out = csv::Writer::from_writer(std::io::sink());
        let mut n = 0;
        while let Some(row) = rows.next().expect("a row") {
            // The statement asks for one row more than its limit, to say whether more follow.
            if n == filter.limit {
                break;
            }
            let cells: Vec<String> = (1..row.as_ref().column_count())
                .map(|i| match row.get::<_, Value>(i).expect("a value") {
                    Value::Null => String::new(),
                    Value::Integer(v) => v.to_string(),
                    Value::Real(v) => v.to_string(),
                    Value::Text(v) => v,
                    Value::Blob(_) => String::new(),
                })
                .collect();
            out.write_record(&cells).expect("written");
            n += 1;
        }
        out.flush().expect("flushed");
        (n, began.elapsed().as_secs_f64())
    }

    /// SQLite's plan for `statement`, its steps joined.
    fn plan(&self, statement: &Statement) -> String {
        let mut stmt = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", statement.sql))
            .expect("explained");
        let steps: Vec<String> = stmt
            .query_map(params_from_iter(&statement.params), |r| r.get(3))
            .expect("the plan")
            .collect::<Result<_, _>>()
            .expect("the plan's steps");
        steps.join("; ")
    }
}

// ---------------------------------------------------------------------------------------------
// A quiet OVH: each poll held 25 s, then "no events" (API v1, the service's default).

struct QuietOvh {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl QuietOvh {
    async fn start() -> QuietOvh {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the fake OVH binds");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(serve_http(listener, Arc::new(()), |_, _request| async {
            tokio::time::sleep(HOLD).await;
            let body = r#"{"Session": "S1", "Message": "", "Events": []}"#;
            Ok::<_, Infallible>(reply(StatusCode::OK, body.to_string()))
        }));
        QuietOvh { url, task }
    }

    /// Stops serving, every held poll with it.
    fn stop(self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Figures.

fn ms(secs: f64) -> String {
    format!("{:.2} ms", secs * 1e3)
}

fn mb(kb: f64) -> String {
    format!("{:.1} MB", kb / 1024.0)
}

impl Figures {
    fn print_run(&self, run: usize, runs: usize) {
        let l = |l: Latencies| format!("{} / {} / {}", ms(l.p50), ms(l.p99), ms(l.max));
        println!("run {run}/{runs}:");
        println!(
            "  start: /healthz {}, /readyz {}; RSS {}",
            ms(self.healthz),
            ms(self.readyz),
            mb(self.rss_started as f64)
        );
        println!(
            "  history, newest {PAGE} of a line (p50 / p99 / max): ovh-cti {}, direct {}",
            l(self.first_page),
            l(self.first_page_direct)
        );
        println!(
            "  its next page by cursor:                    ovh-cti {}, direct {}",
            l(self.next_page),
            l(self.next_page_direct)
        );
        println!("  /healthz round trip: {}", l(self.round_trip));
        println!("  plan: {}", self.plan);
        for (name, d) in [("one day", self.csv_day), ("all", self.csv_all)] {
            println!(
                "  CSV {name}: {} rows, {:.1} MB in {} (direct {}); RSS before {}, peak {}, after {}",
                d.rows,
                d.bytes as f64 / 1e6,
                ms(d.secs),
                ms(d.direct_secs),
                mb(d.rss_before as f64),
                mb(d.rss_peak as f64),
                mb(d.rss_after as f64),
            );
        }
    }
}

/// A line of the summary: the service's figure and, where there is one, the direct one.
struct Row {
    name: &'static str,
    service: fn(&Figures) -> f64,
    direct: Option<fn(&Figures) -> f64>,
    show: fn(f64) -> String,
}

fn print_summary(results: &[Figures], calls: usize) {
    let row = |name, service, direct, show| Row {
        name,
        service,
        direct,
        show,
    };
    let rows = [
        row(
            "start → /healthz",
            |f: &Figures| f.healthz,
            None,
            ms as fn(f64) -> String,
        ),
        row("start → /readyz", |f| f.readyz, None, ms),
        row(
            "history, newest 100 of a line, p50",
            |f| f.first_page.p50,
            Some(|f: &Figures| f.first_page_direct.p50),
            ms,
        ),
        row(
            "  p99",
            |f| f.first_page.p99,
            Some(|f| f.first_page_direct.p99),
            ms,
        ),
        row(
            "  max",
            |f| f.first_page.max,
            Some(|f| f.first_page_direct.max),
            ms,
        ),
        row(
            "next page by cursor, p50",
            |f| f.next_page.p50,
            Some(|f| f.next_page_direct.p50),
            ms,
        ),
        row(
            "  p99",
            |f| f.next_page.p99,
            Some(|f| f.next_page_direct.p99),
            ms,
        ),
        row(
            "  max",
            |f| f.next_page.max,
            Some(|f| f.next_page_direct.max),
            ms,
        ),
        row("/healthz round trip, p50", |f| f.round_trip.p50, None, ms),
        row("  p99", |f| f.round_trip.p99, None, ms),
        row(
            "CSV of a day: time",
            |f| f.csv_day.secs,
            Some(|f| f.csv_day.direct_secs),
            ms,
        ),
        row("  RSS before", |f| f.csv_day.rss_before as f64, None, mb),
        row("  RSS peak", |f| f.csv_day.rss_peak as f64, None, mb),
        row("  RSS after", |f| f.csv_day.rss_after as f64, None, mb),
        row(
            "CSV of all (≤ 100,000 rows): time",
            |f| f.csv_all.secs,
            Some(|f| f.csv_all.direct_secs),
            ms,
        ),
        row("  RSS before", |f| f.csv_all.rss_before as f64, None, mb),
        row("  RSS peak", |f| f.csv_all.rss_peak as f64, None, mb),
        row("  RSS after", |f| f.csv_all.rss_after as f64, None, mb),
    ];
    let first = &results[0];
    println!(
        "\nsummary: {calls} calls, {} run(s), min / median; CSV of a day {} rows ({:.1} MB), of all {} rows ({:.1} MB)",
        results.len(),
        first.csv_day.rows,
        first.csv_day.bytes as f64 / 1e6,
        first.csv_all.rows,
        first.csv_all.bytes as f64 / 1e6,
    );
    println!(
        "  {:<36} {:>22} {:>22} {:>8}",
        "", "ovh-cti", "direct SQLite", "ratio"
    );
    for r in rows {
        let stat = |pick: fn(&Figures) -> f64| {
            let (min, median) = min_median(results.iter().map(pick).collect()).unwrap();
            (median, format!("{} / {}", (r.show)(min), (r.show)(median)))
        };
        let (service, service_shown) = stat(r.service);
        let (direct_shown, ratio) = match r.direct.map(stat) {
            Some((direct, shown)) if direct > 0.0 => (shown, format!("{:.1}×", service / direct)),
            Some((_, shown)) => (shown, "—".into()),
            None => (String::new(), String::new()),
        };
        println!(
            "  {:<36} {:>22} {:>22} {:>8}",
            r.name, service_shown, direct_shown, ratio
        );
    }
}
