//! The state of each token's feed, as `GET /api/health` shows it: connected, silent for how
//! long, stalled (a poll hanging), failing, or paused (OVH refused the token for days, or an
//! operator paused it: no more polling), with the last event, the last error, since when OVH
//! refuses the token, and how often it reconnected.

use crate::clock::{as_rfc3339, UnixTime};
use crate::token::TokenId;
use parking_lot::RwLock;
use serde::Serialize;
use std::collections::HashMap;

/// After this long without an event, a working feed is reported as silent: OVH is known to
/// go quiet while degraded.
pub const SILENT_AFTER_S: f64 = 120.0;

/// A poll still running after this long is reported as stalled: OVH answers an empty poll
/// after holding it 25–30 s, so one open for 45 s hangs (or trickles) — without this it would
/// show as connected until the client's time-out.
pub const STALLED_AFTER_S: f64 = 45.0;

#[derive(Clone, Debug, Default)]
struct Record {
    hint: String,
    api: &'static str,
    started_at: UnixTime,
    last_poll_at: Option<UnixTime>,
    /// When the poll in progress was sent.
    polling_since: Option<UnixTime>,
    last_event_at: Option<UnixTime>,
    last_error: Option<String>,
    last_error_at: Option<UnixTime>,
    consecutive_failures: u32,
    reconnects: u64,
    polls: u64,
    events: u64,
    refused_since: Option<UnixTime>,
    /// When and why the token was paused.
    paused: Option<(UnixTime, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeedHealth {
    /// The token's first characters, to tell tokens apart without revealing them.
    pub token_hint: String,
    pub api: &'static str,
    /// `starting`, `connected`, `silent`, `stalled`, `failing` or `paused`.
    pub state: &'static str,
    pub silent_for_s: Option<f64>,
    /// How long the poll in progress has run, when it is stalled.
    pub stalled_for_s: Option<f64>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub last_event_at: Option<UnixTime>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub last_poll_at: Option<UnixTime>,
    pub last_error: Option<String>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub last_error_at: Option<UnixTime>,
    pub consecutive_failures: u32,
    pub reconnects: u64,
    pub polls: u64,
    pub events_received: u64,
    /// Since when OVH has refused the token (a 4xx), while it still does.
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub refused_since: Option<UnixTime>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub paused_at: Option<UnixTime>,
    pub paused_reason: Option<String>,
}

#[derive(Default)]
pub struct HealthBoard(RwLock<HashMap<TokenId, Record>>);

impl HealthBoard {
    pub fn start(&self, token: &TokenId, hint: String, api: &'static str, now: UnixTime) {
        self.0.write().insert(
            token.clone(),
            Record {
                hint,
                api,
                started_at: now,
                ..Record::default()
            },
        );
    }

    /// The token's streak of refusals by OVH started (`Some`) or ended.
    pub fn refused(&self, token: &TokenId, since: Option<UnixTime>) {
        if let Some(r) = self.0.write().get_mut(token) {
            r.refused_since = since;
        }
    }

    /// The token is paused: nothing polls it until it is resumed (`start` again).
    pub fn paused(&self, token: &TokenId, at: UnixTime, reason: String) {
        if let Some(r) = self.0.write().get_mut(token) {
            r.polling_since = None;
            r.paused = Some((at, reason));
        }
    }

    /// The token was removed.
    pub fn forget(&self, token: &TokenId) {
        self.0.write().remove(token);
    }

    /// A poll was sent.
    pub fn polling(&self, token: &TokenId, now: UnixTime) {
        if let Some(r) = self.0.write().get_mut(token) {
            r.polling_since = Some(now);
        }
    }

    pub fn polled(&self, token: &TokenId, events: usize, now: UnixTime) {
        if let Some(r) = self.0.write().get_mut(token) {
            r.polling_since = None;
            r.last_poll_at = Some(now);
            r.polls += 1;
            r.consecutive_failures = 0;
            if events > 0 {
                r.last_event_at = Some(now);
                r.events += events as u64;
            }
        }
    }

    pub fn failed(&self, token: &TokenId, error: String, now: UnixTime) {
        if let Some(r) = self.0.write().get_mut(token) {
            r.polling_since = None;
            r.last_error = Some(error);
            r.last_error_at = Some(now);
            r.consecutive_failures += 1;
            r.reconnects += 1;
        }
    }

    pub fn get(&self, token: &TokenId, now: UnixTime) -> Option<FeedHealth> {
        Some(self.0.read().get(token)?.health(now))
    }

    /// Every token's health: the operator's view of an instance with thousands of tokens.
    pub fn all(&self, now: UnixTime) -> Vec<(TokenId, FeedHealth)> {
        let map = self.0.read();
        map.iter()
            .map(|(id, r)| (id.clone(), r.health(now)))
            .collect()
    }

    /// How many feeds are in each state, for `/metrics` (no series per token).
    pub fn counts(&self, now: UnixTime) -> Counts {
        let mut counts = Counts {
            by_state: STATES.iter().map(|s| (*s, 0)).collect(),
            refused: 0,
        };
        for r in self.0.read().values() {
            *counts.by_state.entry(r.state(now).0).or_default() += 1;
            counts.refused += usize::from(r.refused_since.is_some() && r.paused.is_none());
        }
        counts
    }
}

/// The feeds by state, and how many OVH refuses now (they are failing, backing off, too).
#[derive(Debug, PartialEq)]
pub struct Counts {
    pub by_state: std::collections::BTreeMap<&'static str, usize>,
    pub refused: usize,
}

/// Every state a feed can be in, worst first (the order the operator's list sorts by).
pub const STATES: [&str; 6] = [
    "failing",
    "stalled",
    "paused",
    "starting",
    "silent",
    "connected",
];

impl Record {
    /// The state, with how long the feed has been quiet and the poll in progress has run.
    fn state(&self, now: UnixTime) -> (&'static str, f64, Option<f64>) {
        let r = self;
        let quiet_since = r.last_event_at.unwrap_or(r.started_at);
        let silent_for = now - quiet_since;
        let polling_for = r.polling_since.map(|t| now - t);
        let stalled = polling_for.filter(|s| *s > STALLED_AFTER_S);
        let state = if r.paused.is_some() {
            "paused"
        } else if stalled.is_some() {
            "stalled"
        } else if r.consecutive_failures > 0 {
            "failing"
        } else if r.polls == 0 {
            "starting"
        } else if silent_for > SILENT_AFTER_S {
            "silent"
        } else {
            "connected"
        };
        (state, silent_for, stalled)
    }

    fn health(&self, now: UnixTime) -> FeedHealth {
        let r = self;
        let (state, silent_for, stalled) = r.state(now);
        FeedHealth {
            token_hint: r.hint.clone(),
            api: r.api,
            state,
            silent_for_s: (state == "silent").then_some(silent_for.floor()),
            stalled_for_s: stalled.map(f64::floor),
            last_event_at: r.last_event_at,
            last_poll_at: r.last_poll_at,
            last_error: r.last_error.clone(),
            last_error_at: r.last_error_at,
            consecutive_failures: r.consecutive_failures,
            reconnects: r.reconnects,
            polls: r.polls,
            events_received: r.events,
            refused_since: r.refused_since,
            paused_at: r.paused.as_ref().map(|(at, _)| *at),
            paused_reason: r.paused.as_ref().map(|(_, why)| why.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Token;

    #[test]
    fn states_follow_polls_failures_and_silence() {
        let id = Token::parse("3F2504E0-4F89-11D3-9A0C-0305E82C3301")
            .unwrap()
            .id();
        let h = HealthBoard::default();
        h.start(&id, "3F25…".into(), "v1", 0.0);
        assert_eq!(h.get(&id, 1.0).unwrap().state, "starting");
        h.polled(&id, 3, 10.0);
        assert_eq!(h.get(&id, 11.0).unwrap().state, "connected");
        h.polled(&id, 0, 100.0);
        let silent = h.get(&id, 200.0).unwrap();
        assert_eq!((silent.state, silent.silent_for_s), ("silent", Some(190.0)));
        h.failed(&id, "HTTP 502".into(), 201.0);
        let failing = h.get(&id, 202.0).unwrap();
        assert_eq!(
            (
                failing.state,
                failing.reconnects,
                failing.last_error.as_deref()
            ),
            ("failing", 1, Some("HTTP 502"))
        );
        h.polled(&id, 1, 203.0);
        assert_eq!(h.get(&id, 203.0).unwrap().state, "connected");
        h.refused(&id, Some(204.0));
        h.paused(&id, 205.0, "refused".into());
        let paused = h.get(&id, 206.0).unwrap();
        assert_eq!(
            (paused.state, paused.refused_since, paused.paused_at),
            ("paused", Some(204.0), Some(205.0))
        );
        h.start(&id, "3F25…".into(), "v1", 207.0);
        assert_eq!(h.get(&id, 207.0).unwrap().state, "starting", "resumed");
    }

    #[test]
    fn a_poll_hanging_past_ovhs_hold_is_stalled_not_connected() {
        let id = Token::parse("3F2504E0-4F89-11D3-9A0C-0305E82C3301")
            .unwrap()
            .id();
        let h = HealthBoard::default();
        h.start(&id, "3F25…".into(), "v1", 0.0);
        h.polled(&id, 1, 1.0);
        h.polling(&id, 2.0);
        // OVH holds an empty poll 25–30 s: that is still a working feed.
        assert_eq!(h.get(&id, 32.0).unwrap().state, "connected");
        let stalled = h.get(&id, 62.0).unwrap();
        assert_eq!(
            (stalled.state, stalled.stalled_for_s),
            ("stalled", Some(60.0))
        );
        h.polled(&id, 0, 63.0);
        let back = h.get(&id, 63.0).unwrap();
        assert_eq!((back.state, back.stalled_for_s), ("connected", None));
    }
}
