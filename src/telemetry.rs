//! Notable internal events, each a struct that logs and counts in one `emit()`, so that the
//! logs and the `/metrics` counters can never disagree (the pattern of vector's
//! `internal_events`). No event carries a token: only its `TokenId`.

use crate::token::TokenId;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! counters {
    ($($name:ident: $help:literal),* $(,)?) => {
        /// Process-wide counters, exposed at `/metrics` in Prometheus' text format.
        #[derive(Default)]
        pub struct Counters { $(pub $name: AtomicU64,)* }

        impl Counters {
            pub fn render(&self) -> String {
                let mut out = String::new();
                $(
                    let _ = writeln!(out, "# HELP ovh_cti_{} {}", stringify!($name), $help);
                    let _ = writeln!(out, "# TYPE ovh_cti_{} counter", stringify!($name));
                    let _ = writeln!(out, "ovh_cti_{} {}", stringify!($name), self.$name.load(Relaxed));
                )*
                out
            }
        }
    };
}

counters! {
    events_ingested_total: "Events stored and applied.",
    events_duplicate_total: "Events recognised as already received and not counted again.",
    events_malformed_total: "Events that could not be decoded (kept out, logged).",
    polls_ok_total: "Successful polls of the OVH feed.",
    polls_failed_total: "Failed polls of the OVH feed (network, status, body).",
    events_abandoned_total: "Events received but not stored because the service stopped while the store could not write.",
    connections_refused_total: "Connections closed at once with a 503: the connection cap and the health lane were full.",
    header_timeouts_total: "Connections closed because their request headers did not arrive in time (or an idle kept-alive connection).",
    accept_failures_total: "Failures to accept a connection (out of open files, or the client gone).",
    streams_refused_total: "Live streams refused: too many for the session, the address or the service.",
    answers_too_large_total: "Answers from OVH dropped unread past --max-answer-bytes.",
    sessions_dropped_total: "Feed sessions OVH said were gone (404 or 'Timeout, please reconnect'), replaced by new ones.",
    calls_finished_total: "Line calls written to the history.",
    callers_left_total: "Queue callers written to the journal.",
    expired_total: "Calls or queue callers expired because their end never came.",
    resets_total: "Board resets (on request or at midnight).",
    store_errors_total: "Failed database transactions.",
    logins_total: "Successful logins.",
    logins_refused_total: "Refused or rate-limited logins.",
    deliveries_ok_total: "Screen-pop and webhook requests answered with a 2xx.",
    deliveries_failed_total: "Screen-pop and webhook attempts that failed (retried or not).",
    deliveries_abandoned_total: "Deliveries given up after their last retry, or refused for good.",
    pruned_outbox_total: "Finished screen-pop and webhook deliveries deleted by retention.",
    pruned_deliveries_total: "Delivery log lines deleted by retention.",
    pruned_events_total: "Raw events deleted by retention.",
    token_checks_total: "Tokens typed at the login page checked with OVH.",
    token_checks_refused_total: "Token checks OVH answered with a refusal (4xx).",
    token_checks_unreachable_total: "Token checks that could not reach OVH.",
    tokens_paused_total: "Followed tokens paused (OVH refused them for days, or an operator).",
    tokens_removed_total: "Followed tokens removed.",
    published_total: "Messages published for integrators, to NATS JetStream (acknowledged) or MQTT (handed to the client).",
    publish_failed_total: "Messages that could not be published after a few tries (dropped, logged).",
    publish_dropped_total: "Batches dropped before publishing: a publisher's queue was full (its broker slow or unreachable).",
    leases_taken_total: "Tokens this instance started following on taking their lease (several instances on PostgreSQL).",
    leases_lost_total: "Commits refused because another instance had taken the token's lease over.",
    leases_given_total: "Leases this instance gave back to balance the tokens between instances.",
    mirrored_events_total: "Events another instance stored that this one showed its dashboards.",
    ovh_counts_differ_total: "Queues whose counters at OVH came to differ from ours beyond the tolerance over a period followed whole: events lost.",
}

pub static COUNTERS: std::sync::LazyLock<Counters> = std::sync::LazyLock::new(Counters::default);

