//! Time, injected: the service reads the wall clock through `Clock` so that tests can drive
//! expiry, midnight resets and feed health with a `ManualClock` instead of sleeping.

use parking_lot::Mutex;
use std::sync::Arc;

/// Seconds since 1970 (UTC) as a float: the unit every time in the engine and store uses.
pub type UnixTime = f64;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> UnixTime;
}

pub type SharedClock = Arc<dyn Clock>;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        d.as_secs_f64()
    }
}

/// A clock that only moves when told to.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<UnixTime>>);

impl ManualClock {
    pub fn new(start: UnixTime) -> Self {
        ManualClock(Arc::new(Mutex::new(start)))
    }
    pub fn set(&self, t: UnixTime) {
        *self.0.lock() = t;
    }
    pub fn advance(&self, seconds: f64) {
        *self.0.lock() += seconds;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        *self.0.lock()
    }
}

/// RFC 3339 in UTC, with a fraction only when there is one (`2024-11-26T09:36:40Z`).
pub fn rfc3339(t: UnixTime) -> String {
    let secs = t.floor();
    let nanos = ((t - secs) * 1e9).round().min(999_999_999.0) as u32;
    match chrono::DateTime::from_timestamp(secs as i64, nanos) {
        Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => String::new(),
    }
}

/// Parses an RFC 3339 time (any offset) into Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<UnixTime> {
    let dt = chrono::DateTime::parse_from_rfc3339(s.trim()).ok()?;
    Some(dt.timestamp() as f64 + f64::from(dt.timestamp_subsec_nanos()) / 1e9)
}

/// Durations are reported to the millisecond: timestamps arrive in nanoseconds and their
/// float differences otherwise show noise such as 5.999999.
pub fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_whole_and_fractional_seconds() {
        assert_eq!(rfc3339(1732613800.0), "2024-11-26T09:36:40Z");
        assert_eq!(rfc3339(1732613800.25), "2024-11-26T09:36:40.250Z");
        assert_eq!(
            parse_rfc3339("2024-11-26T10:36:40+01:00"),
            Some(1732613800.0)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}

/// Serde helpers that write `UnixTime` fields as RFC 3339 strings in API answers.
pub mod as_rfc3339 {
    use super::{rfc3339, UnixTime};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(t: &UnixTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(*t))
    }

    pub mod option {
        use super::*;
        pub fn serialize<S: Serializer>(t: &Option<UnixTime>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&rfc3339(*t)),
                None => s.serialize_none(),
            }
        }
    }
}
