//! A fake of OVHcloud's telephony event API and of its REST API, with believable traffic.
//!
//! It exists so that the project can be demonstrated, developed and tested without an OVH
//! account: `ovh-cti demo` and `ovh-cti simulate` run it, and tests and benchmarks use its
//! generator directly. Its parts:
//!
//! - [`account`]: a simulated billing account (lines, call queues, two tokens), derived from a seed;
//! - [`traffic`]: a pure, deterministic generator of API v1-shaped events — incoming, outgoing and
//!   internal calls, missed and unanswered ones, overlapping calls on a two-channel line,
//!   registrations, and queue callers offered to every agent at once (ring-all), answered,
//!   hanging up or timing out;
//! - [`server`]: the HTTP API, v1 long polling (`GET /?token=…&session=…`) and v2 sessions
//!   (`/v2/session…`), paced on the wall clock, with optional random faults;
//! - [`faults`]: faults on demand for tests — hangs, slow or cut bodies, 5xx bursts, resets,
//!   rejected sessions, replayed batches, an unreachable upstream — and the record of every
//!   event emitted, to prove that a client lost nothing (see [`Simulator::serve_with_faults`]);
//! - [`rest`]: OVH's REST API v1 under `/1.0` on the same server — see below.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ovh_cti::simulate::{SimConfig, Simulator};
//! let sim = Simulator::new(SimConfig::default());
//! for t in sim.tokens() {
//!     println!("{}: {}", t.label, t.token);
//! }
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! sim.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! Where OVH's behaviour is unknown the simulator makes a documented choice: a malformed token is
//! answered `400`, a well-formed token the account does not know `403`, an unknown v2 session
//! `404`; v1 sessions (and v2 ones) not polled for [`SimConfig::session_ttl`] are forgotten;
//! an answer's events are kept until the client acknowledges them (v1: its `Session` is a
//! cursor, `<id>.<n>`) — see [`server`].
//!
//! # OVH's REST API (`/1.0`)
//!
//! The server also fakes the telephony part of OVH's REST API v1 that a call-centre dashboard
//! uses (`shared/ovh-rest.md` §2–9, 11), under `/1.0` and its alias `/v1`, in OVH's shapes
//! (camelCase fields, enums as strings, collections as lists of ids, `null` for void):
//! `/auth/time`, `/auth/credential` and its validation page, `/auth/currentCredential`;
//! `/telephony`, the billing account (`sm<id>-ovh-1`), its lines (with
//! `simultaneousChannelsDetails` and `click2Call`), numbers, services, tasks and event token;
//! the `easyHunting/{sn}` and `ovhPabx/{sn}` hunting services and their `…/hunting` subtree
//! (custom statuses, the queue, agents and their queues, live status, live statistics, live
//! calls and the supervisor's actions).
//!
//! **Keys.** [`Simulator::api_keys`]: one application (key and secret) and one consumer key
//! validated from the start, with `GET/PUT/POST/DELETE` on `/telephony` and `/telephony/*` and
//! `GET /auth/currentCredential` — derived from the seed, so a demo and its tests share them.
//! `POST /1.0/auth/credential` makes more consumer keys; each is validated on the simulator's
//! own page (the `validationUrl`, built from the request's `Host`), which then redirects to
//! the `redirection` given, or by [`Faults::validate_credential`].
//!
//! **It is not canned.** An agent logged out or on a break, or taken out of a queue, is
//! offered no more of its callers; click-to-call rings the line, then the number called, on the
//! feed; `eavesdrop`/`whisper` ring the supervisor's line (when it is the account's) until the
//! call ends; `hangup`, `transfer` and `intercept` change the call on the feed; live statistics,
//! live calls and agents' live statuses are counted from the very events the feed emits; an
//! event token made with `POST …/eventToken` is accepted by the feed until deleted or expired.
//! Left alone, the traffic is exactly what it was before the REST API existed.
//!
//! Ids: a queue's `queueId` is its OVH id (a number); an agent's `agentId` is 1,000,000 plus its
//! line's OVH id; the custom statuses are 1001 "Pause" and 1002 "Réunion". Tests steer it with
//! [`Faults::inject_rest`] (the next answers fail with 403, 404, 429 — optionally with
//! `Retry-After` —, 500, 502 or 503 and OVH-like bodies), [`Faults::refuse_signatures`],
//! [`Faults::expire_credential`] and [`Faults::advance_clock`] (the API clock and the traffic
//! move ahead at once).
//!
//! Where OVH's behaviour is unknown, the REST fake's choices:
//! - checks in OVH's order: application key (`403 INVALID_KEY`), consumer key
//!   (`403 NOT_CREDENTIAL`), validated (`403 INVALID_CREDENTIAL` — a pending key gets this,
//!   not `400 INVALID_SIGNATURE`), timestamp within 60 s of the API clock (else
//!   `400 INVALID_SIGNATURE` "Query out of time"), signature over the URL as received
//!   (`http://` + `Host` + path and query) and the raw body (`400 INVALID_SIGNATURE`), rate
//!   limit, access rules (`403 NOT_GRANTED_CALL`);
//! - rate limit: more than 60 signed requests by one consumer key in a rolling minute (every
//!   request past the signature counts, refused or not) get `429` `TOO_MANY_REQUESTS` with
//!   `Retry-After` (seconds until the oldest leaves the minute); unsigned calls do not count;
//! - error bodies carry both generations of OVH's fields, `class`, `errorCode`, `httpCode` and
//!   `message`; `errorCode` is OVH's where one is known, else the simulator's from the status
//!   (`INVALID_PARAMETER`, `NOT_FOUND`, `CONFLICT`, `TOO_MANY_REQUESTS`,
//!   `INTERNAL_SERVER_ERROR`, `BAD_GATEWAY`, `SERVICE_UNAVAILABLE`); an unknown path or method
//!   is `404` "Got an invalid (or empty) URL", an unknown billing account or service `404`
//!   "This service does not exist", an unknown object `404` "The requested object (agent) does
//!   not exist"; every answer has an `X-Ovh-Queryid`;
//! - `*` in an access rule matches any run of characters, `/` included (so mid-path wildcards
//!   work); `/telephony/*` does not cover `/telephony`; `allowedIPs` are checked and shown, not
//!   enforced; validated keys never expire unless a test expires them;
//! - the two hunting services share their agents (one per line answering a queue, listed under
//!   both): the status is per agent, so a break stops offers from every queue, while
//!   membership is per queue; `PUT` of an agent is partial, refuses read-only (`agentId`,
//!   `number`, `type`) and unknown fields with `400`, and leaving `onBreak` without a
//!   `breakStatus` clears it;
//! - an agent who goes away is offered no new round: a caller it was about to answer is
//!   answered by another agent ringing then, or gives up (`BREAK_OUT`); an offer already
//!   ringing rings on until its round ends. An agent back, or added to a queue, is offered the
//!   callers who join from then on;
//! - live-call actions answer a task already `done` or in `error` (with the reason in
//!   `message`: a call already answered for `intercept`, not answered for `transfer`, a target
//!   line with no free channel), `serviceType` `alias`, kept for `GET …/task/{id}` (the last
//!   1,000); a number outside the account is called but unseen on the feed; a caller hung up
//!   or intercepted while waiting leaves the queue `Cancel`/`BREAK_OUT`; `hold` toggles
//!   `onHold` and emits nothing (OVH's recorded feeds have no hold events);
//! - click-to-call works on SIP lines only (`400` otherwise), not to the line's own number;
//!   `callingNumber` is checked and otherwise ignored; a line with no free channel is `409`;
//!   with `intercom` the line answers at once;
//! - one billing-account event token at a time: `POST` replaces it and it lasts as asked;
//!   `GET` without one is `404`; the seeded tokens keep working;
//! - live statistics restart at midnight, Paris time; `totalWaitingDuration` adds every
//!   caller's wait (to the answer, or to leaving); an agent's `answeredCalls` and
//!   `totalCallDuration` are today's.

