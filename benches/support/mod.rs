//! What the benches that run the service as a child share: starting it (or another
//! process) and stopping it, reading its CPU time and memory from `/proc`, raising the
//! open-files limit, tokens in OVH's format, a fake OVH's HTTP side, and the min / median of
//! a few runs; and the plain-SQLite reference the ingest benches compare with (`reference`).
//!
//! Each bench includes it with `mod support;` (it is not a bench itself: Cargo only takes
//! `benches/*.rs` and `benches/*/main.rs`). Linux only.

#![allow(dead_code)] // each bench uses its own part

pub mod reference;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use rand::Rng;
use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Tokens.

/// Tokens in OVH's format, upper-case hex 8-4-4-4-12, all different.
pub fn generate_tokens(n: usize) -> Vec<String> {
    let mut rng = rand::thread_rng();
    let mut seen = std::collections::HashSet::new();
    let mut tokens = Vec::with_capacity(n);
    while tokens.len() < n {
        let h = format!("{:032X}", rng.gen::<u128>());
        let token = format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        );
        if seen.insert(token.clone()) {
            tokens.push(token);
        }
    }
    tokens
}

// ---------------------------------------------------------------------------------------------
// Children.

pub struct Child {
    pub name: &'static str,
    pub process: std::process::Child,
    /// Where its standard error goes (the service logs there).
    pub log: PathBuf,
    /// The service's own address; `None` for the minimal follower.
    pub web: Option<String>,
}

/// Starts `ovh-cti serve` (the build `cargo bench` made) following `tokens` from `upstream`,
/// its database in `dir`. `settings` is TOML appended to the config file after its last
/// table, so it must start with a table of its own (e.g. `"[server]\nmax_connections = 3000\n"`).
pub fn spawn_service(upstream: &str, tokens: &[String], dir: &Path, settings: &str) -> Child {
    let db = dir.join("ovh-cti.db");
    spawn_service_on(upstream, tokens, dir, &db.to_string_lossy(), settings)
}

/// `spawn_service` on the database `db` (an SQLite file or a PostgreSQL address: several
/// instances may share one).
pub fn spawn_service_on(
    upstream: &str,
    tokens: &[String],
    dir: &Path,
    db: &str,
    settings: &str,
) -> Child {
    let listen = free_port();
    let config = dir.join("ovh-cti.toml");
    // TOML basic strings take JSON's escapes: serde_json quotes paths and tokens safely.
    let q = |s: &str| serde_json::to_string(s).unwrap();
    let list: Vec<String> = tokens.iter().map(|t| q(t)).collect();
    let text = format!(
        "listen = {}\ndb = {}\nupstream = {}\ntokens = [{}]\n\n\
         # Nothing may reach OVH's REST API: port 9 (discard) refuses at once.\n\
         [ovh_api]\nurl = \"http://127.0.0.1:9\"\n\n{settings}",
        q(&listen),
        q(db),
        q(upstream),
        list.join(", "),
    );
    std::fs::write(&config, text).expect("the config is written");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ovh-cti"));
    command.arg("serve").arg("--config").arg(&config);
    // Flags' environment variables would override the file, and a proxy would take the polls.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().to_string();
        if key.starts_with("OVH_CTI_") || key.to_ascii_lowercase().ends_with("_proxy") {
            command.env_remove(key);
        }
    }
    let mut child = spawn(command, "ovh-cti", dir);
    child.web = Some(format!("http://{listen}"));
    child
}

/// A free port on 127.0.0.1: bound, read, released for the service to bind.
pub fn free_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().to_string()
}

pub fn spawn(mut command: Command, name: &'static str, dir: &Path) -> Child {
    let out = dir.join(format!("{name}.stdout"));
    let log = dir.join(format!("{name}.stderr"));
    command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&log).unwrap());
    let process = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Child {
        name,
        process,
        log,
        web: None,
    }
}

impl Child {
    pub fn pid(&self) -> i32 {
        self.process.id() as i32
    }

    /// Resolves when the child exits by itself.
    pub async fn exited(&mut self) -> ExitStatus {
        loop {
            if let Ok(Some(status)) = self.process.try_wait() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The child died during the measurement: show why, and end the bench.
    pub fn died(&self, status: ExitStatus) -> ! {
        eprintln!("{} exited early ({status}); the end of its log:", self.name);
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        for line in &lines[lines.len().saturating_sub(30)..] {
            eprintln!("  {line}");
        }
        panic!("{} exited early", self.name);
    }

    /// SIGTERM, then waits; SIGKILL if it has not stopped within 30 s.
    pub async fn stop(mut self) -> ExitStatus {
        signal(self.pid(), libc::SIGTERM);
        let give_up = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.process.try_wait() {
                return status;
            }
            if Instant::now() > give_up {
                eprintln!("{} ignored SIGTERM for 30 s: killed", self.name);
                signal(self.pid(), libc::SIGKILL);
                return self.process.wait().expect("the child is reaped");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A child left running by a panic would hold thousands of sockets: kill it.
impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.process.try_wait() {
            signal(self.pid(), libc::SIGKILL);
            let _ = self.process.wait();
        }
    }
}

pub fn signal(pid: i32, signal: libc::c_int) {
    // SAFETY: kill only sends a signal, to our own child.
    unsafe {
        libc::kill(pid, signal);
    }
}

// ---------------------------------------------------------------------------------------------
// A fake OVH's HTTP side.

/// Accepts connections on `listener` and serves each with `answer` (HTTP/1.1, `TCP_NODELAY`),
/// each in a task of a set that is aborted with this one: a fake's thousands of connections
/// must not linger into the next measurement. Failing to accept (out of files, most likely)
/// waits a moment for some to close.
pub async fn serve_http<S, F, Fut>(listener: tokio::net::TcpListener, state: Arc<S>, answer: F)
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Request<Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<String>, Infallible>> + Send + 'static,
{
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| answer(state.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A JSON answer.
pub fn reply(status: StatusCode, body: String) -> Response<String> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

/// A query parameter, as is: tokens and sessions here are hex and dashes, never escaped.
pub fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

// ---------------------------------------------------------------------------------------------
// Reading a process from /proc, and the open-files limit.

/// The soft limit raised to the hard one; both after.
pub fn raise_open_files_limit() -> (libc::rlim_t, libc::rlim_t) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return (0, 0);
        }
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    (lim.rlim_cur, lim.rlim_max)
}

/// User plus system CPU time of `pid`, in clock ticks (`/proc/PID/stat`, fields 14 and 15).
pub fn cpu_ticks(pid: i32) -> u64 {
    cpu_ticks_of(&format!("/proc/{pid}/stat"))
}

/// User plus system CPU time in a `stat` file of `/proc` (a process's or a thread's).
pub fn cpu_ticks_of(path: &str) -> u64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}

pub fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system setting.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// The resident memory of `pid` in kB (`VmRSS` of `/proc/PID/status`).
pub fn rss_kb(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Figures.

pub fn duration(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

/// Min and median of what was measured; `None` when nothing was.
pub fn min_median(mut values: Vec<f64>) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    let median = if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    };
    Some((values[0], median))
}

/// The bench's numeric arguments, in order (what is not a number, such as `--bench`, skipped).
pub fn numeric_args() -> Vec<usize> {
    std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect()
}
