//! Tests of the generator steered as the REST fake steers it: agents away or out of a queue,
//! click-to-call and actions on queue callers. Pure and instant: the generator is driven by
//! hand, "now" is whatever the test says, and the whole stream is checked for consistency.

use std::collections::{BTreeMap, HashMap};

use super::actions::ActionError;
use super::*;
use crate::simulate::{Scenario, SimConfig};

/// 26 November 2024, 10:20 Paris time.
const START: i64 = 1_732_612_800_000_000_000;

fn gen(rate: f64) -> TrafficGen {
    let cfg = SimConfig {
        seed: 42,
        rate_per_min: rate,
        ..SimConfig::default()
    };
    TrafficGen::new(&cfg, START)
}

/// Every event up to `until`.
fn run_until(g: &mut TrafficGen, until: i64) -> Vec<SimEvent> {
    let mut out = Vec::new();
    while g.peek_time() <= until {
        out.push(g.next_event());
    }
    out
}

fn ev(e: &SimEvent) -> &str {
    e.event["Event"].as_str().unwrap_or_default()
}

fn data<'a>(e: &'a SimEvent, key: &str) -> &'a str {
    e.event["Data"][key].as_str().unwrap_or_default()
}

fn agent_line(g: &TrafficGen, e: &SimEvent) -> Option<usize> {
    let name = data(e, "QueueAgent");
    g.account()
        .lines
        .iter()
        .position(|l| name.starts_with(&format!("agent_{}_", l.number)))
}

/// What every stream must be, steered or not: time never goes back; each line call rings
/// once, ends ringing once, and ends talking if it talked; each queue caller joins once and
/// leaves once, every offer ends in exactly one start or fail, an answered caller has one
/// bridge start and end; `Count` is the number of callers in the queue; no line carries more
/// calls than it may. Calls still going on at the end of `evs` are left out.
fn check_consistent(g: &TrafficGen, evs: &[SimEvent], complete_before: i64) {
    for w in evs.windows(2) {
        assert!(w[0].at_unix_ns <= w[1].at_unix_ns);
    }
    let mut calls: BTreeMap<(String, String), Vec<(&str, i64)>> = BTreeMap::new();
    let mut members: HashMap<&str, Vec<&SimEvent>> = HashMap::new();
    let mut inside: HashMap<String, i64> = HashMap::new();
    let mut active: HashMap<String, i32> = HashMap::new();
    for e in evs {
        let ressource = e.event["Ressource"].as_str().unwrap().to_string();
        if e.event["Service"] == "queues" {
            let n = inside.entry(ressource).or_default();
            match ev(e) {
                "member-queue-start" => *n += 1,
                "member-queue-end" => *n -= 1,
                _ => {}
            }
            if let Some(c) = e.event["Data"]["Count"].as_str() {
                assert_eq!(c.parse::<i64>().unwrap(), *n, "{}", e.event);
            }
            members
                .entry(data(e, "QueueMemberUUID"))
                .or_default()
                .push(e);
            continue;
        }
        if ev(e) == "registered" {
            continue;
        }
        calls
            .entry((ressource.clone(), data(e, "CallId").to_string()))
            .or_default()
            .push((ev(e), e.at_unix_ns));
        let a = active.entry(ressource.clone()).or_default();
        match ev(e) {
            "start_ringing" => *a += 1,
            "end_calling" => *a -= 1,
            "end_ringing" if data(e, "Body").starts_with("CANCEL") => *a -= 1,
            _ => {}
        }
        let line = g
            .account()
            .lines
            .iter()
            .find(|l| l.number == ressource)
            .unwrap();
        assert!(*a <= line.simultaneous as i32, "{ressource} over capacity");
    }
    for (key, list) in &calls {
        if list[0].1 > complete_before {
            continue;
        }
        let count = |n: &str| list.iter().filter(|(e, _)| *e == n).count();
        assert_eq!(list[0].0, "start_ringing", "{key:?} {list:?}");
        assert_eq!(count("start_ringing"), 1, "{key:?} {list:?}");
        assert_eq!(count("end_ringing"), 1, "{key:?} {list:?}");
        assert!(count("start_calling") <= 1, "{key:?}");
        assert_eq!(
            count("start_calling"),
            count("end_calling"),
            "{key:?} {list:?}"
        );
    }
    for (uuid, list) in &members {
        if list[0].at_unix_ns > complete_before {
            continue;
        }
        let count = |n: &str| list.iter().filter(|e| ev(e) == n).count();
        assert_eq!(count("member-queue-start"), 1, "{uuid}");
        assert_eq!(count("member-queue-end"), 1, "{uuid}");
        assert!(count("bridge-agent-start") <= 1, "{uuid}");
        assert_eq!(
            count("bridge-agent-start"),
            count("bridge-agent-end"),
            "{uuid}"
        );
        assert_eq!(
            count("agent-offering"),
            count("bridge-agent-start") + count("bridge-agent-fail"),
            "{uuid}"
        );
        let end = list.iter().find(|e| ev(e) == "member-queue-end").unwrap();
        let answered = count("bridge-agent-start") == 1;
        assert_eq!(
            data(end, "QueueCause"),
            if answered { "Terminated" } else { "Cancel" },
            "{uuid}"
        );
    }
}

