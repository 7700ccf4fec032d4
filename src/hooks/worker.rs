//! The delivery worker: a task that asks "what is due at `clock.now()`?", makes those requests
//! and records each result through the one writer. It wakes when the ingest queues something,
//! once a second otherwise (retries come due), and whenever a test nudges it — time itself is
//! the injected clock's, so tests drive the back-off schedule without sleeping.
//!
//! Requests: screen pops `GET` the filled URL, webhooks `POST` the signed JSON. At most
//! `ATTEMPTS` are in flight at once, all passes together. A request has a time-out (10 s by
//! default), follows no redirect (a 3xx is a failure), goes only to addresses the guard
//! accepts, and never carries the OVH token. Delivery is at least once:
//! an attempt cut short by a shutdown is made again after the restart, with the same
//! `webhook-id` so that the receiver can tell.

use super::guard::{self, Guard, GuardedResolver};
use super::outbox::{self, Due, Kind, Outcome};
use super::sign;
use crate::clock::SharedClock;
use crate::ingest::{IngestError, IngestHandle};
use crate::limits;
use crate::store::Readers;
use crate::telemetry;
use futures::StreamExt;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// The default time-out of one request.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Due deliveries read at once by a pass.
const BATCH: usize = 64;
/// Requests in flight at once, all passes together. Passes overlap so that a hanging endpoint
/// does not hold up the next screen pop, but not without bound: every queued test or event
/// wakes the worker, and with a pass per wake, each with its requests (and, for a name, a
/// resolver thread) hanging until the time-out, a flood of test sends took the memory to a
/// gigabyte (issue 8). Rows beyond wait in the outbox for a free slot; nothing is lost.
pub const ATTEMPTS: usize = 64;
/// Passes at once: each holds only the ids of rows it waits for, but one per wake is still
/// no bound.
const PASSES: usize = 64;
/// How often due retries are looked for when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);

pub struct Hooks {
    readers: Arc<Readers>,
    ingest: IngestHandle,
    clock: SharedClock,
    client: reqwest::Client,
    guard: Arc<Guard>,
    timeout: Duration,
    wake: Arc<Notify>,
    /// Deliveries being attempted: passes overlap (a hanging endpoint must not hold up the
    /// next screen pop), but a row is never attempted twice at once.
    inflight: Mutex<HashSet<i64>>,
    /// Told whenever an attempt in flight ends.
    settled: Notify,
    /// `ATTEMPTS` permits, one taken by each request in flight.
    slots: tokio::sync::Semaphore,
    /// Its name in the delivery claims on PostgreSQL (`outbox::due`).
    instance: String,
}

/// Takes a row out of `inflight` when its attempt ends, even one cut short by a shutdown.
struct Claim<'a> {
    hooks: &'a Hooks,
    id: i64,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.hooks.inflight.lock().remove(&self.id);
        self.hooks.settled.notify_waiters();
    }
}