pub struct EventsIngested<'a> {
    pub token: &'a TokenId,
    pub new: usize,
    pub duplicates: usize,
}

impl EventsIngested<'_> {
    pub fn emit(self) {
        tracing::debug!(token = %self.token, new = self.new, duplicates = self.duplicates, "events ingested");
        COUNTERS
            .events_ingested_total
            .fetch_add(self.new as u64, Relaxed);
        COUNTERS
            .events_duplicate_total
            .fetch_add(self.duplicates as u64, Relaxed);
    }
}

/// One screen-pop or webhook request made, and what became of its delivery.
pub struct DeliveryAttempted<'a> {
    pub token: &'a TokenId,
    pub kind: &'static str,
    pub attempt: u32,
    /// The delivery's state after it: `delivered`, `pending` (retried later), `failed`, `gave_up`.
    pub state: &'static str,
    pub outcome: &'a crate::hooks::outbox::Outcome,
}

impl DeliveryAttempted<'_> {
    pub fn emit(self) {
        use crate::hooks::outbox::Outcome;
        match self.outcome {
            Outcome::Delivered { status } => {
                tracing::debug!(token = %self.token, kind = self.kind, attempt = self.attempt, status, "delivered");
                COUNTERS.deliveries_ok_total.fetch_add(1, Relaxed);
            }
            Outcome::Retry { error, .. } | Outcome::Permanent { error, .. } => {
                tracing::warn!(token = %self.token, kind = self.kind, attempt = self.attempt, state = self.state, error = %error, "delivery attempt failed");
                COUNTERS.deliveries_failed_total.fetch_add(1, Relaxed);
                if self.state != "pending" {
                    COUNTERS.deliveries_abandoned_total.fetch_add(1, Relaxed);
                }
            }
        }
    }
}

pub struct EventMalformed<'a> {
    pub token: &'a TokenId,
    pub error: &'a dyn std::fmt::Display,
}

impl EventMalformed<'_> {
    pub fn emit(self) {
        tracing::warn!(token = %self.token, error = %self.error, "malformed event skipped");
        COUNTERS.events_malformed_total.fetch_add(1, Relaxed);
    }
}

pub struct PollSucceeded<'a> {
    pub token: &'a TokenId,
    pub events: usize,
}

impl PollSucceeded<'_> {
    pub fn emit(self) {
        tracing::trace!(token = %self.token, events = self.events, "poll answered");
        COUNTERS.polls_ok_total.fetch_add(1, Relaxed);
    }
}

pub struct PollFailed<'a> {
    pub token: &'a TokenId,
    pub error: &'a str,
    pub retry_in_ms: u64,
}

impl PollFailed<'_> {
    pub fn emit(self) {
        tracing::warn!(token = %self.token, error = self.error, retry_in_ms = self.retry_in_ms, "poll failed");
        COUNTERS.polls_failed_total.fetch_add(1, Relaxed);
    }
}

/// OVH said a feed session is gone: a new one is started. One line, at the first such answer.
pub struct SessionDropped<'a> {
    pub token: &'a TokenId,
    pub reason: &'a str,
}

impl SessionDropped<'_> {
    pub fn emit(self) {
        tracing::info!(token = %self.token, reason = self.reason, "feed session gone; starting a new one");
        COUNTERS.sessions_dropped_total.fetch_add(1, Relaxed);
    }
}

/// A connection arrived past the connection cap and the health lane: told 503, closed.
pub struct ConnectionRefused {
    pub cap: usize,
}

impl ConnectionRefused {
    pub fn emit(self) {
        tracing::debug!(cap = self.cap, "connection refused: too many connections");
        COUNTERS.connections_refused_total.fetch_add(1, Relaxed);
    }
}

/// A connection's request headers did not arrive in time: closed.
pub struct HeaderTimedOut<'a> {
    pub peer: &'a std::net::SocketAddr,
}

impl HeaderTimedOut<'_> {
    pub fn emit(self) {
        tracing::debug!(peer = %self.peer, "connection closed: headers not received in time");
        COUNTERS.header_timeouts_total.fetch_add(1, Relaxed);
    }
}

/// The listener could not accept a connection; `exhausted` when for want of files or memory.
pub struct AcceptFailed<'a> {
    pub error: &'a std::io::Error,
    pub exhausted: bool,
}

