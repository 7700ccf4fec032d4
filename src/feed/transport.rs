//! Transport: the HTTP conversation with OVH's event API, v1 (long polling with a session
//! passed back) or v2 (a session created, subscribed to, then polled). It hands raw bodies to
//! `normalise` and never lets the token out: errors are built without URLs, and any body
//! quoted in an error is scrubbed.
//!
//! Sessions are opaque strings to the follower, prefixed with the API version (`v1:…`,
//! `v2:…`) so that one stored for the other version is not reused.
//!
//! Which answers mean what (docs/feed.md says why): a 404 to a poll that passed a session, or
//! a body reading `Timeout, please reconnect` (plain or as a JSON string) whatever its status,
//! is OVH saying the session is gone — [`PollError::SessionGone`], the only error after which
//! the follower starts a new session. Everything else — a 5xx, a time-out, a reset, a cut or
//! unreadable body — leaves the session as it was: OVH keeps its events for it.

use crate::clock::UnixTime;
use crate::normalise::{decode_v1_poll, decode_v2_poll, DecodeError, Event};
use crate::token::Token;
use std::sync::atomic::{AtomicBool, Ordering};
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
    #[error("OVH says the feed session is gone ({0}); starting a new one")]
    SessionGone(&'static str),
    /// An answer larger than `--max-answer-bytes`: not read further (a hostile or broken
    /// upstream must not take the memory). The session is kept: OVH still holds its events.
    #[error("answer too large: over {limit} bytes, not read (see --max-answer-bytes)")]
    TooLarge { limit: usize },
}

impl PollError {
    /// Whether this failure mends by itself (an outage, retried within seconds) or is OVH
    /// refusing the request (retried slowly).
    pub fn trouble(&self) -> super::backoff::Trouble {
        use super::backoff::Trouble;
        match self {
            PollError::Status { status, .. }
                if (400..500).contains(status) && *status != 408 && *status != 429 =>
            {
                Trouble::Refused
            }
            // Asking again at once would most likely fetch the same oversized answer.
            PollError::TooLarge { .. } => Trouble::Refused,
            _ => Trouble::Outage,
        }
    }
}

/// One poll's outcome: the session to pass next time and the events, each decoded or not.
pub struct Answer {
    pub session: Option<String>,
    pub events: Vec<Result<Event, DecodeError>>,
}

/// The largest answer read by default: OVH's polls are a few kilobytes, a busy one a few
/// hundred; 16 MiB leaves room for any real backlog.
pub const MAX_ANSWER_BYTES: usize = 16 << 20;

#[derive(Clone)]
pub struct Transport {
    client: reqwest::Client,
    base: String,
    api: Api,
    max_answer: usize,
}

