//! A fake of OVHcloud's telephony event API, with believable traffic.
//!
//! It exists so that the project can be demonstrated, developed and tested without an OVH
//! account: `ovh-cti demo` and `ovh-cti simulate` run it, and tests and benchmarks use its
//! generator directly. It has three parts:
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
//!   event emitted, to prove that a client lost nothing (see [`Simulator::serve_with_faults`]).
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

pub mod account;
pub mod faults;
pub mod server;
pub mod traffic;
mod wire;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::Duration;

pub use account::{mask_token, normalize_token, SimAccount, SimLine, SimQueue, SimToken};
pub use faults::{Fault, Faults};
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
