//! Faults of the feed itself — OVH hanging, trickling, failing with 5xx, cutting its JSON,
//! resetting connections, replaying a batch, or unreachable for a minute. Through each, the
//! service must keep its sessions (none of these says a session is gone), lose and duplicate
//! nothing, and be back within seconds of the fault's end.

use crate::harness::*;
use ovh_cti::feed::health::STALLED_AFTER_S;
use ovh_cti::feed::{Api, Backoff};
use ovh_cti::simulate::Fault;
use std::time::Duration;

/// Events each token receives before a fault strikes.
const WARM: usize = 30;

/// How soon after OVH is back the first good poll must come: the longest wait of an outage's
/// back-off, the spread of followers woken together, and room for a busy machine.
fn back_within() -> Duration {
    Backoff::default().outage_cap * 2 + Duration::from_secs(5)
}

/// Runs `fault` for `length` against a steady feed, then checks that nothing was lost or
/// duplicated and that every session was kept. Returns the recovery time, reported.
async fn through(name: &str, seed: u64, setup: Setup, fault: Fault, length: Duration) {
    let fake = Fake::start(seed).await;
    let service = InProcess::start(&fake, setup).await;
    fake.flowing(WARM).await;
    fake.faults.inject_for(fault, length);
    fake.fault_over(length).await;
    let recovered = fake.recovered().await;
    kept_sessions(&fake, name);
    conclude(name, &fake, &service.db, &service.api(), recovered, "").await;
    service.stop().await;
}

/// No token was given a new session, and none came back with one the fake had dropped.
fn kept_sessions(fake: &Fake, fault: &str) {
    for token in fake.token_refs() {
        assert_eq!(
            fake.faults.sessions_created(token),
            1,
            "{fault}: a session dropped although OVH never said it was gone"
        );
    }
    assert_eq!(fake.faults.stale_polls(), 0, "{fault}");
}

/// The client gives up on a poll after this long in the hang and trickle tests.
fn short_polls() -> Setup {
    Setup {
        poll_timeout: Duration::from_secs(4),
        ..Setup::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_past_the_client_time_out_shows_stalled_and_loses_nothing() {
    let name = "hang";
    let fake = Fake::start(101).await;
    let service = InProcess::start(&fake, short_polls()).await;
    let token = fake.tokens[0].clone();
    fake.flowing(WARM).await;
    let hang = length(20, 8);
    fake.faults.inject_for(Fault::Hang, hang);
    // A poll held well past OVH's usual hold shows as stalled: the service's clock is moved on
    // while the poll hangs (its real time-out is shorter than the 45 s it takes to show).
    let api = service.api();
    let mut stalled = false;
    for _ in 0..5 {
        within("a poll held by the hang", async {
            fake.faults.wait_until(|f| f.polls_in_progress() > 0).await
        })
        .await;
        service.clock.advance(STALLED_AFTER_S + 1.0);
        if api.json("/api/health", &token).await["status"] == "stalled" {
            stalled = true;
            break;
        }
    }
    assert!(stalled, "{name}: a hanging poll never showed as stalled");
    fake.fault_over(hang).await;
    let recovered = fake.recovered().await;
    kept_sessions(&fake, name);
    conclude(name, &fake, &service.db, &api, recovered, "").await;
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_answers_cut_by_the_client_time_out_lose_nothing() {
    // Each body takes 6 s to arrive, the client waits 4: every answer times out mid-body.
    let trickle = Fault::Trickle(Duration::from_secs(6));
    through("trickle", 102, short_polls(), trickle, length(20, 8)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_5xx_keeps_the_session_and_loses_nothing() {
    let fake = Fake::start(103).await;
    let service = InProcess::start(&fake, Setup::default()).await;
    fake.flowing(WARM).await;
    let burst = length(30, 6);
    fake.faults.inject_for(Fault::ServerError, burst);
    let recovered = back_soon(&fake, "5xx burst", burst).await;
    kept_sessions(&fake, "5xx burst");
    let first = first_back(&fake);
    let api = service.api();
    conclude("5xx burst", &fake, &service.db, &api, recovered, &first).await;
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_json_bodies_lose_nothing() {
    through(
        "cut JSON",
        104,
        Setup::default(),
        Fault::CutBody,
        length(15, 5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_reset_without_an_answer_lose_nothing() {
    through("reset", 105, Setup::default(), Fault::Reset, length(15, 5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_reset_on_api_v2_lose_nothing() {
    let v2 = Setup {
        api: Api::V2,
        ..Setup::default()
    };
    through("reset (v2)", 106, v2, Fault::Reset, length(15, 5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_batch_is_stored_once() {
    through(
        "batch replayed",
        107,
        Setup::default(),
        Fault::Replay,
        length(15, 5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_for_a_minute_is_caught_up_within_seconds_of_its_return() {
    let name = "upstream down";
    let fake = Fake::start(108).await;
    let service = InProcess::start(&fake, Setup::default()).await;
    let token = fake.tokens[0].clone();
    fake.flowing(WARM).await;
    let outage = length(60, 8);
    fake.faults.inject_for(Fault::Down, outage);
    let api = service.api();
    eventually("the outage to show in health", || async {
        api.json("/api/health", &token).await["status"] == "failing"
    })
    .await;
    let recovered = back_soon(&fake, name, outage).await;
    kept_sessions(&fake, name);
    let first = first_back(&fake);
    conclude(name, &fake, &service.db, &api, recovered, &first).await;
    service.stop().await;
}

/// Waits for every token to be back after an outage — failing unless the first good polls
/// come within seconds of OVH's return (a low back-off cap, and followers woken by another's
/// success).
async fn back_soon(fake: &Fake, fault: &str, length: Duration) -> Duration {
    fake.fault_over(length).await;
    let what = format!("{fault}: a good poll for every token after the upstream's return");
    within_for(back_within(), &what, fake.recovered()).await
}

/// The first token's recovery, for the report (the other waits at most a wake-up's spread).
fn first_back(fake: &Fake) -> String {
    let first = fake
        .token_refs()
        .iter()
        .filter_map(|t| fake.faults.recovery(&[t]))
        .min()
        .unwrap_or_default();
    format!("first_ms={}", first.as_millis())
}
