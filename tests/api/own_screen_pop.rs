//! An agent's own screen pop (issue 10): chosen in place of the organisation's, it pops only
//! on that agent's dashboards, for their own line; everyone else keeps the organisation's;
//! going back to the organisation's takes effect for the next call on the stream already open.

use crate::helpers::*;
use crate::users::{add_user, cookie_of};
use reqwest::Method;
use serde_json::{json, Value};

const LINE: &str = "0033972101011";

async fn with_cookie(
    app: &TestApp,
    cookie: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .http
        .request(method, app.url(path))
        .header("cookie", cookie);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// The `event: pop` messages of a stream's text.
fn pops(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|m| m.strip_prefix("event: pop\ndata: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// Reads a live stream until it has carried `n` pops; what it sent until then.
async fn read_pops(stream: &mut reqwest::Response, n: usize) -> String {
    let mut seen = String::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while pops(&seen).len() < n {
            let chunk = stream.chunk().await.unwrap().expect("the stream goes on");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("fewer than {n} pops came; the stream sent:\n{seen}"));
    seen
}

#[tokio::test]
async fn an_agent_s_own_screen_pop_replaces_the_organisation_s_for_them_alone() {
    let up = FakeUpstream::start().await;
    let (app, db) = spawn_app_with_db(&up).await;
    up.idle(TOKEN_A).await;
    add_user(&db, "ann", "agent", &["--line", LINE]);
    add_user(&db, "sue", "supervisor", &[]);
    let (ann, sue) = (cookie_of(&app, "ann").await, cookie_of(&app, "sue").await);

    // The organisation's pop, set by its admin: a dialog on every incoming ring.
    let org = json!({"screen_pop": {"enabled": true, "mode": "modal", "url": "https://org.example/pop?n=*CALLING*",
        "events": ["start_ringing"], "directions": ["incoming"]}});
    let res = app
        .send(TOKEN_A, Method::PUT, "/api/settings", Some(org))
        .await;
    assert_eq!(res.status(), 200);

    // Ann follows it until she chooses her own: her CRM, in a new window.
    let own = "/api/me/screen-pop";
    let (status, got) = with_cookie(&app, &ann, Method::GET, own, None).await;
    assert_eq!(
        (status, got),
        (200, json!({"own": false, "screen_pop": null}))
    );
    let mine = json!({"enabled": true, "mode": "popup", "url": "https://ann.example/crm?c=*CALLING*",
        "events": ["start_ringing"], "directions": ["incoming"]});
    let (status, got) = with_cookie(&app, &ann, Method::PUT, own, Some(mine)).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["own"], true);
    assert_eq!(got["screen_pop"]["mode"], "popup");
    // A silent pop (a request the service sends) stays the organisation's to set up.
    let (status, got) = with_cookie(
        &app,
        &ann,
        Method::PUT,
        own,
        Some(json!({"mode": "silent"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(got["field"], "screen_pop.mode", "{got}");
    // A bad part is refused naming it; what she chose stays.
    let (status, got) = with_cookie(
        &app,
        &ann,
        Method::PUT,
        own,
        Some(json!({"url": "ftp://x"})),
    )
    .await;
    assert_eq!(
        (status, got["field"].as_str()),
        (400, Some("screen_pop.url"))
    );
    let (_, got) = with_cookie(&app, &ann, Method::GET, own, None).await;
    assert_eq!(
        got["screen_pop"]["url"],
        "https://ann.example/crm?c=*CALLING*"
    );

    let mut ann_stream = app.get_with_cookie("/api/stream", &ann).await;
    let mut sue_stream = app.get_with_cookie("/api/stream", &sue).await;
    // Two incoming rings on Ann's line, and others on the other lines.
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    up.idle(TOKEN_A).await;
    let ann_id = app.json("/api/users", TOKEN_A).await["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == "ann")
        .unwrap()["id"]
        .clone();
    let first = pops(&read_pops(&mut ann_stream, 2).await);
    for pop in &first {
        assert_eq!(pop["number"], LINE);
        assert_eq!(pop["mode"], "popup");
        assert!(pop["url"]
            .as_str()
            .unwrap()
            .starts_with("https://ann.example/crm?c="));
        assert_eq!(pop["user"], ann_id);
    }

    // Back to the organisation's: her open stream gets its pops from the next call on.
    let (status, got) = with_cookie(&app, &ann, Method::DELETE, own, None).await;
    assert_eq!(
        (status, got),
        (200, json!({"own": false, "screen_pop": null}))
    );
    up.push(TOKEN_A, answers("queue.v1.jsonl"));
    up.idle(TOKEN_A).await;
    let after = pops(&read_pops(&mut ann_stream, 1).await);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["number"], LINE);
    assert_eq!(after[0]["mode"], "modal");
    assert!(after[0]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://org.example/pop?n="));
    assert_eq!(after[0]["user"], Value::Null);

    // Sue never chose: the organisation's pops of every line, never Ann's.
    assert_eq!(app.logout(&sue).await.status(), 200);
    let theirs = pops(&read_to_end(&mut sue_stream).await);
    assert!(theirs.iter().any(|p| p["number"] != LINE), "{theirs:?}");
    assert!(theirs.iter().any(|p| p["number"] == LINE), "{theirs:?}");
    for pop in &theirs {
        assert!(
            pop["url"]
                .as_str()
                .unwrap()
                .starts_with("https://org.example/"),
            "{pop}"
        );
        assert_eq!(pop["user"], Value::Null);
    }
    // Ann's pops of the first calls were hers alone, and the organisation's never reached
    // her while she had her own.
    assert_eq!(app.logout(&ann).await.status(), 200);
    let rest = pops(&read_to_end(&mut ann_stream).await);
    assert!(
        rest.iter()
            .all(|p| p["user"].is_null() && p["number"] == LINE),
        "{rest:?}"
    );

    // Her choices are in the audit log, the address masked.
    let audit = app.json("/api/audit", TOKEN_A).await;
    let text = audit.to_string();
    assert_eq!(text.matches("user.screen_pop").count(), 2, "{audit}");
    assert!(!text.contains("c=*CALLING*"), "{audit}");
}
