//! Engine tests: the fixtures' truth, the rules one by one, and properties over arbitrary
//! orders and repetitions of events. No I/O beyond reading the fixture files.

use super::*;
use crate::normalise::EventKind;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::test_support::{fixture, fixture_events as events, FIXTURE_TOKEN as TOKEN};

fn expected() -> Value {
    serde_json::from_str(&fixture("expected.json")).unwrap()
}

/// Plays events as if each arrived when OVH stamped it.
fn play(board: &mut Board, events: &[Event]) -> Vec<Change> {
    events.iter().flat_map(|e| board.apply(e, e.at)).collect()
}

fn finished_calls(changes: &[Change]) -> Vec<CallRecord> {
    let mut calls: Vec<CallRecord> = Vec::new();
    for c in changes {
        match c {
            Change::CallFinished(r) => calls.push(r.clone()),
            Change::CallReopened {
                number, call_id, ..
            } => calls.retain(|r| !(&r.number == number && &r.call_id == call_id)),
            _ => {}
        }
    }
    calls
}

fn as_expected_call(r: &CallRecord) -> Value {
    json!({
        "number": r.number, "call_id": r.call_id, "direction": r.direction,
        "calling": r.calling, "called": r.called, "dialed": r.dialed,
        "started_at": r.started_at, "answered_at": r.answered_at, "ended_at": r.ended_at,
        "ring_s": r.ring_s, "talk_s": r.talk_s, "outcome": r.outcome,
    })
}

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|c| format!("{}{}", c["number"], c["call_id"]));
    v
}

/// Compares numbers by value, so that 6 and 6.0 are equal.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-9
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}

#[test]
fn lines_fixture_gives_the_expected_history_and_leaves_every_line_free() {
    let mut board = Board::default();
    let changes = play(&mut board, &events("lines.v1.jsonl"));
    let got = sorted(
        finished_calls(&changes)
            .iter()
            .map(as_expected_call)
            .collect(),
    );
    let want = sorted(
        expected()["lines.v1.jsonl"]["calls"]
            .as_array()
            .unwrap()
            .clone(),
    );
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!(same(g, w), "\n got {g}\nwant {w}");
    }
    assert!(board.calls().is_empty());
    let lines = board.lines();
    assert_eq!(lines.len(), 3);
    assert!(
        lines
            .iter()
            .all(|l| l.status == LineStatus::Free && l.active_calls == 0),
        "{lines:?}"
    );
    let accueil = board.line("0033972101010").unwrap();
    assert_eq!(accueil.description.as_deref(), Some("Accueil"));
    assert_eq!(accueil.simultaneous_lines, Some(2));
    assert_eq!(accueil.last_registered_at, Some(1732612800.0));
}

#[test]
fn lines_fixture_per_line_tallies() {
    let mut board = Board::default();
    let calls = finished_calls(&play(&mut board, &events("lines.v1.jsonl")));
    for (number, want) in expected()["lines.v1.jsonl"]["per_line"]
        .as_object()
        .unwrap()
    {
        let mine: Vec<&CallRecord> = calls.iter().filter(|c| &c.number == number).collect();
        let count = |f: &dyn Fn(&CallRecord) -> bool| mine.iter().filter(|c| f(c)).count() as u64;
        assert_eq!(
            mine.len() as u64,
            want["calls"].as_u64().unwrap(),
            "{number}"
        );
        assert_eq!(
            count(&|c| c.outcome == CallOutcome::Answered),
            want["answered"].as_u64().unwrap()
        );
        assert_eq!(
            count(&|c| c.outcome == CallOutcome::Missed),
            want["missed"].as_u64().unwrap()
        );
        assert_eq!(
            count(&|c| c.outcome == CallOutcome::Unanswered),
            want["unanswered"].as_u64().unwrap()
        );
        assert_eq!(
            count(&|c| c.direction == Direction::Incoming),
            want["incoming"].as_u64().unwrap()
        );
        assert_eq!(
            count(&|c| c.direction == Direction::Outgoing),
            want["outgoing"].as_u64().unwrap()
        );
    }
}

