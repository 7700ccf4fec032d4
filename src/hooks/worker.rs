//! The delivery worker: a task that asks "what is due at `clock.now()`?", makes those requests
//! and records each result through the one writer. It wakes when the ingest queues something,
//! once a second otherwise (retries come due), and whenever a test nudges it — time itself is
//! the injected clock's, so tests drive the back-off schedule without sleeping.
//!
//! Requests: screen pops `GET` the filled URL, webhooks `POST` the signed JSON. A request has
//! a time-out (10 s by default), follows no redirect (a 3xx is a failure), goes only to
//! addresses the guard accepts, and never carries the OVH token. Delivery is at least once:
//! an attempt cut short by a shutdown is made again after the restart, with the same
//! `webhook-id` so that the receiver can tell.

use super::guard::{self, Guard, GuardedResolver};
use super::outbox::{self, Due, Kind, Outcome};
use super::sign;
use crate::clock::SharedClock;
use crate::ingest::{IngestError, IngestHandle};
use crate::store::Readers;
use crate::telemetry;
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// The default time-out of one request.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Due deliveries read at once, and requests in flight at once.
const BATCH: usize = 64;
const CONCURRENCY: usize = 16;
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
    /// One pass at a time, so that a row is never attempted twice at once.
    pass: tokio::sync::Mutex<()>,
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
        wake: Arc<Notify>,
        guard: Guard,
        timeout: Duration,
    ) -> Result<Hooks, String> {
        let guard = Arc::new(guard);
        Ok(Hooks {
            client: client(guard.clone(), timeout)?,
            readers,
            ingest,
            clock,
            guard,
            timeout,
            wake,
            pass: tokio::sync::Mutex::new(()),
        })
    }

    /// Asks the worker to look for due deliveries now.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Attempts every delivery due at the clock's time and records the results; returns how
    /// many were attempted. When it returns, every due attempt is recorded.
    pub async fn run_due(&self) -> Result<usize, IngestError> {
        let _one_pass = self.pass.lock().await;
        let mut total = 0;
        loop {
            let now = self.clock.now();
            let readers = self.readers.clone();
            let due =
                tokio::task::spawn_blocking(move || readers.with(|c| outbox::due(c, now, BATCH)))
                    .await
                    .map_err(|_| IngestError::Closed)??;
            let n = due.len();
            let results: Vec<Result<(), IngestError>> = futures::stream::iter(due)
                .map(|d| self.deliver(d))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            total += n;
            results.into_iter().collect::<Result<(), _>>()?;
            if n < BATCH {
                return Ok(total);
            }
        }
    }

    /// Runs until `shutdown`; an attempt in flight then is dropped and made after the restart.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                r = self.run_due() => if let Err(e) = r {
                    if matches!(e, IngestError::Closed) { return; }
                    tracing::warn!(error = %e, "delivery pass failed");
                },
                _ = crate::app::stopped(&mut shutdown) => return,
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = crate::app::stopped(&mut shutdown) => return,
            }
        }
    }

    async fn deliver(&self, d: Due) -> Result<(), IngestError> {
        let started = Instant::now();
        let outcome = self.attempt(&d).await;
        let latency_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
        let now = self.clock.now();
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
            return permanent(b.to_string());
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
                    return permanent(b.to_string());
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
            .map(|l| format!(" to {}", super::mask_url(l)))
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
