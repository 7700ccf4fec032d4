//! Every route in OVH's shape, bad input refused clearly, agents and queues changed, event
//! tokens opening and closing the feed.

use std::time::Duration;

use serde_json::{json, Value};

use super::{quiet, Sim};

/// The object's field names, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort_unstable();
    k
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort_unstable();
    v
}

const SERVICE: &[&str] = &[
    "serviceName",
    "description",
    "featureType",
    "serviceType",
    "simultaneousLines",
    "country",
    "countryCode",
    "offers",
    "getPublicOffer",
    "properties",
    "hasFaxCapabilities",
    "associatedDeviceMac",
    "currentOutplan",
    "rio",
];
const LINE: &[&str] = &[
    "serviceName",
    "description",
    "serviceType",
    "simultaneousLines",
    "deviceSlot",
    "infrastructure",
    "isAttachedToOtherLinesPhone",
    "canChangePassword",
    "getPublicOffer",
    "offers",
    "notifications",
];
const AGENT: &[&str] = &[
    "agentId",
    "number",
    "description",
    "status",
    "breakStatus",
    "simultaneousLines",
    "timeout",
    "wrapUpTime",
    "type",
];
const QUEUE: &[&str] = &[
    "queueId",
    "description",
    "strategy",
    "maxMember",
    "maxWaitTime",
    "actionOnClosure",
    "actionOnClosureParam",
    "actionOnOverflow",
    "actionOnOverflowParam",
    "followCallForwards",
    "record",
    "askForRecordDisabling",
    "recordDisablingDigit",
    "recordDisablingLanguage",
    "confirmKey",
    "soundOnHold",
];