#[test]
fn queue_fixture_gives_the_expected_figures_and_journal() {
    let mut board = Board::default();
    let changes = play(&mut board, &events("queue.v1.jsonl"));
    let truth = &expected()["queue.v1.jsonl"];
    let q = board.queue("0033972100100").unwrap();
    let want = &truth["queues"]["0033972100100"];
    assert_eq!(q.entered, want["entered"].as_u64().unwrap());
    assert_eq!(q.answered, want["answered"].as_u64().unwrap());
    assert_eq!(q.abandoned, want["abandoned"].as_u64().unwrap());
    assert_eq!(q.answered_pct, want["answered_pct"].as_f64());
    assert_eq!(q.avg_wait_s, want["avg_wait_s"].as_f64());
    assert_eq!(q.max_wait_s, want["max_wait_s"].as_f64());
    assert_eq!(q.avg_talk_s, want["avg_talk_s"].as_f64());
    assert_eq!(q.service_level_pct, want["service_level_pct"].as_f64());
    assert_eq!(q.waiting as u64, want["waiting"].as_u64().unwrap());
    assert_eq!(q.kind, Some("easy"));
    assert_eq!(q.description.as_deref(), Some("Support"));
    assert!(q.callers.is_empty());

    let journal: Vec<Value> = changes
        .iter()
        .filter_map(|c| match c {
            Change::CallerLeft(j) => Some(json!({
                "queue": j.queue, "caller": j.caller, "agent": j.agent, "joined_at": j.joined_at,
                "answered_at": j.answered_at, "left_at": j.left_at, "wait_s": j.wait_s, "talk_s": j.talk_s,
                "outcome": j.outcome, "member": j.member,
            })),
            _ => None,
        })
        .collect();
    let want_journal = truth["journal"].as_array().unwrap();
    let by_member = |v: &[Value]| {
        sorted(
            v.iter()
                .map(|e| {
                    let mut e = e.clone();
                    e["number"] = e["member"].clone();
                    e["call_id"] = json!("");
                    e
                })
                .collect(),
        )
    };
    for (g, w) in by_member(&journal)
        .iter()
        .zip(by_member(want_journal).iter())
    {
        assert!(same(g, w), "\n got {g}\nwant {w}");
    }
    assert_eq!(journal.len(), want_journal.len());

    // The agents' own lines saw their calls too.
    let agent_calls = sorted(
        finished_calls(&changes)
            .iter()
            .map(as_expected_call)
            .collect(),
    );
    let want_agent_calls = sorted(truth["agent_line_calls"].as_array().unwrap().clone());
    assert_eq!(agent_calls.len(), want_agent_calls.len());
    for (g, w) in agent_calls.iter().zip(&want_agent_calls) {
        assert!(same(g, w), "\n got {g}\nwant {w}");
    }
}

#[test]
fn service_level_follows_the_threshold_in_force() {
    let mut board = Board::default();
    play(&mut board, &events("queue.v1.jsonl"));
    board.set_params(BoardParams {
        service_level_s: 40.0,
        ..BoardParams::default()
    });
    assert_eq!(
        board.queue("0033972100100").unwrap().service_level_pct,
        Some(50.0)
    );
}

