//! Tests of the REST fake on a real socket, with a raw client that signs as OVH's clients do
//! (`crate::ovh_api::sign::signature`). Time that matters is moved with
//! [`Faults::advance_clock`]; what the traffic does is read from the feed's record
//! ([`Faults::emitted`]) and awaited with [`Faults::wait_until`].

mod auth;
mod routes;
mod steering;

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::ovh_api::sign::{signature, Signed};
use crate::simulate::{Faults, SimApiKeys, SimConfig, Simulator};

/// A simulator serving on 127.0.0.1, and a client of it.
pub(super) struct Sim {
    base: String,
    sim: Simulator,
    faults: Faults,
    keys: SimApiKeys,
    ba: String,
    http: reqwest::Client,
    /// Server time minus local time, seconds, as OVH's clients keep it.
    delta: AtomicI64,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// An answer: status, JSON body (a string for a body that is not JSON), headers.
pub(super) struct Answer {
    status: u16,
    body: Value,
    headers: HeaderMap,
}

impl Answer {
    /// The OVH error fields: (`errorCode`, `message`), checking the rest of the shape.
    fn error(&self) -> (&str, &str) {
        let b = &self.body;
        let code = b["httpCode"].as_str().unwrap_or_default();
        assert!(code.starts_with(&self.status.to_string()), "{b}");
        assert!(b["class"].as_str().is_some_and(|c| c.contains("::")), "{b}");
        (
            b["errorCode"].as_str().unwrap_or_default(),
            b["message"].as_str().unwrap_or_default(),
        )
    }
}

fn local_now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A simulator with no calls (registrations only): nothing happens unless a test does it.
pub(super) fn quiet() -> SimConfig {
    SimConfig {
        rate_per_min: 0.0,
        hold: Duration::from_millis(300),
        ..SimConfig::default()
    }
}

impl Sim {
    pub(super) async fn start(config: SimConfig) -> Sim {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sim = Simulator::new(config);
        let (tx, rx) = oneshot::channel();
        let (faults, server) = sim.clone().serve_with_faults(listener, async {
            let _ = rx.await;
        });
        let s = Sim {
            base,
            keys: sim.api_keys(),
            ba: sim.billing_account_name(),
            sim,
            faults,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            delta: AtomicI64::new(0),
            stop: Some(tx),
            task: tokio::spawn(server),
        };
        s.sync().await;
        // The feed records what it queues for a client: one follows the account's token.
        let session: Value = s
            .http
            .post(format!("{}/v2/session", s.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = &s.sim.account().account_token;
        let r = s
            .http
            .post(format!(
                "{}/v2/session/{}/subscribe/{token}",
                s.base,
                session["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        s
    }

    pub(super) async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }

    /// Reads the server's clock (`GET /auth/time`), as OVH's clients do once.
    pub(super) async fn sync(&self) {
        let a = self.send("GET", "/auth/time", "", &[]).await;
        assert_eq!(a.status, 200);
        let delta = a.body.as_i64().expect("a bare integer") - local_now_s();
        self.delta.store(delta, Ordering::SeqCst);
    }

    /// Server time, as the client reckons it.
    pub(super) fn now(&self) -> i64 {
        local_now_s() + self.delta.load(Ordering::SeqCst)
    }

    /// Moves the simulator's clock ahead, and the client's idea of it.
    pub(super) async fn advance(&self, by: Duration) {
        self.faults.advance_clock(by);
        self.sync().await;
    }

    /// Lets a minute pass, so that the next 60 signed requests are within the rate limit.
    pub(super) async fn breathe(&self) {
        self.advance(Duration::from_secs(61)).await;
    }

    fn url(&self, path: &str) -> String {
        format!("{}/1.0{path}", self.base)
    }

    /// A request with the given headers, unsigned.
    pub(super) async fn send(
        &self,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, String)],
    ) -> Answer {
        self.send_to(&self.url(path), method, body, headers).await
    }

    async fn send_to(
        &self,
        url: &str,
        method: &str,
        body: &str,
        headers: &[(&str, String)],
    ) -> Answer {
        let mut r = self
            .http
            .request(method.parse().unwrap(), url)
            .body(body.to_string());
        if !body.is_empty() {
            r = r.header("content-type", "application/json");
        }
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            body,
            headers,
        }
    }

    /// The signing headers of a request, with a given consumer key, secret and time.
    fn signed_headers(
        &self,
        consumer_key: &str,
        secret: &str,
        method: &str,
        url: &str,
        body: &str,
        timestamp: i64,
    ) -> Vec<(&'static str, String)> {
        let sig = signature(&Signed {
            application_secret: secret,
            consumer_key,
            method,
            url,
            body,
            timestamp,
        });
        vec![
            ("x-ovh-application", self.keys.application_key.clone()),
            ("x-ovh-consumer", consumer_key.to_string()),
            ("x-ovh-timestamp", timestamp.to_string()),
            ("x-ovh-signature", sig),
        ]
    }

    /// A request signed with consumer key `ck`.
    pub(super) async fn call_as(&self, ck: &str, method: &str, path: &str, body: &str) -> Answer {
        let url = self.url(path);
        let now = self.now();
        let headers =
            self.signed_headers(ck, &self.keys.application_secret, method, &url, body, now);
        self.send_to(&url, method, body, &headers).await
    }

    /// A request signed with the pre-validated key.
    pub(super) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let ck = self.keys.consumer_key.clone();
        self.call_as(&ck, method, path, &body).await
    }

