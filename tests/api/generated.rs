//! A long generated trace through the whole service, checked against truth worked out here,
//! straight from the raw events, by the definitions of `fixtures/README.md` — an independent
//! reading of the same rules, for traces no one wrote by hand.

use crate::helpers::*;
use ovh_cti::simulate::{generate, SimConfig};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const EVENTS: usize = 3000;

fn s<'a>(e: &'a Value, key: &str) -> &'a str {
    e["Data"][key].as_str().unwrap_or_default()
}

fn secs(e: &Value, key: &str) -> f64 {
    s(e, key).parse().unwrap()
}

#[derive(Default)]
struct QueueTruth {
    joined: BTreeMap<String, f64>,
    answered: BTreeMap<String, f64>,
    left: BTreeSet<String>,
}

#[derive(Default)]
struct CallTruth {
    ringing: bool,
    answered: bool,
    ring_ended: bool,
    ended: bool,
    outgoing: bool,
    /// Rung by a queue: its `Calling` or `Dialed` is a queue's number.
    via_queue: bool,
}

#[tokio::test]
async fn long_generated_traces_match_truth_counted_from_their_raw_events() {
    for seed in [11, 23, 42] {
        check_seed(seed, false).await;
    }
    // The same truth through faults: 502s, bodies cut short, and polls delivered twice.
    check_seed(97, true).await;
}