#[test]
fn queue_state_mid_trace_shows_waiting_offered_and_talking_callers() {
    let all = events("queue.v1.jsonl");
    // Up to caller 1's answer: caller 1 talks to Accueil, caller 2 is being offered.
    let cut = all
        .iter()
        .position(|e| e.kind == EventKind::BridgeAgentStart)
        .unwrap()
        + 1;
    let mut board = Board::default();
    play(&mut board, &all[..cut]);
    let q = board.queue("0033972100100").unwrap();
    assert_eq!((q.waiting, q.in_call, q.entered, q.answered), (1, 1, 2, 1));
    let talking = q
        .callers
        .iter()
        .find(|c| c.state == CallerState::InCall)
        .unwrap();
    assert_eq!(talking.caller.as_deref(), Some("0033655555555"));
    assert_eq!(talking.agent.as_deref(), Some("0033972101010"));
    let offered = q
        .callers
        .iter()
        .find(|c| c.state == CallerState::Offered)
        .unwrap();
    assert_eq!(offered.caller.as_deref(), Some("0033666666666"));
    // The losing agent's failure that follows does not disturb the answered caller.
    let fail = all[cut..]
        .iter()
        .find(|e| e.kind == EventKind::BridgeAgentFail)
        .unwrap();
    board.apply(fail, fail.at);
    let q = board.queue("0033972100100").unwrap();
    assert_eq!((q.waiting, q.in_call, q.abandoned), (1, 1, 0));
}

#[test]
fn lines_mid_call_show_ringing_then_in_call() {
    let all = events("lines.v1.jsonl");
    let mut board = Board::default();
    let ring = all
        .iter()
        .position(|e| e.kind == EventKind::StartRinging)
        .unwrap();
    play(&mut board, &all[..=ring]);
    assert_eq!(
        board.line("0033972101010").unwrap().status,
        LineStatus::Ringing
    );
    let calls = board.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].direction, Direction::Incoming);
    let answer = all
        .iter()
        .position(|e| e.kind == EventKind::StartCalling)
        .unwrap();
    play(&mut board, &all[ring + 1..=answer]);
    let line = board.line("0033972101010").unwrap();
    assert_eq!((line.status, line.active_calls), (LineStatus::InCall, 1));
    assert_eq!(board.calls()[0].answered_at, Some(1732612816.0));
}

#[test]
fn a_repeated_event_changes_nothing() {
    let all = events("queue.v1.jsonl");
    let mut once = Board::default();
    play(&mut once, &all);
    let mut twice = Board::default();
    let doubled: Vec<Event> = all.iter().flat_map(|e| [e.clone(), e.clone()]).collect();
    let changes = play(&mut twice, &doubled);
    assert_eq!(once.queues(), twice.queues());
    assert_eq!(
        changes
            .iter()
            .filter(|c| matches!(c, Change::CallerLeft(_)))
            .count(),
        4
    );
    assert_eq!(finished_calls(&changes).len(), 2);
}

#[test]
fn a_call_whose_end_never_comes_expires_as_unknown() {
    let all = events("lines.v1.jsonl");
    let ring = all
        .iter()
        .position(|e| e.kind == EventKind::StartRinging)
        .unwrap();
    let mut board = Board::default();
    let t0 = 1_000_000.0;
    for e in &all[..=ring] {
        board.apply(e, t0);
    }
    assert!(board.tick(t0 + 599.0).is_empty(), "not yet");
    let changes = board.tick(t0 + 601.0);
    let rec = finished_calls(&changes);
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].outcome, CallOutcome::Unknown);
    assert_eq!(rec[0].ended_at, rec[0].started_at);
    assert_eq!(
        board.line("0033972101010").unwrap().status,
        LineStatus::Unknown
    );
    assert!(board.calls().is_empty());
}

#[test]
fn a_waiting_caller_whose_end_never_comes_expires_without_counting_as_abandoned() {
    let all = events("queue.v1.jsonl");
    let mut board = Board::default();
    board.apply(&all[0], 0.0);
    assert_eq!(board.queue("0033972100100").unwrap().waiting, 1);
    assert!(
        board.tick(7199.0).is_empty(),
        "queues may keep callers waiting long"
    );
    let changes = board.tick(7201.0);
    let q = board.queue("0033972100100").unwrap();
    assert_eq!((q.waiting, q.abandoned, q.expired, q.entered), (0, 0, 1, 1));
    assert!(
        matches!(&changes[0], Change::CallerLeft(j) if j.outcome == JournalOutcome::Unknown && j.reason == "expired")
    );
}

