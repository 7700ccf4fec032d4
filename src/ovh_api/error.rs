//! What can go wrong with a call to OVH's REST API, said so that an admin knows what to do.
//!
//! OVH's error bodies come in two generations (`errorCode`/`httpCode` until about 2022,
//! `class` since) and neither is promised, so an answer is mapped on its HTTP status first,
//! then `errorCode`, then `class`, and OVH's `message` is kept (capped) beside our words.
//! Nothing here carries a URL: reqwest puts it in its messages, and OVH's paths name the
//! billing account; OVH's `X-Ovh-Queryid` is kept, to quote to OVH's support.

use serde_json::Value;

/// The most of OVH's own message kept in an error.
const MESSAGE_BYTES: usize = 300;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OvhError {
    /// No answer: OVH could not be reached, or the answer was cut.
    #[error("OVH's API could not be reached: {0}")]
    Unreachable(String),
    /// OVH answered with an error.
    #[error("{}", .0.explain())]
    Refused(Refusal),
    /// OVH answered something that is not what its API describes.
    #[error("OVH's API answered something unexpected: {0}")]
    Unexpected(String),
    /// This consumer key's request budget is spent for now (the service's own limit, kept
    /// under OVH's).
    #[error("the service's budget of requests to OVH is spent for now (it stays under OVH's limit): try again in {0} s")]
    Busy(u64),
    /// No application key, secret or consumer key is configured.
    #[error("no OVH API access is configured: connect the account first")]
    NotConnected,
}

/// An error answer from OVH.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    /// `errorCode` (older answers) or the last part of `class` (`Client::Forbidden`).
    pub code: Option<String>,
    /// OVH's own words, capped.
    pub message: String,
    /// OVH's `X-Ovh-Queryid`, to quote to its support.
    pub query_id: Option<String>,
    /// Seconds OVH asked to wait (`Retry-After`), if it did.
    pub retry_after: Option<u64>,
}

/// What a refusal means for the service: whether to try again, reconnect, or give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The signature was refused: a wrong secret, or a clock too far from OVH's.
    Signature,
    /// The application key is unknown to OVH.
    ApplicationKey,
    /// The consumer key is unknown, not yet validated, expired or revoked.
    Credential,
    /// The consumer key's access rules do not cover this call.
    NotGranted,
    /// No such object (an agent or a live call that just ended).
    NotFound,
    /// Too many requests.
    RateLimited,
    /// OVH is in trouble; later may work.
    Unavailable,
    /// Any other refusal (bad parameters, a conflict…).
    Other,
}

impl Refusal {
    /// Reads an error answer's body (which may be anything, or nothing).
    pub fn from_answer(
        status: u16,
        body: &[u8],
        query_id: Option<String>,
        retry_after: Option<u64>,
    ) -> Refusal {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let code = v["errorCode"]
            .as_str()
            .or_else(|| v["class"].as_str().and_then(|c| c.rsplit("::").next()))
            .map(|c| crate::limits::clip(c, 64).into_owned());
        let message = v["message"]
            .as_str()
            .map(|m| crate::limits::clip(m.trim(), MESSAGE_BYTES).into_owned())
            .unwrap_or_default();
        Refusal {
            status,
            code,
            message,
            query_id: query_id.map(|q| crate::limits::clip(&q, 128).into_owned()),
            retry_after,
        }
    }

    pub fn kind(&self) -> Kind {
        let code = self.code.as_deref().unwrap_or_default();
        match (self.status, code) {
            (_, "INVALID_SIGNATURE") => Kind::Signature,
            (_, "INVALID_KEY") => Kind::ApplicationKey,
            (_, "NOT_CREDENTIAL" | "INVALID_CREDENTIAL") => Kind::Credential,
            (_, "NOT_GRANTED_CALL") => Kind::NotGranted,
            (429, _) => Kind::RateLimited,
            (404, _) => Kind::NotFound,
            (500..=599, _) => Kind::Unavailable,
            (400, _) if self.message.to_ascii_lowercase().contains("signature") => Kind::Signature,
            (403, _)
                if self
                    .message
                    .to_ascii_lowercase()
                    .contains("application key") =>
            {
                Kind::ApplicationKey
            }
            (403, _) if self.message.to_ascii_lowercase().contains("credential") => {
                Kind::Credential
            }
            (403, _) if self.message.to_ascii_lowercase().contains("granted") => Kind::NotGranted,
            _ => Kind::Other,
        }
    }

