//! How often a live stream carries a state message. Each committed batch brings the lines and
//! queues it changed and every call in progress; a feed committing a hundred times a second
//! sent each dashboard every call in progress a hundred times a second (60 % of what it read,
//! `benches/fanout.rs`). A client now gets at most one state message per `STATE_EVERY`:
//! between them, events, finished calls and the rest go out at once, and the state they
//! changed waits, merged (`hub::states`), until it may go. A calm feed is not delayed: an
//! update arriving after a quiet spell goes out whole at once, as the shared text the ingest
//! thread rendered.

use crate::hub::{self, Update};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// At most one state message per client in this time.
pub const STATE_EVERY: Duration = Duration::from_millis(100);

/// One write to a client's stream, and whether it holds screen pops (filtered per user).
pub struct Write {
    pub text: Bytes,
    pub pops: bool,
}

impl From<String> for Write {
    fn from(text: String) -> Write {
        Write {
            text: text.into(),
            pops: false,
        }
    }
}

/// A client's updates not yet written, and the state it is owed.
pub struct Pacing {
    /// Taken from the hub, not written at all.
    pub waiting: Vec<Arc<Update>>,
    /// Written but for their state.
    owed: Vec<Arc<Update>>,
    last_state: Instant,
}

impl Pacing {
    pub fn new(now: Instant) -> Pacing {
        Pacing {
            waiting: Vec::new(),
            owed: Vec::new(),
            last_state: now.checked_sub(STATE_EVERY).unwrap_or(now),
        }
    }

    pub fn owes_state(&self) -> bool {
        !self.owed.is_empty()
    }

    /// When the state owed may go.
    pub fn state_due(&self) -> Instant {
        self.last_state + STATE_EVERY
    }

    /// Drops everything: the client is sent the whole state instead.
    pub fn forget(&mut self) {
        self.waiting.clear();
        self.owed.clear();
    }

    /// The write due at `now`: the log messages of the updates waiting, and the state they
    /// and those owed changed if a state message may go (else it is owed). `None`: nothing.
    pub fn write(&mut self, now: Instant) -> Option<Write> {
        let state_may_go = now >= self.state_due();
        if state_may_go && self.owed.is_empty() && !self.waiting.is_empty() {
            if self.waiting.iter().any(|u| u.changes_state()) {
                self.last_state = now;
            }
            let (text, pops) = hub::coalesce(&self.waiting);
            self.waiting.clear();
            return Some(Write { text, pops });
        }
        let (mut out, pops) = hub::logs(&self.waiting);
        self.owed
            .extend(self.waiting.drain(..).filter(|u| u.changes_state()));
        if state_may_go && !self.owed.is_empty() {
            hub::states(&self.owed, &mut out);
            self.owed.clear();
            self.last_state = now;
        }
        (!out.is_empty()).then(|| Write {
            text: out.freeze(),
            pops,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn token() -> crate::token::TokenId {
        crate::token::Token::parse("3F2504E0-4F89-11D3-9A0C-0305E82C3301")
            .unwrap()
            .id()
    }

    #[derive(serde::Serialize)]
    struct Line {
        number: String,
        status: String,
    }

    impl crate::hub::Numbered for Line {
        fn number(&self) -> &str {
            &self.number
        }
    }

    fn line(number: &str, status: &str) -> Line {
        Line {
            number: number.into(),
            status: status.into(),
        }
    }

    /// An event message, then the state with `lines` changed.
    fn update(event: u32, lines: &[Line]) -> Arc<Update> {
        Arc::new(Update::with_state(
            token(),
            format!("event: event\ndata: {event}\n\n"),
            false,
            lines,
            &[] as &[Line],
            &[] as &[Line],
        ))
    }

    /// What a page holds after reading `writes`: the events in order, each line's state.
    fn page(writes: &[Bytes]) -> (Vec<Value>, std::collections::BTreeMap<String, Value>, usize) {
        let (mut events, mut lines, mut states) = (Vec::new(), Default::default(), 0);
        for w in writes {
            for m in std::str::from_utf8(w).unwrap().split_terminator("\n\n") {
                let (kind, data) = m
                    .strip_prefix("event: ")
                    .unwrap()
                    .split_once("\ndata: ")
                    .unwrap();
                let data: Value = serde_json::from_str(data).unwrap();
                match kind {
                    "event" => events.push(data),
                    "state" => {
                        states += 1;
                        for l in data["lines"].as_array().unwrap() {
                            let l: &Value = l;
                            std::collections::BTreeMap::insert(
                                &mut lines,
                                l["number"].as_str().unwrap().to_string(),
                                l["status"].clone(),
                            );
                        }
                    }
                    other => panic!("unexpected {other}"),
                }
            }
        }
        (events, lines, states)
    }

    #[test]
    fn a_fast_feed_sends_every_event_at_once_and_the_state_merged_at_most_every_interval() {
        let start = Instant::now();
        let mut pacing = Pacing::new(start);
        let mut writes = Vec::new();
        let ms = |n: u64| start + Duration::from_millis(n);

        // After a quiet spell an update goes out whole, as the shared text.
        let first = update(1, &[line("A", "ringing")]);
        pacing.waiting.push(first.clone());
        let w = pacing.write(ms(0)).unwrap();
        assert_eq!(w.text, first.sse, "the rendered text itself, not a copy");
        writes.push(w.text);

        // Then, within the interval, only the events go; the state is owed.
        for (at, (event, number, status)) in [
            (10, (2, "A", "in_call")),
            (40, (3, "B", "ringing")),
            (70, (4, "A", "free")),
        ] {
            pacing.waiting.push(update(event, &[line(number, status)]));
            let w = pacing.write(ms(at)).unwrap();
            assert!(!std::str::from_utf8(&w.text)
                .unwrap()
                .contains("event: state"));
            writes.push(w.text);
        }
        assert!(pacing.owes_state());
        assert_eq!(pacing.state_due(), ms(100));
        assert!(
            pacing.write(ms(99)).is_none(),
            "nothing new, and not yet due"
        );

        // When due, one state message with each line at its latest.
        writes.push(pacing.write(ms(100)).unwrap().text);
        assert!(!pacing.owes_state());

        let (events, lines, states) = page(&writes);
        assert_eq!(events, [json!(1), json!(2), json!(3), json!(4)]);
        assert_eq!(states, 2, "four changes, two state messages");
        assert_eq!(lines["A"], "free");
        assert_eq!(lines["B"], "ringing");

        // A client that falls behind gets the whole state instead: nothing owed remains.
        pacing.waiting.push(update(5, &[line("B", "free")]));
        pacing.write(ms(150));
        assert!(pacing.owes_state());
        pacing.forget();
        assert!(!pacing.owes_state() && pacing.write(ms(300)).is_none());
    }
}
