//! The leases' promise, on the real PostgreSQL and without waiting for any clock: an instance
//! whose token was taken over (it paused past its lease) can never commit for it again —
//! neither the events of a poll it had in hand, nor a snapshot — while the instance that took
//! it over stores everything once. Skipped without PostgreSQL (failing under CI).

use crate::clock::ManualClock;
use crate::ingest::{self, IngestError, IngestHandle};
use crate::store::{self, leases};
use crate::test_support::{fixture_events, postgres_schema, FIXTURE_TOKEN};
use crate::token::Token;
use std::path::Path;
use std::sync::Arc;

/// An instance's ingest thread on the database at `url`, its clock, and a connection to look
/// with.
fn instance(url: &str) -> (IngestHandle, ManualClock, store::db::Conn) {
    let (writer, _) = store::open(Path::new(url)).unwrap();
    let clock = ManualClock::new(1_732_612_800.0);
    let (handle, _thread) = ingest::start(
        writer,
        Arc::default(),
        crate::hub::Hub::new(8),
        Arc::new(clock.clone()),
        Default::default(),
        Default::default(),
    );
    let (spy, _) = store::open(Path::new(url)).unwrap();
    (handle, clock, spy.into_conn())
}

fn events(conn: &store::db::Conn) -> i64 {
    conn.query_row("SELECT COUNT(*) FROM events", (), |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_lost_its_lease_never_commits_again() {
    let Some(url) = postgres_schema("cluster_fence") else {
        return;
    };
    let url = url.as_secret_str().to_string();
    let (a, a_clock, spy) = instance(&url);
    let (b, _, _) = instance(&url);
    let lease = std::time::Duration::from_secs(60);
    a.share_with_instances("a".into(), lease, None)
        .await
        .unwrap();
    b.share_with_instances("b".into(), lease, None)
        .await
        .unwrap();
    let token = Token::parse(FIXTURE_TOKEN).unwrap();
    let id = token.id();
    a.add_token(token.clone(), "config").await.unwrap();
    b.add_token(token.clone(), "config").await.unwrap();

    let all = fixture_events("lines.v1.jsonl");
    let (first, rest) = all.split_at(all.len() / 2);
    // A follows the token.
    let epoch = leases::acquire(&spy, "a", &id, 60.0).unwrap().unwrap();
    a.lead(id.clone(), epoch).await.unwrap();
    let stored = a
        .batch(id.clone(), first.to_vec().into(), Some("S1".into()))
        .await
        .unwrap();
    assert_eq!(stored, first.len());

    // A pauses past its lease: B takes the token over, with a new epoch.
    spy.execute("UPDATE token_leases SET expires_at = 0", ())
        .unwrap();
    let taken = leases::acquire(&spy, "b", &id, 60.0).unwrap().unwrap();
    assert_eq!(taken, epoch + 1);
    b.lead(id.clone(), taken).await.unwrap();

    // A wakes, still believing it leads: its snapshot (a reset writes one) is not written…
    let snapshot_at = |c: &store::db::Conn| -> f64 {
        c.query_row("SELECT saved_at FROM snapshots", (), |r| r.get(0))
            .unwrap()
    };
    let before = snapshot_at(&spy);
    a_clock.advance(60.0);
    let _ = a.reset(id.clone()).await;
    assert_eq!(snapshot_at(&spy), before, "A wrote a snapshot");
    // …and the poll it had in hand is refused, nothing of it stored.
    let refused = a
        .batch(id.clone(), rest.to_vec().into(), Some("S2".into()))
        .await;
    assert!(
        matches!(refused, Err(IngestError::LeaseLost)),
        "{refused:?}"
    );
    assert_eq!(events(&spy) as usize, first.len());
    let session: Option<String> = spy
        .query_row("SELECT session FROM tokens", (), |r| r.get(0))
        .unwrap();
    assert_eq!(session.as_deref(), Some("S1"), "A moved the session");

    // B, from the stored session, gets the second half (and the first again, as OVH would
    // hand a session's events again): each stored once.
    let stored = b
        .batch(id.clone(), all.to_vec().into(), Some("S2".into()))
        .await
        .unwrap();
    assert_eq!(stored, rest.len());
    assert_eq!(events(&spy) as usize, all.len());
    let twice: i64 = spy
        .query_row(
            "SELECT COUNT(*) FROM (SELECT call_id FROM calls GROUP BY token_id, number, call_id, started_us HAVING COUNT(*) > 1) d",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(twice, 0);
}
