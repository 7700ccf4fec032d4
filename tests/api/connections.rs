//! What a connection may hold (issue 8, item 3): headers must arrive in time, idle kept-alive
//! connections are closed, connections are capped with `/healthz` still answered past the
//! cap, and live streams are capped per session, per address and in all — on real sockets.

use crate::helpers::*;
use ovh_cti::net::Limits;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn limits(f: impl FnOnce(&mut Limits)) -> Options {
    let mut server = Limits::default();
    f(&mut server);
    Options {
        server,
        ..Options::default()
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the service closes the connection; what it sent. Fails if it never does.
async fn read_until_closed(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("the service never closed the connection")
        .ok();
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends a whole request and reads the status line of its answer.
async fn status_of(s: &mut TcpStream, path: &str) -> String {
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN_A}\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut head))
        .await
        .expect("no answer")
        .unwrap();
    String::from_utf8_lossy(&head[9..12]).into_owned()
}

/// The service with a header time-out of 200 ms.
async fn impatient(up: &FakeUpstream) -> TestApp {
    spawn_app(
        up,
        limits(|l| l.header_timeout = Duration::from_millis(200)),
    )
    .await
}

/// 3,000 connections trickling their headers were once held for ever.
#[tokio::test]
async fn trickling_headers_are_cut_off_after_the_header_timeout() {
    let up = FakeUpstream::start().await;
    let app = impatient(&up).await;
    let mut s = connect(&app).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        .await
        .unwrap();
    read_until_closed(&mut s).await;
    // The service itself is fine.
    let mut fresh = connect(&app).await;
    assert_eq!(status_of(&mut fresh, "/healthz").await, "200");
    app.stop().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let up = FakeUpstream::start().await;
    let app = impatient(&up).await;
    let mut s = connect(&app).await;
    assert_eq!(status_of(&mut s, "/healthz").await, "200");
    // Kept alive after its answer, then idle: closed like a trickle.
    read_until_closed(&mut s).await;
    app.stop().await;
}

/// At 1,024 open files, 1,100 held connections once stopped `/healthz` and the feed.
#[tokio::test]
async fn past_the_connection_cap_healthz_answers_the_rest_get_503_and_the_feed_goes_on() {
    let up = FakeUpstream::start().await;
    let app = spawn_app(&up, limits(|l| l.max_connections = Some(3))).await;
    // Three connections hold every slot (each has sent a request and kept the connection).
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect(&app).await;
        assert_eq!(status_of(&mut s, "/healthz").await, "200");
        held.push(s);
    }
    // Past the cap: health checks are answered, everything else is told to come back.
    let mut health = connect(&app).await;
    assert_eq!(status_of(&mut health, "/healthz").await, "200");
    let mut other = connect(&app).await;
    assert_eq!(status_of(&mut other, "/api/lines").await, "503");
    // The feed is not a connection of ours: it goes on.
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    up.idle(TOKEN_A).await;
    // A slot given back is a slot taken again.
    drop(held.pop());
    let lines = loop {
        let res = app.get("/api/lines", TOKEN_A).await;
        if res.status() == 200 {
            break res.json::<serde_json::Value>().await.unwrap();
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(lines["lines"].as_array().unwrap().len(), 3);
    app.stop().await;
}

/// Opens a live stream with a login `cookie` from `client` (through the trusted proxy).
async fn open_stream(app: &TestApp, cookie: &str, client: &str) -> reqwest::Response {
    app.http
        .get(app.url("/api/stream"))
        .header("cookie", cookie)
        .header("x-forwarded-for", client)
        .send()
        .await
        .unwrap()
}

/// The cap a refused stream names, checked to come with `Retry-After`.
async fn refusal(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    assert!(res.headers().contains_key("retry-after"), "{status}");
    let body: serde_json::Value = res.json().await.unwrap();
    (status, body["reason"].as_str().unwrap().to_string())
}

/// 2,000 live streams once hung unrefused at 1,024 open files.
#[tokio::test]
async fn live_streams_are_capped_per_session_per_address_and_in_all() {
    let up = FakeUpstream::start().await;
    let mut opts = limits(|l| {
        l.streams_per_session = 2;
        l.streams_per_address = 3;
        // Streams get half the connections: 4.
        l.max_connections = Some(8);
    });
    opts.trusted_proxies = vec!["127.0.0.1/32"];
    let app = spawn_app(&up, opts).await;
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(session_cookie(&app.login(TOKEN_A).await));
    }
    let mut open = Vec::new();
    for _ in 0..2 {
        let res = open_stream(&app, &sessions[0], "192.0.2.1").await;
        assert_eq!(res.status(), 200);
        open.push(res);
    }
    // Per session: a third tab is refused.
    let third = open_stream(&app, &sessions[0], "192.0.2.1").await;
    assert_eq!(refusal(third).await, (429, "streams_per_session".into()));
    // Per address: another session from the same address gets one more, then no more.
    open.push(open_stream(&app, &sessions[1], "192.0.2.1").await);
    assert_eq!(open[2].status(), 200);
    let fourth = open_stream(&app, &sessions[1], "192.0.2.1").await;
    assert_eq!(refusal(fourth).await, (429, "streams_per_address".into()));
    // In all: from another address, one more, then the service is full.
    open.push(open_stream(&app, &sessions[2], "192.0.2.2").await);
    assert_eq!(open[3].status(), 200);
    let full = open_stream(&app, &sessions[2], "192.0.2.2").await;
    assert_eq!(refusal(full).await, (503, "streams_full".into()));

    // A stream whose client has gone gives its slots back.
    drop(open.pop());
    let again = loop {
        let res = open_stream(&app, &sessions[2], "192.0.2.2").await;
        if res.status() == 200 {
            break res;
        }
        tokio::task::yield_now().await;
    };
    open.push(again);
    assert!(app.counter("streams_refused_total").await >= 3);
    drop(open);
    app.stop().await;
}
