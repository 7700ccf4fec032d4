//! The feed: one follower per token, polling OVH day and night.
//!
//! A follower never gives up. Time-outs, non-200 answers, bodies that are not JSON or are cut
//! off, connection resets and expired v2 sessions are all retried, with capped exponential
//! back-off and full jitter, and reported in the token's health. The session is advanced only
//! once the events of the poll that returned it are committed to the store, so that a crash or
//! a failed write gets them delivered again rather than lost.

pub mod backoff;
pub mod health;
pub mod transport;

pub use backoff::Backoff;
pub use health::{FeedHealth, HealthBoard};
pub use transport::{Api, Transport};

use crate::clock::SharedClock;
use crate::ingest::{IngestError, IngestHandle};
use crate::telemetry;
use crate::token::Token;
use rand::SeedableRng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use transport::PollError;

/// What every follower shares.
#[derive(Clone)]
pub struct FeedContext {
    pub transport: Transport,
    pub backoff: Backoff,
    pub ingest: IngestHandle,
    pub health: Arc<HealthBoard>,
    pub clock: SharedClock,
}

/// Follows one token until `shutdown` turns true. `session` is where to resume.
pub async fn follow(
    ctx: FeedContext,
    token: Token,
    mut session: Option<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let id = token.id();
    let clock = ctx.clock.clone();
    ctx.health
        .start(&id, token.hint(), ctx.transport.api().as_str(), clock.now());
    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut failures: u32 = 0;
    let mut session_gone_before = false;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let asked = tokio::time::Instant::now();
        let polled = tokio::select! {
            r = ctx.transport.poll(&token, session.as_deref(), || clock.now()) => r,
            _ = shutdown.changed() => return,
        };
        let error = match polled {
            Ok(answer) => {
                let mut events = Vec::with_capacity(answer.events.len());
                for e in answer.events {
                    match e {
                        Ok(e) => events.push(e),
                        Err(error) => telemetry::EventMalformed {
                            token: &id,
                            error: &error,
                        }
                        .emit(),
                    }
                }
                let count = events.len();
                telemetry::PollSucceeded {
                    token: &id,
                    events: count,
                }
                .emit();
                if count == 0 && answer.session == session {
                    ctx.health.polled(&id, 0, clock.now());
                    failures = 0;
                    // OVH holds an empty poll open; an upstream that answers "nothing" at once
                    // must not be hammered in a tight loop.
                    let pause = MIN_EMPTY_POLL.saturating_sub(asked.elapsed());
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => return,
                    }
                    continue;
                }
                // Not raced against shutdown: what was received is committed before leaving.
                match ctx
                    .ingest
                    .batch(id.clone(), events, answer.session.clone())
                    .await
                {
                    Ok(_) => {
                        session_gone_before = false;
                        session = answer.session;
                        ctx.health.polled(&id, count, clock.now());
                        failures = 0;
                        continue;
                    }
                    Err(IngestError::Closed) => return,
                    Err(e) => format!("could not store the events: {e}"),
                }
            }
            Err(PollError::SessionGone) if !session_gone_before => {
                // Sessions expire: start a new one and subscribe again at once — but only
                // once in a row, so a server that keeps refusing is backed off from.
                session = None;
                session_gone_before = true;
                ctx.health
                    .failed(&id, PollError::SessionGone.to_string(), clock.now());
                continue;
            }
            Err(e) => {
                if matches!(e, PollError::SessionGone) {
                    session = None;
                }
                e.to_string()
            }
        };
        session_gone_before = false;
        failures += 1;
        // A session the upstream keeps refusing may be dead there (expired, or from another
        // run): after a few failures in a row, start afresh rather than retry it for ever.
        if failures % SESSION_RETRIES == 0 {
            session = None;
        }
        let delay = ctx.backoff.delay(failures, &mut rng);
        telemetry::PollFailed {
            token: &id,
            error: &error,
            retry_in_ms: delay.as_millis() as u64,
        }
        .emit();
        ctx.health.failed(&id, error, clock.now());
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Failures in a row after which the session is dropped and a new one started.
const SESSION_RETRIES: u32 = 3;

/// The shortest time between two polls that brought nothing.
const MIN_EMPTY_POLL: Duration = Duration::from_secs(1);

/// The default client time-out of a long poll: OVH holds a poll open for a while; clients in
/// the wild wait 65 s before calling it dead.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(65);
