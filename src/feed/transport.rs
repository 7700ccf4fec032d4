//! Transport: the HTTP conversation with OVH's event API, v1 (long polling with a session
//! passed back) or v2 (a session created, subscribed to, then polled). It hands raw bodies to
//! `normalise` and never lets the token out: errors are built without URLs, and any body
//! quoted in an error is scrubbed.
//!
//! Sessions are opaque strings to the follower, prefixed with the API version (`v1:…`,
//! `v2:…`) so that one stored for the other version is not reused.

use crate::clock::UnixTime;
use crate::normalise::{decode_v1_poll, decode_v2_poll, DecodeError, Event};
use crate::token::Token;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    #[default]
    V1,
    V2,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::V1 => "v1",
            Api::V2 => "v2",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("network error: {0}")]
    Network(String),
    #[error("OVH answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("unreadable answer: {0}")]
    Decode(#[from] DecodeError),
    #[error("the v2 session expired")]
    SessionGone,
}

/// One poll's outcome: the session to pass next time and the events, each decoded or not.
pub struct Answer {
    pub session: Option<String>,
    pub events: Vec<Result<Event, DecodeError>>,
}

#[derive(Clone)]
pub struct Transport {
    client: reqwest::Client,
    base: String,
    api: Api,
}

fn network(e: reqwest::Error) -> PollError {
    // reqwest puts the URL — and so the token — in its messages: drop it.
    let e = e.without_url();
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection cut while reading the answer"
    } else {
        "request failed"
    };
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    PollError::Network(format!("{kind} ({detail})"))
}

/// The start of an error body, as text, with the token scrubbed out — scrubbed whole before it
/// is cut, so that no part of a token straddling the cut survives.
fn snippet(body: &[u8], token: &Token) -> String {
    let mut v = serde_json::Value::String(String::from_utf8_lossy(body).into_owned());
    crate::normalise::redact_value(&mut v, token.expose());
    v.as_str()
        .unwrap_or_default()
        .chars()
        .take(120)
        .collect::<String>()
        .trim()
        .to_string()
}

/// OVH's v2 way of saying a session is gone, whether as plain text or as a JSON string.
fn says_reconnect(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.trim()
        .trim_matches('"')
        .trim()
        .starts_with("Timeout, please reconnect")
}

impl Transport {
    pub fn new(base: &str, api: Api, poll_timeout: Duration) -> Result<Transport, String> {
        let client = reqwest::Client::builder()
            .timeout(poll_timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("ovh-cti/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.without_url().to_string())?;
        Ok(Transport {
            client,
            base: base.trim_end_matches('/').to_string(),
            api,
        })
    }

    pub fn api(&self) -> Api {
        self.api
    }

    /// One long poll. `session` is what the previous answer returned (or what was stored).
    pub async fn poll(
        &self,
        token: &Token,
        session: Option<&str>,
        received_at: impl Fn() -> UnixTime,
    ) -> Result<Answer, PollError> {
        match self.api {
            Api::V1 => {
                self.poll_v1(
                    token,
                    session.and_then(|s| s.strip_prefix("v1:")),
                    received_at,
                )
                .await
            }
            Api::V2 => {
                self.poll_v2(
                    token,
                    session.and_then(|s| s.strip_prefix("v2:")),
                    received_at,
                )
                .await
            }
        }
    }

    async fn get_body(
        &self,
        req: reqwest::RequestBuilder,
        token: &Token,
    ) -> Result<(u16, bytes::Bytes), PollError> {
        let resp = req.send().await.map_err(network)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(network)?;
        if status == 200 {
            Ok((status, body))
        } else {
            Err(PollError::Status {
                status,
                body: snippet(&body, token),
            })
        }
    }

    async fn poll_v1(
        &self,
        token: &Token,
        session: Option<&str>,
        received_at: impl Fn() -> UnixTime,
    ) -> Result<Answer, PollError> {
        let mut query = vec![("token", token.expose())];
        if let Some(s) = session {
            query.push(("session", s));
        }
        let (_, body) = self
            .get_body(
                self.client.get(format!("{}/", self.base)).query(&query),
                token,
            )
            .await?;
        let poll = decode_v1_poll(&body, token.expose(), received_at())?;
        let session = poll.session.or_else(|| session.map(str::to_string));
        Ok(Answer {
            session: session.map(|s| format!("v1:{s}")),
            events: poll.events,
        })
    }

    async fn poll_v2(
        &self,
        token: &Token,
        session: Option<&str>,
        received_at: impl Fn() -> UnixTime,
    ) -> Result<Answer, PollError> {
        let id = match session {
            Some(id) => id.to_string(),
            None => self.new_v2_session(token).await?,
        };
        let url = format!("{}/v2/session/{}/events/poll", self.base, urlencode(&id));
        let resp = self.client.get(url).send().await.map_err(network)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(network)?;
        if status == 404 || says_reconnect(&body) {
            return Err(PollError::SessionGone);
        }
        if status != 200 {
            return Err(PollError::Status {
                status,
                body: snippet(&body, token),
            });
        }
        let events = decode_v2_poll(&body, token.expose(), received_at())?;
        Ok(Answer {
            session: Some(format!("v2:{id}")),
            events,
        })
    }

    async fn new_v2_session(&self, token: &Token) -> Result<String, PollError> {
        let (_, body) = self
            .get_body(self.client.post(format!("{}/v2/session", self.base)), token)
            .await?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| DecodeError::NotJson(e.to_string()))?;
        let id = v
            .get("id")
            .and_then(|i| i.as_str())
            .ok_or(DecodeError::Shape("a v2 session without an id"))?
            .to_string();
        let subscribe = format!(
            "{}/v2/session/{}/subscribe/{}",
            self.base,
            urlencode(&id),
            token.expose()
        );
        self.get_body(self.client.post(subscribe), token).await?;
        Ok(id)
    }
}

/// Session ids are OVH's; escape them before putting them in a path.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

    #[test]
    fn a_token_straddling_the_cut_of_an_error_body_is_scrubbed_whole() {
        let token = Token::parse(T).unwrap();
        let body = format!("{}{T} trailing", "x".repeat(100));
        let shown = snippet(body.as_bytes(), &token);
        assert!(
            !shown.contains("3F2504E0") && !shown.contains("4F89"),
            "{shown}"
        );
        assert!(shown.ends_with("[token] trailing"), "{shown}");
    }

    #[test]
    fn the_v2_reconnect_answer_is_recognised_in_either_form() {
        assert!(says_reconnect(b"Timeout, please reconnect"));
        assert!(says_reconnect(b"  \"Timeout, please reconnect\"\n"));
        assert!(!says_reconnect(b"[]"));
    }
}
