//! Tests of the simulator: that the generated traffic is consistent and shaped like the recorded
//! fixtures, and that the HTTP fake behaves like OVH's API (v1 and v2) on a real socket.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::Value;

use super::traffic::ovh_date;
use super::*;

/// 26 November 2024, 10:20 Paris time: the fixtures' morning.
const START: i64 = 1_732_612_800_000_000_000;
const S: i64 = 1_000_000_000;

/// One hour of traffic plus enough time for every call started in that hour to finish.
fn hour_of_traffic(seed: u64, rate: f64) -> Vec<SimEvent> {
    let cfg = SimConfig {
        seed,
        rate_per_min: rate,
        ..SimConfig::default()
    };
    TrafficGen::new(&cfg, START)
        .take_while(|e| e.at_unix_ns < START + 3600 * S + 600 * S)
        .collect()
}

fn data<'a>(e: &'a SimEvent, key: &str) -> &'a str {
    e.event["Data"][key].as_str().unwrap_or("")
}

fn ev(e: &SimEvent) -> &str {
    e.event["Event"].as_str().unwrap()
}

#[test]
fn generator_is_deterministic() {
    let cfg = SimConfig::default();
    let a = generate(&cfg, START, 2000);
    assert_eq!(a.len(), 2000);
    assert_eq!(a, generate(&cfg, START, 2000));
    let other = SimConfig {
        seed: 43,
        ..cfg.clone()
    };
    assert_ne!(a, generate(&other, START, 2000));
    // The incremental form and the batch form agree.
    let mut g = TrafficGen::new(&cfg, START);
    for e in a.iter().take(100) {
        assert_eq!(g.peek_time(), e.at_unix_ns);
        assert_eq!(&g.next_event(), e);
    }
}

#[test]
fn timestamps_never_go_back_and_tsget_precedes_them() {
    for seed in [1, 2, 3] {
        let evs = hour_of_traffic(seed, 12.0);
        assert!(evs.len() > 500, "{}", evs.len());
        for w in evs.windows(2) {
            assert!(w[0].at_unix_ns <= w[1].at_unix_ns);
        }
        for e in &evs {
            let ts = e.event["Timestamp"].as_i64().unwrap();
            assert_eq!(ts, e.at_unix_ns);
            let ts_get = e.event["Data"]["TsGet"].as_i64().unwrap();
            let lag = ts - ts_get;
            assert!((10_000_000..=81_000_000).contains(&lag), "lag {lag}");
            let ts_f = e.event["Data"]["Ts"].as_f64().unwrap();
            assert!((ts_f - ts_get as f64 / 1e9).abs() < 0.001);
        }
    }
}

/// Every line call: one start_ringing, one end_ringing after it, start_calling at most once and
/// then exactly one end_calling after it; nothing else.
#[test]
fn line_calls_are_consistent() {
    for seed in [1, 7, 42] {
        let evs = hour_of_traffic(seed, 10.0);
        let mut calls: HashMap<(String, String), Vec<(&str, i64)>> = HashMap::new();
        for e in &evs {
            if e.event["Service"] == "queues" || ev(e) == "registered" {
                continue;
            }
            let key = (
                e.event["Ressource"].as_str().unwrap().to_string(),
                data(e, "CallId").to_string(),
            );
            calls.entry(key).or_default().push((ev(e), e.at_unix_ns));
        }
        assert!(calls.len() > 300);
        for (key, list) in &calls {
            if list[0].1 > START + 3600 * S {
                continue; // may still be in progress when the window closes
            }
            let count = |n: &str| list.iter().filter(|(e, _)| *e == n).count();
            let at = |n: &str| list.iter().find(|(e, _)| *e == n).map(|x| x.1);
            assert_eq!(list[0].0, "start_ringing", "{key:?} {list:?}");
            assert_eq!(count("start_ringing"), 1, "{key:?}");
            assert_eq!(count("end_ringing"), 1, "{key:?}");
            assert!(count("start_calling") <= 1, "{key:?}");
            assert_eq!(count("start_calling"), count("end_calling"), "{key:?}");
            assert_eq!(list.len(), 2 + 2 * count("start_calling"), "{key:?}");
            if let Some(end) = at("end_calling") {
                assert!(end > at("start_calling").unwrap());
                assert_eq!(list.last().unwrap().0, "end_calling");
            }
        }
    }
}