impl AcceptFailed<'_> {
    pub fn emit(self) {
        if self.exhausted {
            tracing::warn!(error = %self.error, "cannot accept connections: out of open files or memory; pausing 100 ms");
        } else {
            tracing::debug!(error = %self.error, "a connection failed before it was accepted");
        }
        COUNTERS.accept_failures_total.fetch_add(1, Relaxed);
    }
}

/// A live stream refused: `cap` names the cap reached (`session`, `address`, `service`).
pub struct StreamRefused {
    pub cap: &'static str,
}

impl StreamRefused {
    pub fn emit(self) {
        tracing::debug!(cap = self.cap, "live stream refused: too many open");
        COUNTERS.streams_refused_total.fetch_add(1, Relaxed);
    }
}

/// An answer from OVH passed the size cap: dropped unread, the session kept.
pub struct AnswerTooLarge<'a> {
    pub token: &'a TokenId,
    pub limit: usize,
}

impl AnswerTooLarge<'_> {
    pub fn emit(self) {
        tracing::error!(token = %self.token, limit = self.limit, "an answer from OVH was larger than --max-answer-bytes; dropped unread (raise the cap if OVH's answers really are this large)");
        COUNTERS.answers_too_large_total.fetch_add(1, Relaxed);
    }
}

/// The service stopped while the store could not write: a poll's events could not be kept.
pub struct EventsAbandoned<'a> {
    pub token: &'a TokenId,
    pub events: usize,
}

impl EventsAbandoned<'_> {
    pub fn emit(self) {
        tracing::error!(token = %self.token, events = self.events, "stopping with events the store could not write; they are lost");
        COUNTERS
            .events_abandoned_total
            .fetch_add(self.events as u64, Relaxed);
    }
}

pub struct RecordsWritten {
    pub calls: usize,
    pub callers: usize,
    pub expired: usize,
}

impl RecordsWritten {
    /// Counts the records among a batch's changes.
    pub fn count(&mut self, changes: &[crate::engine::Change]) {
        use crate::engine::{CallOutcome, Change};
        for change in changes {
            match change {
                Change::CallFinished(c) => {
                    self.calls += 1;
                    self.expired += usize::from(c.outcome == CallOutcome::Unknown);
                }
                Change::CallerLeft(j) => {
                    self.callers += 1;
                    self.expired += usize::from(j.reason == "expired");
                }
                _ => {}
            }
        }
    }

    pub fn emit(self) {
        if self.expired > 0 {
            tracing::info!(
                expired = self.expired,
                "calls or callers expired: their end never came"
            );
        }
        COUNTERS
            .calls_finished_total
            .fetch_add(self.calls as u64, Relaxed);
        COUNTERS
            .callers_left_total
            .fetch_add(self.callers as u64, Relaxed);
        COUNTERS
            .expired_total
            .fetch_add(self.expired as u64, Relaxed);
    }
}

pub struct BoardReset<'a> {
    pub token: &'a TokenId,
    pub why: &'static str,
}

impl BoardReset<'_> {
    pub fn emit(self) {
        tracing::info!(token = %self.token, why = self.why, "board reset");
        COUNTERS.resets_total.fetch_add(1, Relaxed);
    }
}

/// A commit of this instance found another's epoch on a token's lease: it took the token
/// over (this instance paused, or lost the database, past its lease) and this one stops.
pub struct LeaseLost<'a> {
    pub token: &'a TokenId,
}

impl LeaseLost<'_> {
    pub fn emit(self) {
        tracing::warn!(token = %self.token, "another instance took this token over: its events were not committed here");
        COUNTERS.leases_lost_total.fetch_add(1, Relaxed);
    }
}

/// This instance took a token's lease (at start, or over from one that stopped or died).
pub struct LeaseTaken<'a> {
    pub token: &'a TokenId,
    pub epoch: i64,
}

impl LeaseTaken<'_> {
    pub fn emit(self) {
        tracing::info!(token = %self.token, epoch = self.epoch, "following this token (lease taken)");
        COUNTERS.leases_taken_total.fetch_add(1, Relaxed);
    }
}

