//! Publishing for integrators (issue 12): an organisation that asked for it has its events and
//! states in a NATS JetStream stream, under `<prefix>.<org>.line.<number>` and
//! `<prefix>.<org>.queue.<number>`, each message once, never a token. Against the machine's
//! NATS server (127.0.0.1:4222, JetStream on); where there is none, the test says it was
//! skipped.

use crate::helpers::*;
use futures::StreamExt;
use ovh_cti::publish::nats::NatsConfig;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

const NATS: &str = "nats://127.0.0.1:4222";

/// Token A's admin turns a publishing switch of its organisation on: the organisation.
async fn turn_on(app: &TestApp, switch: &str) -> Value {
    let res = app
        .send(
            TOKEN_A,
            reqwest::Method::PUT,
            "/api/org",
            Some(json!({switch: true})),
        )
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn nats_or_skip(test: &str) -> Option<async_nats::Client> {
    match tokio::time::timeout(
        Duration::from_secs(3),
        async_nats::connect("127.0.0.1:4222"),
    )
    .await
    {
        Ok(Ok(client)) => Some(client),
        _ => {
            eprintln!("{test}: skipped: no NATS server at 127.0.0.1:4222");
            None
        }
    }
}

#[tokio::test]
async fn an_organisation_that_asked_has_its_events_and_states_in_jetstream_once_and_no_token() {
    let test = "publish::an_organisation_that_asked…";
    let Some(client) = nats_or_skip(test).await else {
        return;
    };
    // A stream and subjects of this run's own: tests and other runs share the server.
    let run = format!("{:08x}", rand::random::<u32>());
    let config = NatsConfig {
        url: NATS.into(),
        prefix: format!("t{run}"),
        stream: format!("T{run}"),
    };
    let up = FakeUpstream::start().await;
    let app = spawn_app(
        &up,
        Options {
            tokens: vec![TOKEN_A, TOKEN_B],
            nats: Some(config.clone()),
            ..Options::default()
        },
    )
    .await;
    let org = turn_on(&app, "publish_nats").await;
    assert_eq!(org["publish_nats"], true);
    let org = org["id"].as_i64().unwrap();

    let lines = answers("lines.v1.jsonl");
    up.push(TOKEN_A, lines.clone());
    // Token B is in the same installation organisation as configured: published too. Its
    // queue's events go under `.queue.`.
    let queue = answers("queue.v1.jsonl");
    up.push(TOKEN_B, queue.clone());
    up.idle(TOKEN_A).await;
    up.idle(TOKEN_B).await;

    let js = async_nats::jetstream::new(client);
    let stream = js
        .get_stream(&config.stream)
        .await
        .expect("the service made the stream");
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    // Every event stored is published (an event OVH delivered twice is stored, and
    // published, once).
    let mut want_events = 0;
    for t in [TOKEN_A, TOKEN_B] {
        let stored = app.json("/api/events?limit=1000", t).await;
        want_events += stored["events"].as_array().unwrap().len();
    }
    assert!(want_events > 0 && want_events <= events_in(&lines) + events_in(&queue));
    // Each message as the OpenAPI document's PublishedMessage says (docs/publish.md).
    let doc = ovh_cti::web::openapi_document();
    let schema = jsonschema::draft202012::options()
        .build(&json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": doc["components"],
            "allOf": [{"$ref": "#/components/schemas/PublishedMessage"}],
        }))
        .unwrap();
    let mut seen = HashSet::new();
    let (mut events, mut kinds) = (0, HashSet::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while events < want_events {
        let next = tokio::time::timeout_at(deadline, messages.next()).await;
        let m = next
            .unwrap_or_else(|_| {
                panic!("every event was published: {events} of {want_events}, {kinds:?}")
            })
            .unwrap()
            .unwrap();
        let subject = m.subject.to_string();
        let payload = String::from_utf8(m.payload.to_vec()).unwrap();
        for t in [TOKEN_A, TOKEN_B] {
            assert!(!subject.to_ascii_uppercase().contains(t), "{subject}");
            assert!(!payload.to_ascii_uppercase().contains(t), "{payload}");
        }
        let body: Value = serde_json::from_str(&payload).unwrap();
        let errors: Vec<String> = schema.iter_errors(&body).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{body} is not a PublishedMessage: {errors:?}"
        );
        assert_eq!(
            (body["v"].as_u64(), body["org"].as_i64()),
            (Some(1), Some(org)),
            "{body}"
        );
        let kind = body["kind"].as_str().unwrap().to_string();
        let scope = if matches!(kind.as_str(), "queue" | "journal") {
            "queue"
        } else {
            "line"
        };
        let number = body["number"].as_str().unwrap();
        if kind != "event" {
            assert_eq!(subject, format!("{}.{org}.{scope}.{number}", config.prefix));
        }
        // Each message once: JetStream keeps one per id, and each id is one message.
        let id = m
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID));
        let id = id.expect("every message has its id").to_string();
        assert!(seen.insert(id), "published once: {subject} {payload}");
        events += usize::from(kind == "event");
        kinds.insert(kind);
        m.ack().await.unwrap();
    }
    for kind in ["event", "line", "queue", "call", "journal"] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    let metrics = app.metrics().await;
    assert!(
        !metrics.contains("ovh_cti_published_total 0\n"),
        "{metrics}"
    );
    app.stop().await;
    js.delete_stream(&config.stream).await.unwrap();
}

