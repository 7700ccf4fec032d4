//! Asking OVH whether it knows a token, before following it: a token typed at the login page
//! is stored and followed only once OVH accepts it, so that random UUIDs cannot fill the token
//! slots, the database, and OVH's patience with polls that will never work.
//!
//! The check is the follower's own first request, so that nothing it brings is lost:
//!
//! - **v2**: `POST /v2/session` then `POST …/subscribe/{token}` — both answered at once; a
//!   subscription accepted is the verdict, and its session is handed to the follower.
//! - **v1**: the first poll, `GET /?token=T`. OVH answers it at once when it refuses the token
//!   or has events, but *holds* it (up to ~25 s) when there is nothing to say — too long for a
//!   login. So the check waits at most `hold` (3 s by default): an answer is the verdict (its
//!   events and session handed to the follower); a poll still held open by then is taken as
//!   accepted — OVH holds polls for tokens it serves — and the poll itself, still in flight,
//!   is handed to the follower, which waits for its answer as its first poll. To tell "OVH
//!   holds the poll" from "OVH cannot be reached", the check's connections give up connecting
//!   (TLS included) after two thirds of `hold`: a poll held past `hold` is one OVH received.
//!
//! Verdicts: accepted; refused (a 4xx other than 404, 408 and 429 — the ones the follower
//! would retry as an outage or a wrong address); unreachable (no connection, a 5xx, a 404, a
//! time-out, an unreadable answer).

use super::transport::{Answer, PollError, Transport};
use super::Api;
use crate::clock::SharedClock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The default longest wait for OVH's answer to a v1 check before a held poll counts as
/// accepted.
pub const HOLD: Duration = Duration::from_secs(3);

/// The longest a v2 check (session, then subscription) may take.
const V2_LIMIT: Duration = Duration::from_secs(10);

/// What OVH said about a token.
pub enum Verdict {
    /// OVH serves it; what the check started goes to the follower.
    Accepted(Handover),
    /// OVH refused it, with this HTTP status.
    Refused(u16),
    /// OVH could not be asked (why, without the token).
    Unreachable(String),
}

/// What a check hands to the token's follower, so that nothing OVH gave it is lost.
pub enum Handover {
    /// v2: the session the token is subscribed on (as the follower stores it, `v2:…`).
    Session(String),
    /// v1: OVH answered the first poll within the wait; its events are to be committed.
    Answered(Answer),
    /// v1: OVH holds the first poll open; the follower waits for its answer.
    InFlight(InFlight),
}