#[test]
fn reset_clears_figures_and_idle_numbers_but_keeps_calls_in_progress() {
    let lines = events("lines.v1.jsonl");
    let queue = events("queue.v1.jsonl");
    let mut board = Board::default();
    play(&mut board, &queue);
    let ring = lines
        .iter()
        .position(|e| e.kind == EventKind::StartRinging)
        .unwrap();
    play(&mut board, &lines[..=ring]);
    board.reset(5.0);
    assert_eq!(board.since(), Some(5.0));
    assert!(board.queues().is_empty());
    let remaining = board.lines();
    assert_eq!(remaining.len(), 1, "only the line with a call in progress");
    assert_eq!(remaining[0].status, LineStatus::Ringing);
    // Its end is still recognised after the reset.
    let rest = play(&mut board, &lines[ring + 1..]);
    assert!(finished_calls(&rest)
        .iter()
        .any(|c| c.call_id == "36f675cc81e74ef5a8e25d94." && c.outcome == CallOutcome::Answered));
}

#[test]
fn start_calling_after_end_ringing_reopens_the_call() {
    const T0: f64 = 1732612800.0;
    let e = |name: &str, at: f64| {
        Event::from_json(
            json!({"Event": name, "Ressource": "0033972101010", "Service": "sip", "Timestamp": ((T0 + at) * 1e9) as i64,
                   "Data": {"CallId": "c1", "Calling": "0033612345678", "Called": "0033972101010"}}),
            TOKEN,
            at,
        )
        .unwrap()
    };
    let mut board = Board::default();
    let changes = play(
        &mut board,
        &[e("start_ringing", 10.0), e("end_ringing", 14.0)],
    );
    assert_eq!(finished_calls(&changes)[0].outcome, CallOutcome::Missed);
    let changes = play(&mut board, &[e("start_calling", 14.0)]);
    assert!(matches!(&changes[0], Change::CallReopened { call_id, .. } if call_id == "c1"));
    assert_eq!(
        board.line("0033972101010").unwrap().status,
        LineStatus::InCall
    );
    let changes = play(&mut board, &[e("end_calling", 74.0)]);
    let rec = &finished_calls(&changes)[0];
    assert_eq!(
        (rec.outcome, rec.ring_s, rec.talk_s),
        (CallOutcome::Answered, 4.0, 60.0)
    );
}

#[test]
fn an_event_without_calling_falls_back_on_called_for_its_direction() {
    let odd = events("oddities.v1.jsonl");
    let mut board = Board::default();
    board.apply(&odd[1], 0.0);
    let calls = board.calls();
    assert_eq!(calls[0].direction, Direction::Incoming);
    assert_eq!(calls[0].calling, None);
    // The unknown event type and the one without Details are kept harmlessly.
    for e in &odd[2..] {
        board.apply(e, 0.0);
    }
    assert_eq!(
        board.line("0033972101010").unwrap().description.as_deref(),
        Some("Accueil")
    );
}

#[test]
fn a_call_first_seen_without_numbers_learns_its_direction_later() {
    let e = |name: &str, data: serde_json::Value| {
        Event::from_json(json!({"Event": name, "Ressource": "0033972101010", "Service": "sip", "Timestamp": 1732612800000000000i64, "Data": data}), TOKEN, 0.0).unwrap()
    };
    let mut board = Board::default();
    board.apply(&e("start_ringing", json!({"CallId": "c9"})), 0.0);
    assert_eq!(board.calls()[0].direction, Direction::Unknown);
    board.apply(
        &e(
            "start_calling",
            json!({"CallId": "c9", "Calling": "0033972101010", "Called": "0033612345678"}),
        ),
        1.0,
    );
    let call = &board.calls()[0];
    assert_eq!(
        (call.direction, call.calling.as_deref()),
        (Direction::Outgoing, Some("0033972101010"))
    );
}