/// Every queue caller: one member-queue-start, one member-queue-end; answered ones (Terminated)
/// have exactly one bridge-agent-start and one bridge-agent-end, the others (Cancel) none; every
/// offer ends in exactly one start or fail; Count is the number of callers in the queue.
#[test]
fn queue_callers_are_consistent() {
    for seed in [1, 7, 42] {
        let evs = hour_of_traffic(seed, 10.0);
        let mut members: HashMap<String, Vec<&SimEvent>> = HashMap::new();
        let mut inside: HashMap<String, BTreeSet<String>> = HashMap::new();
        for e in evs.iter().filter(|e| e.event["Service"] == "queues") {
            let uuid = data(e, "QueueMemberUUID").to_string();
            let q = e.event["Ressource"].as_str().unwrap().to_string();
            let set = inside.entry(q).or_default();
            match ev(e) {
                "member-queue-start" => assert!(set.insert(uuid.clone())),
                "member-queue-end" => assert!(set.remove(&uuid)),
                _ => {}
            }
            if let Some(c) = e.event["Data"].get("Count") {
                let c: i64 = c.as_str().unwrap().parse().unwrap();
                assert!(c >= 0);
                assert_eq!(c as usize, set.len(), "{}", e.event);
            }
            members.entry(uuid).or_default().push(e);
        }
        let mut reasons = BTreeSet::new();
        let mut answered = 0;
        for (uuid, list) in &members {
            if list[0].at_unix_ns > START + 3600 * S {
                continue;
            }
            let count = |n: &str| list.iter().filter(|e| ev(e) == n).count();
            assert_eq!(ev(list[0]), "member-queue-start", "{uuid}");
            assert_eq!(count("member-queue-start"), 1, "{uuid}");
            assert_eq!(count("member-queue-end"), 1, "{uuid}");
            let end = list.iter().find(|e| ev(e) == "member-queue-end").unwrap();
            match data(end, "QueueCause") {
                "Terminated" => {
                    answered += 1;
                    assert_eq!(count("bridge-agent-start"), 1, "{uuid}");
                    assert_eq!(count("bridge-agent-end"), 1, "{uuid}");
                }
                "Cancel" => {
                    assert_eq!(count("bridge-agent-start"), 0, "{uuid}");
                    assert_eq!(count("bridge-agent-end"), 0, "{uuid}");
                    reasons.insert(data(end, "QueueCancelReason").to_string());
                }
                other => panic!("cause {other}"),
            }
            assert_eq!(
                count("agent-offering"),
                count("bridge-agent-start") + count("bridge-agent-fail"),
                "{uuid}"
            );
            let joined: i64 = data(list[0], "QueueMemberJoinedTime").parse().unwrap();
            let left: i64 = data(end, "QueueMemberLeavingTime").parse().unwrap();
            assert!(left >= joined);
            if let Some(s) = list.iter().find(|e| ev(e) == "bridge-agent-start") {
                let wait = data(s, "QueueAgentAnsweredTime").parse::<i64>().unwrap() - joined;
                assert!((1..=61).contains(&wait), "wait {wait}");
            }
        }
        assert!(answered > 10);
        assert_eq!(
            reasons,
            ["BREAK_OUT", "TIMEOUT"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
    }
}

/// The scenarios the dashboard must handle all occur in an hour of default traffic.
#[test]
fn every_scenario_occurs() {
    let evs = hour_of_traffic(42, 6.0);
    let account = SimAccount::from_seed(42);
    let is_ours = |n: &str| account.lines.iter().any(|l| l.number == n);
    let mut by_call: HashMap<String, Vec<&SimEvent>> = HashMap::new();
    let mut hang_causes = BTreeSet::new();
    let mut registered = 0;
    for e in &evs {
        if e.event["Service"] == "queues" {
            if let Some(c) = e.event["Data"]["QueueHangupCause"].as_str() {
                hang_causes.insert(c.to_string());
            }
            continue;
        }
        if ev(e) == "registered" {
            let r = e.event["Ressource"].as_str().unwrap();
            assert!(["Calling", "Called", "Dialed", "Billing"]
                .iter()
                .all(|k| data(e, k) == r));
            registered += 1;
            continue;
        }
        by_call
            .entry(data(e, "CallId").to_string())
            .or_default()
            .push(e);
    }
    assert!(registered >= 5 * 5, "periodic registrations: {registered}");
    for c in [
        "LOSE_RACE",
        "NO_ANSWER",
        "ORIGINATOR_CANCEL",
        "NORMAL_CLEARING",
    ] {
        assert!(hang_causes.contains(c), "{c}");
    }
    let (mut missed, mut unanswered, mut calling_first, mut ringing_first, mut internal) =
        (0, 0, 0, 0, 0);
    for list in by_call.values() {
        let names: Vec<&str> = list.iter().map(|e| ev(e)).collect();
        let calling = data(list[0], "Calling");
        let called = data(list[0], "Called");
        let answered = names.contains(&"start_calling");
        let ressources: BTreeSet<&str> = list
            .iter()
            .map(|e| e.event["Ressource"].as_str().unwrap())
            .collect();
        if ressources.len() == 2 {
            assert!(is_ours(calling) && is_ours(called));
            internal += 1;
        } else if !is_ours(calling) && !answered {
            missed += 1;
        } else if is_ours(calling) && !is_ours(called) {
            if !answered {
                unanswered += 1;
            } else if names[1] == "start_calling" {
                calling_first += 1;
            } else {
                ringing_first += 1;
            }
        }
    }
    assert!(missed > 0 && unanswered > 0 && internal > 0);
    assert!(calling_first > 0 && ringing_first > 0);

    // Two calls at once on a two-channel line, never more than it allows.
    let mut overlapped = false;
    for line in &account.lines {
        let mut active = 0i32;
        let mut max = 0;
        for e in evs
            .iter()
            .filter(|e| e.event["Ressource"] == line.number.as_str())
        {
            match ev(e) {
                "start_ringing" => active += 1,
                "end_calling" => active -= 1,
                "end_ringing" => {
                    let id = data(e, "CallId");
                    if !by_call[id].iter().any(|x| {
                        ev(x) == "start_calling" && x.event["Ressource"] == e.event["Ressource"]
                    }) {
                        active -= 1;
                    }
                }
                _ => {}
            }
            max = max.max(active);
        }
        assert!(max <= line.simultaneous as i32, "{} {max}", line.number);
        overlapped |= max == 2;
    }
    assert!(overlapped);
}

/// The key sets and value types of the fixtures (`shared/fixtures/*.v1.jsonl`).
#[test]
fn events_have_the_fixture_shape() {
    const LINE: &[&str] = &[
        "Billing",
        "Body",
        "CallId",
        "Called",
        "Calling",
        "Cseq",
        "Dialed",
        "Event",
        "Protocol",
        "RelevantInfo",
        "Ts",
        "TsGet",
    ];
    const QUEUE: &[&str] = &[
        "Action",
        "Calling",
        "Event",
        "Protocol",
        "Queue",
        "QueueMemberCIDName",
        "QueueMemberCIDNumber",
        "QueueMemberDNIS",
        "QueueMemberJoinedTime",
        "QueueMemberSessionUUID",
        "QueueMemberUUID",
        "Ts",
        "TsGet",
    ];
    let extra = |e: &str, cause: Option<&str>| -> Vec<&'static str> {
        match e {
            "member-queue-start" | "members-count" => vec!["Count"],
            "agent-offering" => vec![
                "QueueAgent",
                "QueueAgentCalledTime",
                "QueueAgentSystem",
                "QueueAgentUUID",
            ],
            "bridge-agent-start" => vec![
                "QueueAgent",
                "QueueAgentAnsweredTime",
                "QueueAgentCalledTime",
                "QueueAgentSystem",
            ],
            "bridge-agent-fail" => vec![
                "QueueAgent",
                "QueueAgentCalledTime",
                "QueueAgentSystem",
                "QueueHangupCause",
            ],
            "bridge-agent-end" => vec![
                "QueueAgent",
                "QueueAgentAnsweredTime",
                "QueueBridgeTerminatedTime",
                "QueueHangupCause",
            ],
            "member-queue-end" if cause == Some("Cancel") => vec![
                "Count",
                "QueueCancelReason",
                "QueueCause",
                "QueueMemberLeavingTime",
            ],
            "member-queue-end" => vec!["Count", "QueueCause", "QueueMemberLeavingTime"],
            other => panic!("unexpected queue event {other}"),
        }
    };
    let top: BTreeSet<&str> = [
        "Data",
        "Date",
        "Details",
        "Event",
        "Ressource",
        "Service",
        "Timestamp",
    ]
    .into();
    let details: BTreeSet<&str> = [
        "Description",
        "Id",
        "IdBillingAccount",
        "SimultaneousLine",
        "Type",
    ]
    .into();
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let set = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| s.to_string()).collect() };
    for e in hour_of_traffic(5, 10.0) {
        let o = &e.event;
        assert_eq!(keys(o), set(&top.iter().copied().collect::<Vec<_>>()));
        assert_eq!(
            keys(&o["Details"]),
            set(&details.iter().copied().collect::<Vec<_>>())
        );
        assert!(o["Details"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_string));
        assert!(o["Timestamp"].is_i64());
        let date = o["Date"].as_str().unwrap();
        assert!(
            date.ends_with(" (CET)") || date.ends_with(" (CEST)"),
            "{date}"
        );
        assert_eq!(date.len(), "2024-11-26T10:20:00.000000 (CET)".len());
        let d = &o["Data"];
        assert_eq!(d["Event"], o["Event"]);
        assert!(d["Ts"].is_f64() && d["TsGet"].is_i64());
        let expected = if o["Service"] == "queues" {
            assert_eq!(d["Action"], o["Event"]);
            let mut v = QUEUE.to_vec();
            v.extend(extra(
                o["Event"].as_str().unwrap(),
                d["QueueCause"].as_str(),
            ));
            v
        } else {
            assert!(o["Service"] == "sip" || o["Service"] == "mgcp");
            assert_eq!(d["Billing"], o["Ressource"]);
            LINE.to_vec()
        };
        assert_eq!(keys(d), set(&expected), "{o}");
        for (k, v) in d.as_object().unwrap() {
            if k != "Ts" && k != "TsGet" {
                assert!(v.is_string(), "{k} in {o}");
            }
        }
    }
}