/// Events another instance stored, applied to this one's mirror of the token's board.
pub struct EventsMirrored<'a> {
    pub token: &'a TokenId,
    pub events: usize,
}

impl EventsMirrored<'_> {
    pub fn emit(self) {
        tracing::debug!(token = %self.token, events = self.events, "events shown from another instance");
        COUNTERS
            .mirrored_events_total
            .fetch_add(self.events as u64, Relaxed);
    }
}

/// This instance gave a lease back, holding more than its share of the tokens.
pub struct LeaseGiven<'a> {
    pub token: &'a TokenId,
}

impl LeaseGiven<'_> {
    pub fn emit(self) {
        tracing::info!(token = %self.token, "gave this token to another instance (balancing)");
        COUNTERS.leases_given_total.fetch_add(1, Relaxed);
    }
}

pub struct StoreFailed<'a> {
    pub error: &'a dyn std::fmt::Display,
}

impl StoreFailed<'_> {
    pub fn emit(self) {
        tracing::error!(error = %self.error, "database transaction failed");
        COUNTERS.store_errors_total.fetch_add(1, Relaxed);
    }
}

pub struct LoginAttempt<'a> {
    pub token: Option<&'a TokenId>,
    pub outcome: &'static str,
}

impl LoginAttempt<'_> {
    pub fn emit(self) {
        match self.token {
            Some(t) if self.outcome == "ok" => {
                tracing::info!(token = %t, "login");
                COUNTERS.logins_total.fetch_add(1, Relaxed);
            }
            _ => {
                tracing::info!(outcome = self.outcome, "login refused");
                COUNTERS.logins_refused_total.fetch_add(1, Relaxed);
            }
        }
    }
}

/// One retention pass: what it deleted, and whether it stopped at its bound with more to do
/// (the next pass continues).
pub struct RowsPruned {
    pub pruned: crate::store::retention::Pruned,
    pub more: bool,
}

impl RowsPruned {
    pub fn emit(self) {
        let p = self.pruned;
        if p.total() > 0 {
            tracing::info!(
                outbox = p.outbox,
                deliveries = p.deliveries,
                events = p.events,
                more = self.more,
                "old rows pruned"
            );
        }
        COUNTERS
            .pruned_outbox_total
            .fetch_add(p.outbox as u64, Relaxed);
        COUNTERS
            .pruned_deliveries_total
            .fetch_add(p.deliveries as u64, Relaxed);
        COUNTERS
            .pruned_events_total
            .fetch_add(p.events as u64, Relaxed);
    }
}

/// A token typed at the login page, checked with OVH: `accepted`, `refused` or `unreachable`.
pub struct TokenChecked<'a> {
    pub token: &'a TokenId,
    pub verdict: &'static str,
    pub detail: &'a str,
}

impl TokenChecked<'_> {
    pub fn emit(self) {
        tracing::info!(token = %self.token, verdict = self.verdict, detail = self.detail, "token checked with OVH");
        COUNTERS.token_checks_total.fetch_add(1, Relaxed);
        match self.verdict {
            "refused" => COUNTERS.token_checks_refused_total.fetch_add(1, Relaxed),
            "unreachable" => COUNTERS
                .token_checks_unreachable_total
                .fetch_add(1, Relaxed),
            _ => 0,
        };
    }
}

/// A followed token paused, resumed or removed, and why.
pub struct TokenChanged<'a> {
    pub token: &'a TokenId,
    /// `paused`, `resumed` or `removed`.
    pub change: &'static str,
    pub reason: &'a str,
}

impl TokenChanged<'_> {
    pub fn emit(self) {
        tracing::info!(token = %self.token, reason = self.reason, "token {}", self.change);
        match self.change {
            "paused" => COUNTERS.tokens_paused_total.fetch_add(1, Relaxed),
            "removed" => COUNTERS.tokens_removed_total.fetch_add(1, Relaxed),
            _ => 0,
        };
    }
}

/// A queue's counters at OVH came to differ from ours over a period the service followed
/// whole (`supervise::cross_check`): events were lost on the way.
pub struct OvhCountsDiffer<'a> {
    pub org: i64,
    pub queue: &'a str,
    pub ovh: (u64, u64),
    pub ours: (u64, u64),
}