fn network(e: reqwest::Error) -> PollError {
    // reqwest puts the URL — and so the token — in its messages: drop it.
    let e = e.without_url();
    let kind = crate::outbound::failure_kind(&e);
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

/// OVH's way of saying a session is gone, whether as plain text or as a JSON string.
fn says_reconnect(body: &[u8]) -> bool {
    // Only a short body can be that sentence: a poll full of events is not read as text.
    if body.len() > 200 {
        return false;
    }
    let text = String::from_utf8_lossy(body);
    text.trim()
        .trim_matches('"')
        .trim()
        .starts_with("Timeout, please reconnect")
}

/// Reads a poll's answer: the body of a 200, `SessionGone` when OVH says the session passed
/// is gone, an error otherwise.
fn poll_answer(
    status: u16,
    body: bytes::Bytes,
    passed_session: bool,
    token: &Token,
) -> Result<bytes::Bytes, PollError> {
    if says_reconnect(&body) {
        return Err(PollError::SessionGone("Timeout, please reconnect"));
    }
    if status == 404 && passed_session {
        return Err(PollError::SessionGone("HTTP 404"));
    }
    if status != 200 {
        return Err(PollError::Status {
            status,
            body: snippet(&body, token),
        });
    }
    Ok(body)
}

impl Transport {
    pub fn new(base: &str, api: Api, poll_timeout: Duration) -> Result<Transport, String> {
        Self::with_connect_timeout(base, api, poll_timeout, Duration::from_secs(10))
    }

    /// The same, giving up connecting (TLS included) after `connect`: a login check must tell
    /// "OVH holds the poll open" from "OVH cannot be reached" within seconds (see `check`).
    pub fn with_connect_timeout(
        base: &str,
        api: Api,
        poll_timeout: Duration,
        connect: Duration,
    ) -> Result<Transport, String> {
        let client = reqwest::Client::builder()
            .timeout(poll_timeout)
            .connect_timeout(connect)
            .user_agent(concat!("ovh-cti/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.without_url().to_string())?;
        Ok(Transport {
            client,
            base: base.trim_end_matches('/').to_string(),
            api,
            max_answer: MAX_ANSWER_BYTES,
        })
    }

    /// The same, reading answers of at most `bytes` (at least 64 KiB).
    pub fn with_max_answer(mut self, bytes: usize) -> Transport {
        self.max_answer = bytes.max(64 << 10);
        self
    }

    pub fn api(&self) -> Api {
        self.api
    }

    /// One long poll. `session` is what the previous answer returned (or what was stored).
    /// `answering` turns true once OVH has started to answer: from then on the answer is on
    /// the wire, and a stopping service waits for it rather than drop it.
    pub async fn poll(
        &self,
        token: &Token,
        session: Option<&str>,
        answering: &AtomicBool,
        received_at: impl Fn() -> UnixTime,
    ) -> Result<Answer, PollError> {
        match self.api {
            Api::V1 => {
                self.poll_v1(
                    token,
                    session.and_then(|s| s.strip_prefix("v1:")),
                    answering,
                    received_at,
                )
                .await
            }
            Api::V2 => {
                self.poll_v2(
                    token,
                    session.and_then(|s| s.strip_prefix("v2:")),
                    answering,
                    received_at,
                )
                .await
            }
        }
    }

    /// Sends a request and reads its whole answer, status and body, up to `max_answer` bytes:
    /// a larger one (announced or sent) is dropped as soon as it is known to be too large, so
    /// an endless body costs neither memory nor the poll's whole time-out.
    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
        answering: Option<&AtomicBool>,
    ) -> Result<(u16, bytes::Bytes), PollError> {
        let too_large = PollError::TooLarge {
            limit: self.max_answer,
        };
        let mut resp = req.send().await.map_err(network)?;
        if let Some(a) = answering {
            a.store(true, Ordering::Relaxed);
        }
        let status = resp.status().as_u16();
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_answer as u64)
        {
            return Err(too_large);
        }
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = resp.chunk().await.map_err(network)? {
            if body.len() + chunk.len() > self.max_answer {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body.freeze()))
    }

    /// A request that is not a poll (v2's session set-up): anything but a 200 is an error.
    async fn get_body(
        &self,
        req: reqwest::RequestBuilder,
        token: &Token,
    ) -> Result<bytes::Bytes, PollError> {
        let (status, body) = self.exchange(req, None).await?;
        if status == 200 {
            Ok(body)
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
        answering: &AtomicBool,
        received_at: impl Fn() -> UnixTime,
    ) -> Result<Answer, PollError> {
        let mut query = vec![("token", token.expose())];
        if let Some(s) = session {
            query.push(("session", s));
        }
        let (status, body) = self
            .exchange(
                self.client.get(format!("{}/", self.base)).query(&query),
                Some(answering),
            )
            .await?;
        let body = poll_answer(status, body, session.is_some(), token)?;
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
        answering: &AtomicBool,
        received_at: impl Fn() -> UnixTime,
    ) -> Result<Answer, PollError> {
        let id = match session {
            Some(id) => id.to_string(),
            None => self.new_v2_session(token).await?,
        };
        let url = format!("{}/v2/session/{}/events/poll", self.base, urlencode(&id));
        let (status, body) = self.exchange(self.client.get(url), Some(answering)).await?;
        let body = poll_answer(status, body, true, token)?;
        let events = decode_v2_poll(&body, token.expose(), received_at())?;
        Ok(Answer {
            session: Some(format!("v2:{id}")),
            events,
        })
    }

    pub(super) async fn new_v2_session(&self, token: &Token) -> Result<String, PollError> {
        let body = self
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
        // The session may vanish between its creation and the subscription: that is a gone
        // session (start another at once), not a refusal to back off from.
        let (status, body) = self.exchange(self.client.post(subscribe), None).await?;
        poll_answer(status, body, true, token)?;
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

    #[test]
    fn a_dead_session_is_recognised_on_the_first_answer_in_every_form() {
        let token = Token::parse(T).unwrap();
        let gone = |status: u16, body: &'static [u8], passed: bool| {
            matches!(
                poll_answer(status, bytes::Bytes::from_static(body), passed, &token),
                Err(PollError::SessionGone(_))
            )
        };
        // v1 once needed three failed polls (and logged "not JSON") to give up on these.
        assert!(gone(404, b"Not Found", true));
        assert!(gone(200, b"Timeout, please reconnect", true));
        assert!(gone(200, b"\"Timeout, please reconnect\"", true));
        assert!(gone(404, b"Timeout, please reconnect", false));
        // A 404 without a session passed is a wrong address, not a dead session.
        assert!(!gone(404, b"Not Found", false));
        // Outages never throw a session away.
        for status in [500, 502, 503, 504] {
            assert!(!gone(status, b"<html>Bad Gateway</html>", true), "{status}");
        }
        assert!(poll_answer(200, bytes::Bytes::from_static(b"{}"), true, &token).is_ok());
    }

    #[test]
    fn outages_and_refusals_are_told_apart() {
        use crate::feed::backoff::Trouble;
        let status = |status| PollError::Status {
            status,
            body: String::new(),
        };
        assert_eq!(status(502).trouble(), Trouble::Outage);
        assert_eq!(status(429).trouble(), Trouble::Outage);
        assert_eq!(status(403).trouble(), Trouble::Refused);
        assert_eq!(
            PollError::Network("reset".into()).trouble(),
            Trouble::Outage
        );
    }
}