/// A queue event built from the fixture's first caller, with `data` merged into its Data.
fn queue_event(name: &str, at: f64, data: serde_json::Value) -> Event {
    let mut base = json!({"Event": name, "Ressource": "0033972100100", "Service": "queues", "Timestamp": (at * 1e9) as i64,
        "Details": {"Type": "easyHunting", "Description": "Support"},
        "Data": {"QueueMemberUUID": "m1", "Calling": "0033655555555", "QueueMemberJoinedTime": "1732613800"}});
    for (k, v) in data.as_object().unwrap() {
        base["Data"][k] = v.clone();
    }
    Event::from_json(base, TOKEN, at).unwrap()
}

#[test]
fn a_time_of_zero_is_no_time() {
    // Seen in the wild: unset FreeSWITCH times arrive as "0".
    let mut board = Board::default();
    board.apply(
        &queue_event("member-queue-start", 1732613800.0, json!({})),
        0.0,
    );
    let changes = board.apply(
        &queue_event("member-queue-end", 1732613850.0, json!({"QueueCause": "Cancel", "QueueAgentAnsweredTime": "0", "QueueMemberLeavingTime": "1732613850"})),
        1.0,
    );
    let q = board.queue("0033972100100").unwrap();
    assert_eq!((q.answered, q.abandoned, q.max_wait_s), (0, 1, Some(50.0)));
    assert!(
        matches!(&changes[0], Change::CallerLeft(j) if j.outcome == JournalOutcome::Abandoned && j.wait_s == 50.0)
    );
    let joined_zero = queue_event(
        "member-queue-start",
        1732613900.0,
        json!({"QueueMemberUUID": "m2", "QueueMemberJoinedTime": "0"}),
    );
    assert_eq!(
        joined_zero.queue.joined_at, None,
        "falls back on the event's own time"
    );
}

#[test]
fn a_caller_waiting_eleven_minutes_is_still_counted_when_the_queue_times_out() {
    let mut board = Board::default();
    board.apply(
        &queue_event("member-queue-start", 1732613800.0, json!({})),
        0.0,
    );
    board.tick(660.0);
    board.apply(
        &queue_event("member-queue-end", 1732614460.0, json!({"QueueCause": "Cancel", "QueueCancelReason": "TIMEOUT", "QueueMemberLeavingTime": "1732614460"})),
        660.0,
    );
    let q = board.queue("0033972100100").unwrap();
    assert_eq!((q.abandoned, q.expired, q.max_wait_s), (1, 0, Some(660.0)));
}

#[test]
fn after_a_reset_answered_and_abandoned_never_exceed_entered() {
    let mut board = Board::default();
    board.apply(
        &queue_event("member-queue-start", 1732613800.0, json!({})),
        0.0,
    );
    board.reset(1.0);
    board.apply(
        &queue_event(
            "member-queue-end",
            1732613830.0,
            json!({"QueueCause": "Cancel"}),
        ),
        2.0,
    );
    let q = board.queue("0033972100100").unwrap();
    assert_eq!(
        (q.entered, q.abandoned),
        (1, 1),
        "the caller present at the reset is carried over"
    );
}

#[test]
fn latency_is_measured_against_ts_get_only() {
    let e = Event::from_json(json!({"Event": "start_ringing", "Ressource": "0033972101010", "Timestamp": 1732612810000000000i64, "Data": {"Ts": 1732612809.0}}), TOKEN, 0.0).unwrap();
    assert_eq!(e.latency_ms, None);
    assert_eq!(e.at, 1732612810.0);
}