pub mod account;
mod control;
pub mod faults;
mod pace;
pub mod rest;
pub mod server;
pub mod traffic;
mod wire;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::Duration;

pub use account::{mask_token, normalize_token, SimAccount, SimLine, SimQueue, SimToken};
pub use faults::{Fault, Faults};
pub use rest::{RestFault, SimApiKeys};
pub use traffic::{generate, SimEvent, TrafficGen};

/// What kind of day the simulated call centre has (`--scenario`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// A well-run small call centre: most queue callers answered, most of them quickly, a few
    /// abandons, believable waits.
    #[default]
    Normal,
    /// Twice and a half the calls, agents stretched: long waits, many abandons.
    Busy,
    /// Half the calls, answered at once.
    Calm,
    /// Normal traffic, but OVH's feed fails half its answers (502s and cut bodies): the
    /// dashboard shows its feed failing and catching up.
    Outage,
}

impl Scenario {
    /// Calls per minute, relative to `rate_per_min`.
    pub fn rate_factor(self) -> f64 {
        match self {
            Scenario::Busy => 2.5,
            Scenario::Calm => 0.5,
            Scenario::Normal | Scenario::Outage => 1.0,
        }
    }

    /// The fault rate it sets, when the command line gives none.
    pub fn fault_rate(self) -> f64 {
        if self == Scenario::Outage {
            0.5
        } else {
            0.0
        }
    }