#[tokio::test]
async fn every_route_answers_in_ovh_shape() {
    let sim = Sim::start(quiet()).await;
    let account = sim.sim.account().clone();
    assert_eq!(sim.get("/telephony").await, json!([sim.ba.clone()]));
    let ba = sim.get(&sim.ba("")).await;
    assert_eq!(ba["billingAccount"], sim.ba.as_str());
    assert_eq!(ba["status"], "enabled");
    assert!(ba["allowedOutplan"]["value"].is_f64());
    for k in [
        "description",
        "trusted",
        "hasSpecialNumbers",
        "currentOutplan",
        "creditThreshold",
        "securityDeposit",
        "hiddenExternalNumber",
        "overrideDisplayedNumber",
    ] {
        assert!(ba.get(k).is_some(), "{k}");
    }

    let lines: Vec<String> = account.lines.iter().map(|l| l.number.clone()).collect();
    assert_eq!(sim.get(&sim.ba("/line")).await, json!(lines));
    for l in &account.lines {
        let line = sim.get(&sim.ba(&format!("/line/{}", l.number))).await;
        assert_eq!(keys(&line), sorted(LINE));
        assert_eq!(line["simultaneousLines"], l.simultaneous);
        assert_eq!(line["description"], l.description.as_str());
        let ch = sim
            .get(&sim.ba(&format!("/line/{}/simultaneousChannelsDetails", l.number)))
            .await;
        assert_eq!(
            keys(&ch),
            sorted(&["basic", "current", "extra", "maximum", "toBeDeleted"])
        );
    }
    let numbers: Vec<String> = account.queues.iter().map(|q| q.number.clone()).collect();
    assert_eq!(sim.get(&sim.ba("/number")).await, json!(numbers));
    let services = sim.get(&sim.ba("/service")).await;
    assert_eq!(services.as_array().unwrap().len(), 7);
    for sn in services.as_array().unwrap() {
        let s = sim
            .get(&sim.ba(&format!("/service/{}", sn.as_str().unwrap())))
            .await;
        assert_eq!(keys(&s), sorted(SERVICE));
    }
    for (q, queue) in account.queues.iter().enumerate() {
        // About 30 signed requests a queue and as many before: a minute passes between.
        sim.breathe().await;
        let n = sim.get(&sim.ba(&format!("/number/{}", queue.number))).await;
        assert_eq!(
            keys(&n),
            sorted(&[
                "serviceName",
                "description",
                "featureType",
                "serviceType",
                "partOfPool"
            ])
        );
        assert_eq!(n["featureType"], queue.kind);
        let family = if q == 0 { "easyHunting" } else { "ovhPabx" };
        assert_eq!(
            sim.get(&sim.ba(&format!("/{family}"))).await,
            json!([queue.number.clone()])
        );
        let service = sim
            .get(&sim.ba(&format!("/{family}/{}", queue.number)))
            .await;
        assert_eq!(service["isCCS"], true);
        if q == 0 {
            assert_eq!(service["strategy"], "ringAll");
            assert_eq!(service["maxWaitTime"], queue.max_wait_s);
        }
        // The wrong family does not have it.
        let other = if q == 0 { "ovhPabx" } else { "easyHunting" };
        let a = sim
            .call("GET", &sim.ba(&format!("/{other}/{}", queue.number)), None)
            .await;
        assert_eq!(a.status, 404);

        let hunting = sim.get(&sim.hunt(q, "")).await;
        assert_eq!(
            keys(&hunting),
            sorted(&["name", "statusIvrEnabled", "crmUrlTemplate", "g729"])
        );
        let statuses = sim.get(&sim.hunt(q, "/customStatus")).await;
        assert_eq!(statuses, json!([1001, 1002]));
        let pause = sim.get(&sim.hunt(q, "/customStatus/1001")).await;
        assert_eq!(
            keys(&pause),
            sorted(&["id", "name", "description", "color"])
        );
        assert_eq!(pause["name"], "Pause");
        let qid = sim.queue_id(q);
        assert_eq!(sim.get(&sim.hunt(q, "/queue")).await, json!([qid]));
        let model = sim.get(&sim.hunt(q, &format!("/queue/{qid}"))).await;
        assert_eq!(keys(&model), sorted(QUEUE));
        assert_eq!(model["queueId"], qid);
        let members: Vec<i64> = queue.agents.iter().map(|&l| sim.agent_id(l)).collect();
        assert_eq!(
            sim.get(&sim.hunt(q, &format!("/queue/{qid}/agent"))).await,
            json!(members)
        );
        let stats = sim
            .get(&sim.hunt(q, &format!("/queue/{qid}/liveStatistics")))
            .await;
        assert_eq!(
            keys(&stats),
            sorted(&[
                "callsTotal",
                "callsAnswered",
                "callsLost",
                "totalCallDuration",
                "totalWaitingDuration",
                "lastReset"
            ])
        );
        assert_eq!(
            sim.get(&sim.hunt(q, &format!("/queue/{qid}/liveCalls")))
                .await,
            json!([])
        );

        let agents = sim.get(&sim.hunt(q, "/agent")).await;
        assert_eq!(
            agents.as_array().unwrap().len(),
            4,
            "every agent of the account"
        );
        for id in agents.as_array().unwrap() {
            let a = sim.get(&sim.hunt(q, &format!("/agent/{id}"))).await;
            assert_eq!(keys(&a), sorted(AGENT));
            assert_eq!(a["status"], "available");
            let line = account
                .lines
                .iter()
                .position(|l| a["number"] == l.number.as_str())
                .unwrap();
            assert_eq!(a["description"], account.lines[line].description.as_str());
            let live = sim
                .get(&sim.hunt(q, &format!("/agent/{id}/liveStatus")))
                .await;
            assert_eq!(
                keys(&live),
                sorted(&[
                    "status",
                    "lastStatusChange",
                    "answeredCalls",
                    "totalCallDuration"
                ])
            );
            assert_eq!(live["status"], "waiting");
            let change = live["lastStatusChange"].as_str().unwrap();
            assert!(
                change.ends_with("+01:00") || change.ends_with("+02:00"),
                "{change}"
            );
            let mine = sim.get(&sim.hunt(q, &format!("/agent/{id}/queue"))).await;
            let member = queue.agents.contains(&line);
            assert_eq!(mine, if member { json!([qid]) } else { json!([]) });
            let a = sim
                .call(
                    "GET",
                    &sim.hunt(q, &format!("/agent/{id}/queue/{qid}")),
                    None,
                )
                .await;
            assert_eq!(a.status, if member { 200 } else { 404 });
            if member {
                assert_eq!(keys(&a.body), sorted(&["agentId", "queueId", "position"]));
            }
            assert_eq!(
                sim.get(&sim.hunt(q, &format!("/agent/{id}/calls"))).await,
                json!([])
            );
        }
    }
    assert_eq!(sim.get(&sim.ba("/task")).await, json!([]));
    sim.breathe().await;

    // Refusals, each with OVH's words.
    for (path, status, message) in [
        (
            sim.hunt(0, "/agent/42"),
            404,
            "The requested object (agent) does not exist",
        ),
        (sim.hunt(0, "/agent/abc"), 400, "[agentId] is not a long"),
        (
            sim.hunt(0, "/queue/1/liveCalls"),
            404,
            "The requested object (queue) does not exist",
        ),
        (
            sim.hunt(0, "/customStatus/7"),
            404,
            "The requested object (customStatus) does not exist",
        ),
        (
            sim.ba("/line/0033999999999"),
            404,
            "This service does not exist",
        ),
        (
            "/telephony/xx12345-ovh-1".to_string(),
            404,
            "This service does not exist",
        ),
        (sim.ba("/nothing"), 404, "Got an invalid (or empty) URL"),
        (
            sim.ba("/eventToken"),
            404,
            "The requested object (eventToken) does not exist",
        ),
        (
            sim.ba("/task/9"),
            404,
            "The requested object (task) does not exist",
        ),
    ] {
        let a = sim.call("GET", &path, None).await;
        assert_eq!(a.status, status, "{path}");
        assert_eq!(a.error().1, message, "{path}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn agents_change_status_and_queues_and_bad_input_is_refused() {
    let sim = Sim::start(quiet()).await;
    let id = sim.agent_id(1);
    let agent = sim.hunt(1, &format!("/agent/{id}"));
    let long = "x".repeat(257);
    for body in [
        json!({"agentId": 5}),
        json!({"number": "0033100000000"}),
        json!({"status": "asleep"}),
        json!({"breakStatus": 99}),
        json!({"description": long}),
        json!({"timeout": 0}),
        json!({"simultaneousLines": "two"}),
        json!({"colour": "red"}),
        json!(["status"]),
    ] {
        let a = sim.call("PUT", &agent, Some(body.clone())).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        assert_eq!(a.body["class"], "Client::BadRequest");
    }
    sim.breathe().await;
    let a = sim
        .call_as(&sim.keys.consumer_key.clone(), "PUT", &agent, "{not json")
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        sim.get(&agent).await["status"],
        "available",
        "nothing applied"
    );

    let a = sim
        .call("PUT", &agent, Some(json!({"status": "onBreak", "breakStatus": 1002, "description": "Léa", "wrapUpTime": 15})))
        .await;
    assert_eq!((a.status, a.body.clone()), (200, Value::Null));
    // The same agent under the other service: one agent per line.
    let other = sim.get(&sim.hunt(0, &format!("/agent/{id}"))).await;
    assert_eq!(other["status"], "onBreak");
    assert_eq!(other["breakStatus"], 1002);
    assert_eq!(other["description"], "Léa");
    assert_eq!(other["wrapUpTime"], 15);
    let live = sim.get(&format!("{agent}/liveStatus")).await;
    assert_eq!(live["status"], "onBreak");
    sim.call("PUT", &agent, Some(json!({"status": "available"})))
        .await;
    let back = sim.get(&agent).await;
    assert_eq!(
        (back["status"].clone(), back["breakStatus"].clone()),
        (json!("available"), Value::Null)
    );
    sim.call("PUT", &agent, Some(json!({"status": "loggedOut"})))
        .await;
    assert_eq!(
        sim.get(&format!("{agent}/liveStatus")).await["status"],
        "loggedOut"
    );

    // Out of the queue and back in.
    let qid = sim.queue_id(1);
    let membership = format!("{agent}/queue/{qid}");
    let a = sim.call("DELETE", &membership, None).await;
    assert_eq!((a.status, a.body.clone()), (200, Value::Null));
    assert_eq!(sim.call("DELETE", &membership, None).await.status, 404);
    assert_eq!(sim.get(&format!("{agent}/queue")).await, json!([]));
    let members = sim.get(&sim.hunt(1, &format!("/queue/{qid}/agent"))).await;
    assert!(!members.as_array().unwrap().contains(&json!(id)));
    let join = format!("{agent}/queue");
    let bad = [
        json!({"queueId": qid}),
        json!({"queueId": qid, "position": -1}),
        json!({"queueId": qid, "position": 1, "extra": true}),
    ];
    for body in bad {
        assert_eq!(sim.call("POST", &join, Some(body)).await.status, 400);
    }
    assert_eq!(
        sim.call("POST", &join, Some(json!({"queueId": 1, "position": 1})))
            .await
            .status,
        404
    );
    let a = sim
        .call("POST", &join, Some(json!({"queueId": qid, "position": 0})))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body,
        json!({"agentId": id, "queueId": qid, "position": 0})
    );
    let members = sim.get(&sim.hunt(1, &format!("/queue/{qid}/agent"))).await;
    assert_eq!(members[0], id, "position 0 comes first");
    let again = sim
        .call("POST", &join, Some(json!({"queueId": qid, "position": 3})))
        .await;
    assert_eq!(again.status, 409);
    // An agent of the other queue only joins this one.
    let newcomer = sim.agent_id(0);
    let a = sim
        .call(
            "POST",
            &sim.hunt(1, &format!("/agent/{newcomer}/queue")),
            Some(json!({"queueId": qid, "position": 9})),
        )
        .await;
    assert_eq!(a.status, 200);
    let members = sim.get(&sim.hunt(1, &format!("/queue/{qid}/agent"))).await;
    assert_eq!(
        members.as_array().unwrap().last().unwrap(),
        &json!(newcomer)
    );
    sim.stop().await;
}

