//! The fault suite (issue 7, "Loses nothing, proven"): the service against the project's
//! simulated OVH while it misbehaves on purpose — hanging, trickling, 5xx bursts, cut JSON,
//! reset connections, rejected sessions (every form, v1 and v2), replayed batches, a minute
//! unreachable — and while the service's own store fails, it is stopped with SIGTERM mid-poll,
//! or killed with `kill -9` again and again.
//!
//! Every test proves, event by event, that nothing was lost or duplicated (the store against
//! the fake's record of what it emitted), that history holds each call and each queue caller
//! once, that the file passes `PRAGMA integrity_check`, and that the live figures equal the
//! truth counted from the raw events. Each prints one line —
//! `fault: <name> recovered_in_ms=<n> lost=<n> duplicated=<n>` — also appended to
//! `target/tmp/faults-report.txt`; docs/reliability.md quotes them.
//!
//! Long faults run at full length; the tests run in parallel. `FAULTS_QUICK=1` shortens them.

#[path = "../support/binary.rs"]
mod binary;

mod audit;
mod harness;
mod truth;

mod feed;
mod process;
mod sessions;
mod store;
