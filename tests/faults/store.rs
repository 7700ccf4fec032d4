//! The service's own store failing for half a minute — read-only (`SQLITE_READONLY`) or full
//! (`SQLITE_FULL`, "database or disk is full") — made real on its one writer. Meanwhile the
//! feed pauses with its sessions kept, a signed-in user is still served the board (no 401),
//! and `/api/health` says the store is failing; once it is mended, nothing is missing.

use crate::harness::*;
use std::time::Instant;

/// What a signed-in user and the health report see while the store fails.
async fn still_served(service: &InProcess, cookie: &str, token: &str, fault: &str) {
    for path in ["/api/lines", "/api/queues", "/api/calls", "/api/me"] {
        let res = service
            .http
            .get(format!("{}{path}", service.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{fault}: {path} for a signed-in user");
    }
    let health = service.api().json("/api/health", token).await;
    assert_eq!(health["store"]["state"], "failing", "{fault}: {health}");
}

async fn store_failing(fault: &str, seed: u64, break_it: &str, mend_it: &str) {
    let fake = Fake::start(seed).await;
    let service = InProcess::start(&fake, Setup::default()).await;
    let token = fake.tokens[0].clone();
    fake.flowing(30).await;
    let login = service
        .http
        .post(format!("{}/api/login", service.base))
        .json(&serde_json::json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();

    service.on_writer(break_it.to_string()).await;
    let started = Instant::now();
    let api = service.api();
    eventually("the store to be reported failing", || async {
        api.json("/api/health", &token).await["store"]["state"] == "failing"
    })
    .await;
    still_served(&service, &cookie, &token, fault).await;
    // The fault lasts its whole length: this wait is the fault, not a guess at a delay.
    tokio::time::sleep(length(30, 6).saturating_sub(started.elapsed())).await;
    still_served(&service, &cookie, &token, fault).await;

    service.on_writer(mend_it.to_string()).await;
    fake.faults.ended_now();
    let recovered = fake.recovered().await;
    for t in fake.token_refs() {
        assert_eq!(
            fake.faults.sessions_created(t),
            1,
            "{fault}: the session was dropped"
        );
    }
    let extra = format!("fault_ms={}", started.elapsed().as_millis());
    conclude(fault, &fake, &service.db, &api, recovered, &extra).await;
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_store_pauses_the_feed_and_loses_nothing() {
    store_failing(
        "store read-only",
        301,
        "PRAGMA query_only = 1",
        "PRAGMA query_only = 0",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_pauses_the_feed_and_loses_nothing() {
    // SQLite keeps the file at its current size: every page more is "database or disk is full".
    store_failing(
        "store full",
        302,
        "PRAGMA max_page_count = 1",
        "PRAGMA max_page_count = 1073741823",
    )
    .await;
}
