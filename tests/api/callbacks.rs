//! The callers to call back, worked out by the store (issue 9: the page did it in the browser
//! from at most 1,000 rows): missed or abandoned outside callers not reached afterwards, with
//! their attempts and where; paged; a "done" mark every user of the token sees, until the
//! caller tries again.

use crate::helpers::*;
use serde_json::{json, Value};

/// One poll answer holding a line call on Accueil between `calling` and `called`, answered or
/// not, at `at`.
fn line_call(id: &str, calling: &str, called: &str, at: f64, answered: bool) -> String {
    let accueil = "0033972101010";
    let event = |name: &str, t: f64| {
        json!({"Event": name, "Ressource": accueil, "Service": accueil,
               "Details": {"Description": "Accueil", "Type": "sipCirpack"},
               "Data": {"CallId": id, "Calling": calling, "Called": called, "Dialed": called, "Event": name, "Ts": t}})
    };
    let mut events = vec![event("start_ringing", at), event("end_ringing", at + 5.0)];
    if answered {
        events.push(event("start_calling", at + 5.01));
        events.push(event("end_calling", at + 60.0));
    }
    json!({"Session": "S1", "Message": "", "Events": events}).to_string()
}

fn numbers(v: &Value) -> Vec<String> {
    v["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn callers_to_call_back_are_worked_out_by_the_store_and_marked_done_for_everyone() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    up.push(TOKEN_A, answers("queue.v1.jsonl"));
    let app = spawn_app(&up, Options::default()).await;
    up.idle(TOKEN_A).await;

    // Missed on Compta and Accueil, abandoned in Support twice; the internal call and the
    // answered callers are not there. Most recent attempt first.
    let all = app.json("/api/callbacks", TOKEN_A).await;
    assert_eq!(
        numbers(&all),
        [
            "0033688888888",
            "0033677777777",
            "0033622222222",
            "0033698765432"
        ]
    );
    let first = &all["callbacks"][0];
    assert_eq!(first["attempts"], 1);
    assert_eq!(
        first["places"],
        json!([{"number": "0033972100100", "name": "Support"}])
    );
    assert_eq!(first["last_attempt_at"], "2024-11-26T09:43:20Z");
    assert!(first["done_at"].is_null());

    // Paged like the other lists.
    let page = app.json("/api/callbacks?limit=3", TOKEN_A).await;
    assert_eq!(numbers(&page).len(), 3);
    let next = page["next"].as_str().unwrap();
    let rest = app
        .json(&format!("/api/callbacks?limit=3&cursor={next}"), TOKEN_A)
        .await;
    assert_eq!(numbers(&rest), ["0033698765432"]);
    assert!(rest["next"].is_null());

    // Reached afterwards (Accueil calls them back, and they answer): gone from the list.
    up.push(
        TOKEN_A,
        [line_call(
            "cb1.",
            "0033972101010",
            "0033622222222",
            1_732_615_000.0,
            true,
        )],
    );
    up.idle(TOKEN_A).await;
    let all = app.json("/api/callbacks", TOKEN_A).await;
    assert!(!numbers(&all).contains(&"0033622222222".to_string()));

    // Marked done by one user (now, after those attempts): every user of the token sees it,
    // and can hide the done ones.
    app.clock.set(1_732_615_500.0);
    let res = app
        .http
        .put(app.url("/api/callbacks/0033677777777/done"))
        .bearer_auth(TOKEN_A)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = session_cookie(&app.login(TOKEN_A).await);
    let seen: Value = app
        .get_with_cookie("/api/callbacks", &cookie)
        .await
        .json()
        .await
        .unwrap();
    let marked = seen["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["number"] == "0033677777777")
        .unwrap();
    assert!(marked["done_at"].is_string(), "{marked}");
    let open = app.json("/api/callbacks?done=0", TOKEN_A).await;
    assert_eq!(numbers(&open), ["0033688888888", "0033698765432"]);

    // The caller tries again, missed: open again.
    up.push(
        TOKEN_A,
        [line_call(
            "cb2.",
            "0033677777777",
            "0033972101010",
            1_732_616_000.0,
            false,
        )],
    );
    up.idle(TOKEN_A).await;
    let all = app.json("/api/callbacks", TOKEN_A).await;
    assert_eq!(all["callbacks"][0]["number"], "0033677777777");
    assert_eq!(all["callbacks"][0]["attempts"], 2);
    assert!(all["callbacks"][0]["done_at"].is_null());
    let places: Vec<&str> = all["callbacks"][0]["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(places.len(), 2);
    assert!(places.contains(&"Support") && places.contains(&"Accueil"));

    // Undone, and as CSV.
    let res = app
        .http
        .delete(app.url("/api/callbacks/0033677777777/done"))
        .bearer_auth(TOKEN_A)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csv = app
        .get("/api/callbacks.csv?all=1", TOKEN_A)
        .await
        .text()
        .await
        .unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("number,attempts,first_attempt_at,last_attempt_at,places,done_at")
    );
    assert_eq!(lines.count(), 3);
    assert!(csv.contains("0033972100100 (Support)"), "{csv}");

    // Bad input is named.
    let bad = app.get("/api/callbacks?done=maybe", TOKEN_A).await;
    assert_eq!(bad.status(), 400);
    let long = format!("/api/callbacks/{}/done", "1".repeat(40));
    let res = app
        .http
        .put(app.url(&long))
        .bearer_auth(TOKEN_A)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    app.stop().await;
}
