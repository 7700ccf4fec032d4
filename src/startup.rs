//! Following the tokens known at start — the configured ones first, then those added at the
//! login page in earlier runs — in the background, batch by batch, while the service already
//! answers. `/healthz` answers from the first moment whatever their number (a watchdog or a
//! load balancer's check is not kept waiting), and `/readyz` once every one of them has a
//! running follower (`Service::pending`).
//!
//! Each batch is one command to the ingest thread (its tokens written in one transaction,
//! their boards rebuilt) and its followers are spawned at once; a short pause between batches
//! spreads the first polls of thousands of tokens over a few seconds, so that they do not all
//! reach OVH at the same instant. A store that fails here is retried, with the log saying so,
//! and `/readyz` stays 503 meanwhile: the service keeps running and keeps what it has.

use crate::ingest::IngestError;
use crate::service::Service;
use crate::shutdown::stopped;
use crate::store;
use crate::token::{Token, TokenId};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Tokens started together: one store command, one insert transaction.
pub const BATCH: usize = 500;

/// The pause between two batches: 10,000 tokens start over about a second (about what a
/// bare client takes to send them all), not in one burst.
pub const BATCH_PAUSE: Duration = Duration::from_millis(50);

/// The longest wait before trying a batch the store refused again.
const RETRY_CAP: Duration = Duration::from_secs(30);

/// What to follow at start, in order, and which of those tokens are the installation's own
/// (configured: the organisation `ovh-cti users add` puts people in).
pub struct Plan {
    pub tokens: Vec<(Token, &'static str)>,
    pub installation: Vec<TokenId>,
}

/// Counts the plan as pending on `service` at once (so that `/readyz` says 503 from the first
/// request), then follows it in the background.
pub fn spawn(service: Arc<Service>, plan: Plan) -> JoinHandle<()> {
    service.expect(plan.tokens.len());
    tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let total = plan.tokens.len();
        let installation = plan.installation;
        if !retried(&service, || attach(&service, installation.clone())).await {
            return;
        }
        let mut batches = plan.tokens.chunks(BATCH).peekable();
        while let Some(batch) = batches.next() {
            if !retried(&service, || service.follow_batch(batch.to_vec())).await {
                return;
            }
            service.started(batch.len());
            if batches.peek().is_some() && !paused(&service, BATCH_PAUSE).await {
                return;
            }
        }
        tracing::info!(
            tokens = total,
            seconds = started.elapsed().as_secs_f64(),
            "every token known at start is followed"
        );
    })
}

/// The configured tokens belong to the installation's organisation.
async fn attach(service: &Service, tokens: Vec<TokenId>) -> Result<(), IngestError> {
    let now = service.clock.now();
    service
        .ingest
        .write(move |w| store::users::attach_to_installation(w, &tokens, now))
        .await
}

/// Runs `step` until it succeeds (true), or until the service stops (false). A store error is
/// logged and tried again later.
async fn retried<F, Fut>(service: &Service, mut step: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), IngestError>>,
{
    let mut wait = Duration::from_secs(1);
    loop {
        match step().await {
            Ok(()) => return true,
            Err(IngestError::Closed) => return false,
            Err(e) => {
                tracing::error!(
                    error = %e,
                    retry_in_s = wait.as_secs(),
                    "cannot start following the tokens known at start; /readyz says 503 until it can"
                );
            }
        }
        if !paused(service, wait).await {
            return false;
        }
        wait = (wait * 2).min(RETRY_CAP);
    }
}

/// Waits `pause`; false when the service stops first.
async fn paused(service: &Service, pause: Duration) -> bool {
    let mut stop = service.shutdown_signal();
    tokio::select! {
        _ = tokio::time::sleep(pause) => true,
        _ = stopped(&mut stop) => false,
    }
}
