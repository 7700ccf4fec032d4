//! Keys, signatures, the rate limit and injected failures.

use std::time::Duration;

use serde_json::json;

use super::{quiet, Sim};
use crate::simulate::RestFault;

/// Asks for a consumer key with `rules`; returns it and its validation URL.
async fn request_key(
    sim: &Sim,
    rules: serde_json::Value,
    redirection: Option<&str>,
) -> (String, String) {
    let body = json!({"accessRules": rules, "redirection": redirection, "allowedIPs": null});
    let a = sim
        .send(
            "POST",
            "/auth/credential",
            &body.to_string(),
            &[("x-ovh-application", sim.keys.application_key.clone())],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["state"], "pendingValidation");
    let ck = a.body["consumerKey"].as_str().unwrap().to_string();
    let url = a.body["validationUrl"].as_str().unwrap().to_string();
    assert_eq!(ck.len(), 32);
    assert!(
        url.starts_with(&format!("{}/1.0/auth/?credentialToken=", sim.base)),
        "{url}"
    );
    (ck, url)
}

#[tokio::test]
async fn a_new_consumer_key_works_once_validated_on_its_page() {
    let sim = Sim::start(quiet()).await;
    let rules = json!([
        {"method": "GET", "path": "/telephony"},
        {"method": "GET", "path": "/telephony/*"},
    ]);
    let (ck, url) = request_key(&sim, rules.clone(), Some("https://dashboard.example/back")).await;

    // Pending: refused.
    let a = sim.call_as(&ck, "GET", "/telephony", "").await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.error(),
        ("INVALID_CREDENTIAL", "This credential is not valid")
    );
    assert_eq!(a.body["class"], "Client::Forbidden");
    assert_eq!(a.body["httpCode"], "403 Forbidden");
    assert!(a.headers.contains_key("x-ovh-queryid"));

    // The page lists the rules and validates with a form; then back to the application.
    let page = sim.send_to(&url, "GET", "", &[]).await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap();
    assert!(
        html.contains("Validate") && html.contains("/telephony/*"),
        "{html}"
    );
    let done = sim
        .send_to(
            &url,
            "POST",
            "action=validate",
            &[("content-type", "application/x-www-form-urlencoded".into())],
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(
        done.headers["location"].to_str().unwrap(),
        "https://dashboard.example/back"
    );

    let a = sim.call_as(&ck, "GET", "/telephony", "").await;
    assert_eq!((a.status, a.body.clone()), (200, json!([sim.ba.clone()])));
    assert_eq!(
        sim.call_as(&ck, "GET", &sim.ba("/line"), "").await.status,
        200
    );
    // Only what the rules say.
    for (method, path) in [
        ("PUT", sim.hunt(0, &format!("/agent/{}", sim.agent_id(0)))),
        ("GET", "/auth/currentCredential".to_string()),
    ] {
        let a = sim.call_as(&ck, method, &path, "{}").await;
        assert_eq!(a.status, 403, "{method} {path}");
        assert_eq!(
            a.error(),
            ("NOT_GRANTED_CALL", "This call has not been granted")
        );
    }

    // The hook validates without a browser; a refused key and an expired one stay refused.
    let a = sim
        .send(
            "POST",
            "/auth/credential",
            "{}",
            &[("x-ovh-application", "nope".into())],
        )
        .await;
    assert_eq!(a.error(), ("INVALID_KEY", "Invalid application key"));
    let a = sim
        .send(
            "POST",
            "/auth/credential",
            r#"{"accessRules":[{"method":"GET","path":"telephony"}]}"#,
            &[("x-ovh-application", sim.keys.application_key.clone())],
        )
        .await;
    assert_eq!(a.status, 400, "a path starts with /");
    let (hooked, _) = request_key(&sim, rules.clone(), None).await;
    assert!(sim.faults.validate_credential(&hooked));
    assert!(!sim.faults.validate_credential(&hooked), "validated once");
    assert_eq!(
        sim.call_as(&hooked, "GET", "/telephony", "").await.status,
        200
    );
    let (refused, url) = request_key(&sim, rules, None).await;
    let page = sim.send_to(&url, "POST", "action=refuse", &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.as_str().unwrap().contains("refused"));
    assert!(sim.faults.expire_credential(&hooked));
    for key in [&refused, &hooked] {
        let a = sim.call_as(key, "GET", "/telephony", "").await;
        assert_eq!(a.error().0, "INVALID_CREDENTIAL");
    }
    let unknown = sim
        .send_to(
            &format!("{}/1.0/auth/?credentialToken=nope", sim.base),
            "GET",
            "",
            &[],
        )
        .await;
    assert_eq!(unknown.status, 404);
    sim.stop().await;
}

