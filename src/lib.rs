//! ovh-cti: a self-hosted, real-time call dashboard and event hub for OVHcloud telephony.
//!
//! The data's path reads from the module names: `feed` (follow OVH's long polling) →
//! `normalise` (loose JSON into typed events) → `engine` (pure live state and figures) →
//! `store` (SQLite) and `hub` (live updates) → `web` (the HTTP API and stream). `ingest` is the
//! one writer that ties the engine and the store together; `hooks` sends screen pops and
//! webhooks through a durable outbox; `retention` prunes old rows in the background; `publish` sends events and states to NATS for
//! integrators. `service`
//! is what every part shares while running, `app` wires everything up (and nothing depends on
//! it) and `startup` follows the tokens known at start in the background, `shutdown` is the signal every task waits for; `limits` holds the size caps on what
//! users store; `cli` and `config` read what the operator asked for; `simulate` fakes OVH for
//! demos and tests.

pub mod app;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod engine;
pub mod feed;
pub mod hooks;
pub mod hub;
pub mod ingest;
pub mod limits;
pub mod net;
pub mod normalise;
pub mod outbound;
pub mod ovh_api;
pub mod password;
pub mod publish;
pub mod retention;
pub mod second_factor;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod simulate;
pub mod startup;
pub mod store;
pub mod supervise;
pub mod tally;
pub mod telemetry;
#[cfg(test)]
mod test_support;
pub mod token;
pub mod web;