impl OvhCountsDiffer<'_> {
    pub fn emit(self) {
        tracing::warn!(
            org = self.org,
            queue = self.queue,
            ovh_total = self.ovh.0,
            ovh_answered = self.ovh.1,
            ours_total = self.ours.0,
            ours_answered = self.ours.1,
            "OVH's queue counters and ours differ beyond the tolerance: events may have been lost"
        );
        COUNTERS.ovh_counts_differ_total.fetch_add(1, Relaxed);
    }
}

/// The followed tokens' feeds by state (`failing` ones are backing off), how many OVH refuses,
/// and how many tokens known at start are not followed yet: a few series whatever the number
/// of tokens.
pub fn render_feeds(out: &mut String, counts: &crate::feed::health::Counts, pending: usize) {
    let _ = writeln!(out, "# HELP ovh_cti_feeds Followed tokens' feeds by state (failing: backing off before the next try).");
    let _ = writeln!(out, "# TYPE ovh_cti_feeds gauge");
    for (state, n) in &counts.by_state {
        let _ = writeln!(out, "ovh_cti_feeds{{state=\"{state}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP ovh_cti_feeds_refused Feeds OVH refuses now (a 4xx: the token expired or was deleted).");
    let _ = writeln!(out, "# TYPE ovh_cti_feeds_refused gauge");
    let _ = writeln!(out, "ovh_cti_feeds_refused {}", counts.refused);
    let _ = writeln!(out, "# HELP ovh_cti_tokens_pending Tokens known at start not followed yet (/readyz is 503 until 0).");
    let _ = writeln!(out, "# TYPE ovh_cti_tokens_pending gauge");
    let _ = writeln!(out, "ovh_cti_tokens_pending {pending}");
}

/// Series per token (`--metrics-per-token`), labelled with the token's one-way id.
pub fn render_per_token(out: &mut String, feeds: &[(TokenId, crate::feed::FeedHealth)]) {
    let series = [
        (
            "feed_up",
            "gauge",
            "1 while the token's feed is connected or silent, 0 otherwise.",
        ),
        (
            "feed_polls_total",
            "counter",
            "Successful polls of the token's feed.",
        ),
        (
            "feed_events_total",
            "counter",
            "Events the token's feed brought.",
        ),
        (
            "feed_failures",
            "gauge",
            "Consecutive failed polls of the token's feed.",
        ),
    ];
    for (name, kind, help) in series {
        let _ = writeln!(out, "# HELP ovh_cti_{name} {help}");
        let _ = writeln!(out, "# TYPE ovh_cti_{name} {kind}");
        for (id, h) in feeds {
            let value = match name {
                "feed_up" => u64::from(matches!(h.state, "connected" | "silent")),
                "feed_polls_total" => h.polls,
                "feed_events_total" => h.events_received,
                _ => u64::from(h.consecutive_failures),
            };
            let _ = writeln!(out, "ovh_cti_{name}{{token_id=\"{id}\"}} {value}");
        }
    }
}

/// Messages published, and those that could not be (each logged by the sink).
pub struct Published {
    pub target: crate::publish::Target,
    pub messages: usize,
    pub failed: usize,
}

impl Published {
    pub fn emit(self) {
        tracing::debug!(
            target_name = self.target.as_str(),
            messages = self.messages,
            failed = self.failed,
            "published"
        );
        COUNTERS
            .published_total
            .fetch_add(self.messages as u64, Relaxed);
        COUNTERS
            .publish_failed_total
            .fetch_add(self.failed as u64, Relaxed);
    }
}

/// A batch dropped before publishing: the queue to a publisher was full.
pub struct PublishDropped {
    pub target: crate::publish::Target,
}

impl PublishDropped {
    pub fn emit(self) {
        // Counted every time, logged at most once a minute: a NATS outage drops many.
        static LOGGED: AtomicU64 = AtomicU64::new(0);
        COUNTERS.publish_dropped_total.fetch_add(1, Relaxed);
        let minute = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 60);
        if LOGGED.swap(minute, Relaxed) != minute {
            tracing::warn!(
                target_name = self.target.as_str(),
                "publishing falls behind: batches are dropped (ovh_cti_publish_dropped_total)"
            );
        }
    }
}