    /// `GET` with the pre-validated key; the answer must be a `200`.
    pub(super) async fn get(&self, path: &str) -> Value {
        let a = self.call("GET", path, None).await;
        assert_eq!(a.status, 200, "GET {path}: {}", a.body);
        assert!(a.headers.contains_key("x-ovh-queryid"));
        a.body
    }

    /// `/telephony/{ba}` + `rest`.
    pub(super) fn ba(&self, rest: &str) -> String {
        format!("/telephony/{}{rest}", self.ba)
    }

    /// `HUNT` of queue `q`: `…/easyHunting/{sn}` or `…/ovhPabx/{sn}`.
    pub(super) fn hunt(&self, q: usize, rest: &str) -> String {
        let queue = &self.sim.account().queues[q];
        let family = if queue.kind == "easyHunting" {
            "easyHunting"
        } else {
            "ovhPabx"
        };
        self.ba(&format!("/{family}/{}/hunting{rest}", queue.number))
    }

    /// The agent id of line `line`.
    pub(super) fn agent_id(&self, line: usize) -> i64 {
        1_000_000 + self.sim.account().lines[line].id.parse::<i64>().unwrap()
    }

    /// The `queueId` of queue `q`.
    pub(super) fn queue_id(&self, q: usize) -> i64 {
        self.sim.account().queues[q].id.parse().unwrap()
    }

    /// Every event the feed emitted for the billing account's token so far.
    pub(super) fn feed(&self) -> Vec<Value> {
        self.faults.emitted(&self.sim.account().account_token)
    }

    /// Waits until the feed has emitted an event matching `check`.
    pub(super) async fn feed_shows(&self, check: impl Fn(&Value) -> bool) -> Value {
        let token = self.sim.account().account_token.clone();
        let found = tokio::time::timeout(Duration::from_secs(20), async {
            let mut seen = 0;
            let mut found = None;
            self.faults
                .wait_until(|f| {
                    let events = f.emitted_from(&token, seen);
                    seen += events.len();
                    found = events.into_iter().find(|e| check(e));
                    found.is_some()
                })
                .await;
            found.unwrap()
        })
        .await;
        found.expect("the feed shows it")
    }

    /// Waits until the feed has emitted everything up to `unix_s` (traffic time).
    pub(super) async fn feed_reaches(&self, unix_s: i64) {
        let ns = unix_s * 1_000_000_000;
        self.feed_shows(|e| e["Timestamp"].as_i64().is_some_and(|t| t >= ns))
            .await;
    }
}
