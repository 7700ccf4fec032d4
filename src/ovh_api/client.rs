//! The HTTP client of OVH's REST API: signs each request (`sign`), keeps the offset between
//! this machine's clock and OVH's (`GET /auth/time`, fetched once, again every hour and after
//! a refused signature), draws every request from the consumer key's shared `Budget`, and
//! tries again — after the wait OVH asks for — when OVH says to slow down or is briefly
//! unavailable. Answers are read up to a cap; errors never carry a URL (`error`).

use super::budget::{Budget, WAIT};
use super::error::{Kind, OvhError, Refusal};
use super::models::{AccessRule, CredentialRequest};
use super::sign::{signature, Signed};
use parking_lot::Mutex;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// OVH's API in Europe, where its telephony is sold.
pub const DEFAULT_BASE: &str = "https://eu.api.ovh.com/1.0";
/// The largest answer read: OVH's telephony objects are small, lists are ids.
pub const MAX_ANSWER_BYTES: usize = 4 << 20;
/// How long the clock offset is trusted before it is fetched again.
const OFFSET_TTL: Duration = Duration::from_secs(3600);
/// Tries of one request when OVH asks to slow down or is briefly unavailable.
const ATTEMPTS: u32 = 3;

/// The three keys of OVH's API. The secret and the consumer key are never shown or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    pub application_key: String,
    pub application_secret: String,
    pub consumer_key: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("application_key", &self.application_key)
            .field("application_secret", &"(hidden)")
            .field("consumer_key", &"(hidden)")
            .finish()
    }
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    keys: Keys,
    budget: Arc<Budget>,
    /// OVH's clock minus ours, in seconds, and when it was measured.
    offset: Mutex<Option<(i64, Instant)>>,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A path segment (a billing account, a service name) as it goes into a URL.
pub fn seg(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');
    utf8_percent_encode(s, SEGMENT).to_string()
}

impl Client {
    pub fn new(base: &str, keys: Keys, budget: Arc<Budget>) -> Client {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("ovh-cti/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with rustls");
        Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            keys,
            budget,
            offset: Mutex::new(None),
        }
    }

    /// A place in the budget, or `Busy` when none frees soon.
    async fn take(&self) -> Result<(), OvhError> {
        self.budget
            .take_within(WAIT)
            .await
            .map_err(|wait| OvhError::Busy(wait.as_secs().max(1)))
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// OVH's clock minus ours, fetched when unknown or older than an hour.
    async fn offset(&self) -> Result<i64, OvhError> {
        if let Some((offset, at)) = *self.offset.lock() {
            if at.elapsed() < OFFSET_TTL {
                return Ok(offset);
            }
        }
        self.take().await?;
        let before = unix_now();
        let res = self
            .http
            .get(format!("{}/auth/time", self.base))
            .header("X-Ovh-Application", &self.keys.application_key)
            .send()
            .await
            .map_err(OvhError::network)?;
        let server: i64 = read(res).await?;
        let offset = server - before;
        *self.offset.lock() = Some((offset, Instant::now()));
        Ok(offset)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, OvhError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, OvhError> {
        self.call(Method::PUT, path, Some(body_text(body)?)).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, OvhError> {
        self.call(Method::POST, path, Some(body_text(body)?)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, OvhError> {
        self.call(Method::DELETE, path, None).await
    }

    /// A signed request, tried again after the wait OVH asks for when it says to slow down
    /// or is briefly unavailable, and once with a fresh clock offset after a refused
    /// signature.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<T, OvhError> {
        if self.keys.consumer_key.is_empty() || self.keys.application_secret.is_empty() {
            return Err(OvhError::NotConnected);
        }
        let url = format!("{}{path}", self.base);
        let body = body.unwrap_or_default();
        let mut signature_retried = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.take().await?;
            let timestamp = unix_now() + self.offset().await?;
            let sig = signature(&Signed {
                application_secret: &self.keys.application_secret,
                consumer_key: &self.keys.consumer_key,
                method: method.as_str(),
                url: &url,
                body: &body,
                timestamp,
            });
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("X-Ovh-Application", &self.keys.application_key)
                .header("X-Ovh-Consumer", &self.keys.consumer_key)
                .header("X-Ovh-Timestamp", timestamp.to_string())
                .header("X-Ovh-Signature", sig);
            if !body.is_empty() {
                req = req
                    .header("Content-Type", "application/json")
                    .body(body.clone());
            }
            let res = req.send().await.map_err(OvhError::network)?;
            match read::<T>(res).await {
                Err(OvhError::Refused(r)) => match r.kind() {
                    Kind::RateLimited | Kind::Unavailable if attempt < ATTEMPTS => {
                        let wait = r
                            .retry_after
                            .map(Duration::from_secs)
                            .unwrap_or(Duration::from_secs(2u64.pow(attempt)));
                        self.budget.back_off(wait);
                    }
                    Kind::Signature if !signature_retried => {
                        // Perhaps the clock moved: measure it again, once.
                        signature_retried = true;
                        *self.offset.lock() = None;
                    }
                    _ => return Err(OvhError::Refused(r)),
                },
                other => return other,
            }
        }
    }

    /// Asks OVH for a new consumer key with these access rules (an unsigned call: the
    /// application key alone). Its owner then validates it at `validation_url`.
    pub async fn request_credential(
        &self,
        rules: &[AccessRule],
        redirection: Option<&str>,
    ) -> Result<CredentialRequest, OvhError> {
        self.take().await?;
        let mut body = json!({ "accessRules": rules });
        if let Some(r) = redirection {
            body["redirection"] = json!(r);
        }
        let res = self
            .http
            .post(format!("{}/auth/credential", self.base))
            .header("X-Ovh-Application", &self.keys.application_key)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(OvhError::network)?;
        read(res).await
    }
}

fn body_text(body: &impl Serialize) -> Result<String, OvhError> {
    serde_json::to_string(body).map_err(|e| OvhError::Unexpected(e.to_string()))
}

/// Reads an answer (capped), as `T` on success — an empty body or `204` reads as `null`,
/// OVH's answer to a call that returns nothing — or as a refusal.
async fn read<T: DeserializeOwned>(mut res: reqwest::Response) -> Result<T, OvhError> {
    let status = res.status().as_u16();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let query_id = header("X-Ovh-Queryid");
    let retry_after = header("Retry-After").and_then(|v| v.trim().parse().ok());
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(OvhError::network)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(OvhError::Unexpected(format!(
                "an answer over {} MiB",
                MAX_ANSWER_BYTES >> 20
            )));
        }
        body.extend_from_slice(&chunk);
    }
    if !(200..300).contains(&status) {
        return Err(OvhError::Refused(Refusal::from_answer(
            status,
            &body,
            query_id,
            retry_after,
        )));
    }
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        &body
    };
    serde_json::from_slice(text).map_err(|e| OvhError::Unexpected(e.to_string()))
}
