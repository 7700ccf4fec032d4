//! `GET /api/stream`: Server-Sent Events for one token.
//!
//! On connection the client gets the whole state (`event: state` with `"full": true`), then,
//! per committed batch, one `event: event` message per ingested event, `call` / `journal`
//! messages for what finished, and one `state` message with the lines and queues that changed
//! and the calls in progress. Messages are rendered once by the ingest thread; here whatever
//! has piled up since the last write is sent in one write, so a fast feed costs a client one
//! write per wake-up, not one per event, and the state messages among it are merged into one
//! (`hub::coalesce`). A client gets at most ten state messages a second (`stream_pacing`):
//! between them, the rest goes out at once and the state is merged until it may go. A client too slow
//! to keep up gets `event: resync` with the whole state again instead of an unbounded backlog.
//!
//! A stream ends within a second of what ends its right to it: its login session logged out
//! (at once) or expired (checked every second), or its token removed (at once). The browser
//! then reconnects, gets `401`, and shows the login page.

use super::auth::{Caller, Session};
use super::scope::Scope;
use super::stream_pacing::{Pacing, Write};
use super::stream_slots::{Full, StreamSlot};
use super::{AppState, ClientAddr};
use crate::hooks::own_pops::OwnPops;
use crate::hub::frame;
use crate::hub::Update;
use crate::service::Closed;
use crate::token::TokenId;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use parking_lot::RwLock;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;

const KEEPALIVE: Duration = Duration::from_secs(15);
/// How often a stream checks that its login session has not expired, and whether its feed's
/// state changed (the page once said "Connecting to OVH…" for 15 s after the first poll).
const CHECK: Duration = Duration::from_secs(1);

fn full_state(state: &AppState, token: &TokenId, kind: &str) -> String {
    let mut out = String::new();
    if let Some(board) = state.service.boards.get(token) {
        let b = board.lock();
        let since = b.since().map(crate::clock::rfc3339);
        frame(
            &mut out,
            kind,
            &json!({"full": true, "lines": b.lines(), "queues": b.queues(), "calls": b.calls(), "since": since}),
        );
    }
    out
}

/// A keep-alive comment and the feed's health; the state sent, to tell when it changes.
fn health_frame(state: &AppState, token: &TokenId) -> (String, Option<String>) {
    let mut out = String::from(": keep-alive\n\n");
    let health = super::api::feed_health(state, token);
    if let Some(h) = &health {
        frame(&mut out, "health", h);
    }
    let sent = health.and_then(|h| h["state"].as_str().map(String::from));
    (out, sent)
}

/// Adds to `waiting` every update for `token` already published, so that they go out in one
/// write. Returns true when the client fell behind and some were lost (it must resynchronise).
fn take_pending(
    rx: &mut Receiver<Arc<Update>>,
    token: &TokenId,
    waiting: &mut Vec<Arc<Update>>,
) -> bool {
    let mut lagged = false;
    loop {
        match rx.try_recv() {
            Ok(u) if &u.token == token => waiting.push(u),
            Ok(_) => {}
            Err(TryRecvError::Lagged(_)) => lagged = true,
            Err(_) => return lagged,
        }
    }
}

struct Client {
    state: AppState,
    token: TokenId,
    rx: Receiver<Arc<Update>>,
    first: Option<String>,
    /// Updates taken from the hub and not yet written, and the state owed.
    pacing: Pacing,
    keepalive: tokio::time::Interval,
    shutdown: tokio::sync::watch::Receiver<bool>,
    closed: tokio::sync::broadcast::Receiver<Closed>,
    session: Option<Session>,
    check: tokio::time::Interval,
    /// The feed state the page was last sent (`None`: not yet).
    health_sent: Option<String>,
    /// This stream's place under the caps, given back when the stream ends.
    _slot: StreamSlot,
    /// An agent's numbers: every message is filtered down to them before it is written.
    scope: Option<Scope>,
    /// The signed-in user, who gets the screen pops of their own choice if they made one.
    user: Option<i64>,
    own_pops: Arc<RwLock<OwnPops>>,
}

impl Client {
    /// Whether `closed` ends this stream.
    fn ended_by(&self, closed: &Closed) -> bool {
        match closed {
            Closed::Token(t) => *t == self.token,
            Closed::Session(key) => self.session.as_ref().is_some_and(|s| s.key == *key),
        }
    }

