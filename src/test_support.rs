//! Helpers shared by the unit tests: the fixture files (kept in `tests/fixtures/`) and the
//! token they were recorded with.

use crate::normalise::{decode_v1_poll, Event};

pub const FIXTURE_TOKEN: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Every event of a `.v1.jsonl` fixture, in order, skipping the fault lines.
pub fn fixture_events(name: &str) -> Vec<Event> {
    fixture(name)
        .lines()
        .filter(|l| !l.contains("__status__"))
        .flat_map(|l| {
            decode_v1_poll(l.as_bytes(), FIXTURE_TOKEN, 0.0)
                .unwrap()
                .events
        })
        .map(Result::unwrap)
        .collect()
}