    /// Our words for it, then OVH's.
    fn explain(&self) -> String {
        let ours = match self.kind() {
            Kind::Signature => "OVH refused the request's signature: check the application secret (or this machine's clock)",
            Kind::ApplicationKey => "OVH does not know this application key: check it, or create the application again",
            Kind::Credential => "the consumer key is not valid (not validated yet, expired or revoked): connect the account again",
            Kind::NotGranted => "this consumer key was not granted this call: connect the account again to grant the access rules it needs",
            Kind::NotFound => "OVH does not know this object (a call may just have ended)",
            Kind::RateLimited => "OVH asks to slow down (too many requests): the service waits and tries again",
            Kind::Unavailable => "OVH's API is unavailable for now: the service tries again later",
            Kind::Other => "OVH refused the request",
        };
        let mut text = format!("{ours} (HTTP {}", self.status);
        if let Some(code) = &self.code {
            text.push_str(&format!(", {code}"));
        }
        text.push(')');
        if !self.message.is_empty() {
            text.push_str(&format!(": {}", self.message));
        }
        if let Some(q) = &self.query_id {
            text.push_str(&format!(" [OVH query {q}]"));
        }
        text
    }
}

impl OvhError {
    /// The refusal's kind, if OVH answered.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            OvhError::Refused(r) => Some(r.kind()),
            _ => None,
        }
    }

    /// From a reqwest error, without its URL.
    pub fn network(e: reqwest::Error) -> OvhError {
        OvhError::Unreachable(crate::outbound::failure_kind(&e.without_url()).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, body: &str) -> Refusal {
        Refusal::from_answer(status, body.as_bytes(), Some("EU.ext-3.abc".into()), None)
    }

    #[test]
    fn both_generations_of_error_bodies_are_understood() {
        let old = refusal(
            400,
            r#"{"errorCode":"INVALID_SIGNATURE","httpCode":"400 Bad Request","message":"Invalid signature"}"#,
        );
        assert_eq!(old.kind(), Kind::Signature);
        let new = refusal(
            403,
            r#"{"class":"Client::Forbidden","message":"Invalid application key"}"#,
        );
        assert_eq!(new.kind(), Kind::ApplicationKey);
        assert_eq!(
            refusal(
                403,
                r#"{"errorCode":"NOT_GRANTED_CALL","message":"This call has not been granted"}"#
            )
            .kind(),
            Kind::NotGranted
        );
        assert_eq!(
            refusal(403, r#"{"message":"This credential is not valid"}"#).kind(),
            Kind::Credential
        );
        assert_eq!(refusal(429, "").kind(), Kind::RateLimited);
        assert_eq!(
            refusal(502, "<html>bad gateway</html>").kind(),
            Kind::Unavailable
        );
        assert_eq!(refusal(404, r#"{"message":"gone"}"#).kind(), Kind::NotFound);
    }

    #[test]
    fn the_explanation_says_what_to_do_and_quotes_ovh_capped() {
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(5000));
        let text = OvhError::Refused(refusal(403, &long)).to_string();
        assert!(text.len() < 700, "{}", text.len());
        let text = OvhError::Refused(refusal(
            403,
            r#"{"errorCode":"INVALID_CREDENTIAL","message":"This credential is not valid"}"#,
        ))
        .to_string();
        assert!(text.contains("connect the account again"), "{text}");
        assert!(text.contains("This credential is not valid"), "{text}");
        assert!(text.contains("EU.ext-3.abc"), "{text}");
    }
}