/// A first v1 poll still running. Dropped unused, it is cancelled.
pub struct InFlight {
    task: JoinHandle<Result<Answer, PollError>>,
    answering: Arc<AtomicBool>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl InFlight {
    /// The poll's answer, as a follower's poll; `None` when `shutdown` comes first (an answer
    /// already on the wire is given `STOP_GRACE` to arrive, as any poll).
    pub(super) async fn answer(
        mut self,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Option<Result<Answer, PollError>> {
        let answering = self.answering.clone();
        let task = &mut self.task;
        let answer = async move {
            task.await.unwrap_or_else(|e| {
                Err(PollError::Network(format!("the first poll was lost: {e}")))
            })
        };
        super::until_stopped(answer, &answering, shutdown).await
    }
}

/// The HTTP status of a failure that means "OVH does not accept this token".
pub fn refusal(e: &PollError) -> Option<u16> {
    match e {
        PollError::Status { status, .. }
            if (400..500).contains(status) && ![404, 408, 429].contains(status) =>
        {
            Some(*status)
        }
        _ => None,
    }
}

/// Checks tokens with OVH.
#[derive(Clone)]
pub struct Checker {
    transport: Transport,
    hold: Duration,
    clock: SharedClock,
}

impl Checker {
    pub fn new(
        upstream: &str,
        api: Api,
        poll_timeout: Duration,
        hold: Duration,
        clock: SharedClock,
    ) -> Result<Checker, String> {
        let connect = (hold * 2 / 3).max(Duration::from_millis(50));
        Ok(Checker {
            transport: Transport::with_connect_timeout(upstream, api, poll_timeout, connect)?,
            hold,
            clock,
        })
    }

    /// The same, reading answers of at most `bytes` (as the followers do).
    pub fn with_max_answer(mut self, bytes: usize) -> Checker {
        self.transport = self.transport.with_max_answer(bytes);
        self
    }

    pub async fn check(&self, token: &crate::token::Token) -> Verdict {
        let verdict = match self.transport.api() {
            Api::V1 => self.check_v1(token).await,
            Api::V2 => self.check_v2(token).await,
        };
        let (name, detail) = match &verdict {
            Verdict::Accepted(Handover::InFlight(_)) => ("accepted", "OVH holds the first poll"),
            Verdict::Accepted(_) => ("accepted", ""),
            Verdict::Refused(_) => ("refused", ""),
            Verdict::Unreachable(why) => ("unreachable", why.as_str()),
        };
        crate::telemetry::TokenChecked {
            token: &token.id(),
            verdict: name,
            detail,
        }
        .emit();
        verdict
    }

    async fn check_v1(&self, token: &crate::token::Token) -> Verdict {
        let answering = Arc::new(AtomicBool::new(false));
        let mut inflight = InFlight {
            task: {
                let (transport, token, answering, clock) = (
                    self.transport.clone(),
                    token.clone(),
                    answering.clone(),
                    self.clock.clone(),
                );
                tokio::spawn(async move {
                    transport
                        .poll(&token, None, &answering, || clock.now())
                        .await
                })
            },
            answering,
        };
        match tokio::time::timeout(self.hold, &mut inflight.task).await {
            Err(_held) => {
                // An answer already arriving is one OVH chose to give: wait for it (bounded by
                // the client's time-out) rather than guess.
                if inflight.answering.load(Ordering::Relaxed) {
                    return self.v1_verdict((&mut inflight.task).await);
                }
                Verdict::Accepted(Handover::InFlight(inflight))
            }
            Ok(joined) => self.v1_verdict(joined),
        }
    }

    fn v1_verdict(
        &self,
        joined: Result<Result<Answer, PollError>, tokio::task::JoinError>,
    ) -> Verdict {
        match joined {
            Ok(Ok(answer)) => Verdict::Accepted(Handover::Answered(answer)),
            Ok(Err(e)) => judge(&e),
            Err(e) => Verdict::Unreachable(format!("the check was lost: {e}")),
        }
    }

    async fn check_v2(&self, token: &crate::token::Token) -> Verdict {
        let subscribe = async {
            // A session may vanish before its subscription: one more try.
            match self.transport.new_v2_session(token).await {
                Err(PollError::SessionGone(_)) => self.transport.new_v2_session(token).await,
                other => other,
            }
        };
        match tokio::time::timeout(self.hold.max(V2_LIMIT), subscribe).await {
            Ok(Ok(id)) => Verdict::Accepted(Handover::Session(format!("v2:{id}"))),
            Ok(Err(e)) => judge(&e),
            Err(_) => Verdict::Unreachable("OVH did not answer in time".into()),
        }
    }
}

fn judge(e: &PollError) -> Verdict {
    match refusal(e) {
        Some(status) => Verdict::Refused(status),
        None => Verdict::Unreachable(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_of_the_token_counts_as_one() {
        let status = |status| PollError::Status {
            status,
            body: String::new(),
        };
        assert_eq!(refusal(&status(403)), Some(403));
        assert_eq!(refusal(&status(401)), Some(401));
        assert_eq!(refusal(&status(400)), Some(400));
        // A wrong address, a slow or busy OVH, an outage: not the token's fault.
        for s in [404, 408, 429, 500, 502] {
            assert_eq!(refusal(&status(s)), None, "{s}");
        }
        assert_eq!(refusal(&PollError::Network("reset".into())), None);
    }
}
