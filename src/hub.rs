//! The hub: live updates for the dashboards. The ingest thread publishes one `Update` per
//! committed batch, already rendered as Server-Sent Events text, so that a burst of events
//! costs one serialisation however many clients listen. A client that keeps up writes each
//! update's text as it is (a shared `Bytes`, no copy); one that finds several waiting writes
//! them in one go, coalesced by `coalesce`: every log message (events, finished calls, journal
//! entries, screen pops…) but one state message, with each line and queue at its latest — a
//! client that fell behind catches up with less to read, not more. A client also gets at most
//! a few state messages a second however fast the feed: between them, log messages go out at
//! once and the state waits, merged (see `web::stream`).

use crate::token::TokenId;
use bytes::{Bytes, BytesMut};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Changes for one token, as SSE text (`event: …\ndata: …\n\n` messages).
#[derive(Debug)]
pub struct Update {
    pub token: TokenId,
    /// The whole text: the log messages, then the state message if there is one.
    pub sse: Bytes,
    /// Whether the text holds screen pops (which each client filters for its user).
    pub pops: bool,
    /// Where the state message starts in `sse` (its length when there is none).
    state_at: usize,
    /// The state message's parts, to merge it with the ones of the updates around it.
    state: Option<StateParts>,
}

/// A state message, in parts.
#[derive(Debug)]
struct StateParts {
    /// The whole state, replacing what the page had (after a reset of the figures).
    reset: bool,
    /// Each line that changed: its number, its JSON, and the calls in progress on it (JSON
    /// objects separated by commas, or nothing).
    lines: Vec<(String, (Bytes, Bytes))>,
    /// Each queue that changed: its number and its JSON.
    queues: Vec<(String, Bytes)>,
}

impl Update {
    /// Whether it changes the state (a write of only its log messages leaves that owed).
    pub fn changes_state(&self) -> bool {
        self.state.is_some()
    }

    /// Messages that each must reach the client (no state to merge).
    pub fn log(token: TokenId, sse: String) -> Update {
        Update {
            token,
            state_at: sse.len(),
            sse: sse.into(),
            pops: false,
            state: None,
        }
    }

    /// `log` messages (with screen pops when `pops`), then a state message: the lines and
    /// queues that changed, and the calls in progress on those lines (taken from `calls`,
    /// every call in progress). A line's calls change only with the line, so the page keeps
    /// the calls of the lines a message does not name.
    pub fn with_state(
        token: TokenId,
        log: String,
        pops: bool,
        lines: &[impl Numbered],
        queues: &[impl Numbered],
        calls: &[impl Numbered],
    ) -> Update {
        let calls_on = |number: &str| -> Bytes {
            let mut out = Vec::new();
            for call in calls.iter().filter(|c| c.number() == number) {
                if !out.is_empty() {
                    out.push(b',');
                }
                out.extend_from_slice(&json(call));
            }
            out.into()
        };
        let parts = StateParts {
            reset: false,
            lines: lines
                .iter()
                .map(|l| (l.number().to_string(), (json(l), calls_on(l.number()))))
                .collect(),
            queues: queues
                .iter()
                .map(|q| (q.number().to_string(), json(q)))
                .collect(),
        };
        let mut sse = BytesMut::from(log.as_bytes());
        let state_at = sse.len();
        let lines: Vec<_> = parts.lines.iter().map(|(_, l)| l).collect();
        let queues: Vec<_> = parts.queues.iter().map(|(_, q)| q).collect();
        state_message(&mut sse, &lines, &queues);
        Update {
            token,
            sse: sse.freeze(),
            pops,
            state_at,
            state: Some(parts),
        }
    }

    /// `log` messages, then the whole state (`state`, rendered as a `state` message marked
    /// `"reset": true`): the page replaces what it had.
    pub fn with_reset(
        token: TokenId,
        mut log: String,
        pops: bool,
        state: &impl Serialize,
    ) -> Update {
        let state_at = log.len();
        frame(&mut log, "state", state);
        Update {
            token,
            sse: log.into(),
            pops,
            state_at,
            state: Some(StateParts {
                reset: true,
                lines: Vec::new(),
                queues: Vec::new(),
            }),
        }
    }
}

/// A line or a queue: what a state message holds one of per number.
pub trait Numbered: Serialize {
    fn number(&self) -> &str;
}

impl Numbered for crate::engine::LineView {
    fn number(&self) -> &str {
        &self.number
    }
}

impl Numbered for crate::engine::ActiveCallView {
    fn number(&self) -> &str {
        &self.number
    }
}