#[test]
fn tokens_scope_events() {
    let account = SimAccount::from_seed(42);
    let line = &account.lines[account.token_line].number;
    let evs = generate(&SimConfig::default(), START, 3000);
    let mut both = 0;
    for e in &evs {
        assert!(e.tokens.contains(&account.account_token));
        let about_line = e.event["Ressource"] == line.as_str();
        assert_eq!(e.tokens.contains(&account.line_token), about_line);
        assert!(e.event.get("Token").is_none());
        both += about_line as usize;
    }
    assert!(both > 50);
}

#[test]
fn date_is_ovh_style() {
    assert_eq!(ovh_date(START), "2024-11-26T10:20:00.000000 (CET)");
    assert_eq!(
        ovh_date(1_719_829_815_123_456_789),
        "2024-07-01T12:30:15.123456 (CEST)"
    );
}

#[test]
fn zero_rate_gives_only_registrations() {
    let cfg = SimConfig {
        rate_per_min: 0.0,
        ..SimConfig::default()
    };
    let evs = generate(&cfg, START, 20);
    assert!(evs.iter().all(|e| ev(e) == "registered"));
}

// ---- the HTTP server ----------------------------------------------------------------------

struct Running {
    base: String,
    sim: Simulator,
    faults: Faults,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    http: reqwest::Client,
}