    /// Of the queue callers, the share willing to wait for an agent (the others hang up or
    /// reach the queue's time-out); and the mean wait before an agent picks up, in seconds.
    pub(crate) fn queue_patience(self) -> (f64, f64) {
        match self {
            Scenario::Normal | Scenario::Outage => (0.93, 7.0),
            Scenario::Busy => (0.75, 25.0),
            Scenario::Calm => (0.98, 4.0),
        }
    }
}

/// Settings of the simulator.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seed of the account (numbers, tokens) and of the traffic.
    pub seed: u64,
    /// Mean number of calls started per minute (0 = registrations only).
    pub rate_per_min: f64,
    /// How long a long poll is held open when there is nothing to say.
    pub hold: Duration,
    /// Probability (0–1) that a poll carrying events fails (a `502` with an HTML body, or a `200`
    /// whose JSON is cut in the middle); its events stay queued for the next poll.
    pub fault_rate: f64,
    /// After the first event is queued for a poll, how long to gather more so bursts come together.
    pub gather: Duration,
    /// A session not polled for this long is dropped.
    pub session_ttl: Duration,
    /// The kind of day: queue callers' patience and how fast agents answer.
    pub scenario: Scenario,
    /// Signed REST requests a consumer key may make in a rolling minute before `429`: OVH's
    /// guidance, 60, by default; tests and demos that read the account at once allow more.
    pub rest_rate: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            rate_per_min: 6.0,
            hold: Duration::from_secs(25),
            fault_rate: 0.0,
            gather: Duration::from_millis(50),
            session_ttl: Duration::from_secs(180),
            scenario: Scenario::Normal,
            rest_rate: 60,
        }
    }
}

/// The simulated OVH event API: an account and its traffic, served over HTTP.
#[derive(Debug, Clone)]
pub struct Simulator {
    config: SimConfig,
    account: SimAccount,
}

impl Simulator {
    /// A simulator for the account of `config.seed`.
    pub fn new(config: SimConfig) -> Self {
        let account = SimAccount::from_seed(config.seed);
        Simulator { config, account }
    }

    /// The tokens a client can poll with, labelled.
    pub fn tokens(&self) -> Vec<SimToken> {
        self.account.tokens()
    }

    /// The simulated account.
    pub fn account(&self) -> &SimAccount {
        &self.account
    }

    /// The REST API's application and pre-validated consumer key (derived from the seed).
    pub fn api_keys(&self) -> SimApiKeys {
        self.account.api_keys()
    }

    /// The billing account's name in the REST API (`sm<id>-ovh-1`).
    pub fn billing_account_name(&self) -> String {
        rest::billing_account_name(&self.account)
    }

    /// The settings.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Starts the real-time traffic and serves the API on `listener` until `shutdown` resolves;
    /// then answers the polls in progress (with no events) and returns once connections are closed.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        server::start(self.config, self.account, listener, shutdown, false)
            .1
            .await
    }

    /// Like [`Simulator::serve`], but returns at once a [`Faults`] handle — to inject faults
    /// while it runs and read the record of every event emitted — with the server's future,
    /// to spawn or await. Nothing runs until the future is polled, so the traffic can be
    /// paused before it starts ([`Faults::pause_traffic`]).
    pub fn serve_with_faults(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> (
        Faults,
        impl Future<Output = std::io::Result<()>> + Send + 'static,
    ) {
        server::start(self.config, self.account, listener, shutdown, true)
    }
}