impl Numbered for crate::engine::QueueView {
    fn number(&self) -> &str {
        &self.number
    }
}

fn json(value: &impl Serialize) -> Bytes {
    serde_json::to_vec(value)
        .unwrap_or_else(|_| b"null".to_vec())
        .into()
}

/// Appends `event: state` with `{"calls": […], "lines": […], "queues": […]}`: the lines' calls
/// gathered in one list.
fn state_message(out: &mut BytesMut, lines: &[&(Bytes, Bytes)], queues: &[&Bytes]) {
    let list = |out: &mut BytesMut, items: &mut dyn Iterator<Item = &Bytes>| {
        out.extend_from_slice(b"[");
        for (i, item) in items.filter(|i| !i.is_empty()).enumerate() {
            if i > 0 {
                out.extend_from_slice(b",");
            }
            out.extend_from_slice(item);
        }
        out.extend_from_slice(b"]");
    };
    out.extend_from_slice(b"event: state\ndata: {\"calls\":");
    list(out, &mut lines.iter().map(|(_, calls)| calls));
    out.extend_from_slice(b",\"lines\":");
    list(out, &mut lines.iter().map(|(line, _)| line));
    out.extend_from_slice(b",\"queues\":");
    list(out, &mut queues.iter().copied());
    out.extend_from_slice(b"}\n\n");
}

/// The text of `updates` (oldest first) in one write: their log messages, then one state
/// message for them all (see `states`). Also says whether the text holds screen pops.
pub fn coalesce(updates: &[Arc<Update>]) -> (Bytes, bool) {
    if let [one] = updates {
        return (one.sse.clone(), one.pops);
    }
    let (mut out, pops) = logs(updates);
    states(updates, &mut out);
    (out.freeze(), pops)
}

/// Every log message of `updates`, in order, and whether there are screen pops among them.
pub fn logs(updates: &[Arc<Update>]) -> (BytesMut, bool) {
    let mut out = BytesMut::new();
    for u in updates {
        out.extend_from_slice(&u.sse[..u.state_at]);
    }
    (out, updates.iter().any(|u| u.pops))
}

/// Appends to `out` one state message that leaves a page as all of `updates`' would: the last
/// whole state if one came, and after it every line and queue that changed since, each at its
/// latest with its calls in progress. (The page applies a state message by replacing the
/// lines and queues it names, and the calls of those lines.)
pub fn states(updates: &[Arc<Update>], out: &mut BytesMut) {
    let is_reset = |u: &Arc<Update>| u.state.as_ref().is_some_and(|s| s.reset);
    let after = match updates.iter().rposition(is_reset) {
        Some(i) => {
            out.extend_from_slice(&updates[i].sse[updates[i].state_at..]);
            i + 1
        }
        None => 0,
    };
    let mut lines = Latest::default();
    let mut queues = Latest::default();
    let mut any = false;
    for parts in updates[after..].iter().filter_map(|u| u.state.as_ref()) {
        lines.add(&parts.lines);
        queues.add(&parts.queues);
        any = true;
    }
    if any {
        state_message(out, &lines.items, &queues.items);
    }
}

/// Items by number, in the order they first changed, each at its latest.
struct Latest<'a, T> {
    at: HashMap<&'a str, usize>,
    items: Vec<&'a T>,
}

impl<T> Default for Latest<'_, T> {
    fn default() -> Self {
        Latest {
            at: HashMap::new(),
            items: Vec::new(),
        }
    }
}

impl<'a, T> Latest<'a, T> {
    fn add(&mut self, changed: &'a [(String, T)]) {
        for (number, item) in changed {
            match self.at.get(number.as_str()) {
                Some(&i) => self.items[i] = item,
                None => {
                    self.at.insert(number, self.items.len());
                    self.items.push(item);
                }
            }
        }
    }
}

#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Update>>,
}

impl Hub {
    /// `capacity` updates may wait for a slow client before it is told to resynchronise.
    pub fn new(capacity: usize) -> Hub {
        Hub {
            tx: broadcast::channel(capacity).0,
        }
    }

    pub fn publish(&self, update: Update) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.tx.send(Arc::new(update));
    }

    /// Whether any client listens: when none does, updates need not even be rendered.
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Update>> {
        self.tx.subscribe()
    }
}

