//! The listening side: what a stranger's connection may hold. `axum::serve` keeps a
//! connection for as long as its client likes — 3,000 connections trickling their headers
//! were held for ever, and at 1,024 open files they stopped `/healthz` and even the poll to
//! OVH ("Too many open files"). So ovh-cti runs its own accept loop (`accept`): headers must
//! arrive within a time-out (idle keep-alive connections too), connections are capped below
//! the open-files limit so that the feed, the store and the webhooks always have files, and a
//! small lane beyond the cap serves `/healthz` alone, with a short time-out, so that health
//! checks keep working while the cap is reached.

mod accept;
mod files;

pub use accept::serve;
pub use files::raise_open_files_limit;

use std::time::Duration;

/// What the operator sets (`--max-connections`, `--header-timeout`, `--max-streams-per-*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Connections served at once; `None`: derived from the open-files limit.
    pub max_connections: Option<usize>,
    /// Time a client has to send a request's headers — and, on a kept-alive connection, to
    /// start its next request.
    pub header_timeout: Duration,
    /// Live streams one login session (or one bearer token) may hold.
    pub streams_per_session: usize,
    /// Live streams one client address may hold.
    pub streams_per_address: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: None,
            header_timeout: HEADER_TIMEOUT,
            streams_per_session: 8,
            streams_per_address: 64,
        }
    }
}

pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Files kept out of the connections' reach: the polls to OVH (one per followed token), the
/// login checks, the webhook deliveries in flight, SQLite's files and the log — at least this
/// many, or a quarter of the limit.
const RESERVED_FILES: u64 = 256;
/// The default cap on connections, however high the open-files limit: a dashboard for a call
/// centre does not need more, and each connection costs memory.
const DEFAULT_MAX_CONNECTIONS: u64 = 4096;
/// Connections served beyond the cap, for `/healthz` only.
pub const HEALTH_LANE: usize = 16;

/// The limits in force, once the open-files limit is known.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resolved {
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// Live streams in all: half the connections, so that streams never take every one.
    pub max_streams: usize,
    pub streams_per_session: usize,
    pub streams_per_address: usize,
}

impl Limits {
    /// The limits for a process allowed `open_files` files. A cap set higher than the files
    /// allow is lowered (and said so): the reserve is what keeps the feed and the store alive.
    pub fn resolve(&self, open_files: u64) -> Resolved {
        let room = open_files
            .saturating_sub(RESERVED_FILES.max(open_files / 4))
            .saturating_sub(HEALTH_LANE as u64)
            .max(16);
        let wanted = self
            .max_connections
            .map_or(room.min(DEFAULT_MAX_CONNECTIONS), |n| n as u64);
        if wanted > room {
            tracing::warn!(
                wanted,
                allowed = room,
                open_files,
                "--max-connections is above what the open-files limit allows with files kept for the feed and the store; lowered"
            );
        }
        let max_connections = wanted.min(room).max(1) as usize;
        Resolved {
            max_connections,
            header_timeout: self.header_timeout,
            max_streams: (max_connections / 2).max(1),
            streams_per_session: self.streams_per_session,
            streams_per_address: self.streams_per_address,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_stay_below_the_open_files_limit_with_files_kept_for_the_feed() {
        let common = Limits::default().resolve(1024);
        assert_eq!(common.max_connections, 1024 - 256 - HEALTH_LANE);
        assert_eq!(common.max_streams, common.max_connections / 2);
        let high = Limits::default().resolve(1 << 20);
        assert_eq!(high.max_connections, 4096);
        let asked = Limits {
            max_connections: Some(100_000),
            ..Limits::default()
        };
        assert_eq!(asked.resolve(1024).max_connections, common.max_connections);
        assert_eq!(asked.resolve(1 << 20).max_connections, 100_000);
        // Even a tiny limit leaves something to serve with.
        assert!(Limits::default().resolve(64).max_connections >= 16);
    }
}
