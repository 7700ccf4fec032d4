//! Whether the store can write right now, as the health report and the dashboard show it.
//!
//! The ingest thread marks it failing when a commit fails (disk full, read-only file, I/O
//! error) and working again at the next commit that succeeds. While it fails, the boards are
//! still served read-only and the feeds pause with their sessions kept, so nothing is lost;
//! this is how users and operators learn why nothing new appears.

use crate::clock::{as_rfc3339, UnixTime};
use parking_lot::RwLock;
use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StoreHealth {
    /// `ok` or `failing`.
    pub state: &'static str,
    pub last_error: Option<String>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub failing_since: Option<UnixTime>,
    pub failed_commits: u64,
}

#[derive(Default)]
pub struct StoreStatus(RwLock<StoreHealth>);

impl StoreStatus {
    /// Notes a failed write; true when the store was working until now.
    pub fn failed(&self, error: &str, now: UnixTime) -> bool {
        let mut s = self.0.write();
        let was_ok = s.failing_since.is_none();
        s.state = "failing";
        s.last_error = Some(error.chars().take(300).collect());
        s.failing_since.get_or_insert(now);
        s.failed_commits += 1;
        was_ok
    }

    /// Notes a commit that wrote rows; true when the store was failing until now.
    pub fn committed(&self) -> bool {
        // Most commits find it working: read first, write only on a change.
        if self.0.read().failing_since.is_none() {
            return false;
        }
        let mut s = self.0.write();
        s.state = "ok";
        s.failing_since.take().is_some()
    }

    pub fn is_failing(&self) -> bool {
        self.0.read().failing_since.is_some()
    }

    pub fn get(&self) -> StoreHealth {
        let s = self.0.read();
        StoreHealth {
            state: if s.failing_since.is_some() {
                "failing"
            } else {
                "ok"
            },
            ..s.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_until_a_commit_succeeds_and_the_first_failure_is_kept() {
        let s = StoreStatus::default();
        assert_eq!(s.get().state, "ok");
        assert!(s.failed("database or disk is full", 10.0), "a change");
        assert!(!s.failed("database or disk is full", 20.0), "no change");
        let h = s.get();
        assert_eq!(
            (h.state, h.failing_since, h.failed_commits),
            ("failing", Some(10.0), 2)
        );
        assert!(s.committed());
        assert!(!s.committed());
        let h = s.get();
        assert_eq!((h.state, h.failing_since), ("ok", None));
        assert_eq!(h.last_error.as_deref(), Some("database or disk is full"));
    }
}