/// A subscriber on the machine's Mosquitto, or `None` (the test says it was skipped).
async fn mqtt_or_skip(
    test: &str,
    id: &str,
    filter: &str,
) -> Option<(rumqttc::AsyncClient, rumqttc::EventLoop)> {
    let mut options = rumqttc::MqttOptions::new(id, "127.0.0.1", 1883);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = rumqttc::AsyncClient::new(options, 1024);
    client
        .subscribe(filter, rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    // Connected and subscribed, or no broker.
    let subscribed = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match events.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    })
    .await;
    if subscribed == Ok(true) {
        Some((client, events))
    } else {
        eprintln!("{test}: skipped: no MQTT broker at 127.0.0.1:1883");
        None
    }
}

/// The next message published to the subscriber: topic, payload, retained.
async fn next_publish(events: &mut rumqttc::EventLoop) -> (String, Vec<u8>, bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline, events.poll())
            .await
            .expect("a message in time")
            .unwrap();
        if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = event {
            return (p.topic, p.payload.to_vec(), p.retain);
        }
    }
}

#[tokio::test]
async fn mqtt_has_each_event_and_retains_each_line_s_state_for_a_new_subscriber() {
    let test = "publish::mqtt_has_each_event…";
    let prefix = format!("t{:08x}", rand::random::<u32>());
    let Some((_live_client, mut live)) =
        mqtt_or_skip(test, &format!("{prefix}-live"), &format!("{prefix}/#")).await
    else {
        return;
    };
    let up = FakeUpstream::start().await;
    let app = spawn_app(
        &up,
        Options {
            mqtt: Some(ovh_cti::publish::mqtt::MqttConfig {
                url: "mqtt://127.0.0.1:1883".into(),
                prefix: prefix.clone(),
            }),
            ..Options::default()
        },
    )
    .await;
    let org = turn_on(&app, "publish_mqtt").await;
    assert_eq!(
        (org["publish_mqtt"].as_bool(), org["publish_nats"].as_bool()),
        (Some(true), Some(false))
    );
    let org = org["id"].as_i64().unwrap();
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    up.idle(TOKEN_A).await;
    let stored = app.json("/api/events?limit=1000", TOKEN_A).await["events"]
        .as_array()
        .unwrap()
        .len();
    let (mut events, mut lines) = (0, HashSet::new());
    while events < stored {
        let (topic, payload, _) = next_publish(&mut live).await;
        let text = String::from_utf8(payload).unwrap();
        assert!(
            !topic.to_ascii_uppercase().contains(TOKEN_A)
                && !text.to_ascii_uppercase().contains(TOKEN_A)
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        let number = body["number"].as_str().unwrap();
        let leaf = match body["kind"].as_str().unwrap() {
            "line" | "queue" => "state",
            other => other,
        };
        let scope = if matches!(body["kind"].as_str(), Some("queue" | "journal")) {
            "queue"
        } else {
            "line"
        };
        if body["kind"] != "event" {
            assert_eq!(topic, format!("{prefix}/{org}/{scope}/{number}/{leaf}"));
        }
        events += usize::from(body["kind"] == "event");
        if body["kind"] == "line" {
            lines.insert(topic);
        }
    }
    assert!(!lines.is_empty());
    // A subscriber coming now gets each line's state at once, retained.
    let (late_client, mut late) = mqtt_or_skip(
        test,
        &format!("{prefix}-late"),
        &format!("{prefix}/+/line/+/state"),
    )
    .await
    .expect("the broker is still there");
    let mut retained = HashSet::new();
    while retained.len() < lines.len() {
        let (topic, _, retain) = next_publish(&mut late).await;
        assert!(retain, "{topic} retained");
        retained.insert(topic);
    }
    assert_eq!(retained, lines);
    app.stop().await;
    // The broker forgets this run's retained states.
    for topic in retained {
        late_client
            .publish(topic, rumqttc::QoS::AtLeastOnce, true, Vec::new())
            .await
            .unwrap();
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) = late.poll().await {
                continue;
            }
        }
    })
    .await;
}