#[tokio::test]
async fn signed_requests_are_checked_in_ovh_order() {
    let sim = Sim::start(quiet()).await;
    let url = sim.url("/telephony");
    let now = sim.now();
    let secret = sim.keys.application_secret.clone();
    let ck = sim.keys.consumer_key.clone();
    let good = sim.signed_headers(&ck, &secret, "GET", &url, "", now);

    let with = |name: &str, value: &str| {
        let mut h = good.clone();
        for (k, v) in h.iter_mut() {
            if *k == name {
                *v = value.to_string();
            }
        }
        h
    };
    let cases = [
        (
            with("x-ovh-application", "unknownAppKey123"),
            403,
            "INVALID_KEY",
            "Invalid application key",
        ),
        (
            with("x-ovh-consumer", "unknownConsumerKey"),
            403,
            "NOT_CREDENTIAL",
            "This credential does not exist",
        ),
        (
            sim.signed_headers(&ck, &secret, "GET", &url, "", now - 120),
            400,
            "INVALID_SIGNATURE",
            "Query out of time",
        ),
        (
            sim.signed_headers(&ck, "not-the-secret", "GET", &url, "", now),
            400,
            "INVALID_SIGNATURE",
            "Invalid signature",
        ),
        // Signed for another URL (a query added after signing).
        (good.clone(), 400, "INVALID_SIGNATURE", "Invalid signature"),
    ];
    for (i, (headers, status, code, message)) in cases.into_iter().enumerate() {
        let target = if i == 4 {
            format!("{url}?x=1")
        } else {
            url.clone()
        };
        let a = sim.send_to(&target, "GET", "", &headers).await;
        assert_eq!(a.status, status, "case {i}: {}", a.body);
        assert_eq!(a.error(), (code, message), "case {i}");
    }
    // A body changed after signing.
    let path = sim.hunt(0, &format!("/agent/{}", sim.agent_id(0)));
    let put_url = sim.url(&path);
    let headers = sim.signed_headers(&ck, &secret, "PUT", &put_url, r#"{"timeout":30}"#, now);
    let a = sim
        .send_to(&put_url, "PUT", r#"{"timeout":31}"#, &headers)
        .await;
    assert_eq!(a.error(), ("INVALID_SIGNATURE", "Invalid signature"));
    // The right ones pass, under /1.0 and its alias /v1 (each signed as sent).
    assert_eq!(sim.send_to(&url, "GET", "", &good).await.status, 200);
    let v1 = format!("{}/v1/telephony", sim.base);
    let headers = sim.signed_headers(&ck, &secret, "GET", &v1, "", now);
    assert_eq!(sim.send_to(&v1, "GET", "", &headers).await.status, 200);

    let me = sim.get("/auth/currentCredential").await;
    let mut keys: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "allowedIPs",
            "applicationId",
            "creation",
            "credentialId",
            "expiration",
            "lastUse",
            "ovhSupport",
            "rules",
            "status"
        ]
    );
    assert_eq!(me["status"], "validated");
    assert_eq!(me["expiration"], serde_json::Value::Null);
    assert_eq!(me["ovhSupport"], false);
    assert_eq!(me["rules"].as_array().unwrap().len(), 9);
    assert!(me["lastUse"].as_str().unwrap().contains('T'));
    sim.stop().await;
}

#[tokio::test]
async fn sixty_signed_requests_a_minute_then_429_until_the_minute_has_passed() {
    let sim = Sim::start(quiet()).await;
    for i in 0..60 {
        assert_eq!(
            sim.call("GET", "/telephony", None).await.status,
            200,
            "request {i}"
        );
    }
    let a = sim.call("GET", "/telephony", None).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.error().0, "TOO_MANY_REQUESTS");
    let wait: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Unsigned calls are not counted.
    assert_eq!(sim.send("GET", "/auth/time", "", &[]).await.status, 200);
    sim.advance(Duration::from_secs(61)).await;
    assert_eq!(sim.call("GET", "/telephony", None).await.status, 200);
    sim.stop().await;
}

#[tokio::test]
async fn injected_failures_answer_like_ovh() {
    let sim = Sim::start(quiet()).await;
    let f = &sim.faults;
    for (status, code) in [
        (403, "INVALID_CREDENTIAL"),
        (404, "NOT_FOUND"),
        (429, "TOO_MANY_REQUESTS"),
        (500, "INTERNAL_SERVER_ERROR"),
        (502, "BAD_GATEWAY"),
        (503, "SERVICE_UNAVAILABLE"),
    ] {
        f.inject_rest(RestFault::from_status(status).unwrap(), 2);
        for _ in 0..2 {
            let a = sim.call("GET", "/telephony", None).await;
            assert_eq!(a.status, status);
            assert_eq!(a.error().0, code);
            assert!(a.headers.contains_key("x-ovh-queryid"));
        }
        assert_eq!(
            sim.call("GET", "/telephony", None).await.status,
            200,
            "over after 2"
        );
    }
    assert_eq!(RestFault::from_status(418), None);
    f.inject_rest(
        RestFault::TooManyRequests {
            retry_after: Some(7),
        },
        1,
    );
    let a = sim.send("GET", "/auth/time", "", &[]).await;
    assert_eq!(
        (a.status, a.headers["retry-after"].to_str().unwrap()),
        (429, "7")
    );
    f.inject_rest(RestFault::Unavailable, 5);
    f.clear_rest();
    assert_eq!(sim.call("GET", "/telephony", None).await.status, 200);

    f.refuse_signatures(true);
    let a = sim.call("GET", "/telephony", None).await;
    assert_eq!(a.error(), ("INVALID_SIGNATURE", "Invalid signature"));
    f.refuse_signatures(false);
    assert_eq!(sim.call("GET", "/telephony", None).await.status, 200);
    assert!(f.rest_answers() >= 20);
    sim.stop().await;
}