async fn check_seed(seed: u64, faults: bool) {
    let config = SimConfig {
        seed,
        rate_per_min: 120.0,
        ..SimConfig::default()
    };
    let events: Vec<Value> = generate(&config, 1_732_612_800_000_000_000, EVENTS)
        .into_iter()
        .map(|e| e.event)
        .collect();

    // Truth, from the raw events alone.
    let mut queues: BTreeMap<String, QueueTruth> = BTreeMap::new();
    let mut calls: BTreeMap<(String, String), CallTruth> = BTreeMap::new();
    let queue_numbers: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["Service"] == "queues")
        .filter_map(|e| e["Ressource"].as_str())
        .collect();
    for e in &events {
        let number = e["Ressource"].as_str().unwrap().to_string();
        let name = e["Event"].as_str().unwrap();
        if e["Service"] == "queues" {
            let q = queues.entry(number).or_default();
            let member = s(e, "QueueMemberUUID").to_string();
            match name {
                "member-queue-start" => {
                    q.joined.insert(member, secs(e, "QueueMemberJoinedTime"));
                }
                "bridge-agent-start" => {
                    q.answered.insert(member, secs(e, "QueueAgentAnsweredTime"));
                }
                "member-queue-end" => {
                    q.left.insert(member);
                }
                _ => {}
            }
            continue;
        }
        if name == "registered" {
            continue;
        }
        let call = calls
            .entry((number.clone(), s(e, "CallId").to_string()))
            .or_default();
        call.outgoing = s(e, "Calling") == number;
        call.via_queue |=
            queue_numbers.contains(s(e, "Calling")) || queue_numbers.contains(s(e, "Dialed"));
        match name {
            "start_ringing" => call.ringing = true,
            "start_calling" => call.answered = true,
            "end_ringing" => call.ring_ended = true,
            "end_calling" => call.ended = true,
            _ => {}
        }
    }

    let up = FakeUpstream::start().await;
    let mut polls = Vec::new();
    for (i, chunk) in events.chunks(7).enumerate() {
        let poll = json!({"Session": "S1", "Message": "", "Events": chunk}).to_string();
        if faults && i % 10 == 3 {
            polls.push(
                r#"{"__status__": 502, "__body__": "<html>502 Bad Gateway</html>"}"#.to_string(),
            );
        }
        if faults && i % 10 == 6 {
            let cut = json!({"__status__": 200, "__body__": &poll[..poll.len() / 2]});
            polls.push(cut.to_string());
        }
        polls.push(poll.clone());
        if faults && i % 13 == 0 {
            polls.push(poll);
        }
    }
    up.push(TOKEN_A, polls);
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;

    // Queues: entered, answered, abandoned, waiting now, average and longest wait.
    let got = app.json("/api/queues", TOKEN_A).await;
    for (number, t) in &queues {
        let q = got["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["number"] == number.as_str())
            .unwrap();
        let abandoned = t
            .left
            .iter()
            .filter(|m| !t.answered.contains_key(*m))
            .count();
        let present = t.joined.keys().filter(|m| !t.left.contains(*m)).count();
        let waiting = t
            .joined
            .keys()
            .filter(|m| !t.left.contains(*m) && !t.answered.contains_key(*m))
            .count();
        let waits: Vec<f64> = t.answered.iter().map(|(m, a)| a - t.joined[m]).collect();
        let abandoned_waits = t.left.iter().filter(|m| !t.answered.contains_key(*m));
        assert_eq!(q["entered"], t.joined.len(), "{number} entered");
        assert_eq!(q["answered"], t.answered.len(), "{number} answered");
        assert_eq!(q["abandoned"], abandoned, "{number} abandoned");
        assert_eq!(q["waiting"], waiting, "{number} waiting");
        assert_eq!(
            q["callers"].as_array().unwrap().len(),
            present,
            "{number} callers"
        );
        assert!(
            t.answered.len() > 3 && abandoned > 0,
            "the trace exercises both outcomes"
        );
        let avg = waits.iter().sum::<f64>() / waits.len() as f64;
        assert!(
            (q["avg_wait_s"].as_f64().unwrap() - avg).abs() < 1e-3,
            "{number} avg wait {} vs {avg}",
            q["avg_wait_s"]
        );
        let leave = |m: &String| {
            events
                .iter()
                .find(|e| e["Event"] == "member-queue-end" && s(e, "QueueMemberUUID") == m)
                .map(|e| secs(e, "QueueMemberLeavingTime"))
                .unwrap()
        };
        let longest = waits
            .iter()
            .copied()
            .chain(abandoned_waits.map(|m| leave(m) - t.joined[m]))
            .fold(0.0, f64::max);
        assert_eq!(
            q["max_wait_s"].as_f64().unwrap(),
            longest,
            "{number} longest wait"
        );
    }

    // Lines: every finished call in the history with its outcome; the rest in progress.
    let history = app.json("/api/history?limit=1000", TOKEN_A).await;
    let recorded: BTreeMap<(String, String), String> = history["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                (
                    c["number"].as_str().unwrap().into(),
                    c["call_id"].as_str().unwrap().into(),
                ),
                c["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    // A queue's ring is stored with its queue and the caller it was for.
    for c in history["calls"].as_array().unwrap() {
        if c["outcome"] == "queue_offer" {
            assert!(
                queue_numbers.contains(c["queue"].as_str().unwrap())
                    && c["queue_caller"].is_string(),
                "{c}"
            );
        }
    }
    let mut in_progress = 0;
    for (key, c) in &calls {
        let finished = c.ended || (c.ring_ended && !c.answered);
        if !finished {
            in_progress += 1;
            assert!(!recorded.contains_key(key), "{key:?} is still going on");
            continue;
        }
        let want = match (c.answered, c.outgoing) {
            (true, _) => "answered",
            (false, _) if c.via_queue => "queue_offer",
            (false, true) => "unanswered",
            (false, false) => "missed",
        };
        assert_eq!(recorded.get(key).map(String::as_str), Some(want), "{key:?}");
    }
    assert_eq!(recorded.len() + in_progress, calls.len());
    assert_eq!(
        app.json("/api/calls", TOKEN_A).await["calls"]
            .as_array()
            .unwrap()
            .len(),
        in_progress
    );
    assert!(
        recorded.values().any(|o| o == "missed")
            && recorded.values().any(|o| o == "unanswered")
            && recorded.values().any(|o| o == "queue_offer")
    );
    if faults {
        let feed = app.json("/api/health", TOKEN_A).await["feeds"][0].clone();
        assert!(
            feed["reconnects"].as_u64().unwrap() >= 80,
            "the faults were served: {feed}"
        );
    }
    app.stop().await;
}
