//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): the secret is `whsec_`
//! followed by base64 of random bytes; each request carries `webhook-id` (the same on every
//! attempt, so that the receiver can drop repeats), `webhook-timestamp` (seconds, of this
//! attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
//! keyed with the decoded secret. Receivers verify with any Standard Webhooks library.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";
/// 32 random bytes: the spec asks for 24 to 64.
const SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the webhook secret is not whsec_ followed by base64")]
pub struct BadSecret;

/// A new endpoint secret, shown once to its creator.
pub fn new_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// A new message id: the `webhook-id` of one event's delivery, kept across its retries.
pub fn new_message_id() -> String {
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    format!("msg_{}", URL_SAFE_NO_PAD.encode(raw))
}

/// The `webhook-signature` header value for one attempt.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, BadSecret> {
    let key = STANDARD
        .decode(secret.strip_prefix(PREFIX).ok_or(BadSecret)?)
        .map_err(|_| BadSecret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| BadSecret)?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_the_reference_implementation() {
        let secret = new_secret();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&secret[6..]).unwrap().len(), SECRET_BYTES);
        let id = new_message_id();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let body =
            r#"{"type":"start_ringing","data":{"calling":"0033612345678","description":"été"}}"#;
        let sig = signature(&secret, &id, now, body).unwrap();

        let wh = standardwebhooks::Webhook::new(&secret).unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("webhook-id", id.parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        headers.insert("webhook-signature", sig.parse().unwrap());
        wh.verify(body.as_bytes(), &headers).expect("verifies");

        // A changed body, id or time does not.
        assert!(wh.verify(b"{}", &headers).is_err());
        headers.insert("webhook-id", "msg_other".parse().unwrap());
        assert!(wh.verify(body.as_bytes(), &headers).is_err());
    }

    #[test]
    fn the_spec_example_is_reproduced() {
        // The example of the Standard Webhooks specification.
        let sig = signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_malformed_secret_is_refused() {
        assert_eq!(signature("nope", "m", 1, "{}"), Err(BadSecret));
        assert_eq!(signature("whsec_!!!", "m", 1, "{}"), Err(BadSecret));
    }
}