#[tokio::test]
async fn an_event_token_opens_the_feed_until_deleted_or_expired() {
    let sim = Sim::start(quiet()).await;
    let path = sim.ba("/eventToken");
    for body in [
        json!({}),
        json!({"expiration": "2 days"}),
        json!({"expiration": "unlimited", "x": 1}),
    ] {
        assert_eq!(sim.call("POST", &path, Some(body)).await.status, 400);
    }
    let a = sim
        .call("POST", &path, Some(json!({"expiration": "unlimited"})))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let token = a.body.as_str().expect("a bare JSON string").to_string();
    assert_eq!(
        crate::simulate::normalize_token(&token).as_deref(),
        Some(token.as_str())
    );
    assert_eq!(sim.get(&path).await, json!({"token": token}));
    let (http, base) = (sim.http.clone(), sim.base.clone());
    let poll = |token: String| {
        let http = http.clone();
        let url = format!("{base}/?token={token}");
        async move {
            let r = http.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, body) = poll(token.clone()).await;
    assert_eq!(status, 200, "{body}");
    // It sees the account's events, with itself as the Token.
    let seen = sim.faults.emitted(&token);
    assert!(seen.iter().all(|e| e["Token"] == token.as_str()));
    let a = sim.call("DELETE", &path, None).await;
    assert_eq!((a.status, a.body.clone()), (200, Value::Null));
    assert_eq!(poll(token.clone()).await.0, 403, "revoked");
    assert_eq!(sim.call("GET", &path, None).await.status, 404);
    assert_eq!(sim.call("DELETE", &path, None).await.status, 404);
    // The account's own token still works.
    assert_eq!(poll(sim.sim.account().account_token.clone()).await.0, 200);

    let a = sim
        .call("POST", &path, Some(json!({"expiration": "5 minutes"})))
        .await;
    let short = a.body.as_str().unwrap().to_string();
    assert_eq!(poll(short.clone()).await.0, 200);
    sim.advance(Duration::from_secs(301)).await;
    assert_eq!(poll(short).await.0, 403, "expired");
    assert_eq!(sim.call("GET", &path, None).await.status, 404);
    sim.stop().await;
}