// Properties: any order, any repetition, any subset of the fixtures' events never panics,
// never produces a negative duration, and figures always add up.
fn all_fixture_events() -> Vec<Event> {
    let mut v = events("lines.v1.jsonl");
    v.extend(events("queue.v1.jsonl"));
    v.extend(events("oddities.v1.jsonl"));
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_orders_and_duplicates_stay_consistent(
        picks in proptest::collection::vec((0usize..1000, 0u32..3, 0f64..900.0), 0..160),
        tick_at in 0f64..20000.0,
    ) {
        let pool = all_fixture_events();
        let mut board = Board::default();
        let mut changes = Vec::new();
        let mut now = 0.0;
        for (i, repeat, gap) in picks {
            let e = &pool[i % pool.len()];
            now += gap;
            for _ in 0..=repeat {
                changes.extend(board.apply(e, now));
            }
        }
        changes.extend(board.tick(now + tick_at));
        for c in &changes {
            match c {
                Change::CallFinished(r) => {
                    prop_assert!(r.ring_s >= 0.0 && r.talk_s >= 0.0, "{r:?}");
                    prop_assert!(r.started_at <= r.ended_at);
                    prop_assert!(r.answered_at.is_none_or(|a| r.started_at <= a && a <= r.ended_at));
                    if r.outcome == CallOutcome::Answered {
                        prop_assert!(r.answered_at.is_some());
                    }
                }
                Change::CallerLeft(j) => {
                    prop_assert!(j.wait_s >= 0.0 && j.talk_s >= 0.0, "{j:?}");
                    prop_assert!(j.joined_at <= j.left_at);
                }
                _ => {}
            }
        }
        for q in board.queues() {
            let present = (q.waiting + q.in_call) as u64;
            prop_assert_eq!(q.callers.len() as u64, present);
            // Everyone who entered is still there, answered, abandoned or expired; an answered
            // caller may still be in the queue talking.
            let talking_answered = q.callers.iter().filter(|c| c.answered_at.is_some()).count() as u64;
            prop_assert_eq!(q.entered, q.answered + q.abandoned + q.expired + present - talking_answered);
            for pct in [q.answered_pct, q.service_level_pct].into_iter().flatten() {
                prop_assert!((0.0..=100.0).contains(&pct));
            }
            prop_assert!(q.avg_wait_s.is_none_or(|w| w >= 0.0));
        }
        for l in board.lines() {
            prop_assert_eq!(l.active_calls == 0, matches!(l.status, LineStatus::Free | LineStatus::Unknown));
        }
    }
}

/// One event of a ring-all queue scene: `kind` on `number`, with `data` merged in.
fn scene_event(kind: &str, number: &str, at: f64, data: Value) -> Event {
    let mut d = json!({"Event": kind, "Ts": at});
    d.as_object_mut()
        .unwrap()
        .extend(data.as_object().unwrap().clone());
    let service = if number == QUEUE { "queues" } else { number };
    let raw = json!({"Event": kind, "Ressource": number, "Service": service, "Data": d,
                     "Details": {"Type": if number == QUEUE { "easyHunting" } else { "sipCirpack" }}});
    Event::from_json(raw, TOKEN, at).unwrap()
}

const QUEUE: &str = "0033972100100";
const CALLER: &str = "0033655555555";
const ALICE: &str = "0033972101010";
const BOB: &str = "0033972101011";

