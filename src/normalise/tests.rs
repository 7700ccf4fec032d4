use super::*;

use crate::test_support::{fixture, fixture_events as all_events, FIXTURE_TOKEN as TOKEN};

#[test]
fn decodes_a_line_event_of_the_fixture() {
    let events = all_events("lines.v1.jsonl");
    let ring = events
        .iter()
        .find(|e| e.kind == EventKind::StartRinging)
        .unwrap();
    assert_eq!(ring.number, "0033972101010");
    assert_eq!(ring.service, "sip");
    assert_eq!(ring.at, 1732612810.0);
    assert_eq!(ring.latency_ms, Some(40.0));
    assert_eq!(ring.calling.as_deref(), Some("0033612345678"));
    assert_eq!(ring.call_id.as_deref(), Some("36f675cc81e74ef5a8e25d94."));
    assert_eq!(ring.details.description.as_deref(), Some("Accueil"));
    assert_eq!(ring.details.simultaneous_lines, Some(2));
    assert!(!ring.is_queue());
}

#[test]
fn decodes_queue_keys() {
    let events = all_events("queue.v1.jsonl");
    let start = events
        .iter()
        .find(|e| e.kind == EventKind::BridgeAgentStart)
        .unwrap();
    assert!(start.is_queue());
    assert_eq!(
        start.queue.member.as_deref(),
        Some("8e81973e-0bec-47b0-b898-d190f9ebdacc")
    );
    assert_eq!(start.queue.agent.as_deref(), Some("0033972101010"));
    assert_eq!(start.queue.joined_at, Some(1732613800.0));
    assert_eq!(start.queue.answered_at, Some(1732613812.0));
    let end = events
        .iter()
        .find(|e| e.kind == EventKind::MemberQueueEnd)
        .unwrap();
    assert_eq!(end.queue.cause.as_deref(), Some("Terminated"));
}

#[test]
fn the_token_is_stripped_from_raw_copies() {
    for name in ["lines.v1.jsonl", "queue.v1.jsonl", "oddities.v1.jsonl"] {
        for e in all_events(name) {
            let raw = e.raw.to_string();
            assert!(!raw.to_ascii_uppercase().contains(TOKEN), "{raw}");
            assert!(!raw.contains("\"Token\""));
        }
    }
}

#[test]
fn oddities_decode_liberally() {
    let events = all_events("oddities.v1.jsonl");
    // Numbers as JSON numbers and floats as strings.
    assert_eq!(events[0].details.simultaneous_lines, Some(2));
    assert_eq!(events[0].kind, EventKind::Registered);
    // No Calling at all, and markup kept verbatim as text.
    let odd = &events[1];
    assert_eq!(odd.calling, None);
    assert!(odd
        .details
        .description
        .as_deref()
        .unwrap()
        .starts_with("<img src=x"));
    // Unknown type and keys kept in the raw record.
    let unknown = &events[2];
    assert_eq!(unknown.kind, EventKind::Other);
    assert_eq!(unknown.name, "hold_start");
    assert_eq!(raw_json(unknown)["Data"]["SomethingNew"]["nested"][2], 3);
    // No Details.
    assert_eq!(events[3].details, Details::default());
}

#[test]
fn faults_are_errors_not_panics() {
    assert!(matches!(
        decode_v1_poll(b"<html><body>502 Bad Gateway</body></html>", TOKEN, 0.0),
        Err(DecodeError::NotJson(_))
    ));
    assert!(matches!(
        decode_v1_poll(
            br#"{"Session": "S1", "Events": [{"Event": "start_"#,
            TOKEN,
            0.0
        ),
        Err(DecodeError::NotJson(_))
    ));
    assert!(matches!(
        decode_v1_poll(b"[1]", TOKEN, 0.0),
        Err(DecodeError::Shape(_))
    ));
    let poll = decode_v1_poll(
        br#"{"Session": "S2", "Events": [42, {"Event": "x"}]}"#,
        TOKEN,
        5.0,
    )
    .unwrap();
    assert_eq!(poll.session.as_deref(), Some("S2"));
    assert_eq!(poll.events[0], Err(DecodeError::NotAnObject));
    assert_eq!(poll.events[1].as_ref().unwrap().at, 5.0);
}

#[test]
fn v2_answers_decode_to_the_same_events_as_v1() {
    let v2 = decode_v2_poll(fixture("queue.v2.poll.json").as_bytes(), TOKEN, 0.0).unwrap();
    let v1 = all_events("queue.v1.jsonl");
    let first = v2[0].as_ref().unwrap();
    assert_eq!(first.kind, EventKind::MemberQueueStart);
    assert_eq!(first.number, "0033972100100");
    assert_eq!(first.details.kind.as_deref(), Some("easyHunting"));
    assert_eq!(
        first.fingerprint, v1[0].fingerprint,
        "same event, either API"
    );
    assert!(!first.raw.to_string().contains(TOKEN));
}

#[test]
fn a_token_inside_a_text_value_is_masked_without_changing_the_rest() {
    let raw = serde_json::json!({"Event": "x", "Data": {"Note": format!("see {} here", TOKEN.to_lowercase())}});
    let e = Event::from_json(raw, TOKEN, 0.0).unwrap();
    assert_eq!(raw_json(&e)["Data"]["Note"], "see [token] here");
}

#[test]
fn the_token_is_masked_in_its_dashless_and_lower_case_forms_too() {
    let bare: String = TOKEN.chars().filter(|c| *c != '-').collect();
    let raw = serde_json::json!({"Event": "x", "Data": {
        "Url": format!("https://crm/?t={}&u={}", bare.to_lowercase(), bare),
        "Mixed": format!("a{}b", TOKEN.to_lowercase()),
    }});
    let e = Event::from_json(raw, TOKEN, 0.0).unwrap();
    assert_eq!(
        raw_json(&e)["Data"]["Url"],
        "https://crm/?t=[token]&u=[token]"
    );
    assert_eq!(raw_json(&e)["Data"]["Mixed"], "a[token]b");
}

/// Scrubbing once rescanned the whole string after each token found: a 4 MB value packed with
/// tokens took 25 s of CPU and stalled the feed. Every copy must go, in one pass (the bench
/// `ingest` measures the time).
#[test]
fn a_huge_value_packed_with_tokens_is_scrubbed_whole() {
    let packed = format!("{TOKEN} ").repeat(4 << 20 >> 6);
    let raw = serde_json::json!({"Event": "x", "Data": {"Note": packed}});
    let e = Event::from_json(raw, TOKEN, 0.0).unwrap();
    let raw = raw_json(&e);
    let note = raw["Data"]["Note"].as_str().unwrap();
    assert!(!note.contains(&TOKEN[..8]));
    assert_eq!(note.matches("[token]").count(), 4 << 20 >> 6);
}

/// The raw copy read back as JSON.
fn raw_json(e: &Event) -> serde_json::Value {
    serde_json::from_str(&e.raw).expect("the raw copy is JSON")
}