impl Running {
    async fn start(config: SimConfig) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sim = Simulator::new(config);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (faults, server) = sim.clone().serve_with_faults(listener, async {
            let _ = rx.await;
        });
        Running {
            base,
            sim,
            faults,
            stop: Some(tx),
            task: tokio::spawn(server),
            http: reqwest::Client::new(),
        }
    }

    fn token(&self, i: usize) -> String {
        self.sim.tokens()[i].token.clone()
    }

    async fn v1(&self, token: &str, session: Option<&str>) -> (u16, String) {
        self.try_v1(token, session).await.unwrap()
    }

    /// A v1 poll that may fail below HTTP: the status and body, or the error.
    async fn try_v1(
        &self,
        token: &str,
        session: Option<&str>,
    ) -> Result<(u16, String), reqwest::Error> {
        let mut q = vec![("token", token.to_string())];
        if let Some(s) = session {
            q.push(("session", s.to_string()));
        }
        let r = self
            .http
            .get(format!("{}/", self.base))
            .query(&q)
            .send()
            .await?;
        Ok((r.status().as_u16(), r.text().await?))
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

fn fast() -> SimConfig {
    SimConfig {
        seed: 42,
        rate_per_min: 3000.0,
        hold: Duration::from_millis(400),
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn v1_polls_deliver_events_with_a_session() {
    let sim = Running::start(fast()).await;
    let token = sim.token(0);
    let (status, body) = sim.v1(&token, None).await;
    assert_eq!(status, 200, "{body}");
    let mut first: Value = serde_json::from_str(&body).unwrap();
    let mut session = first["Session"].as_str().unwrap().to_string();
    let (id, cursor) = session.split_once('.').unwrap();
    let id = id.to_string();
    assert!(!id.is_empty());
    let sent = !first["Events"].as_array().unwrap().is_empty();
    assert_eq!(cursor, if sent { "1" } else { "0" });
    assert_eq!(first["Message"], "");
    // The hold is short: a poll may time out before the first call comes.
    for _ in 0..10 {
        if !first["Events"].as_array().unwrap().is_empty() {
            break;
        }
        let (_, body) = sim.v1(&token, Some(&session)).await;
        first = serde_json::from_str(&body).unwrap();
        assert_eq!(first["Session"], session.as_str(), "an empty answer");
    }
    // An answer with events moves the cursor on.
    session = first["Session"].as_str().unwrap().to_string();
    assert_eq!(session, format!("{id}.1"));
    let events = first["Events"].as_array().unwrap();
    assert!(!events.is_empty());
    for e in events {
        assert_eq!(e["Token"], token.as_str());
        assert!(e["Data"].is_object() && e["Timestamp"].is_i64());
    }
    let last_ts = events.last().unwrap()["Timestamp"].as_i64().unwrap();

    // Events that happen between two polls of a session are kept for the next one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let (status, body) = sim.v1(&token, Some(&session)).await;
    assert_eq!(status, 200);
    let second: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(second["Session"], format!("{id}.2"));
    let events = second["Events"].as_array().unwrap();
    assert!(!events.is_empty());
    let first_ts = events[0]["Timestamp"].as_i64().unwrap();
    assert!(first_ts >= last_ts);
    assert!(first_ts < sent_at, "queued while nobody polled");

    // Tokens are trimmed and case-insensitive; an unknown session gets a new one.
    let (status, body) = sim
        .v1(&format!("  {}  ", token.to_lowercase()), Some("nope"))
        .await;
    assert_eq!(status, 200);
    let third: Value = serde_json::from_str(&body).unwrap();
    assert!(!third["Session"].as_str().unwrap().starts_with(&id));
    sim.stop().await;
}

#[tokio::test]
async fn v1_line_token_sees_only_its_line() {
    let sim = Running::start(fast()).await;
    let token = sim.token(1);
    let line = sim.sim.account().lines[sim.sim.account().token_line]
        .number
        .clone();
    let mut session = None;
    let mut seen = 0;
    for _ in 0..20 {
        let (status, body) = sim.v1(&token, session.as_deref()).await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        session = Some(v["Session"].as_str().unwrap().to_string());
        for e in v["Events"].as_array().unwrap() {
            assert_eq!(e["Ressource"], line.as_str());
            assert_eq!(e["Token"], token.as_str());
            seen += 1;
        }
        if seen >= 3 {
            break;
        }
    }
    assert!(seen >= 3);
    sim.stop().await;
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let sim = Running::start(fast()).await;
    let (status, body) = sim.v1("not-a-token", None).await;
    assert_eq!(status, 400);
    assert!(!body.is_empty());
    let (status, body) = sim.v1("3F2504E0-4F89-11D3-9A0C-0305E82C3301", None).await;
    assert_eq!(status, 403);
    assert!(!body.is_empty());
    let r = sim.http.get(format!("{}/", sim.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    sim.stop().await;
}

#[tokio::test]
async fn v2_sessions_subscribe_and_poll() {
    let sim = Running::start(fast()).await;
    let http = &sim.http;
    let created: Value = http
        .post(format!("{}/v2/session", sim.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for k in ["id", "creation", "lastUpdate", "lastConnection"] {
        assert!(created[k].is_string(), "{k}");
    }
    let id = created["id"].as_str().unwrap();
    let (t0, t1) = (sim.token(0), sim.token(1));
    for t in [&t0, &t1] {
        let r = http
            .post(format!("{}/v2/session/{id}/subscribe/{t}", sim.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(r
            .text()
            .await
            .unwrap()
            .starts_with("Successfully subscribed on token"));
    }
    let r = http
        .post(format!(
            "{}/v2/session/{id}/subscribe/3F2504E0-4F89-11D3-9A0C-0305E82C3301",
            sim.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // The same line event arrives once per token.
    let mut copies: HashMap<(i64, String, String), BTreeSet<String>> = HashMap::new();
    let mut twice = false;
    for _ in 0..30 {
        let r = http
            .get(format!("{}/v2/session/{id}/events/poll", sim.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let events: Vec<Value> = r.json().await.unwrap();
        for e in &events {
            for k in [
                "event",
                "token",
                "service",
                "ressource",
                "timestamp",
                "date",
                "data",
                "details",
            ] {
                assert!(e.get(k).is_some(), "{k} in {e}");
            }
            assert!(e.get("Event").is_none());
            assert!(e["data"].get("TsGet").is_some());
            assert!(e["details"].get("Description").is_some());
            let key = (
                e["timestamp"].as_i64().unwrap(),
                e["event"].as_str().unwrap().to_string(),
                e["ressource"].as_str().unwrap().to_string(),
            );
            let set = copies.entry(key).or_default();
            set.insert(e["token"].as_str().unwrap().to_string());
            twice |= set.len() == 2;
        }
        if twice {
            break;
        }
    }
    assert!(
        twice,
        "an event about the token's line came through both tokens"
    );

    for path in ["events/poll"] {
        let r = http
            .get(format!("{}/v2/session/unknown/{path}", sim.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
    }
    let r = http
        .post(format!("{}/v2/session/unknown/subscribe/{t0}", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    sim.stop().await;
}

#[tokio::test]
async fn faults_are_502_or_cut_bodies() {
    let sim = Running::start(SimConfig {
        fault_rate: 1.0,
        ..fast()
    })
    .await;
    let token = sim.token(0);
    let mut kinds = BTreeSet::new();
    for _ in 0..12 {
        let (status, body) = sim.v1(&token, None).await;
        match status {
            502 => {
                assert!(body.contains("<html>"));
                kinds.insert("502");
            }
            200 => {
                // Either a quiet hold (no events, valid JSON) or a body cut in the middle.
                if serde_json::from_str::<Value>(&body).is_err() {
                    assert!(body.starts_with("{\""));
                    kinds.insert("cut");
                }
            }
            other => panic!("status {other}"),
        }
    }
    assert!(!kinds.is_empty());
    sim.stop().await;
}

#[tokio::test]
async fn shutdown_ends_polls_in_progress() {
    let sim = Running::start(SimConfig {
        hold: Duration::from_secs(30),
        ..fast()
    })
    .await;
    // A v2 session subscribed to nothing never gets events: its poll would hold 30 s.
    let created: Value = sim
        .http
        .post(format!("{}/v2/session", sim.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "{}/v2/session/{}/events/poll",
        sim.base,
        created["id"].as_str().unwrap()
    );
    let http = sim.http.clone();
    let poll = tokio::spawn(async move { http.get(url).send().await.unwrap().text().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    sim.stop().await;
    let body = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(body, "[]");
    assert!(started.elapsed() < Duration::from_secs(5));
}

// ---- faults on demand ---------------------------------------------------------------------

impl Running {
    /// A poll of the billing account's token that may fail below HTTP.
    async fn poll(&self, session: Option<&str>) -> Result<(u16, String), reqwest::Error> {
        self.try_v1(&self.token(0), session).await
    }

    /// Polls until an answer brings events; returns its session cursor.
    async fn first_events(&self) -> String {
        let mut session: Option<String> = None;
        loop {
            let (status, body) = self.poll(session.as_deref()).await.unwrap();
            assert_eq!(status, 200, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            session = Some(v["Session"].as_str().unwrap().to_string());
            if !v["Events"].as_array().unwrap().is_empty() {
                return session.unwrap();
            }
        }
    }
}

#[tokio::test]
async fn injected_faults_answer_as_documented() {
    let sim = Running::start(fast()).await;
    let session = sim.first_events().await;
    let f = &sim.faults;

    f.inject_times(Fault::ServerError, 1);
    let (status, body) = sim.poll(Some(&session)).await.unwrap();
    assert_eq!((status, body.contains("<html>")), (503, true));

    f.inject_times(Fault::CutBody, 1);
    let (status, body) = sim.poll(Some(&session)).await.unwrap();
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");

    f.inject_times(Fault::Reset, 1);
    let error = sim.poll(Some(&session)).await.unwrap_err();
    assert!(!error.is_timeout(), "{error}");

    // A replayed batch comes again in the next answer.
    f.inject_times(Fault::Replay, 1);
    let (_, body) = sim.poll(Some(&session)).await.unwrap();
    let replayed: Value = serde_json::from_str(&body).unwrap();
    let next = replayed["Session"].as_str().unwrap();
    let (_, body) = sim.poll(Some(next)).await.unwrap();
    let again: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(again["Events"][0], replayed["Events"][0]);

    // Each form of rejection, once.
    let mut session = again["Session"].as_str().unwrap().to_string();
    for (fault, status, body) in [
        (Fault::SessionNotFound, 404, "session not found"),
        (Fault::ReconnectText, 200, "Timeout, please reconnect"),
        (Fault::ReconnectJson, 200, "\"Timeout, please reconnect\""),
    ] {
        f.inject_times(fault, 1);
        assert_eq!(
            sim.poll(Some(&session)).await.unwrap(),
            (status, body.to_string())
        );
        session = sim.first_events().await;
    }
    assert_eq!(f.sessions_created(&sim.token(0)), 4);
    assert_eq!(f.stale_polls(), 0);
    sim.stop().await;
}

#[tokio::test]
async fn a_hung_or_unreachable_upstream_answers_once_the_fault_ends() {
    let sim = Running::start(fast()).await;
    let session = sim.first_events().await;
    let f = sim.faults.clone();

    f.inject(Fault::Hang);
    let held = {
        let http = sim.http.clone();
        let url = format!("{}/?token={}&session={session}", sim.base, sim.token(0));
        tokio::spawn(async move { http.get(url).send().await.unwrap().status() })
    };
    f.wait_until(|f| f.polls_in_progress() == 1).await;
    assert!(!held.is_finished());
    f.clear();
    assert_eq!(held.await.unwrap(), 200);

    f.inject(Fault::Down);
    let error = sim.poll(Some(&session)).await.unwrap_err();
    assert!(error.is_connect() || error.is_request(), "{error}");
    f.clear();
    assert_eq!(sim.poll(Some(&session)).await.unwrap().0, 200);
    sim.stop().await;
}

#[tokio::test]
async fn a_trickled_body_given_up_half_way_is_sent_again() {
    let sim = Running::start(fast()).await;
    let session = sim.first_events().await;
    let f = sim.faults.clone();
    f.inject(Fault::Trickle(Duration::from_secs(30)));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let url = format!("{}/?token={}&session={session}", sim.base, sim.token(0));
    let error = impatient
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    f.wait_until(|f| f.answering() == 0).await;
    f.clear();
    let (_, body) = sim.poll(Some(&session)).await.unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(!v["Events"].as_array().unwrap().is_empty());
    let token = sim.token(0);
    assert!(f.recovery(&[&token]).is_some());
    sim.stop().await;
}

/// The queues' figures after `minutes` of traffic, as the engine counts them from the events
/// a token covering the whole account receives.
fn queue_figures(cfg: &SimConfig, minutes: i64) -> Vec<crate::engine::QueueView> {
    let mut board = crate::engine::Board::default();
    for e in TrafficGen::new(cfg, START).take_while(|e| e.at_unix_ns < START + minutes * 60 * S) {
        let at = e.at_unix_ns as f64 / 1e9;
        if let Ok(ev) = crate::normalise::Event::from_json(e.event.clone(), "", at) {
            board.apply(&ev, at);
        }
    }
    board.queues()
}

/// The demo's first impression was all red (Support: 0 answered, 7 lost, SL 0 % after four
/// minutes; 37–60 % answered over an hour). A normal day now looks like a well-run small call
/// centre: most callers answered, a few abandons, service level amber to green.
#[test]
fn a_normal_day_is_a_well_run_call_centre() {
    for seed in [42, 7, 11] {
        let cfg = SimConfig {
            seed,
            ..SimConfig::default()
        };
        let hour = queue_figures(&cfg, 60);
        let summary: Vec<_> = hour
            .iter()
            .map(|q| {
                (
                    &q.number,
                    q.answered_pct,
                    q.service_level_pct,
                    q.abandoned,
                    q.entered,
                )
            })
            .collect();
        for q in &hour {
            let answered_pct = q.answered_pct.unwrap();
            assert!(
                (78.0..=98.0).contains(&answered_pct),
                "seed {seed}: {summary:?}"
            );
            assert!(
                q.service_level_pct.unwrap() >= 40.0,
                "seed {seed}: {summary:?}"
            );
            assert!(q.entered >= 20, "seed {seed}: {summary:?}");
        }
        assert!(
            hour.iter().map(|q| q.abandoned).sum::<u64>() >= 1,
            "a few abandons: {summary:?}"
        );
    }
    // The first minutes of the demo's own seed: no queue left all red.
    let first = queue_figures(&SimConfig::default(), 4);
    assert!(
        first
            .iter()
            .all(|q| q.answered_pct.is_none_or(|pct| pct >= 50.0)),
        "{:?}",
        first
            .iter()
            .map(|q| (&q.number, q.answered_pct))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_busy_day_is_worse_and_a_calm_one_quieter() {
    let day = |scenario| {
        let cfg = SimConfig {
            scenario,
            ..SimConfig::default()
        };
        let figures = queue_figures(&cfg, 60);
        let entered: u64 = figures.iter().map(|q| q.entered).sum();
        let answered: u64 = figures.iter().map(|q| q.answered).sum();
        (entered, answered as f64 * 100.0 / entered as f64)
    };
    let (normal_calls, normal_answered) = day(Scenario::Normal);
    let (busy_calls, busy_answered) = day(Scenario::Busy);
    let (calm_calls, calm_answered) = day(Scenario::Calm);
    assert!(
        busy_calls > normal_calls && busy_answered < normal_answered - 10.0,
        "{busy_answered} vs {normal_answered}"
    );
    assert!(calm_calls < normal_calls && calm_answered >= normal_answered);
    // An outage is the feed's, not the call centre's: the same calls, half the polls failing.
    assert_eq!(Scenario::Outage.fault_rate(), 0.5);
    assert_eq!(day(Scenario::Outage), (normal_calls, normal_answered));
}