#[test]
fn an_agent_away_is_offered_no_new_caller_and_comes_back() {
    let mut g = gen(30.0);
    let mut evs = run_until(&mut g, START + 600 * S);
    let t = START + 600 * S;
    // Line 1 answers both queues.
    let line = 1;
    assert!(g.account().queues.iter().all(|q| q.agents.contains(&line)));
    g.set_away(line, true, t);
    let away = run_until(&mut g, t + 1800 * S);
    let mut others = 0;
    for e in &away {
        match (ev(e), agent_line(&g, e)) {
            ("agent-offering", Some(l)) if l == line => {
                // Only rounds begun before it went away ring it.
                let called: i64 = data(e, "QueueAgentCalledTime").parse().unwrap();
                assert!(called <= t / S, "{}", e.event);
            }
            ("bridge-agent-start", Some(l)) if l == line => {
                panic!("answered by an agent away: {}", e.event)
            }
            ("bridge-agent-start", Some(_)) => others += 1,
            _ => {}
        }
    }
    assert!(others > 10, "the other agents go on answering: {others}");
    evs.extend(away);
    let back_at = t + 1800 * S;
    g.set_away(line, false, back_at);
    let back = run_until(&mut g, back_at + 1800 * S);
    assert!(back
        .iter()
        .any(|e| ev(e) == "bridge-agent-start" && agent_line(&g, e) == Some(line)));
    evs.extend(back);
    evs.extend(run_until(&mut g, back_at + 2400 * S));
    check_consistent(&g, &evs, back_at + 1800 * S);
}

#[test]
fn a_queue_with_nobody_available_lets_its_callers_go() {
    let mut g = gen(40.0);
    let mut evs = run_until(&mut g, START + 300 * S);
    let t = START + 300 * S;
    let q0 = g.account().queues[0].clone();
    for &l in &q0.agents {
        g.set_away(l, true, t);
    }
    let later = run_until(&mut g, t + 1800 * S);
    let mut cancelled = 0;
    let mut joined_after: Vec<String> = Vec::new();
    for e in &later {
        if e.event["Ressource"] != q0.number.as_str() {
            continue;
        }
        if ev(e) == "member-queue-start" {
            joined_after.push(data(e, "QueueMemberUUID").to_string());
        }
        let uuid = data(e, "QueueMemberUUID");
        if joined_after.iter().any(|u| u == uuid) {
            assert!(
                !["agent-offering", "bridge-agent-start"].contains(&ev(e)),
                "{}",
                e.event
            );
            if ev(e) == "member-queue-end" {
                assert_eq!(data(e, "QueueCause"), "Cancel");
                cancelled += 1;
            }
        }
    }
    assert!(cancelled > 5, "{cancelled}");
    evs.extend(later);
    evs.extend(run_until(&mut g, t + 2400 * S));
    check_consistent(&g, &evs, t + 1800 * S);
}

#[test]
fn an_agent_taken_out_of_one_queue_still_answers_the_other() {
    let mut g = gen(40.0);
    let mut evs = run_until(&mut g, START + 300 * S);
    let t = START + 300 * S;
    let line = 1;
    let q1: Vec<usize> = g.account().queues[1]
        .agents
        .iter()
        .copied()
        .filter(|&l| l != line)
        .collect();
    g.set_members(1, q1, t);
    let later = run_until(&mut g, t + 3600 * S);
    let (q0, q1) = (
        g.account().queues[0].number.clone(),
        g.account().queues[1].number.clone(),
    );
    let mut in_q0 = 0;
    for e in &later {
        if ev(e) != "bridge-agent-start" || agent_line(&g, e) != Some(line) {
            continue;
        }
        assert_ne!(e.event["Ressource"], q1.as_str(), "{}", e.event);
        in_q0 += (e.event["Ressource"] == q0.as_str()) as usize;
    }
    assert!(in_q0 > 0);
    evs.extend(later);
    evs.extend(run_until(&mut g, t + 4200 * S));
    check_consistent(&g, &evs, t + 3600 * S);
}

