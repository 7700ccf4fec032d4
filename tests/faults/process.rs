//! Faults only a real process has: SIGTERM while an answer is on the wire, and `kill -9` at
//! random moments of a steady feed, again and again. The binary runs as a child process
//! (`ovh-cti serve`) against the fake OVH running in the test.
//!
//! `FAULTS_KILLS` sets how many kills (20 by default; 200 for the documented long run).

use crate::binary::{serve, Served};
use crate::harness::*;
use ovh_cti::simulate::Fault;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A running `ovh-cti serve`, killed if the test ends without stopping it: a failed
/// assertion must not leave a service running.
struct Proc(Option<Served>);

impl Proc {
    fn served(&mut self) -> &mut Served {
        self.0.as_mut().expect("running")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(served) = self.0.as_mut() {
            let _ = served.child.kill();
            let _ = served.child.wait();
        }
    }
}

/// Sends `signal` to the process with `pid`, as an operator would.
fn signal(signal: &str, pid: u32) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} {pid}");
}

/// Starts `ovh-cti serve` on `db`, following both tokens of `fake`; returns it with the time
/// from the start of the process to its first `200` on `/healthz`.
async fn start(fake: &Fake, db: &Path) -> (Proc, Duration) {
    let started = Instant::now();
    let (url, db) = (fake.url.clone(), db.to_path_buf());
    let (a, b) = (fake.tokens[0].clone(), fake.tokens[1].clone());
    let served = tokio::task::spawn_blocking(move || serve(&url, &a, &db, &["--token", &b]))
        .await
        .unwrap();
    let served = Proc(Some(served));
    let http = reqwest::Client::new();
    let healthz = format!("{}/healthz", served.0.as_ref().unwrap().base);
    eventually("/healthz to answer", || async {
        http.get(&healthz)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    (served, started.elapsed())
}

/// Sends SIGTERM and waits for the process to exit; returns how long that took.
async fn terminate(mut proc: Proc, fault: &str) -> Duration {
    let asked = Instant::now();
    let mut served = proc.0.take().expect("running");
    let pid = served.child.id();
    signal("-TERM", pid);
    let exited = tokio::task::spawn_blocking(move || served.child.wait());
    let Ok(status) = tokio::time::timeout(PATIENCE, exited).await else {
        signal("-KILL", pid);
        panic!("{fault}: still running {PATIENCE:?} after SIGTERM");
    };
    let status = status.unwrap().unwrap();
    assert!(status.success(), "{fault}: exit {status} on SIGTERM");
    asked.elapsed()
}

fn api<'a>(proc: &'a Proc, http: &'a reqwest::Client) -> Http<'a> {
    Http {
        base: &proc.0.as_ref().expect("running").base,
        http,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_poll_commits_the_answer_on_the_wire() {
    let name = "SIGTERM mid-poll";
    let fake = Fake::start(401).await;
    // Once an answer is made its events are gone from OVH: dropping it would lose them.
    fake.faults.set_no_resend(true);
    let db = temp_db();
    let (first, _) = start(&fake, &db).await;
    fake.flowing(30).await;
    // Answers now take 2 s to arrive: well within the service's grace at shutdown.
    fake.faults.inject(Fault::Trickle(Duration::from_secs(2)));
    within("an answer on the wire", async {
        fake.faults.wait_until(|f| f.answering() > 0).await
    })
    .await;
    fake.faults.pause_traffic();
    let stop = terminate(first, name).await;
    fake.faults.clear();

    // Started again on the same file, it resumes the sessions it stored and catches up.
    fake.faults.ended_now();
    let (second, _) = start(&fake, &db).await;
    fake.faults.resume_traffic();
    let recovered = fake.recovered().await;
    let http = reqwest::Client::new();
    let extra = format!("stop_ms={}", stop.as_millis());
    conclude(name, &fake, &db, &api(&second, &http), recovered, &extra).await;
    terminate(second, name).await;
}

fn kills() -> usize {
    std::env::var("FAULTS_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

fn median_and_max(mut times: Vec<Duration>) -> (u128, u128) {
    times.sort();
    let ms = |d: Option<&Duration>| d.map_or(0, Duration::as_millis);
    (ms(times.get(times.len() / 2)), ms(times.last()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let name = "kill -9 loop";
    let fake = Fake::start(402).await;
    let db = temp_db();
    let (mut running, _) = start(&fake, &db).await;
    fake.flowing(30).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(402);
    let (mut restarts, mut recoveries) = (Vec::new(), Vec::new());
    for _ in 0..kills() {
        // A random moment of a steady feed: mid-poll, mid-commit, mid-snapshot…
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..1500))).await;
        let child = &mut running.served().child;
        child.kill().unwrap();
        child.wait().unwrap();
        fake.faults.ended_now();
        let (next, took) = start(&fake, &db).await;
        restarts.push(took);
        recoveries.push(fake.recovered().await);
        running = next;
    }
    let (restart_median, restart_max) = median_and_max(restarts);
    let (recovery_median, recovery_max) = median_and_max(recoveries.clone());
    let extra = format!(
        "kills={} restart_to_healthz_ms_median={restart_median} restart_to_healthz_ms_max={restart_max} recovered_ms_max={recovery_max}",
        recoveries.len()
    );
    let http = reqwest::Client::new();
    let recovered = Duration::from_millis(recovery_median as u64);
    conclude(name, &fake, &db, &api(&running, &http), recovered, &extra).await;
    terminate(running, name).await;
}
