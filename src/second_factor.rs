//! The optional second factor of user accounts (issue 10): TOTP (RFC 6238: 6 digits, 30-second
//! steps, SHA-1 — what every authenticator app reads), by the `totp-rs` crate. A code is
//! accepted for the step before, the current one and the one after (a phone's clock drifts),
//! and each step only once: the step that matched is stored, and a code of that step or an
//! earlier one is refused, so a code seen over a shoulder cannot be replayed. The time comes
//! from the service's clock, so tests need no waiting.

use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

const STEP: u64 = 30;
const DIGITS: usize = 6;

/// A new random secret (160 bits), base32 as authenticator apps take it.
pub fn new_secret() -> String {
    let mut raw = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut raw);
    match Secret::Raw(raw.to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => unreachable!("to_encoded encodes"),
    }
}

fn totp(secret: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().ok()?;
    // The label may not hold ':' (the crate checks): a login name never does.
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP,
        bytes,
        Some("ovh-cti".into()),
        account.replace(':', "_"),
    )
    .ok()
}

/// The `otpauth://` address an authenticator app reads (typed, or from a QR code).
pub fn url(secret: &str, account: &str) -> Option<String> {
    totp(secret, account).map(|t| t.get_url())
}

/// The step `code` is valid for at `now`, if it is one of the three around now and after
/// `last_step` (the last step a code was accepted for).
pub fn verify(secret: &str, code: &str, now: f64, last_step: Option<i64>) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "x")?;
    let current = (now.max(0.0) as u64) / STEP;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .filter(|s| last_step.map_or(true, |last| (*s as i64) > last))
        .find(|s| constant_time_eq(t.generate(s * STEP).as_bytes(), code.as_bytes()))
        .map(|s| s as i64)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The code of `secret` at `now` (tests, and the documentation's example).
pub fn code_at(secret: &str, now: f64) -> Option<String> {
    totp(secret, "x").map(|t| t.generate(now as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_test_vector() {
        // RFC 6238, appendix B: the ASCII secret "12345678901234567890", SHA-1, 59 s → 94287082
        // with 8 digits; its last 6 digits with 6.
        let secret = match Secret::Raw(b"12345678901234567890".to_vec()).to_encoded() {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => unreachable!(),
        };
        assert_eq!(code_at(&secret, 59.0).unwrap(), "287082");
        assert_eq!(code_at(&secret, 1111111109.0).unwrap(), "081804");
    }

    #[test]
    fn a_code_is_good_for_its_step_and_the_neighbours_once() {
        let secret = new_secret();
        let now = 1_000_000.0;
        let code = code_at(&secret, now).unwrap();
        let step = verify(&secret, &code, now, None).expect("accepted");
        assert_eq!(
            verify(&secret, &code, now + 30.0, None),
            Some(step),
            "one step late"
        );
        assert_eq!(verify(&secret, &code, now + 61.0, None), None, "too late");
        assert_eq!(verify(&secret, &code, now, Some(step)), None, "not twice");
        assert_eq!(verify(&secret, "12345", now, None), None);
        assert_eq!(verify(&secret, "abcdef", now, None), None);
    }

    #[test]
    fn the_address_names_the_service_and_the_account() {
        let url = url(&new_secret(), "alice").unwrap();
        assert!(url.starts_with("otpauth://totp/ovh-cti:alice?"), "{url}");
        assert!(url.contains("issuer=ovh-cti"), "{url}");
    }
}