/// Steps the generator until `pick` finds a queue caller in its plans; returns the events so
/// far, the caller's member UUID and the time of the last event handed out.
fn until_caller(
    g: &mut TrafficGen,
    evs: &mut Vec<SimEvent>,
    pick: impl Fn(&TrafficGen, &CallerPlan, i64) -> bool,
) -> (String, i64) {
    for _ in 0..200_000 {
        evs.push(g.next_event());
        let now = g.last_out;
        if let Some(p) = g.plans.values().find(|p| pick(g, p, now)) {
            return (p.member_uuid.clone(), now);
        }
    }
    panic!("no such caller");
}

fn of_member<'a>(evs: &'a [SimEvent], uuid: &str) -> Vec<&'a SimEvent> {
    evs.iter()
        .filter(|e| data(e, "QueueMemberUUID") == uuid)
        .collect()
}

#[test]
fn a_waiting_callers_agent_leaving_is_replaced_or_the_caller_gives_up() {
    for rate in [20.0, 60.0] {
        let mut g = gen(rate);
        let mut evs = Vec::new();
        // A caller about to be answered, by an agent whose phone rings with others'.
        let (uuid, t) = until_caller(&mut g, &mut evs, |_, p, now| {
            p.answer.is_some_and(|a| {
                let round = &p.rounds[a.round];
                round.start <= now && round.end > now + S && round.offers.len() > 1
            })
        });
        let plan = g.plans.values().find(|p| p.member_uuid == uuid).unwrap();
        let a = plan.answer.unwrap();
        let winner = plan.rounds[a.round].offers[a.offer].line;
        g.set_away(winner, true, t);
        evs.extend(run_until(&mut g, t + 900 * S));
        let mine = of_member(&evs, &uuid);
        let start = mine.iter().find(|e| ev(e) == "bridge-agent-start");
        if let Some(s) = start {
            assert_ne!(agent_line(&g, s), Some(winner), "another agent answers");
        } else {
            let end = mine.iter().find(|e| ev(e) == "member-queue-end").unwrap();
            assert_eq!(data(end, "QueueCause"), "Cancel");
        }
        check_consistent(&g, &evs, t + 600 * S);
    }
}

#[test]
fn click_to_call_rings_the_line_then_the_called_number() {
    let mut g = gen(0.0);
    let mut evs = run_until(&mut g, START + 60 * S);
    let t = START + 60 * S;
    let account = g.account().clone();
    let external = "0033612345678";
    g.click_to_call(0, external, false, t).unwrap();
    // Internal: both lines of the account ring, one CallId.
    let called = account.lines[2].number.clone();
    g.click_to_call(1, &called, true, t).unwrap();
    // Line 1 has one channel: busy now.
    assert_eq!(
        g.click_to_call(1, external, false, t + S),
        Err(ActionError::Busy)
    );
    evs.extend(run_until(&mut g, t + 600 * S));
    let on = |line: usize| -> Vec<&SimEvent> {
        evs.iter()
            .filter(|e| e.event["Ressource"] == account.lines[line].number.as_str())
            .filter(|e| ev(e) != "registered")
            .collect()
    };
    let names = |v: &[&SimEvent]| v.iter().map(|e| ev(e).to_string()).collect::<Vec<_>>();
    let l0 = on(0);
    assert_eq!(
        names(&l0),
        [
            "start_ringing",
            "end_ringing",
            "start_calling",
            "end_calling"
        ]
    );
    for e in &l0 {
        assert_eq!(data(e, "Calling"), account.lines[0].number);
        assert_eq!(data(e, "Called"), external);
        assert!(e.at_unix_ns > t);
    }
    let (l1, l2) = (on(1), on(2));
    assert_eq!(names(&l1).len(), 4);
    assert_eq!(names(&l2).len(), 4);
    assert_eq!(data(l1[0], "CallId"), data(l2[0], "CallId"));
    assert!(
        l2[0].at_unix_ns > l1[2].at_unix_ns,
        "the called line rings after the answer"
    );
    assert_eq!(l1[3].at_unix_ns, l2[3].at_unix_ns, "both hang up together");
    check_consistent(&g, &evs, t + 600 * S);
}

