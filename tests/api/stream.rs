//! The live stream: a client sees the whole state on connection, then each event and state
//! change as it is committed; it ends as soon as its session is logged out or expires.

use crate::helpers::*;
use std::time::Duration;

/// Reads the stream until `want` appears in what was received (or fails after a while).
async fn read_until(res: &mut reqwest::Response, seen: &mut String, want: &str) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains(want) {
            let chunk = res.chunk().await.unwrap().expect("the stream ended");
            seen.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never saw {want:?} in:\n{seen}"));
}

#[tokio::test]
async fn the_stream_delivers_state_then_each_change() {
    let up = FakeUpstream::start().await;
    let all = answers("lines.v1.jsonl");
    up.push(TOKEN_A, all[..2].to_vec());
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;

    let mut res = app.get("/api/stream", TOKEN_A).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    read_until(&mut res, &mut seen, "event: state\ndata: {").await;
    assert!(seen.contains("\"full\":true"));
    assert!(seen.contains("0033972101012"), "the lines known so far");

    // Ringing, then answered.
    up.push(TOKEN_A, all[2..5].to_vec());
    up.idle(TOKEN_A).await;
    read_until(&mut res, &mut seen, "\"event\":\"start_calling\"").await;
    read_until(&mut res, &mut seen, "\"status\":\"in_call\"").await;
    let ringing = seen.find("\"event\":\"start_ringing\"").unwrap();
    let answered = seen.find("\"event\":\"start_calling\"").unwrap();
    assert!(ringing < answered);
    assert!(seen.contains("\"status\":\"ringing\""));

    // Everything else: the call ends and its history record follows.
    up.push(TOKEN_A, all[5..].to_vec());
    up.idle(TOKEN_A).await;
    read_until(
        &mut res,
        &mut seen,
        "event: call\ndata: {\"number\":\"0033972101010\",\"call_id\":\"0cb1e29c658c4a1495e60af5.\"",
    )
    .await;
    assert!(!seen.to_ascii_uppercase().contains(TOKEN_A));

    // Another token's client sees none of it.
    let other = spawn_app(
        &up,
        Options {
            tokens: vec![TOKEN_B],
            ..Options::default()
        },
    )
    .await;
    let mut res_b = other.get("/api/stream", TOKEN_B).await;
    let mut seen_b = String::new();
    read_until(&mut res_b, &mut seen_b, "\"full\":true").await;
    assert!(!seen_b.contains("0033972101010"));
    drop(res);
    drop(res_b);
    app.stop().await;
    other.stop().await;
}

/// A stream opened with the login cookie of a fresh session, read up to its first state.
async fn stream_of_a_session(app: &TestApp) -> (String, reqwest::Response) {
    let cookie = session_cookie(&app.login(TOKEN_A).await);
    let mut res = app.get_with_cookie("/api/stream", &cookie).await;
    assert_eq!(res.status(), 200);
    read_until(&mut res, &mut String::new(), "\"full\":true").await;
    (cookie, res)
}

#[tokio::test]
async fn a_live_stream_survived_logout() {
    let up = FakeUpstream::start().await;
    let all = answers("lines.v1.jsonl");
    let app = spawn_app(&up, Options::default()).await;
    let (cookie, mut res) = stream_of_a_session(&app).await;
    // Another session of the same token keeps its stream.
    let (_, mut other) = stream_of_a_session(&app).await;
    assert_eq!(app.logout(&cookie).await.status(), 200);
    let after = read_to_end(&mut res).await;
    // Events after the logout reach the other session only.
    up.push(TOKEN_A, all[..3].to_vec());
    up.idle(TOKEN_A).await;
    read_until(
        &mut other,
        &mut String::new(),
        "\"event\":\"start_ringing\"",
    )
    .await;
    assert!(!after.contains("\"event\":"), "{after}");
    let again = app.get_with_cookie("/api/stream", &cookie).await;
    assert_eq!(again.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn a_live_stream_outlived_its_session() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    let (cookie, mut res) = stream_of_a_session(&app).await;
    // A session without "remember me" lasts 12 hours.
    app.clock.advance(12.0 * 3600.0 + 1.0);
    read_to_end(&mut res).await;
    let again = app.get_with_cookie("/api/lines", &cookie).await;
    assert_eq!(again.status(), 401);
    app.stop().await;
}

/// The page said "Connecting to OVH…" for up to 15 s after the feed's first poll: the feed's
/// state reached it only with the keep-alive. A change now goes out within a second.
#[tokio::test]
async fn a_change_of_the_feed_state_reaches_the_stream_at_once() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    let mut res = app.get("/api/stream", TOKEN_A).await;
    let mut seen = String::new();
    read_until(&mut res, &mut seen, "\"state\":\"starting\"").await;
    up.push(TOKEN_A, answers("lines.v1.jsonl")[..1].to_vec());
    read_until(&mut res, &mut seen, "\"state\":\"connected\"").await;
    // Within read_until's 10 s: the keep-alive, which once carried the change, comes every 15 s.
    app.stop().await;
}

