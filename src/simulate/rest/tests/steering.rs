//! The REST API steering the traffic, seen on the feed: agents on a break, click-to-call,
//! live calls and the supervisor's actions, and live figures that agree with the feed.

use std::time::Duration;

use serde_json::{json, Value};

use super::{quiet, Sim};
use crate::simulate::SimConfig;

fn busy(rate: f64) -> SimConfig {
    SimConfig {
        rate_per_min: rate,
        ..quiet()
    }
}

fn data<'a>(e: &'a Value, key: &str) -> &'a str {
    e["Data"][key].as_str().unwrap_or_default()
}

fn is_agent(e: &Value, number: &str) -> bool {
    data(e, "QueueAgent").starts_with(&format!("agent_{number}_"))
}

#[tokio::test]
async fn an_agent_on_a_break_is_offered_no_queue_calls() {
    let sim = Sim::start(busy(300.0)).await;
    let line = 1;
    let number = sim.sim.account().lines[line].number.clone();
    let agent = sim.hunt(0, &format!("/agent/{}", sim.agent_id(line)));
    let a = sim
        .call(
            "PUT",
            &agent,
            Some(json!({"status": "onBreak", "breakStatus": 1001})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let from = sim.feed().len();
    let since = sim.get("/auth/time").await.as_i64().unwrap();
    sim.advance(Duration::from_secs(300)).await;
    sim.feed_reaches(since + 290).await;
    let after = &sim.feed()[from..];
    let mut others = 0;
    for e in after {
        match e["Event"].as_str().unwrap() {
            "agent-offering" if is_agent(e, &number) => {
                // Only a round begun before the break rings it.
                let called: i64 = data(e, "QueueAgentCalledTime").parse().unwrap();
                assert!(called <= since + 1, "{e}");
            }
            "bridge-agent-start" if is_agent(e, &number) => {
                let at: i64 = data(e, "QueueAgentAnsweredTime").parse().unwrap();
                assert!(at <= since + 1, "answered on a break: {e}");
            }
            "bridge-agent-start" => others += 1,
            _ => {}
        }
        // Its phone does not ring for a queue either.
        if e["Ressource"] == number.as_str() && e["Event"] == "start_ringing" {
            let queue = sim
                .sim
                .account()
                .queues
                .iter()
                .any(|q| data(e, "Calling") == q.number);
            let at = e["Timestamp"].as_i64().unwrap() / 1_000_000_000;
            assert!(!queue || at <= since + 1, "{e}");
        }
    }
    assert!(others > 20, "the others answer: {others}");
    let live = sim.get(&format!("{agent}/liveStatus")).await;
    assert_eq!(live["status"], "onBreak");

    // Back from the break: offered calls again.
    sim.call("PUT", &agent, Some(json!({"status": "available"})))
        .await;
    let from = sim.feed().len();
    sim.advance(Duration::from_secs(120)).await;
    let offered = sim
        .feed_shows(|e| e["Event"] == "agent-offering" && is_agent(e, &number))
        .await;
    assert!(sim.feed()[from..].contains(&offered));
    sim.stop().await;
}

#[tokio::test]
async fn click_to_call_rings_the_line_then_ends_on_the_feed() {
    let sim = Sim::start(quiet()).await;
    let account = sim.sim.account().clone();
    let line = &account.lines[0];
    let path = sim.ba(&format!("/line/{}/click2Call", line.number));
    for (body, why) in [
        (json!({}), "calledNumber is required"),
        (json!({"calledNumber": "06 12"}), "not a number"),
        (json!({"calledNumber": line.number}), "its own number"),
        (
            json!({"calledNumber": "0033612345678", "intercom": "yes"}),
            "intercom not a boolean",
        ),
    ] {
        assert_eq!(
            sim.call("POST", &path, Some(body)).await.status,
            400,
            "{why}"
        );
    }
    let mgcp = account.lines.iter().find(|l| l.service == "mgcp").unwrap();
    let a = sim
        .call(
            "POST",
            &sim.ba(&format!("/line/{}/click2Call", mgcp.number)),
            Some(json!({"calledNumber": "0033612345678"})),
        )
        .await;
    assert_eq!(a.status, 400, "SIP lines only");

    let a = sim
        .call(
            "POST",
            &path,
            Some(json!({"calledNumber": "+33612345678", "callingNumber": null})),
        )
        .await;
    assert_eq!((a.status, a.body.clone()), (200, Value::Null));
    let called = "0033612345678";
    let rings = sim
        .feed_shows(|e| {
            e["Ressource"] == line.number.as_str()
                && e["Event"] == "start_ringing"
                && data(e, "Called") == called
        })
        .await;
    assert_eq!(data(&rings, "Calling"), line.number);
    let call_id = data(&rings, "CallId").to_string();
    // The conversation lasts tens of seconds: skip them.
    sim.advance(Duration::from_secs(300)).await;
    sim.feed_shows(|e| data(e, "CallId") == call_id && e["Event"] == "end_calling")
        .await;
    let events: Vec<String> = sim
        .feed()
        .iter()
        .filter(|e| data(e, "CallId") == call_id)
        .map(|e| e["Event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events,
        [
            "start_ringing",
            "end_ringing",
            "start_calling",
            "end_calling"
        ]
    );
    sim.stop().await;
}

/// Skips ahead until a queue has an answered live call, early enough in its conversation;
/// returns the queue and the call.
async fn an_answered_call(sim: &Sim) -> (usize, Value) {
    for _ in 0..20 {
        sim.advance(Duration::from_secs(5)).await;
        for q in 0..2 {
            let qid = sim.queue_id(q);
            let path = sim.hunt(q, &format!("/queue/{qid}/liveCalls"));
            for id in sim.get(&path).await.as_array().unwrap() {
                let call = sim.get(&format!("{path}/{id}")).await;
                if call["state"] == "Answered" {
                    return (q, call);
                }
            }
        }
    }
    panic!("no call answered");
}

#[tokio::test]
async fn live_calls_eavesdrop_hold_and_hangup_show_on_the_feed() {
    let sim = Sim::start(busy(30.0)).await;
    let account = sim.sim.account().clone();
    let (q, call) = an_answered_call(&sim).await;
    let mut keys: Vec<&str> = call
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "agent",
            "answered",
            "begin",
            "callerIdName",
            "callerIdNumber",
            "destinationNumber",
            "end",
            "id",
            "onHold",
            "queue",
            "state"
        ]
    );
    assert_eq!(call["destinationNumber"], account.queues[q].number.as_str());
    let id = call["id"].as_i64().unwrap();
    let agent_line = account
        .lines
        .iter()
        .position(|l| call["agent"] == l.number.as_str())
        .unwrap();
    let agent_calls = sim.hunt(q, &format!("/agent/{}/calls", sim.agent_id(agent_line)));
    assert!(sim
        .get(&agent_calls)
        .await
        .as_array()
        .unwrap()
        .contains(&json!(id)));
    assert_eq!(sim.get(&format!("{agent_calls}/{id}")).await["id"], id);
    let live = sim.hunt(q, &format!("/queue/{}/liveCalls/{id}", sim.queue_id(q)));

    // Listen in from a line of the account that is free.
    let mut supervisor = None;
    for line in [4, 3, 2, 0, 1] {
        if line == agent_line {
            continue;
        }
        let number = account.lines[line].number.clone();
        let task = sim
            .call(
                "POST",
                &format!("{live}/eavesdrop"),
                Some(json!({"number": number})),
            )
            .await;
        assert_eq!(task.status, 200, "{}", task.body);
        let mut k: Vec<&str> = task
            .body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        k.sort_unstable();
        assert_eq!(
            k,
            [
                "action",
                "message",
                "objectCreated",
                "serviceType",
                "status",
                "taskId"
            ]
        );
        assert_eq!(task.body["action"], "eavesdrop");
        let again = sim
            .get(&sim.ba(&format!("/task/{}", task.body["taskId"])))
            .await;
        assert_eq!(again, task.body);
        if task.body["status"] == "done" {
            supervisor = Some(number);
            break;
        }
        assert_eq!(task.body["message"], "The line has no free channel");
    }
    let supervisor = supervisor.expect("a free line to listen from");
    let queue_number = account.queues[q].number.clone();
    let rings = sim
        .feed_shows(|e| {
            e["Ressource"] == supervisor.as_str()
                && e["Event"] == "start_ringing"
                && data(e, "Calling") == queue_number
        })
        .await;
    let sup_call = data(&rings, "CallId").to_string();

    // Hold toggles; bad input and unknown calls are refused.
    for on in [true, false] {
        let task = sim.call("POST", &format!("{live}/hold"), None).await;
        assert_eq!(task.body["status"], "done");
        assert_eq!(sim.get(&live).await["onHold"], on);
    }
    let bad = sim
        .call(
            "POST",
            &format!("{live}/whisper"),
            Some(json!({"number": supervisor})),
        )
        .await;
    assert_eq!(bad.status, 400, "whisperingMode is required");
    let nobody = sim.hunt(
        q,
        &format!("/queue/{}/liveCalls/999999/hangup", sim.queue_id(q)),
    );
    assert_eq!(sim.call("POST", &nobody, None).await.status, 404);
    let task = sim
        .call(
            "POST",
            &format!("{live}/intercept"),
            Some(json!({"number": supervisor})),
        )
        .await;
    assert_eq!(
        (task.body["status"].clone(), task.body["message"].clone()),
        (json!("error"), json!("The call has already been answered"))
    );

    // Hang up: the call ends at once, and the supervisor's call with it.
    let task = sim.call("POST", &format!("{live}/hangup"), None).await;
    assert_eq!(task.body["status"], "done", "{}", task.body);
    let caller = call["callerIdNumber"].as_str().unwrap().to_string();
    sim.advance(Duration::from_secs(2)).await;
    let bridge_end = sim
        .feed_shows(|e| e["Event"] == "bridge-agent-end" && data(e, "Calling") == caller)
        .await;
    let sup_end = sim
        .feed_shows(|e| {
            data(e, "CallId") == sup_call
                && (e["Event"] == "end_calling"
                    || e["Event"] == "end_ringing" && data(e, "Body").starts_with("CANCEL"))
        })
        .await;
    assert_eq!(
        sup_end["Timestamp"], bridge_end["Timestamp"],
        "the supervisor leaves with the call"
    );
    sim.feed_shows(|e| e["Event"] == "member-queue-end" && data(e, "Calling") == caller)
        .await;
    assert_eq!(
        sim.call("GET", &live, None).await.status,
        404,
        "no longer live"
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_transferred_call_rings_the_line_it_goes_to() {
    let sim = Sim::start(busy(30.0)).await;
    let account = sim.sim.account().clone();
    let (q, call) = an_answered_call(&sim).await;
    let live = sim.hunt(
        q,
        &format!("/queue/{}/liveCalls/{}", sim.queue_id(q), call["id"]),
    );
    let agent = call["agent"].as_str().unwrap();
    // To a line of the account with a free channel (the busy ones say so in the task).
    let mut target = None;
    for line in [4, 3, 2, 0, 1] {
        let number = account.lines[line].number.clone();
        if number == agent {
            continue;
        }
        let task = sim
            .call(
                "POST",
                &format!("{live}/transfer"),
                Some(json!({"number": number})),
            )
            .await;
        assert_eq!(task.status, 200, "{}", task.body);
        if task.body["status"] == "done" {
            target = Some(number);
            break;
        }
        assert_eq!(task.body["message"], "The line has no free channel");
    }
    let target = target.expect("a free line to transfer to");
    let caller = call["callerIdNumber"].as_str().unwrap().to_string();
    let end = sim
        .feed_shows(|e| e["Event"] == "member-queue-end" && data(e, "Calling") == caller)
        .await;
    assert_eq!(data(&end, "QueueCause"), "Terminated");
    let rings = sim
        .feed_shows(|e| {
            e["Ressource"] == target.as_str()
                && e["Event"] == "start_ringing"
                && data(e, "Calling") == caller
        })
        .await;
    assert!(rings["Timestamp"].as_i64() > end["Timestamp"].as_i64());
    sim.stop().await;
}

#[tokio::test]
async fn live_statistics_agree_with_what_the_feed_said() {
    let sim = Sim::start(busy(120.0)).await;
    let since = sim.get("/auth/time").await.as_i64().unwrap();
    sim.advance(Duration::from_secs(600)).await;
    sim.feed_reaches(since + 590).await;
    sim.faults.pause_traffic();
    let feed = sim.feed();
    let first = sim
        .get(&sim.hunt(0, &format!("/queue/{}/liveStatistics", sim.queue_id(0))))
        .await;
    if first["lastReset"].as_str().unwrap()
        > crate::simulate::rest::iso(since * 1_000_000_000).as_str()
    {
        // Midnight passed during the test: the figures restarted, nothing to compare.
        sim.stop().await;
        return;
    }
    for (q, queue) in sim.sim.account().queues.iter().enumerate() {
        let stats = sim
            .get(&sim.hunt(q, &format!("/queue/{}/liveStatistics", sim.queue_id(q))))
            .await;
        let mine: Vec<&Value> = feed
            .iter()
            .filter(|e| e["Ressource"] == queue.number.as_str())
            .collect();
        let count = |name: &str| mine.iter().filter(|e| e["Event"] == name).count() as u64;
        let lost = mine
            .iter()
            .filter(|e| e["Event"] == "member-queue-end" && data(e, "QueueCause") == "Cancel")
            .count() as u64;
        let talk: i64 = mine
            .iter()
            .filter(|e| e["Event"] == "bridge-agent-end")
            .map(|e| {
                data(e, "QueueBridgeTerminatedTime").parse::<i64>().unwrap()
                    - data(e, "QueueAgentAnsweredTime").parse::<i64>().unwrap()
            })
            .sum();
        assert_eq!(stats["callsTotal"], count("member-queue-start"), "{stats}");
        assert_eq!(
            stats["callsAnswered"],
            count("bridge-agent-start"),
            "{stats}"
        );
        assert_eq!(stats["callsLost"], lost, "{stats}");
        assert_eq!(stats["totalCallDuration"], talk, "{stats}");
        assert!(count("member-queue-start") > 20);
    }
    // And as the dashboard's own engine counts them.
    let mut board = crate::engine::Board::default();
    for e in &feed {
        let at = e["Timestamp"].as_i64().unwrap() as f64 / 1e9;
        if let Ok(ev) = crate::normalise::Event::from_json(e.clone(), "", at) {
            board.apply(&ev, at);
        }
    }
    for view in board.queues() {
        let q = sim
            .sim
            .account()
            .queues
            .iter()
            .position(|x| x.number == view.number)
            .unwrap();
        let stats = sim
            .get(&sim.hunt(q, &format!("/queue/{}/liveStatistics", sim.queue_id(q))))
            .await;
        assert_eq!(stats["callsTotal"], view.entered);
        assert_eq!(stats["callsAnswered"], view.answered);
        assert_eq!(stats["callsLost"], view.abandoned);
    }
    // Agents' days: answered calls as the feed shows them.
    let number = &sim.sim.account().lines[1].number;
    let answered = feed
        .iter()
        .filter(|e| e["Event"] == "bridge-agent-start" && is_agent(e, number))
        .count();
    let live = sim
        .get(&sim.hunt(0, &format!("/agent/{}/liveStatus", sim.agent_id(1))))
        .await;
    assert_eq!(live["answeredCalls"], answered as u64);
    sim.stop().await;
}

/// `POST /_sim/queue-call`.
async fn place(sim: &Sim, body: Value) -> super::Answer {
    let url = format!("{}/_sim/queue-call", sim.base);
    sim.send_to(&url, "POST", &body.to_string(), &[]).await
}

#[tokio::test]
async fn a_caller_placed_on_demand_is_answered_or_waits_offered_to_agents_not_away() {
    let sim = Sim::start(quiet()).await;
    let account = sim.sim.account().clone();
    for (body, why) in [
        (json!({"queue": 9, "seconds": 5}), "no queue 9"),
        (json!({"queue": 0}), "missing field `seconds`"),
        (json!({"seconds": 5, "agent": 1}), "unknown field `agent`"),
    ] {
        let a = place(&sim, body).await;
        assert_eq!(a.status, 400);
        assert!(a.body.as_str().unwrap().contains(why), "{}", a.body);
    }

    // Answered, and still talking long after.
    let a = place(&sim, json!({"queue": 0, "answered": true, "seconds": 600})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["queue"], account.queues[0].number.as_str());
    let caller = a.body["caller"].as_str().unwrap().to_string();
    sim.advance(Duration::from_secs(60)).await;
    let path = sim.hunt(0, &format!("/queue/{}/liveCalls", sim.queue_id(0)));
    let ids = sim.get(&path).await;
    let ids = ids.as_array().unwrap();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let call = sim.get(&format!("{path}/{}", ids[0])).await;
    assert_eq!(call["state"], "Answered", "{call}");
    assert!(caller.ends_with(
        call["callerIdNumber"]
            .as_str()
            .unwrap()
            .trim_start_matches('0')
    ));

    // Waiting: offered to the queue's agents, but not to one on a break.
    let away = account.queues[1].agents[0];
    let away_number = account.lines[away].number.clone();
    let agent = sim.hunt(1, &format!("/agent/{}", sim.agent_id(away)));
    let a = sim
        .call(
            "PUT",
            &agent,
            Some(json!({"status": "onBreak", "breakStatus": 1001})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let from = sim.feed().len();
    let a = place(&sim, json!({"queue": 1, "seconds": 10})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let member = a.body["member"].as_str().unwrap().to_string();
    sim.advance(Duration::from_secs(15)).await;
    let left = sim
        .feed_shows(|e| e["Event"] == "member-queue-end" && data(e, "QueueMemberUUID") == member)
        .await;
    assert_eq!(data(&left, "QueueCancelReason"), "BREAK_OUT", "{left}");
    let after = &sim.feed()[from..];
    let offered: Vec<&Value> = after
        .iter()
        .filter(|e| e["Event"] == "agent-offering")
        .collect();
    assert!(
        !offered.is_empty(),
        "the other agents are offered the caller"
    );
    assert!(
        offered.iter().all(|e| !is_agent(e, &away_number)),
        "{offered:?}"
    );
    sim.stop().await;
}