    /// Waits for the next write: what the hub published for this token (all of it that is
    /// waiting, coalesced), a keep-alive, or the end of the stream (`None`).
    async fn next_write(&mut self) -> Option<Write> {
        if let Some(first) = self.first.take() {
            return Some(first.into());
        }
        loop {
            let mut out = String::new();
            tokio::select! {
                r = self.rx.recv() => match r {
                    Ok(update) => {
                        if update.token == self.token {
                            self.pacing.waiting.push(update);
                        }
                        if take_pending(&mut self.rx, &self.token, &mut self.pacing.waiting) {
                            self.pacing.forget();
                            out = full_state(&self.state, &self.token, "resync");
                        } else if let Some(write) = self.pacing.write(tokio::time::Instant::now()) {
                            return Some(write);
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        self.pacing.forget();
                        out = full_state(&self.state, &self.token, "resync");
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = tokio::time::sleep_until(self.pacing.state_due()), if self.pacing.owes_state() => {
                    if let Some(write) = self.pacing.write(tokio::time::Instant::now()) {
                        return Some(write);
                    }
                }
                _ = self.keepalive.tick() => {
                    (out, self.health_sent) = health_frame(&self.state, &self.token);
                }
                _ = crate::shutdown::stopped(&mut self.shutdown) => return None,
                c = self.closed.recv() => match c {
                    Ok(c) if self.ended_by(&c) => return None,
                    Ok(_) => {}
                    // Some closings were missed: this one may be among them. The client
                    // reconnects at once, signed in again if it still may.
                    Err(_) => return None,
                },
                _ = self.check.tick() => {
                    if self.session.as_ref().is_some_and(|s| s.expires <= self.state.service.clock.now()) {
                        return None;
                    }
                    let now = self.state.service.clock.now();
                    let state = self.state.service.health.get(&self.token, now).map(|h| h.state);
                    if state.is_some() && state != self.health_sent.as_deref() {
                        (out, self.health_sent) = health_frame(&self.state, &self.token);
                    }
                }
            }
            if !out.is_empty() {
                return Some(out.into());
            }
        }
    }

    /// `write` as this client may see it: an agent's numbers only, the screen pops of its
    /// user's choice. Text shared by every client goes out as it is, uncopied.
    fn filtered(&self, write: Write) -> Bytes {
        if self.scope.is_none() && !write.pops {
            return write.text;
        }
        let mut out = String::from_utf8_lossy(&write.text).into_owned();
        if let Some(scope) = &self.scope {
            out = scope.stream(&out);
        }
        // Read per write, so that a choice made or undone takes effect on open streams.
        let own = self.user.is_some_and(|u| self.own_pops.read().has(u));
        super::scope::pops_for(out, self.user, own).into()
    }
}

pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddr(address): ClientAddr,
) -> Response {
    // A bearer caller has no login session: its token stands for one.
    let session = match &caller.session {
        Some(s) => s.key.clone(),
        None => format!("token:{}", caller.token),
    };
    let slot = match state.streams.take(&session, address) {
        Ok(slot) => slot,
        Err(full) => return refused(full),
    };
    // Listen for closings first, then make sure the session was not ended in between.
    let closed = state.service.closed();
    if let Some(s) = &caller.session {
        if !state.sessions.contains(&s.key) {
            return super::ApiError::unauthorized().into_response();
        }
    }
    // Subscribe before taking the snapshot, so that nothing falls between the two.
    let rx = state.service.hub.subscribe();
    let first = format!(
        "retry: 2000\n\n{}",
        full_state(&state, &caller.token, "state")
    );
    let client = Client {
        shutdown: state.service.shutdown_signal(),
        keepalive: tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE),
        closed,
        session: caller.session,
        scope: caller.scope,
        user: caller.user,
        own_pops: state.service.ingest.own_pops(),
        check: tokio::time::interval(CHECK),
        health_sent: None,
        state,
        token: caller.token,
        rx,
        first: Some(first),
        pacing: Pacing::new(tokio::time::Instant::now()),
        _slot: slot,
    };
    let body = futures::stream::unfold(client, |mut client| async move {
        let write = client.next_write().await?;
        let out = client.filtered(write);
        Some((Ok::<Bytes, std::convert::Infallible>(out), client))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// A stream over one of its caps: `429` for a session's or an address's (close another tab),
/// `503` for the service's; both with `Retry-After` (the page tries again by itself).
fn refused(full: Full) -> Response {
    use axum::http::StatusCode;
    crate::telemetry::StreamRefused { cap: full.name() }.emit();
    let (status, message, reason) = match full {
        Full::Session => (
            StatusCode::TOO_MANY_REQUESTS,
            "too many live streams for this session: close another tab of the dashboard",
            "streams_per_session",
        ),
        Full::Address => (
            StatusCode::TOO_MANY_REQUESTS,
            "too many live streams from this address",
            "streams_per_address",
        ),
        Full::Service => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the service holds as many live streams as it can; try again in a moment",
            "streams_full",
        ),
    };
    (
        status,
        [(header::RETRY_AFTER, "5")],
        axum::Json(json!({"error": message, "reason": reason})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Hub;
    use crate::token::Token;

    #[test]
    fn updates_waiting_for_a_client_go_out_together_and_only_its_own() {
        let hub = Hub::new(4);
        let mine = Token::parse("3F2504E0-4F89-11D3-9A0C-0305E82C3301")
            .unwrap()
            .id();
        let other = Token::parse("9B2D5A10-1C3E-4F5A-8B7C-0D1E2F3A4B5C")
            .unwrap()
            .id();
        let mut rx = hub.subscribe();
        for (token, text) in [(&mine, "a"), (&other, "x"), (&mine, "b"), (&mine, "c")] {
            hub.publish(Update::log(token.clone(), text.into()));
        }
        let mut waiting = Vec::new();
        assert!(!take_pending(&mut rx, &mine, &mut waiting));
        assert_eq!(
            crate::hub::coalesce(&waiting).0,
            "abc",
            "three updates, one write, none of the other token's"
        );

        // A client that fell behind by more than the hub keeps is told to resynchronise.
        for _ in 0..10 {
            hub.publish(Update::log(mine.clone(), "z".into()));
        }
        assert!(take_pending(&mut rx, &mine, &mut Vec::new()));
    }
}