/// What a dashboard holds after reading a stream: the events, each line by number and the
/// calls in progress, applied as the page applies them (a whole state replaces, a partial one
/// replaces the lines it names).
#[derive(Default)]
struct Page {
    events: usize,
    states: usize,
    lines: std::collections::BTreeMap<String, serde_json::Value>,
    calls: Vec<serde_json::Value>,
    unread: String,
}

impl Page {
    fn read(&mut self, chunk: &str) {
        self.unread.push_str(chunk);
        while let Some(end) = self.unread.find("\n\n") {
            let message: String = self.unread.drain(..end + 2).collect();
            let Some((kind, data)) = message
                .trim_end()
                .strip_prefix("event: ")
                .and_then(|m| m.split_once("\ndata: "))
            else {
                continue;
            };
            let data: serde_json::Value = serde_json::from_str(data).unwrap();
            match kind {
                "event" => self.events += 1,
                "state" | "resync" => {
                    self.states += 1;
                    if data["full"] == true || data["reset"] == true {
                        self.lines.clear();
                    }
                    let named: Vec<&str> = data["lines"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|l| l["number"].as_str().unwrap())
                        .collect();
                    for line in data["lines"].as_array().unwrap() {
                        let number = line["number"].as_str().unwrap().to_string();
                        self.lines.insert(number, line.clone());
                    }
                    // A whole state gives every call; a partial one the calls of the lines
                    // it names, which replace theirs.
                    if data["full"] == true || data["reset"] == true {
                        self.calls.clear();
                    }
                    self.calls
                        .retain(|c| !named.contains(&c["number"].as_str().unwrap()));
                    self.calls
                        .extend(data["calls"].as_array().unwrap().iter().cloned());
                    self.calls.sort_by_key(|c| {
                        (
                            c["started_at"].as_str().unwrap().to_string(),
                            c["number"].as_str().unwrap().to_string(),
                        )
                    });
                }
                _ => {}
            }
        }
    }
}

/// A feed committing faster than a client is sent state messages: the client gets every event
/// at once and the state merged (at most ten state messages a second), and ends up holding
/// exactly what the service holds.
#[tokio::test]
async fn a_fast_feed_s_merged_state_leaves_a_client_with_every_event_and_the_service_s_state() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, Options::default()).await;
    let mut res = app.get("/api/stream", TOKEN_A).await;
    let mut page = Page::default();
    while page.states == 0 {
        page.read(std::str::from_utf8(&res.chunk().await.unwrap().unwrap()).unwrap());
    }
    // The fixture's polls at once, in two goes: the follower takes them back to back. After
    // the first, two calls are in progress (on two lines); after the second, none.
    let all = answers("lines.v1.jsonl");
    let mut events = 0;
    for part in [&all[..18], &all[18..]] {
        events += part
            .iter()
            .map(|a| {
                serde_json::from_str::<serde_json::Value>(a).unwrap()["Events"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .sum::<usize>();
        up.push(TOKEN_A, part.to_vec());
        up.idle(TOKEN_A).await;
        let (lines, calls) = service_state(&app).await;
        tokio::time::timeout(Duration::from_secs(10), async {
            while page.events < events || page.lines != lines || page.calls != calls {
                let chunk = res.chunk().await.unwrap().expect("the stream ended");
                page.read(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the page has {} of {events} events; lines {:?}, calls {:?}; the service {lines:?}, {calls:?}",
                page.events, page.lines, page.calls
            )
        });
        assert_eq!(page.events, events, "each event once");
        if part.len() == 18 {
            assert_eq!(calls.len(), 2, "the test needs calls in progress");
        }
    }
    app.stop().await;
}

/// The lines by number and the calls in progress, as the API gives them.
async fn service_state(
    app: &TestApp,
) -> (
    std::collections::BTreeMap<String, serde_json::Value>,
    Vec<serde_json::Value>,
) {
    let lines = app.json("/api/lines", TOKEN_A).await["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["number"].as_str().unwrap().to_string(), l.clone()))
        .collect();
    let calls = app.json("/api/calls", TOKEN_A).await["calls"]
        .as_array()
        .unwrap()
        .clone();
    (lines, calls)
}