/// The HTTP client every delivery uses: no redirects, no proxy (it would connect for us,
/// past the guard), the guard's resolver, and the time-out.
pub fn client(guard: Arc<Guard>, timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver(guard)))
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("ovh-cti/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

impl Hooks {
    pub fn new(
        readers: Arc<Readers>,
        ingest: IngestHandle,
        clock: SharedClock,
        guard: Guard,
        timeout: Duration,
    ) -> Result<Hooks, String> {
        let guard = Arc::new(guard);
        let wake = ingest.outbox_signal();
        Ok(Hooks {
            client: client(guard.clone(), timeout)?,
            readers,
            ingest,
            clock,
            guard,
            timeout,
            wake,
            inflight: Mutex::new(HashSet::new()),
            settled: Notify::new(),
            slots: tokio::sync::Semaphore::new(ATTEMPTS),
            instance: crate::cluster::instance().to_string(),
        })
    }

    /// The same worker under another name among the instances (tests run two in a process).
    pub fn named(mut self, instance: &str) -> Hooks {
        self.instance = instance.to_string();
        self
    }

    /// Asks the worker to look for due deliveries now.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Attempts every delivery due at the clock's time and records the results; returns how
    /// many it attempted. When it returns, every attempt due is recorded, including those
    /// another pass had in flight.
    pub async fn run_due(&self) -> Result<usize, IngestError> {
        let mut total = 0;
        loop {
            let now = self.clock.now();
            let due = self.due(now).await?;
            let n = due.len();
            let (mut mine, theirs): (Vec<Due>, Vec<Due>) = {
                let mut inflight = self.inflight.lock();
                due.into_iter().partition(|d| inflight.insert(d.id))
            };
            // Only their ids are kept: many passes may wait for the same rows.
            let theirs: Vec<i64> = theirs.into_iter().map(|d| d.id).collect();
            let claims: Vec<Claim> = mine
                .iter()
                .map(|d| Claim {
                    hooks: self,
                    id: d.id,
                })
                .collect();
            // Another pass may have recorded a row between our read and our claim: read
            // again, now that no one else can, and keep what is still due as it was.
            if !mine.is_empty() {
                let still: HashSet<(i64, u32)> = self
                    .due(now)
                    .await?
                    .into_iter()
                    .map(|d| (d.id, d.attempts))
                    .collect();
                mine.retain(|d| still.contains(&(d.id, d.attempts)));
            }
            total += mine.len();
            let results: Vec<Result<(), IngestError>> = futures::stream::iter(mine)
                .map(|d| self.deliver(d))
                .buffer_unordered(BATCH)
                .collect()
                .await;
            drop(claims);
            // Rows another pass held may have been let go unattempted (that pass read the
            // clock earlier, when they were not due yet): look again once they are released.
            let waited = !theirs.is_empty();
            for id in theirs {
                self.settle(id).await;
            }
            results.into_iter().collect::<Result<(), _>>()?;
            if n < BATCH && !waited {
                return Ok(total);
            }
        }
    }

    async fn due(&self, now: f64) -> Result<Vec<Due>, IngestError> {
        Ok(self
            .readers
            .read({
                let instance = self.instance.clone();
                move |c| outbox::due(c, now, BATCH, &instance)
            })
            .await?)
    }

    /// Waits until another pass's attempt at row `id` has ended.
    async fn settle(&self, id: i64) {
        loop {
            let ended = self.settled.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if !self.inflight.lock().contains(&id) {
                return;
            }
            ended.await;
        }
    }

    /// Runs until `shutdown`; attempts in flight then are dropped and made after the restart.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut passes = tokio::task::JoinSet::new();
        loop {
            while passes.try_join_next().is_some() {}
            // A wake that finds every pass slot taken starts a pass as soon as one ends.
            let missed = passes.len() >= PASSES;
            if !missed {
                let hooks = self.clone();
                passes.spawn(async move {
                    if let Err(e) = hooks.run_due().await {
                        tracing::warn!(error = %e, "delivery pass failed");
                    }
                });
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                Some(_) = passes.join_next(), if missed => {}
                _ = crate::shutdown::stopped(&mut shutdown) => {
                    passes.abort_all();
                    while passes.join_next().await.is_some() {}
                    return;
                }
            }
        }
    }

    async fn deliver(&self, d: Due) -> Result<(), IngestError> {
        let _slot = self.slots.acquire().await.expect("never closed");
        // The retry schedule and the "failing for a day" rule count from when the attempt was
        // made, not from when its answer (or time-out) came back.
        let now = self.clock.now();
        let started = Instant::now();
        let outcome = self.attempt(&d).await;
        let latency_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
        let (token, kind, attempt) = (d.token.clone(), d.kind, d.attempts + 1);
        let logged = outcome.clone();
        let state = self
            .ingest
            .write(move |w| outbox::record(w.connection(), &d, &outcome, latency_ms, now))
            .await?;
        telemetry::DeliveryAttempted {
            token: &token,
            kind: kind.as_str(),
            attempt,
            state,
            outcome: &logged,
        }
        .emit();
        Ok(())
    }

    async fn attempt(&self, d: &Due) -> Outcome {
        let permanent = |error: String| Outcome::Permanent {
            status: None,
            error,
        };
        let url = match reqwest::Url::parse(&d.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => return permanent("not an http:// or https:// address".into()),
        };
        if let Err(b) = self.guard.check_literal(&url) {
            return refused(b);
        }
        let request = match d.kind {
            Kind::Pop => self.client.get(url),
            Kind::Webhook => {
                let Some(secret) = &d.secret else {
                    return permanent("the endpoint was deleted".into());
                };
                let body = d.body.clone().unwrap_or_default();
                let timestamp = self.clock.now().floor() as i64;
                let signature = match sign::signature(secret, &d.webhook_id, timestamp, &body) {
                    Ok(s) => s,
                    Err(e) => return permanent(e.to_string()),
                };
                self.client
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("webhook-id", &d.webhook_id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body)
            }
        };
        match request.send().await {
            Ok(resp) => classify(d.kind, &resp),
            Err(e) => {
                if let Some(b) = guard::blocked_in(&e) {
                    return refused(b);
                }
                let error = if e.is_timeout() {
                    format!("no answer within {} s", self.timeout.as_secs_f64())
                } else {
                    // Without the URL: its query may hold the CRM's own secrets.
                    let e = e.without_url();
                    let mut msg = e.to_string();
                    let mut src = std::error::Error::source(&e);
                    while let Some(s) = src {
                        msg = format!("{msg}: {s}");
                        src = s.source();
                    }
                    msg
                };
                Outcome::Retry {
                    status: None,
                    error,
                }
            }
        }
    }
}

/// A request the guard refused: the delivery log (read by the token holder) says only that
/// the address is not public; the operator's log says which address it was.
fn refused(b: guard::Blocked) -> Outcome {
    tracing::info!(detail = %b.detail(), "a delivery was refused by the address guard");
    Outcome::Permanent {
        status: None,
        error: b.to_string(),
    }
}

/// What an answer means for the delivery.
fn classify(kind: Kind, resp: &reqwest::Response) -> Outcome {
    let status = resp.status();
    let code = status.as_u16();
    if status.is_success() {
        return Outcome::Delivered { status: code };
    }
    if status.is_redirection() {
        let to = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(|l| {
                let to = super::mask_url(l);
                format!(" to {}", limits::clip(&to, limits::LOGGED_URL_BYTES))
            })
            .unwrap_or_default();
        return Outcome::Retry {
            status: Some(code),
            error: format!("redirected (HTTP {code}){to}; redirects are not followed"),
        };
    }
    if code == 410 && kind == Kind::Webhook {
        return Outcome::Permanent {
            status: Some(code),
            error: "HTTP 410 Gone: the endpoint is disabled".into(),
        };
    }
    Outcome::Retry {
        status: Some(code),
        error: format!("HTTP {code}"),
    }
}