/// Appends one SSE message to `out`. JSON never contains a raw newline, so one `data:` line
/// carries it whole.
pub fn frame(out: &mut String, kind: &str, data: &impl Serialize) {
    out.push_str("event: ");
    out.push_str(kind);
    out.push_str("\ndata: ");
    out.push_str(&serde_json::to_string(data).unwrap_or_else(|_| "null".into()));
    out.push_str("\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[derive(Serialize)]
    struct Item {
        number: String,
        state: &'static str,
    }

    impl Numbered for Item {
        fn number(&self) -> &str {
            &self.number
        }
    }

    fn item(number: &str, state: &'static str) -> Item {
        Item {
            number: number.into(),
            state,
        }
    }

    fn token() -> TokenId {
        crate::token::Token::parse("3F2504E0-4F89-11D3-9A0C-0305E82C3301")
            .unwrap()
            .id()
    }

    fn partial(log: &str, lines: &[Item], queues: &[Item], calls: &[Item]) -> Arc<Update> {
        Arc::new(Update::with_state(
            token(),
            log.into(),
            false,
            lines,
            queues,
            calls,
        ))
    }

    /// The (kind, data) messages of an SSE text.
    fn messages(sse: &[u8]) -> Vec<(String, Value)> {
        std::str::from_utf8(sse)
            .unwrap()
            .split_terminator("\n\n")
            .map(|m| {
                let (kind, data) = m
                    .strip_prefix("event: ")
                    .and_then(|m| m.split_once("\ndata: "))
                    .unwrap();
                (kind.to_string(), serde_json::from_str(data).unwrap())
            })
            .collect()
    }

    #[test]
    fn a_state_message_in_parts_reads_as_the_one_rendered_whole() {
        let u = partial(
            "event: event\ndata: {\"n\":1}\n\n",
            &[item("0033972101010", "ringing")],
            &[],
            &[
                item("0033972101010", "call a"),
                item("0033972101011", "call b"),
            ],
        );
        assert_eq!(
            messages(&u.sse),
            vec![
                ("event".into(), json!({"n": 1})),
                (
                    "state".into(),
                    json!({
                        "lines": [{"number": "0033972101010", "state": "ringing"}],
                        "queues": [],
                        "calls": [{"number": "0033972101010", "state": "call a"}],
                    })
                )
            ],
            "only the calls of the lines it names"
        );
        let (alone, pops) = coalesce(std::slice::from_ref(&u));
        assert_eq!(alone, u.sse, "one update goes out as it is");
        assert!(!pops);
    }

    #[test]
    fn waiting_updates_keep_every_log_message_and_one_state_with_each_line_at_its_latest() {
        let updates = [
            partial(
                "event: event\ndata: 1\n\n",
                &[item("A", "ringing"), item("B", "free")],
                &[],
                &[item("A", "c1 ringing")],
            ),
            partial(
                "event: event\ndata: 2\n\n",
                &[item("A", "in_call")],
                &[item("Q", "1 waiting")],
                &[item("A", "c1 answered"), item("B", "not named: left out")],
            ),
            Arc::new(Update::log(token(), "event: agents\ndata: 3\n\n".into())),
            partial(
                "event: call\ndata: 4\n\n",
                &[item("B", "ringing")],
                &[],
                &[item("A", "c1 answered"), item("B", "c2 ringing")],
            ),
        ];
        let (sse, _) = coalesce(&updates);
        let m = messages(&sse);
        let kinds: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["event", "event", "agents", "call", "state"]);
        assert_eq!(
            m[4].1,
            json!({
                "lines": [{"number": "A", "state": "in_call"}, {"number": "B", "state": "ringing"}],
                "queues": [{"number": "Q", "state": "1 waiting"}],
                "calls": [{"number": "A", "state": "c1 answered"}, {"number": "B", "state": "c2 ringing"}],
            })
        );
    }

    #[test]
    fn a_reset_among_waiting_updates_is_sent_whole_and_only_later_changes_follow_it() {
        let updates = [
            partial("", &[item("A", "ringing")], &[], &[item("A", "old")]),
            Arc::new(Update::with_reset(
                token(),
                "event: pop\ndata: {}\n\n".into(),
                true,
                &json!({"reset": true, "lines": [], "queues": [], "calls": []}),
            )),
            partial("", &[item("B", "free")], &[], &[]),
        ];
        let (sse, pops) = coalesce(&updates);
        assert!(pops, "the pop is said, so that each client filters it");
        let m = messages(&sse);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].0, "pop");
        assert_eq!(m[1].1["reset"], json!(true));
        assert_eq!(
            m[2].1,
            json!({"lines": [{"number": "B", "state": "free"}], "queues": [], "calls": []}),
            "line A's change came before the reset: the reset holds it"
        );
    }
}
