//! The feed: one follower per token, polling OVH day and night.
//!
//! A follower never gives up, and never throws a session away unless OVH says it is gone
//! (a 404 to a session, or `Timeout, please reconnect`): OVH keeps a session's events until
//! the client comes back with it, so any other failure — a 5xx, a time-out, a reset, a cut
//! body, our own store failing — is retried with the same session, with capped exponential
//! back-off and full jitter, and reported in the token's health. An outage is retried at most
//! a few seconds apart, and a follower waiting out an outage is woken as soon as any other
//! token's poll succeeds. The session is advanced only once the events of the poll that
//! returned it are committed to the store, so that a crash or a failed write gets them
//! delivered again rather than lost. On shutdown, a poll in flight is given a few seconds to
//! finish, and what it brought is committed before the follower stops.
//!
//! A token OVH keeps refusing (a 4xx) for `pause_after` (7 days by default) is paused: its
//! follower records it in the store and stops (`standing`). A follower can start from what the
//! login page's check with OVH began (`check::Handover`), so that the check's answer is not
//! lost.

pub mod backoff;
pub mod check;
pub mod health;
mod standing;
pub mod successes;
pub mod transport;

pub use backoff::{Backoff, Trouble};
pub use check::{Checker, Handover, Verdict};
pub use health::{FeedHealth, HealthBoard};
pub use transport::{Api, Transport, MAX_ANSWER_BYTES};

use crate::clock::{SharedClock, UnixTime};
use crate::ingest::{IngestError, IngestHandle};
use crate::normalise::Event;
use crate::telemetry;
use crate::token::Token;
use rand::{Rng, SeedableRng};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use transport::PollError;

/// What every follower shares.
#[derive(Clone)]
pub struct FeedContext {
    pub transport: Transport,
    pub backoff: Backoff,
    pub ingest: IngestHandle,
    pub health: Arc<HealthBoard>,
    pub clock: SharedClock,
    /// Signalled whenever a poll succeeds: OVH is reachable, so followers waiting out an
    /// outage try again now rather than at the end of their back-off.
    pub reachable: Arc<Notify>,
    /// A token OVH refuses for this long is paused.
    pub pause_after: Duration,
    /// Each token's last successful poll, written once a minute for all.
    pub successes: Arc<successes::Successes>,
}

impl FeedContext {
    pub fn new(
        transport: Transport,
        backoff: Backoff,
        ingest: IngestHandle,
        health: Arc<HealthBoard>,
        clock: SharedClock,
    ) -> FeedContext {
        FeedContext {
            transport,
            backoff,
            ingest,
            health,
            clock,
            reachable: Arc::new(Notify::new()),
            pause_after: PAUSE_AFTER,
            successes: Arc::default(),
        }
    }
}

/// Where a follower starts.
#[derive(Default)]
pub struct Start {
    /// The stored session to resume with.
    pub session: Option<String>,
    /// Since when OVH has refused the token, if it still did when last heard of.
    pub refused_since: Option<UnixTime>,
    /// What a check with OVH began, to carry on from.
    pub handover: Option<Handover>,
}

/// Why a follower stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Told to (shutdown, pause or removal).
    Stopped,
    /// OVH refused the token for `pause_after`: it is paused, in the store too.
    Paused,
}

