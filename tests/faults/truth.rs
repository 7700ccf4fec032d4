//! The figures a correct service shows, counted here straight from the raw events the fake
//! emitted for a token, by the rules of `tests/fixtures/README.md` (as `tests/api/generated.rs`
//! counts them): a queue caller is answered when an agent answered, abandoned when it left
//! without that; a line call is finished at its hang-up, or when it stops ringing unanswered.
//! After a fault, the live figures (`/api/queues`, `/api/lines`, `/api/calls`) and the history
//! counts must be exactly these.

use crate::audit::rows;
use crate::harness::Http;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn data<'a>(e: &'a Value, key: &str) -> &'a str {
    e["Data"][key].as_str().unwrap_or_default()
}

#[derive(Default)]
struct Queue {
    joined: BTreeSet<String>,
    answered: BTreeSet<String>,
    left: BTreeSet<String>,
}

#[derive(Default)]
struct Call {
    answered: bool,
    ring_ended: bool,
    ended: bool,
    outgoing: bool,
    /// Rung by a queue (its `Calling` or `Dialed` is a queue's number): an offer, not a call.
    via_queue: bool,
}

impl Call {
    fn finished(&self) -> bool {
        self.ended || (self.ring_ended && !self.answered)
    }

    fn outcome(&self) -> &'static str {
        match (self.answered, self.outgoing) {
            (true, _) => "answered",
            (false, _) if self.via_queue => "queue_offer",
            (false, true) => "unanswered",
            (false, false) => "missed",
        }
    }
}

/// What the raw events of one token say.
#[derive(Default)]
pub struct Truth {
    queues: BTreeMap<String, Queue>,
    /// Per (line, call id).
    calls: BTreeMap<(String, String), Call>,
}

impl Truth {
    pub fn of(events: &[Value]) -> Truth {
        let mut t = Truth::default();
        let queue_numbers: BTreeSet<&str> = events
            .iter()
            .filter(|e| e["Service"] == "queues")
            .filter_map(|e| e["Ressource"].as_str())
            .collect();
        for e in events {
            let number = e["Ressource"].as_str().unwrap().to_string();
            let name = e["Event"].as_str().unwrap();
            if e["Service"] == "queues" {
                let q = t.queues.entry(number).or_default();
                let member = data(e, "QueueMemberUUID").to_string();
                match name {
                    "member-queue-start" => q.joined.insert(member),
                    "bridge-agent-start" => q.answered.insert(member),
                    "member-queue-end" => q.left.insert(member),
                    _ => false,
                };
                continue;
            }
            if name == "registered" {
                continue;
            }
            let call = t
                .calls
                .entry((number.clone(), data(e, "CallId").to_string()))
                .or_default();
            call.outgoing = data(e, "Calling") == number;
            call.via_queue |= queue_numbers.contains(data(e, "Calling"))
                || queue_numbers.contains(data(e, "Dialed"));
            match name {
                "start_calling" => call.answered = true,
                "end_ringing" => call.ring_ended = true,
                "end_calling" => call.ended = true,
                _ => {}
            }
        }
        t
    }

    fn in_progress(&self) -> impl Iterator<Item = &(String, String)> {
        self.calls
            .iter()
            .filter(|(_, c)| !c.finished())
            .map(|(k, _)| k)
    }

    /// Compares the service's figures for `token` with the truth; fails naming every
    /// difference.
    pub async fn check(&self, api: &Http<'_>, db: &Path, token: &str, fault: &str) {
        let mut wrong = Vec::new();

        let queues = api.json("/api/queues", token).await;
        for (number, t) in &self.queues {
            let Some(q) = queues["queues"]
                .as_array()
                .unwrap()
                .iter()
                .find(|q| q["number"] == number.as_str())
            else {
                wrong.push(format!("queue {number} missing"));
                continue;
            };
            let unanswered = |m: &&String| !t.answered.contains(*m);
            let want = [
                ("entered", t.joined.len()),
                ("answered", t.answered.len()),
                ("abandoned", t.left.iter().filter(unanswered).count()),
                (
                    "waiting",
                    t.joined
                        .iter()
                        .filter(|m| !t.left.contains(*m))
                        .filter(unanswered)
                        .count(),
                ),
            ];
            for (figure, value) in want {
                if q[figure] != value {
                    wrong.push(format!("queue {number} {figure}: {} ≠ {value}", q[figure]));
                }
            }
            let present = t.joined.iter().filter(|m| !t.left.contains(*m)).count();
            let callers = q["callers"].as_array().unwrap().len();
            if callers != present {
                wrong.push(format!("queue {number} callers: {callers} ≠ {present}"));
            }
        }

        let history = api.all("/api/history", "calls", token).await;
        let recorded: BTreeMap<(String, String), String> = history
            .iter()
            .map(|c| {
                let key = (
                    c["number"].as_str().unwrap().to_string(),
                    c["call_id"].as_str().unwrap().to_string(),
                );
                (key, c["outcome"].as_str().unwrap().to_string())
            })
            .collect();
        let finished: Vec<_> = self.calls.iter().filter(|(_, c)| c.finished()).collect();
        for (key, call) in &finished {
            if recorded.get(*key).map(String::as_str) != Some(call.outcome()) {
                wrong.push(format!(
                    "call {key:?}: {:?} ≠ {}",
                    recorded.get(*key),
                    call.outcome()
                ));
            }
        }
        let stored_calls = rows(db, "calls", token);
        if history.len() != finished.len() || stored_calls != finished.len() {
            wrong.push(format!(
                "history: {} shown, {stored_calls} stored ≠ {} finished calls",
                history.len(),
                finished.len()
            ));
        }

        let left: usize = self.queues.values().map(|q| q.left.len()).sum();
        let journal = api.all("/api/queue-journal", "entries", token).await;
        let stored_journal = rows(db, "queue_journal", token);
        if journal.len() != left || stored_journal != left {
            wrong.push(format!(
                "queue journal: {} shown, {stored_journal} stored ≠ {left} callers who left",
                journal.len()
            ));
        }

        let calls = api.json("/api/calls", token).await;
        let going = self.in_progress().count();
        let shown = calls["calls"].as_array().unwrap().len();
        if shown != going {
            wrong.push(format!("calls in progress: {shown} ≠ {going}"));
        }
        let lines = api.json("/api/lines", token).await;
        for line in lines["lines"].as_array().unwrap() {
            let number = line["number"].as_str().unwrap();
            let on_line = self.in_progress().filter(|(n, _)| n == number).count();
            if line["active_calls"] != on_line {
                wrong.push(format!(
                    "line {number} active calls: {} ≠ {on_line}",
                    line["active_calls"]
                ));
            }
        }

        assert!(
            wrong.is_empty(),
            "{fault}: the figures for {}… differ from the raw events: {wrong:#?}",
            &token[..4]
        );
    }
}