/// A caller offered to two agents at once; Alice takes it, Bob's line rings for nothing. The
/// agents' lines show the ring with `calling` (the queue's number, or the caller's: OVH does
/// both) and the queue as `Dialed`; `offer_first` says whether the queue's `agent-offering`
/// arrives before or after the line starts ringing.
fn ring_all(calling: &str, offer_first: bool) -> Vec<Event> {
    let member = json!({"QueueMemberUUID": "m-1", "Calling": CALLER});
    let with = |agent: &str| {
        let mut m = member.clone();
        m["QueueAgent"] = json!(format!("agent_{agent}_1"));
        m
    };
    let ring = |line: &str, id: &str, at: f64| {
        scene_event(
            "start_ringing",
            line,
            at,
            json!({"CallId": id, "Calling": calling, "Called": line, "Dialed": QUEUE}),
        )
    };
    let line_event = |kind: &str, line: &str, id: &str, at: f64| {
        scene_event(
            kind,
            line,
            at,
            json!({"CallId": id, "Calling": calling, "Called": line, "Dialed": QUEUE}),
        )
    };
    let mut events = vec![scene_event(
        "member-queue-start",
        QUEUE,
        100.0,
        member.clone(),
    )];
    for (agent, id) in [(ALICE, "a-1"), (BOB, "b-1")] {
        let offer = scene_event("agent-offering", QUEUE, 101.0, with(agent));
        if offer_first {
            events.extend([offer, ring(agent, id, 101.0)]);
        } else {
            events.extend([ring(agent, id, 101.0), offer]);
        }
    }
    events.extend([
        scene_event("bridge-agent-start", QUEUE, 110.0, with(ALICE)),
        line_event("start_calling", ALICE, "a-1", 110.0),
        line_event("end_ringing", ALICE, "a-1", 110.0),
        scene_event("bridge-agent-fail", QUEUE, 110.1, with(BOB)),
        line_event("end_ringing", BOB, "b-1", 110.1),
        scene_event("bridge-agent-end", QUEUE, 170.0, with(ALICE)),
        line_event("end_calling", ALICE, "a-1", 170.0),
        scene_event("member-queue-end", QUEUE, 170.1, member),
    ]);
    events
}

/// A queue's unanswered rings on agents' lines were stored as missed calls from the queue's
/// number (14 "call back" attempts of the queue itself, 20 of 33 calls "missed").
#[test]
fn a_queue_ring_on_an_agent_line_is_an_offer_not_a_missed_call() {
    for calling in [QUEUE, CALLER] {
        for offer_first in [true, false] {
            let mut board = Board::default();
            let calls = finished_calls(&play(&mut board, &ring_all(calling, offer_first)));
            let case = format!("calling {calling}, offer first: {offer_first}");
            assert_eq!(calls.len(), 2, "{case}");
            let alice = calls.iter().find(|c| c.number == ALICE).unwrap();
            assert_eq!(alice.outcome, CallOutcome::Answered, "{case}");
            assert_eq!(alice.queue.as_deref(), Some(QUEUE), "{case}");
            assert_eq!(alice.queue_caller.as_deref(), Some(CALLER), "{case}");
            let bob = calls.iter().find(|c| c.number == BOB).unwrap();
            assert_eq!(bob.outcome, CallOutcome::QueueOffer, "{case}");
            assert_eq!(bob.queue.as_deref(), Some(QUEUE), "{case}");
            assert!(calls.iter().all(|c| c.outcome != CallOutcome::Missed));
            // The queue counts its caller once, answered.
            let q = board.queue(QUEUE).unwrap();
            assert_eq!((q.entered, q.answered, q.abandoned), (1, 1, 0), "{case}");
        }
    }
}

/// A direct call to an agent's line while a queue offers someone else is not the queue's.
#[test]
fn a_direct_call_during_an_offer_stays_a_missed_call() {
    let mut board = Board::default();
    let mut events = ring_all(QUEUE, true);
    events.truncate(5);
    let stranger = "0033699999999";
    let data = json!({"CallId": "d-1", "Calling": stranger, "Called": ALICE, "Dialed": ALICE});
    events.push(scene_event("start_ringing", ALICE, 102.0, data.clone()));
    events.push(scene_event("end_ringing", ALICE, 105.0, data));
    let calls = finished_calls(&play(&mut board, &events));
    let direct = calls.iter().find(|c| c.call_id == "d-1").unwrap();
    assert_eq!(direct.outcome, CallOutcome::Missed);
    assert_eq!(direct.queue, None);
}