/// Resolves once `shutdown` is raised, whether or not that was already seen.
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Runs `poll` until it answers or `shutdown` is raised. A poll OVH has not started to
/// answer holds nothing yet: it is dropped (`None`). One it is answering is on the wire: it is
/// given `STOP_GRACE` to arrive, so that what it brings can be committed.
async fn until_stopped<T>(
    poll: impl Future<Output = T>,
    answering: &AtomicBool,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<T> {
    tokio::pin!(poll);
    tokio::select! {
        r = &mut poll => Some(r),
        _ = stopping(shutdown) => {
            if !answering.load(Ordering::Relaxed) {
                return None;
            }
            tokio::time::timeout(STOP_GRACE, &mut poll).await.ok()
        }
    }
}

/// Follows one token until `shutdown` turns true, or until it is paused.
pub async fn follow(
    ctx: FeedContext,
    token: Token,
    start: Start,
    mut shutdown: watch::Receiver<bool>,
) -> Ended {
    let id = token.id();
    let clock = ctx.clock.clone();
    ctx.health
        .start(&id, token.hint(), ctx.transport.api().as_str(), clock.now());
    let mut session = start.session;
    let mut first = match start.handover {
        Some(Handover::Session(s)) => {
            session = Some(s);
            None
        }
        other => other,
    };
    let mut standing = standing::Standing::new(&ctx, &id, start.refused_since);
    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut failures: u32 = 0;
    let mut session_gone_before = false;
    loop {
        if *shutdown.borrow() {
            return Ended::Stopped;
        }
        let asked = tokio::time::Instant::now();
        ctx.health.polling(&id, clock.now());
        let polled = match first.take() {
            Some(Handover::Answered(answer)) => Some(Ok(answer)),
            Some(Handover::InFlight(poll)) => poll.answer(&mut shutdown).await,
            _ => {
                let answering = AtomicBool::new(false);
                let poll = ctx
                    .transport
                    .poll(&token, session.as_deref(), &answering, || clock.now());
                until_stopped(poll, &answering, &mut shutdown).await
            }
        };
        let Some(polled) = polled else {
            return Ended::Stopped;
        };
        let (error, trouble) = match polled {
            Ok(answer) => {
                ctx.reachable.notify_waiters();
                standing.succeeded(&ctx, clock.now()).await;
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
                    session_gone_before = false;
                    // OVH holds an empty poll open; an upstream that answers "nothing" at once
                    // must not be hammered in a tight loop.
                    let pause = MIN_EMPTY_POLL.saturating_sub(asked.elapsed());
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stopping(&mut shutdown) => return Ended::Stopped,
                    }
                    continue;
                }
                // What OVH handed over is ours to keep: it is committed before anything else
                // happens — retried, without polling again, while the store cannot write (OVH
                // keeps what comes meanwhile in the session) — and before leaving on shutdown.
                let events: Arc<[Event]> = events.into();
                match commit(
                    &ctx,
                    &token,
                    events,
                    answer.session.clone(),
                    &mut shutdown,
                    &mut rng,
                )
                .await
                {
                    Some(()) => {
                        session_gone_before = false;
                        session = answer.session;
                        ctx.health.polled(&id, count, clock.now());
                        failures = 0;
                        continue;
                    }
                    None => return Ended::Stopped,
                }
            }
            Err(e @ PollError::SessionGone(why)) => {
                session = None;
                telemetry::SessionDropped {
                    token: &id,
                    reason: why,
                }
                .emit();
                ctx.health.failed(&id, e.to_string(), clock.now());
                // Sessions expire: start a new one at once — but only once in a row, so a
                // server that keeps refusing new sessions too is backed off from.
                if !session_gone_before {
                    session_gone_before = true;
                    continue;
                }
                (e.to_string(), e.trouble())
            }
            Err(e) => {
                if let PollError::TooLarge { limit } = e {
                    telemetry::AnswerTooLarge { token: &id, limit }.emit();
                }
                if let Some(status) = check::refusal(&e) {
                    if standing.refused(&ctx, status, clock.now()).await {
                        return Ended::Paused;
                    }
                }
                (e.to_string(), e.trouble())
            }
        };
        failures += 1;
        let delay = ctx.backoff.delay(failures, trouble, &mut rng);
        telemetry::PollFailed {
            token: &id,
            error: &error,
            retry_in_ms: delay.as_millis() as u64,
        }
        .emit();
        ctx.health.failed(&id, error, clock.now());
        let reachable = ctx.reachable.notified();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            // Another token got through: OVH is back. Retry soon, spread over a second so
            // that thousands of followers do not all retry at the same instant.
            _ = reachable, if trouble == Trouble::Outage => {
                let spread = Duration::from_millis(rng.gen_range(0..=WAKE_SPREAD_MS));
                tokio::select! {
                    _ = tokio::time::sleep(spread) => {}
                    _ = stopping(&mut shutdown) => return Ended::Stopped,
                }
            }
            _ = stopping(&mut shutdown) => return Ended::Stopped,
        }
    }
}

/// Commits a poll's events, trying again with back-off while the store fails. `None` when
/// the service stops first (the ingest thread is gone, or the store still fails at shutdown:
/// then the events are lost, and the log says how many).
async fn commit(
    ctx: &FeedContext,
    token: &Token,
    events: Arc<[Event]>,
    session: Option<String>,
    shutdown: &mut watch::Receiver<bool>,
    rng: &mut impl Rng,
) -> Option<()> {
    let id = token.id();
    let mut failures = 0;
    loop {
        let error = match ctx
            .ingest
            .batch(id.clone(), events.clone(), session.clone())
            .await
        {
            Ok(_) => return Some(()),
            Err(IngestError::Closed) => return None,
            Err(e) => format!("could not store the events: {e}"),
        };
        failures += 1;
        let delay = ctx.backoff.delay(failures, Trouble::Outage, rng);
        telemetry::PollFailed {
            token: &id,
            error: &error,
            retry_in_ms: delay.as_millis() as u64,
        }
        .emit();
        ctx.health.failed(&id, error, ctx.clock.now());
        if *shutdown.borrow() {
            telemetry::EventsAbandoned {
                token: &id,
                events: events.len(),
            }
            .emit();
            return None;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopping(shutdown) => {}
        }
    }
}

/// How long a poll in flight at shutdown may still take to arrive.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Followers woken by another token's success retry within this many milliseconds.
const WAKE_SPREAD_MS: u64 = 1000;

/// The shortest time between two polls that brought nothing.
const MIN_EMPTY_POLL: Duration = Duration::from_secs(1);

/// How long OVH may refuse a token before it is paused, by default.
pub const PAUSE_AFTER: Duration = Duration::from_secs(7 * 86400);

/// The default client time-out of a long poll: OVH holds a poll open for a while; clients in
/// the wild wait 65 s before calling it dead.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(65);
