//! The retention task: about once a minute, one bounded pass of `store::retention` through the
//! one writer, until the service stops.
//!
//! A pass is a few small jobs on the ingest thread rather than one long one: each job deletes
//! at most `BATCH` rows, and the feed's batches queued meanwhile go in between. A pass stops
//! after `PASS_BATCHES` jobs even when more is due — a database that has years to shed sheds
//! them over the following minutes instead of stalling ingest — and between jobs when the
//! service is told to stop.

use crate::clock::SharedClock;
use crate::ingest::{IngestError, IngestHandle};
use crate::service::Service;
use crate::shutdown;
use crate::store::retention::{self, Policy, Pruned, BATCH};
use crate::telemetry;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The pause between passes (the first runs at start-up).
pub const EVERY: Duration = Duration::from_secs(60);
/// The most jobs of `BATCH` rows in one pass.
pub const PASS_BATCHES: usize = 20;

/// Starts the task for a running service; it ends with the service.
pub fn spawn(service: &Service, policy: Policy) -> JoinHandle<Pruned> {
    tokio::spawn(run(
        service.ingest.clone(),
        service.clock.clone(),
        policy,
        EVERY,
        service.shutdown_signal(),
    ))
}

/// Runs a pass at once, then `every` after each, until `stop` is raised; returns what it
/// deleted in all.
pub async fn run(
    ingest: IngestHandle,
    clock: SharedClock,
    policy: Policy,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> Pruned {
    let mut total = Pruned::default();
    loop {
        match pass(&ingest, &clock, policy, &stop).await {
            Ok(pruned) => total += pruned,
            Err(IngestError::Closed) => return total,
            Err(e) => telemetry::StoreFailed { error: &e }.emit(),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown::stopped(&mut stop) => return total,
        }
    }
}

/// One pass: jobs of at most `BATCH` rows on the writer until nothing more is due,
/// `PASS_BATCHES` jobs are done, or `stop` is raised (checked after each job).
pub async fn pass(
    ingest: &IngestHandle,
    clock: &SharedClock,
    policy: Policy,
    stop: &watch::Receiver<bool>,
) -> Result<Pruned, IngestError> {
    let mut pruned = Pruned::default();
    let mut more = false;
    for _ in 0..PASS_BATCHES {
        let now = clock.now();
        let batch = ingest
            .write(move |w| retention::prune(w.connection(), &policy, now, BATCH))
            .await;
        // What was deleted before a failure is counted all the same.
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                telemetry::RowsPruned { pruned, more }.emit();
                return Err(e);
            }
        };
        pruned += batch;
        more = batch.total() == BATCH;
        if !more || *stop.borrow() {
            break;
        }
    }
    telemetry::RowsPruned { pruned, more }.emit();
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::engine::Expiry;
    use crate::hub::Hub;
    use crate::ingest::{self, Boards};
    use crate::test_support::add_outbox;
    use std::sync::Arc;

    const NOW: f64 = 1_732_612_800.0;

    /// A real store and ingest thread, with `old` finished outbox rows and one pending one,
    /// all 40 days old.
    fn service_with_old_rows(old: usize) -> (tempfile::TempDir, IngestHandle, SharedClock) {
        let dir = tempfile::tempdir().unwrap();
        let (writer, _) = crate::store::open(&dir.path().join("t.db")).unwrap();
        let at = NOW - 40.0 * 86400.0;
        add_outbox(writer.connection(), old, "delivered", at);
        add_outbox(writer.connection(), 1, "pending", at);
        let clock: SharedClock = Arc::new(ManualClock::new(NOW));
        let (ingest, _thread) = ingest::start(
            writer,
            Arc::new(Boards::default()),
            Hub::new(16),
            clock.clone(),
            Expiry::default(),
            Default::default(),
        );
        (dir, ingest, clock)
    }

    async fn outbox_rows(ingest: &IngestHandle) -> i64 {
        ingest
            .write(|w| {
                Ok(w.connection()
                    .query_row("SELECT COUNT(*) FROM outbox", (), |r| r.get(0))?)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_pass_prunes_through_the_writer_in_jobs_of_a_batch() {
        let (_dir, ingest, clock) = service_with_old_rows(BATCH * 2 + 34);
        let (_raise, stop) = watch::channel(false);
        let pruned = pass(&ingest, &clock, Policy::default(), &stop)
            .await
            .unwrap();
        assert_eq!(pruned.outbox, BATCH * 2 + 34);
        assert_eq!(outbox_rows(&ingest).await, 1, "the pending delivery stays");
        assert_eq!(
            pass(&ingest, &clock, Policy::default(), &stop)
                .await
                .unwrap(),
            Pruned::default()
        );
    }

    #[tokio::test]
    async fn a_pass_is_bounded_and_the_next_one_continues() {
        let old = BATCH * PASS_BATCHES + 7;
        let (_dir, ingest, clock) = service_with_old_rows(old);
        let (_raise, stop) = watch::channel(false);
        let first = pass(&ingest, &clock, Policy::default(), &stop)
            .await
            .unwrap();
        assert_eq!(first.outbox, BATCH * PASS_BATCHES);
        let second = pass(&ingest, &clock, Policy::default(), &stop)
            .await
            .unwrap();
        assert_eq!(second.outbox, 7);
        assert_eq!(outbox_rows(&ingest).await, 1);
    }

    #[tokio::test]
    async fn the_task_passes_at_start_up_and_stops_between_jobs_on_the_signal() {
        let (_dir, ingest, clock) = service_with_old_rows(BATCH * 3);
        let (raise, stop) = watch::channel(false);
        raise.send_replace(true);
        // Raised before it began: the start-up pass does one job, then the task ends.
        let pruned = tokio::time::timeout(
            Duration::from_secs(20),
            run(ingest.clone(), clock, Policy::default(), EVERY, stop),
        )
        .await
        .expect("the task stops on the signal");
        assert_eq!(pruned.outbox, BATCH);
        assert_eq!(outbox_rows(&ingest).await, (BATCH * 2 + 1) as i64);
    }
}