#[test]
fn a_supervisor_listens_until_the_call_ends_and_a_hang_up_ends_it_now() {
    let mut g = gen(20.0);
    let mut evs = Vec::new();
    let supervisor = 4;
    let (uuid, t) = until_caller(&mut g, &mut evs, |g, p, now| {
        p.answered_at().is_some_and(|at| at <= now)
            && p.queue_end() > now + 20 * S
            && g.is_free(supervisor, now, p.queue_end() + S)
    });
    g.supervise(&uuid, Some(supervisor), t).unwrap();
    let hang_at = t + 10 * S;
    evs.extend(run_until(&mut g, hang_at));
    let planned_end = g
        .plans
        .values()
        .find(|p| p.member_uuid == uuid)
        .unwrap()
        .queue_end();
    g.hang_up(&uuid, hang_at).unwrap();
    // The supervisor's channel is given back with the hang-up, not when the call would have
    // ended (regression: the line stayed "busy" for a click-to-call until then).
    assert!(g.is_free(supervisor, hang_at + 2 * S, planned_end));
    evs.extend(run_until(&mut g, t + 900 * S));
    // Once the caller has left the queue, there is nothing left to act on.
    assert_eq!(g.hang_up(&uuid, t + 900 * S), Err(ActionError::Gone));
    let mine = of_member(&evs, &uuid);
    let bridge_end = mine.iter().find(|e| ev(e) == "bridge-agent-end").unwrap();
    assert!(bridge_end.at_unix_ns > hang_at && bridge_end.at_unix_ns <= hang_at + S);
    let number = &g.account().lines[supervisor].number;
    let sup: Vec<&SimEvent> = evs
        .iter()
        .filter(|e| e.event["Ressource"] == number.as_str() && e.at_unix_ns > t)
        .filter(|e| {
            data(e, "Calling") == g.account().queues[0].number
                || data(e, "Calling") == g.account().queues[1].number
        })
        .collect();
    let names: Vec<&str> = sup.iter().map(|e| ev(e)).collect();
    assert_eq!(
        names,
        [
            "start_ringing",
            "end_ringing",
            "start_calling",
            "end_calling"
        ]
    );
    assert_eq!(
        sup[3].at_unix_ns, bridge_end.at_unix_ns,
        "ends with the call"
    );
    check_consistent(&g, &evs, t + 600 * S);
}

#[test]
fn transfer_and_intercept_send_the_caller_to_another_line() {
    let mut g = gen(20.0);
    let mut evs = Vec::new();
    let target = 4;
    let (answered, t) = until_caller(&mut g, &mut evs, |g, p, now| {
        p.answered_at().is_some_and(|at| at <= now)
            && p.queue_end() > now + 20 * S
            && g.is_free(target, now, p.queue_end() + 20 * S)
    });
    assert_eq!(
        g.intercept(&answered, Some(target), t),
        Err(ActionError::Answered)
    );
    g.transfer(&answered, Some(target), t).unwrap();
    let (waiting, t2) = until_caller(&mut g, &mut evs, |_, p, now| {
        p.answer.is_none() && p.stop > now + 10 * S && now > t + 200 * S
    });
    assert_eq!(
        g.transfer(&waiting, Some(target), t2),
        Err(ActionError::NotAnswered)
    );
    g.intercept(&waiting, None, t2).unwrap();
    evs.extend(run_until(&mut g, t2 + 900 * S));

    let caller_of = |uuid: &str| data(of_member(&evs, uuid)[0], "Calling").to_string();
    let onward: Vec<&SimEvent> = evs
        .iter()
        .filter(|e| e.event["Ressource"] == g.account().lines[target].number.as_str())
        .filter(|e| data(e, "Calling") == caller_of(&answered))
        .collect();
    assert_eq!(
        onward.len(),
        4,
        "the transferred call rings, is answered and ends"
    );
    let end = of_member(&evs, &answered)
        .into_iter()
        .find(|e| ev(e) == "member-queue-end")
        .unwrap();
    assert!(end.at_unix_ns <= t + S && onward[0].at_unix_ns > end.at_unix_ns - S);
    let left = of_member(&evs, &waiting)
        .into_iter()
        .find(|e| ev(e) == "member-queue-end")
        .unwrap();
    assert_eq!(data(left, "QueueCause"), "Cancel");
    assert!(left.at_unix_ns <= t2 + S);
    check_consistent(&g, &evs, t2 + 600 * S);
}

/// The generator nobody steers writes the same stream as ever: a digest of 30,000 events for
/// three seeds and every scenario, fixed when queue callers became plans. A change to the
/// order of the random draws (so to every seeded demo and test) shows here first.
#[test]
fn the_unsteered_stream_is_unchanged() {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for seed in [1, 42, 7_000] {
        for scenario in [Scenario::Normal, Scenario::Busy, Scenario::Calm] {
            let cfg = SimConfig {
                seed,
                rate_per_min: 30.0,
                scenario,
                ..SimConfig::default()
            };
            for e in generate(&cfg, START, 10_000 / 3) {
                hash.update(e.at_unix_ns.to_le_bytes());
                hash.update(e.tokens.join(",").as_bytes());
                hash.update(e.event.to_string().as_bytes());
            }
        }
    }
    let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        digest,
        "d06192dff7195713c896d16020c69960aaf5c63a1050c7c69311ff5092b1267d"
    );
}
